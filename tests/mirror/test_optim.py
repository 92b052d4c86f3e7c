"""course_lib.optim against torch.optim: the same numbers for every option, the same
checks, and nothing changed by a call that raises."""

import itertools
import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from course_lib import optim

FEW = settings(max_examples=30, deadline=None)
SHAPES = [(3, 4), (5,), (), (2, 1, 3)]
STEPS = 20
DTYPES = [np.float64, np.float32]
# Agreement with torch, in units of the dtype's epsilon times the array's largest entry.
# torch fuses some multiply-adds into one rounding and its float32 sqrt is not correctly
# rounded, so results are not bit-identical. Measured worst case (see assert_close): 1.8 ulps
# for the fixed settings below, 5.1 over 3000 random settings and shapes per optimizer.
ULPS = 16


# --- helpers --------------------------------------------------------------------


def assert_close(actual, expected, dtype, ulps=ULPS):
    """Agreement to `ulps` roundings of the numbers involved: |a − e| ≤ ulps·ε·(|e| + s), where
    s = max(1, max|e|) since parameters and gradients start at unit scale (an entry that
    ends near 0 carries the absolute rounding errors of the larger values it passed through)."""
    assert actual.dtype == dtype
    tol = ulps * np.finfo(dtype).eps
    scale = float(np.max(np.abs(expected[np.isfinite(expected)]), initial=1.0))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


def make_pair(name, kwargs, params, foreach=False):
    """Our optimizer on copies of `params` and torch's on tensors holding the same values."""
    ours = getattr(optim, name)([p.copy() for p in params], **kwargs)
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    theirs = getattr(torch.optim, name)(tensors, foreach=foreach, **kwargs)
    return ours, theirs


def step_both(ours, theirs, grads):
    for tensor, grad in zip(theirs.param_groups[0]["params"], grads):
        tensor.grad = torch.from_numpy(grad.copy())
    assert ours.step(grads) is None
    theirs.step()


def assert_agree(ours, theirs, dtype, ulps=ULPS):
    """Parameters, state arrays (same names) and step counts agree with torch's."""
    for i, tensor in enumerate(theirs.param_groups[0]["params"]):
        assert_close(ours.params[i], tensor.detach().numpy(), dtype, ulps)
        their_state = dict(theirs.state[tensor])
        if "step" in their_state:
            assert int(their_state.pop("step")) == ours.steps
        assert list(ours.state[i]) == list(their_state)
        for key, value in their_state.items():
            assert_close(ours.state[i][key], value.numpy(), dtype, ulps)


def run_both(name, kwargs, dtype, shapes=SHAPES, steps=STEPS, foreach=False, seed=0, ulps=ULPS):
    """`steps` steps of both optimizers on the same fresh random gradients, then compare."""
    rng = np.random.default_rng(seed)
    ours, theirs = make_pair(name, kwargs, [rng.standard_normal(s).astype(dtype) for s in shapes], foreach)
    for _ in range(steps):
        step_both(ours, theirs, [rng.standard_normal(s).astype(dtype) for s in shapes])
    assert ours.steps == steps
    assert_agree(ours, theirs, dtype, ulps)
    return ours


def snapshot(opt):
    return [p.copy() for p in opt.params], [{k: v.copy() for k, v in s.items()} for s in opt.state], opt.steps


def assert_unchanged(opt, before):
    params, state, steps = before
    assert opt.steps == steps
    for p, q in zip(opt.params, params):
        np.testing.assert_array_equal(p, q)
    assert [list(s) for s in opt.state] == [list(s) for s in state]
    for s, t in zip(opt.state, state):
        for key in s:
            np.testing.assert_array_equal(s[key], t[key])


# --- every option and combination, against torch ----------------------------------

SGD_SETTINGS = [
    dict(lr=0.1, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay,
         maximize=maximize)
    for momentum, dampening, nesterov, weight_decay, maximize
    in itertools.product([0, 0.9], [0, 0.3], [False, True], [0, 0.1], [False, True])
    if not nesterov or (momentum > 0 and dampening == 0)
]
RMSPROP_SETTINGS = [
    dict(lr=0.01, momentum=momentum, centered=centered, weight_decay=weight_decay, maximize=maximize)
    for momentum, centered, weight_decay, maximize
    in itertools.product([0, 0.9], [False, True], [0, 0.1], [False, True])
]
ADAM_SETTINGS = [
    dict(lr=0.01, amsgrad=amsgrad, weight_decay=weight_decay, maximize=maximize)
    for amsgrad, weight_decay, maximize in itertools.product([False, True], [0, 0.1], [False, True])
]
CASES = ([("SGD", s) for s in SGD_SETTINGS] + [("RMSprop", s) for s in RMSPROP_SETTINGS]
         + [("Adam", s) for s in ADAM_SETTINGS] + [("AdamW", s) for s in ADAM_SETTINGS])


@pytest.mark.parametrize("foreach", [False, True], ids=["for-loop", "foreach"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch(name, kwargs, dtype, foreach):
    run_both(name, kwargs, dtype, foreach=foreach)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_adam_with_decoupled_weight_decay_is_adamw(dtype):
    run_both("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), dtype)


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdamW"])
def test_defaults_match_torch(name):
    run_both(name, {}, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, kwargs", [("SGD", dict(momentum=0.9, nesterov=True, weight_decay=0.01)),
                                          ("RMSprop", dict(momentum=0.5, centered=True)),
                                          ("Adam", dict(amsgrad=True, weight_decay=0.01)),
                                          ("AdamW", dict(weight_decay=0.1))])
def test_lr_and_weight_decay_changed_between_steps_as_a_scheduler_does(name, kwargs, dtype):
    rng = np.random.default_rng(1)
    ours, theirs = make_pair(name, dict(lr=0.05, **kwargs), [rng.standard_normal(s).astype(dtype) for s in SHAPES])
    for step in range(STEPS):
        lr = 0.05 * 0.5 * (1 + np.cos(np.pi * step / STEPS))  # cosine annealing
        ours.lr = lr
        theirs.param_groups[0]["lr"] = lr
        if step == STEPS // 2:
            ours.weight_decay = theirs.param_groups[0]["weight_decay"] = 0.2
        step_both(ours, theirs, [rng.standard_normal(s).astype(dtype) for s in SHAPES])
    assert_agree(ours, theirs, dtype)


# --- random shapes and hyperparameters ------------------------------------------

shape_lists = st.lists(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), min_size=1, max_size=3)
dtypes = st.sampled_from(DTYPES)
rates = st.one_of(st.just(0.0), st.floats(1e-4, 0.5))
coefficients = st.one_of(st.just(0.0), st.floats(0.0, 0.99))


@st.composite
def sgd_settings(draw):
    momentum, nesterov = draw(coefficients), draw(st.booleans())
    dampening = 0.0 if nesterov else draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0)))
    return dict(lr=draw(st.floats(0.0, 1.0)), momentum=momentum or 0.5 if nesterov else momentum,
                dampening=dampening, weight_decay=draw(rates), nesterov=nesterov, maximize=draw(st.booleans()))


@st.composite
def rmsprop_settings(draw):
    centered = draw(st.booleans())
    # Centered RMSprop takes √(v − ḡ²): for alpha far below 1 that difference cancels
    # most digits, and torch's and our rounding noise (not the method) would be compared.
    alpha = draw(st.floats(0.5 if centered else 0.0, 0.999))
    return dict(lr=draw(st.floats(0.0, 0.1)), alpha=alpha, eps=draw(st.floats(1e-10, 0.1)),
                weight_decay=draw(rates), momentum=draw(coefficients), centered=centered,
                maximize=draw(st.booleans()))


@st.composite
def adam_settings(draw):
    # beta2 far below 1 makes v ≈ g², and the step m / √v ≈ m / |g| magnifies the rounding
    # of a small g without bound: the comparison would measure that, not the implementation.
    return dict(lr=draw(st.floats(0.0, 0.1)), betas=(draw(st.floats(0.0, 0.999)), draw(st.floats(0.5, 0.999))),
                eps=draw(st.floats(1e-10, 0.1)), weight_decay=draw(rates), amsgrad=draw(st.booleans()),
                maximize=draw(st.booleans()))


SETTINGS = {"SGD": sgd_settings(), "RMSprop": rmsprop_settings(), "Adam": adam_settings(),
            "AdamW": adam_settings()}


@pytest.mark.parametrize("name", list(SETTINGS))
@FEW
@given(data=st.data(), shapes=shape_lists, dtype=dtypes, seed=st.integers(0, 2**32 - 1))
def test_random_shapes_and_hyperparameters_match_torch(name, data, shapes, dtype, seed):
    run_both(name, data.draw(SETTINGS[name]), dtype, shapes=shapes, steps=10, seed=seed)


# --- a sweep over a leading "run" axis ------------------------------------------

R = 4
SWEEP = {"SGD": dict(momentum=0.9, nesterov=True), "RMSprop": dict(momentum=0.5, centered=True),
         "Adam": dict(amsgrad=True), "AdamW": {}}


def sweep_and_separate_runs(name, kwargs, dtype, lrs, decays, steps=STEPS, halve_lr_at=None):
    """One optimizer over a leading run axis (lr and weight_decay arrays of shape (R, 1)) and R
    separate ones with the matching floats, fed the same gradients; lr halved at step ``halve_lr_at``
    as a scheduler would. Yields (swept, alone): each run's parameters and state, side by side."""
    rng = np.random.default_rng(2)
    runs = len(lrs)
    shapes = [(runs, 3), (runs, 1)]  # lr and weight_decay of shape (R, 1) broadcast against both
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    sweep = getattr(optim, name)([p.copy() for p in params], lr=lrs, weight_decay=decays, **kwargs)
    singles = [getattr(optim, name)([p[r].copy() for p in params], lr=float(lrs[r, 0]),
                                    weight_decay=float(decays[r, 0]), **kwargs) for r in range(runs)]
    for opt in [sweep, *singles]:
        if hasattr(opt, "train"):  # schedule-free optimizers step in training mode
            opt.train()
    for step in range(steps):
        if step == halve_lr_at:
            sweep.lr = 0.5 * sweep.lr
            for single in singles:
                single.lr = 0.5 * single.lr
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        sweep.step(grads)
        for r, single in enumerate(singles):
            single.step([g[r] for g in grads])
    for r, single in enumerate(singles):
        swept = [p[r] for p in sweep.params] + [v[r] for s in sweep.state for v in s.values()]
        alone = single.params + [v for s in single.state for v in s.values()]
        yield from zip(swept, alone, strict=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(SWEEP))
def test_array_lr_and_weight_decay_sweep_equals_separate_runs(name, dtype):
    lrs, decays = np.array([[0.0], [0.01], [0.05], [0.2]]), np.array([[0.1], [0.0], [0.01], [0.3]])
    for a, b in sweep_and_separate_runs(name, SWEEP[name], dtype, lrs, decays, halve_lr_at=STEPS // 2):
        assert a.dtype == dtype
        if dtype == np.float64 or name in ("SGD", "RMSprop"):  # the same operations, element by element
            np.testing.assert_array_equal(a, b)
        else:  # an array of rates is rounded to float32 before Adam's lr / (1 − β₁ᵗ), a float after
            assert_close(a, b, dtype)


# --- large and non-contiguous parameters ------------------------------------------


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2)),
                                          ("RMSprop", dict(momentum=0.9, centered=True)),
                                          ("Adam", dict(amsgrad=True)), ("AdamW", {})])
def test_large_parameters_updated_block_by_block_match_torch(name, kwargs):
    shapes = [(optim.core._BLOCK_SIZE + 5,), (3,)]
    run_both(name, kwargs, np.float32, shapes=shapes, steps=3, foreach=True)


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2)),
                                          ("RMSprop", dict(momentum=0.9, centered=True)),
                                          ("Adam", dict(amsgrad=True, weight_decay=0.1))])
def test_updating_in_blocks_gives_the_same_numbers_as_whole_arrays(name, kwargs, monkeypatch):
    rng = np.random.default_rng(3)
    params = [rng.standard_normal(s) for s in [(7, 5), (30,), ()]]
    grads = [[rng.standard_normal(p.shape) for p in params] for _ in range(5)]
    whole = getattr(optim, name)([p.copy() for p in params], **kwargs)
    for g in grads:
        whole.step(g)
    monkeypatch.setattr(optim.core, "_BLOCK_SIZE", 4)  # many blocks, the last one short
    blocked = getattr(optim, name)([p.copy() for p in params], **kwargs)
    for g in grads:
        blocked.step(g)
    for p, q in zip(blocked.params + [v for s in blocked.state for v in s.values()],
                    whole.params + [v for s in whole.state for v in s.values()], strict=True):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam"])
def test_non_contiguous_parameters_are_updated_in_place(name):
    rng = np.random.default_rng(4)
    base = rng.standard_normal((6, 8))
    views = [base[:, ::2], base[:3, 1::2].T]  # strided and transposed views of one array
    tensors = [torch.tensor(v, requires_grad=True) for v in views]
    ours = getattr(optim, name)(views, lr=0.1, weight_decay=0.1)
    theirs = getattr(torch.optim, name)(tensors, lr=0.1, weight_decay=0.1)
    for _ in range(5):
        step_both(ours, theirs, [rng.standard_normal(v.shape) for v in views])
    assert ours.params[0] is views[0] and np.shares_memory(ours.params[0], base)
    assert_agree(ours, theirs, np.float64)
    np.testing.assert_array_equal(base[:, ::2], views[0])


# --- dtypes, non-finite gradients ---------------------------------------------------


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(momentum=0.9)), ("RMSprop", {}), ("Adam", {}),
                                          ("AdamW", {})])
def test_float32_stays_float32_whatever_the_dtype_of_gradients_and_rates(name, kwargs):
    rng = np.random.default_rng(7)
    ours, theirs = make_pair(name, dict(lr=0.1, **kwargs), [rng.standard_normal((2, 3)).astype(np.float32)])
    ours.lr = np.float64(0.1)  # a NumPy float64 must not promote the float32 arithmetic
    for grad in (rng.standard_normal((2, 3)), np.arange(6).reshape(2, 3)):  # float64, then integers
        theirs.param_groups[0]["params"][0].grad = torch.tensor(grad, dtype=torch.float32)
        ours.step([grad])
        theirs.step()
    assert_agree(ours, theirs, np.float32)
    ours.lr = np.array([[0.1], [0.2]])  # a float64 array of rates
    ours.step([np.ones((2, 3))])
    assert ours.params[0].dtype == np.float32
    assert all(v.dtype == np.float32 for s in ours.state for v in s.values())


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("RMSprop", dict(centered=True)),
                                          ("Adam", dict(amsgrad=True)), ("AdamW", {}),
                                          ("Adagrad", dict(weight_decay=0.1))])
def test_non_finite_gradients_give_torchs_inf_and_nan_without_warnings(name, kwargs, dtype):
    rng = np.random.default_rng(5)
    ours, theirs = make_pair(name, kwargs, [rng.standard_normal(6).astype(dtype)])
    # 1e15 squares to a finite float32; where a product alone overflows, torch's fused
    # multiply-add can still give a finite or infinite result where ours gives inf or nan.
    bad = np.array([np.inf, -np.inf, np.nan, 1e15, 0.0, 1.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for grads in ([bad], [rng.standard_normal(6).astype(dtype)]):
            step_both(ours, theirs, grads)
    assert_agree(ours, theirs, dtype)


# --- state ------------------------------------------------------------------------

STATE = [
    ("SGD", dict(lr=0.1), []),
    ("SGD", dict(lr=0.1, momentum=0.9), ["momentum_buffer"]),
    ("RMSprop", {}, ["square_avg"]),
    ("RMSprop", dict(momentum=0.9), ["square_avg", "momentum_buffer"]),
    ("RMSprop", dict(centered=True), ["square_avg", "grad_avg"]),
    ("RMSprop", dict(momentum=0.9, centered=True), ["square_avg", "momentum_buffer", "grad_avg"]),
    ("Adam", {}, ["exp_avg", "exp_avg_sq"]),
    ("Adam", dict(amsgrad=True), ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]),
    ("AdamW", {}, ["exp_avg", "exp_avg_sq"]),
    ("AdamW", dict(amsgrad=True), ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, kwargs, keys", STATE)
def test_state_holds_torchs_arrays_created_on_the_first_step(name, kwargs, keys, dtype):
    params = [np.zeros((3, 4), dtype), np.zeros(5, dtype)]
    opt = getattr(optim, name)(params, **kwargs)
    assert len(opt.params) == 2 and all(p is q for p, q in zip(opt.params, params))
    assert opt.state == [{}, {}] and opt.state_nbytes() == 0 and opt.steps == 0
    opt.step([np.ones((3, 4)), np.ones(5)])
    assert [list(s) for s in opt.state] == [keys, keys]
    for p, s in zip(params, opt.state):
        assert all(type(v) is np.ndarray and v.shape == p.shape and v.dtype == dtype for v in s.values())
    assert opt.state_nbytes() == len(keys) * 17 * np.dtype(dtype).itemsize
    opt.step([np.ones((3, 4)), np.ones(5)])
    assert opt.steps == 2 and opt.state_nbytes() == len(keys) * 17 * np.dtype(dtype).itemsize


def test_momentum_switched_on_later_starts_from_the_gradient_as_in_torch():
    rng = np.random.default_rng(6)
    ours, theirs = make_pair("SGD", dict(lr=0.1, dampening=0.5), [rng.standard_normal(4)])
    for step in range(6):
        if step == 3:
            ours.momentum = theirs.param_groups[0]["momentum"] = 0.9
        step_both(ours, theirs, [rng.standard_normal(4)])
    assert_agree(ours, theirs, np.float64)


def test_repr_names_the_settings():
    assert repr(optim.SGD([np.zeros(2)], lr=0.5)) == (
        "SGD(lr=0.5, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False)")


# --- bad input: clear errors, nothing changed -------------------------------------

BAD_HYPERPARAMETERS = [
    # (optimizer, arguments, error, text the message must contain, does torch refuse it too?)
    ("SGD", dict(lr=-0.1), ValueError, "Invalid learning rate: lr=-0.1 (must be >= 0)", True),
    ("SGD", dict(momentum=-0.5), ValueError, "momentum=-0.5", True),
    ("SGD", dict(weight_decay=-1e-4), ValueError, "weight_decay=-0.0001", True),
    ("SGD", dict(nesterov=True), ValueError, "momentum=0.0, dampening=0.0", True),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), ValueError, "momentum=0.9, dampening=0.1", True),
    ("SGD", dict(lr=float("nan")), ValueError, "lr=nan (must be finite)", False),
    ("SGD", dict(dampening=float("nan")), ValueError, "dampening=nan", False),
    ("SGD", dict(lr=float("inf")), ValueError, "lr=inf (must be finite)", False),
    ("RMSprop", dict(lr=-1.0), ValueError, "lr=-1.0", True),
    ("RMSprop", dict(eps=-1e-8), ValueError, "Invalid epsilon value: eps=-1e-08", True),
    ("RMSprop", dict(momentum=-0.1), ValueError, "momentum=-0.1", True),
    ("RMSprop", dict(weight_decay=-0.1), ValueError, "weight_decay=-0.1", True),
    ("RMSprop", dict(alpha=-0.5), ValueError, "Invalid alpha value: alpha=-0.5", True),
    ("RMSprop", dict(alpha=float("nan")), ValueError, "alpha=nan", False),
    ("Adam", dict(lr=-0.001), ValueError, "lr=-0.001", True),
    ("Adam", dict(eps=-1.0), ValueError, "eps=-1.0", True),
    ("Adam", dict(betas=(1.0, 0.999)), ValueError, "betas[0]=1.0 (must be in [0, 1))", True),
    ("Adam", dict(betas=(-0.1, 0.999)), ValueError, "betas[0]=-0.1", True),
    ("Adam", dict(betas=(0.9, 1.5)), ValueError, "betas[1]=1.5", True),
    ("Adam", dict(betas=(0.9, float("nan"))), ValueError, "betas[1]=nan", False),
    ("Adam", dict(weight_decay=-0.01), ValueError, "weight_decay=-0.01", True),
    ("AdamW", dict(weight_decay=-0.01), ValueError, "weight_decay=-0.01", True),
    ("AdamW", dict(betas=(0.9, 1.0)), ValueError, "betas[1]=1.0", True),
    ("Adam", dict(betas=(0.9,)), ValueError, "betas must be a pair", False),
    ("Adam", dict(betas=0.9), TypeError, "betas must be a pair (beta1, beta2), got 0.9", False),
    ("SGD", dict(lr="0.1"), TypeError, "lr must be a real number", False),
    ("SGD", dict(lr=None), TypeError, "got None", False),
    ("SGD", dict(momentum=np.array([0.9])), TypeError, "momentum must be a real number", False),
    ("SGD", dict(lr=np.array([[0.1], [-0.5]])), ValueError, "lr[1, 0]=-0.5", False),
    ("SGD", dict(lr=np.array([[0.1], [np.nan]])), ValueError, "lr[1, 0]=nan", False),
    ("SGD", dict(weight_decay=np.array([0.1, 0.2, 0.3])), ValueError, "weight_decay has shape (3,)", False),
    ("SGD", dict(lr=np.array(["a", "b"])), TypeError, "lr must be a real number or a NumPy array", False),
    ("SGD", dict(nesterov="yes"), TypeError, "nesterov must be True or False, got 'yes'", False),
    ("RMSprop", dict(centered=1), TypeError, "centered must be True or False, got 1", False),
    ("Adam", dict(amsgrad=None), TypeError, "amsgrad must be True or False, got None", False),
    ("AdamW", dict(maximize="no"), TypeError, "maximize must be True or False", False),
]


def assert_refused_at_construction(name, kwargs, error, message, torch_refuses):
    """``optim.<name>`` refuses ``kwargs`` with ``message``; so does torch when ``torch_refuses``."""
    with pytest.raises(error, match=re.escape(message)):
        getattr(optim, name)([np.zeros((2, 3)), np.zeros((2, 1))], **kwargs)
    if torch_refuses:  # the same condition as torch's
        with pytest.raises(ValueError):
            getattr(torch.optim, name)([torch.zeros(2)], **kwargs)


def assert_refused_at_the_next_step(name, kwargs, error, message):
    """``kwargs`` assigned after a first step make the next step raise ``message`` and change nothing."""
    opt = getattr(optim, name)([np.ones((2, 3)), np.ones((2, 1))], lr=0.1)
    opt.step([np.ones((2, 3)), np.ones((2, 1))])
    before = snapshot(opt)
    for key, value in kwargs.items():
        setattr(opt, key, value)
    with pytest.raises(error, match=re.escape(message)):
        opt.step([np.ones((2, 3)), np.ones((2, 1))])
    assert_unchanged(opt, before)


@pytest.mark.parametrize("name, kwargs, error, message, torch_refuses", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_are_refused_with_a_message_naming_them(name, kwargs, error, message,
                                                                    torch_refuses):
    assert_refused_at_construction(name, kwargs, error, message, torch_refuses)


@pytest.mark.parametrize("name, kwargs, error, message, torch_refuses", BAD_HYPERPARAMETERS)
def test_bad_hyperparameter_set_later_fails_the_step_and_changes_nothing(name, kwargs, error, message,
                                                                         torch_refuses):
    assert_refused_at_the_next_step(name, kwargs, error, message)


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdamW"])
def test_accepted_hyperparameters_at_the_edges_of_torchs_ranges(name):
    edges = dict(SGD=dict(lr=0.0, momentum=0.0, dampening=-1.0, weight_decay=0.0),
                 RMSprop=dict(lr=0.0, alpha=0.0, eps=0.0, momentum=0.0, weight_decay=0.0),
                 Adam=dict(lr=0.0, betas=(0.0, 0.0), eps=0.0, weight_decay=0.0),
                 AdamW=dict(lr=0, betas=[0, 0], eps=0, weight_decay=0))[name]
    w = np.ones(3)
    getattr(optim, name)([w], **edges).step([np.ones(3)])
    np.testing.assert_array_equal(w, np.ones(3))  # lr = 0 leaves w where it was


w_ = np.zeros(3)
BAD_PARAMS = [
    ([], ValueError, "params is an empty list"),
    (np.zeros(3), TypeError, "params must be a list of NumPy arrays, got ndarray"),
    (None, TypeError, "params must be a list of NumPy arrays, got NoneType"),
    ([np.zeros(3), [1.0, 2.0]], TypeError, "params[1] must be a NumPy array, got list"),
    ([np.zeros(3, dtype=np.int64)], TypeError, "params[0] has dtype int64"),
    ([np.zeros(3, dtype=np.complex128)], TypeError, "params[0] has dtype complex128"),
    ([w_, np.zeros(2), w_], ValueError, "params[2] shares memory with params[0]"),
    ([w_, w_[1:]], ValueError, "params[1] shares memory with params[0]"),
]


@pytest.mark.parametrize("params, error, message", BAD_PARAMS)
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_bad_params_are_refused(name, params, error, message):
    with pytest.raises(error, match=re.escape(message)):
        getattr(optim, name)(params)


def test_read_only_params_are_refused():
    w = np.zeros(3)
    w.flags.writeable = False
    with pytest.raises(ValueError, match=re.escape("params[0] is read-only")):
        optim.SGD([w])


def test_disjoint_views_of_one_array_are_separate_parameters():
    base = np.zeros((2, 4))
    opt = optim.SGD([base[:, :2], base[:, 2:]], lr=1.0)
    opt.step([np.ones((2, 2)), 2 * np.ones((2, 2))])
    np.testing.assert_array_equal(base, [[-1, -1, -2, -2]] * 2)


BAD_GRADS = [
    (lambda g: g[:2], ValueError, "grads has 2 arrays for 3 parameters"),
    (lambda g: g + [np.ones(1)], ValueError, "grads has 4 arrays for 3 parameters"),
    (lambda g: g[0], TypeError, "grads must be a list of arrays, one per parameter, got ndarray"),
    (lambda g: None, TypeError, "got NoneType"),
    (lambda g: g[:2] + [np.ones((1, 2))], ValueError, "grads[2] has shape (1, 2) but params[2] has shape (2,)"),
    (lambda g: g[:2] + [np.ones(3)], ValueError, "grads[2] has shape (3,)"),
    (lambda g: g[:2] + [np.ones(2, dtype=complex)], TypeError, "grads[2] has dtype complex128"),
    (lambda g: g[:2] + [np.array(["a", "b"])], TypeError, "grads[2] has dtype <U1"),
]


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9)),
                                          ("RMSprop", dict(momentum=0.9, centered=True)),
                                          ("Adam", dict(amsgrad=True)), ("AdamW", {})])
@pytest.mark.parametrize("make_bad, error, message", BAD_GRADS)
def test_bad_gradients_fail_the_step_before_anything_changes(name, kwargs, make_bad, error, message):
    shapes = [(3, 2), (), (2,)]
    opt = getattr(optim, name)([np.ones(s) for s in shapes], **kwargs)
    good = [np.full(s, 0.5) for s in shapes]
    opt.step(good)
    before = snapshot(opt)
    with pytest.raises(error, match=re.escape(message)):
        opt.step(make_bad(good))
    assert_unchanged(opt, before)
    fresh = getattr(optim, name)([np.ones(s) for s in shapes], **kwargs)  # before any state exists
    with pytest.raises(error):
        fresh.step(make_bad(good))
    assert_unchanged(fresh, ([np.ones(s) for s in shapes], [{}, {}, {}], 0))


def test_array_lr_that_does_not_broadcast_to_a_later_parameter_fails_before_any_update():
    opt = optim.Adam([np.ones((4, 3)), np.ones((4, 1)), np.ones(3)], lr=0.1)
    opt.step([np.ones((4, 3)), np.ones((4, 1)), np.ones(3)])
    before = snapshot(opt)
    opt.lr = np.full((4, 1), 0.1)
    with pytest.raises(ValueError, match=re.escape("lr has shape (4, 1), which does not broadcast to the "
                                                   "shape (3,) of params[2]")):
        opt.step([np.ones((4, 3)), np.ones((4, 1)), np.ones(3)])
    assert_unchanged(opt, before)


# --- hyperparameters: checked once, again after an assignment or an in-place change ---------


def test_hyperparameters_are_checked_once_and_again_only_after_an_assignment(monkeypatch):
    opt = optim.Adam([np.ones(3)], lr=0.1)
    checks = []
    check = optim.Adam._checked_hyperparameters
    monkeypatch.setattr(optim.Adam, "_checked_hyperparameters", lambda self: checks.append(1) or check(self))
    for _ in range(5):
        opt.step([np.ones(3)])
    assert checks == []  # checked when made, and nothing was assigned since
    opt.lr = 0.05
    opt.step([np.ones(3)])
    opt.step([np.ones(3)])
    assert len(checks) == 1
    opt.initial_lr = 0.1  # an attribute that is not a hyperparameter (as a scheduler sets) changes nothing
    opt.step([np.ones(3)])
    assert len(checks) == 1


@pytest.mark.parametrize("name, kwargs, later", [("SGD", dict(momentum=0.9), ("momentum", 0.5)),
                                                 ("RMSprop", dict(momentum=0.5), ("alpha", 0.9)),
                                                 ("Adam", dict(amsgrad=True), ("betas", (0.5, 0.9))),
                                                 ("AdamW", {}, ("eps", 1e-3))])
def test_settings_assigned_after_unchanged_steps_take_effect_at_the_next_step(name, kwargs, later):
    rng = np.random.default_rng(3)
    ours, theirs = make_pair(name, dict(lr=0.05, **kwargs), [rng.standard_normal(s) for s in SHAPES])
    changes = {5: ("lr", 0.2), 10: later, 15: ("weight_decay", 0.1)}  # each after steps with nothing assigned
    for step in range(STEPS):
        if step in changes:
            key, value = changes[step]
            setattr(ours, key, value)
            theirs.param_groups[0][key] = value
        step_both(ours, theirs, [rng.standard_normal(s) for s in SHAPES])
    assert_agree(ours, theirs, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_array_lr_changed_in_place_takes_effect_at_the_next_step(dtype):
    lr = np.array([[0.25], [0.5]])
    w = np.ones((2, 3), dtype=dtype)
    opt = optim.SGD([w], lr=lr)
    opt.step([np.ones((2, 3), dtype=dtype)])
    lr[1, 0] = 0.125  # no assignment: the array itself changes
    opt.step([np.ones((2, 3), dtype=dtype)])
    np.testing.assert_array_equal(w, [[1 - 0.25 - 0.25] * 3, [1 - 0.5 - 0.125] * 3])


@pytest.mark.parametrize("change, error, message", [
    (lambda opt: opt.lr.__setitem__((1, 0), -0.5), ValueError, "lr[1, 0]=-0.5"),
    (lambda opt: opt.lr.__setitem__((0, 0), np.nan), ValueError, "lr[0, 0]=nan"),
    (lambda opt: opt.betas.__setitem__(1, 1.0), ValueError, "betas[1]=1.0"),
    (lambda opt: opt.betas.append(0.5), ValueError, "betas must be a pair"),
])
def test_a_hyperparameter_made_bad_in_place_fails_the_next_step_and_changes_nothing(change, error, message):
    opt = optim.Adam([np.ones((2, 3)), np.ones((2, 1))], lr=np.array([[0.1], [0.2]]), betas=[0.9, 0.999])
    for _ in range(3):
        opt.step([np.ones((2, 3)), np.ones((2, 1))])
    before = snapshot(opt)
    change(opt)
    with pytest.raises(error, match=re.escape(message)):
        opt.step([np.ones((2, 3)), np.ones((2, 1))])
    assert_unchanged(opt, before)


def test_a_bad_hyperparameter_fails_every_step_until_it_is_fixed():
    opt = optim.SGD([np.ones(3)], lr=0.1, momentum=0.9)
    opt.step([np.ones(3)])
    opt.momentum = -1.0
    for _ in range(2):  # a failed check is not remembered as a pass
        with pytest.raises(ValueError, match=re.escape("momentum=-1.0")):
            opt.step([np.ones(3)])
    opt.momentum = 0.5
    opt.step([np.ones(3)])
    assert opt.steps == 2
    np.testing.assert_array_equal(opt.state[0]["momentum_buffer"], 0.5 * np.ones(3) + np.ones(3))


# --- the update functions say what their equations say ----------------------------


@FEW
@given(x=hnp.arrays(np.float64, 5, elements=st.floats(-10, 10)),
       y=hnp.arrays(np.float64, 5, elements=st.floats(-10, 10)),
       beta=st.floats(0, 0.999), scale=st.floats(0, 1))
def test_update_functions_follow_their_equations(x, y, beta, scale):
    close = dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(optim.ewa_(x.copy(), y, beta), beta * x + (1 - beta) * y, **close)
    np.testing.assert_allclose(optim.ewa_of_squares_(x**2, y, beta), beta * x**2 + (1 - beta) * y**2, **close)
    np.testing.assert_allclose(optim.momentum_buffer_(x.copy(), y, beta, scale), beta * x + (1 - scale) * y,
                               **close)
    np.testing.assert_allclose(optim.nesterov_direction(y, x, beta), y + beta * x, **close)
    np.testing.assert_allclose(optim.l2_gradient(y, x, scale), y + scale * x, **close)
    np.testing.assert_allclose(optim.descend_(x.copy(), y, scale), x - scale * y, **close)
    np.testing.assert_allclose(optim.decoupled_weight_decay_(x.copy(), scale, beta), x - scale * beta * x, **close)
    np.testing.assert_allclose(optim.rms_denominator(x**2 + y**2, 1e-8, y), np.abs(x) + 1e-8, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(optim.preconditioned_descend_(x.copy(), y, 2 + y**2, scale),
                               x - scale * y / (2 + y**2), **close)
    t = 3
    v_hat = x**2 / (1 - beta**t)
    np.testing.assert_allclose(optim.adam_denominator(x**2, optim.bias_correction(beta, t), 1e-8),
                               np.sqrt(v_hat) + 1e-8, **close)
    assert optim.bias_correction(beta, t) == 1 - beta**3
