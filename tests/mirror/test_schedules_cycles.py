"""OneCycleLR, CosineAnnealingWarmRestarts and ConstantLR against torch.optim.lr_scheduler.

torch runs one optimizer with several param groups; each group is scheduled on its own,
so course_lib (one group per optimizer) runs one optimizer per group with that group's
settings. Every step the rate and the momentum (``momentum``, or ``betas``) of each group
must equal torch's, float for float.
"""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import optim, schedules

SOME = settings(max_examples=40, deadline=None)
OPTIMIZERS = ["SGD", "RMSprop", "Adam", "AdamW"]
unit = st.floats(0.0, 0.99)


def group_settings(name, lr, momentum, beta2):
    """One param group's settings for optimizer ``name``: momentum is β₁ for Adam and AdamW."""
    if name in ("SGD", "RMSprop"):
        return {"lr": lr, "momentum": momentum}
    return {"lr": lr, "betas": (momentum, beta2)}


def groups_of(name, n, lrs=st.floats(1e-4, 1.0)):
    """A strategy for ``n`` param groups of optimizer ``name``."""
    group = st.tuples(lrs, unit, unit).map(lambda g: group_settings(name, *g))
    return st.lists(group, min_size=n, max_size=n)


def state(group):
    """What a scheduler may change in one group: lr and momentum or betas."""
    return group["lr"], group.get("momentum"), tuple(group["betas"]) if "betas" in group else None


def torch_run(name, groups, make, steps):
    """Per group, the states after construction and after each of ``steps`` steps."""
    params = [torch.nn.Parameter(torch.zeros(1, dtype=torch.float64)) for _ in groups]
    opt = getattr(torch.optim, name)([{"params": [p], **g} for p, g in zip(params, groups)])
    sched = make(torch.optim.lr_scheduler, opt, None)
    out = [[state(g)] for g in opt.param_groups]
    for _ in range(steps):
        opt.step()
        sched.step()
        assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
        for seq, group in zip(out, opt.param_groups):
            seq.append(state(group))
    return out


def our_run(name, group, make, steps, index):
    opt = getattr(optim, name)([np.zeros(1)], **group)
    sched = make(schedules, opt, index)
    out = []
    for epoch in range(steps + 1):
        if epoch:
            sched.step()
        assert sched.get_last_lr() == [opt.lr] and type(opt.lr) is float
        out.append(state({"lr": opt.lr, **{key: getattr(opt, key) for key in group if key != "lr"}}))
    return out


def assert_same_as_torch(name, groups, make, steps):
    theirs = torch_run(name, groups, make, steps)
    for index, group in enumerate(groups):
        assert our_run(name, group, make, steps, index) == theirs[index], f"param group {index}"


def per_group(values, index):
    """torch gets the whole list; our optimizer for group ``index`` gets its value, as a
    one-item list for even groups and a plain number for odd ones (both forms are torch's)."""
    if index is None:
        return list(values)
    return [values[index]] if index % 2 == 0 else values[index]


# ------------------------------------------------------------------------- OneCycleLR


@settings(max_examples=80, deadline=None)
@given(
    name=st.sampled_from(OPTIMIZERS), data=st.data(), n_groups=st.integers(1, 3),
    epochs=st.integers(1, 30), steps_per_epoch=st.integers(1, 12), by_epochs=st.booleans(),
    pct_start=st.floats(0.0, 1.0), anneal_strategy=st.sampled_from(["cos", "linear"]),
    three_phase=st.booleans(), cycle_momentum=st.booleans(),
    div_factor=st.floats(1.0, 100.0), final_div_factor=st.floats(1.0, 1e5),
)
def test_one_cycle_matches_torch(name, data, n_groups, epochs, steps_per_epoch, by_epochs, **kwargs):
    groups = data.draw(groups_of(name, n_groups))
    max_lr, base_m, max_m = (data.draw(st.lists(values, min_size=n_groups, max_size=n_groups))
                             for values in [st.floats(1e-4, 10.0), unit, unit])
    total = epochs * steps_per_epoch
    length = dict(epochs=epochs, steps_per_epoch=steps_per_epoch) if by_epochs else dict(total_steps=total)

    def make(m, o, i):
        return m.OneCycleLR(o, per_group(max_lr, i), base_momentum=per_group(base_m, i),
                            max_momentum=per_group(max_m, i), **length, **kwargs)

    try:
        make(schedules, getattr(optim, name)([np.zeros(1)], **groups[0]), 0)
    except ValueError as refused:  # a phase of zero steps: torch divides by zero somewhere
        assert "zero steps" in str(refused)
        with pytest.raises(ZeroDivisionError):
            torch_run(name, groups, make, total)
        return
    assert_same_as_torch(name, groups, make, total)  # steps 0..total, the last one extrapolated


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_defaults_match_torch(name, three_phase):
    groups = [group_settings(name, 0.1, 0.9, 0.999), group_settings(name, 0.01, 0.0, 0.9)]
    def make(m, o, i):
        return m.OneCycleLR(o, per_group([0.5, 0.05], i), total_steps=200, three_phase=three_phase)

    assert_same_as_torch(name, groups, make, 200)


def test_one_cycle_refuses_a_step_past_total_steps_and_changes_nothing():
    opt = optim.SGD([np.zeros(1)], lr=0.1, momentum=0.9)
    sched = schedules.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="linear")
    for _ in range(10):
        sched.step()
    # torch's quirk, mirrored: step 10 lies past the last phase's end (step 9), so the
    # linear rate is extrapolated below min_lr, here below 0.
    before = (opt.lr, opt.momentum, sched.last_epoch)
    assert opt.lr < 0 and opt.momentum > 0.95
    with pytest.raises(ValueError, match="Tried to step 11 times. The specified number of total steps is 10"):
        sched.step()
    assert (opt.lr, opt.momentum, sched.last_epoch) == before


@pytest.mark.parametrize(
    "total_steps, pct_start, three_phase",
    [(10, 0.1, False), (10, 1.0, False), (20, 0.05, True), (9, 5 / 9, True)],
)
def test_a_phase_of_zero_steps_is_refused_where_torch_divides_by_zero(total_steps, pct_start, three_phase):
    kwargs = dict(total_steps=total_steps, pct_start=pct_start, three_phase=three_phase)
    make = lambda m, o, i: m.OneCycleLR(o, 1.0, **kwargs)  # noqa: E731
    with pytest.raises(ZeroDivisionError):
        torch_run("SGD", [{"lr": 0.1, "momentum": 0.9}], make, total_steps)
    opt = SimpleNamespace(lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="pct_start.*zero steps"):
        schedules.OneCycleLR(opt, 1.0, **kwargs)
    assert vars(opt) == {"lr": 0.1, "momentum": 0.9}


@pytest.mark.parametrize("name, steps", [("SGD", 60), ("Adam", 60), ("RMSprop", 60)])
def test_training_with_one_cycle_matches_torch(name, steps):
    """The optimizer uses the momentum the scheduler set at each step, as torch's does."""
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((steps, 5))
    kwargs = {"lr": 0.1, "momentum": 0.5} if name != "Adam" else {"lr": 0.1}
    ours = getattr(optim, name)([np.ones(5)], **kwargs)
    tensor = torch.ones(5, dtype=torch.float64, requires_grad=True)
    theirs = getattr(torch.optim, name)([tensor], **kwargs)
    pairs = [(schedules, ours), (torch.optim.lr_scheduler, theirs)]
    scheds = [m.OneCycleLR(o, max_lr=0.3, total_steps=steps) for m, o in pairs]
    for grad in grads:
        ours.step([grad.copy()])
        tensor.grad = torch.from_numpy(grad.copy())
        theirs.step()
        for sched in scheds:
            sched.step()
    # torch fuses some multiply-adds: agreement to rounding, not bit for bit (see test_optim).
    np.testing.assert_allclose(ours.params[0], tensor.detach().numpy(), rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------- CosineAnnealingWarmRestarts


@SOME
@given(name=st.sampled_from(OPTIMIZERS), data=st.data(), n_groups=st.integers(1, 3), T_0=st.integers(1, 40),
       T_mult=st.integers(1, 4), eta_min=st.floats(0.0, 1e-3))
def test_warm_restarts_match_torch(name, data, n_groups, T_0, T_mult, eta_min):
    groups = data.draw(groups_of(name, n_groups, lrs=st.floats(1e-3, 1.0)))
    make = lambda m, o, i: m.CosineAnnealingWarmRestarts(o, T_0, T_mult=T_mult, eta_min=eta_min)  # noqa: E731
    assert_same_as_torch(name, groups, make, 300)


def jump_both(T_0, T_mult, epochs):
    """Both schedulers through ``epochs`` (None: ``step()``, a number: ``step(epoch)``)."""
    param = torch.nn.Parameter(torch.zeros(1))
    torch_opt, opt = torch.optim.SGD([param], lr=0.1), SimpleNamespace(lr=0.1)
    pair = [m.CosineAnnealingWarmRestarts(o, T_0, T_mult, eta_min=0.001)
            for m, o in [(torch.optim.lr_scheduler, torch_opt), (schedules, opt)]]
    seen = []
    for epoch in epochs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch: step(epoch) is deprecated in general
            for sched in pair:
                sched.step(epoch)
        theirs, ours = ((s.get_last_lr()[0], s.T_cur, s.T_i, s.last_epoch) for s in pair)
        assert ours == theirs and opt.lr == torch_opt.param_groups[0]["lr"], epoch
        seen.append(ours)
    return seen


@SOME
@given(T_0=st.integers(1, 20), T_mult=st.integers(1, 4),
       epochs=st.lists(st.none() | st.integers(0, 400) | st.floats(0.0, 400.0), min_size=1, max_size=60))
def test_warm_restarts_step_to_an_epoch_matches_torch(T_0, T_mult, epochs):
    jump_both(T_0, T_mult, epochs)


def test_warm_restarts_rounded_logarithm_quirk():
    # Epoch 121 starts a cycle of T_0 = 1, T_mult = 3 (1 + 3 + 9 + 27 + 81 = 121), but
    # log_3(243) rounds to 4.999..., so torch puts it at the end of the previous one.
    (lr, T_cur, T_i, _), = jump_both(1, 3, [121])
    assert (T_cur, T_i, lr) == (81.0, 81, 0.001)
    (lr, T_cur, T_i, _), = jump_both(1, 3, [40])  # log_3(81) is exact: a restart at base_lr
    assert (T_cur, T_i, lr) == (0.0, 81, 0.1)


# ------------------------------------------------------------------------ ConstantLR


@SOME
@given(name=st.sampled_from(OPTIMIZERS), data=st.data(), n_groups=st.integers(1, 3),
       factor=st.floats(1e-3, 1.0), total_iters=st.integers(1, 60))
def test_constant_lr_matches_torch(name, data, n_groups, factor, total_iters):
    groups = data.draw(groups_of(name, n_groups))
    assert_same_as_torch(name, groups, lambda m, o, i: m.ConstantLR(o, factor, total_iters), 100)


def test_constant_lr_defaults_match_torch():
    assert_same_as_torch("SGD", [{"lr": 0.1, "momentum": 0.0}], lambda m, o, i: m.ConstantLR(o), 20)


@SOME
@given(name=st.sampled_from(OPTIMIZERS), warmup=st.integers(1, 30), stable=st.integers(1, 100),
       decay=st.integers(1, 60), start=st.floats(1e-3, 1.0), cosine=st.booleans())
def test_warmup_stable_decay_from_torch_parts_matches_torch(name, warmup, stable, decay, start, cosine):
    """Warmup-stable-decay as torch builds it: LinearLR up, ConstantLR(factor=1) flat, then
    LinearLR or CosineAnnealingLR down to 0."""
    def make(m, o, i):
        up = m.LinearLR(o, start, total_iters=warmup)
        flat = m.ConstantLR(o, factor=1.0, total_iters=stable)
        down = m.CosineAnnealingLR(o, T_max=decay) if cosine else m.LinearLR(o, 1.0, 0.0, total_iters=decay)
        parts = [up, flat, down]
        return m.SequentialLR(o, parts, milestones=[warmup, warmup + stable])

    groups = [group_settings(name, 0.1, 0.9, 0.99), group_settings(name, 0.003, 0.0, 0.9)]
    assert_same_as_torch(name, groups, make, warmup + stable + decay + 5)


@pytest.mark.parametrize("second", ["restarts", "constant", "one_cycle"])
def test_new_schedulers_inside_sequential_lr_match_torch(second):
    """At a milestone SequentialLR restarts the next scheduler from its closed form (torch:
    _get_closed_form_lr where there is one, else get_lr)."""
    def make(m, o, i):
        nxt = {"restarts": lambda: m.CosineAnnealingWarmRestarts(o, 7, 2, eta_min=1e-4),
               "constant": lambda: m.ConstantLR(o, 0.3, total_iters=4),
               "one_cycle": lambda: m.OneCycleLR(o, 0.4, total_steps=100)}[second]()
        return m.SequentialLR(o, [m.LinearLR(o, 0.1, total_iters=5), nxt], milestones=[8])

    assert_same_as_torch("SGD", [{"lr": 0.2, "momentum": 0.9}, {"lr": 0.05, "momentum": 0.5}], make, 90)


@pytest.mark.parametrize("build", [
    # torch reads the bounds kept on the optimizer when it resumes: a new max_lr is ignored.
    lambda m, o, i, e: m.OneCycleLR(o, per_group([0.5, 0.2] if e < 0 else [9.0, 9.0], i), total_steps=80,
                                    three_phase=True, last_epoch=e),
    lambda m, o, i, e: m.CosineAnnealingWarmRestarts(o, 6, 2, last_epoch=e),
    lambda m, o, i, e: m.ConstantLR(o, 0.25, total_iters=20, last_epoch=e),
])
def test_resuming_with_last_epoch_matches_torch(build):
    """After 15 steps a fresh scheduler is built with last_epoch=15 on the same optimizer
    (which keeps initial_lr and the cycle's bounds), as torch resumes from a checkpoint."""
    class Resumed:
        def __init__(self, m, o, i):
            self.sched, self.rebuild = build(m, o, i, -1), lambda: build(m, o, i, 15)

        def step(self):
            if self.sched.last_epoch == 15 and self.rebuild:
                self.sched, self.rebuild = self.rebuild(), None  # its constructor steps to 16
            else:
                self.sched.step()

        def get_last_lr(self):
            return self.sched.get_last_lr()

    groups = [group_settings("Adam", 0.1, 0.9, 0.99), group_settings("Adam", 0.02, 0.8, 0.9)]
    assert_same_as_torch("Adam", groups, Resumed, 60)


# ------------------------------------------------------------------------ bad input


def fresh():
    return SimpleNamespace(lr=0.1, momentum=0.9)


@pytest.mark.parametrize("build, error, match", [
    (lambda o: schedules.OneCycleLR(o, 0.1), ValueError, "total_steps OR"),
    (lambda o: schedules.OneCycleLR(o, 0.1, epochs=5), ValueError, "total_steps OR"),
    (lambda o: schedules.OneCycleLR(o, 0.1, total_steps=0), ValueError, "total_steps"),
    (lambda o: schedules.OneCycleLR(o, 0.1, total_steps=2.5), TypeError, "total_steps"),
    (lambda o: schedules.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=3), ValueError, "epochs"),
    (lambda o: schedules.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=-1), ValueError, "steps_per_epoch"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 100, pct_start=-0.1), ValueError, "pct_start"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 100, pct_start=1.1), ValueError, "pct_start"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 100, pct_start=float("nan")), ValueError, "pct_start"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 10, pct_start=0.1), ValueError, "zero steps"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 100, anneal_strategy="cosine"), ValueError, "anneal_strategy"),
    (lambda o: schedules.OneCycleLR(o, [0.1, 0.2], 100), ValueError, "max_lr must hold one value per"),
    (lambda o: schedules.OneCycleLR(o, [], 100), ValueError, "max_lr"),
    (lambda o: schedules.OneCycleLR(o, -0.1, 100), ValueError, "max_lr"),
    (lambda o: schedules.OneCycleLR(o, "0.1", 100), TypeError, "max_lr"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 100, base_momentum=[0.8, 0.85]), ValueError, "base_momentum"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 100, max_momentum=float("inf")), ValueError, "max_momentum"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 100, div_factor=0), ValueError, "div_factor"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 100, final_div_factor=-1e4), ValueError, "final_div_factor"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 100, three_phase="yes"), TypeError, "three_phase"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 100, cycle_momentum=1), TypeError, "cycle_momentum"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 100, last_epoch=-2), ValueError, "last_epoch"),
    (lambda o: schedules.OneCycleLR(o, 0.1, 100, last_epoch=5), ValueError, "last_epoch=5 resumes"),
    (lambda o: schedules.OneCycleLR(SimpleNamespace(lr=0.1), 0.1, 100), ValueError, "momentum or beta1"),
    (lambda o: schedules.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
    (lambda o: schedules.CosineAnnealingWarmRestarts(o, T_0=-3), ValueError, "T_0"),
    (lambda o: schedules.CosineAnnealingWarmRestarts(o, T_0=2.0), TypeError, "T_0"),
    (lambda o: schedules.CosineAnnealingWarmRestarts(o, 5, T_mult=0), ValueError, "T_mult"),
    (lambda o: schedules.CosineAnnealingWarmRestarts(o, 5, T_mult=1.5), TypeError, "T_mult"),
    (lambda o: schedules.CosineAnnealingWarmRestarts(o, 5, eta_min=-1e-3), ValueError, "eta_min"),
    (lambda o: schedules.CosineAnnealingWarmRestarts(o, 5, last_epoch=3), ValueError, "initial_lr"),
    (lambda o: schedules.ConstantLR(o, factor=0.0), ValueError, "factor"),
    (lambda o: schedules.ConstantLR(o, factor=1.5), ValueError, "factor"),
    (lambda o: schedules.ConstantLR(o, factor=float("nan")), ValueError, "factor"),
    (lambda o: schedules.ConstantLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: schedules.ConstantLR(o, last_epoch=1.0), TypeError, "last_epoch"),
])
def test_bad_arguments_are_refused_and_change_nothing(build, error, match):
    opt = fresh()
    with pytest.raises(error, match=match):
        build(opt)
    assert vars(opt) == {"lr": 0.1, "momentum": 0.9}


def test_a_refused_one_cycle_leaves_an_adam_as_it_was():
    opt = optim.Adam([np.zeros(2)], lr=0.1, betas=(0.9, 0.99))
    with pytest.raises(ValueError, match="anneal_strategy"):
        schedules.OneCycleLR(opt, 1.0, total_steps=50, anneal_strategy="cosine")
    assert (opt.lr, opt.betas) == (0.1, (0.9, 0.99))
    assert not hasattr(opt, "initial_lr") and not hasattr(opt, "max_lr")


def test_a_negative_epoch_is_refused_and_changes_nothing():
    opt = fresh()
    sched = schedules.CosineAnnealingWarmRestarts(opt, 5, 2)
    for _ in range(7):
        sched.step()
    before = (opt.lr, sched.T_cur, sched.T_i, sched.last_epoch)
    with pytest.raises(ValueError, match="epoch must be >= 0, got -1"):
        sched.step(-1)
    assert (opt.lr, sched.T_cur, sched.T_i, sched.last_epoch) == before
