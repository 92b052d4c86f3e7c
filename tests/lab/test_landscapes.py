"""course_lib.lab.landscapes: closed-form values, gradients and Hessians against torch autograd, and the
cliff of notebook 09 with the numbers of its references."""

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import clipping
from course_lib.lab import landscapes, runner
from course_lib.lab.landscapes import LANDSCAPES, Landscape, get_landscape

# The same functions written in torch, straight from their formulas, for autograd to differentiate.
TORCH_FORMULAS = {
    "ill_conditioned_bowl": lambda p, condition=10.0: 0.5 * (p[0] ** 2 + condition * p[1] ** 2),
    "rosenbrock": lambda p, a=1.0, b=100.0: (a - p[0]) ** 2 + b * (p[1] - p[0] ** 2) ** 2,
    "saddle": lambda p: p[0] ** 2 - p[1] ** 2,
    "double_well": lambda p: p[0] ** 4 / 4 - p[0] ** 2 / 2 + p[1] ** 2 / 2,
    "cliff": lambda p: _torch_cliff(p),
}


def _torch_cliff(p, steps=50, x0=0.5, target=0.7):
    x = torch.tensor(x0, dtype=torch.float64)
    for _ in range(steps):
        x = p[0] * torch.sigmoid(x) + p[1]
    return (torch.sigmoid(x) - target) ** 2

PARAMETERS = {
    "ill_conditioned_bowl": st.fixed_dictionaries({"condition": st.floats(1.0, 1e3)}),
    "rosenbrock": st.fixed_dictionaries({"a": st.floats(-2.0, 2.0), "b": st.floats(0.1, 200.0)}),
    "saddle": st.just({}),
    "double_well": st.just({}),
    "cliff": st.just({}),
}

coordinate = st.floats(-3.0, 3.0, allow_nan=False)


def autograd(name, parameters, x, y):
    """Value, gradient and Hessian of the torch formula at (x, y), in float64."""
    def f(p):
        return TORCH_FORMULAS[name](p, **parameters)

    point = torch.tensor([x, y], dtype=torch.float64, requires_grad=True)
    value = f(point)
    (gradient,) = torch.autograd.grad(value, point)
    hessian = torch.autograd.functional.hessian(f, point.detach())
    return value.item(), gradient.numpy(), hessian.numpy()


@pytest.mark.parametrize("name", LANDSCAPES)
@settings(max_examples=25, deadline=None)
@given(data=st.data(), x=coordinate, y=coordinate)
def test_value_gradient_and_hessian_match_torch_autograd(name, data, x, y):
    parameters = data.draw(PARAMETERS[name])
    landscape = get_landscape(name, **parameters)
    value, gradient, hessian = autograd(name, parameters, x, y)
    scale = 1.0 + abs(value) + np.abs(hessian).max() * (1 + x * x + abs(y))
    hxx, hxy, hyy = landscape.hessian(x, y)
    assert landscape.value(x, y) == pytest.approx(value, rel=1e-13, abs=1e-13 * scale)
    np.testing.assert_allclose(np.array(landscape.gradient(x, y)), gradient, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose([[hxx, hxy], [hxy, hyy]], hessian, rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("name", LANDSCAPES)
def test_gradient_matches_central_differences_on_a_grid(name):
    landscape = get_landscape(name)
    X, Y, _ = landscape.grid(7)
    h = 1e-6
    gx, gy = landscape.gradient(X, Y)
    np.testing.assert_allclose(gx, (landscape.value(X + h, Y) - landscape.value(X - h, Y)) / (2 * h), atol=1e-4)
    np.testing.assert_allclose(gy, (landscape.value(X, Y + h) - landscape.value(X, Y - h)) / (2 * h), atol=1e-4)


@pytest.mark.parametrize("name", LANDSCAPES)
def test_every_function_is_vectorised_over_grids_and_a_run_axis(name):
    landscape = get_landscape(name)
    X, Y, Z = landscape.grid(9)
    assert X.shape == Y.shape == Z.shape == (9, 9)
    pointwise = np.array([[landscape.value(x, y) for x, y in zip(row_x, row_y)] for row_x, row_y in zip(X, Y)])
    np.testing.assert_array_equal(Z, pointwise)
    runs = np.array([[0.3, -0.7], [1.1, 0.2], [-0.4, 0.9]])
    for method in (landscape.gradient, landscape.hessian):
        together = method(runs[:, 0], runs[:, 1])
        for i, (x, y) in enumerate(runs):
            np.testing.assert_array_equal([part[i] for part in together], method(x, y))
    # Broadcasting: a column of x against a row of y gives the full table, for every output.
    for output in (landscape.value(np.zeros((3, 1)), np.ones(4)),
                   *landscape.gradient(np.zeros((3, 1)), np.ones(4)),
                   *landscape.hessian(np.zeros((3, 1)), np.ones(4))):
        assert output.shape == (3, 4) and output.dtype == np.float64


def test_integer_inputs_are_computed_in_float():
    landscape = landscapes.double_well()
    assert landscape.value(np.array([100_000]), np.array([0]))[0] == pytest.approx(0.25e20 - 0.5e10)


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_inputs_of_one_shape_are_computed_in_float64_as_broadcast_ones_are(dtype):
    landscape = landscapes.rosenbrock()
    x, y = np.array([3, -2], dtype=dtype), np.array([1, 2], dtype=dtype)
    for same, broadcast in ((landscape.gradient(x, y), landscape.gradient(x[:, None], y[:, None].T)),
                            ((landscape.value(x, y),), (landscape.value(x[:, None], y[:, None].T),))):
        for part, table in zip(same, broadcast, strict=True):
            assert part.dtype == np.float64
            np.testing.assert_array_equal(part, np.diagonal(table))


def test_gradient_arrays_are_fresh_not_views_of_the_input():
    point = np.array([[1.0, 2.0]])
    for name in LANDSCAPES:
        gx, gy = get_landscape(name).gradient(point[:, 0], point[:, 1])
        assert not np.shares_memory(gx, point) and not np.shares_memory(gy, point)


@pytest.mark.parametrize("name", LANDSCAPES)
def test_minima_are_stationary_with_positive_definite_hessian_and_value_f_star(name):
    landscape = get_landscape(name)
    for x, y in landscape.minima:
        np.testing.assert_allclose(landscape.gradient(x, y), 0.0, atol=1e-12)
        assert landscape.value(x, y) == landscape.minimum_value
        hxx, hxy, hyy = landscape.hessian(x, y)
        assert np.all(np.linalg.eigvalsh([[hxx, hxy], [hxy, hyy]]) > 0)
    for x, y in landscape.saddles:
        np.testing.assert_allclose(landscape.gradient(x, y), 0.0, atol=1e-12)
        hxx, hxy, hyy = landscape.hessian(x, y)
        low, high = np.linalg.eigvalsh([[hxx, hxy], [hxy, hyy]])
        assert low < 0 < high
    _, _, Z = landscape.grid(101)
    if landscape.minimum_value is None:
        assert not landscape.minima
    else:
        assert Z.min() >= landscape.minimum_value - 1e-12


def test_double_well_matches_dauphin_et_al():
    well = landscapes.double_well()
    assert well.minima == ((-1.0, 0.0), (1.0, 0.0)) and well.minimum_value == -0.25
    np.testing.assert_array_equal(well.hessian(0.0, 0.0), (-1.0, 0.0, 1.0))


@pytest.mark.parametrize("condition", [1.0, 10.0, 250.0])
def test_bowl_has_the_condition_number_it_is_given_and_y_is_the_steep_axis(condition):
    bowl = landscapes.ill_conditioned_bowl(condition)
    hxx, hxy, hyy = bowl.hessian(0.3, -0.2)
    eigenvalues = np.linalg.eigvalsh([[hxx, hxy], [hxy, hyy]])
    assert eigenvalues.max() / eigenvalues.min() == pytest.approx(condition)
    assert hyy == condition and hxx == 1.0
    assert bowl.value(0.0, 1.0) == condition * bowl.value(1.0, 0.0)


def test_rosenbrock_minimum_moves_with_a():
    valley = landscapes.rosenbrock(a=-0.5, b=10.0)
    assert valley.minima == ((-0.5, 0.25),)
    np.testing.assert_allclose(valley.gradient(-0.5, 0.25), 0.0, atol=1e-15)


def test_grid_spans_the_extent():
    landscape = landscapes.rosenbrock()
    X, Y, _ = landscape.grid(5)
    assert (X.min(), X.max(), Y.min(), Y.max()) == landscape.extent
    assert landscape.extent[0] <= landscape.start[0] <= landscape.extent[1]


def test_registry_builds_every_landscape_by_its_name():
    assert set(LANDSCAPES) == {"ill_conditioned_bowl", "rosenbrock", "saddle", "double_well", "cliff"}
    for name in LANDSCAPES:
        landscape = get_landscape(name)
        assert isinstance(landscape, Landscape) and landscape.name == name
    assert get_landscape("ill_conditioned_bowl", condition=50).hessian(0, 0)[2] == 50


def test_landscapes_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        landscapes.saddle().start = (0.0, 0.0)


@pytest.mark.parametrize("call, error, words", [
    (lambda: get_landscape("mountain"), ValueError, ["name='mountain'", "rosenbrock"]),
    (lambda: landscapes.ill_conditioned_bowl(0.5), ValueError, ["condition", "0.5"]),
    (lambda: landscapes.ill_conditioned_bowl(float("nan")), ValueError, ["condition", "nan"]),
    (lambda: landscapes.ill_conditioned_bowl("10"), TypeError, ["condition", "'10'"]),
    (lambda: landscapes.ill_conditioned_bowl(True), TypeError, ["condition", "True"]),
    (lambda: landscapes.rosenbrock(b=0.0), ValueError, ["b", "0.0"]),
    (lambda: landscapes.rosenbrock(a=float("inf")), ValueError, ["a", "inf"]),
    (lambda: landscapes.saddle().grid(1), ValueError, ["resolution", "1"]),
    (lambda: landscapes.saddle().grid(10.0), TypeError, ["resolution", "10.0"]),
])
def test_bad_input_raises_a_clear_error(call, error, words):
    with pytest.raises(error) as raised:
        call()
    for word in words:
        assert word in str(raised.value)


def torch_cliff(p, steps=50, x0=0.5, target=0.7):
    x = torch.tensor(x0, dtype=torch.float64)
    for _ in range(steps):
        x = p[0] * torch.sigmoid(x) + p[1]
    return (torch.sigmoid(x) - target) ** 2


@settings(max_examples=30, deadline=None)
@given(w=st.floats(3.0, 10.0), b=st.floats(-4.0, 8.0), steps=st.sampled_from([1, 7, 50]))
def test_cliff_value_gradient_and_hessian_match_torch_autograd(w, b, steps):
    cliff = landscapes.cliff(steps=steps)
    point = torch.tensor([w, b], dtype=torch.float64, requires_grad=True)
    value = torch_cliff(point, steps)
    (gradient,) = torch.autograd.grad(value, point)
    hessian = torch.autograd.functional.hessian(lambda p: torch_cliff(p, steps), point.detach()).numpy()
    scale = 1.0 + np.abs(gradient.numpy()).max()
    assert cliff.value(w, b) == pytest.approx(value.item(), rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(cliff.gradient(w, b), gradient.numpy(), rtol=1e-9, atol=1e-12 * scale)
    hxx, hxy, hyy = cliff.hessian(w, b)
    np.testing.assert_allclose([[hxx, hxy], [hxy, hyy]], hessian, rtol=1e-7, atol=1e-10 * (1 + np.abs(hessian).max()))


def test_cliff_gradient_matches_torch_on_the_wall_and_on_a_grid_at_once():
    cliff = landscapes.cliff()
    w = np.array([5.0, 5.0, 5.0, 4.5, 8.0])
    b = np.array([-2.61234, -2.6124, -2.6122, -3.0, 5.0])
    ours = np.stack(cliff.gradient(w, b), axis=-1)
    for i in range(len(w)):
        point = torch.tensor([w[i], b[i]], dtype=torch.float64, requires_grad=True)
        (theirs,) = torch.autograd.grad(torch_cliff(point), point)
        np.testing.assert_allclose(ours[i], theirs.numpy(), rtol=1e-9, atol=1e-15)
    assert np.hypot(*ours[0]) > 1e3                       # the wall
    X, Y, Z = cliff.grid(9)
    gx, gy = cliff.gradient(X, Y)
    assert Z.shape == gx.shape == gy.shape == (9, 9) and Z.min() >= 0


def test_cliff_numbers_of_the_references():
    cliff = landscapes.cliff()
    assert cliff.value(5.0, -2.6125) == pytest.approx(0.34, abs=0.005)
    assert cliff.value(5.0, -2.6122) < 0.005
    gd = runner.named_optimizer("GD", 1.0)
    both = runner.run(cliff, clipping.clipped(gd, ["none", "norm"], 1.0), start=np.tile(cliff.start, (2, 1)),
                      steps=400)
    jumps = np.linalg.norm(np.diff(both.path, axis=1), axis=-1).max(axis=1)
    assert 9 < jumps[0] < 12 and both.losses[0, -1] == pytest.approx(0.09, abs=1e-3)
    assert jumps[1] <= 1.0 + 1e-9 and both.losses[1, -1] < 1e-3


@pytest.mark.parametrize("call, error, words", [
    (lambda: landscapes.cliff(steps=0), ValueError, ["steps", "0"]),
    (lambda: landscapes.cliff(steps=2.5), TypeError, ["steps", "2.5"]),
    (lambda: landscapes.cliff(target=1.5), ValueError, ["target", "1.5"]),
    (lambda: landscapes.cliff(x0=float("nan")), ValueError, ["x0", "nan"]),
])
def test_cliff_bad_input(call, error, words):
    with pytest.raises(error) as raised:
        call()
    for word in words:
        assert word in str(raised.value)


def test_cliff_is_registered():
    assert landscapes.get_landscape("cliff").name == "cliff"
