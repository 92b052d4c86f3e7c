"""The machinery of the exercise checks (course_lib.interactive.checking), on the exercises of
notebooks 01 and 02 and over every lesson's: each known mistake gets its own message, nothing the
learner's code does makes a checker raise, and the messages are deterministic."""

import importlib
import pkgutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from learner_answers import ewa_loop, failure

import course_lib.lessons
from course_lib.interactive.checking import CheckResult, Exercise, check_function
from course_lib.lessons.ewa import (BIAS_CORRECTION_EXERCISE, EWA_EXERCISE, WINDOW_EXERCISE, check_bias_correction,
                                    check_effective_window, check_ewa)
from course_lib.lessons.momentum import (MOMENTUM_EXERCISE, NESTEROV_EXERCISE, TORCH_MAPPING_EXERCISE,
                                         check_momentum_step, check_nesterov_step, check_torch_mapping)

CHECKERS = [check_ewa, check_bias_correction, check_effective_window, check_momentum_step,
            check_torch_mapping, check_nesterov_step]
EXERCISES = [EWA_EXERCISE, BIAS_CORRECTION_EXERCISE, WINDOW_EXERCISE, MOMENTUM_EXERCISE,
             TORCH_MAPPING_EXERCISE, NESTEROV_EXERCISE]
LESSON_MODULES = [importlib.import_module(module.name) for module in
                  pkgutil.walk_packages(course_lib.lessons.__path__, "course_lib.lessons.")]


# --------------------------------------------------------------------------------------------------
# Each known mistake, in every lesson, gets its own explanation
# --------------------------------------------------------------------------------------------------

ALL_EXERCISES = list({id(value): value for module in LESSON_MODULES for value in vars(module).values()
                      if isinstance(value, Exercise)}.values())


def test_every_notebook_s_exercises_are_found():
    assert len(ALL_EXERCISES) >= 25 and all(any(e is found for found in ALL_EXERCISES) for e in EXERCISES)


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda exercise: exercise.name)
def test_every_mistake_is_told_apart_from_the_others(exercise):
    """Across every notebook's exercises: each known mistake gets its own message."""
    for mistake in exercise.mistakes:
        result = check_function(mistake.answer, exercise)
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
