"""Notebook 11, weight averaging: the exercises and their checks.

Three "write it" exercises (the running mean of a parameter list, the EMA update of one, a
zero-started EMA with its bias correction) and a choice judged by running it (an EMA decay that
beats the last iterate of noisy SGD within a budget, at another lr than the notebook shows)::

    lesson.check_running_mean(running_mean)
    lesson.check_ema_decay(my_decay)
"""

import functools
from typing import Any, Callable

import numpy as np

from course_lib.interactive.checking import (check_answer, check_function, CheckResult, Exercise, Mistake, Question,
    UnusableAnswer, describe_value)
from course_lib.lab.regression import noisy_regression
from course_lib.lessons.weight_averaging.experiments import averaged_sgd


def _parameter_lists(seed: int, count: int) -> list:
    """``count`` seeded parameter lists of the same shapes: a matrix and a bias, as a layer has."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal((3, 2)), rng.standard_normal(3)] for _ in range(count)]


def _as_parameter_list(returned: Any) -> np.ndarray:
    """A returned parameter list [W, b] as one flat array (what the check compares)."""
    if not isinstance(returned, (list, tuple)):
        raise UnusableAnswer(f"your function returned {describe_value(returned)}; return a list of two "
                             f"arrays, one per parameter, like the lists it gets")
    if len(returned) != 2:
        raise UnusableAnswer(f"your function returned a list of {len(returned)} items; return one new "
                             f"array per parameter, 2 here")
    parts = []
    for part, shape in zip(returned, ((3, 2), (3,))):
        array = np.asarray(part, dtype=float) if isinstance(part, (np.ndarray, list, float, int)) else None
        if array is None or array.shape != shape:
            raise UnusableAnswer(f"your list holds {describe_value(part)} where an array of shape {shape} "
                                 f"belongs: keep each parameter's shape")
        parts.append(array.ravel())
    return np.concatenate(parts)


def _flat(params) -> np.ndarray:
    return np.concatenate([np.asarray(p, dtype=float).ravel() for p in params])


# --------------------------------------------------------------------------------------------------
# 1. The running mean of a parameter list
# --------------------------------------------------------------------------------------------------

def _running_mean(average, theta, n):
    return _flat([a + (t - a) / (n + 1) for a, t in zip(average, theta)])


_MEAN_CASES = [{"average": a, "theta": t, "n": n}
               for (a, t), n in zip((_parameter_lists(seed, 2) for seed in range(4)), (1, 2, 5, 40))]

RUNNING_MEAN_EXERCISE = Exercise(
    name="running_mean",
    cases=_MEAN_CASES,
    expected=_running_mean,
    run=_as_parameter_list,
    outputs=("the new average",),
    success="θ̄ + (θ − θ̄)/(n + 1): each of the n + 1 iterates now weighs 1/(n + 1), as in an equal mean.",
    mistakes=[
        Mistake(lambda a, t, n: [x + (y - x) / n for x, y in zip(a, t)],
                "you divided by n: with n iterates averaged, the new one is the (n + 1)-th, so it weighs "
                "1/(n + 1)."),
        Mistake(lambda a, t, n: [(x + y) / 2 for x, y in zip(a, t)],
                "(θ̄ + θ)/2 gives the new iterate half the weight, whatever n is: an EMA with β = 1/2, not "
                "a mean. Weigh it 1/(n + 1)."),
        Mistake(lambda a, t, n: [x + (y - x) / (n + 2) for x, y in zip(a, t)],
                "you divided by n + 2; n counts the iterates already averaged, so the new one weighs 1/(n + 1)."),
        Mistake(lambda a, t, n: [n * x + y / (n + 1) for x, y in zip(a, t)],
                "the parentheses are missing: write (n·θ̄ + θ)/(n + 1)."),
        Mistake(lambda a, t, n: [(n * x + y) / n for x, y in zip(a, t)],
                "(n·θ̄ + θ)/n adds up n + 1 iterates but divides by n; divide by n + 1."),
    ],
    hint="The mean of n numbers is θ̄; a new one arrives. The new mean moves from θ̄ towards θ by "
         "a fraction: which one? Apply it to every array of the list.",
)


def check_running_mean(fn: Callable) -> CheckResult:
    """Check ``fn(average, theta, n)`` -> [θ̄ + (θ − θ̄)/(n + 1) for each array], a new list."""
    return check_function(fn, RUNNING_MEAN_EXERCISE)


# --------------------------------------------------------------------------------------------------
# 2. The EMA update of a parameter list
# --------------------------------------------------------------------------------------------------

def _ema_update(ema, theta, decay):
    return _flat([decay * e + (1 - decay) * t for e, t in zip(ema, theta)])


EMA_UPDATE_EXERCISE = Exercise(
    name="ema_update",
    cases=[{"ema": e, "theta": t, "decay": b}
           for (e, t), b in zip((_parameter_lists(10 + seed, 2) for seed in range(4)), (0.9, 0.999, 0.5, 0.7))],
    expected=_ema_update,
    run=_as_parameter_list,
    outputs=("the new EMA",),
    success="decay·θ̃ + (1 − decay)·θ: torch's get_ema_multi_avg_fn, notebook 01's EWA applied to θ.",
    mistakes=[
        Mistake(lambda e, t, b: [(1 - b) * x + b * y for x, y in zip(e, t)],
                "decay and 1 − decay are swapped: decay is the weight of the old average, so 0.999 keeps "
                "almost all of it."),
        Mistake(lambda e, t, b: [b * x + y for x, y in zip(e, t)],
                "the new weights need the factor 1 − decay; without it the average grows without bound."),
        Mistake(lambda e, t, b: [b * x + (1 - b) * x for x, y in zip(e, t)],
                "you averaged the EMA with itself: the second term is (1 − decay)·θ, the new weights."),
    ],
    hint="As notebook 01's v ← βv + (1 − β)θ, with β = decay, for each array of the list.",
)


def check_ema_update(fn: Callable) -> CheckResult:
    """Check ``fn(ema, theta, decay)`` -> [decay·e + (1 − decay)·θ for each array], a new list."""
    return check_function(fn, EMA_UPDATE_EXERCISE)


# --------------------------------------------------------------------------------------------------
# 3. A zero-started EMA with notebook 01's bias correction
# --------------------------------------------------------------------------------------------------

def _corrected(thetas, decay, shift=0, feed_back=False, corrected=True):
    v, out = 0.0, []
    for t, theta in enumerate(np.asarray(thetas, dtype=float), start=1):
        v = decay * v + (1 - decay) * theta
        value = v / (1 - decay ** (t + shift)) if corrected else v
        if feed_back:
            v = value
        out.append(value)
    return np.array(out)


CORRECTED_EMA_EXERCISE = Exercise(
    name="corrected_ema",
    cases=[{"thetas": np.random.default_rng(seed).normal(3.0, 1.0, size=size), "decay": decay}
           for seed, size, decay in ((0, 12, 0.9), (1, 30, 0.99), (2, 5, 0.5), (3, 40, 0.95))],
    expected=_corrected,
    outputs=("the corrected EMA",),
    success="v_t / (1 − β^t) with v_0 = 0: the weights β^(t−i)(1 − β) of the zero-started EMA add up to "
            "1 − β^t, and dividing by that makes them a weighted mean.",
    mistakes=[
        Mistake(lambda thetas, b: _corrected(thetas, b, corrected=False),
                "that is the uncorrected EMA v_t: started at 0 it starts near 0. Divide each v_t by 1 − β^t."),
        Mistake(lambda thetas, b: _corrected(thetas, b, shift=1),
                "off by one: after the first iterate t = 1, and the weights add up to 1 − β^t = 1 − β."),
        Mistake(lambda thetas, b: _corrected(thetas, b, shift=-1),
                "off by one: the first iterate has t = 1, so divide by 1 − β^t starting from 1 − β."),
        Mistake(lambda thetas, b: _corrected(thetas, b, feed_back=True),
                "you fed the corrected value back into the recursion. Keep v_t uncorrected and divide "
                "only what you return."),
        Mistake(lambda thetas, b: _corrected(thetas, b, corrected=False) / (1 - b),
                "you divided by 1 − β; the correction is 1 − β^t, which tends to 1 as t grows."),
    ],
    hints={(ZeroDivisionError, "by zero"): "Count t from 1: 1 − β^0 is 0."},
    hint="v_0 = 0, v_t = βv_{t−1} + (1 − β)θ_t; return v_t / (1 − β^t) for t = 1, 2, … as an array.",
)


def check_corrected_ema(fn: Callable) -> CheckResult:
    """Check ``fn(thetas, decay)`` -> the array of v_t / (1 − decay^t), t = 1 … len(thetas)."""
    return check_function(fn, CORRECTED_EMA_EXERCISE)


# --------------------------------------------------------------------------------------------------
# 4. Choose a decay: the EMA must beat the last iterate within a budget
# --------------------------------------------------------------------------------------------------

DECAY_BUDGET = 3000
"""SGD steps of the choice: lr ``DECAY_LR`` from w = 0 on the noisy regression, the EMA started at θ₀."""
DECAY_LR = 0.05
"""A quarter of the notebook's lr 0.2, so that the decay it shows for lr 0.2 cannot be copied: the
iterate now remembers four times longer, and the window must grow with it."""
DECAY_SEEDS = 64
DECAY_TARGET = 0.15
"""The EMA's F − F* after the budget must be below this fraction of the last iterate's (means over seeds)."""


@functools.lru_cache(maxsize=1)
def _problem():
    return noisy_regression()


def _memory() -> float:
    """How many steps the iterate remembers along the flattest direction: 1/(lr·h_min)."""
    return 1 / (DECAY_LR * np.linalg.eigvalsh(_problem().hessian).min())


def _judge_decay(decay: float) -> CheckResult:
    runs = averaged_sgd(_problem(), DECAY_LR, DECAY_BUDGET, runs=DECAY_SEEDS, ema_decays=(decay,),
                        record_every=DECAY_BUDGET)
    iterate, ema = float(runs.mean("iterate")[-1]), float(runs.mean(f"EMA {decay:g}")[-1])
    ratio = ema / iterate
    window, memory = 1 / (1 - decay), _memory()
    reached = (f"after {DECAY_BUDGET} steps the EMA's F − F* is {ratio:.2g} times the last iterate's "
               f"(mean of {DECAY_SEEDS} seeds)")
    if ratio < DECAY_TARGET:
        return CheckResult(True, f"{reached[0].upper() + reached[1:]}: a window long enough to average the "
                                 f"bouncing out, short enough to forget the start.")
    if window > 2 * memory:   # failing windows this long lag; shorter ones average too little
        return CheckResult(False, f"{reached}. It lags: a window of about {window:.0f} steps still "
                                  f"remembers the first steps, when the weights were far from w*. Lower the decay.")
    return CheckResult(False, f"{reached}. Its window, about {window:.0f} steps, is too short next to the "
                              f"iterate's memory (about 1/(lr·h_min) = {memory:.0f} steps at lr {DECAY_LR}): "
                              f"it averages neighbours that bounce together. Raise the decay.")


DECAY_QUESTION = Question(
    name="my_decay",
    fields=("decay",),
    hint=f"β averages about 1/(1 − β) steps. At lr 0.2 the iterate remembered about 50 steps; at lr "
         f"{DECAY_LR}? Average longer than that, yet forget the start within {DECAY_BUDGET} steps.",
    judge=_judge_decay,
)


def check_ema_decay(answer: Any) -> CheckResult:
    """Check a decay β in [0, 1): SGD with lr 0.05 on the noisy regression for 3000 steps (64 seeds);
    the EMA of its iterates must end below 0.15 times the last iterate's F − F*."""
    return check_answer(answer, DECAY_QUESTION)
