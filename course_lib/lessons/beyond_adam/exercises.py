"""Notebook 12, beyond Adam: the exercises and their checks.

Two "write it" exercises (Lion's update, one Newton–Schulz step) and a prediction judged by running
the optimizers (the state of AdamW and Adafactor for shapes the notebook does not show)::

    lesson.check_lion_update(lion_update)
    lesson.check_newton_schulz_step(newton_schulz_step)
    lesson.check_state_prediction({"AdamW": ..., "Adafactor": ...})
"""

from typing import Callable

import numpy as np

from course_lib import optim
from course_lib.interactive.checking import (check_answer, check_function, CheckResult, Exercise, Mistake,
                                             Question)
from course_lib.lessons.beyond_adam.experiments import state_floats

# --------------------------------------------------------------------------------------------------
# 1. Lion's update
# --------------------------------------------------------------------------------------------------

def _lion(theta, m, grad, lr, beta1, beta2, weight_decay):
    """The reference: optim.Lion's step on copies."""
    theta, m = np.array(theta, dtype=float), np.array(m, dtype=float)
    theta = theta * (1 - lr * weight_decay)
    theta = theta - lr * np.sign(beta1 * m + (1 - beta1) * grad)
    return theta, beta2 * m + (1 - beta2) * grad


def _lion_cases():
    rng = np.random.default_rng(12)
    cases = []
    for lr, beta1, beta2, weight_decay in ((1e-3, 0.9, 0.99, 0.0), (0.01, 0.9, 0.99, 0.1),
                                           (0.1, 0.8, 0.95, 1.0), (1e-4, 0.95, 0.98, 0.3)):
        # g = −k·m with k from 1 to 200: where the sign of β·m + (1 − β)·g flips depends on β, so
        # using β₂ for β₁, or the new m for the old, changes some signs
        m = rng.standard_normal(12)
        grad = -np.r_[1.0, 3.0, 5.0, 7.0, 8.5, 10.0, 15.0, 25.0, 45.0, 80.0, 120.0, 200.0] * m
        cases.append({"theta": rng.standard_normal(12), "m": m, "grad": grad, "lr": lr, "beta1": beta1,
                      "beta2": beta2, "weight_decay": weight_decay})
    return cases


LION_EXERCISE = Exercise(
    name="lion_update",
    cases=_lion_cases(),
    expected=_lion,
    outputs=("new θ", "new m"),
    success="decay, then a step of exactly lr along sign(β₁m + (1 − β₁)g), then m ← β₂m + (1 − β₂)g: "
            "Lion, as lion-pytorch computes it.",
    mistakes=[
        Mistake(lambda th, m, g, lr, b1, b2, wd: (th * (1 - lr * wd) - lr * np.sign(b2 * m + (1 - b2) * g),
                                                  b2 * m + (1 - b2) * g),
                "the step used β₂. Lion mixes the gradient in with β₁ for the step, and keeps the longer "
                "memory β₂ for m only."),
        Mistake(lambda th, m, g, lr, b1, b2, wd: (
                    th * (1 - lr * wd) - lr * np.sign(b1 * (b2 * m + (1 - b2) * g) + (1 - b1) * g),
                    b2 * m + (1 - b2) * g),
                "you updated m before the step. The step uses the old m; m ← β₂m + (1 − β₂)g comes last."),
        Mistake(lambda th, m, g, lr, b1, b2, wd: (th * (1 - lr * wd) - lr * (b1 * m + (1 - b1) * g),
                                                  b2 * m + (1 - b2) * g),
                "the sign is missing: Lion moves every coordinate by exactly lr, whatever the size of "
                "β₁m + (1 − β₁)g."),
        Mistake(lambda th, m, g, lr, b1, b2, wd: (th * (1 - wd) - lr * np.sign(b1 * m + (1 - b1) * g),
                                                  b2 * m + (1 - b2) * g),
                "the decay is θ·(1 − lr·λ): decoupled, and scaled by lr as in torch's AdamW."),
        Mistake(lambda th, m, g, lr, b1, b2, wd: (th - lr * np.sign(b1 * m + (1 - b1) * g),
                                                  b2 * m + (1 - b2) * g),
                "the weight decay is missing: multiply θ by (1 − lr·λ) before the step."),
        Mistake(lambda th, m, g, lr, b1, b2, wd: (th * (1 - lr * wd) - lr * np.sign(b1 * m + (1 - b1) * g),
                                                  b1 * m + (1 - b1) * g),
                "m was updated with β₁. Its memory is the longer β₂ (0.99 by default)."),
    ],
    hint="Three lines: θ·(1 − lr·λ); minus lr·sign(β₁m + (1 − β₁)g); then the new m with β₂. "
         "Return (θ, m).",
)


def check_lion_update(fn: Callable) -> CheckResult:
    return check_function(fn, LION_EXERCISE)


# --------------------------------------------------------------------------------------------------
# 2. One Newton–Schulz step
# --------------------------------------------------------------------------------------------------

def _newton_schulz_step(X, a, b, c):
    A = X @ X.T
    return a * X + (b * A + c * A @ A) @ X


def _ns_cases():
    rng = np.random.default_rng(5)
    shapes = ((3, 5), (4, 4), (2, 6), (3, 7))
    coefficients = (optim.beyond.MUON_COEFFICIENTS, (1.5, -0.5, 0.0), (2.0, -1.5, 0.5), (3.0, -3.0, 1.0))
    cases = []
    for shape, (a, b, c) in zip(shapes, coefficients):
        X = rng.standard_normal(shape)
        cases.append({"X": X / np.linalg.norm(X), "a": a, "b": b, "c": c})
    return cases


NS_EXERCISE = Exercise(
    name="newton_schulz_step",
    cases=_ns_cases(),
    expected=_newton_schulz_step,
    accepted=[lambda X, a, b, c: a * X + b * X @ X.T @ X + c * X @ X.T @ X @ X.T @ X],
    outputs=("the new X",),
    success="a·X + (b·A + c·A²)·X with A = X·Xᵀ: every singular value s becomes a·s + b·s³ + c·s⁵, "
            "and the singular vectors stay.",
    mistakes=[
        Mistake(lambda X, a, b, c: a * X + (b * (X @ X.T) + c * (X @ X.T) * (X @ X.T)) @ X,
                "A² is a matrix product, A @ A; `A * A` squares each entry."),
        Mistake(lambda X, a, b, c: a * X + b * X**3 + c * X**5,
                "the powers act on the singular values, not on the entries: use matrix products, "
                "A = X @ X.T, then (b·A + c·A @ A) @ X."),
        Mistake(lambda X, a, b, c: (b * (X @ X.T) + c * (X @ X.T) @ (X @ X.T)) @ X,
                "the linear term a·X is missing."),
        Mistake(lambda X, a, b, c: a * X + (b * (X @ X.T) + c * (X @ X.T)) @ X,
                "the c term needs A² = A @ A, the fifth power of each singular value."),
    ],
    hints={(ValueError, "matmul", "shapes"): "X is rectangular: A = X @ X.T is square; multiply A by X "
                                             "on the left."},
    hint="Build the r×r matrix A = X·Xᵀ first. Every product in the step is a matrix product (@).",
)


def check_newton_schulz_step(fn: Callable) -> CheckResult:
    return check_function(fn, NS_EXERCISE)


# --------------------------------------------------------------------------------------------------
# 3. Predict the state: AdamW and Adafactor on shapes the notebook does not show
# --------------------------------------------------------------------------------------------------

PREDICTION_SHAPES = {"embedding": (5000, 256), "attn": (768, 256), "bias": (768,), "conv": (4, 64, 32)}
"""Shapes for the prediction: a matrix, another, a vector and a 3-D tensor (Adafactor factors its
last two dimensions and keeps one row and one column statistic per leading index)."""


def _judge_state(AdamW: float, Adafactor: float) -> CheckResult:
    counts = state_floats(PREDICTION_SHAPES)
    right = {"AdamW": counts["AdamW"], "Adafactor": counts["Adafactor"]}
    answer = {"AdamW": AdamW, "Adafactor": Adafactor}
    wrong = [name for name in right if answer[name] != right[name]]
    if not wrong:
        return CheckResult(True, f"AdamW keeps {right['AdamW']:,} floats, Adafactor {right['Adafactor']:,}: "
                                 f"{right['AdamW'] / right['Adafactor']:.0f} times fewer.")
    parameters = sum(int(np.prod(shape)) for shape in PREDICTION_SHAPES.values())
    notes = []
    if "AdamW" in wrong:
        notes.append("AdamW: two arrays (m and v) the size of every parameter"
                     + (", not one." if AdamW == parameters else "."))
    if "Adafactor" in wrong:
        notes.append("Adafactor: a row and a column per matrix, the whole vector for a vector; a 3-D tensor "
                     "keeps a row and a column for each of its leading indices."
                     + (" It keeps no first moment (no momentum)." if Adafactor > right["Adafactor"] else ""))
    return CheckResult(False, f"{' and '.join(wrong)} not right. " + " ".join(notes))


STATE_QUESTION = Question(
    name="my_prediction",
    fields=("AdamW", "Adafactor"),
    hint="Count the floats each keeps per parameter: AdamW m and v; Adafactor rows + columns of each "
         "matrix (per leading index for 3-D) and the whole vector for a vector.",
    judge=_judge_state,
)


def check_state_prediction(answer) -> CheckResult:
    return check_answer(answer, STATE_QUESTION)
