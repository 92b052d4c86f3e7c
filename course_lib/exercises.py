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


# --------------------------------------------------------------------------------------------------
# Notebook 03: RMSProp
# --------------------------------------------------------------------------------------------------

def rmsprop_path(w, grads, lr, alpha, eps):
    """torch's RMSprop from v_0 = 0, fed ``grads`` one row per step: v ← α·v + (1−α)·g²,
    w ← w − lr·g/(√v + ε), no bias correction. Returns w_1, …, w_T, one row per step."""
    return _rmsprop_variant()(w, grads, lr, alpha, eps)


def _rmsprop_variant(average=None, denominator=None, first=None):
    """An RMSprop loop with one part swapped for a (wrong) variant.

    average(v, g, alpha, t) -> v_new;  denominator(v, g_avg, eps, alpha, t) -> d;  first(g, alpha) -> v_1.
    ``g_avg`` is the EWA of the gradient itself (for the "squared the EWA" mistake).
    """
    average = average or (lambda v, g, alpha, t: alpha * v + (1 - alpha) * g * g)
    denominator = denominator or (lambda v, g_avg, eps, alpha, t: np.sqrt(v) + eps)

    def path(w, grads, lr, alpha, eps):
        w = np.array(w, dtype=float)
        v, g_avg, rows = np.zeros_like(w), np.zeros_like(w), []
        for t, g in enumerate(np.asarray(grads, dtype=float), start=1):
            v = first(g, alpha) if first is not None and t == 1 else average(v, g, alpha, t)
            g_avg = alpha * g_avg + (1 - alpha) * g
            w = w - lr * g / denominator(v, g_avg, eps, alpha, t)
            rows.append(w)
        return np.array(rows)

    return path


def _scaled_gradients(seed: int, steps: int, scales) -> np.ndarray:
    """Seeded noisy gradients whose coordinates differ in size by orders of magnitude."""
    rng = np.random.default_rng(seed)
    scales = np.asarray(scales, dtype=float)
    return scales * (0.5 + rng.normal(size=(steps, len(scales))))


_RMSPROP_CASES = [
    {"w": np.random.default_rng(seed).normal(size=len(scales)),
     "grads": _scaled_gradients(seed, steps, scales), "lr": lr, "alpha": alpha, "eps": eps}
    for seed, steps, scales, lr, alpha, eps in [
        (30, 12, (100.0, 1.0, 1e-3), 0.01, 0.99, 1e-8),
        (31, 25, (1e-4, 10.0, 0.1), 0.1, 0.9, 1e-3),
        (32, 8, (1.0, 1e3, 1e-2), 0.05, 0.75, 1e-8),
    ]
]

RMSPROP_EXERCISE = Exercise(
    name="rmsprop",
    cases=_RMSPROP_CASES,
    expected=rmsprop_path,
    outputs=("the path w_1, …, w_T (one row per step)",),
    success=("v ← α·v + (1−α)·g², w ← w − lr·g/(√v + ε) from v_0 = 0: torch's RMSprop, with ε after the "
             "root and no bias correction, so the first step is lr/√(1−α) along every coordinate."),
    mistakes=[
        Mistake(_rmsprop_variant(denominator=lambda v, g_avg, eps, alpha, t: np.sqrt(v + eps)),
                "you put ε inside the square root, √(v + ε); torch adds it after the root, √v + ε. "
                "Inside, it matters for any |g| below about √ε (1e-4 for ε = 1e-8), not only near zero."),
        Mistake(_rmsprop_variant(denominator=lambda v, g_avg, eps, alpha, t: np.sqrt(v / (1 - alpha**t)) + eps),
                "you added bias correction, v/(1−α^t), as the seed notes do: torch's RMSprop has none. "
                "Without it v_1 = (1−α)·g₁² and the first step is lr/√(1−α) (10·lr for α = 0.99), not lr."),
        Mistake(_rmsprop_variant(first=lambda g, alpha: g * g),
                "you started the average at v_1 = g₁²; it starts at v_0 = 0, so v_1 = (1−α)·g₁² and the "
                "first step is lr/√(1−α), not lr."),
        Mistake(_rmsprop_variant(denominator=lambda v, g_avg, eps, alpha, t: np.sqrt(g_avg * g_avg) + eps),
                "you squared the average of the gradient, (EWA of g)², instead of averaging the squares, "
                "EWA of g². Positive and negative gradients cancel in the first, not in the second: RMSprop "
                "divides by the root of the mean *square*."),
        Mistake(_rmsprop_variant(denominator=lambda v, g_avg, eps, alpha, t: v + eps),
                "you forgot the square root: divide by √v + ε. v is an average of *squared* gradients, so "
                "only its root has the size of a gradient."),
        Mistake(_rmsprop_variant(average=lambda v, g, alpha, t: (1 - alpha) * v + alpha * g * g),
                "α and 1−α are swapped: v ← α·v + (1−α)·g². The old average keeps the large weight α."),
        Mistake(lambda w, grads, lr, alpha, eps: np.repeat(rmsprop_path(w, grads, lr, alpha, eps)[-1:],
                                                           len(grads), axis=0),
                "every row of your path is the final w: you updated w in place (w -= …) and appended the "
                "same array each time. Append a copy, w.copy(), or write w = w - …"),
        Mistake(lambda w, grads, lr, alpha, eps: rmsprop_path(w, grads, lr, alpha, eps)[-1],
                "your function returned only the last w; return the whole path, one row per step."),
        Mistake(lambda w, grads, lr, alpha, eps: np.vstack([w, rmsprop_path(w, grads, lr, alpha, eps)[:-1]]),
                "off by one step: your first row is the start w_0; return w_1, …, w_T, the weights after "
                "each step."),
    ],
)


def check_rmsprop(fn: Callable) -> CheckResult:
    """Check ``fn(w, grads, lr, alpha, eps)`` -> the path w_1, …, w_T of torch's RMSprop."""
    return check_function(fn, RMSPROP_EXERCISE)


def rmsprop_first_step(lr, alpha):
    """The length of torch's first RMSprop step along a coordinate with |g| ≫ ε: lr/√(1−α)."""
    return lr / np.sqrt(1 - alpha)


FIRST_STEP_EXERCISE = Exercise(
    name="first_step",
    cases=[{"lr": lr, "alpha": alpha} for lr, alpha in [(0.01, 0.99), (0.001, 0.9), (0.1, 0.999), (0.5, 0.5)]],
    expected=rmsprop_first_step,
    outputs=("the first step",),
    success=("v_1 = (1−α)·g², so the first step is lr·|g|/(√(1−α)·|g|) = lr/√(1−α), whatever the gradient: "
             "10·lr for α = 0.99, 3.16·lr for Hinton's α = 0.9."),
    mistakes=[
        Mistake(lambda lr, alpha: 10 * lr,
                "10·lr is right for α = 0.99 only: the factor is 1/√(1−α), e.g. 3.16 for α = 0.9 and 31.6 "
                "for α = 0.999."),
        Mistake(lambda lr, alpha: lr,
                "that would be the first step with bias correction (or with v started at g²); torch's "
                "RMSprop starts at v_0 = 0 and has no correction, so v_1 = (1−α)·g² and the step is "
                "lr/√(1−α)."),
        Mistake(lambda lr, alpha: lr / (1 - alpha),
                "you left out the square root: the denominator is √v_1 = √(1−α)·|g|, so the step is "
                "lr/√(1−α)."),
        Mistake(lambda lr, alpha: lr * np.sqrt(1 - alpha),
                "upside down: √v_1 = √(1−α)·|g| is *smaller* than |g|, so dividing by it makes the step "
                "longer: lr/√(1−α)."),
        Mistake(lambda lr, alpha: lr / np.sqrt(alpha),
                "α and 1−α are swapped: the new squared gradient enters with weight 1−α, so "
                "v_1 = (1−α)·g² and the step is lr/√(1−α)."),
    ],
    hints={ZeroDivisionError: "α < 1, so 1−α is never 0; did you divide by something else?"},
)


def check_first_step(fn: Callable) -> CheckResult:
    """Check ``fn(lr, alpha)`` -> the length of torch's first RMSprop step, lr/√(1−α)."""
    return check_function(fn, FIRST_STEP_EXERCISE)


def torch_rmsprop_step(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
    """One step of torch's RMSprop with L2 weight decay and momentum, from state (v, b):
    g ← g + λ·w;  v ← α·v + (1−α)·g²;  b ← μ·b + g/(√v + ε);  w ← w − lr·b."""
    grad = grad + weight_decay * w
    v_new = alpha * v + (1 - alpha) * grad * grad
    b_new = momentum * b + grad / (np.sqrt(v_new) + eps)
    return w - lr * b_new, v_new, b_new


def _rmsprop_step_variant(decay_in_average=True, decoupled=False, buffer=None, along_buffer=True):
    """torch's RMSprop step with one part changed: where the decay goes, what the buffer holds."""
    def step(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
        decayed = grad + weight_decay * w
        g = grad if decoupled else decayed
        v_new = alpha * v + (1 - alpha) * (g if decay_in_average else grad) ** 2
        denom = np.sqrt(v_new) + eps
        b_new = buffer(b, g, denom, momentum) if buffer else momentum * b + g / denom
        w_start = w * (1 - lr * weight_decay) if decoupled else w
        w_new = w_start - lr * (b_new if along_buffer else (g / denom if buffer is None else b_new / denom))
        return w_new, v_new, b_new
    return step


def _rmsprop_step_cases(seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    cases = []
    for shape, lr, alpha, eps, weight_decay, momentum in [((3, 2), 0.01, 0.99, 1e-8, 0.1, 0.9),
                                                          ((4,), 0.05, 0.9, 1e-6, 0.5, 0.6),
                                                          ((2, 2), 0.002, 0.95, 1e-8, 0.03, 0.8)]:
        scale = 10.0 ** rng.uniform(-2, 2, size=shape)
        cases.append({"w": rng.normal(size=shape), "v": (scale * rng.uniform(0.5, 2, size=shape)) ** 2,
                      "b": rng.normal(size=shape), "grad": scale * rng.normal(size=shape), "lr": lr,
                      "alpha": alpha, "eps": eps, "weight_decay": weight_decay, "momentum": momentum})
    return cases


TORCH_RMSPROP_STEP_EXERCISE = Exercise(
    name="torch_rmsprop_step",
    cases=_rmsprop_step_cases(seed=33),
    expected=torch_rmsprop_step,
    outputs=("w_new", "v_new", "b_new"),
    success=("g ← g + λ·w, v ← α·v + (1−α)·g², b ← μ·b + g/(√v + ε), w ← w − lr·b: torch's RMSprop with "
             "L2 weight decay (it goes through the squares and the division) and a buffer of scaled steps."),
    mistakes=[
        Mistake(_rmsprop_step_variant(decay_in_average=False),
                "your v averages the squares of the raw gradient; torch adds λ·w to the gradient first, "
                "so the decayed gradient g + λ·w is what v averages (and what the buffer divides)."),
        Mistake(_rmsprop_step_variant(decoupled=True),
                "you decayed the weights directly, w·(1 − lr·λ), as AdamW does. torch's RMSprop adds λ·w to "
                "the gradient (L2), so the decay is divided by √v + ε like the rest of the gradient."),
        Mistake(_rmsprop_step_variant(buffer=lambda b, g, denom, mu: mu * b + g, along_buffer=False),
                "your buffer sums the raw gradients and you divide afterwards; torch's buffer holds the "
                "scaled steps: b ← μ·b + g/(√v + ε), then w ← w − lr·b."),
        Mistake(_rmsprop_step_variant(buffer=lambda b, g, denom, mu: mu * b + (1 - mu) * g / denom),
                "your buffer is damped, μ·b + (1−μ)·g/(√v + ε); torch's RMSprop has no dampening: "
                "b ← μ·b + g/(√v + ε)."),
        Mistake(_rmsprop_step_variant(along_buffer=False),
                "you updated the buffer but stepped along g/(√v + ε); with momentum the step is w − lr·b, "
                "along the new buffer."),
        Mistake(lambda *arguments: (lambda w, v, b: (w, b, v))(*torch_rmsprop_step(*arguments)),
                "the values are right but v and b are swapped: return (w_new, v_new, b_new)."),
    ],
)


def check_torch_rmsprop_step(fn: Callable) -> CheckResult:
    """Check ``fn(w, v, b, grad, lr, alpha, eps, weight_decay, momentum)`` -> (w_new, v_new, b_new),
    one step of ``torch.optim.RMSprop`` with weight decay and momentum."""
    return check_function(fn, TORCH_RMSPROP_STEP_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Notebook 09: gradient clipping and mixed precision
# --------------------------------------------------------------------------------------------------

def _nb09_imports():
    from course_lib import clipping
    return clipping


def _gradient_list(seed: int, shapes, scale: float) -> list:
    rng = np.random.default_rng(seed)
    return [scale * rng.normal(size=shape) for shape in shapes]


def _flat_gradients(grads: Any, what: str = "the gradients") -> np.ndarray:
    """A list of gradient arrays as one flat float vector, or UnusableAnswer."""
    if isinstance(grads, np.ndarray) or not isinstance(grads, (list, tuple)):
        raise UnusableAnswer(f"{what} should be a list with one array per parameter; got {_what(grads)}")
    try:
        return np.concatenate([np.ravel(np.asarray(g, dtype=float)) for g in grads]) if grads else np.empty(0)
    except (TypeError, ValueError):
        raise UnusableAnswer(f"{what} should be a list of number arrays; got {_what(grads)}") from None


def _clipped_and_total(returned: Any) -> tuple:
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        raise UnusableAnswer(f"your function returned {_what(returned)}; return the pair "
                             f"(clipped_grads, total_norm)")
    grads, total = returned
    return _flat_gradients(grads, "clipped_grads"), total


def clip_by_global_norm_reference(grads, max_norm):
    """torch's clip_grad_norm_ without the in-place part: (clipped copies, total norm before)."""
    clipped = [np.array(g, dtype=float) for g in grads]
    total = _nb09_imports().clip_grad_norm_(clipped, max_norm)
    return clipped, total


def _global_norm(grads) -> float:
    return float(np.sqrt(sum(np.sum(np.asarray(g) ** 2) for g in grads)))


def _scaled_all(grads, coef) -> list:
    return [np.asarray(g) * coef for g in grads]


_GLOBAL_NORM_CASES = [
    # (the gradients of a case share one shape only so that the messages can print the case)
    {"grads": _gradient_list(20, [(3, 2)] * 3, 2.0), "max_norm": 1.0},     # total ≈ 8: clipped
    {"grads": _gradient_list(21, [(5,)] * 2, 0.05), "max_norm": 1.0},      # total ≈ 0.2: left alone
    {"grads": _gradient_list(22, [(4,)] * 3, 3e-5), "max_norm": 1e-5},     # tiny: the 1e-6 shows
    {"grads": [np.array([3.0, 4.0]), np.array([12.0, 0.0])], "max_norm": 6.5},  # total = 13
]

GLOBAL_NORM_EXERCISE = Exercise(
    name="clip_by_global_norm",
    cases=_GLOBAL_NORM_CASES,
    expected=lambda grads, max_norm: _clipped_and_total(clip_by_global_norm_reference(grads, max_norm)),
    run=_clipped_and_total,
    outputs=("clipped_grads (all entries in a row)", "total_norm"),
    success=("one norm over all the gradients together, scaled by min(1, max_norm/(total + 1e-6)), "
             "and the norm before clipping returned: exactly torch.nn.utils.clip_grad_norm_."),
    mistakes=[
        Mistake(lambda grads, max_norm: ([_nb09_imports().clip_grad_norm_(g := np.array(x, dtype=float), max_norm)
                                          and g for x in grads], _global_norm(grads)),
                "you clipped each gradient by its own norm. Clipping by the global norm takes ONE norm "
                "over all gradients together, total = √(Σ_i ‖g_i‖²), and scales every gradient by the "
                "same factor, so the update keeps its direction."),
        Mistake(lambda grads, max_norm: (_scaled_all(grads, min(1.0, max_norm / (sum(np.linalg.norm(np.ravel(g))
                                                                                   for g in grads) + 1e-6))),
                                         sum(np.linalg.norm(np.ravel(g)) for g in grads)),
                "you added up the per-gradient norms; the global 2-norm is √(Σ_i ‖g_i‖²), the norm of "
                "all entries at once."),
        Mistake(lambda grads, max_norm: (_scaled_all(grads, max_norm / (_global_norm(grads) + 1e-6)),
                                         _global_norm(grads)),
                "you scaled the gradients even when their norm was below max_norm, which makes small "
                "gradients larger. The factor is min(1, max_norm/(total + 1e-6)): below the threshold, "
                "leave them alone."),
        Mistake(lambda grads, max_norm: (_scaled_all(grads, min(1.0, max_norm / _global_norm(grads))),
                                         _global_norm(grads)),
                "you divided by the total norm itself; torch divides by total + 1e-6 (which also keeps "
                "an all-zero gradient from dividing by zero). It shows when the norms are tiny."),
        Mistake(lambda grads, max_norm: (clip_by_global_norm_reference(grads, max_norm)[0],
                                         _global_norm(clip_by_global_norm_reference(grads, max_norm)[0])),
                "the gradients are right, but you returned their norm after clipping; return the total "
                "norm before clipping (what torch returns, and what is worth logging: it shows how "
                "large the gradients really were)."),
        Mistake(lambda grads, max_norm: ([np.clip(np.asarray(g, dtype=float), -max_norm, max_norm) for g in grads],
                                         _global_norm(grads)),
                "you clipped by value (each entry to [−max_norm, max_norm]); clipping by norm scales all "
                "entries by the same factor."),
    ],
    hints={ZeroDivisionError: "Add 1e-6 to the total norm before dividing, as torch does."},
)


def check_clip_by_global_norm(fn: Callable) -> CheckResult:
    """Check ``fn(grads, max_norm)`` -> (clipped copies of grads, total 2-norm before clipping)."""
    return check_function(fn, GLOBAL_NORM_EXERCISE)


NONFINITE_NAMES = ("embedding.weight", "attention.weight", "attention.bias", "output.weight")


class NamedGradients(dict):
    """{parameter name: gradient array}, which names what it holds in the checker's messages."""

    def __format__(self, spec: str) -> str:
        def state(g):
            kinds = [kind for kind, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("−inf", np.isneginf))
                     if test(g).any()]
            return " and ".join(kinds) or "finite"
        return "{" + ", ".join(f"{name}: {state(g)}" for name, g in self.items()) + "}"


def _named(seed: int, nan=(), inf=(), minus_inf=()) -> NamedGradients:
    rng = np.random.default_rng(seed)
    grads = NamedGradients({name: rng.normal(size=(3, 2)) for name in NONFINITE_NAMES})
    for names, value, where in ((nan, np.nan, (0, 1)), (inf, np.inf, (2, 0)), (minus_inf, -np.inf, (1, 1))):
        for name in names:
            grads[name][where] = value
    return grads


def _which(found: Any) -> np.ndarray:
    """The learner's {"nan": [...], "inf": [...]} as 0/1 flags per known name (nan row, inf row)."""
    if not isinstance(found, dict) or set(found) != {"nan", "inf"}:
        raise UnusableAnswer(f"your function returned {_what(found) if not isinstance(found, dict) else 'a dict with keys ' + repr(sorted(found))}; "
                             f"return a dict {{'nan': [names], 'inf': [names]}}")
    for kind in ("nan", "inf"):
        if not isinstance(found[kind], (list, tuple, set)) or not set(found[kind]) <= set(NONFINITE_NAMES):
            raise UnusableAnswer(f"found['{kind}'] should be a list of parameter names; got {found[kind]!r}")
    return np.array([[name in found[kind] for name in NONFINITE_NAMES] for kind in ("nan", "inf")], dtype=float)


def _finder(nan_test: Callable, inf_test: Callable, exclusive: bool = False) -> Callable:
    def find(named_grads):
        found = {"nan": [], "inf": []}
        for name, g in named_grads.items():
            if nan_test(g):
                found["nan"].append(name)
                if exclusive:
                    continue
            if inf_test(g):
                found["inf"].append(name)
        return found
    return find


def _seed_nonfinite_check(named_grads):
    """The seed notes' loop, returning what it prints: isnan → "inf", elif isinf → "nan"."""
    found = {"nan": [], "inf": []}
    for name, g in named_grads.items():
        if np.isnan(g).any():
            found["inf"].append(name)
        elif np.isinf(g).any():
            found["nan"].append(name)
    return found


_NONFINITE_CASES = [
    {"named_grads": _named(30, nan=["embedding.weight"], inf=["output.weight"])},
    {"named_grads": _named(31, nan=["attention.weight"], inf=["attention.weight"])},
    {"named_grads": _named(32)},
    {"named_grads": _named(33, minus_inf=["attention.bias"])},
]

NONFINITE_EXERCISE = Exercise(
    name="find_nonfinite",
    cases=_NONFINITE_CASES,
    expected=lambda named_grads: _which(_nb09_imports().nonfinite_gradients(named_grads)),
    run=_which,
    outputs=("the table of flags (row 0: holds NaN, row 1: holds ±inf; one column per name)",),
    success=("NaN found with isnan and listed under 'nan', ±inf with isinf under 'inf', and a "
             "gradient holding both is listed under both."),
    mistakes=[
        Mistake(_seed_nonfinite_check,
                "this is the seed notes' check, with both of its flaws: the labels are swapped (isnan "
                "finds NaN, so its names go under 'nan'; isinf finds ±inf, under 'inf'), and the elif "
                "hides a gradient holding both. Test the two independently, each under its own label."),
        Mistake(_finder(lambda g: np.isinf(g).any(), lambda g: np.isnan(g).any()),
                "the labels are swapped, the seed notes' bug: isnan finds NaN, so its names go under "
                "'nan'; isinf finds ±inf, whose names go under 'inf'."),
        Mistake(_finder(lambda g: np.isnan(g).any(), lambda g: np.isinf(g).any(), exclusive=True),
                "a gradient holding both NaN and inf was listed only under 'nan': test the two "
                "independently (two ifs, not if/elif)."),
        Mistake(_finder(lambda g: np.isnan(g).any(), lambda g: (g == np.inf).any()),
                "you missed −inf: g == inf only finds +inf; np.isinf (or np.abs(g) == inf) finds both."),
        Mistake(_finder(lambda g: not np.isfinite(g).all(), lambda g: np.isinf(g).any()),
                "you tested NaN with ~isfinite, which is also true for ±inf, so infinite gradients "
                "appear under 'nan' too; use isnan."),
        Mistake(_finder(lambda g: not np.isnan(g).any(), lambda g: not np.isinf(g).any()),
                "you listed the gradients WITHOUT NaN / inf: keep the names where .any() is true."),
    ],
)


def check_find_nonfinite(fn: Callable) -> CheckResult:
    """Check ``fn(named_grads)`` -> {"nan": [names holding NaN], "inf": [names holding ±inf]}."""
    return check_function(fn, NONFINITE_EXERCISE)


def unscale_then_clip_reference(scaled_grads, scale, max_norm):
    """What the optimizer should see under a GradScaler: unscale first, then clip the true gradients."""
    grads = [np.asarray(g, dtype=float) / scale for g in scaled_grads]
    _nb09_imports().clip_grad_norm_(grads, max_norm)
    return grads


def _clip_copies(grads, max_norm):
    grads = [np.array(g, dtype=float) for g in grads]
    _nb09_imports().clip_grad_norm_(grads, max_norm)
    return grads


_UNSCALE_CASES = [
    {"scaled_grads": _gradient_list(40, [(3,)] * 2, 65536.0 * 2.0), "scale": 65536.0, "max_norm": 1.0},
    {"scaled_grads": _gradient_list(41, [(4,)] * 2, 1024.0 * 0.1), "scale": 1024.0, "max_norm": 1.0},
    {"scaled_grads": _gradient_list(42, [(2, 3)], 8.0 * 5.0), "scale": 8.0, "max_norm": 2.0},
]

UNSCALE_EXERCISE = Exercise(
    name="unscale_then_clip",
    cases=_UNSCALE_CASES,
    expected=lambda scaled_grads, scale, max_norm: _flat_gradients(unscale_then_clip_reference(scaled_grads, scale,
                                                                                               max_norm)),
    run=_flat_gradients,
    outputs=("the gradients for the optimizer (all entries in a row)",),
    success=("unscale first, then clip: the threshold applies to the true gradients, as with "
             "scaler.unscale_(optimizer) before clip_grad_norm_."),
    mistakes=[
        Mistake(lambda scaled_grads, scale, max_norm: [g / scale for g in _clip_copies(scaled_grads, max_norm)],
                "you clipped before unscaling: the norm of the SCALED gradients is `scale` times too large, "
                "so clipping cuts them down to max_norm and unscaling then shrinks them `scale` times "
                "more. Unscale first, then clip."),
        Mistake(lambda scaled_grads, scale, max_norm: _clip_copies(scaled_grads, max_norm),
                "you never unscaled: divide by the scale first (the optimizer must see the true gradients)."),
        Mistake(lambda scaled_grads, scale, max_norm: [np.asarray(g, dtype=float) / scale for g in scaled_grads],
                "you unscaled but did not clip: after dividing by the scale, clip by the global norm."),
    ],
)


def check_unscale_then_clip(fn: Callable) -> CheckResult:
    """Check ``fn(scaled_grads, scale, max_norm)`` -> the unscaled, then globally clipped gradients."""
    return check_function(fn, UNSCALE_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Notebook 08: AdamW
# --------------------------------------------------------------------------------------------------

def _adam_moments(m, v, grad, beta1, beta2):
    return beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad * grad


def _adam_direction(m_new, v_new, t, beta1, beta2, eps, bias_correction=True):
    """m̂ / (√v̂ + ε), or m / (√v + ε) without bias correction."""
    if not bias_correction:
        return m_new / (np.sqrt(v_new) + eps)
    return (m_new / (1 - beta1**t)) / (np.sqrt(v_new / (1 - beta2**t)) + eps)


def torch_adamw_step(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    """Step t of torch's AdamW: θ ← θ·(1 − lr·λ), then the Adam step from m, v of the gradient alone.

    Returns (w_new, m_new, v_new). The Adam step does not depend on θ, so decaying first or
    subtracting lr·λ·θ_old in the same line is the same step.
    """
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    w_new = w * (1 - lr * weight_decay) - lr * _adam_direction(m_new, v_new, t, beta1, beta2, eps)
    return w_new, m_new, v_new


def _adam_l2_step(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    grad = grad + weight_decay * w
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    return w - lr * _adam_direction(m_new, v_new, t, beta1, beta2, eps), m_new, v_new


def _decay_not_times_lr(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    return w - weight_decay * w - lr * _adam_direction(m_new, v_new, t, beta1, beta2, eps), m_new, v_new


def _decay_after_the_step(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    stepped = w - lr * _adam_direction(m_new, v_new, t, beta1, beta2, eps)
    return stepped * (1 - lr * weight_decay), m_new, v_new


def _adamw_without_bias_correction(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    direction = _adam_direction(m_new, v_new, t, beta1, beta2, eps, bias_correction=False)
    return w * (1 - lr * weight_decay) - lr * direction, m_new, v_new


def _adamw_decay_added(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    return w * (1 + lr * weight_decay) - lr * _adam_direction(m_new, v_new, t, beta1, beta2, eps), m_new, v_new


def _adamw_cases(seed: int = 9) -> list[dict[str, Any]]:
    """Seeded AdamW states: step t > 1 (so bias correction matters), lr·λ large enough that decaying
    before or after the Adam step differs by far more than the tolerance."""
    rng = np.random.default_rng(seed)
    return [
        {"w": rng.normal(size=shape), "m": 0.1 * rng.normal(size=shape), "v": 0.01 * rng.random(size=shape) + 1e-3,
         "grad": rng.normal(size=shape), "t": t, "lr": lr, "weight_decay": decay, "beta1": 0.9, "beta2": 0.999,
         "eps": 1e-8}
        for shape, t, lr, decay in [((3, 2), 3, 0.1, 0.2), ((4,), 10, 0.05, 0.5), ((2, 2), 2, 0.2, 0.1)]
    ]


ADAMW_EXERCISE = Exercise(
    name="adamw_step",
    cases=_adamw_cases(),
    expected=torch_adamw_step,
    outputs=("w_new", "m_new", "v_new"),
    success=("θ ← θ·(1 − lr·λ), then θ ← θ − lr·m̂/(√v̂ + ε) with m and v built from the gradient "
             "alone: torch's AdamW step."),
    mistakes=[
        Mistake(_adam_l2_step,
                "you added λ·θ to the gradient: that is Adam with L2 (torch's Adam(weight_decay=λ)), "
                "and the decay then goes through m and v and is divided by √v̂. AdamW keeps the "
                "gradient as it is and shrinks the weights directly: θ ← θ·(1 − lr·λ)."),
        Mistake(_decay_not_times_lr,
                "your decay is θ ← θ − λ·θ, not multiplied by the learning rate. torch's AdamW "
                "decays by lr·λ per step: θ ← θ·(1 − lr·λ). (The paper's form multiplies λ by the "
                "schedule multiplier η_t only; that is torch's with weight_decay = λ/lr.)"),
        Mistake(_decay_after_the_step,
                "you decayed the weights after the Adam step, so the decay shrank the new weights "
                "θ − lr·m̂/(√v̂+ε). torch (and the paper) decay the weights the step started from: "
                "θ_new = θ·(1 − lr·λ) − lr·m̂/(√v̂+ε); the two differ by lr²·λ·m̂/(√v̂+ε)."),
        Mistake(_adamw_without_bias_correction,
                "you left out the bias correction: divide m by 1 − β₁ᵗ and v by 1 − β₂ᵗ (t is the "
                "step number, from 1) before forming m̂/(√v̂ + ε)."),
        Mistake(_adamw_decay_added,
                "your decay has the wrong sign: θ·(1 + lr·λ) grows the weights; decay shrinks them, "
                "θ·(1 − lr·λ)."),
    ],
)


def check_adamw_step(fn: Callable) -> CheckResult:
    """Check ``fn(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps)`` -> (w_new, m_new, v_new),
    step t of torch's AdamW."""
    return check_function(fn, ADAMW_EXERCISE)


def torch_weight_decay_from_paper(paper_decay, alpha):
    """torch's ``weight_decay`` for the paper's λ at learning rate α: λ_torch = λ_paper / α."""
    return paper_decay / alpha


WEIGHT_DECAY_CONVERSION_EXERCISE = Exercise(
    name="torch_weight_decay",
    cases=[{"paper_decay": decay, "alpha": alpha} for decay, alpha in [(1e-4, 1e-3), (0.025, 0.5), (2e-3, 4e-2)]],
    expected=torch_weight_decay_from_paper,
    outputs=("torch's weight_decay",),
    success=("λ_torch = λ_paper / α: torch decays by lr·λ_torch = α·λ_paper/α = λ_paper per step, the "
             "paper's decay (times the same schedule multiplier when lr follows the schedule)."),
    mistakes=[
        Mistake(lambda paper_decay, alpha: paper_decay * alpha,
                "you multiplied by α; torch multiplies its weight_decay by lr = α itself, so to get "
                "the paper's decay λ_paper per step, divide: λ_torch = λ_paper / α."),
        Mistake(lambda paper_decay, alpha: paper_decay,
                "the same number means a different decay: torch decays by lr·λ per step, the "
                "paper by λ. Divide by α: λ_torch = λ_paper / α."),
        Mistake(lambda paper_decay, alpha: alpha / paper_decay,
                "upside down: λ_torch = λ_paper / α, so that lr·λ_torch = λ_paper."),
        Mistake(lambda paper_decay, alpha: paper_decay / alpha**2,
                "you divided by α twice; once is enough: lr·λ_torch = α·(λ_paper/α) = λ_paper."),
    ],
)


def check_weight_decay_conversion(fn: Callable) -> CheckResult:
    """Check ``fn(paper_decay, alpha)`` -> torch's AdamW weight_decay for the paper's λ at lr α."""
    return check_function(fn, WEIGHT_DECAY_CONVERSION_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Notebook 06: local optima and saddle points
# --------------------------------------------------------------------------------------------------

CRITICAL_POINT_KINDS = ("minimum", "maximum", "saddle", "degenerate")


def _kind_from_signs(values) -> str:
    """The kind of a critical point whose Hessian eigenvalues have the signs of ``values``."""
    values = np.asarray(values, dtype=float)
    if (values > 0).any() and (values < 0).any():
        return "saddle"
    if (values > 0).all():
        return "minimum"
    if (values < 0).all():
        return "maximum"
    return "degenerate"


def _classify_reference(hessian) -> str:
    from course_lib.saddles import classify_critical_point

    return classify_critical_point(hessian)


def _by_determinant(hessian) -> str:
    det = round(float(np.linalg.det(hessian)), 9)
    return "minimum" if det > 0 else "saddle" if det < 0 else "degenerate"


def _by_determinant_and_trace(hessian) -> str:
    det = round(float(np.linalg.det(hessian)), 9)
    if det == 0:
        return "degenerate"
    if det < 0:
        return "saddle"
    return "minimum" if np.trace(hessian) > 0 else "maximum"


def _by_trace(hessian) -> str:
    trace = float(np.trace(hessian))
    return "minimum" if trace > 0 else "maximum" if trace < 0 else "saddle"


def _ignoring_zero_eigenvalues(hessian) -> str:
    eigenvalues = np.round(np.linalg.eigvalsh(hessian), 9)
    if (eigenvalues >= 0).all():
        return "minimum"
    return "maximum" if (eigenvalues <= 0).all() else "saddle"


def _any_zero_is_degenerate(hessian) -> str:
    eigenvalues = np.round(np.linalg.eigvalsh(hessian), 9)
    return "degenerate" if (eigenvalues == 0).any() else _kind_from_signs(eigenvalues)


_SWAPPED_KINDS = {"minimum": "maximum", "maximum": "minimum", "saddle": "saddle", "degenerate": "degenerate"}

_CRITICAL_POINT_CASES = [{"hessian": np.array(matrix, dtype=float)} for matrix in [
    [[2, 0], [0, 1]],                        # the double well's minima
    [[-1, 0], [0, 1]],                       # its saddle
    [[1, 2], [2, 1]],                        # eigenvalues 3, −1
    [[-3, 0], [0, -1]],
    np.diag([-1, -2, 4]),                    # det > 0, trace > 0, yet a saddle
    np.diag([-1, -2, -3]),                   # det < 0, yet a maximum
    [[1, 0], [0, 0]],                        # a zero eigenvalue, the other positive
    np.diag([2, 0, -1]),                     # a zero eigenvalue beside both signs: still a saddle
    [[2, -1, 0], [-1, 2, -1], [0, -1, 2]],   # eigenvalues 2 − √2, 2, 2 + √2
    [[-1, 2], [2, -1]],                      # eigenvalues 1, −3
    [[0, 0], [0, -2]],
]]


def _kind_index(returned: Any) -> float:
    """What the learner's classification is compared as: its position in CRITICAL_POINT_KINDS."""
    kinds = ", ".join(f"'{kind}'" for kind in CRITICAL_POINT_KINDS)
    if not isinstance(returned, str):
        raise UnusableAnswer(f"your function returned {_what(returned)}; return one of the words {kinds}")
    word = returned.strip().lower()
    if word not in CRITICAL_POINT_KINDS:
        raise UnusableAnswer(f"your function returned {returned!r}; return one of the words {kinds}")
    return float(CRITICAL_POINT_KINDS.index(word))


CRITICAL_POINT_EXERCISE = Exercise(
    name="classify",
    cases=_CRITICAL_POINT_CASES,
    expected=lambda hessian: _kind_index(_classify_reference(hessian)),
    run=_kind_index,
    outputs=("the kind",),
    success=("the signs of the Hessian's eigenvalues decide: all positive, a minimum; all "
             "negative, a maximum; both signs, a saddle (zeros or not); a zero eigenvalue with "
             "the rest of one sign leaves the second-order test undecided."),
    mistakes=[
        Mistake(_by_determinant,
                "you used the determinant alone. It is the PRODUCT of the eigenvalues, so an even "
                "number of negative ones gives det > 0: diag(−3, −1) (a maximum) and "
                "diag(−1, −2, 4) (a saddle) both have det > 0. Look at the eigenvalues' signs."),
        Mistake(_by_determinant_and_trace,
                "you used the 2-D test (det < 0: saddle; det > 0: minimum or maximum by the sign of "
                "the trace). It holds for 2 × 2 Hessians only: diag(−1, −2, 4) has det > 0 and "
                "trace > 0 but is a saddle, diag(−1, −2, −3) has det < 0 but is a maximum. Use "
                "the signs of all the eigenvalues."),
        Mistake(_by_trace,
                "you used the trace alone. It is the SUM of the eigenvalues: [[1, 2], [2, 1]] has "
                "trace 2 but eigenvalues 3 and −1, a saddle. Look at every eigenvalue's sign."),
        Mistake(lambda hessian: _kind_from_signs(np.diag(hessian)),
                "you read the signs of the diagonal entries; those are the curvatures along the "
                "axes only. [[1, 2], [2, 1]] curves down along (1, −1): its eigenvalues are 3 and "
                "−1. Use np.linalg.eigvalsh(hessian)."),
        Mistake(_ignoring_zero_eigenvalues,
                "you ignored zero eigenvalues: with eigenvalues (1, 0) the second-order test "
                "cannot decide (x² + y⁴ has a minimum, x² + y³ does not), so the answer is "
                "'degenerate', not 'minimum'."),
        Mistake(_any_zero_is_degenerate,
                "a zero eigenvalue makes the test undecided only when the other eigenvalues share "
                "one sign: diag(2, 0, −1) curves up along one axis and down along another, so it "
                "is a saddle whatever the zero direction does."),
        Mistake(lambda hessian: _SWAPPED_KINDS[_classify_reference(hessian)],
                "minimum and maximum are swapped: positive eigenvalues mean the function curves "
                "UP in every direction, a minimum."),
    ],
)


def check_classify_critical_point(fn: Callable) -> CheckResult:
    """Check ``fn(hessian)`` -> 'minimum', 'maximum', 'saddle' or 'degenerate'."""
    result = check_function(fn, CRITICAL_POINT_EXERCISE)
    if result.passed or not result.message.startswith("the kind is wrong"):
        return result
    for case in CRITICAL_POINT_EXERCISE.cases:  # a wrong answer that no known mistake explains
        hessian = case["hessian"]
        answer, right = _call(fn, case), _classify_reference(hessian)
        if _kind_index(answer) != CRITICAL_POINT_KINDS.index(right):
            eigenvalues = ", ".join(f"{value:.3g}" for value in np.linalg.eigvalsh(hessian))
            rows = ", ".join("[" + ", ".join(f"{entry:g}" for entry in row) + "]" for row in hessian)
            return CheckResult(False, f"for the Hessian [{rows}] (eigenvalues {eigenvalues}) your "
                                      f"function returned {answer!r}; it is a {right}.")
    return result


def _escape_cases() -> list[dict[str, Any]]:
    return [{"x0": x0, "lr": lr} for x0, lr in [(1e-6, 0.01), (1e-3, 0.05), (1e-9, 0.1), (0.02, 0.003),
                                                (-1e-4, 0.02)]]


def _linear_escape(x0, lr):
    """ln(0.5/|x0|) / ln(1 + lr): GD multiplies x by 1 + lr per step near the saddle."""
    return np.log(0.5 / abs(x0)) / np.log1p(lr)


def _in_any_rounding(answer: Callable, explanation: str) -> list[Mistake]:
    """The same mistake as a real number, rounded up and rounded down."""
    return [Mistake(answer, explanation), Mistake(lambda x0, lr: np.ceil(answer(x0, lr)), explanation),
            Mistake(lambda x0, lr: np.floor(answer(x0, lr)), explanation)]


ESCAPE_PREDICTION_EXERCISE = Exercise(
    name="predict_escape_steps",
    cases=_escape_cases(),
    expected=_linear_escape,
    accepted=[lambda x0, lr: np.ceil(_linear_escape(x0, lr))],
    outputs=("the predicted number of steps",),
    success=("near the saddle one GD step multiplies x by 1 + lr (the curvature along x is −1), "
             "so |x0|·(1 + lr)^t = 0.5 after t = ln(0.5/|x0|)/ln(1 + lr) steps: linear in "
             "ln(1/|x0|). The measured count is about 15 steps more at lr = 0.01: near |x| = 0.5 "
             "the −x³ in the gradient slows the growth."),
    mistakes=[
        *_in_any_rounding(lambda x0, lr: np.log(0.5 / abs(x0)) / lr,
                          "you divided by lr, the rate of the continuous-time flow dx/dt = x. One GD "
                          "step multiplies x by 1 + lr, so divide by ln(1 + lr) (close for small lr, "
                          "5 % fewer steps at lr = 0.1)."),
        *_in_any_rounding(lambda x0, lr: np.log(1 / abs(x0)) / np.log1p(lr),
                          "you counted the steps until |x| reaches 1; the escape line is |x| = 0.5: "
                          "use ln(0.5/|x0|)."),
        *_in_any_rounding(lambda x0, lr: np.log(0.5 / abs(x0)) / np.log(1 - lr),
                          "your count is negative: you divided by ln(1 − lr). Along x the curvature "
                          "at the saddle is −1, so a GD step multiplies x by 1 − lr·(−1) = 1 + lr."),
        *_in_any_rounding(lambda x0, lr: np.log(0.5 / abs(x0)) / -np.log(1 - lr),
                          "you used the factor 1 − lr: along x the curvature at the saddle is −1, so "
                          "a GD step multiplies x by 1 − lr·(−1) = 1 + lr and the count is "
                          "ln(0.5/|x0|)/ln(1 + lr)."),
        *_in_any_rounding(lambda x0, lr: np.log10(0.5 / abs(x0)) / np.log1p(lr),
                          "you mixed logarithms: log10 on top, ln below. Any base works if both "
                          "are the same: ln(0.5/|x0|)/ln(1 + lr)."),
        *_in_any_rounding(lambda x0, lr: np.log(0.5 / abs(x0)) / np.log10(1 + lr),
                          "you mixed logarithms: ln on top, log10 below. Any base works if both "
                          "are the same: ln(0.5/|x0|)/ln(1 + lr)."),
        Mistake(lambda x0, lr: np.log1p(lr) / np.log(0.5 / abs(x0)),
                "your ratio is upside down: the count is ln(0.5/|x0|)/ln(1 + lr), many steps for a "
                "small x0."),
        *_in_any_rounding(lambda x0, lr: (0.5 - abs(x0)) / (lr * abs(x0)),
                          "you let x grow by the same amount lr·x0 each step; it grows by lr·x, in "
                          "proportion to itself, so geometrically: |x0|·(1 + lr)^t."),
        *_in_any_rounding(lambda x0, lr: np.log(0.5 / x0) / np.log1p(lr),
                          "your answer is NaN for a negative x0: the saddle is left on either side, "
                          "so use |x0|: ln(0.5/|x0|)/ln(1 + lr)."),
        Mistake(lambda x0, lr: np.floor(_linear_escape(x0, lr)),
                "you rounded down: after that many steps |x| is still below 0.5. Round up "
                "(or return the real number)."),
    ],
)


def check_escape_prediction(fn: Callable) -> CheckResult:
    """Check ``fn(x0, lr)`` -> GD's steps from (x0, y) until |x| ≥ 0.5 on the double well by the
    linear model near the saddle, ln(0.5/|x0|)/ln(1 + lr) (or that rounded up)."""
    return check_function(fn, ESCAPE_PREDICTION_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Notebook 04: Adam
# --------------------------------------------------------------------------------------------------

from course_lib import adam_forms as _adam_forms  # noqa: E402  (appended section: its own import)


def adam_update_reference(W, b, dW, db, V_dW, V_db, S_dW, S_db, t, lr, beta1, beta2, eps):
    """One Adam step for W and b in the lecture's names: V = momentum average, S = RMSProp average.

    Returns (W_new, b_new). Kingma & Ba's Algorithm 1, as torch computes it (ε after the root).
    """
    W_new = _adam_forms.adam_step(W, V_dW, S_dW, dW, t, lr, beta1, beta2, eps)[0]
    b_new = _adam_forms.adam_step(b, V_db, S_db, db, t, lr, beta1, beta2, eps)[0]
    return W_new, b_new


def _wrong_adam(*, eps_inside=False, correct_V=True, correct_S=True, t_shift=0, b_uses_V_dW=False,
                squares_of_weights=False, old_averages=False, swap_betas=False):
    """An Adam update with one known mistake switched on (see ADAM_UPDATE_EXERCISE)."""
    def update(W, b, dW, db, V_dW, V_db, S_dW, S_db, t, lr, beta1, beta2, eps):
        if swap_betas:
            beta1, beta2 = beta2, beta1
        averages = {}
        for name, param, grad, V, S in (("W", W, dW, V_dW, S_dW), ("b", b, db, V_db, S_db)):
            V_new = beta1 * V + (1 - beta1) * grad
            S_new = beta2 * S + (1 - beta2) * (param * param if squares_of_weights else grad * grad)
            averages[name] = (V, S) if old_averages else (V_new, S_new)
        results = []
        for name, param in (("W", W), ("b", b)):
            V, S = averages[name]
            if b_uses_V_dW:
                V = averages["W"][0]
            step = t + t_shift
            V_hat = V / (1 - beta1**step) if correct_V else V
            S_hat = S / (1 - beta2**step) if correct_S else S
            denom = np.sqrt(S_hat + eps) if eps_inside else np.sqrt(S_hat) + eps
            results.append(param - lr * V_hat / denom)
        return tuple(results)
    return update


def _adam_cases() -> list[dict[str, Any]]:
    """Seeded steps: the first one (zero averages), one with tiny gradients, one late step."""
    rng = np.random.default_rng(40)
    cases = []
    for t, scale, lr, first in [(1, 1.0, 0.01, True), (7, 1e-5, 0.001, False), (30, 0.5, 0.05, False)]:
        W, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 1))
        dW, db = scale * rng.normal(size=(4, 3)), scale * rng.normal(size=(4, 1))
        V_dW, V_db = [np.zeros_like(x) if first else 0.5 * scale * rng.normal(size=x.shape) for x in (W, b)]
        S_dW, S_db = [np.zeros_like(x) if first else scale**2 * rng.uniform(0.2, 1.5, size=x.shape) for x in (W, b)]
        cases.append({"W": W, "b": b, "dW": dW, "db": db, "V_dW": V_dW, "V_db": V_db, "S_dW": S_dW, "S_db": S_db,
                      "t": t, "lr": lr, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8})
    return cases


ADAM_UPDATE_EXERCISE = Exercise(
    name="adam_update",
    cases=_adam_cases(),
    expected=adam_update_reference,
    outputs=("W_new", "b_new"),
    success=("V ← β₁V + (1−β₁)g and S ← β₂S + (1−β₂)g², both divided by their own 1−βᵗ, then "
             "W ← W − lr·V̂/(√Ŝ + ε): Adam as Kingma & Ba and torch compute it."),
    mistakes=[
        Mistake(_wrong_adam(eps_inside=True),
                "ε is inside the square root: you divided by √(Ŝ + ε). Add it after the root, √Ŝ + ε "
                "(Kingma & Ba, torch). Under the root, ε = 1e-8 acts like 1e-4 added after it, so "
                "every gradient smaller than about 1e-4 gets damped (see the tiny-gradient case)."),
        Mistake(_wrong_adam(correct_V=False, correct_S=False),
                "there is no bias correction: divide V by 1−β₁ᵗ and S by 1−β₂ᵗ before the step. "
                "Without it the early steps are (1−β₁ᵗ)/√(1−β₂ᵗ) times too long: 3.2× at t = 1."),
        Mistake(_wrong_adam(correct_S=False),
                "only V is bias-corrected; S needs its own correction, Ŝ = S/(1−β₂ᵗ). Without it "
                "the early steps are 1/√(1−β₂ᵗ) times too long (32× at t = 1 for β₂ = 0.999)."),
        Mistake(_wrong_adam(correct_V=False),
                "only S is bias-corrected; V needs its own correction too, V̂ = V/(1−β₁ᵗ), or the "
                "early steps are too short."),
        Mistake(_wrong_adam(t_shift=-1),
                "your bias correction uses t−1: at the first step that is 1−β⁰ = 0 and the step is "
                "nan. t counts the steps from 1, including this one: divide by 1−β₁ᵗ and 1−β₂ᵗ."),
        Mistake(_wrong_adam(t_shift=1),
                "your bias correction uses t+1: t already counts this step (from 1), so divide by "
                "1−β₁ᵗ and 1−β₂ᵗ."),
        Mistake(_wrong_adam(b_uses_V_dW=True),
                "b is updated with V_dW, the momentum of W (as the seed notes write it). Each "
                "parameter uses its own averages: b ← b − lr·V̂_db/(√Ŝ_db + ε)."),
        Mistake(_wrong_adam(squares_of_weights=True),
                "S averages the squared weights W²; it must average the squared gradients, "
                "S ← β₂S + (1−β₂)·dW² (and db² for b). Adam scales each step by the size of "
                "recent gradients, not of the weights."),
        Mistake(_wrong_adam(old_averages=True),
                "the step used V and S from before this step: update both averages with this "
                "step's gradient first, then correct them and step."),
        Mistake(_wrong_adam(swap_betas=True),
                "β₁ and β₂ are swapped: β₁ (0.9) averages the gradients (V), β₂ (0.999) their "
                "squares (S)."),
        Mistake(lambda *arguments: adam_update_reference(*arguments)[::-1],
                "the values are right but in the wrong order: return (W_new, b_new)."),
    ],
    hints={ZeroDivisionError: "Did you use t−1 in the bias correction? t counts from 1, so the first "
                              "step divides by 1−β¹."},
)


def check_adam_update(fn: Callable) -> CheckResult:
    """Check ``fn(W, b, dW, db, V_dW, V_db, S_dW, S_db, t, lr, beta1, beta2, eps)`` -> (W_new, b_new)."""
    return check_function(fn, ADAM_UPDATE_EXERCISE)


def adam_state_bytes_reference(n_parameters, bytes_per_number, amsgrad):
    """Bytes of Adam's state: two arrays the size of the parameters (m and v), three with AMSGrad."""
    return (3 if amsgrad else 2) * n_parameters * bytes_per_number


ADAM_STATE_EXERCISE = Exercise(
    name="adam_state_bytes",
    cases=[{"n_parameters": n, "bytes_per_number": size, "amsgrad": amsgrad}
           for n, size, amsgrad in [(124_439_808, 4, False), (1_000_000, 8, True), (7, 2, False), (50, 4, True)]],
    expected=adam_state_bytes_reference,
    outputs=("the number of bytes",),
    success=("Adam keeps two numbers per parameter (m and v), AMSGrad three (and max v): for a "
             "124M-parameter float32 model that is 1.0 GB, twice the model itself."),
    mistakes=[
        Mistake(lambda n, size, amsgrad: (4 if amsgrad else 3) * n * size,
                "you counted the parameters themselves as well; the question is what the optimizer "
                "adds: m and v (and, with AMSGrad, the running maximum of v)."),
        Mistake(lambda n, size, amsgrad: 2 * n * size,
                "AMSGrad keeps a third array, the running maximum of v (torch's max_exp_avg_sq)."),
        Mistake(lambda n, size, amsgrad: (2 if amsgrad else 1) * n * size,
                "one array short: Adam keeps both averages, m (of g) and v (of g²), each as large as "
                "the parameters."),
        Mistake(lambda n, size, amsgrad: 8 * (3 if amsgrad else 2) * n * size,
                "that is bits, 8 per byte; return bytes."),
        Mistake(lambda n, size, amsgrad: (3 if amsgrad else 2) * n,
                "you counted numbers, not bytes: multiply by bytes_per_number (4 for float32)."),
    ],
)


def check_adam_state_bytes(fn: Callable) -> CheckResult:
    """Check ``fn(n_parameters, bytes_per_number, amsgrad)`` -> bytes of Adam's (AMSGrad's) state."""
    return check_function(fn, ADAM_STATE_EXERCISE)


EFFICIENT_EPS_EXERCISE = Exercise(
    name="efficient_eps",
    cases=[{"eps": eps, "beta2": beta2, "t": t}
           for eps, beta2, t in [(1e-8, 0.999, 1), (1e-8, 0.999, 100), (1e-3, 0.99, 10), (0.5, 0.9, 3)]],
    expected=_adam_forms.efficient_eps,
    outputs=("ε̂",),
    success=("ε̂ = ε·√(1−β₂ᵗ): with the step size lr·√(1−β₂ᵗ)/(1−β₁ᵗ) and the uncorrected √v, this ε̂ "
             "gives exactly Algorithm 1's step; it grows towards ε as t grows."),
    mistakes=[
        Mistake(lambda eps, beta2, t: eps,
                "a fixed ε̂ = ε is the paper's efficient form as written, which is not Algorithm 1: "
                "√v is √(1−β₂ᵗ) times smaller than √v̂, so ε must shrink by the same factor: "
                "ε̂ = ε·√(1−β₂ᵗ)."),
        Mistake(lambda eps, beta2, t: eps * (1 - beta2**t),
                "no square root: v̂ = v/(1−β₂ᵗ) is divided by 1−β₂ᵗ, so √v̂ by √(1−β₂ᵗ); "
                "ε̂ = ε·√(1−β₂ᵗ)."),
        Mistake(lambda eps, beta2, t: eps / np.sqrt(1 - beta2**t),
                "you divided by √(1−β₂ᵗ); ε̂ is smaller than ε early on: ε̂ = ε·√(1−β₂ᵗ)."),
        Mistake(lambda eps, beta2, t: eps * np.sqrt(1 - beta2 ** (t - 1)),
                "off by one step: t counts this step from 1, so ε̂ = ε·√(1−β₂ᵗ), not √(1−β₂^(t−1))."),
    ],
)


def check_efficient_eps(fn: Callable) -> CheckResult:
    """Check ``fn(eps, beta2, t)`` -> the ε̂ that makes the efficient form equal Algorithm 1."""
    return check_function(fn, EFFICIENT_EPS_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Notebook 07: the optimizer showdown
# --------------------------------------------------------------------------------------------------

def _output_layer_cases(seed: int = 17) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    cases = []
    for m in (5, 8, 3):
        A2 = np.maximum(rng.normal(size=(2, m)), 0)
        cases.append({"A3": 1 / (1 + np.exp(-rng.normal(size=(1, m)))),
                      "Y": (rng.random((1, m)) > 0.5).astype(float), "A2": A2})
    return cases


def output_layer_backward(A3, Y, A2):
    """The sigmoid + cross-entropy output layer's gradients: dZ3 = (A3 − Y)/m, dW3 = dZ3·A2ᵀ,
    db3 = Σ dZ3 over the examples."""
    dZ3 = (A3 - Y) / Y.shape[1]
    return dZ3 @ A2.T, dZ3.sum(axis=1, keepdims=True)


def _output_layer_with(dZ: Callable) -> Callable:
    def wrong(A3, Y, A2):
        dZ3 = dZ(A3, Y, Y.shape[1])
        return dZ3 @ A2.T, dZ3.sum(axis=1, keepdims=True)
    return wrong


OUTPUT_LAYER_EXERCISE = Exercise(
    name="output_layer_backward",
    cases=_output_layer_cases(),
    expected=output_layer_backward,
    outputs=("dW3", "db3"),
    success="dZ3 = (A3 − Y)/m, dW3 = dZ3·A2ᵀ, db3 = the sum of dZ3 over the examples: the gradient "
            "of the mean cross-entropy.",
    mistakes=[
        Mistake(_output_layer_with(lambda A3, Y, m: A3 - Y),
                "you left out the 1/m: the cost is the mean over the m examples of the batch, so "
                "dZ3 = (A3 − Y)/m. Without it the step grows with the batch size (64 times too "
                "long here; the last batch of 44 gets a different rate from the others)."),
        Mistake(_output_layer_with(lambda A3, Y, m: (Y - A3) / m),
                "the sign is flipped: the derivative of the cross-entropy through the sigmoid is "
                "dZ3 = (A3 − Y)/m (prediction minus label); with Y − A3 gradient descent climbs."),
        Mistake(_output_layer_with(lambda A3, Y, m: (A3 - Y) / m**2),
                "you divided by m twice: once in dZ3 = (A3 − Y)/m is enough; dW3 = dZ3·A2ᵀ "
                "already sums over the examples."),
        Mistake(_output_layer_with(lambda A3, Y, m: (A3 - Y) * A3 * (1 - A3) / m),
                "you multiplied by the sigmoid's derivative A3(1 − A3) again: with the "
                "cross-entropy it cancels, and dZ3 = (A3 − Y)/m. That extra factor is the "
                "gradient of the squared error, which stalls where A3 is near 0 or 1."),
        Mistake(lambda A3, Y, A2: output_layer_backward(A3, Y, A2)[::-1],
                "the values are right but in the wrong order: return (dW3, db3)."),
    ],
)


def check_output_layer_backward(fn: Callable) -> CheckResult:
    """Check ``fn(A3, Y, A2)`` -> (dW3, db3) of the sigmoid + cross-entropy output layer."""
    return check_function(fn, OUTPUT_LAYER_EXERCISE)


def mini_batches(X, Y, batch_size, permutation):
    """The assignment's split: reorder the columns by ``permutation``, cut batches of
    ``batch_size`` and keep the last, smaller one: a list of (X_batch, Y_batch)."""
    Xs, Ys = X[:, permutation], Y[:, permutation]
    return [(Xs[:, start:start + batch_size], Ys[:, start:start + batch_size])
            for start in range(0, X.shape[1], batch_size)]


def _batches_as_numbers(returned: Any) -> np.ndarray:
    """A list of (X_batch, Y_batch) as one array: the batch sizes, then every batch's columns."""
    if not isinstance(returned, (list, tuple)) or not all(isinstance(b, (list, tuple)) and len(b) == 2
                                                          for b in returned):
        raise UnusableAnswer(f"your function returned {_what(returned)}; return a list of "
                             f"(X_batch, Y_batch) pairs")
    parts = [np.vstack([np.asarray(xb, dtype=float), np.asarray(yb, dtype=float)]) for xb, yb in returned]
    sizes = [part.shape[1] for part in parts]
    return np.concatenate([[len(parts)], sizes, np.concatenate(parts, axis=1).ravel() if parts else []])


def _batch_cases(seed: int = 23) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [{"X": rng.normal(size=(2, m)), "Y": (rng.random((1, m)) > 0.5).astype(float),
             "batch_size": size, "permutation": rng.permutation(m)}
            for m, size in ((10, 4), (300, 64), (12, 5))]


MINI_BATCH_EXERCISE = Exercise(
    name="mini_batches",
    cases=_batch_cases(),
    expected=lambda X, Y, batch_size, permutation: _batches_as_numbers(mini_batches(X, Y, batch_size, permutation)),
    run=_batches_as_numbers,
    outputs=("the batch sizes and contents",),
    success="shuffled by the permutation, cut into full batches, and the remainder kept as a last, "
            "smaller batch: every example is seen once per epoch.",
    mistakes=[
        Mistake(lambda X, Y, b, p: mini_batches(X, Y, b, p)[:X.shape[1] // b],
                "you dropped the last, partial batch: with 300 examples and batches of 64, 44 "
                "examples (15 %) are never trained on in that epoch. Keep the remainder as a "
                "smaller last batch."),
        Mistake(lambda X, Y, b, p: mini_batches(X, Y, b, np.arange(X.shape[1])),
                "the batches are not shuffled: you cut X in its stored order. Reorder the columns "
                "by the permutation first (X[:, permutation], and Y the same way)."),
        Mistake(lambda X, Y, b, p: mini_batches(X, Y[:, ::1], b, p) and
                [(xb, yb) for (xb, _), (_, yb) in zip(mini_batches(X, Y, b, p),
                                                      mini_batches(X, Y, b, np.arange(X.shape[1])))],
                "X is shuffled but Y is not: the labels no longer belong to their examples. Apply "
                "the same permutation to both."),
    ],
)


def check_mini_batches(fn: Callable) -> CheckResult:
    """Check ``fn(X, Y, batch_size, permutation)`` -> list of (X_batch, Y_batch), the last one
    possibly smaller."""
    return check_function(fn, MINI_BATCH_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Notebook 05: learning-rate decay
# --------------------------------------------------------------------------------------------------

def _inverse_time(lr0, epoch, decay_rate):
    return lr0 / (1 + decay_rate * epoch)


def _staircase(lr0, epoch, decay_rate, time_interval):
    return lr0 / (1 + decay_rate * np.floor(epoch / time_interval))


UPDATE_LR_EXERCISE = Exercise(
    name="update_lr",
    cases=[{"lr0": lr0, "epoch": epoch, "decay_rate": k}
           for lr0, epoch, k in [(0.5, 2, 1.0), (0.1, 10, 0.3), (0.2, 7, 2.0), (0.05, 0, 0.5), (1.0, 3, 0.25)]],
    expected=_inverse_time,
    outputs=("the learning rate",),
    success="lr = lr0 / (1 + decay_rate·epoch): inverse-time decay (update_lr(0.5, 2, 1) = 0.1666…).",
    mistakes=[
        Mistake(lambda lr0, epoch, k: lr0 * np.exp(-k * epoch),
                "you decayed exponentially, lr0·e^(−k·epoch). The formula is lr0 / (1 + k·epoch), which "
                "falls like 1/epoch, far more slowly (the assignment's name \"exponential decay\" for it "
                "is misleading)."),
        Mistake(lambda lr0, epoch, k: lr0 / (1 + k) ** epoch,
                "you raised (1 + k) to the power epoch: that is exponential decay with γ = 1/(1 + k). "
                "Divide once: lr0 / (1 + k·epoch)."),
        Mistake(lambda lr0, epoch, k: lr0 * k**epoch,
                "you computed k^epoch·lr0, the exponential schedule (ExponentialLR with gamma = k); "
                "inverse-time decay is lr0 / (1 + k·epoch)."),
        Mistake(lambda lr0, epoch, k: lr0 / 1 + k * epoch,
                "the parentheses are missing: lr0 / 1 + k·epoch adds k·epoch to lr0. Write "
                "lr0 / (1 + k·epoch)."),
        Mistake(lambda lr0, epoch, k: lr0 / (1 + k * (epoch + 1)),
                "off by one: epochs count from 0, and at epoch 0 the rate is lr0 itself."),
        Mistake(lambda lr0, epoch, k: lr0 * (1 + k * epoch),
                "you multiplied by (1 + k·epoch), so the rate grows; divide by it."),
    ],
    hints={ZeroDivisionError: "The denominator is 1 + k·epoch, which is never 0 for k ≥ 0."},
)


def check_update_lr(fn: Callable) -> CheckResult:
    """Check ``fn(lr0, epoch, decay_rate)`` -> lr0 / (1 + decay_rate·epoch)."""
    return check_function(fn, UPDATE_LR_EXERCISE)


SCHEDULE_LR_DECAY_EXERCISE = Exercise(
    name="schedule_lr_decay",
    cases=[{"lr0": lr0, "epoch": epoch, "decay_rate": k, "time_interval": interval}
           for lr0, epoch, k, interval in [
               (0.5, 100, 1.0, 100), (0.5, 10, 1.0, 100), (0.3, 1000, 0.25, 100), (0.3, 100, 0.25, 100),
               (0.5, 100, 0.3, 100), (0.5, 250, 1.0, 100), (0.2, 99, 0.5, 100), (0.1, 35, 2.0, 10)]],
    expected=_staircase,
    outputs=("the learning rate",),
    success=("lr = lr0 / (1 + decay_rate·⌊epoch / time_interval⌋): the rate drops only every "
             "time_interval epochs and stays flat in between."),
    mistakes=[
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k * epoch / interval),
                "you forgot the floor: without ⌊epoch / time_interval⌋ the rate falls smoothly instead of "
                "in steps (epoch 250 with interval 100 must count as 2 intervals, not 2.5). Use "
                "np.floor(epoch / time_interval) or epoch // time_interval."),
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k * epoch),
                "you used epoch instead of ⌊epoch / time_interval⌋: that is plain inverse-time decay, "
                "which changes every epoch. The staircase counts whole intervals."),
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k) ** np.floor(epoch / interval),
                "you exponentiated: lr0 / (1 + k)^⌊epoch / interval⌋ multiplies by the same factor at "
                "every stair (that is StepLR with gamma = 1/(1 + k)). The formula divides once: "
                "lr0 / (1 + k·⌊epoch / interval⌋)."),
        Mistake(lambda lr0, epoch, k, interval: lr0 * k ** np.floor(epoch / interval),
                "you computed k^⌊epoch / interval⌋·lr0, a StepLR-style staircase with gamma = k; the "
                "formula is lr0 / (1 + k·⌊epoch / interval⌋)."),
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k * np.round(epoch / interval)),
                "you rounded epoch / time_interval to the nearest integer; the staircase takes the floor "
                "(epoch 99 with interval 100 is still in stair 0)."),
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k * np.ceil(epoch / interval)),
                "you took the ceiling of epoch / time_interval; take the floor (epoch 10 with interval "
                "100 is still in stair 0, so the rate is lr0)."),
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k * np.floor(interval / epoch)) if epoch else lr0,
                "epoch and time_interval are swapped: count the intervals with ⌊epoch / time_interval⌋."),
    ],
    hints={ZeroDivisionError: "Divide the epoch by time_interval (never 0), not the other way round."},
)


def check_schedule_lr_decay(fn: Callable) -> CheckResult:
    """Check ``fn(lr0, epoch, decay_rate, time_interval)`` -> lr0 / (1 + decay_rate·⌊epoch/time_interval⌋)."""
    return check_function(fn, SCHEDULE_LR_DECAY_EXERCISE)


_LAMBDA_EPOCHS = 60
_LAMBDA_BASE_LR = 0.1


def _lambda_lr_sequence(lr_lambda: Any) -> np.ndarray:
    """The rates of epochs 0 … 59 under ``LambdaLR(optimizer with lr 0.1, lr_lambda)``
    (``course_lib.schedules.LambdaLR``, which gives torch's numbers)."""
    import types

    from course_lib.schedules import LambdaLR

    if not callable(lr_lambda):
        raise UnusableAnswer(f"your function returned {_what(lr_lambda)}; return a function of the epoch, "
                             f"e.g. lambda epoch: ...")
    optimizer = types.SimpleNamespace(lr=_LAMBDA_BASE_LR)
    try:
        scheduler = LambdaLR(optimizer, lr_lambda)
        rates = []
        for _ in range(_LAMBDA_EPOCHS):
            rates.append(float(optimizer.lr))
            scheduler.step()
    except Exception as error:  # the learner's lambda may raise anything
        raise UnusableAnswer(f"LambdaLR could not use your lambda: {type(error).__name__}: {error}") from None
    return np.array(rates)


def _staircase_rates(decay_rate, time_interval):
    epochs = np.arange(_LAMBDA_EPOCHS)
    return _LAMBDA_BASE_LR / (1 + decay_rate * (epochs // time_interval))


STAIRCASE_LAMBDA_EXERCISE = Exercise(
    name="staircase_lambda",
    cases=[{"decay_rate": k, "time_interval": interval} for k, interval in [(1.0, 10), (0.25, 7), (3.0, 20)]],
    expected=_staircase_rates,
    run=_lambda_lr_sequence,
    outputs=(f"the learning rates of epochs 0 … {_LAMBDA_EPOCHS - 1} (base lr {_LAMBDA_BASE_LR})",),
    success=("LambdaLR(optimizer, lambda epoch: 1 / (1 + k·(epoch // interval))) is the staircase: LambdaLR "
             "multiplies the base lr by what the lambda returns."),
    mistakes=[
        Mistake(lambda k, interval: (lambda epoch: _LAMBDA_BASE_LR / (1 + k * (epoch // interval))),
                "your lambda returns the learning rate itself; LambdaLR multiplies the base lr by what the "
                "lambda returns, so return the factor 1 / (1 + k·(epoch // interval)) (lr0 is applied "
                "twice otherwise)."),
        Mistake(lambda k, interval: (lambda epoch: 1 / (1 + k * epoch / interval)),
                "you forgot the floor: use epoch // interval so that the factor changes only every "
                "interval epochs."),
        Mistake(lambda k, interval: (lambda epoch: 1 / (1 + k * epoch)),
                "your factor changes every epoch: that is inverse-time decay. Count whole intervals: "
                "1 / (1 + k·(epoch // interval))."),
        Mistake(lambda k, interval: (lambda epoch: (1 / (1 + k)) ** (epoch // interval)),
                "(1/(1 + k))^(epoch // interval) is what StepLR(step_size=interval, gamma=1/(1 + k)) "
                "does: it multiplies at every stair. The staircase divides once: 1 / (1 + k·(epoch // interval))."),
        Mistake(lambda k, interval: (lambda epoch: 1 / (1 + k * ((epoch + 1) // interval))),
                "off by one: LambdaLR calls the lambda with epochs 0, 1, 2, … so the first drop comes at "
                "epoch = interval; you used epoch + 1."),
    ],
)


def check_staircase_lambda(fn: Callable) -> CheckResult:
    """Check ``fn(decay_rate, time_interval)`` -> an ``lr_lambda`` for which ``LambdaLR`` gives the
    staircase lr0 / (1 + k·⌊epoch / interval⌋) over 60 epochs."""
    return check_function(fn, STAIRCASE_LAMBDA_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Notebook 10: putting it together
# --------------------------------------------------------------------------------------------------

def warmup_cosine_reference(step, peak_lr, warmup_steps, total_steps, eta_min):
    """The rate of step s (from 0): peak·(s+1)/W during the warm-up (s < W), then a cosine that is
    at the peak at s = W and at eta_min at the last step, s = total_steps − 1."""
    from course_lib.recipe import warmup_cosine
    return warmup_cosine(step, peak_lr, warmup_steps, total_steps, eta_min)


def _schedule_with(ramp: Callable, cosine: Callable) -> Callable:
    """A per-step schedule made of a warm-up ``ramp(s, peak, W)`` and a decay ``cosine(s, peak, W, T, eta)``
    (the known wrong versions below differ from the reference in one of the two)."""
    def lr(step, peak_lr, warmup_steps, total_steps, eta_min):
        if step < warmup_steps:
            return ramp(step, peak_lr, warmup_steps)
        return cosine(step, peak_lr, warmup_steps, total_steps, eta_min)
    return lr


def _right_ramp(s, peak, W):
    return peak * (s + 1) / W


def _cosine_of(progress: Callable, low: Callable = lambda peak, eta: eta, high: Callable = lambda peak, eta: peak) -> Callable:
    def cosine(s, peak, W, T, eta):
        top, bottom = high(peak, eta), low(peak, eta)
        return bottom + (top - bottom) * (1 + np.cos(np.pi * progress(s, W, T))) / 2
    return cosine


_RIGHT_COSINE = _cosine_of(lambda s, W, T: (s - W) / (T - W - 1))


def _schedule_sequence(fn: Callable) -> Callable:
    """The learner's per-step function as the whole sequence of rates of a case."""
    def sequence(peak_lr, warmup_steps, total_steps, eta_min):
        return [fn(s, peak_lr, warmup_steps, total_steps, eta_min) for s in range(total_steps)]
    return sequence


_WARMUP_COSINE_CASES = [
    {"peak_lr": 0.1, "warmup_steps": 5, "total_steps": 20, "eta_min": 0.001},
    {"peak_lr": 3e-3, "warmup_steps": 10, "total_steps": 50, "eta_min": 1e-4},
    {"peak_lr": 1.0, "warmup_steps": 1, "total_steps": 8, "eta_min": 0.0},
    {"peak_lr": 0.5, "warmup_steps": 0, "total_steps": 12, "eta_min": 0.05},
]

WARMUP_COSINE_EXERCISE = Exercise(
    name="warmup_cosine_lr",
    cases=_WARMUP_COSINE_CASES,
    expected=_schedule_sequence(warmup_cosine_reference),
    outputs=("the rates of steps 0 … total_steps − 1",),
    success=("peak/W on the first step, the peak at the end of the warm-up, and a cosine that lands "
             "exactly on eta_min at the last step: the same rates as LambdaLR or torch's "
             "SequentialLR(LinearLR, CosineAnnealingLR)."),
    mistakes=[
        Mistake(_schedule_sequence(_schedule_with(lambda s, peak, W: peak * s / W, _RIGHT_COSINE)),
                "your warm-up starts at 0: peak·s/W gives the first step a learning rate of 0, a wasted "
                "step, and the last warm-up step only reaches peak·(W−1)/W. Use peak·(s+1)/W: the "
                "first step gets peak/W and step W − 1 the full peak."),
        Mistake(_schedule_sequence(_schedule_with(lambda s, peak, W: peak * (s + 1) / (W + 1), _RIGHT_COSINE)),
                "off by one at the end of the warm-up: peak·(s+1)/(W+1) never reaches the peak (the last "
                "warm-up step gets peak·W/(W+1)). Divide by W, so that step W − 1 is at the peak."),
        Mistake(_schedule_sequence(_schedule_with(_right_ramp, _cosine_of(lambda s, W, T: (s - W + 1) / (T - W)))),
                "off by one at the end of the warm-up: your cosine is already below the peak at step W. "
                "Count the decay's steps from W: progress (s − W)/(T − W − 1), which is 0 at s = W."),
        Mistake(_schedule_sequence(_schedule_with(_right_ramp, _cosine_of(lambda s, W, T: (s - W) / (T - W)))),
                "the cosine does not reach eta_min: with progress (s − W)/(T − W) the last step, "
                "s = T − 1, is still above it. The decay has T − W − 1 steps after its start: divide by "
                "T − W − 1 (CosineAnnealingLR's T_max)."),
        Mistake(_schedule_sequence(_schedule_with(_right_ramp, _cosine_of(lambda s, W, T: s / (T - 1)))),
                "your cosine's clock starts at step 0 instead of at the end of the warm-up, so the decay "
                "starts below the peak. Measure its progress from W: (s − W)/(T − W − 1)."),
        Mistake(_schedule_sequence(_schedule_with(_right_ramp, _cosine_of(lambda s, W, T: (s - W) / (T - W - 1),
                                                                           low=lambda peak, eta: 0.0))),
                "your cosine goes down to 0 and ignores eta_min: use eta_min + (peak − eta_min)·(1 + cos(π·p))/2."),
        Mistake(_schedule_sequence(_schedule_with(_right_ramp, _cosine_of(lambda s, W, T: (s - W) / (T - W - 1),
                                                                           high=lambda peak, eta: peak + eta))),
                "your cosine starts above the peak: eta_min + peak·(1 + cos)/2 adds eta_min on top. "
                "Scale the cosine by (peak − eta_min)."),
    ],
    hints={ZeroDivisionError: "With warmup_steps = 0 there is no warm-up: only use the ramp when step < "
                              "warmup_steps (and the decay then has total_steps − 1 steps)."},
)


def check_warmup_cosine(fn: Callable) -> CheckResult:
    """Check ``fn(step, peak_lr, warmup_steps, total_steps, eta_min)`` -> the rate of that step."""
    if not callable(fn):
        return check_function(fn, WARMUP_COSINE_EXERCISE)
    return check_function(_schedule_sequence(fn), WARMUP_COSINE_EXERCISE)


def amp_step_reference(loss, optimizer, scaler, clip_gradients):
    """One mixed-precision training step in the right order."""
    scaler.scale(loss).backward()      # gradients of S·loss
    scaler.unscale_(optimizer)         # ÷ S: the true gradients (inf/NaN noted)
    clip_gradients()                   # clip the TRUE gradients
    scaler.step(optimizer)             # optimizer.step(), or skip it if inf/NaN was found
    scaler.update()                    # adjust S for the next step


class _RecordedLoss:
    """A loss tensor whose ``backward()`` is written into ``events`` (everything else is the tensor's)."""

    def __init__(self, tensor, events: list, name: str):
        self.tensor, self._events, self._name = tensor, events, name

    def backward(self, *args, **kwargs):
        self._events.append(self._name)
        return self.tensor.backward(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tensor, name)


def _recording_scaler(events: list, inside_step: list):
    import torch

    class RecordingScaler(torch.amp.GradScaler):
        def scale(self, outputs):
            events.append("scaler.scale")
            tensor = outputs.tensor if isinstance(outputs, _RecordedLoss) else outputs
            return _RecordedLoss(super().scale(tensor), events, "scaled_loss.backward")

        def unscale_(self, optimizer):
            events.append("scaler.unscale_")
            return super().unscale_(optimizer)

        def step(self, optimizer, *args, **kwargs):
            events.append("scaler.step")
            inside_step[0] = True
            try:
                return super().step(optimizer, *args, **kwargs)
            finally:
                inside_step[0] = False

        def update(self, new_scale=None):
            events.append("scaler.update")
            return super().update(new_scale)

    return RecordingScaler("cpu", init_scale=2.0**12)


def _amp_run(fn: Callable, seed: int, overflow_at: int | None):
    """Three training steps of a small linear model through ``fn``; what was called, in order,
    and the parameters after. With ``overflow_at``, that step's loss is inf (a step to skip)."""
    import warnings

    import torch

    generator = torch.Generator().manual_seed(seed)
    model = torch.nn.Linear(4, 3)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))
    x, target = torch.randn(16, 4, generator=generator), 5 * torch.randn(16, 3, generator=generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    events, inside_step = [], [False]
    optimizer.register_step_pre_hook(lambda *args: None if inside_step[0] else events.append("optimizer.step"))
    scaler = _recording_scaler(events, inside_step)

    def clip_gradients():
        events.append("clip_gradients")
        return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)

    error = None
    for step in range(3):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), target)
        if step == overflow_at:
            loss = loss * float("inf")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(_RecordedLoss(loss, events, "loss.backward"), optimizer, scaler, clip_gradients)
        except Exception as raised:  # the learner's code may raise anything: report it
            error = raised
            events.append(f"raised {type(raised).__name__}")
            break
        events.append("|")
    params = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()
    return tuple(events), params, error


_AMP_CASES = [(3, None), (4, 1)]
_AMP_STEPS_ORDER = ("scaler.scale(loss).backward() → scaler.unscale_(optimizer) → clip_gradients() → "
                    "scaler.step(optimizer) → scaler.update()")


def _calls(events) -> str:
    first = list(events[:events.index("|")] if "|" in events else events)
    return " → ".join(first)


def _clip_then_unscale(loss, optimizer, scaler, clip_gradients):
    scaler.scale(loss).backward()
    clip_gradients()
    scaler.unscale_(optimizer)
    scaler.step(optimizer)
    scaler.update()


def _no_unscale(loss, optimizer, scaler, clip_gradients):
    scaler.scale(loss).backward()
    clip_gradients()
    scaler.step(optimizer)
    scaler.update()


def _update_before_step(loss, optimizer, scaler, clip_gradients):
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    scaler.update()
    scaler.step(optimizer)


def _optimizer_step_directly(loss, optimizer, scaler, clip_gradients):
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    optimizer.step()
    scaler.update()


def _unscaled_backward(loss, optimizer, scaler, clip_gradients):
    loss.backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    scaler.step(optimizer)
    scaler.update()


def _clip_after_step(loss, optimizer, scaler, clip_gradients):
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    scaler.step(optimizer)
    clip_gradients()
    scaler.update()


def _no_update(loss, optimizer, scaler, clip_gradients):
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    scaler.step(optimizer)


AMP_MISTAKES = [
    Mistake(_clip_then_unscale,
            "you clipped before scaler.unscale_: at that point the gradients are S times too large "
            "(S = 4096 here, 65536 by default), so the threshold cuts them far too hard and the step "
            "comes out up to S times too short. Unscale first, then clip."),
    Mistake(_no_unscale,
            "you clipped without scaler.unscale_: the gradients were still multiplied by the scale S, so "
            "the clipping threshold applied to S·g. Call scaler.unscale_(optimizer) before clipping "
            "(scaler.step will not unscale twice)."),
    Mistake(_update_before_step,
            "you called scaler.update() before scaler.step(optimizer): update closes the step (it "
            "adjusts S and forgets that the gradients were unscaled), so step then unscales them a second "
            "time and the next unscale_ fails. Order: step, then update."),
    Mistake(_optimizer_step_directly,
            "you called optimizer.step() yourself: it also steps when the gradients hold inf/NaN (the "
            "second case has such a step), writing NaN into the weights. scaler.step(optimizer) skips "
            "those steps."),
    Mistake(_unscaled_backward,
            "you called backward() on the unscaled loss: the gradients are then not multiplied by S, "
            "and scaler.unscale_ divides them by S anyway. Backpropagate scaler.scale(loss)."),
    Mistake(_clip_after_step,
            "you clipped after scaler.step: the step was already taken with the unclipped gradients. "
            "Clip between unscale_ and step."),
    Mistake(_no_update,
            "you never called scaler.update(): the scale is not adjusted, and the next step's unscale_ "
            "fails because the previous step was never closed. End every step with scaler.update()."),
]


def check_amp_step(fn: Callable) -> CheckResult:
    """Check ``fn(loss, optimizer, scaler, clip_gradients)``: one training step with a GradScaler,
    run for three steps on a small model (twice: once with a step whose loss overflows to inf)."""
    if not callable(fn):
        return CheckResult(False, f"expected your function `amp_step` itself but got {_what(fn)}: pass "
                                  "the function without calling it.")
    runs = [_amp_run(fn, seed, overflow) for seed, overflow in _AMP_CASES]
    references = [_amp_run(amp_step_reference, seed, overflow) for seed, overflow in _AMP_CASES]
    if all(error is None and np.allclose(params, ref_params, rtol=1e-6, atol=1e-7, equal_nan=True)
           for (_, params, error), (_, ref_params, _) in zip(runs, references)):
        return CheckResult(True, f"the right order, {_AMP_STEPS_ORDER}: the clipping sees the true "
                                 "gradients and a step with inf/NaN is skipped.")
    for mistake in AMP_MISTAKES:
        if all(events == _amp_run(mistake.answer, seed, overflow)[0]
               for (events, _, _), (seed, overflow) in zip(runs, _AMP_CASES)):
            return CheckResult(False, mistake.explanation)
    events, _, error = next(run for run, ref in zip(runs, references)
                            if run[2] is not None or not np.allclose(run[1], ref[1], rtol=1e-6, atol=1e-7, equal_nan=True))
    if error is not None and isinstance(error, NotImplementedError):
        return CheckResult(False, "your function raised NotImplementedError: replace the placeholder with your code.")
    what = f"it raised {type(error).__name__}: {error}" if error is not None else "the weights came out different"
    return CheckResult(False, f"your calls, in order: {_calls(events)}; {what}. The right order is "
                              f"{_AMP_STEPS_ORDER}.")
