"""Gradient clipping and finding non-finite gradients (notebook 09).

Two ways to tame an exploding gradient g (Pascanu, Mikolov & Bengio 2013):

* **by norm**, g ← g · min(1, c / (‖g‖ + 1e-6)): the step keeps its direction, only
  its length is capped (``clip_grad_norm_``, over all gradients together);
* **by value**, g_i ← clamp(g_i, −c, c) per coordinate: large coordinates are cut
  more than small ones, so the direction turns (``clip_grad_value_``;
  ``clip_angle_degrees`` measures by how much).

Both mirror ``torch.nn.utils`` and work IN PLACE on NumPy float arrays: a list of
them (one per parameter) or a single array.
"""

import math
from numbers import Real

import numpy as np

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "nonfinite_gradients",
    "report_nonfinite",
    "clip_angle_degrees",
    "vector_norm",
]


def _nonnegative(name, value):
    """``value`` as a float, checked to be a real number >= 0 (inf allowed, NaN not)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def _writable_float_arrays(grads):
    """``grads`` (one array or a list of them) as a list, checked to be clippable in place."""
    arrays = [grads] if isinstance(grads, np.ndarray) else list(grads)
    for i, g in enumerate(arrays):
        if not isinstance(g, np.ndarray):
            raise TypeError(f"grads[{i}] must be a NumPy array, got {type(g).__name__}")
        if not np.issubdtype(g.dtype, np.floating):
            raise TypeError(f"grads[{i}] must be a float array to be clipped in place, got {g.dtype}")
        if not g.flags.writeable:
            raise ValueError(f"grads[{i}] is read-only and cannot be clipped in place")
    return arrays


def vector_norm(x, norm_type):
    """‖x‖_p = (Σ |x_i|^p)^(1/p) over all entries; max |x_i| for p = inf.

    Computed in x's dtype, as torch does: float32 squares overflow to inf beyond ~1e19.
    """
    magnitudes = np.abs(x)
    if norm_type == math.inf:
        return np.max(magnitudes, initial=0)
    with np.errstate(over="ignore"):  # an overflow gives inf, as in torch
        return np.sum(magnitudes**norm_type) ** (1 / norm_type)


def clip_grad_norm_(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their total norm is at most ``max_norm``.

        total = ‖(‖g_1‖_p, ‖g_2‖_p, …)‖_p          (the norm of all entries at once)
        g_i ← g_i · min(1, max_norm / (total + 1e-6))

    Returns ``total`` before clipping as a Python float (torch returns a 0-d tensor).
    ``norm_type`` is p > 0 or ``math.inf`` / ``'inf'`` (max of |entries|). A NaN or
    infinite total raises ``RuntimeError`` when ``error_if_nonfinite`` (nothing is
    changed); otherwise, as in torch, the gradients are scaled by NaN or 0.
    """
    max_norm = _nonnegative("max_norm", max_norm)
    try:
        p = float(norm_type)
    except (TypeError, ValueError):
        raise TypeError(f"norm_type must be a number or 'inf', got {norm_type!r}") from None
    if not p > 0:
        raise ValueError(f"norm_type must be > 0 or inf, got {norm_type!r}")
    arrays = _writable_float_arrays(grads)
    if not arrays:
        return 0.0
    dtype = np.result_type(*arrays)
    total = float(vector_norm(np.array([vector_norm(g, p) for g in arrays], dtype=dtype), p))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {p} for gradients is non-finite ({total}), so it cannot "
            "be clipped. To scale the gradients by the non-finite norm anyway, set "
            "error_if_nonfinite=False"
        )
    coef = float(np.minimum(max_norm / (total + 1e-6), 1.0))  # NaN stays NaN, as in torch
    with np.errstate(invalid="ignore"):  # inf · 0 = NaN, as in torch
        for g in arrays:
            g *= coef
    return total


def clip_grad_value_(grads, clip_value):
    """Clamp every gradient entry to [−clip_value, clip_value], in place."""
    clip_value = _nonnegative("clip_value", clip_value)
    for g in _writable_float_arrays(grads):
        np.clip(g, -clip_value, clip_value, out=g)


def _named_arrays(named_grads):
    pairs = named_grads.items() if isinstance(named_grads, dict) else named_grads
    return [(name, np.asarray(g)) for name, g in pairs]


def nonfinite_gradients(named_grads):
    """Which gradients hold NaN and which hold ±inf.

    ``named_grads`` is a dict ``{name: array}`` or a list of ``(name, array)`` pairs.
    Returns ``{"nan": [names], "inf": [names]}``; a gradient holding both is listed in
    both. (A common version of this check prints "inf" for NaN and "nan" for inf.)
    """
    named = _named_arrays(named_grads)
    return {
        "nan": [name for name, g in named if np.isnan(g).any()],
        "inf": [name for name, g in named if np.isinf(g).any()],
    }


def report_nonfinite(named_grads):
    """One line per non-finite gradient (``nan: name`` / ``inf: name``), or a line
    saying that all of them are finite."""
    found = nonfinite_gradients(named_grads)
    lines = [f"{kind}: {name}" for kind in ("nan", "inf") for name in found[kind]]
    return "\n".join(lines) if lines else f"all {len(_named_arrays(named_grads))} gradients are finite"


def _flat(vectors):
    """One array, or a list of arrays (a gradient per parameter), as one flat vector."""
    if isinstance(vectors, np.ndarray):
        return vectors.ravel().astype(np.float64)
    return np.concatenate([np.ravel(v) for v in vectors]).astype(np.float64)


def clip_angle_degrees(before, after):
    """The angle in degrees between a gradient before and after clipping.

    0 for norm clipping (it only shortens); value clipping turns the direction:
    g = (3, 0.4) clipped at 1 becomes (1, 0.4), turned by 14.2°.
    """
    a, b = _flat(before), _flat(after)
    if a.shape != b.shape:
        raise ValueError(f"before and after must have the same size, got {a.size} and {b.size}")
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if not (np.isfinite(norms) and norms > 0):
        raise ValueError(
            f"before and after must be finite and non-zero to have a direction, got norms "
            f"{np.linalg.norm(a)} and {np.linalg.norm(b)}"
        )
    return float(np.degrees(np.arccos(np.clip(a @ b / norms, -1.0, 1.0))))


# --------------------------------------------------------------------------------------------------
# Clipping inside a run (notebook 09): the runner's leading run axis, one clip per run
# --------------------------------------------------------------------------------------------------

CLIP_MODES = ("none", "norm", "value")
"""How ``Clipped`` treats each gradient: leave it, ``clip_grad_norm_`` it, ``clip_grad_value_`` it."""


def _modes_and_thresholds(mode, threshold, runs=None):
    """``mode`` (one name or one per run) and ``threshold`` (one number or one per run), checked,
    as arrays of ``runs`` entries (or of their own length when ``runs`` is None)."""
    modes = np.atleast_1d(np.array(mode, dtype=object))
    thresholds = np.atleast_1d(np.array(threshold, dtype=object))
    for m in modes:
        if m not in CLIP_MODES:
            raise ValueError(f"mode must be one of {', '.join(CLIP_MODES)}; got {m!r}")
    thresholds = np.array([_nonnegative("threshold", t) for t in thresholds])
    if runs is None:
        return modes, thresholds
    try:
        return np.broadcast_to(modes, (runs,)), np.broadcast_to(thresholds, (runs,))
    except ValueError:
        raise ValueError(f"give one mode and one threshold, or one per run ({runs} runs); got "
                         f"{len(modes)} modes and {len(thresholds)} thresholds") from None


def clip_each_run_(grad, mode, threshold):
    """Clip ``grad`` of shape (R, d), in place, as if each row were a separate model's gradient.

    Row r becomes what ``clip_grad_norm_(row, threshold)`` (mode "norm") or
    ``clip_grad_value_(row, threshold)`` (mode "value") makes of it; "none" leaves it. ``mode``
    and ``threshold`` are one for all rows or one per row. Returns each row's 2-norm before
    clipping.
    """
    (grad,) = _writable_float_arrays([grad])
    modes, thresholds = _modes_and_thresholds(mode, threshold, len(grad))
    limit = thresholds[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        norms = np.sqrt(np.sum(grad**2, axis=-1, keepdims=True))
        by_norm = grad * np.minimum(limit / (norms + 1e-6), 1.0)
        by_value = np.clip(grad, -limit, limit)
    grad[...] = np.where((modes == "norm")[:, None], by_norm, np.where((modes == "value")[:, None], by_value, grad))
    return norms[..., 0]


class Clipped:
    """An optimizer whose gradients are clipped run by run before each step.

    ``runner.run(landscape, clipped(runner.named_optimizer("GD", 1.0), "norm", 1.0))`` is gradient
    descent with ``clip_grad_norm_(…, max_norm=1.0)`` before every ``step()``. With a start of
    shape (R, 2) each of the R runs is clipped on its own, and ``mode`` and ``threshold`` may give
    one setting per run (``["none", "norm", "value"]``: three runs compared in one computation).
    ``norms`` records the gradient norms seen before clipping, one array of R per step.
    """

    def __init__(self, optimizer, mode, threshold):
        _modes_and_thresholds(mode, threshold)
        self.optimizer, self.mode, self.threshold = optimizer, mode, threshold
        self.norms = []

    def step(self, grads):
        grads = [np.array(g, dtype=float) for g in grads]
        self.norms.append(np.concatenate([clip_each_run_(g.reshape(-1, g.shape[-1]), self.mode, self.threshold)
                                          for g in grads]))
        self.optimizer.step(grads)


def clipped(make_optimizer, mode, threshold):
    """A factory ``params -> Clipped(make_optimizer(params), mode, threshold)`` for ``runner.run``."""
    Clipped(None, mode, threshold)  # check the settings before any run starts
    return lambda params: Clipped(make_optimizer(params), mode, threshold)
