"""course_lib.lab.runner: runs that match a hand loop, divergence at the right step, batches of runs."""

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import optim
from course_lib.lab import landscapes, runner
from course_lib.lab.runner import DEFAULT_BOUND, OPTIMIZER_RECIPES, RunResult, named_optimizer, run


def hand_loop(landscape, optimizer_class, start, steps, **settings):
    """The loop a reader would write: gradient, step, record."""
    point = np.array(start, dtype=float)
    optimizer = optimizer_class([point], **settings)
    path = [point.copy()]
    for _ in range(steps):
        optimizer.step([np.stack(landscape.gradient(point[..., 0], point[..., 1]), axis=-1)])
        path.append(point.copy())
    path = np.array(path)
    return path, landscape.value(path[..., 0], path[..., 1])


@pytest.mark.parametrize("optimizer_class, settings", [
    (optim.SGD, {"lr": 1e-3, "momentum": 0.9}),
    (optim.SGD, {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    (optim.RMSprop, {"lr": 1e-2}),
    (optim.Adam, {"lr": 0.05}),
])
def test_a_run_equals_the_hand_written_loop(optimizer_class, settings):
    rosenbrock = landscapes.rosenbrock()
    path, losses = hand_loop(rosenbrock, optimizer_class, rosenbrock.start, 300, **settings)
    result = run(rosenbrock, lambda params: optimizer_class(params, **settings), steps=300)
    assert result.path.shape == (301, 2) and result.losses.shape == (301,)
    np.testing.assert_array_equal(result.path, path)
    np.testing.assert_array_equal(result.losses, losses)
    assert result.diverged_at is None


def test_named_optimizers_are_the_recipes_they_say():
    bowl = landscapes.ill_conditioned_bowl()
    expected = {
        "GD": (optim.SGD, {"lr": 0.05}),
        "momentum": (optim.SGD, {"lr": 0.05, "momentum": 0.9}),
        "Nesterov": (optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
        "RMSprop": (optim.RMSprop, {"lr": 0.05}),
        "Adam": (optim.Adam, {"lr": 0.05}),
        "AdamW": (optim.AdamW, {"lr": 0.05}),
        "AMSGrad": (optim.Adam, {"lr": 0.05, "amsgrad": True}),
    }
    assert set(expected) == set(OPTIMIZER_RECIPES)
    for name, (optimizer_class, settings) in expected.items():
        path, _ = hand_loop(bowl, optimizer_class, bowl.start, 40, **settings)
        np.testing.assert_array_equal(run(bowl, named_optimizer(name, 0.05), steps=40).path, path)
    path, _ = hand_loop(bowl, optim.SGD, bowl.start, 40, lr=0.05, momentum=0.5)
    np.testing.assert_array_equal(run(bowl, named_optimizer("momentum", 0.05, momentum=0.5), steps=40).path, path)


def steps_to_leave(start, ratios, bound=DEFAULT_BOUND):
    """First k with |c0|·r^k > bound for some coordinate (GD on the bowl scales c by r each step)."""
    return min(math.floor(math.log(bound / abs(c0)) / math.log(r)) + 1
               for c0, r in zip(start, ratios) if r > 1 and c0 != 0)


@pytest.mark.parametrize("condition", [1.0, 10.0, 100.0])
def test_gd_on_the_bowl_converges_below_2_over_L_and_diverges_above(condition):
    """GD multiplies y by 1 − lr·κ each step: |1 − lr·κ| < 1 exactly when lr < 2/L, L = κ."""
    bowl = landscapes.ill_conditioned_bowl(condition)
    threshold = 2 / condition
    below = run(bowl, named_optimizer("GD", 0.99 * threshold), steps=3000)
    assert below.diverged_at is None and below.losses[-1] < 1e-20 * below.losses[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        above = run(bowl, named_optimizer("GD", 1.01 * threshold), steps=3000)
    lr = 1.01 * threshold
    k = steps_to_leave(bowl.start, (abs(1 - lr), abs(1 - lr * condition)))
    assert above.diverged_at == k
    assert np.isfinite(above.path[:k]).all() and np.isnan(above.path[k:]).all()
    assert np.isfinite(above.losses[:k]).all() and np.isnan(above.losses[k:]).all()
    # A hair either side of 2/L: |y| shrinks at every step below, grows at every step above.
    for factor, shrinks in ((1 - 1e-9, True), (1 + 1e-9, False)):
        y = np.abs(run(bowl, named_optimizer("GD", factor * threshold), steps=200).path[:, 1])
        assert (np.all(np.diff(y) < 0) if shrinks else np.all(np.diff(y) > 0))


@pytest.mark.parametrize("lr", [1e10, 1e200, 1e308])
def test_absurd_learning_rates_stop_cleanly_without_overflow_warnings(lr):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run(landscapes.rosenbrock(), named_optimizer("momentum", lr), steps=50)
    assert result.diverged_at == 1
    assert np.isnan(result.path[1:]).all() and np.isfinite(result.path[0]).all()
    assert result.summary() == "diverged at step 1"


def test_a_finite_iterate_with_an_infinite_loss_counts_as_diverged():
    rosenbrock = landscapes.rosenbrock()
    lr = 1e197
    gx, gy = rosenbrock.gradient(*rosenbrock.start)
    first = np.array(rosenbrock.start) - lr * np.array([gx, gy])
    assert np.isfinite(first).all()  # ~1e200: a float, but b·x⁴ overflows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run(rosenbrock, named_optimizer("GD", lr), steps=5, bound=np.inf)
    assert result.diverged_at == 1


def test_the_bound_is_an_argument():
    bowl = landscapes.ill_conditioned_bowl(10)
    lr = 0.25  # |1 − 2.5| = 1.5 per step along y, from y = 1
    assert run(bowl, named_optimizer("GD", lr), steps=100, bound=100.0).diverged_at == steps_to_leave(
        bowl.start, (0.75, 1.5), bound=100.0)


def counting_sgd(steps_taken: list):
    """optim.SGD that appends to ``steps_taken`` at every step (how many steps a run took)."""

    class Counting(optim.SGD):
        def step(self, grads):
            steps_taken.append(1)
            super().step(grads)

    return Counting


def test_the_loop_ends_once_every_run_has_diverged():
    steps_taken = []
    Counting = counting_sgd(steps_taken)

    result = run(landscapes.saddle(), lambda params: Counting(params, lr=10.0), start=[[1.0, 1.0], [2.0, 2.0]],
                 steps=1000)
    assert all(k is not None for k in result.diverged_at)
    assert len(steps_taken) == max(result.diverged_at) < 1000
    assert result.path.shape == (2, 1001, 2)


def test_points_near_the_bound_but_inside_it_have_not_diverged():
    # every coordinate inside ±bound, though the point is farther than bound from the origin
    steps_taken = []
    Counting = counting_sgd(steps_taken)

    saddle = landscapes.saddle()
    start = [[0.9, -0.9], [-1.0, 1.0], [0.5, 0.5]]
    result = run(saddle, lambda params: Counting(params, lr=0.0), start=start, steps=20, bound=1.0)
    assert result.diverged_at == (None, None, None) and len(steps_taken) == 20
    np.testing.assert_array_equal(result.path, np.repeat(np.array(start)[:, None], 21, axis=1))
    # two runs leave at step 1; the one that stays on the bound keeps the loop going
    steps_taken.clear()
    result = run(saddle, lambda params: Counting(params, lr=np.array([[0.25], [0.0], [1.0]])), start=start, steps=50,
                 bound=1.0)
    assert result.diverged_at == (1, None, 1)
    assert len(steps_taken) == 50


def test_each_step_gets_a_fresh_gradient_array_that_an_optimizer_may_keep():
    kept = []

    class Keeping(optim.SGD):
        def step(self, grads):
            kept.append(grads[0])
            super().step(grads)

    rosenbrock = landscapes.rosenbrock()
    result = run(rosenbrock, lambda params: Keeping(params, lr=1e-3), steps=5)
    assert len({id(grad) for grad in kept}) == 5
    for point, grad in zip(result.path, kept):
        np.testing.assert_array_equal(grad, [rosenbrock.gradient(*point)])


def test_a_batch_equals_its_runs_one_by_one():
    rosenbrock = landscapes.rosenbrock()
    starts = np.array([[-1.5, 2.0], [0.5, -0.5], [1.2, 1.2], [-0.3, 2.5]])
    lrs = np.array([[1e-3], [2e-3], [4e-3], [2e-2]])
    batch = run(rosenbrock, lambda params: optim.SGD(params, lr=lrs, momentum=0.9), start=starts, steps=300)
    assert batch.path.shape == (4, 301, 2) and batch.losses.shape == (4, 301) and len(batch.diverged_at) == 4
    assert batch.diverged_at[-1] is not None and batch.diverged_at[0] is None  # both cases are covered
    for i in range(4):
        one = run(rosenbrock, lambda params: optim.SGD(params, lr=float(lrs[i, 0]), momentum=0.9),
                  start=starts[i], steps=300)
        np.testing.assert_array_equal(batch[i].path, one.path)
        np.testing.assert_array_equal(batch[i].losses, one.losses)
        assert batch[i].diverged_at == one.diverged_at == batch.diverged_at[i]


@settings(max_examples=15, deadline=None)
@given(starts=st.lists(st.tuples(st.floats(-2, 2), st.floats(-1, 3)), min_size=1, max_size=5),
       name=st.sampled_from(sorted(OPTIMIZER_RECIPES)), lr=st.sampled_from([1e-3, 1e-2, 0.1, 1.0]))
def test_a_batch_of_any_optimizer_equals_its_runs_one_by_one(starts, name, lr):
    double_well = landscapes.double_well()
    batch = run(double_well, named_optimizer(name, lr), start=starts, steps=60)
    for i, start in enumerate(starts):
        one = run(double_well, named_optimizer(name, lr), start=start, steps=60)
        np.testing.assert_array_equal(batch[i].path, one.path)
        assert batch.diverged_at[i] == one.diverged_at


def test_escape_times_from_the_double_well_saddle_are_those_notebook_06_prints():
    """From (1e-6, 1), lr 0.01: the steps until |x| >= 0.5 and until f < -0.2499, as measured for the
    notebook's table (tests/lessons/test_saddles.py explains GD's from the linear model); a change in
    the runner or in an optimizer would move them."""
    measured = {"GD": (1334, 1582), "momentum": (216, 232), "Nesterov": (207, 223), "Adam": (44, 203),
                "RMSprop": (7, 97)}
    double_well = landscapes.double_well()
    for name, (escape, settle) in measured.items():
        result = run(double_well, named_optimizer(name, 0.01), start=(1e-6, 1.0), steps=1600)
        assert np.argmax(np.abs(result.path[:, 0]) >= 0.5) == escape, name
        assert np.argmax(result.losses < -0.2499) == settle, name


def test_zero_steps_gives_the_start_and_the_start_is_not_modified():
    start = np.array([-1.0, 1.5])
    result = run(landscapes.rosenbrock(), named_optimizer("Adam", 0.1), start=start, steps=0)
    np.testing.assert_array_equal(result.path, [start])
    run(landscapes.rosenbrock(), named_optimizer("Adam", 0.1), start=start, steps=10)
    np.testing.assert_array_equal(start, [-1.0, 1.5])


def test_result_summaries_and_indexing():
    bowl = landscapes.ill_conditioned_bowl(10)
    converged = run(bowl, named_optimizer("GD", 0.1), steps=10)
    assert converged.summary() == f"final loss {converged.losses[-1]:.3g}"
    batch = run(bowl, named_optimizer("GD", 0.1), start=[[1.0, 1.0]], steps=10)
    with pytest.raises(TypeError, match="single run"):
        batch.summary()
    with pytest.raises(TypeError, match="batched"):
        converged[0]
    assert isinstance(batch[0], RunResult) and batch[0].summary() == "final loss " + f"{batch.losses[0, -1]:.3g}"


@pytest.mark.parametrize("kwargs, error, words", [
    ({"landscape": "rosenbrock"}, TypeError, ["landscape", "'rosenbrock'"]),
    ({"make_optimizer": 0.1}, TypeError, ["make_optimizer", "0.1"]),
    ({"steps": 10.0}, TypeError, ["steps", "10.0"]),
    ({"steps": -1}, ValueError, ["steps", "-1"]),
    ({"start": [1.0, 2.0, 3.0]}, ValueError, ["start", "(3,)"]),
    ({"start": [[[1.0, 2.0]]]}, ValueError, ["start", "(1, 1, 2)"]),
    ({"start": [np.nan, 0.0]}, ValueError, ["start", "nan"]),
    ({"start": [2e6, 0.0]}, ValueError, ["start", "bound"]),
    ({"bound": 0.0}, ValueError, ["bound", "0.0"]),
    ({"bound": float("nan")}, ValueError, ["bound", "nan"]),
])
def test_bad_input_raises_a_clear_error(kwargs, error, words):
    arguments = {"landscape": landscapes.saddle(), "make_optimizer": named_optimizer("GD", 0.1), **kwargs}
    with pytest.raises(error) as raised:
        run(**arguments)
    for word in words:
        assert word in str(raised.value)


def test_named_optimizer_checks_its_settings_before_any_run():
    with pytest.raises(ValueError, match="name='SGD'"):
        named_optimizer("SGD", 0.1)
    with pytest.raises(ValueError, match="lr"):
        named_optimizer("Adam", -0.1)
    with pytest.raises(ValueError, match="momentum"):
        named_optimizer("momentum", 0.1, momentum=-0.5)


def test_core_modules_import_numpy_only():
    code = ("import sys, course_lib.lab.landscapes, course_lib.lab.runner; "
            "print(sorted(m for m in ('torch', 'matplotlib', 'ipywidgets') if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
