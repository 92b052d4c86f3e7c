"""Notebook 00, welcome and toolkit: the landscape explorer, the course's first widget.

    from course_lib.lessons import welcome as lesson
    lesson.LandscapeExplorer(landscape="rosenbrock", optimizer="Adam", lr=0.05)
"""

import ipywidgets
import numpy as np

from course_lib.interactive.explorer import (
    check_steps, Explorer, EXPLORER_LOSS_DECADES, EXPLORER_OPTIMIZERS, lr_slider, show_run, sparse_ticks,
    status_text,
)
from course_lib.lab import plots, runner
from course_lib.lab.landscapes import get_landscape, LANDSCAPES

# --------------------------------------------------------------------------------------------------
# The explorer
# --------------------------------------------------------------------------------------------------

class LandscapeExplorer(Explorer):
    """Pick a landscape, an optimizer (torch's defaults, momentum 0.9) and a learning rate; see the
    path on the contours beside the loss curve."""

    def __init__(self, landscape: str = "ill_conditioned_bowl", optimizer: str = "momentum",
                 lr: float = 0.05, steps: int = 150):
        self.steps = check_steps(steps)
        self.landscapes = {name: get_landscape(name) for name in LANDSCAPES}
        super().__init__({
            "landscape": ipywidgets.Dropdown(
                options=[(each.label, name) for name, each in self.landscapes.items()], description="landscape"),
            "optimizer": ipywidgets.Dropdown(options=EXPLORER_OPTIMIZERS, description="optimizer"),
            "lr": lr_slider(-4, 0.5),
        })
        self._assign({"landscape": landscape, "optimizer": optimizer, "lr": lr})
        contours, losses = self.axes
        self._backgrounds = {name: plots.landscape_artists(contours, each) for name, each in self.landscapes.items()}
        self._path = plots.draw_path(contours, np.full((1, 2), np.nan), optimizer)
        (self._start,) = contours.plot([], [], "o", color="black", markersize=5)
        (self._losses,) = losses.plot([], [])
        losses.set_xlim(0, self.steps)
        self._status = status_text(losses, 0)
        self._foreground(self._path, self._start, self._losses, self._status)
        self._shown = None
        self.update()
        self._freeze_layout()

    def _show_landscape(self, name: str) -> None:
        landscape = self.landscapes[name]
        for each, artists in self._backgrounds.items():
            for artist in artists:
                artist.set_visible(each == name)
        plots.frame_landscape(self.axes[0], landscape)
        plots.frame_losses(self.axes[1], landscape.minimum_value)
        sparse_ticks(self.axes[1])
        self._start.set_data([landscape.start[0]], [landscape.start[1]])
        self._shown = name

    def update(self) -> None:
        name, optimizer, lr = (self.controls[key].value for key in ("landscape", "optimizer", "lr"))
        landscape = self.landscapes[name]
        self.result = runner.run(landscape, runner.named_optimizer(optimizer, lr), steps=self.steps)
        if name != self._shown:
            self._show_landscape(name)
        curve = show_run(self._path, self._losses, self._status, f"{optimizer}, lr = {lr:.3g}",
                          self.result, landscape.minimum_value)
        plots.fit_loss_limits(self.axes[1], [curve], decades=EXPLORER_LOSS_DECADES)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}
