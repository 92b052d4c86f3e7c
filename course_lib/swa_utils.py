"""Weight averaging: ``torch.optim.swa_utils`` on lists of NumPy arrays (notebook 11).

An optimizer's iterates θ_1, θ_2, … jitter around the valley floor; their average sits
closer to it. Two averages, both started at the first iterate (so, unlike notebook 01's
EWA started at 0, neither needs a bias correction):

* equal weights (SWA, Izmailov et al. 2018; Polyak–Ruppert averaging), the running mean
      θ̄_1 = θ_1,    θ̄_{n+1} = θ̄_n + (θ_{n+1} − θ̄_n) / (n + 1)    = (θ_1 + … + θ_{n+1}) / (n + 1);
* exponential weights (EMA), notebook 01's EWA applied to θ, over a window of about
  1 / (1 − decay) steps:
      θ̄_1 = θ_1,    θ̄_{t+1} = decay · θ̄_t + (1 − decay) · θ_{t+1}.

Both are a linear interpolation θ̄ ← θ̄ + w (θ − θ̄), with w = 1/(n + 1) or 1 − decay::

    ema = AveragedModel(params, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    for grads in ...:
        opt.step(grads)
        ema.update_parameters(opt.params)    # ema.params: the averaged copies

``SWALR`` anneals the learning rate to a constant ``swa_lr``, the schedule SWA averages under.

Rounding, as torch does it on the CPU. The default average is torch's CPU path,
θ̄ + (θ − θ̄) / (n + 1): the same numbers, bit for bit. The two ``get_*_multi_avg_fn`` use
torch's ``lerp`` form (``_lerp_`` below); torch evaluates it with a fused multiply-add (one
rounding where NumPy rounds twice), so they agree with torch to about an ulp per update.
A torch quirk kept here: ``get_swa_multi_avg_fn`` gets its count as an integer tensor, and
``1 / (n + 1)`` of one is a float32, so torch averages float64 arrays with a float32 weight
(the mean is then off by ~1e-8 relative); the default average has no such error.

Left out, because parameter lists have no modules: ``update_bn`` (it recomputes a network's
BatchNorm statistics by running data through it), ``use_buffers`` (a module's buffers),
``device``, and ``forward``. Also left out: the per-array ``avg_fn`` form, which
``multi_avg_fn`` covers. Averages are of floating-point arrays; torch's integer-tensor branch
does not apply. Unlike torch, a parameter list of another length, shape or dtype is refused
(torch zips the lists silently and broadcasts shapes), as are a NaN decay and a negative swa_lr.
"""

import math

import numpy as np

from course_lib.schedules import LRScheduler, _check_optimizer, _integer, _number

__all__ = ["AveragedModel", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn"]


def _lerp_(start, end, weight):
    """start ← start + weight · (end − start), in place, as ``torch.lerp`` computes it.

    For |weight| < 1/2 it steps from ``start``; otherwise it steps back from ``end``,
    end − (end − start) · (1 − weight), so that weight 1 gives ``end`` exactly. The weight
    is rounded to the array's dtype first, as torch does.
    """
    weight = start.dtype.type(weight)
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
    return start


def _checked_params(params, name="params"):
    """``params`` as a list of floating-point NumPy arrays (at least one)."""
    if isinstance(params, np.ndarray) or not isinstance(params, (list, tuple)):
        raise TypeError(f"{name} must be a list of NumPy arrays, got {type(params).__name__}")
    if not params:
        raise ValueError(f"{name} is an empty list: there is nothing to average")
    for i, param in enumerate(params):
        if not isinstance(param, np.ndarray):
            raise TypeError(f"{name}[{i}] must be a NumPy array, got {type(param).__name__}")
        if not np.issubdtype(param.dtype, np.floating):
            raise TypeError(f"{name}[{i}] has dtype {param.dtype}: averages are of floating-point arrays")
    return list(params)


def _checked_like(params, averaged, name="params"):
    """``params`` after checking it matches ``averaged`` array for array: length, shape, dtype."""
    params = _checked_params(params, name)
    if len(params) != len(averaged):
        raise ValueError(f"{name} has {len(params)} arrays but the average has {len(averaged)}: "
                         "pass the same list of parameters every time")
    for i, (param, avg) in enumerate(zip(params, averaged)):
        if param.shape != avg.shape:
            raise ValueError(f"{name}[{i}] has shape {param.shape} but the average has shape {avg.shape}")
        if param.dtype != avg.dtype:
            raise TypeError(f"{name}[{i}] has dtype {param.dtype} but the average has dtype {avg.dtype}")
    return params


def get_ema_multi_avg_fn(decay=0.999):
    """The EMA update θ̄ ← decay · θ̄ + (1 − decay) · θ, for ``AveragedModel(multi_avg_fn=...)``.

    ``decay`` in [0, 1]: 0 keeps only the latest θ, 1 freezes the first; the average spans
    about 1 / (1 − decay) steps (0.999 → 1000). Computed as ``lerp(θ̄, θ, 1 − decay)``.
    """
    decay = _number("decay", decay, minimum=0, maximum=1)

    def ema_update(ema_param_list, current_param_list, _num_averaged):
        ema_param_list = _checked_params(ema_param_list, "ema_param_list")
        current_param_list = _checked_like(current_param_list, ema_param_list)
        for ema, current in zip(ema_param_list, current_param_list):
            _lerp_(ema, current, 1 - decay)

    return ema_update


def get_swa_multi_avg_fn():
    """The running-mean update θ̄ ← θ̄ + (θ − θ̄) / (n + 1), with n the number averaged so far.

    Computed as torch does: ``lerp(θ̄, θ, w)`` with w = 1/(n + 1) rounded to float32 (see the
    module docstring), whatever the arrays' dtype.
    """

    def swa_update(averaged_param_list, current_param_list, num_averaged):
        averaged_param_list = _checked_params(averaged_param_list, "averaged_param_list")
        current_param_list = _checked_like(current_param_list, averaged_param_list)
        weight = np.float32(1) / np.float32(num_averaged + 1)
        for averaged, current in zip(averaged_param_list, current_param_list):
            _lerp_(averaged, current, weight)

    return swa_update


class AveragedModel:
    """A running average of a list of parameter arrays (torch's ``AveragedModel``).

    ``params`` are copied: ``self.params`` holds the averaged arrays, never the live ones.
    Each ``update_parameters(params)`` folds in the current values; the first one copies
    them (θ̄_1 = θ_1), the next ones apply ``multi_avg_fn(self.params, params, n_averaged)``,
    which updates ``self.params`` in place; ``None`` is the equal-weight running mean.
    ``n_averaged`` counts the updates (an int; torch keeps a 0-d integer tensor).
    """

    def __init__(self, params, multi_avg_fn=None):
        if multi_avg_fn is not None and not callable(multi_avg_fn):
            raise TypeError(f"multi_avg_fn must be callable or None, got {multi_avg_fn!r}")
        self.params = [np.array(param) for param in _checked_params(params)]
        self.multi_avg_fn = multi_avg_fn
        self.n_averaged = 0

    def update_parameters(self, params):
        """Fold the current ``params`` (same length, shapes and dtypes) into the average."""
        params = _checked_like(params, self.params)
        if self.n_averaged == 0:
            for averaged, param in zip(self.params, params):
                averaged[...] = param
        elif self.multi_avg_fn is None:
            for averaged, param in zip(self.params, params):
                averaged += (param - averaged) / (self.n_averaged + 1)
        else:
            self.multi_avg_fn(self.params, params, self.n_averaged)
        self.n_averaged += 1


class SWALR(LRScheduler):
    """Anneal the learning rate from its current value to ``swa_lr`` over ``anneal_epochs``
    steps, then hold it there (torch's ``SWALR``).

    With α(t) = t ("linear") or (1 − cos πt) / 2 ("cos") and t = min(1, step / anneal_epochs):
        lr_step = α(t) · swa_lr + (1 − α(t)) · lr_start,
    where lr_start is the rate when the scheduler was made (step 0 leaves it unchanged;
    ``anneal_epochs=0`` jumps to ``swa_lr`` at once). Like torch, each step does not keep
    lr_start: it recovers it from the current rate, lr_start = (lr − α_prev · swa_lr) / (1 − α_prev),
    so a rate changed by others in between is annealed from, and rounding follows torch's.
    It counts its own steps: with ``last_epoch=k`` (resuming; needs ``optimizer.initial_lr``)
    ``last_epoch`` continues from k but the annealing starts again, as in torch.
    course_lib optimizers have one parameter group: ``swa_lr`` is a number or a list of one.
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        _check_optimizer(optimizer)
        if isinstance(swa_lr, (list, tuple)):
            if len(swa_lr) != 1:
                raise ValueError(f"swa_lr must have the same length as the optimizer's parameter groups: "
                                 f"swa_lr has {len(swa_lr)} values, a course_lib optimizer has 1 group")
            (swa_lr,) = swa_lr
        swa_lr = _number("swa_lr", swa_lr, minimum=0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', got {anneal_strategy!r}")
        self.anneal_epochs = _integer("anneal_epochs", anneal_epochs, minimum=0)
        self.swa_lr = swa_lr
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal
        self._step_count = 0  # the annealing counts its own steps, not last_epoch (as torch's does)
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    def step(self):
        """Advance one step of the annealing (then hold ``swa_lr``)."""
        self._step_count += 1
        super().step()

    def _next_lr(self, lr):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        if prev_alpha == 1:
            lr_start = self.swa_lr
        else:
            lr_start = (lr - prev_alpha * self.swa_lr) / (1 - prev_alpha)
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return self.swa_lr * alpha + lr_start * (1 - alpha)
