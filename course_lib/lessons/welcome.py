"""Notebook 00, welcome and toolkit: the landscape explorer, the course's first widget, and the
first exercise (one step of gradient descent).

    from course_lib.lessons import welcome as lesson
    lesson.LandscapeExplorer(landscape="rosenbrock", optimizer="Adam", lr=0.05)
    lesson.check_gd_step(my_gd_step)
"""

from typing import Callable

import ipywidgets
import numpy as np

from course_lib.interactive.checking import check_function, CheckResult, Exercise, Mistake
from course_lib.interactive.explorer import (
    AXIS_KEEP_SHARE, check_steps, Explorer, EXPLORER_OPTIMIZERS, lr_slider, show_run, sparse_ticks, status_text,
)
from course_lib.lab import plots, runner
from course_lib.lab.landscapes import get_landscape, LANDSCAPES

# --------------------------------------------------------------------------------------------------
# The explorer
# --------------------------------------------------------------------------------------------------

def fit_loss_axis(ax, curve: np.ndarray) -> None:
    """Fit a loss axis to ``curve``. A log axis spans the whole decades around the curve (at least
    two, as ``plots.fit_loss_limits`` chooses them). It keeps its limits while they hold those
    decades and the curve's decades fill at least ``AXIS_KEEP_SHARE`` of them: nearby settings
    share one axis, which then needs no redrawing, and a run that ends near 0.5 is not drawn
    against a dozen empty decades."""
    plots.fit_loss_limits(ax, [curve], keep_share=AXIS_KEEP_SHARE if ax.get_yscale() == "log" else None)


class LandscapeExplorer(Explorer):
    """Pick a landscape, an optimizer (torch's defaults, momentum 0.9) and a learning rate; see the
    path on the contours beside the loss curve, on a loss axis fitted to it (``fit_loss_axis``)."""

    def __init__(self, landscape: str = "ill_conditioned_bowl", optimizer: str = "momentum",
                 lr: float = 0.05, steps: int = 150):
        self.steps = check_steps(steps)
        self.landscapes = {name: get_landscape(name) for name in LANDSCAPES}
        super().__init__({
            "landscape": ipywidgets.Dropdown(
                options=[(each.label, name) for name, each in self.landscapes.items()], description="landscape"),
            "optimizer": ipywidgets.Dropdown(options=EXPLORER_OPTIMIZERS, description="optimizer"),
            "lr": lr_slider(1e-4, 3),
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
        name, optimizer, lr = (self.setting[key] for key in ("landscape", "optimizer", "lr"))
        landscape = self.landscapes[name]
        self.result = runner.run(landscape, runner.named_optimizer(optimizer, lr), steps=self.steps)
        if name != self._shown:
            self._show_landscape(name)
        curve = show_run(self._path, self._losses, self._status, f"{optimizer}, lr = {lr:.3g}",
                          self.result, landscape.minimum_value)
        fit_loss_axis(self.axes[1], curve)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}


# --------------------------------------------------------------------------------------------------
# The first exercise
# --------------------------------------------------------------------------------------------------

def _gd_step(theta, grad, lr):
    return np.asarray(theta, dtype=float) - lr * np.asarray(grad, dtype=float)


def _case_at_start(name: str, lr: float) -> dict:
    """A gradient-descent step from a landscape's starting point, with its true gradient there."""
    landscape = get_landscape(name)
    return {"theta": np.array(landscape.start), "grad": np.array(landscape.gradient(*landscape.start)), "lr": lr}


_GD_STEP_CASES = [
    _case_at_start("rosenbrock", 0.001),
    _case_at_start("ill_conditioned_bowl", 0.1),
    {"theta": np.array([0.3, -0.7, 2.0]), "grad": np.array([1.0, -2.0, 0.5]), "lr": 0.5},  # any shape
]

GD_STEP_EXERCISE = Exercise(
    name="gd_step",
    cases=_GD_STEP_CASES,
    expected=_gd_step,
    outputs=("the new θ",),
    success="one step of gradient descent is θ − lr·g: a small move against the gradient.",
    mistakes=[
        Mistake(lambda theta, grad, lr: theta + lr * grad,
                "you moved along the gradient, which is uphill: subtract lr·g."),
        Mistake(lambda theta, grad, lr: theta - grad,
                "the learning rate is missing: the step is lr·g, not g."),
        Mistake(lambda theta, grad, lr: -lr * grad,
                "you returned the step −lr·g; return the new parameters θ − lr·g."),
        Mistake(lambda theta, grad, lr: lr * grad,
                "you returned lr·g, the size of the step; return the new parameters θ − lr·g."),
        Mistake(lambda theta, grad, lr: theta - lr,
                "you subtracted lr alone; the step is lr times the gradient g."),
        Mistake(lambda theta, grad, lr: theta - lr * theta,
                "you multiplied lr by θ itself; the step is lr times the gradient g."),
        Mistake(lambda theta, grad, lr: theta - grad / lr,
                "you divided the gradient by lr; the step is lr times the gradient g."),
    ],
    hint="replace the line `raise NotImplementedError` with a `return` of the new θ: one step of "
         "lr·g against the gradient g.",
    updates=("theta",),  # the parameters: a step may update them in place, as torch's optimizers do
)


def check_gd_step(fn: Callable) -> CheckResult:
    """Check ``fn(theta, grad, lr)`` -> θ − lr·g, one step of gradient descent."""
    return check_function(fn, GD_STEP_EXERCISE)
