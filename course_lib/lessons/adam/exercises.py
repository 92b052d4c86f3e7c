"""The exercises of notebook 04: Adam's update in the lecture's names, a prediction of its first
step with and without the bias correction, the memory of its state, and the ε̂ of the paper's
"efficient" order.

    lesson.check_adam_update(my_adam_update)
    lesson.check_first_steps({"corrected": 1.0, "uncorrected": 10.0})
"""

from typing import Any, Callable

import numpy as np

from course_lib import optim
from course_lib.interactive.checking import (check_answer, check_function, CheckResult, Exercise, Mistake,
                                             Question)
from course_lib.lessons.adam.experiments import adam_step, adam_step_uncorrected, efficient_eps

# --------------------------------------------------------------------------------------------------
# 1. One Adam step, in the lecture's names
# --------------------------------------------------------------------------------------------------


def adam_update_reference(W, b, dW, db, V_dW, V_db, S_dW, S_db, t, lr, beta1, beta2, eps):
    """One Adam step for W and b in the lecture's names: V = momentum average, S = RMSProp average.

    Returns (W_new, b_new). Kingma & Ba's Algorithm 1, as torch computes it (ε after the root).
    """
    W_new = adam_step(W, V_dW, S_dW, dW, t, lr, beta1, beta2, eps)[0]
    b_new = adam_step(b, V_db, S_db, db, t, lr, beta1, beta2, eps)[0]
    return W_new, b_new


def _wrong_adam(*, eps_inside=False, correct_V=True, correct_S=True, t_shift=0, b_uses_V_dW=False,
                b_uses_S_dW=False, squares_of_weights=False, old_averages=False, swap_betas=False,
                efficient_with_eps=False, without_one_minus_beta=False, along_gradient=False, uphill=False):
    """An Adam update with one known mistake switched on (see ADAM_UPDATE_EXERCISE)."""
    def update(W, b, dW, db, V_dW, V_db, S_dW, S_db, t, lr, beta1, beta2, eps):
        if swap_betas:
            beta1, beta2 = beta2, beta1
        weight1, weight2 = (1.0, 1.0) if without_one_minus_beta else (1 - beta1, 1 - beta2)
        averages = {}
        for name, param, grad, V, S in (("W", W, dW, V_dW, S_dW), ("b", b, db, V_db, S_db)):
            V_new = beta1 * V + weight1 * grad
            S_new = beta2 * S + weight2 * (param * param if squares_of_weights else grad * grad)
            averages[name] = (V, S) if old_averages else (V_new, S_new)
        results = []
        for name, param, grad in (("W", W, dW), ("b", b, db)):
            V, S = averages[name]
            if b_uses_V_dW and name == "b":
                V = averages["W"][0]
            if b_uses_S_dW and name == "b":
                S = averages["W"][1]
            step = t + t_shift
            if efficient_with_eps:     # the corrections folded into the step size, ε̂ = ε
                results.append(param - lr * np.sqrt(1 - beta2**step) / (1 - beta1**step) * V / (np.sqrt(S) + eps))
                continue
            V_hat = grad if along_gradient else V / (1 - beta1**step) if correct_V else V
            S_hat = S / (1 - beta2**step) if correct_S else S
            denom = np.sqrt(S_hat + eps) if eps_inside else np.sqrt(S_hat) + eps
            results.append(param + lr * V_hat / denom if uphill else param - lr * V_hat / denom)
        return tuple(results)
    return update


def _adam_cases() -> list[dict[str, Any]]:
    """Seeded steps: the first one (zero averages), one with tiny gradients, one late step, and a first
    step with gradients of 1e-6, where the ε of the efficient order shortens the step by a quarter."""
    rng = np.random.default_rng(40)
    cases = []
    steps = [(1, 1.0, 0.01, True), (7, 1e-5, 0.001, False), (30, 0.5, 0.05, False), (1, 1e-6, 0.01, True)]
    for t, scale, lr, first in steps:
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
    success=("V and S updated with this step's gradient, each divided by its own 1−βᵗ,\n"
             "then W − lr·V̂/(√Ŝ + ε): Adam as Kingma & Ba and torch compute it."),
    mistakes=[
        Mistake(_wrong_adam(eps_inside=True),
                "ε is inside the square root, √(Ŝ + ε): put it after the root, √Ŝ + ε. Under the root "
                "it acts like 1e-4 and damps every gradient smaller than that."),
        Mistake(_wrong_adam(correct_V=False, correct_S=False),
                "there is no bias correction: divide V by 1−β₁ᵗ and S by 1−β₂ᵗ. Without it the first "
                "steps are too long, 3.2× at t = 1."),
        Mistake(_wrong_adam(correct_S=False),
                "only V is bias-corrected; S needs its own correction, Ŝ = S/(1−β₂ᵗ), or the first "
                "steps are 1/√(1−β₂ᵗ) times too long."),
        Mistake(_wrong_adam(correct_V=False),
                "only S is bias-corrected; V needs its own correction too, V̂ = V/(1−β₁ᵗ), or the "
                "first steps are too short."),
        Mistake(_wrong_adam(t_shift=-1),
                "your bias correction uses t−1, which divides by 1−β⁰ = 0 at the first step. "
                "t counts the steps from 1, this one included."),
        Mistake(_wrong_adam(t_shift=1),
                "your bias correction uses t+1: t already counts this step (from 1), so divide by "
                "1−β₁ᵗ and 1−β₂ᵗ."),
        Mistake(_wrong_adam(b_uses_V_dW=True),
                "b is updated with V_dW, the momentum of W. Each parameter uses its own averages: "
                "V_db and S_db for b."),
        Mistake(_wrong_adam(b_uses_S_dW=True),
                "b is divided by the root of S_dW, the average of W's squared gradients. Each "
                "parameter uses its own averages: V_db and S_db for b."),
        Mistake(_wrong_adam(squares_of_weights=True),
                "S averages the squared weights; it must average the squared gradients, dW² for W "
                "and db² for b."),
        Mistake(_wrong_adam(old_averages=True),
                "the step used V and S from before this step: update both averages with this "
                "step's gradient first, then correct them and step."),
        Mistake(_wrong_adam(swap_betas=True),
                "β₁ and β₂ are swapped: β₁ (0.9) averages the gradients (V), β₂ (0.999) their "
                "squares (S)."),
        Mistake(_wrong_adam(efficient_with_eps=True),
                "you folded the corrections into the step size but kept ε next to the uncorrected √S: "
                "that is another optimizer. Add ε to √Ŝ, as Algorithm 1 does."),
        Mistake(_wrong_adam(without_one_minus_beta=True),
                "your averages lack the factors 1−β: V ← β₁·V + (1−β₁)·dW and S ← β₂·S + (1−β₂)·dW². "
                "The bias correction assumes them."),
        Mistake(_wrong_adam(along_gradient=True),
                "you stepped along dW itself, as RMSProp does; Adam steps along the average of the "
                "gradients, V̂ = V/(1−β₁ᵗ)."),
        Mistake(_wrong_adam(uphill=True),
                "your step goes uphill: subtract it, W − lr·V̂/(√Ŝ + ε)."),
        Mistake(lambda *arguments: adam_update_reference(*arguments)[::-1],
                "the values are right but in the wrong order: return (W_new, b_new)."),
    ],
    hints={ZeroDivisionError: "Did you use t−1 in the bias correction? t counts from 1."},
    hint="Follow the equations above: the two averages for W (and for b), their bias corrections, "
         "then the step.",
    updates=("W", "b", "V_dW", "V_db", "S_dW", "S_db"),
)


def check_adam_update(fn: Callable) -> CheckResult:
    """Check ``fn(W, b, dW, db, V_dW, V_db, S_dW, S_db, t, lr, beta1, beta2, eps)`` -> (W_new, b_new)."""
    return check_function(fn, ADAM_UPDATE_EXERCISE)


# --------------------------------------------------------------------------------------------------
# 2. Predict, then run: the first step with and without the bias correction
# --------------------------------------------------------------------------------------------------

FIRST_STEP_SETTING = {"beta1": 0.9, "beta2": 0.9999, "eps": 1e-8, "grad": 0.01}
"""The setting of the prediction: one gradient g = 0.01 from m₀ = v₀ = 0, β₂ longer than the default."""
TOLERANCE = 0.1
"""A prediction within 10 % of the measured step counts."""


def first_steps(beta1=0.9, beta2=0.9999, eps=1e-8, grad=0.01, lr=1e-3) -> tuple[float, float]:
    """The length of Adam's first step from m₀ = v₀ = 0, in units of lr, measured:
    (corrected, uncorrected). The first runs ``course_lib.optim.Adam``, the second Adam without
    the bias correction (``adam_step_uncorrected``)."""
    corrected = np.zeros(1)
    optim.Adam([corrected], lr=lr, betas=(beta1, beta2), eps=eps).step([np.array([grad])])
    zero = np.zeros(1)
    uncorrected = adam_step_uncorrected(zero, zero, zero, np.array([grad]), 1, lr, beta1, beta2, eps)[0]
    return abs(corrected.item()) / lr, abs(uncorrected.item()) / lr


def _near(value: float, target: float) -> bool:
    return abs(value - target) <= TOLERANCE * abs(target)


def _judge_first_steps(corrected: float, uncorrected: float) -> CheckResult:
    """Run Adam's first step both ways and compare the learner's prediction with it."""
    s = FIRST_STEP_SETTING
    right_corrected, right_uncorrected = first_steps(**s)
    ran = (f"Adam from m₀ = v₀ = 0, g = {s['grad']:g}: first step {right_corrected:.2f}·lr with the correction, "
           f"{right_uncorrected:.1f}·lr without.")
    if _near(corrected, right_corrected) and _near(uncorrected, right_uncorrected):
        # No measured step here: this message shows under the question after "Run All", before any answer.
        return CheckResult(True, f"Your steps are within 10 % of the run's (g = {s['grad']:g}, β₂ = {s['beta2']:g}). "
                                 f"The corrections undo the start at 0; without them, √v₁ = √(1−β₂)·|g| shrinks "
                                 f"more than m₁ = (1−β₁)·g, so the step is longer.")
    uncorrected_at_default = first_steps(**{**s, "beta2": 0.999})[1]
    without_root = (1 - s["beta1"]) / (1 - s["beta2"])                  # m₁/v₁ with g left out, or with it
    if min(corrected, uncorrected) < 0:
        why = "give the lengths of the steps, positive numbers, in units of lr."
    elif _near(corrected, right_uncorrected) and _near(uncorrected, right_corrected):
        why = "the two are swapped: here the correction makes the first step shorter, not longer."
    elif not _near(corrected, right_corrected):
        why = ("Adam's step does not grow with g: m̂₁ = g and √v̂₁ = |g|, so the first step is lr."
               if _near(corrected, s["grad"]) else
               "with the correction, m̂₁ = g and √v̂₁ = |g| after one step, so the step is lr.")
    elif _near(uncorrected, right_corrected):
        why = "that is the corrected step. Uncorrected, m₁ = (1−β₁)·g is too small, √v₁ = √(1−β₂)·|g| more so."
    elif _near(uncorrected, uncorrected_at_default):
        why = (f"{uncorrected_at_default:.2f} is the first step for β₂ = 0.999; with 0.9999, √v₁ = √(1−β₂)·|g| "
               f"is smaller.")
    elif _near(uncorrected, without_root) or _near(uncorrected, without_root / s["grad"]):
        why = "you divided m₁ = (1−β₁)·g by v₁; the step divides it by the root, √v₁ = √(1−β₂)·|g|."
    elif _near(uncorrected, 1 - s["beta1"]):
        why = (f"uncorrected, m₁ = {1 - s['beta1']:.2g}·g is too small, but √v₁ = {np.sqrt(1 - s['beta2']):.2g}·|g| "
               f"is smaller still: the step is longer.")
    elif _near(uncorrected, 1 / np.sqrt(1 - s["beta2"])):
        why = (f"√v₁ = {np.sqrt(1 - s['beta2']):.2g}·|g| is right, but m₁ = (1−β₁)·g = {1 - s['beta1']:.2g}·g, "
               f"not g: m starts at 0 too.")
    elif _near(uncorrected, right_uncorrected * s["grad"]):
        why = "the step does not grow with g: in m₁/√v₁ = (1−β₁)·g / (√(1−β₂)·|g|), g cancels."
    else:
        why = "uncorrected, the step is lr·m₁/√v₁, with m₁ = (1−β₁)·g and √v₁ = √(1−β₂)·|g|."
    return CheckResult(False, f"{ran}\n{why[0].upper()}{why[1:]}")


FIRST_STEPS_QUESTION = Question(
    name="my_first_steps",
    fields=("corrected", "uncorrected"),
    hint="Write m₁ and v₁ after one gradient g from m₀ = v₀ = 0; then the step lr·m₁/√v₁, with and "
         "without the corrections.",
    judge=_judge_first_steps,
)


def check_first_steps(answer) -> CheckResult:
    """Check a prediction ``{"corrected": …, "uncorrected": …}`` of Adam's first step in units of lr."""
    return check_answer(answer, FIRST_STEPS_QUESTION)


# --------------------------------------------------------------------------------------------------
# 3. The memory of Adam's state
# --------------------------------------------------------------------------------------------------

def adam_state_bytes_reference(n_parameters, bytes_per_number, amsgrad):
    """Bytes of Adam's state: two arrays the size of the parameters (m and v), three with AMSGrad."""
    return (3 if amsgrad else 2) * n_parameters * bytes_per_number


ADAM_STATE_EXERCISE = Exercise(
    name="adam_state_bytes",
    cases=[{"n_parameters": n, "bytes_per_number": size, "amsgrad": amsgrad}
           for n, size, amsgrad in [(124_439_808, 4, False), (1_000_000, 8, True), (7, 2, False), (50, 4, True)]],
    expected=adam_state_bytes_reference,
    outputs=("the number of bytes",),
    success=("Adam keeps two numbers per parameter (m and v), AMSGrad three (and max v):\n"
             "for a 124M-parameter float32 model that is 1.0 GB, twice the model itself."),
    mistakes=[
        Mistake(lambda n, size, amsgrad: (4 if amsgrad else 3) * n * size,
                "you counted the parameters themselves as well; the question is what the optimizer "
                "adds: m and v (and, with AMSGrad, the running maximum of v)."),
        Mistake(lambda n, size, amsgrad: (5 if amsgrad else 4) * n * size,
                "you counted the weights and their gradients as well; the question is the optimizer's "
                "own state: m and v (and, with AMSGrad, max v)."),
        Mistake(lambda n, size, amsgrad: 2 * n * size,
                "AMSGrad keeps a third array, the running maximum of v (torch's max_exp_avg_sq)."),
        Mistake(lambda n, size, amsgrad: (2 if amsgrad else 1) * n * size,
                "one array short: Adam keeps both averages, m (of g) and v (of g²), each as large as "
                "the parameters."),
        Mistake(lambda n, size, amsgrad: 8 * (3 if amsgrad else 2) * n * size,
                "that is bits, 8 per byte; return bytes."),
        Mistake(lambda n, size, amsgrad: (3 if amsgrad else 2) * n,
                "you counted numbers, not bytes: multiply by bytes_per_number (4 for float32)."),
        Mistake(lambda n, size, amsgrad: (3 if amsgrad else 2) * n * size / 1e9,
                "that is gigabytes; return the number of bytes."),
    ],
    hint="How many arrays as large as the parameters does the optimizer keep? The state printed "
         "above says.",
)


def check_adam_state_bytes(fn: Callable) -> CheckResult:
    """Check ``fn(n_parameters, bytes_per_number, amsgrad)`` -> bytes of Adam's (AMSGrad's) state."""
    return check_function(fn, ADAM_STATE_EXERCISE)


# --------------------------------------------------------------------------------------------------
# 4. The ε̂ of the paper's "efficient" order
# --------------------------------------------------------------------------------------------------

EFFICIENT_EPS_EXERCISE = Exercise(
    name="efficient_eps",
    cases=[{"eps": eps, "beta2": beta2, "t": t}
           for eps, beta2, t in [(1e-8, 0.999, 1), (1e-8, 0.999, 100), (1e-3, 0.99, 10), (0.5, 0.9, 3)]],
    expected=efficient_eps,
    outputs=("ε̂",),
    success=("ε̂ = ε·√(1−β₂ᵗ): with the step size lr·√(1−β₂ᵗ)/(1−β₁ᵗ) and the uncorrected √v,\n"
             "this ε̂ gives exactly Algorithm 1's step; it grows towards ε as t grows."),
    mistakes=[
        Mistake(lambda eps, beta2, t: eps,
                "a fixed ε̂ = ε is not Algorithm 1: √v is √(1−β₂ᵗ) times smaller than √v̂, so ε must "
                "shrink by the same factor."),
        Mistake(lambda eps, beta2, t: eps * (1 - beta2**t),
                "no square root: v̂ = v/(1−β₂ᵗ), so √v̂ = √v/√(1−β₂ᵗ), and ε̂ = ε·√(1−β₂ᵗ)."),
        Mistake(lambda eps, beta2, t: eps / np.sqrt(1 - beta2**t),
                "you divided by √(1−β₂ᵗ); ε̂ is smaller than ε early on: ε̂ = ε·√(1−β₂ᵗ)."),
        Mistake(lambda eps, beta2, t: eps * np.sqrt(1 - beta2 ** (t - 1)),
                "off by one step: t counts this step from 1, so ε̂ = ε·√(1−β₂ᵗ), not √(1−β₂^(t−1))."),
    ],
    hint="ε̂ stands next to the uncorrected √v where Algorithm 1 has ε next to √v̂: how do √v and √v̂ "
         "differ?",
)


def check_efficient_eps(fn: Callable) -> CheckResult:
    """Check ``fn(eps, beta2, t)`` -> the ε̂ that makes the efficient form equal Algorithm 1."""
    return check_function(fn, EFFICIENT_EPS_EXERCISE)
