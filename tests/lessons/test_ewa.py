"""Notebook 01's lesson: the EWA explorer, and the exercises (their references agree with torch, right
answers pass, each known mistake is named)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from learner_answers import bias_corrected_loop, ewa_loop, failure, passes

from course_lib import averages
from course_lib.lab import data
from course_lib.lessons import ewa as lesson
from course_lib.lessons.ewa import (BIAS_CORRECTION_EXERCISE, EWA_EXERCISE, check_bias_correction,
                                    check_effective_window, check_ewa, check_ninety_percent,
                                    check_noise_and_lag)


@pytest.fixture(scope="module")
def ewa_explorer():
    return lesson.EWAExplorer()


# The notebook's collapsed solutions, written as its cells write them.

def ewa_solution(values, beta):
    v, history = 0.0, []
    for theta in values:
        v = beta * v + (1 - beta) * theta
        history.append(v)
    return np.array(history)


def bias_corrected_solution(v, beta):
    t = np.arange(1, len(v) + 1)
    return np.asarray(v) / (1 - beta**t)


def window_solution(beta):
    return 1 / (1 - beta)


@pytest.mark.parametrize("checker, answer", [
    (check_ewa, ewa_solution),
    (check_bias_correction, bias_corrected_solution),
    (check_effective_window, window_solution),
    (check_ewa, ewa_loop),
    (check_ewa, lambda values, beta: np.array(ewa_loop(values, beta), dtype=np.float32)),
    (check_bias_correction, bias_corrected_loop),
    (check_bias_correction, lambda v, beta: v / (1 - beta ** np.arange(1, len(v) + 1))),
    (check_effective_window, lambda beta: 1 / (1 - beta)),
    (check_effective_window, lambda beta: -1 / math.log(beta)),
])
def test_right_answers_pass(checker, answer):
    passes(checker, answer)


def test_ewa_explorer_draws_the_average_of_averages_ewa(ewa_explorer):
    explorer = ewa_explorer
    series = data.noisy_series()
    for beta, bias_correction in ((0.98, False), (0.9, True)):
        explorer.set(beta=beta, bias_correction=bias_correction)
        np.testing.assert_array_equal(explorer._average.get_ydata(),
                                      averages.ewa(series, beta, bias_correction=bias_correction))
    assert explorer.axes[0].get_title().startswith("β = 0.90: an average over ≈ 1/(1 − β) = 10 values")
    assert explorer.axes[0].get_title().endswith("bias correction on")


def test_ewa_explorer_takes_its_own_series():
    explorer = lesson.EWAExplorer(series=[1.0, 2.0, 3.0, 4.0], beta=0.5)
    np.testing.assert_array_equal(explorer.average, [0.5, 1.25, 2.125, 3.0625])
    assert explorer.describe() == "EWAExplorer: beta=0.5, bias_correction=False, points=4"
    with pytest.raises(ValueError, match="series"):
        lesson.EWAExplorer(series=[[1.0, 2.0]])


def torch_ewa(values, beta):
    """The EWA as torch's Adam keeps it: exp_avg.lerp_(grad, 1 - beta), from zero."""
    average, out = torch.zeros((), dtype=torch.float64), []
    for theta in torch.as_tensor(values, dtype=torch.float64):
        average.lerp_(theta, 1 - beta)
        out.append(average.item())
    return np.array(out)


@settings(max_examples=25, deadline=None)
@given(values=hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e3, 1e3)),
       beta=st.floats(0.01, 0.999))
def test_ewa_references_agree_with_torch(values, beta):
    expected = torch_ewa(values, beta)
    np.testing.assert_allclose(EWA_EXERCISE.expected(values, beta), expected, rtol=1e-12, atol=1e-9)
    steps = torch.arange(1, len(values) + 1, dtype=torch.float64)
    corrected = torch.from_numpy(expected) / (1 - torch.tensor(beta, dtype=torch.float64) ** steps)
    np.testing.assert_allclose(BIAS_CORRECTION_EXERCISE.expected(expected, beta), corrected.numpy(),
                               rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("answer, key_words", [
    (lambda values, beta: ewa_loop(values, beta, start=values[0]), ["v_1 = θ_1", "v_0 = 0"]),
    (lambda values, beta: ewa_loop(values, beta, new_weight=beta), ["swapped", "β on the new"]),
    (lambda values, beta: ewa_loop(values, beta)[-1], ["single number", "whole array"]),
    (lambda values, beta: [0.0] + ewa_loop(values, beta), ["off by one", "one entry too many"]),
    (lambda values, beta: [0.0] + ewa_loop(values, beta)[:-1], ["off by one step", "v_(t−1)"]),
    (lambda values, beta: bias_corrected_loop(ewa_loop(values, beta), beta), ["bias correction"]),
    (lambda values, beta: [sum(beta ** (t - k) * theta for k, theta in enumerate(values[:t], 1))
                           for t in range(1, len(values) + 1)],   # v_t = β·v_(t−1) + θ_t
     ["without its weight (1−β)"]),
    (lambda values, beta: [(1 - beta) * theta for theta in values],
     ["(1−β)·θ_t alone", "β·v_(t−1) is missing"]),
])
def test_ewa_mistakes(answer, key_words):
    message = failure(check_ewa, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer, key_words", [
    (lambda v, beta: bias_corrected_loop(v, beta, first_t=0), ["1−β^(t−1)", "off by one step"]),
    (lambda v, beta: bias_corrected_loop(v, beta, first_t=2), ["1−β^(t+1)", "off by one step"]),
    (lambda v, beta: [v_t / beta ** t for t, v_t in enumerate(v, 1)], ["divided by β^t"]),
    (lambda v, beta: [v_t * (1 - beta ** t) for t, v_t in enumerate(v, 1)], ["multiplied"]),
    (lambda v, beta: v, ["unchanged"]),
    (lambda v, beta: [v_t / (1 - beta ** len(v)) for v_t in v], ["same factor 1−β^T", "its own factor"]),
    (lambda v, beta: [v_t / (1 - beta) for v_t in v], ["every v_t by 1−β", "first step only"]),
    (lambda v, beta: [v_t / (1 - beta * t) for t, v_t in enumerate(v, 1)], ["1−β·t", "`beta ** t`"]),
])
def test_bias_correction_mistakes(answer, key_words):
    message = failure(check_bias_correction, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer", [
    lambda v, beta: [v_t / (1 - beta ^ t) for t, v_t in enumerate(v, 1)],       # Python: float ^ int
    lambda v, beta: v / (1 - beta ^ np.arange(1, len(v) + 1)),                  # NumPy: bitwise_xor
])
def test_a_power_written_with_a_caret_gets_a_hint(answer):
    message = failure(check_bias_correction, answer)
    assert message.startswith("your function raised TypeError")
    assert message.endswith("In Python the power β^t is written `beta ** t`: `^` is not a power."), message


def test_another_type_error_gets_no_caret_hint():
    message = failure(check_bias_correction, lambda v, beta: v / (1 - beta ** list(range(len(v)))))
    assert message.startswith("your function raised TypeError") and "`^`" not in message, message


def test_bias_correction_counted_from_zero_with_python_floats_gets_a_hint():
    message = failure(check_bias_correction,
                      lambda v, beta: [float(v_t) / (1 - beta ** t) for t, v_t in enumerate(v)])
    assert "ZeroDivisionError" in message and "count t from 0" in message, message


@pytest.mark.parametrize("answer, key_words", [
    (lambda beta: 1 - beta, ["1−β, the weight of the newest value"]),
    (lambda beta: 1 / beta, ["divided by β"]),
    (lambda beta: 1 / math.log(beta), ["negative", "−1/ln β"]),
    (lambda beta: beta / (1 - beta), ["β/(1−β), the lag"]),
    (lambda beta: int(1 / (1 - beta)), ["cut the window down to a whole number", "49.99… became 49"]),
    (lambda beta: round(1 / (1 - beta)), ["rounded the window", "β = 0.6 averages over about 2.5 values"]),
    (lambda beta: math.log(0.5) / math.log(beta), ["half-life", "1/e"]),
])
def test_window_mistakes(answer, key_words):
    message = failure(check_effective_window, answer)
    assert all(word in message for word in key_words), message


def test_a_correction_computed_in_place_is_reported():
    def bias_corrected(v, beta):
        v /= 1 - beta ** np.arange(1, len(v) + 1)
        return v

    assert failure(check_bias_correction, bias_corrected).startswith("your function changed its argument `v` in place")


# --------------------------------------------------------------------------------------------------
# Predict, then run: the first step at which the uncorrected EWA of θ_t = 1 reaches 0.9
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [22, 22.0, np.int64(22), {"t": 22}])
def test_the_right_prediction_passes_and_says_what_the_run_did(answer):
    """Without printing the step: the solution's output shows right under the question."""
    result = check_ninety_percent(answer)
    assert result and str(result) == (
        "Correct! the real run (β = 0.9) first reaches 0.9 at your step t: v_(t−1) = 0.891, v_t = 0.902.\n"
        "With bias correction, v̂_t ≥ 0.9 from step 1 on.")
    assert "22" not in str(result)


def test_the_notebook_s_solution_is_the_first_whole_step_past_the_continuous_crossing():
    t_solution = 22
    assert t_solution == math.ceil(math.log(0.1) / math.log(0.9))   # 21.85…
    assert check_ninety_percent(t_solution)


@pytest.mark.parametrize("answer, message", [
    (21, "off by one: the real run gives v_21 = 0.891, still just below 0.9 (β^21 = 0.109 > 0.1)."),
    (23, "off by one: the real run was already at v_22 = 0.902 one step earlier (β^22 = 0.098 ≤ 0.1)."),
    (10, "10 is the window 1/(1−β), but the real run gives v_10 = 0.651: after one window it is still "
         "35 % low (β^10 ≈ 1/e)."),
    (9, "9 is the lag β/(1−β), but the real run gives v_9 = 0.613: the weights of v_t sum to 1−β^t, "
        "far below 1 here."),
    (1, "that holds for the bias-corrected v̂_t, right from step 1; the uncorrected v_1 = 0.100 starts far "
        "too low."),
    (0, "the steps count from t = 1 (v_1 is the first average), so t = 0 never comes; the real run starts "
        "at v_1 = 0.100."),
    (21.85, "t counts updates, so it is a whole number, not 21.85: give the first whole step with v_t ≥ 0.9."),
    (15, "too early: the real run gives v_15 = 0.794, still below 0.9. Its weights sum to 1−β^t."),
    (24, "too late: the real run gives v_24 = 0.920; it passed 0.9 earlier. Find the first step with "
         "1−β^t ≥ 0.9."),
    (5000, "too late: the real run gives v_1000 = 1.000 by step 1000; it passed 0.9 earlier. Find the first "
           "step with 1−β^t ≥ 0.9."),
])
def test_wrong_predictions_are_explained(answer, message):
    assert failure(check_ninety_percent, answer) == message


@pytest.mark.parametrize("answer", [-3, 2, 8, 11, 20, 25, 100, 999, 1000, 1001, 1e9, 21.5, 22.5])
def test_every_other_prediction_is_wrong_and_fits_two_lines(answer):
    result = check_ninety_percent(answer)
    assert not result and result.attempted
    assert len(str(result).splitlines()) <= 2 and all(len(line) <= 100 for line in str(result).splitlines())


@pytest.mark.parametrize("beta, step", [(0.5, 4), (0.8, 11), (0.9, 22), (0.95, 45), (0.99, 230)])
def test_the_measured_step_is_the_first_t_with_one_minus_beta_to_the_t_at_least_0_9(beta, step):
    assert step == math.ceil(math.log(0.1) / math.log(beta))
    run = lesson.constant_series_run(beta)
    assert lesson.first_step_reaching(run) == step
    assert run[step - 2] < 0.9 <= run[step - 1]
    assert lesson.first_step_reaching(lesson.constant_series_run(beta, bias_correction=True)) == 1


def test_the_judge_runs_the_course_s_average(monkeypatch):
    """Were the course's average bias-corrected, 22 would be too late and 1 right: the verdict comes
    from the run, not from a stored answer."""
    uncorrected = averages.ewa
    monkeypatch.setattr(averages, "ewa", lambda values, beta, bias_correction=False:
                        uncorrected(values, beta, bias_correction=True))
    assert failure(check_ninety_percent, 22).startswith("too late: the real run gives v_22 = 1.000")
    assert check_ninety_percent(1)


def test_the_question_s_placeholder_gets_the_first_hint():
    result = check_ninety_percent(...)
    assert not result.attempted and str(result) == (
        'Not attempted yet: for θ_t = 1, v_t is the sum of its weights (see "The equations"): when does that\n'
        'sum first reach 0.9?')


# --------------------------------------------------------------------------------------------------
# Choose: a β that leaves at most 0.8 °C of the noise and lags a steady rise by at most 18 days
# --------------------------------------------------------------------------------------------------

def test_the_notebook_s_choice_passes_and_says_what_the_run_measured():
    beta_solution = 0.935
    assert str(check_noise_and_lag(beta_solution)) == (
        "Correct! that β leaves 0.732 °C of the noise (at most 0.8) and lags a steady rise by 14.38 days (at\n"
        "most 18).")
    assert "0.935" not in str(check_noise_and_lag(beta_solution))  # it shows right under the question


def test_the_good_region_is_where_the_two_formulas_say():
    """σ√((1−β)/(1+β)) ≤ 0.8 from β = 12/13 on, β/(1−β) ≤ 18 up to β = 18/19; measured, the noise
    of the seeded series meets 0.8 slightly earlier (0.9229 leaves 0.79991 °C)."""
    assert 4 * math.sqrt((1 - 12 / 13) / (1 + 12 / 13)) == pytest.approx(0.8)
    assert lesson.noise_left(12 / 13) < 0.8 < lesson.noise_left(0.9225)
    assert lesson.ramp_lag(18 / 19) == pytest.approx(18.0)


@pytest.mark.parametrize("answer", [12 / 13, 0.925, 0.93, 0.935, np.float64(0.94), 0.947, 18 / 19, {"beta": 0.93}])
def test_every_beta_in_the_good_region_passes(answer):
    passes(check_noise_and_lag, answer)


@pytest.mark.parametrize("answer, message", [
    (0.9, "too noisy: that β leaves 0.916 °C of the noise (at most 0.8); its lag is 9.00 days.\n"
          "A larger β averages over more days."),
    (0.9225, "too noisy: that β leaves 0.802 °C of the noise (at most 0.8); its lag is 11.90 days.\n"
             "A larger β averages over more days."),
    (0.9475, "too late: that β lags a steady rise by 18.05 days (at most 18); its noise is 0.656 °C.\n"
             "A smaller β forgets old days sooner."),
    (0.95, "too late: that β lags a steady rise by 19.00 days (at most 18); its noise is 0.639 °C.\n"
           "A smaller β forgets old days sooner."),
    (0, "too noisy: that β leaves 3.996 °C of the noise (at most 0.8); its lag is 0.00 days.\n"
        "A larger β averages over more days."),
    (15, "β is a weight between 0 and 1, not a number of days: about n days means β = 1 − 1/n."),
    (1, "with β = 1 the average never moves from v_0 = 0: it ignores every value. Choose β below 1."),
    (-0.1, "that answer cannot be run: beta must be in [0, 1), got -0.1"),
])
def test_wrong_choices_are_explained(answer, message):
    assert failure(check_noise_and_lag, answer) == message


def test_the_judge_measures_what_the_notebook_s_table_prints():
    """The table in "Noise against lag" (seed 2, σ = 4, the first 1000 days left out; a ramp of 2000
    days): the judge measures the same numbers."""
    noise = np.random.default_rng(2).normal(0.0, 4.0, size=100_000)
    ramp = np.arange(1.0, 2001.0)
    for beta in (0.5, 0.8, 0.9, 0.95, 0.98):
        assert lesson.noise_left(beta) == averages.ewa(noise, beta)[1000:].std()
        assert lesson.ramp_lag(beta) == ramp[-1] - averages.ewa(ramp, beta)[-1]


def test_the_choice_is_judged_by_running_the_course_s_average(monkeypatch):
    """Were the course's average twice as smooth (β² in place of β), 0.935 would lag too much: the
    verdict comes from the run, not from stored bounds."""
    plain = averages.ewa
    monkeypatch.setattr(averages, "ewa", lambda values, beta, bias_correction=False: plain(values, beta ** 0.5))
    assert failure(check_noise_and_lag, 0.935).startswith("too late: that β lags a steady rise by")


@pytest.mark.parametrize("answer", [0.05, 0.5, 0.8, 0.92, 0.9226, 0.9476, 0.96, 0.99, 0.999999, 2, 365])
def test_every_wrong_choice_fits_two_lines(answer):
    result = check_noise_and_lag(answer)
    assert not result and result.attempted
    assert len(str(result).splitlines()) <= 2 and all(len(line) <= 100 for line in str(result).splitlines())


def test_the_choice_s_placeholder_gets_the_first_hint():
    result = check_noise_and_lag(...)
    assert not result.attempted and str(result) == (
        "Not attempted yet: a larger β leaves less noise but lags more, so each target bounds β from one side\n"
        '(see "Noise against lag").')
