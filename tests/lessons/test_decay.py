"""Notebook 05: course_lib.lessons.decay (noisy regression, vectorised SGD, schedules), the
ScheduleExplorer, the learning-rate-decay checkers and the design-a-schedule question."""

import math
import re
import time

import numpy as np
import pytest
import torch
from learner_answers import failure, passes

from course_lib import schedules
from course_lib.interactive.checking import check_function
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
    "one-cycle": (lambda m, o: m.OneCycleLR(o, max_lr=0.4, total_steps=50), {}),
    "warm restarts": (lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=3), {"interval": 4, "T_mult": 3}),
    "warmup-stable-decay": (lambda m, o: m.SequentialLR(o, [
        m.LinearLR(o, start_factor=1 / 6, total_iters=6), m.ConstantLR(o, factor=1.0, total_iters=1),
        m.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=9)], milestones=[6, 41]),
        {"warmup": 6, "interval": 9}),
}


@pytest.mark.parametrize("name", SCHEDULERS)
def test_schedule_lrs_equal_torch_schedulers(name):
    make, settings = SCHEDULERS[name]
    formula = lesson.schedule_lrs(name, 0.4, 50, **settings)
    theirs = lesson.scheduler_lrs(make, 50, 0.4, use_torch=True)
    ours = lesson.scheduler_lrs(make, 50, 0.4)
    np.testing.assert_allclose(formula, theirs, rtol=1e-12)
    np.testing.assert_array_equal(ours, theirs)


def test_every_named_schedule_is_checked_against_torch():
    assert set(SCHEDULERS) == set(lesson.SCHEDULES) - {"constant"}


def torch_one_cycle(steps, momentum=0.9, **settings):
    """torch's OneCycleLR on an SGD with momentum: (rates, momenta) of steps 0 … steps − 1."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0, momentum=momentum)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, total_steps=steps, **settings)
    rates, momenta = [], []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        momenta.append(opt.param_groups[0]["momentum"])
        opt.step()
        scheduler.step()
    return np.array(rates), np.array(momenta)


@pytest.mark.parametrize("case", range(12))
def test_one_cycle_closed_form_is_torch_s_rate_and_momentum(case):
    rng = np.random.default_rng(case)
    steps = int(rng.integers(8, 400))
    settings = {"max_lr": float(rng.uniform(0.01, 3)), "pct_start": float(rng.uniform(0.1, 0.9)),
                "div_factor": float(rng.uniform(2, 100)), "final_div_factor": float(rng.uniform(2, 1e5)),
                "max_momentum": float(rng.uniform(0.9, 0.99)), "base_momentum": float(rng.uniform(0.5, 0.89))}
    rates, momenta = lesson.one_cycle(steps=steps, **settings)
    their_rates, their_momenta = torch_one_cycle(steps, **settings)
    np.testing.assert_allclose(rates, their_rates, rtol=1e-12)
    np.testing.assert_allclose(momenta, their_momenta, rtol=1e-12)
    peak = int(np.argmax(rates))
    assert np.argmin(momenta) == peak and momenta[0] == settings["max_momentum"]  # momentum moves against lr


@pytest.mark.parametrize("T_0, T_mult, eta_min", [(1, 1, 0.0), (1, 2, 0.0), (3, 1, 0.01), (5, 2, 0.02), (2, 3, 0.0),
                                                  (20, 2, 0.0), (7, 4, 0.05)])
def test_warm_restarts_closed_form_is_torch_s(T_0, T_mult, eta_min):
    make = lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=T_0, T_mult=T_mult, eta_min=eta_min)  # noqa: E731
    theirs = lesson.scheduler_lrs(make, 200, 0.3, use_torch=True)
    np.testing.assert_allclose(lesson.warm_restarts(0.3, 200, T_0, T_mult, eta_min), theirs, rtol=1e-12)
    restarts, start, length = [], T_0, T_0   # cycles of T_0, T_0·T_mult, T_0·T_mult², … epochs
    while start < 200:
        restarts.append(start)
        length *= T_mult
        start += length
    np.testing.assert_array_equal(np.flatnonzero(np.isclose(theirs, 0.3, rtol=1e-14))[1:], restarts)


@pytest.mark.parametrize("epochs, warmup, cooldown", [(3, 1, 1), (10, 1, 8), (10, 8, 1), (60, 5, 12), (200, 20, 40)])
def test_warmup_stable_decay_closed_form_is_torch_s(epochs, warmup, cooldown):
    make = lambda m, o: m.SequentialLR(o, [  # noqa: E731
        m.LinearLR(o, start_factor=1 / warmup, total_iters=warmup), m.ConstantLR(o, factor=1.0, total_iters=1),
        m.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=cooldown)], milestones=[warmup, epochs - cooldown])
    theirs = lesson.scheduler_lrs(make, epochs, 0.7, use_torch=True)
    ours = lesson.warmup_stable_decay(0.7, epochs, warmup, cooldown)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    flat = ours[warmup:epochs - cooldown]
    assert len(flat) >= 1 and np.all(flat == 0.7) and ours[-1] == pytest.approx(0.7 / cooldown)


@pytest.mark.parametrize("warmup, cooldown", [(0, 3), (3, 0), (8, 2), (9, 1), (2.0, 3), (True, 3), (3, 7)])
def test_warmup_stable_decay_refuses_phases_that_leave_no_flat_epoch(warmup, cooldown):
    with pytest.raises(ValueError, match="warmup|cooldown"):
        lesson.warmup_stable_decay(0.5, 10, warmup, cooldown)


def test_scheduler_lrs_records_the_momentum_one_cycle_moves():
    make = lambda m, o: m.OneCycleLR(o, max_lr=0.3, total_steps=40, base_momentum=0.8)  # noqa: E731
    (rates, momenta), (their_rates, their_momenta) = (lesson.scheduler_lrs(make, 40, 0.3, momentum=0.9, use_torch=t)
                                                      for t in (False, True))
    np.testing.assert_array_equal(rates, their_rates)
    np.testing.assert_array_equal(momenta, their_momenta)
    assert momenta.min() == pytest.approx(0.8) and momenta[0] == 0.95
    flat = lesson.scheduler_lrs(lambda m, o: m.StepLR(o, step_size=3), 6, 0.3, momentum=0.5)[1]
    np.testing.assert_array_equal(flat, 0.5)
    assert isinstance(lesson.scheduler_lrs(make, 40, 0.3), np.ndarray)   # without momentum: the rates alone


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


def test_schedule_explorer_shows_the_practitioners_schedules():
    explorer = lesson.ScheduleExplorer(epochs=12, seeds=2)
    explorer.set(schedule="one-cycle", lr0=0.3)
    np.testing.assert_allclose(explorer._rate.get_ydata(), lesson.one_cycle(0.3, 12)[0])
    assert all(explorer.controls[name].disabled for name in ("decay_rate", "gamma", "interval", "warmup"))
    explorer.set(schedule="warm restarts", interval=3)
    np.testing.assert_allclose(explorer._rate.get_ydata(), lesson.warm_restarts(0.3, 12, 3, 2))
    assert explorer.describe() == "ScheduleExplorer: schedule=warm restarts, lr0=0.3, interval=3, epochs=12, seeds=2"
    explorer.set(schedule="warmup-stable-decay", warmup=4, interval=30)   # the cool-down is cut to fit
    np.testing.assert_allclose(explorer._rate.get_ydata(), lesson.warmup_stable_decay(0.3, 12, 4, 7))
    assert not explorer.controls["warmup"].disabled and not explorer.controls["interval"].disabled
    assert explorer.controls["gamma"].disabled
    explorer.set(warmup=20)
    np.testing.assert_allclose(explorer._rate.get_ydata(), lesson.warmup_stable_decay(0.3, 12, 10, 1))


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


# ------------------------------------------------------------------------- the notebook's exercises

def update_lr_solution(lr0, epoch, decay_rate):
    return lr0 / (1 + decay_rate * epoch)


def schedule_lr_decay_solution(lr0, epoch, decay_rate, time_interval):
    return lr0 / (1 + decay_rate * np.floor(epoch / time_interval))


def fixed_interval_lambda_solution(decay_rate, time_interval):
    return lambda epoch: 1 / (1 + decay_rate * (epoch // time_interval))


def test_the_notebook_s_solutions_pass():
    passes(lesson.check_update_lr, update_lr_solution)
    passes(lesson.check_schedule_lr_decay, schedule_lr_decay_solution)
    passes(lesson.check_fixed_interval_lambda, fixed_interval_lambda_solution)
    passes(lesson.check_schedule, {"lr0": 0.5, "decay_rate": 5.0})


def test_stubs_are_not_attempted_and_get_their_hint():
    def update_lr(lr0, epoch, decay_rate):
        raise NotImplementedError

    result = lesson.check_update_lr(update_lr)
    assert not result.attempted and result.message == lesson.UPDATE_LR_EXERCISE.hint
    result = lesson.check_fixed_interval_lambda(lambda decay_rate, time_interval: ...)
    assert not result.attempted and result.message == lesson.FIXED_INTERVAL_LAMBDA_EXERCISE.hint
    result = lesson.check_schedule({"lr0": ..., "decay_rate": ...})
    assert not result.attempted and result.message == lesson.SCHEDULE_QUESTION.hint


def test_update_lr_written_as_the_lecture_s_exponential_decay():
    message = failure(lesson.check_update_lr, lambda lr0, epoch, decay_rate: 0.95**epoch * lr0)
    assert message.startswith("you wrote the lecture's exponential decay, 0.95^epoch·lr0")
    message = failure(lesson.check_update_lr, lambda lr0, epoch, decay_rate: decay_rate**epoch * lr0)
    assert message.startswith("you computed decay_rate^epoch·lr0, exponential decay")


def test_the_lecture_s_discrete_staircase_is_named_in_both_fixed_interval_exercises():
    message = failure(lesson.check_schedule_lr_decay,
                      lambda lr0, epoch, decay_rate, time_interval: lr0 * 0.5 ** (epoch // time_interval))
    assert message.startswith("you wrote the lecture's discrete staircase")
    message = failure(lesson.check_fixed_interval_lambda,
                      lambda k, interval: (lambda epoch: 0.5 ** (epoch // interval)))
    assert message.startswith("0.5^(epoch // interval) is the lecture's discrete staircase")


@pytest.mark.parametrize("lr0", [0.5, 0.1, 0.2, 0.01, 3.0])
def test_a_lambda_that_returns_the_rate_is_named_whatever_its_lr0(lr0):
    """The learner's lambda cannot know the optimizer's base lr (0.1): with the notebook's own lr0 = 0.5,
    or any other, LambdaLR's rates are all the same multiple of the right ones."""
    def fixed_interval_lambda(decay_rate, time_interval):
        return lambda epoch: lr0 / (1 + decay_rate * (epoch // time_interval))

    assert failure(lesson.check_fixed_interval_lambda, fixed_interval_lambda) == lesson.RATE_NOT_FACTOR


def test_only_a_constant_multiple_is_called_a_rate():
    inverse_time = failure(lesson.check_fixed_interval_lambda,
                           lambda k, interval: (lambda epoch: 0.5 / (1 + k * epoch)))
    assert inverse_time != lesson.RATE_NOT_FACTOR
    stair_scale = failure(lesson.check_fixed_interval_lambda,
                          lambda k, interval: (lambda epoch: (1 + (epoch >= interval)) / (1 + k * (epoch // interval))))
    assert stair_scale == ("LambdaLR's rate (base lr 0.1, epochs 0 … 59) is wrong at index 10: expected 0.05, got 0.1 "
                           "(test case 1 of 3: decay_rate=1, time_interval=10).")
    raising = failure(lesson.check_fixed_interval_lambda, lambda k, interval: (lambda epoch: 1 / 0))
    assert raising.startswith("LambdaLR could not use your lambda: ZeroDivisionError")


def test_update_lr_that_forgets_lr0_or_misplaces_the_parentheses():
    message = failure(lesson.check_update_lr, lambda lr0, epoch, decay_rate: 1 / (1 + decay_rate * epoch))
    assert message == "you returned the factor 1 / (1 + k·epoch) alone; the rate is lr0 times it."
    message = failure(lesson.check_update_lr, lambda lr0, epoch, decay_rate: lr0 / (1 + decay_rate) * epoch)
    assert message.startswith("the parentheses are misplaced: lr0 / (1 + k)·epoch multiplies by epoch")


@pytest.mark.parametrize("answer", [
    lambda lr0, epoch, decay_rate, time_interval: lr0 / (1 + decay_rate * epoch // time_interval),
    lambda lr0, epoch, decay_rate, time_interval: lr0 / (1 + math.floor(decay_rate * epoch / time_interval)),
])
def test_schedule_lr_decay_that_floors_k_times_epoch_over_the_interval(answer):
    """Python's * and // have the same precedence: k * epoch // T is ⌊k·epoch / T⌋, wrong for k = 0.25."""
    assert failure(lesson.check_schedule_lr_decay, answer).startswith(
        "you took the floor of k·epoch / time_interval; floor only epoch / time_interval.")


def test_schedule_lr_decay_counted_from_epoch_one_or_without_lr0():
    message = failure(lesson.check_schedule_lr_decay,
                      lambda lr0, epoch, decay_rate, time_interval: lr0 / (1 + decay_rate * ((epoch + 1) // time_interval)))
    assert message.startswith("off by one: epochs count from 0 (the lecture counts from 1)")
    message = failure(lesson.check_schedule_lr_decay,
                      lambda lr0, epoch, decay_rate, time_interval: 1 / (1 + decay_rate * (epoch // time_interval)))
    assert message.startswith("you returned the factor 1 / (1 + k·⌊epoch / time_interval⌋) alone")


def test_a_lambda_that_floors_k_times_epoch_over_the_interval():
    message = failure(lesson.check_fixed_interval_lambda,
                      lambda decay_rate, time_interval: (lambda epoch: 1 / (1 + decay_rate * epoch // time_interval)))
    assert message.startswith("k * epoch // interval takes the floor of k·epoch / interval")


def test_a_division_by_zero_gets_its_hint_and_another_error_keeps_its_text():
    for answer in (lambda lr0, epoch, decay_rate: lr0 / (decay_rate * epoch),      # "float division by zero"
                   lambda lr0, epoch, decay_rate: lr0 // (decay_rate * epoch)):    # "float floor division by zero"
        result = lesson.check_update_lr(answer)
        assert result.message.startswith("your function raised ZeroDivisionError")
        assert "(test case 4 of 5: lr0=0.05, epoch=0, decay_rate=0.5)" in result.message
        assert result.message.endswith("The denominator is 1 + k·epoch, which is never 0 for k ≥ 0.")
        assert len(str(result).splitlines()) <= 2

    def raising(lr0, epoch, decay_rate):
        raise ZeroDivisionError("boom")

    message = failure(lesson.check_update_lr, raising)
    assert "boom" in message and "denominator" not in message


def test_messages_name_the_test_case_not_the_arguments():
    message = failure(lesson.check_update_lr, lambda lr0, epoch, decay_rate: lr0 + 1)
    assert message == ("the learning rate is wrong: expected 0.166667, got 1.5 "
                       "(test case 1 of 5: lr0=0.5, epoch=2, decay_rate=1).")
    message = failure(lesson.check_schedule_lr_decay, lambda lr0, epoch, decay_rate, time_interval: lr0 + 1)
    assert message.endswith("(test case 1 of 8).")


# ------------------------------------------------------------------- design a schedule for a budget

def final_excess(lr0, decay_rate):
    """The budget's experiment computed here without the lesson's helpers: 64 runs of SGD, 10 epochs."""
    problem = lesson.noisy_regression()
    lrs = schedules.inverse_time_decay(lr0, np.arange(10), decay_rate)
    return lesson.run_sgd(problem, np.tile(lrs[:, None], (1, 64)), seed=0).excess_loss[-1].mean()


def test_the_solution_s_message_and_that_the_judge_runs_the_experiment():
    result = lesson.check_schedule({"lr0": 0.5, "decay_rate": 5.0})
    assert result.message == ("Your schedule brought F − F* to 9.6e-04 in 500 steps (mean of 64 seeds), below "
                              "1.5e-03: its early rates travelled fast, and its last rate, lr0 / (1 + 9k), had a low "
                              "noise floor.")
    assert len(str(result).splitlines()) == 2 and max(len(line) for line in str(result).splitlines()) <= 100
    assert f"{final_excess(0.5, 5.0):.1e}" == "9.6e-04"
    assert f"{final_excess(0.5, 15.0):.2e}" in lesson.check_schedule({"lr0": 0.5, "decay_rate": 15.0}).message


def numbers_in(message):
    """Every number written in ``message`` ("lr0" gives 0, "9.6e-04" 0.00096), as floats."""
    return [float(number) for number in re.findall(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", message)]


@pytest.mark.parametrize("lr0, decay_rate", [(0.5, 5.0), (0.7, 5.0), (1.4, 9.8), (0.3, 3.0)])
def test_the_success_message_does_not_give_the_answer_away(lr0, decay_rate):
    """After "Run All" the solution's verdict shows under the question: it names neither lr0 nor k,
    nor the last rate they make, lr0 / (1 + 9k)."""
    result = lesson.check_schedule({"lr0": lr0, "decay_rate": decay_rate})
    assert result.passed
    assert "lr0 =" not in result.message and "k =" not in result.message
    last_rate = lr0 / (1 + 9 * decay_rate)
    for number in numbers_in(result.message):
        assert not any(np.isclose(number, value, rtol=0.05) for value in (lr0, decay_rate, last_rate)), number
    assert "0.5" not in lesson.check_schedule({"lr0": 0.5, "decay_rate": 5.0}).message   # the solution's, as written


@pytest.mark.parametrize("lr0", [0.3, 0.5, 0.7, 1.0, 1.4])
@pytest.mark.parametrize("ratio", [5, 7, 10])
def test_the_good_region_passes(lr0, ratio):
    """Any lr0 from 0.3 to 1.4 with k from 5·lr0 to 10·lr0, as the solution says."""
    assert lesson.check_schedule({"lr0": lr0, "decay_rate": ratio * lr0}).passed


@pytest.mark.parametrize("lr0", [0.02, 0.05, 0.1, 0.2, 0.5])
def test_no_constant_rate_reaches_the_target(lr0):
    result = lesson.check_schedule({"lr0": lr0, "decay_rate": 0})
    assert not result.passed and result.attempted


@pytest.mark.parametrize("answer, verdict", [
    ((0.2, 1.0), "stalled at the noise floor"),     # the first plot's schedule: close, but not there
    ((0.5, 2.0), "stalled at the noise floor"),     # just outside the region: the last rate is too large ...
    ((0.5, 3.0), "Correct"),                        # ... just inside it
    ((0.5, 10.0), "Correct"),                       # the other edge ...
    ((0.5, 15.0), "froze"),                         # ... and just past it: the rate fell too fast
    ((1.8, 12.0), "froze"),                         # near the limit: the early cloud is never forgotten
    ((0.3, 10.0), "too slow"),                      # the rates add up to too little
    ((0.05, 1.0), "too slow"),
    ((0.0, 1.0), "too slow"),
    ((1.5, 0.0), "stalled at the noise floor"),     # below the stability limit 2/h_max ≈ 1.9 ...
    ((1.95, 0.0), "diverged"),                      # ... and above it: F − F* grows
    ((2.5, 10.0), "diverged"),                      # far above: the runs blow up in the first epoch
])
def test_each_wrong_schedule_gets_its_explanation(answer, verdict):
    lr0, decay_rate = answer
    result = lesson.check_schedule({"lr0": lr0, "decay_rate": decay_rate})
    expected = "Correct!" if verdict == "Correct" else f"Not yet: {verdict}: with lr0 = "
    assert str(result).startswith(expected), str(result)
    assert len(str(result).splitlines()) <= 2 and all(len(line) <= 100 for line in str(result).splitlines())


def test_the_diagnosis_names_the_cause():
    assert "raise k" in lesson.check_schedule({"lr0": 0.2, "decay_rate": 1.0}).message
    assert "raise lr0 or lower k" in lesson.check_schedule({"lr0": 0.3, "decay_rate": 10.0}).message
    assert "lower k or lr0" in lesson.check_schedule({"lr0": 0.5, "decay_rate": 15.0}).message
    assert "SGD diverged at epoch 1" in lesson.check_schedule({"lr0": 2.5, "decay_rate": 10.0}).message
    assert "F − F* grew from 2.7 to" in lesson.check_schedule({"lr0": 1.95, "decay_rate": 0.0}).message


def test_answers_the_computation_refuses_and_a_bare_number():
    assert lesson.check_schedule({"lr0": -0.1, "decay_rate": 1.0}).message == \
        "that answer cannot be run: lr0 must be >= 0, got -0.1"
    assert "decay_rate must be >= 0" in lesson.check_schedule({"lr0": 0.5, "decay_rate": -1}).message
    assert "should be a dict" in lesson.check_schedule(0.5).message


def test_noise_free_excess_is_full_batch_gradient_descent(problem):
    lrs = np.array([0.5, 0.25, 0.1])
    w = np.zeros(problem.X.shape[1])
    for lr in np.repeat(lrs, problem.steps_per_epoch):
        w = w - lr * problem.X.T @ (problem.X @ w - problem.y) / len(problem.y)
    assert lesson.noise_free_excess(problem, lrs) == pytest.approx(problem.excess_loss(w), rel=1e-9)


def test_the_judge_is_cheap():
    lesson.check_schedule({"lr0": 0.5, "decay_rate": 5.0})  # builds the problem once
    start = time.perf_counter()
    lesson.check_schedule({"lr0": 0.7, "decay_rate": 5.0})
    assert time.perf_counter() - start < 0.5


def test_the_rate_not_factor_post_check_leaves_other_results_alone():
    exercise = lesson.FIXED_INTERVAL_LAMBDA_EXERCISE
    for mistake in exercise.mistakes:
        expected = check_function(mistake.answer, exercise).message
        assert lesson.check_fixed_interval_lambda(mistake.answer).message == expected
