"""Notebook 12 (beyond Adam): each measurement against an independent computation (formulas, SVDs,
torch and the reference packages), the explorer draws what course_lib computes and reacts, and the
checks accept the solutions and name the known mistakes."""

import numpy as np
import pytest
import schedulefree
import torch

from course_lib import optim
from course_lib.interactive.checking import check_answer, check_function
from course_lib.lab import nets
from course_lib.lessons import beyond_adam as lesson
from course_lib.lessons.beyond_adam import experiments

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- memory -------------------------------------------------------------------------------------

def expected_state(shapes):
    """The state sizes from the optimizers' definitions, counted by hand."""
    sizes = {name: int(np.prod(shape)) for name, shape in shapes.items()}
    n = sum(sizes.values())

    def factored(shape):
        if len(shape) < 2:
            return int(np.prod(shape))
        leading = int(np.prod(shape[:-2]))
        return leading * (shape[-2] + shape[-1])

    hidden = sum(size for name, size in sizes.items() if ("attn" in name or "mlp" in name) and len(shapes[name]) == 2)
    return {"SGD, momentum": n, "AdamW": 2 * n, "Adafactor": sum(factored(s) for s in shapes.values()),
            "Lion": n, "schedule-free AdamW": 2 * n, "Muon + AdamW": hidden + 2 * (n - hidden)}


@pytest.mark.parametrize("shapes", [lesson.transformer_shapes(), lesson.PREDICTION_SHAPES,
                                    lesson.transformer_shapes(vocab=50, width=8, context=4, blocks=1)],
                         ids=["transformer", "prediction", "tiny"])
def test_state_floats_are_the_definitions(shapes):
    assert lesson.state_floats(shapes) == expected_state(shapes)


def test_the_transformer_has_the_shapes_of_a_gpt():
    shapes = lesson.transformer_shapes(vocab=1000, width=128, context=64, blocks=2)
    assert sum(int(np.prod(s)) for s in shapes.values()) == 1000 * 128 * 2 + 64 * 128 + 2 * (12 * 128**2 + 2 * 128) + 128
    hidden = [name for name, shape in shapes.items() if lesson.is_hidden_matrix(name, shape)]
    assert len(hidden) == 8 and not any("embedding" in name or "head" in name or "gain" in name for name in hidden)


# --- Lion's step sizes ------------------------------------------------------------------------------

def test_lion_moves_every_coordinate_by_lr_and_adam_less_on_noise():
    grads = lesson.noisy_gradients(steps=400, size=500, signal=0.0)
    sizes = lesson.update_rms(grads, lr=1e-3)
    np.testing.assert_allclose(sizes["Lion"], 1.0, rtol=1e-9)
    first = grads[0] / (np.abs(grads[0]) + 1e-8)            # Adam's first step: g/(|g| + ε), about ±1
    assert sizes["Adam"][0] == pytest.approx(np.sqrt(np.mean(first**2)), rel=1e-9)
    # pure noise: m̂/√v̂ has RMS about √((1 − β₁)/(1 + β₁))
    assert np.mean(sizes["Adam"][200:]) == pytest.approx(np.sqrt(0.1 / 1.9), rel=0.15)


# --- Newton–Schulz --------------------------------------------------------------------------------

def test_the_matrix_has_a_one_over_k_squared_spectrum():
    matrix = lesson.momentum_like_matrix(rows=8, columns=12, seed=3)
    np.testing.assert_allclose(np.linalg.svd(matrix, compute_uv=False), 1 / np.arange(1, 9) ** 2, rtol=1e-12)


@pytest.mark.parametrize("coefficients", list(lesson.COEFFICIENTS.values()))
@pytest.mark.parametrize("steps", [0, 1, 5])
def test_iterate_polynomial_is_what_newton_schulz_does_to_the_singular_values(coefficients, steps):
    matrix = lesson.momentum_like_matrix()
    before = np.linalg.svd(matrix, compute_uv=False) / np.linalg.norm(matrix)
    after = np.linalg.svd(optim.newton_schulz(matrix, coefficients, steps), compute_uv=False)
    np.testing.assert_allclose(np.sort(after), np.sort(lesson.iterate_polynomial(before, coefficients, steps)),
                               rtol=1e-9, atol=1e-12)


def test_polynomial_band_brackets_the_iterated_quintic():
    low, high = lesson.polynomial_band(0.002)
    a, b, c = optim.beyond.MUON_COEFFICIENTS
    s = np.random.default_rng(0).uniform(0.002, 1, 100_000)
    for _ in range(5):
        s = a * s + b * s**3 + c * s**5
    assert low <= s.min() + 1e-3 and s.max() <= high + 1e-6
    assert 0.6 < low < 0.75 and 1.15 < high < 1.25


# --- the shared experiment ---------------------------------------------------------------------------

def torch_train_moons(make, seed, steps):
    """The network and task of ``train_moons``, in torch float64: (validation, test) cross-entropy."""
    ((X, Y), validation, test), params = lesson.experiments.moons_task(seed)
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    optimizer = make(tensors)
    if hasattr(optimizer, "train"):
        optimizer.train()

    def loss_of(X, Y):
        W1, b1, W2, b2, W3, b3 = tensors
        A = torch.sigmoid(W3 @ torch.relu(W2 @ torch.relu(W1 @ torch.tensor(X) + b1) + b2) + b3)
        Y = torch.tensor(Y)
        return -(Y * torch.log(A) + (1 - Y) * torch.log(1 - A)).mean()

    for _ in range(steps):
        optimizer.zero_grad()
        loss_of(X, Y).backward()
        optimizer.step()
    if hasattr(optimizer, "eval"):
        optimizer.eval()
    with torch.no_grad():
        return loss_of(*validation).item(), loss_of(*test).item()


@pytest.mark.parametrize("name, make", [
    ("AdamW", lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.0)),
    ("SGD, momentum", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("schedule-free AdamW", lambda p: schedulefree.AdamWScheduleFree(p, lr=0.01)),
], ids=["AdamW", "SGD", "schedule-free"])
def test_train_moons_is_torchs_training(name, make):
    lr = 0.1 if name == "SGD, momentum" else 0.01
    np.testing.assert_allclose(lesson.train_moons(name, lr, seed=1, steps=30), torch_train_moons(make, 1, 30),
                               rtol=1e-9)


def test_compare_on_moons_keeps_the_lr_with_the_lowest_mean_validation_loss():
    grids = {"Lion": (1e-4, 3e-3), "Muon + AdamW": (0.01, 0.1)}
    comparison = lesson.compare_on_moons(names=tuple(grids), seeds=(0, 1), steps=20, lr_grids=grids)
    for name, grid in grids.items():
        table = np.array([[lesson.train_moons(name, lr, seed, 20) for seed in (0, 1)] for lr in grid])
        np.testing.assert_array_equal(comparison.validation[name], table[..., 0])
        best = grid[int(np.argmin(table[..., 0].mean(axis=1)))]
        assert comparison.best[name] == best
        np.testing.assert_array_equal(comparison.at_best(name), table[list(grid).index(best), :, 1])
    with pytest.raises(ValueError, match="optimizer must be one of"):
        lesson.make_optimizer("Adam", [np.zeros(2)], 0.1)


def test_muon_in_the_comparison_takes_only_the_hidden_matrix():
    params = nets.he_init(lesson.LAYERS, 0)
    both = lesson.make_optimizer("Muon + AdamW", params, 0.01)
    assert [p.shape for p in both.muon.params] == [(32, 32)]
    assert len(both.adamw.params) == 5 and all(p is not params[2] for p in both.adamw.params)


# --- schedule-free against cosine -------------------------------------------------------------------

def test_anytime_readings_are_those_of_runs_stopped_there():
    """Reading the one run at T (eval, then train again) gives what a run of exactly T steps gives."""
    both = experiments.anytime_regression(lr=0.05, lengths=(30, 60), runs=4)
    for k, T in enumerate((30, 60)):
        alone = experiments.anytime_regression(lr=0.05, lengths=(T,), runs=4)
        for name in ("schedule-free", "constant", "cosine"):
            assert both[name][k] == pytest.approx(alone[name][0], rel=1e-10)


# --- verified ------------------------------------------------------------------------------------------

def test_every_optimizer_agrees_with_its_reference():
    results = lesson.verify_against_references(steps=30)
    assert set(results) == {"Adagrad", "Adafactor", "Lion", "AdamWScheduleFree", "Muon"}
    for name, (_, difference) in results.items():
        assert difference <= (8 if name == "Muon" else 1e-12), name


def test_the_verification_sees_a_wrong_update(monkeypatch):
    monkeypatch.setattr(optim.beyond, "lion_momentum_", lambda m, g, beta2: optim.beyond.lerp_(m, g, 0.5))
    assert lesson.verify_against_references(steps=10)["Lion"][1] > 1e-6


# --- the explorer ------------------------------------------------------------------------------------

def test_explorer_draws_the_iteration_and_reacts():
    explorer = lesson.NewtonSchulzExplorer()
    matrix = lesson.momentum_like_matrix()
    for steps, name in ((5, "Muon's quintic"), (2, "cubic"), (0, "quintic with p(1) = 1")):
        explorer.set(steps=steps, coefficients=name)
        expected = np.linalg.svd(optim.newton_schulz(matrix, lesson.COEFFICIENTS[name], steps), compute_uv=False)
        np.testing.assert_allclose(explorer._after.get_ydata(), expected, rtol=1e-12)
        np.testing.assert_allclose(explorer._curve.get_ydata(),
                                   lesson.iterate_polynomial(explorer.grid, lesson.COEFFICIENTS[name], steps))
        assert explorer._status.get_text() == f"after {steps} steps: from {expected.min():.2f} to {expected.max():.2f}"
    assert explorer.describe() == "NewtonSchulzExplorer: steps=0, coefficients=quintic with p(1) = 1"
    bundle = explorer._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and bundle["image/png"]
    with pytest.raises(ValueError):
        explorer.set(coefficients="septic")
    with pytest.raises(ValueError):
        explorer.set(steps=11)


# --- exercises -----------------------------------------------------------------------------------------

def stub(*args):
    raise NotImplementedError


def lion_solution(theta, m, grad, lr, beta1, beta2, weight_decay):
    theta = theta * (1 - lr * weight_decay) - lr * np.sign(beta1 * m + (1 - beta1) * grad)
    return theta, beta2 * m + (1 - beta2) * grad


def test_lion_check_accepts_lion_pytorchs_step_and_names_each_mistake():
    assert not check_function(stub, lesson.LION_EXERCISE).attempted
    assert lesson.check_lion_update(lion_solution).passed
    # the reference of the check is lion-pytorch's step itself
    from lion_pytorch import Lion
    for case in lesson.LION_EXERCISE.cases:
        theta = torch.tensor(case["theta"], requires_grad=True)
        reference = Lion([theta], lr=case["lr"], betas=(case["beta1"], case["beta2"]),
                         weight_decay=case["weight_decay"])
        reference.state[theta]["exp_avg"] = torch.tensor(case["m"])
        theta.grad = torch.tensor(case["grad"])
        reference.step()
        ours = lion_solution(*case.values())
        np.testing.assert_allclose(ours[0], theta.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours[1], reference.state[theta]["exp_avg"].numpy(), rtol=1e-12)
    for mistake in lesson.LION_EXERCISE.mistakes:
        result = check_function(mistake.answer, lesson.LION_EXERCISE)
        assert not result.passed and result.message == mistake.explanation


def test_newton_schulz_check_accepts_both_orders_and_names_each_mistake():
    assert not check_function(stub, lesson.NS_EXERCISE).attempted
    assert lesson.check_newton_schulz_step(lambda X, a, b, c: a * X + (b * X @ X.T + c * X @ X.T @ X @ X.T) @ X).passed
    assert lesson.check_newton_schulz_step(lambda X, a, b, c: a * X + X @ (b * X.T @ X + c * X.T @ X @ X.T @ X)).passed
    for case in lesson.NS_EXERCISE.cases:   # one step maps the singular values through p
        X, (a, b, c) = case["X"], (case["a"], case["b"], case["c"])
        s = np.linalg.svd(X, compute_uv=False)
        np.testing.assert_allclose(np.linalg.svd(lesson.NS_EXERCISE.expected(*case.values()), compute_uv=False),
                                   np.sort(np.abs(a * s + b * s**3 + c * s**5))[::-1], rtol=1e-10)
    for mistake in lesson.NS_EXERCISE.mistakes:
        result = check_function(mistake.answer, lesson.NS_EXERCISE)
        assert not result.passed and result.message == mistake.explanation
    wrong_side = lesson.check_newton_schulz_step(lambda X, a, b, c: a * X + X @ (b * X @ X.T))
    assert not wrong_side.passed and "A = X @ X.T is square" in wrong_side.message


def test_state_question_is_judged_by_running_the_optimizers():
    shapes = lesson.PREDICTION_SHAPES
    right = expected_state(shapes)
    assert not check_answer({"AdamW": ..., "Adafactor": ...}, lesson.STATE_QUESTION).attempted
    assert check_answer({"AdamW": right["AdamW"], "Adafactor": right["Adafactor"]}, lesson.STATE_QUESTION).passed
    one_array = check_answer({"AdamW": right["AdamW"] // 2, "Adafactor": right["Adafactor"]}, lesson.STATE_QUESTION)
    assert not one_array.passed and "two arrays" in one_array.message and "not one" in one_array.message
    with_momentum = check_answer({"AdamW": right["AdamW"], "Adafactor": right["Adafactor"] + sum(
        int(np.prod(s)) for s in shapes.values())}, lesson.STATE_QUESTION)
    assert not with_momentum.passed and "no first moment" in with_momentum.message
    flattened = check_answer({"AdamW": right["AdamW"], "Adafactor": right["Adafactor"] - 4 * 96 + 256 + 32},
                             lesson.STATE_QUESTION)
    assert not flattened.passed and "leading indices" in flattened.message
