"""course_lib.optim.Muon against torch.optim.Muon.

torch runs the Newton–Schulz iteration in bfloat16, so agreement has two parts:
- everything else (momentum, Nesterov, weight decay, the lr adjustment) agrees to float rounding
  over 100 steps, against torch with its iteration run in float64 (``ns_precision="float64"``);
- with the default ``ns_precision="bfloat16"`` each step's orthogonalized update agrees with
  torch's to a few bfloat16 roundings (2⁻⁸ relative), most entries bit for bit.
The float64 iteration itself is checked against its definition on the SVD: each singular
value s becomes p(p(…p(s)…)), p(s) = a·s + b·s³ + c·s⁵, and the singular vectors stay.
"""

import itertools
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_optim import ULPS, assert_agree, assert_unchanged, snapshot, step_both

from course_lib import optim

FEW = settings(max_examples=30, deadline=None)
DTYPES = [np.float64, np.float32]
SHAPES = [(4, 6), (7, 3), (1, 5), (5, 5)]  # wide, tall (transposed inside), a single row, square
STEPS = 100
BF16_ROUNDING = 2.0**-8
# Each step's update against torch's, in units of bfloat16's rounding (2⁻⁸) times the update's largest
# entry. Up to 16×16 the bits are torch's; beyond, torch's float32 sums run in another order, a few
# single operations round the other way, and the difference grows through the steps. Measured on
# torch 2.13's CPU kernels: 96 % of entries bit-identical and at most 6.7 roundings over 600 random
# matrices from 1×1 to 47×47.
BF16_ROUNDINGS = 8


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def torch_newton_schulz_in_float64(grad, ns_coefficients, ns_steps, eps):
    """torch's ``_zeropower_via_newtonschulz`` with ``.bfloat16()`` replaced by float64."""
    a, b, c = ns_coefficients
    ortho_grad = grad.to(torch.float64)
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    ortho_grad = ortho_grad / ortho_grad.norm().clamp(min=eps)
    for _ in range(ns_steps):
        gram_matrix = ortho_grad @ ortho_grad.T
        gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
        ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
    return ortho_grad.T if grad.size(0) > grad.size(1) else ortho_grad


def torch_orthogonalized(matrix, ns_coefficients, ns_steps, eps=1e-7):
    """torch's bfloat16 Newton–Schulz result for ``matrix`` (the function its Muon calls)."""
    return torch.optim._muon._zeropower_via_newtonschulz(torch.from_numpy(matrix), ns_coefficients, ns_steps,
                                                         eps).float().numpy()


# --- the Newton–Schulz iteration ------------------------------------------------------

COEFFICIENTS = [optim.beyond.MUON_COEFFICIENTS, (3.4, -4.7, 2.0), (1.5, -0.5, 0.0), (2.0, -1.5, 0.5)]


@FEW
@given(rows=st.integers(1, 9), columns=st.integers(1, 9), coefficients=st.sampled_from(COEFFICIENTS),
       steps=st.integers(0, 8), scale=st.floats(1e-3, 1e3), seed=st.integers(0, 2**32 - 1))
def test_float64_iteration_maps_each_singular_value_through_the_polynomial(rows, columns, coefficients, steps,
                                                                           scale, seed):
    matrix = scale * np.random.default_rng(seed).standard_normal((rows, columns))
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    a, b, c = coefficients
    s = s / np.linalg.norm(matrix)  # X₀ = G / ‖G‖_F
    for _ in range(steps):
        s = a * s + b * s**3 + c * s**5
    expected = (u * s) @ vt
    actual = optim.newton_schulz(matrix, coefficients, steps, eps=1e-7, precision="float64")
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12 * max(1.0, np.max(np.abs(expected))))


def test_the_cubic_iteration_converges_to_the_nearest_orthogonal_matrix():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    matrix = q[:, :4] @ np.diag([3.0, 2.0, 1.5, 1.0]) @ np.linalg.qr(rng.standard_normal((4, 4)))[0]
    u, _, vt = np.linalg.svd(matrix, full_matrices=False)
    np.testing.assert_allclose(optim.newton_schulz(matrix, (1.5, -0.5, 0.0), steps=40), u @ vt, atol=1e-12)


@pytest.mark.parametrize("ns_coefficients, ns_steps", [(optim.beyond.MUON_COEFFICIENTS, 5), ((3.4, -4.7, 2.0), 6)])
def test_bfloat16_iteration_follows_torchs_to_a_few_bfloat16_roundings(ns_coefficients, ns_steps):
    rng = np.random.default_rng(1)
    same = total = 0
    for _ in range(100):
        rows, columns = rng.integers(1, 49, 2)
        dtype = rng.choice([np.float32, np.float64])
        matrix = (rng.standard_normal((rows, columns)) * 10 ** rng.uniform(-3, 3)).astype(dtype)
        theirs = torch_orthogonalized(matrix, ns_coefficients, ns_steps)
        ours = optim.newton_schulz(matrix, ns_coefficients, ns_steps, eps=1e-7, precision="bfloat16")
        np.testing.assert_array_equal(optim.round_to_bfloat16(ours), ours)  # bfloat16 numbers
        np.testing.assert_allclose(ours, theirs, rtol=0,
                                   atol=BF16_ROUNDINGS * BF16_ROUNDING * np.max(np.abs(theirs)))
        same, total = same + np.sum(ours == theirs), total + theirs.size
    assert same / total > 0.9  # measured 0.95-0.99; the float64 iteration: none


def test_round_to_bfloat16_rounds_as_torch_does():
    rng = np.random.default_rng(2)
    bits = rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32)
    ties = (bits & np.uint32(0xFFFF0000)) | np.uint32(0x8000)  # exactly halfway: ties go to even
    values = np.concatenate([bits.view(np.float32), ties.view(np.float32),
                             np.array([0.0, -0.0, np.inf, -np.inf, 3.3895e38, 1e-40], np.float32)])
    values = values[~np.isnan(values)]
    expected = torch.from_numpy(values).bfloat16().float().numpy()
    np.testing.assert_array_equal(optim.round_to_bfloat16(values), expected)
    assert np.isnan(optim.round_to_bfloat16(np.array([np.nan, -np.nan], np.float32))).all()
    wide = rng.standard_normal(20000) * 10.0 ** rng.uniform(-30, 30, 20000)  # float64: through float32, as torch
    np.testing.assert_array_equal(optim.round_to_bfloat16(wide), torch.from_numpy(wide).bfloat16().float().numpy())


def test_adjusted_lr_follows_the_shape():
    assert optim.adjusted_lr(0.1, None, (8, 2)) == 0.1 * 2.0  # √(8/2)
    assert optim.adjusted_lr(0.1, "original", (2, 8)) == 0.1
    assert optim.adjusted_lr(0.1, "match_rms_adamw", (2, 25)) == pytest.approx(0.1 * 0.2 * 5.0, rel=1e-15)


# --- the optimizer: everything but the iteration, to float rounding ----------------------

SETTINGS = [
    dict(lr=0.02, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay, adjust_lr_fn=adjust)
    for momentum, nesterov, weight_decay, adjust
    in itertools.product([0.95, 0.0], [True, False], [0.1, 0.0], [None, "original", "match_rms_adamw"])
] + [{}, dict(lr=0.01), dict(weight_decay=0.2), dict(momentum=0.8), dict(ns_steps=6),  # torch's own list
     dict(ns_coefficients=(3.4, -4.7, 2.0)),
     dict(eps=10.0, lr=0.05)]  # an eps above the gradient's norm: X₀ = G / ε


def run_both_muon(kwargs, dtype, steps=STEPS, seed=0, each_step=None):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = optim.Muon([p.copy() for p in params], **kwargs)
    theirs_kwargs = {key: value for key, value in kwargs.items() if key != "ns_precision"}  # ours alone
    theirs = torch.optim.Muon([torch.tensor(p, requires_grad=True) for p in params], **theirs_kwargs)
    for _ in range(steps):
        before = [p.copy() for p in ours.params]
        step_both(ours, theirs, [rng.standard_normal(s).astype(dtype) for s in SHAPES])
        if each_step:
            each_step(ours, theirs, before)
    return ours, theirs


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("kwargs", SETTINGS, ids=[str(i) for i in range(len(SETTINGS))])
def test_matches_torch_with_its_iteration_in_float64_over_100_steps(kwargs, dtype, monkeypatch):
    monkeypatch.setattr(torch.optim._muon, "_zeropower_via_newtonschulz", torch_newton_schulz_in_float64)
    ours, theirs = run_both_muon(dict(kwargs, ns_precision="float64"), dtype)
    assert_agree(ours, theirs, dtype)


def agree_each_step_to_bfloat16(ours, theirs, before):
    """This step's update agrees with torch's to a few bfloat16 roundings; the momentum to float rounding."""
    lr, decay = ours.lr, ours.weight_decay
    for i, tensor in enumerate(theirs.param_groups[0]["params"]):
        expected = tensor.detach().numpy()
        step_size = optim.adjusted_lr(lr, ours.adjust_lr_fn, expected.shape)
        theirs_update = (before[i] * (1 - lr * decay) - expected) / step_size
        eps = np.finfo(expected.dtype).eps
        tolerance = step_size * BF16_ROUNDINGS * BF16_ROUNDING * np.max(np.abs(theirs_update))
        np.testing.assert_allclose(ours.params[i], expected, rtol=0,
                                   atol=tolerance + ULPS * eps * max(1.0, np.max(np.abs(expected))))
        their_buffer = theirs.state[tensor]["momentum_buffer"].numpy()
        np.testing.assert_allclose(ours.state[i]["momentum_buffer"], their_buffer, rtol=ULPS * eps,
                                   atol=ULPS * eps)
        ours.params[i][...] = expected  # the next step starts from torch's weights: errors do not add up


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("kwargs", [{}, dict(lr=0.02, nesterov=False, adjust_lr_fn="match_rms_adamw"),
                                    dict(momentum=0.0, weight_decay=0.0, ns_steps=6)], ids=["0", "1", "2"])
def test_default_bfloat16_iteration_matches_torch_step_by_step(kwargs, dtype):
    run_both_muon(kwargs, dtype, each_step=agree_each_step_to_bfloat16)


def test_defaults_match_torch():
    ours = optim.Muon([np.zeros((2, 3))])
    theirs = torch.optim.Muon([torch.zeros(2, 3)])
    assert {key: getattr(ours, key) for key in theirs.defaults} == theirs.defaults
    assert ours.ns_precision == "bfloat16"


def test_float32_stays_float32_whatever_the_dtype_of_gradients_and_rates():
    ours = optim.Muon([np.ones((3, 4), np.float32)], lr=np.float64(0.1))
    for ns_precision in ("bfloat16", "float32", "float64"):
        ours.ns_precision = ns_precision
        ours.step([np.random.default_rng(3).standard_normal((3, 4))])
        assert ours.params[0].dtype == np.float32 and ours.state[0]["momentum_buffer"].dtype == np.float32


def test_the_momentum_buffer_is_an_ewa_of_the_gradients():
    g1, g2 = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    opt = optim.Muon([np.zeros((1, 2))], momentum=0.5, weight_decay=0.0, ns_precision="float64")
    opt.step([g1])
    opt.step([g2])
    np.testing.assert_allclose(opt.state[0]["momentum_buffer"], [[0.25, 0.5]])  # 0.5·(0.5·g1) + 0.5·g2


# --- bad input: clear errors, nothing changed -------------------------------------


@pytest.mark.parametrize("shape", [(3,), (), (2, 3, 4)])
def test_parameters_that_are_not_matrices_are_refused_with_advice_to_use_adamw(shape):
    with pytest.raises(ValueError, match=re.escape(f"params[1] has shape {shape}: Muon updates 2-D weight "
                                                   "matrices only") + ".*AdamW"):
        optim.Muon([np.zeros((2, 2)), np.zeros(shape)])
    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        torch.optim.Muon([torch.zeros(2, 2), torch.zeros(shape)])


def test_empty_matrices_are_refused():
    with pytest.raises(ValueError, match=re.escape("params[0] has shape (3, 0): Muon needs at least one row")):
        optim.Muon([np.zeros((3, 0))])


BAD = [
    # (arguments, error, text the message must contain, does torch refuse it too?)
    (dict(lr=-0.1), ValueError, "Invalid learning rate: lr=-0.1", True),
    (dict(momentum=-0.1), ValueError, "momentum=-0.1", True),
    (dict(weight_decay=-0.1), ValueError, "weight_decay=-0.1", True),
    (dict(adjust_lr_fn="arbitrary"), ValueError,
     "Invalid adjust_lr_fn: adjust_lr_fn='arbitrary' (must be one of None, 'original', 'match_rms_adamw')", True),
    (dict(ns_steps=100), ValueError, "ns_steps=100 (must be <= 99)", False),  # torch: at its first step
    (dict(ns_steps=2.5), TypeError, "ns_steps must be a whole number, got 2.5", False),
    (dict(ns_coefficients=(3.4, -4.7)), ValueError, "ns_coefficients must be three numbers", False),
    (dict(ns_coefficients=(3.4, float("nan"), 2.0)), ValueError, "ns_coefficients[1]=nan", False),
    (dict(eps=-1e-7), ValueError, "Invalid epsilon value: eps=-1e-07", False),
    (dict(nesterov="yes"), TypeError, "nesterov must be True or False", False),
    (dict(ns_precision="float16"), ValueError, "ns_precision='float16'", False),
    (dict(lr=np.array([[0.1], [0.2]])), TypeError,
     "lr must be a real number, not an array: Muon orthogonalizes each whole matrix", False),
]


@pytest.mark.parametrize("kwargs, error, message, torch_refuses", BAD)
def test_bad_hyperparameters_are_refused_with_a_message_naming_them(kwargs, error, message, torch_refuses):
    with pytest.raises(error, match=re.escape(message)):
        optim.Muon([np.zeros((2, 3))], **kwargs)
    if torch_refuses:
        with pytest.raises(ValueError):
            torch.optim.Muon([torch.zeros(2, 3)], **kwargs)


@pytest.mark.parametrize("kwargs, error, message, torch_refuses", BAD)
def test_bad_hyperparameter_set_later_fails_the_step_and_changes_nothing(kwargs, error, message, torch_refuses):
    opt = optim.Muon([np.ones((2, 3)), np.ones((4, 2))], lr=0.1)
    opt.step([np.ones((2, 3)), np.ones((4, 2))])
    before = snapshot(opt)
    for key, value in kwargs.items():
        setattr(opt, key, value)
    with pytest.raises(error, match=re.escape(message)):
        opt.step([np.ones((2, 3)), np.ones((4, 2))])
    assert_unchanged(opt, before)


def test_bad_gradients_fail_the_step_before_anything_changes():
    opt = optim.Muon([np.ones((2, 3)), np.ones((4, 2))])
    opt.step([np.ones((2, 3)), np.ones((4, 2))])
    before = snapshot(opt)
    with pytest.raises(ValueError, match=re.escape("grads[1] has shape (2, 4) but params[1] has shape (4, 2)")):
        opt.step([np.ones((2, 3)), np.ones((2, 4))])
    assert_unchanged(opt, before)
