"""Notebook 04's explorer: Adam, AMSGrad and SGD on the online counterexample of Reddi, Kale &
Kumar (2018), with a β₂ slider."""

import threading

import ipywidgets
import numpy as np

from course_lib.interactive.drag_cache import OneAtATime
from course_lib.interactive.explorer import AXIS_KEEP_SHARE, check_steps, decay_rates, Explorer, log_slider
from course_lib.lab import plots
from course_lib.lessons.adam.experiments import AdamAndAMSGrad, inverse_sqrt_lr, online_sgd, reddi_gradients, tail_mean


class AdamFailureExplorer(Explorer):
    """Adam, AMSGrad and SGD on the online counterexample of Reddi, Kale & Kumar (2018): on [−1, 1],
    f_t(x) = 1010·x when t mod 101 = 1, else −10·x; the best point is x = −1. A β₂ slider (β₁ = 0.9)
    and the step size (α/√t with α = 0.5, or a constant 0.01). Left: the mean of x over every
    period of 101 steps (x swings within a period), and in the legend the mean of x over the last
    10 % of the steps; right: the denominators √v̂ + ε of Adam and AMSGrad over the last three periods.
    """

    SCHEDULES = {"inverse_sqrt": "α/√t, α = 0.5", "constant": "constant 0.01"}
    PERIOD = 101
    BETA2S = decay_rates(0.9, 0.9999)
    """The β₂ slider's values, 0.9 … 0.9999, 0.99, 0.998, 0.999 and 0.9995 among them: each step
    lengthens the memory 1/(1 − β₂) by about the same factor."""

    def __init__(self, beta2: float = 0.99, schedule: str = "inverse_sqrt", steps: int = 500_000):
        self.steps = check_steps(steps)
        if self.steps < 3 * self.PERIOD:
            raise ValueError(f"steps must be at least {3 * self.PERIOD} (three periods), got {steps!r}")
        self.gradients = reddi_gradients(self.steps)
        self._rates = {"inverse_sqrt": inverse_sqrt_lr(0.5, self.steps), "constant": 0.01}
        self._threads = threading.local()  # each thread's runs: they are not thread-safe
        self._runs_here()
        self._sgd = {name: online_sgd(self.gradients, rate) for name, rate in self._rates.items()}
        super().__init__({
            "beta2": log_slider("β₂", self.BETA2S, label="g"),
            "schedule": ipywidgets.Dropdown(options=[(label, name) for name, label in self.SCHEDULES.items()],
                                            description="step size"),
        })
        self._assign({"beta2": beta2, "schedule": schedule})
        self._period_ends = np.arange(self.PERIOD, self.steps + 1, self.PERIOD)
        self._window = np.arange(self.steps - 3 * self.PERIOD + 1, self.steps + 1)
        # a run takes about 12 ms: the cache's thread runs the next β₂ values ahead, one at a time
        self._runs = OneAtATime(self.controls, ("beta2",), self._summaries, reach=0)
        paths, denominators = self.axes
        for level, text in ((1.0, "+1: the worst point"), (-1.0, "−1: the best point")):
            paths.axhline(level, color="0.6", linestyle=":", linewidth=1)
            paths.text(self._period_ends[0], level + 0.075 * np.sign(level), f" {text}", color="0.4", va="center",
                       fontsize="small")
        self._lines = {name: paths.plot([], [], color=plots.OPTIMIZER_COLORS[color], label=name, zorder=zorder)[0]
                       for name, color, zorder in (("Adam", "Adam", 3), ("AMSGrad", "AMSGrad", 2), ("SGD", "GD", 1))}
        paths.set(xscale="log", xlim=(self._period_ends[0], self.steps), ylim=(-1.17, 1.17), xlabel="step t",
                  ylabel="mean x over each period")
        below = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.2), "frameon": False, "fontsize": "small",
                 "title_fontsize": "small"}
        # The legend's entries carry the final means ("Adam  +0.998"): each update rewrites their text.
        self._legend = paths.legend(ncols=3, title="mean x over the last 10 % of the steps", **below)
        self._beta2_title = paths.set_title("", loc="left")
        self._schedule_title = paths.set_title("", loc="right", fontsize="medium")
        self._denominator_lines = {name: denominators.plot([], [], color=plots.OPTIMIZER_COLORS[name], label=name)[0]
                                   for name in ("Adam", "AMSGrad")}
        denominators.set(xlim=(self._window[0], self._window[-1]), xlabel="step t",
                         title="denominator √v̂ + ε, last 3 periods")
        denominators.legend(ncols=2, title=" ", **below)          # the same height as the left one
        self.update()
        self._freeze_layout()
        self._foreground(self._beta2_title, *self._lines.values(), self._legend, *self._denominator_lines.values())

    def _period_means(self, path: np.ndarray) -> np.ndarray:
        """The mean of x over each whole period of 101 steps."""
        return path[1:1 + len(self._period_ends) * self.PERIOD].reshape(-1, self.PERIOD).mean(axis=1)

    def _summaries(self, settings: list[dict]) -> list[dict]:
        """What the figure shows of each setting's runs: the period means of x, the denominators
        over the last three periods, the mean of x over the last 10 % of the steps."""
        return [self._summary(setting["beta2"], setting["schedule"]) for setting in settings]

    def _runs_here(self) -> threading.local:
        """This thread's ``AdamAndAMSGrad`` per schedule and work arrays (the kernel's, built with the
        explorer; the cache thread's, on its first run)."""
        here = self._threads
        if not hasattr(here, "adam"):
            here.adam = {name: AdamAndAMSGrad(self.gradients, rate) for name, rate in self._rates.items()}
            here.work = None  # Adam's and AMSGrad's paths and denominators, rewritten in place by each run
        return here

    def _summary(self, beta2: float, schedule: str) -> dict:
        here = self._runs_here()
        here.work = paths, denominator = here.adam[schedule].run(beta2, out=here.work)  # (T + 1, 2), (T, 2)
        paths = {"Adam": paths[:, 0], "AMSGrad": paths[:, 1], "SGD": self._sgd[schedule]}
        window = denominator[self._window - 1]
        return {"means": {name: self._period_means(path) for name, path in paths.items()},
                "final": {name: float(tail_mean(path)) for name, path in paths.items()},
                "denominators": {"Adam": window[:, 0].copy(), "AMSGrad": window[:, 1].copy()}}

    def update(self) -> None:
        setting = self.setting
        beta2, schedule = setting["beta2"], setting["schedule"]
        summary = self._runs.get({"beta2": beta2, "schedule": schedule})
        self.final = summary["final"]
        for (name, means), text in zip(summary["means"].items(), self._legend.get_texts()):
            self._lines[name].set_data(self._period_ends, means)
            text.set_text(f"{name}  {self.final[name]:+.3f}".replace("-", "−"))
        denominators = summary["denominators"]
        for name, values in denominators.items():
            self._denominator_lines[name].set_data(self._window, values)
        low, high = min(map(np.min, denominators.values())), max(map(np.max, denominators.values()))
        plots.keep_or_fit_ylim(self.axes[1], low, high, AXIS_KEEP_SHARE)
        self._beta2_title.set_text(f"β₂ = {beta2:g}")
        if self._schedule_title.get_text() != f"lr {self.SCHEDULES[schedule]}":
            self._schedule_title.set_text(f"lr {self.SCHEDULES[schedule]}")
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}
