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
