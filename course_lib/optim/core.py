"""What every optimizer of ``course_lib.optim`` shares: the update functions, the base class, the checks.

The update functions are one equation each, which the notebooks show beside the maths. A
name ending in ``_`` updates its first argument in place, as in torch. They keep torch's
order of floating-point operations; torch fuses a few multiply-adds into one rounding, so
float64 results agree to about 1e-15 per step and float32 results to float32 rounding.
"""

import math
import numbers
from collections.abc import Iterable

import numpy as np

__all__ = [
    "Optimizer",
    "l2_gradient",
    "decoupled_weight_decay_",
    "momentum_buffer_",
    "nesterov_direction",
    "descend_",
    "ewa_",
    "lerp",
    "lerp_",
    "ewa_of_squares_",
    "rms_denominator",
    "bias_correction",
    "adam_denominator",
    "preconditioned_descend_",
]


# --- the update functions -------------------------------------------------------


def l2_gradient(grad, param, weight_decay):
    """Gradient of loss + λ/2·‖θ‖²:  g + λ·θ  (``weight_decay`` of SGD, RMSprop, Adam)."""
    return grad + weight_decay * param


def decoupled_weight_decay_(param, lr, weight_decay):
    """AdamW's decay, applied to the weights, not the gradient:  θ ← θ·(1 − lr·λ).

    torch scales λ by the learning rate; Loshchilov & Hutter scale it by the
    schedule multiplier only.
    """
    param *= 1 - lr * weight_decay
    return param


def momentum_buffer_(buf, grad, momentum, dampening):
    """SGD's momentum buffer, a running sum of past gradients:  b ← μ·b + (1 − τ)·g.

    torch's first buffer is the undamped gradient itself, b₁ = g₁, so
    ``dampening=β`` alone does not give the textbook EWA v ← β·v + (1 − β)·g.
    """
    buf *= momentum
    buf += (1 - dampening) * grad
    return buf


def nesterov_direction(grad, buf, momentum):
    """Nesterov's look-ahead direction:  g + μ·b."""
    return grad + momentum * buf


def descend_(param, direction, lr):
    """A step downhill:  θ ← θ − lr·d."""
    param -= lr * direction
    return param


def ewa_(avg, value, beta):
    """Exponentially weighted average:  a ← β·a + (1 − β)·x.

    Computed as a + (1 − β)·(x − a), the same number in torch's ``lerp_`` form.
    """
    avg += (1 - beta) * (value - avg)
    return avg


def lerp(start, end, weight):
    """Linear interpolation:  start + w·(end − start), a new array.

    An EWA with weight w = 1 − β. Computed as torch's ``lerp`` computes it, from the
    nearer end: for |w| ≥ 0.5 as end − (end − start)·(1 − w), which gives ``end``
    exactly at w = 1.
    """
    if np.ndim(weight) == 0:
        if abs(weight) < 0.5:
            return start + weight * (end - start)
        return end - (end - start) * (1 - weight)
    return np.where(np.abs(weight) < 0.5, start + weight * (end - start), end - (end - start) * (1 - weight))


def lerp_(start, end, weight):
    """``lerp`` written into ``start``:  start ← start + w·(end − start)."""
    start[...] = lerp(start, end, weight)
    return start


def ewa_of_squares_(avg_sq, grad, beta):
    """EWA of the squared gradient:  v ← β·v + (1 − β)·g²."""
    avg_sq *= beta
    avg_sq += (1 - beta) * grad * grad
    return avg_sq


def rms_denominator(square_avg, eps, grad_avg=None):
    """RMSprop's denominator:  √v + ε, or √(v − ḡ²) + ε when centered.

    Centered RMSprop subtracts the squared EWA of the gradient, leaving an
    estimate of its variance. No bias correction: v starts at 0, so the first
    step is about lr/√(1 − α), 10·lr for α = 0.99.
    """
    if grad_avg is not None:
        square_avg = square_avg - grad_avg * grad_avg
    return np.sqrt(square_avg) + eps


def bias_correction(beta, step):
    """1 − βᵗ: the total weight an EWA started at zero has gathered after t steps."""
    return 1 - beta**step


def adam_denominator(exp_avg_sq, bias_correction2, eps):
    """Adam's denominator:  √v̂ + ε = √v / √(1 − β₂ᵗ) + ε, with ε added after the root."""
    return np.sqrt(exp_avg_sq) / bias_correction2**0.5 + eps


def preconditioned_descend_(param, direction, denom, lr):
    """A step scaled coordinate by coordinate:  θ ← θ − lr·d / denom."""
    param -= lr * direction / denom
    return param


# --- the optimizers -------------------------------------------------------------


class Optimizer:
    """What every optimizer shares: parameters, state, step count and checks.

    A subclass checks its hyperparameters in ``_checked_hyperparameters`` (which
    returns them as floats, flags, or float64 arrays for lr and weight_decay), names
    the state arrays it keeps in ``_state_names``, and writes the update of one
    parameter in ``_update(param, grad, state, new_state, **hyperparameters)`` from
    the functions above; ``new_state`` names the state arrays this step created, as zeros
    unless ``_new_state`` makes them otherwise. An update that reads a whole parameter
    (a norm, a matrix product) sets ``_elementwise = False``; the others are cut into
    cache-sized blocks. ``_begin_step`` runs once a step, after every check: where the
    step keeps numbers of its own (a running weight), it updates them there.

    The hyperparameters are checked when the optimizer is made and again at the next step
    after one is assigned (``opt.lr = 0.01``). An array or a list can also change in place,
    without an assignment, so while any hyperparameter is one, all are checked at every step.
    """

    _hyperparameter_names = ()
    _elementwise = True  # each entry's update reads only its own entries of param, grad and state
    _settings_checked = None  # the result of _settings(), kept while nothing can have changed it

    def __init__(self, params, **hyperparameters):
        self.params = _checked_params(params)
        self._hyperparameter_names = tuple(hyperparameters)
        for name, value in hyperparameters.items():
            setattr(self, name, value)
        self._settings()
        self.state = [{} for _ in self.params]
        self.steps = 0

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name in self._hyperparameter_names:
            super().__setattr__("_settings_checked", None)  # check it before the next step

    def __repr__(self):
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hyperparameter_names)
        return f"{type(self).__name__}({settings})"

    def step(self, grads):
        """Update every parameter in place from its gradient: ``grads[i]`` for ``params[i]``.

        Everything is checked first: a step that raises changes nothing.
        """
        grads = _checked_grads(grads, self.params)
        settings = self._settings()
        self.steps += 1
        with np.errstate(all="ignore"):  # as in torch, a diverging run turns to inf/nan quietly
            self._begin_step()
            for param, grad, state, values in zip(self.params, grads, self.state, settings):
                new_state = [name for name in self._state_names(values, param) if name not in state]
                for name in new_state:
                    state[name] = self._new_state(name, param, values)
                blocks = _blocks(param, grad, state, values) if self._elementwise else [(param, grad, state)]
                for block in blocks:
                    self._update(*block, new_state, **values)

    def _new_state(self, name, param, hyperparameters):
        """A state array as it starts: zeros shaped like the parameter, unless an optimizer says otherwise."""
        return np.zeros_like(param)

    def _begin_step(self):
        """Numbers kept per step rather than per parameter: none, unless an optimizer keeps some."""

    def _settings(self):
        """The checked hyperparameters for each parameter, with arrays rounded to its dtype."""
        if self._settings_checked is not None:
            return self._settings_checked
        hyperparameters = self._checked_hyperparameters()
        settings = [{name: _in_dtype(value, param.dtype) for name, value in hyperparameters.items()}
                    for param in self.params]
        if all(_immutable(getattr(self, name)) for name in self._hyperparameter_names):
            self._settings_checked = settings
        return settings

    def state_nbytes(self):
        """Bytes held by the state arrays: the memory an optimizer costs beyond the parameters."""
        return sum(array.nbytes for state in self.state for array in state.values())


# --- checks and plumbing --------------------------------------------------------

_NONNEGATIVE = (">= 0", lambda value: value >= 0)
_UNIT_INTERVAL = ("in [0, 1)", lambda value: 0 <= value < 1)
_ANY = ("finite", lambda value: True)

_BLOCK_SIZE = 1 << 18  # elements (1 MiB of float32): the blocks an update touches stay in the CPU cache


def _checked_params(params):
    if isinstance(params, np.ndarray) or not isinstance(params, Iterable):
        raise TypeError(f"params must be a list of NumPy arrays, got {type(params).__name__}")
    params = list(params)
    if not params:
        raise ValueError("params is an empty list: the optimizer needs at least one parameter")
    for i, param in enumerate(params):
        if not isinstance(param, np.ndarray):
            raise TypeError(f"params[{i}] must be a NumPy array, got {type(param).__name__}")
        if not np.issubdtype(param.dtype, np.floating):
            raise TypeError(f"params[{i}] has dtype {param.dtype}: parameters must be floating-point arrays "
                            f"(convert with .astype(np.float64))")
        if not param.flags.writeable:
            raise ValueError(f"params[{i}] is read-only: the optimizer updates parameters in place")
        for j, earlier in enumerate(params[:i]):
            if np.shares_memory(param, earlier):
                raise ValueError(f"params[{i}] shares memory with params[{j}]: each parameter must appear once")
    return params


def _checked_grads(grads, params):
    if isinstance(grads, np.ndarray) or not isinstance(grads, (list, tuple)):
        raise TypeError(f"grads must be a list of arrays, one per parameter, got {type(grads).__name__}")
    if len(grads) != len(params):
        raise ValueError(f"grads has {len(grads)} arrays for {len(params)} parameters: pass one gradient "
                         "per parameter")
    checked = []
    for i, (grad, param) in enumerate(zip(grads, params)):
        grad = np.asarray(grad)
        if grad.dtype != param.dtype and not np.can_cast(grad.dtype, param.dtype, casting="same_kind"):
            raise TypeError(f"grads[{i}] has dtype {grad.dtype}, which does not cast to the dtype "
                            f"{param.dtype} of params[{i}]")
        if grad.shape != param.shape:
            raise ValueError(f"grads[{i}] has shape {grad.shape} but params[{i}] has shape {param.shape}")
        checked.append(grad.astype(param.dtype, copy=False))
    return checked


def _is_real(value):
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.dtype.kind in "iuf")


def _check_value(name, label, value, rule):
    requirement, holds = rule
    if not math.isfinite(value):
        raise ValueError(f"Invalid {label}: {name}={value!r} (must be finite)")
    if not holds(value):
        raise ValueError(f"Invalid {label}: {name}={value!r} (must be {requirement})")


def _checked_number(name, label, value, rule):
    """The hyperparameter as a Python float, after checking its type and range."""
    if not _is_real(value) or (isinstance(value, np.ndarray) and value.ndim != 0):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    _check_value(name, label, value, rule)
    return value


def _checked_rate(name, label, value, params):
    """lr or weight_decay: a float >= 0, or a float64 array of them broadcasting to every parameter."""
    if np.ndim(value) == 0:
        return _checked_number(name, label, value, _NONNEGATIVE)
    if not _is_real(value):
        raise TypeError(f"{name} must be a real number or a NumPy array of them, got {value!r}")
    rates = np.asarray(value, dtype=np.float64)
    valid = np.isfinite(rates) & (rates >= 0)
    if not valid.all():
        index = np.unravel_index(np.argmin(valid), rates.shape)  # the first invalid rate
        _check_value(f"{name}[{', '.join(map(str, index))}]", label, float(rates[index]), _NONNEGATIVE)
    for i, param in enumerate(params):
        if np.broadcast_shapes(rates.shape, param.shape) != param.shape:
            raise ValueError(f"{name} has shape {rates.shape}, which does not broadcast to the shape "
                             f"{param.shape} of params[{i}]")
    return rates


def _checked_scalar_rate(name, label, value, reason):
    """lr or weight_decay of an optimizer that cannot run settings side by side: one float >= 0."""
    if np.ndim(value) != 0:
        raise TypeError(f"{name} must be a real number, not an array: {reason}")
    return _checked_number(name, label, value, _NONNEGATIVE)


def _checked_count(name, value, minimum=0, maximum=None):
    """A whole number of steps, in [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise ValueError(f"Invalid {name}: {name}={value!r} (must be >= {minimum})")
    if maximum is not None and value > maximum:
        raise ValueError(f"Invalid {name}: {name}={value!r} (must be <= {maximum})")
    return int(value)


def _checked_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"Invalid {name}: {name}={value!r} (must be one of {', '.join(map(repr, choices))})")
    return value


def _checked_flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _checked_betas(betas, rules=(_UNIT_INTERVAL, _UNIT_INTERVAL)):
    if not isinstance(betas, (tuple, list)):
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {len(betas)} values: {betas!r}")
    return tuple(_checked_number(f"betas[{i}]", f"beta parameter at index {i}", beta, rule)
                 for i, (beta, rule) in enumerate(zip(betas, rules)))


def _immutable(value):
    """Whether ``value`` can change only by assignment: a number, a flag, a name, None, or a tuple of them."""
    if isinstance(value, tuple):
        return all(_immutable(item) for item in value)
    return value is None or isinstance(value, (bool, int, float, str, np.generic))


def _in_dtype(value, dtype):
    """A hyperparameter array rounded to the parameter's dtype (as NumPy already does for floats)."""
    return value.astype(dtype, copy=False) if isinstance(value, np.ndarray) else value


def _blocks(param, grad, state, hyperparameters):
    """(param, grad, state) of an elementwise update as aligned, cache-sized blocks, or whole where
    they cannot be cut flat.

    Every update is elementwise, so updating block by block gives the same numbers
    as updating whole arrays; but a block stays in the CPU cache through the dozen
    passes an update makes over it, which makes large parameters up to 1.5x faster.
    """
    arrays = (param, grad, *state.values())
    if (param.size <= _BLOCK_SIZE or not all(array.flags.c_contiguous for array in arrays)
            or any(isinstance(value, np.ndarray) for value in hyperparameters.values())):
        yield param, grad, state
        return
    flat = [array.reshape(-1) for array in arrays]
    for start in range(0, param.size, _BLOCK_SIZE):
        param_block, grad_block, *state_blocks = (array[start:start + _BLOCK_SIZE] for array in flat)
        yield param_block, grad_block, dict(zip(state, state_blocks))
