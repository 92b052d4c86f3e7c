"""The machinery behind every lesson's exercise checks.

Each checker takes the learner's function, runs it on a few seeded cases, compares what it returns
with the reference, and, when they differ, says *what* is wrong: it tries a list of known mistakes
(wrong versions of the same function) and names the one the learner's answer agrees with::

    lesson.check_ewa(my_ewa)       # shows "Correct! ..." or "Not yet: <what is wrong>"

A checker never raises because of the learner's code: exceptions, ``None``, wrong types and wrong
shapes are reported in the message. The result is a :class:`CheckResult` (``passed``, ``message``),
truthy when the check passed; its plain-text form is deterministic, so saved notebooks compare
cleanly under nbval.

To add an exercise to a lesson, describe it there with an :class:`Exercise` (cases, expected
results, known :class:`Mistake` s) and call :func:`check_function`.
"""

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

RTOL = 1e-5
"""Relative tolerance for accepting an answer: loose enough for float32, far below any mistake."""
ATOL = 1e-8


@dataclass(frozen=True)
class CheckResult:
    """The verdict of a checker: ``passed`` and a ``message`` that says what is wrong (or right)."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{'Correct!' if self.passed else 'Not yet:'} {self.message}"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_markdown_(self) -> str:
        verdict = "✅ **Correct!**" if self.passed else "❌ **Not yet:**"
        return f"{verdict} {_escape_markdown(self.message)}"


@dataclass(frozen=True)
class Mistake:
    """A known wrong version of the learner's function and the explanation to give for it."""

    answer: Callable
    explanation: str


@dataclass(frozen=True)
class Exercise:
    """What a checker needs to know about one exercise.

    name:     the name of the learner's function, for messages.
    cases:    the arguments of each test call, by name (passed positionally, in this order).
    expected: the right result for a case, called with the case's arguments.
    success:  the message for a right answer.
    mistakes: known wrong answers, tried in order when the learner's result is wrong.
    accepted: other right answers (functions like the learner's), e.g. an exact formula.
    outputs:  names of the returned values, for messages; more than one means a tuple is expected.
    run:      turns what a function returns into what is compared (default: the value itself);
              it raises :class:`UnusableAnswer` when the returned value cannot be used at all.
    hints:    exception type -> advice added when the learner's function raises it.
    """

    name: str
    cases: list[dict[str, Any]]
    expected: Callable
    success: str
    mistakes: list[Mistake]
    accepted: list[Callable] = field(default_factory=list)
    outputs: tuple[str, ...] = ("the result",)
    run: Callable | None = None
    hints: dict[type, str] = field(default_factory=dict)


class UnusableAnswer(Exception):
    """Raised by an exercise's ``run`` when the learner's return value cannot be used; the
    exception's text is the message shown to the learner."""


def check_function(fn: Callable, exercise: Exercise) -> CheckResult:
    """Run ``fn`` on every case of ``exercise`` and explain the first thing that is wrong.

    Right when every result agrees with ``expected`` (or every one with an accepted answer) to
    ``RTOL``/``ATOL``; otherwise the first known mistake that agrees with every result explains
    it, or else the first wrong value (or shape, or type) is described.
    """
    if not callable(fn):
        return CheckResult(False, f"expected your function `{exercise.name}` itself but got "
                                  f"{describe_value(fn)}: pass the function without calling it.")
    results = []
    for case in exercise.cases:
        try:
            returned = call_on_case(fn, case)
        except Exception as error:  # the learner's code may raise anything: report it
            return CheckResult(False, _explain_exception(error, exercise, case))
        try:
            results.append(_run(exercise, returned))
        except UnusableAnswer as reason:
            return CheckResult(False, f"{reason} (for {_describe_case(case)}).")
    differences = [_difference(got, exercise.expected(*case.values()), exercise.outputs)
                   for got, case in zip(results, exercise.cases)]
    if not any(differences) or any(_agrees(results, right, exercise) for right in exercise.accepted):
        return CheckResult(True, exercise.success)
    for mistake in exercise.mistakes:
        if _agrees(results, mistake.answer, exercise):
            return CheckResult(False, mistake.explanation)
    difference, case = next((d, case) for d, case in zip(differences, exercise.cases) if d)
    return CheckResult(False, f"{difference} (for {_describe_case(case)}).")


def _agrees(results: list, answer: Callable, exercise: Exercise) -> bool:
    """Whether ``answer`` gives the learner's results on every case."""
    return all(_difference(got, _run(exercise, call_on_case(answer, case)), exercise.outputs) is None
               for got, case in zip(results, exercise.cases))


def call_on_case(fn: Callable, case: dict[str, Any]) -> Any:
    """Call ``fn`` on a private copy of the case's arguments, with NumPy's float warnings off
    (the checker reports what came out, inf and nan included)."""
    with np.errstate(all="ignore"):
        return fn(*copy.deepcopy(list(case.values())))


def _run(exercise: Exercise, returned: Any) -> Any:
    if exercise.run is None:
        return returned
    with np.errstate(all="ignore"):
        return exercise.run(returned)


def _explain_exception(error: Exception, exercise: Exercise, case: dict[str, Any]) -> str:
    message = f"your function raised {type(error).__name__}: {error} (for {_describe_case(case)})."
    if isinstance(error, NotImplementedError):
        return f"{message} Replace the placeholder with your code."
    hint = next((text for kind, text in exercise.hints.items() if isinstance(error, kind)), None)
    return f"{message} {hint}" if hint else message


def _difference(got: Any, want: Any, outputs: tuple[str, ...]) -> str | None:
    """None when ``got`` agrees with ``want``; otherwise a sentence saying how it differs."""
    if len(outputs) == 1:
        return _array_difference(got, want, outputs[0], "your function returned")
    names = ", ".join(outputs)
    if not isinstance(got, (tuple, list)):
        return f"your function returned {describe_value(got)} but expected a tuple ({names})"
    if len(got) != len(outputs):
        return f"your function returned {len(got)} values but expected {len(outputs)}: ({names})"
    return next(filter(None, (_array_difference(g, w, name, f"your {name} is")
                              for g, w, name in zip(got, want, outputs))), None)


def _array_difference(got: Any, want: Any, name: str, subject: str) -> str | None:
    """None when ``got`` is numbers of ``want``'s shape and close to it; else how it differs."""
    numbers, want = _as_numbers(got), np.asarray(want, dtype=float)
    if numbers is None or numbers.shape != want.shape:
        return f"{subject} {describe_value(got)} but expected {describe_value(want)}"
    close = np.isclose(numbers, want, rtol=RTOL, atol=ATOL, equal_nan=True)
    if close.all():
        return None
    if want.ndim == 0:
        return f"{name} is wrong: expected {want:.6g}, got {numbers:.6g}"
    index = tuple(int(i) for i in np.argwhere(~close)[0])
    return (f"{name} is wrong at index {index[0] if want.ndim == 1 else index}: "
            f"expected {want[index]:.6g}, got {numbers[index]:.6g}")


def _as_numbers(value: Any) -> np.ndarray | None:
    """``value`` as a float array, or None when it is not numbers (None, text, ragged lists...)."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, RuntimeError):
        return None
    return array.astype(float) if array.dtype.kind in "iuf" else None


def describe_value(value: Any) -> str:
    """A short description of a value's kind and shape, for messages."""
    if value is None:
        return "None (did you forget `return`?)"
    numbers = _as_numbers(value)
    if numbers is None:
        return f"a value of type {type(value).__name__}"
    if numbers.ndim == 0:
        return "a single number"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} value{'' if len(value) == 1 else 's'}"
    return f"an array of shape {numbers.shape}"


def _describe_case(case: dict[str, Any]) -> str:
    return ", ".join(f"{name}={_format_argument(value)}" for name, value in case.items())


def _format_argument(value: Any) -> str:
    """A short, deterministic description of one argument: a number, a small vector, or a shape."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):  # a dict, a ragged list, a custom object
        text = format(value)
        return text if len(text) <= 200 else f"<{type(value).__name__}>"
    if array.ndim == 0:
        return f"{float(array):g}"
    if array.ndim == 1 and array.size <= 6:
        return np.array2string(array, precision=4, separator=", ")
    return f"<array of shape {array.shape}>"


def _escape_markdown(text: str) -> str:
    return "".join("\\" + char if char in "\\`*_[]<>#|" else char for char in text)
