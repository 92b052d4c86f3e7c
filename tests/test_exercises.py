"""The exercise checkers: right answers pass, each known mistake is named, nothing the learner's
code does makes a checker raise, and the references agree with torch."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from course_lib import exercises
from course_lib.exercises import (
    BIAS_CORRECTION_EXERCISE,
    EWA_EXERCISE,
    MOMENTUM_EXERCISE,
    NESTEROV_EXERCISE,
    TORCH_MAPPING_EXERCISE,
    WINDOW_EXERCISE,
    CheckResult,
    check_bias_correction,
    check_effective_window,
    check_ewa,
    check_momentum_step,
    check_nesterov_step,
    check_torch_mapping,
    textbook_momentum_step,
    torch_nesterov_step,
)

CHECKERS = [check_ewa, check_bias_correction, check_effective_window, check_momentum_step,
            check_torch_mapping, check_nesterov_step]
EXERCISES = [EWA_EXERCISE, BIAS_CORRECTION_EXERCISE, WINDOW_EXERCISE, MOMENTUM_EXERCISE,
             TORCH_MAPPING_EXERCISE, NESTEROV_EXERCISE]


# --------------------------------------------------------------------------------------------------
# Learner-style answers, written as a learner would (loops, lists, Python floats)
# --------------------------------------------------------------------------------------------------

def ewa_loop(values, beta, start=0.0, new_weight=None):
    new_weight = 1 - beta if new_weight is None else new_weight
    v, averages = start, []
    for theta in values:
        v = (1 - new_weight) * v + new_weight * theta
        averages.append(v)
    return averages


def bias_corrected_loop(v, beta, first_t=1):
    return [v_t / (1 - beta ** t) for t, v_t in enumerate(v, start=first_t)]


# --------------------------------------------------------------------------------------------------
# The references agree with torch
# --------------------------------------------------------------------------------------------------

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


@pytest.mark.parametrize("alpha, beta", [(0.1, 0.9), (0.05, 0.8), (0.3, 0.95)])
def test_textbook_momentum_step_is_torch_sgd_with_lr_alpha_times_one_minus_beta(alpha, beta):
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(20, 3, 2))
    w, v = rng.normal(size=(3, 2)), np.zeros((3, 2))
    param = torch.tensor(w)
    optimizer = torch.optim.SGD([param], lr=alpha * (1 - beta), momentum=beta)
    for grad in grads:
        w, v = textbook_momentum_step(w, v, grad, alpha, beta)
        param.grad = torch.from_numpy(grad)
        optimizer.step()
    np.testing.assert_allclose(w, param.numpy(), rtol=1e-12)


@pytest.mark.parametrize("lr, momentum", [(0.1, 0.9), (0.05, 0.8)])
def test_nesterov_step_is_torch_sgd_nesterov(lr, momentum):
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(20, 4))
    w, b = rng.normal(size=4), np.zeros(4)
    param = torch.tensor(w)
    optimizer = torch.optim.SGD([param], lr=lr, momentum=momentum, nesterov=True)
    for grad in grads:
        w, b = torch_nesterov_step(w, b, grad, lr, momentum)
        param.grad = torch.from_numpy(grad)
        optimizer.step()
    np.testing.assert_allclose(w, param.numpy(), rtol=1e-12)


@pytest.mark.parametrize("case", TORCH_MAPPING_EXERCISE.cases)
def test_textbook_path_is_torch_sgd_path(case):
    alpha, beta = case["alpha"], case["beta"]
    hessian, linear = torch.from_numpy(exercises._HESSIAN), torch.from_numpy(exercises._LINEAR)
    param = torch.from_numpy(exercises._START.copy())
    optimizer = torch.optim.SGD([param], lr=alpha * (1 - beta), momentum=beta)
    path = []
    for _ in range(50):
        param.grad = hessian @ param - linear
        optimizer.step()
        path.append(param.clone().numpy())
    np.testing.assert_allclose(TORCH_MAPPING_EXERCISE.expected(alpha, beta), path, rtol=1e-10)


# --------------------------------------------------------------------------------------------------
# Right answers pass
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("checker, answer", [
    (check_ewa, ewa_loop),
    (check_ewa, lambda values, beta: np.array(ewa_loop(values, beta), dtype=np.float32)),
    (check_bias_correction, bias_corrected_loop),
    (check_bias_correction, lambda v, beta: v / (1 - beta ** np.arange(1, len(v) + 1))),
    (check_effective_window, lambda beta: 1 / (1 - beta)),
    (check_effective_window, lambda beta: -1 / math.log(beta)),
    (check_momentum_step, textbook_momentum_step),
    (check_torch_mapping, lambda alpha, beta: {"lr": alpha * (1 - beta), "momentum": beta}),
    (check_torch_mapping, lambda alpha, beta: dict(lr=alpha - alpha * beta, momentum=beta,
                                                   dampening=0, nesterov=False)),
    (check_nesterov_step, torch_nesterov_step),
])
def test_right_answers_pass(checker, answer):
    result = checker(answer)
    assert result.passed and result, result.message
    assert str(result).startswith("Correct!")


def test_momentum_step_that_updates_in_place_passes_and_leaves_the_cases_alone():
    cases_before = [{key: np.copy(value) for key, value in case.items()}
                    for case in MOMENTUM_EXERCISE.cases]

    def in_place(w, v, grad, lr, beta):
        v *= beta
        v += (1 - beta) * grad
        w -= lr * v
        return w, v

    assert check_momentum_step(in_place).passed
    assert check_momentum_step(in_place).passed
    for before, after in zip(cases_before, MOMENTUM_EXERCISE.cases):
        for key in before:
            np.testing.assert_array_equal(before[key], after[key])


# --------------------------------------------------------------------------------------------------
# Each known mistake gets its own explanation
# --------------------------------------------------------------------------------------------------

def failure(checker, answer):
    result = checker(answer)
    assert not result.passed and not result
    assert str(result).startswith("Not yet:")
    return result.message


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


@pytest.mark.parametrize("answer, key_words", [
    (lambda w, v, grad, lr, beta: (w - lr * grad, beta * v + (1 - beta) * grad),
     ["raw gradient instead of the velocity"]),
    (lambda w, v, grad, lr, beta: (w - lr * (beta * v + grad), beta * v + grad),
     ["forgot the (1−β)"]),
    (lambda w, v, grad, lr, beta: (w - lr * ((1 - beta) * v + beta * grad),
                                   (1 - beta) * v + beta * grad),
     ["swapped"]),
    (lambda w, v, grad, lr, beta: (w - lr * v, beta * v + (1 - beta) * grad),
     ["updated w before v"]),
    (lambda w, v, grad, lr, beta: textbook_momentum_step(w, v, grad, lr, beta)[::-1],
     ["wrong order"]),
])
def test_momentum_step_mistakes(answer, key_words):
    message = failure(check_momentum_step, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer, key_words", [
    (lambda alpha, beta: dict(lr=alpha, momentum=beta, dampening=beta),
     ["dampening=β", "first buffer is the undamped gradient", "lr = α(1−β)"]),
    (lambda alpha, beta: dict(lr=alpha * (1 - beta), momentum=beta, dampening=beta),
     ["(1−β) twice", "dampening"]),
    (lambda alpha, beta: dict(lr=alpha, momentum=beta), ["lr=α", "1/(1−β) times too long"]),
    (lambda alpha, beta: dict(lr=alpha * (1 - beta), momentum=1 - beta), ["momentum is β"]),
    (lambda alpha, beta: dict(lr=alpha * (1 - beta), momentum=beta, nesterov=True),
     ["path w_1, …, w_50", "index (0, 0)", "alpha=0.1, beta=0.9"]),
])
def test_torch_mapping_mistakes(answer, key_words):
    message = failure(check_torch_mapping, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer, key_words", [
    (lambda alpha, beta: dict(lr=alpha, beta=beta),
     ["SGD rejected", "beta=0.9", "TypeError", "unexpected keyword argument 'beta'"]),
    (lambda alpha, beta: dict(lr=-alpha, momentum=beta), ["SGD rejected", "ValueError", "-0.1"]),
    (lambda alpha, beta: (alpha * (1 - beta), beta), ["tuple", "return a dict"]),
])
def test_torch_mapping_unusable_answers_are_reported(answer, key_words):
    message = failure(check_torch_mapping, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer, key_words", [
    (lambda w, b, grad, lr, mu: (w - lr * (mu * b + grad), mu * b + grad), ["heavy-ball"]),
    (lambda w, b, grad, lr, mu: (w - lr * (grad + mu * b), mu * b + grad),  # the same thing
     ["heavy-ball", "old buffer", "g + μ·b_new"]),
    (lambda w, b, grad, lr, mu: (w - lr * mu * (mu * b + grad), mu * b + grad),
     ["dropped the gradient"]),
    (lambda w, b, grad, lr, mu: (w - lr * (grad + mu * (mu * b + (1 - mu) * grad)),
                                 mu * b + (1 - mu) * grad),
     ["damped"]),
    (lambda w, b, grad, lr, mu: torch_nesterov_step(w, b, grad, lr, mu)[::-1], ["wrong order"]),
])
def test_nesterov_mistakes(answer, key_words):
    message = failure(check_nesterov_step, answer)
    assert all(word in message for word in key_words), message


ALL_EXERCISES = [value for value in vars(exercises).values() if isinstance(value, exercises.Exercise)]


def test_every_notebook_s_exercises_are_found():
    assert len(ALL_EXERCISES) >= 25 and all(any(e is found for found in ALL_EXERCISES) for e in EXERCISES)


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda exercise: exercise.name)
def test_every_mistake_is_told_apart_from_the_others(exercise):
    """Across every notebook's exercises: each known mistake gets its own message."""
    for mistake in exercise.mistakes:
        result = exercises.check_function(mistake.answer, exercise)
        assert result.message == mistake.explanation and not result.passed


# --------------------------------------------------------------------------------------------------
# Exceptions, wrong types and wrong shapes are reported, never raised
# --------------------------------------------------------------------------------------------------

def test_exception_is_reported_with_its_type_message_and_case():
    def ewa(values, beta):
        return 1 // 0

    message = failure(check_ewa, ewa)
    assert message == ("your function raised ZeroDivisionError: integer division or modulo by "
                       "zero (for values=<array of shape (20,)>, beta=0.9).")


def test_placeholder_is_reported():
    def momentum_step(w, v, grad, lr, beta):
        raise NotImplementedError("your code here")

    message = failure(check_momentum_step, momentum_step)
    assert "NotImplementedError: your code here" in message and "placeholder" in message


def test_wrong_number_of_parameters_is_reported():
    message = failure(check_ewa, lambda values: values)
    assert "TypeError" in message and "positional argument" in message, message


def test_wrong_shape_names_both_shapes():
    message = failure(check_momentum_step,
                      lambda w, v, grad, lr, beta: (w.sum(axis=-1), beta * v + (1 - beta) * grad))
    assert "your w_new is an array of shape (3,) but expected an array of shape (3, 2)" in message


@pytest.mark.parametrize("returned, key_words", [
    (None, ["None", "forget `return`"]),
    ("0.5", ["type str"]),
    ((1.0, 2.0, 3.0), ["3 values but expected 2", "(w_new, v_new)"]),
    (np.zeros(2), ["an array of shape (2,) but expected a tuple (w_new, v_new)"]),
    ([[1.0], [1.0, 2.0]], ["your w_new is a list of 1 value but expected an array of shape"]),
])
def test_wrong_types_are_reported(returned, key_words):
    message = failure(check_momentum_step, lambda w, v, grad, lr, beta: returned)
    assert all(word in message for word in key_words), message


def test_a_value_instead_of_a_function_is_reported():
    message = failure(check_ewa, [0.1, 0.2])
    assert "function `ewa` itself" in message and "without calling it" in message


def test_nan_output_is_a_wrong_value():
    message = failure(check_effective_window, lambda beta: float("nan"))
    assert message == "the window is wrong: expected 10, got nan (for beta=0.9)."


returned_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
    st.lists(st.floats(), max_size=5),
    st.dictionaries(st.text(max_size=3), st.floats(), max_size=3),
    st.tuples(st.floats(), st.text(max_size=3)),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)),
)


@settings(max_examples=40, deadline=None)
@given(checker=st.sampled_from(CHECKERS), returned=returned_values)
def test_any_returned_value_gives_a_result_not_an_exception(checker, returned):
    result = checker(lambda *arguments: returned)
    assert isinstance(result, CheckResult) and isinstance(result.message, str) and result.message


@settings(max_examples=12, deadline=None)
@given(checker=st.sampled_from(CHECKERS),
       error=st.sampled_from([ValueError, TypeError, IndexError, KeyError, ZeroDivisionError]))
def test_any_exception_gives_a_result_not_an_exception(checker, error):
    def raising(*arguments):
        raise error("boom")

    message = failure(checker, raising)
    assert f"your function raised {error.__name__}:" in message and "boom" in message


# --------------------------------------------------------------------------------------------------
# Display: deterministic plain text, Markdown for the notebook
# --------------------------------------------------------------------------------------------------

def test_messages_are_deterministic():
    wrong = lambda w, v, grad, lr, beta: (w + 1, v)  # no known mistake: the generic message
    first, second = check_momentum_step(wrong), check_momentum_step(wrong)
    assert first == second
    assert str(first) == ("Not yet: w_new is wrong at index (0, 0): expected 1.00274, "
                          "got 2.05312 (for w=<array of shape (3, 2)>, v=<array of shape (3, 2)>, "
                          "grad=<array of shape (3, 2)>, lr=0.1, beta=0.9).")


def test_notebook_display():
    from IPython.core.formatters import MarkdownFormatter, PlainTextFormatter

    result = check_ewa(lambda values, beta: ewa_loop(values, beta, new_weight=beta))
    assert PlainTextFormatter()(result) == str(result)
    markdown = MarkdownFormatter()(result)
    assert markdown.startswith("❌ **Not yet:**") and r"v\_t" in markdown
    assert MarkdownFormatter()(check_ewa(ewa_loop)).startswith("✅ **Correct!**")
