"""Notebook 06's experiments: what the Hessian says about a critical point, how rare minima are
among random symmetric matrices, how long GD takes to leave the double well's saddle (with and
without noise), and the critical points of a tiny network."""

from numbers import Real
from typing import Any

import numpy as np

from course_lib import optim
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
