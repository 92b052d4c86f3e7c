"""Notebook 13's RecipeExplorer: built from the notebook's run without training, one run per distinct
setting, lines moved in place, the status lines, its sliders' grids, refusal of bad arguments, the
saved picture. A cheap fake ``train`` stands in where a real run is not the point; two real runs
check what the notebook's reader sees."""

import base64
import math
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from course_lib import averages
from course_lib.lessons.recipe import explorer as explorer_module
from course_lib.lessons.recipe.explorer import RecipeExplorer
from course_lib.interactive.drag_cache import DragCache
from course_lib.interactive.explorer import _after_each_cell, _catch_up_before_each_cell, _first_picture_key
from course_lib.lessons.recipe.training import RECIPE, Run, SCHEDULES, STEPS, learning_rates, train, warmup_cosine
from tests.interactive.test_drawing_ahead import (
    draw_everything_ahead,
    full_picture,
    one_move,
    shown_for_the_first_time,
    shown_in_a_browser,
)

SPIKE_STEP, SPIKE_FACTOR = 3, 2.5


def fake_run(recipe, seed=0, steps=STEPS) -> Run:
    """A made-up run that depends on the recipe: the loss falls faster with a larger peak lr, and
    jumps SPIKE_FACTOR times its first value at SPIKE_STEP without warm-up."""
    t = np.arange(steps)
    losses = 2.4 * np.exp(-t * recipe.peak_lr * (1 + (recipe.max_norm == math.inf)))
    if recipe.warmup_steps == 0:
        losses[SPIKE_STEP] = SPIKE_FACTOR * losses[0]
    lrs = warmup_cosine(t, recipe.peak_lr, recipe.warmup_steps, steps)
    accuracy = min(1.0, 30 * recipe.peak_lr)
    return Run(losses, np.ones(steps), lrs, np.full(steps, np.nan), 1.0, accuracy, 1.0, accuracy / 2)


@pytest.fixture
def trained(monkeypatch):
    """The recipes the explorer trains (with the fake ``train``)."""
    recipes = []

    def fake_train(recipe, seed=0, steps=STEPS):
        assert seed == 0 and steps == STEPS
        recipes.append(recipe)
        return fake_run(recipe)

    monkeypatch.setattr(explorer_module, "train", fake_train)
    return recipes


def texts(explorer) -> list[str]:
    return [status.get_text() for status in explorer._statuses]


def test_built_on_the_notebooks_run_it_trains_nothing_and_shows_that_run_twice(trained):
    base = fake_run(RECIPE)
    explorer = RecipeExplorer(base=base)
    assert trained == []
    assert explorer.recipe_of({name: c.value for name, c in explorer.controls.items()}) == RECIPE
    np.testing.assert_array_equal(explorer._rate.get_ydata(), base.lrs)
    np.testing.assert_array_equal(explorer._loss.get_ydata(), averages.ewa(base.losses, 0.9, bias_correction=True))
    grey_rate, grey_loss = explorer.axes[0].lines[0], explorer.axes[1].lines[0]
    np.testing.assert_array_equal(grey_rate.get_ydata(), base.lrs)
    np.testing.assert_array_equal(grey_loss.get_ydata(), explorer._loss.get_ydata())
    accuracy = f"held-out accuracy {100 * base.accuracy:.0f} % (EMA {100 * base.ema_accuracy:.0f} %)"
    assert texts(explorer) == [f"this run: {accuracy}", "no spike; clipping at 1: 0% of the steps",
                               f"recipe: {accuracy}"]
    assert explorer.describe() == ("RecipeExplorer: warmup=10, peak_lr=0.01, clip=True, max_norm=1, "
                                   "schedule=cosine, steps=60, seed=0")


def test_a_moved_control_moves_the_lines_in_place_and_rewrites_the_status(trained):
    explorer = RecipeExplorer(base=fake_run(RECIPE))
    explorer.canvas.render()
    rate, loss, grey = explorer._rate, explorer._loss, explorer.axes[1].lines[0].get_ydata().copy()
    explorer.set(warmup=0, peak_lr=0.03)
    assert explorer._rate is rate and explorer._loss is loss
    assert explorer.canvas._background is not None  # only the curves and the status lines were redrawn
    run = fake_run(replace(RECIPE, warmup_steps=0, peak_lr=0.03))
    assert trained == [replace(RECIPE, warmup_steps=0, peak_lr=0.03)]
    np.testing.assert_array_equal(rate.get_ydata(), run.lrs)
    np.testing.assert_array_equal(loss.get_ydata(), averages.ewa(run.losses, 0.9, bias_correction=True))
    np.testing.assert_array_equal(explorer.axes[1].lines[0].get_ydata(), grey)  # the recipe stays
    assert texts(explorer)[0] == f"this run: held-out accuracy {100 * run.accuracy:.0f} % (EMA 45 %)"
    assert texts(explorer)[1] == (f"spiked to {SPIKE_FACTOR:.2g}× its first loss at step {SPIKE_STEP}; "
                                  f"clipping at 1: 0% of the steps")
    limits = [ax.get_ylim() for ax in explorer.axes]
    explorer.set(warmup=10, peak_lr=0.01)  # back to the recipe: nothing trained, the same text
    assert len(trained) == 1 and texts(explorer)[1] == "no spike; clipping at 1: 0% of the steps"
    assert [ax.get_ylim() for ax in explorer.axes] == limits


def test_settings_that_train_alike_are_trained_once_and_their_idle_controls_are_greyed(trained):
    explorer = RecipeExplorer(base=fake_run(RECIPE))
    explorer.set(clip=False)
    assert explorer.controls["max_norm"].disabled and trained[-1].max_norm == math.inf
    explorer.set(max_norm=10.0)  # the threshold does nothing while clipping is off
    explorer.set(clip=True)
    assert not explorer.controls["max_norm"].disabled and trained[-1].max_norm == 10.0
    explorer.set(schedule="one-cycle")
    assert explorer.controls["warmup"].disabled
    explorer.set(warmup=3)  # one-cycle brings its own warm-up
    assert not explorer.controls["max_norm"].disabled
    assert [(r.max_norm, r.schedule, r.warmup_steps) for r in trained] == [
        (math.inf, "cosine", 10), (10.0, "cosine", 10), (10.0, "one-cycle", RECIPE.warmup_steps)]
    explorer.set(schedule="cosine")
    assert not explorer.controls["warmup"].disabled and trained[-1].warmup_steps == 3


def test_the_defaults_are_the_recipes_and_lie_on_the_slider_grids(trained):
    explorer = RecipeExplorer(base=fake_run(RECIPE))
    peak = [value for _, value in explorer.controls["peak_lr"].options]
    clip = [value for _, value in explorer.controls["max_norm"].options]
    assert peak == [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3] and clip == [0.1, 0.3, 1.0, 3.0, 10.0]
    assert explorer.controls["peak_lr"].value == RECIPE.peak_lr
    assert explorer.controls["max_norm"].value == RECIPE.max_norm
    assert (explorer.controls["warmup"].min, explorer.controls["warmup"].max) == (0, 30)
    assert explorer.controls["warmup"].value == RECIPE.warmup_steps and explorer.controls["schedule"].value == "cosine"
    off = RecipeExplorer(max_norm=math.inf, base=fake_run(RECIPE))
    assert off.controls["clip"].value is False and off.controls["max_norm"].value == RECIPE.max_norm
    settings = {name: control.value for name, control in explorer.controls.items()} | {"clip": False, "max_norm": 3.0}
    rebuilt = RecipeExplorer(**settings)  # the controls' names are the arguments' names
    assert {name: control.value for name, control in rebuilt.controls.items()} == settings
    off_recipe = replace(RECIPE, max_norm=math.inf)
    assert trained == [off_recipe, RECIPE, off_recipe]  # off's run; rebuilt's grey recipe (no base), then its run


@pytest.mark.parametrize("arguments, error, words", [
    (dict(warmup=31), ValueError, ["warmup", "between 0 and 30"]),
    (dict(warmup=-1), ValueError, ["warmup", "-1"]),
    (dict(peak_lr=0.02), ValueError, ["peak_lr=0.02", "0.01 and 0.03"]),
    (dict(peak_lr=1.0), ValueError, ["peak_lr", "between 0.001 and 0.3"]),
    (dict(max_norm=0.5), ValueError, ["max_norm=0.5", "0.3 and 1"]),
    (dict(max_norm=-math.inf), ValueError, ["max_norm"]),
    (dict(schedule="linear"), ValueError, ["schedule", "'linear'", "one-cycle"]),
    (dict(base=fake_run(RECIPE, steps=30)), ValueError, ["base", "60 steps"]),
    (dict(base=[2.4, 2.3]), TypeError, ["base", "Run", "list"]),
    (dict(clip="off"), TypeError, ["clip", "True or False"]),
])
def test_bad_arguments_are_refused_naming_the_argument(trained, arguments, error, words):
    with pytest.raises(error) as raised:
        RecipeExplorer(**({"base": fake_run(RECIPE)} | arguments))
    for word in words:
        assert word in str(raised.value), str(raised.value)


def test_a_diverged_run_says_so(trained, monkeypatch):
    def diverging(recipe, seed=0, steps=STEPS):
        run = fake_run(recipe)
        run.losses[7:] = np.nan
        return replace(run, accuracy=float("nan"), ema_accuracy=float("nan"))

    explorer = RecipeExplorer(base=fake_run(RECIPE))
    monkeypatch.setattr(explorer_module, "train", diverging)
    explorer.set(peak_lr=0.3)
    assert texts(explorer)[:2] == ["this run: held-out accuracy n/a (EMA n/a)",
                                   "diverged at step 7; clipping at 1: 0% of the steps"]
    curve = explorer._loss.get_ydata()
    assert np.isfinite(curve[:7]).all() and np.isnan(curve[7:]).all()


def test_the_saved_picture_is_a_png_of_the_figure_and_a_stable_line(trained):
    explorer = RecipeExplorer(base=fake_run(RECIPE))
    explorer.set(warmup=0, peak_lr=0.1, clip=False)
    bundle = explorer._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert bundle["text/plain"] == ("RecipeExplorer: warmup=0, peak_lr=0.1, clip=False, max_norm=1, "
                                    "schedule=cosine, steps=60, seed=0")
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id


def test_on_the_real_transformer_no_warm_up_at_a_high_peak_spikes_where_the_recipe_does_not(monkeypatch):
    """Two real runs (about a second): the recipe, trained because no base is given, and peak 0.1
    without warm-up."""
    runs = {}

    def recording_train(recipe, seed=0, steps=STEPS):
        runs[recipe] = train(recipe, seed, steps)
        return runs[recipe]

    monkeypatch.setattr(explorer_module, "train", recording_train)
    explorer = RecipeExplorer(warmup=0, peak_lr=0.1)
    hot = replace(RECIPE, warmup_steps=0, peak_lr=0.1)
    assert set(runs) == {RECIPE, hot}
    recipe, run = runs[RECIPE], runs[hot]
    assert recipe.losses.max() <= explorer_module.SPIKE * recipe.losses[0] < run.losses.max()
    ratio, step = run.losses.max() / run.losses[0], int(run.losses.argmax())
    clipped = np.mean(run.grad_norms > 1.0)
    assert texts(explorer)[1] == (f"spiked to {ratio:.2g}× its first loss at step {step}; "
                                  f"clipping at 1: {clipped:.0%} of the steps")
    assert texts(explorer)[2] == (f"recipe: held-out accuracy {100 * recipe.accuracy:.0f} % "
                                  f"(EMA {100 * recipe.ema_accuracy:.0f} %)")
    np.testing.assert_allclose(explorer._rate.get_ydata(), warmup_cosine(np.arange(STEPS), 0.1, 0, STEPS),
                               rtol=1e-6)
    assert run.accuracy < recipe.accuracy


@pytest.mark.parametrize("rise, text", [(1.05, "no spike"), (1.2, "spiked to 1.2× its first loss at step 5")])
def test_only_a_rise_beyond_the_batch_noise_counts_as_a_spike(rise, text):
    run = fake_run(RECIPE)
    run.losses[5] = rise * run.losses[0]
    assert RecipeExplorer._summary(run, RECIPE)["behaviour"].split("; ")[0] == text


def test_the_status_says_how_often_clipping_acted_so_that_every_threshold_shows():
    """Thresholds above every gradient norm train alike; the line still names the threshold, so a
    moved slider always changes the picture, and says that clipping did nothing."""
    run = fake_run(RECIPE)
    run.grad_norms[:] = 0.5
    run.grad_norms[:6] = 2.0
    share = 6 / len(run.grad_norms)
    lines = {norm: RecipeExplorer._summary(run, replace(RECIPE, max_norm=norm))["behaviour"]
             for norm in (1.0, 3.0, 10.0, math.inf)}
    assert lines[1.0].endswith(f"; clipping at 1: {share:.0%} of the steps")
    assert lines[3.0].endswith("; clipping at 3: 0% of the steps")
    assert lines[10.0].endswith("; clipping at 10: 0% of the steps")
    assert lines[math.inf].endswith("; no clipping")


def test_computing_ahead_goes_one_run_at_a_time_nearest_first(trained):
    explorer = RecipeExplorer(base=fake_run(RECIPE))
    start = {name: control.value for name, control in explorer.controls.items()}
    batches = list(explorer._runs._ahead(start))
    assert all(len(batch) == 1 for batch in batches)
    changed = [{name: value for name, value in batch[0].items() if value != start[name]} for batch in batches]
    assert changed[:10] == [{"warmup": 9}, {"warmup": 11}, {"peak_lr": 3e-3}, {"peak_lr": 3e-2}, {"max_norm": 0.3},
                            {"max_norm": 3.0}, {"clip": False}, {"schedule": "warmup-stable-decay"},
                            {"schedule": "one-cycle"}, {"schedule": "schedule-free"}]
    assert {"warmup": 15} in changed and {"peak_lr": 0.3} in changed  # further out, later
    assert len({str(sorted(batch[0].items())) for batch in batches}) == len(batches)  # nothing twice
    assert trained == []  # listing them trains nothing


# --- in the browser: a setting not trained yet shows its learning rates at once, its loss when trained ---

@pytest.fixture
def held_runs(monkeypatch):
    """A fake ``train`` that waits until released (``release.set()``); the recipes it trained."""
    release, recipes = threading.Event(), []

    def held_train(recipe, seed=0, steps=STEPS):
        assert release.wait(30), "never released"
        recipes.append(recipe)
        return fake_run(recipe)

    monkeypatch.setattr(explorer_module, "train", held_train)
    yield release, recipes
    release.set()  # the explorer's threads finish what they compute ahead


def wait_until(condition, patience_s: float = 30.0) -> None:
    deadline = time.monotonic() + patience_s
    while not condition():
        assert time.monotonic() < deadline, "not within the patience"
        time.sleep(0.01)


def test_a_move_to_a_setting_not_trained_yet_shows_its_rates_at_once_and_its_loss_once_trained(held_runs):
    release, recipes = held_runs
    explorer = RecipeExplorer(base=fake_run(RECIPE))
    frames = shown_in_a_browser(explorer)
    explorer.controls["peak_lr"].value = 0.03  # a reader's move
    assert len(frames) == 1 and recipes == []  # a picture at once, no run done
    np.testing.assert_array_equal(explorer._rate.get_ydata(), learning_rates(replace(RECIPE, peak_lr=0.03)))
    assert np.isnan(explorer._loss.get_ydata()).all()
    assert texts(explorer)[:2] == ["this run: training…", "clipping at 1"]
    assert explorer.WORKING_CLASS in explorer.widget._dom_classes
    assert explorer._picture_key() is None  # not kept: a move back here must not show it again
    release.set()
    wait_until(lambda: explorer.WORKING_CLASS not in explorer.widget._dom_classes and len(frames) == 2)
    trained_first = list(explorer._runs._results)[1]  # [0]: the recipe's, from the notebook's run
    reader = {name: control.value for name, control in explorer.controls.items()}
    assert trained_first == explorer._runs._key(reader)  # before anything ahead
    draw_everything_ahead(explorer)
    with explorer.canvas.lock:
        assert texts(explorer)[0] == "this run: held-out accuracy 90 % (EMA 45 %)"
        np.testing.assert_array_equal(explorer._loss.get_ydata(), averages.ewa(
            fake_run(replace(RECIPE, peak_lr=0.03)).losses, 0.9, bias_correction=True))
        assert full_picture(explorer) == frames[-1]


def test_first_pictures_are_drawn_ahead_too_and_sent_at_once(held_runs):
    """Drawing ahead, a setting not trained yet gets its first picture, exactly the one a move
    there draws; a move there sends it without an update, and the whole picture follows."""
    release, _ = held_runs
    explorer = RecipeExplorer(base=fake_run(RECIPE))
    frames = shown_in_a_browser(explorer)
    explorer.controls["warmup"].value = 11  # nothing is trained meanwhile: held
    reader = {name: control.value for name, control in explorer.controls.items()}
    first = _first_picture_key(DragCache._key(reader | {"warmup": 12}))
    wait_until(lambda: first in explorer.canvas._pictures)
    kept = explorer.canvas._pictures[first]
    updates = []
    original = explorer.update
    explorer.update = lambda: updates.append(explorer.setting) or original()
    with explorer.canvas.lock:  # the explorer's thread waits meanwhile
        explorer.controls["warmup"].value = 12
        assert updates == [] and frames[-1] == kept and explorer.WORKING_CLASS in explorer.widget._dom_classes
    with explorer.canvas.lock:  # what a move there draws, from scratch
        explorer._catch_up_with(explorer.canvas.drawing_once(draw=False), later_allowed=True)
        assert explorer._incomplete is not None and full_picture(explorer) == kept
    release.set()
    wait_until(lambda: explorer.WORKING_CLASS not in explorer.widget._dom_classes)
    draw_everything_ahead(explorer)
    with explorer.canvas.lock:
        assert texts(explorer)[0].startswith("this run: held-out accuracy") and full_picture(explorer) == frames[-1]


def test_a_browser_showing_the_explorer_gets_first_pictures_of_each_controls_first_move(held_runs):
    release, _ = held_runs
    explorer = RecipeExplorer(base=fake_run(RECIPE))
    shown_for_the_first_time(explorer)
    reader = explorer.setting
    firsts = [_first_picture_key(DragCache._key(reader | {name: one_move(control)}))
              for name, control in explorer.controls.items() if not control.disabled]
    wait_until(lambda: all(key in explorer.canvas._pictures for key in firsts))
    release.set()


def test_a_cell_run_while_a_setting_trains_gets_its_whole_picture(held_runs):
    release, _ = held_runs
    explorer = RecipeExplorer(base=fake_run(RECIPE))
    frames = shown_in_a_browser(explorer)
    explorer.controls["schedule"].value = SCHEDULES[1]
    assert explorer.result["accuracy"] == "training…"
    threading.Timer(0.2, release.set).start()
    _catch_up_before_each_cell()  # what runs before each cell
    try:
        assert explorer.result["accuracy"].startswith("held-out accuracy")
        assert explorer.WORKING_CLASS not in explorer.widget._dom_classes
    finally:
        _after_each_cell()
    draw_everything_ahead(explorer)
    assert full_picture(explorer) == frames[-1]  # and the browser got it


def test_without_a_browser_a_move_waits_for_its_run(trained):
    explorer = RecipeExplorer(base=fake_run(RECIPE))
    explorer.controls["peak_lr"].value = 0.03
    assert replace(RECIPE, peak_lr=0.03) in trained
    assert texts(explorer)[0] == "this run: held-out accuracy 90 % (EMA 45 %)"


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_the_rates_shown_while_training_are_those_of_the_run(schedule):
    """One real run per schedule (about half a second each), compared to the last bit."""
    recipe = replace(RECIPE, schedule=schedule, warmup_steps=7, peak_lr=0.03)
    np.testing.assert_array_equal(learning_rates(recipe), train(recipe).lrs)


def test_the_rates_are_worked_out_without_drawing_torchs_random_numbers():
    """A move in the browser must not shift the random numbers of the learner's next cell."""
    import torch

    torch.manual_seed(0)
    before = torch.get_rng_state()
    learning_rates(replace(RECIPE, schedule="one-cycle"))
    assert torch.equal(torch.get_rng_state(), before)
