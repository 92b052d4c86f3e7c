"""Notebook 05: course_lib.decay (noisy regression, vectorised SGD, schedules), the
ScheduleExplorer and the learning-rate-decay checkers."""

import math

import numpy as np
import pytest
import torch

from course_lib import schedules
from course_lib.lessons import decay as lesson


@pytest.fixture(scope="module")
def problem():
    return lesson.noisy_regression()


def test_problem_minimiser_and_excess_loss(problem):
    gradient = problem.X.T @ (problem.X @ problem.w_opt - problem.y) / len(problem.y)
    assert np.abs(gradient).max() < 1e-12
    w = np.random.default_rng(0).normal(size=(4, problem.X.shape[1]))
    np.testing.assert_allclose(problem.excess_loss(w), problem.loss(w) - problem.loss_opt, rtol=1e-10, atol=1e-12)
    assert problem.predicted_floor(100.0) == np.inf


def test_run_sgd_is_torch_sgd_on_the_same_batches(problem):
    epochs, runs, lr0 = 6, 3, 0.3
    lrs = lesson.schedule_lrs("fixed interval", lr0, epochs, decay_rate=1.0, interval=2)
    ours = lesson.run_sgd(problem, np.tile(lrs[:, None], (1, runs)), seed=5)
    X, y = torch.from_numpy(problem.X), torch.from_numpy(problem.y)
    w = torch.zeros(runs, X.shape[1], dtype=torch.float64, requires_grad=True)
    sgd = torch.optim.SGD([w], lr=lr0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(sgd, lambda e: 1 / (1 + e // 2))
    batches = lesson.minibatches(problem, runs, seed=5)
    for _ in range(epochs):
        for index in torch.from_numpy(next(batches)):
            sgd.zero_grad()
            residuals = torch.einsum("rbd,rd->rb", X[index], w) - y[index]
            (0.5 * (residuals**2).mean(dim=1).sum()).backward()
            sgd.step()
        scheduler.step()
    np.testing.assert_allclose(ours.final_w, w.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_constant_rate_floor_is_proportional_to_lr(problem):
    lrs = np.repeat([0.2, 0.05], 8)
    runs = lesson.run_sgd(problem, np.tile(lrs, (40, 1)), seed=1)
    floors = runs.excess_loss[20:].mean(axis=0).reshape(2, 8).mean(axis=1)
    predicted = problem.predicted_floor([0.2, 0.05])
    np.testing.assert_allclose(floors, predicted, rtol=0.25)
    assert 3 < floors[0] / floors[1] < 5.5


def test_inverse_time_decay_goes_below_the_constant_floor(problem):
    table = np.stack([lesson.schedule_lrs("constant", 0.2, 40), lesson.schedule_lrs("inverse time", 0.2, 40)], 1)
    runs = lesson.run_sgd(problem, np.repeat(table, 6, axis=1), seed=2)
    final = runs.excess_loss[-5:].mean(axis=0).reshape(2, 6).mean(axis=1)
    assert final[1] < final[0] / 5


def test_divergence_is_reported_without_warnings(problem, recwarn):
    runs = lesson.run_sgd(problem, np.full((5, 2), [0.1, 5.0]), seed=0)
    assert runs.diverged_at[0] is None and runs.diverged_at[1] == 1
    assert np.isnan(runs.excess_loss[1:, 1]).all()
    assert runs.summary() == "diverged at epoch 1" and runs.summary(0).startswith("final excess loss")
    assert not recwarn.list


def test_bad_input():
    with pytest.raises(ValueError, match="lrs"):
        lesson.run_sgd(lesson.noisy_regression(n=40, batch_size=4), np.full((3, 2), -0.1))
    with pytest.raises(ValueError, match="name="):
        lesson.schedule_lrs("linear", 0.1, 10)
    with pytest.raises(ValueError, match="batch_size"):
        lesson.noisy_regression(n=10, batch_size=20)


SCHEDULERS = {
    "inverse time": (lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + 1.0 * e)), {"decay_rate": 1.0}),
    "fixed interval": (lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + 0.5 * (e // 7))),
                       {"decay_rate": 0.5, "interval": 7}),
    "exponential": (lambda m, o: m.ExponentialLR(o, gamma=0.95), {"gamma": 0.95}),
    "inverse sqrt": (lambda m, o: m.LambdaLR(o, lambda e: 1 / math.sqrt(e + 1)), {}),
    "StepLR": (lambda m, o: m.StepLR(o, step_size=7, gamma=0.5), {"gamma": 0.5, "interval": 7}),
    "cosine": (lambda m, o: m.CosineAnnealingLR(o, T_max=50), {}),
    "warm-up + cosine": (lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.2, total_iters=5),
                                                          m.CosineAnnealingLR(o, T_max=45)], milestones=[5]),
                         {"warmup": 5}),
}


@pytest.mark.parametrize("name", SCHEDULERS)
def test_schedule_lrs_equal_torch_schedulers(name):
    make, settings = SCHEDULERS[name]
    formula = lesson.schedule_lrs(name, 0.4, 50, **settings)
    theirs = lesson.scheduler_lrs(make, 50, 0.4, use_torch=True)
    ours = lesson.scheduler_lrs(make, 50, 0.4)
    np.testing.assert_allclose(formula, theirs, rtol=1e-12)
    np.testing.assert_array_equal(ours, theirs)


def test_plateau_rates_match_torch_on_the_same_losses(problem):
    plateau = lesson.PlateauRates(problem, 0.2, runs=2, epochs=30, factor=0.5, patience=2)
    runs = lesson.run_sgd(problem, plateau, seed=3)
    assert runs.lrs[-1].max() < 0.2
    for run in range(2):
        metrics = runs.excess_loss[1:, run] + problem.loss_opt
        make = lambda m, o: m.ReduceLROnPlateau(o, factor=0.5, patience=2)  # noqa: E731
        np.testing.assert_array_equal(runs.lrs[:, run], lesson.scheduler_lrs(make, 30, 0.2, use_torch=True,
                                                                              metrics=metrics))


# ------------------------------------------------------------------------------------- explorer

def test_schedule_explorer_updates_in_place_and_reports_divergence():
    explorer = lesson.ScheduleExplorer(epochs=12, seeds=2)
    rate_line, loss_line = explorer._rate, explorer._loss
    before = rate_line.get_ydata().copy(), loss_line.get_ydata().copy()
    explorer.set(schedule="fixed interval", decay_rate=2.0, interval=3)
    assert explorer._rate is rate_line and explorer._loss is loss_line
    assert not np.allclose(before[0], rate_line.get_ydata())
    assert not np.allclose(before[1], loss_line.get_ydata())
    np.testing.assert_allclose(rate_line.get_ydata(), schedules.staircase_decay(0.2, np.arange(12), 2.0, 3))
    assert explorer.controls["gamma"].disabled and not explorer.controls["interval"].disabled
    explorer.set(lr0=3.0)
    assert "diverged at epoch" in explorer._statuses[0].get_text()
    bundle = explorer._repr_mimebundle_()
    assert set(bundle) == {"application/vnd.jupyter.widget-view+json", "text/plain", "image/png"}
    assert bundle["text/plain"] == ("ScheduleExplorer: schedule=fixed interval, lr0=3, decay_rate=2, interval=3, "
                                    "epochs=12, seeds=2")
    explorer.set(schedule="warm-up + cosine", lr0=0.2)
    assert explorer.describe() == "ScheduleExplorer: schedule=warm-up + cosine, lr0=0.2, warmup=5, epochs=12, seeds=2"
    with pytest.raises(ValueError, match="schedule"):
        explorer.set(schedule="linear")


# ------------------------------------------------------------------------------------- checkers

@pytest.mark.parametrize("exercise, check, reference", [
    (lesson.UPDATE_LR_EXERCISE, lesson.check_update_lr, lambda lr0, e, k: lr0 / (1 + k * e)),
    (lesson.SCHEDULE_LR_DECAY_EXERCISE, lesson.check_schedule_lr_decay,
     lambda lr0, e, k, t: lr0 / (1 + k * math.floor(e / t))),
    (lesson.FIXED_INTERVAL_LAMBDA_EXERCISE, lesson.check_fixed_interval_lambda,
     lambda k, t: (lambda e: 1 / (1 + k * (e // t)))),
])
def test_checkers_pass_the_reference_and_name_each_mistake(exercise, check, reference):
    assert check(reference).passed
    for mistake in exercise.mistakes:
        result = check(mistake.answer)
        assert not result.passed and result.message == mistake.explanation


def test_published_values_pass_through_the_checkers():
    assert lesson.check_update_lr(lambda lr0, e, k: schedules.inverse_time_decay(lr0, e, k)).passed
    assert lesson.check_schedule_lr_decay(lambda lr0, e, k, t: schedules.staircase_decay(lr0, e, k, t)).passed


def test_fixed_interval_lambda_unusable_answers():
    assert "return a function" in lesson.check_fixed_interval_lambda(lambda k, t: 0.5).message
    assert "LambdaLR could not use" in lesson.check_fixed_interval_lambda(lambda k, t: (lambda e: "x")).message


def test_the_lectures_staircase_is_steplr_and_fixed_interval_is_not():
    """The lecture's discrete staircase (halve every T epochs) is StepLR(gamma=0.5); the assignment's
    fixed-interval scheduling equals it on the first stair only."""
    halving = lesson.scheduler_lrs(lambda m, o: m.StepLR(o, step_size=10, gamma=0.5), 40, 0.4, use_torch=True)
    np.testing.assert_allclose(halving, lesson.schedule_lrs("StepLR", 0.4, 40, gamma=0.5, interval=10), rtol=1e-15)
    fixed = lesson.schedule_lrs("fixed interval", 0.4, 40, decay_rate=1.0, interval=10)
    np.testing.assert_array_equal(fixed[:20], halving[:20])
    assert fixed[20] == pytest.approx(0.4 / 3) and halving[20] == pytest.approx(0.1)
