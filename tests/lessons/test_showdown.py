"""Notebook 07's lesson: the showdown explorer on a finished sweep, and the two checkers."""

import numpy as np
import pytest

from course_lib.lab import nets
from course_lib.lessons import showdown as lesson


@pytest.fixture(scope="module")
def sweep():
    return nets.train([nets.Setting(name, lr) for name in nets.OPTIMIZERS for lr in (1e-3, 0.1, 1.0)], epochs=40)


def test_showdown_explorer_builds_updates_in_place_and_shows_a_mimebundle(sweep):
    from course_lib.lessons import showdown as lesson

    explorer = lesson.ShowdownExplorer(sweep, optimizer="Adam", lr=1e-3)
    image, lines = explorer._image, dict(explorer._lines)
    before = image.get_array().copy()
    explorer.set(optimizer="GD", lr=0.1)
    assert explorer._image is image and explorer._lines == lines
    assert not np.array_equal(before, image.get_array())
    assert lines["GD"].get_linewidth() > lines["Adam"].get_linewidth()
    assert lines["momentum"].get_linestyle() == "--"        # GD shows through where the two coincide
    assert explorer._status.get_text().startswith("GD, lr = 0.1:")
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"] == "ShowdownExplorer: optimizer=GD, lr=0.1, epochs=40"
    assert bundle["image/png"] and "application/vnd.jupyter.widget-view+json" in bundle
    with pytest.raises(ValueError):
        explorer.set(lr=0.5)


def test_showdown_explorer_says_where_a_run_diverged():
    from course_lib.lessons import showdown as lesson

    sweep = nets.train([nets.Setting(name, lr) for name in nets.OPTIMIZERS for lr in (1e-3, 1e3)], epochs=3,
                       record_every=1)
    explorer = lesson.ShowdownExplorer(sweep, optimizer="GD", lr=1e3)
    assert "diverged at epoch" in explorer._status.get_text()


def test_output_layer_checker_passes_the_reference_and_names_each_mistake():
    assert lesson.check_output_layer_backward(lesson.output_layer_backward)
    expected = ["1/m", "sign is flipped", "divided by m twice", "sigmoid's derivative", "wrong order"]
    for mistake, words in zip(lesson.OUTPUT_LAYER_EXERCISE.mistakes, expected):
        result = lesson.check_output_layer_backward(mistake.answer)
        assert not result and words in result.message


def test_mini_batch_checker_passes_the_reference_and_names_each_mistake():
    assert lesson.check_mini_batches(lesson.mini_batches)
    expected = ["dropped the last", "not shuffled", "Y is not"]
    for mistake, words in zip(lesson.MINI_BATCH_EXERCISE.mistakes, expected):
        result = lesson.check_mini_batches(mistake.answer)
        assert not result and words in result.message
    assert "list of (X_batch, Y_batch)" in lesson.check_mini_batches(lambda X, Y, b, p: X).message
