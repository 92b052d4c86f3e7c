"""The explorer of notebook 13: warm-up, peak rate and clipping threshold of one run, retrained as a
control moves, beside the notebook's recipe."""


import ipywidgets
import numpy as np

from course_lib import averages
from course_lib.interactive.explorer import (check_steps, DragCache, Explorer, log_slider, log_values, ROUND_10,
    sparse_ticks, status_text)
from course_lib.lab import plots
from course_lib.lessons.recipe.training import make_task, RECIPE, train_many

class RecipeExplorer(Explorer):
    """The modern recipe on the notebook's MLP: warm-up length, peak lr and clipping threshold.

    Left: the learning rate of every step (linear warm-up, then cosine to 0). Right: the training
    loss (minibatch loss, EWA-smoothed with β = 0.9 and bias correction), with the notebook's
    recipe in grey for comparison. Runs of ``steps`` steps from seed 0, trained a batch at a time:
    a new setting together with the settings a drag of each slider reaches next (``DragCache``).
    """

    RUN_COLOR = plots.OPTIMIZER_COLORS["AdamW"]
    BASE_COLOR = plots.OPTIMIZER_COLORS["GD"]

    def __init__(self, warmup: int = 20, peak_lr: float = 3e-2, max_norm: float = 1.0, steps: int = 200):
        self.steps = check_steps(steps)
        if self.steps < 102:
            raise ValueError(f"steps must be >= 102 (the warm-up slider reaches 100), got {steps!r}")
        self.task = make_task()
        super().__init__({
            "warmup": ipywidgets.IntSlider(min=0, max=100, description="warm-up"),
            "peak_lr": log_slider("peak lr", log_values(1e-4, 3, ROUND_10)),
            "max_norm": log_slider("max_norm", log_values(0.01, 100, ROUND_10)),
        })
        self._assign({"warmup": warmup, "peak_lr": peak_lr, "max_norm": max_norm})
        base = RECIPE
        self._runs = DragCache(self.controls, ("warmup", "peak_lr", "max_norm"), self._train_batch)
        self._base = self._runs.get({"warmup": base.warmup_steps, "peak_lr": base.peak_lr, "max_norm": base.max_norm})
        rates, losses = self.axes
        step_axis = np.arange(self.steps)
        rates.plot(step_axis, base.lrs(self.steps), color=self.BASE_COLOR, linestyle="--", linewidth=1,
                   label=f"recipe (peak {base.peak_lr:g}, warm-up {base.warmup_steps})")
        (self._rate,) = rates.plot(step_axis, np.full(self.steps, np.nan), color=self.RUN_COLOR, label="this run")
        rates.set_yscale("log")
        rates.set(xlabel="step", ylabel="learning rate", title="warm-up, then cosine", xlim=(0, self.steps))
        rates.legend(loc="upper right", fontsize="small")
        losses.plot(step_axis, self._base["curve"], color=self.BASE_COLOR, linewidth=1)
        (self._loss,) = losses.plot(step_axis, np.full(self.steps, np.nan), color=self.RUN_COLOR)
        losses.set_yscale("log")
        losses.set(xlabel="step", ylabel="training loss (smoothed)", title="AdamW on the MLP, seed 0",
                   xlim=(0, self.steps))
        self._statuses = [status_text(losses, 0), status_text(losses, 1)]
        self._statuses[0].set_color(self.RUN_COLOR)
        self._statuses[1].set_color(self.BASE_COLOR)
        self._statuses[1].set_text(f"recipe: {self._base['status']}")
        self._foreground(self._rate, self._loss, self._statuses[0])
        self.update()
        for ax in self.axes:
            sparse_ticks(ax)
        self._freeze_layout()

    def _recipe_of(self, setting: dict):
        """The notebook's recipe with the warm-up, peak lr and max_norm of ``setting``."""
        from dataclasses import replace

        return replace(RECIPE, warmup_steps=int(setting["warmup"]), peak_lr=float(setting["peak_lr"]),
                       max_norm=float(setting["max_norm"]))

    def _train_batch(self, settings: list[dict]) -> list[dict]:
        """The runs of ``settings`` from seed 0, trained at once, summarised (``_summary``)."""
        runs = train_many([self._recipe_of(setting) for setting in settings], seeds=(0,),
                                       steps=self.steps, task=self.task)
        return [self._summary(runs, r) for r in range(len(settings))]

    def _summary(self, runs, r: int) -> dict:
        with np.errstate(all="ignore"):
            losses = np.where(np.isfinite(runs.losses[:, r]), runs.losses[:, r], np.nan)
            curve = averages.ewa(np.nan_to_num(losses, nan=1e6, posinf=1e6), 0.9, bias_correction=True)
        curve[np.isnan(losses)] = np.nan
        return {"lrs": runs.lrs[:, r].astype(float), "curve": np.clip(curve, None, 1e3), "status": runs.status(r)}

    def update(self) -> None:
        setting = {name: control.value for name, control in self.controls.items()}
        self.result = self._runs.get(setting)
        self._rate.set_ydata(self.result["lrs"])
        peaks = (setting["peak_lr"], RECIPE.peak_lr)
        plots.set_ylim_if_changed(self.axes[0], min(peaks) / 300, 30 * max(peaks))
        self._loss.set_ydata(self.result["curve"])
        self._statuses[0].set_text(self.result["status"])
        shown = [c for c in (self.result["curve"], self._base["curve"]) if np.isfinite(c).any()]
        low = min(np.nanmin(c) for c in shown)
        high = max(np.nanmax(c) for c in shown)
        plots.set_ylim_if_changed(self.axes[1], *plots.decades_around(0.8 * low, 4.0 * high))
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps, "seed": 0}
