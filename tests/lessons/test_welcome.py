"""Notebook 00's lesson: the landscape explorer moves its artists, follows its controls, says where
a run diverged and fits its loss axis to the curve; the first exercise names each known mistake."""

import numpy as np
import pytest
from learner_answers import failure, passes

from course_lib.lab import landscapes, plots, runner
from course_lib.lessons import welcome as lesson


@pytest.fixture(scope="module")
def landscape_explorer():
    return lesson.LandscapeExplorer()


def status_texts(explorer):
    return [text.get_text() for text in explorer.axes[-1].texts]


def test_landscape_explorer_set_moves_the_same_artists(landscape_explorer):
    explorer = landscape_explorer
    explorer.set(landscape="rosenbrock", optimizer="Adam", lr=0.05)
    contours, losses = explorer.axes
    lines_before = contours.get_lines() + losses.get_lines()
    path_line = explorer._path
    np.testing.assert_array_equal(path_line.get_xydata(), explorer.result.path)
    explorer.set(lr=0.1)
    assert contours.get_lines() + losses.get_lines() == lines_before  # nothing rebuilt
    np.testing.assert_array_equal(path_line.get_xydata(), explorer.result.path)
    expected = runner.run(landscapes.rosenbrock(), runner.named_optimizer("Adam", 0.1), steps=explorer.steps)
    np.testing.assert_array_equal(explorer.result.path, expected.path)
    assert contours.get_title() == landscapes.rosenbrock().label
    assert path_line.get_color() == plots.OPTIMIZER_COLORS["Adam"]
    explorer.set(landscape="saddle")
    assert losses.get_yscale() == "symlog" and contours.get_title() == landscapes.saddle().label
    for name, artists in explorer._backgrounds.items():  # precomputed contours, shown one landscape at a time
        assert all(artist.get_visible() == (name == "saddle") for artist in artists)


def test_landscape_explorer_reacts_to_its_slider(landscape_explorer):
    explorer = landscape_explorer
    explorer.set(landscape="ill_conditioned_bowl", optimizer="GD", lr=0.1)
    explorer.controls["lr"].value = 0.16  # what dragging the slider does
    np.testing.assert_array_equal(
        explorer._path.get_xydata(),
        runner.run(landscapes.ill_conditioned_bowl(), runner.named_optimizer("GD", 0.16), steps=explorer.steps).path)


def test_landscape_explorer_says_where_a_run_diverged(landscape_explorer):
    explorer = landscape_explorer
    explorer.set(landscape="ill_conditioned_bowl", optimizer="GD", lr=0.3)  # lr > 2/κ = 0.2
    k = explorer.result.diverged_at
    assert k is not None
    assert status_texts(explorer) == [f"GD, lr = 0.3: diverged at step {k}"]
    explorer.set(lr=0.1)
    assert status_texts(explorer) == [f"GD, lr = 0.1: final loss {explorer.result.losses[-1]:.3g}"]


def test_the_loss_axis_fits_the_curve_it_shows():
    """A run that ends near 0.5 is drawn on the decades around it, not down to 1e-9."""
    explorer = lesson.LandscapeExplorer(landscape="rosenbrock", optimizer="momentum", lr=0.001)
    curve = explorer._losses.get_ydata()
    assert 0.3 < curve[-1] < 0.7
    assert explorer.axes[1].get_ylim() == (0.1, 100.0)


def test_the_loss_axis_stays_while_it_still_fits(landscape_explorer):
    """Nearby settings share one axis (no redraw of the background); a curve that fills less than a
    quarter of it, or leaves it, gets a new one."""
    explorer = landscape_explorer
    explorer.set(landscape="ill_conditioned_bowl", optimizer="Nesterov", lr=0.05)
    deep = explorer.axes[1].get_ylim()
    assert deep[0] <= explorer._losses.get_ydata().min()
    explorer.set(optimizer="Adam")  # ends near 2e-3: its decades still fill a third of the axis
    assert explorer.axes[1].get_ylim() == deep
    explorer.set(landscape="rosenbrock", optimizer="momentum", lr=0.001)
    assert explorer.axes[1].get_ylim() == (0.1, 100.0)
    explorer.set(lr=0.003)  # diverges: the axis grows to hold the jump
    low, high = explorer.axes[1].get_ylim()
    assert high >= np.nanmax(explorer._losses.get_ydata())


def gd_step_solution(theta, grad, lr):
    return theta - lr * grad          # as the notebook's collapsed solution writes it


@pytest.mark.parametrize("answer", [
    gd_step_solution,
    lambda theta, grad, lr: [t - lr * g for t, g in zip(theta, grad)],
])
def test_right_gd_steps_pass(answer):
    passes(lesson.check_gd_step, answer)


def test_the_untouched_gd_step_is_not_attempted_and_gets_the_first_hint():
    def gd_step(theta, grad, lr):
        """Return the new parameters after one step of gradient descent: θ ← θ − lr·g, g = grad.

        theta and grad are NumPy arrays of the same shape; lr is a number."""
        raise NotImplementedError  # your code here

    result = lesson.check_gd_step(gd_step)
    assert not result and not result.attempted
    assert str(result) == ("Not attempted yet: replace the line `raise NotImplementedError` with a `return` of "
                           "the new θ: one\nstep of lr·g against the gradient g.")


def test_the_demonstrated_slip_says_not_yet():
    """The notebook shows what a wrong answer looks like before the learner's turn."""
    assert str(lesson.check_gd_step(lambda theta, grad, lr: theta + lr * grad)) == \
        "Not yet: you moved along the gradient, which is uphill: subtract lr·g."


def test_a_step_taken_in_place_passes_as_torch_takes_it():
    """θ ← θ − lr·g written `theta -= lr * grad` is right: the parameters are the state a step
    updates, as torch's optimizers update theirs."""
    def gd_step(theta, grad, lr):
        theta -= lr * grad
        return theta

    passes(lesson.check_gd_step, gd_step)


def test_a_step_in_place_that_returns_nothing_is_told_to_return():
    def gd_step(theta, grad, lr):
        theta -= lr * grad

    assert "did you forget `return`?" in failure(lesson.check_gd_step, gd_step)


def test_a_gradient_changed_in_place_is_reported():
    def gd_step(theta, grad, lr):
        grad *= lr
        return theta - grad

    assert failure(lesson.check_gd_step, gd_step).startswith("your function changed its argument `grad` in place")


@pytest.mark.parametrize("answer, key_words", [
    (lambda theta, grad, lr: theta + lr * grad, ["uphill", "subtract lr·g"]),
    (lambda theta, grad, lr: theta - grad, ["learning rate is missing"]),
    (lambda theta, grad, lr: -lr * grad, ["returned the step", "new parameters"]),
    (lambda theta, grad, lr: theta - lr, ["lr alone"]),
    (lambda theta, grad, lr: theta - lr * theta, ["multiplied lr by θ itself"]),
    (lambda theta, grad, lr: lr * grad, ["returned lr·g, the size of the step", "new parameters"]),
    (lambda theta, grad, lr: [t - g / lr for t, g in zip(theta, grad)], ["divided the gradient by lr"]),
    (lambda theta, grad, lr: None, ["forget `return`"]),
])
def test_gd_step_mistakes_are_named(answer, key_words):
    message = failure(lesson.check_gd_step, answer)
    assert all(word in message for word in key_words), message


def test_the_gd_step_cases_start_where_the_explorer_starts():
    for case, name in zip(lesson.GD_STEP_EXERCISE.cases, ("rosenbrock", "ill_conditioned_bowl")):
        landscape = landscapes.get_landscape(name)
        np.testing.assert_array_equal(case["theta"], landscape.start)
        np.testing.assert_array_equal(case["grad"], landscape.gradient(*landscape.start))
