"""Notebook 06, local optima and saddle points: what the Hessian says about a point where the
gradient vanishes, how rare minima are among random symmetric matrices, and how long optimizers
take to leave the saddle of the double well.

    from course_lib.lessons import saddles as lesson

    lesson.classify_critical_point([[-1, 0], [0, 1]])          # 'saddle'
    lesson.share_all_positive(dim=3, samples=100_000, seed=0)  # ≈ 0.025, with its count
    result = runner.run(landscapes.double_well(), runner.named_optimizer("GD", 0.01),
                        start=(1e-6, 1.0), steps=1600)
    lesson.escape_step(result.path)                            # 1334
    lesson.predicted_escape_steps(1e-6, lesson.growth_factor(lr=0.01))   # 1318.8
    lesson.noisy_escape_steps(sigma=0.01, lr=0.01, runs=200)   # from x0 = 0 exactly, with noise
    lesson.tiny_mlp_critical_points()                          # loss and index of critical points

Its explorer (a run leaving the saddle) and exercises follow.
"""

from numbers import Real
from typing import Any, Callable

import ipywidgets
import numpy as np

from course_lib.interactive.checking import (
    call_on_case, check_function, CheckResult, describe_value, Exercise, Mistake, UnusableAnswer,
)
from course_lib.interactive.explorer import check_steps, DragCache, Explorer, EXPLORER_OPTIMIZERS, lr_slider
from course_lib import optim
from course_lib.lab import plots, runner
from course_lib.lab.landscapes import double_well

# --------------------------------------------------------------------------------------------------
# Critical points, and how long a run takes to leave a saddle
# --------------------------------------------------------------------------------------------------

KINDS = ("minimum", "maximum", "saddle", "degenerate")
"""What ``classify_critical_point`` answers."""

ESCAPE_THRESHOLD = 0.5
"""A run has left the saddle of the double well once |x| ≥ 0.5 (halfway to a minimum at x = ±1)."""

SETTLED_LEVEL = -0.2499
"""A run has settled into a minimum of the double well (f* = −0.25) once f < −0.2499."""


def classify_critical_point(hessian, tol: float = 1e-9) -> str:
    """'minimum', 'maximum', 'saddle' or 'degenerate' for a critical point with this Hessian.

    The eigenvalues decide: all positive, a minimum; all negative, a maximum; both signs, a
    saddle (whatever else there is); otherwise some eigenvalue is zero and the rest share one
    sign, so the second-order test cannot tell ('degenerate'). Eigenvalues within
    ``tol`` × the largest |eigenvalue| of zero count as zero.
    """
    eigenvalues = np.linalg.eigvalsh(_symmetric_matrix(hessian))
    zero = tol * max(float(np.abs(eigenvalues).max()), np.finfo(float).tiny)
    positive, negative = eigenvalues > zero, eigenvalues < -zero
    if positive.any() and negative.any():
        return "saddle"
    if positive.all():
        return "minimum"
    if negative.all():
        return "maximum"
    return "degenerate"


def _symmetric_matrix(hessian) -> np.ndarray:
    matrix = np.asarray(hessian, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"hessian must be a square matrix, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError(f"hessian must be finite, got {matrix!r}")
    if not np.allclose(matrix, matrix.T):
        raise ValueError(f"hessian must be symmetric, got {matrix!r}")
    return matrix


def random_symmetric_matrices(dim: int, samples: int, seed: int = 0) -> np.ndarray:
    """``samples`` matrices of the Gaussian orthogonal ensemble (GOE), shape (samples, dim, dim):
    (G + Gᵀ)/√2 with G standard normal, so diagonal entries have variance 2, the others 1."""
    dim, samples = _positive_int("dim", dim), _positive_int("samples", samples)
    gaussian = np.random.default_rng(seed).standard_normal((samples, dim, dim))
    return (gaussian + gaussian.swapaxes(1, 2)) / np.sqrt(2)


def share_all_positive(dim: int, samples: int, seed: int = 0) -> tuple[float, int]:
    """The share of ``samples`` seeded GOE matrices of size ``dim`` whose eigenvalues are all
    positive (a random critical point that is a minimum), and how many there were."""
    eigenvalues = np.linalg.eigvalsh(random_symmetric_matrices(dim, samples, seed))
    count = int((eigenvalues > 0).all(axis=1).sum())
    return count / samples, count


def negative_fraction(dim: int, samples: int, seed: int = 0) -> np.ndarray:
    """For each of ``samples`` seeded GOE matrices, the fraction of its eigenvalues that are
    negative (the index of a critical point divided by the dimension): 0 is a minimum."""
    eigenvalues = np.linalg.eigvalsh(random_symmetric_matrices(dim, samples, seed))
    return (eigenvalues < 0).mean(axis=1)


def growth_factor(lr: float, momentum: float = 0.0, nesterov: bool = False,
                  curvature: float = -1.0) -> float:
    """How much |x| grows per step, in the long run, for torch's SGD on f = ½·curvature·x².

    The update is linear in (x, b) (b the momentum buffer, torch's form): one step multiplies it
    by a 2 × 2 matrix whose largest |eigenvalue| is the factor. Plain GD: 1 − lr·curvature, which
    is 1 + lr at the double well's saddle (curvature −1 along x).
    """
    c, mu = float(curvature), float(momentum)
    look_ahead = mu if nesterov else 0.0
    step = np.array([[1 - lr * c * (1 + look_ahead), -lr * mu * (mu if nesterov else 1.0)],
                     [c, mu]])
    return float(np.abs(np.linalg.eigvals(step)).max())


def predicted_escape_steps(x0, factor: float, threshold: float = ESCAPE_THRESHOLD):
    """Steps for |x| to grow from |x0| to ``threshold`` if it is multiplied by ``factor`` each
    step: ln(threshold/|x0|) / ln(factor). The linear model near the saddle; infinite at x0 = 0."""
    x0 = np.abs(np.asarray(x0, dtype=float))
    with np.errstate(divide="ignore"):
        return np.log(threshold / x0) / np.log(factor)


def escape_step(path, threshold: float = ESCAPE_THRESHOLD):
    """The first step at which |x| ≥ ``threshold`` (step 0 is the start), None if never.

    path: (steps + 1, 2) for one run, (R, steps + 1, 2) for R runs (then a tuple, one per run).
    """
    return _first_step(np.abs(np.asarray(path, dtype=float)[..., 0]) >= threshold)


def settle_step(losses, level: float = SETTLED_LEVEL):
    """The first step at which the loss is below ``level``, None if never (one run or R runs)."""
    return _first_step(np.asarray(losses, dtype=float) < level)


def _first_step(hit: np.ndarray):
    first = [int(np.argmax(row)) if row.any() else None for row in np.atleast_2d(hit)]
    return first[0] if hit.ndim == 1 else tuple(first)


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------------
# Noise at the exact saddle
# --------------------------------------------------------------------------------------------------

def noisy_escape_steps(sigma: float, lr: float = 0.01, runs: int = 200, steps: int = 3000, seed: int = 0,
                       x0: float = 0.0) -> np.ndarray:
    """Each run's escape step (first |x| ≥ 0.5; np.inf if none) for GD on the double well from
    (x0, 1) whose gradient gets seeded Gaussian noise of standard deviation ``sigma`` in both
    coordinates at every step: a stand-in for mini-batch noise. ``runs`` runs, one per row.

    Near the saddle the noise adds up like a random start: after many steps x behaves as if GD had
    started from x0 of standard deviation sigma·√(lr/(2 + lr)) (``noise_as_start``).
    """
    if isinstance(sigma, bool) or not isinstance(sigma, Real) or not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    runs, steps = _positive_int("runs", runs), _positive_int("steps", steps)
    landscape, rng = double_well(), np.random.default_rng(seed)
    point = np.tile([float(x0), 1.0], (runs, 1))
    sgd = optim.SGD([point], lr=lr)
    escaped = np.full(runs, np.inf)
    for step in range(1, steps + 1):
        gradient = np.stack(landscape.gradient(point[:, 0], point[:, 1]), axis=1)
        sgd.step([gradient + sigma * rng.standard_normal((runs, 2))])
        escaped[np.isinf(escaped) & (np.abs(point[:, 0]) >= ESCAPE_THRESHOLD)] = step
    return escaped


def noise_as_start(sigma: float, lr: float) -> float:
    """The standard deviation of the start that GD's noise amounts to near the saddle.

    x_(t+1) = (1 + lr)·x_t − lr·sigma·ξ_t sums to (1 + lr)^t · (x0 − lr·sigma·Σ_s (1 + lr)^−(s+1) ξ_s),
    and the sum has variance lr²·sigma²/((1 + lr)² − 1) = lr·sigma²/(2 + lr).
    """
    return float(sigma * np.sqrt(lr / (2 + lr)))


# --------------------------------------------------------------------------------------------------
# Critical points of a tiny network: does the index rise with the loss?
# --------------------------------------------------------------------------------------------------

MLP_HIDDEN = 4
"""Hidden tanh units of the tiny network: 2 inputs → 4 → 1 output, 4·3 + 4 + 1 = 17 parameters."""


def tiny_mlp_data(points: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(X, y): ``points`` inputs uniform in [−2, 2]², and targets from a seeded teacher network with
    three tanh units plus noise of standard deviation 0.05, so that no network fits them exactly."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(_positive_int("points", points), 2))
    weights, out = 1.5 * rng.normal(size=(3, 3)), rng.normal(size=3)
    y = np.tanh(_with_bias(X) @ weights.T) @ out + 0.05 * rng.normal(size=len(X))
    return X, y


def _with_bias(X: np.ndarray) -> np.ndarray:
    return np.hstack([X, np.ones((len(X), 1))])


def _mlp_parts(theta: np.ndarray, inputs: np.ndarray, y: np.ndarray, hidden: int):
    """Output weights v (R, hidden), tanh activations T (R, hidden, N) and residuals f − y (R, N)
    for R parameter vectors θ = (the hidden weights row by row, v, c); inputs carry a column of ones."""
    runs, k = theta.shape[0], inputs.shape[1]
    W, v, c = theta[:, :hidden * k].reshape(runs, hidden, k), theta[:, hidden * k:-1], theta[:, -1]
    T = np.tanh(W @ inputs.T)
    residual = (v[:, None, :] @ T)[:, 0, :] + c[:, None] - y
    return v, T, residual


def _mlp_arrays(theta, X, y):
    return np.atleast_2d(np.asarray(theta, dtype=float)), _with_bias(np.asarray(X, dtype=float)), \
        np.asarray(y, dtype=float)


def mlp_loss_and_gradient(theta, X, y, hidden: int = MLP_HIDDEN, weight_decay: float = 1e-3):
    """L(θ) = ½·mean((f(x) − y)²) + ½·weight_decay·‖θ‖² for a 2-layer tanh network f, and ∇L,
    for R parameter vectors at once (theta: (R, P))."""
    return _loss_and_gradient(*_mlp_arrays(theta, X, y), hidden, weight_decay)


def _loss_and_gradient(theta, inputs, y, hidden, weight_decay):
    v, T, residual = _mlp_parts(theta, inputs, y, hidden)
    n = len(y)
    grad_W = (v[:, :, None] * (1 - T * T) * residual[:, None, :]) @ inputs / n
    gradient = np.concatenate([grad_W.reshape(len(theta), -1), (T @ residual[:, :, None])[..., 0] / n,
                               residual.mean(axis=1, keepdims=True)], axis=1)
    loss = 0.5 * np.mean(residual**2, axis=1) + 0.5 * weight_decay * np.sum(theta**2, axis=1)
    return loss, gradient + weight_decay * theta


def mlp_hessian(theta, X, y, hidden: int = MLP_HIDDEN, weight_decay: float = 1e-3) -> np.ndarray:
    """The exact Hessian of ``mlp_loss_and_gradient``'s L, shape (R, P, P): JᵀJ/N (J the Jacobian of
    the outputs) plus the residual times the second derivatives of f, plus weight_decay·I."""
    return _hessian(*_mlp_arrays(theta, X, y), hidden, weight_decay)


def _hessian(theta, inputs, y, hidden, weight_decay):
    v, T, residual = _mlp_parts(theta, inputs, y, hidden)
    runs, (n, k) = len(theta), inputs.shape
    slope = 1 - T * T
    jacobian = np.concatenate([((v[:, :, None] * slope)[..., None] * inputs).transpose(0, 2, 1, 3)
                               .reshape(runs, n, hidden * k), T.transpose(0, 2, 1), np.ones((runs, n, 1))], axis=2)
    hessian = jacobian.transpose(0, 2, 1) @ jacobian / n + weight_decay * np.eye(theta.shape[1])
    weighted = residual[:, None, :] / n
    ww = np.einsum("rhn,na,nb->rhab", weighted * v[:, :, None] * (-2 * T * slope), inputs, inputs, optimize=True)
    wv = (weighted * slope) @ inputs
    for j in range(hidden):
        block, out = slice(j * k, (j + 1) * k), hidden * k + j
        hessian[:, block, block] += ww[:, j]
        hessian[:, block, out] += wv[:, j]
        hessian[:, out, block] += wv[:, j]
    return hessian


def find_critical_points(starts, X, y, hidden: int = MLP_HIDDEN, weight_decay: float = 1e-3,
                         iterations: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """From each start, a damped Newton method that drives the gradient to zero: Levenberg–Marquardt
    on ½‖∇L‖², step −(H² + μI)⁻¹·H·∇L, μ divided by 3 after a step that shrinks ‖∇L‖, multiplied
    by 3 (and the step refused) otherwise. Like Newton's method it is drawn to saddles as much as to
    minima. Returns the end points (R, P) and their gradient norms (R,)."""
    theta, inputs, y = _mlp_arrays(starts, X, y)
    theta = theta.copy()
    damping = np.full(len(theta), 1e-2)
    gradient = _loss_and_gradient(theta, inputs, y, hidden, weight_decay)[1]
    hessian = _hessian(theta, inputs, y, hidden, weight_decay)
    norm = np.linalg.norm(gradient, axis=1)
    identity = np.eye(theta.shape[1])
    for _ in range(_positive_int("iterations", iterations)):
        step = np.linalg.solve(hessian @ hessian + damping[:, None, None] * identity, hessian @ gradient[..., None])
        trial = theta - step[..., 0]
        trial_gradient = _loss_and_gradient(trial, inputs, y, hidden, weight_decay)[1]
        trial_norm = np.linalg.norm(trial_gradient, axis=1)
        better = trial_norm < norm
        theta[better], gradient[better], norm[better] = trial[better], trial_gradient[better], trial_norm[better]
        hessian[better] = _hessian(trial[better], inputs, y, hidden, weight_decay)
        damping = np.clip(np.where(better, damping / 3, damping * 3), 1e-20, 1e20)
    return theta, norm


def tiny_mlp_critical_points(inits: int = 20, seed: int = 1, lr: float = 0.2,
                             snapshots=(0, 10, 30, 100, 300, 1000, 3000), weight_decay: float = 1e-3,
                             tol: float = 1e-9) -> dict[str, Any]:
    """Critical points of the tiny network's loss, found from ``inits`` seeded random starts and from
    the points plain GD (lr) passes through while training them, after each of ``snapshots`` steps.

    Returns a dict: "loss" and "negative" (the number of negative Hessian eigenvalues, the index
    times P) of every start that reached ‖∇L‖ < tol, "found" and "starts" (how many did, out of how
    many), and "parameters" (P = 17).
    """
    X, y = tiny_mlp_data()
    parameters = MLP_HIDDEN * 4 + 1
    theta = np.random.default_rng(seed).normal(scale=0.5, size=(_positive_int("inits", inits), parameters))
    inputs, sgd, starts = _with_bias(X), optim.SGD([theta], lr=lr), []
    for step in range(max(snapshots) + 1):
        if step in snapshots:
            starts.append(theta.copy())
        sgd.step([_loss_and_gradient(theta, inputs, y, MLP_HIDDEN, weight_decay)[1]])
    points, norm = find_critical_points(np.concatenate(starts), X, y, weight_decay=weight_decay)
    critical = norm < tol
    loss, _ = mlp_loss_and_gradient(points[critical], X, y, weight_decay=weight_decay)
    eigenvalues = np.linalg.eigvalsh(mlp_hessian(points[critical], X, y, weight_decay=weight_decay))
    negative = (eigenvalues < -1e-8 * np.abs(eigenvalues).max(axis=1, keepdims=True)).sum(axis=1)
    return {"loss": loss, "negative": negative, "found": int(critical.sum()), "starts": len(critical),
            "parameters": parameters}


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
            "x0": ipywidgets.FloatLogSlider(base=10, min=-15, max=-1, step=0.25, description="x0",
                                            readout_format=".1e"),
            "optimizer": ipywidgets.Dropdown(options=EXPLORER_OPTIMIZERS, description="optimizer"),
            "lr": lr_slider(-3, 0.5),
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
        escape.text(0.02 * self.steps, ESCAPE_THRESHOLD * 1.6, "escape: |x| = 0.5", fontsize="small")
        (self._x,) = escape.plot([], [])
        (self._model,) = escape.plot([], [], "--", color="black", linewidth=1, label="linear model\n|x0|·growth^t")
        self._escape_line = escape.axvline(0, color="black", linewidth=0.8, visible=False)
        escape.set(xlim=(0, self.steps), ylim=(1e-16, 10), xlabel="step", ylabel="|x|",
                   title="distance from the saddle along x")
        escape.legend(loc="center right")
        self._status = escape.text(0.98, 0.03, "", transform=escape.transAxes, ha="right", va="bottom",
                                   bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})
        self._foreground(self._path, self._start, self._x, self._model, self._escape_line, self._status)
        self._runs = DragCache(self.controls, ("x0", "lr"), self._run_batch)
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
        x0, optimizer, lr = (self.controls[key].value for key in ("x0", "optimizer", "lr"))
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


# --------------------------------------------------------------------------------------------------
# The exercises
# --------------------------------------------------------------------------------------------------

CRITICAL_POINT_KINDS = ("minimum", "maximum", "saddle", "degenerate")


def _kind_from_signs(values) -> str:
    """The kind of a critical point whose Hessian eigenvalues have the signs of ``values``."""
    values = np.asarray(values, dtype=float)
    if (values > 0).any() and (values < 0).any():
        return "saddle"
    if (values > 0).all():
        return "minimum"
    if (values < 0).all():
        return "maximum"
    return "degenerate"


def _classify_reference(hessian) -> str:

    return classify_critical_point(hessian)


def _by_determinant(hessian) -> str:
    det = round(float(np.linalg.det(hessian)), 9)
    return "minimum" if det > 0 else "saddle" if det < 0 else "degenerate"


def _by_determinant_and_trace(hessian) -> str:
    det = round(float(np.linalg.det(hessian)), 9)
    if det == 0:
        return "degenerate"
    if det < 0:
        return "saddle"
    return "minimum" if np.trace(hessian) > 0 else "maximum"


def _by_trace(hessian) -> str:
    trace = float(np.trace(hessian))
    return "minimum" if trace > 0 else "maximum" if trace < 0 else "saddle"


def _ignoring_zero_eigenvalues(hessian) -> str:
    eigenvalues = np.round(np.linalg.eigvalsh(hessian), 9)
    if (eigenvalues >= 0).all():
        return "minimum"
    return "maximum" if (eigenvalues <= 0).all() else "saddle"


def _any_zero_is_degenerate(hessian) -> str:
    eigenvalues = np.round(np.linalg.eigvalsh(hessian), 9)
    return "degenerate" if (eigenvalues == 0).any() else _kind_from_signs(eigenvalues)


_SWAPPED_KINDS = {"minimum": "maximum", "maximum": "minimum", "saddle": "saddle", "degenerate": "degenerate"}

_CRITICAL_POINT_CASES = [{"hessian": np.array(matrix, dtype=float)} for matrix in [
    [[2, 0], [0, 1]],                        # the double well's minima
    [[-1, 0], [0, 1]],                       # its saddle
    [[1, 2], [2, 1]],                        # eigenvalues 3, −1
    [[-3, 0], [0, -1]],
    np.diag([-1, -2, 4]),                    # det > 0, trace > 0, yet a saddle
    np.diag([-1, -2, -3]),                   # det < 0, yet a maximum
    [[1, 0], [0, 0]],                        # a zero eigenvalue, the other positive
    np.diag([2, 0, -1]),                     # a zero eigenvalue beside both signs: still a saddle
    [[2, -1, 0], [-1, 2, -1], [0, -1, 2]],   # eigenvalues 2 − √2, 2, 2 + √2
    [[-1, 2], [2, -1]],                      # eigenvalues 1, −3
    [[0, 0], [0, -2]],
]]


def _kind_index(returned: Any) -> float:
    """What the learner's classification is compared as: its position in CRITICAL_POINT_KINDS."""
    kinds = ", ".join(f"'{kind}'" for kind in CRITICAL_POINT_KINDS)
    if not isinstance(returned, str):
        raise UnusableAnswer(f"your function returned {describe_value(returned)}; return one of the words {kinds}")
    word = returned.strip().lower()
    if word not in CRITICAL_POINT_KINDS:
        raise UnusableAnswer(f"your function returned {returned!r}; return one of the words {kinds}")
    return float(CRITICAL_POINT_KINDS.index(word))


CRITICAL_POINT_EXERCISE = Exercise(
    name="classify",
    cases=_CRITICAL_POINT_CASES,
    expected=lambda hessian: _kind_index(_classify_reference(hessian)),
    run=_kind_index,
    outputs=("the kind",),
    success=("the signs of the eigenvalues decide: all positive, a minimum; all negative, a maximum;\n"
             "both signs, a saddle, zeros or not; a zero with the rest of one sign: the test cannot tell."),
    mistakes=[
        Mistake(_by_determinant,
                "you used the determinant alone. It is the PRODUCT of the eigenvalues, so an even "
                "number of negative ones gives det > 0: diag(−3, −1) (a maximum) and "
                "diag(−1, −2, 4) (a saddle) both have det > 0. Look at the eigenvalues' signs."),
        Mistake(_by_determinant_and_trace,
                "you used the 2-D test (det < 0: saddle; det > 0: minimum or maximum by the sign of "
                "the trace). It holds for 2 × 2 Hessians only: diag(−1, −2, 4) has det > 0 and "
                "trace > 0 but is a saddle, diag(−1, −2, −3) has det < 0 but is a maximum. Use "
                "the signs of all the eigenvalues."),
        Mistake(_by_trace,
                "you used the trace alone. It is the SUM of the eigenvalues: [[1, 2], [2, 1]] has "
                "trace 2 but eigenvalues 3 and −1, a saddle. Look at every eigenvalue's sign."),
        Mistake(lambda hessian: _kind_from_signs(np.diag(hessian)),
                "you read the signs of the diagonal entries; those are the curvatures along the "
                "axes only. [[1, 2], [2, 1]] curves down along (1, −1): its eigenvalues are 3 and "
                "−1. Use np.linalg.eigvalsh(hessian)."),
        Mistake(_ignoring_zero_eigenvalues,
                "you ignored zero eigenvalues: with eigenvalues (1, 0) the second-order test "
                "cannot decide (½x² + y⁴ has a minimum, ½x² + y³ does not), so the answer is "
                "'degenerate', not 'minimum'."),
        Mistake(_any_zero_is_degenerate,
                "a zero eigenvalue makes the test undecided only when the other eigenvalues share "
                "one sign: diag(2, 0, −1) curves up along one axis and down along another, so it "
                "is a saddle whatever the zero direction does."),
        Mistake(lambda hessian: _SWAPPED_KINDS[_classify_reference(hessian)],
                "minimum and maximum are swapped: positive eigenvalues mean the function curves "
                "UP in every direction, a minimum."),
    ],
)


def check_classify_critical_point(fn: Callable) -> CheckResult:
    """Check ``fn(hessian)`` -> 'minimum', 'maximum', 'saddle' or 'degenerate'."""
    result = check_function(fn, CRITICAL_POINT_EXERCISE)
    if result.passed or not result.message.startswith("the kind is wrong"):
        return result
    for case in CRITICAL_POINT_EXERCISE.cases:  # a wrong answer that no known mistake explains
        hessian = case["hessian"]
        answer, right = call_on_case(fn, case), _classify_reference(hessian)
        if _kind_index(answer) != CRITICAL_POINT_KINDS.index(right):
            eigenvalues = ", ".join(f"{value:.3g}" for value in np.linalg.eigvalsh(hessian))
            rows = ", ".join("[" + ", ".join(f"{entry:g}" for entry in row) + "]" for row in hessian)
            return CheckResult(False, f"for the Hessian [{rows}] (eigenvalues {eigenvalues}) your "
                                      f"function returned {answer!r}; it is a {right}.")
    return result


def _escape_cases() -> list[dict[str, Any]]:
    return [{"x0": x0, "lr": lr} for x0, lr in [(1e-6, 0.01), (1e-3, 0.05), (1e-9, 0.1), (0.02, 0.003),
                                                (-1e-4, 0.02)]]


def _linear_escape(x0, lr):
    """ln(0.5/|x0|) / ln(1 + lr): GD multiplies x by 1 + lr per step near the saddle."""
    return np.log(0.5 / abs(x0)) / np.log1p(lr)


def _in_any_rounding(answer: Callable, explanation: str) -> list[Mistake]:
    """The same mistake as a real number, rounded up and rounded down."""
    return [Mistake(answer, explanation), Mistake(lambda x0, lr: np.ceil(answer(x0, lr)), explanation),
            Mistake(lambda x0, lr: np.floor(answer(x0, lr)), explanation)]


ESCAPE_PREDICTION_EXERCISE = Exercise(
    name="predict_escape_steps",
    cases=_escape_cases(),
    expected=_linear_escape,
    accepted=[lambda x0, lr: np.ceil(_linear_escape(x0, lr))],
    outputs=("the predicted number of steps",),
    success=("x grows by 1 + lr per step near the saddle: t = ln(0.5/|x0|)/ln(1 + lr) steps to reach 0.5.\n"
             "Measured: about 15 steps more at lr = 0.01, because near |x| = 0.5 the −x³ term slows it."),
    mistakes=[
        *_in_any_rounding(lambda x0, lr: np.log(0.5 / abs(x0)) / lr,
                          "you divided by lr, the rate of the continuous-time flow dx/dt = x. One GD "
                          "step multiplies x by 1 + lr, so divide by ln(1 + lr) (close for small lr, "
                          "5 % fewer steps at lr = 0.1)."),
        *_in_any_rounding(lambda x0, lr: np.log(1 / abs(x0)) / np.log1p(lr),
                          "you counted the steps until |x| reaches 1; the escape line is |x| = 0.5: "
                          "use ln(0.5/|x0|)."),
        *_in_any_rounding(lambda x0, lr: np.log(0.5 / abs(x0)) / np.log(1 - lr),
                          "your count is negative: you divided by ln(1 − lr). Along x the curvature "
                          "at the saddle is −1, so a GD step multiplies x by 1 − lr·(−1) = 1 + lr."),
        *_in_any_rounding(lambda x0, lr: np.log(0.5 / abs(x0)) / -np.log(1 - lr),
                          "you used the factor 1 − lr: along x the curvature at the saddle is −1, so "
                          "a GD step multiplies x by 1 − lr·(−1) = 1 + lr and the count is "
                          "ln(0.5/|x0|)/ln(1 + lr)."),
        *_in_any_rounding(lambda x0, lr: np.log10(0.5 / abs(x0)) / np.log1p(lr),
                          "you mixed logarithms: log10 on top, ln below. Any base works if both "
                          "are the same: ln(0.5/|x0|)/ln(1 + lr)."),
        *_in_any_rounding(lambda x0, lr: np.log(0.5 / abs(x0)) / np.log10(1 + lr),
                          "you mixed logarithms: ln on top, log10 below. Any base works if both "
                          "are the same: ln(0.5/|x0|)/ln(1 + lr)."),
        Mistake(lambda x0, lr: np.log1p(lr) / np.log(0.5 / abs(x0)),
                "your ratio is upside down: the count is ln(0.5/|x0|)/ln(1 + lr), many steps for a "
                "small x0."),
        *_in_any_rounding(lambda x0, lr: (0.5 - abs(x0)) / (lr * abs(x0)),
                          "you let x grow by the same amount lr·x0 each step; it grows by lr·x, in "
                          "proportion to itself, so geometrically: |x0|·(1 + lr)^t."),
        *_in_any_rounding(lambda x0, lr: np.log(0.5 / x0) / np.log1p(lr),
                          "your answer is NaN for a negative x0: the saddle is left on either side, "
                          "so use |x0|: ln(0.5/|x0|)/ln(1 + lr)."),
        Mistake(lambda x0, lr: np.floor(_linear_escape(x0, lr)),
                "you rounded down: after that many steps |x| is still below 0.5. Round up "
                "(or return the real number)."),
    ],
)


def check_escape_prediction(fn: Callable) -> CheckResult:
    """Check ``fn(x0, lr)`` -> GD's steps from (x0, y) until |x| ≥ 0.5 on the double well by the
    linear model near the saddle, ln(0.5/|x0|)/ln(1 + lr) (or that rounded up)."""
    return check_function(fn, ESCAPE_PREDICTION_EXERCISE)
