"""Exponentially weighted averages (notebook 01).

    v_0 = 0,    v_t = β v_{t−1} + (1 − β) θ_t,    t = 1, 2, …

Unrolled, v_t = Σ_{k=1..t} (1 − β) β^(t−k) θ_k: each past value gets a weight that
shrinks by β per step, and the weights sum to 1 − β^t, not 1. That shortfall is the
bias at the start (v_1 = (1 − β) θ_1 is far below θ_1). Bias correction divides by it:
v̂_t = v_t / (1 − β^t), which is exactly the weighted mean Σ w_k θ_k / Σ w_k. The
factor 1 − β^t tends to 1 as t grows, so the correction fades out. A common misstatement
is that v_t tends to 1: it is the factor that does.
"""

import math
from numbers import Integral, Real

import numpy as np

__all__ = ["ewa", "ewa_weights", "effective_window"]


def _check_beta(beta):
    if isinstance(beta, bool) or not isinstance(beta, Real):
        raise TypeError(f"beta must be a real number, got {beta!r}")
    if not (math.isfinite(beta) and 0 <= beta < 1):
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    return float(beta)


def _as_series(values):
    """``values`` as a float array whose axis 0 is time (integers become float64)."""
    series = np.asarray(values)
    if series.dtype == bool or not np.issubdtype(series.dtype, np.number) or np.iscomplexobj(series):
        raise TypeError(f"values must be real numbers, got an array of {series.dtype}")
    if series.ndim == 0 or len(series) == 0:
        raise ValueError(f"values must be a non-empty series, got {values!r}")
    return series if np.issubdtype(series.dtype, np.floating) else series.astype(np.float64)


def ewa(values, beta, bias_correction=False):
    """Exponentially weighted average of a series, one value per time step.

    v_t = β v_{t−1} + (1 − β) θ_t from v_0 = 0; with ``bias_correction`` each v_t is
    divided by 1 − β^t. ``values`` is a 1-D series or an array with time along axis 0
    (several series side by side); the result has its shape and float dtype.
    """
    beta = _check_beta(beta)
    theta = _as_series(values)
    averages = np.empty_like(theta)
    v = np.zeros_like(theta[0])
    for t in range(1, len(theta) + 1):
        v = beta * v + (1 - beta) * theta[t - 1]
        averages[t - 1] = v / (1 - beta**t) if bias_correction else v
    return averages


def ewa_weights(beta, t):
    """The weight w_k = (1 − β) β^(t−k) that θ_k, k = 1..t, carries in v_t (length t).

    They sum to 1 − β^t; dividing by that sum gives the bias-corrected weights.
    """
    beta = _check_beta(beta)
    if isinstance(t, bool) or not isinstance(t, Integral):
        raise TypeError(f"t must be an integer, got {t!r}")
    if t < 1:
        raise ValueError(f"t must be >= 1, got {t!r}")
    k = np.arange(1, t + 1)
    return (1 - beta) * beta ** (t - k)


def effective_window(beta):
    """1 / (1 − β): roughly how many recent values the average is "over"
    (β = 0.9 → 10, β = 0.98 → 50)."""
    return 1 / (1 - _check_beta(beta))
