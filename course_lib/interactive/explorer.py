"""What the explorers share: sliders and toggles that rerun a computation and update a figure in place.

A control event recomputes, moves the existing artists' data (``set_data``) and asks the canvas to
redraw (``draw_idle``); nothing is rebuilt. Each explorer draws on its own ipympl canvas
(``course_lib.interactive.canvas``), so a notebook needs no ``%matplotlib widget`` and its other
figures stay static PNGs. Displayed, an explorer is its live widget in JupyterLab, a PNG of its
current figure on GitHub and in exported HTML, and one stable line of text for nbval::

    explorer = lesson.LandscapeExplorer(landscape="rosenbrock", optimizer="Adam", lr=0.05)
    explorer                     # the last line of a cell shows it
    explorer.set(lr=0.3)         # what moving the slider does, from code

Each lesson's explorer subclasses ``Explorer``; the helpers below (controls, status lines, a run's
artists, the ill-conditioned bowl race of notebooks 02 and 03) are the parts two lessons share.
"""

import base64
import functools
import io
import itertools
import math
import sys
import threading
import time
import warnings
import weakref
from contextlib import contextmanager, nullcontext
from numbers import Integral, Real

import ipywidgets
import numpy as np
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

from course_lib.interactive.canvas import FigureManager, LayeredCanvas
from course_lib.interactive.drag_cache import AFTER_A_MOVE_S, DragCache, _choices, slider_moves, start_working_ahead
from course_lib.lab import plots, runner
from course_lib.lab.landscapes import ill_conditioned_bowl

EXPLORER_OPTIMIZERS = ("GD", "momentum", "Nesterov", "RMSprop", "Adam")
EXPLORER_LOSS_DECADES = 12
"""An explorer's log loss axis shows this many decades below its top, whatever the curves do down
there (deeper, a run has converged): the axis stays put while a slider moves, which makes runs
easy to compare and leaves the axis undrawn (``LayeredCanvas``)."""
AXIS_KEEP_SHARE = 0.25
"""An explorer's fitted axis keeps its limits while the curves fill at least this share of them
(in decades on a log axis): nearby settings share one axis, which then needs no redrawing, and a
curve is not drawn against an axis four times its size."""


class Explorer:
    """What the explorers share: a figure on an ipympl canvas, named controls, ``set``, display.

    A subclass builds its artists once and implements ``update``: recompute, move the artists,
    ``canvas.draw_idle()``. ``describe`` (the text/plain line) lists the controls' values and the
    subclass's ``_fixed_settings``.
    """

    def __init__(self, controls: dict, ncols: int = 2, figsize=None):
        self.controls = controls
        self.figure, self.axes = plots.new_figure(ncols, figsize)
        self.canvas = LayeredCanvas(self.figure)
        with warnings.catch_warnings():  # ipympl 0.10's Toolbar trips a traitlets deprecation of its own
            warnings.filterwarnings("ignore", r"Passing unrecognized arguments to super\(Toolbar\)", DeprecationWarning)
            FigureManager(self.canvas, 0)  # handles the browser's messages (draw, resize, toolbar)
        self.canvas.header_visible = False
        self.canvas.footer_visible = False
        self.canvas.resizable = False
        row = ipywidgets.HBox(list(controls.values()), layout=ipywidgets.Layout(flex_flow="row wrap"))
        self.widget = ipywidgets.VBox([row, self.canvas])
        self._updating_on_change = True
        for control in controls.values():
            control.observe(self._on_change, names="value")
        self.canvas.on_msg(self._on_canvas_message)
        self.canvas.picture_key = self._picture_key  # a picture shown before is sent again, not redrawn
        self.canvas.catching_up = functools.partial(self._catch_up, whole=False)  # the draw that follows sends it
        self._ahead = None  # the setting update() draws instead of the controls' values (drawing ahead)
        self._showing = None  # the controls' values as update() read them, while the figure catches up
        self._drawn = None  # the setting the figure last caught up with (drawing ahead goes back to it)
        self._behind = False  # whether the artists show another setting than the controls
        self._later_allowed = False  # whether update() may leave out a result not known yet (result_or_later)
        self._incomplete = None  # (cache, setting) of the result the picture shown still lacks
        self._ahead_incomplete = False  # whether the picture drawn ahead lacks a result (result_or_later)
        self._queue = []  # the settings still to draw ahead
        self._readers_waiting = 0  # moves of the reader waiting for the figure (drawing ahead gives way)
        self._wake = threading.Event()  # new settings to draw ahead
        self._ahead_thread = None
        _EXPLORERS.add(self)
        shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
        if shell is not None and _catch_up_before_each_cell not in shell.events.callbacks["pre_run_cell"]:
            shell.events.register("pre_run_cell", _catch_up_before_each_cell)
            shell.events.register("post_run_cell", _after_each_cell)

    @property
    def setting(self) -> dict:
        """What ``update`` draws: {control name: value}, the controls' values except while a picture
        is drawn ahead, and as they were when the figure began to catch up with them until it has
        (``_catching_up_with_the_controls``)."""
        if self._ahead is not None:
            return dict(self._ahead)
        if self._showing is not None:
            return dict(self._showing)
        return {name: control.value for name, control in self.controls.items()}

    @contextmanager
    def _catching_up_with_the_controls(self, setting: dict | None = None):
        """Within, ``setting`` stays what the controls said on entry (or ``setting``): the reader may
        move one meanwhile, on another thread (the move waits for the figure, and comes next), and
        the picture drawn is kept under the setting it shows, not under the new one."""
        outer = self._showing
        self._showing = outer if outer is not None else setting if setting is not None else self.setting
        self._drawn = self._showing
        try:
            yield
        finally:
            self._showing = outer

    def _picture_key(self) -> tuple | None:
        """What the picture shows: an update draws from the setting and nothing else (None for a
        picture still waiting for a result: it is not kept)."""
        return None if self._incomplete else DragCache._key(self.setting)

    def _grey_out(self, name: str, unused: bool) -> None:
        """Grey out control ``name`` while the setting leaves it unused (the reader's controls, not
        those of a setting drawn ahead)."""
        if self._ahead is None:
            self.controls[name].disabled = unused

    def update(self) -> None:
        """Recompute for the current control values and redraw in place."""
        raise NotImplementedError

    WORKING_CLASS = "course-explorer-working"
    """The explorer's widget has this CSS class while its picture waits for a result."""

    def result_or_later(self, cache: DragCache, setting: dict):
        """``cache.get(setting)``, or None when a reader's move in the browser reaches a setting whose
        result is not known yet: for results a reader should not wait for with nothing to see
        (a training run). The update then draws what it can without it, and says so; the cache's
        thread computes it first of all, and the explorer's thread draws the whole picture once it
        is known. Code, a saved picture and a cell run afterwards get the whole picture. Drawing
        ahead, such a first picture is drawn too, and kept apart (``_first_picture_key``)."""
        if self._ahead is not None:
            try:
                return cache.get(setting)  # peeking: known results only
            except DragCache.NotReady:
                self._ahead_incomplete = True
                return None
        if not self._later_allowed or self.canvas.syncing_data_url:
            return cache.get(setting)
        result = cache.get(setting, wait=False)
        if result is None:
            self._incomplete = (cache, setting)
            self.widget.add_class(self.WORKING_CLASS)
        return result

    def _foreground(self, *artists) -> None:
        """Register the artists an update moves: each redraw draws them on the kept background
        (``LayeredCanvas``), by zorder, then in the order given. Their parts too are animated (the
        texts of a legend): a change there would otherwise mark the axes changed, and the
        background would be drawn again."""
        for artist in artists:
            for part in artist.findobj():
                part.set_animated(True)
            self.canvas.foreground.append(artist)

    def describe(self) -> str:
        """One stable line naming the explorer and its settings (its text/plain form)."""
        settings = {name: control.value for name, control in self.controls.items()} | self._fixed_settings()
        return f"{type(self).__name__}: " + ", ".join(f"{name}={_format(value)}" for name, value in settings.items())

    def _fixed_settings(self) -> dict:
        """Settings chosen when the explorer was built, which no control changes."""
        return {}

    def set(self, **values) -> None:
        """Set controls by name as a reader would with the mouse, then update once.

        ``explorer.set(lr=0.3, optimizer="Adam")``; a bad name or value raises before anything changes.
        """
        with self._reader_first():
            self._assign(values)
            self._behind, self._incomplete = False, None
            with self._catching_up_with_the_controls(), self.canvas.drawing_once():
                self.update()
            self.widget.remove_class(self.WORKING_CLASS)

    def _assign(self, values: dict) -> None:
        values = {name: _check_setting(self.controls, name, value) for name, value in values.items()}
        self._updating_on_change = False
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._updating_on_change = True

    def _on_change(self, change) -> None:
        if not self._updating_on_change:
            return
        with self._reader_first():
            self._snap(change.owner)
            if _A_CELL_RUNS.is_set():  # code in a cell moved it, and may read the results next
                self._catch_up_with(self.canvas.drawing_once())
                return
            key = DragCache._key(self.setting)
            first = []  # what the explorer's thread does first
            if self.canvas.send_picture(key):  # shown now, whole; the figure catches up first thing after
                self._behind, self._incomplete, first = True, None, [(None, 0)]
                self.widget.remove_class(self.WORKING_CLASS)
            elif self.canvas.send_picture(_first_picture_key(key)):  # shown now, without a result
                self._behind, first = True, [(self._FIRST, 0), (self._WHOLE, 0)]
                self.widget.add_class(self.WORKING_CLASS)
            else:  # the new picture goes out at once (without a result that takes long)
                self._catch_up_with(self.canvas.drawing_once(), later_allowed=True)
                first = [(self._WHOLE, 0)] * (self._incomplete is not None)
            self._draw_ahead_from(change, first)
            DragCache.quiet_after_a_move()

    @contextmanager
    def _reader_first(self):
        """Hold the figure for a move of the reader (or code that sets or shows the explorer):
        drawing ahead gives way at its next picture. The kernel may handle the reader's moves on
        another thread than the one that ran the notebook."""
        self._readers_waiting += 1
        try:
            with self.canvas.lock:
                yield
        finally:
            self._readers_waiting -= 1

    # Drawing ahead. After each move of a control, while the reader looks, a thread of the
    # explorer draws the pictures of the settings that control reaches next (``_settings_ahead``),
    # and once a browser has first shown the explorer, those of each control's first move. It
    # keeps them (``LayeredCanvas``): a move to one of them sends its picture at once, without
    # computing or drawing, and the figure catches up after. The thread starts once the new
    # picture is on its way (``AFTER_A_MOVE_S``), holds the figure for one picture at a time and
    # gives way to a waiting move of the reader, who so waits for one picture at most; the threads
    # that compute ahead pause while it draws, and it draws nothing while a cell runs. From a
    # cache it takes only results already known (``DragCache.peeking``). A setting that changes the background (new axis limits, a title)
    # is drawn whole, and the figure goes back to the background the reader sees.

    AHEAD_WAIT_S = 0.02
    AHEAD_TRIES = 50
    """A setting whose results are being computed is tried again after the others, every
    AHEAD_WAIT_S while nothing else is left to draw, this many times."""
    WHOLE_TRIES = 500
    """A picture that waits for a result (``result_or_later``) is tried this many times, every
    AHEAD_WAIT_S; then the explorer's thread computes the result itself."""
    _WHOLE = "the reader's picture, once its result is known"
    _FIRST = "the figure caught up with a first picture sent: without waiting for its result"

    def _draw_ahead_from(self, change, first: list) -> None:
        settings = self._settings_ahead(change.owner, change.old, change.new)
        self._draw_ahead_of(first + [(setting, 0) for setting in settings])

    def _draw_first_moves_ahead(self) -> None:
        """A browser shows the explorer: draw ahead what the reader's first move of each control
        reaches (while the reader reads the cell), each control's likeliest move first; after what
        is queued already (another view's moves)."""
        with self._reader_first():
            moves = [self._settings_ahead(control, control.value, control.value)
                     for control in self.controls.values() if not control.disabled]
            self._draw_ahead_of(self._queue + [(setting, 0) for settings in itertools.zip_longest(*moves)
                                               for setting in settings if setting is not None])

    def _draw_ahead_of(self, queue: list) -> None:
        if self.canvas.syncing_data_url:  # no browser shows the explorer: nobody to draw for
            return
        self._queue = queue
        self._wake.set()
        if self._ahead_thread is None or not self._ahead_thread.is_alive():
            self._ahead_thread = start_working_ahead(self._draw_ahead_meanwhile, f"{type(self).__name__} ahead")

    def _draw_ahead_meanwhile(self) -> None:
        """The thread's work: the queue's pictures one at a time, each after any waiting move."""
        while True:
            self._wake.wait()
            self._wake.clear()
            pause = AFTER_A_MOVE_S
            while pause is not None:
                time.sleep(pause)
                while self._readers_waiting or _A_CELL_RUNS.is_set():
                    time.sleep(0.001 if self._readers_waiting else self.AHEAD_WAIT_S)
                with self.canvas.lock, DragCache.reader_waiting():  # computing ahead pauses meanwhile
                    pause = self._draw_next_ahead()

    def _settings_ahead(self, moved, old, new) -> list[dict]:
        """The settings the control just moved reaches in one move, the likeliest first: a slider
        one step on in the same direction, one step back, then FAR steps either way (PageUp and
        PageDown); a dropdown's next choice in the same direction and the one back; a checkbox
        unticked again. Only these: drawing more would keep the kernel busy, and slow what the
        reader does next, on a small machine."""
        name = next(name for name, control in self.controls.items() if control is moved)
        setting = self.setting
        if isinstance(moved, ipywidgets.Checkbox):
            return [setting | {name: not new}]
        if isinstance(moved, ipywidgets.Dropdown):
            values = _choices(moved)
            start = values.index(new)
            around = [values[(start + 1) % len(values)], values[start - 1]]
            if old in values and values.index(old) == (start + 1) % len(values):
                around.reverse()  # stepping back through the list
            return [setting | {name: value} for value in dict.fromkeys(around) if value != new]
        up = not isinstance(old, Real) or new >= old
        return [setting | {name: value} for distance in (1, DragCache.FAR) for value in sorted(
            slider_moves(moved, setting[name], [distance]), key=lambda value: (value > setting[name]) != up)]

    def _draw_next_ahead(self) -> float | None:
        """Draw the next picture of the queue; return how long to wait before the next one, None
        when the queue is done (and the figure back at the controls' values)."""
        if _A_CELL_RUNS.is_set():  # its code may read the explorer's results: after the cell
            return self.AHEAD_WAIT_S
        waiting = 0
        while waiting < len(self._queue):
            setting, tries = self._queue.pop(0)
            if setting is None:  # the figure first, so that the results computed ahead start from there
                self._catch_up()
                break
            if setting is self._FIRST:  # and the cache's thread computes the reader's result first
                with self._catching_up_with_the_controls():
                    self._catch_up_with(self.canvas.drawing_once(draw=False), later_allowed=True)
                    if self._incomplete is None:  # known meanwhile: the whole picture now
                        self.canvas.draw()
                break
            if setting is self._WHOLE:
                if self._incomplete is None:
                    continue
                cache, wanted = self._incomplete
                if cache.known(wanted) or tries >= self.WHOLE_TRIES:
                    self._catch_up()
                    break
                self._queue.append((setting, tries + 1))
                waiting += 1
                continue
            if self.canvas.has_picture(DragCache._key(setting)):
                continue
            if not self.canvas.background_is_kept():  # the browser's first draw keeps it: after that
                if tries < self.AHEAD_TRIES:
                    self._queue.append((setting, tries + 1))
                    waiting += 1
                continue
            drawn = self._draw_ahead(setting)
            if drawn and not self._ahead_incomplete:
                break
            if tries < self.AHEAD_TRIES:  # its results are on their way: after the others
                self._queue.append((setting, tries + 1))
                waiting += not drawn
            if drawn:  # a first picture, without them
                break
        if self._queue:
            return self.AHEAD_WAIT_S if waiting == len(self._queue) else 0.0
        self._catch_up()
        return None

    def _draw_ahead(self, setting: dict) -> bool:
        """Draw and keep the picture of ``setting``; False when its results are not known yet. An
        explorer that draws without a result (``result_or_later``) draws a first picture then
        (``_ahead_incomplete``), once."""
        limits, shown = _limits(self.figure), self._drawn if self._drawn is not None else self.setting
        self._ahead, self._behind, self._ahead_incomplete = setting, True, False
        key = DragCache._key(setting)
        drawn = False
        try:
            with self.canvas.drawing_ahead() as background_changed, DragCache.peeking():
                self.update()
                if self._ahead_incomplete:
                    key = _first_picture_key(key)
                if not self.canvas.has_picture(key):
                    self.canvas.keep_picture(key, whole=background_changed[0])
                    drawn = True
        except DragCache.NotReady:
            pass
        finally:
            self._ahead = None
        if background_changed[0]:  # axes or titles moved: back to those the picture was drawn from
            incomplete = self._incomplete
            with self.canvas.drawing_ahead():  # the setting they belong to, even if the reader moved since
                self._catch_up_with(nullcontext(), later_allowed=incomplete is not None, setting=shown)
                _set_limits(self.figure, limits)
            self._behind = shown != self.setting
            if incomplete is not None:  # the reader still sees the picture without its result
                self._incomplete = incomplete
                self.widget.add_class(self.WORKING_CLASS)
        return drawn

    def _catch_up(self, whole: bool = True) -> None:
        """Bring the figure to the controls' values after pictures drawn ahead, or after one of
        them was sent to the reader (the figure then changes as a move there would change it).
        ``whole``: and complete a picture that waits for a result (``result_or_later``), computing
        it if need be, and send it."""
        with self.canvas.lock:
            incomplete = whole and self._incomplete is not None
            if self._behind or incomplete:  # (not whole: a result not known yet is not waited for)
                self._catch_up_with(self.canvas.drawing_once(draw=incomplete), later_allowed=not whole)

    def _catch_up_with(self, drawing, later_allowed: bool = False, setting: dict | None = None) -> None:
        """Bring the figure to the controls' values (or to ``setting``) within ``drawing``."""
        self._behind, self._incomplete, self._later_allowed = False, None, later_allowed
        try:  # computing ahead pauses meanwhile, and restarts from here
            with DragCache.reader_waiting(), self._catching_up_with_the_controls(setting), drawing:
                self.update()
        finally:
            self._later_allowed = False
        if self._incomplete is None:
            self.widget.remove_class(self.WORKING_CLASS)

    def _snap(self, control) -> None:
        """Put a value the browser sent on its slider's grid: the browser adds steps in binary
        floating point (0.9 + 0.01 arrives as 0.9100000000000001), the reader means 0.91."""
        name = next(name for name, each in self.controls.items() if each is control)
        try:
            value = _check_setting(self.controls, name, control.value)
        except (TypeError, ValueError):  # not near a grid position: leave it to update() as it is
            return
        if value != control.value:
            self._assign({name: value})

    def _on_canvas_message(self, canvas, content, buffers) -> None:
        if content.get("type") == "initialized":  # a browser shows the explorer: get ready for it
            DragCache.compute_ahead_for(self.controls)
            self._draw_first_moves_ahead()

    def _freeze_layout(self) -> None:
        """Lay the figure out once, then pin it there: placing axes, titles and axis labels costs
        matplotlib more than drawing the data, and an update changes none of them."""
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")
        for ax in self.axes:
            sparse_ticks(ax)
            ax.set_title(ax.get_title(), y=ax.title.get_position()[1])
            to_axes = ax.transAxes.inverted()
            ax.xaxis.set_label_coords(0.5, to_axes.transform((0, ax.xaxis.label.get_position()[1]))[1])
            ax.yaxis.set_label_coords(to_axes.transform((ax.yaxis.label.get_position()[0], 0))[0], 0.5)

    def png(self) -> str:
        """The current figure as a base64 PNG (the static picture of a saved notebook)."""
        buffer = io.BytesIO()
        with self._reader_first():
            self._catch_up()
            self.figure.savefig(buffer, format="png", metadata={"Software": None})
        return base64.b64encode(buffer.getvalue()).decode("ascii")

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self.widget.model_id,
            },
            "text/plain": self.describe(),
            "image/png": self.png(),
        }


def _first_picture_key(key: tuple) -> tuple:
    """The name a first picture, without a result, is kept under (``Explorer.result_or_later``)."""
    return ("without a result", key)


def _limits(figure) -> list:
    return [(ax.get_xlim(), ax.get_ylim()) for ax in figure.axes]


def _set_limits(figure, limits: list) -> None:
    """Put each axis back where ``_limits`` found it (touching only those that moved)."""
    for ax, (x, y) in zip(figure.axes, limits):
        if ax.get_xlim() != x:
            ax.set_xlim(x)
        if ax.get_ylim() != y:
            ax.set_ylim(y)


_EXPLORERS = weakref.WeakSet()


_A_CELL_RUNS = threading.Event()
"""Set while a cell runs: the explorers draw nothing ahead meanwhile."""


def _catch_up_before_each_cell(*_) -> None:
    """Code in a cell reads an explorer's results: those of its controls' values, not of a
    setting drawn ahead, and none is drawn ahead until the cell is done (``_after_each_cell``)."""
    _A_CELL_RUNS.set()
    for explorer in list(_EXPLORERS):
        explorer._catch_up()


def _after_each_cell(*_) -> None:
    _A_CELL_RUNS.clear()


def sparse_ticks(ax) -> None:
    """A few labelled ticks per axis and no minor ticks: every tick is a text to lay out and draw
    again on each update (a log axis over 30 decades would otherwise carry hundreds). A symmetric
    log axis gets its few ticks from ``plots.fit_loss_limits``."""
    for axis in (ax.xaxis, ax.yaxis):
        scale = axis.get_scale()
        if scale == "log":
            axis.set_major_locator(LogLocator(numticks=6))
        elif scale == "linear":
            axis.set_major_locator(MaxNLocator(5))
        axis.set_minor_locator(NullLocator())


def _format(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _check_setting(controls: dict, name: str, value):
    """Raise TypeError / ValueError naming ``name`` and ``value`` unless the control accepts it as is;
    return the value to give the control. A slider takes only the values on its grid: the browser
    would move any other value to the nearest grid point, and the picture would change under the
    reader's eyes."""
    if name not in controls:
        raise ValueError(f"Unknown setting: {name}={value!r} (settings: {', '.join(controls)})")
    control = controls[name]
    if isinstance(control, ipywidgets.Checkbox):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
        return value
    if isinstance(control, ipywidgets.Dropdown):
        choices = _choices(control)
        if value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if isinstance(control, ipywidgets.SelectionSlider):
        grid = _choices(control)
    elif isinstance(control, ipywidgets.FloatLogSlider):
        grid = [control.base**(control.min + k * control.step)
                for k in range(round((control.max - control.min) / control.step) + 1)]
    else:
        grid = [control.min + k * control.step for k in range(round((control.max - control.min) / control.step) + 1)]
    low, high = grid[0], grid[-1]
    if not low - 1e-12 * abs(low) <= value <= high + 1e-12 * abs(high):
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value!r}")
    index = min(range(len(grid)), key=lambda i: abs(grid[i] - value))
    if not math.isclose(grid[index], value, rel_tol=1e-9, abs_tol=1e-9 * abs(grid[min(1, len(grid) - 1)] - grid[0])):
        below = max((point for point in grid if point < value), default=None)
        above = min((point for point in grid if point > value), default=None)
        nearest = " and ".join(f"{point:.6g}" for point in (below, above) if point is not None)
        raise ValueError(f"{name}={value!r} is not a position of the {name} slider; the nearest are {nearest}")
    if isinstance(control, ipywidgets.IntSlider):
        return int(round(grid[index]))
    if isinstance(control, ipywidgets.FloatSlider):  # its grid point, as written in decimal (0.91, not 0.91000…01)
        return float(f"{grid[index]:.12g}")
    return grid[index] if isinstance(control, ipywidgets.SelectionSlider) else value


def check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, Integral):
        raise TypeError(f"steps must be an int, got {steps!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}")
    return int(steps)


ROUND_20 = (1, 1.1, 1.2, 1.4, 1.6, 1.8, 2, 2.2, 2.5, 2.8, 3, 3.3, 3.6, 4, 4.5, 5, 5.6, 6.3, 7.1, 8, 9)
"""Round values about 20 to a decade, the grid of most log sliders: Renard's rounded R″20 series
(ISO 3) with 3 and 3.3 in place of 3.2, so that 0.3, 0.03, … (common learning rates) are on it."""
ROUND_10 = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)
"""10 round values per decade (1-1.2-1.5-2-2.5-3-4-5-6-8)."""
QUARTER_DECADES = (1, 1.8, 3.2, 5.6)
HALF_DECADES = (1, 3)


def log_values(low: float, high: float, mantissas=ROUND_20) -> list[float]:
    """The values m·10^e from ``low`` to ``high``, for each m of ``mantissas``, as Python reads them
    written out (``0.036`` here is the literal 0.036)."""
    exponents = range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
    values = (float(f"{m}e{e}") for e in exponents for m in mantissas)
    return [v for v in values if low * (1 - 1e-12) <= v <= high * (1 + 1e-12)]


def decay_rates(low: float, high: float) -> list[float]:
    """Decay rates β from ``low`` to ``high`` (0 ≤ low < high < 1) whose 1 − β steps evenly on a log
    scale, ten round values a decade (``ROUND_10``): an average over about 1/(1 − β) steps
    remembers a fixed share longer at each step (0.9, 0.92, 0.94, 0.95, … 0.99, 0.992, …)."""
    rests = log_values(round(1 - high, 12), round(1 - low, 12), ROUND_10)  # (1 − 0.999999 is 1.00000000003e-6)
    return [round(1 - rest, 12) for rest in reversed(rests)]


def log_slider(description: str, values, label: str = ".3g") -> ipywidgets.SelectionSlider:
    """A slider over ``values`` (increasing, e.g. ``log_values(1e-3, 1)``): it takes exactly these
    values, labelled in the format ``label`` (3 significant digits), and the browser sends back the
    one chosen, to the last bit (a ``FloatLogSlider`` would snap a value to base**(min + k·step))."""
    return ipywidgets.SelectionSlider(options=[(f"{v:{label}}", v) for v in values], description=description)


def lr_slider(low: float, high: float) -> ipywidgets.SelectionSlider:
    """The learning rate from ``low`` to ``high``, 20 round values per decade (``ROUND_20``)."""
    return log_slider("lr", log_values(low, high))


def status_text(ax, row: int):
    """A line of text in the top right corner of ``ax`` (a run's name and what became of it)."""
    return ax.text(0.98, 0.97 - 0.09 * row, "", transform=ax.transAxes, ha="right", va="top",
                   bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})


def show_run(path_line, loss_line, status, name: str, result: runner.RunResult, minimum_value) -> np.ndarray:
    """Move one run's artists to ``result``; return the loss curve drawn (for the y limits)."""
    color = plots.optimizer_color(name)
    curve = plots.loss_curve(result.losses, minimum_value)
    path_line.set_data(result.path[:, 0], result.path[:, 1])
    loss_line.set_data(np.arange(len(curve)), curve)
    status.set_text(f"{name}: {result.summary()}")
    for artist in (path_line, loss_line, status):
        artist.set_color(color)
    return curve


BOWL_RACE_HEADROOM = 1e3
"""Decades kept above the curves of a bowl race for its status lines (top right), so that no curve
runs through them."""


def bowl_race_artists(contours, losses, names: tuple[str, ...], steps: int):
    """The ill-conditioned bowl's level ellipses, minimum and start on ``contours``, and for each of
    ``names`` an empty (path, loss curve, status text) triple to fill in; returns the unit
    ellipses (rescaled per κ by an update), their line, and the triples."""
    bowl = ill_conditioned_bowl()
    plots.frame_landscape(contours, bowl)
    unit_ellipses = level_ellipses(bowl)
    (ellipses,) = contours.plot(*unit_ellipses, color="0.7", linewidth=0.7)
    contours.plot(*np.transpose(bowl.minima), "*", color="black", markersize=10)
    contours.plot(*bowl.start, "o", color="black", markersize=5)
    lines = [(plots.draw_path(contours, np.full((1, 2), np.nan), name), losses.plot([], [])[0],
              status_text(losses, row)) for row, name in enumerate(names)]
    plots.frame_losses(losses, bowl.minimum_value)
    losses.set_xlim(0, steps)
    return unit_ellipses, ellipses, lines


def show_bowl_race(explorer, bowl, condition) -> None:
    """Rescale the level ellipses to the bowl's κ and move each run's artists to ``explorer.results``."""
    x, y = explorer._unit_ellipses
    explorer._ellipses.set_data(x, y / np.sqrt(condition))
    explorer.axes[0].title.set_text(bowl.label)
    curves = [show_run(*artists, name, result, bowl.minimum_value)
              for artists, (name, result) in zip(explorer._lines, explorer.results.items())]
    # A diverged run counts with its start only: it leaves through the top of the axis, where it is
    # cut, and its blow-up (up to 1e14 before the run stops) does not push the other runs off the bottom.
    fitted = [curve if result.diverged_at is None else curve[:1]
              for curve, result in zip(curves, explorer.results.values())]
    plots.fit_loss_limits(explorer.axes[1], fitted, headroom=BOWL_RACE_HEADROOM, decades=EXPLORER_LOSS_DECADES)


def level_ellipses(bowl, count: int = 16, points: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Level curves of ½(x² + y²) (the bowl at κ = 1) as one NaN-separated line; dividing y by √κ
    turns them into the level curves of ½(x² + κy²) at the same levels."""
    x_max = max(abs(bowl.extent[0]), abs(bowl.extent[1]))
    radii = np.geomspace(0.1, 1.5 * x_max, count)[:, None]
    angles = np.append(np.linspace(0, 2 * np.pi, points), np.nan)
    return (radii * np.cos(angles)).ravel(), (radii * np.sin(angles)).ravel()
