"""Perturb every input of the course's experiments by one part in 10¹², for the reproducibility test.

Two machines compute the same experiment with differences in the last bits (SIMD kernels for exp,
log and sums, BLAS kernels); a chaotic computation turns them into different printed digits. A
printed number that survives a relative change of 1e-12 in its inputs survives those too.

``install()`` changes, for the rest of the process, where the experiments' inputs come from:

- random draws (data, initial weights, noise): every float that ``np.random.default_rng``,
  ``np.random.RandomState`` and torch's initialisers and samplers produce is multiplied by
  1 ± 1e-12 (float32 and lower: by one unit in the last place, the smallest change they can hold);
- starting points: every ``Landscape.start`` and every ``start`` given to ``runner.run``;
- fixed data series: the outputs of the functions in ``DATA_SOURCES``.

Integers (shuffles, indices, step counts) are left alone: they are the same on every machine.
The signs alternate along each array (+, −, +, …), so the same input is always perturbed the same
way: two runs from one starting point (course_lib's and torch's, say) still start together.
"""

import dataclasses
import functools
import importlib

import numpy as np

RELATIVE = 1e-12

DATA_SOURCES = [
    ("course_lib.lessons.adam", "reddi_gradients"),
    ("course_lib.lessons.adam", "reddi_stochastic_gradients"),
    ("course_lib.lessons.adam.explorer", "reddi_gradients"),
]
"""Functions that build an experiment's input series from constants, not from a random draw."""

_Generator, _RandomState = np.random.Generator, np.random.RandomState


def perturb(values):
    """``values`` times 1 ± RELATIVE, element by element (one ulp where the dtype holds less); for a
    dataclass, each of its float arrays."""
    if dataclasses.is_dataclass(values) and not isinstance(values, type):
        return dataclasses.replace(values, **{field.name: perturb(getattr(values, field.name))
                                              for field in dataclasses.fields(values) if field.init})
    array = np.asarray(values)
    if array.dtype.kind != "f":
        return values
    sign = 1.0 - 2.0 * (np.arange(array.size) % 2).reshape(array.shape)
    relative = max(RELATIVE, float(np.finfo(array.dtype).eps))
    perturbed = (array * (1 + relative * sign)).astype(array.dtype)
    if np.isscalar(values) or isinstance(values, np.generic):
        return perturbed[()]
    return perturbed


def _perturbing(function, how=perturb):
    """``function`` with its result passed through ``how``."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return how(function(*args, **kwargs))
    return wrapper


_FLOAT_DRAWS = ("random", "standard_normal", "normal", "uniform", "exponential", "standard_exponential",
                "lognormal", "laplace", "gamma", "standard_gamma", "beta", "standard_t", "multivariate_normal")


class PerturbedGenerator(_Generator):
    """``np.random.Generator`` whose float draws are perturbed."""


class PerturbedRandomState(_RandomState):
    """``np.random.RandomState`` whose float draws are perturbed."""


for _name in _FLOAT_DRAWS:
    setattr(PerturbedGenerator, _name, _perturbing(getattr(_Generator, _name)))
# RandomState's rand, randn and random call random_sample and standard_normal: wrapping them too would
# perturb twice.
for _name in (*(name for name in _FLOAT_DRAWS if name != "random"), "random_sample"):
    setattr(PerturbedRandomState, _name, _perturbing(getattr(_RandomState, _name)))


def _default_rng(seed=None):
    if isinstance(seed, _Generator):
        return seed
    return PerturbedGenerator(np.random.PCG64(seed))


def _install_numpy():
    np.random.default_rng = _default_rng
    np.random.RandomState = PerturbedRandomState


def _install_torch():
    try:
        import torch
    except ImportError:
        return

    def perturb_tensor(tensor):
        if tensor.is_floating_point() and tensor.device.type != "meta":   # a meta tensor has no values
            with torch.no_grad():
                flat = tensor.detach().cpu().numpy() if tensor.dtype != torch.bfloat16 else None
                if flat is not None:
                    tensor.copy_(torch.from_numpy(perturb(flat)))
        return tensor

    # The initialisers fill a tensor in place and return it; the samplers return a new one.
    for name in ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
                 "xavier_normal_", "orthogonal_"):
        setattr(torch.nn.init, name, _perturbing(getattr(torch.nn.init, name), perturb_tensor))
    for name in ("randn", "rand", "randn_like", "rand_like", "normal"):
        setattr(torch, name, _perturbing(getattr(torch, name), perturb_tensor))


def _install_starts():
    from course_lib.lab import landscapes, runner

    original_init = landscapes.Landscape.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        object.__setattr__(self, "start", tuple(float(v) for v in perturb(np.array(self.start, dtype=float))))

    landscapes.Landscape.__init__ = init
    original_run = runner.run

    @functools.wraps(original_run)
    def run(landscape, make_optimizer, start=None, *args, **kwargs):
        if start is not None:
            start = perturb(np.array(start, dtype=float))
        return original_run(landscape, make_optimizer, start, *args, **kwargs)

    runner.run = run


def _install_data_sources():
    for module_name, name in DATA_SOURCES:
        module = importlib.import_module(module_name)
        setattr(module, name, _perturbing(getattr(module, name)))


def install():
    """Perturb every input named in the module docstring from now on, in this process."""
    _install_numpy()
    _install_torch()
    _install_starts()
    _install_data_sources()
