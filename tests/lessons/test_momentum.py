"""Notebook 02's lesson: the momentum explorer, the exercises (their references agree with torch,
right answers pass, each known mistake is named), and the analysis (the 2×2 iteration's factor is the
measured rate, Sutskever et al.'s look-ahead points are torch's Nesterov iterates, momentum on noisy
gradients is SGD with lr/(1−β))."""

import numpy as np
import pytest
import torch
from learner_answers import failure, passes

from course_lib import optim
from course_lib.lab import landscapes, plots, runner
from course_lib.lessons import momentum as lesson
from course_lib.lessons.momentum import (MOMENTUM_EXERCISE, TORCH_MAPPING_EXERCISE, check_momentum_step,
                                         check_nesterov_step, check_torch_mapping, textbook_momentum_step,
                                         torch_nesterov_step)


@pytest.fixture(scope="module")
def momentum_explorer():
    return lesson.MomentumExplorer()


def status_texts(explorer):
    return [text.get_text() for text in explorer.axes[-1].texts]


@pytest.mark.parametrize("checker, answer", [
    (check_momentum_step, textbook_momentum_step),
    (check_torch_mapping, lambda alpha, beta: {"lr": alpha * (1 - beta), "momentum": beta}),
    (check_torch_mapping, lambda alpha, beta: dict(lr=alpha - alpha * beta, momentum=beta,
                                                   dampening=0, nesterov=False)),
    (check_nesterov_step, torch_nesterov_step),
])
def test_right_answers_pass(checker, answer):
    passes(checker, answer)


def test_momentum_explorer_compares_gd_with_momentum_and_nesterov(momentum_explorer):
    explorer = momentum_explorer
    explorer.set(lr=0.05, beta=0.9, condition=10.0, nesterov=False)
    bowl = landscapes.ill_conditioned_bowl(10.0)
    gd_line, momentum_line = explorer.axes[0].get_lines()[-2:]
    np.testing.assert_array_equal(gd_line.get_xydata(), runner.run(bowl, runner.named_optimizer("GD", 0.05),
                                                                    steps=100).path)
    np.testing.assert_array_equal(momentum_line.get_xydata(),
                                  runner.run(bowl, runner.named_optimizer("momentum", 0.05), steps=100).path)
    explorer.set(nesterov=True, beta=0.5, condition=20.0)
    bowl = landscapes.ill_conditioned_bowl(20.0)
    np.testing.assert_array_equal(
        momentum_line.get_xydata(),
        runner.run(bowl, runner.named_optimizer("Nesterov", 0.05, momentum=0.5), steps=100).path)
    assert momentum_line.get_color() == plots.OPTIMIZER_COLORS["Nesterov"]
    assert status_texts(explorer)[1].startswith("Nesterov β = 0.50: final loss")
    assert explorer.axes[0].get_title() == bowl.label
    explorer.set(beta=0.0)  # β = 0: both momentum forms are GD (torch refuses Nesterov without momentum)
    np.testing.assert_array_equal(momentum_line.get_xydata(), gd_line.get_xydata())


def test_momentum_explorer_level_curves_follow_the_condition_number(momentum_explorer):
    explorer = momentum_explorer
    explorer.set(condition=1.0)
    x, y = explorer._ellipses.get_data()
    explorer.set(condition=100.0)
    np.testing.assert_array_equal(explorer._ellipses.get_xdata(), x)
    np.testing.assert_allclose(explorer._ellipses.get_ydata(), y / 10)
    values = landscapes.ill_conditioned_bowl(100.0).value(x, y / 10)
    curves = [curve[np.isfinite(curve)] for curve in np.split(values, np.flatnonzero(np.isnan(values)))]
    curves = [curve for curve in curves if curve.size]
    assert len(curves) > 5
    for curve in curves:  # each NaN-separated curve is one level of f
        np.testing.assert_allclose(curve, curve[0])


def test_momentum_explorer_says_where_a_run_diverged(momentum_explorer):
    explorer = momentum_explorer
    explorer.set(lr=0.25, beta=0.9, condition=10.0, nesterov=False)  # GD: lr > 2/κ = 0.2
    k = explorer.results["GD"].diverged_at
    assert k is not None and status_texts(explorer)[0] == f"GD: diverged at step {k}"


@pytest.mark.parametrize("alpha, beta", [(0.1, 0.9), (0.05, 0.8), (0.3, 0.95)])
def test_textbook_momentum_step_is_torch_sgd_with_lr_alpha_times_one_minus_beta(alpha, beta):
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(20, 3, 2))
    w, v = rng.normal(size=(3, 2)), np.zeros((3, 2))
    param = torch.tensor(w)
    optimizer = torch.optim.SGD([param], lr=alpha * (1 - beta), momentum=beta)
    for grad in grads:
        w, v = textbook_momentum_step(w, v, grad, alpha, beta)
        param.grad = torch.from_numpy(grad)
        optimizer.step()
    np.testing.assert_allclose(w, param.numpy(), rtol=1e-12)


@pytest.mark.parametrize("lr, momentum", [(0.1, 0.9), (0.05, 0.8)])
def test_nesterov_step_is_torch_sgd_nesterov(lr, momentum):
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(20, 4))
    w, b = rng.normal(size=4), np.zeros(4)
    param = torch.tensor(w)
    optimizer = torch.optim.SGD([param], lr=lr, momentum=momentum, nesterov=True)
    for grad in grads:
        w, b = torch_nesterov_step(w, b, grad, lr, momentum)
        param.grad = torch.from_numpy(grad)
        optimizer.step()
    np.testing.assert_allclose(w, param.numpy(), rtol=1e-12)


@pytest.mark.parametrize("case", TORCH_MAPPING_EXERCISE.cases)
def test_textbook_path_is_torch_sgd_path(case):
    alpha, beta = case["alpha"], case["beta"]
    hessian, linear = torch.from_numpy(lesson._HESSIAN), torch.from_numpy(lesson._LINEAR)
    param = torch.from_numpy(lesson._START.copy())
    optimizer = torch.optim.SGD([param], lr=alpha * (1 - beta), momentum=beta)
    path = []
    for _ in range(50):
        param.grad = hessian @ param - linear
        optimizer.step()
        path.append(param.clone().numpy())
    np.testing.assert_allclose(TORCH_MAPPING_EXERCISE.expected(alpha, beta), path, rtol=1e-10)


def test_momentum_step_that_updates_in_place_passes_and_leaves_the_cases_alone():
    cases_before = [{key: np.copy(value) for key, value in case.items()}
                    for case in MOMENTUM_EXERCISE.cases]

    def in_place(w, v, grad, lr, beta):
        v *= beta
        v += (1 - beta) * grad
        w -= lr * v
        return w, v

    assert check_momentum_step(in_place).passed
    assert check_momentum_step(in_place).passed
    for before, after in zip(cases_before, MOMENTUM_EXERCISE.cases):
        for key in before:
            np.testing.assert_array_equal(before[key], after[key])


@pytest.mark.parametrize("answer, key_words", [
    (lambda w, v, grad, lr, beta: (w - lr * grad, beta * v + (1 - beta) * grad),
     ["raw gradient instead of the velocity"]),
    (lambda w, v, grad, lr, beta: (w - lr * (beta * v + grad), beta * v + grad),
     ["forgot the (1−β)"]),
    (lambda w, v, grad, lr, beta: (w - lr * ((1 - beta) * v + beta * grad),
                                   (1 - beta) * v + beta * grad),
     ["swapped"]),
    (lambda w, v, grad, lr, beta: (w - lr * v, beta * v + (1 - beta) * grad),
     ["updated w before v"]),
    (lambda w, v, grad, lr, beta: textbook_momentum_step(w, v, grad, lr, beta)[::-1],
     ["wrong order"]),
])
def test_momentum_step_mistakes(answer, key_words):
    message = failure(check_momentum_step, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer, key_words", [
    (lambda alpha, beta: dict(lr=alpha, momentum=beta, dampening=beta),
     ["dampening=β", "first buffer is the undamped gradient", "lr = α(1−β)"]),
    (lambda alpha, beta: dict(lr=alpha * (1 - beta), momentum=beta, dampening=beta),
     ["(1−β) twice", "dampening"]),
    (lambda alpha, beta: dict(lr=alpha, momentum=beta), ["lr=α", "1/(1−β) times too long"]),
    (lambda alpha, beta: dict(lr=alpha * (1 - beta), momentum=1 - beta), ["momentum is β"]),
    (lambda alpha, beta: dict(lr=alpha * (1 - beta), momentum=beta, nesterov=True),
     ["path w_1, …, w_50", "index (0, 0)", "alpha=0.1, beta=0.9"]),
])
def test_torch_mapping_mistakes(answer, key_words):
    message = failure(check_torch_mapping, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer, key_words", [
    (lambda alpha, beta: dict(lr=alpha, beta=beta),
     ["SGD rejected", "beta=0.9", "TypeError", "unexpected keyword argument 'beta'"]),
    (lambda alpha, beta: dict(lr=-alpha, momentum=beta), ["SGD rejected", "ValueError", "-0.1"]),
    (lambda alpha, beta: (alpha * (1 - beta), beta), ["tuple", "return a dict"]),
])
def test_torch_mapping_unusable_answers_are_reported(answer, key_words):
    message = failure(check_torch_mapping, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer, key_words", [
    (lambda w, b, grad, lr, mu: (w - lr * (mu * b + grad), mu * b + grad), ["heavy-ball"]),
    (lambda w, b, grad, lr, mu: (w - lr * (grad + mu * b), mu * b + grad),  # the same thing
     ["heavy-ball", "old buffer", "g + μ·b_new"]),
    (lambda w, b, grad, lr, mu: (w - lr * mu * (mu * b + grad), mu * b + grad),
     ["dropped the gradient"]),
    (lambda w, b, grad, lr, mu: (w - lr * (grad + mu * (mu * b + (1 - mu) * grad)),
                                 mu * b + (1 - mu) * grad),
     ["damped"]),
    (lambda w, b, grad, lr, mu: torch_nesterov_step(w, b, grad, lr, mu)[::-1], ["wrong order"]),
])
def test_nesterov_mistakes(answer, key_words):
    message = failure(check_nesterov_step, answer)
    assert all(word in message for word in key_words), message


# --------------------------------------------------------------------------------------------------
# The analysis: the 2×2 iteration, Sutskever et al.'s look-ahead form, noisy gradients, the figures
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lr, momentum, curvature, nesterov", [
    (0.036, 0.7, 50.0, False), (0.036, 0.7, 1.0, False), (0.036, 0.5, 1.0, False), (0.025, 0.9, 50.0, True),
    (0.025, 0.9, 1.0, True), (0.01, 0.3, 20.0, True),
])
def test_contraction_factor_is_the_measured_rate(lr, momentum, curvature, nesterov):
    """The factor of the 2×2 iteration is the decay of a real 1-D run, read from its envelope."""
    x = np.array([1.0])
    optimizer = optim.SGD([x], lr=lr, momentum=momentum, nesterov=nesterov)
    sizes = []
    for _ in range(400):
        optimizer.step([curvature * x])
        sizes.append(abs(x[0]))
    measured = (max(sizes[-40:]) / max(sizes[-240:-200])) ** (1 / 200)
    np.testing.assert_allclose(lesson.contraction_factor(lr, momentum, curvature, nesterov), measured, rtol=2e-3)


def test_contraction_factor_of_gradient_descent_and_of_the_best_heavy_ball():
    np.testing.assert_allclose(lesson.contraction_factor(0.036, 0.0, [1, 50]), [0.964, 0.8])
    for kappa in (10, 100, 1000):
        root = np.sqrt(kappa)
        best = lesson.contraction_factor(4 / (1 + root) ** 2, ((root - 1) / (root + 1)) ** 2,
                                         np.geomspace(1, kappa, 50))
        np.testing.assert_allclose(best, (root - 1) / (root + 1), rtol=1e-6)  # every curvature: √β


@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_contraction_factor_stability_limits(beta):
    heavy_ball_limit, nesterov_limit = 2 * (1 + beta), 2 * (1 + beta) / (1 + 2 * beta)
    for limit, nesterov in ((heavy_ball_limit, False), (nesterov_limit, True)):
        assert lesson.contraction_factor(0.999 * limit, beta, 1.0, nesterov) < 1
        assert lesson.contraction_factor(1.001 * limit, beta, 1.0, nesterov) > 1


def test_sutskever_lookahead_points_are_torch_nesterov_iterates():
    bowl = landscapes.ill_conditioned_bowl(50.0)
    theta, lookahead = lesson.sutskever_nesterov_path(bowl, lr=0.025, momentum=0.9, steps=100)
    param = torch.tensor(bowl.start, dtype=torch.float64)
    optimizer = torch.optim.SGD([param], lr=0.025, momentum=0.9, nesterov=True)
    path = [param.clone().numpy()]
    for _ in range(100):
        param.grad = torch.tensor(np.stack(bowl.gradient(*param.numpy())))
        optimizer.step()
        path.append(param.clone().numpy())
    np.testing.assert_allclose(lookahead, path, rtol=1e-12, atol=1e-14)
    assert np.abs(theta[1:] - lookahead[1:]).max() > 1e-3  # θ itself is another sequence


def test_noisy_bowl_losses_are_seeded_and_without_noise_are_the_plain_run():
    losses = lesson.noisy_bowl_losses(lr=0.01, momentum=0.9, runs=3, steps=20)
    assert losses.shape == (3, 21)
    np.testing.assert_array_equal(losses, lesson.noisy_bowl_losses(lr=0.01, momentum=0.9, runs=3, steps=20))
    assert not np.array_equal(losses, lesson.noisy_bowl_losses(lr=0.01, momentum=0.9, runs=3, steps=20, seed=1))
    quiet = lesson.noisy_bowl_losses(lr=0.01, momentum=0.9, noise=0.0, runs=2, steps=20)
    plain = runner.run(landscapes.ill_conditioned_bowl(10.0), runner.named_optimizer("momentum", 0.01), steps=20)
    np.testing.assert_allclose(quiet, np.tile(plain.losses, (2, 1)), rtol=1e-12)


def test_momentum_on_noisy_gradients_is_sgd_with_lr_over_one_minus_beta():
    momentum = lesson.noisy_bowl_losses(lr=0.0005, momentum=0.9, runs=200, steps=1500)
    rescaled = lesson.noisy_bowl_losses(lr=0.005, runs=200, steps=1500)
    plain = lesson.noisy_bowl_losses(lr=0.0005, runs=200, steps=1500)
    floor_momentum, floor_rescaled = momentum[:, 1001:].mean(), rescaled[:, 1001:].mean()
    np.testing.assert_allclose(floor_momentum, floor_rescaled, rtol=0.1)
    np.testing.assert_allclose(floor_rescaled, 0.005 / 2, rtol=0.1)  # lr·σ²/4 per coordinate
    np.testing.assert_allclose(momentum.mean(axis=0)[300], rescaled.mean(axis=0)[300], rtol=0.15)
    assert plain.mean(axis=0)[300] > 10 * momentum.mean(axis=0)[300]


def test_plot_race_keeps_one_legend_and_the_given_colours():
    bowl = landscapes.ill_conditioned_bowl(50.0)
    results = {name: runner.run(bowl, runner.named_optimizer("momentum", 0.036, momentum=beta), steps=10)
               for name, beta in (("momentum, β = 0.5", 0.5), ("momentum, β = 0.9", 0.9))}
    figure = lesson.plot_race(bowl, results, colors={"momentum, β = 0.5": "#8c6bb1"})
    paths, losses = figure.axes
    assert paths.get_legend() is None and losses.get_legend() is not None
    colours = {line.get_label(): line.get_color() for line in losses.get_lines()}
    assert colours == {"momentum, β = 0.5": "#8c6bb1", "momentum, β = 0.9": plots.OPTIMIZER_COLORS["momentum"]}
