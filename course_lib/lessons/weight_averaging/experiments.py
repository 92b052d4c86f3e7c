"""Notebook 11, weight averaging: what an average of the iterates buys, measured three ways.

* ``averaged_sgd``: mini-batch SGD on the noisy least-squares problem of notebook 05, many seeds at
  once along a leading run axis, with the running mean of its iterates (Polyak–Ruppert, SWA) and
  EMAs of them kept by ``course_lib.swa_utils.AveragedModel``;
* ``train_swa``: SWA (Izmailov et al. 2018) on a small network, against its own last iterate, an
  EMA and a cosine schedule;
* ``noisy_bowl``: the same averages on a 2-D bowl with noisy gradients, for the explorer.

The theory the first one checks: on a quadratic with Hessian H and gradient noise of covariance S
at the minimum, the average of n iterates of SGD (with a constant step on least squares, or a
slowly decaying one in general) has E[F − F*] ≈ ½ tr(H⁻¹S) / n, the best rate any method
reaches from n noisy gradients (Polyak & Juditsky 1992). The last iterate of a constant step stays
at its noise floor, proportional to lr.
"""

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from course_lib import optim, schedules, swa_utils
from course_lib.lab import data, nets
from course_lib.lab.landscapes import ill_conditioned_bowl
from course_lib.lab.regression import minibatches, RegressionProblem

# --------------------------------------------------------------------------------------------------
# Polyak–Ruppert averaging and EMAs on the noisy regression
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AveragedRuns:
    """R runs of ``averaged_sgd``. steps (K,): the steps after which F − F* was recorded (0: the
    start); excess_loss: name → (K, R), NaN where that average holds nothing yet; final: name →
    (R, d), the weights after the last step. Names: "iterate", "SWA", "EMA β" (started at θ₀),
    "EMA β from 0" (started at 0) and "EMA β from 0, corrected" (divided by 1 − β^t)."""

    steps: np.ndarray
    excess_loss: dict
    final: dict

    def mean(self, name: str) -> np.ndarray:
        """F − F* of ``name`` at each recorded step, the mean over the runs."""
        return self.excess_loss[name].mean(axis=1)


def _positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _decay(value):
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value < 1:
        raise ValueError(f"an EMA decay must be a number in [0, 1), got {value!r}")
    return float(value)


def averaged_sgd(problem: RegressionProblem, lr, steps: int, runs: int = 64, seed: int = 0, start=None,
                 swa_start: int = 0, ema_decays=(), zero_ema_decays=(), record_every: int = 1) -> AveragedRuns:
    """Mini-batch SGD, w ← w − lr_t·g_t from w = ``start`` (0 by default), ``runs`` seeds at once
    (their mini-batches from ``minibatches(problem, runs, seed)``), and averages of its iterates:

    * "SWA": the running mean of θ_t for t > ``swa_start`` (``AveragedModel`` with its default
      average; the first update copies θ_{swa_start + 1});
    * "EMA β" for each β of ``ema_decays``: ``AveragedModel(get_ema_multi_avg_fn(β))`` fed θ₀ first,
      then every iterate, so it starts at θ₀ and needs no correction;
    * "EMA β from 0" for each β of ``zero_ema_decays``: v_t = β v_{t−1} + (1 − β) θ_t from v_0 = 0,
      and "EMA β from 0, corrected": v_t / (1 − β^t), notebook 01's bias correction.

    lr: a number, or a function of the step t = 0, 1, … returning the rate of step t + 1.
    F − F* is recorded at step 0 and every ``record_every`` steps.
    """
    steps, runs = _positive_int("steps", steps), _positive_int("runs", runs)
    record_every = _positive_int("record_every", record_every)
    swa_start = _positive_int("swa_start", swa_start, minimum=0)
    if swa_start >= steps:
        raise ValueError(f"swa_start must be below steps = {steps}, got {swa_start!r}")
    ema_decays, zero_ema_decays = [_decay(b) for b in ema_decays], [_decay(b) for b in zero_ema_decays]
    rate = lr if callable(lr) else (lambda t: lr)
    d = problem.X.shape[1]
    w = np.zeros((runs, d)) if start is None else np.array(np.broadcast_to(start, (runs, d)), dtype=float)
    swa = swa_utils.AveragedModel([w])
    emas = {f"EMA {b:g}": swa_utils.AveragedModel([w], multi_avg_fn=swa_utils.get_ema_multi_avg_fn(b))
            for b in ema_decays}
    for ema in emas.values():
        ema.update_parameters([w])  # θ₀: the EMA starts at the start
    zero = {b: np.zeros_like(w) for b in zero_ema_decays}

    def current():
        out = {"iterate": w.copy(), "SWA": swa.params[0].copy() if swa.n_averaged else np.full_like(w, np.nan)}
        out |= {name: ema.params[0].copy() for name, ema in emas.items()}
        for b, v in zero.items():
            out[f"EMA {b:g} from 0"] = v.copy()
            out[f"EMA {b:g} from 0, corrected"] = v / (1 - b**t) if t else np.full_like(w, np.nan)
        return out

    t, recorded_steps, recorded = 0, [], []
    batches = minibatches(problem, runs, seed)
    epoch = iter(())
    while True:
        if t % record_every == 0:
            recorded_steps.append(t)
            recorded.append({name: problem.excess_loss(value) for name, value in current().items()})
        if t == steps:
            break
        batch = next(epoch, None)
        if batch is None:
            epoch = iter(next(batches))
            batch = next(epoch)
        Xb, yb = problem.X[batch], problem.y[batch]             # (R, B, d), (R, B)
        residuals = (Xb @ w[:, :, None])[..., 0] - yb
        optim.descend_(w, (residuals[:, None, :] @ Xb)[:, 0] / problem.batch_size, rate(t))
        t += 1
        if t > swa_start:
            swa.update_parameters([w])
        for ema in emas.values():
            ema.update_parameters([w])
        for b, v in zero.items():
            v += (1 - b) * (w - v)
    final = current()
    excess = {name: np.array([row[name] for row in recorded]) for name in recorded[0]}
    return AveragedRuns(np.array(recorded_steps), excess, final)


def polyak_rate(problem: RegressionProblem, averaged) -> np.ndarray:
    """½ tr(H⁻¹S) / n: E[F − F*] of the mean of n iterates in the limit of Polyak & Juditsky (1992),
    for n = ``averaged`` (a number or an array), with S the noise covariance of one mini-batch
    gradient at w*. For least squares it is d·σ² / (2·n·B): what solving the problem exactly on the
    n·B samples seen would leave."""
    constant = 0.5 * np.trace(np.linalg.solve(problem.hessian, problem.gradient_noise_covariance()))
    return constant / np.asarray(averaged, dtype=float)


# --------------------------------------------------------------------------------------------------
# SWA on a small network
# --------------------------------------------------------------------------------------------------

LAYERS = (2, 24, 24, 1)
"""The network of ``train_swa``: notebook 07's MLP, wider (ReLU, ReLU, sigmoid)."""


@dataclass(frozen=True)
class SWARuns:
    """``train_swa``'s result. test_error: name → (R,), the test error of each seed's network:
    "last iterate" (the SWA run's live weights), "SWA" (their running mean over the epochs from
    ``swa_start``), "EMA" (an EMA of every step of the same run) and "cosine" (a second run under
    ``CosineAnnealingLR`` to 0, the usual schedule); lrs: (epochs,), the SWA run's rate per epoch."""

    test_error: dict
    lrs: np.ndarray


def moons(train: int = 200, test: int = 4000, noise: float = 0.3):
    """Two-moons training and test sets (seeds 1 and 2), in ``nets``' layout: X (2, m), Y (1, m)."""
    sets = []
    for n, seed in ((train, 1), (test, 2)):
        X, y = data.two_moons(n, noise, seed)
        sets += [X.T.copy(), y[None, :].astype(float)]
    return tuple(sets)


class _Hooks:
    """What ``_train`` calls: ``begin(sgd, params)`` once, ``after_step(params)`` after every step,
    ``after_epoch(epoch, sgd, params)`` after every epoch."""

    def begin(self, sgd, params):
        pass

    def after_step(self, params):
        pass

    def after_epoch(self, epoch, sgd, params):
        pass


def _train(moons_sets, seeds, epochs, lr, momentum, batch_size, hooks: _Hooks):
    """SGD with momentum on ``nets``' MLP (``LAYERS``), ``seeds`` networks at once: He weights of
    seeds 0, 1, …, each its own shuffle of the training set every epoch. Returns the final weights
    [W1, b1, …], each with the run axis first."""
    X, Y, _, _ = moons_sets
    params = [np.stack(p) for p in zip(*(nets.he_init(LAYERS, seed=s) for s in range(seeds)))]
    sgd = optim.SGD(params, lr=lr, momentum=momentum)
    hooks.begin(sgd, params)
    rng, m = np.random.default_rng(0), X.shape[1]
    with np.errstate(all="ignore"):
        for epoch in range(epochs):
            order = np.argsort(rng.random((seeds, m)), axis=1)
            Xs, Ys = X[:, order].transpose(1, 0, 2), Y[:, order].transpose(1, 0, 2)
            for first in range(0, m, batch_size):
                A3, cache = nets.forward(params, Xs[..., first:first + batch_size])
                sgd.step(nets.backward(params, Ys[..., first:first + batch_size], cache))
                hooks.after_step(params)
            hooks.after_epoch(epoch, sgd, params)
    return params


def error_rate(params, moons_sets) -> np.ndarray:
    """The fraction of test points each network (run axis first) misclassifies."""
    _, _, X_test, Y_test = moons_sets
    return np.mean(nets.predict(params, X_test) != Y_test, axis=(-2, -1))


class _SWAHooks(_Hooks):
    """The loop of torch's SWA recipe: after each epoch past ``swa_start``, fold the weights into
    the ``AveragedModel`` and step ``SWALR``; an EMA of every step rides along."""

    def __init__(self, swa_lr, swa_start, anneal_epochs, ema_decay):
        self.swa_lr, self.swa_start, self.anneal_epochs, self.ema_decay = swa_lr, swa_start, anneal_epochs, ema_decay
        self.lrs = []

    def begin(self, sgd, params):
        self.swa = swa_utils.AveragedModel(params)
        self.ema = swa_utils.AveragedModel(params, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(self.ema_decay))
        self.ema.update_parameters(params)  # start the EMA at θ₀
        self.swalr = swa_utils.SWALR(sgd, swa_lr=self.swa_lr, anneal_epochs=self.anneal_epochs)

    def after_step(self, params):
        self.ema.update_parameters(params)

    def after_epoch(self, epoch, sgd, params):
        self.lrs.append(sgd.lr)  # the rate this epoch trained with
        if epoch >= self.swa_start:
            self.swa.update_parameters(params)
            self.swalr.step()


class _CosineHooks(_Hooks):
    def __init__(self, epochs):
        self.epochs = epochs

    def begin(self, sgd, params):
        self.scheduler = schedules.CosineAnnealingLR(sgd, T_max=self.epochs)

    def after_epoch(self, epoch, sgd, params):
        self.scheduler.step()


def train_swa(seeds: int = 16, epochs: int = 300, lr: float = 0.1, swa_lr: float = 0.05, swa_start: int = 150,
              anneal_epochs: int = 5, ema_decay: float = 0.99, momentum: float = 0.9,
              batch_size: int = 20) -> SWARuns:
    """SWA as torch's documentation writes it: SGD with momentum at a constant ``lr``; from epoch
    ``swa_start`` on, after every epoch ``AveragedModel`` folds in the weights and ``SWALR`` steps,
    annealing the rate to ``swa_lr`` over ``anneal_epochs`` epochs, then holding it. An EMA of every
    step (``ema_decay``) rides along. A second run with the same seeds follows
    ``CosineAnnealingLR(T_max=epochs)`` from ``lr`` to 0, the usual schedule, for comparison."""
    for name, value in (("seeds", seeds), ("epochs", epochs), ("batch_size", batch_size)):
        _positive_int(name, value)
    if not 0 <= swa_start < epochs:
        raise ValueError(f"swa_start must be an epoch from 0 to {epochs - 1}, got {swa_start!r}")
    sets = moons()
    hooks = _SWAHooks(swa_lr, swa_start, anneal_epochs, ema_decay)
    last = _train(sets, seeds, epochs, lr, momentum, batch_size, hooks)
    cosine = _train(sets, seeds, epochs, lr, momentum, batch_size, _CosineHooks(epochs))
    errors = {"last iterate": error_rate(last, sets), "SWA": error_rate(hooks.swa.params, sets),
              "EMA": error_rate(hooks.ema.params, sets), "cosine": error_rate(cosine, sets)}
    return SWARuns(errors, np.array(hooks.lrs))


# --------------------------------------------------------------------------------------------------
# A noisy 2-D bowl, for the explorer
# --------------------------------------------------------------------------------------------------

BOWL = ill_conditioned_bowl(10.0)
"""f(x, y) = ½(x² + 10 y²), started at (−4, 1)."""


@dataclass(frozen=True)
class BowlPaths:
    """K settings of ``noisy_bowl``: paths name → (steps + 1, K, 2) for "iterate", "EMA", "SWA"
    (NaN before the SWA starts); losses name → (steps + 1, K), f along each path."""

    paths: dict
    losses: dict


def bowl_noise(steps: int, noise: float = 2.0, seed: int = 0) -> np.ndarray:
    """(steps, 2): the gradient noise of each step, N(0, noise²) per coordinate, shared by every setting."""
    return noise * np.random.default_rng(seed).standard_normal((_positive_int("steps", steps), 2))


def noisy_bowl(lrs, decays, noise_steps: np.ndarray, swa_start: int) -> BowlPaths:
    """SGD on ``BOWL`` with the gradient plus ``noise_steps[t]`` at step t, for K settings at once
    (``lrs`` and ``decays``, (K,)), with its EMA (started at θ₀, the update of
    ``get_ema_multi_avg_fn``) and its running mean from step ``swa_start`` + 1 on.

    ``noise_steps``: (steps, 2), one draw shared by every setting, or (steps, K, 2), a draw per
    setting (to average over draws of the noise)."""
    lrs, decays = (np.asarray(v, dtype=float)[:, None] for v in (lrs, decays))
    steps = len(noise_steps)
    theta = np.tile(np.asarray(BOWL.start, dtype=float), (len(lrs), 1))
    ema, mean = theta.copy(), np.full_like(theta, np.nan)
    paths = {name: np.empty((steps + 1,) + theta.shape) for name in ("iterate", "EMA", "SWA")}
    paths["iterate"][0], paths["EMA"][0], paths["SWA"][0] = theta, ema, mean
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            gradient = np.stack(BOWL.gradient(theta[:, 0], theta[:, 1]), axis=1) + noise_steps[t]
            theta = theta - lrs * gradient
            ema = ema + (1 - decays) * (theta - ema)
            if t + 1 > swa_start:
                n = t - swa_start  # iterates in the mean before this one
                mean = theta.copy() if n == 0 else mean + (theta - mean) / (n + 1)
            paths["iterate"][t + 1], paths["EMA"][t + 1], paths["SWA"][t + 1] = theta, ema, mean
    losses = {name: BOWL.value(path[..., 0], path[..., 1]) for name, path in paths.items()}
    return BowlPaths(paths, losses)
