"""The perturbation behind test_reproducible_outputs reaches every kind of input, by the size it claims.

A reproducibility test whose perturbation never reached the experiment would pass whatever the
notebooks print; these tests prove that each input source changes, by one part in 10¹² (one unit in
the last place for float32), and that integers are left alone.
"""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import perturb_inputs

TESTS = Path(__file__).resolve().parent


def test_perturb_scales_floats_by_alternating_signs_and_leaves_integers_alone():
    values = np.array([1.0, 2.0, -3.0, 4.0])
    np.testing.assert_allclose(perturb_inputs.perturb(values) / values - 1, [1e-12, -1e-12, 1e-12, -1e-12],
                               rtol=1e-3)
    assert perturb_inputs.perturb(np.arange(4)) is not None and np.array_equal(perturb_inputs.perturb(np.arange(4)),
                                                                                np.arange(4))
    single = np.array([1.0, 1.0], dtype=np.float32)
    assert perturb_inputs.perturb(single).dtype == np.float32
    assert np.array_equal(perturb_inputs.perturb(single), [1 + np.finfo(np.float32).eps, 1 - np.finfo(np.float32).eps])
    assert perturb_inputs.perturb(np.float64(2.0)) == 2.0 * (1 + 1e-12)


def test_perturb_reaches_the_float_fields_of_a_dataclass():
    @dataclasses.dataclass(frozen=True)
    class Data:
        x: np.ndarray
        labels: np.ndarray

    data = perturb_inputs.perturb(Data(np.ones(3), np.arange(3)))
    assert not np.array_equal(data.x, np.ones(3)) and np.array_equal(data.labels, np.arange(3))


# install() changes the process for good, so it is checked in a fresh interpreter.
PROBE = f"""
import json, sys
sys.path.insert(0, {str(TESTS)!r})
import numpy as np, torch
from course_lib.lab import landscapes, runner
from course_lib.lessons import adam, recipe

def draws():
    torch.manual_seed(0)
    return {{
        "default_rng": np.random.default_rng(0).standard_normal(3).tolist(),
        "RandomState": np.random.RandomState(0).randn(3).tolist(),
        "integers": np.random.default_rng(0).integers(0, 100, 5).tolist(),
        "torch_init": torch.nn.Linear(2, 2, dtype=torch.float64).weight.detach().flatten().tolist(),
        "torch_randn": torch.randn(3, dtype=torch.float64).tolist(),
        "start": list(landscapes.get_landscape("rosenbrock").start),
        "run_start": runner.run(landscapes.get_landscape("rosenbrock"), runner.named_optimizer("GD", 0.0),
                                start=(0.5, 0.5), steps=1).path[0].tolist(),
        "reddi": np.asarray(adam.reddi_gradients(4)).tolist(),
        "recipe_init": recipe_init(),
    }}

def recipe_init():
    # The first 3 values of the transformer's first parameter (its token embedding, drawn by
    # torch.nn.init.normal_), built in float64 so that the check sees the 1e-12 change
    # (float32 is perturbed by one unit in the last place instead).
    torch.set_default_dtype(torch.float64)
    try:
        return next(recipe.make_model(0).parameters()).detach().flatten()[:3].tolist()
    finally:
        torch.set_default_dtype(torch.float32)

before = draws()
import perturb_inputs
perturb_inputs.install()
print(json.dumps([before, draws()]))
"""


def test_install_perturbs_every_input_source_by_one_part_in_a_trillion():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    before, after = json.loads(result.stdout)
    assert after["integers"] == before["integers"]
    for name in before.keys() - {"integers"}:
        old, new = np.array(before[name], dtype=float), np.array(after[name], dtype=float)
        changed = old != 0
        assert changed.any(), name
        relative = np.abs(new[changed] / old[changed] - 1)
        assert np.all((relative > 0.5e-12) & (relative < 2e-12)), (name, relative)
