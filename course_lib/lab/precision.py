"""Mixed precision (notebooks 09 and 10): float16's range, what autocast supports here, and loss scaling.

torch is imported by this module only (``import course_lib`` stays NumPy-only)::

    from course_lib.lab import precision, torch_bridge
    device, _ = torch_bridge.pick_device()
    plan = precision.amp_plan(device)      # the autocast dtype this device really supports
    print(plan.sentence)                   # Device: CPU (...); autocast float16 + GradScaler

``update_scale`` and ``unscale_`` are NumPy references for what ``torch.amp.GradScaler`` does
between two steps; the notebook checks them against torch.
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

FLOAT16_MAX = float(np.finfo(np.float16).max)
"""65504: the largest finite float16; anything from 65520 up rounds to inf."""
FLOAT16_TINY = float(np.finfo(np.float16).smallest_subnormal)
"""≈ 6e-8: the smallest positive float16 (subnormal); 1e-8 rounds to 0."""

AUTOCAST_CANDIDATES = (torch.float16, torch.bfloat16)


def autocast_dtypes(device) -> tuple[torch.dtype, ...]:
    """The low-precision dtypes that ``torch.autocast`` really uses for a matrix product on
    ``device`` with the installed torch, found by trying (an unsupported one makes torch warn and
    fall back to float32, or raise): float16 first, then bfloat16."""
    device = torch.device(device)
    supported = []
    for dtype in AUTOCAST_CANDIDATES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                a = torch.ones(2, 2, device=device)
                with torch.autocast(device_type=device.type, dtype=dtype):
                    product = a @ a
                product.float().sum().item()
        except Exception:  # any failure means: not usable here
            continue
        if product.dtype == dtype:
            supported.append(dtype)
    return tuple(supported)


def grad_scaler_works(device) -> bool:
    """Whether ``torch.amp.GradScaler(device.type)`` can scale, unscale and step on ``device``."""
    device = torch.device(device)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            parameter = torch.nn.Parameter(torch.ones(2, device=device))
            optimizer = torch.optim.SGD([parameter], lr=0.1)
            scaler = torch.amp.GradScaler(device.type)
            scaler.scale(parameter.sum()).backward()
            scaler.unscale_(optimizer)
            scaler.step(optimizer)
            scaler.update()
            return bool(torch.allclose(parameter.detach().cpu(), torch.full((2,), 0.9)))
    except Exception:  # older torch or a backend without the scaler's kernels
        return False


@dataclass(frozen=True)
class AmpPlan:
    """How to train with mixed precision on a device.

    dtype: what autocast computes in (float16, bfloat16, or float32 when neither works);
    use_scaler: whether a GradScaler is needed (float16 only: bfloat16 has float32's range);
    sentence: one line starting with "Device:" (the notebook tests mask it: it differs between machines).
    """

    device: torch.device
    dtype: torch.dtype
    use_scaler: bool
    sentence: str


def dtype_name(dtype: torch.dtype) -> str:
    """'float16' for torch.float16."""
    return str(dtype).removeprefix("torch.")


def amp_plan(device, device_sentence: str | None = None) -> AmpPlan:
    """Choose autocast's dtype for ``device`` from what works there: float16 with a GradScaler
    when both work (CUDA; the CPU in recent torch), else bfloat16 without one, else float32."""
    device = torch.device(device)
    dtypes = autocast_dtypes(device)
    prefix = device_sentence or f"Device: {device.type.upper()}"
    if torch.float16 in dtypes and grad_scaler_works(device):
        dtype, use_scaler = torch.float16, True
    elif torch.bfloat16 in dtypes:
        dtype, use_scaler = torch.bfloat16, False
    else:
        dtype, use_scaler = torch.float32, False
    found = ", ".join(map(dtype_name, dtypes)) or "none"
    how = (f"autocast to {dtype_name(dtype)}" + (" with a GradScaler" if use_scaler else " without a scaler")
           if dtype != torch.float32 else "no autocast dtype works here, so float32 throughout")
    return AmpPlan(device, dtype, use_scaler, f"{prefix}; autocast dtypes that work: {found}; {how}")


def update_scale(scale: float, growth_tracker: int, found_inf: bool, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000) -> tuple[float, int]:
    """GradScaler.update(): the next (scale, growth_tracker) after one step.

    A step whose gradients held inf or NaN was skipped: the scale backs off (× 0.5) and the count
    of good steps restarts. Otherwise the count grows; at ``growth_interval`` good steps in a row
    the scale grows (× 2) and the count restarts, except where growing would overflow float32: torch
    keeps the scale in a float32 tensor and never grows it to inf. Each product is computed in
    float64 and rounded to float32, as torch's kernel does.
    """
    if found_inf:
        return _float32_product(scale, backoff_factor), 0
    growth_tracker += 1
    if growth_tracker == growth_interval:
        grown = _float32_product(scale, growth_factor)
        return (grown if math.isfinite(grown) else scale), 0
    return scale, growth_tracker


def _float32_product(scale: float, factor: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.float32(float(np.float32(scale)) * factor))


def unscale_(grads, scale: float) -> bool:
    """GradScaler.unscale_(): divide every gradient by ``scale`` in place (torch multiplies by
    the float32 reciprocal), and report whether any of them holds inf or NaN (the step to skip)."""
    inverse = np.float32(1.0 / np.float64(scale))
    found_inf = False
    with np.errstate(invalid="ignore", over="ignore"):
        for g in grads:
            found_inf |= not np.isfinite(g).all()
            g *= inverse
    return found_inf


def describe_scale(scale: float) -> str:
    """'65536 = 2^16' for a power of two, else the number."""
    exponent = math.log2(scale) if scale > 0 else float("nan")
    return f"{scale:g} = 2^{exponent:.0f}" if exponent == round(exponent) else f"{scale:g}"
