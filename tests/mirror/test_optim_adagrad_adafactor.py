"""course_lib.optim.Adagrad and Adafactor against torch.optim: the same numbers over 100 steps for
torch's own option lists and every combination of the options, the same checks, nothing changed
by a call that raises, and Adafactor's factored state (a row and a column per matrix)."""

import itertools
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_optim import (assert_agree, assert_refused_at_construction, assert_refused_at_the_next_step,
                        assert_unchanged, make_pair, run_both, snapshot, step_both, sweep_and_separate_runs)

from course_lib import optim

FEW = settings(max_examples=25, deadline=None)
DTYPES = [np.float64, np.float32]
STEPS = 100
SHAPES = [(3, 4), (5,), (), (2, 3, 4), (1, 6)]  # matrices, a vector, a scalar, a stack of matrices

# torch's own lists (torch/testing/_internal/common_optimizers.py, optim_inputs_func_*), with
# its one tensor lr as a float.
TORCH_ADAGRAD = [{}, dict(weight_decay=0.1), dict(weight_decay=0.1, maximize=True), dict(lr=0.1),
                 dict(initial_accumulator_value=0.1, weight_decay=0.1),
                 dict(lr=0.1, lr_decay=0.5, weight_decay=0.1), dict(lr=0.001)]
TORCH_ADAFACTOR = [{}, dict(weight_decay=0.1, lr=0.01), dict(weight_decay=0.1, maximize=True),
                   dict(beta2_decay=-1.0), dict(d=1.5)]
# Every combination of the options that change the arithmetic (torch's for-loop code; its foreach
# code does the same arithmetic in another order, checked on torch's lists above).
ADAGRAD_SETTINGS = [
    dict(lr=0.1, lr_decay=lr_decay, weight_decay=weight_decay, initial_accumulator_value=initial,
         maximize=maximize)
    for lr_decay, weight_decay, initial, maximize
    in itertools.product([0, 0.5], [0, 0.1], [0, 0.1], [False, True])
]
ADAFACTOR_SETTINGS = [
    dict(lr=0.05, beta2_decay=beta2_decay, d=d, weight_decay=weight_decay, maximize=maximize)
    for beta2_decay, d, weight_decay, maximize
    in itertools.product([-0.8, -1.0], [1.0, 1.5], [0, 0.1], [False, True])
] + [dict(eps=(1e-3, 0.1)), dict(eps=(0.0, 0.0), weight_decay=0.1, maximize=True)]
TORCH_LISTS = [("Adagrad", s) for s in TORCH_ADAGRAD] + [("Adafactor", s) for s in TORCH_ADAFACTOR]
COMBINATIONS = [("Adagrad", s) for s in ADAGRAD_SETTINGS] + [("Adafactor", s) for s in ADAFACTOR_SETTINGS]


@pytest.mark.parametrize("foreach", [False, True], ids=["for-loop", "foreach"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, kwargs", TORCH_LISTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TORCH_LISTS)])
def test_torchs_option_lists_match_torch_over_100_steps(name, kwargs, dtype, foreach):
    run_both(name, kwargs, dtype, shapes=SHAPES, steps=STEPS, foreach=foreach)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, kwargs", COMBINATIONS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(COMBINATIONS)])
def test_every_combination_of_options_matches_torch_over_100_steps(name, kwargs, dtype):
    run_both(name, kwargs, dtype, shapes=SHAPES, steps=STEPS)


@pytest.mark.parametrize("name", ["Adagrad", "Adafactor"])
def test_defaults_match_torch(name):
    ours = run_both(name, {}, np.float64, shapes=SHAPES, steps=10)
    theirs = getattr(torch.optim, name)([torch.zeros(1)])
    assert {key: getattr(ours, key) for key in ours._hyperparameter_names} == {
        key: value for key, value in theirs.defaults.items() if key in ours._hyperparameter_names}


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, kwargs", [("Adagrad", dict(lr_decay=0.1, weight_decay=0.01)),
                                          ("Adafactor", dict(weight_decay=0.1))])
def test_lr_and_weight_decay_changed_between_steps_as_a_scheduler_does(name, kwargs, dtype):
    rng = np.random.default_rng(1)
    ours, theirs = make_pair(name, dict(lr=0.05, **kwargs), [rng.standard_normal(s).astype(dtype) for s in SHAPES])
    for step in range(STEPS):
        lr = 0.05 * 0.5 * (1 + np.cos(np.pi * step / STEPS))  # cosine annealing down to 0
        ours.lr = theirs.param_groups[0]["lr"] = lr
        if step == STEPS // 2:
            ours.weight_decay = theirs.param_groups[0]["weight_decay"] = 0.2
        step_both(ours, theirs, [rng.standard_normal(s).astype(dtype) for s in SHAPES])
    assert_agree(ours, theirs, dtype)


# --- random shapes and hyperparameters ------------------------------------------

rates = st.one_of(st.just(0.0), st.floats(1e-4, 0.5))


@st.composite
def adagrad_settings(draw):
    return dict(lr=draw(st.floats(0.0, 0.5)), lr_decay=draw(rates), weight_decay=draw(rates),
                initial_accumulator_value=draw(st.one_of(st.just(0.0), st.floats(0.0, 2.0))),
                eps=draw(st.floats(1e-10, 0.1)), maximize=draw(st.booleans()))


@st.composite
def adafactor_settings(draw):
    eps1 = draw(st.one_of(st.none(), st.floats(1e-8, 0.1)))
    return dict(lr=draw(st.floats(0.0, 0.5)), beta2_decay=draw(st.floats(-2.0, 0.0)),
                eps=(eps1, draw(st.floats(0.0, 0.1))), d=draw(st.floats(1.0, 3.0)), weight_decay=draw(rates),
                maximize=draw(st.booleans()))


# Adafactor divides by the RMS of the whole parameter: torch fails on an empty one (0 / 0).
shape_lists = st.lists(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4), min_size=1, max_size=3)


@pytest.mark.parametrize("name, strategy", [("Adagrad", adagrad_settings()), ("Adafactor", adafactor_settings())])
@FEW
@given(data=st.data(), shapes=shape_lists, dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**32 - 1))
def test_random_shapes_and_hyperparameters_match_torch(name, strategy, data, shapes, dtype, seed):
    run_both(name, data.draw(strategy), dtype, shapes=shapes, steps=20, seed=seed)


# --- Adafactor's factored state --------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_adafactor_keeps_a_row_and_a_column_per_matrix_and_adam_keeps_two_full_copies(dtype):
    shapes = [(30, 20), (7,), (), (2, 5, 3)]
    params = [np.zeros(s, dtype) for s in shapes]
    grads = [np.ones(s) for s in shapes]
    adafactor, adam = optim.Adafactor([p.copy() for p in params]), optim.Adam([p.copy() for p in params])
    adafactor.step(grads)
    adam.step(grads)
    assert [{k: v.shape for k, v in s.items()} for s in adafactor.state] == [
        {"row_var": (30, 1), "col_var": (1, 20)}, {"variance": (7,)}, {"variance": ()},
        {"row_var": (2, 5, 1), "col_var": (2, 1, 3)}]
    size = np.dtype(dtype).itemsize
    assert adafactor.state_nbytes() == (30 + 20 + 7 + 1 + 2 * (5 + 3)) * size
    assert adam.state_nbytes() == 2 * (600 + 7 + 1 + 30) * size


def test_factored_variance_is_exact_for_a_rank_one_square():
    rng = np.random.default_rng(8)
    rows, columns = rng.uniform(0.5, 2, (6, 1)), rng.uniform(0.5, 2, (1, 4))
    grad = np.sqrt(rows * columns)  # g² = r·c, a rank-one matrix
    row_var, col_var = optim.factored_second_moment_(np.zeros((6, 1)), np.zeros((1, 4)), grad, 1.0)
    np.testing.assert_allclose(optim.factored_variance(row_var, col_var, 1e-30), grad**2, rtol=1e-14)


def test_update_clipping_scales_the_update_back_to_rms_d():
    update = np.full(4, 3.0)  # RMS 3
    assert optim.update_clipping(update, 1.5) == 2.0 and optim.update_clipping(update, 4.0) == 1.0
    assert optim.relative_step_size(0.01, 4) == 0.01 and optim.relative_step_size(1.0, 4) == 0.5


# --- Adagrad: state, sweeps, blocks ---------------------------------------------------


def test_adagrad_state_starts_at_the_initial_accumulator_value():
    opt = optim.Adagrad([np.zeros((2, 3), np.float32)], initial_accumulator_value=0.25)
    assert opt.state == [{}]
    opt.step([np.ones((2, 3))])
    np.testing.assert_array_equal(opt.state[0]["sum"], np.full((2, 3), 1.25, np.float32))
    assert opt.state[0]["sum"].dtype == np.float32


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_adagrad_array_lr_and_weight_decay_sweep_equals_separate_runs(dtype):
    lrs, decays = np.array([[0.0], [0.01], [0.05], [0.2]]), np.array([[0.1], [0.0], [0.01], [0.3]])
    for a, b in sweep_and_separate_runs("Adagrad", dict(lr_decay=0.1), dtype, lrs, decays):
        assert a.dtype == dtype
        if dtype == np.float64:
            np.testing.assert_array_equal(a, b)
        else:  # the array of rates is rounded to float32 before lr / (1 + (t − 1)·η), a float after
            np.testing.assert_allclose(a, b, rtol=16 * np.finfo(dtype).eps, atol=16 * np.finfo(dtype).eps)


@pytest.mark.parametrize("name, kwargs", [("Adagrad", dict(lr_decay=0.1, weight_decay=0.1)),
                                          ("Adafactor", dict(weight_decay=0.1))])
def test_only_adagrad_is_updated_in_blocks_and_both_still_match_torch(name, kwargs, monkeypatch):
    monkeypatch.setattr(optim.core, "_BLOCK_SIZE", 4)  # many blocks, the last one short
    run_both(name, kwargs, np.float64, shapes=[(7, 5), (30,), ()], steps=10)


@pytest.mark.parametrize("name", ["Adagrad", "Adafactor"])
def test_float32_stays_float32_whatever_the_dtype_of_gradients_and_rates(name):
    rng = np.random.default_rng(7)
    ours, theirs = make_pair(name, dict(lr=0.1), [rng.standard_normal((2, 3)).astype(np.float32)])
    ours.lr = np.float64(0.1)  # a NumPy float64 must not promote the float32 arithmetic
    for grad in (rng.standard_normal((2, 3)), np.arange(6).reshape(2, 3)):  # float64, then integers
        theirs.param_groups[0]["params"][0].grad = torch.tensor(grad, dtype=torch.float32)
        ours.step([grad])
        theirs.step()
    assert_agree(ours, theirs, np.float32)
    assert all(v.dtype == np.float32 for s in ours.state for v in s.values())


# --- bad input: clear errors, nothing changed -------------------------------------

BAD = [
    # (optimizer, arguments, error, text the message must contain, does torch refuse it too?)
    ("Adagrad", dict(lr=-0.1), ValueError, "Invalid learning rate: lr=-0.1", True),
    ("Adagrad", dict(lr_decay=-0.5), ValueError, "Invalid lr_decay value: lr_decay=-0.5", True),
    ("Adagrad", dict(weight_decay=-0.1), ValueError, "weight_decay=-0.1", True),
    ("Adagrad", dict(initial_accumulator_value=-1.0), ValueError, "initial_accumulator_value=-1.0", True),
    ("Adagrad", dict(eps=-1e-10), ValueError, "Invalid epsilon value: eps=-1e-10", True),
    ("Adagrad", dict(lr=np.array([[0.1], [-0.5]])), ValueError, "lr[1, 0]=-0.5", False),
    ("Adagrad", dict(maximize="no"), TypeError, "maximize must be True or False", False),
    ("Adafactor", dict(lr=-0.1), ValueError, "Invalid learning rate: lr=-0.1", True),
    ("Adafactor", dict(beta2_decay=0.8), ValueError, "beta2_decay=0.8 (must be <= 0)", True),
    ("Adafactor", dict(eps=(-1e-30, 1e-3)), ValueError, "eps[0]=-1e-30 (must be >= 0)", True),
    ("Adafactor", dict(eps=(None, -1e-3)), ValueError, "eps[1]=-0.001", True),
    ("Adafactor", dict(d=0.0), ValueError, "Invalid clipping threshold: d=0.0 (must be >= 1)", True),
    ("Adafactor", dict(weight_decay=-0.1), ValueError, "weight_decay=-0.1", True),
    ("Adafactor", dict(eps=1e-3), TypeError, "eps must be a pair (eps1, eps2)", False),
    ("Adafactor", dict(lr=np.array([[0.1], [0.2]])), TypeError,
     "lr must be a real number, not an array: Adafactor scales each step by the RMS of the whole parameter",
     False),
    ("Adafactor", dict(beta2_decay=float("nan")), ValueError, "beta2_decay=nan (must be finite)", False),
]


@pytest.mark.parametrize("name, kwargs, error, message, torch_refuses", BAD)
def test_bad_hyperparameters_are_refused_with_a_message_naming_them(name, kwargs, error, message, torch_refuses):
    assert_refused_at_construction(name, kwargs, error, message, torch_refuses)


@pytest.mark.parametrize("name, kwargs, error, message, torch_refuses", BAD)
def test_bad_hyperparameter_set_later_fails_the_step_and_changes_nothing(name, kwargs, error, message,
                                                                         torch_refuses):
    assert_refused_at_the_next_step(name, kwargs, error, message)


@pytest.mark.parametrize("name", ["Adagrad", "Adafactor"])
def test_bad_gradients_fail_the_step_before_anything_changes(name):
    opt = getattr(optim, name)([np.ones((3, 2)), np.ones(2)])
    opt.step([np.ones((3, 2)), np.ones(2)])
    before = snapshot(opt)
    with pytest.raises(ValueError, match=re.escape("grads[1] has shape (3,) but params[1] has shape (2,)")):
        opt.step([np.ones((3, 2)), np.ones(3)])
    assert_unchanged(opt, before)
