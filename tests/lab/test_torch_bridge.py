"""course_lib.lab.torch_bridge: device choice, and course_lib beside torch.optim on the same landscape."""

import numpy as np
import pytest
import torch

from course_lib.lab import landscapes, torch_bridge
from course_lib.lab.torch_bridge import TorchOptimizer, pick_device, side_by_side


@pytest.fixture
def machine(monkeypatch):
    """Pretend the machine has the given accelerators."""
    def pretend(cuda=False, mps=False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Fake GPU 80GB")
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    return pretend


@pytest.mark.parametrize("cuda, mps, kind, sentence", [
    (True, True, "cuda", "Device: CUDA, Fake GPU 80GB (a CUDA GPU was found)"),
    (True, False, "cuda", "Device: CUDA, Fake GPU 80GB (a CUDA GPU was found)"),
    (False, True, "mps", "Device: Apple MPS (no CUDA GPU; an Apple-silicon GPU was found)"),
    (False, False, "cpu", "Device: CPU (no CUDA or MPS device found)"),
])
def test_pick_device_prefers_cuda_then_mps_then_the_cpu(machine, cuda, mps, kind, sentence):
    machine(cuda=cuda, mps=mps)
    device, said = pick_device()
    assert device == torch.device(kind) and said == sentence


def test_the_device_picked_on_this_machine_works():
    device, sentence = pick_device()
    assert sentence.startswith("Device: ")  # the part tests/notebooks/sanitize.cfg masks for nbval
    assert torch.ones(2, device=device).sum().item() == 2.0


CASES = [
    ("GD", 1e-3, {}),
    ("GD", 1e-3, {"weight_decay": 0.1}),
    ("momentum", 1e-3, {}),
    ("momentum", 1e-3, {"momentum": 0.5, "dampening": 0.3}),
    ("Nesterov", 1e-3, {}),
    ("Nesterov", 1e-3, {"momentum": 0.7, "weight_decay": 0.01}),
    ("RMSprop", 1e-2, {}),
    ("RMSprop", 1e-3, {"alpha": 0.9, "momentum": 0.8, "weight_decay": 0.01}),
    ("Adam", 0.05, {}),
    ("Adam", 0.01, {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.01}),
    ("AdamW", 0.05, {}),
    ("AMSGrad", 0.05, {}),
]


@pytest.mark.parametrize("landscape", [landscapes.ill_conditioned_bowl(10.0), landscapes.rosenbrock()],
                         ids=lambda landscape: landscape.name)
@pytest.mark.parametrize("optimizer, lr, hyperparameters", CASES)
def test_course_lib_and_torch_agree_to_1e_10(landscape, optimizer, lr, hyperparameters):
    both = side_by_side(landscape, optimizer, lr, steps=300, **hyperparameters)
    assert both.ours.diverged_at is None and both.theirs.diverged_at is None
    assert both.ours.path.dtype == both.theirs.path.dtype == np.float64
    assert both.max_abs_difference == np.max(np.abs(both.ours.path - both.theirs.path))
    assert both.max_abs_difference <= 1e-10
    assert np.abs(both.ours.path[-1] - both.ours.path[0]).max() > 1e-3  # the runs went somewhere


CENTERED = {"alpha": 0.9, "momentum": 0.8, "centered": True, "weight_decay": 0.01}


def test_centered_rmsprop_agrees_to_1e_10_on_the_bowl():
    both = side_by_side(landscapes.ill_conditioned_bowl(10.0), "RMSprop", 1e-3, steps=300, **CENTERED)
    assert both.max_abs_difference <= 1e-10


def test_centered_rmsprop_on_rosenbrock_parts_by_one_rounding_which_the_valley_amplifies():
    """Exactly equal for ~100 steps, then one coordinate differs by one ulp (torch fuses a
    multiply-add that NumPy rounds twice); √(v − ḡ²) cancels (v/(v − ḡ²) ≈ 34 there) and the
    curved valley amplifies that last bit to ~1e-6 by step 300. One rounding, not a wrong formula."""
    both = side_by_side(landscapes.rosenbrock(), "RMSprop", 1e-3, steps=300, **CENTERED)
    difference = np.abs(both.ours.path - both.theirs.path).max(axis=1)
    first = np.argmax(difference > 0)
    assert first > 50
    assert difference[first] <= np.spacing(np.abs(both.ours.path[first]).max())


def test_a_batch_of_starts_runs_side_by_side_too():
    starts = np.array([[-1.5, 2.0], [0.5, -0.5], [1.5, 1.0]])
    both = side_by_side(landscapes.rosenbrock(), "Adam", 0.02, start=starts, steps=200)
    assert both.ours.path.shape == both.theirs.path.shape == (3, 201, 2)
    assert both.max_abs_difference <= 1e-10


def test_both_sides_diverge_at_the_same_step():
    both = side_by_side(landscapes.ill_conditioned_bowl(10.0), "GD", 0.3, steps=200)
    assert both.ours.diverged_at == both.theirs.diverged_at is not None
    assert both.max_abs_difference <= 1e-10


def test_the_difference_is_infinite_when_only_one_side_diverged():
    finite = np.zeros((4, 2))
    diverged = finite.copy()
    diverged[3] = np.nan
    assert torch_bridge._max_abs_difference(finite, diverged) == float("inf")
    assert torch_bridge._max_abs_difference(diverged, diverged + 1e-3) == pytest.approx(1e-3)


def test_torch_optimizer_updates_the_numpy_array_in_place():
    point = np.array([1.0, -2.0])
    optimizer = TorchOptimizer([point], torch.optim.SGD, lr=0.5)
    optimizer.step([np.array([1.0, 1.0])])
    np.testing.assert_array_equal(point, [0.5, -2.5])


def test_bad_optimizer_names_and_settings_raise_before_running():
    with pytest.raises(ValueError, match="name='LBFGS'"):
        side_by_side(landscapes.saddle(), "LBFGS", 0.1)
    with pytest.raises(ValueError, match="lr"):
        side_by_side(landscapes.saddle(), "Adam", -0.1)


def test_one_cpu_thread_holds_torch_to_one_thread_and_restores_the_count_even_after_an_error():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch_bridge.one_cpu_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2

        @torch_bridge.one_cpu_thread()
        def fails():
            assert torch.get_num_threads() == 1
            raise ValueError("inside")

        with pytest.raises(ValueError, match="inside"):
            fails()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
