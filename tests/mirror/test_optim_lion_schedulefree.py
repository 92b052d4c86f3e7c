"""course_lib.optim.Lion against the lion-pytorch package and AdamWScheduleFree against the
schedulefree package: the same numbers over 100 steps for every combination of the options, the
train/eval switch of schedule-free AdamW, arrays of rates, and bad input refused with nothing changed.

Neither reference checks much of its input (lion-pytorch asserts lr > 0 and betas in [0, 1];
schedulefree checks nothing): course_lib refuses what would make the numbers meaningless."""

import itertools
import re
import warnings

import numpy as np
import pytest
import schedulefree
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from lion_pytorch import Lion as ReferenceLion
from test_optim import assert_agree, assert_close, assert_unchanged, snapshot, step_both, sweep_and_separate_runs

from course_lib import optim

FEW = settings(max_examples=25, deadline=None)
DTYPES = [np.float64, np.float32]
SHAPES = [(3, 4), (5,), (), (2, 1, 3)]
STEPS = 100
REFERENCES = {"Lion": ReferenceLion, "AdamWScheduleFree": schedulefree.AdamWScheduleFree}


def make_pair(name, kwargs, params, **reference_kwargs):
    """Ours on copies of ``params`` and the reference on tensors with the same values, both ready to train."""
    ours = getattr(optim, name)([p.copy() for p in params], **kwargs)
    theirs = REFERENCES[name]([torch.tensor(p, requires_grad=True) for p in params], **kwargs, **reference_kwargs)
    if name == "AdamWScheduleFree":
        ours.train()
        theirs.train()
    return ours, theirs


def assert_schedule_free_agrees(ours, theirs, dtype):
    """Parameters, z and v, and the numbers kept per step, agree with the reference's."""
    assert_agree(ours, theirs, dtype)
    group = theirs.param_groups[0]
    assert (ours.steps, ours.train_mode) == (group["k"], group["train_mode"])
    np.testing.assert_allclose([ours.weight_sum, ours.lr_max, ours.scheduled_lr],
                               [group["weight_sum"], group["lr_max"], group["scheduled_lr"]], rtol=1e-15)


def run_both(name, kwargs, dtype, shapes=SHAPES, steps=STEPS, seed=0, **reference_kwargs):
    rng = np.random.default_rng(seed)
    ours, theirs = make_pair(name, kwargs, [rng.standard_normal(s).astype(dtype) for s in shapes],
                             **reference_kwargs)
    for _ in range(steps):
        step_both(ours, theirs, [rng.standard_normal(s).astype(dtype) for s in shapes])
    if name == "AdamWScheduleFree":
        assert_schedule_free_agrees(ours, theirs, dtype)  # y, while training
        ours.eval()
        theirs.eval()
        assert_schedule_free_agrees(ours, theirs, dtype)  # x, to evaluate
    else:
        assert_agree(ours, theirs, dtype)
    return ours, theirs


# --- every combination of the options, over 100 steps -----------------------------------

LION_SETTINGS = [
    dict(lr=lr, betas=betas, weight_decay=weight_decay, decoupled_weight_decay=decoupled)
    for lr, betas, weight_decay, decoupled
    in itertools.product([1e-4, 0.01], [(0.9, 0.99), (0.95, 0.98), (0.0, 0.99), (0.9, 1.0)], [0.0, 0.5],
                         [False, True])
] + [{}]
SCHEDULE_FREE_SETTINGS = [
    dict(lr=0.01, betas=betas, weight_decay=weight_decay, warmup_steps=warmup, r=r, weight_lr_power=power)
    for betas, weight_decay, warmup, r, power
    in itertools.product([(0.9, 0.999), (0.5, 0.99)], [0, 0.1], [0, 10], [0.0, 1.0], [2.0, 0.0])
] + [{}, dict(eps=0.1, betas=(1.0, 0.9))]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("kwargs", LION_SETTINGS, ids=[str(i) for i in range(len(LION_SETTINGS))])
def test_lion_matches_lion_pytorch_over_100_steps(kwargs, dtype):
    run_both("Lion", kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("kwargs", SCHEDULE_FREE_SETTINGS,
                         ids=[str(i) for i in range(len(SCHEDULE_FREE_SETTINGS))])
def test_schedule_free_matches_schedulefree_over_100_steps(kwargs, dtype):
    run_both("AdamWScheduleFree", kwargs, dtype)  # the reference's default, foreach code


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("kwargs", [{}, dict(lr=0.01, weight_decay=0.1, warmup_steps=10, r=1.0)], ids=["0", "1"])
def test_schedule_free_matches_schedulefrees_for_loop_code_too(kwargs, dtype):
    run_both("AdamWScheduleFree", kwargs, dtype, foreach=False)


def test_defaults_match_the_references():
    for name, reference in REFERENCES.items():
        ours = getattr(optim, name)([np.zeros(2)])
        theirs = reference([torch.zeros(2)])
        assert {key: getattr(ours, key) for key in ours._hyperparameter_names if key in theirs.defaults} == {
            key: value for key, value in theirs.defaults.items() if key in ours._hyperparameter_names}
    assert optim.Lion([np.zeros(2)]).decoupled_weight_decay is False


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, kwargs", [("Lion", dict(weight_decay=0.5)),
                                          ("Lion", dict(weight_decay=0.5, decoupled_weight_decay=True)),
                                          ("AdamWScheduleFree", dict(weight_decay=0.1, warmup_steps=5))])
def test_lr_and_weight_decay_changed_between_steps_as_a_scheduler_does(name, kwargs, dtype):
    rng = np.random.default_rng(1)
    ours, theirs = make_pair(name, dict(lr=0.05, **kwargs), [rng.standard_normal(s).astype(dtype) for s in SHAPES])
    for step in range(STEPS):
        ours.lr = theirs.param_groups[0]["lr"] = 0.05 * 0.5 * (1 + np.cos(np.pi * step / STEPS))  # down to 0
        if step == STEPS // 2:
            ours.weight_decay = theirs.param_groups[0]["weight_decay"] = 0.2
        step_both(ours, theirs, [rng.standard_normal(s).astype(dtype) for s in SHAPES])
    assert_agree(ours, theirs, dtype)


@st.composite
def lion_settings(draw):
    return dict(lr=draw(st.floats(1e-5, 0.1)), betas=(draw(st.floats(0.0, 1.0)), draw(st.floats(0.0, 1.0))),
                weight_decay=draw(st.one_of(st.just(0.0), st.floats(0.0, 2.0))),
                decoupled_weight_decay=draw(st.booleans()))


@st.composite
def schedule_free_settings(draw):
    # beta2 far below 1 makes v ≈ g² and g / √v ≈ ±1 magnifies the rounding of a small g (as for Adam);
    # a small beta1 makes eval's x = (y − (1 − β₁)·z) / β₁ cancel digits (for β₁ = 0.05, 20× the rounding).
    return dict(lr=draw(st.floats(0.0, 0.1)), betas=(draw(st.floats(0.5, 1.0)), draw(st.floats(0.5, 0.999))),
                eps=draw(st.floats(1e-10, 0.1)), weight_decay=draw(st.one_of(st.just(0.0), st.floats(0.0, 0.5))),
                warmup_steps=draw(st.integers(0, 30)), r=draw(st.floats(0.0, 2.0)),
                weight_lr_power=draw(st.floats(0.0, 3.0)))


shape_lists = st.lists(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), min_size=1, max_size=3)


@pytest.mark.parametrize("name, strategy", [("Lion", lion_settings()),
                                            ("AdamWScheduleFree", schedule_free_settings())])
@FEW
@given(data=st.data(), shapes=shape_lists, dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**32 - 1))
def test_random_shapes_and_hyperparameters_match_the_references(name, strategy, data, shapes, dtype, seed):
    run_both(name, data.draw(strategy), dtype, shapes=shapes, steps=20, seed=seed)


# --- Lion: the sign update and its weight decay --------------------------------------------


def test_every_lion_step_moves_each_weight_by_lr_exactly():
    rng = np.random.default_rng(2)
    w = rng.integers(-2000, 2000, 1000) * 2.0**-10  # multiples of lr: every step is exact
    opt = optim.Lion([w], lr=2.0**-10)
    for _ in range(5):
        before = w.copy()
        opt.step([rng.standard_normal(1000)])
        np.testing.assert_array_equal(np.abs(w - before), 2.0**-10)  # unit-size sign steps, times lr


def test_decoupled_weight_decay_follows_the_schedule_multiplier_not_the_lr():
    coupled = optim.Lion([np.ones(3)], lr=0.1, weight_decay=1.0)
    decoupled = optim.Lion([np.ones(3)], lr=0.1, weight_decay=0.01, decoupled_weight_decay=True)
    for opt in (coupled, decoupled):
        opt.lr = 0.05  # half the lr given at construction
        opt.step([np.zeros(3)])  # sign(0) = 0: only the decay moves the weights
    np.testing.assert_allclose(coupled.params[0], 1 - 0.05 * 1.0, rtol=1e-15)  # θ·(1 − lr·λ)
    np.testing.assert_allclose(decoupled.params[0], 1 - 0.5 * 0.01, rtol=1e-15)  # θ·(1 − (lr / lr₀)·λ)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_lion_non_finite_gradients_give_the_references_numbers_without_warnings(dtype):
    rng = np.random.default_rng(5)
    ours, theirs = make_pair("Lion", dict(lr=0.01), [rng.standard_normal(6).astype(dtype)])
    bad = np.array([np.inf, -np.inf, np.nan, 1e15, 0.0, 1.0], dtype=dtype)  # NaN's sign is 0: the entry stops
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for grads in ([bad], [rng.standard_normal(6).astype(dtype)]):
            step_both(ours, theirs, grads)
    assert_agree(ours, theirs, dtype)


# --- schedule-free: train and eval -----------------------------------------------------------


def test_eval_moves_the_weights_to_x_and_train_back_to_y():
    rng = np.random.default_rng(3)
    beta1 = 0.8
    opt = optim.AdamWScheduleFree([rng.standard_normal((3, 2))], lr=0.05, betas=(beta1, 0.999))
    opt.eval()  # before any step there is no z: nothing moves
    assert not opt.train_mode and opt.state == [{}]
    with pytest.raises(RuntimeError, match=re.escape("AdamWScheduleFree is in eval mode: call opt.train()")):
        opt.step([np.ones((3, 2))])
    assert opt.steps == 0
    opt.train()
    for _ in range(20):
        opt.step([rng.standard_normal((3, 2))])
    y, z = opt.params[0].copy(), opt.state[0]["z"].copy()
    opt.eval()
    opt.eval()  # a second call changes nothing
    x = opt.params[0].copy()
    np.testing.assert_allclose(x, (y - (1 - beta1) * z) / beta1, rtol=1e-13, atol=1e-13)
    before = snapshot(opt)
    with pytest.raises(RuntimeError, match="eval mode"):
        opt.step([np.ones((3, 2))])
    assert_unchanged(opt, before)
    opt.train()
    opt.train()
    np.testing.assert_allclose(opt.params[0], y, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_switching_to_eval_and_back_mid_run_matches_the_reference(dtype):
    rng = np.random.default_rng(4)
    ours, theirs = make_pair("AdamWScheduleFree", dict(lr=0.02, warmup_steps=10),
                             [rng.standard_normal(s).astype(dtype) for s in SHAPES])
    for step in range(60):
        if step % 20 == 19:
            ours.eval()
            theirs.eval()
            assert_schedule_free_agrees(ours, theirs, dtype)
            ours.train()
            theirs.train()
        step_both(ours, theirs, [rng.standard_normal(s).astype(dtype) for s in SHAPES])
    assert_schedule_free_agrees(ours, theirs, dtype)


def test_a_zero_lr_gives_zero_weight_in_the_average_as_in_the_reference():
    rng = np.random.default_rng(6)
    ours, theirs = make_pair("AdamWScheduleFree", dict(lr=0.0), [rng.standard_normal(4)])
    for step in range(8):
        if step == 4:
            ours.lr = theirs.param_groups[0]["lr"] = 0.01
        step_both(ours, theirs, [rng.standard_normal(4)])
    assert_schedule_free_agrees(ours, theirs, np.float64)


# --- sweeps over a leading "run" axis ------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, kwargs", [("Lion", dict(decoupled_weight_decay=True)),
                                          ("AdamWScheduleFree", dict(warmup_steps=5, r=1.0))])
def test_array_lr_and_weight_decay_sweep_equals_separate_runs(name, kwargs, dtype):
    lrs, decays = np.array([[0.001], [0.01], [0.05], [0.2]]), np.array([[0.1], [0.0], [0.01], [0.3]])
    for a, b in sweep_and_separate_runs(name, kwargs, dtype, lrs, decays, halve_lr_at=10):
        if dtype == np.float64:
            np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-14)
        else:  # arrays of rates are rounded to float32 where a float rate is not
            assert_close(a, b, dtype)


@pytest.mark.parametrize("name", ["Lion", "AdamWScheduleFree"])
def test_float32_stays_float32_whatever_the_dtype_of_gradients_and_rates(name):
    opt = getattr(optim, name)([np.ones((2, 3), np.float32)], lr=np.float64(0.1), betas=(np.float64(0.9), 0.99))
    if name == "AdamWScheduleFree":
        opt.train()
    for grad in (np.random.default_rng(7).standard_normal((2, 3)), np.arange(6).reshape(2, 3)):
        opt.step([grad])
    opt.lr = np.array([[0.1], [0.2]])
    opt.step([np.ones((2, 3))])
    assert opt.params[0].dtype == np.float32
    assert all(v.dtype == np.float32 for s in opt.state for v in s.values())


# --- bad input: clear errors, nothing changed -------------------------------------

BAD = [
    # (optimizer, arguments, error, text the message must contain, does the reference refuse it too?)
    ("Lion", dict(lr=-0.1), ValueError, "Invalid learning rate: lr=-0.1", True),
    ("Lion", dict(betas=(0.9, 1.5)), ValueError, "betas[1]=1.5 (must be in [0, 1])", True),
    ("Lion", dict(betas=(-0.1, 0.99)), ValueError, "betas[0]=-0.1", True),
    ("Lion", dict(weight_decay=-0.1), ValueError, "weight_decay=-0.1", False),  # lion-pytorch takes it
    ("Lion", dict(lr=0.0, decoupled_weight_decay=True), ValueError,
     "decoupled_weight_decay=True divides weight_decay by the lr given at construction, which is 0", True),
    ("Lion", dict(decoupled_weight_decay=1), TypeError, "decoupled_weight_decay must be True or False", False),
    ("AdamWScheduleFree", dict(lr=-0.1), ValueError, "Invalid learning rate: lr=-0.1", False),
    ("AdamWScheduleFree", dict(betas=(0.0, 0.999)), ValueError, "betas[0]=0.0 (must be in (0, 1])", False),
    ("AdamWScheduleFree", dict(betas=(0.9, 1.0)), ValueError, "betas[1]=1.0 (must be in [0, 1))", False),
    ("AdamWScheduleFree", dict(eps=-1e-8), ValueError, "Invalid epsilon value: eps=-1e-08", False),
    ("AdamWScheduleFree", dict(weight_decay=-0.1), ValueError, "weight_decay=-0.1", False),
    ("AdamWScheduleFree", dict(warmup_steps=-1), ValueError, "warmup_steps=-1 (must be >= 0)", False),
    ("AdamWScheduleFree", dict(warmup_steps=2.5), TypeError, "warmup_steps must be a whole number", False),
    ("AdamWScheduleFree", dict(r=float("nan")), ValueError, "r=nan (must be finite)", False),
    ("AdamWScheduleFree", dict(weight_lr_power=-1.0), ValueError, "weight_lr_power=-1.0 (must be >= 0)", False),
]


@pytest.mark.parametrize("name, kwargs, error, message, reference_refuses", BAD)
def test_bad_hyperparameters_are_refused_with_a_message_naming_them(name, kwargs, error, message,
                                                                    reference_refuses):
    with pytest.raises(error, match=re.escape(message)):
        getattr(optim, name)([np.zeros((2, 3)), np.zeros((2, 1))], **kwargs)
    if reference_refuses:  # lion-pytorch asserts
        with pytest.raises(AssertionError):
            REFERENCES[name]([torch.zeros(2)], **kwargs)


@pytest.mark.parametrize("name, kwargs, error, message, reference_refuses", BAD)
def test_bad_hyperparameter_set_later_fails_the_step_and_changes_nothing(name, kwargs, error, message,
                                                                         reference_refuses):
    lr = 0.0 if kwargs.get("decoupled_weight_decay") is True else 0.1  # Lion made with lr 0, decoupled later
    opt = getattr(optim, name)([np.ones((2, 3)), np.ones((2, 1))], lr=lr)
    if name == "AdamWScheduleFree":
        opt.train()
    opt.step([np.ones((2, 3)), np.ones((2, 1))])
    before = snapshot(opt)
    kept = (opt.weight_sum, opt.lr_max) if name == "AdamWScheduleFree" else None
    for key, value in kwargs.items():
        setattr(opt, key, value)
    with pytest.raises(error, match=re.escape(message)):
        opt.step([np.ones((2, 3)), np.ones((2, 1))])
    assert_unchanged(opt, before)
    if kept:
        assert (opt.weight_sum, opt.lr_max) == kept
