"""Notebook 10's exercises besides gradient accumulation: unscale before clipping
(``check_unscale_then_clip``) and a prediction: the window of loss scales S for the small net's
gradients had its loss been summed over the batch (``check_scale_window``, judged by rounding
those gradients × S to float16)."""

from typing import Any, Callable

import numpy as np

from course_lib import clipping
from course_lib.interactive.checking import (
    check_answer, check_function, CheckResult, Exercise, flat_array_list, is_one_number, Mistake,
    Question, UnusableAnswer,
)
from course_lib.lab.gradient_cases import clip_each_own_norm, gradient_list
from course_lib.lessons.mixed_precision.gradients import activation_gradients, survival

# --------------------------------------------------------------------------------------------------
# Unscale, then clip
# --------------------------------------------------------------------------------------------------

def _unscaled_gradients(returned: Any) -> np.ndarray:
    """What ``unscale_then_clip`` returned as one flat vector, or UnusableAnswer (also for the norm
    that clip_grad_norm_ returns, or a pair with it, in place of the list)."""
    if is_one_number(returned):
        raise UnusableAnswer("your function returned a single number, perhaps the norm that clip_grad_norm_ "
                             "returns; it clips the list in place: return the list")
    if isinstance(returned, tuple) and len(returned) == 2 and isinstance(returned[0], list) and \
            is_one_number(returned[1]):
        raise UnusableAnswer("you returned a pair (gradients, norm); return only the list of gradients")
    return flat_array_list(returned, "the gradients")


def unscale_then_clip_reference(scaled_grads, scale, max_norm):
    """What the optimizer should see under a GradScaler: unscale first, then clip the true gradients."""
    grads = [np.asarray(g, dtype=float) / scale for g in scaled_grads]
    clipping.clip_grad_norm_(grads, max_norm)
    return grads


def _clip_copies(grads, max_norm):
    grads = [np.array(g, dtype=float) for g in grads]
    clipping.clip_grad_norm_(grads, max_norm)
    return grads


_UNSCALE_CASES = [
    {"scaled_grads": gradient_list(40, [(3,)] * 2, 65536.0 * 2.0), "scale": 65536.0, "max_norm": 1.0},
    {"scaled_grads": gradient_list(41, [(4,)] * 2, 1024.0 * 0.1), "scale": 1024.0, "max_norm": 1.0},
    {"scaled_grads": gradient_list(42, [(2, 3)], 8.0 * 5.0), "scale": 8.0, "max_norm": 2.0},
]

UNSCALE_EXERCISE = Exercise(
    name="unscale_then_clip",
    cases=_UNSCALE_CASES,
    expected=lambda scaled_grads, scale, max_norm: _unscaled_gradients(unscale_then_clip_reference(scaled_grads, scale,
                                                                                                   max_norm)),
    run=_unscaled_gradients,
    outputs=("the gradients for the optimizer (all entries in a row)",),
    success="unscale first, then clip: the threshold applies to the true gradients.",
    mistakes=[
        Mistake(lambda scaled_grads, scale, max_norm: [g / scale for g in _clip_copies(scaled_grads, max_norm)],
                "you clipped before unscaling: the scaled gradients' norm is `scale` times too large, so "
                "the step ends up `scale` times too short. Unscale first, then clip."),
        Mistake(lambda scaled_grads, scale, max_norm: _clip_copies(scaled_grads, max_norm),
                "you never unscaled: divide by the scale first (the optimizer must see the true gradients)."),
        Mistake(lambda scaled_grads, scale, max_norm: [np.asarray(g, dtype=float) / scale for g in scaled_grads],
                "you unscaled but did not clip: after dividing by the scale, clip by the global norm."),
        Mistake(lambda scaled_grads, scale, max_norm: clip_each_own_norm([np.asarray(g) / scale
                                                                           for g in scaled_grads], max_norm),
                "you clipped each gradient by its own norm, which turns the update: clip all of them "
                "together, by their global norm."),
        Mistake(lambda scaled_grads, scale, max_norm: [np.clip(np.asarray(g, dtype=float) / scale, -max_norm,
                                                               max_norm) for g in scaled_grads],
                "you clipped by value (each entry to [−max_norm, max_norm]); clip by the global norm, "
                "which keeps the direction."),
    ],
    hint="the gradients hold S·g: get the true g back first, then clip those "
         "(clipping.clip_grad_norm_ works in place).",
)


def check_unscale_then_clip(fn: Callable) -> CheckResult:
    """Check ``fn(scaled_grads, scale, max_norm)`` -> the unscaled, then globally clipped gradients."""
    return check_function(fn, UNSCALE_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Predict: the window of loss scales when the loss is summed, not averaged
# --------------------------------------------------------------------------------------------------

MAX_LOST = 0.01
"""A scale works when at most this share of the nonzero gradients rounds to 0 in float16 and none
becomes inf."""

SUM_SHIFT = 10
"""Summed over the batch of 1024 = 2^10 rows instead of averaged, the loss has every gradient 2^10
times larger (for the same weights): exactly, since a power of two only moves the exponent."""

WINDOW_SUCCESS = "float16 only ever sees S × gradient, and that product decides what survives."
"""What the right window is told. It names no exponent: the solution's output shows under the
question whenever the notebook is run, and must not answer it."""


def _works(k: float) -> tuple[bool, str]:
    """Whether S = 2^k works for the summed loss's gradients, and what goes wrong when it does not."""
    kept = survival(activation_gradients().values, 2.0 ** (k + SUM_SHIFT), "float16")
    if kept.overflow > 0:
        return False, f"at 2^{k:g}, {100 * kept.overflow:.2g} % of the nonzero gradients overflow to inf"
    if kept.lost > MAX_LOST:
        return False, f"at 2^{k:g}, {100 * kept.lost:.2g} % of the nonzero gradients still round to 0"
    return True, ""


def _judge_window(smallest: float, largest: float) -> CheckResult:
    """Run both ends of the learner's window, and the powers of two just outside it, through the
    summed loss's gradients rounded to float16."""
    if smallest != int(smallest) or largest != int(largest):
        return CheckResult(False, "give whole exponents k, for S = 2^k: the powers of two GradScaler's scale takes.")
    if smallest > largest:
        return CheckResult(False, "the smallest exponent is larger than the largest: swap them.")
    low, high = _window()
    if (smallest, largest) == (low, high):
        return CheckResult(True, WINDOW_SUCCESS)

    def near(shift: int) -> bool:        # both ends within one power of two of the window moved by `shift`
        return abs(smallest - low - shift) <= 1 and abs(largest - high - shift) <= 1

    if near(SUM_SHIFT):
        return CheckResult(False, "that is the window of the averaged loss. Summed, every gradient is 2^10 times "
                                  "larger. Which S gives the same S × gradient?")
    if near(2 * SUM_SHIFT):
        return CheckResult(False, "you moved the window up, but larger gradients need a smaller S, not a larger one.")
    problems = []
    for k, outside, end in ((smallest, smallest - 1, "smallest"), (largest, largest + 1, "largest")):
        works, why = _works(k)
        if not works:
            problems.append(f"{why}, so your {end} goes too {'low' if end == 'smallest' else 'high'}")
        elif _works(outside)[0]:
            further = "lower" if end == "smallest" else "higher"
            problems.append(f"2^{outside:g} works too, so your {end} can go {further}")
    return CheckResult(False, "; ".join(problems) + ".")


def _window() -> tuple[int, int]:
    """The true window for the summed loss, as exponents: the powers of two from 2^-40 to 2^40 that work."""
    working = [k for k in range(-40, 41) if _works(k)[0]]
    return working[0], working[-1]


SCALE_WINDOW_QUESTION = Question(
    name="my_window",
    fields=("smallest", "largest"),
    hint="the table above shows which S work for the averaged loss. Multiplying every gradient by 2^10 moves "
         "its histogram 10 powers of two to the right. Where must S go?",
    judge=_judge_window,
)


def check_scale_window(answer: Any) -> CheckResult:
    """Check the window of loss scales S = 2^k for the summed loss's gradients: ``answer`` is
    {"smallest": k, "largest": k}; S works when, multiplied by S and rounded to float16, none of
    the gradients overflows and at most 1 % of the nonzero ones round to 0."""
    return check_answer(answer, SCALE_WINDOW_QUESTION)
