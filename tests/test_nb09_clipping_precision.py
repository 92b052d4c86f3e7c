"""Notebook 09's additions: the cliff landscape (vs torch autograd), clipping inside runs,
mixed-precision helpers (vs torch.amp.GradScaler), the ClippingExplorer and the checkers."""

import base64

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import clipping, exercises, landscapes, precision, runner, widgets


# --------------------------------------------------------------------------------------------------
# The cliff
# --------------------------------------------------------------------------------------------------

def torch_cliff(p, steps=50, x0=0.5, target=0.7):
    x = torch.tensor(x0, dtype=torch.float64)
    for _ in range(steps):
        x = p[0] * torch.sigmoid(x) + p[1]
    return (torch.sigmoid(x) - target) ** 2


@settings(max_examples=30, deadline=None)
@given(w=st.floats(3.0, 10.0), b=st.floats(-4.0, 8.0), steps=st.sampled_from([1, 7, 50]))
def test_cliff_value_gradient_and_hessian_match_torch_autograd(w, b, steps):
    cliff = landscapes.cliff(steps=steps)
    point = torch.tensor([w, b], dtype=torch.float64, requires_grad=True)
    value = torch_cliff(point, steps)
    (gradient,) = torch.autograd.grad(value, point)
    hessian = torch.autograd.functional.hessian(lambda p: torch_cliff(p, steps), point.detach()).numpy()
    scale = 1.0 + np.abs(gradient.numpy()).max()
    assert cliff.value(w, b) == pytest.approx(value.item(), rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(cliff.gradient(w, b), gradient.numpy(), rtol=1e-9, atol=1e-12 * scale)
    hxx, hxy, hyy = cliff.hessian(w, b)
    np.testing.assert_allclose([[hxx, hxy], [hxy, hyy]], hessian, rtol=1e-7, atol=1e-10 * (1 + np.abs(hessian).max()))


def test_cliff_gradient_matches_torch_on_the_wall_and_on_a_grid_at_once():
    cliff = landscapes.cliff()
    w = np.array([5.0, 5.0, 5.0, 4.5, 8.0])
    b = np.array([-2.61234, -2.6124, -2.6122, -3.0, 5.0])
    ours = np.stack(cliff.gradient(w, b), axis=-1)
    for i in range(len(w)):
        point = torch.tensor([w[i], b[i]], dtype=torch.float64, requires_grad=True)
        (theirs,) = torch.autograd.grad(torch_cliff(point), point)
        np.testing.assert_allclose(ours[i], theirs.numpy(), rtol=1e-9, atol=1e-15)
    assert np.hypot(*ours[0]) > 1e3                       # the wall
    X, Y, Z = cliff.grid(9)
    gx, gy = cliff.gradient(X, Y)
    assert Z.shape == gx.shape == gy.shape == (9, 9) and Z.min() >= 0


def test_cliff_numbers_of_the_references():
    cliff = landscapes.cliff()
    assert cliff.value(5.0, -2.6125) == pytest.approx(0.34, abs=0.005)
    assert cliff.value(5.0, -2.6122) < 0.005
    gd = runner.named_optimizer("GD", 1.0)
    both = runner.run(cliff, clipping.clipped(gd, ["none", "norm"], 1.0), start=np.tile(cliff.start, (2, 1)),
                      steps=400)
    jumps = np.linalg.norm(np.diff(both.path, axis=1), axis=-1).max(axis=1)
    assert 9 < jumps[0] < 12 and both.losses[0, -1] == pytest.approx(0.09, abs=1e-3)
    assert jumps[1] <= 1.0 + 1e-9 and both.losses[1, -1] < 1e-3


@pytest.mark.parametrize("call, error, words", [
    (lambda: landscapes.cliff(steps=0), ValueError, ["steps", "0"]),
    (lambda: landscapes.cliff(steps=2.5), TypeError, ["steps", "2.5"]),
    (lambda: landscapes.cliff(target=1.5), ValueError, ["target", "1.5"]),
    (lambda: landscapes.cliff(x0=float("nan")), ValueError, ["x0", "nan"]),
])
def test_cliff_bad_input(call, error, words):
    with pytest.raises(error) as raised:
        call()
    for word in words:
        assert word in str(raised.value)


def test_cliff_is_registered():
    assert landscapes.get_landscape("cliff").name == "cliff"


# --------------------------------------------------------------------------------------------------
# Clipping run by run
# --------------------------------------------------------------------------------------------------

def test_clip_each_run_equals_torch_on_each_row():
    rng = np.random.default_rng(0)
    grad = rng.normal(0, 3, size=(6, 2))
    grad[1] *= 0.01                                             # below the threshold: unchanged
    modes = ["norm", "norm", "value", "none", "value", "norm"]
    expected = []
    for row, mode in zip(grad, modes):
        parameter = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
        parameter.grad = torch.tensor(row)
        if mode == "norm":
            torch.nn.utils.clip_grad_norm_([parameter], 1.5)
        elif mode == "value":
            torch.nn.utils.clip_grad_value_([parameter], 1.5)
        expected.append(parameter.grad.numpy())
    norms = clipping.clip_each_run_(grad, modes, 1.5)
    np.testing.assert_allclose(grad, expected, rtol=1e-15, atol=0)
    assert norms.shape == (6,)


def test_clipped_optimizer_records_norms_and_checks_settings():
    cliff = landscapes.cliff()
    made = []

    def factory(params):
        made.append(clipping.Clipped(runner.named_optimizer("GD", 1.0)(params), "norm", 1.0))
        return made[-1]

    runner.run(cliff, factory, steps=25)
    assert len(made[0].norms) == 25 and max(n.max() for n in made[0].norms) > 10
    with pytest.raises(ValueError, match="mode must be one of none, norm, value; got 'l2'"):
        clipping.clipped(runner.named_optimizer("GD", 1.0), "l2", 1.0)
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        clipping.clipped(runner.named_optimizer("GD", 1.0), "norm", -1.0)
    with pytest.raises(ValueError, match="one per run"):
        clipping.clip_each_run_(np.ones((3, 2)), ["norm", "value"], 1.0)


# --------------------------------------------------------------------------------------------------
# Mixed precision
# --------------------------------------------------------------------------------------------------

def test_float16_constants():
    assert precision.FLOAT16_MAX == 65504.0 == torch.finfo(torch.float16).max
    assert torch.tensor(1e-8, dtype=torch.float16).item() == 0.0
    assert precision.FLOAT16_TINY == pytest.approx(5.96e-8, rel=1e-3)


def test_detection_on_the_cpu_matches_what_autocast_does():
    dtypes = precision.autocast_dtypes("cpu")
    assert set(dtypes) <= {torch.float16, torch.bfloat16}
    for dtype in dtypes:
        with torch.autocast("cpu", dtype=dtype):
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == dtype
    plan = precision.amp_plan(torch.device("cpu"), "Device: CPU (test)")
    assert plan.sentence.startswith("Device: CPU (test); autocast dtypes that work:")
    assert plan.use_scaler == (plan.dtype == torch.float16)
    assert plan.dtype in dtypes or (plan.dtype == torch.float32 and not dtypes)


def test_update_scale_follows_grad_scaler():
    rng = np.random.default_rng(1)
    flags = list(rng.random(40) < 0.3) + [False] * 6
    w = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = torch.optim.SGD([w], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=4)
    scale, tracker = 1024.0, 0
    for found_inf in flags:
        optimizer.zero_grad()
        scaler.scale((w * (float("inf") if found_inf else 1.0)).sum()).backward()
        scaler.step(optimizer)
        scaler.update()
        scale, tracker = precision.update_scale(scale, tracker, bool(found_inf), growth_interval=4)
        assert scale == scaler.get_scale()


def test_unscale_matches_grad_scaler_and_reports_inf():
    grads = [np.array([65536.0, -3.0 * 65536]), np.array([[1.0, 2.0]])]
    assert precision.unscale_(grads, 65536.0) is False
    np.testing.assert_array_equal(grads[0], [1.0, -3.0])
    assert precision.unscale_([np.array([np.inf, 1.0])], 2.0) is True
    assert precision.describe_scale(65536.0) == "65536 = 2^16" and precision.describe_scale(3.0) == "3"


# --------------------------------------------------------------------------------------------------
# ClippingExplorer
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def explorer():
    return widgets.ClippingExplorer()


def test_explorer_builds_and_set_moves_the_artists(explorer):
    explorer.set(mode="norm", threshold=1.0, lr=1.0)
    path_line = explorer._lines["clipped"][0]
    before = path_line.get_xydata().copy()
    # The clipped run bounces down the valley: the digits of its final E differ between CPUs, its band does not.
    label = explorer._lines["clipped"][2].get_text()
    assert label.startswith("by norm at 1: max step 1, E ") and float(label.rsplit("E ", 1)[1]) < 1e-3
    explorer.set(mode="value", threshold=0.3)
    assert not np.array_equal(path_line.get_xydata(), before)
    assert explorer._lines["clipped"][2].get_text().startswith("by value at 0.3: max step 0.424")
    explorer.set(mode="none")
    assert explorer._lines["clipped"][2].get_text() == "" and len(path_line.get_xydata()) == 0


def test_explorer_reports_the_jump_onto_the_plateau(explorer):
    explorer.set(mode="norm", threshold=100.0, lr=1.0)
    for key in ("unclipped", "clipped"):
        assert explorer._lines[key][2].get_text().endswith("max step 10.4, E 0.09 (plateau)")


def test_explorer_mimebundle_and_bad_settings(explorer):
    explorer.set(mode="norm", threshold=1.0, lr=1.0)
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"] == "ClippingExplorer: mode=norm, threshold=1, lr=1, steps=400"
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    with pytest.raises(ValueError, match="mode must be one of norm, value, none"):
        explorer.set(mode="global")
    with pytest.raises(ValueError, match="threshold must be between"):
        explorer.set(threshold=1e3)
    assert explorer.describe() == "ClippingExplorer: mode=norm, threshold=1, lr=1, steps=400"


# --------------------------------------------------------------------------------------------------
# Checkers
# --------------------------------------------------------------------------------------------------

CHECKERS = [
    (exercises.check_clip_by_global_norm, exercises.GLOBAL_NORM_EXERCISE, exercises.clip_by_global_norm_reference),
    (exercises.check_find_nonfinite, exercises.NONFINITE_EXERCISE, clipping.nonfinite_gradients),
    (exercises.check_unscale_then_clip, exercises.UNSCALE_EXERCISE, exercises.unscale_then_clip_reference),
]


@pytest.mark.parametrize("check, exercise, reference", CHECKERS, ids=lambda x: getattr(x, "__name__", ""))
def test_reference_passes_and_each_mistake_gets_its_message(check, exercise, reference):
    assert check(reference).passed
    for mistake in exercise.mistakes:
        result = check(mistake.answer)
        assert not result.passed and result.message == mistake.explanation


def test_checkers_explain_unusable_answers():
    assert "return the pair (clipped_grads, total_norm)" in exercises.check_clip_by_global_norm(lambda g, c: 1.0).message
    assert "Add 1e-6" in exercises.check_clip_by_global_norm(lambda g, c: 1 / 0).message
    message = exercises.check_find_nonfinite(lambda named: ["x"]).message
    assert "return a dict" in message and "embedding.weight: NaN" in message
    assert "forget `return`" in exercises.check_unscale_then_clip(lambda g, s, c: None).message


def test_seed_notes_check_is_diagnosed():
    def seed_check(named_grads):
        found = {"nan": [], "inf": []}
        for name, g in named_grads.items():
            if np.isnan(g).any():
                found["inf"].append(name)
            elif np.isinf(g).any():
                found["nan"].append(name)
        return found

    result = exercises.check_find_nonfinite(seed_check)
    assert not result.passed and "swapped" in result.message


def test_the_clipping_explorer_shows_exactly_the_runs_made_on_their_own():
    """Its runs come from batches of a setting and its slider neighbours (widgets.DragCache): the
    same numbers, bit for bit, as the pair of runs made alone."""
    explorer = widgets.ClippingExplorer(steps=120)
    cliff = landscapes.cliff()
    for mode, threshold, lr in (("norm", 1.0, 1.0), ("value", 10**-0.3, 10**0.15), ("none", 3.0, 0.1)):
        explorer.set(mode=mode, threshold=threshold, lr=lr)
        alone = runner.run(cliff, clipping.clipped(runner.named_optimizer("GD", lr), ["none", mode], threshold),
                           start=np.tile(cliff.start, (2, 1)), steps=120)
        np.testing.assert_array_equal(explorer.results["unclipped"].path, alone[0].path)
        if mode == "none":
            assert explorer.results["clipped"] is None
        else:
            np.testing.assert_array_equal(explorer.results["clipped"].path, alone[1].path)
