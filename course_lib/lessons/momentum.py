"""Notebook 02, gradient descent with momentum: the eigen-analysis of the heavy ball and of Nesterov,
Sutskever et al.'s look-ahead form, momentum on noisy gradients, the explorer of GD beside momentum
on the ill-conditioned bowl, and the exercises (the textbook step, its torch form, Nesterov; a
predicted stability limit; a choice of lr and β for the κ = 400 bowl).

    from course_lib.lessons import momentum as lesson
    lesson.contraction_factor(lr=0.036, momentum=0.7, curvature=[1, 50])   # |z| per direction
    lesson.MomentumExplorer(lr=0.05, beta=0.9)
    lesson.check_momentum_step(my_step)
    lesson.check_alpha_limit(0.5)                    # runs the textbook form at 0.98× and 1.02× of it
    lesson.check_settings({"lr": 0.005, "beta": 0.8})   # runs SGD on the κ = 400 bowl
"""

import functools
from typing import Any, Callable

import ipywidgets
import numpy as np

from course_lib import optim
from course_lib.interactive.checking import (
    check_answer, check_function, CheckResult, describe_value, Exercise, Mistake, Question, UnusableAnswer,
)
from course_lib.interactive.explorer import (bowl_race_artists, check_steps, Explorer, log_slider, log_values,
    lr_slider, show_bowl_race)
from course_lib.lab import plots, runner
from course_lib.lab.landscapes import ill_conditioned_bowl, Landscape
from course_lib.optim import SGD

# --------------------------------------------------------------------------------------------------
# The analysis: one 2×2 iteration per curvature
# --------------------------------------------------------------------------------------------------

def contraction_factor(lr, momentum, curvature, nesterov: bool = False) -> np.ndarray:
    """|z| of the larger root of the iteration along a direction of curvature h: by how much the
    error shrinks per step once the transient is over (> 1: the run diverges).

    Heavy ball (torch's ``SGD(lr, momentum=β)``): z² − (1 + β − lr·h)·z + β = 0.
    Nesterov (``nesterov=True``): z² − (1 + β)(1 − lr·h)·z + β(1 − lr·h) = 0.
    ``momentum=0`` gives gradient descent, |1 − lr·h|. Broadcasts over its arguments.
    """
    a = np.asarray(lr, dtype=float) * np.asarray(curvature, dtype=float)
    beta = np.asarray(momentum, dtype=float)
    if nesterov:
        linear, constant = (1 + beta) * (1 - a), beta * (1 - a)
    else:
        linear, constant = 1 + beta - a, beta + 0 * a
    root = np.sqrt(linear.astype(complex) ** 2 - 4 * constant)
    return np.maximum(np.abs(linear + root), np.abs(linear - root)) / 2


def sutskever_nesterov_path(landscape: Landscape, lr: float, momentum: float, steps: int = 100):
    """Nesterov's accelerated gradient as Sutskever et al. (2013) write it, from v₀ = 0:

        v ← μ·v − lr·∇f(θ + μ·v),   θ ← θ + v.

    Returns (θ path, look-ahead path θ + μ·v), each of shape (steps + 1, 2). torch's
    ``SGD(nesterov=True)`` stores the look-ahead point: its path is the second.
    """
    theta, velocity = np.array(landscape.start, dtype=float), np.zeros(2)
    thetas, lookaheads = [theta.copy()], [theta.copy()]
    for _ in range(steps):
        lookahead = theta + momentum * velocity
        velocity = momentum * velocity - lr * np.stack(landscape.gradient(*lookahead))
        theta = theta + velocity
        thetas.append(theta.copy())
        lookaheads.append(theta + momentum * velocity)
    return np.array(thetas), np.array(lookaheads)


def noisy_bowl_losses(lr: float, momentum: float = 0.0, condition: float = 10.0, noise: float = 1.0,
                      runs: int = 500, steps: int = 1500, seed: int = 0) -> np.ndarray:
    """Losses of ``runs`` independent runs of ``SGD(lr, momentum)`` on the ill-conditioned bowl whose
    gradients carry Gaussian noise of standard deviation ``noise`` per coordinate: shape (runs, steps + 1).

    All runs start at the bowl's start; run r's noise is the r-th column of one seeded draw, so two
    settings with the same seed see the same noise (their difference is the optimizer's alone).
    """
    bowl = ill_conditioned_bowl(condition)
    curvatures = np.array([1.0, float(condition)])
    gradient_noise = noise * np.random.default_rng(seed).normal(size=(steps, runs, 2))
    w = np.tile(np.array(bowl.start, dtype=float), (runs, 1))
    optimizer = SGD([w], lr=lr, momentum=momentum)
    losses = np.empty((runs, steps + 1))
    losses[:, 0] = 0.5 * (curvatures * w**2).sum(axis=1)
    for step in range(steps):
        optimizer.step([curvatures * w + gradient_noise[step]])
        losses[:, step + 1] = 0.5 * (curvatures * w**2).sum(axis=1)
    return losses


def plot_race(bowl: Landscape, results: dict, colors: dict | None = None):
    """``plots.plot_runs`` with one legend (on the loss panel, where it covers no path) and the
    colours in ``colors`` (label → colour) for runs the course colours do not tell apart."""
    figure = plots.plot_runs(bowl, results)
    for ax in figure.axes:
        for line in ax.get_lines():
            if colors and line.get_label() in colors:
                line.set_color(colors[line.get_label()])
    figure.axes[0].get_legend().remove()
    figure.axes[1].legend(loc="best")
    return figure


# --------------------------------------------------------------------------------------------------
# The explorer
# --------------------------------------------------------------------------------------------------

class MomentumExplorer(Explorer):
    """Gradient descent beside momentum (or Nesterov) on the ill-conditioned bowl.

    Controls: lr, β, the condition number κ and a Nesterov toggle. Momentum is torch's form,
    ``SGD(lr, momentum=β)``, which is the textbook v = βv + (1 − β)g with step α = lr/(1 − β).
    """

    def __init__(self, lr: float = 0.05, beta: float = 0.9, condition: float = 10.0,
                 nesterov: bool = False, steps: int = 100):
        self.steps = check_steps(steps)
        super().__init__({
            "lr": lr_slider(1e-3, 1),
            "beta": ipywidgets.FloatSlider(min=0.0, max=0.99, step=0.01, description="β"),
            "condition": log_slider("κ", log_values(1, 100)),
            "nesterov": ipywidgets.Checkbox(description="Nesterov"),
        })
        self._assign({"lr": lr, "beta": beta, "condition": condition, "nesterov": nesterov})
        contours, losses = self.axes
        self._unit_ellipses, self._ellipses, self._lines = bowl_race_artists(contours, losses, ("GD", "momentum"),
                                                                             self.steps)
        self._foreground(self._ellipses, contours.title, *(artist for run in self._lines for artist in run))
        self.update()
        self._freeze_layout()

    def update(self) -> None:
        lr, beta, condition, nesterov = (self.setting[key] for key in ("lr", "beta", "condition", "nesterov"))
        bowl = ill_conditioned_bowl(condition)
        variant = "Nesterov" if nesterov else "momentum"
        # With β = 0 both momentum forms are plain GD (and torch refuses Nesterov without momentum).
        momentum = runner.named_optimizer(variant, lr, momentum=beta) if beta > 0 else runner.named_optimizer("GD", lr)
        self.results = {
            "GD": runner.run(bowl, runner.named_optimizer("GD", lr), steps=self.steps),
            f"{variant} β = {beta:.2f}": runner.run(bowl, momentum, steps=self.steps),
        }
        show_bowl_race(self, bowl, condition)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}


# --------------------------------------------------------------------------------------------------
# The exercises
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
    hint="first fold the new gradient into the average v (notebook 01's recursion), then move w "
         "against the new v.",
    updates=("w", "v"),
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
        Mistake(lambda w, v, grad, lr, beta: (w - lr * (beta * v + (1 - beta) * w), beta * v + (1 - beta) * w),
                "you averaged the weights: momentum averages the gradients only, v = β·v + (1−β)·grad; "
                "w enters only through the gradient."),
        Mistake(lambda w, v, grad, lr, beta: (w + lr * (beta * v + (1 - beta) * grad), beta * v + (1 - beta) * grad),
                "v_new is right, but w moved uphill: the step goes against the velocity, w_new = w − lr·v_new."),
        Mistake(lambda w, v, grad, lr, beta: (w + beta * v - lr * grad, beta * v - lr * grad),
                "that is Sutskever et al.'s form (v = β·v − lr·g, then w + v). The textbook form averages the "
                "gradients, v = β·v + (1−β)·g, then steps to w − lr·v."),
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
        raise UnusableAnswer(f"your function returned {describe_value(sgd_arguments)}; return a dict such "
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
    success=f"SGD(lr=α(1−β), momentum=β) follows the textbook path all {_STEPS} steps; its buffer is v/(1−β).",
    hint="compare torch's buffer with the textbook v (see \"The exact mapping\"): by what factor do "
         "they differ, and which argument of SGD can make up for it?",
    mistakes=[
        Mistake(lambda alpha, beta: {"lr": alpha, "momentum": beta, "dampening": beta},
                "with dampening=β torch's first buffer is still the undamped gradient, b_1 = g, so your "
                "first step is 1/(1−β) times too long. Use lr = α(1−β) and dampening 0."),
        Mistake(lambda alpha, beta: {"lr": alpha * (1 - beta), "momentum": beta, "dampening": beta},
                "you applied (1−β) twice, in lr and through dampening=β: drop dampening; lr = α(1−β) "
                "alone makes up for torch's undamped buffer."),
        Mistake(lambda alpha, beta: {"lr": alpha, "momentum": beta},
                "lr=α makes every step 1/(1−β) times too long: torch's buffer b = β·b + g is the "
                "textbook v divided by (1−β). Use lr = α(1−β), momentum = β."),
        Mistake(lambda alpha, beta: {"lr": alpha / (1 - beta), "momentum": beta},
                "you divided by (1−β): torch's buffer is already 1/(1−β) times the textbook v, so "
                "multiply instead, lr = α(1−β)."),
        Mistake(lambda alpha, beta: {"lr": alpha * (1 - beta)},
                "without momentum=β, SGD is plain gradient descent: add momentum=β to lr = α(1−β)."),
        Mistake(lambda alpha, beta: {"lr": alpha * (1 - beta), "momentum": 1 - beta},
                "momentum is β, the weight that keeps the old buffer, not 1−β: use "
                "lr = α(1−β), momentum = β."),
        Mistake(lambda alpha, beta: {"lr": alpha * (1 - beta), "momentum": beta, "nesterov": True},
                "nesterov=True steps along g + β·b, a look-ahead the textbook form does not take: "
                "leave nesterov False."),
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
    hint="first update torch's buffer b with the new gradient, then step along the direction shown "
         "in \"The code\" (nesterov_direction).",
    updates=("w", "b"),
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
# Predict, then run: the largest stable α of the textbook form
# --------------------------------------------------------------------------------------------------

LIMIT_BETA, LIMIT_CONDITION, LIMIT_STEPS = 0.9, 50.0, 300
TARGET_LOSS = 1e-6


def alpha_limit(beta: float, curvature: float) -> float:
    """The largest stable step α of the textbook form: with lr = α(1−β), the heavy ball's
    lr < 2(1+β)/h becomes α < 2(1+β)/((1−β)·h)."""
    return 2 * (1 + beta) / ((1 - beta) * curvature)


def textbook_run(alpha: float, beta: float = LIMIT_BETA, condition: float = LIMIT_CONDITION,
                 steps: int = LIMIT_STEPS) -> runner.RunResult:
    """The textbook form (α, β) on the κ bowl, run as ``SGD(lr=α(1−β), momentum=β)`` (the exact mapping)."""
    bowl = ill_conditioned_bowl(condition)
    return runner.run(bowl, runner.named_optimizer("momentum", alpha * (1 - beta), momentum=beta), steps=steps)


def first_step_below(result: runner.RunResult, target: float = TARGET_LOSS) -> int | None:
    """The first step whose loss is at most ``target`` (None if none)."""
    below = np.flatnonzero(result.losses <= target)
    return int(below[0]) if below.size else None


def _what_it_did(result: runner.RunResult) -> str:
    """'loss 1e-6 at step k', 'diverged at step k', or the loss at the last step (and whether it grew)."""
    if result.diverged_at is not None:
        return f"diverged at step {result.diverged_at}"
    reached = first_step_below(result)
    if reached is not None:
        return f"loss 1e-6 at step {reached}"
    if result.losses[-1] > result.losses[0]:
        return f"loss grew to {result.losses[-1]:.2g} by step {len(result.losses) - 1}"
    return f"loss {result.losses[-1]:.2g} at step {len(result.losses) - 1}"


def _converges(result: runner.RunResult) -> bool:
    """Whether the run's loss went down: it did not diverge and ends no higher than it started.

    Just below the limit the steep direction's two real roots are close and the loss first grows
    for a while, so a 300-step run counts as converging up to about 0.9997 times the limit."""
    return result.diverged_at is None and result.losses[-1] <= result.losses[0]


def _judge_alpha_limit(alpha: float) -> CheckResult:
    """Run the textbook form at 0.98 and 1.02 times the learner's α on the κ = 50 bowl; right when the
    first run converges and the second does not (the learner's α within about 2 % of the limit)."""
    beta, kappa = LIMIT_BETA, LIMIT_CONDITION
    if alpha <= 0:
        return CheckResult(False, f"α is a step size, a positive number, not {alpha:g}: how large can it "
                                  f"get before the run on the κ = {kappa:g} bowl diverges?")
    limit = alpha_limit(beta, kappa)
    below, above = textbook_run(0.98 * alpha), textbook_run(1.02 * alpha)
    runs = f"at 0.98 × your α: {_what_it_did(below)}; at 1.02 ×: {_what_it_did(above)}.\n"
    if _converges(below) and not _converges(above):
        # neither the limit nor the learner's α is printed: the solution's output shows under the question
        return CheckResult(True, f"{runs}Your α is at the edge: its lr = α(1−β) sits at the heavy ball's "
                                 f"limit 2(1+β)/κ on the steep axis.")
    nesterov = 2 * (1 + beta) / ((1 + 2 * beta) * (1 - beta) * kappa)
    known = [(2 / kappa, f"{2 / kappa:g} is GD's limit 2/κ; momentum's averaged steps can be longer."),
             (limit * (1 - beta), "that is the limit on torch's lr = α(1−β); α itself is 1/(1−β) times "
                                  "larger."),
             (limit * (1 - beta) ** 2, "you multiplied torch's limit on lr by (1−β); since lr = α(1−β), "
                                       "α = lr/(1−β): divide instead."),
             (2 / ((1 - beta) * kappa), "you scaled GD's 2/κ by 1/(1−β), but the heavy ball's limit on lr "
                                        "has a factor (1+β) too."),
             (nesterov, "that is Nesterov's limit; the textbook form is the heavy ball, whose limit on lr "
                        "is 2(1+β)/κ."),
             (alpha_limit(beta, 1.0), f"you used the flat curvature 1; the steep one, κ = {kappa:g}, sets "
                                      f"the limit.")]
    for value, explanation in known:
        if 0.98 * alpha <= value <= 1.02 * alpha:
            return CheckResult(False, runs + explanation[0].upper() + explanation[1:])
    direction = "higher" if _converges(above) else "lower"
    return CheckResult(False, f"{runs}The limit is {direction}: turn α into torch's lr, then use the heavy "
                              f"ball's limit (Pitfalls).")


ALPHA_LIMIT_QUESTION = Question(
    name="my_alpha_limit",
    fields=("alpha",),
    hint="exercise 2 turns α into torch's lr; the Pitfalls give the heavy ball's limit on lr for "
         "the steepest curvature.",
    judge=_judge_alpha_limit,
)


def check_alpha_limit(answer) -> CheckResult:
    """Check a prediction: the largest α at which the textbook form with β = 0.9 converges on the
    κ = 50 bowl. The check runs it at 0.98 and 1.02 times the answer and reports what each run did."""
    return check_answer(answer, ALPHA_LIMIT_QUESTION)


# --------------------------------------------------------------------------------------------------
# Choose: lr and β that reach loss 1e-6 within 200 steps on the κ = 400 bowl
# --------------------------------------------------------------------------------------------------

SETTINGS_CONDITION, SETTINGS_STEPS = 400.0, 200
ADVICE_HOLD, ADVICE_CEILING = 20, 1e-5  # a suggested change keeps its loss below 1e-5 over the last 20 steps


def settings_run(lr: float, beta: float, steps: int = SETTINGS_STEPS) -> runner.RunResult:
    """``SGD(lr, momentum=β)`` on the κ = 400 bowl from its start."""
    return runner.run(ill_conditioned_bowl(SETTINGS_CONDITION), runner.named_optimizer("momentum", lr, momentum=beta),
                      steps=steps)


@functools.cache
def gradient_descent_steps(condition: float = SETTINGS_CONDITION) -> int:
    """The steps gradient descent needs at its best lr, 2/(1 + κ), to reach loss 1e-6: its loss
    shrinks by ((κ−1)/(κ+1))² per step, so about ln(f₀/1e-6) / (2 ln((κ+1)/(κ−1))) of them."""
    bowl = ill_conditioned_bowl(condition)
    rate = (condition - 1) / (condition + 1)
    predicted = np.log(TARGET_LOSS / bowl.value(*bowl.start)) / (2 * np.log(rate))
    result = runner.run(bowl, runner.named_optimizer("GD", 2 / (1 + condition)), steps=int(1.1 * predicted) + 10)
    return first_step_below(result)


def _settings_limit(beta: float) -> float:
    """The heavy ball's largest stable lr on the κ = 400 bowl: 2(1+β)/κ (z = −1 across the valley)."""
    return 2 * (1 + beta) / SETTINGS_CONDITION


def settings_losses(lr, beta, steps: int = SETTINGS_STEPS) -> np.ndarray:
    """The losses of many runs of SGD(lr, momentum=β) on the κ = 400 bowl at once (lr and β broadcast
    together): shape (*pairs, steps + 1). It is SGD's own step, ``optim.momentum_buffer_`` and
    ``optim.descend_`` applied to arrays of lr and β; the lesson's tests check it against ``settings_run``."""
    lrs, betas = np.broadcast_arrays(np.asarray(lr, dtype=float), np.asarray(beta, dtype=float))
    shape, lrs, betas = lrs.shape, lrs.reshape(-1, 1), betas.reshape(-1, 1)
    bowl = ill_conditioned_bowl(SETTINGS_CONDITION)
    theta = np.tile(np.array(bowl.start, dtype=float), (lrs.size, 1))
    buffer, losses = None, np.empty((lrs.size, steps + 1))
    with np.errstate(all="ignore"):
        losses[:, 0] = bowl.value(theta[:, 0], theta[:, 1])
        for step in range(1, steps + 1):
            grad = np.stack(bowl.gradient(theta[:, 0], theta[:, 1]), axis=1)
            # torch's first buffer is the gradient itself, b₁ = g₁, as in SGD
            buffer = grad.copy() if buffer is None else optim.momentum_buffer_(buffer, grad, betas, 0)
            optim.descend_(theta, buffer, lrs)
            losses[:, step] = bowl.value(theta[:, 0], theta[:, 1])
    return losses.reshape(shape + (steps + 1,))


def _what_would_work(lr: float, beta: float) -> str:
    """Which single change of lr or β gets there with a margin, found by running them (80 lrs up to the
    limit at this β; β = 0, 0.01, …, 0.98 at this lr). A change counts when its run reaches 1e-6 and
    stays below 1e-5 over the last 20 of the 200 steps: a spiralling run whose loss only dips below 1e-6
    by luck of its phase (β ≈ 0.92) is not suggested."""
    lrs = np.geomspace(1e-4, _settings_limit(beta), 80, endpoint=False)
    betas = np.round(np.arange(0.0, 0.985, 0.01), 2)
    losses = settings_losses(np.concatenate([lrs, np.full(betas.size, lr)]),
                             np.concatenate([np.full(lrs.size, beta), betas]))
    settled = (losses <= TARGET_LOSS).any(axis=1) & (losses[:, -ADVICE_HOLD:] <= ADVICE_CEILING).all(axis=1)
    by_lr, by_beta = settled[:lrs.size], settled[lrs.size:]
    changes = {"a larger lr": (by_lr & (lrs > lr)).any(), "a smaller lr": (by_lr & (lrs < lr)).any(),
               "a larger β": (by_beta & (betas > beta)).any(), "a smaller β": (by_beta & (betas < beta)).any()}
    if changes["a larger lr"] and changes["a smaller lr"]:
        changes = {"another lr": True, "a larger β": changes["a larger β"], "a smaller β": changes["a smaller β"]}
    found = [name for name, works in changes.items() if works]
    if not found:
        return "Change lr and β together (the section on κ)."
    return "Try " + " or ".join(found) + "."


def _why_it_works(lr: float, beta: float) -> str:
    """How the error shrinks along the valley (curvature 1) and across it (curvature κ): a curvature
    in the complex window (1−√β)² < lr·h < (1+√β)² spirals in at √β per step; outside it the two roots
    are real, positive below the window (the error shrinks straight) and negative above (it bounces)."""
    def how(h: float) -> str:
        if beta > 0 and np.isclose(contraction_factor(lr, beta, h), np.sqrt(beta), rtol=1e-9, atol=0):
            return "spirals in at √β per step"
        return "shrinks straight" if lr * h < 1 + beta else "bounces in"

    along, across = how(1.0), how(SETTINGS_CONDITION)
    if along == across == "spirals in at √β per step":
        return "both curvatures lie in the complex window, where the error spirals in at √β per step."
    return f"the error {along} along the valley and {across} across it."


def _judge_settings(lr: float, beta: float) -> CheckResult:
    """Run the learner's (lr, β) for 200 steps on the κ = 400 bowl and say how far it got, why, and
    which single change of lr or β would get there (found by running those too)."""
    kappa, steps = SETTINGS_CONDITION, SETTINGS_STEPS
    result = settings_run(lr, beta)
    reached = first_step_below(result)
    if reached is not None:  # lr and β are not printed: the solution's output shows under the question
        return CheckResult(True, f"with your lr and β the loss reached 1e-6 at step {reached} of {steps} "
                                 f"(GD at its best lr: step {gradient_descent_steps()}): {_why_it_works(lr, beta)}")
    if beta >= 1:
        return CheckResult(False, f"with β = {beta:g} the run never settles: β ≥ 1 never forgets a gradient. "
                                  f"Pick β below 1.")
    limit, start, final = _settings_limit(beta), result.losses[0], result.losses[-1]
    if result.diverged_at is not None or lr >= limit * (1 - 1e-9):  # on the limit itself, |z| = 1
        what = (f"diverged at step {result.diverged_at}" if result.diverged_at is not None
                else f"grew to loss {final:.1e}" if final > start else f"is still at loss {final:.1e}")
        return CheckResult(False, f"the run {what}: across the valley (curvature {kappa:g}) it needs "
                                  f"lr < 2(1+β)/{kappa:g} = {limit:.3g}.")
    along, across = contraction_factor(lr, beta, [1.0, kappa])
    where = (f"the loss grew to {final:.1e} in {steps} steps" if final > start
             else f"the loss is still {final:.1e} after {steps} steps")
    if beta > 0 and np.allclose([along, across], np.sqrt(beta), rtol=1e-9):
        why = f"both directions spiral in at only √β = {along:.3f} per step"
    elif along >= across:
        why = f"along the valley (curvature 1) the error shrinks only by {along:.3f} per step"
    else:
        why = f"across the valley the error shrinks only by {across:.3f} per step (lr is near its limit {limit:.3g})"
    return CheckResult(False, f"{where}: {why}. {_what_would_work(lr, beta)}")


SETTINGS_QUESTION = Question(
    name="my_settings",
    fields=("lr", "beta"),
    hint="the section on κ gives the best β and lr for curvatures 1 to κ; keep lr a little below "
         "the heavy ball's limit.",
    judge=_judge_settings,
)


def check_settings(answer) -> CheckResult:
    """Check a choice ``{"lr": ..., "beta": ...}`` for ``SGD(lr, momentum=β)`` on the κ = 400 bowl: the
    loss must reach 1e-6 within 200 steps. The check runs it and reports how far it got."""
    return check_answer(answer, SETTINGS_QUESTION)
