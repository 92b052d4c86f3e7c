"""A seeded least-squares problem with noisy mini-batch gradients, shared by the lessons on
learning-rate decay (notebook 05) and weight averaging (notebook 11)::

    problem = noisy_regression()            # n = 1000 samples, d = 10 weights, condition number ~10
    problem.excess_loss(w)                  # F(w) − F(w*), for w of shape (d,) or (R, d)
    batches = minibatches(problem, runs=8)  # endless, seeded: (steps_per_epoch, 8, batch_size) per epoch
"""

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np


@dataclass(frozen=True)
class RegressionProblem:
    """Least squares F(w) = ½ · mean_i (x_iᵀw − y_i)² over a fixed training set.

    X (n, d), y (n,); w_opt and loss_opt: the exact minimiser of F and F there; batch_size: the
    mini-batch size of ``run_sgd`` (drawn with replacement); hessian: H = XᵀX / n.
    """

    X: np.ndarray
    y: np.ndarray
    w_opt: np.ndarray
    loss_opt: float
    batch_size: int
    hessian: np.ndarray

    @property
    def steps_per_epoch(self) -> int:
        return len(self.y) // self.batch_size

    def loss(self, w: np.ndarray) -> np.ndarray:
        """F(w) for w of shape (d,) or (R, d)."""
        residuals = w @ self.X.T - self.y
        return 0.5 * np.mean(residuals**2, axis=-1)

    def excess_loss(self, w: np.ndarray) -> np.ndarray:
        """F(w) − F(w*) = ½ (w − w*)ᵀ H (w − w*) ≥ 0 (exact for least squares, where ∇F(w*) = 0)."""
        gap = w - self.w_opt
        return 0.5 * np.einsum("...i,ij,...j->...", gap, self.hessian, gap)

    def gradient_noise_covariance(self) -> np.ndarray:
        """Covariance of one mini-batch gradient at w*, where the full gradient is 0:
        (1/B) · mean_i r_i² x_i x_iᵀ, with r_i the residuals at w*."""
        per_sample = self.X * (self.X @ self.w_opt - self.y)[:, None]
        return per_sample.T @ per_sample / len(self.y) / self.batch_size

    def predicted_floor(self, lr) -> np.ndarray:
        """Stationary E[F − F*] of SGD with constant ``lr`` (a number or an array), from the noise
        at w*: Σ_i lr · S_ii / (2 (2 − lr h_i)) in the eigenbasis of H. Infinite where lr ≥ 2/h_max."""
        curvatures, basis = np.linalg.eigh(self.hessian)
        noise = np.diag(basis.T @ self.gradient_noise_covariance() @ basis)
        lr = np.asarray(lr, dtype=float)[..., None]
        with np.errstate(divide="ignore"):
            per_direction = np.where(lr * curvatures < 2, lr * noise / (2 * (2 - lr * curvatures)), np.inf)
        return per_direction.sum(axis=-1)


def noisy_regression(n: int = 1000, d: int = 10, noise: float = 1.0, batch_size: int = 20,
                     seed: int = 0) -> RegressionProblem:
    """A seeded regression: x ~ N(0, diag(h)) with curvatures h from 1 down to 0.1 (condition
    number about 10), y = xᵀw_true + noise·ε."""
    for name, value, low in (("n", n, 2), ("d", d, 1), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if batch_size > n:
        raise ValueError(f"batch_size must be <= n = {n}, got {batch_size!r}")
    if isinstance(noise, bool) or not isinstance(noise, Real) or not noise >= 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.sqrt(np.geomspace(1.0, 0.1, d))
    y = X @ rng.normal(size=d) + noise * rng.normal(size=n)
    w_opt = np.linalg.lstsq(X, y, rcond=None)[0]
    residuals = X @ w_opt - y
    return RegressionProblem(X, y, w_opt, float(0.5 * np.mean(residuals**2)), int(batch_size), X.T @ X / n)


def minibatches(problem: RegressionProblem, runs: int, seed: int = 0):
    """The mini-batches of ``run_sgd``, one epoch at a time: an endless stream of index arrays
    of shape (steps_per_epoch, runs, batch_size), drawn with replacement from one generator
    seeded by ``seed`` (so a PyTorch loop can replay exactly the same batches)."""
    rng = np.random.default_rng(seed)
    while True:
        yield rng.integers(0, len(problem.y), size=(problem.steps_per_epoch, runs, problem.batch_size))
