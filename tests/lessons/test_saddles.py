"""Notebook 06: course_lib.saddles (classification, random matrices, escape from the double well's
saddle with and without noise, critical points of the tiny network) against torch where it applies,
the SaddleExplorer, and the notebook's three exercises (two functions to write, one prediction).

The escape counts measured from (1e-6, 1) are checked in tests/lab/test_runner.py; not repeated here.
"""

import base64
import math
import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.lab import landscapes, plots, runner, torch_bridge
from course_lib.interactive.checking import check_function
from course_lib.lessons import saddles as lesson
from course_lib.lessons.saddles import (CRITICAL_POINT_EXERCISE, ESCAPE_PREDICTION_EXERCISE,
                                        check_classify_critical_point, check_escape_from_closer,
                                        check_escape_prediction)

NAMES = ("GD", "momentum", "Nesterov", "RMSprop", "Adam")


# --------------------------------------------------------------------------------------------------
# Classification by the Hessian's eigenvalues
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("hessian, kind", [
    ([[2.0, 0.0], [0.0, 1.0]], "minimum"),
    ([[-1.0, 0.0], [0.0, 1.0]], "saddle"),
    ([[1.0, 2.0], [2.0, 1.0]], "saddle"),          # positive diagonal, eigenvalues 3 and −1
    (np.diag([-3.0, -1.0]), "maximum"),
    (np.diag([-1.0, -2.0, 4.0]), "saddle"),        # det > 0 and trace > 0
    (np.diag([-1.0, -2.0, -3.0]), "maximum"),      # det < 0
    (np.diag([1.0, 0.0]), "degenerate"),
    (np.diag([0.0, -2.0]), "degenerate"),
    (np.diag([2.0, 0.0, -1.0]), "saddle"),         # a zero beside both signs
    (np.zeros((3, 3)), "degenerate"),
    ([[5.0]], "minimum"),
    (1e-12 * np.diag([1.0, -1.0]), "saddle"),      # the tolerance is relative, not absolute
])
def test_classification_by_the_signs_of_the_eigenvalues(hessian, kind):
    assert lesson.classify_critical_point(hessian) == kind


def test_the_double_well_has_a_saddle_between_two_minima():
    double_well = landscapes.double_well()
    for point, kind in [((0.0, 0.0), "saddle"), ((1.0, 0.0), "minimum"), ((-1.0, 0.0), "minimum")]:
        hxx, hxy, hyy = double_well.hessian(*point)
        assert lesson.classify_critical_point([[hxx, hxy], [hxy, hyy]]) == kind
        np.testing.assert_array_equal(double_well.gradient(*point), (0.0, 0.0))


def _rotation(seed, dim):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q


@settings(max_examples=60, deadline=None)
@given(signs=st.lists(st.sampled_from([-1.0, 0.0, 1.0]), min_size=1, max_size=6),
       magnitudes=st.lists(st.floats(0.1, 10.0), min_size=6, max_size=6), seed=st.integers(0, 1000))
def test_a_rotated_hessian_is_classified_by_its_eigenvalues_alone(signs, magnitudes, seed):
    """Q·diag(λ)·Qᵀ: rounding turns the exact zeros into ±1e-16, which must still count as zero."""
    eigenvalues = np.array(signs) * np.array(magnitudes[:len(signs)])
    q = _rotation(seed, len(signs))
    hessian = q @ np.diag(eigenvalues) @ q.T
    hessian = (hessian + hessian.T) / 2
    positive, negative = (eigenvalues > 0).any(), (eigenvalues < 0).any()
    expected = ("saddle" if positive and negative else "degenerate" if (eigenvalues == 0).any()
                else "minimum" if positive else "maximum")
    assert lesson.classify_critical_point(hessian) == expected


@pytest.mark.parametrize("hessian, words", [
    ([1.0, 2.0], ["square", "(2,)"]),
    ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], ["square", "(2, 3)"]),
    (np.zeros((0, 0)), ["square", "(0, 0)"]),
    ([[1.0, 2.0], [0.0, 1.0]], ["symmetric"]),
    ([[np.nan, 0.0], [0.0, 1.0]], ["finite"]),
])
def test_classification_refuses_what_is_not_a_hessian(hessian, words):
    with pytest.raises(ValueError) as raised:
        lesson.classify_critical_point(hessian)
    for word in words:
        assert word in str(raised.value)


# --------------------------------------------------------------------------------------------------
# Random symmetric matrices
# --------------------------------------------------------------------------------------------------

def test_goe_matrices_are_seeded_symmetric_with_the_goe_variances():
    matrices = lesson.random_symmetric_matrices(6, 20_000, seed=3)
    assert matrices.shape == (20_000, 6, 6)
    np.testing.assert_array_equal(matrices, matrices.swapaxes(1, 2))
    np.testing.assert_array_equal(matrices, lesson.random_symmetric_matrices(6, 20_000, seed=3))
    diagonal = matrices[:, np.arange(6), np.arange(6)]
    off_diagonal = matrices[:, 0, 1:]
    assert abs(diagonal.var() - 2.0) < 0.05 and abs(off_diagonal.var() - 1.0) < 0.03


def binomial_margin(p, n):
    return 4 * math.sqrt(p * (1 - p) / n)


def test_share_of_minima_matches_the_exact_values_for_one_and_two_dimensions():
    """n = 1: 1/2. n = 2: the eigenvalues are s ± r with s ~ N(0, 1/2) and r² ~ Exp(1), so
    P(s > r) = ∫ φ(s)(1 − e^(−s²)) ds over s > 0 = 1/2 − 1/(2√2)."""
    samples = 200_000
    exact = {1: 0.5, 2: (1 - 1 / math.sqrt(2)) / 2}
    for dim, p in exact.items():
        share, count = lesson.share_all_positive(dim, samples, seed=dim)
        assert share == count / samples
        assert abs(share - p) < binomial_margin(p, samples)


def test_share_of_minima_falls_faster_than_independent_signs():
    shares = [lesson.share_all_positive(dim, 50_000, seed=dim)[0] for dim in range(1, 5)]
    assert all(a > b for a, b in zip(shares, shares[1:]))
    for dim, share in enumerate(shares[1:], start=2):
        assert share < 2.0**-dim / 1.5


def test_the_fraction_of_negative_eigenvalues_concentrates_at_one_half():
    wide = lesson.negative_fraction(4, 4000, seed=0)
    narrow = lesson.negative_fraction(40, 1000, seed=0)
    assert abs(wide.mean() - 0.5) < 0.02 and abs(narrow.mean() - 0.5) < 0.01
    assert narrow.std() < wide.std() / 2
    assert set(np.unique(wide * 4)) <= set(range(5))


@pytest.mark.parametrize("kwargs, error", [({"dim": 0, "samples": 5}, ValueError), ({"dim": 2.0, "samples": 5}, TypeError),
                                           ({"dim": 2, "samples": -1}, ValueError)])
def test_random_matrices_refuse_bad_sizes(kwargs, error):
    with pytest.raises(error, match="dim|samples"):
        lesson.random_symmetric_matrices(**kwargs)


# --------------------------------------------------------------------------------------------------
# Growth near the saddle, escape steps and their prediction
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lr, momentum, nesterov", [(0.01, 0.0, False), (0.1, 0.0, False), (0.01, 0.9, False),
                                                    (0.01, 0.9, True), (0.05, 0.5, False), (0.05, 0.5, True)])
def test_growth_factor_is_what_torch_sgd_does_on_negative_curvature(lr, momentum, nesterov):
    """torch.optim.SGD on f = −x²/2 (the double well's saddle without x⁴): the long-run ratio
    x_(t+1)/x_t is the largest eigenvalue of the linear step."""
    x = torch.tensor([1e-30], dtype=torch.float64, requires_grad=True)
    sgd = torch.optim.SGD([x], lr=lr, momentum=momentum, nesterov=nesterov)
    values = []
    for _ in range(600):
        sgd.zero_grad()
        (-0.5 * x**2).sum().backward()
        sgd.step()
        values.append(x.item())
    assert values[-1] / values[-2] == pytest.approx(lesson.growth_factor(lr, momentum, nesterov), rel=1e-9)
    if momentum == 0:
        assert lesson.growth_factor(lr) == pytest.approx(1 + lr, rel=1e-15)


def test_predicted_escape_steps_is_the_logarithm_ratio():
    assert lesson.predicted_escape_steps(1e-6, 1.01) == pytest.approx(math.log(0.5e6) / math.log(1.01))
    np.testing.assert_array_equal(lesson.predicted_escape_steps([-1e-3, 1e-3], 1.1),
                                  lesson.predicted_escape_steps([1e-3, 1e-3], 1.1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lesson.predicted_escape_steps(0.0, 1.01) == np.inf


def test_escape_and_settle_steps_for_one_run_and_for_many():
    path = np.array([[1e-3, 1.0], [0.2, 0.5], [0.5, 0.1], [0.9, 0.0]])
    assert lesson.escape_step(path) == 2
    assert lesson.escape_step(-path) == 2                       # either side
    assert lesson.escape_step(path, threshold=0.95) is None
    assert lesson.escape_step(path[2:]) == 0
    batched = np.stack([path, np.zeros_like(path)])
    assert lesson.escape_step(batched) == (2, None)
    assert lesson.settle_step([0.0, -0.2, -0.24995, -0.25]) == 2
    assert lesson.settle_step([[0.0, -0.25], [0.0, 0.0]]) == (1, None)


def test_gd_escape_is_the_linear_model_plus_the_cubic_delay_over_eleven_decades():
    """Measured − ln(0.5/x0)/ln(1 + lr) ≈ ½·ln(4/3)/lr ≈ 14.5 steps (+ rounding up), for every x0."""
    x0 = 10.0 ** -np.arange(1, 13)
    result = runner.run(landscapes.double_well(), runner.named_optimizer("GD", 0.01),
                        start=np.stack([x0, np.ones_like(x0)], axis=1), steps=2800)
    delay = np.array(lesson.escape_step(result.path)) - lesson.predicted_escape_steps(x0, lesson.growth_factor(0.01))
    assert np.all((delay > 14) & (delay < 15.5))
    slope = np.polyfit(np.log(1 / x0), np.array(lesson.escape_step(result.path)), 1)[0]
    assert slope == pytest.approx(1 / math.log(1.01), rel=2e-3)


@pytest.mark.parametrize("name", NAMES)
def test_nothing_escapes_from_exactly_zero(name):
    result = runner.run(landscapes.double_well(), runner.named_optimizer(name, 0.01), start=(0.0, 1.0), steps=2000)
    assert np.all(result.path[:, 0] == 0.0) and lesson.escape_step(result.path) is None


@pytest.mark.parametrize("name", NAMES)
def test_torch_optim_escapes_and_settles_at_the_same_steps(name):
    starts = np.array([[1e-6, -1.0], [-1e-3, 0.5], [0.05, 1.0]])
    both = torch_bridge.side_by_side(landscapes.double_well(), name, 0.01, start=starts, steps=1600)
    assert both.max_abs_difference < 1e-12
    assert lesson.escape_step(both.ours.path) == lesson.escape_step(both.theirs.path)
    assert lesson.settle_step(both.ours.losses) == lesson.settle_step(both.theirs.losses)
    assert None not in lesson.escape_step(both.ours.path)


# --------------------------------------------------------------------------------------------------
# Noise at the exact saddle
# --------------------------------------------------------------------------------------------------

def test_noise_takes_gd_off_the_exact_saddle_when_the_linear_model_says():
    """From x0 = 0 every noisy run escapes; the median escape step is the linear model's escape from
    the median start 0.6745·noise_as_start, plus the cubic delay (≈ 14.5 steps at lr = 0.01)."""
    lr = 0.01
    for sigma in (1e-1, 1e-3):
        steps = lesson.noisy_escape_steps(sigma, lr, runs=200, steps=2000, seed=0)
        assert np.isfinite(steps).all()
        model = lesson.predicted_escape_steps(0.6745 * lesson.noise_as_start(sigma, lr), 1 + lr) + 14.5
        assert abs(np.median(steps) - model) < 5
    np.testing.assert_array_equal(lesson.noisy_escape_steps(0.01, lr, runs=50, steps=900, seed=3),
                                  lesson.noisy_escape_steps(0.01, lr, runs=50, steps=900, seed=3))


def test_without_noise_nothing_leaves_the_exact_saddle_and_from_x0_the_noise_matters_little():
    assert np.isinf(lesson.noisy_escape_steps(0.0, 0.01, runs=5, steps=2000)).all()
    noiseless = runner.run(landscapes.double_well(), runner.named_optimizer("GD", 0.01), start=(1e-3, 1.0), steps=900)
    nearly = lesson.noisy_escape_steps(1e-9, 0.01, runs=20, steps=900, x0=1e-3)
    assert np.all(nearly == lesson.escape_step(noiseless.path))


def test_noise_as_start_is_the_spread_of_the_summed_kicks():
    """x ← (1 + lr)·x − lr·σ·ξ from 0: x_T/(1 + lr)^T has the standard deviation noise_as_start."""
    lr, sigma, steps = 0.1, 0.3, 200
    kicks = np.random.default_rng(0).standard_normal((steps, 40_000))
    x = np.zeros(40_000)
    for kick in kicks:
        x = (1 + lr) * x - lr * sigma * kick
    assert np.std(x / (1 + lr) ** steps) == pytest.approx(lesson.noise_as_start(sigma, lr), rel=0.02)


@pytest.mark.parametrize("kwargs", [{"sigma": -0.1}, {"sigma": float("nan")}, {"sigma": "0.1"},
                                    {"sigma": 0.1, "runs": 0}, {"sigma": 0.1, "steps": 2.5}])
def test_noisy_escape_refuses_bad_settings(kwargs):
    with pytest.raises((ValueError, TypeError), match="sigma|runs|steps"):
        lesson.noisy_escape_steps(**kwargs)


# --------------------------------------------------------------------------------------------------
# Critical points of the tiny network
# --------------------------------------------------------------------------------------------------

def _torch_loss(theta, X, y, hidden=lesson.MLP_HIDDEN, weight_decay=1e-3):
    inputs = torch.cat([torch.tensor(X), torch.ones(len(X), 1, dtype=torch.float64)], dim=1)
    W, v, c = theta[:hidden * 3].reshape(hidden, 3), theta[hidden * 3:-1], theta[-1]
    residual = torch.tanh(inputs @ W.T) @ v + c - torch.tensor(y)
    return 0.5 * (residual**2).mean() + 0.5 * weight_decay * (theta**2).sum()


def test_the_tiny_network_loss_gradient_and_hessian_are_torch_autograds():
    X, y = lesson.tiny_mlp_data()
    assert X.shape == (30, 2) and y.shape == (30,)
    theta = np.random.default_rng(7).normal(size=(3, 17))
    loss, gradient = lesson.mlp_loss_and_gradient(theta, X, y)
    hessian = lesson.mlp_hessian(theta, X, y)
    for run in range(3):
        point = torch.tensor(theta[run], requires_grad=True)
        assert loss[run] == pytest.approx(_torch_loss(point, X, y).item(), rel=1e-13)
        np.testing.assert_allclose(gradient[run], torch.autograd.grad(_torch_loss(point, X, y), point)[0].numpy(),
                                   atol=1e-13)
        expected = torch.autograd.functional.hessian(lambda t: _torch_loss(t, X, y), point).numpy()
        np.testing.assert_allclose(hessian[run], expected, atol=1e-13)


def test_damped_newton_finds_critical_points_and_their_index_rises_with_their_loss():
    found = lesson.tiny_mlp_critical_points()
    loss, negative = found["loss"], found["negative"]
    assert found["parameters"] == 17 and found["starts"] == 140 and found["found"] > 60 and len(loss) == found["found"]
    assert negative[np.argmin(loss)] == 0                          # the lowest point is a minimum
    medians = [np.median(loss[negative == k]) for k in np.unique(negative)]
    assert np.all(np.diff(medians) > 0) and len(medians) >= 4     # more directions down, higher loss
    X, y = lesson.tiny_mlp_data()
    highest = loss[negative == negative.max()]                     # the network that predicts a constant
    c = y.mean() / (1 + 1e-3)
    assert highest.min() == pytest.approx(0.5 * np.mean((c - y) ** 2) + 0.5e-3 * c**2, rel=1e-9)


def test_damped_newton_stops_at_a_critical_point_it_starts_on():
    X, y = lesson.tiny_mlp_data()
    c = y.mean() / (1 + 1e-3)
    start = np.zeros((1, 17))
    start[0, -1] = c
    points, norm = lesson.find_critical_points(start, X, y, iterations=5)
    np.testing.assert_allclose(points, start, atol=1e-15)
    assert norm[0] < 1e-15


# --------------------------------------------------------------------------------------------------
# SaddleExplorer
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def explorer():
    return lesson.SaddleExplorer()


def test_explorer_builds_on_its_own_canvas_and_shows_the_default_run(explorer):
    from ipympl.backend_nbagg import Canvas
    assert isinstance(explorer.canvas, Canvas) and explorer.canvas in explorer.widget.children
    explorer.set(x0=1e-6, optimizer="GD", lr=0.01)
    expected = runner.run(landscapes.double_well(), runner.named_optimizer("GD", 0.01), start=(1e-6, 1.0), steps=3000)
    np.testing.assert_array_equal(explorer._path.get_xydata(), expected.path)
    np.testing.assert_array_equal(explorer._x.get_ydata(), np.abs(expected.path[:, 0]))
    assert explorer.escape_step == 1334
    assert explorer._status.get_text() == "GD, lr = 0.01:\nescaped at step 1334 (linear model: 1319)"
    assert explorer._escape_line.get_visible() and list(explorer._escape_line.get_xdata()) == [1334, 1334]


def test_explorer_set_moves_the_same_artists(explorer):
    explorer.set(x0=1e-6, optimizer="GD", lr=0.01)
    artists = explorer.axes[0].get_lines() + explorer.axes[1].get_lines()
    before = explorer._x.get_ydata().copy()
    explorer.set(x0=1e-10, optimizer="momentum")
    assert explorer.axes[0].get_lines() + explorer.axes[1].get_lines() == artists
    assert not np.array_equal(explorer._x.get_ydata(), before)
    expected = runner.run(landscapes.double_well(), runner.named_optimizer("momentum", 0.01), start=(1e-10, 1.0),
                          steps=3000)
    np.testing.assert_array_equal(explorer._path.get_xydata(), expected.path)
    assert explorer._path.get_color() == plots.OPTIMIZER_COLORS["momentum"]
    model_x, model_y = explorer._model.get_data()
    np.testing.assert_allclose(model_y[:100], 1e-10 * lesson.growth_factor(0.01, 0.9) ** np.arange(100))
    explorer.set(optimizer="Adam")
    assert len(explorer._model.get_xdata()) == 0                  # no linear model for the adaptive ones
    adam = runner.run(landscapes.double_well(), runner.named_optimizer("Adam", 0.01), start=(1e-10, 1.0), steps=3000)
    assert explorer._status.get_text() == f"Adam, lr = 0.01:\nescaped at step {lesson.escape_step(adam.path)}"
    explorer.controls["x0"].value = 1e-3                          # what dragging the slider does
    assert explorer.result.path[0, 0] == 1e-3


def test_explorer_says_when_a_run_does_not_escape_or_diverges(explorer):
    explorer.set(x0=1e-15, optimizer="GD", lr=0.001)
    assert explorer.status() == "no escape in 3000 steps (linear model: 33863)"
    assert not explorer._escape_line.get_visible()
    explorer.set(x0=1e-12, lr=3.0)
    k = explorer.result.diverged_at
    assert k is not None and explorer.status() == f"diverged at step {k}"
    explorer.set(x0=1e-6, optimizer="momentum", lr=1.0)
    assert explorer.status() == (f"escaped at step {explorer.escape_step} (linear model: {explorer.predicted:.0f}), "
                                 f"then diverged at step {explorer.result.diverged_at}")


def test_explorer_mimebundle_and_bad_settings(explorer):
    explorer.set(x0=1e-6, optimizer="GD", lr=0.01)
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"] == "SaddleExplorer: x0=1e-06, optimizer=GD, lr=0.01, steps=3000"
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
    for values, error in [({"x0": 0.0}, ValueError), ({"x0": 1.0}, ValueError), ({"optimizer": "SGD"}, ValueError),
                          ({"lr": "0.1"}, TypeError), ({"beta": 0.9}, ValueError)]:
        with pytest.raises(error):
            explorer.set(**values)
        assert explorer.describe() == "SaddleExplorer: x0=1e-06, optimizer=GD, lr=0.01, steps=3000"
    with pytest.raises(ValueError, match="steps must be >= 1"):
        lesson.SaddleExplorer(steps=0)


# --------------------------------------------------------------------------------------------------
# Checkers
# --------------------------------------------------------------------------------------------------

def failure(checker, answer):
    result = checker(answer)
    assert not result.passed, result.message
    return result.message


def classify_with_eigvalsh(hessian):
    eigenvalues = np.linalg.eigvalsh(hessian)
    if (eigenvalues > 0).any() and (eigenvalues < 0).any():
        return "saddle"
    if (eigenvalues == 0).any():
        return "degenerate"
    return "minimum" if (eigenvalues > 0).all() else "maximum"


@pytest.mark.parametrize("answer", [lesson.classify_critical_point, classify_with_eigvalsh,
                                    lambda h: lesson.classify_critical_point(h).upper() + " "])
def test_right_classifications_pass(answer):
    result = check_classify_critical_point(answer)
    assert result.passed and "eigenvalues" in result.message


def det(h):
    return round(float(np.linalg.det(h)), 9)


@pytest.mark.parametrize("answer, key_words", [
    (lambda h: "minimum" if det(h) > 0 else "saddle" if det(h) < 0 else "degenerate", ["determinant alone", "PRODUCT"]),
    (lambda h: ("degenerate" if det(h) == 0 else "saddle" if det(h) < 0
                else "minimum" if np.trace(h) > 0 else "maximum"), ["2-D test", "2 × 2"]),
    (lambda h: "minimum" if np.trace(h) > 0 else "maximum" if np.trace(h) < 0 else "saddle", ["trace alone", "SUM"]),
    (lambda h: classify_with_eigvalsh(np.diag(np.diag(h))), ["diagonal entries", "eigvalsh"]),
    (lambda h: ("minimum" if (np.round(np.linalg.eigvalsh(h), 9) >= 0).all()
                else "maximum" if (np.round(np.linalg.eigvalsh(h), 9) <= 0).all() else "saddle"),
     ["ignored zero eigenvalues", "'degenerate'"]),
    (lambda h: ("degenerate" if (np.round(np.linalg.eigvalsh(h), 9) == 0).any()
                else classify_with_eigvalsh(h)), ["only when the other eigenvalues share", "diag(2, 0, −1)"]),
    (lambda h: {"minimum": "maximum", "maximum": "minimum"}.get(classify_with_eigvalsh(h), classify_with_eigvalsh(h)),
     ["swapped"]),
])
def test_classification_mistakes_are_named(answer, key_words):
    message = failure(check_classify_critical_point, answer)
    assert all(word in message for word in key_words), message


def test_an_unexplained_wrong_classification_names_the_hessian_and_the_right_kind():
    message = failure(check_classify_critical_point, lambda h: "saddle")
    assert message == ("for the Hessian [[2, 0], [0, 1]] (eigenvalues 1, 2) your function returned "
                       "'saddle'; it is a minimum.")


def test_zero_gradient_so_a_minimum_the_first_pitfall_is_named():
    message = failure(check_classify_critical_point, lambda h: "minimum")
    assert message.startswith("your function always answers 'minimum', but a zero gradient does not make a minimum")


def test_forgetting_degenerate_is_named():
    """The likeliest first attempt: minimum if the smallest eigenvalue is > 0, maximum if the largest is
    < 0, else saddle; it calls diag(1, 0) a saddle."""
    def classify(hessian):
        eigenvalues = np.linalg.eigvalsh(hessian)
        if eigenvalues.min() > 0:
            return "minimum"
        if eigenvalues.max() < 0:
            return "maximum"
        return "saddle"

    assert failure(check_classify_critical_point, classify) == (
        "with eigenvalues (1, 0) nothing curves down, so it is no saddle: a zero with the rest of one sign "
        "leaves the test undecided, 'degenerate'.")


def test_an_unexplained_wrong_degenerate_point_is_named_without_an_article():
    def classify(hessian):
        return "minimum" if np.array_equal(hessian, [[1, 0], [0, 0]]) else lesson.classify_critical_point(hessian)

    assert failure(check_classify_critical_point, classify) == (
        "for the Hessian [[1, 0], [0, 0]] (eigenvalues 0, 1) your function returned 'minimum'; it is degenerate "
        "(the test cannot tell).")


def classify_solution(hessian):
    """As the notebook's collapsed solution writes it."""
    eigenvalues = np.linalg.eigvalsh(hessian)
    positive, negative = eigenvalues > 1e-9, eigenvalues < -1e-9
    if positive.any() and negative.any():
        return "saddle"
    if positive.all():
        return "minimum"
    if negative.all():
        return "maximum"
    return "degenerate"


def predict_escape_steps_solution(x0, lr, curvature):
    """As the notebook's collapsed solution writes it."""
    return np.log(0.5 / abs(x0)) / np.log(1 - lr * curvature)


def test_the_notebook_s_solutions_pass():
    assert check_classify_critical_point(classify_solution).passed
    assert check_escape_prediction(predict_escape_steps_solution).passed


def stub(*arguments):
    raise NotImplementedError  # your code here


@pytest.mark.parametrize("checker, first_words", [(check_classify_critical_point, "look at the signs"),
                                                  (check_escape_prediction, "near the saddle the gradient along x")])
def test_the_stubs_are_not_attempted_yet_with_a_first_hint(checker, first_words):
    for placeholder in (stub, lambda *arguments: ...):
        result = checker(placeholder)
        assert not result.passed and not result.attempted and result.message.startswith(first_words)
        assert str(result).startswith("Not attempted yet: ")


@pytest.mark.parametrize("returned, key_words", [
    (None, ["None", "'minimum', 'maximum', 'saddle', 'degenerate'"]),
    ("saddle point", ["'saddle point'", "one of the words"]),
    (2, ["a single number", "one of the words"]),
    (["saddle"], ["list", "one of the words"]),
])
def test_unusable_classifications_are_reported(returned, key_words):
    message = failure(check_classify_critical_point, lambda h: returned)
    assert all(word in message for word in key_words), message


def test_a_classifier_that_raises_is_reported():
    message = failure(check_classify_critical_point, lambda h: np.linalg.eigvalsh(h)[5])
    assert message.startswith("your function raised IndexError")


def escape_by_simulation(x0, lr, curvature):
    """The linear model run step by step: a loop, as a learner might write it."""
    x, steps = abs(x0), 0
    while x < 0.5:
        x, steps = x - lr * curvature * x, steps + 1
    return steps


@pytest.mark.parametrize("answer", [
    lambda x0, lr, h: np.log(0.5 / abs(x0)) / np.log(1 - lr * h),
    lambda x0, lr, h: math.ceil(math.log(0.5 / abs(x0)) / math.log1p(-lr * h)),
    lambda x0, lr, h: np.log10(0.5 / abs(x0)) / np.log10(1 + lr * abs(h)),     # any base, the same on both sides
    lambda x0, lr, h: lesson.predicted_escape_steps(x0, lesson.growth_factor(lr, curvature=h)),
    escape_by_simulation,
])
def test_right_escape_predictions_pass(answer):
    result = check_escape_prediction(answer)
    assert result.passed and "ln(0.5/|x0|)/ln(1 − lr·h)" in result.message


@pytest.mark.parametrize("answer, key_words", [
    (lambda x0, lr, h: np.log(0.5 / abs(x0)) / np.log(1 + lr), ["left out the curvature", "h = −1"]),
    (lambda x0, lr, h: np.ceil(np.log(0.5 / abs(x0)) / np.log(1 + lr)), ["left out the curvature"]),
    (lambda x0, lr, h: np.log(0.5 / abs(x0)) / (lr * abs(h)), ["divided by lr·|h|", "continuous flow"]),
    (lambda x0, lr, h: np.log(0.5 / abs(x0)) / lr, ["divided by lr", "curvature is missing"]),
    (lambda x0, lr, h: np.ceil(np.log(0.5 / abs(x0)) / lr), ["divided by lr"]),
    (lambda x0, lr, h: np.log(1 / abs(x0)) / np.log(1 - lr * h), ["reaches 1", "0.5"]),
    (lambda x0, lr, h: np.log(0.5 / abs(x0)) / np.log(1 + lr * h), ["negative", "1 − lr·h = 1 + lr·|h|"]),
    (lambda x0, lr, h: np.floor(np.log(0.5 / abs(x0)) / abs(np.log(1 + lr * h))), ["factor 1 + lr·h = 1 − lr·|h|"]),
    (lambda x0, lr, h: np.log10(0.5 / abs(x0)) / np.log(1 - lr * h), ["mixed logarithms", "log10 on top"]),
    (lambda x0, lr, h: np.log(0.5 / abs(x0)) / np.log10(1 - lr * h), ["mixed logarithms", "ln on top"]),
    (lambda x0, lr, h: np.log(1 - lr * h) / np.log(0.5 / abs(x0)), ["upside down"]),
    (lambda x0, lr, h: (0.5 - abs(x0)) / (lr * abs(h) * abs(x0)), ["geometrically"]),
    (lambda x0, lr, h: np.log(0.5 / x0) / np.log(1 - lr * h), ["negative x0", "|x0|"]),
    (lambda x0, lr, h: np.floor(np.log(0.5 / abs(x0)) / np.log(1 - lr * h)), ["rounded down"]),
    (lambda x0, lr, h: int(np.log(0.5 / abs(x0)) / np.log(1 - lr * h)), ["rounded down"]),
])
def test_escape_prediction_mistakes_are_named(answer, key_words):
    message = failure(check_escape_prediction, answer)
    assert all(word in message for word in key_words), message


def test_math_log_of_a_negative_x0_gets_the_hint_to_use_its_absolute_value():
    result = check_escape_prediction(lambda x0, lr, h: math.log(0.5 / x0) / math.log(1 - lr * h))
    assert not result.passed and result.message.startswith("your function raised ValueError")
    assert "(test case 5 of 6: x0=-0.0001, lr=0.02, curvature=-4)" in result.message
    assert result.message.endswith("x0 is negative here: use |x0|, as either side leaves.")
    assert len(str(result).splitlines()) <= 2
    other = failure(check_escape_prediction, lambda x0, lr, h: float("not a number"))
    assert "negative" not in other                          # only math's domain error gets the hint


def test_the_notebook_s_former_two_argument_answer_is_told_its_signature():
    message = failure(check_escape_prediction, lambda x0, lr: np.log(0.5 / abs(x0)) / np.log(1 + lr))
    assert message.startswith("your function does not take the arguments of `predict_escape_steps(x0, lr, curvature)`")


@pytest.mark.parametrize("exercise", [CRITICAL_POINT_EXERCISE, ESCAPE_PREDICTION_EXERCISE], ids=lambda e: e.name)
def test_every_mistake_is_told_apart_from_the_others(exercise):
    explanations = []
    for mistake in exercise.mistakes:
        result = check_function(mistake.answer, exercise)
        assert result.message == mistake.explanation and not result.passed
        explanations.append(mistake.explanation)


@pytest.mark.parametrize("returned", [None, "1334", [1.0, 2.0], float("nan"), -1.0, np.inf])
def test_escape_checker_reports_any_returned_value(returned):
    result = check_escape_prediction(lambda x0, lr, curvature: returned)
    assert not result.passed and result.message


def test_the_explorer_shows_exactly_the_run_made_on_its_own():
    """Its runs come from batches of a setting and its slider neighbours (lesson.DragCache): the
    same numbers, bit for bit, as each run made alone."""
    explorer = lesson.SaddleExplorer(steps=400)
    for optimizer, x0, lr in (("GD", 1e-6, 0.05), ("GD", 1.8e-6, 0.056), ("Nesterov", 1e-3, 0.3),
                              ("Adam", 1e-9, 0.02), ("RMSprop", 3.2e-9, 0.01)):
        explorer.set(optimizer=optimizer, x0=x0, lr=lr)
        alone = runner.run(landscapes.double_well(), runner.named_optimizer(optimizer, lr), start=(x0, 1.0), steps=400)
        np.testing.assert_array_equal(explorer.result.path, alone.path)
        np.testing.assert_array_equal(explorer.result.losses, alone.losses)
        assert explorer.result.diverged_at == alone.diverged_at


# --------------------------------------------------------------------------------------------------
# The question: the escape step from 1e-15, knowing the one from 1e-6
# --------------------------------------------------------------------------------------------------

def gd_escape(x0, lr=0.01):
    return lesson.escape_step(runner.run(landscapes.double_well(), runner.named_optimizer("GD", lr), start=(x0, 1.0),
                                         steps=5000).path)


@pytest.fixture(scope="module")
def measured():
    """GD's escape steps at lr = 0.01 from 1e-6 and from 1e-15, each from its own run."""
    return gd_escape(1e-6), gd_escape(1e-15)


def test_the_escape_counts_are_integers_a_perturbation_of_the_start_does_not_move(measured):
    far, close = measured
    assert (far, close) == (1334, 3416)                      # the notebook prints both
    for x0, count in ((1e-6, far), (1e-15, close)):
        assert gd_escape(x0 * (1 + 1e-12)) == gd_escape(x0 * (1 - 1e-12)) == count
        path = runner.run(landscapes.double_well(), runner.named_optimizer("GD", 0.01), start=(x0, 1.0),
                          steps=count).path
        assert abs(path[-2, 0]) < 0.4999 and abs(path[-1, 0]) > 0.5001  # 1e-4 from the line: rounding cannot move it
    assert lesson.closer_escape_steps() == measured          # the judge's batched run counts the same


def test_the_start_is_beyond_the_notebook_s_sweep_so_no_figure_shows_its_count():
    assert lesson.exercises.CLOSE_X0 < 1e-12                  # the sweep's closest start


def test_the_notebook_s_solution_is_right_and_says_what_the_runs_did(measured):
    far, close = measured
    result = check_escape_from_closer(far + np.log(1e9) / np.log(1 + 0.01))
    assert result.passed and result.message == (
        "Your prediction is within 3 % of the step at which GD (lr = 0.01) escaped from x0 = 1e-15.\n"
        "Each step multiplies x by 1 + lr: 10⁹ times closer adds ln(10⁹)/ln(1 + lr) steps to those from 1e-6.")
    assert len(str(result).splitlines()) == 2 and max(len(line) for line in str(result).splitlines()) <= 100


@pytest.mark.parametrize("answer", [1334 + math.log(1e9) / math.log(1.01), 3416, 3314, 3518])
def test_the_success_message_does_not_give_the_answer_away(answer, measured):
    """After "Run All" the solution's verdict shows under the question: no step count in it, neither
    the measured one, nor the learner's, nor the steps added (which, with the 1334 shown, give it)."""
    far, close = measured
    message = check_escape_from_closer(answer).message
    numbers = [float(number) for number in re.findall(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", message)]
    assert all(number < 100 for number in numbers), numbers   # 3 %, 0.01, 1e-15, 10⁹, 1 + lr, 0.5: no counts
    for count in (close, round(answer), close - far, far):
        assert str(count) not in message
    assert "you said" not in message


@pytest.mark.parametrize("answer", [3416, 3416.6, 1334 + 9 * 231, 3335.0, 3440.7, 3401, np.int64(3450), 3314, 3518])
def test_predictions_within_three_percent_pass(answer):
    """3335 is 1334 × ln(1e15)/ln(1e6) (time ∝ ln(1/x0)), 3441 the same with ln(0.5/x0), 3401 the linear
    model alone, without the x³ term's 15 steps: all fair."""
    assert check_escape_from_closer(answer).passed


def test_the_boundaries_are_three_percent_of_the_measured_step_after_rounding(measured):
    close = measured[1]
    low, high = math.ceil(0.97 * close), math.floor(1.03 * close)
    assert check_escape_from_closer(low).passed and check_escape_from_closer(high).passed
    assert check_escape_from_closer(low - 0.4).passed and not check_escape_from_closer(low - 0.6).passed
    assert "Too few, by more than 3 %" in failure(check_escape_from_closer, low - 1)
    assert "Too many, by more than 3 %" in failure(check_escape_from_closer, high + 1)


@pytest.mark.parametrize("answer, key_words", [
    (1334 * 10**9, ["you said 1.33e+12.", "10⁹ × as many", "1/x0", "geometrically"]),
    (3416 * 1000, ["Far too many", "ln(1/x0)"]),
    (20_000, ["Far too many"]),
    (1334, ["The same count?", "10⁹ times more"]),
    (1300, ["The same count?"]),
    (1000, ["Fewer steps?", "takes longer"]),
    (-5, ["Fewer steps?"]),
    (2083, ["the extra steps alone", "add them to the 1334 steps"]),  # 9 decades × 231, without the 1334
    (1334 + 9 / math.log(1.01), ["mixed logarithms"]),         # log10(1e9) over ln(1 + lr)
    (1334 + math.log(1e9) / math.log10(1.01), ["mixed logarithms"]),
    (3000, ["Too few, by more than 3 %", "10⁹ times larger"]),
    (3700, ["Too many, by more than 3 %", "10⁹ times larger"]),
])
def test_wrong_predictions_get_their_explanation_and_the_measured_counts(answer, key_words, measured):
    message = failure(check_escape_from_closer, answer)
    far, close = measured
    assert message.startswith(f"GD (lr = 0.01) escaped from x0 = 1e-15 at step {close}, from 1e-6 at {far};")
    assert all(word in message for word in key_words), message
    assert len(str(check_escape_from_closer(answer)).splitlines()) == 2


def test_the_judge_runs_gd_at_the_lr_it_is_given():
    """At lr = 0.02 the real runs decide: the answer right at 0.01 is too many there."""
    far, close = gd_escape(1e-6, 0.02), gd_escape(1e-15, 0.02)
    assert close - far == pytest.approx(math.log(1e9) / math.log(1.02), abs=2)
    right = lesson.judge_closer_escape(far + math.log(1e9) / math.log(1.02), lr=0.02)
    assert right.passed and right.message.startswith("Your prediction is within 3 % of the step at which GD "
                                                     "(lr = 0.02) escaped from x0 = 1e-15.\n")
    too_many = lesson.judge_closer_escape(math.floor(1.03 * close) + 1, lr=0.02)
    assert not too_many.passed and f"escaped from x0 = 1e-15 at step {close}, from 1e-6 at {far}" in too_many.message
    assert "Too many" in lesson.judge_closer_escape(3416, lr=0.02).message
    with pytest.raises(ValueError, match="does not escape"):
        lesson.judge_closer_escape(5000, lr=0.001)


def test_the_question_s_placeholder_and_wrong_kinds():
    assert not check_escape_from_closer(...).attempted
    assert "`steps_from_1e15` should be a number" in failure(check_escape_from_closer, "3416")
