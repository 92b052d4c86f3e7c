"""Automatic checks behind the notebooks' exercises.

Each checker takes the learner's function, runs it on a few seeded cases, compares what it returns
with the reference, and, when they differ, says *what* is wrong: it tries a list of known mistakes
(wrong versions of the same function) and names the one the learner's answer agrees with::

    from course_lib.exercises import check_ewa
    check_ewa(my_ewa)       # shows "Correct! ..." or "Not yet: <what is wrong>"

A checker never raises because of the learner's code: exceptions, ``None``, wrong types and wrong
shapes are reported in the message. The result is a :class:`CheckResult` (``passed``, ``message``),
truthy when the check passed; its plain-text form is deterministic, so saved notebooks compare
cleanly under nbval.

To add an exercise, describe it with an :class:`Exercise` (cases, expected results, known
:class:`Mistake` s) and call :func:`check_function`.
"""

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from course_lib.averages import effective_window, ewa
from course_lib.optim import SGD

RTOL = 1e-5
"""Relative tolerance for accepting an answer: loose enough for float32, far below any mistake."""
ATOL = 1e-8


# --------------------------------------------------------------------------------------------------
# The generic core
# --------------------------------------------------------------------------------------------------

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
                                  f"{_what(fn)}: pass the function without calling it.")
    results = []
    for case in exercise.cases:
        try:
            returned = _call(fn, case)
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
    return all(_difference(got, _run(exercise, _call(answer, case)), exercise.outputs) is None
               for got, case in zip(results, exercise.cases))


def _call(fn: Callable, case: dict[str, Any]) -> Any:
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
        return f"your function returned {_what(got)} but expected a tuple ({names})"
    if len(got) != len(outputs):
        return f"your function returned {len(got)} values but expected {len(outputs)}: ({names})"
    return next(filter(None, (_array_difference(g, w, name, f"your {name} is")
                              for g, w, name in zip(got, want, outputs))), None)


def _array_difference(got: Any, want: Any, name: str, subject: str) -> str | None:
    """None when ``got`` is numbers of ``want``'s shape and close to it; else how it differs."""
    numbers, want = _as_numbers(got), np.asarray(want, dtype=float)
    if numbers is None or numbers.shape != want.shape:
        return f"{subject} {_what(got)} but expected {_what(want)}"
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


def _what(value: Any) -> str:
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
    array = np.asarray(value)
    if array.ndim == 0:
        return f"{value:g}"
    if array.ndim == 1 and array.size <= 6:
        return np.array2string(array, precision=4, separator=", ")
    return f"<array of shape {array.shape}>"


def _escape_markdown(text: str) -> str:
    return "".join("\\" + char if char in "\\`*_[]<>#|" else char for char in text)


# --------------------------------------------------------------------------------------------------
# Notebook 01: exponentially weighted averages
# --------------------------------------------------------------------------------------------------

def _seeded_series(seed: int, length: int) -> np.ndarray:
    """A noisy rising series, like notebook 01's temperatures: trend + noise."""
    rng = np.random.default_rng(seed)
    return np.linspace(1.0, 3.0, length) + rng.normal(scale=0.5, size=length)


_EWA_CASES = [
    {"values": _seeded_series(seed, length), "beta": beta}
    for seed, length, beta in [(0, 20, 0.9), (1, 12, 0.75), (2, 30, 0.98)]
] + [{"values": np.ones(8), "beta": 0.8}]


def _ewa_started_at(values, beta):
    """The mistake v_1 = θ_1: the same recursion started from v_0 = θ_1 (which gives v_1 = θ_1)."""
    return values[0] + ewa(values - values[0], beta)


EWA_EXERCISE = Exercise(
    name="ewa",
    cases=_EWA_CASES,
    expected=ewa,
    outputs=("the array of v_t",),
    success="your ewa gives v_t = β·v_(t−1) + (1−β)·θ_t from v_0 = 0, one v_t per θ_t.",
    mistakes=[
        Mistake(_ewa_started_at,
                "you started from v_1 = θ_1 instead of v_0 = 0. The average starts at zero, so "
                "v_1 = (1−β)·θ_1; that low start is the bias that bias correction removes later."),
        Mistake(lambda values, beta: ewa(values, 1 - beta),
                "the weights are swapped: you put β on the new value θ_t and (1−β) on the old "
                "average. It is v_t = β·v_(t−1) + (1−β)·θ_t: the large weight β keeps the past."),
        Mistake(lambda values, beta: ewa(values, beta)[-1],
                "your function returned a single number, the last average v_T; return the whole "
                "array of v_t, one entry per θ_t."),
        Mistake(lambda values, beta: np.concatenate([[0.0], ewa(values, beta)]),
                "off by one: your array starts with v_0 = 0 and has one entry too many; return "
                "v_1, …, v_T, one entry per θ_t."),
        Mistake(lambda values, beta: np.concatenate([[0.0], ewa(values, beta)[:-1]]),
                "off by one step: entry t holds v_(t−1), the average before θ_t was added; store "
                "v_t after updating it with θ_t."),
        Mistake(lambda values, beta: ewa(values, beta, bias_correction=True),
                "you applied bias correction; this exercise asks for the plain average v_t "
                "(the correction is the next exercise)."),
    ],
)


def check_ewa(fn: Callable) -> CheckResult:
    """Check ``fn(values, beta)`` -> array of v_t = β·v_(t−1) + (1−β)·θ_t, v_0 = 0, t = 1..T."""
    return check_function(fn, EWA_EXERCISE)


def _divide_by(factor: Callable) -> Callable:
    """A bias correction that divides v_t by ``factor(beta, t)``, t = 1..T."""
    def corrected(v, beta):
        t = np.arange(1, len(v) + 1)
        return np.asarray(v) / factor(beta, t)
    return corrected


_BIAS_CORRECTION_CASES = [
    {"v": ewa(_seeded_series(seed, length), beta), "beta": beta}
    for seed, length, beta in [(3, 10, 0.9), (4, 25, 0.99), (5, 6, 0.6)]
]

BIAS_CORRECTION_EXERCISE = Exercise(
    name="bias_corrected",
    cases=_BIAS_CORRECTION_CASES,
    expected=_divide_by(lambda beta, t: 1 - beta**t),
    outputs=("the corrected array",),
    success="your bias correction divides each v_t by 1−β^t, which tends to 1 as t grows.",
    mistakes=[
        Mistake(_divide_by(lambda beta, t: 1 - beta ** (t - 1)),
                "your bias correction divides by 1−β^(t−1): off by one step. With t counted from "
                "1, the first factor is 1−β¹ = 1−β, not 1−β⁰ = 0."),
        Mistake(_divide_by(lambda beta, t: 1 - beta ** (t + 1)),
                "your bias correction divides by 1−β^(t+1): off by one step. The first average "
                "v_1 is divided by 1−β¹ = 1−β."),
        Mistake(_divide_by(lambda beta, t: beta**t),
                "you divided by β^t; the correction factor is 1−β^t (it grows from 1−β to 1)."),
        Mistake(_divide_by(lambda beta, t: 1 / (1 - beta**t)),
                "you multiplied by 1−β^t instead of dividing by it: the early averages must get "
                "larger, not smaller."),
        Mistake(lambda v, beta: v,
                "your function returned v unchanged: divide each v_t by 1−β^t."),
    ],
    hints={ZeroDivisionError: "Did you count t from 0? The first average is v_1, divided by "
                              "1−β¹ = 1−β."},
)


def check_bias_correction(fn: Callable) -> CheckResult:
    """Check ``fn(v, beta)`` -> v_t / (1 − β^t) for v = (v_1, …, v_T)."""
    return check_function(fn, BIAS_CORRECTION_EXERCISE)


WINDOW_EXERCISE = Exercise(
    name="window",
    cases=[{"beta": beta} for beta in (0.9, 0.98, 0.6, 0.999)],
    expected=effective_window,
    accepted=[lambda beta: -1 / np.log(beta)],
    outputs=("the window",),
    success=("an EWA with weight β averages over about 1/(1−β) values (β = 0.9: about 10); "
             "−1/ln β, the exact number of steps after which a weight has fallen to 1/e, is "
             "just as right."),
    mistakes=[
        Mistake(lambda beta: 1 - beta,
                "you returned 1−β, the weight of the newest value; the window is its inverse, "
                "1/(1−β)."),
        Mistake(lambda beta: 1 / beta,
                "you divided by β; the window is 1/(1−β): β = 0.9 averages about 10 values."),
        Mistake(lambda beta: 1 / np.log(beta),
                "your window is negative: ln β < 0, so the exact window is −1/ln β "
                "(≈ 1/(1−β))."),
    ],
)


def check_effective_window(fn: Callable) -> CheckResult:
    """Check ``fn(beta)`` -> the number of values an EWA averages over, 1/(1−β) (or −1/ln β)."""
    return check_function(fn, WINDOW_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Notebook 02: gradient descent with momentum
# --------------------------------------------------------------------------------------------------

def _step_cases(seed: int, buffer: str, rate: str) -> list[dict[str, Any]]:
    """Seeded (w, buffer, grad, lr, rate) cases; the rate avoids 0.5, where β and 1−β coincide."""
    rng = np.random.default_rng(seed)
    return [
        {"w": rng.normal(size=shape), buffer: rng.normal(size=shape),
         "grad": rng.normal(size=shape), "lr": lr, rate: beta}
        for shape, lr, beta in [((3, 2), 0.1, 0.9), ((4,), 0.05, 0.8), ((2, 2), 0.3, 0.95)]
    ]


def textbook_momentum_step(w, v, grad, lr, beta):
    """One step of the textbook form: v ← β·v + (1−β)·g, then w ← w − lr·v."""
    v_new = beta * v + (1 - beta) * grad
    return w - lr * v_new, v_new


def torch_nesterov_step(w, b, grad, lr, momentum):
    """One step of torch's Nesterov form: b ← μ·b + g, then w ← w − lr·(g + μ·b)."""
    b_new = momentum * b + grad
    return w - lr * (grad + momentum * b_new), b_new


def _step_with(buffer: Callable, direction: Callable) -> Callable:
    """A wrong step: b_new = buffer(b, g, β), then w ← w − lr·direction(g, b, b_new, β)."""
    def step(w, b, grad, lr, beta):
        b_new = buffer(b, grad, beta)
        return w - lr * direction(grad, b, b_new, beta), b_new
    return step


def _averaged_buffer(b, grad, beta):
    return beta * b + (1 - beta) * grad


def _summed_buffer(b, grad, beta):
    return beta * b + grad


def _along_new_buffer(grad, b, b_new, beta):
    return b_new


def _swapped(step: Callable) -> Callable:
    """The right step returning its two values in the wrong order."""
    return lambda *arguments: step(*arguments)[::-1]


MOMENTUM_EXERCISE = Exercise(
    name="momentum_step",
    cases=_step_cases(seed=6, buffer="v", rate="beta"),
    expected=textbook_momentum_step,
    outputs=("w_new", "v_new"),
    success="v ← β·v + (1−β)·g, then w ← w − lr·v: momentum steps along an EWA of the gradients.",
    mistakes=[
        Mistake(_step_with(_averaged_buffer, lambda grad, v, v_new, beta: grad),
                "you updated the weights with the raw gradient instead of the velocity: the step "
                "is w − lr·v_new, where v_new is the running average of the gradients."),
        Mistake(_step_with(_summed_buffer, _along_new_buffer),
                "you forgot the (1−β) factor: v = β·v + g is torch's undamped buffer, 1/(1−β) "
                "times larger; the textbook form is v = β·v + (1−β)·g."),
        Mistake(_step_with(lambda v, grad, beta: (1 - beta) * v + beta * grad, _along_new_buffer),
                "β and 1−β are swapped: you wrote v = (1−β)·v + β·g; the old velocity keeps the "
                "large weight β: v = β·v + (1−β)·g."),
        Mistake(_step_with(_averaged_buffer, lambda grad, v, v_new, beta: v),
                "you updated w before v, so the step used the old velocity; compute "
                "v_new = β·v + (1−β)·g first, then w_new = w − lr·v_new."),
        Mistake(_swapped(textbook_momentum_step),
                "the values are right but in the wrong order: return (w_new, v_new)."),
    ],
)


def check_momentum_step(fn: Callable) -> CheckResult:
    """Check ``fn(w, v, grad, lr, beta)`` -> (w_new, v_new), the textbook momentum step."""
    return check_function(fn, MOMENTUM_EXERCISE)


def _quadratic(seed: int = 7, dim: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded bowl f(w) = ½·wᵀAw − bᵀw (eigenvalues of A from 0.5 to 10) and a start w_0."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    hessian = rotation @ np.diag(np.geomspace(0.5, 10.0, dim)) @ rotation.T
    return hessian, rng.normal(size=dim), rng.normal(size=dim)


_HESSIAN, _LINEAR, _START = _quadratic()
_STEPS = 50


def _gradient(w: np.ndarray) -> np.ndarray:
    return _HESSIAN @ w - _LINEAR


def _textbook_path(alpha: float, beta: float) -> np.ndarray:
    """w_1, …, w_50 of the textbook momentum loop on the seeded bowl, from v_0 = 0."""
    w, v, path = _START.copy(), np.zeros_like(_START), []
    for _ in range(_STEPS):
        w, v = textbook_momentum_step(w, v, _gradient(w), alpha, beta)
        path.append(w)
    return np.array(path)


def _sgd_path(sgd_arguments: Any) -> np.ndarray:
    """w_1, …, w_50 of ``SGD([w], **sgd_arguments)`` on the seeded bowl."""
    if not isinstance(sgd_arguments, dict):
        raise UnusableAnswer(f"your function returned {_what(sgd_arguments)}; return a dict such "
                             f"as dict(lr=..., momentum=...)")
    w, path = _START.copy(), []
    try:
        optimizer = SGD([w], **sgd_arguments)
        for _ in range(_STEPS):
            optimizer.step([_gradient(w)])
            path.append(w.copy())
    except (TypeError, ValueError) as error:
        raise UnusableAnswer(f"SGD rejected your arguments {_format_arguments(sgd_arguments)}: "
                             f"{type(error).__name__}: {error}") from None
    return np.array(path)


def _format_arguments(arguments: dict) -> str:
    return "dict(" + ", ".join(f"{key}={value!r}" for key, value in arguments.items()) + ")"


TORCH_MAPPING_EXERCISE = Exercise(
    name="torch_sgd_args",
    cases=[{"alpha": alpha, "beta": beta}
           for alpha, beta in [(0.1, 0.9), (0.05, 0.8), (0.02, 0.95)]],
    expected=_textbook_path,
    run=_sgd_path,
    outputs=(f"the path w_1, …, w_{_STEPS} (one row per step)",),
    success=(f"SGD(lr=α(1−β), momentum=β) follows the textbook momentum path for all {_STEPS} "
             f"steps: torch's buffer is the textbook v divided by (1−β)."),
    mistakes=[
        Mistake(lambda alpha, beta: {"lr": alpha, "momentum": beta, "dampening": beta},
                "dampening=β makes the later buffers β·b + (1−β)·g like the textbook v, but "
                "torch's first buffer is the undamped gradient b_1 = g, not (1−β)·g, so your "
                "first step is 1/(1−β) times too long and the paths never meet again. Leave "
                "dampening at 0 and put (1−β) into the learning rate: lr = α(1−β), momentum = β."),
        Mistake(lambda alpha, beta: {"lr": alpha * (1 - beta), "momentum": beta, "dampening": beta},
                "you applied (1−β) twice, in lr and through dampening=β. Drop dampening: torch's "
                "undamped buffer is the textbook v divided by (1−β), and lr = α(1−β) makes up "
                "for it."),
        Mistake(lambda alpha, beta: {"lr": alpha, "momentum": beta},
                "lr=α makes every step 1/(1−β) times too long: torch's buffer b = β·b + g sums "
                "the raw gradients, which is the textbook v divided by (1−β). Use lr = α(1−β), "
                "momentum = β."),
        Mistake(lambda alpha, beta: {"lr": alpha * (1 - beta), "momentum": 1 - beta},
                "momentum is β, the weight that keeps the old buffer, not 1−β: use "
                "lr = α(1−β), momentum = β."),
    ],
)


def check_torch_mapping(fn: Callable) -> CheckResult:
    """Check ``fn(alpha, beta)`` -> SGD arguments that reproduce the textbook momentum (α, β).

    Runs ``SGD([w], **fn(alpha, beta))`` and the textbook loop for 50 steps on a seeded bowl.
    """
    return check_function(fn, TORCH_MAPPING_EXERCISE)


NESTEROV_EXERCISE = Exercise(
    name="nesterov_step",
    cases=_step_cases(seed=8, buffer="b", rate="momentum"),
    expected=torch_nesterov_step,
    outputs=("w_new", "b_new"),
    success="b ← μ·b + g, then w ← w − lr·(g + μ·b): torch's Nesterov step.",
    mistakes=[
        Mistake(_step_with(_summed_buffer, _along_new_buffer),
                "that is plain (heavy-ball) momentum: w − lr·b_new, which is w − lr·(g + μ·b) "
                "with the old buffer. Nesterov looks ahead with the new buffer: "
                "w − lr·(g + μ·b_new)."),
        Mistake(_step_with(_summed_buffer, lambda grad, b, b_new, mu: mu * b_new),
                "you dropped the gradient term: the step is lr·(g + μ·b_new), not lr·μ·b_new."),
        Mistake(_step_with(_averaged_buffer, lambda grad, b, b_new, mu: grad + mu * b_new),
                "your buffer is damped, b = μ·b + (1−μ)·g; torch's Nesterov needs dampening 0: "
                "b = μ·b + g."),
        Mistake(_swapped(torch_nesterov_step),
                "the values are right but in the wrong order: return (w_new, b_new)."),
    ],
)


def check_nesterov_step(fn: Callable) -> CheckResult:
    """Check ``fn(w, b, grad, lr, momentum)`` -> (w_new, b_new), torch's Nesterov step."""
    return check_function(fn, NESTEROV_EXERCISE)
