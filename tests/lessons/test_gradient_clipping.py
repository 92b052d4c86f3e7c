"""Notebook 09's lesson: the ClippingExplorer and the checkers (clipping by global norm, finding
non-finite gradients, unscaling before clipping)."""

import base64

import numpy as np
import pytest

from course_lib import clipping
from course_lib.lab import landscapes, runner
from course_lib.lessons import gradient_clipping as lesson


# --------------------------------------------------------------------------------------------------
# ClippingExplorer
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def explorer():
    return lesson.ClippingExplorer()


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
    (lesson.check_clip_by_global_norm, lesson.GLOBAL_NORM_EXERCISE, lesson.clip_by_global_norm_reference),
    (lesson.check_find_nonfinite, lesson.NONFINITE_EXERCISE, clipping.nonfinite_gradients),
    (lesson.check_unscale_then_clip, lesson.UNSCALE_EXERCISE, lesson.unscale_then_clip_reference),
]


@pytest.mark.parametrize("check, exercise, reference", CHECKERS, ids=lambda x: getattr(x, "__name__", ""))
def test_reference_passes_and_each_mistake_gets_its_message(check, exercise, reference):
    assert check(reference).passed
    for mistake in exercise.mistakes:
        result = check(mistake.answer)
        assert not result.passed and result.message == mistake.explanation


def test_checkers_explain_unusable_answers():
    assert "return the pair (clipped_grads, total_norm)" in lesson.check_clip_by_global_norm(lambda g, c: 1.0).message
    assert "Add 1e-6" in lesson.check_clip_by_global_norm(lambda g, c: 1 / 0).message
    message = lesson.check_find_nonfinite(lambda named: ["x"]).message
    assert "return a dict" in message and "embedding.weight: NaN" in message
    assert "forget `return`" in lesson.check_unscale_then_clip(lambda g, s, c: None).message


def test_the_swapped_check_is_diagnosed():
    def swapped_check(named_grads):
        found = {"nan": [], "inf": []}
        for name, g in named_grads.items():
            if np.isnan(g).any():
                found["inf"].append(name)
            elif np.isinf(g).any():
                found["nan"].append(name)
        return found

    result = lesson.check_find_nonfinite(swapped_check)
    assert not result.passed and "the swapped check from above" in result.message and "seed" not in result.message


def test_no_check_message_names_material_the_learner_does_not_have():
    for exercise in (lesson.GLOBAL_NORM_EXERCISE, lesson.NONFINITE_EXERCISE, lesson.UNSCALE_EXERCISE):
        for text in [exercise.success] + [mistake.explanation for mistake in exercise.mistakes]:
            assert "seed" not in text.lower(), text
        assert len(f"Correct! {exercise.success}") <= 100, "the saved success line must fit a slide"


def test_plot_cliff_runs_draws_the_three_runs_and_marks_the_jump():
    cliff = landscapes.cliff()
    modes = ["none", "norm", "value"]
    three = runner.run(cliff, clipping.clipped(runner.named_optimizer("GD", 1.0), modes, 1.0),
                       start=np.tile(cliff.start, (3, 1)), steps=60)
    figure = lesson.plot_cliff_runs({mode: three[i] for i, mode in enumerate(modes)})
    whole, close, losses = figure.axes
    assert [line.get_label() for line in losses.get_lines()] == [
        "GD, unclipped", "clipped by norm at 1", "clipped by value at 1"]
    assert losses.get_yscale() == "log" and losses.get_xlim() == (0, 60)
    (jump,) = [text.get_text() for text in whole.texts]
    assert jump == "step 19: one step\nof length 10.4"
    np.testing.assert_array_equal(close.get_lines()[1].get_xydata(), three[1].path)


def test_the_clipping_explorer_shows_exactly_the_runs_made_on_their_own():
    """Its runs come from batches of a setting and its slider neighbours (lesson.DragCache): the
    same numbers, bit for bit, as the pair of runs made alone."""
    explorer = lesson.ClippingExplorer(steps=120)
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
