"""Notebook 06's explorer: a run leaving the saddle of the double well."""

import ipywidgets
import numpy as np

from course_lib.interactive.drag_cache import DragCache
from course_lib.interactive.explorer import (check_steps, Explorer, EXPLORER_OPTIMIZERS, log_slider,
    log_values, lr_slider, QUARTER_DECADES)
from course_lib.lab import plots, runner
from course_lib.lab.landscapes import double_well
from course_lib.lessons.saddles.experiments import ESCAPE_THRESHOLD, escape_step, growth_factor, predicted_escape_steps

# --------------------------------------------------------------------------------------------------
# The explorer
# --------------------------------------------------------------------------------------------------

class SaddleExplorer(Explorer):
    """Leave the saddle of the double well x⁴/4 − x²/2 + y²/2 from (x0, 1): pick the start offset
    x0 (log slider), the optimizer (momentum and Nesterov with momentum 0.9, where torch's SGD
    defaults to 0; RMSprop and Adam with torch's defaults) and the learning rate.

    Left, the path on the contours; right, |x| against the step (log scale) with the escape line
    |x| = 0.5 and, for GD, momentum and Nesterov, the linear model |x0|·growth^t near the saddle.
    The status line gives the step at which |x| reached 0.5 (or that it did not, or diverged).
    """

    def __init__(self, x0: float = 1e-6, optimizer: str = "GD", lr: float = 0.01, steps: int = 3000):
        self.steps = check_steps(steps)
        self.landscape = double_well()
        super().__init__({
            "x0": log_slider("x0", log_values(1e-15, 0.1, QUARTER_DECADES)),
            "optimizer": ipywidgets.Dropdown(options=EXPLORER_OPTIMIZERS, description="optimizer"),
            "lr": lr_slider(1e-3, 3),
        })
        self._assign({"x0": x0, "optimizer": optimizer, "lr": lr})
        contours, escape = self.axes
        plots.landscape_artists(contours, self.landscape)
        plots.frame_landscape(contours, self.landscape)
        self._path = plots.draw_path(contours, np.full((1, 2), np.nan), optimizer)
        self._path.set_markersize(0.25 * self._path.get_markersize())
        (self._start,) = contours.plot([], [], "o", color="black", markersize=5)
        escape.set_yscale("log")
        escape.axhline(ESCAPE_THRESHOLD, color="black", linewidth=0.8, linestyle=":")
        self._escape_label = escape.text(0.02 * self.steps, ESCAPE_THRESHOLD * 1.6, "escape: |x| = 0.5",
                                         fontsize="small", va="bottom")
        (self._x,) = escape.plot([], [])
        (self._model,) = escape.plot([], [], "--", color="black", linewidth=1, label="linear model\n|x0|·growth^t")
        self._escape_line = escape.axvline(0, color="black", linewidth=0.8, visible=False)
        escape.set(xlim=(0, self.steps), ylim=(1e-16, 1e2),  # room above the escape line for its label xlabel="step", ylabel="|x|",
                   title="distance from the saddle along x")
        escape.legend(loc="center right")
        self._status = escape.text(0.98, 0.03, "", transform=escape.transAxes, ha="right", va="bottom",
                                   bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})
        self._foreground(self._path, self._start, self._x, self._model, self._escape_line, self._status)
        # a batch of 32 settings costs little more than one of 12: ten slider steps ahead, for a drag
        self._runs = DragCache(self.controls, ("x0", "lr"), self._run_batch, far=10)
        self.update()
        self._freeze_layout()

    def _run_batch(self, settings: list[dict]) -> list[runner.RunResult]:
        """The runs of ``settings`` (one optimizer; x0 and lr vary) as one batched run."""
        lrs = np.array([[setting["lr"]] for setting in settings])
        starts = [(setting["x0"], 1.0) for setting in settings]
        batch = runner.run(self.landscape, runner.named_optimizer(settings[0]["optimizer"], lrs), start=starts,
                           steps=self.steps)
        return [batch[i] for i in range(len(settings))]

    def update(self) -> None:
        x0, optimizer, lr = (self.setting[key] for key in ("x0", "optimizer", "lr"))
        self.result = self._runs.get({"x0": x0, "optimizer": optimizer, "lr": lr})
        self.escape_step = escape_step(self.result.path)
        color = plots.optimizer_color(optimizer)
        self._path.set_data(self.result.path[:, 0], self.result.path[:, 1])
        self._start.set_data([x0], [1.0])
        steps = np.arange(self.steps + 1)
        self._x.set_data(steps, np.abs(self.result.path[:, 0]))
        for artist in (self._path, self._x, self._status):
            artist.set_color(color)
        self.predicted = None
        if optimizer in ("GD", "momentum", "Nesterov"):
            momentum = 0.0 if optimizer == "GD" else 0.9
            growth = growth_factor(lr, momentum, nesterov=optimizer == "Nesterov")
            self.predicted = float(predicted_escape_steps(x0, growth))
            with np.errstate(over="ignore"):
                model = x0 * growth ** steps.astype(float)
            model[model > 10] = np.nan
            self._model.set_data(steps, model)
        else:
            self._model.set_data([], [])
        self._escape_line.set_visible(self.escape_step is not None)
        if self.escape_step is not None:
            self._escape_line.set_xdata([self.escape_step, self.escape_step])
        self._status.set_text(f"{optimizer}, lr = {lr:.3g}:\n{self.status()}")
        self.canvas.draw_idle()

    def status(self) -> str:
        """What became of the run: 'escaped at step k (linear model: m)', 'no escape …' or 'diverged …'."""
        if self.result.diverged_at is not None and (self.escape_step is None
                                                    or self.escape_step >= self.result.diverged_at):
            return self.result.summary()
        model = f" (linear model: {self.predicted:.0f})" if self.predicted is not None else ""
        if self.escape_step is None:
            return f"no escape in {self.steps} steps{model}"
        diverged = f", then {self.result.summary()}" if self.result.diverged_at is not None else ""
        return f"escaped at step {self.escape_step}{model}{diverged}"

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}
