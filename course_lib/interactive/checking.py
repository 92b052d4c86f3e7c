"""The machinery behind every lesson's exercise checks.

Each checker takes the learner's function, runs it on a few seeded cases, compares what it returns
with the reference, and, when they differ, says *what* is wrong: it tries a list of known mistakes
(wrong versions of the same function) and names the one the learner's answer agrees with::

    lesson.check_ewa(my_ewa)       # "Correct! ...", "Not yet: <what is wrong>" or, for the
                                   # untouched stub, "Not attempted yet: <a first hint>"

A checker never raises because of the learner's code: exceptions, ``None``, wrong types, wrong
shapes and arguments changed in place are reported in the message. The result is a
:class:`CheckResult` (``passed``, ``message``, ``attempted``), truthy when the check passed; its
plain-text form is deterministic, so saved notebooks compare cleanly.

Two kinds of exercise:

- "write the function": describe it with an :class:`Exercise` (cases, expected results, known
  :class:`Mistake` s, a first hint) and call :func:`check_function`;
- "predict, choose or interpret": the learner answers with values (a number, a dict of numbers, a
  choice among names); describe it with a :class:`Question` whose ``judge`` runs the answer through
  the real computation, and call :func:`check_answer`.

A stub raises ``NotImplementedError`` (or returns ``...``); an unanswered question holds ``...``.
"""

import copy
import inspect
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

RTOL = 1e-5
"""Relative tolerance for accepting an answer: loose enough for float32, far below any mistake."""
ATOL = 1e-8
WIDTH = 100
"""Plain-text verdicts are wrapped to this many columns (a message's own line breaks are kept)."""


@dataclass(frozen=True)
class CheckResult:
    """The verdict of a checker: ``passed`` and a ``message`` that says what is wrong (or right)."""

    passed: bool
    message: str
    attempted: bool = True

    def __bool__(self) -> bool:
        return self.passed

    @property
    def verdict(self) -> str:
        return "Correct!" if self.passed else "Not yet:" if self.attempted else "Not attempted yet:"

    def __str__(self) -> str:
        return "\n".join(textwrap.fill(line, WIDTH, break_long_words=False, break_on_hyphens=False)
                         for line in f"{self.verdict} {self.message}".splitlines())

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_markdown_(self) -> str:
        mark = "✅" if self.passed else "❌" if self.attempted else "✏️"
        return f"{mark} **{self.verdict}** {_escape_markdown(self.message)}"


def not_attempted(hint: str) -> CheckResult:
    """The answer to an untouched stub: not attempted yet, and a first hint."""
    return CheckResult(False, hint, attempted=False)


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
    hints:    exception type, or (type, text, …) matched on the error's message too -> the advice
              given instead of the error's text when the learner's function raises it.
    hint:     the first hint, shown while the learner's function is still the stub.
    updates:  the arguments the function may update in place, the state it returns (as torch's
              optimizers do); any other argument changed in place is reported.
    """

    name: str
    cases: list[dict[str, Any]]
    expected: Callable
    success: str
    mistakes: list[Mistake]
    accepted: list[Callable] = field(default_factory=list)
    outputs: tuple[str, ...] = ("the result",)
    run: Callable | None = None
    hints: dict[type | tuple, str] = field(default_factory=dict)
    hint: str = ""
    updates: tuple[str, ...] = ()


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
    if not accepts_arguments(fn, len(exercise.cases[0])):
        return wrong_signature(f"{exercise.name}({', '.join(exercise.cases[0])})")
    results = []
    for number, case in enumerate(exercise.cases):
        where = _describe_case(case, number, len(exercise.cases))
        arguments = copy.deepcopy(list(case.values()))
        try:
            returned = _call(fn, arguments)
        except NotImplementedError:
            return not_attempted(exercise.hint)
        except Exception as error:  # the learner's code may raise anything: report it
            return CheckResult(False, _explain_exception(error, exercise, where))
        if returned is Ellipsis:
            return not_attempted(exercise.hint)
        changed = _changed_argument(case, arguments, exercise.updates)
        if changed is not None:
            return CheckResult(False, f"your function changed its argument `{changed}` in place; the caller "
                                      f"still needs it.\nCompute new values (`x = x - …`, not `x -= …`).")
        try:
            results.append(_run(exercise, returned))
        except UnusableAnswer as reason:
            return CheckResult(False, f"{reason} ({where}).")
    differences = [_difference(got, exercise.expected(*case.values()), exercise.outputs)
                   for got, case in zip(results, exercise.cases)]
    if not any(differences) or any(_agrees(results, right, exercise) for right in exercise.accepted):
        return CheckResult(True, exercise.success)
    for mistake in exercise.mistakes:
        if _agrees(results, mistake.answer, exercise):
            return CheckResult(False, mistake.explanation)
    number, difference = next((number, d) for number, d in enumerate(differences) if d)
    where = _describe_case(exercise.cases[number], number, len(exercise.cases))
    return CheckResult(False, f"{difference} ({where}).")


def accepts_arguments(fn: Callable, count: int) -> bool:
    """Whether ``fn`` can be called with ``count`` positional arguments (True when unknowable)."""
    try:
        inspect.signature(fn).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # a built-in without a signature
        pass
    return True


def wrong_signature(call: str) -> CheckResult:
    """The answer to a function that cannot take the exercise's arguments, ``call`` = "name(a, b)"."""
    return CheckResult(False, f"your function does not take the arguments of `{call}`: "
                              f"keep the exercise's first line, def {call}:")


def _agrees(results: list, answer: Callable, exercise: Exercise) -> bool:
    """Whether ``answer`` gives the learner's results on every case."""
    return all(_difference(got, _run(exercise, call_on_case(answer, case)), exercise.outputs) is None
               for got, case in zip(results, exercise.cases))


def call_on_case(fn: Callable, case: dict[str, Any]) -> Any:
    """Call ``fn`` on a private copy of the case's arguments, with NumPy's float warnings off
    (the checker reports what came out, inf and nan included)."""
    return _call(fn, copy.deepcopy(list(case.values())))


def _call(fn: Callable, arguments: list) -> Any:
    with np.errstate(all="ignore"):
        return fn(*arguments)


def _run(exercise: Exercise, returned: Any) -> Any:
    if exercise.run is None:
        return returned
    with np.errstate(all="ignore"):
        return exercise.run(returned)


def _explain_exception(error: Exception, exercise: Exercise, where: str) -> str:
    """The error's type and text (cut short), and the exercise's advice for it if it has some."""
    hint = next((text for kind, text in exercise.hints.items() if _matches(error, kind)), None)
    room = 40 if hint else 80  # an error's own text can be long (NumPy's); the advice says more
    text = str(error) if len(str(error)) <= room else str(error)[:room - 3] + "..."
    message = f"your function raised {type(error).__name__}: {text} ({where})."
    return f"{message} {hint}" if hint else message


def _matches(error: Exception, kind: type | tuple) -> bool:
    """Whether ``error`` is of ``kind``: an exception type, or (type, text, …) when its message
    must also contain one of the texts."""
    if isinstance(kind, tuple):
        return isinstance(error, kind[0]) and any(text in str(error) for text in kind[1:])
    return isinstance(error, kind)


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
    if numbers is None and isinstance(value, (tuple, list, dict)):
        return f"a {type(value).__name__} of {len(value)} item{'' if len(value) == 1 else 's'}"
    if numbers is None:
        return f"a value of type {type(value).__name__}"
    if numbers.ndim == 0:
        return "a single number"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} value{'' if len(value) == 1 else 's'}"
    return f"an array of shape {numbers.shape}"


def _describe_case(case: dict[str, Any], number: int, count: int) -> str:
    """Which test case: its number, and its numbers when it has at most three arguments, all numbers
    (a long argument list would bury the message)."""
    where = f"test case {number + 1} of {count}"
    if len(case) <= 3 and all(_is_number(value) for value in case.values()):
        return where + ": " + ", ".join(f"{name}={float(value):g}" for name, value in case.items())
    return where


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def is_one_number(value: Any) -> bool:
    """Whether ``value`` is a single real number (a Python or NumPy scalar, or a 0-d array)."""
    try:
        return np.ndim(value) == 0 and np.asarray(value).dtype.kind in "iuf"
    except (TypeError, ValueError):
        return False


def flat_array_list(arrays: Any, what: str) -> np.ndarray:
    """A learner's list of arrays (one per parameter) as one flat float vector, or
    :class:`UnusableAnswer` saying what ``what`` should have been."""
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, (list, tuple)):
        raise UnusableAnswer(f"{what} should be a list with one array per parameter; got {describe_value(arrays)}")
    try:
        return np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays]) if arrays else np.empty(0)
    except (TypeError, ValueError):
        raise UnusableAnswer(f"{what} should be a list of number arrays; got {describe_value(arrays)}") from None


def _changed_argument(case: dict[str, Any], arguments: list, updates: tuple[str, ...]) -> str | None:
    """The name of the first argument (other than ``updates``) the learner's function changed in place."""
    return next((name for name, before, after in zip(case, case.values(), arguments)
                 if name not in updates and not _same(before, after)), None)


def _same(before: Any, after: Any) -> bool:
    """Whether an argument is unchanged: arrays element by element, containers item by item."""
    if isinstance(before, np.ndarray) or hasattr(before, "detach"):
        before, after = np.asarray(_numpy(before)), np.asarray(_numpy(after))
        return before.shape == after.shape and np.array_equal(before, after, equal_nan=before.dtype.kind in "fc")
    if isinstance(before, (list, tuple)):
        return len(before) == len(after) and all(_same(b, a) for b, a in zip(before, after))
    if isinstance(before, dict):
        return before.keys() == after.keys() and all(_same(before[key], after[key]) for key in before)
    return True  # numbers and strings cannot change in place


def _numpy(value: Any) -> Any:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else value


def _escape_markdown(text: str) -> str:
    return "".join("\\" + char if char in "\\`*_[]<>#|" else char for char in text)


# --------------------------------------------------------------------------------------------------
# Predict, choose, interpret: the learner answers with values
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    """A task answered with values rather than a function.

    name:    the learner's variable, for messages.
    fields:  the names of the values asked for; the answer is a dict with these keys (with one
             field, a bare value is accepted too).
    hint:    the first hint, shown while the answer still holds ``...``.
    judge:   called with the answer's values by name (floats, or the choices as spelled here); runs them
             through the real computation and returns the verdict as a :class:`CheckResult`.
    choices: for "which one" questions, the names an answer may take (compared without case);
             empty when the answer is a number.
    """

    name: str
    fields: tuple[str, ...]
    hint: str
    judge: Callable[..., CheckResult]
    choices: tuple[str, ...] = ()


def check_answer(answer: Any, question: Question) -> CheckResult:
    """Read the learner's answer to ``question`` and let its ``judge`` run it.

    ``...`` anywhere means not attempted yet; a missing key, a value that is not a finite number
    (or not one of the choices) is reported; an answer the computation refuses is reported too.
    """
    if _holds_ellipsis(answer):
        return not_attempted(question.hint)
    if len(question.fields) == 1 and not isinstance(answer, dict):
        answer = {question.fields[0]: answer}
    keys = ", ".join(f'"{name}"' for name in question.fields)
    if not isinstance(answer, dict):
        return CheckResult(False, f"`{question.name}` should be a dict with the keys {keys}; "
                                  f"it is {_describe_answer(answer)}.")
    if set(answer) != set(question.fields):
        has = ", ".join(f'"{name}"' if isinstance(name, str) else repr(name) for name in answer) or "none"
        return CheckResult(False, f"`{question.name}` should have the keys {keys}; it has {has}.")
    values = {}
    for name in question.fields:
        value, problem = _read_value(answer[name], question.choices)
        if problem:
            return CheckResult(False, f"`{question.name}`'s \"{name}\" {problem}." if len(question.fields) > 1
                                      else f"`{question.name}` {problem}.")
        values[name] = value
    try:
        with np.errstate(all="ignore"):
            return question.judge(**values)
    except ValueError as refusal:  # e.g. an optimizer refusing a negative learning rate
        return CheckResult(False, f"that answer cannot be run: {refusal}")


def _holds_ellipsis(answer: Any) -> bool:
    if answer is Ellipsis:
        return True
    if isinstance(answer, dict):
        return any(_holds_ellipsis(value) for value in answer.values())
    return isinstance(answer, (list, tuple)) and any(_holds_ellipsis(value) for value in answer)


def _read_value(value: Any, choices: tuple[str, ...]) -> tuple[Any, str | None]:
    """(the value, None) when usable, else (None, what is wrong with it)."""
    if choices:
        options = ", ".join(f'"{choice}"' for choice in choices)
        chosen = [choice for choice in choices if isinstance(value, str) and value.strip().lower() == choice.lower()]
        if chosen:
            return chosen[0], None
        return None, f"should be one of {options}, not {_describe_answer(value)}"
    if not _is_number(value):
        return None, f"should be a number, not {_describe_answer(value)}"
    if not np.isfinite(float(value)):
        return None, f"should be a finite number, not {float(value)}"
    return float(value), None


def _describe_answer(value: Any) -> str:
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 20 else "a long string"
    if _is_number(value):
        return f"the number {float(value):g}"
    return describe_value(value)
