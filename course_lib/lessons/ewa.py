"""Notebook 01, exponentially weighted averages: the explorer of β and bias correction, and the
exercises (the average, its bias correction, its effective window; a choice: a β that leaves little
noise and lags little; and a prediction: the step at which the uncorrected average of a constant
series first reaches 90 % of it).

    from course_lib.lessons import ewa as lesson
    lesson.EWAExplorer(beta=0.9)
    lesson.check_ewa(my_ewa)
    lesson.check_noise_and_lag(my_beta)
    lesson.check_ninety_percent(my_t)

The averages themselves are part of the mirror (``course_lib.averages``).
"""

from typing import Callable

import ipywidgets
import numpy as np

from course_lib import averages
from course_lib.averages import effective_window, ewa
from course_lib.interactive.checking import (check_answer, check_function, CheckResult, Exercise, Mistake,
                                             Question)
from course_lib.interactive.explorer import Explorer
from course_lib.lab import data, plots

# --------------------------------------------------------------------------------------------------
# The explorer
# --------------------------------------------------------------------------------------------------

class EWAExplorer(Explorer):
    """An exponentially weighted average over a noisy series: a β slider and a bias-correction
    toggle. The default series is ``data.noisy_series()`` (a year of seeded daily temperatures)."""

    def __init__(self, series=None, beta: float = 0.9, bias_correction: bool = False):
        self.series = data.noisy_series() if series is None else np.asarray(series, dtype=float)
        if self.series.ndim != 1 or len(self.series) < 2:
            raise ValueError(f"series must be a 1-D sequence of at least 2 numbers, got shape {self.series.shape}")
        super().__init__({
            "beta": ipywidgets.FloatSlider(min=0.0, max=0.99, step=0.01, description="β"),
            "bias_correction": ipywidgets.Checkbox(description="bias correction"),
        }, ncols=1, figsize=plots.figure_size(2))
        self._assign({"beta": beta, "bias_correction": bias_correction})
        (ax,) = self.axes
        t = np.arange(1, len(self.series) + 1)
        ax.plot(t, self.series, ".", color="0.6", markersize=3, label="θ_t")
        (self._average,) = ax.plot(t, np.full_like(self.series, np.nan), color=plots.OPTIMIZER_COLORS["momentum"],
                                   label="v_t")
        ax.set(xlabel="t", ylabel="value")
        ax.legend(loc="upper left")  # clear of the default year, which starts cold
        self._foreground(self._average, ax.title)
        self.update()
        self._freeze_layout()

    def update(self) -> None:
        setting = self.setting
        beta, bias_correction = setting["beta"], setting["bias_correction"]
        self.average = averages.ewa(self.series, beta, bias_correction=bias_correction)
        self._average.set_ydata(self.average)
        self.axes[0].title.set_text(f"β = {beta:.2f}: an average over ≈ 1/(1 − β) = {averages.effective_window(beta):.3g} "
                               f"values, bias correction {'on' if bias_correction else 'off'}")
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"points": len(self.series)}


# --------------------------------------------------------------------------------------------------
# The exercises
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
        Mistake(lambda values, beta: ewa(values, beta) / (1 - beta),
                "you added θ_t without its weight (1−β): v_t = β·v_(t−1) + (1−β)·θ_t, so that "
                "the weights of an average sum to (almost) 1."),
        Mistake(lambda values, beta: (1 - beta) * np.asarray(values),
                "each of your v_t is (1−β)·θ_t alone: the term β·v_(t−1) is missing, and it is what "
                "carries the past into the average."),
    ],
    hint="keep one number v, starting at 0; for each θ_t, update it by the recursion and store "
         "the new v_t.",
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
        Mistake(lambda v, beta: np.asarray(v) / (1 - beta ** len(v)),
                "you divided every v_t by the same factor 1−β^T of the last step; each v_t has "
                "its own factor 1−β^t."),
        Mistake(lambda v, beta: np.asarray(v) / (1 - beta),
                "you divided every v_t by 1−β, the factor of the first step only; each v_t has its "
                "own factor 1−β^t."),
        Mistake(_divide_by(lambda beta, t: 1 - beta * t),
                "you divided by 1−β·t: in Python the power β^t is written `beta ** t`."),
    ],
    hint="each v_t gets its own factor 1−β^t, and t counts from 1: the first average is v_1.",
    hints={ZeroDivisionError: "Did you count t from 0? The first average is v_1, divided by "
                              "1−β¹ = 1−β.",
           (TypeError, "^", "bitwise_xor"): "In Python the power β^t is written `beta ** t`: `^` is not a power."},
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
    success="an EWA averages about 1/(1−β) values (β = 0.9: 10); the exact −1/ln β is right too.",
    mistakes=[
        Mistake(lambda beta: 1 - beta,
                "you returned 1−β, the weight of the newest value; the window is its inverse, "
                "1/(1−β)."),
        Mistake(lambda beta: 1 / beta,
                "you divided by β; the window is 1/(1−β): β = 0.9 averages about 10 values."),
        Mistake(lambda beta: 1 / np.log(beta),
                "your window is negative: ln β < 0, so the exact window is −1/ln β "
                "(≈ 1/(1−β))."),
        Mistake(lambda beta: beta / (1 - beta),
                "you returned β/(1−β), the lag (the mean age of the weights); the window is "
                "1/(1−β), one more."),
        Mistake(lambda beta: round(1 / (1 - beta)),
                "you rounded the window to a whole number; return it as it is: β = 0.6 averages "
                "over about 2.5 values."),
        Mistake(lambda beta: int(1 / (1 - beta)),
                "you cut the window down to a whole number, and 1/(1−0.98) = 49.99… became 49; "
                "return it as it is."),
        Mistake(lambda beta: np.log(0.5) / np.log(beta),
                "that is the half-life, after which a weight has halved; the window counts the steps "
                "until it has shrunk to 1/e."),
    ],
    hint='after how many steps n has a weight shrunk to 1/e of the newest, β^n = 1/e? '
         'See "The equations".',
)


def check_effective_window(fn: Callable) -> CheckResult:
    """Check ``fn(beta)`` -> the number of values an EWA averages over, 1/(1−β) (or −1/ln β)."""
    return check_function(fn, WINDOW_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Predict, then run: when does the uncorrected average reach 90 % of a constant series?
# --------------------------------------------------------------------------------------------------

NINETY_PERCENT_BETA = 0.9
NINETY_PERCENT_LEVEL = 0.9
NINETY_PERCENT_STEPS = 1000
"""The judge runs the average for this many steps; a prediction beyond them is judged on the last."""


def constant_series_run(beta: float = NINETY_PERCENT_BETA, steps: int = NINETY_PERCENT_STEPS,
                        bias_correction: bool = False) -> np.ndarray:
    """v_1, …, v_steps: the course's EWA of the constant series θ_t = 1, whose true mean is 1."""
    return averages.ewa(np.ones(steps), beta, bias_correction=bias_correction)


def first_step_reaching(run: np.ndarray, level: float = NINETY_PERCENT_LEVEL) -> int | None:
    """The first t (counted from 1) with v_t ≥ ``level``, or None when the run never reaches it."""
    reached = np.flatnonzero(run >= level)
    return int(reached[0]) + 1 if reached.size else None


def _judge_ninety_percent(t: float) -> CheckResult:
    """Run the EWA of θ_t = 1 with β = 0.9 and compare the learner's t with the step it measures."""
    beta, level = NINETY_PERCENT_BETA, NINETY_PERCENT_LEVEL
    run = constant_series_run(beta)
    step = first_step_reaching(run, level)
    corrected_step = first_step_reaching(constant_series_run(beta, bias_correction=True), level)
    if t != int(t):
        return CheckResult(False, f"t counts updates, so it is a whole number, not {t:g}: give the first "
                                  f"whole step with v_t ≥ {level:g}.")
    t = int(t)
    if t < 1:
        return CheckResult(False, f"the steps count from t = 1 (v_1 is the first average), so t = {t} never "
                                  f"comes; the real run starts at v_1 = {run[0]:.3f}.")
    v = run[min(t, len(run)) - 1]
    if t == step:  # the step itself is not printed: the solution's output shows under the question
        return CheckResult(True, f"the real run (β = {beta:g}) first reaches {level:g} at your step t: "
                                 f"v_(t−1) = {run[step - 2]:.3f}, v_t = {run[step - 1]:.3f}.\n"
                                 f"With bias correction, v̂_t ≥ {level:g} from step {corrected_step} on.")
    if t == corrected_step:
        return CheckResult(False, f"that holds for the bias-corrected v̂_t, right from step {t}; the "
                                  f"uncorrected v_{t} = {v:.3f} starts far too low.")
    window, lag = effective_window(beta), beta / (1 - beta)
    if t == round(window):
        return CheckResult(False, f"{t} is the window 1/(1−β), but the real run gives v_{t} = {v:.3f}: "
                                  f"after one window it is still {100 * (1 - v):.0f} % low (β^{t} ≈ 1/e).")
    if t == round(lag):
        return CheckResult(False, f"{t} is the lag β/(1−β), but the real run gives v_{t} = {v:.3f}: "
                                  f"the weights of v_t sum to 1−β^t, far below 1 here.")
    if t == step - 1:
        return CheckResult(False, f"off by one: the real run gives v_{t} = {v:.3f}, still just below "
                                  f"{level:g} (β^{t} = {beta**t:.3f} > {1 - level:.1f}).")
    if t == step + 1:
        return CheckResult(False, f"off by one: the real run was already at v_{t - 1} = {run[t - 2]:.3f} "
                                  f"one step earlier (β^{t - 1} = {beta**(t - 1):.3f} ≤ {1 - level:.1f}).")
    if t < step:
        return CheckResult(False, f"too early: the real run gives v_{t} = {v:.3f}, still below {level:g}. "
                                  f"Its weights sum to 1−β^t.")
    where = f"v_{t} = {v:.3f}" if t <= len(run) else f"v_{len(run)} = {v:.3f} by step {len(run)}"
    return CheckResult(False, f"too late: the real run gives {where}; it passed {level:g} earlier. "
                              f"Find the first step with 1−β^t ≥ {level:g}.")


NINETY_PERCENT_QUESTION = Question(
    name="my_t",
    fields=("t",),
    hint="for θ_t = 1, v_t is the sum of its weights (see \"The equations\"): when does that sum "
         "first reach 0.9?",
    judge=_judge_ninety_percent,
)


def check_ninety_percent(answer) -> CheckResult:
    """Check a prediction: the first step t at which the uncorrected EWA (β = 0.9) of the constant
    series θ_t = 1 reaches 0.9. The check runs the average and says what it measured."""
    return check_answer(answer, NINETY_PERCENT_QUESTION)


# --------------------------------------------------------------------------------------------------
# Choose: a β that leaves little noise and lags little ("Noise against lag")
# --------------------------------------------------------------------------------------------------

NOISE_SIGMA = 4.0
"""The day-to-day noise of the notebook's year, in °C."""
NOISE_TARGET = 0.8
"""At most this much noise (°C) may be left in the average, as measured to three decimals."""
LAG_TARGET = 18.0
"""The average may trail a steady rise by at most this many days, as measured to two decimals."""


def noise_left(beta: float) -> float:
    """The standard deviation of the EWA of pure noise (σ = 4 °C, 100 000 seeded days, the first
    1000 left out): the notebook's measurement in "Noise against lag"."""
    noise = np.random.default_rng(2).normal(0.0, NOISE_SIGMA, size=100_000)
    return float(averages.ewa(noise, beta)[1000:].std())


def ramp_lag(beta: float) -> float:
    """How far the EWA trails a ramp rising by 1 per day, after 2000 days: the notebook's lag."""
    ramp = np.arange(1.0, 2001.0)
    return float(ramp[-1] - averages.ewa(ramp, beta)[-1])


def _judge_noise_and_lag(beta: float) -> CheckResult:
    """Run the learner's β on the notebook's noise and ramp, and compare both measurements with
    their targets at the precision printed (noise to 0.001 °C, lag to 0.01 day)."""
    if beta > 1:
        return CheckResult(False, "β is a weight between 0 and 1, not a number of days: about n days "
                                  "means β = 1 − 1/n.")
    if beta == 1:
        return CheckResult(False, "with β = 1 the average never moves from v_0 = 0: it ignores every "
                                  "value. Choose β below 1.")
    noise, lag = round(noise_left(beta), 3), round(ramp_lag(beta), 2)
    if noise > NOISE_TARGET:
        return CheckResult(False, f"too noisy: that β leaves {noise:.3f} °C of the noise (at most {NOISE_TARGET:g}); "
                                  f"its lag is {lag:.2f} days.\nA larger β averages over more days.")
    if lag > LAG_TARGET:
        return CheckResult(False, f"too late: that β lags a steady rise by {lag:.2f} days (at most {LAG_TARGET:g}); "
                                  f"its noise is {noise:.3f} °C.\nA smaller β forgets old days sooner.")
    return CheckResult(True, f"that β leaves {noise:.3f} °C of the noise (at most {NOISE_TARGET:g}) and lags a "
                             f"steady rise by {lag:.2f} days (at most {LAG_TARGET:g}).")


NOISE_AND_LAG_QUESTION = Question(
    name="my_beta",
    fields=("beta",),
    hint='a larger β leaves less noise but lags more, so each target bounds β from one side (see '
         '"Noise against lag").',
    judge=_judge_noise_and_lag,
)


def check_noise_and_lag(answer) -> CheckResult:
    """Check a choice of β: on the notebook's noise (σ = 4 °C) and ramp, the EWA must keep at most
    0.8 °C of the noise and trail the ramp by at most 18 days. The check measures both."""
    return check_answer(answer, NOISE_AND_LAG_QUESTION)
