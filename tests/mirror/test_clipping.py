"""course_lib.clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_, the worked
numbers of notebook 09, the non-finite check, bad input, and clipping run by run (``clip_each_run_``,
``clipped`` optimizers)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from course_lib import clipping
from course_lib.clipping import (
    clip_angle_degrees,
    clip_grad_norm_,
    clip_grad_value_,
    nonfinite_gradients,
    report_nonfinite,
    vector_norm,
)
from course_lib.lab import landscapes, runner

FEW = settings(max_examples=40, deadline=None)
# Tolerances: float64 agrees to rounding; float32 norms are sums in float32, whose
# rounding depends on the order of the additions (torch's and NumPy's differ).
RTOL = {np.float64: 1e-14, np.float32: 1e-5}


def shapes():
    return hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=6)


@st.composite
def gradient_lists(draw, dtype):
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    elements = st.floats(-10.0, 10.0, width=32 if dtype == np.float32 else 64)
    arrays = draw(st.lists(hnp.arrays(dtype, shapes(), elements=elements), min_size=1, max_size=5))
    return [np.asarray(a * dtype(scale)) for a in arrays]  # 0-d stays an array


def torch_params(grads):
    params = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype))
        p.grad = torch.from_numpy(g.copy())
        params.append(p)
    return params


norm_types = st.sampled_from([1.0, 2.0, 3.0, math.inf, 0.5])


@FEW
@given(
    dtype=st.sampled_from([np.float32, np.float64]),
    data=st.data(),
    norm_type=norm_types,
    max_norm=st.floats(0.0, 50.0),
)
def test_clip_grad_norm_matches_torch(dtype, data, norm_type, max_norm):
    grads = data.draw(gradient_lists(dtype))
    params = torch_params(grads)
    expected_total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    total = clip_grad_norm_(grads, max_norm, norm_type=norm_type)
    assert type(total) is float
    assert total == pytest.approx(expected_total.item(), rel=RTOL[dtype], abs=1e-30)
    for g, p in zip(grads, params):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=RTOL[dtype], atol=1e-30)


@FEW
@given(dtype=st.sampled_from([np.float32, np.float64]), data=st.data(), clip_value=st.floats(0.0, 20.0))
def test_clip_grad_value_matches_torch(dtype, data, clip_value):
    grads = data.draw(gradient_lists(dtype))
    params = torch_params(grads)
    torch.nn.utils.clip_grad_value_(params, clip_value)
    assert clip_grad_value_(grads, clip_value) is None
    for g, p in zip(grads, params):
        assert g.dtype == dtype
        np.testing.assert_array_equal(g, p.grad.numpy())


def test_one_array_and_the_norm_of_a_stack_of_norms():
    g = np.array([[3.0, 4.0], [0.0, 12.0]])
    assert clip_grad_norm_(g, 100.0) == 13.0  # one array: its own norm, nothing clipped
    np.testing.assert_array_equal(g, [[3.0, 4.0], [0.0, 12.0]])
    a, b = np.array([3.0, 4.0]), np.array([12.0])
    assert clip_grad_norm_([a, b], 100.0) == 13.0  # ‖(‖a‖, ‖b‖)‖ = ‖(5, 12)‖
    assert clip_grad_norm_([a, b], 100.0, norm_type="inf") == 12.0
    assert vector_norm(np.array([3.0, -4.0]), 1.0) == 7.0


def test_mixed_dtypes_match_torch():
    grads = [np.array([1.0, -2.0, 3.0]), np.array([0.5, 4.0], dtype=np.float32)]
    params = torch_params(grads)
    expected = torch.nn.utils.clip_grad_norm_(params, 1.0)
    assert clip_grad_norm_(grads, 1.0) == pytest.approx(expected.item(), rel=1e-15)
    assert grads[1].dtype == np.float32
    for g, p in zip(grads, params):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-6)


def test_empty_list_has_norm_zero_like_torch():
    assert clip_grad_norm_([], 1.0) == torch.nn.utils.clip_grad_norm_([], 1.0).item() == 0.0


# ------------------------------------------------------------- notebook 09's worked numbers


def test_pascanu_example_value_versus_norm_clipping():
    g = np.array([3.0, 0.4])
    by_value = g.copy()
    clip_grad_value_(by_value, 1.0)
    np.testing.assert_array_equal(by_value, [1.0, 0.4])
    assert clip_angle_degrees(g, by_value) == pytest.approx(14.2, abs=0.05)
    by_norm = g.copy()
    total = clip_grad_norm_(by_norm, 1.0)
    assert total == pytest.approx(math.hypot(3.0, 0.4))
    np.testing.assert_allclose(by_norm, [0.991, 0.132], atol=5e-4)
    assert clip_angle_degrees(g, by_norm) == pytest.approx(0.0, abs=1e-6)  # norm clipping keeps the direction


def test_coefficient_is_max_norm_over_total_plus_1e_minus_6():
    g = np.array([3.0, 4.0])
    clip_grad_norm_(g, 1.0)
    np.testing.assert_allclose(g, np.array([3.0, 4.0]) / (5.0 + 1e-6), rtol=1e-15)
    below = np.array([0.3, 0.4])  # total 0.5 < 1: coefficient clamped to 1, nothing moves
    clip_grad_norm_(below, 1.0)
    np.testing.assert_array_equal(below, [0.3, 0.4])


def test_angle_of_lists_of_gradients():
    before = [np.array([[3.0]]), np.array([0.4])]
    after = [np.array([[1.0]]), np.array([0.4])]
    assert clip_angle_degrees(before, after) == pytest.approx(clip_angle_degrees([3.0, 0.4], [1.0, 0.4]))
    assert clip_angle_degrees([1.0, 0.0], [0.0, 2.0]) == pytest.approx(90.0)


# ---------------------------------------------------------------- non-finite


def nonfinite_case():
    return [
        ("w1", np.array([1.0, np.nan])),
        ("b1", np.array([np.inf, 0.0])),
        ("w2", np.array([-np.inf, np.nan])),
        ("b2", np.zeros(3)),
    ]


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_error_if_nonfinite_raises_like_torch_and_changes_nothing(norm_type):
    for name, bad in nonfinite_case()[:3]:
        grads = [np.array([1.0, 2.0]), bad.copy()]
        with pytest.raises(RuntimeError) as torch_error:
            torch.nn.utils.clip_grad_norm_(
                torch_params(grads), 1.0, norm_type=norm_type, error_if_nonfinite=True
            )
        with pytest.raises(RuntimeError, match="non-finite") as our_error:
            clip_grad_norm_(grads, 1.0, norm_type=norm_type, error_if_nonfinite=True)
        for error in (torch_error, our_error):
            assert "error_if_nonfinite=False" in str(error.value)
        np.testing.assert_array_equal(grads[0], [1.0, 2.0])
        np.testing.assert_array_equal(grads[1], bad)


@pytest.mark.parametrize(
    "bad", [np.array([np.nan, 2.0]), np.array([np.inf, 2.0]), np.array([1e20, 2.0], dtype=np.float32)]
)
def test_nonfinite_total_without_the_error_scales_like_torch(bad):
    grads = [np.array([1.0, -3.0], dtype=bad.dtype), bad.copy()]
    params = torch_params(grads)
    expected = torch.nn.utils.clip_grad_norm_(params, 1.0).item()
    total = clip_grad_norm_(grads, 1.0)
    assert math.isnan(total) if math.isnan(expected) else total == expected == math.inf
    for g, p in zip(grads, params):
        np.testing.assert_array_equal(g, p.grad.numpy())


def test_nonfinite_gradients_names_them_the_right_way_round():
    found = nonfinite_gradients(nonfinite_case())
    assert found == {"nan": ["w1", "w2"], "inf": ["b1", "w2"]}
    assert nonfinite_gradients(dict(nonfinite_case())) == found
    assert nonfinite_gradients({"w": np.ones(2)}) == {"nan": [], "inf": []}


def test_report_nonfinite():
    assert report_nonfinite(nonfinite_case()) == "nan: w1\nnan: w2\ninf: b1\ninf: w2"
    assert report_nonfinite({"w": np.ones((2, 2)), "b": np.zeros(2)}) == "all 2 gradients are finite"


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda g: clip_grad_norm_(g, -1.0), ValueError, r"max_norm must be >= 0, got -1\.0"),
        (lambda g: clip_grad_norm_(g, float("nan")), ValueError, r"max_norm must be >= 0, got nan"),
        (lambda g: clip_grad_norm_(g, "1"), TypeError, "max_norm"),
        (lambda g: clip_grad_norm_(g, 1.0, norm_type=0), ValueError, r"norm_type must be > 0 or inf, got 0"),
        (lambda g: clip_grad_norm_(g, 1.0, norm_type=-2.0), ValueError, "norm_type"),
        (lambda g: clip_grad_norm_(g, 1.0, norm_type="two"), TypeError, "norm_type"),
        (lambda g: clip_grad_value_(g, -0.5), ValueError, r"clip_value must be >= 0, got -0\.5"),
        (lambda g: clip_grad_value_(g, float("nan")), ValueError, "clip_value"),
    ],
)
def test_bad_arguments_are_refused_and_change_nothing(call, error, message):
    grads = [np.array([3.0, -4.0]), np.array([12.0])]
    with pytest.raises(error, match=message):
        call(grads)
    np.testing.assert_array_equal(grads[0], [3.0, -4.0])
    np.testing.assert_array_equal(grads[1], [12.0])


@pytest.mark.parametrize("clip", [lambda g: clip_grad_norm_(g, 0.1), lambda g: clip_grad_value_(g, 0.1)])
def test_gradients_that_cannot_be_clipped_in_place_are_refused_before_any_change(clip):
    first = np.array([3.0, 4.0])
    read_only = np.array([1.0, 2.0])
    read_only.flags.writeable = False
    for bad, error in [(np.array([1, 2]), TypeError), ([1.0, 2.0], TypeError), (read_only, ValueError)]:
        with pytest.raises(error, match=r"grads\[1\]"):
            clip([first, bad])
        np.testing.assert_array_equal(first, [3.0, 4.0])


def test_angle_needs_two_directions():
    with pytest.raises(ValueError, match="non-zero"):
        clip_angle_degrees([0.0, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="same size"):
        clip_angle_degrees([1.0, 0.0, 0.0], [1.0, 0.0])


def test_clip_each_run_equals_torch_on_each_row():
    rng = np.random.default_rng(0)
    grad = rng.normal(0, 3, size=(6, 2))
    grad[1] *= 0.01                                             # below the threshold: unchanged
    modes = ["norm", "norm", "value", "none", "value", "norm"]
    expected = []
    for row, mode in zip(grad, modes):
        parameter = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
        parameter.grad = torch.tensor(row)
        if mode == "norm":
            torch.nn.utils.clip_grad_norm_([parameter], 1.5)
        elif mode == "value":
            torch.nn.utils.clip_grad_value_([parameter], 1.5)
        expected.append(parameter.grad.numpy())
    norms = clipping.clip_each_run_(grad, modes, 1.5)
    np.testing.assert_allclose(grad, expected, rtol=1e-15, atol=0)
    assert norms.shape == (6,)


def test_clipped_optimizer_records_norms_and_checks_settings():
    cliff = landscapes.cliff()
    made = []

    def factory(params):
        made.append(clipping.Clipped(runner.named_optimizer("GD", 1.0)(params), "norm", 1.0))
        return made[-1]

    runner.run(cliff, factory, steps=25)
    assert len(made[0].norms) == 25 and max(n.max() for n in made[0].norms) > 10
    with pytest.raises(ValueError, match="mode must be one of none, norm, value; got 'l2'"):
        clipping.clipped(runner.named_optimizer("GD", 1.0), "l2", 1.0)
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        clipping.clipped(runner.named_optimizer("GD", 1.0), "norm", -1.0)
    with pytest.raises(ValueError, match="one per run"):
        clipping.clip_each_run_(np.ones((3, 2)), ["norm", "value"], 1.0)
