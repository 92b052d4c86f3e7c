"""Notebook 11, weight averaging: ``AveragingExplorer``, the iterate of noisy SGD, its EMA and its
running mean on a 2-D bowl."""

import numpy as np

from course_lib.interactive.drag_cache import DragCache
from course_lib.interactive.explorer import (check_steps, Explorer, log_slider, lr_slider,
    sparse_ticks, status_text)
from course_lib.lab import plots
from course_lib.lessons.weight_averaging.experiments import BOWL, bowl_noise, noisy_bowl

DECAYS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999)
LOSS_LIMITS = (1e-5, 3e3)


class AveragingExplorer(Explorer):
    """Pick an lr and an EMA decay β; see SGD with noisy gradients on the bowl ½(x² + 10y²) (left:
    the paths; right: f along them): the iterate in grey, its EMA (window about 1/(1 − β) steps,
    started at θ₀) and its running mean over every step after ``swa_start`` (SWA).

    The noise of each step is drawn once, so a slider changes the run, not the luck.
    """

    COLORS = {"iterate": "0.6", "EMA": plots.OPTIMIZER_COLORS["Adam"], "SWA": plots.OPTIMIZER_COLORS["momentum"]}

    def __init__(self, lr: float = 0.05, decay: float = 0.9, steps: int = 400, swa_start: int = 100,
                 noise: float = 2.0):
        self.steps = check_steps(steps)
        if not 0 <= swa_start < self.steps:
            raise ValueError(f"swa_start must be a step from 0 to {self.steps - 1}, got {swa_start!r}")
        self.swa_start, self.noise = int(swa_start), float(noise)
        self.noise_steps = bowl_noise(self.steps, self.noise)
        super().__init__({"lr": lr_slider(0.005, 0.2), "decay": log_slider("β", DECAYS)})
        self._assign({"lr": lr, "decay": decay})
        contours, losses = self.axes
        plots.landscape_artists(contours, BOWL)
        plots.frame_landscape(contours, BOWL)
        contours.set_title("noisy SGD on ½(x² + 10y²)")
        empty = np.full(self.steps + 1, np.nan)
        self._paths, self._losses = {}, {}
        for name, color in self.COLORS.items():
            width = 0.7 if name == "iterate" else 1.8
            (self._paths[name],) = contours.plot(empty, empty, color=color, linewidth=width, label=name)
            (self._losses[name],) = losses.plot(np.arange(self.steps + 1), empty, color=color, linewidth=width)
        contours.legend(loc="lower right")
        losses.axvline(self.swa_start, color="0.8", linestyle=":", linewidth=1)
        losses.set_yscale("log")
        # Fixed limits: every run starts at f = 13 and the noise keeps f above 1e-5, so the axes never
        # move and a slider redraws only the curves.
        losses.set(xlabel="step", ylabel="f", title="f along each path", xlim=(0, self.steps), ylim=LOSS_LIMITS)
        self._statuses = {name: status_text(losses, row) for row, name in enumerate(self.COLORS)}
        for name, status in self._statuses.items():
            status.set_color(self.COLORS[name] if name != "iterate" else "0.35")
        self._foreground(*self._paths.values(), *self._losses.values(), *self._statuses.values())
        self._runs = DragCache(self.controls, ("lr", "decay"), self._run_batch)
        self.update()
        for ax in self.axes:
            sparse_ticks(ax)
        self._freeze_layout()

    def _run_batch(self, settings: list[dict]) -> list:
        """All settings in one vectorised run on the same noise."""
        result = noisy_bowl([s["lr"] for s in settings], [s["decay"] for s in settings], self.noise_steps,
                            self.swa_start)
        return [({name: path[:, k] for name, path in result.paths.items()},
                 {name: loss[:, k] for name, loss in result.losses.items()}) for k in range(len(settings))]

    def final_loss(self, name: str) -> float:
        """f of ``name`` ("iterate", "EMA", "SWA"), the mean over the last quarter of the steps."""
        return float(np.mean(self.losses[name][-(self.steps // 4):]))

    def update(self) -> None:
        values = self.setting
        self.paths, self.losses = self._runs.get(values)
        for name in self.COLORS:
            path, loss = self.paths[name], self.losses[name]
            self._paths[name].set_data(path[:, 0], path[:, 1])
            self._losses[name].set_ydata(loss)
            if not np.all(np.isfinite(path[-1])):
                first = int(np.argmax(~np.isfinite(loss[1:]) | (loss[1:] > 1e6))) + 1
                text = f"{name}: diverged at step {first}"
            else:
                text = f"{name}: f ≈ {self.final_loss(name):.2g} (last {self.steps // 4} steps)"
            self._statuses[name].set_text(text)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps, "swa_start": self.swa_start, "noise": self.noise}
