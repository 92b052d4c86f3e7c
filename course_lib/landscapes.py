"""Two-dimensional loss landscapes with their value, gradient and Hessian, in closed form.

Every function takes coordinates ``x`` and ``y`` as NumPy arrays of any (broadcastable) shapes, a
grid for a contour plot or a leading "run" axis for many runs at once, and returns arrays of the
broadcast shape::

    bowl = ill_conditioned_bowl(condition=10.0)
    bowl.value(x, y)           # f(x, y)
    bowl.gradient(x, y)        # (∂f/∂x, ∂f/∂y)
    bowl.hessian(x, y)         # (∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²)

``LANDSCAPES`` maps a short name to the factory that builds it; the cliff of notebook 09 joins it
there with the same ``Landscape`` fields.
"""

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real

import numpy as np

Pair = tuple[np.ndarray, np.ndarray]
Triple = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Landscape:
    """A 2-D test function f(x, y) with what a plot and a runner need to know about it.

    ``formula``, ``gradient_formula`` and ``hessian_formula`` are the equations, written for two
    float arrays of one shape; call them through ``value``, ``gradient`` and ``hessian``, which
    accept anything broadcastable. ``extent`` is the plotting window (x_min, x_max, y_min, y_max);
    ``minima`` and ``saddles`` are the known critical points; ``minimum_value`` is f* (None when f
    is unbounded below).
    """

    name: str
    label: str
    formula: Callable[[np.ndarray, np.ndarray], np.ndarray]
    gradient_formula: Callable[[np.ndarray, np.ndarray], Pair]
    hessian_formula: Callable[[np.ndarray, np.ndarray], Triple]
    start: tuple[float, float]
    extent: tuple[float, float, float, float]
    minima: tuple[tuple[float, float], ...] = ()
    saddles: tuple[tuple[float, float], ...] = ()
    minimum_value: float | None = None

    def value(self, x, y) -> np.ndarray:
        """f(x, y)."""
        return self.formula(*_float_arrays(x, y))

    def gradient(self, x, y) -> Pair:
        """(∂f/∂x, ∂f/∂y)."""
        return self.gradient_formula(*_float_arrays(x, y))

    def hessian(self, x, y) -> Triple:
        """(∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²); the Hessian is [[hxx, hxy], [hxy, hyy]]."""
        return self.hessian_formula(*_float_arrays(x, y))

    def grid(self, resolution: int = 150) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X, Y, f(X, Y) on a ``resolution`` × ``resolution`` grid over ``extent`` (for contours)."""
        if isinstance(resolution, bool) or not isinstance(resolution, int):
            raise TypeError(f"resolution must be an int, got {resolution!r}")
        if resolution < 2:
            raise ValueError(f"resolution must be at least 2, got {resolution}")
        x_min, x_max, y_min, y_max = self.extent
        X, Y = np.meshgrid(np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution))
        return X, Y, self.value(X, Y)


def _float_arrays(x, y) -> Pair:
    """``x`` and ``y`` as float arrays of their common broadcast shape."""
    return tuple(np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float)))


def _finite_real(name: str, value) -> float:
    """``value`` as a float, refusing non-numbers (TypeError) and NaN or infinity (ValueError)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def ill_conditioned_bowl(condition: float = 10.0) -> Landscape:
    """f(x, y) = ½(x² + κ y²): a quadratic bowl whose y axis is κ times steeper than its x axis.

    Hessian diag(1, κ): the condition number is κ and the largest curvature L = κ, so gradient
    descent converges for lr < 2/κ and diverges (along y) for lr > 2/κ.
    """
    kappa = _finite_real("condition", condition)
    if kappa < 1:
        raise ValueError(f"condition must be >= 1 (it is the ratio of the curvatures), got {condition!r}")
    return Landscape(
        name="ill_conditioned_bowl",
        label=f"ill-conditioned bowl (κ = {kappa:g})",
        formula=lambda x, y: 0.5 * (x**2 + kappa * y**2),
        gradient_formula=lambda x, y: (1.0 * x, kappa * y),
        hessian_formula=lambda x, y: (np.ones_like(x), np.zeros_like(x), np.full_like(x, kappa)),
        start=(-4.0, 1.0),
        extent=(-5.0, 5.0, -2.0, 2.0),
        minima=((0.0, 0.0),),
        minimum_value=0.0,
    )


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Landscape:
    """f(x, y) = (a − x)² + b (y − x²)²: a curved narrow valley with its minimum at (a, a²), f* = 0."""
    a = _finite_real("a", a)
    b = _finite_real("b", b)
    if b <= 0:
        raise ValueError(f"b must be > 0 (it is the steepness of the valley walls), got {b!r}")

    def gradient_formula(x, y):
        return -2.0 * (a - x) - 4.0 * b * x * (y - x**2), 2.0 * b * (y - x**2)

    def hessian_formula(x, y):
        return 2.0 - 4.0 * b * (y - x**2) + 8.0 * b * x**2, -4.0 * b * x, np.full_like(x, 2.0 * b)

    return Landscape(
        name="rosenbrock",
        label=f"Rosenbrock (a = {a:g}, b = {b:g})",
        formula=lambda x, y: (a - x) ** 2 + b * (y - x**2) ** 2,
        gradient_formula=gradient_formula,
        hessian_formula=hessian_formula,
        start=(-1.5, 2.0),
        extent=(-2.0, 2.0, -1.0, 3.0),
        minima=((a, a * a),),
        minimum_value=0.0,
    )


def saddle() -> Landscape:
    """f(x, y) = x² − y²: a saddle at the origin (Hessian diag(2, −2)), unbounded below along y."""
    return Landscape(
        name="saddle",
        label="saddle x² − y²",
        formula=lambda x, y: x**2 - y**2,
        gradient_formula=lambda x, y: (2.0 * x, -2.0 * y),
        hessian_formula=lambda x, y: (np.full_like(x, 2.0), np.zeros_like(x), np.full_like(x, -2.0)),
        start=(-1.5, 1e-3),
        extent=(-2.0, 2.0, -2.0, 2.0),
        saddles=((0.0, 0.0),),
    )


def double_well() -> Landscape:
    """f(x, y) = x⁴/4 − x²/2 + y²/2 (Dauphin et al. 2014): a saddle at (0, 0) with Hessian
    diag(−1, 1) between two minima at (±1, 0) with f* = −1/4.

    The default start (0.01, 1) leaves the saddle within a few dozen steps; the escape-time
    experiment of notebook 06 starts at (1e-6, 1).
    """
    return Landscape(
        name="double_well",
        label="double well x⁴/4 − x²/2 + y²/2",
        formula=lambda x, y: 0.25 * x**4 - 0.5 * x**2 + 0.5 * y**2,
        gradient_formula=lambda x, y: (x**3 - x, 1.0 * y),
        hessian_formula=lambda x, y: (3.0 * x**2 - 1.0, np.zeros_like(x), np.ones_like(x)),
        start=(1e-2, 1.0),
        extent=(-1.6, 1.6, -1.2, 1.2),
        minima=((-1.0, 0.0), (1.0, 0.0)),
        saddles=((0.0, 0.0),),
        minimum_value=-0.25,
    )


LANDSCAPES: dict[str, Callable[..., Landscape]] = {
    "ill_conditioned_bowl": ill_conditioned_bowl,
    "rosenbrock": rosenbrock,
    "saddle": saddle,
    "double_well": double_well,
}


def get_landscape(name: str, **parameters) -> Landscape:
    """The landscape registered as ``name``, built with ``parameters`` (e.g. ``condition=50``)."""
    if name not in LANDSCAPES:
        raise ValueError(f"Unknown landscape: name={name!r} (known: {', '.join(LANDSCAPES)})")
    return LANDSCAPES[name](**parameters)
