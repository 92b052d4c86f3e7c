"""Small seeded data sets: every call with the same seed gives the same numbers on every machine."""

import numpy as np


def noisy_series(n=365, seed=0, noise=4.0):
    """A year of daily temperatures: a seasonal curve plus Gaussian noise (degrees Celsius).

    θ_t = 12 − 8·cos(2π t / 365) + noise·ε_t,  ε_t ~ N(0, 1),  t = 1..n
    """
    if n < 1:
        raise ValueError(f"Invalid series length: n={n} (must be >= 1)")
    days = np.arange(1, n + 1)
    rng = np.random.default_rng(seed)
    return 12.0 - 8.0 * np.cos(2 * np.pi * days / 365) + noise * rng.standard_normal(n)


def two_moons(n=300, noise=0.2, seed=0):
    """Two interleaving half circles with Gaussian noise: X of shape (n, 2), labels y of shape (n,).

    The construction and the random calls of ``sklearn.datasets.make_moons`` (shuffle=True), in
    NumPy alone: ⌊n/2⌋ points on the upper unit half circle (label 0), the rest on a lower half
    circle shifted by (1, 0.5) (label 1); the points are shuffled, then N(0, noise²) is added to
    every coordinate. The draws come from NumPy's legacy ``RandomState(seed)``, as sklearn's do,
    so seed 3 is the draw that the Coursera "Optimization methods" assignment made with
    ``np.random.seed(3); make_moons(n_samples=300, noise=.2)``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"Invalid number of points: n={n!r} (must be an integer >= 2)")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"Invalid noise: noise={noise!r} (must be finite and >= 0)")
    n_out = n // 2
    n_in = n - n_out
    rng = np.random.RandomState(seed)
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(outer), 1 - np.cos(inner)),
                   np.append(np.sin(outer), 1 - np.sin(inner) - 0.5)]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    order = np.arange(n)
    rng.shuffle(order)
    X, y = X[order], y[order]
    X += rng.normal(scale=noise, size=X.shape)
    return X, y
