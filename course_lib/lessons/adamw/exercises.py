"""Notebook 08's exercises: step t of torch's AdamW, the weight_decay that keeps the decay per step
when the learning rate changes, and a choice of lr and λ in the good region of the grid
(``check_adamw_pair``, which trains the chosen cell over the grid's seeds)."""

import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from course_lib import optim
from course_lib.interactive.checking import check_answer, check_function, CheckResult, Exercise, Mistake, Question
from course_lib.lessons.adamw.experiments import gradient, teacher_data, TeacherData, test_error, training_plan

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


def _decay_divided_by_the_denominator(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    """λ·θ inside Adam's fraction: θ − lr·(m̂ + λ·θ)/(√v̂ + ε), m and v of the gradient alone."""
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    m_hat, v_hat = m_new / (1 - beta1**t), v_new / (1 - beta2**t)
    return w - lr * (m_hat + weight_decay * w) / (np.sqrt(v_hat) + eps), m_new, v_new


def _l2_and_decoupled_decay(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    """Both: λ·θ added to the gradient (L2) and θ·(1 − lr·λ)."""
    return torch_adamw_step(w, m, v, grad + weight_decay * w, t, lr, weight_decay, beta1, beta2, eps)


def _returned_bias_corrected_moments(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    w_new, m_new, v_new = torch_adamw_step(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps)
    return w_new, m_new / (1 - beta1**t), v_new / (1 - beta2**t)


def _v_of_gradients_not_squares(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_new, v_new = beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad   # v may turn negative
    return w * (1 - lr * weight_decay) - lr * _adam_direction(m_new, v_new, t, beta1, beta2, eps), m_new, v_new


def _bias_correction_from_t_plus_one(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    return torch_adamw_step(w, m, v, grad, t + 1, lr, weight_decay, beta1, beta2, eps)  # m, v do not use t


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
    success="θ ← θ·(1 − lr·λ), then θ ← θ − lr·m̂/(√v̂ + ε), m and v from the gradient alone.",
    hint="two separate moves (see \"AdamW, torch's form\"): shrink the weights by the decay, then take "
         "Adam's step from the gradient alone.",
    updates=("w", "m", "v"),
    mistakes=[
        Mistake(_adam_l2_step,
                "you added λ·θ to the gradient: that is Adam with L2, so √v̂ divides the decay too. "
                "AdamW leaves the gradient alone and shrinks the weights: θ ← θ·(1 − lr·λ)."),
        Mistake(_decay_not_times_lr,
                "your decay θ ← θ − λ·θ is not multiplied by the learning rate. torch's AdamW "
                "decays by lr·λ per step: θ ← θ·(1 − lr·λ)."),
        Mistake(_decay_after_the_step,
                "you decayed the weights after the Adam step. torch decays the weights the step "
                "started from: θ_new = θ·(1 − lr·λ) − lr·m̂/(√v̂ + ε)."),
        Mistake(_adamw_without_bias_correction,
                "you left out the bias correction: divide m by 1 − β₁ᵗ and v by 1 − β₂ᵗ (t is the "
                "step number, from 1) before forming m̂/(√v̂ + ε)."),
        Mistake(_adamw_decay_added,
                "your decay has the wrong sign: θ·(1 + lr·λ) grows the weights; decay shrinks them, "
                "θ·(1 − lr·λ)."),
        Mistake(_decay_divided_by_the_denominator,
                "your decay λ·θ sits inside Adam's fraction, so √v̂ + ε divides it, as in Adam + L2. "
                "AdamW keeps it outside: θ·(1 − lr·λ), then the Adam step."),
        Mistake(_l2_and_decoupled_decay,
                "you decayed twice: λ·θ added to the gradient (L2) and θ·(1 − lr·λ). AdamW keeps only "
                "the second and feeds m and v the bare gradient."),
        Mistake(_returned_bias_corrected_moments,
                "you returned m̂ and v̂: return m and v themselves, before the bias correction, since the "
                "next step averages into them."),
        Mistake(_v_of_gradients_not_squares,
                "your v averages the gradients, not their squares: v ← β₂v + (1 − β₂)g²."),
        Mistake(_bias_correction_from_t_plus_one,
                "t is already counted from 1: the bias corrections are 1 − β₁ᵗ and 1 − β₂ᵗ, "
                "not 1 − β₁ᵗ⁺¹ and 1 − β₂ᵗ⁺¹."),
    ],
)


def check_adamw_step(fn: Callable) -> CheckResult:
    """Check ``fn(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps)`` -> (w_new, m_new, v_new),
    step t of torch's AdamW."""
    return check_function(fn, ADAMW_EXERCISE)


def retuned_weight_decay_reference(weight_decay, lr_old, lr_new):
    """torch's AdamW weight_decay at ``lr_new`` with the decay per step, lr·λ, of ``weight_decay`` at
    ``lr_old``: λ·lr_old/lr_new. lr_old·λ is the paper's λ, which does not change."""
    return weight_decay * lr_old / lr_new


RETUNED_WEIGHT_DECAY_EXERCISE = Exercise(
    name="retuned_weight_decay",
    cases=[{"weight_decay": decay, "lr_old": old, "lr_new": new}
           for decay, old, new in [(1e-2, 1e-3, 4e-3), (0.1, 0.05, 0.01), (0.5, 2e-3, 3e-3)]],
    expected=retuned_weight_decay_reference,
    outputs=("the new weight_decay",),
    success="λ·lr_old/lr_new keeps lr·λ, the decay per step. lr·λ is the paper's λ: tune that, and "
            "changing lr leaves the decay alone.",
    hint="in torch's form the decay per step is the product of two settings (see \"AdamW, torch's form\"): "
         "keep that product as it was.",
    mistakes=[
        Mistake(lambda weight_decay, lr_old, lr_new: weight_decay,
                "the same λ at another lr is another decay: torch decays by lr·λ per step. Keep lr·λ: "
                "λ·lr_old/lr_new."),
        Mistake(lambda weight_decay, lr_old, lr_new: weight_decay * lr_new / lr_old,
                "upside down: a larger lr needs a smaller λ to keep lr·λ, so λ·lr_old/lr_new."),
        Mistake(lambda weight_decay, lr_old, lr_new: weight_decay * lr_old,
                "lr_old·λ is the decay per step, the paper's λ; torch's weight_decay at lr_new is that "
                "divided by lr_new."),
        Mistake(lambda weight_decay, lr_old, lr_new: weight_decay / lr_new,
                "you divided λ by lr_new as if it were the paper's λ. It is torch's: its decay per step is "
                "lr_old·λ, and that is what lr_new·λ_new must equal."),
        Mistake(lambda weight_decay, lr_old, lr_new: weight_decay * (lr_old / lr_new) ** 2,
                "(lr_old/lr_new)² keeps lr²·λ, the invariant of Adam + L2. AdamW's decay per step is lr·λ."),
    ],
)


def check_retuned_weight_decay(fn: Callable) -> CheckResult:
    """Check ``fn(weight_decay, lr_old, lr_new)`` -> torch's AdamW weight_decay at lr_new with the decay
    per step of ``weight_decay`` at lr_old."""
    return check_function(fn, RETUNED_WEIGHT_DECAY_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Choose: an lr × λ pair in torch's AdamW's good region of the grid
# --------------------------------------------------------------------------------------------------

GRID_SEEDS = tuple(range(1, 9))
"""The training seeds of the notebook's grid: each cell's test error is averaged over them."""
GOOD_MARGIN = 0.01
"""A cell is good when its mean test error is within one point of the teacher's (the white outline)."""


@functools.cache
def grid_data() -> TeacherData:
    """The notebook's data set, ``teacher_data()``, made once."""
    return teacher_data()


@dataclass(frozen=True)
class SeedRuns:
    """One cell of torch's AdamW trained for several seeds: the test error of each seed half-way and at
    the end (NaN where w blew up), and the cosine between each seed's start and final w."""

    halfway: np.ndarray
    final: np.ndarray
    turned: np.ndarray


def train_seeds(data: TeacherData, lr: float, weight_decay: float, seeds=GRID_SEEDS, steps: int = 2000,
                batch: int = 8) -> SeedRuns:
    """``optim.AdamW(lr=lr, weight_decay=weight_decay)`` for each training seed: the cell (λ, lr) of
    ``decay_grids`` for "AdamW (torch's λ)", the same numbers to the last bit, but one optimizer steps
    the runs of every seed at once (8 times fewer steps to take than one seed at a time). Each seed's
    gradient is computed as ``train`` computes it, from its own start and minibatches."""
    plans = [training_plan(data, steps, batch, seed) for seed in seeds]
    start = np.stack([first for first, _ in plans])
    w, g = start.copy(), np.empty_like(start)
    adamw = optim.AdamW([w], lr=lr, weight_decay=weight_decay)
    with np.errstate(all="ignore"):  # a diverging run turns to inf/nan quietly; it is reported as NaN
        for step in range(steps):
            for k, (_, batches) in enumerate(plans):
                rows = batches[step]
                g[k] = gradient(w[k:k + 1].copy(), data.x_train[rows], data.y_train[rows])[0]
            adamw.step([g])
            if step + 1 == steps // 2:
                halfway = _errors(w, data)
        norms = np.linalg.norm(w, axis=-1)
        turned = np.sum(w * start, axis=-1) / norms   # ‖start‖ = 1
        return SeedRuns(halfway if steps >= 2 else _errors(start, data), _errors(w, data), turned)


def _errors(w: np.ndarray, data: TeacherData) -> np.ndarray:
    """The test error of each row of w, NaN where w is no longer finite (or zero)."""
    norms = np.linalg.norm(w, axis=-1)
    good = np.isfinite(norms) & (norms > 0)
    return np.where(good, test_error(np.where(good[:, None], w, 1.0), data), np.nan)


def seed_errors(data: TeacherData, lr: float, weight_decay: float, seeds=GRID_SEEDS, steps: int = 2000,
                batch: int = 8) -> np.ndarray:
    """Final test error of ``optim.AdamW(lr=lr, weight_decay=weight_decay)`` for each training seed, as
    ``train_seeds`` trains them: the grid's cell, to the last bit."""
    return train_seeds(data, lr, weight_decay, seeds, steps, batch).final


def _number(value: float) -> str:
    """A negative power of two as 2⁻⁹, anything else in three digits (with a true minus sign)."""
    if 0 < value < 1 and float(np.log2(value)).is_integer():
        return "2⁻" + str(-int(np.log2(value))).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{value:.3g}".replace("-", "−")


def _judge_adamw_pair(lr: float, weight_decay: float) -> CheckResult:
    """Train the chosen cell over the grid's 8 seeds; right when the mean test error is within one point
    of the teacher's and λ > 0. Otherwise what the runs show went wrong: a blow-up, a decay that flips
    the weights, a w that has hardly turned or is still turning (lr too small), or steps that turn w too
    far. (A no-break space before each % keeps it by its number.)"""
    data = grid_data()
    runs = train_seeds(data, lr, weight_decay)
    errors, seeds = runs.final, len(runs.final)
    per_step = lr * weight_decay
    ran = f"lr = {_number(lr)}, λ = {_number(weight_decay)}, lr·λ = {_number(per_step)}"
    teacher, good = 100 * data.bayes_error, 100 * (data.bayes_error + GOOD_MARGIN)
    blown = int(np.isnan(errors).sum())
    if blown:
        why = (f"1 − lr·λ = {_number(1 - per_step)} is below −1, so the decay flips and grows them every step"
               if per_step > 2 else "lower lr")
        return CheckResult(False, f"{ran}: the weights blew up in {blown} of the {seeds} seeds: {why}.")
    mean, halfway = 100 * float(errors.mean()), 100 * float(runs.halfway.mean())
    if mean <= good:
        if weight_decay == 0:
            return CheckResult(False, f"{ran}: the test error averages under {good:.1f}\u00a0% over the {seeds} "
                                      f"seeds, but λ = 0 switches the decay off. Choose a λ > 0.")
        # no lr, λ or lr·λ: the message shows under the question after "Run All"
        return CheckResult(True, f"Your cell's test error averages under {good:.1f}\u00a0% over the {seeds} seeds, "
                                 f"within a point of the teacher's {teacher:.1f}\u00a0%. In torch's form what "
                                 f"counts is your lr·λ, the decay per step.")
    if mean < good + 1:   # no digits near the outline: they would move with the last bits of the arithmetic
        result = f"{ran}: the test error averages a little above {good:.1f}\u00a0% over the {seeds} seeds. "
    else:
        result = f"{ran}: the test error averages {mean:.0f}\u00a0% over the {seeds} seeds, not under {good:.1f}\u00a0%. "
    if per_step >= 1:
        return CheckResult(False, result + "1 − lr·λ ≤ 0 zeroes or flips the weights every step.")
    if float(runs.turned.mean()) > 0.9:
        return CheckResult(False, result + "In 2000 steps w has hardly turned from its start: raise lr.")
    if halfway - mean > 2:
        return CheckResult(False, result + f"It was still falling ({halfway:.0f}\u00a0% at step 1000): w turns "
                                           f"too slowly; raise lr.")
    return CheckResult(False, result + "Each step turns w too far: lower lr·λ (it keeps ‖w‖ small) or lr.")


ADAMW_PAIR_QUESTION = Question(
    name="my_pair",
    fields=("lr", "weight_decay"),
    hint="pick a cell inside the white outline of the AdamW (torch's λ) panel: along which lines is that "
         "panel flat?",
    judge=_judge_adamw_pair,
)


def check_adamw_pair(answer) -> CheckResult:
    """Check ``{"lr": ..., "weight_decay": ...}`` for torch's AdamW on the grid's model: the cell is
    trained for the grid's 8 seeds, and a mean test error within one point of the teacher's, with
    λ > 0, is right."""
    return check_answer(answer, ADAMW_PAIR_QUESTION)
