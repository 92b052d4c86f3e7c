"""PyTorch beside course_lib: the device a torch cell runs on, and one optimizer run by both.

torch is imported by this module only, so ``import course_lib`` stays NumPy-only::

    device, sentence = torch_bridge.pick_device()
    print(sentence)                                   # Device: CPU (no CUDA or MPS device found)
    both = torch_bridge.side_by_side(bowl, "Adam", lr=0.1, steps=200)
    both.max_abs_difference                           # ~1e-16
"""

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from course_lib.lab import runner
from course_lib.lab.landscapes import Landscape


@contextlib.contextmanager
def one_cpu_thread():
    """Run torch on one CPU thread inside the block (or the decorated function), then restore the
    count. The course's networks are tiny: on a busy machine a second thread waiting for its share
    of a small matrix slows every step down several times. The numbers do not depend on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def pick_device() -> tuple[torch.device, str]:
    """CUDA if torch sees a CUDA GPU, else Apple's MPS, else the CPU; with a sentence saying which
    and why. The sentence starts with "Device:", the part of the output that nbval's sanitizer
    masks, since it differs from machine to machine."""
    if torch.cuda.is_available():
        return torch.device("cuda"), f"Device: CUDA, {torch.cuda.get_device_name(0)} (a CUDA GPU was found)"
    if torch.backends.mps.is_available():
        return torch.device("mps"), "Device: Apple MPS (no CUDA GPU; an Apple-silicon GPU was found)"
    return torch.device("cpu"), "Device: CPU (no CUDA or MPS device found)"


class TorchOptimizer:
    """A ``torch.optim`` optimizer behind course_lib's interface, ``step(grads)`` on NumPy arrays,
    so that ``runner.run`` drives both alike. Its tensors share memory with the arrays
    (``torch.from_numpy``), so torch's in-place update is the arrays' update."""

    def __init__(self, params: list[np.ndarray], optimizer_class, **settings):
        self.tensors = [torch.from_numpy(param) for param in params]
        self.optimizer = optimizer_class(self.tensors, **settings)

    def step(self, grads: list[np.ndarray]) -> None:
        for tensor, grad in zip(self.tensors, grads):
            tensor.grad = torch.from_numpy(np.ascontiguousarray(grad))
        self.optimizer.step()


@dataclass(frozen=True)
class SideBySide:
    """The same run by ``course_lib.optim`` (``ours``) and by ``torch.optim`` (``theirs``).

    max_abs_difference: the largest |ours − theirs| over the path; inf when one run diverged at a
    step where the other did not.
    """

    ours: runner.RunResult
    theirs: runner.RunResult
    max_abs_difference: float


def side_by_side(landscape: Landscape, optimizer: str, lr: float, start=None, steps: int = 100,
                 **hyperparameters) -> SideBySide:
    """Run ``optimizer`` (a name of ``runner.OPTIMIZER_RECIPES``, e.g. "Nesterov") with the same
    settings from course_lib and from torch, in float64, on ``landscape`` from ``start``.

    Both are fed the landscape's closed-form NumPy gradient, so any difference comes from the
    optimizers alone (tests/lab/test_landscapes.py checks that gradient against torch autograd).
    """
    ours = runner.run(landscape, runner.named_optimizer(optimizer, lr, **hyperparameters), start, steps)
    class_name, defaults = runner.OPTIMIZER_RECIPES[optimizer]
    torch_class = getattr(torch.optim, class_name)
    settings = {**defaults, **hyperparameters, "lr": lr}
    theirs = runner.run(landscape, lambda params: TorchOptimizer(params, torch_class, **settings), start, steps)
    return SideBySide(ours, theirs, _max_abs_difference(ours.path, theirs.path))


def _max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b| where both are finite; inf if they are not finite at the same places."""
    finite = np.isfinite(a)
    if not np.array_equal(finite, np.isfinite(b)):
        return float("inf")
    return float(np.max(np.abs(a - b)[finite], initial=0.0))
