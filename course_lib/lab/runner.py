"""Run a course_lib optimizer on a 2-D landscape and record its path, its losses and its divergence.

    from course_lib import optim
    from course_lib.lab import landscapes, runner
    bowl = landscapes.ill_conditioned_bowl(condition=10)
    result = runner.run(bowl, lambda params: optim.SGD(params, lr=0.1, momentum=0.9), steps=50)
    result.path, result.losses, result.diverged_at      # (51, 2), (51,), None

A start of shape (R, 2) runs R independent runs at once (the optimizers are element-wise), e.g. a
learning-rate sweep with ``lr`` of shape (R, 1); ``result[i]`` is run i on its own.
"""

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from course_lib import optim
from course_lib.lab.landscapes import Landscape

DEFAULT_BOUND = 1e6
"""A run has diverged once a coordinate of its iterate leaves [-DEFAULT_BOUND, DEFAULT_BOUND]."""

OPTIMIZER_RECIPES: dict[str, tuple[str, dict]] = {
    "GD": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "Nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "RMSprop": ("RMSprop", {}),
    "Adam": ("Adam", {}),
    "AdamW": ("AdamW", {}),
    "AMSGrad": ("Adam", {"amsgrad": True}),
}
"""The course's optimizer names → (``optim`` / ``torch.optim`` class name, their default settings)."""


@dataclass(frozen=True)
class RunResult:
    """Path and losses of one run, or of R runs along a leading axis.

    path: (steps + 1, 2) or (R, steps + 1, 2), the start first; losses: (steps + 1,) or (R, steps + 1).
    diverged_at: the first step whose iterate or loss was non-finite or out of bounds (None if
    none), one per run for R runs. From that step on, path and losses hold NaN.
    """

    path: np.ndarray
    losses: np.ndarray
    diverged_at: int | None | tuple[int | None, ...]

    def __getitem__(self, run: int) -> "RunResult":
        """Run ``run`` of a batched result, as a single-run result."""
        if self.path.ndim != 3:
            raise TypeError("only a batched RunResult (start of shape (R, 2)) can be indexed")
        return RunResult(self.path[run], self.losses[run], self.diverged_at[run])

    def summary(self) -> str:
        """'diverged at step k' or 'final loss …' for a single run (what a plot title says)."""
        if self.path.ndim != 2:
            raise TypeError("summary() describes a single run; use result[i].summary()")
        if self.diverged_at is not None:
            return f"diverged at step {self.diverged_at}"
        return f"final loss {self.losses[-1]:.3g}"


def named_optimizer(name: str, lr, **hyperparameters):
    """A factory ``params -> optimizer`` for one of the course's named optimizers (``OPTIMIZER_RECIPES``).

    ``hyperparameters`` override the recipe's defaults: ``named_optimizer("momentum", 0.1,
    momentum=0.5)`` is ``lambda params: optim.SGD(params, lr=0.1, momentum=0.5)``. The settings
    are checked here, so a bad one raises before any run starts.
    """
    if name not in OPTIMIZER_RECIPES:
        raise ValueError(f"Unknown optimizer: name={name!r} (known: {', '.join(OPTIMIZER_RECIPES)})")
    class_name, defaults = OPTIMIZER_RECIPES[name]
    optimizer_class = getattr(optim, class_name)
    settings = {**defaults, **hyperparameters, "lr": lr}
    optimizer_class([np.zeros(np.broadcast_shapes(np.shape(lr), (2,)))], **settings)  # lr may be (R, 1)
    return lambda params: optimizer_class(params, **settings)


def run(landscape: Landscape, make_optimizer, start=None, steps: int = 100,
        bound: float = DEFAULT_BOUND) -> RunResult:
    """Take ``steps`` steps of ``make_optimizer([point])`` on ``landscape`` from ``start``.

    start: shape (2,) for one run, (R, 2) for R runs at once; default ``landscape.start``.
    A run that diverges is reported by its step, without overflow warnings; the loop ends early
    once every run has diverged.
    """
    if not isinstance(landscape, Landscape):
        raise TypeError(f"landscape must be a Landscape, got {landscape!r}")
    if not callable(make_optimizer):
        raise TypeError(f"make_optimizer must be a callable params -> optimizer, got {make_optimizer!r}")
    if isinstance(steps, bool) or not isinstance(steps, Integral):
        raise TypeError(f"steps must be an int, got {steps!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if isinstance(bound, bool) or not isinstance(bound, Real) or not bound > 0:
        raise ValueError(f"bound must be a positive number, got {bound!r}")
    start = np.array(landscape.start if start is None else start, dtype=float)
    if start.shape[-1:] != (2,) or start.ndim > 2:
        raise ValueError(f"start must have shape (2,) or (R, 2), got shape {start.shape}: {start!r}")
    if not _inside(start, bound).all():
        raise ValueError(f"start must be finite and within ±bound={bound:g}, got {start!r}")

    point = start.reshape(-1, 2)  # the optimizer updates it in place
    x, y = point[:, 0], point[:, 1]  # views: they follow the point
    path = np.full((steps + 1,) + point.shape, np.nan)
    path[0] = point
    has_left = np.zeros(len(point), dtype=bool)
    bound_squared = float(bound) * float(bound)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        optimizer = make_optimizer([point])
        for step in range(1, steps + 1):
            grad = np.empty_like(point)
            grad[:, 0], grad[:, 1] = landscape.gradient(x, y)
            optimizer.step([grad])
            path[step] = point
            if not np.vdot(point, point) < bound_squared:  # Σ x² < bound²: every run is inside
                has_left |= ~_inside(point, bound)
                if has_left.all():
                    break
        losses = landscape.value(path[..., 0], path[..., 1])
        bad = ~_inside(path, bound) | ~np.isfinite(losses)
    first_bad = np.where(bad.any(axis=0), bad.argmax(axis=0), steps + 1)
    after_divergence = np.arange(steps + 1)[:, None] >= first_bad
    path[after_divergence] = np.nan
    losses[after_divergence] = np.nan
    diverged_at = tuple(int(k) if k <= steps else None for k in first_bad)
    if start.ndim == 1:
        return RunResult(path[:, 0], losses[:, 0], diverged_at[0])
    return RunResult(path.swapaxes(0, 1).copy(), losses.T.copy(), diverged_at)


def _inside(points: np.ndarray, bound: float) -> np.ndarray:
    """Per point (last axis = coordinates): every coordinate finite and within [-bound, bound]."""
    return (np.abs(points) <= bound).all(axis=-1)
