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
from course_lib.interactive.checking import CheckResult, Exercise, Question, check_answer, check_function
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
    assert message == "your function raised ZeroDivisionError: integer division or modulo by zero (test case 1 of 4)."


def test_a_case_of_a_few_numbers_is_named_by_its_numbers_a_larger_one_by_its_number():
    assert failure(check_effective_window, lambda beta: 1 // 0).endswith("(test case 1 of 4: beta=0.9).")
    assert failure(check_momentum_step, lambda *arguments: 1 // 0).endswith("(test case 1 of 3).")


def test_wrong_number_of_parameters_is_reported():
    message = failure(check_ewa, lambda values: values)
    assert message == ("your function does not take the arguments of `ewa(values, beta)`: "
                       "keep the exercise's first line, def ewa(values, beta):")


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
    assert message == "the window is wrong: expected 10, got nan (test case 1 of 4: beta=0.9)."


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
    assert str(first) == "Not yet: w_new is wrong at index (0, 0): expected 1.00274, got 2.05312 (test case 1 of 3)."


def test_notebook_display():
    from IPython.core.formatters import MarkdownFormatter, PlainTextFormatter

    result = check_ewa(lambda values, beta: ewa_loop(values, beta, new_weight=beta))
    assert PlainTextFormatter()(result) == str(result)
    markdown = MarkdownFormatter()(result)
    assert markdown.startswith("❌ **Not yet:**") and r"v\_t" in markdown
    assert MarkdownFormatter()(check_ewa(ewa_loop)).startswith("✅ **Correct!**")


# --------------------------------------------------------------------------------------------------
# Every exercise of every lesson: the stub, the hint, arguments changed in place, the message length
# --------------------------------------------------------------------------------------------------

CHECKERS_OF_ALL_LESSONS = [value for module in LESSON_MODULES for name, value in vars(module).items()
                           if name.startswith("check_") and callable(value) and value.__module__ == module.__name__]
ALL_QUESTIONS = list({id(value): value for module in LESSON_MODULES for value in vars(module).values()
                      if isinstance(value, Question)}.values())


def fits_two_lines(text):
    return len(text.splitlines()) <= 2 and all(len(line) <= 100 for line in text.splitlines())


def stub(*arguments):
    """What a learner sees before writing anything."""
    raise NotImplementedError


@pytest.mark.parametrize("checker", CHECKERS_OF_ALL_LESSONS, ids=lambda checker: checker.__name__)
def test_every_checker_says_not_attempted_to_the_stub_with_a_first_hint(checker):
    result = checker(stub)
    if result.attempted:  # a question: its stub is the placeholder ... rather than a function
        result = checker(...)
    assert not result.passed and not result.attempted and result.message
    assert str(result).startswith("Not attempted yet: ") and fits_two_lines(str(result)), str(result)


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda exercise: exercise.name)
def test_every_exercise_s_stub_and_its_messages(exercise):
    for placeholder in (stub, lambda *arguments: ...):
        result = check_function(placeholder, exercise)
        assert not result.attempted and result.message == exercise.hint and exercise.hint
    messages = [exercise.success, exercise.hint, *(mistake.explanation for mistake in exercise.mistakes)]
    too_long = [str(CheckResult(False, message)) for message in messages
                if not fits_two_lines(str(CheckResult(False, message)))]
    assert not too_long, "messages longer than two lines:\n" + "\n".join(too_long)
    assert str(check_function(lambda *arguments: "text", exercise)).startswith("Not yet:")


def changes_in_place(exercise):
    """(name, answer): the right answer, which also changes one argument the exercise does not
    let it update (the first array or list), or None when the cases have no such argument."""
    names = [name for name, value in exercise.cases[0].items()
             if name not in exercise.updates and isinstance(value, (np.ndarray, list, dict))]
    if not names:
        return None, None
    position = list(exercise.cases[0]).index(names[0])

    def answer(*arguments):
        result = exercise.expected(*[np.copy(a) if isinstance(a, np.ndarray) else a for a in arguments])
        target = arguments[position]
        if isinstance(target, np.ndarray):
            target[...] = 0 if target.dtype != bool else ~target
        elif isinstance(target, list):
            target.append(0)
        else:
            target.clear()
        return result
    return names[0], answer


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda exercise: exercise.name)
def test_an_argument_changed_in_place_is_named(exercise):
    name, answer = changes_in_place(exercise)
    if name is None:
        assert all(not isinstance(value, (np.ndarray, list, dict)) or key in exercise.updates
                   for case in exercise.cases for key, value in case.items())
        return
    assert failure(lambda fn: check_function(fn, exercise), answer).startswith(
        f"your function changed its argument `{name}` in place")


@pytest.mark.parametrize("question", ALL_QUESTIONS, ids=lambda question: question.name)
def test_every_question_s_placeholder_and_wrong_kinds_of_answer(question):
    placeholders = [..., dict.fromkeys(question.fields, ...)]
    for placeholder in placeholders:
        result = check_answer(placeholder, question)
        assert not result.attempted and result.message == question.hint and fits_two_lines(str(result))
    for wrong in ("a word" if not question.choices else 3.0, None, [1, 2], {"not a field": 1.0}):
        result = check_answer(wrong, question)
        assert not result.passed and result.attempted and f"`{question.name}`" in result.message, result
        assert fits_two_lines(str(result)), str(result)


def test_questions_read_numbers_and_choices():
    seen = {}

    def judge(**values):
        seen.update(values)
        return CheckResult(True, "ran")

    numbers = Question("my_choice", ("lr", "steps"), "pick two numbers", judge)
    assert check_answer({"lr": 0.1, "steps": np.int64(3)}, numbers) and seen == {"lr": 0.1, "steps": 3.0}
    assert "should be a finite number" in check_answer({"lr": float("inf"), "steps": 3}, numbers).message
    assert "should be a number, not True" in check_answer({"lr": True, "steps": 3}, numbers).message
    assert check_answer({"lr": 0.1, "momentum": 0.9}, numbers).message == \
        '`my_choice` should have the keys "lr", "steps"; it has "lr", "momentum".'
    names = Question("my_guess", ("curve",), "pick a name", judge, choices=("adam", "sgd"))
    assert check_answer(" Adam ", names) and seen["curve"] == "adam"
    assert check_answer("rmsprop", names).message == '`my_guess` should be one of "adam", "sgd", not \'rmsprop\'.'


def test_a_refusal_of_the_computation_is_reported():
    def judge(lr):
        raise ValueError(f"Invalid learning rate: {lr}")

    result = check_answer(-1.0, Question("my_lr", ("lr",), "hint", judge))
    assert not result.passed and result.message == "that answer cannot be run: Invalid learning rate: -1.0"


def test_is_one_number_and_flat_array_list_read_a_learners_values():
    from course_lib.interactive.checking import flat_array_list, is_one_number, UnusableAnswer

    assert is_one_number(3) and is_one_number(np.float32(2.5)) and is_one_number(np.array(1.0))
    assert not is_one_number([1.0]) and not is_one_number("1") and not is_one_number(None)
    flat = flat_array_list([np.ones((2, 2)), [5.0, 6.0]], "the gradients")
    assert flat.tolist() == [1.0, 1.0, 1.0, 1.0, 5.0, 6.0] and flat_array_list([], "x").size == 0
    for bad, words in ((np.ones(3), "should be a list with one array per parameter"),
                       ([np.ones(2), "a"], "should be a list of number arrays")):
        with pytest.raises(UnusableAnswer, match=f"the gradients {words}"):
            flat_array_list(bad, "the gradients")
