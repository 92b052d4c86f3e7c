"""course_lib.schedules against torch.optim.lr_scheduler and the published textbook values.

Each scheduler is described once as ``make(module, optimizer)`` and built both from
``torch.optim.lr_scheduler`` (around a torch SGD) and from ``course_lib.schedules``
(around a stand-in with an ``lr`` attribute); the two lr sequences must be equal.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import schedules

FEW = settings(max_examples=25, deadline=None)
lrs = st.floats(1e-4, 10.0)


def torch_lrs(make, steps, lr):
    """The lr for epochs 0..steps from torch's scheduler ``make(lr_scheduler, opt)``."""
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=lr)
    sched = make(torch.optim.lr_scheduler, opt)
    out = [sched.get_last_lr()[0]]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
        assert opt.param_groups[0]["lr"] == out[-1]
    return out


def our_lrs(make, steps, lr):
    """The same from course_lib, checking that get_last_lr() is [opt.lr] with a float."""
    opt = SimpleNamespace(lr=lr)
    sched = make(schedules, opt)
    out = []
    for epoch in range(steps + 1):
        if epoch:
            sched.step()
        last = sched.get_last_lr()
        assert isinstance(last, list) and len(last) == 1 and type(last[0]) is float
        assert last[0] == opt.lr
        out.append(last[0])
    return out


def assert_same_as_torch(make, steps=150, lr=0.1):
    ours, theirs = our_lrs(make, steps, lr), torch_lrs(make, steps, lr)
    # Same recursion, same float operations: equal to the last bit.
    assert ours == theirs, max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(ours, theirs))


# ------------------------------------------------------------ textbook formulas


def test_inverse_time_decay_published_value():
    assert schedules.inverse_time_decay(0.5, 2, 1) == pytest.approx(0.1666666667, rel=1e-9)


@pytest.mark.parametrize(
    "lr0, epoch, decay_rate, interval, published",
    [
        (0.5, 100, 1, 100, 0.25),
        (0.5, 10, 1, 100, 0.5),
        (0.3, 1000, 0.25, 100, 0.0857142857),
        (0.3, 100, 0.25, 100, 0.24),
        (0.5, 100, 0.3, 100, 0.3846153846),
    ],
)
def test_staircase_decay_published_values(lr0, epoch, decay_rate, interval, published):
    assert schedules.staircase_decay(lr0, epoch, decay_rate, interval) == pytest.approx(published, rel=1e-9)


def test_formulas_take_arrays_of_epochs():
    epochs = np.arange(1, 300)
    for formula, args in [
        (schedules.inverse_time_decay, (0.5, 0.3)),
        (schedules.staircase_decay, (0.5, 0.3, 40)),
        (schedules.exponential_decay, (0.5, 0.97)),
        (schedules.inverse_sqrt_decay, (0.5, 0.8)),
        (schedules.cosine_annealing, (0.5, 100, 0.01)),
    ]:
        lr0, *rest = args
        vectorised = formula(lr0, epochs, *rest)
        one_by_one = [formula(lr0, int(e), *rest) for e in epochs]
        np.testing.assert_allclose(vectorised, one_by_one, rtol=1e-15)
    np.testing.assert_array_equal(schedules.linear_warmup(np.arange(6), 4), [0.25, 0.5, 0.75, 1, 1, 1])


@FEW
@given(lr=lrs, k=st.floats(0, 3), interval=st.integers(1, 40))
def test_inverse_time_and_staircase_equal_torch_lambda_lr(lr, k, interval):
    epochs = np.arange(201)
    inverse_time = torch_lrs(lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + k * e)), 200, lr)
    np.testing.assert_allclose(schedules.inverse_time_decay(lr, epochs, k), inverse_time, rtol=1e-15)
    staircase = torch_lrs(lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + k * (e // interval))), 200, lr)
    np.testing.assert_allclose(schedules.staircase_decay(lr, epochs, k, interval), staircase, rtol=1e-15)


@FEW
@given(lr=lrs, k=st.floats(0.01, 3))
def test_inverse_sqrt_decay_is_lambda_lr_counted_from_one(lr, k):
    theirs = torch_lrs(lambda m, o: m.LambdaLR(o, lambda e: k / math.sqrt(e + 1)), 200, lr)
    np.testing.assert_allclose(schedules.inverse_sqrt_decay(lr, np.arange(1, 202), k), theirs, rtol=1e-15)


@FEW
@given(lr=lrs, base=st.floats(0.8, 1.0))
def test_exponential_decay_is_exponential_lr(lr, base):
    # torch multiplies 200 times, the formula takes one power: equal up to rounding.
    theirs = torch_lrs(lambda m, o: m.ExponentialLR(o, gamma=base), 200, lr)
    np.testing.assert_allclose(schedules.exponential_decay(lr, np.arange(201), base), theirs, rtol=1e-12)


@FEW
@given(warmup_steps=st.integers(2, 60))
def test_linear_warmup_is_linear_lr(warmup_steps):
    theirs = torch_lrs(
        lambda m, o: m.LinearLR(o, start_factor=1 / warmup_steps, total_iters=warmup_steps - 1), 150, 1.0
    )
    np.testing.assert_allclose(schedules.linear_warmup(np.arange(151), warmup_steps), theirs, rtol=1e-14)


@pytest.mark.parametrize("T_max", [1, 2, 7, 50, 333, 1000])
@pytest.mark.parametrize("eta_min", [0.0, 1e-3, 0.05])
def test_cosine_closed_form_equals_torch_recursion(T_max, eta_min):
    """The docstring's claim: torch's recursive cosine telescopes to the SGDR closed form,
    within ~1e-14 relative up to T_max and ~4e-12 by 3·T_max."""
    steps = 3 * T_max + 5
    theirs = np.array(torch_lrs(lambda m, o: m.CosineAnnealingLR(o, T_max, eta_min), steps, 0.1))
    closed = schedules.cosine_annealing(0.1, np.arange(steps + 1), T_max, eta_min)
    np.testing.assert_allclose(closed[: T_max + 1], theirs[: T_max + 1], rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(closed, theirs, rtol=5e-12, atol=1e-17)


# ----------------------------------------------------------------- schedulers


@FEW
@given(lr=lrs, step_size=st.integers(1, 50), gamma=st.floats(0.0, 1.5))
def test_step_lr_matches_torch(lr, step_size, gamma):
    assert_same_as_torch(lambda m, o: m.StepLR(o, step_size=step_size, gamma=gamma), lr=lr)


def test_step_lr_default_gamma():
    assert_same_as_torch(lambda m, o: m.StepLR(o, step_size=30))


@FEW
@given(lr=lrs, gamma=st.floats(0.5, 1.05))
def test_exponential_lr_matches_torch(lr, gamma):
    assert_same_as_torch(lambda m, o: m.ExponentialLR(o, gamma=gamma), lr=lr)


@FEW
@given(lr=lrs, T_max=st.integers(1, 120), eta_min_share=st.floats(0.0, 1.0))
def test_cosine_annealing_lr_matches_torch(lr, T_max, eta_min_share):
    # Long enough to pass T_max and 3·T_max, where torch switches to its additive branch.
    steps = max(100, 3 * T_max + 3)
    make = lambda m, o: m.CosineAnnealingLR(o, T_max=T_max, eta_min=eta_min_share * lr)  # noqa: E731
    assert_same_as_torch(make, steps=steps, lr=lr)


@FEW
@given(
    lr=lrs,
    start_factor=st.floats(0.01, 1.0),
    end_factor=st.floats(0.0, 1.0),
    total_iters=st.integers(1, 80),
)
def test_linear_lr_matches_torch(lr, start_factor, end_factor, total_iters):
    assert_same_as_torch(
        lambda m, o: m.LinearLR(o, start_factor=start_factor, end_factor=end_factor, total_iters=total_iters),
        lr=lr,
    )


def test_linear_lr_defaults():
    assert_same_as_torch(lambda m, o: m.LinearLR(o))


@pytest.mark.parametrize(
    "lr_lambda",
    [lambda e: 0.95**e, lambda e: e // 30, lambda e: 1 / (1 + 0.1 * e), lambda e: np.float64(0.5) ** (e % 7)],
)
def test_lambda_lr_matches_torch(lr_lambda):
    assert_same_as_torch(lambda m, o: m.LambdaLR(o, lr_lambda))


@FEW
@given(lr=lrs, warmup=st.integers(1, 30), T_max=st.integers(1, 120), start_factor=st.floats(0.01, 1.0))
def test_warmup_then_cosine_matches_torch(lr, warmup, T_max, start_factor):
    def make(m, o):
        warm = m.LinearLR(o, start_factor=start_factor, total_iters=warmup)
        cosine = m.CosineAnnealingLR(o, T_max=T_max)
        return m.SequentialLR(o, [warm, cosine], milestones=[warmup])

    assert_same_as_torch(make, steps=warmup + 2 * T_max + 10, lr=lr)


def test_sequential_lr_with_three_schedulers_matches_torch():
    def make(m, o):
        parts = [m.ExponentialLR(o, 0.9), m.StepLR(o, 3, 0.5), m.LinearLR(o, 0.5, 1.0, 4)]
        return m.SequentialLR(o, parts, milestones=[10, 40])

    assert_same_as_torch(make)


def test_later_schedulers_take_the_first_schedulers_initial_lr():
    """torch records initial_lr once per optimizer; a second scheduler's base_lr is it,
    not the rate the first one has already changed."""
    param = torch.nn.Parameter(torch.zeros(1))
    torch_opt = torch.optim.SGD([param], lr=0.5)
    torch.optim.lr_scheduler.LinearLR(torch_opt, start_factor=0.1)
    torch_cos = torch.optim.lr_scheduler.CosineAnnealingLR(torch_opt, T_max=10)
    opt = SimpleNamespace(lr=0.5)
    schedules.LinearLR(opt, start_factor=0.1)
    cos = schedules.CosineAnnealingLR(opt, T_max=10)
    assert cos.base_lrs == torch_cos.base_lrs == [0.5]
    assert opt.initial_lr == 0.5
    assert opt.lr == torch_opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_works_with_any_object_with_an_lr_attribute():
    class Tiny:
        lr = 1.0

    opt = Tiny()
    sched = schedules.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(4):
        sched.step()
    assert opt.lr == 0.25 and sched.last_epoch == 4


# --------------------------------------------------------- ReduceLROnPlateau


def metric_sequence(seed, steps=150):
    """A noisy falling loss with flat stretches (exact repeats) and a few rises."""
    rng = np.random.default_rng(seed)
    values, current = [], 1.0
    while len(values) < steps:
        kind = rng.integers(3)
        length = int(rng.integers(1, 15))
        if kind == 0:  # plateau: the same value again and again
            values += [current] * length
        elif kind == 1:  # improvement, sometimes smaller than a 1e-4-relative threshold
            for _ in range(length):
                current *= 1 - rng.choice([1e-5, 1e-3, 0.05])
                values.append(current)
        else:  # noise around the current value
            values += list(current * (1 + 0.01 * rng.standard_normal(length)))
    return [round(v, 6) for v in values[:steps]]


def plateau_lrs(module, optimizer, metrics, **kwargs):
    sched = module.ReduceLROnPlateau(optimizer, **kwargs)
    out = [sched.get_last_lr()[0]]
    for value in metrics:
        sched.step(value)
        out.append((sched.get_last_lr()[0], sched.best, sched.num_bad_epochs, sched.cooldown_counter))
    return out


def assert_plateau_same_as_torch(metrics, lr=0.1, **kwargs):
    param = torch.nn.Parameter(torch.zeros(1))
    theirs = plateau_lrs(torch.optim.lr_scheduler, torch.optim.SGD([param], lr=lr), metrics, **kwargs)
    ours = plateau_lrs(schedules, SimpleNamespace(lr=lr), metrics, **kwargs)
    assert ours == theirs


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["min", "max"]),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    factor=st.floats(0.0, 0.9),
    patience=st.integers(0, 12),
    threshold=st.sampled_from([0.0, 1e-4, 1e-2]),
    cooldown=st.integers(0, 5),
    min_lr=st.sampled_from([0.0, 1e-4, 0.02]),
    eps=st.sampled_from([0.0, 1e-8, 1e-3]),
)
def test_reduce_lr_on_plateau_matches_torch(seed, mode, **kwargs):
    metrics = metric_sequence(seed)
    if mode == "max":
        metrics = [-v for v in metrics] if seed % 2 else [1 / v for v in metrics]
    assert_plateau_same_as_torch(metrics, mode=mode, **kwargs)


def test_reduce_lr_on_plateau_defaults_and_nan_metric():
    assert_plateau_same_as_torch(metric_sequence(7) + [float("nan")] * 15 + [0.1] * 20)


@pytest.mark.parametrize("eps", [0.25, 0.5, 0.75])
def test_reduce_lr_on_plateau_skips_cuts_no_larger_than_eps(eps):
    # lr 1 -> 0.5 is a cut of exactly 0.5: made only when 0.5 > eps (torch's strict test).
    assert_plateau_same_as_torch([1.0, 2.0, 2.0, 2.0], lr=1.0, factor=0.5, patience=0, eps=eps)
    opt = SimpleNamespace(lr=1.0)
    sched = schedules.ReduceLROnPlateau(opt, factor=0.5, patience=0, eps=eps)
    sched.step(1.0)
    sched.step(2.0)
    assert opt.lr == (0.5 if eps < 0.5 else 1.0)


def test_reduce_lr_on_plateau_by_hand():
    """patience 2, cooldown 1, floor 0.3, worked out by hand."""
    opt = SimpleNamespace(lr=1.0)
    sched = schedules.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.3)
    seen = []
    for loss in [5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3]:
        sched.step(loss)
        seen.append(opt.lr)
    # bad epochs at 3, 4, 5 -> cut; cooldown eats epoch 6; 7, 8, 9 -> cut to the floor.
    assert seen == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3]


# ------------------------------------------------------------------- bad input


def fresh():
    return SimpleNamespace(lr=0.1)


@pytest.mark.parametrize(
    "build, error, name",
    [
        (lambda o: schedules.StepLR(o, step_size=0), ValueError, "step_size"),
        (lambda o: schedules.StepLR(o, step_size=-3), ValueError, "step_size"),
        (lambda o: schedules.StepLR(o, step_size=2.5), TypeError, "step_size"),
        (lambda o: schedules.StepLR(o, step_size=10, gamma=-0.1), ValueError, "gamma"),
        (lambda o: schedules.StepLR(o, step_size=10, gamma=float("nan")), ValueError, "gamma"),
        (lambda o: schedules.ExponentialLR(o, gamma=-0.5), ValueError, "gamma"),
        (lambda o: schedules.ExponentialLR(o, gamma=float("inf")), ValueError, "gamma"),
        (lambda o: schedules.ExponentialLR(o, gamma="0.9"), TypeError, "gamma"),
        (lambda o: schedules.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
        (lambda o: schedules.CosineAnnealingLR(o, T_max=-5), ValueError, "T_max"),
        (lambda o: schedules.CosineAnnealingLR(o, T_max=10, eta_min=-1e-3), ValueError, "eta_min"),
        (lambda o: schedules.CosineAnnealingLR(o, T_max=10, eta_min=float("nan")), ValueError, "eta_min"),
        (lambda o: schedules.LinearLR(o, start_factor=0.0), ValueError, "start_factor"),
        (lambda o: schedules.LinearLR(o, start_factor=1.5), ValueError, "start_factor"),
        (lambda o: schedules.LinearLR(o, start_factor=float("nan")), ValueError, "start_factor"),
        (lambda o: schedules.LinearLR(o, end_factor=-0.1), ValueError, "end_factor"),
        (lambda o: schedules.LinearLR(o, total_iters=0), ValueError, "total_iters"),
        (lambda o: schedules.LambdaLR(o, lr_lambda=0.95), TypeError, "lr_lambda"),
        (lambda o: schedules.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
        (lambda o: schedules.ReduceLROnPlateau(o, factor=-0.5), ValueError, "factor"),
        (lambda o: schedules.ReduceLROnPlateau(o, factor=float("nan")), ValueError, "factor"),
        (lambda o: schedules.ReduceLROnPlateau(o, mode="minimum"), ValueError, "mode"),
        (lambda o: schedules.ReduceLROnPlateau(o, threshold_mode="relative"), ValueError, "threshold_mode"),
        (lambda o: schedules.ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
        (lambda o: schedules.ReduceLROnPlateau(o, threshold=-1e-4), ValueError, "threshold"),
        (lambda o: schedules.ReduceLROnPlateau(o, cooldown=-2), ValueError, "cooldown"),
        (lambda o: schedules.ReduceLROnPlateau(o, min_lr=-1.0), ValueError, "min_lr"),
        (lambda o: schedules.ReduceLROnPlateau(o, eps=float("nan")), ValueError, "eps"),
    ],
)
def test_bad_scheduler_arguments_are_refused_and_change_nothing(build, error, name):
    opt = fresh()
    with pytest.raises(error, match=name):
        build(opt)
    assert vars(opt) == {"lr": 0.1}


def test_error_message_names_the_value():
    with pytest.raises(ValueError, match=r"gamma must be >= 0, got -0\.5"):
        schedules.ExponentialLR(fresh(), gamma=-0.5)


@pytest.mark.parametrize("optimizer", [object(), SimpleNamespace(lr="0.1"), SimpleNamespace(lr=None)])
def test_optimizer_without_a_numeric_lr_is_refused(optimizer):
    with pytest.raises(TypeError, match="optimizer"):
        schedules.StepLR(optimizer, step_size=3)


def test_bad_sequential_lr_arguments():
    opt, other = fresh(), fresh()
    warm, cos = schedules.LinearLR(opt, 0.1, total_iters=5), schedules.CosineAnnealingLR(opt, 10)
    before = (opt.lr, warm.last_epoch, cos.last_epoch)
    with pytest.raises(ValueError, match="milestones"):
        schedules.SequentialLR(opt, [warm, cos], milestones=[5, 10])
    with pytest.raises(ValueError, match="milestones"):
        schedules.SequentialLR(opt, [warm, cos, schedules.StepLR(opt, 3)], milestones=[8, 4])
    with pytest.raises(ValueError, match="milestones"):
        schedules.SequentialLR(opt, [warm, cos], milestones=[0])
    with pytest.raises(ValueError, match="schedulers"):
        schedules.SequentialLR(opt, [], milestones=[])
    with pytest.raises(ValueError, match=r"schedulers\[1\]"):
        schedules.SequentialLR(opt, [warm, schedules.StepLR(other, 3)], milestones=[5])
    with pytest.raises(TypeError, match=r"schedulers\[1\]"):
        schedules.SequentialLR(opt, [warm, schedules.ReduceLROnPlateau(opt)], milestones=[5])
    assert (opt.lr, warm.last_epoch, cos.last_epoch) == before


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: schedules.inverse_time_decay(0.5, -1, 1), "epoch"),
        (lambda: schedules.inverse_time_decay(0.5, np.array([0, 1, float("nan")]), 1), "epoch"),
        (lambda: schedules.inverse_time_decay(float("nan"), 1, 1), "lr0"),
        (lambda: schedules.inverse_time_decay(0.5, 1, -1), "decay_rate"),
        (lambda: schedules.staircase_decay(0.5, 10, 1, 0), "interval"),
        (lambda: schedules.exponential_decay(0.5, 3, base=-0.9), "base"),
        (lambda: schedules.inverse_sqrt_decay(0.5, 0, 1), "epoch"),
        (lambda: schedules.inverse_sqrt_decay(0.5, 4, float("inf")), "k"),
        (lambda: schedules.cosine_annealing(0.5, 3, T_max=0), "T_max"),
        (lambda: schedules.linear_warmup(-1, 5), "step"),
        (lambda: schedules.linear_warmup(3, 0), "warmup_steps"),
    ],
)
def test_bad_formula_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_inverse_sqrt_decay_at_epoch_zero_says_why():
    with pytest.raises(ValueError, match=r"epoch must be finite and >= 1, got 0"):
        schedules.inverse_sqrt_decay(0.5, 0, 1)


def test_non_numeric_epochs_are_a_type_error():
    with pytest.raises(TypeError, match="epoch"):
        schedules.inverse_time_decay(0.5, "3", 1)
    with pytest.raises(TypeError, match="warmup_steps"):
        schedules.linear_warmup(3, 2.5)
