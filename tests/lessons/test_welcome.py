"""Notebook 00's lesson: the landscape explorer moves its artists, follows its controls and says where
a run diverged."""

import numpy as np
import pytest

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
    explorer.controls["lr"].value = 0.15  # what dragging the slider does
    np.testing.assert_array_equal(
        explorer._path.get_xydata(),
        runner.run(landscapes.ill_conditioned_bowl(), runner.named_optimizer("GD", 0.15), steps=explorer.steps).path)


def test_landscape_explorer_says_where_a_run_diverged(landscape_explorer):
    explorer = landscape_explorer
    explorer.set(landscape="ill_conditioned_bowl", optimizer="GD", lr=0.3)  # lr > 2/κ = 0.2
    k = explorer.result.diverged_at
    assert k is not None
    assert status_texts(explorer) == [f"GD, lr = 0.3: diverged at step {k}"]
    explorer.set(lr=0.1)
    assert status_texts(explorer) == [f"GD, lr = 0.1: final loss {explorer.result.losses[-1]:.3g}"]
