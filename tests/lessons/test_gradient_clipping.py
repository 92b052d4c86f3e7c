"""Notebook 09's lesson: the ClippingExplorer and the checkers (clipping by global norm, finding
non-finite gradients) and the question (a clipping threshold that survives the cliff, judged by
running the cliff)."""

import base64
import re

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
]


@pytest.mark.parametrize("check, exercise, reference", CHECKERS, ids=lambda x: getattr(x, "__name__", ""))
def test_reference_passes_and_each_mistake_gets_its_message(check, exercise, reference):
    assert check(reference).passed
    for mistake in exercise.mistakes:
        result = check(mistake.answer)
        assert not result.passed and result.message == mistake.explanation


# The notebook's solutions, written as its solution cells write them.

def clip_by_global_norm_solution(grads, max_norm):
    total = np.sqrt(sum(np.sum(g**2) for g in grads))
    factor = min(1.0, max_norm / (total + 1e-6))
    return [g * factor for g in grads], total


def find_nonfinite_solution(named_grads):
    found = {"nan": [], "inf": []}
    for name, g in named_grads.items():
        if np.isnan(g).any():
            found["nan"].append(name)
        if np.isinf(g).any():
            found["inf"].append(name)
    return found


def test_the_notebook_s_solutions_pass():
    assert str(lesson.check_clip_by_global_norm(clip_by_global_norm_solution)).startswith("Correct!")
    assert str(lesson.check_find_nonfinite(find_nonfinite_solution)).startswith("Correct!")
    assert str(lesson.check_cliff_threshold(0.5)).startswith("Correct!")


def stub(*arguments):
    raise NotImplementedError


@pytest.mark.parametrize("check, exercise", [(check, exercise) for check, exercise, _ in CHECKERS],
                         ids=lambda x: getattr(x, "__name__", ""))
def test_the_stub_is_not_attempted_and_gets_the_first_hint(check, exercise):
    for placeholder in (stub, lambda *arguments: ...):
        result = check(placeholder)
        assert not result.attempted and result.message == exercise.hint
        assert str(result).startswith("Not attempted yet: ")


def test_checkers_explain_unusable_answers():
    assert "return the pair (clipped_grads, total_norm)" in lesson.check_clip_by_global_norm(lambda g, c: 1.0).message
    assert "Add 1e-6" in lesson.check_clip_by_global_norm(lambda g, c: 1 / 0).message
    assert lesson.check_find_nonfinite(lambda named: ["x"]).message == (
        "your function returned a list of 1 item; return a dict {'nan': [names], 'inf': [names]} "
        "(test case 1 of 4).")
    assert lesson.check_find_nonfinite(lambda named: {"NaN": [], "inf": []}).message.startswith(
        "your dict has the keys 'NaN', 'inf'; return a dict")
    message = lesson.check_find_nonfinite(lambda named: {"nan": "embedding.weight", "inf": []}).message
    assert message.startswith("found['nan'] should be a list of the parameter names")


def test_clipping_the_caller_s_gradients_in_place_is_reported():
    def clips_in_place(grads, max_norm):
        total = clipping.clip_grad_norm_(grads, max_norm)     # clips the caller's arrays
        return grads, total

    message = lesson.check_clip_by_global_norm(clips_in_place).message
    assert message.startswith("your function changed its argument `grads` in place")


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


def test_the_new_mistakes_are_named():
    def no_square_root(grads, max_norm):
        total = sum(np.sum(g**2) for g in grads)
        return [g * min(1.0, max_norm / (total + 1e-6)) for g in grads], total

    assert lesson.check_clip_by_global_norm(no_square_root).message == (
        "your total is Σ g², the squared norm: take its square root, √(Σ_i ‖g_i‖²).")


def test_no_check_message_names_material_the_learner_does_not_have():
    for exercise in (lesson.GLOBAL_NORM_EXERCISE, lesson.NONFINITE_EXERCISE):
        for text in [exercise.success, exercise.hint] + [mistake.explanation for mistake in exercise.mistakes]:
            assert "seed" not in text.lower(), text
        assert len(f"Correct! {exercise.success}") <= 100, "the saved success line must fit a slide"


def test_the_review_s_mistakes_are_named_as_a_learner_writes_them():
    """Mistakes found by playing the learner, each written as a learner would, with its own message."""
    def equals_nan(named_grads):
        return {"nan": [n for n, g in named_grads.items() if (g == np.nan).any()],
                "inf": [n for n, g in named_grads.items() if np.isinf(g).any()]}

    assert lesson.check_find_nonfinite(equals_nan).message.startswith("g == nan is never true")

    def all_entries(named_grads):
        return {"nan": [n for n, g in named_grads.items() if np.isnan(g).all()],
                "inf": [n for n, g in named_grads.items() if np.isinf(g).all()]}

    assert lesson.check_find_nonfinite(all_entries).message.startswith("with .all() a gradient is listed only if")

    def not_finite_for_inf(named_grads):
        return {"nan": [n for n, g in named_grads.items() if np.isnan(g).any()],
                "inf": [n for n, g in named_grads.items() if not np.isfinite(g).all()]}

    assert lesson.check_find_nonfinite(not_finite_for_inf).message.startswith(
        "you tested inf with ~isfinite, which is also true for NaN")

    def without_any(named_grads):
        return {"nan": [n for n, g in named_grads.items() if np.isnan(g)], "inf": []}

    message = lesson.check_find_nonfinite(without_any).message
    assert message.startswith("your function raised ValueError: The truth value of an array")
    assert message.endswith("(test case 1 of 4). Test np.isnan(g).any(), not np.isnan(g).")

    def with_torch(named_grads):
        import torch
        return {"nan": [n for n, g in named_grads.items() if torch.isnan(g).any()], "inf": []}

    assert lesson.check_find_nonfinite(with_torch).message.endswith(
        "The gradients are NumPy arrays: use np.isnan and np.isinf.")

    def the_gradients_not_their_names(named_grads):
        return {"nan": [g for g in named_grads.values() if np.isnan(g).any()],
                "inf": [g for g in named_grads.values() if np.isinf(g).any()]}

    assert lesson.check_find_nonfinite(the_gradients_not_their_names).message == (
        "found['nan'] should hold the parameter names (the dict's keys), not an array of shape (3, 2) "
        "(test case 1 of 4).")
    assert lesson.check_find_nonfinite(lambda named: {"nan": ["embedding"], "inf": []}).message == (
        "found['nan'] holds 'embedding', which is not one of the dict's keys (test case 1 of 4).")

    def total_first(grads, max_norm):
        clipped, total = clip_by_global_norm_solution(grads, max_norm)
        return total, clipped

    assert lesson.check_clip_by_global_norm(total_first).message == (
        "you returned (total_norm, clipped_grads); return them the other way round, (clipped_grads, total_norm) "
        "(test case 1 of 4).")


# --------------------------------------------------------------------------------------------------
# Choose: a clipping threshold that survives the cliff
# --------------------------------------------------------------------------------------------------

def survives(max_norm):
    """The notebook's cliff experiment run here on its own: E below 1e-3 over the last 100 steps."""
    cliff = landscapes.cliff()
    result = runner.run(cliff, clipping.clipped(runner.named_optimizer("GD", 1.0), "norm", max_norm),
                        start=cliff.start, steps=400)
    return bool(np.all(result.losses[-100:] < 1e-3))


@pytest.mark.parametrize("max_norm", [0.15, 0.3, 0.5, 1.0, 2.0, 2.5])
def test_thresholds_across_the_good_region_pass(max_norm):
    result = lesson.check_cliff_threshold(max_norm)
    assert result.passed, result.message
    assert result.message == ("with lr = 1 no step is longer than your threshold, so the step at the wall stayed "
                              "short and did not throw the run: it crossed into the valley, with E below 1e-3 over "
                              "its last 100 of 400 steps.")


@pytest.mark.parametrize("max_norm", [0.15, 0.3, 0.5, 1.0, 2.0, 2.5])
def test_the_success_message_does_not_give_the_threshold_away(max_norm):
    """The solution's output shows under the question whenever the notebook runs: its numbers are
    the experiment's (lr, E's bound, the steps), the same for every threshold that passes."""
    message = lesson.check_cliff_threshold(max_norm).message
    assert re.findall(r"\d[\d.e-]*", message) == ["1", "1e-3", "100", "400"]
    assert "0.5" not in str(lesson.check_cliff_threshold(0.5))       # the solution's answer, as written


def test_the_solution_s_threshold_is_well_inside_the_good_region():
    """0.5 passes, and so does every threshold from a third of it to four times it."""
    assert all(lesson.check_cliff_threshold(c).passed for c in np.geomspace(0.5 / 3, 2.0, 7))


@pytest.mark.parametrize("max_norm, clipping_acts", [(3.5, True), (5.0, True), (20.0, False), (1e6, False)])
def test_a_threshold_too_large_is_thrown_onto_the_plateau(max_norm, clipping_acts):
    result = lesson.check_cliff_threshold(max_norm)
    assert not result.passed and result.message.startswith(f"too large: at max_norm = {max_norm:g} ")
    assert "threw the run onto the plateau" in result.message and result.message.endswith("Lower it.")
    assert ("clipping never acts: the step at the wall was 10.4 long" in result.message) != clipping_acts


@pytest.mark.parametrize("max_norm, where", [(0.001, "the run has not even crossed the wall"),
                                             (0.03, "it still zig-zags down the valley")])
def test_a_threshold_too_small_leaves_the_run_crawling(max_norm, where):
    result = lesson.check_cliff_threshold(max_norm)
    assert result.message == (f"too small: at max_norm = {max_norm:g} every step is at most {max_norm:g} long, and "
                              f"{where}: E is not below 1e-3 over the last 100 of 400 steps. Raise it.")


def test_thresholds_that_cannot_move_or_cannot_be_run():
    assert lesson.check_cliff_threshold(0).message.startswith("max_norm = 0 cuts every step to length 0")
    assert lesson.check_cliff_threshold(-1.0).message == "that answer cannot be run: threshold must be >= 0, got -1.0"
    assert not lesson.check_cliff_threshold(...).attempted
    assert lesson.check_cliff_threshold({"max_norm": 0.5}).passed


@pytest.mark.parametrize("max_norm", np.geomspace(0.02, 8.0, 9))
def test_the_judge_runs_the_cliff(max_norm):
    """Its verdict is the run's own, across the range and both edges of the good region."""
    assert lesson.check_cliff_threshold(max_norm).passed == survives(max_norm)


def test_just_inside_and_just_outside_the_edges():
    """Far from the chaotic edges of the range (about 0.1 and 2.8), a step either way flips the verdict."""
    assert lesson.check_cliff_threshold(0.15).passed and not lesson.check_cliff_threshold(0.05).passed
    assert lesson.check_cliff_threshold(2.5).passed and not lesson.check_cliff_threshold(3.3).passed


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
    for mode, threshold, lr in (("norm", 1.0, 1.0), ("value", 0.5, 1.4), ("none", 3.0, 0.1)):
        explorer.set(mode=mode, threshold=threshold, lr=lr)
        alone = runner.run(cliff, clipping.clipped(runner.named_optimizer("GD", lr), ["none", mode], threshold),
                           start=np.tile(cliff.start, (2, 1)), steps=120)
        np.testing.assert_array_equal(explorer.results["unclipped"].path, alone[0].path)
        if mode == "none":
            assert explorer.results["clipped"] is None
        else:
            np.testing.assert_array_equal(explorer.results["clipped"].path, alone[1].path)
