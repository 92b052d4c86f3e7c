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
                                    check_effective_window, check_ewa)


@pytest.fixture(scope="module")
def ewa_explorer():
    return lesson.EWAExplorer()


@pytest.mark.parametrize("checker, answer", [
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
])
def test_bias_correction_mistakes(answer, key_words):
    message = failure(check_bias_correction, answer)
    assert all(word in message for word in key_words), message


def test_bias_correction_counted_from_zero_with_python_floats_gets_a_hint():
    message = failure(check_bias_correction,
                      lambda v, beta: [float(v_t) / (1 - beta ** t) for t, v_t in enumerate(v)])
    assert "ZeroDivisionError" in message and "count t from 0" in message, message


@pytest.mark.parametrize("answer, key_words", [
    (lambda beta: 1 - beta, ["1−β, the weight of the newest value"]),
    (lambda beta: 1 / beta, ["divided by β"]),
    (lambda beta: 1 / math.log(beta), ["negative", "−1/ln β"]),
    (lambda beta: int(1 / (1 - beta)), ["expected 50, got 49", "beta=0.98"]),
])
def test_window_mistakes(answer, key_words):
    message = failure(check_effective_window, answer)
    assert all(word in message for word in key_words), message
