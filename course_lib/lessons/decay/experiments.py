"""Notebook 05, learning-rate decay: why decay helps, shown by mini-batch SGD on a noisy least-squares
problem.

A seeded linear regression whose mini-batch gradients are noisy, a vectorised SGD loop that runs
many learning-rate sequences (and seeds) at once along a leading "run" axis, and the theory of
the noise floor that a constant learning rate cannot get below::

    from course_lib.lessons import decay as lesson
    problem = lesson.noisy_regression()
    lrs = lesson.schedule_lrs("inverse time", lr0=0.2, epochs=60, decay_rate=1.0)
    runs = lesson.run_sgd(problem, np.tile(lrs[:, None], (1, 8)), seed=0)   # 8 runs
    runs.excess_loss            # (61, 8): F(w) − F(w*) after each epoch, the start first
    problem.predicted_floor(0.1)

The floor: on a quadratic with Hessian H, SGD with constant step lr and gradient noise of
covariance S at the minimum settles where, in each eigendirection i of H (curvature h_i),
E[excess loss] = lr · S_ii / (2 (2 − lr h_i)) ≈ lr · S_ii / 4: proportional to lr. For this
problem S ≈ (noise variance) · H / batch_size; multiplicative noise (the gradient noise also
depends on w) adds a little, so the prediction is close, not exact.
"""

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from course_lib import schedules
from course_lib.lab.regression import minibatches, RegressionProblem
from course_lib.optim import descend_

# --------------------------------------------------------------------------------------------------
# The noisy regression, and SGD under many schedules at once
# --------------------------------------------------------------------------------------------------

DIVERGENCE_BOUND = 1e6
"""A run has diverged once a weight leaves [−DIVERGENCE_BOUND, DIVERGENCE_BOUND] or is not finite."""


@dataclass(frozen=True)
class SGDRuns:
    """R runs of ``run_sgd``: excess_loss (epochs + 1, R), the start first, NaN from a run's
    divergence on; lrs (epochs, R), the rate of each epoch; diverged_at: per run, the first
    epoch after which the run had diverged, or None; final_w (R, d), the last weights (0 for a
    diverged run)."""

    excess_loss: np.ndarray
    lrs: np.ndarray
    diverged_at: tuple
    final_w: np.ndarray

    def __getitem__(self, runs: slice) -> "SGDRuns":
        """The runs ``runs`` (a slice of the run axis) on their own."""
        return SGDRuns(self.excess_loss[:, runs], self.lrs[:, runs], self.diverged_at[runs], self.final_w[runs])

    def summary(self, run: int | None = None) -> str:
        """'diverged at epoch k' or 'final excess loss …' (the mean over runs unless ``run`` is given)."""
        runs = range(self.excess_loss.shape[1]) if run is None else [run]
        diverged = [self.diverged_at[r] for r in runs if self.diverged_at[r] is not None]
        if diverged:
            return f"diverged at epoch {min(diverged)}"
        return f"final excess loss {np.mean(self.excess_loss[-1, list(runs)]):.2g}"


def run_sgd(problem: RegressionProblem, lrs, seed: int = 0, start=None, batch_runs: int | None = None) -> SGDRuns:
    """Mini-batch SGD from w = 0, R runs at once: w ← w − lr·g, the update of
    ``course_lib.optim.SGD`` without momentum (its function ``descend_``, called directly to skip
    the per-step checks of the class).

    lrs: (epochs, R), the learning rate of every epoch of every run (held for the epoch's
    ``problem.steps_per_epoch`` steps, as torch's epoch schedulers do); or a callable
    ``lrs(epoch, excess_loss_so_far) -> (R,)`` with ``epochs`` taken from ``lrs.epochs`` (for a
    rate that reacts to the loss, like ``ReduceLROnPlateau``). Each run draws its own
    mini-batches (with replacement) from ``minibatches(problem, R, seed)``; with ``batch_runs``
    = S, the batches of ``minibatches(problem, S, seed)`` are repeated along the run axis (run r sees
    those of run r mod S), so that K settings of S runs each give, side by side, what each gives alone.
    """
    if callable(lrs):
        schedule, epochs, runs = lrs, int(lrs.epochs), int(lrs.runs)
    else:
        table = np.asarray(lrs, dtype=float)
        if table.ndim != 2 or not np.all(np.isfinite(table) & (table >= 0)):
            raise ValueError(f"lrs must be an (epochs, R) array of finite rates >= 0, got shape {table.shape}")
        schedule, (epochs, runs) = (lambda epoch, _: table[epoch]), table.shape
    if batch_runs is not None and not (isinstance(batch_runs, Integral) and batch_runs >= 1 and runs % batch_runs == 0):
        raise ValueError(f"batch_runs must be a positive divisor of the number of runs ({runs}), got {batch_runs!r}")
    batch_stream = minibatches(problem, batch_runs or runs, seed)
    n, d = problem.X.shape
    w = np.zeros((runs, d)) if start is None else np.array(np.broadcast_to(start, (runs, d)), dtype=float)
    excess = np.full((epochs + 1, runs), np.nan)
    excess[0] = problem.excess_loss(w)
    used = np.zeros((epochs, runs))
    alive = np.ones(runs, dtype=bool)
    diverged_at = [None] * runs
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(epochs):
            used[epoch] = np.asarray(schedule(epoch, excess[: epoch + 1]), dtype=float)
            lr = np.where(alive, used[epoch], 0.0)[:, None]
            batches = next(batch_stream)
            if batch_runs:
                batches = np.tile(batches, (1, runs // batch_runs, 1))
            X_epoch, y_epoch = problem.X[batches], problem.y[batches]  # one gather per epoch: faster
            for Xb, yb in zip(X_epoch, y_epoch):  # Xb (R, B, d): each run's batch; matmul runs them all
                residuals = (Xb @ w[:, :, None])[..., 0] - yb                    # x_iᵀw − y_i
                descend_(w, (residuals[:, None, :] @ Xb)[:, 0] / problem.batch_size, lr)  # mean of r_i·x_i
            excess[epoch + 1] = problem.excess_loss(w)
            newly = alive & ~(np.isfinite(excess[epoch + 1]) & np.all(np.abs(w) <= DIVERGENCE_BOUND, axis=1))
            for run in np.flatnonzero(newly):
                diverged_at[run] = epoch + 1
            alive &= ~newly
            w[~alive] = 0.0  # keep the dead runs' arithmetic finite; their losses stay NaN
            excess[epoch + 1, ~alive] = np.nan
            if not alive.any():
                break
    return SGDRuns(excess, used, tuple(diverged_at), w)


class PlateauRates:
    """``ReduceLROnPlateau`` for ``run_sgd``: one ``course_lib.schedules.ReduceLROnPlateau`` per run,
    each stepped at the end of every epoch with its run's training loss F(w) (what one would
    monitor in practice). Pass it as ``lrs``: ``run_sgd(problem, PlateauRates(problem, 0.2, 8, 60))``.
    """

    def __init__(self, problem: RegressionProblem, lr0: float, runs: int, epochs: int, **settings):
        import types

        self.problem, self.runs, self.epochs = problem, int(runs), int(epochs)
        self.optimizers = [types.SimpleNamespace(lr=float(lr0)) for _ in range(self.runs)]
        self.schedulers = [schedules.ReduceLROnPlateau(opt, **settings) for opt in self.optimizers]

    def __call__(self, epoch: int, excess_so_far: np.ndarray) -> np.ndarray:
        if epoch > 0:
            for scheduler, excess in zip(self.schedulers, excess_so_far[-1]):
                scheduler.step(excess + self.problem.loss_opt)
        return np.array([opt.lr for opt in self.optimizers])


SCHEDULES = ("constant", "inverse time", "fixed interval", "exponential", "inverse sqrt", "StepLR", "cosine",
             "warm-up + cosine", "one-cycle", "warm restarts", "warmup-stable-decay")
"""The schedules that ``schedule_lrs`` (and the ScheduleExplorer) know, by name."""


def _cosine_between(start, end, fraction):
    """From ``start`` (fraction 0) to ``end`` (fraction 1) along half a cosine wave."""
    return end + (start - end) * (1 + np.cos(np.pi * fraction)) / 2


def one_cycle(max_lr: float, steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4, max_momentum: float = 0.95, base_momentum: float = 0.85):
    """(rates, momenta) of steps 0 … steps − 1 of torch's ``OneCycleLR(total_steps=steps)`` with its
    default two cosine phases: the rate climbs from max_lr / div_factor to max_lr until step
    s = pct_start · steps − 1, then falls to max_lr / (div_factor · final_div_factor) at the last
    step; momentum (β₁ for Adam) moves the other way, max_momentum → base_momentum → max_momentum."""
    t, peak = np.arange(steps, dtype=float), float(pct_start * steps) - 1
    up = t <= peak
    fraction = np.where(up, t / peak, (t - peak) / (steps - 1 - peak))
    low, high = max_lr / div_factor, max_lr
    rates = np.where(up, _cosine_between(low, high, fraction), _cosine_between(high, low / final_div_factor, fraction))
    momenta = np.where(up, _cosine_between(max_momentum, base_momentum, fraction),
                       _cosine_between(base_momentum, max_momentum, fraction))
    return rates, momenta


def warm_restarts(lr0: float, epochs: int, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> np.ndarray:
    """SGDR, torch's ``CosineAnnealingWarmRestarts``: cosine from lr0 to eta_min over T_0 epochs,
    then back to lr0 at once (a warm restart) for a cycle T_mult times as long, and so on."""
    cycle_start, length, position = 0, T_0, np.zeros(epochs)
    cycle_length = np.zeros(epochs)
    for epoch in range(epochs):
        if epoch - cycle_start == length:
            cycle_start, length = epoch, length * T_mult
        position[epoch], cycle_length[epoch] = epoch - cycle_start, length
    return _cosine_between(lr0, eta_min, position / cycle_length)


def warmup_stable_decay(lr0: float, epochs: int, warmup: int, cooldown: int) -> np.ndarray:
    """Warmup-stable-decay over ``epochs``: a linear warm-up from lr0 / warmup to lr0 over ``warmup``
    epochs, lr0 held flat, then a linear cool-down over the last ``cooldown`` epochs towards 0
    (reached one epoch after the budget). In torch, ``SequentialLR`` of ``LinearLR``,
    ``ConstantLR(factor=1)`` and ``LinearLR(end_factor=0, total_iters=cooldown)``."""
    for name, value, most in (("warmup", warmup, epochs - 2), ("cooldown", cooldown, epochs - 1 - warmup)):
        if isinstance(value, bool) or not isinstance(value, Integral) or not 1 <= value <= most:
            raise ValueError(f"{name} must be an integer from 1 to {most} (a flat phase of at least one epoch "
                             f"between warm-up and cool-down), got {value!r}")
    e = np.arange(epochs)
    start, stable_end = 1.0 / warmup, epochs - cooldown
    ramp = lr0 * (start + (1 - start) * np.minimum(e, warmup) / warmup)
    return np.where(e < stable_end, ramp, lr0 * (1 - (e - stable_end) / cooldown))


def schedule_lrs(name: str, lr0: float, epochs: int, decay_rate: float = 1.0, gamma: float = 0.9,
                 interval: int = 10, warmup: int = 5, T_mult: int = 2) -> np.ndarray:
    """The learning rate of epochs 0 … epochs − 1 under a named schedule, from the closed forms
    of ``course_lib.schedules`` (equal to torch's schedulers, see notebook 05):

    constant: lr0; inverse time: lr0 / (1 + decay_rate·e); fixed interval (the Coursera assignment's
    fixed-interval scheduling): lr0 / (1 + decay_rate·⌊e/interval⌋); exponential: gamma^e · lr0
    (``ExponentialLR``); inverse sqrt: lr0 / √(e + 1), epochs counted from 1; StepLR: lr0 ·
    gamma^⌊e/interval⌋, with gamma = 0.5 the lecture's discrete staircase; cosine:
    ``CosineAnnealingLR(T_max=epochs)``;
    warm-up + cosine: ``LinearLR(start_factor=1/warmup, total_iters=warmup)`` for ``warmup``
    epochs, then ``CosineAnnealingLR(T_max=epochs − warmup)`` (torch's ``SequentialLR``);
    one-cycle: ``OneCycleLR(max_lr=lr0, total_steps=epochs)``, stepped once per epoch;
    warm restarts: ``CosineAnnealingWarmRestarts(T_0=interval, T_mult=T_mult)``;
    warmup-stable-decay: ``warmup`` epochs of warm-up, then flat, then a linear cool-down over the
    last ``interval`` epochs (``warmup_stable_decay``).
    """
    if name not in SCHEDULES:
        raise ValueError(f"Unknown schedule: name={name!r} (known: {', '.join(SCHEDULES)})")
    if isinstance(epochs, bool) or not isinstance(epochs, Integral) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    e = np.arange(epochs)
    if name == "constant":
        return np.full(epochs, float(lr0))
    if name == "inverse time":
        return schedules.inverse_time_decay(lr0, e, decay_rate)
    if name == "fixed interval":
        return schedules.staircase_decay(lr0, e, decay_rate, interval)
    if name == "exponential":
        return schedules.exponential_decay(lr0, e, gamma)
    if name == "inverse sqrt":
        return schedules.inverse_sqrt_decay(lr0, e + 1, 1.0)
    if name == "StepLR":
        return lr0 * gamma ** (e // interval)
    if name == "cosine":
        return schedules.cosine_annealing(lr0, e, epochs)
    if name == "one-cycle":
        return one_cycle(lr0, epochs)[0]
    if name == "warm restarts":
        return warm_restarts(lr0, epochs, interval, T_mult)
    if name == "warmup-stable-decay":
        return warmup_stable_decay(lr0, epochs, warmup, interval)
    if isinstance(warmup, bool) or not isinstance(warmup, Integral) or not 1 <= warmup < epochs:
        raise ValueError(f"warmup must be an integer from 1 to epochs − 1 = {epochs - 1}, got {warmup!r}")
    start = 1.0 / warmup
    ramp = lr0 * (start + (1 - start) * e[:warmup] / warmup)
    return np.concatenate([ramp, schedules.cosine_annealing(lr0, e[warmup:] - warmup, epochs - warmup)])


def scheduler_lrs(make, epochs: int, lr0: float, *, use_torch: bool = False, metrics=None, momentum=None):
    """The learning rate of epochs 0 … epochs − 1 under the scheduler ``make(module, optimizer)``.

    ``module`` is ``course_lib.schedules`` or, with ``use_torch=True``, ``torch.optim.lr_scheduler``
    (around a one-parameter ``torch.optim.SGD``, stepped before each scheduler step, as in a
    training loop), so one recipe gives both sequences::

        make = lambda m, opt: m.StepLR(opt, step_size=30, gamma=0.1)
        scheduler_lrs(make, 100, 0.5), scheduler_lrs(make, 100, 0.5, use_torch=True)

    For ``ReduceLROnPlateau`` pass ``metrics``: the value monitored at the end of each epoch. With
    ``momentum`` the optimizer is an SGD with that momentum, and the result is (rates, momenta):
    what ``OneCycleLR`` cycles. For a per-batch scheduler the "epochs" are optimizer steps.
    """
    if use_torch:
        import torch

        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0, momentum=momentum or 0.0)
        module, group = torch.optim.lr_scheduler, optimizer.param_groups[0]
    else:
        import types

        # like torch's SGD, it always has a momentum (0 unless given), which OneCycleLR may cycle
        optimizer, module, group = types.SimpleNamespace(lr=lr0, momentum=momentum or 0.0), schedules, None
    scheduler = make(module, optimizer)
    lrs, momenta = [], []
    for epoch in range(epochs):
        lrs.append(group["lr"] if use_torch else optimizer.lr)
        momenta.append(group["momentum"] if use_torch else optimizer.momentum)
        if use_torch:
            optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[epoch])
    lrs = np.array(lrs, dtype=float)
    return lrs if momentum is None else (lrs, np.array(momenta, dtype=float))


def noise_free_excess(problem: RegressionProblem, lrs) -> float:
    """F − F* after full-batch gradient descent from w = 0 with rate ``lrs[e]`` for the steps of
    epoch e: what the schedule would reach without gradient noise. Exact: along each eigendirection
    of H (curvature h) the gap to w* shrinks by a factor 1 − lr·h per step."""
    curvatures, basis = np.linalg.eigh(problem.hessian)
    gap = basis.T @ -problem.w_opt
    with np.errstate(over="ignore", invalid="ignore"):
        shrink = np.prod((1 - np.outer(lrs, curvatures)) ** problem.steps_per_epoch, axis=0)
        return float(0.5 * np.sum(curvatures * (gap * shrink) ** 2))
