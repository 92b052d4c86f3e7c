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
import io
import math
import sys
import threading
import time
import warnings
import weakref
from contextlib import contextmanager
from numbers import Integral, Real

import ipywidgets
import numpy as np
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

from course_lib.interactive.canvas import FigureManager, LayeredCanvas
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

    def _picture_key(self) -> tuple:
        """What the picture shows: an update draws from the controls' values and nothing else."""
        return DragCache._key({name: control.value for name, control in self.controls.items()})

    def update(self) -> None:
        """Recompute for the current control values and redraw in place."""
        raise NotImplementedError

    def _foreground(self, *artists) -> None:
        """Register the artists an update moves: each redraw draws them on the kept background
        (``LayeredCanvas``), by zorder, then in the order given."""
        for artist in artists:
            artist.set_animated(True)
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
        self._assign(values)
        with self.canvas.drawing_once():
            self.update()

    def _assign(self, values: dict) -> None:
        values = {name: _check_setting(self.controls, name, value) for name, value in values.items()}
        self._updating_on_change = False
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._updating_on_change = True

    def _on_change(self, change) -> None:
        if self._updating_on_change:
            self._snap(change.owner)
            with DragCache.reader_waiting():  # computing ahead pauses meanwhile, and restarts from here
                with self.canvas.drawing_once():  # the new picture goes out at once (LayeredCanvas)
                    self.update()

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


class DragCache:
    """Results of a batched computation for the setting shown and for the settings a reader
    reaches next, so that moving a control redraws without recomputing.

    ``compute(settings)`` takes a list of settings (dicts of control values that differ only in
    the ``sliders``) and returns one result per setting, all computed at once: for the small
    problems of the explorers one batched run costs about what a single run costs. ``get(setting)``
    returns the result of ``setting``; when it is not known yet, it computes ``setting`` together
    with its neighbours, each slider of ``sliders`` moved up to ``reach`` of its steps either way.

    Some batches take a few hundred milliseconds, too long to wait for after a click. So once a
    browser shows the explorer, and after each move of a control, a thread of the cache computes
    ahead what the reader may ask for next (``_ahead``): each slider further out (up to ``FAR``
    steps: a jump with PageUp), then every other choice of each checkbox and dropdown. It works
    only while the kernel has no control event to handle: it pauses at its next function call
    when a control moves (``reader_waiting``), and starts again from the new setting once the
    picture is sent. When the reader asks for a setting the thread is computing, the kernel lets
    it finish instead of starting over. A result is the same whichever thread computes it.
    """

    FAR = 5
    _reader_idle = threading.Event()  # cleared while a control event is handled
    _reader_idle.set()
    _asked: list = []  # the caches asked for a setting while a control event was handled
    _all = weakref.WeakSet()

    def __init__(self, controls: dict, sliders: tuple[str, ...], compute, reach: int = 2, size: int = 512):
        self.controls, self.sliders, self.compute, self.reach, self.size = controls, sliders, compute, reach, size
        self._results = {}
        self._lock = threading.Lock()  # guards _results while two threads store in it
        self._last = None  # the setting last asked for: the thread computes ahead from it
        self._computing = (set(), None)  # keys of the thread's batch, an Event set when it is done
        self._wake = threading.Event()
        self._thread = None
        DragCache._all.add(self)

    def get(self, setting: dict):
        self._last = setting
        if not DragCache._reader_idle.is_set():
            DragCache._asked.append(self)
        key = self._key(setting)
        keys, done = self._computing
        if key in keys and key not in self._results:
            self._let_the_thread_finish(done)
        result = self._results.get(key)
        if result is None:
            result = self._store(self._missing([setting, *self._neighbours(setting)]))[0]
        return result

    def _missing(self, settings: list) -> list:
        """``settings`` less those already known and those repeated."""
        keys = {}
        for setting in settings:
            keys.setdefault(self._key(setting), setting)
        return [setting for key, setting in keys.items() if key not in self._results]

    def _store(self, batch: list) -> list:
        """Compute ``batch``, keep and return the results."""
        results = self.compute(batch) if batch else []
        keys = [self._key(each) for each in batch]
        with self._lock:
            self._results.update(zip(keys, results))
            while len(self._results) > self.size:  # forget the oldest
                del self._results[next(iter(self._results))]
        return results

    @classmethod
    @contextmanager
    def reader_waiting(cls):
        """Handle a control event: computing ahead pauses, then restarts from the settings asked for."""
        cls._reader_idle.clear()
        try:
            yield
        finally:
            asked, cls._asked[:] = list(cls._asked), []
            cls._reader_idle.set()
            for cache in asked:
                cache.compute_ahead()

    @classmethod
    def compute_ahead_for(cls, controls: dict) -> None:
        """Start computing ahead in the caches of an explorer (its ``controls``)."""
        for cache in list(cls._all):
            if cache.controls is controls and cache._last is not None:
                cache.compute_ahead()

    @staticmethod
    def _let_the_thread_finish(done: threading.Event) -> None:
        paused = not DragCache._reader_idle.is_set()
        DragCache._reader_idle.set()
        done.wait()
        if paused:
            DragCache._reader_idle.clear()

    def compute_ahead(self) -> None:
        """Compute what may come after the last setting asked for, in the cache's thread."""
        self._wake.set()
        if self._thread is None:
            self._thread = threading.Thread(target=self._compute_ahead, daemon=True, name="DragCache ahead")
            self._thread.start()

    def _compute_ahead(self) -> None:
        sys.settrace(_pause_for_the_reader)  # this thread only
        while True:
            self._wake.wait()
            self._wake.clear()
            setting = self._last
            for batch in self._ahead(setting):
                if self._last is not setting:  # the reader moved on: start from there
                    break
                batch = self._missing(batch)
                done = threading.Event()
                self._computing = ({self._key(each) for each in batch}, done)
                try:
                    self._store(batch)
                except Exception:  # the reader's own request will raise it where it is seen
                    break
                finally:
                    self._computing = (set(), None)
                    done.set()

    def _ahead(self, setting: dict):
        """Batches of what the reader may ask for next, the likeliest first: the sliders moved up to
        FAR steps (during a drag only a few of these are new), then each other choice of each
        checkbox and dropdown, with its neighbours (the next choices of a dropdown first)."""
        yield [far for name in self.sliders for far in self._moves(setting, name, range(self.reach + 1, self.FAR + 1))]
        for name, control in self.controls.items():
            if name not in setting or not isinstance(control, (ipywidgets.Checkbox, ipywidgets.Dropdown)):
                continue
            values = [True, False] if isinstance(control, ipywidgets.Checkbox) else _choices(control)
            start = values.index(setting[name]) if setting[name] in values else -1
            for value in values[start + 1:] + values[:max(start, 0)]:
                yield [setting | {name: value}, *self._neighbours(setting | {name: value})]

    def _neighbours(self, setting: dict):
        for name in self.sliders:
            yield from self._moves(setting, name, range(1, self.reach + 1))

    def _moves(self, setting: dict, name: str, distances):
        """``setting`` with slider ``name`` moved by each of ``distances`` steps, either way, in its range."""
        control = self.controls[name]
        if isinstance(control, ipywidgets.SelectionSlider):
            values = _choices(control)
            index = min(range(len(values)), key=lambda i: abs(values[i] - setting[name]))
            for k in sorted(index + sign * distance for distance in distances for sign in (-1, 1)):
                if 0 <= k < len(values):
                    yield setting | {name: values[k]}
            return
        log = isinstance(control, ipywidgets.FloatLogSlider)
        position = np.log(setting[name]) / np.log(control.base) if log else setting[name]
        index = round((position - control.min) / control.step)  # where the slider snaps to
        for k in sorted(index + sign * distance for distance in distances for sign in (-1, 1)):
            moved = control.min + k * control.step
            if control.min <= moved <= control.max + 1e-9 * control.step:
                value = control.base**moved if log else moved
                yield setting | {name: int(round(value)) if isinstance(control, ipywidgets.IntSlider)
                                 else float(value)}

    @staticmethod
    def _key(setting: dict) -> tuple:
        """Values to 10 significant digits: a slider's position computed here and in the browser
        may differ in the last bits, so a setting that close to a computed one shares its result."""
        return tuple((name, float(f"{value:.10g}") if isinstance(value, float) else value)
                     for name, value in sorted(setting.items()))


class OneAtATime(DragCache):
    """A ``DragCache`` whose thread computes ahead one setting at a time, nearest first: each slider
    one step either way, every other choice of the checkbox and the dropdown, then the sliders
    further out. For computations that batching does not speed up (a training run, a long
    recursion): a reader who moves a control waits for at most the one setting in progress, not
    for a batch of twenty."""

    def _ahead(self, setting: dict):
        others = list(super()._ahead(setting))[1:]  # [another choice, its slider neighbours], …
        yield from ([near] for name in self.sliders for near in self._moves(setting, name, [self.reach + 1]))
        yield from ([batch[0]] for batch in others)
        for distance in range(self.reach + 2, self.FAR + 1):
            yield from ([far] for name in self.sliders for far in self._moves(setting, name, [distance]))
        yield from ([each] for batch in others for each in batch[1:])


def _pause_for_the_reader(frame, event, arg) -> None:
    """The trace function of the threads that compute ahead, run at each call of a Python
    function: at a call of the course's own code (which holds no lock another thread may need)
    wait while the kernel handles a control event; every few hundred calls let the kernel's other
    threads (the messages from the browser) take their turn. So the reader never waits for them."""
    if not DragCache._reader_idle.is_set() and frame.f_globals.get("__name__", "").startswith("course_lib."):
        DragCache._reader_idle.wait()
    _calls[0] += 1
    if _calls[0] % 256 == 0:
        time.sleep(0)


_calls = [0]


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


def _choices(control) -> list:
    return [option[1] if isinstance(option, tuple) else option for option in control.options]


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


def log_slider(description: str, values) -> ipywidgets.SelectionSlider:
    """A slider over ``values`` (increasing, e.g. ``log_values(1e-3, 1)``): it takes exactly these
    values, labelled with 3 significant digits, and the browser sends back the one chosen, to the
    last bit (a ``FloatLogSlider`` would snap a value to base**(min + k·step))."""
    return ipywidgets.SelectionSlider(options=[(f"{v:.3g}", v) for v in values], description=description)


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
