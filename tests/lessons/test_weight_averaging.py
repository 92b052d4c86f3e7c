"""Notebook 11's lesson: the averaged runs against independent loops, the explorer, the checks."""

import math

import numpy as np
import pytest

from course_lib import swa_utils
from course_lib.interactive.checking import call_on_case
from course_lib.lab.regression import minibatches, noisy_regression
from course_lib.lessons import weight_averaging as lesson
from course_lib.lessons.weight_averaging import exercises


@pytest.fixture(scope="module")
def problem():
    return noisy_regression()


# --- averaged_sgd ------------------------------------------------------------------------------


def plain_loop(problem, lr, steps, runs, seed, start, swa_start, decay):
    """SGD and its averages written out step by step, one run at a time: the iterate, the running
    mean of θ_t for t > swa_start, the EMA from θ₀, the EMA from 0 and its corrected value."""
    stream = minibatches(problem, runs, seed)
    batches = np.concatenate([next(stream) for _ in range(math.ceil(steps / problem.steps_per_epoch))])[:steps]
    out = {name: [] for name in ("iterate", "SWA", "EMA", "zero", "corrected")}
    for run in range(runs):
        w = np.array(start, dtype=float)
        total, count, ema, zero = np.zeros_like(w), 0, w.copy(), np.zeros_like(w)
        rows = {name: [] for name in out}
        for t in range(1, steps + 1):
            batch = batches[t - 1, run]
            w = w - lr * problem.X[batch].T @ (problem.X[batch] @ w - problem.y[batch]) / len(batch)
            if t > swa_start:
                total, count = total + w, count + 1
            ema = decay * ema + (1 - decay) * w
            zero = decay * zero + (1 - decay) * w
            rows["iterate"].append(w)
            rows["SWA"].append(total / count if count else np.full_like(w, np.nan))
            rows["EMA"].append(ema)
            rows["zero"].append(zero)
            rows["corrected"].append(zero / (1 - decay**t))
        for name in out:
            out[name].append(problem.excess_loss(np.array(rows[name])))
    return {name: np.array(values).T for name, values in out.items()}   # (steps, runs)


def test_averaged_sgd_matches_a_plain_loop(problem):
    start = np.linspace(-1, 1, problem.X.shape[1])
    runs = lesson.averaged_sgd(problem, 0.1, 120, runs=3, seed=4, start=start, swa_start=30, ema_decays=(0.9,),
                               zero_ema_decays=(0.9,))
    expected = plain_loop(problem, 0.1, 120, 3, 4, start, 30, 0.9)
    names = {"iterate": "iterate", "SWA": "SWA", "EMA 0.9": "EMA", "EMA 0.9 from 0": "zero",
             "EMA 0.9 from 0, corrected": "corrected"}
    assert list(runs.steps) == list(range(121))
    for ours, theirs in names.items():
        np.testing.assert_allclose(runs.excess_loss[ours][1:], expected[theirs], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(runs.excess_loss["iterate"][0], problem.excess_loss(start))
    assert np.all(np.isnan(runs.excess_loss["SWA"][:31])) and not np.any(np.isnan(runs.excess_loss["SWA"][31:]))


def test_a_rate_schedule_and_recording_every_k_steps(problem):
    schedule = lambda t: 0.2 / (1 + t / 20)
    runs = lesson.averaged_sgd(problem, schedule, 60, runs=2, seed=1, record_every=20)
    assert list(runs.steps) == [0, 20, 40, 60]
    w = np.zeros((2, problem.X.shape[1]))
    stream = minibatches(problem, 2, 1)
    batches = np.concatenate([next(stream), next(stream)])     # 50 steps per epoch
    for t in range(60):
        batch = batches[t]
        for r in range(2):
            Xb, yb = problem.X[batch[r]], problem.y[batch[r]]
            w[r] = w[r] - schedule(t) * Xb.T @ (Xb @ w[r] - yb) / len(yb)
    np.testing.assert_allclose(runs.final["iterate"], w, rtol=1e-12)


def test_averaging_reaches_the_polyak_juditsky_rate(problem):
    """The running mean of constant-lr SGD ends near ½ tr(H⁻¹S)/n, far below the noise floor."""
    runs = lesson.averaged_sgd(problem, 0.2, 3000, runs=64, swa_start=500, record_every=3000)
    predicted = lesson.polyak_rate(problem, 2500)
    assert 0.85 < runs.mean("SWA")[-1] / predicted < 1.25
    assert runs.mean("iterate")[-1] > 50 * predicted


def test_polyak_rate_is_half_the_trace_of_the_inverse_hessian_times_the_noise(problem):
    residuals = problem.X @ problem.w_opt - problem.y
    noise = sum(r**2 * np.outer(x, x) for x, r in zip(problem.X, residuals)) / len(residuals) / problem.batch_size
    expected = 0.5 * np.trace(np.linalg.inv(problem.hessian) @ noise)
    np.testing.assert_allclose(lesson.polyak_rate(problem, [1, 4]), [expected, expected / 4], rtol=1e-10)


@pytest.mark.parametrize("settings, match", [
    (dict(swa_start=10), "swa_start"), (dict(ema_decays=(1.0,)), "decay"), (dict(zero_ema_decays=(-0.1,)), "decay"),
    (dict(runs=0), "runs"), (dict(record_every=0), "record_every"),
])
def test_averaged_sgd_refuses_bad_settings(problem, settings, match):
    with pytest.raises(ValueError, match=match):
        lesson.averaged_sgd(problem, 0.1, 10, **settings)


# --- SWA on the network ------------------------------------------------------------------------


def test_train_swa_follows_swalr_and_reports_four_error_rates():
    runs = lesson.train_swa(seeds=2, epochs=8, lr=0.1, swa_lr=0.05, swa_start=3, anneal_epochs=2)
    alpha = lambda k: (1 - math.cos(math.pi * min(1, k / 2))) / 2
    expected = [0.1] * 4 + [alpha(k) * 0.05 + (1 - alpha(k)) * 0.1 for k in (1, 2, 3, 4)]
    np.testing.assert_allclose(runs.lrs, expected, rtol=1e-12)
    assert set(runs.test_error) == {"last iterate", "SWA", "EMA", "cosine"}
    for errors in runs.test_error.values():
        assert errors.shape == (2,) and np.all((errors >= 0) & (errors <= 1))
    assert not np.array_equal(runs.test_error["SWA"], runs.test_error["cosine"])


def test_train_swa_refuses_a_start_after_the_end():
    with pytest.raises(ValueError, match="swa_start"):
        lesson.train_swa(epochs=5, swa_start=5)


# --- the noisy bowl ----------------------------------------------------------------------------


def test_noisy_bowl_matches_swa_utils_driven_one_setting_at_a_time():
    noise = lesson.bowl_noise(50)
    lrs, decays = [0.02, 0.1], [0.9, 0.5]
    result = lesson.noisy_bowl(lrs, decays, noise, swa_start=20)
    for k, (lr, decay) in enumerate(zip(lrs, decays)):
        theta = np.array(lesson.BOWL.start, dtype=float)
        ema = swa_utils.AveragedModel([theta], multi_avg_fn=swa_utils.get_ema_multi_avg_fn(decay))
        ema.update_parameters([theta])
        mean = swa_utils.AveragedModel([theta])
        for t in range(50):
            theta = theta - lr * (np.array(lesson.BOWL.gradient(*theta)) + noise[t])
            ema.update_parameters([theta])
            if t + 1 > 20:
                mean.update_parameters([theta])
            np.testing.assert_allclose(result.paths["iterate"][t + 1, k], theta, rtol=1e-12)
            np.testing.assert_allclose(result.paths["EMA"][t + 1, k], ema.params[0], rtol=1e-12)
        np.testing.assert_allclose(result.paths["SWA"][-1, k], mean.params[0], rtol=1e-12)
        assert np.all(np.isnan(result.paths["SWA"][:21, k]))
        np.testing.assert_allclose(result.losses["iterate"][-1, k], lesson.BOWL.value(*theta))


def test_noisy_bowl_takes_a_draw_of_noise_per_setting():
    draws = np.stack([lesson.bowl_noise(30, seed=s) for s in range(3)], axis=1)   # (30, 3, 2)
    together = lesson.noisy_bowl([0.05] * 3, [0.9] * 3, draws, swa_start=10)
    for k in range(3):
        alone = lesson.noisy_bowl([0.05], [0.9], draws[:, k], swa_start=10)
        for name in ("iterate", "EMA", "SWA"):
            np.testing.assert_array_equal(together.losses[name][:, k], alone.losses[name][:, 0])
    assert not np.allclose(together.losses["iterate"][-1, 0], together.losses["iterate"][-1, 1])


# --- the explorer -------------------------------------------------------------------------------


def test_the_explorer_builds_and_reacts_to_its_sliders():
    explorer = lesson.AveragingExplorer(lr=0.05, decay=0.9, steps=120, swa_start=40)
    assert explorer.describe() == "AveragingExplorer: lr=0.05, decay=0.9, steps=120, swa_start=40, noise=2"
    iterate, ema = explorer.paths["iterate"].copy(), explorer.paths["EMA"].copy()
    drawn = explorer._paths["EMA"].get_xydata().copy()
    explorer.set(decay=0.99)
    np.testing.assert_array_equal(explorer.paths["iterate"], iterate)        # the run is the same
    assert not np.allclose(explorer.paths["EMA"], ema)                        # its EMA is not
    assert not np.allclose(explorer._paths["EMA"].get_xydata(), drawn)        # and the figure moved
    explorer.set(lr=0.01)
    assert not np.allclose(explorer.paths["iterate"], iterate)
    assert explorer._statuses["SWA"].get_text().startswith("SWA: f ≈ ")
    assert explorer.png()
    with pytest.raises((ValueError, TypeError)):
        explorer.set(decay=1.5)


# --- the exercises ------------------------------------------------------------------------------

def running_mean_solution(average, theta, n):
    return [a + (t - a) / (n + 1) for a, t in zip(average, theta)]


def ema_update_solution(ema, theta, decay):
    return [decay * e + (1 - decay) * t for e, t in zip(ema, theta)]


def corrected_ema_solution(thetas, decay):
    v, out = 0.0, []
    for t, theta in enumerate(thetas, start=1):
        v = decay * v + (1 - decay) * theta
        out.append(v / (1 - decay**t))
    return np.array(out)


@pytest.mark.parametrize("check, solution", [
    (lesson.check_running_mean, running_mean_solution), (lesson.check_ema_update, ema_update_solution),
    (lesson.check_corrected_ema, corrected_ema_solution),
])
def test_the_checks_accept_the_solutions_and_say_a_stub_is_not_attempted(check, solution):
    assert check(solution).passed

    def stub(*args):
        raise NotImplementedError

    verdict = check(stub)
    assert not verdict.passed and not verdict.attempted


def test_the_running_mean_check_names_the_known_mistakes():
    assert "divided by n:" in lesson.check_running_mean(lambda a, t, n: [x + (y - x) / n for x, y in zip(a, t)]).message
    assert "β = 1/2" in lesson.check_running_mean(lambda a, t, n: [(x + y) / 2 for x, y in zip(a, t)]).message
    assert "list of 1 item" in lesson.check_running_mean(lambda a, t, n: [a[0]]).message

    def in_place(average, theta, n):
        for a, t in zip(average, theta):
            a += (t - a) / (n + 1)
        return average

    assert "in place" in lesson.check_running_mean(in_place).message


def test_the_ema_checks_name_the_known_mistakes():
    swapped = lambda e, t, b: [(1 - b) * x + b * y for x, y in zip(e, t)]
    assert "swapped" in lesson.check_ema_update(swapped).message
    uncorrected = lambda thetas, b: corrected_ema_solution(thetas, b) * 0 + _ema(thetas, b)
    assert "uncorrected" in lesson.check_corrected_ema(uncorrected).message
    shifted = lambda thetas, b: _ema(thetas, b) / (1 - b ** (np.arange(len(thetas)) + 2))
    assert "off by one" in lesson.check_corrected_ema(shifted).message


def _ema(thetas, decay):
    v, out = 0.0, []
    for theta in thetas:
        v = decay * v + (1 - decay) * theta
        out.append(v)
    return np.array(out)


def test_every_known_mistake_is_told_apart_from_the_right_answer():
    for exercise in (lesson.RUNNING_MEAN_EXERCISE, lesson.EMA_UPDATE_EXERCISE, lesson.CORRECTED_EMA_EXERCISE):
        for mistake in exercise.mistakes:
            differs = any(not np.allclose(exercise.run(call_on_case(mistake.answer, case)) if exercise.run
                                          else call_on_case(mistake.answer, case), exercise.expected(*case.values()))
                          for case in exercise.cases)
            assert differs, mistake.explanation


def test_the_decay_question_is_judged_by_running_it(problem):
    """lr 0.05 for 3000 steps: the iterate remembers ~200 steps, so β = 0.99 (right at lr 0.2) is too
    short here, 0.999 lags, and 0.997 passes."""
    good = lesson.check_ema_decay(0.997)
    assert good.passed
    runs = lesson.averaged_sgd(problem, 0.05, 3000, runs=64, ema_decays=(0.997,), record_every=3000)
    ratio = runs.mean("EMA 0.997")[-1] / runs.mean("iterate")[-1]
    assert f"{ratio:.2g} times" in good.message and ratio < 0.15
    short = lesson.check_ema_decay(0.99)
    assert not short.passed and "Raise the decay" in short.message and "203 steps" in short.message
    long = lesson.check_ema_decay(0.999)
    assert not long.passed and "lags" in long.message
    assert "cannot be run" in lesson.check_ema_decay(1.0).message
    assert not lesson.check_ema_decay(...).attempted
