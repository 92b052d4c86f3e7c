"""course_lib.averages: the EWA against its unrolled formula, bias correction as a
normalised weighted mean, and bad input."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from course_lib.averages import effective_window, ewa, ewa_weights

FEW = settings(max_examples=40, deadline=None)
betas = st.floats(0.0, 0.999)
series = hnp.arrays(np.float64, st.integers(1, 60), elements=st.floats(-1e3, 1e3))
SUBNORMAL_ROUNDING = 200 * np.finfo(float).smallest_subnormal
"""Below 2.2e-308 a rounding error is a whole subnormal step, not a fraction of the value: a series
of subnormal θ (which hypothesis tries) is off by a few steps after a few dozen operations."""


def unrolled(theta, beta):
    """v_t = Σ_{k=1..t} (1 − β) β^(t−k) θ_k, written out directly."""
    n = len(theta)
    return np.array([sum((1 - beta) * beta ** (t - k) * theta[k - 1] for k in range(1, t + 1)) for t in range(1, n + 1)])


def test_first_values_by_hand():
    np.testing.assert_allclose(ewa([1.0, 2.0, 3.0], 0.5), [0.5, 1.25, 2.125], rtol=1e-15)
    corrected = ewa([1.0, 2.0, 3.0], 0.5, bias_correction=True)
    np.testing.assert_allclose(corrected, [1.0, 5 / 3, 17 / 7], rtol=1e-15)


@FEW
@given(theta=series, beta=betas)
def test_equals_the_unrolled_sum(theta, beta):
    rounding = 1e-13 * np.abs(theta).max() + SUBNORMAL_ROUNDING
    np.testing.assert_allclose(ewa(theta, beta), unrolled(theta, beta), rtol=0, atol=rounding)


@FEW
@given(theta=series, beta=betas)
def test_bias_corrected_value_is_the_normalised_weighted_mean(theta, beta):
    corrected = ewa(theta, beta, bias_correction=True)
    for t in range(1, len(theta) + 1):
        w = ewa_weights(beta, t)
        rounding = 1e-13 * np.abs(theta[:t]).max() + SUBNORMAL_ROUNDING  # ~ t·ε·max|θ| for t ≤ 60
        assert corrected[t - 1] == pytest.approx(w @ theta[:t] / w.sum(), rel=0, abs=rounding)


@FEW
@given(c=st.floats(-1e6, 1e6).filter(lambda c: c == 0 or abs(c) > 1e-100), beta=betas, n=st.integers(1, 200))
def test_constant_series_is_exact_from_the_first_step_when_corrected(c, beta, n):
    corrected = ewa(np.full(n, c), beta, bias_correction=True)
    np.testing.assert_allclose(corrected, c, rtol=1e-12)
    # uncorrected it starts at (1 − β) c and creeps up: v_t = (1 − β^t) c
    plain = ewa(np.full(n, c), beta)
    np.testing.assert_allclose(plain, (1 - beta ** np.arange(1, n + 1)) * c, rtol=1e-12, atol=1e-300)


def test_bias_correction_fades_out():
    theta = np.random.default_rng(0).normal(5.0, 1.0, 2000)
    plain, corrected = ewa(theta, 0.98), ewa(theta, 0.98, bias_correction=True)
    assert corrected[0] == theta[0] and plain[0] == pytest.approx(0.02 * theta[0])
    assert abs(plain[-1] - corrected[-1]) < 1e-12 * abs(corrected[-1]) + 1e-15


@FEW
@given(beta=betas, t=st.integers(1, 300))
def test_weights(beta, t):
    w = ewa_weights(beta, t)
    assert w.shape == (t,)
    assert w[-1] == pytest.approx(1 - beta)  # the newest value weighs 1 − β
    assert w.sum() == pytest.approx(1 - beta**t, rel=1e-12, abs=1e-15)
    assert np.all(np.diff(w) >= 0)  # older values weigh less


def test_seed_example_and_window():
    w = ewa_weights(0.9, 100)
    assert w[0] == pytest.approx(0.1 * 0.9**99) and w[1] == pytest.approx(0.1 * 0.9**98)
    assert effective_window(0.9) == pytest.approx(10) and effective_window(0.98) == pytest.approx(50)
    assert effective_window(0.0) == 1


def test_several_series_along_axis_0():
    rng = np.random.default_rng(1)
    block = rng.normal(size=(50, 3))
    together = ewa(block, 0.8, bias_correction=True)
    assert together.shape == (50, 3)
    for j in range(3):
        np.testing.assert_array_equal(together[:, j], ewa(block[:, j], 0.8, bias_correction=True))


def test_dtypes():
    assert ewa(np.arange(5), 0.9).dtype == np.float64  # integers become float64
    assert ewa(np.ones(5, dtype=np.float32), 0.9).dtype == np.float32  # float32 stays
    assert isinstance(ewa([1, 2, 3], 0.9), np.ndarray)


def test_fast_for_ten_thousand_points():
    theta = np.random.default_rng(2).normal(size=10_000)
    start = time.perf_counter()
    ewa(theta, 0.99, bias_correction=True)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("beta", [1.0, -0.1, 1.5, float("nan"), float("inf")])
def test_bad_beta(beta):
    for call in (lambda: ewa([1.0, 2.0], beta), lambda: ewa_weights(beta, 3), lambda: effective_window(beta)):
        with pytest.raises(ValueError, match=rf"beta must be in \[0, 1\), got {beta!r}"):
            call()


@pytest.mark.parametrize("beta", ["0.9", None, True])
def test_beta_of_the_wrong_type(beta):
    with pytest.raises(TypeError, match="beta"):
        ewa([1.0, 2.0], beta)


@pytest.mark.parametrize("values, error", [([], ValueError), (3.0, ValueError), (["a", "b"], TypeError),
                                           ([True, False], TypeError), ([1 + 2j], TypeError)])
def test_bad_values(values, error):
    with pytest.raises(error, match="values"):
        ewa(values, 0.9)


def test_values_are_not_changed():
    theta = np.array([1.0, 2.0, 3.0])
    ewa(theta, 0.5, bias_correction=True)
    np.testing.assert_array_equal(theta, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("t, error", [(0, ValueError), (-2, ValueError), (2.0, TypeError)])
def test_bad_t(t, error):
    with pytest.raises(error, match="t must be"):
        ewa_weights(0.9, t)
