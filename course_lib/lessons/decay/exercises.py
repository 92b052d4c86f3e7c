"""Notebook 05, learning-rate decay: the exercises. Three "write the formula" checks (``update_lr``,
``schedule_lr_decay``, ``fixed_interval_lambda``) and a design task, ``my_schedule``: an inverse-time
decay that reaches a target loss within a step budget, judged by running it on the noisy regression.
"""

import functools
from typing import Any, Callable

import numpy as np

from course_lib import schedules
from course_lib.interactive.checking import (
    call_on_case, check_answer, check_function, CheckResult, describe_value, Exercise, Mistake, Question, RTOL,
    UnusableAnswer,
)
from course_lib.lab.regression import noisy_regression
from course_lib.lessons.decay.experiments import noise_free_excess, run_sgd, schedule_lrs


def _inverse_time(lr0, epoch, decay_rate):
    return lr0 / (1 + decay_rate * epoch)


def _fixed_interval(lr0, epoch, decay_rate, time_interval):
    return lr0 / (1 + decay_rate * np.floor(epoch / time_interval))


UPDATE_LR_EXERCISE = Exercise(
    name="update_lr",
    cases=[{"lr0": lr0, "epoch": epoch, "decay_rate": k}
           for lr0, epoch, k in [(0.5, 2, 1.0), (0.1, 10, 0.3), (0.2, 7, 2.0), (0.05, 0, 0.5), (1.0, 3, 0.25)]],
    expected=_inverse_time,
    outputs=("the learning rate",),
    success="lr = lr0 / (1 + decay_rate·epoch): inverse-time decay (update_lr(0.5, 2, 1) = 0.1666…).",
    mistakes=[
        Mistake(lambda lr0, epoch, k: lr0 * 0.95**epoch,
                "you wrote the lecture's exponential decay, 0.95^epoch·lr0 (ExponentialLR). Despite the "
                "assignment's name for it, update_lr is inverse-time decay: lr0 / (1 + k·epoch)."),
        Mistake(lambda lr0, epoch, k: lr0 * np.exp(-k * epoch),
                "you decayed exponentially, lr0·exp(−k·epoch). The formula is lr0 / (1 + k·epoch); it "
                "falls like 1/epoch, far more slowly, whatever the assignment calls it."),
        Mistake(lambda lr0, epoch, k: lr0 / (1 + k) ** epoch,
                "you raised (1 + k) to the power epoch: that is exponential decay with γ = 1/(1 + k). "
                "Divide once: lr0 / (1 + k·epoch)."),
        Mistake(lambda lr0, epoch, k: lr0 * k**epoch,
                "you computed decay_rate^epoch·lr0, exponential decay (ExponentialLR with gamma = k); "
                "inverse-time decay is lr0 / (1 + k·epoch)."),
        Mistake(lambda lr0, epoch, k: lr0 / 1 + k * epoch,
                "the parentheses are missing: lr0 / 1 + k·epoch adds k·epoch to lr0. Write "
                "lr0 / (1 + k·epoch)."),
        Mistake(lambda lr0, epoch, k: lr0 / (1 + k * (epoch + 1)),
                "off by one: epochs count from 0, and at epoch 0 the rate is lr0 itself."),
        Mistake(lambda lr0, epoch, k: lr0 * (1 + k * epoch),
                "you multiplied by (1 + k·epoch), so the rate grows; divide by it."),
        Mistake(lambda lr0, epoch, k: 1 / (1 + k * epoch),
                "you returned the factor 1 / (1 + k·epoch) alone; the rate is lr0 times it."),
        Mistake(lambda lr0, epoch, k: lr0 / (1 + k) * epoch,
                "the parentheses are misplaced: lr0 / (1 + k)·epoch multiplies by epoch, so the rate is 0 at "
                "epoch 0. Write lr0 / (1 + k·epoch)."),
    ],
    hints={(ZeroDivisionError, "by zero"): "The denominator is 1 + k·epoch, which is never 0 for k ≥ 0."},
    hint="Inverse-time decay divides lr0 once, by a number that starts at 1 and grows by decay_rate "
         "every epoch.",
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
    expected=_fixed_interval,
    outputs=("the learning rate",),
    success="lr = lr0 / (1 + decay_rate·⌊epoch / time_interval⌋): flat for each interval, then lower.",
    mistakes=[
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k * epoch / interval),
                "you forgot the floor: epoch 250 with interval 100 counts as 2 whole intervals, not 2.5. "
                "Use np.floor(epoch / time_interval) or epoch // time_interval."),
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k * epoch),
                "you used epoch instead of ⌊epoch / time_interval⌋: that is plain inverse-time decay, "
                "which changes every epoch. Fixed-interval scheduling counts whole intervals."),
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k) ** np.floor(epoch / interval),
                "lr0 / (1 + k)^⌊epoch / interval⌋ multiplies by the same factor at every stair: StepLR "
                "with gamma = 1/(1 + k). Divide once: lr0 / (1 + k·⌊epoch / interval⌋)."),
        Mistake(lambda lr0, epoch, k, interval: lr0 * k ** np.floor(epoch / interval),
                "you computed k^⌊epoch / interval⌋·lr0, a StepLR staircase with gamma = k; the "
                "formula is lr0 / (1 + k·⌊epoch / interval⌋)."),
        Mistake(lambda lr0, epoch, k, interval: lr0 * 0.5 ** np.floor(epoch / interval),
                "you wrote the lecture's discrete staircase, 0.5^⌊epoch / interval⌋·lr0 (StepLR, "
                "gamma = 0.5); fixed-interval scheduling divides once: lr0 / (1 + k·⌊epoch / interval⌋)."),
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k * np.round(epoch / interval)),
                "you rounded epoch / time_interval to the nearest integer; take the floor instead "
                "(epoch 99 with interval 100 is still in stair 0)."),
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k * np.ceil(epoch / interval)),
                "you took the ceiling of epoch / time_interval; take the floor (epoch 10 with interval "
                "100 is still in stair 0, so the rate is lr0)."),
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k * np.floor(interval / epoch)) if epoch else lr0,
                "epoch and time_interval are swapped: count the intervals with ⌊epoch / time_interval⌋."),
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + np.floor(k * epoch / interval)),
                "you took the floor of k·epoch / time_interval; floor only epoch / time_interval. (In Python "
                "k * epoch // T does the first: * and // go left to right.)"),
        Mistake(lambda lr0, epoch, k, interval: lr0 / (1 + k * np.floor((epoch + 1) / interval)),
                "off by one: epochs count from 0 (the lecture counts from 1), so the first drop comes at "
                "epoch = time_interval; you used epoch + 1."),
        Mistake(lambda lr0, epoch, k, interval: 1 / (1 + k * np.floor(epoch / interval)),
                "you returned the factor 1 / (1 + k·⌊epoch / time_interval⌋) alone; the rate is lr0 times it."),
    ],
    hints={(ZeroDivisionError, "by zero"):
           "Divide the epoch by time_interval (never 0), not the other way round."},
    hint="As in update_lr, but the epoch counts only in whole intervals: how many full time_intervals "
         "have passed?",
)


def check_schedule_lr_decay(fn: Callable) -> CheckResult:
    """Check ``fn(lr0, epoch, decay_rate, time_interval)`` -> lr0 / (1 + decay_rate·⌊epoch/time_interval⌋)."""
    return check_function(fn, SCHEDULE_LR_DECAY_EXERCISE)


_LAMBDA_EPOCHS = 60
RATE_NOT_FACTOR = ("your lambda returns a rate, not a factor: LambdaLR multiplies the base lr by it, so lr0 "
                   "counts twice. Return 1 / (1 + k·(epoch // interval)).")
_LAMBDA_BASE_LR = 0.1
_RATES = f"LambdaLR's rate (base lr {_LAMBDA_BASE_LR}, epochs 0 … {_LAMBDA_EPOCHS - 1})"
"""What the lambda exercise compares, named in its messages: "<_RATES> is wrong at index 7: …"."""


def _lambda_lr_sequence(lr_lambda: Any) -> np.ndarray:
    """The rates of epochs 0 … 59 under ``LambdaLR(optimizer with lr 0.1, lr_lambda)``
    (``course_lib.schedules.LambdaLR``, which gives torch's numbers)."""
    import types

    if not callable(lr_lambda):
        raise UnusableAnswer(f"your function returned {describe_value(lr_lambda)}; return a function of the epoch, "
                             f"e.g. lambda epoch: ...")
    optimizer = types.SimpleNamespace(lr=_LAMBDA_BASE_LR)
    try:
        scheduler = schedules.LambdaLR(optimizer, lr_lambda)
        rates = []
        for _ in range(_LAMBDA_EPOCHS):
            rates.append(float(optimizer.lr))
            scheduler.step()
    except Exception as error:  # the learner's lambda may raise anything
        raise UnusableAnswer(f"LambdaLR could not use your lambda: {type(error).__name__}: {error}") from None
    return np.array(rates)


def _fixed_interval_rates(decay_rate, time_interval):
    epochs = np.arange(_LAMBDA_EPOCHS)
    return _LAMBDA_BASE_LR / (1 + decay_rate * (epochs // time_interval))


FIXED_INTERVAL_LAMBDA_EXERCISE = Exercise(
    name="fixed_interval_lambda",
    cases=[{"decay_rate": k, "time_interval": interval} for k, interval in [(1.0, 10), (0.25, 7), (3.0, 20)]],
    expected=_fixed_interval_rates,
    run=_lambda_lr_sequence,
    outputs=(_RATES,),
    success="LambdaLR multiplies the base lr by your factor 1 / (1 + k·(epoch // interval)).",
    mistakes=[
        Mistake(lambda k, interval: (lambda epoch: _LAMBDA_BASE_LR / (1 + k * (epoch // interval))),
                RATE_NOT_FACTOR),
        Mistake(lambda k, interval: (lambda epoch: 1 / (1 + k * epoch / interval)),
                "you forgot the floor: use epoch // interval so that the factor changes only every "
                "interval epochs."),
        Mistake(lambda k, interval: (lambda epoch: 1 / (1 + k * epoch)),
                "your factor changes every epoch: that is inverse-time decay. Count whole intervals: "
                "1 / (1 + k·(epoch // interval))."),
        Mistake(lambda k, interval: (lambda epoch: (1 / (1 + k)) ** (epoch // interval)),
                "(1/(1 + k))^(epoch // interval) multiplies at every stair, as StepLR(gamma=1/(1 + k)) "
                "does. Fixed-interval scheduling divides once: 1 / (1 + k·(epoch // interval))."),
        Mistake(lambda k, interval: (lambda epoch: 0.5 ** (epoch // interval)),
                "0.5^(epoch // interval) is the lecture's discrete staircase, StepLR(gamma=0.5). "
                "Fixed-interval scheduling divides once: 1 / (1 + k·(epoch // interval))."),
        Mistake(lambda k, interval: (lambda epoch: 1 / (1 + k * ((epoch + 1) // interval))),
                "off by one: LambdaLR calls the lambda with epochs 0, 1, 2, … so the first drop comes at "
                "epoch = interval; you used epoch + 1."),
        Mistake(lambda k, interval: (lambda epoch: 1 / (1 + k * epoch // interval)),
                "k * epoch // interval takes the floor of k·epoch / interval (* and // go left to right). "
                "Floor only the epoch: k * (epoch // interval)."),
    ],
    hint="Return a function of the epoch (lambda epoch: …). LambdaLR multiplies the base lr by its "
         "value: a factor, not a rate.",
)


def check_fixed_interval_lambda(fn: Callable) -> CheckResult:
    """Check ``fn(decay_rate, time_interval)`` -> an ``lr_lambda`` for which ``LambdaLR`` gives
    fixed-interval scheduling lr0 / (1 + k·⌊epoch / interval⌋) over 60 epochs.

    A lambda that returns a rate, lr0 / (1 + …) with any lr0 of the learner's (the notebook's own
    ``lr0``, say), makes every rate the same multiple of the right one: that is told as well.
    """
    result = check_function(fn, FIXED_INTERVAL_LAMBDA_EXERCISE)
    if result.passed or not result.attempted or not result.message.startswith(_RATES):
        return result
    return CheckResult(False, RATE_NOT_FACTOR) if _rates_all_scaled(fn) else result


def _rates_all_scaled(fn: Callable) -> bool:
    """Whether, in every case, LambdaLR's rates with ``fn``'s lambda are one and the same multiple
    (not 1) of the right ones."""
    ratios = []
    for case in FIXED_INTERVAL_LAMBDA_EXERCISE.cases:
        try:
            rates = _lambda_lr_sequence(call_on_case(fn, case))
        except Exception:  # the learner's code may raise anything; check_function has said what
            return False
        ratios.append(rates / _fixed_interval_rates(*case.values()))
    ratios = np.concatenate(ratios)
    return bool(np.all(np.isfinite(ratios)) and np.allclose(ratios, ratios[0], rtol=RTOL, atol=0)
                and not np.isclose(ratios[0], 1.0) and ratios[0] != 0)


# --------------------------------------------------------------------------------------------------
# Design a schedule for a budget: the learner picks lr0 and k, the noisy regression judges
# --------------------------------------------------------------------------------------------------

BUDGET_EPOCHS = 10
"""The budget: 10 epochs of 50 mini-batch steps, 500 steps of SGD from w = 0."""
BUDGET_TARGET = 1.5e-3
"""The target: F − F* after the budget, the mean over ``BUDGET_SEEDS`` seeds, below this."""
BUDGET_SEEDS = 64
FROZEN = 2.0
"""A run froze when the noise left in it is over FROZEN times the floor of its last rate (a run that
sits at the floor of its last rate is 1.1 to 1.8 times above it, as it lags behind the falling rate)."""


@functools.lru_cache(maxsize=1)
def _budget_problem():
    return noisy_regression()


def budget_run(lr0: float, decay_rate: float):
    """The rates lr0 / (1 + decay_rate·e) of the budget's epochs and SGD under them on the noisy
    regression, ``BUDGET_SEEDS`` runs with their own mini-batches (seed 0)."""
    lrs = schedule_lrs("inverse time", lr0, BUDGET_EPOCHS, decay_rate=decay_rate)
    return lrs, run_sgd(_budget_problem(), np.tile(lrs[:, None], (1, BUDGET_SEEDS)), seed=0)


def _judge_schedule(lr0: float, decay_rate: float) -> CheckResult:
    """Run the learner's schedule on the budget, then say whether it reached the target and, if not,
    why: it diverged (or F − F* grew); it was too slow (noise-free gradient descent with the same
    rates would leave over half the final loss); it froze (the rate fell so fast that the noise left is well above the
    floor of the last rate); or it stalled at the noise floor of a last rate still too large."""
    lrs, runs = budget_run(lr0, decay_rate)
    problem = _budget_problem()
    steps = BUDGET_EPOCHS * problem.steps_per_epoch
    setting = f"with lr0 = {lr0:.3g}, k = {decay_rate:.3g},"
    final, start = float(runs.excess_loss[-1].mean()), float(runs.excess_loss[0, 0])
    diverged = any(epoch is not None for epoch in runs.diverged_at)
    if diverged or final > start:
        what = f"SGD {runs.summary()}" if diverged else f"F − F* grew from {start:.2g} to {final:.2g}"
        limit = 2 / np.linalg.eigvalsh(problem.hessian)[-1]
        return CheckResult(False, f"diverged: {setting} {what}. On this problem a rate near or above 2/h_max ≈ "
                                  f"{limit:.2g} is unstable: start lower.")
    reached = f"F − F* is {final:.2e} after {steps} steps"  # 3 digits: the target has 2
    if final < BUDGET_TARGET:
        # not lr0, k or the last rate: after "Run All" this shows under the question (the answer's own
        # numbers would give it away); the learner's answer is "your schedule", the run says the rest
        return CheckResult(True, f"Your schedule brought F − F* to {final:.1e} in {steps} steps (mean of "
                                 f"{BUDGET_SEEDS} seeds), below {BUDGET_TARGET:.1e}: its early rates travelled "
                                 f"fast, and its last rate, lr0 / (1 + {BUDGET_EPOCHS - 1}k), had a low noise floor.")
    without_noise = noise_free_excess(problem, lrs)
    if without_noise > final / 2:
        return CheckResult(False, f"too slow: {setting} {reached}, {without_noise:.1e} even without noise. "
                                  f"The rates add up to only {lrs.sum():.2g}: raise lr0 or lower k.")
    floor = float(problem.predicted_floor(lrs[-1]))
    if decay_rate > 0 and final - without_noise > FROZEN * floor:
        return CheckResult(False, f"froze: {setting} {reached}, far above the floor of the last rate, "
                                  f"{floor:.1e}. The rate fell too fast for the weights to settle: lower k or lr0.")
    return CheckResult(False, f"stalled at the noise floor: {setting} {reached}, {without_noise:.1e} without "
                              f"noise. The last rate, {lrs[-1]:.2g}, is too large: raise k.")


SCHEDULE_QUESTION = Question(
    name="my_schedule",
    fields=("lr0", "decay_rate"),
    hint="Pick lr0 and decay_rate for lr0 / (1 + decay_rate·e): a high start travels fast, a low last "
         "rate has a low noise floor.",
    judge=_judge_schedule,
)


def check_schedule(answer: Any) -> CheckResult:
    """Check ``{"lr0": …, "decay_rate": …}``: inverse-time decay that brings the noisy regression's
    F − F* below 1.5e-3 (mean of 64 seeds) within 500 steps of SGD."""
    return check_answer(answer, SCHEDULE_QUESTION)
