"""Critical points and saddles (notebook 06): what the Hessian says about a point where the gradient
vanishes, how rare minima are among random symmetric matrices, and how long optimizers take to
leave the saddle of the double well.

    saddles.classify_critical_point([[-1, 0], [0, 1]])          # 'saddle'
    saddles.share_all_positive(dim=3, samples=100_000, seed=0)  # ≈ 0.025, with its count
    result = runner.run(landscapes.double_well(), runner.named_optimizer("GD", 0.01),
                        start=(1e-6, 1.0), steps=1600)
    saddles.escape_step(result.path)                            # 1334
    saddles.predicted_escape_steps(1e-6, saddles.growth_factor(lr=0.01))   # 1318.8

NumPy only, like the rest of course_lib's core.
"""

import numpy as np

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


def growth_factor(lr: float, momentum: float = 0.0, nesterov: bool = False, curvature: float = -1.0) -> float:
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

