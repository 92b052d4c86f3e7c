"""Notebook 05, learning-rate decay: ``ScheduleExplorer``, a schedule and what it does to SGD on the
noisy regression."""

import ipywidgets
import numpy as np

from course_lib.interactive.drag_cache import DragCache
from course_lib.interactive.explorer import (AXIS_KEEP_SHARE, check_steps, Explorer, log_slider, log_values,
    ROUND_10, sparse_ticks, status_text)
from course_lib.lab import plots
from course_lib.lab.regression import noisy_regression
from course_lib.lessons.decay.experiments import run_sgd, schedule_lrs, SCHEDULES


class ScheduleExplorer(Explorer):
    """Pick a learning-rate schedule and its parameters; see the rate per epoch (left) and what it
    does to mini-batch SGD on a noisy regression (right: excess loss, mean over a few seeds,
    beside a constant rate lr0 in grey).

    Controls that the chosen schedule does not use are greyed out. A constant rate settles at a
    noise floor proportional to lr; a decaying one keeps going down (``experiments.run_sgd``).
    """

    SCHEDULE_COLOR = plots.OPTIMIZER_COLORS["momentum"]
    CONSTANT_COLOR = plots.OPTIMIZER_COLORS["GD"]
    USES = {
        "constant": (),
        "inverse time": ("decay_rate",),
        "fixed interval": ("decay_rate", "interval"),
        "exponential": ("gamma",),
        "inverse sqrt": (),
        "StepLR": ("gamma", "interval"),
        "cosine": (),
        "warm-up + cosine": ("warmup",),
        "one-cycle": (),
        "warm restarts": ("interval",),
        "warmup-stable-decay": ("warmup", "interval"),
    }
    FORMULAS = {
        "constant": "lr = lr0",
        "inverse time": "lr0 / (1 + k·epoch)",
        "fixed interval": "lr0 / (1 + k·⌊epoch / interval⌋)",
        "exponential": "γ^epoch · lr0  (ExponentialLR)",
        "inverse sqrt": "lr0 / √(epoch + 1)",
        "StepLR": "lr0 · γ^⌊epoch / interval⌋  (StepLR)",
        "cosine": "cosine from lr0 to 0 (CosineAnnealingLR)",
        "warm-up + cosine": "linear warm-up, then cosine",
        "one-cycle": "OneCycleLR, one step per epoch",
        "warm restarts": "SGDR: T_0 = interval, T_mult = 2",
        "warmup-stable-decay": "warm-up, flat, cool-down = interval",
    }

    def __init__(self, schedule: str = "inverse time", lr0: float = 0.2, decay_rate: float = 1.0,
                 gamma: float = 0.9, interval: int = 10, warmup: int = 5, epochs: int = 40, seeds: int = 4):
        self.epochs = check_steps(epochs)
        self.seeds = check_steps(seeds)
        self.problem = noisy_regression()
        super().__init__({
            "schedule": ipywidgets.Dropdown(options=SCHEDULES, description="schedule"),
            "lr0": log_slider("lr0", log_values(0.01, 3)),
            "decay_rate": log_slider("k", log_values(0.01, 10)),
            "gamma": ipywidgets.FloatSlider(min=0.5, max=0.99, step=0.01, description="γ"),
            "interval": ipywidgets.IntSlider(min=1, max=30, description="interval"),
            "warmup": ipywidgets.IntSlider(min=1, max=20, description="warm-up"),
        })
        self._assign({"schedule": schedule, "lr0": lr0, "decay_rate": decay_rate, "gamma": gamma,
                      "interval": interval, "warmup": warmup})
        rates, losses = self.axes
        epochs_axis = np.arange(self.epochs)
        (self._constant_rate,) = rates.plot(epochs_axis, np.full(self.epochs, np.nan), color=self.CONSTANT_COLOR,
                                            linestyle="--", linewidth=1, label="constant lr0")
        (self._rate,) = rates.plot(epochs_axis, np.full(self.epochs, np.nan), color=self.SCHEDULE_COLOR,
                                   drawstyle="steps-post", label="schedule")
        rates.set(xlabel="epoch", ylabel="learning rate", title="the schedule", xlim=(0, self.epochs))
        rates.legend(loc="upper right")
        loss_epochs = np.arange(self.epochs + 1)
        (self._constant_loss,) = losses.plot(loss_epochs, np.full(self.epochs + 1, np.nan), color=self.CONSTANT_COLOR)
        (self._loss,) = losses.plot(loss_epochs, np.full(self.epochs + 1, np.nan), color=self.SCHEDULE_COLOR)
        losses.set_yscale("log")
        losses.set(xlabel="epoch", title=f"SGD: F − F*, mean of {self.seeds} seeds",
                   xlim=(0, self.epochs))
        self._statuses = [status_text(losses, 0), status_text(losses, 1)]
        self._statuses[0].set_color(self.SCHEDULE_COLOR)
        self._statuses[1].set_color(self.CONSTANT_COLOR)
        self._foreground(rates.title, self._constant_rate, self._rate, self._constant_loss, self._loss, *self._statuses)
        self._runs = DragCache(self.controls, ("lr0", "decay_rate", "gamma", "interval", "warmup"), self._run_batch)
        self.update()
        for ax in self.axes:  # few ticks before the first layout too: it is the slow part of building
            sparse_ticks(ax)
        self._freeze_layout()

    def _lrs(self, setting: dict) -> np.ndarray:
        """The rate of every epoch under ``setting``. Warm-up and cool-down are shortened where they
        would not fit the epochs shown (warmup-stable-decay keeps a flat phase of at least one epoch)."""
        warmup, interval = min(setting["warmup"], self.epochs - 2), setting["interval"]
        if setting["schedule"] == "warmup-stable-decay":
            interval = min(interval, self.epochs - 1 - warmup)
        return schedule_lrs(setting["schedule"], setting["lr0"], self.epochs, decay_rate=setting["decay_rate"],
                            gamma=setting["gamma"], interval=interval, warmup=warmup)

    def _run_batch(self, settings: list[dict]) -> list[dict]:
        """For each setting its rates and the runs of its schedule and of the constant rate lr0, every
        distinct rate table run once, all in one ``run_sgd`` on the same mini-batches (``batch_runs``)."""
        tables = ([self._lrs(setting) for setting in settings]
                  + [np.full(self.epochs, setting["lr0"]) for setting in settings])
        distinct, which = np.unique(tables, axis=0, return_inverse=True)
        runs = run_sgd(self.problem, np.repeat(distinct.T, self.seeds, axis=1), seed=0, batch_runs=self.seeds)
        table_runs = [runs[k * self.seeds:(k + 1) * self.seeds] for k in range(len(distinct))]
        count = len(settings)
        return [{"lrs": tables[i], "schedule": table_runs[which[i]], "constant": table_runs[which[count + i]]}
                for i in range(count)]

    def update(self) -> None:
        values = self.setting
        name, lr0 = values["schedule"], values["lr0"]
        for control_name in ("decay_rate", "gamma", "interval", "warmup"):
            self._grey_out(control_name, control_name not in self.USES[name])
        computed = self._runs.get(values)
        self.lrs = computed["lrs"]
        self.results = {"schedule": computed["schedule"], "constant": computed["constant"]}
        self._rate.set_ydata(self.lrs)
        self._constant_rate.set_ydata(np.full(self.epochs, lr0))
        needed = 1.3 * max(lr0, float(self.lrs.max()))
        if not plots.kept_limits_hold(self.axes[0], 0, needed, AXIS_KEEP_SHARE):
            plots.set_ylim_if_changed(self.axes[0], 0, plots.round_up_125(needed))
        self.axes[0].title.set_text(self.FORMULAS[name])
        curves = []
        for line, status, key, label in ((self._loss, self._statuses[0], "schedule", name),
                                         (self._constant_loss, self._statuses[1], "constant", f"constant {lr0:.3g}")):
            result = self.results[key]
            curve = result.excess_loss.mean(axis=1)  # NaN from the epoch where a seed diverged
            line.set_ydata(curve)
            status.set_text(f"{label}: {result.summary()}")
            curves.append(curve)
        plots.fit_loss_limits(self.axes[1], curves, keep_share=AXIS_KEEP_SHARE)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"epochs": self.epochs, "seeds": self.seeds}

    def describe(self) -> str:
        """One stable line with the settings that matter: the controls the chosen schedule uses (the
        others are greyed out), then epochs and seeds."""
        name = self.controls["schedule"].value
        settings = {key: self.controls[key].value for key in ("schedule", "lr0", *self.USES[name])}
        settings |= self._fixed_settings()
        return f"{type(self).__name__}: " + ", ".join(
            f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}" for key, value in settings.items())
