"""The exercises of notebook 13: the warm-up + cosine schedule (``check_warmup_cosine``) and a
warm-up length to choose (``check_warmup_length``, judged by training the recipe at that length).
Gradient accumulation with a GradScaler is an exercise of notebook 10 (mixed precision)."""

import functools
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from course_lib.interactive.checking import (
    accepts_arguments, check_answer, check_function, CheckResult, describe_value, Exercise, Mistake, Question,
    UnusableAnswer, wrong_signature,
)
from course_lib.lessons.recipe.training import make_task, RECIPE, train_many, warmup_cosine

# --------------------------------------------------------------------------------------------------
# 1. The schedule
# --------------------------------------------------------------------------------------------------

def warmup_cosine_reference(step, peak_lr, warmup_steps, total_steps, eta_min):
    """The rate of step t (from 0): peak·(t+1)/W during the warm-up (t < W), then a cosine that is
    at the peak at t = W and at eta_min at the last step, t = total_steps − 1."""
    return warmup_cosine(step, peak_lr, warmup_steps, total_steps, eta_min)


def _schedule_with(ramp: Callable, cosine: Callable, through_w: bool = False) -> Callable:
    """A per-step schedule made of a warm-up ``ramp(t, peak, W)`` and a decay ``cosine(t, peak, W, T, eta)``
    (the known wrong versions below differ from the reference in one of the two). ``through_w``: the
    ramp also at step W (``step <= W``, when W > 0)."""
    def lr(step, peak_lr, warmup_steps, total_steps, eta_min):
        if step < warmup_steps or through_w and 0 < warmup_steps == step:
            return ramp(step, peak_lr, warmup_steps)
        return cosine(step, peak_lr, warmup_steps, total_steps, eta_min)
    return lr


def _right_ramp(s, peak, W):
    return peak * (s + 1) / W


def _cosine_of(progress: Callable, low: Callable = lambda peak, eta: eta, high: Callable = lambda peak, eta: peak,
               shape: Callable = lambda p: (1 + np.cos(np.pi * p)) / 2) -> Callable:
    def cosine(s, peak, W, T, eta):
        top, bottom = high(peak, eta), low(peak, eta)
        return bottom + (top - bottom) * shape(progress(s, W, T))
    return cosine


_RIGHT_PROGRESS = lambda s, W, T: (s - W) / (T - W - 1)
_RIGHT_COSINE = _cosine_of(_RIGHT_PROGRESS)


def _schedule_sequence(fn: Callable) -> Callable:
    """The learner's per-step function as the whole sequence of rates of a case (``...`` when the
    function returns the stub's ``...``)."""
    def sequence(peak_lr, warmup_steps, total_steps, eta_min):
        rates = []
        for s in range(total_steps):
            rate = fn(s, peak_lr, warmup_steps, total_steps, eta_min)
            if rate is Ellipsis:
                return Ellipsis
            rates.append(rate)
        return rates
    return sequence


def _rates(returned: list) -> list:
    """The rates a per-step function returned, each checked to be one number (a Python or NumPy
    number, or a 0-d array or tensor), as floats."""
    rates = []
    for step, rate in enumerate(returned):
        try:
            one = not isinstance(rate, (bool, str, bytes)) and np.ndim(rate) == 0 and float(rate) is not None
        except (TypeError, ValueError, RuntimeError):
            one = False
        if not one:
            raise UnusableAnswer(f"for step {step} your function returned {describe_value(rate)}; return one "
                                 f"number, the rate of that step")
        rates.append(float(rate))
    return rates


def _mistake(ramp: Callable = _right_ramp, cosine: Callable = _RIGHT_COSINE, through_w: bool = False) -> Callable:
    return _schedule_sequence(_schedule_with(ramp, cosine, through_w))


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
    outputs=("the schedule",),
    run=_rates,
    success=("peak/W on the first step, the peak at steps W − 1 and W, eta_min on the last step:\n"
             "the rates of torch's SequentialLR(LinearLR, CosineAnnealingLR)."),
    mistakes=[
        Mistake(_mistake(ramp=lambda s, peak, W: peak * s / W),
                "your warm-up starts at 0: peak·t/W wastes the first step and ends below the peak. Use "
                "peak·(t+1)/W: peak/W on the first step, the peak at step W − 1."),
        Mistake(_mistake(ramp=lambda s, peak, W: peak * (s + 1) / (W + 1)),
                "off by one at the end of the warm-up: peak·(t+1)/(W+1) never reaches the peak (the last "
                "warm-up step gets peak·W/(W+1)). Divide by W, so that step W − 1 is at the peak."),
        Mistake(_mistake(through_w=True),
                "your warm-up runs one step too long: at step W it gives peak·(W+1)/W, above the peak. "
                "The warm-up is steps 0 … W − 1: test step < W."),
        Mistake(_mistake(cosine=_cosine_of(lambda s, W, T: (s - W + 1) / (T - W))),
                "off by one at the end of the warm-up: your cosine is already below the peak at step W. "
                "Count the decay's steps from W: progress (t − W)/(T − W − 1), which is 0 at t = W."),
        Mistake(_mistake(cosine=_cosine_of(lambda s, W, T: (s - W) / (T - W))),
                "the cosine does not reach eta_min: with progress (t − W)/(T − W) the last step is still "
                "above it. Divide by T − W − 1, the decay's length (CosineAnnealingLR's T_max)."),
        Mistake(_mistake(cosine=_cosine_of(lambda s, W, T: (s - W) / (T - 1))),
                "your cosine is as long as the whole run, so the last step is still above eta_min. It "
                "starts at W: its length is what is left, T − W − 1 steps."),
        Mistake(_mistake(cosine=_cosine_of(lambda s, W, T: s / (T - 1))),
                "your cosine's clock starts at step 0 instead of at the end of the warm-up, so the decay "
                "starts below the peak. Measure its progress from W: (t − W)/(T − W − 1)."),
        Mistake(_mistake(cosine=_cosine_of(_RIGHT_PROGRESS, low=lambda peak, eta: 0.0)),
                "your cosine goes down to 0 and ignores eta_min: use eta_min + (peak − eta_min)·(1 + cos(π·p))/2."),
        Mistake(_mistake(cosine=_cosine_of(_RIGHT_PROGRESS, high=lambda peak, eta: peak + eta)),
                "your cosine starts above the peak: eta_min + peak·(1 + cos)/2 adds eta_min on top. "
                "Scale the cosine by (peak − eta_min)."),
        Mistake(_mistake(cosine=_cosine_of(_RIGHT_PROGRESS, shape=lambda p: np.cos(np.pi * p))),
                "your decay goes below eta_min, down to 2·eta_min − peak: cos(π·p) runs from 1 to −1. "
                "Use (1 + cos(π·p))/2, which runs from 1 to 0."),
    ],
    hints={ZeroDivisionError: "With warmup_steps = 0 there is no warm-up: only use the ramp when step < "
                              "warmup_steps (and the decay then has total_steps − 1 steps)."},
    hint="two cases, as in the equations above: the straight ramp while step < warmup_steps, then the "
         "half cosine.",
)
WARMUP_COSINE_CALL = "warmup_cosine_lr(step, peak_lr, warmup_steps, total_steps, eta_min)"


def check_warmup_cosine(fn: Callable) -> CheckResult:
    """Check ``fn(step, peak_lr, warmup_steps, total_steps, eta_min)`` -> the rate of that step."""
    if not callable(fn):
        return check_function(fn, WARMUP_COSINE_EXERCISE)
    if not accepts_arguments(fn, 5):
        return wrong_signature(WARMUP_COSINE_CALL)
    return check_function(_schedule_sequence(fn), WARMUP_COSINE_EXERCISE)


# --------------------------------------------------------------------------------------------------
# 2. Choose: a warm-up length for a high peak rate
# --------------------------------------------------------------------------------------------------

WARMUP_PEAK = 0.3
"""The peak rate of the question: ten times the recipe's, where runs without warm-up spike."""
WARMUP_SEEDS = (0, 1, 2, 3, 4)
STEPS = 200
SPIKE_FACTOR, SPIKE_STEPS = 3.0, 50
"""A run spikes when its minibatch loss rises above SPIKE_FACTOR times its first one within SPIKE_STEPS steps."""
TARGET_ERROR = 18.0
"""The mean test error (%) over the seeds that the runs must stay below."""


@functools.cache
def _task():
    return make_task()


def warmup_runs(warmup_steps: int):
    """The recipe at peak ``WARMUP_PEAK`` with ``warmup_steps`` of warm-up, from every seed of
    ``WARMUP_SEEDS``, 200 steps (one ``train_many`` call)."""
    return train_many([replace(RECIPE, peak_lr=WARMUP_PEAK, warmup_steps=warmup_steps)], seeds=WARMUP_SEEDS,
                      steps=STEPS, task=_task())


def _judge_warmup(warmup_steps: float) -> CheckResult:
    """Train the five runs at this warm-up length and say whether they spiked and how well they ended.
    Only seed means with one decimal and counts are printed: the digits of one chaotic run are not."""
    if warmup_steps != int(warmup_steps) or not 0 <= warmup_steps <= STEPS - 2:
        raise ValueError(f"the warm-up is a whole number of steps from 0 to {STEPS - 2}, not {warmup_steps:g}")
    W = int(warmup_steps)
    runs = warmup_runs(W)
    rises = runs.losses[:SPIKE_STEPS].max(axis=0) / runs.losses[0]
    spiked = int(np.sum(~(rises <= SPIKE_FACTOR)))           # NaN (an overflow) counts as a spike
    errors = np.where(runs.diverged, 100.0, 100 * runs.test_error)
    seeds, mean = len(WARMUP_SEEDS), errors.mean()
    reaches = "from the first step" if W == 0 else f"by step {W - 1}"
    if spiked:
        return CheckResult(False, f"too short: with W = {W} the rate is at {WARMUP_PEAK:g} {reaches}, and {spiked} of "
                                  f"the {seeds} runs' loss rose above {SPIKE_FACTOR:g}× its start in the first "
                                  f"{SPIKE_STEPS} steps. Lengthen the warm-up.")
    shown = _percent(mean)
    if mean < TARGET_ERROR:
        # No W in it: the solution's output shows under the question whenever the notebook is run.
        return CheckResult(True, f"your warm-up let the rate climb to {WARMUP_PEAK:g} gently enough that no run's loss "
                                 f"rose above {SPIKE_FACTOR:g}× its start, and left time for the decay: the mean test "
                                 f"error of the {seeds} runs is {shown} %, below {TARGET_ERROR:g} %.")
    if W < STEPS // 4:
        return CheckResult(False, f"too short: no loss tripled, but with the rate at {WARMUP_PEAK:g} {reaches} the "
                                  f"worst run ended at {errors.max():.1f} % error: mean {shown} %, not below "
                                  f"{TARGET_ERROR:g} %. Lengthen the warm-up.")
    return CheckResult(False, f"too long: the rate reaches {WARMUP_PEAK:g} only at step {W - 1}, and the decay gets "
                              f"only the last {STEPS - W} steps: mean test error {shown} % over {seeds} runs, "
                              f"not below {TARGET_ERROR:g} %. Shorten the warm-up.")


def _percent(mean: float) -> str:
    """The mean error with one decimal, or as many more as it takes not to print the target itself
    (17.98 is "17.98", not "18.0", which would contradict "below 18 %")."""
    for decimals in (1, 2, 3, 4):
        text = f"{mean:.{decimals}f}"
        if float(text) != TARGET_ERROR:
            return text
    return text


WARMUP_QUESTION = Question(
    name="my_warmup",
    fields=("warmup_steps",),
    hint="too short a warm-up lets the first steps at 0.3 throw the runs; too long a one leaves little "
         "time for the decay.",
    judge=_judge_warmup,
)


def check_warmup_length(answer: Any) -> CheckResult:
    """Check a warm-up length W for the recipe at peak 0.3: five seeds trained for 200 steps must not
    spike (loss above 3× the first within 50 steps) and must reach a mean test error below 18 %."""
    return check_answer(answer, WARMUP_QUESTION)
