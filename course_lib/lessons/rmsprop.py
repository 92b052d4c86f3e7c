"""Notebook 03, RMSprop: the step lengths of Adagrad, its ancestor, and of RMSprop on a stream of
gradients, the explorer of GD beside RMSprop on the ill-conditioned bowl (with each coordinate's
effective rate), and the exercises (the loop, when the long first steps settle, which of three runs
is RMSprop, torch's full step). RMSprop's decay ρ
is torch's argument ``alpha``.

    from course_lib.lessons import rmsprop as lesson
    lesson.step_lengths(np.ones(1000), "Adagrad")
    lesson.RMSpropExplorer(lr=0.05, alpha=0.99)
    lesson.check_rmsprop(my_rmsprop)
    lesson.check_settling_step(175)
    lesson.plot_three_runs(); lesson.check_which_is_rmsprop("C")
"""

from typing import Any, Callable

import ipywidgets
import matplotlib
import numpy as np

from course_lib import averages, optim
from course_lib.interactive.checking import (check_answer, check_function, CheckResult, Exercise, Mistake,
                                             Question)
from course_lib.interactive.explorer import (AXIS_KEEP_SHARE, bowl_race_artists, check_steps, decay_rates, Explorer,
    HALF_DECADES, log_slider, log_values, lr_slider, show_bowl_race)
from course_lib.lab import plots, runner
from course_lib.lab.landscapes import ill_conditioned_bowl

# --------------------------------------------------------------------------------------------------
# Adagrad, RMSprop's ancestor, beside RMSprop
# --------------------------------------------------------------------------------------------------

def step_lengths(grads, optimizer: str = "RMSprop", **settings) -> np.ndarray:
    """|w_t − w_{t−1}| / lr for t = 1..T of one weight fed the gradients ``grads`` (one per step) by
    ``optimizer`` ("Adagrad" or "RMSprop", with torch's settings); lr is 1 unless given."""
    if optimizer not in ("Adagrad", "RMSprop"):
        raise ValueError(f"optimizer must be 'Adagrad' or 'RMSprop', got {optimizer!r}")
    settings = {"lr": 1.0, **settings}
    w = np.zeros(1)
    stepper = getattr(optim, optimizer)([w], **settings)
    lengths = np.empty(len(grads))
    for t, grad in enumerate(np.asarray(grads, dtype=float)):
        before = w[0]
        stepper.step([np.array([grad])])
        lengths[t] = abs(w[0] - before)
    return lengths / settings["lr"]


# --------------------------------------------------------------------------------------------------
# The explorer
# --------------------------------------------------------------------------------------------------

class RMSpropExplorer(Explorer):
    """Gradient descent beside ``RMSprop`` on the ill-conditioned bowl, both with the same lr.

    Controls: lr, ρ (torch's ``alpha``), ε, momentum, centered and the condition number κ. The third
    panel shows RMSprop's per-coordinate learning rate lr/(√v + ε) for x (shallow) and y (steep)
    beside GD's single lr. GD diverges once lr > 2/κ; RMSprop's path does not depend on κ (up to ε),
    because dividing by the root mean square of each coordinate's gradient cancels its scale. A run
    that diverges is drawn until it leaves the frame, and the frame says at which step it left.
    """

    def __init__(self, lr: float = 0.05, alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0,
                 centered: bool = False, condition: float = 50.0, steps: int = 100):
        self.steps = check_steps(steps)
        super().__init__({
            "lr": lr_slider(1e-3, 1),
            "alpha": log_slider("ρ (alpha)", decay_rates(0.0, 0.999), label="g"),
            "eps": log_slider("ε", log_values(1e-10, 10, HALF_DECADES)),
            "momentum": ipywidgets.FloatSlider(min=0.0, max=0.99, step=0.01, description="momentum"),
            "centered": ipywidgets.Checkbox(description="centered"),
            "condition": log_slider("κ", log_values(1, 1000)),
        }, ncols=3)
        self._assign({"lr": lr, "alpha": alpha, "eps": eps, "momentum": momentum, "centered": centered,
                      "condition": condition})
        contours, losses, rates = self.axes
        self._unit_ellipses, self._ellipses, self._lines = bowl_race_artists(contours, losses, ("GD", "RMSprop"),
                                                                             self.steps)
        color = plots.OPTIMIZER_COLORS["RMSprop"]
        (self._gd_rate,) = rates.plot([], [], ":", color=plots.OPTIMIZER_COLORS["GD"], label="GD: lr (both)")
        self._rates = [rates.plot([], [], style, color=color, label=f"RMSprop, {name}")[0]
                       for style, name in (("-", "x (shallow)"), ("--", "y (steep)"))]
        rates.set_yscale("log")
        rates.set(xlim=(0, self.steps), xlabel="step", title="learning rate per coordinate, lr/(√v + ε)")
        rates.legend(loc="lower right")
        self._left_frame = contours.text(0.02, 0.03, "", transform=contours.transAxes, ha="left", va="bottom",
                                         color=plots.OPTIMIZER_COLORS["GD"],
                                         bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})
        self._foreground(self._ellipses, contours.title, *(artist for run in self._lines for artist in run),
                         self._gd_rate, *self._rates, self._left_frame)
        self.update()
        self._freeze_layout()

    def update(self) -> None:
        lr, alpha, eps, momentum, centered, condition = (
            self.setting[key] for key in ("lr", "alpha", "eps", "momentum", "centered", "condition"))
        bowl = ill_conditioned_bowl(condition)
        label = f"RMSprop ρ = {alpha:g}" + (f", μ = {momentum:.2f}" if momentum > 0 else "") + (
            ", centered" if centered else "")
        rmsprop = runner.named_optimizer("RMSprop", lr, alpha=alpha, eps=eps, momentum=momentum, centered=centered)
        self.results = {"GD": runner.run(bowl, runner.named_optimizer("GD", lr), steps=self.steps),
                        label: runner.run(bowl, rmsprop, steps=self.steps)}
        show_bowl_race(self, bowl, condition)
        self._draw_diverged_runs_until_they_leave(bowl)
        self.rates = _rmsprop_rates(bowl, self.results[label].path, lr, alpha, eps, centered)
        steps = np.arange(1, self.steps + 1)
        for line, rate in zip(self._rates, self.rates.T):
            line.set_data(steps, rate)
        self._gd_rate.set_data([0, self.steps], [lr, lr])
        plots.fit_loss_limits(self.axes[2], [self.rates.ravel(), np.array([lr])],
                              keep_share=AXIS_KEEP_SHARE)
        self.canvas.draw_idle()

    def _draw_diverged_runs_until_they_leave(self, bowl) -> None:
        """A diverging path jumps across the whole frame at every step; drawn in full, its lines fill
        the frame like a block. Draw it up to its first point outside the frame and say when that was."""
        notes = []
        for (path_line, _, _), (name, result) in zip(self._lines, self.results.items()):
            if result.diverged_at is None:
                continue
            left = first_step_outside(result.path, bowl.extent)
            path_line.set_data(result.path[:left + 1, 0], result.path[:left + 1, 1])
            notes.append(f"{name.split(' ')[0]} leaves the frame at step {left}")
        self._left_frame.set_text("; ".join(notes))

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}


def first_step_outside(path: np.ndarray, extent) -> int:
    """The first step k at which ``path[k]`` (rows (x, y)) is outside ``extent`` = (x_min, x_max,
    y_min, y_max) or not finite; len(path) − 1 if it never is."""
    x_min, x_max, y_min, y_max = extent
    with np.errstate(invalid="ignore"):
        inside = (path[:, 0] >= x_min) & (path[:, 0] <= x_max) & (path[:, 1] >= y_min) & (path[:, 1] <= y_max)
    return int(np.argmin(inside)) if not inside.all() else len(path) - 1


def _rmsprop_rates(bowl, path: np.ndarray, lr: float, alpha: float, eps: float, centered: bool) -> np.ndarray:
    """lr/(√v_t + ε) per coordinate at steps t = 1..T of an RMSprop run along ``path`` (shape (T+1, 2)):
    v is the EWA of the squared gradients at the points it stepped from (minus the squared EWA of
    the gradients when centered); NaN once the run has diverged."""
    grads = np.stack(bowl.gradient(path[:-1, 0], path[:-1, 1]), axis=-1)
    with np.errstate(all="ignore"):
        square_avg = averages.ewa(np.nan_to_num(grads * grads, nan=np.inf), alpha)
        if centered:
            square_avg = square_avg - averages.ewa(np.nan_to_num(grads, nan=0.0), alpha) ** 2
        rates = lr / (np.sqrt(square_avg) + eps)
    rates[~np.isfinite(path[1:]).all(axis=1)] = np.nan
    return rates


# --------------------------------------------------------------------------------------------------
# The exercises
# --------------------------------------------------------------------------------------------------

def rmsprop_path(w, grads, lr, alpha, eps):
    """torch's RMSprop from v_0 = 0, fed ``grads`` one row per step: v ← ρ·v + (1−ρ)·g² (ρ = ``alpha``),
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


def _rmsprop_stepping_before_the_average(w, grads, lr, alpha, eps):
    """The loop that steps with the previous v and only then adds g² to it."""
    w = np.array(w, dtype=float)
    v, rows = np.zeros_like(w), []
    for g in np.asarray(grads, dtype=float):
        w = w - lr * g / (np.sqrt(v) + eps)
        v = alpha * v + (1 - alpha) * g * g
        rows.append(w)
    return np.array(rows)


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

# ``w`` is not in ``updates``: it is the caller's start, and the answer is the path it returns. A
# loop that runs ``w -= …`` changes the caller's start (the generic message says so and how to fix
# it), even when it appends copies and so returns the right path.
RMSPROP_EXERCISE = Exercise(
    name="rmsprop",
    cases=_RMSPROP_CASES,
    expected=rmsprop_path,
    outputs=("the path w_1, …, w_T (one row per step)",),
    hint="Start from v = np.zeros_like(w). For each row g of grads, update v, the EWA of g², then w; "
         "keep every new w in a list.",
    success="v ← ρ·v + (1−ρ)·g², w ← w − lr·g/(√v + ε) from v_0 = 0: torch's RMSprop, with ε after the root "
            "and no bias correction.",
    mistakes=[
        Mistake(_rmsprop_variant(denominator=lambda v, g_avg, eps, alpha, t: np.sqrt(v + eps)),
                "you put ε inside the root, √(v + ε); torch adds it after, √v + ε. Inside, it shortens "
                "every step whose |g| is near or below √ε, 1e-4 for ε = 1e-8."),
        Mistake(_rmsprop_variant(denominator=lambda v, g_avg, eps, alpha, t: np.sqrt(v / (1 - alpha**t)) + eps),
                "you divided v by 1−ρ^t, a bias correction torch's RMSprop does not have: its first step "
                "is lr/√(1−ρ), 10·lr for ρ = 0.99, not lr."),
        Mistake(_rmsprop_variant(first=lambda g, alpha: g * g),
                "you started the average at v_1 = g₁²; it starts at v_0 = 0, so v_1 = (1−ρ)·g₁² and the "
                "first step is lr/√(1−ρ), not lr."),
        Mistake(_rmsprop_variant(average=lambda v, g, alpha, t: v + g * g),
                "you summed the squared gradients, s ← s + g², as Adagrad does. RMSprop averages them, "
                "v ← ρ·v + (1−ρ)·g², so old gradients fade."),
        Mistake(_rmsprop_variant(average=lambda v, g, alpha, t: alpha * v + g * g),
                "your average lacks the factor 1−ρ: v ← ρ·v + g² grows to about g²/(1−ρ) and shortens "
                "every step by √(1−ρ). The EWA is v ← ρ·v + (1−ρ)·g²."),
        Mistake(_rmsprop_variant(denominator=lambda v, g_avg, eps, alpha, t: np.sqrt(g_avg * g_avg) + eps),
                "you squared the average of g instead of averaging g²: positive and negative gradients "
                "cancel in the first, not in the second."),
        Mistake(_rmsprop_variant(denominator=lambda v, g_avg, eps, alpha, t: v + eps),
                "you forgot the square root: divide by √v + ε. v averages *squared* gradients, so only "
                "its root has the size of a gradient."),
        Mistake(_rmsprop_variant(average=lambda v, g, alpha, t: (1 - alpha) * v + alpha * g * g),
                "ρ and 1−ρ are swapped: v ← ρ·v + (1−ρ)·g², the old average keeps the large weight ρ."),
        Mistake(lambda w, grads, lr, alpha, eps: np.repeat(rmsprop_path(w, grads, lr, alpha, eps)[-1:],
                                                           len(grads), axis=0),
                "every row of your path is the final w: you updated one array in place (w -= …) and "
                "appended it at every step. Append w.copy(), or write w = w - …"),
        Mistake(_rmsprop_stepping_before_the_average,
                "you stepped before updating v: divide by √v_t + ε, with this step's g² already in v. "
                "From v_0 = 0 your first step divided by ε alone."),
        Mistake(_rmsprop_variant(average=lambda v, g, alpha, t: alpha * v + (1 - alpha) * np.sum(g * g)),
                "your v is one number, the squared norm of g. RMSprop keeps one v per coordinate, "
                "v ← ρ·v + (1−ρ)·g² element by element, so each coordinate gets its own scale."),
        Mistake(_rmsprop_variant(average=lambda v, g, alpha, t: alpha * v + (1 - alpha) * np.mean(g * g)),
                "your v is one number, the mean of g² over the coordinates. RMSprop keeps one v per "
                "coordinate, v ← ρ·v + (1−ρ)·g² element by element, so each gets its own scale."),
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


# --------------------------------------------------------------------------------------------------
# Predict, then run: when do the long first steps settle?
# --------------------------------------------------------------------------------------------------

SETTLE_ALPHA = 0.99
SETTLE_WITHIN = 1.1
"""The question: the first step t at which RMSprop's step on a steady gradient is at most 1.1·lr."""
SETTLE_TOLERANCE = 2
"""A prediction within 2 steps of the measured t counts, once rounded to a whole step (the exact
root of the inequality is 174.3)."""
SETTLE_HORIZON = 1000


def settling_steps(alpha: float | None = None, steps: int = SETTLE_HORIZON) -> np.ndarray:
    """The step lengths / lr of torch's RMSprop (ρ = ``alpha``, default ``SETTLE_ALPHA``) at
    t = 1..steps, fed the gradient 1 at every step."""
    return step_lengths(np.ones(steps), alpha=SETTLE_ALPHA if alpha is None else alpha)


def _judge_settling_step(steps: float) -> CheckResult:
    """Run RMSprop on a steady gradient and compare the learner's t with the first step ≤ 1.1·lr."""
    lengths = settling_steps()
    settled = int(np.argmax(lengths <= SETTLE_WITHIN)) + 1
    t = int(round(steps))
    if abs(t - settled) <= SETTLE_TOLERANCE:
        # Not the run's t: this message shows under the question after "Run All", before any answer.
        return CheckResult(True, f"Your t is within {SETTLE_TOLERANCE} steps of the run's, where its step first "
                                 f"drops to at most 1.1·lr: from {lengths[settled - 2]:.4f}·lr to "
                                 f"{lengths[settled - 1]:.4f}·lr. The step is lr/√(1−ρ^t), at most 1.1·lr once "
                                 f"ρ^t ≤ 1 − 1/1.21.")
    if t < 1:
        return CheckResult(False, f"t counts the steps from 1, and at t = 1 the step is {lengths[0]:.0f}·lr.")
    if abs(t - round(1 / (1 - SETTLE_ALPHA))) <= SETTLE_TOLERANCE:
        return CheckResult(False, f"1/(1−ρ) = 100 steps is the memory of the average, but at t = {t} the step is "
                                  f"still {lengths[t - 1]:.3f}·lr. Solve lr/√(1−ρ^t) ≤ 1.1·lr for t.")
    without_root = int(np.ceil(np.log(1 - 1 / SETTLE_WITHIN) / np.log(SETTLE_ALPHA)))
    if abs(t - without_root) <= SETTLE_TOLERANCE:
        return CheckResult(False, f"that is where 1/(1−ρ^t) falls to 1.1. The step is lr/√(1−ρ^t), its root, "
                                  f"which gets there sooner: at t = {t} it is {lengths[t - 1]:.3f}·lr.")
    if t < settled:
        return CheckResult(False, f"too early: at t = {t} the step is still {lengths[t - 1]:.3f}·lr, above 1.1·lr.")
    if t <= SETTLE_HORIZON:
        return CheckResult(False, f"too late: at t = {t} the step is {lengths[t - 1]:.4f}·lr, and it was at most "
                                  f"1.1·lr earlier.")
    return CheckResult(False, f"far too late: by t = {SETTLE_HORIZON} the step is already {lengths[-1]:.5f}·lr.")


SETTLING_QUESTION = Question(
    name="my_steps",
    fields=("steps",),
    hint="With the same gradient g at every step, what is v_t? Then solve lr·|g|/√v_t ≤ 1.1·lr for t.",
    judge=_judge_settling_step,
)


def check_settling_step(answer: Any) -> CheckResult:
    """Check the learner's t: the first step at which RMSprop's step (ρ = 0.99, steady gradient) is
    at most 1.1·lr."""
    return check_answer(answer, SETTLING_QUESTION)


def torch_rmsprop_step(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
    """One step of torch's RMSprop with L2 weight decay and momentum, from state (v, b):
    g ← g + λ·w;  v ← ρ·v + (1−ρ)·g² (ρ = ``alpha``);  b ← μ·b + g/(√v + ε);  w ← w − lr·b."""
    grad = grad + weight_decay * w
    v_new = alpha * v + (1 - alpha) * grad * grad
    b_new = momentum * b + grad / (np.sqrt(v_new) + eps)
    return w - lr * b_new, v_new, b_new


def _rmsprop_step_variant(decay_in_average=True, decoupled=False, buffer=None, along_buffer=True,
                          root=lambda v, eps: np.sqrt(v) + eps, decay_after_division=False, decoupled_factor=1.0,
                          old_average=False, old_buffer=False):
    """torch's RMSprop step with one part changed: where the decay goes (``decoupled_factor`` = 0
    with ``decoupled``: no decay at all), what the buffer holds, where ε goes, or the old v or the
    old b used where the new one belongs."""
    def step(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
        decayed = grad + weight_decay * w
        g = grad if decoupled or decay_after_division else decayed
        v_new = alpha * v + (1 - alpha) * (g if decay_in_average else grad) ** 2
        denom = root(v if old_average else v_new, eps)
        scaled = g / denom + (weight_decay * w if decay_after_division else 0.0)
        b_new = buffer(b, g, denom, momentum) if buffer else momentum * b + scaled
        w_start = w * (1 - decoupled_factor * lr * weight_decay) if decoupled else w
        along = b if old_buffer else b_new
        w_new = w_start - lr * (along if along_buffer else (g / denom if buffer is None else b_new / denom))
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
    hint="Follow torch's full form line by line: add λ·w to the gradient first, then update v, "
         "then the buffer b, then w.",
    success="g ← g + λ·w, v ← ρ·v + (1−ρ)·g², b ← μ·b + g/(√v + ε), w ← w − lr·b: torch's RMSprop with L2 "
            "weight decay and a buffer of scaled steps.",
    mistakes=[
        Mistake(_rmsprop_step_variant(decay_in_average=False),
                "your v averages the squares of the raw gradient; torch adds λ·w first, so v averages "
                "(g + λ·w)², and the buffer divides g + λ·w."),
        Mistake(_rmsprop_step_variant(decoupled=True),
                "you decayed the weights directly, w·(1 − lr·λ), as AdamW does. torch's RMSprop adds λ·w "
                "to the gradient (L2), which is then divided by √v + ε."),
        Mistake(_rmsprop_step_variant(decay_after_division=True),
                "you added λ·w after dividing by √v + ε. torch's weight decay is L2: λ·w joins the "
                "gradient first, so it enters v and is divided too."),
        Mistake(_rmsprop_step_variant(root=lambda v, eps: np.sqrt(v + eps)),
                "you put ε inside the root, √(v + ε); torch adds it after, √v + ε."),
        Mistake(_rmsprop_step_variant(buffer=lambda b, g, denom, mu: mu * b + g, along_buffer=False),
                "your buffer sums the raw gradients and you divide afterwards; torch's buffer holds the "
                "scaled steps: b ← μ·b + g/(√v + ε), then w ← w − lr·b."),
        Mistake(_rmsprop_step_variant(buffer=lambda b, g, denom, mu: mu * b + (1 - mu) * g / denom),
                "your buffer is damped, μ·b + (1−μ)·g/(√v + ε); torch's RMSprop has no dampening: "
                "b ← μ·b + g/(√v + ε)."),
        Mistake(_rmsprop_step_variant(along_buffer=False),
                "you updated the buffer but stepped along g/(√v + ε); with momentum the step is w − lr·b, "
                "along the new buffer."),
        Mistake(_rmsprop_step_variant(decay_in_average=False, decoupled=True, decoupled_factor=0.0),
                "you left out the weight decay: torch first adds λ·w to the gradient, g ← g + λ·w, "
                "and uses that g everywhere after."),
        Mistake(_rmsprop_step_variant(old_average=True),
                "you divided by the old v: update v with this step's g² first, then divide by √v + ε."),
        Mistake(_rmsprop_step_variant(old_buffer=True),
                "you stepped along the old buffer: update b first, then w ← w − lr·b with the new b."),
        Mistake(lambda *arguments: (lambda w, v, b: (w, b, v))(*torch_rmsprop_step(*arguments)),
                "the values are right but v and b are swapped: return (w_new, v_new, b_new)."),
    ],
    updates=("w", "v", "b"),  # the optimizer's state: a right answer may update it in place, as torch does
)


def check_torch_rmsprop_step(fn: Callable) -> CheckResult:
    """Check ``fn(w, v, b, grad, lr, alpha, eps, weight_decay, momentum)`` -> (w_new, v_new, b_new),
    one step of ``torch.optim.RMSprop`` with weight decay and momentum."""
    return check_function(fn, TORCH_RMSPROP_STEP_EXERCISE)

# --------------------------------------------------------------------------------------------------
# Interpret: which of three runs on the bowl is RMSprop?
# --------------------------------------------------------------------------------------------------

THREE_RUNS_CONDITION = 100.0
THREE_RUNS_STEPS = 100
THREE_RUNS_START = (-1.0, 1.8)
"""Not the first section's start (−4, 1): from here RMSprop's path looks nothing like the one the
notebook showed before, so the learner must reason from the first step rather than match a picture."""
_THREE_RUNS = {  # label -> (optimizer, how a message names it, its settings); a fixed shuffled order
    "a": ("momentum", "momentum (lr = 0.002, β = 0.9)", {"lr": 0.002, "momentum": 0.9}),
    "b": ("GD", "GD (lr = 0.005)", {"lr": 0.005}),
    "c": ("RMSprop", "RMSprop (lr = 0.01, ρ = 0.99)", {"lr": 0.01, "alpha": 0.99}),
}
_NEUTRAL = {"a": ("#7b3294", "-"), "b": ("#8c564b", "--"), "c": ("#808000", ":")}
"""Colours and line styles that are none of the course's optimizer colours, so they reveal nothing."""


def three_runs() -> dict[str, runner.RunResult]:
    """The runs A, B, C on the κ = 100 bowl from (−1, 1.8), 100 steps each: momentum, GD and RMSprop
    in a fixed shuffled order. RMSprop's settings are not the best of the three: it ends with the
    highest loss, so neither "the lowest curve" nor "the smooth path" gives it away."""
    bowl = ill_conditioned_bowl(THREE_RUNS_CONDITION)
    runs = {}
    for label, (name, _, settings) in _THREE_RUNS.items():
        lr, others = settings["lr"], {key: value for key, value in settings.items() if key != "lr"}
        runs[label.upper()] = runner.run(bowl, runner.named_optimizer(name, lr, **others),
                                         start=np.array(THREE_RUNS_START), steps=THREE_RUNS_STEPS)
    return runs


def plot_three_runs():
    """The paths of runs A, B and C on the bowl (one panel each) and their loss curves, labelled only
    by their letters. The panels show x from −2.5 to 2.5, so that a step as long along x as along y
    looks diagonal."""
    bowl = ill_conditioned_bowl(THREE_RUNS_CONDITION)
    width, height = plots.figure_size(2)
    figure = plots.NotebookFigure(figsize=(width, 2 * height), layout="constrained")
    *path_axes, loss_axes = figure.subplots(2, 2).ravel()
    results = three_runs()
    start = ", ".join(f"{value:g}".replace("-", "−") for value in THREE_RUNS_START)
    for ax, (label, result) in zip(path_axes, results.items()):
        color, style = _NEUTRAL[label.lower()]
        plots.landscape_artists(ax, bowl)
        plots.frame_landscape(ax, bowl)
        ax.set_xlim(-2.5, 2.5)
        ax.plot(result.path[:, 0], result.path[:, 1], "o" + style, color=color,
                markersize=0.4 * matplotlib.rcParams["lines.markersize"])
        ax.plot(*THREE_RUNS_START, "o", color="black", markersize=5)
        ax.set_title(f"run {label}: {THREE_RUNS_STEPS} steps from ({start})")
        loss_axes.plot(plots.loss_curve(result.losses, bowl.minimum_value), style, color=color, label=label)
    loss_axes.legend(loc="upper right")
    plots.frame_losses(loss_axes, bowl.minimum_value)
    plots.fit_loss_limits(loss_axes, [plots.loss_curve(result.losses, bowl.minimum_value)
                                      for result in results.values()])
    return figure


def _numbers(step) -> str:
    return "(" + ", ".join(f"{value:+.3g}".replace("-", "−") for value in step) + ")"


def _judge_which_is_rmsprop(run: str) -> CheckResult:
    """Run the three optimizers and describe the chosen run's first step beside the gradient."""
    bowl = ill_conditioned_bowl(THREE_RUNS_CONDITION)
    gradient = np.abs(np.stack(bowl.gradient(*THREE_RUNS_START)))
    result = three_runs()[run.upper()]
    step = result.path[1] - result.path[0]
    ratio = abs(step[1] / step[0])
    shape = ("as long along x as along y" if round(ratio, 1) == 1.0
             else f"{ratio:.0f} times longer along y than along x")
    name, described, _ = _THREE_RUNS[run.lower()]
    first = f"is {described}: its first step, {_numbers(step)}, is {shape}"
    if name == "RMSprop":  # not the label: this message shows under the question after "Run All"
        return CheckResult(True, f"Your run {first}, though the gradient is {gradient[1] / gradient[0]:.0f} times "
                                 f"larger along y: √v cancels each coordinate's scale.")
    return CheckResult(False, f"{run.upper()} {first}, like the gradient: it does not divide each coordinate by "
                              f"its own scale.")


WHICH_IS_RMSPROP = Question(
    name="my_run",
    fields=("run",),
    hint="Look at each path's first steps. Which optimizer's step along y does not depend on how steep "
         "the bowl is along y?",
    judge=_judge_which_is_rmsprop,
    choices=("A", "B", "C"),
)


def check_which_is_rmsprop(answer: Any) -> CheckResult:
    """Check the learner's "A", "B" or "C": which of the three runs on the bowl is RMSprop."""
    return check_answer(answer, WHICH_IS_RMSPROP)
