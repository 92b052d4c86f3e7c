"""Learning-rate schedules: the textbook formulas and torch-compatible schedulers.

Two families live here.

* **Textbook formulas** (Andrew Ng's lecture, notebook 05) as pure functions of the
  epoch: ``inverse_time_decay``, ``staircase_decay``, ``exponential_decay``,
  ``inverse_sqrt_decay``, plus the ``cosine_annealing`` closed form and a
  ``linear_warmup`` multiplier. They accept a number or a NumPy array of epochs.
* **Schedulers** that mirror ``torch.optim.lr_scheduler`` (torch 2.13): ``LambdaLR``,
  ``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR``, ``CosineAnnealingWarmRestarts``,
  ``LinearLR``, ``ConstantLR``, ``OneCycleLR``, ``SequentialLR`` and
  ``ReduceLROnPlateau``. They work with any optimizer that has a mutable float
  attribute ``lr`` (``course_lib.optim``, or ``types.SimpleNamespace(lr=0.1)``) and
  reproduce torch's learning rates exactly, float for float: the chainable ones use
  torch's recursive update, not the closed form it approximates. A ``course_lib``
  optimizer is one torch parameter group: where torch takes one value per group
  (``max_lr``), a list must hold one value.

As in torch, constructing a scheduler performs its initial step (``optimizer.lr`` is
then the rate for epoch 0), each ``step()`` advances ``last_epoch`` by one, and the
first scheduler built on an optimizer records ``optimizer.initial_lr``, which every
scheduler on that optimizer takes as its ``base_lr``.
"""

import math
import operator
from bisect import bisect_right
from numbers import Integral, Real

import numpy as np

__all__ = [
    "inverse_time_decay",
    "staircase_decay",
    "exponential_decay",
    "inverse_sqrt_decay",
    "cosine_annealing",
    "linear_warmup",
    "LRScheduler",
    "LambdaLR",
    "StepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "ConstantLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "SequentialLR",
    "ReduceLROnPlateau",
]


# --------------------------------------------------------------------------- checks


def _number(name, value, *, minimum=None, maximum=None, above=None, below=None):
    """Return ``value`` as a float after checking it is a finite real number within
    the given bounds (``minimum``/``maximum`` inclusive, ``above``/``below`` strict)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    bounds = [(minimum, ">=", operator.ge), (maximum, "<=", operator.le),
              (above, ">", operator.gt), (below, "<", operator.lt)]
    for bound, symbol, holds in bounds:
        if bound is not None and not holds(value, bound):
            raise ValueError(f"{name} must be {symbol} {bound}, got {value!r}")
    return float(value)


def _integer(name, value, *, minimum):
    """Return ``value`` as an int after checking it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _epochs(name, epoch, *, minimum=0, why=""):
    """Check a number or an array of epochs: real, finite and >= ``minimum``."""
    values = np.asarray(epoch)
    if values.dtype == bool or not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
        raise TypeError(f"{name} must be a real number or an array of them, got {epoch!r}")
    bad = values[~(np.isfinite(values) & (values >= minimum))]
    if bad.size:
        raise ValueError(f"{name} must be finite and >= {minimum}, got {bad.flat[0].item()!r}{why}")
    return epoch


# ------------------------------------------------------------------ textbook formulas


def inverse_time_decay(lr0, epoch, decay_rate):
    """lr = lr0 / (1 + decay_rate · epoch).

    The lecture's first decay. (The Coursera assignment calls it "exponential decay";
    it is not: it falls like 1/epoch.)
    """
    lr0 = _number("lr0", lr0, minimum=0)
    decay_rate = _number("decay_rate", decay_rate, minimum=0)
    epoch = _epochs("epoch", epoch)
    return lr0 / (1 + decay_rate * epoch)


def staircase_decay(lr0, epoch, decay_rate, interval):
    """lr = lr0 / (1 + decay_rate · ⌊epoch / interval⌋): inverse-time decay that only
    moves every ``interval`` epochs.

    This is the "fixed interval scheduling" of the Coursera assignment "Optimization
    methods" (Deep Learning Specialization, course 2, week 2: ``schedule_lr_decay``); in
    torch, ``LambdaLR(opt, lambda e: 1 / (1 + decay_rate * (e // interval)))``. The
    lecture's "discrete staircase", which halves the rate every few epochs, is another
    schedule: ``StepLR(opt, step_size=interval, gamma=0.5)``.
    """
    lr0 = _number("lr0", lr0, minimum=0)
    decay_rate = _number("decay_rate", decay_rate, minimum=0)
    interval = _number("interval", interval, above=0)
    epoch = _epochs("epoch", epoch)
    return lr0 / (1 + decay_rate * (epoch // interval))


def exponential_decay(lr0, epoch, base=0.95):
    """lr = base^epoch · lr0 (``torch.optim.lr_scheduler.ExponentialLR(gamma=base)``)."""
    lr0 = _number("lr0", lr0, minimum=0)
    base = _number("base", base, minimum=0)
    epoch = _epochs("epoch", epoch)
    return base**epoch * lr0


def inverse_sqrt_decay(lr0, epoch, k):
    """lr = k / √epoch · lr0.

    Epochs count from 1 here: at epoch 0 the formula is infinite, so ``epoch < 1``
    raises ``ValueError``. With a scheduler whose epochs start at 0 (torch's
    ``LambdaLR``), use ``lambda e: inverse_sqrt_decay(1.0, e + 1, k)``.
    """
    lr0 = _number("lr0", lr0, minimum=0)
    k = _number("k", k, minimum=0)
    epoch = _epochs("epoch", epoch, minimum=1, why=" (k/√epoch is infinite at 0: count epochs from 1)")
    return k / np.sqrt(epoch) * lr0


def cosine_annealing(lr0, epoch, T_max, eta_min=0.0):
    """lr = eta_min + (lr0 − eta_min) · (1 + cos(π · epoch / T_max)) / 2.

    The SGDR closed form (Loshchilov & Hutter 2017, without restarts) that
    ``CosineAnnealingLR`` follows; past ``T_max`` the cosine goes back up.
    """
    lr0 = _number("lr0", lr0, minimum=0)
    T_max = _integer("T_max", T_max, minimum=1)
    eta_min = _number("eta_min", eta_min, minimum=0)
    epoch = _epochs("epoch", epoch)
    return eta_min + (lr0 - eta_min) * (1 + np.cos(np.pi * epoch / T_max)) / 2


def linear_warmup(step, warmup_steps):
    """Warm-up multiplier min(1, (step + 1) / warmup_steps) for steps counted from 0.

    The first step already uses lr / warmup_steps (a zero rate would waste it), and
    from step ``warmup_steps − 1`` on the multiplier is 1. It equals torch's
    ``LinearLR(start_factor=1 / warmup_steps, total_iters=warmup_steps − 1)``.
    """
    warmup_steps = _integer("warmup_steps", warmup_steps, minimum=1)
    step = _epochs("step", step)
    return np.minimum(1.0, (step + 1) / warmup_steps)


# ------------------------------------------------------------------------ schedulers


def _check_optimizer(optimizer):
    lr = getattr(optimizer, "lr", None)
    if isinstance(lr, bool) or not isinstance(lr, Real):
        raise TypeError(
            f"optimizer must have a real-number attribute 'lr', got {type(optimizer).__name__} "
            f"with lr={lr!r}"
        )


class LRScheduler:
    """What the epoch-based schedulers share (torch's ``LRScheduler``).

    Holds ``optimizer``, ``base_lr`` (the optimizer's ``initial_lr``) and
    ``last_epoch``. ``step()`` advances ``last_epoch`` and sets ``optimizer.lr`` to
    ``_next_lr(optimizer.lr)``; the constructor takes that first step, to epoch 0.
    Subclasses check their arguments before calling ``super().__init__`` so that a
    bad argument leaves the optimizer untouched. ``last_epoch=k >= 0`` resumes a run
    as torch does: the optimizer must carry the first run's ``initial_lr``, and the
    constructor steps from the current rate to epoch k + 1.
    """

    def __init__(self, optimizer, last_epoch=-1):
        _check_optimizer(optimizer)
        last_epoch = _integer("last_epoch", last_epoch, minimum=-1)
        if last_epoch >= 0 and not hasattr(optimizer, "initial_lr"):
            raise ValueError(f"last_epoch={last_epoch} resumes a schedule, but the optimizer has no "
                             "'initial_lr' from the first run (use last_epoch=-1 to start one)")
        if not hasattr(optimizer, "initial_lr"):  # torch: group.setdefault("initial_lr", lr)
            optimizer.initial_lr = float(optimizer.lr)
        self.optimizer = optimizer
        self.base_lr = optimizer.initial_lr
        self.last_epoch = last_epoch
        self.step()

    @property
    def base_lrs(self):
        """torch's name: one base rate per parameter group (here there is one group)."""
        return [self.base_lr]

    def step(self):
        """Advance one epoch and set ``optimizer.lr`` to that epoch's rate."""
        self.last_epoch += 1
        self._set_lr(self._next_lr(self.optimizer.lr))

    def get_last_lr(self):
        """The rate the last step set, as a list with one float (like torch)."""
        return list(self._last_lr)

    def _set_lr(self, lr):
        self.optimizer.lr = float(lr)
        self._last_lr = [self.optimizer.lr]

    def _next_lr(self, lr):
        """The rate for ``last_epoch``, given the current rate ``lr``."""
        raise NotImplementedError

    def _closed_form_lr(self):
        """The rate for ``last_epoch`` from ``base_lr`` alone (used by ``SequentialLR``)."""
        raise NotImplementedError


class LambdaLR(LRScheduler):
    """lr = base_lr · lr_lambda(epoch)."""

    def __init__(self, optimizer, lr_lambda):
        if not callable(lr_lambda):
            raise TypeError(f"lr_lambda must be callable, got {lr_lambda!r}")
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def _next_lr(self, lr):
        return self._closed_form_lr()

    def _closed_form_lr(self):
        return self.base_lr * self.lr_lambda(self.last_epoch)


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs.

    Closed form: lr = base_lr · gamma^⌊epoch / step_size⌋. Like torch, ``step()``
    multiplies the current rate (chainable form), so it composes with other changes.
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = _integer("step_size", step_size, minimum=1)
        self.gamma = _number("gamma", gamma, minimum=0)
        super().__init__(optimizer)

    def _next_lr(self, lr):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lr
        return lr * self.gamma

    def _closed_form_lr(self):
        return self.base_lr * self.gamma ** (self.last_epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch.

    torch's recursive form lr_t = gamma · lr_{t−1} equals the closed form
    lr_t = gamma^t · base_lr (``exponential_decay``) up to rounding: t products
    instead of one power (measured: within 5e-15 relative over 1000 epochs).
    """

    def __init__(self, optimizer, gamma):
        self.gamma = _number("gamma", gamma, minimum=0)
        super().__init__(optimizer)

    def _next_lr(self, lr):
        return lr if self.last_epoch == 0 else lr * self.gamma

    def _closed_form_lr(self):
        return self.base_lr * self.gamma**self.last_epoch


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from base_lr down to ``eta_min`` over ``T_max`` epochs.

    Closed form (``cosine_annealing``):
        lr_t = eta_min + (base_lr − eta_min) · (1 + cos(π t / T_max)) / 2.
    torch steps it recursively, as the ratio of consecutive closed-form values,
        lr_t = eta_min + (lr_{t−1} − eta_min) · (1 + cos(π t / T_max)) / (1 + cos(π (t−1) / T_max)),
    which telescopes to the closed form and keeps changes made to the rate by others.
    Where the denominator is 0 (t − 1 = T_max, 3 T_max, …; the rate sits at eta_min)
    it adds the closed-form increment instead. The schedule does not stop at T_max:
    the cosine climbs back up after it. Measured against the closed form: within
    ~1e-14 relative up to T_max; past it rounding errors add up, to ~4e-12 relative
    by epoch 3·T_max for T_max = 1000.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max = _integer("T_max", T_max, minimum=1)
        self.eta_min = _number("eta_min", eta_min, minimum=0)
        super().__init__(optimizer)

    def _next_lr(self, lr):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if t == 0:
            return lr
        if (t - 1 - T) % (2 * T) == 0:
            return lr + (self.base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
        return (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (
            lr - eta_min
        ) + eta_min

    def _closed_form_lr(self):
        return float(cosine_annealing(self.base_lr, self.last_epoch, self.T_max, self.eta_min))


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov & Hutter 2017): cosine annealing that restarts at base_lr.

    lr = eta_min + (base_lr − eta_min) · (1 + cos(π · T_cur / T_i)) / 2, where T_cur counts
    the epochs since the last restart and the i-th cycle lasts T_i = T_0 · T_mult^i epochs.
    Not chainable: each step takes the closed form. ``step(epoch)`` jumps to a (float)
    epoch, e.g. ``step(epoch + batch / batches)`` within an epoch, with torch's formula
    for the cycle: n = ⌊log_{T_mult}(1 + epoch · (T_mult − 1) / T_0)⌋. That logarithm is
    rounded, so at some restarts (T_0 = 1, T_mult = 3: epoch 121) torch, and so this
    mirror, places the epoch at the end of the previous cycle (lr = eta_min) instead of
    the start of the next (base_lr). As in torch, ``last_epoch=k`` resumes with T_cur = k,
    which is the true position only while no restart has lengthened the cycles.
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        self.T_0 = self.T_i = _integer("T_0", T_0, minimum=1)
        self.T_mult = _integer("T_mult", T_mult, minimum=1)
        self.eta_min = _number("eta_min", eta_min, minimum=0)
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def step(self, epoch=None):
        """Advance one epoch, or go to ``epoch`` (a number >= 0) if given."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur, self.T_i = self.T_cur % self.T_i, self.T_i * self.T_mult
            self.last_epoch += 1
        else:
            _number("epoch", epoch, minimum=0)  # checked, then used as given, as torch does
            T_0, T_mult = self.T_0, self.T_mult
            if epoch < T_0:
                self.T_i, self.T_cur = T_0, epoch
            elif T_mult == 1:
                self.T_cur = epoch % T_0
            else:
                n = int(math.log(epoch / T_0 * (T_mult - 1) + 1, T_mult))
                self.T_cur = epoch - T_0 * (T_mult**n - 1) / (T_mult - 1)
                self.T_i = T_0 * T_mult**n
            self.last_epoch = math.floor(epoch)
        self._set_lr(self._closed_form_lr())

    def _closed_form_lr(self):
        eta_min = self.eta_min
        return eta_min + (self.base_lr - eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2


class LinearLR(LRScheduler):
    """Scale the rate by a factor that moves linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` epochs, then stays (torch's warm-up tool).

    Closed form: lr_t = base_lr · (s + (e − s) · min(t, total_iters) / total_iters).
    torch multiplies the current rate by the ratio of consecutive factors,
    1 + (e − s) / (total_iters · s + (t − 1)(e − s)), which telescopes to it.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        self.start_factor = _number("start_factor", start_factor, above=0, maximum=1)
        self.end_factor = _number("end_factor", end_factor, minimum=0, maximum=1)
        self.total_iters = _integer("total_iters", total_iters, minimum=1)
        super().__init__(optimizer)

    def _next_lr(self, lr):
        t, s, e = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return lr * s
        if t > self.total_iters:
            return lr
        return lr * (1.0 + (e - s) / (self.total_iters * s + (t - 1) * (e - s)))

    def _closed_form_lr(self):
        s, e = self.start_factor, self.end_factor
        return self.base_lr * (s + (e - s) * min(self.total_iters, self.last_epoch) / self.total_iters)


class ConstantLR(LRScheduler):
    """Scale the rate by ``factor`` for the first ``total_iters`` epochs, then restore it.

    Closed form: lr_t = base_lr · factor for t < total_iters, base_lr after. torch's
    chainable form multiplies by ``factor`` at epoch 0 and by 1 / factor at epoch
    ``total_iters``. ``factor=1.0`` is the flat middle of warmup-stable-decay:
    ``SequentialLR(opt, [LinearLR(...), ConstantLR(opt, 1.0), LinearLR(opt, 1.0, 0.0, n)], ...)``.
    torch accepts factor = 0 but then divides by zero at ``total_iters``, and with
    total_iters = 0 it never restores the rate; both are refused here.
    """

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        self.factor = _number("factor", factor, above=0, maximum=1)
        self.total_iters = _integer("total_iters", total_iters, minimum=1)
        super().__init__(optimizer, last_epoch)

    def _next_lr(self, lr):
        if self.last_epoch == 0:
            return lr * self.factor
        if self.last_epoch != self.total_iters:
            return lr
        return lr * (1.0 / self.factor)

    def _closed_form_lr(self):
        return self.base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))


def _one_per_group(name, value, **bounds):
    """A number, or torch's one-value-per-param-group list, which here holds one value."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(f"{name} must hold one value per parameter group (a course_lib "
                             f"optimizer is one group), got {len(value)} values: {value!r}")
        value = value[0]
    return _number(name, value, **bounds)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2019), stepped once per batch for ``total_steps``.

    The rate climbs from initial_lr = max_lr / div_factor to ``max_lr`` over the first
    pct_start · total_steps steps, then anneals to min_lr = initial_lr / final_div_factor
    at step total_steps − 1; ``three_phase=True`` comes back down to initial_lr
    symmetrically before a last phase to min_lr. Within a phase running from step s₀ to
    s₁, with p = (t − s₀) / (s₁ − s₀): ``"cos"`` gives end + (start − end) · (1 + cos πp) / 2,
    ``"linear"`` gives start + (end − start) · p. Momentum (SGD's and RMSprop's
    ``momentum``, or β₁ of Adam's ``betas``) moves the opposite way, between
    ``max_momentum`` and ``base_momentum``; as in torch, an SGD without momentum gets it.

    Like torch: the steps are t = 0 … total_steps, so the last one lies past s₁ and
    extrapolates (a "linear" rate goes below min_lr, even negative) and one more raises
    (here before anything changes); initial_lr is overwritten on the optimizer and the
    bounds are kept there (max_lr, min_lr, max_momentum, base_momentum: torch keeps them
    in the param group) so that ``last_epoch=k`` can resume. A phase of zero steps, where
    torch divides by zero mid-run (pct_start · total_steps = 1, or pct_start = 1), is refused.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        _check_optimizer(optimizer)
        last_epoch = _integer("last_epoch", last_epoch, minimum=-1)
        if total_steps is not None:
            total_steps = _integer("total_steps", total_steps, minimum=1)
        elif epochs is not None and steps_per_epoch is not None:
            total_steps = (_integer("epochs", epochs, minimum=1)
                           * _integer("steps_per_epoch", steps_per_epoch, minimum=1))
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch), "
                             f"got total_steps={total_steps!r}, epochs={epochs!r}, "
                             f"steps_per_epoch={steps_per_epoch!r}")
        pct_start = _number("pct_start", pct_start, minimum=0, maximum=1)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        for name, flag in [("cycle_momentum", cycle_momentum), ("three_phase", three_phase)]:
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        max_lr = _one_per_group("max_lr", max_lr, minimum=0)
        max_momentum = _one_per_group("max_momentum", max_momentum, minimum=0)
        base_momentum = _one_per_group("base_momentum", base_momentum, minimum=0)
        div_factor = _number("div_factor", div_factor, above=0)
        final_div_factor = _number("final_div_factor", final_div_factor, above=0)
        if cycle_momentum and not (hasattr(optimizer, "momentum") or hasattr(optimizer, "betas")):
            raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option "
                             f"enabled: {type(optimizer).__name__} has no 'momentum' or 'betas' "
                             "(pass cycle_momentum=False)")
        end = float(pct_start * total_steps) - 1
        if three_phase:
            self._phases = [(end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr",
                             "base_momentum", "max_momentum"),
                            (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._phases = [(end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        if end == 0 or self._phases[-1][0] == self._phases[-2][0]:
            raise ValueError(f"pct_start={pct_start!r} with total_steps={total_steps} gives a phase "
                             "of zero steps (torch divides by zero in it)")
        keep = ["initial_lr", "max_lr", "min_lr"] + ["max_momentum", "base_momentum"] * cycle_momentum
        if last_epoch >= 0 and not all(hasattr(optimizer, name) for name in keep):
            raise ValueError(f"last_epoch={last_epoch!r} resumes a cycle, but the optimizer lacks "
                             f"some of {keep} from the first run")
        self.total_steps, self.anneal_strategy = total_steps, anneal_strategy
        self.cycle_momentum, self.use_beta1 = cycle_momentum, hasattr(optimizer, "betas")
        if last_epoch == -1:
            optimizer.initial_lr = max_lr / div_factor
            optimizer.max_lr, optimizer.min_lr = max_lr, optimizer.initial_lr / final_div_factor
            if cycle_momentum:
                optimizer.max_momentum, optimizer.base_momentum = max_momentum, base_momentum
        super().__init__(optimizer, last_epoch)

    def step(self):
        """Advance one batch; past ``total_steps`` raise, like torch, changing nothing."""
        if self.last_epoch + 1 > self.total_steps:
            raise ValueError(f"Tried to step {self.last_epoch + 1} times. "
                             f"The specified number of total steps is {self.total_steps}")
        super().step()

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _set_momentum(self, momentum):
        if self.use_beta1:
            self.optimizer.betas = (momentum, *self.optimizer.betas[1:])
        else:
            self.optimizer.momentum = momentum

    def _next_lr(self, lr):
        start_step, o = 0.0, self.optimizer
        for i, (end_step, lr0, lr1, momentum0, momentum1) in enumerate(self._phases):
            if self.last_epoch <= end_step or i == len(self._phases) - 1:
                pct = (self.last_epoch - start_step) / (end_step - start_step)
                break
            start_step = end_step
        if self.cycle_momentum:
            self._set_momentum(self._anneal(getattr(o, momentum0), getattr(o, momentum1), pct))
        return self._anneal(getattr(o, lr0), getattr(o, lr1), pct)

    def _closed_form_lr(self):
        return self._next_lr(None)


class SequentialLR:
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]``, and so on.

    The usual use is warm-up then cosine::

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        cosine = CosineAnnealingLR(opt, T_max=95)
        sched = SequentialLR(opt, [warmup, cosine], milestones=[5])

    As in torch, construction resets ``optimizer.lr`` to ``optimizer.initial_lr`` and
    restarts the first scheduler at epoch 0; at each milestone the next scheduler
    restarts at its epoch 0 from its closed form (so from base_lr, not from wherever
    the previous one left the rate).
    """

    def __init__(self, optimizer, schedulers, milestones):
        _check_optimizer(optimizer)
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("schedulers must hold at least one scheduler, got []")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau) or not isinstance(scheduler, LRScheduler):
                raise TypeError(
                    f"schedulers[{i}] must be an epoch-based scheduler such as StepLR "
                    f"(not ReduceLROnPlateau or SequentialLR), got {type(scheduler).__name__}"
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"schedulers[{i}] belongs to another optimizer than optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"milestones must hold len(schedulers) - 1 = {len(schedulers) - 1} epochs, "
                f"got {milestones!r}"
            )
        for m in milestones:
            _integer("milestones", m, minimum=1)
        if milestones != sorted(set(milestones)):
            raise ValueError(f"milestones must be strictly increasing, got {milestones!r}")
        self.optimizer = optimizer
        self.schedulers = schedulers
        self.milestones = milestones
        self.last_epoch = 0
        optimizer.lr = optimizer.initial_lr
        for scheduler in schedulers:
            scheduler.last_epoch -= 1  # undo the initial step each took when it was built
        schedulers[0].step()
        self._last_lr = schedulers[0].get_last_lr()

    def step(self):
        """Advance one epoch, in whichever scheduler owns it."""
        self.last_epoch += 1
        index = bisect_right(self.milestones, self.last_epoch)
        scheduler = self.schedulers[index]
        if index > 0 and self.milestones[index - 1] == self.last_epoch:
            scheduler.last_epoch = 0
            scheduler._set_lr(scheduler._closed_form_lr())
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def get_last_lr(self):
        """The rate the last step set, as a list with one float (like torch)."""
        return list(self._last_lr)


class ReduceLROnPlateau:
    """Multiply the rate by ``factor`` when a metric has stopped improving.

    ``step(metrics)`` once per epoch with the monitored value. A value is an
    improvement when it beats ``best`` by more than the threshold:
    ``mode='min'``: below best·(1 − threshold) (``'rel'``) or best − threshold (``'abs'``);
    ``mode='max'``: above best·(1 + threshold) or best + threshold. After more than
    ``patience`` epochs in a row without one, lr ← max(lr · factor, min_lr) (skipped
    when that changes lr by no more than ``eps``), and for ``cooldown`` epochs after a
    cut bad epochs are not counted. A NaN metric counts as a bad epoch, as in torch.
    Unlike the other schedulers it takes no initial step and keeps no base_lr.
    """

    def __init__(
        self,
        optimizer,
        mode="min",
        factor=0.1,
        patience=10,
        threshold=1e-4,
        threshold_mode="rel",
        cooldown=0,
        min_lr=0,
        eps=1e-8,
    ):
        _check_optimizer(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.factor = _number("factor", factor, minimum=0, below=1)
        self.patience = _integer("patience", patience, minimum=0)
        self.threshold = _number("threshold", threshold, minimum=0)
        self.cooldown = _integer("cooldown", cooldown, minimum=0)
        self.min_lr = _number("min_lr", min_lr, minimum=0)
        self.eps = _number("eps", eps, minimum=0)
        self.mode, self.threshold_mode = mode, threshold_mode
        self.optimizer = optimizer
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = [float(optimizer.lr)]

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def is_better(self, current, best):
        """Whether ``current`` improves on ``best`` by more than the threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return current < best * (1.0 - self.threshold)
        if self.mode == "min":
            return current < best - self.threshold
        if self.threshold_mode == "rel":
            return current > best * (self.threshold + 1.0)
        return current > best + self.threshold

    def step(self, metrics):
        """Record this epoch's metric and cut the rate if it has plateaued."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [float(self.optimizer.lr)]

    def _reduce_lr(self):
        old_lr = float(self.optimizer.lr)
        new_lr = max(old_lr * self.factor, self.min_lr)
        if old_lr - new_lr > self.eps:
            self.optimizer.lr = new_lr

    def get_last_lr(self):
        """The optimizer's rate after the last step, as a list with one float (like torch)."""
        return list(self._last_lr)
