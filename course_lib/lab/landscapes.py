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
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return (x, y) if x.shape == y.shape else tuple(np.broadcast_arrays(x, y))


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
    """f(x, y) = x⁴/4 − x²/2 + y²/2: a saddle at (0, 0) with Hessian diag(−1, 1) between two minima
    at (±1, 0) with f* = −1/4.

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


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^(−x)), without overflow warnings for large |x|."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def cliff_states(w: np.ndarray, b: np.ndarray, steps: int = 50, x0: float = 0.5) -> list[np.ndarray]:
    """The states x_0, x_1, …, x_steps of the recurrence x_t = w·σ(x_(t−1)) + b (one array each)."""
    states = [np.full(np.shape(w), x0)]
    for _ in range(steps):
        states.append(w * _sigmoid(states[-1]) + b)
    return states


def cliff_backprop(w: np.ndarray, b: np.ndarray, steps: int = 50, x0: float = 0.5,
                   target: float = 0.7) -> tuple[np.ndarray, Pair]:
    """E = (σ(x_steps) − target)² and (∂E/∂w, ∂E/∂b) by backpropagation through time.

    Going back from the last step, δ_t = ∂E/∂x_t is multiplied at every step by the factor
    ∂x_t/∂x_(t−1) = w·σ'(x_(t−1)); fifty such factors slightly above 1 are what explodes.
    """
    with np.errstate(over="ignore"):                       # e^(−x) = inf for x < −709 gives σ = 0
        s = _sigmoid(np.full(np.shape(w), x0))
        sigmoids = [s]                                      # σ(x_0), …, σ(x_T)
        for _ in range(steps):
            s = 1.0 / (1.0 + np.exp(-(w * s + b)))
            sigmoids.append(s)
    delta = 2.0 * (s - target) * s * (1.0 - s)            # δ_T = ∂E/∂x_T
    grad_w, grad_b = np.zeros_like(delta), np.zeros_like(delta)
    for previous in reversed(sigmoids[:-1]):               # σ(x_(t−1)) for t = T, …, 1
        grad_w += delta * previous                          # x_t = w·σ(x_(t−1)) + b
        grad_b += delta
        delta = delta * w * previous * (1.0 - previous)     # δ_(t−1) = δ_t · w·σ'(x_(t−1))
    return (s - target) ** 2, (grad_w, grad_b)


def _cliff_hessian(w: np.ndarray, b: np.ndarray, steps: int, x0: float, target: float) -> Triple:
    """The Hessian of the cliff by forward-mode second derivatives of x_t with respect to (w, b)."""
    x = np.full(np.shape(w), x0)
    dw, db = np.zeros_like(x), np.zeros_like(x)             # ∂x_t/∂w, ∂x_t/∂b
    dww, dwb, dbb = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    for _ in range(steps):
        s = _sigmoid(x)
        s1, s2 = s * (1 - s), s * (1 - s) * (1 - 2 * s)     # σ', σ''
        dww, dwb, dbb = (2 * s1 * dw + w * (s2 * dw * dw + s1 * dww),
                         s1 * db + w * (s2 * dw * db + s1 * dwb),
                         w * (s2 * db * db + s1 * dbb))
        dw, db = s + w * s1 * dw, 1.0 + w * s1 * db
        x = w * s + b
    s = _sigmoid(x)
    s1, s2 = s * (1 - s), s * (1 - s) * (1 - 2 * s)
    e1, e2 = 2 * (s - target) * s1, 2 * s1 * s1 + 2 * (s - target) * s2   # dE/dx, d²E/dx²
    return e2 * dw * dw + e1 * dww, e2 * dw * db + e1 * dwb, e2 * db * db + e1 * dbb


def cliff(steps: int = 50, x0: float = 0.5, target: float = 0.7) -> Landscape:
    """The exploding-gradient cliff of Pascanu, Mikolov & Bengio (2013), in the plane (w, b).

    A one-unit recurrent net x_t = w·σ(x_(t−1)) + b, x_0 = 0.5, run for 50 steps, with the loss
    E(w, b) = (σ(x_50) − 0.7)². Near w = 5 the loss falls from 0.34 to almost 0 across
    b ≈ −2.6123 in a wall narrower than 1e-4, where |∇E| reaches thousands; elsewhere it is
    nearly flat. The gradient is backpropagated through the 50 steps (``cliff_backprop``).
    E ≥ 0 and E = 0 along a curve, so f* = 0 with no isolated minimum; x is w, y is b.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"steps must be an int, got {steps!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}")
    x0 = _finite_real("x0", x0)
    target = _finite_real("target", target)
    if not 0 < target < 1:
        raise ValueError(f"target must be between 0 and 1 (it is compared with a sigmoid), got {target!r}")
    return Landscape(
        name="cliff",
        label=f"the cliff: E = (σ(x_{steps}) − {target:g})²",
        formula=lambda w, b: cliff_backprop(w, b, steps, x0, target)[0],
        gradient_formula=lambda w, b: cliff_backprop(w, b, steps, x0, target)[1],
        hessian_formula=lambda w, b: _cliff_hessian(w, b, steps, x0, target),
        start=(4.5, -3.0),
        extent=(3.0, 10.0, -4.0, 8.0),
        minimum_value=0.0,
    )


LANDSCAPES: dict[str, Callable[..., Landscape]] = {
    "ill_conditioned_bowl": ill_conditioned_bowl,
    "rosenbrock": rosenbrock,
    "saddle": saddle,
    "double_well": double_well,
    "cliff": cliff,
}


def get_landscape(name: str, **parameters) -> Landscape:
    """The landscape registered as ``name``, built with ``parameters`` (e.g. ``condition=50``)."""
    if name not in LANDSCAPES:
        raise ValueError(f"Unknown landscape: name={name!r} (known: {', '.join(LANDSCAPES)})")
    return LANDSCAPES[name](**parameters)
