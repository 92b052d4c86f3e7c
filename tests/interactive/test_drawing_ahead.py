"""Drawing ahead (``Explorer._settings_ahead`` and the pictures kept by ``LayeredCanvas``): after a
reader's move, each explorer draws the pictures of the settings one move away; a picture drawn ahead
must be exactly the one a move there would draw, and the explorer must be back at the reader's
setting afterwards. Checked on every explorer but the showdown's (it needs a finished sweep)."""

import threading
import time
import types

import ipywidgets
import numpy as np
import pytest

from course_lib.interactive.canvas import png_bytes
from course_lib.interactive.drag_cache import DragCache, _choices, slider_moves
from course_lib.interactive.explorer import (
    _after_each_cell,
    _catch_up_before_each_cell,
    _first_picture_key,
    _limits,
    _set_limits,
)
from tests.interactive.test_explorer import EXPLORERS

NAMES = sorted(set(EXPLORERS) - {"ShowdownExplorer"})


def shown_in_a_browser(explorer) -> list:
    """The explorer as after a browser showed it; returns the list the frames it sends go to."""
    frames = []
    explorer.canvas.syncing_data_url = False
    explorer.canvas.send_binary = frames.append
    return frames


def draw_everything_ahead(explorer, patience_s: float = 60.0) -> None:
    """Wait while the explorer's thread draws ahead, until it is done (back at the reader's setting)."""
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        with explorer.canvas.lock:
            if not explorer._queue and not explorer._behind and not explorer._wake.is_set():
                return
        time.sleep(0.01)
    raise AssertionError(f"{type(explorer).__name__} still drawing ahead after {patience_s} s")


def full_picture(explorer) -> bytes:
    """The figure drawn from scratch (not on the kept background, which stays kept), as a PNG."""
    canvas = explorer.canvas
    kept, pictures, canvas._background = canvas._background, dict(canvas._pictures), None
    canvas.render()
    canvas._background, canvas._pictures = kept, pictures
    return png_bytes(np.asarray(canvas.get_renderer().buffer_rgba()))


def one_step(control):
    """A slider's value one step up (down at the top)."""
    return slider_moves(control, control.value, [1])[-1]


def one_move(control):
    """A reader's move of ``control``: a slider one step, a checkbox ticked or not, a dropdown's next choice."""
    if isinstance(control, ipywidgets.Checkbox):
        return not control.value
    if isinstance(control, ipywidgets.Dropdown):
        choices = _choices(control)
        return choices[(choices.index(control.value) + 1) % len(choices)]
    return one_step(control)


@pytest.mark.parametrize("name", NAMES)
def test_pictures_drawn_ahead_are_those_a_move_draws(name):
    """Each control moved once; each picture then drawn ahead is compared with the figure drawn
    from scratch after a move there (from the same figure, axes included), and afterwards the
    figure shows the reader's setting again."""
    explorer = EXPLORERS[name]()
    explorer.AHEAD_TRIES = 1000  # wait for every result computed ahead (a busy machine is slow)
    frames = shown_in_a_browser(explorer)
    checked = 0
    for control in explorer.controls.values():
        if control.disabled:
            continue
        before = set(explorer.canvas._pictures)
        greyed = []  # controls greyed out or back while drawing ahead: the reader would see them flicker
        with explorer.canvas.lock:  # the explorer's thread waits
            control.value = one_move(control)
            explorer._catch_up()  # the move's own update, if a picture drawn ahead was sent
            for each in explorer.controls.values():
                each.observe(greyed.append, names="disabled")
        draw_everything_ahead(explorer)
        for each in explorer.controls.values():
            each.unobserve(greyed.append, names="disabled")
        assert greyed == [], f"{name}: drawing ahead greyed out the reader's controls"
        assert not explorer._behind and full_picture(explorer) == frames[-1]
        with explorer.canvas.lock:
            here, limits, pictures = explorer.setting, _limits(explorer.figure), dict(explorer.canvas._pictures)
            for key in set(pictures) - before - {explorer._picture_key()}:
                if key == _first_picture_key(key[-1]):  # without a result: test_recipe_explorer checks these
                    continue
                explorer.canvas._pictures.clear()
                explorer.set(**dict(key))
                assert full_picture(explorer) == pictures[key], f"{name} at {dict(key)}, drawn ahead from {here}"
                explorer.set(**here)
                _set_limits(explorer.figure, limits)
                checked += 1
            explorer.canvas._pictures.update(pictures)
    assert checked >= 3, f"{name}: only {checked} pictures drawn ahead"


def test_the_settings_drawn_ahead_are_those_the_moved_control_reaches_next_the_likeliest_first():
    explorer = EXPLORERS["MomentumExplorer"]()
    shown_in_a_browser(explorer)
    lr = explorer.controls["lr"]
    values = _choices(lr)
    index = values.index(lr.value)
    with explorer.canvas.lock:  # the queue as the move left it
        lr.value = values[index - 1]  # one step down
        assert [setting["lr"] for setting, _ in explorer._queue] == [
            values[index - 2], values[index], values[index - 6], values[index + 4]]
        assert all(setting | {"lr": explorer.setting["lr"]} == explorer.setting for setting, _ in explorer._queue)
    draw_everything_ahead(explorer)
    with explorer.canvas.lock:
        explorer.controls["nesterov"].value = True
        assert [setting["nesterov"] for setting, _ in explorer._queue] == [False]
    draw_everything_ahead(explorer)
    landscapes = EXPLORERS["LandscapeExplorer"]()
    shown_in_a_browser(landscapes)
    dropdown = landscapes.controls["landscape"]
    choices = _choices(dropdown)
    with landscapes.canvas.lock:
        dropdown.value = choices[2]  # two down the list
        assert [setting["landscape"] for setting, _ in landscapes._queue] == [choices[3 % len(choices)], choices[1]]
        dropdown.value = choices[1]  # back up: the one above first
        assert [setting["landscape"] for setting, _ in landscapes._queue] == [choices[0], choices[2]]
    draw_everything_ahead(landscapes)


def moved_one_step(name: str, slider: str):
    """Explorer ``name`` shown in a browser, its ``slider`` moved one step and everything drawn ahead;
    with the frames it sent and the slider."""
    explorer = EXPLORERS[name]()
    frames = shown_in_a_browser(explorer)
    control = explorer.controls[slider]
    control.value = one_step(control)
    draw_everything_ahead(explorer)
    return explorer, frames, control


def test_a_move_to_a_picture_drawn_ahead_sends_it_without_computing_and_catches_up_after():
    explorer, frames, control = moved_one_step("MomentumExplorer", "lr")
    start = explorer.setting
    target = one_step(control)
    assert explorer.canvas._pictures[explorer._picture_key()] == frames[-1]  # the reader's picture, kept
    updates = []
    original = explorer.update
    explorer.update = lambda: updates.append(explorer.setting) or original()
    with explorer.canvas.lock:  # the explorer's thread waits meanwhile
        control.value = target
        assert updates == [] and explorer._behind  # sent from what was kept, nothing computed
        assert frames[-1] == explorer.canvas._pictures[explorer._picture_key()]
        _catch_up_before_each_cell()  # as before a cell runs
        try:
            assert updates == [start | {"lr": target}] and not explorer._behind
            assert full_picture(explorer) == frames[-1]
        finally:
            _after_each_cell()
    draw_everything_ahead(explorer)  # then from there
    assert full_picture(explorer) == frames[-1] and explorer.setting == start | {"lr": target}


def test_the_explorers_thread_catches_up_by_itself_after_a_picture_drawn_ahead():
    explorer, frames, control = moved_one_step("EWAExplorer", "beta")
    control.value = one_step(control)
    draw_everything_ahead(explorer)
    assert not explorer._behind and full_picture(explorer) == frames[-1]


def shown_for_the_first_time(explorer, draw_after_s: float = 0.0) -> list:
    """The messages of a browser that shows the explorer: "initialized", then (``draw_after_s``
    later) a draw request; returns the list the frames it sends go to."""
    frames = shown_in_a_browser(explorer)
    explorer.canvas.syncing_data_url = True  # the browser's message turns it off
    explorer.canvas._handle_custom_msg({"type": "initialized"}, [])
    time.sleep(draw_after_s)
    explorer.canvas.draw()
    return frames


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"RecipeExplorer"}))  # (first pictures: test_recipe_explorer)
def test_a_browser_showing_an_explorer_gets_each_controls_first_move_drawn_ahead(name):
    """Before the reader's first move nothing was drawn ahead: the first move of any control (a
    new landscape: a whole new background) had to compute and draw. A browser that shows the
    explorer now gets each control's first move drawn ahead (once it has drawn the figure: a slow
    browser here), each exactly the picture a move there draws, and the first move sent at once."""
    explorer = EXPLORERS[name]()
    explorer.AHEAD_TRIES = 1000  # wait for every result computed ahead (a busy machine is slow)
    frames = shown_for_the_first_time(explorer, draw_after_s=0.3)
    draw_everything_ahead(explorer)
    start, limits = explorer.setting, _limits(explorer.figure)
    moves = {each: one_move(control) for each, control in explorer.controls.items() if not control.disabled}
    keys = {each: DragCache._key(start | {each: move}) for each, move in moves.items()}
    pictures = dict(explorer.canvas._pictures)
    assert set(keys.values()) <= set(pictures), f"not drawn ahead: {set(keys.values()) - set(pictures)}"
    with explorer.canvas.lock:
        for key in keys.values():
            explorer.canvas._pictures.clear()
            explorer.set(**dict(key))
            assert full_picture(explorer) == pictures[key], f"at {dict(key)}"
            explorer.set(**start)
            _set_limits(explorer.figure, limits)
    updates = []
    original = explorer.update
    explorer.update = lambda: updates.append(explorer.setting) or original()
    for each, value in moves.items():  # (a new background forgets the pictures: shown again each time)
        explorer.set(**start)
        frames = shown_for_the_first_time(explorer)
        draw_everything_ahead(explorer)
        updates.clear()
        with explorer.canvas.lock:  # the explorer's thread waits meanwhile
            explorer.controls[each].value = value
            assert updates == [] and explorer._behind, f"the first move of {each} computed or drew"
        draw_everything_ahead(explorer)
        assert explorer.setting == start | {each: value} and full_picture(explorer) == frames[-1]


def test_after_a_whole_picture_is_sent_the_next_moves_are_drawn_ahead_on_its_background():
    """A move to a picture drawn ahead whole (a new landscape: new contours and axes) sends it at
    once; the figure then catches up without sending it again. It must keep the new background
    all the same: the pictures of the moves that follow are drawn on it, and the next move too is
    sent at once, not computed and drawn while the reader waits."""
    explorer = EXPLORERS["LandscapeExplorer"]()
    explorer.AHEAD_TRIES = 1000  # wait for every result computed ahead (a busy machine is slow)
    frames = shown_for_the_first_time(explorer, draw_after_s=0.3)
    draw_everything_ahead(explorer)
    landscape = explorer.controls["landscape"]
    moved = explorer.setting | {"landscape": one_move(landscape)}
    assert explorer.canvas.has_picture(DragCache._key(moved))
    updates = []
    original = explorer.update
    explorer.update = lambda: updates.append(explorer.setting) or original()
    for _ in range(2):  # a new landscape, and from there the next one
        sent = len(frames)
        with explorer.canvas.lock:  # the explorer's thread waits meanwhile
            landscape.value = one_move(landscape)
            assert updates == [] and len(frames) == sent + 1, f"{landscape.value}: not sent at once"
        draw_everything_ahead(explorer)
        assert len(frames) == sent + 1, "the picture was sent again"
        assert explorer.canvas.background_is_kept() and full_picture(explorer) == frames[-1]
        choices = _choices(landscape)  # the next landscape and the one back
        ahead = [explorer.setting | {"landscape": choices[(choices.index(landscape.value) + step) % len(choices)]}
                 for step in (1, -1)]
        assert all(explorer.canvas.has_picture(DragCache._key(setting)) for setting in ahead)
        updates.clear()


def test_a_move_while_a_whole_picture_is_drawn_ahead_leaves_the_figure_whole():
    """The explorer's thread draws the next landscape ahead (new contours, new axes) and the reader
    moves there meanwhile (the control's value changes on another thread; the move waits for the
    figure). Going back after the picture, the figure must return to the setting its axes belong
    to, not to the reader's new one with the old axes: the move then sends the picture drawn
    ahead, and the figure catches up to exactly that picture, with the new landscape's axes."""
    explorer = EXPLORERS["LandscapeExplorer"]()
    frames = shown_in_a_browser(explorer)
    explorer._draw_ahead_of = lambda queue: setattr(explorer, "_queue", queue)  # no thread: step by hand
    explorer.canvas.draw()  # (the browser's first draw)
    landscape = explorer.controls["landscape"]
    start = landscape.value
    target = one_move(landscape)
    original = explorer.update

    def update_and_the_reader_moves():
        original()
        if explorer._ahead is not None:  # the reader's move lands while the picture is drawn ahead
            explorer._updating_on_change = False
            landscape.value = target
            explorer._updating_on_change = True

    explorer.update = update_and_the_reader_moves
    with explorer.canvas.lock:
        assert explorer._draw_ahead(explorer.setting | {"landscape": target})
    explorer.update = original
    assert explorer._behind
    explorer._on_change(types.SimpleNamespace(owner=landscape, old=start, new=target, name="value"))
    explorer._catch_up()  # what the thread does first
    fresh = EXPLORERS["LandscapeExplorer"](landscape=target)
    assert _limits(explorer.figure) == _limits(fresh.figure)
    assert full_picture(explorer) == frames[-1], "the figure is not the picture sent"
    explorer.canvas.render()  # on the kept background
    assert png_bytes(np.asarray(explorer.canvas.get_renderer().buffer_rgba())) == frames[-1]


def test_nothing_is_drawn_ahead_while_a_cell_runs():
    """A cell's code reads the explorer's results (those of the controls' values): drawing ahead
    waits for the cell to end, and then goes on."""
    explorer = EXPLORERS["LandscapeExplorer"]()
    shown_in_a_browser(explorer)
    explorer.canvas.draw()  # (the browser's first draw)
    updates = []
    original = explorer.update
    explorer.update = lambda: updates.append(explorer.setting) or original()
    try:
        _catch_up_before_each_cell()
        explorer._draw_first_moves_ahead()
        queued = list(explorer._queue)
        time.sleep(0.5)
        assert updates == [] and explorer._queue == queued and not explorer._behind
    finally:
        _after_each_cell()
    draw_everything_ahead(explorer)
    assert len(updates) >= len(queued)


def test_a_control_that_a_cells_code_moves_gets_its_whole_update_at_once():
    """Code in a cell that moves a control reads the results next: no picture drawn ahead is sent
    instead of an update (the figure would catch up only after the cell)."""
    explorer, frames, control = moved_one_step("MomentumExplorer", "lr")
    target = one_step(control)
    assert DragCache._key(explorer.setting | {"lr": target}) in explorer.canvas._pictures
    _catch_up_before_each_cell()
    try:
        control.value = target
        assert not explorer._behind and full_picture(explorer) == frames[-1]
    finally:
        _after_each_cell()


def test_a_picture_drawn_as_the_reader_moves_is_kept_under_the_setting_it_shows():
    """The explorer's thread brings the figure to the controls and draws it; right after the
    update, the reader moves a control (on another thread: the move waits for the figure, but
    the control's value has changed already). The picture must be kept under the setting it
    shows: kept under the new one, the move would send it, and the reader would see the old
    picture for the new setting."""
    explorer = EXPLORERS["MomentumExplorer"]()
    frames = shown_in_a_browser(explorer)
    explorer.canvas.draw()  # (the browser's first draw)
    control = explorer.controls["lr"]
    start, target = explorer.setting, one_step(control)
    reader = threading.Thread(target=setattr, args=(control, "value", target))
    original = explorer.update

    def update_then_the_reader_moves():
        original()
        if reader.ident is not None:  # (the reader's own update)
            return
        reader.start()
        deadline = time.monotonic() + 10
        while control.value != target and time.monotonic() < deadline:
            time.sleep(0.001)
        assert control.value == target

    def catch_up_and_draw():  # as the explorer's thread does once a result the reader waits for is known
        with explorer.canvas.lock:
            explorer._catch_up_with(explorer.canvas.drawing_once())

    explorer.update = update_then_the_reader_moves
    explorer.canvas._pictures.clear()
    drawer = threading.Thread(target=catch_up_and_draw)
    drawer.start()
    drawer.join(30)
    explorer.update = original
    reader.join(30)
    assert not drawer.is_alive() and not reader.is_alive()
    draw_everything_ahead(explorer)
    assert explorer.setting == start | {"lr": target}
    assert full_picture(explorer) == frames[-1], "the reader sees the old picture"
    explorer.set(**start)
    assert explorer.canvas._pictures[DragCache._key(start)] == full_picture(explorer)


def test_nothing_is_drawn_ahead_before_a_browser_shows_the_explorer():
    explorer = EXPLORERS["EWAExplorer"]()
    control = explorer.controls["beta"]
    control.value = one_step(control)
    assert explorer._queue == []


EXIT_WHILE_COMPUTING_AHEAD = """
import time
from course_lib.lessons.recipe import RecipeExplorer
explorer = RecipeExplorer()
explorer.controls["peak_lr"].value = explorer.controls["peak_lr"].options[0][1]  # the cache trains ahead
time.sleep(1.0)  # in the middle of a training run
"""


def test_python_exits_cleanly_while_a_thread_computes_ahead():
    """torch aborts the process ("terminate called without an active exception") when Python exits
    while a thread is inside one of its operations: the threads pause first."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", EXIT_WHILE_COMPUTING_AHEAD], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
