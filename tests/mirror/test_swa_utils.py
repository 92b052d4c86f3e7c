"""course_lib.swa_utils against torch.optim.swa_utils: the same averages and learning rates
over hundreds of steps, the same checks, and nothing changed by a call that raises."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim import swa_utils as torch_swa

from course_lib import optim, schedules, swa_utils

FEW = settings(max_examples=20, deadline=None)
STEPS = 200
DTYPES = [np.float64, np.float32]
shape_lists = st.lists(st.lists(st.integers(1, 6), max_size=3).map(tuple), min_size=1, max_size=4)
dtypes = st.sampled_from(DTYPES)
# The lerp-based averages are not bit-identical: torch's CPU lerp is one fused multiply-add
# (one rounding), NumPy's a multiply then an add (two). Measured worst case over 300 steps
# and 60 random decays, shapes and dtypes: 1.35 ulps of the arrays' scale. Rounding errors
# do not pile up: each update multiplies the earlier ones by decay or n/(n + 1) < 1.
ULPS = 4


# --- helpers --------------------------------------------------------------------


def arrays(rng, shapes, dtype, shift=0.0):
    return [np.asarray(rng.standard_normal(shape) + shift, dtype=dtype) for shape in shapes]


def assert_close(ours, theirs, ulps=ULPS):
    """|a − e| ≤ ulps·ε·max(1, max|e|): the iterates are of unit scale, and a value near 0 carries
    the absolute rounding errors of the larger values it was averaged from."""
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    tol = ulps * np.finfo(ours.dtype).eps * max(1.0, float(np.max(np.abs(theirs), initial=0)))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=tol)


def average_both(ours_fn, theirs_fn, shapes, dtype, seed, steps=STEPS, exact=False):
    """Both AveragedModels over the same `steps` random iterates; compared after every update."""
    rng = np.random.default_rng(seed)
    start = arrays(rng, shapes, dtype)
    model = torch.nn.ParameterList([torch.nn.Parameter(torch.from_numpy(p.copy())) for p in start])
    theirs = torch_swa.AveragedModel(model, multi_avg_fn=theirs_fn)
    ours = swa_utils.AveragedModel(start, multi_avg_fn=ours_fn)
    for _ in range(steps):
        iterate = arrays(rng, shapes, dtype, shift=1.0)
        with torch.no_grad():
            for tensor, value in zip(model, iterate):
                tensor.copy_(torch.from_numpy(value))
        theirs.update_parameters(model)
        ours.update_parameters(iterate)
        assert ours.n_averaged == int(theirs.n_averaged)
        for mine, tensor in zip(ours.params, theirs.module.parameters()):
            if exact:
                np.testing.assert_array_equal(mine, tensor.detach().numpy(), strict=True)
            else:
                assert_close(mine, tensor.detach().numpy())
    return ours


def snapshot(model):
    return [p.copy() for p in model.params], model.n_averaged


def assert_unchanged(model, before):
    params, n = before
    assert model.n_averaged == n
    for p, q in zip(model.params, params, strict=True):
        np.testing.assert_array_equal(p, q, strict=True)


# --- the averages, against torch ------------------------------------------------


@FEW
@given(shapes=shape_lists, dtype=dtypes, seed=st.integers(0, 2**32 - 1))
def test_default_running_mean_is_torchs_bit_for_bit(shapes, dtype, seed):
    # torch on the CPU computes θ̄ + (θ − θ̄)/(n + 1), one rounding per operation as NumPy does.
    ours = average_both(None, None, shapes, dtype, seed, exact=True)
    assert ours.n_averaged == STEPS


@FEW
@given(shapes=shape_lists, dtype=dtypes, seed=st.integers(0, 2**32 - 1), decay=st.floats(0, 1))
def test_ema_matches_torch(shapes, dtype, seed, decay):
    average_both(swa_utils.get_ema_multi_avg_fn(decay), torch_swa.get_ema_multi_avg_fn(decay),
                 shapes, dtype, seed)


@FEW
@given(shapes=shape_lists, dtype=dtypes, seed=st.integers(0, 2**32 - 1), k=st.integers(1, 12),
       near_one=st.booleans())
def test_ema_is_torchs_bit_for_bit_when_the_product_is_exact(shapes, dtype, seed, k, near_one):
    # With a lerp weight w = 2^-k (decay = 1 − 2^-k) or 1 − w = 2^-k (decay = 2^-k) the product
    # in lerp is exact, so the fused and the unfused forms round once, identically. This pins
    # down the form: β·θ̄ + (1 − β)·θ, or the other branch of lerp, would differ.
    decay = 1 - 2.0**-k if near_one else 2.0**-k
    average_both(swa_utils.get_ema_multi_avg_fn(decay), torch_swa.get_ema_multi_avg_fn(decay),
                 shapes, dtype, seed, exact=True)


@pytest.mark.parametrize("k", range(6, 13))
def test_ema_rounds_its_weight_to_float32_first_as_torch_does(k):
    # decay = 2^-k (1 + 2^-20): torch rounds w = 1 − decay to float32, where it is 1 − 2^-k, so
    # 1 − w = 2^-k exactly and its product is exact again; 1 − w taken before rounding is not 2^-k.
    decay = 2.0**-k * (1 + 2.0**-20)
    average_both(swa_utils.get_ema_multi_avg_fn(decay), torch_swa.get_ema_multi_avg_fn(decay),
                 [(4, 3), (5,)], np.float32, seed=k, exact=True)


@pytest.mark.parametrize("decay", [0.0, 1.0])
def test_ema_decay_0_follows_the_iterate_and_1_keeps_the_first(decay):
    rng = np.random.default_rng(3)
    iterates = [arrays(rng, [(3,), (2, 2)], np.float64) for _ in range(20)]
    ema = swa_utils.AveragedModel(arrays(rng, [(3,), (2, 2)], np.float64), swa_utils.get_ema_multi_avg_fn(decay))
    for iterate in iterates:
        ema.update_parameters(iterate)
    for average, expected in zip(ema.params, iterates[-1] if decay == 0.0 else iterates[0]):
        np.testing.assert_array_equal(average, expected)


@FEW
@given(shapes=shape_lists, dtype=dtypes, seed=st.integers(0, 2**32 - 1))
def test_swa_multi_avg_fn_matches_torch(shapes, dtype, seed):
    average_both(swa_utils.get_swa_multi_avg_fn(), torch_swa.get_swa_multi_avg_fn(), shapes, dtype, seed)


def test_swa_multi_avg_fn_uses_a_float32_weight_as_torch_does():
    """torch's quirk, kept: 1/(n + 1) of an integer tensor is float32, even for float64 arrays.
    So its float64 'mean' is off by ~1e-8 relative, while the default average is exact to rounding."""
    rng = np.random.default_rng(5)
    iterates = [arrays(rng, [(50,)], np.float64, shift=1.0) for _ in range(STEPS)]
    mean = np.mean([it[0] for it in iterates], axis=0)
    lerped = swa_utils.AveragedModel(iterates[0], multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    default = swa_utils.AveragedModel(iterates[0])
    for it in iterates:
        lerped.update_parameters(it)
        default.update_parameters(it)
    np.testing.assert_allclose(default.params[0], mean, rtol=0, atol=1e-13)
    assert 1e-10 < np.max(np.abs(lerped.params[0] - mean)) < 1e-6


def test_the_average_holds_copies_and_the_first_update_copies():
    live = [np.arange(3.0), np.ones((2, 2))]
    ema = swa_utils.AveragedModel(live, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.5))
    assert ema.n_averaged == 0 and all(a is not p and not np.shares_memory(a, p) for a, p in zip(ema.params, live))
    np.testing.assert_array_equal(ema.params[0], live[0])  # like torch's deepcopy of the model
    live[0] += 10  # an optimizer step, in place
    assert ema.params[0][0] == 0.0
    ema.update_parameters(live)  # the first update copies: no start at 0, no bias
    np.testing.assert_array_equal(ema.params[0], [10.0, 11.0, 12.0])
    held = ema.params[0]
    live[0] += 2
    ema.update_parameters(live)  # then lerp with weight 1 − decay, in place
    assert ema.params[0] is held and ema.n_averaged == 2
    np.testing.assert_array_equal(ema.params[0], [11.0, 12.0, 13.0])
    assert live[0][0] == 12.0


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_a_whole_swa_run_matches_torch(dtype):
    """SGD on noisy least squares, a cosine schedule, then SWALR and the running average, as in
    torch's documentation example: the iterate, the average and the rates agree with torch's."""
    rng = np.random.default_rng(0)
    A, b = rng.standard_normal((20, 5)).astype(dtype), rng.standard_normal(20).astype(dtype)
    w0 = np.zeros(5, dtype)
    ours_opt = optim.SGD([w0.copy()], lr=0.05, momentum=0.9)
    tensor = torch.tensor(w0, requires_grad=True)
    their_opt = torch.optim.SGD([tensor], lr=0.05, momentum=0.9)
    ours_avg = swa_utils.AveragedModel(ours_opt.params)
    their_avg = torch_swa.AveragedModel(torch.nn.ParameterList([tensor]))
    ours_sched = schedules.CosineAnnealingLR(ours_opt, T_max=100)
    their_sched = torch.optim.lr_scheduler.CosineAnnealingLR(their_opt, T_max=100)
    for epoch in range(250):
        if epoch == 100:
            ours_sched = swa_utils.SWALR(ours_opt, swa_lr=0.01, anneal_epochs=20, anneal_strategy="linear")
            their_sched = torch_swa.SWALR(their_opt, swa_lr=0.01, anneal_epochs=20, anneal_strategy="linear")
        noise = 0.3 * rng.standard_normal(20).astype(dtype)
        grad = A.T @ (A @ ours_opt.params[0] - b + noise) / 20
        tensor.grad = torch.from_numpy(A.T @ (A @ tensor.detach().numpy() - b + noise) / 20)
        ours_opt.step([grad])
        their_opt.step()
        ours_sched.step()
        their_sched.step()
        assert ours_sched.get_last_lr() == their_sched.get_last_lr()
        if epoch >= 100:
            ours_avg.update_parameters(ours_opt.params)
            their_avg.update_parameters(torch.nn.ParameterList([tensor]))
    assert_close(ours_opt.params[0], tensor.detach().numpy())
    assert_close(ours_avg.params[0], next(their_avg.module.parameters()).detach().numpy())
    assert ours_avg.n_averaged == int(their_avg.n_averaged) == 150


# --- SWALR, against torch --------------------------------------------------------


def torch_swalr_lrs(lrs, swa_lr, steps, **kwargs):
    """torch's rates, one list per parameter group, for epochs 0..steps."""
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    opt = torch.optim.SGD(groups, lr=1.0)
    sched = torch_swa.SWALR(opt, swa_lr, **kwargs)
    out = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return [list(rates) for rates in zip(*out)]


def our_swalr_lrs(optimizer, swa_lr, steps, **kwargs):
    sched = swa_utils.SWALR(optimizer, swa_lr, **kwargs)
    out = [sched.get_last_lr()[0]]
    for _ in range(steps):
        sched.step()
        assert sched.get_last_lr() == [optimizer.lr] and type(optimizer.lr) is float
        out.append(optimizer.lr)
    return out


@FEW
@given(lrs=st.lists(st.floats(1e-4, 10.0), min_size=1, max_size=3), swa_lr=st.floats(0.0, 10.0),
       anneal_epochs=st.integers(0, 60), strategy=st.sampled_from(["cos", "linear"]))
def test_swalr_rates_are_torchs_bit_for_bit(lrs, swa_lr, anneal_epochs, strategy):
    kwargs = dict(anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    theirs = torch_swalr_lrs(lrs, [swa_lr] * len(lrs), STEPS, **kwargs)
    for lr, their_group in zip(lrs, theirs):  # one course_lib optimizer per torch group
        assert our_swalr_lrs(SimpleNamespace(lr=lr), swa_lr, STEPS, **kwargs) == their_group
    assert theirs[0][-1] == swa_lr  # annealed, then held


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("anneal_epochs", [0, 1, 2, 5, 10, 37])
def test_swalr_on_course_lib_optimizers_with_groups_of_their_own_swa_lr(strategy, anneal_epochs):
    lrs, swa_lrs = [0.1, 0.03, 2.5], [0.05, 0.001, 2.5]
    theirs = torch_swalr_lrs(lrs, swa_lrs, STEPS, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    makers = [lambda lr: optim.SGD([np.zeros(2)], lr=lr, momentum=0.9),
              lambda lr: optim.Adam([np.zeros(2, np.float32)], lr=lr),
              lambda lr: optim.RMSprop([np.zeros(2)], lr=lr)]
    for make, lr, swa_lr, their_group in zip(makers, lrs, swa_lrs, theirs):
        ours = our_swalr_lrs(make(lr), [swa_lr], STEPS, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
        assert ours == their_group
    if anneal_epochs == 0:
        assert [group[0] for group in theirs] == swa_lrs  # torch's quirk: step 0 already at swa_lr
    else:
        assert [group[0] for group in theirs] == lrs and [group[anneal_epochs] for group in theirs] == swa_lrs


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_swalr_after_another_scheduler_and_when_resuming(strategy):
    ours_opt, their_opt = SimpleNamespace(lr=0.2), torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.2)
    ours_cos = schedules.CosineAnnealingLR(ours_opt, T_max=50)
    their_cos = torch.optim.lr_scheduler.CosineAnnealingLR(their_opt, T_max=50)
    for _ in range(30):
        their_opt.step()
        ours_cos.step()
        their_cos.step()
    assert ours_opt.lr == their_opt.param_groups[0]["lr"]
    for last_epoch in (-1, 30):  # resuming: the epoch counter continues, the annealing restarts
        ours = swa_utils.SWALR(ours_opt, 0.01, anneal_epochs=7, anneal_strategy=strategy, last_epoch=last_epoch)
        theirs = torch_swa.SWALR(their_opt, 0.01, anneal_epochs=7, anneal_strategy=strategy, last_epoch=last_epoch)
        for _ in range(20):
            assert ours.get_last_lr() == theirs.get_last_lr() and ours.last_epoch == theirs.last_epoch
            their_opt.step()
            ours.step()
            theirs.step()
        ours_opt.lr = their_opt.param_groups[0]["lr"] = 0.3  # a rate changed by hand, then annealed from


# --- bad input: a clear error, and nothing changed -------------------------------


@pytest.mark.parametrize("decay, error", [(-0.1, ValueError), (1.5, ValueError), (math.nan, ValueError),
                                          (math.inf, ValueError), ("0.9", TypeError), (True, TypeError)])
def test_bad_decay_is_refused(decay, error):
    with pytest.raises(error, match="decay"):
        swa_utils.get_ema_multi_avg_fn(decay)
    if error is ValueError and math.isfinite(decay):
        with pytest.raises(ValueError, match="decay"):  # torch refuses the same values
            torch_swa.get_ema_multi_avg_fn(decay)


def bad_lists():
    good = [np.zeros(3), np.zeros((2, 2))]
    return [
        ("another length", good[:1], ValueError, "1 arrays but the average has 2"),
        ("another length", good + [np.zeros(1)], ValueError, "3 arrays but the average has 2"),
        ("another shape", [np.zeros(3), np.zeros(4)], ValueError, r"params\[1\] has shape \(4,\)"),
        ("another shape", [np.zeros((3, 1)), np.zeros((2, 2))], ValueError, r"params\[0\] has shape \(3, 1\)"),
        ("another dtype", [np.zeros(3, np.float32), np.zeros((2, 2))], TypeError, r"params\[0\] has dtype float32"),
        ("integers", [np.zeros(3, int), np.zeros((2, 2))], TypeError, r"params\[0\] has dtype int"),
        ("not arrays", [[0.0, 0.0, 0.0], np.zeros((2, 2))], TypeError, r"params\[0\] must be a NumPy array"),
        ("one array", np.zeros(3), TypeError, "params must be a list of NumPy arrays"),
        ("not a list", None, TypeError, "params must be a list"),
        ("empty", [], ValueError, "empty"),
    ]


@pytest.mark.parametrize("multi_avg_fn",
                         [None, swa_utils.get_ema_multi_avg_fn(0.9), swa_utils.get_swa_multi_avg_fn()],
                         ids=["default", "ema", "swa"])
@pytest.mark.parametrize("what, params, error, message", bad_lists(), ids=[case[0] for case in bad_lists()])
def test_bad_params_change_nothing(multi_avg_fn, what, params, error, message):
    model = swa_utils.AveragedModel([np.arange(3.0), np.ones((2, 2))], multi_avg_fn=multi_avg_fn)
    for n in range(3):  # before the first update (a copy) and after it (an average)
        before = snapshot(model)
        with pytest.raises(error, match=message):
            model.update_parameters(params)
        assert_unchanged(model, before)
        if multi_avg_fn is not None and n:  # the function alone checks as well
            with pytest.raises(error, match=message):
                multi_avg_fn(model.params, params, model.n_averaged)
            assert_unchanged(model, before)
        model.update_parameters([np.full(3, n + 1.0), np.full((2, 2), n + 1.0)])


@pytest.mark.parametrize("what, params, error, message", [case for case in bad_lists() if "another" not in case[0]],
                         ids=[case[0] for case in bad_lists() if "another" not in case[0]])
def test_bad_params_are_refused_when_made(what, params, error, message):
    with pytest.raises(error, match=message):
        swa_utils.AveragedModel(params)


def test_multi_avg_fn_must_be_callable():
    with pytest.raises(TypeError, match="multi_avg_fn must be callable or None, got 0.999"):
        swa_utils.AveragedModel([np.zeros(2)], multi_avg_fn=0.999)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(swa_lr=-0.1), ValueError, "swa_lr must be >= 0"),
    (dict(swa_lr=math.nan), ValueError, "swa_lr must be finite"),
    (dict(swa_lr="0.1"), TypeError, "swa_lr must be a real number"),
    (dict(swa_lr=[0.1, 0.2]), ValueError, "swa_lr has 2 values, a course_lib optimizer has 1 group"),
    (dict(swa_lr=[]), ValueError, "swa_lr has 0 values"),
    (dict(swa_lr=0.1, anneal_strategy="cosine"), ValueError,
     "anneal_strategy must be one of 'cos' or 'linear', got 'cosine'"),
    (dict(swa_lr=0.1, anneal_strategy=None), ValueError, "got None"),
    (dict(swa_lr=0.1, anneal_epochs=-1), ValueError, "anneal_epochs must be >= 0, got -1"),
    (dict(swa_lr=0.1, anneal_epochs=2.5), TypeError, "anneal_epochs must be an integer"),
    (dict(swa_lr=0.1, last_epoch=-2), ValueError, "last_epoch must be >= -1"),
    (dict(swa_lr=0.1, last_epoch=4), ValueError, "initial_lr"),  # torch: KeyError
])
def test_bad_swalr_arguments_change_nothing(kwargs, error, message):
    opt = optim.SGD([np.zeros(2)], lr=0.5)
    with pytest.raises(error, match=message):
        swa_utils.SWALR(opt, **kwargs)
    assert opt.lr == 0.5 and not hasattr(opt, "initial_lr") and not hasattr(opt, "swa_lr")
    with pytest.raises(TypeError, match="real-number attribute 'lr'"):
        swa_utils.SWALR(SimpleNamespace(rate=0.1), 0.1)
