"""Interactive explorers: sliders and toggles that rerun an optimizer and update a figure in place.

A control event recomputes (``course_lib.runner``), moves the existing artists' data
(``set_data``) and asks the canvas to redraw (``draw_idle``); nothing is rebuilt. Each explorer
draws on its own ipympl canvas, so a notebook needs no ``%matplotlib widget`` and its other
figures stay static PNGs. Displayed, an explorer is its live widget in JupyterLab, a PNG of its
current figure on GitHub and in exported HTML, and one stable line of text for nbval::

    explorer = widgets.LandscapeExplorer(landscape="rosenbrock", optimizer="Adam", lr=0.05)
    explorer                     # the last line of a cell shows it
    explorer.set(lr=0.3)         # what moving the slider does, from code
"""

import base64
import io
import sys
import warnings
from numbers import Integral, Real

import ipywidgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

from course_lib import averages, data, plots, runner
from course_lib.landscapes import LANDSCAPES, get_landscape, ill_conditioned_bowl


def _import_ipympl_keeping_the_backend():
    """ipympl's Canvas and FigureManager, imported without ipympl's side effect.

    When matplotlib is already imported, ``import ipympl`` calls
    ``matplotlib.use("module://ipympl.backend_nbagg")``, which would turn every later pyplot
    figure of the notebook into a widget. Its package ``__init__`` tests ``"matplotlib" in
    sys.modules``, so matplotlib is hidden from it for that one import.
    """
    if "ipympl" not in sys.modules:
        hidden = sys.modules.pop("matplotlib")
        try:
            import ipympl  # noqa: F401
        finally:
            sys.modules["matplotlib"] = hidden
    from ipympl.backend_nbagg import Canvas, FigureManager

    return Canvas, FigureManager


Canvas, FigureManager = _import_ipympl_keeping_the_backend()


class LayeredCanvas(Canvas):
    """ipympl's canvas, redrawing only the artists an update moves (matplotlib's "blitting").

    Drawing a figure costs tens of milliseconds, most of it in what an update leaves alone: axes,
    ticks, labels, contours. So the artists an update does move (paths, curves, status lines) are
    registered in ``foreground`` and marked animated, which leaves them out of matplotlib's
    normal draw. The first draw renders the rest, the background, and keeps its pixels; each
    later draw pastes those pixels back and draws the foreground on top. Any change to a
    background artist (an axis limit, a visible contour) makes the figure stale, and the
    figure's stale callback drops the kept pixels: the next draw renders everything again.
    The foreground is drawn last, so it covers whatever background artist it crosses.
    """

    def __init__(self, figure):
        super().__init__(figure)
        self.foreground = []
        self._background = None  # (renderer, pixels) of the last full draw
        self._drawing_foreground = False
        figure.stale_callback = self._drop_background

    def _drop_background(self, figure, stale) -> None:
        if not self._drawing_foreground:  # drawing a legend re-places its parts: no change to keep
            self._background = None

    def render(self) -> None:
        """Draw the figure on the Agg renderer: kept background + foreground, or everything."""
        renderer = self.get_renderer()
        if self._background is None or self._background[0] is not renderer:
            FigureCanvasAgg.draw(self)  # everything but the foreground
            self._background = (renderer, self.copy_from_bbox(self.figure.bbox))
        else:
            self.restore_region(self._background[1])
        self._drawing_foreground = True
        try:
            for artist in sorted(self.foreground, key=lambda artist: artist.get_zorder()):
                self.figure.draw_artist(artist)
        finally:
            self._drawing_foreground = False

    def draw(self) -> None:
        """What the browser's "draw" request runs: render, then send the changed pixels."""
        self._png_is_old = True
        try:
            self.render()
        finally:
            self.manager.refresh_all()

EXPLORER_OPTIMIZERS = ("GD", "momentum", "Nesterov", "RMSprop", "Adam")
EXPLORER_LOSS_DECADES = 12
"""An explorer's log loss axis shows this many decades below its top, whatever the curves do down
there (deeper, a run has converged): the axis stays put while a slider moves, which makes runs
easy to compare and leaves the axis undrawn (``LayeredCanvas``)."""


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
        self.update()

    def _assign(self, values: dict) -> None:
        for name, value in values.items():
            _check_setting(self.controls, name, value)
        self._updating_on_change = False
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._updating_on_change = True

    def _on_change(self, change) -> None:
        if self._updating_on_change:
            self.update()

    def _freeze_layout(self) -> None:
        """Lay the figure out once, then pin it there: placing axes, titles and axis labels costs
        matplotlib more than drawing the data, and an update changes none of them."""
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")
        for ax in self.axes:
            _sparse_ticks(ax)
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
    """Results of a batched computation for the setting shown and for the settings a slider drag
    reaches next, so that dragging redraws without recomputing.

    ``compute(settings)`` takes a list of settings (dicts of control values that differ only in
    the ``sliders``) and returns one result per setting, all computed at once: for the small
    problems of the explorers one batched run costs about what a single run costs. ``get(setting)``
    returns the result of ``setting``; when it is not known yet, it computes ``setting`` together
    with its neighbours, each slider of ``sliders`` moved up to ``reach`` of its steps either way.
    """

    def __init__(self, controls: dict, sliders: tuple[str, ...], compute, reach: int = 2, size: int = 512):
        self.controls, self.sliders, self.compute, self.reach, self.size = controls, sliders, compute, reach, size
        self._results = {}

    def get(self, setting: dict):
        key = self._key(setting)
        if key not in self._results:
            batch = [setting] + [neighbour for neighbour in self._neighbours(setting)
                                 if self._key(neighbour) not in self._results]
            for each, result in zip(batch, self.compute(batch)):
                self._results[self._key(each)] = result
            while len(self._results) > self.size:  # forget the oldest
                del self._results[next(iter(self._results))]
        return self._results[key]

    def _neighbours(self, setting: dict):
        for name in self.sliders:
            control = self.controls[name]
            log = isinstance(control, ipywidgets.FloatLogSlider)
            position = np.log(setting[name]) / np.log(control.base) if log else setting[name]
            index = round((position - control.min) / control.step)  # where the slider snaps to
            for k in (*range(index - self.reach, index), *range(index + 1, index + self.reach + 1)):
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


def _sparse_ticks(ax) -> None:
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


def _check_setting(controls: dict, name: str, value) -> None:
    """Raise TypeError / ValueError naming ``name`` and ``value`` unless the control accepts it as is."""
    if name not in controls:
        raise ValueError(f"Unknown setting: {name}={value!r} (settings: {', '.join(controls)})")
    control = controls[name]
    if isinstance(control, ipywidgets.Checkbox):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    elif isinstance(control, ipywidgets.Dropdown):
        choices = [option[1] if isinstance(option, tuple) else option for option in control.options]
        if value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    else:
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a number, got {value!r}")
        if isinstance(control, ipywidgets.FloatLogSlider):
            low, high = control.base**control.min, control.base**control.max
        else:
            low, high = control.min, control.max
        if not low <= value <= high:
            raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value!r}")


def _check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, Integral):
        raise TypeError(f"steps must be an int, got {steps!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}")
    return int(steps)


def _lr_slider(low_exponent: float, high_exponent: float) -> ipywidgets.FloatLogSlider:
    return ipywidgets.FloatLogSlider(base=10, min=low_exponent, max=high_exponent, step=0.05,
                                     description="lr", readout_format=".3g")


def _status_text(ax, row: int):
    """A line of text in the top right corner of ``ax`` (a run's name and what became of it)."""
    return ax.text(0.98, 0.97 - 0.09 * row, "", transform=ax.transAxes, ha="right", va="top",
                   bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})


def _show_run(path_line, loss_line, status, name: str, result: runner.RunResult, minimum_value) -> np.ndarray:
    """Move one run's artists to ``result``; return the loss curve drawn (for the y limits)."""
    color = plots.optimizer_color(name)
    curve = plots.loss_curve(result.losses, minimum_value)
    path_line.set_data(result.path[:, 0], result.path[:, 1])
    loss_line.set_data(np.arange(len(curve)), curve)
    status.set_text(f"{name}: {result.summary()}")
    for artist in (path_line, loss_line, status):
        artist.set_color(color)
    return curve


class LandscapeExplorer(Explorer):
    """Pick a landscape, an optimizer (torch's defaults, momentum 0.9) and a learning rate; see the
    path on the contours beside the loss curve."""

    def __init__(self, landscape: str = "ill_conditioned_bowl", optimizer: str = "momentum",
                 lr: float = 0.05, steps: int = 150):
        self.steps = _check_steps(steps)
        self.landscapes = {name: get_landscape(name) for name in LANDSCAPES}
        super().__init__({
            "landscape": ipywidgets.Dropdown(
                options=[(each.label, name) for name, each in self.landscapes.items()], description="landscape"),
            "optimizer": ipywidgets.Dropdown(options=EXPLORER_OPTIMIZERS, description="optimizer"),
            "lr": _lr_slider(-4, 0.5),
        })
        self._assign({"landscape": landscape, "optimizer": optimizer, "lr": lr})
        contours, losses = self.axes
        self._backgrounds = {name: plots.landscape_artists(contours, each) for name, each in self.landscapes.items()}
        self._path = plots.draw_path(contours, np.full((1, 2), np.nan), optimizer)
        (self._start,) = contours.plot([], [], "o", color="black", markersize=5)
        (self._losses,) = losses.plot([], [])
        losses.set_xlim(0, self.steps)
        self._status = _status_text(losses, 0)
        self._foreground(self._path, self._start, self._losses, self._status)
        self._shown = None
        self.update()
        self._freeze_layout()

    def _show_landscape(self, name: str) -> None:
        landscape = self.landscapes[name]
        for each, artists in self._backgrounds.items():
            for artist in artists:
                artist.set_visible(each == name)
        plots.frame_landscape(self.axes[0], landscape)
        plots.frame_losses(self.axes[1], landscape.minimum_value)
        _sparse_ticks(self.axes[1])
        self._start.set_data([landscape.start[0]], [landscape.start[1]])
        self._shown = name

    def update(self) -> None:
        name, optimizer, lr = (self.controls[key].value for key in ("landscape", "optimizer", "lr"))
        landscape = self.landscapes[name]
        self.result = runner.run(landscape, runner.named_optimizer(optimizer, lr), steps=self.steps)
        if name != self._shown:
            self._show_landscape(name)
        curve = _show_run(self._path, self._losses, self._status, f"{optimizer}, lr = {lr:.3g}",
                          self.result, landscape.minimum_value)
        plots.fit_loss_limits(self.axes[1], [curve], decades=EXPLORER_LOSS_DECADES)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}


class MomentumExplorer(Explorer):
    """Gradient descent beside momentum (or Nesterov) on the ill-conditioned bowl.

    Controls: lr, β, the condition number κ and a Nesterov toggle. Momentum is torch's form,
    ``SGD(lr, momentum=β)``, which is the textbook v = βv + (1 − β)g with step α = lr/(1 − β).
    """

    def __init__(self, lr: float = 0.05, beta: float = 0.9, condition: float = 10.0,
                 nesterov: bool = False, steps: int = 100):
        self.steps = _check_steps(steps)
        super().__init__({
            "lr": _lr_slider(-3, 0),
            "beta": ipywidgets.FloatSlider(min=0.0, max=0.99, step=0.01, description="β"),
            "condition": ipywidgets.FloatLogSlider(base=10, min=0, max=2, step=0.05, description="κ",
                                                   readout_format=".3g"),
            "nesterov": ipywidgets.Checkbox(description="Nesterov"),
        })
        self._assign({"lr": lr, "beta": beta, "condition": condition, "nesterov": nesterov})
        contours, losses = self.axes
        self._unit_ellipses, self._ellipses, self._lines = _bowl_race_artists(contours, losses, ("GD", "momentum"),
                                                                             self.steps)
        self._foreground(self._ellipses, contours.title, *(artist for run in self._lines for artist in run))
        self.update()
        self._freeze_layout()

    def update(self) -> None:
        lr, beta, condition, nesterov = (self.controls[key].value for key in ("lr", "beta", "condition", "nesterov"))
        bowl = ill_conditioned_bowl(condition)
        variant = "Nesterov" if nesterov else "momentum"
        # With β = 0 both momentum forms are plain GD (and torch refuses Nesterov without momentum).
        momentum = runner.named_optimizer(variant, lr, momentum=beta) if beta > 0 else runner.named_optimizer("GD", lr)
        self.results = {
            "GD": runner.run(bowl, runner.named_optimizer("GD", lr), steps=self.steps),
            f"{variant} β = {beta:.2f}": runner.run(bowl, momentum, steps=self.steps),
        }
        _show_bowl_race(self, bowl, condition)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}



def _bowl_race_artists(contours, losses, names: tuple[str, ...], steps: int):
    """The ill-conditioned bowl's level ellipses, minimum and start on ``contours``, and for each of
    ``names`` an empty (path, loss curve, status text) triple to fill in; returns the unit
    ellipses (rescaled per κ by an update), their line, and the triples."""
    bowl = ill_conditioned_bowl()
    plots.frame_landscape(contours, bowl)
    unit_ellipses = _level_ellipses(bowl)
    (ellipses,) = contours.plot(*unit_ellipses, color="0.7", linewidth=0.7)
    contours.plot(*np.transpose(bowl.minima), "*", color="black", markersize=10)
    contours.plot(*bowl.start, "o", color="black", markersize=5)
    lines = [(plots.draw_path(contours, np.full((1, 2), np.nan), name), losses.plot([], [])[0],
              _status_text(losses, row)) for row, name in enumerate(names)]
    plots.frame_losses(losses, bowl.minimum_value)
    losses.set_xlim(0, steps)
    return unit_ellipses, ellipses, lines


def _show_bowl_race(explorer, bowl, condition) -> None:
    """Rescale the level ellipses to the bowl's κ and move each run's artists to ``explorer.results``."""
    x, y = explorer._unit_ellipses
    explorer._ellipses.set_data(x, y / np.sqrt(condition))
    explorer.axes[0].title.set_text(bowl.label)
    curves = [_show_run(*artists, name, result, bowl.minimum_value)
              for artists, (name, result) in zip(explorer._lines, explorer.results.items())]
    plots.fit_loss_limits(explorer.axes[1], curves, decades=EXPLORER_LOSS_DECADES)

def _level_ellipses(bowl, count: int = 16, points: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Level curves of ½(x² + y²) (the bowl at κ = 1) as one NaN-separated line; dividing y by √κ
    turns them into the level curves of ½(x² + κy²) at the same levels."""
    x_max = max(abs(bowl.extent[0]), abs(bowl.extent[1]))
    radii = np.geomspace(0.1, 1.5 * x_max, count)[:, None]
    angles = np.append(np.linspace(0, 2 * np.pi, points), np.nan)
    return (radii * np.cos(angles)).ravel(), (radii * np.sin(angles)).ravel()


class EWAExplorer(Explorer):
    """An exponentially weighted average over a noisy series: a β slider and a bias-correction
    toggle. The default series is ``data.noisy_series()`` (a year of seeded daily temperatures)."""

    def __init__(self, series=None, beta: float = 0.9, bias_correction: bool = False):
        self.series = data.noisy_series() if series is None else np.asarray(series, dtype=float)
        if self.series.ndim != 1 or len(self.series) < 2:
            raise ValueError(f"series must be a 1-D sequence of at least 2 numbers, got shape {self.series.shape}")
        super().__init__({
            "beta": ipywidgets.FloatSlider(min=0.0, max=0.99, step=0.01, description="β"),
            "bias_correction": ipywidgets.Checkbox(description="bias correction"),
        }, ncols=1, figsize=plots.figure_size(2))
        self._assign({"beta": beta, "bias_correction": bias_correction})
        (ax,) = self.axes
        t = np.arange(1, len(self.series) + 1)
        ax.plot(t, self.series, ".", color="0.6", markersize=3, label="θ_t")
        (self._average,) = ax.plot(t, np.full_like(self.series, np.nan), color=plots.OPTIMIZER_COLORS["momentum"],
                                   label="v_t")
        ax.set(xlabel="t", ylabel="value")
        ax.legend(loc="lower right")
        self._foreground(self._average, ax.title)
        self.update()
        self._freeze_layout()

    def update(self) -> None:
        beta, bias_correction = self.controls["beta"].value, self.controls["bias_correction"].value
        self.average = averages.ewa(self.series, beta, bias_correction=bias_correction)
        self._average.set_ydata(self.average)
        self.axes[0].title.set_text(f"β = {beta:.2f}: an average over ≈ 1/(1 − β) = {averages.effective_window(beta):.3g} "
                               f"values, bias correction {'on' if bias_correction else 'off'}")
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"points": len(self.series)}


# --------------------------------------------------------------------------------------------------
# Notebook 09: gradient clipping on the cliff
# --------------------------------------------------------------------------------------------------

class ClippingExplorer(Explorer):
    """Gradient descent on the cliff of Pascanu et al. (2013), unclipped (grey) beside a clipped
    run: pick the clipping mode (by norm, by value, none), the threshold and the learning rate.

    The status lines give each run's largest step and its final loss: an unclipped run jumps
    off the wall onto the plateau (E ≈ 0.09) and stays there.
    """

    CLIPPED_COLOR = "#0072b2"

    def __init__(self, mode: str = "norm", threshold: float = 1.0, lr: float = 1.0, steps: int = 400):
        from course_lib import clipping
        from course_lib.landscapes import cliff

        self._clipping = clipping
        self.steps = _check_steps(steps)
        self.landscape = cliff()
        super().__init__({
            "mode": ipywidgets.Dropdown(options=[("by norm", "norm"), ("by value", "value"), ("no clipping", "none")],
                                        description="clipping"),
            "threshold": ipywidgets.FloatLogSlider(base=10, min=-2, max=2, step=0.05, description="threshold",
                                                   readout_format=".3g"),
            "lr": _lr_slider(-2, 1),
        })
        self._assign({"mode": mode, "threshold": threshold, "lr": lr})
        contours, losses = self.axes
        X, Y, Z = self.landscape.grid(200)
        x_min, x_max, y_min, y_max = self.landscape.extent
        contours.imshow(np.log10(Z + 1e-12), origin="lower", extent=self.landscape.extent, aspect="auto",
                        cmap="Greys_r", vmin=-4, vmax=0)
        contours.set(xlim=(x_min, x_max), ylim=(y_min, y_max), xlabel="w", ylabel="b",
                     title="the cliff (dark: low E)")
        contours.plot(*self.landscape.start, "o", color="black", markersize=5)
        self._lines = {}
        for row, (key, color) in enumerate((("unclipped", plots.OPTIMIZER_COLORS["GD"]),
                                            ("clipped", self.CLIPPED_COLOR))):
            style = {"color": color, "linewidth": 1.2}
            (path,) = contours.plot([], [], "o-", markersize=2, **style)
            (loss,) = losses.plot([], [], **style)
            status = _status_text(losses, row)
            status.set_color(color)
            status.set_in_layout(False)
            self._lines[key] = (path, loss, status)
        plots.frame_losses(losses, self.landscape.minimum_value)
        losses.set(title="loss E (log scale)")
        losses.set_xlim(0, self.steps)
        self._foreground(*(artist for run in self._lines.values() for artist in run))
        self._runs = DragCache(self.controls, ("threshold", "lr"), self._run_batch)
        self.update()
        self._freeze_layout()

    def _run_batch(self, settings: list[dict]) -> list[dict]:
        """For each of ``settings`` (one mode; threshold and lr vary) an unclipped and a clipped run,
        all in one computation: runs 2i and 2i + 1 are setting i's."""
        mode = settings[0]["mode"]
        lr = np.repeat([[setting["lr"]] for setting in settings], 2, axis=0)
        thresholds = np.repeat([setting["threshold"] for setting in settings], 2)
        batch = runner.run(self.landscape, self._clipping.clipped(runner.named_optimizer("GD", lr),
                                                                  ["none", mode] * len(settings), thresholds),
                           start=np.tile(self.landscape.start, (2 * len(settings), 1)), steps=self.steps)
        return [{"unclipped": batch[2 * i], "clipped": batch[2 * i + 1] if mode != "none" else None}
                for i in range(len(settings))]

    def update(self) -> None:
        mode, threshold, lr = (self.controls[key].value for key in ("mode", "threshold", "lr"))
        self.results = self._runs.get({"mode": mode, "threshold": threshold, "lr": lr})
        names = {"unclipped": "unclipped", "clipped": f"by {mode} at {threshold:.3g}"}
        curves = []
        for key, (path_line, loss_line, status) in self._lines.items():
            result = self.results[key]
            if result is None:
                for artist in (path_line, loss_line):
                    artist.set_data([], [])
                status.set_text("")
                continue
            path_line.set_data(result.path[:, 0], result.path[:, 1])
            loss_line.set_data(np.arange(len(result.losses)), result.losses)
            status.set_text(f"{names[key]}: {self.describe_run(result)}")
            curves.append(result.losses)
        plots.fit_loss_limits(self.axes[1], curves, headroom=100,  # room for the status lines above the curves
                              decades=EXPLORER_LOSS_DECADES)
        self.canvas.draw_idle()

    @staticmethod
    def describe_run(result: runner.RunResult) -> str:
        """'max step 10.4, E 0.09 (plateau)': the longest step and the final loss, or where the run
        diverged. "(plateau)" marks a run that jumped off the wall and stayed on the flat top."""
        if result.diverged_at is not None:
            return result.summary()
        longest = np.linalg.norm(np.diff(result.path, axis=0), axis=1).max(initial=0.0)
        plateau = " (plateau)" if longest > 3 and result.losses[-1] > 0.05 else ""
        return f"max step {longest:.3g}, E {result.losses[-1]:.2g}{plateau}"

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}


# --------------------------------------------------------------------------------------------------
# Notebook 06: leaving the saddle of the double well
# --------------------------------------------------------------------------------------------------

class SaddleExplorer(Explorer):
    """Leave the saddle of the double well x⁴/4 − x²/2 + y²/2 from (x0, 1): pick the start offset
    x0 (log slider), the optimizer (torch's defaults, momentum 0.9) and the learning rate.

    Left, the path on the contours; right, |x| against the step (log scale) with the escape line
    |x| = 0.5 and, for GD, momentum and Nesterov, the linear model |x0|·growth^t near the saddle.
    The status line gives the step at which |x| reached 0.5 (or that it did not, or diverged).
    """

    def __init__(self, x0: float = 1e-6, optimizer: str = "GD", lr: float = 0.01, steps: int = 3000):
        from course_lib import saddles
        from course_lib.landscapes import double_well

        self._saddles = saddles
        self.steps = _check_steps(steps)
        self.landscape = double_well()
        super().__init__({
            "x0": ipywidgets.FloatLogSlider(base=10, min=-15, max=-1, step=0.25, description="x0",
                                            readout_format=".1e"),
            "optimizer": ipywidgets.Dropdown(options=EXPLORER_OPTIMIZERS, description="optimizer"),
            "lr": _lr_slider(-3, 0.5),
        })
        self._assign({"x0": x0, "optimizer": optimizer, "lr": lr})
        contours, escape = self.axes
        plots.landscape_artists(contours, self.landscape)
        plots.frame_landscape(contours, self.landscape)
        self._path = plots.draw_path(contours, np.full((1, 2), np.nan), optimizer)
        self._path.set_markersize(0.25 * self._path.get_markersize())
        (self._start,) = contours.plot([], [], "o", color="black", markersize=5)
        escape.set_yscale("log")
        escape.axhline(saddles.ESCAPE_THRESHOLD, color="black", linewidth=0.8, linestyle=":")
        escape.text(0.02 * self.steps, saddles.ESCAPE_THRESHOLD * 1.6, "escape: |x| = 0.5", fontsize="small")
        (self._x,) = escape.plot([], [])
        (self._model,) = escape.plot([], [], "--", color="black", linewidth=1, label="linear model\n|x0|·growth^t")
        self._escape_line = escape.axvline(0, color="black", linewidth=0.8, visible=False)
        escape.set(xlim=(0, self.steps), ylim=(1e-16, 10), xlabel="step", ylabel="|x|",
                   title="distance from the saddle along x")
        escape.legend(loc="center right")
        self._status = escape.text(0.98, 0.03, "", transform=escape.transAxes, ha="right", va="bottom",
                                   bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})
        self._foreground(self._path, self._start, self._x, self._model, self._escape_line, self._status)
        self._runs = DragCache(self.controls, ("x0", "lr"), self._run_batch)
        self.update()
        self._freeze_layout()

    def _run_batch(self, settings: list[dict]) -> list[runner.RunResult]:
        """The runs of ``settings`` (one optimizer; x0 and lr vary) as one batched run."""
        lrs = np.array([[setting["lr"]] for setting in settings])
        starts = [(setting["x0"], 1.0) for setting in settings]
        batch = runner.run(self.landscape, runner.named_optimizer(settings[0]["optimizer"], lrs), start=starts,
                           steps=self.steps)
        return [batch[i] for i in range(len(settings))]

    def update(self) -> None:
        x0, optimizer, lr = (self.controls[key].value for key in ("x0", "optimizer", "lr"))
        self.result = self._runs.get({"x0": x0, "optimizer": optimizer, "lr": lr})
        self.escape_step = self._saddles.escape_step(self.result.path)
        color = plots.optimizer_color(optimizer)
        self._path.set_data(self.result.path[:, 0], self.result.path[:, 1])
        self._start.set_data([x0], [1.0])
        steps = np.arange(self.steps + 1)
        self._x.set_data(steps, np.abs(self.result.path[:, 0]))
        for artist in (self._path, self._x, self._status):
            artist.set_color(color)
        self.predicted = None
        if optimizer in ("GD", "momentum", "Nesterov"):
            momentum = 0.0 if optimizer == "GD" else 0.9
            growth = self._saddles.growth_factor(lr, momentum, nesterov=optimizer == "Nesterov")
            self.predicted = float(self._saddles.predicted_escape_steps(x0, growth))
            with np.errstate(over="ignore"):
                model = x0 * growth ** steps.astype(float)
            model[model > 10] = np.nan
            self._model.set_data(steps, model)
        else:
            self._model.set_data([], [])
        self._escape_line.set_visible(self.escape_step is not None)
        if self.escape_step is not None:
            self._escape_line.set_xdata([self.escape_step, self.escape_step])
        self._status.set_text(f"{optimizer}, lr = {lr:.3g}:\n{self.status()}")
        self.canvas.draw_idle()

    def status(self) -> str:
        """What became of the run: 'escaped at step k (linear model: m)', 'no escape …' or 'diverged …'."""
        if self.result.diverged_at is not None and (self.escape_step is None
                                                    or self.escape_step >= self.result.diverged_at):
            return self.result.summary()
        model = f" (linear model: {self.predicted:.0f})" if self.predicted is not None else ""
        if self.escape_step is None:
            return f"no escape in {self.steps} steps{model}"
        diverged = f", then {self.result.summary()}" if self.result.diverged_at is not None else ""
        return f"escaped at step {self.escape_step}{model}{diverged}"

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}


# --------------------------------------------------------------------------------------------------
# Notebook 03: RMSprop beside gradient descent
# --------------------------------------------------------------------------------------------------

class RMSpropExplorer(Explorer):
    """Gradient descent beside ``RMSprop`` on the ill-conditioned bowl, both with the same lr.

    Controls: lr, α, ε, momentum, centered and the condition number κ. The third panel shows
    RMSprop's per-coordinate learning rate lr/(√v + ε) for x (shallow) and y (steep) beside GD's
    single lr. GD diverges once lr > 2/κ; RMSprop's path does not depend on κ (up to ε), because
    dividing by the root mean square of each coordinate's gradient cancels its scale.
    """

    def __init__(self, lr: float = 0.05, alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0,
                 centered: bool = False, condition: float = 50.0, steps: int = 100):
        self.steps = _check_steps(steps)
        super().__init__({
            "lr": _lr_slider(-3, 0),
            "alpha": ipywidgets.FloatSlider(min=0.0, max=0.999, step=0.001, description="α", readout_format=".3f"),
            "eps": ipywidgets.FloatLogSlider(base=10, min=-10, max=1, step=0.5, description="ε",
                                             readout_format=".0e"),
            "momentum": ipywidgets.FloatSlider(min=0.0, max=0.99, step=0.01, description="momentum"),
            "centered": ipywidgets.Checkbox(description="centered"),
            "condition": ipywidgets.FloatLogSlider(base=10, min=0, max=3, step=0.05, description="κ",
                                                   readout_format=".3g"),
        }, ncols=3)
        self._assign({"lr": lr, "alpha": alpha, "eps": eps, "momentum": momentum, "centered": centered,
                      "condition": condition})
        contours, losses, rates = self.axes
        self._unit_ellipses, self._ellipses, self._lines = _bowl_race_artists(contours, losses, ("GD", "RMSprop"),
                                                                             self.steps)
        color = plots.OPTIMIZER_COLORS["RMSprop"]
        (self._gd_rate,) = rates.plot([], [], ":", color=plots.OPTIMIZER_COLORS["GD"], label="GD: lr (both)")
        self._rates = [rates.plot([], [], style, color=color, label=f"RMSprop, {name}")[0]
                       for style, name in (("-", "x (shallow)"), ("--", "y (steep)"))]
        rates.set_yscale("log")
        rates.set(xlim=(0, self.steps), xlabel="step", title="learning rate per coordinate, lr/(√v + ε)")
        rates.legend(loc="lower right")
        self._foreground(self._ellipses, contours.title, *(artist for run in self._lines for artist in run),
                         self._gd_rate, *self._rates)
        self.update()
        self._freeze_layout()

    def update(self) -> None:
        lr, alpha, eps, momentum, centered, condition = (
            self.controls[key].value for key in ("lr", "alpha", "eps", "momentum", "centered", "condition"))
        bowl = ill_conditioned_bowl(condition)
        label = f"RMSprop α = {alpha:.3g}" + (f", μ = {momentum:.2f}" if momentum > 0 else "") + (
            ", centered" if centered else "")
        rmsprop = runner.named_optimizer("RMSprop", lr, alpha=alpha, eps=eps, momentum=momentum, centered=centered)
        self.results = {"GD": runner.run(bowl, runner.named_optimizer("GD", lr), steps=self.steps),
                        label: runner.run(bowl, rmsprop, steps=self.steps)}
        _show_bowl_race(self, bowl, condition)
        self.rates = _rmsprop_rates(bowl, self.results[label].path, lr, alpha, eps, centered)
        steps = np.arange(1, self.steps + 1)
        for line, rate in zip(self._rates, self.rates.T):
            line.set_data(steps, rate)
        self._gd_rate.set_data([0, self.steps], [lr, lr])
        plots.fit_loss_limits(self.axes[2], [self.rates.ravel(), np.array([lr])])
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}


def _rmsprop_rates(bowl, path: np.ndarray, lr: float, alpha: float, eps: float, centered: bool) -> np.ndarray:
    """lr/(√v_t + ε) per coordinate at steps t = 1..T of an RMSprop run along ``path`` (shape (T+1, 2)):
    v is the EWA of the squared gradients at the points it stepped from (minus the squared EWA of
    the gradients when centered); NaN once the run has diverged."""
    grads = np.stack(bowl.gradient(path[:-1, 0], path[:-1, 1]), axis=-1)
    with np.errstate(all="ignore"):
        square_avg = averages.ewa(np.nan_to_num(grads * grads, nan=np.inf), alpha)
        if centered:
            square_avg = square_avg - averages.ewa(np.nan_to_num(grads, nan=0.0), alpha) ** 2
        rates = lr / (np.sqrt(square_avg) + eps)
    rates[~np.isfinite(path[1:]).all(axis=1)] = np.nan
    return rates


class WeightDecayExplorer(Explorer):
    """Adam + L2 beside AdamW on notebook 08's scale-invariant model (``course_lib.weight_decay``):
    the weight norm ‖w‖ and the test error over training, for a learning rate and a decay λ.

    The curves are sampled every 10 steps (a diverged run is reported by the first sample that is
    no longer finite). Controls: lr, λ, and whether AdamW's λ is the paper's (the decay per step is λ, not lr·λ; AdamW
    then runs with ``weight_decay = λ/lr``). Adam + L2 is ``Adam(lr, weight_decay=λ)`` throughout.
    """

    def __init__(self, lr: float = 2.0**-6, weight_decay: float = 2.0**-4, paper_form: bool = False,
                 steps: int = 2000):
        from course_lib import weight_decay as wd

        self._wd = wd
        self.steps = _check_steps(steps)
        self.data = wd.teacher_data()
        super().__init__({
            "lr": ipywidgets.FloatLogSlider(base=2, min=-10, max=1, step=0.5, description="lr", readout_format=".3g"),
            "weight_decay": ipywidgets.FloatLogSlider(base=2, min=-12, max=2, step=0.5, description="λ",
                                                      readout_format=".3g"),
            "paper_form": ipywidgets.Checkbox(description="AdamW with the paper's λ"),
        })
        self._assign({"lr": lr, "weight_decay": weight_decay, "paper_form": paper_form})
        norms, errors = self.axes
        self._lines = {}
        for row, name in enumerate(("Adam + L2", "AdamW")):
            color = plots.optimizer_color(name)
            self._lines[name] = (norms.plot([], [], color=color, label=name)[0],
                                 errors.plot([], [], color=color, label=name)[0],
                                 _status_text(errors, row))
            self._lines[name][2].set_color(color)
        errors.axhline(100 * self.data.bayes_error, color="0.5", linestyle=":", linewidth=1)
        norms.set(xlabel="step", yscale="log", title="weight norm ‖w‖")
        errors.set(xlabel="step", ylabel="%", title="test error (dotted: teacher's)", ylim=(0, 60))
        for ax in self.axes:
            ax.set_xlim(0, self.steps)
        norms.legend(loc="lower left")
        self._foreground(norms.title, *(artist for run in self._lines.values() for artist in run))
        self._trainings = DragCache(self.controls, ("lr", "weight_decay"), self._train_batch)
        self.update()
        self._freeze_layout()

    def _train_batch(self, settings: list[dict]) -> list[dict]:
        """Adam + L2 and AdamW for each of ``settings`` (one paper_form; lr and λ vary), trained at
        once: per setting, optimizer name → (steps, ‖w‖, test error, diverged_at)."""
        from course_lib import optim

        lr = np.array([[setting["lr"]] for setting in settings])
        decay = np.array([[setting["weight_decay"]] for setting in settings])
        adamw_decay = decay / lr if settings[0]["paper_form"] else decay
        training = self._wd.train(self.data, {
            "Adam + L2": (lambda params: optim.Adam(params, lr=lr, weight_decay=decay), len(settings)),
            "AdamW": (lambda params: optim.AdamW(params, lr=lr, weight_decay=adamw_decay), len(settings)),
        }, steps=self.steps, record_every=10)
        return [{name: (training.steps, training.norms[name][i], training.errors[name][i],
                        training.diverged_at[name][i]) for name in self._lines} for i in range(len(settings))]

    def update(self) -> None:
        lr, decay, paper = (self.controls[key].value for key in ("lr", "weight_decay", "paper_form"))
        adamw_decay = decay / lr if paper else decay
        self.result = self._trainings.get({"lr": lr, "weight_decay": decay, "paper_form": paper})
        shown_norms = []
        for name, (norm_line, error_line, status) in self._lines.items():
            steps, norm, error, diverged_at = self.result[name]
            norm_line.set_data(steps, norm)
            error_line.set_data(steps, 100 * error)
            shown_norms.append(norm)
            if diverged_at is None:
                status.set_text(f"{name}: final test error {100 * error[-1]:.1f} %")
            else:
                status.set_text(f"{name}: diverged by step {diverged_at}")
        per_step = lr * adamw_decay
        self.axes[0].title.set_text(f"‖w‖; AdamW: decay {per_step:.2g} a step")
        plots.fit_loss_limits(self.axes[0], shown_norms)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}


# --- notebook 04: when Adam fails (Reddi, Kale & Kumar 2018) ---------------------------------------

class AdamFailureExplorer(Explorer):
    """Adam, AMSGrad and SGD on the online counterexample of Reddi, Kale & Kumar (2018): on [−1, 1],
    f_t(x) = 1010·x when t mod 101 = 1, else −10·x; the best point is x = −1. A β₂ slider (β₁ = 0.9)
    and the step size (α/√t with α = 0.5, or a constant 0.01). Left: the mean of x over every
    period of 101 steps (x swings within a period); right: the denominators √v̂ + ε of Adam and
    AMSGrad over the last three periods.
    """

    SCHEDULES = {"inverse_sqrt": "α/√t, α = 0.5", "constant": "constant 0.01"}
    PERIOD = 101

    def __init__(self, beta2: float = 0.99, schedule: str = "inverse_sqrt", steps: int = 500_000):
        from course_lib import counterexamples

        self._counterexamples = counterexamples
        self.steps = _check_steps(steps)
        if self.steps < 3 * self.PERIOD:
            raise ValueError(f"steps must be at least {3 * self.PERIOD} (three periods), got {steps!r}")
        self.gradients = counterexamples.reddi_gradients(self.steps)
        self._rates = {"inverse_sqrt": counterexamples.inverse_sqrt_lr(0.5, self.steps), "constant": 0.01}
        self._adam = {name: counterexamples.AdamAndAMSGrad(self.gradients, rate) for name, rate in self._rates.items()}
        self._sgd = {name: counterexamples.online_sgd(self.gradients, rate) for name, rate in self._rates.items()}
        self._runs = None  # Adam's and AMSGrad's paths and denominators, rewritten in place by each update
        super().__init__({
            "beta2": ipywidgets.FloatSlider(min=0.9, max=0.9999, step=0.0001, description="β₂", readout_format=".4f"),
            "schedule": ipywidgets.Dropdown(options=[(label, name) for name, label in self.SCHEDULES.items()],
                                            description="step size"),
        })
        self._assign({"beta2": beta2, "schedule": schedule})
        paths, denominators = self.axes
        self._period_ends = np.arange(self.PERIOD, self.steps + 1, self.PERIOD)
        for level, text in ((1.0, "+1: the worst point"), (-1.0, "−1: the best point")):
            paths.axhline(level, color="0.6", linestyle=":", linewidth=1)
            paths.text(self._period_ends[0], level + 0.075 * np.sign(level), f" {text}", color="0.4", va="center",
                       fontsize="small")
        self._lines = {name: paths.plot([], [], color=plots.OPTIMIZER_COLORS[color], label=name, zorder=zorder)[0]
                       for name, color, zorder in (("Adam", "Adam", 3), ("AMSGrad", "AMSGrad", 2), ("SGD", "GD", 1))}
        paths.set(xscale="log", xlim=(self._period_ends[0], self.steps), ylim=(-1.17, 1.17), xlabel="step t",
                  ylabel="mean x over each period")
        legend = paths.legend(loc="upper left", bbox_to_anchor=(0.0, -0.25), title="mean x over the last 10 % of the steps",
                              alignment="left", frameon=False)
        self._status = [paths.text(0, 0, "", transform=self.figure.transFigure, va="center", fontsize=label.get_fontsize())
                        for label in legend.get_texts()]  # placed once the layout is frozen
        self._beta2_title = paths.set_title("", loc="left")
        self._schedule_title = paths.set_title("", loc="right", fontsize="medium")
        self._window = np.arange(self.steps - 3 * self.PERIOD + 1, self.steps + 1)
        self._denominator_lines = {name: denominators.plot([], [], color=plots.OPTIMIZER_COLORS[name], label=name)[0]
                                   for name in ("Adam", "AMSGrad")}
        denominators.set(xlim=(self._window[0], self._window[-1]), xlabel="step t",
                         title="denominator √v̂ + ε, last 3 periods")
        denominators.legend(loc="upper left", bbox_to_anchor=(0.0, -0.25), ncols=2)
        self._foreground(self._beta2_title, *self._lines.values(), *self._status, *self._denominator_lines.values())
        self.update()
        self._freeze_layout()
        to_figure = self.figure.transFigure.inverted()
        for label, status in zip(legend.get_texts(), self._status):  # each just right of its legend entry
            box = label.get_window_extent()
            status.set_position(to_figure.transform((box.x1 + 4 * self.figure.dpi / 72, (box.y0 + box.y1) / 2)))

    def _period_means(self, path: np.ndarray) -> np.ndarray:
        """The mean of x over each whole period of 101 steps."""
        return path[1:1 + len(self._period_ends) * self.PERIOD].reshape(-1, self.PERIOD).mean(axis=1)

    def update(self) -> None:
        beta2, schedule = self.controls["beta2"].value, self.controls["schedule"].value
        counterexamples = self._counterexamples
        self._runs = paths, denominator = self._adam[schedule].run(beta2, out=self._runs)  # (T + 1, 2), (T, 2)
        self.paths = {"Adam": paths[:, 0], "AMSGrad": paths[:, 1], "SGD": self._sgd[schedule]}
        window = denominator[self._window - 1]
        denominators = {"Adam": window[:, 0], "AMSGrad": window[:, 1]}
        self.final = {name: float(counterexamples.tail_mean(path)) for name, path in self.paths.items()}
        for (name, path), text in zip(self.paths.items(), self._status):
            self._lines[name].set_data(self._period_ends, self._period_means(path))
            text.set_text(f"{self.final[name]:+.3f}")
        for name, values in denominators.items():
            self._denominator_lines[name].set_data(self._window, values)
        low, high = min(map(np.min, denominators.values())), max(map(np.max, denominators.values()))
        plots.set_ylim_if_changed(self.axes[1], *plots.nice_limits(low, high))
        self._beta2_title.set_text(f"β₂ = {beta2:.4f}")
        if self._schedule_title.get_text() != f"lr {self.SCHEDULES[schedule]}":
            self._schedule_title.set_text(f"lr {self.SCHEDULES[schedule]}")
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}


# --------------------------------------------------------------------------------------------------
# Notebook 07: the optimizer showdown
# --------------------------------------------------------------------------------------------------

class ShowdownExplorer(Explorer):
    """Pick an optimizer and a learning rate among the runs of a finished ``nets.train`` sweep and
    see the three optimizers' cost curves at that rate (the picked one bold) beside the picked
    run's decision boundary. Everything is precomputed, so a change only moves artists.

    ``training``: a ``nets.Training`` of one draw whose settings cover every optimizer × rate.
    """

    def __init__(self, training, optimizer: str = "Adam", lr: float | None = None, resolution: int = 120):
        from course_lib import nets

        self.training = training
        self.rates = sorted({s.lr for s in training.settings})
        draws = {s.draw for s in training.settings}
        if len(draws) != 1:
            raise ValueError(f"the sweep must hold runs of one draw, got {len(draws)}")
        self._index = {(s.optimizer, s.lr): i for i, s in enumerate(training.settings) if not s.decay}
        missing = [(name, rate) for name in nets.OPTIMIZERS for rate in self.rates if (name, rate) not in self._index]
        if missing:
            raise ValueError(f"the sweep lacks the runs {missing[:3]}{'…' if len(missing) > 3 else ''}")
        super().__init__({
            "optimizer": ipywidgets.Dropdown(options=list(nets.OPTIMIZERS), description="optimizer"),
            "lr": ipywidgets.Dropdown(options=[(f"{rate:g}", rate) for rate in self.rates], description="lr"),
        })
        self._assign({"optimizer": optimizer, "lr": self.rates[len(self.rates) // 2] if lr is None else lr})
        X, Y = next(iter(draws)).data()
        self._extent = (X[0].min() - 0.5, X[0].max() + 0.5, X[1].min() - 0.5, X[1].max() + 0.5)
        gx = np.linspace(self._extent[0], self._extent[1], resolution)
        gy = np.linspace(self._extent[2], self._extent[3], resolution)
        points = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
        self.boundaries = nets.probabilities(training.params, points).reshape(-1, resolution, resolution)
        curves, boundary = self.axes
        self._lines = {name: curves.plot([], [], color=plots.optimizer_color(name), label=name)[0]
                       for name in nets.OPTIMIZERS}
        curves.set(xlabel="epoch", ylabel="cost (mean cross-entropy)", yscale="log",
                   xlim=(0, training.epochs[-1]), title="cost per epoch at the chosen lr")
        curves.legend(loc="lower left")
        self._status = _status_text(curves, 0)
        self._image = boundary.imshow(np.zeros((resolution, resolution)), origin="lower", extent=self._extent,
                                      vmin=0, vmax=1, cmap=_faded("RdBu", 0.55), aspect="auto")
        points = boundary.scatter(X[0], X[1], c=Y[0], cmap="RdBu", vmin=0, vmax=1, s=8, edgecolors="black",
                                  linewidths=0.3)
        boundary.set(xlabel="x₁", ylabel="x₂", title="decision boundary of the chosen run")
        self._foreground(*self._lines.values(), self._status, self._image, points, *boundary.spines.values())
        self.update()
        self._freeze_layout()

    def update(self) -> None:
        chosen, rate = self.controls["optimizer"].value, self.controls["lr"].value
        shown = []
        for name, line in self._lines.items():
            run = self._index[(name, rate)]
            curve = np.where(np.isfinite(self.training.costs[run]), self.training.costs[run], np.nan)
            line.set_data(self.training.epochs, curve)
            line.set_linewidth(2.5 if name == chosen else 1.0)
            line.set_alpha(1.0 if name == chosen else 0.5)
            shown.append(curve)
        run = self._index[(chosen, rate)]
        self.run = run
        diverged = self.training.diverged_at[run]
        if diverged is None:
            status = (f"{chosen}, lr = {rate:g}: final cost {self.training.costs[run, -1]:.3g}, "
                      f"accuracy {100 * self.training.accuracy[run]:.1f} %")
        else:
            status = f"{chosen}, lr = {rate:g}: diverged at epoch {diverged}"
        self._status.set_text(status)
        self._status.set_color(plots.optimizer_color(chosen))
        self._image.set_data(np.nan_to_num(self.boundaries[run], nan=0.5))
        plots.fit_loss_limits(self.axes[0], shown)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"epochs": int(self.training.epochs[-1]) + 1}


def _faded(colormap: str, alpha: float):
    """``colormap`` as it looks at opacity ``alpha`` over white, but opaque: an image drawn with it
    covers the one drawn before it (an explorer redraws its image on the last picture)."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    colors = colormaps[colormap](np.linspace(0, 1, 256))
    colors[:, :3] = alpha * colors[:, :3] + (1 - alpha)
    return ListedColormap(colors, name=f"{colormap}, faded")


# --------------------------------------------------------------------------------------------------
# Notebook 05: learning-rate decay
# --------------------------------------------------------------------------------------------------

class ScheduleExplorer(Explorer):
    """Pick a learning-rate schedule and its parameters; see the rate per epoch (left) and what it
    does to mini-batch SGD on a noisy regression (right: excess loss, mean over a few seeds,
    beside a constant rate lr0 in grey).

    Controls that the chosen schedule does not use are greyed out. A constant rate settles at a
    noise floor proportional to lr; a decaying one keeps going down (``course_lib.decay``).
    """

    SCHEDULE_COLOR = plots.OPTIMIZER_COLORS["momentum"]
    CONSTANT_COLOR = plots.OPTIMIZER_COLORS["GD"]
    USES = {
        "constant": (),
        "inverse time": ("decay_rate",),
        "staircase": ("decay_rate", "interval"),
        "exponential": ("gamma",),
        "inverse sqrt": (),
        "StepLR": ("gamma", "interval"),
        "cosine": (),
        "warm-up + cosine": ("warmup",),
    }
    FORMULAS = {
        "constant": "lr = lr0",
        "inverse time": "lr0 / (1 + k·epoch)",
        "staircase": "lr0 / (1 + k·⌊epoch / interval⌋)",
        "exponential": "γ^epoch · lr0  (ExponentialLR)",
        "inverse sqrt": "lr0 / √(epoch + 1)",
        "StepLR": "lr0 · γ^⌊epoch / interval⌋  (StepLR)",
        "cosine": "cosine from lr0 to 0 (CosineAnnealingLR)",
        "warm-up + cosine": "linear warm-up, then cosine",
    }

    def __init__(self, schedule: str = "inverse time", lr0: float = 0.2, decay_rate: float = 1.0,
                 gamma: float = 0.9, interval: int = 10, warmup: int = 5, epochs: int = 40, seeds: int = 4):
        from course_lib import decay

        self._decay = decay
        self.epochs = _check_steps(epochs)
        self.seeds = _check_steps(seeds)
        self.problem = decay.noisy_regression()
        super().__init__({
            "schedule": ipywidgets.Dropdown(options=decay.SCHEDULES, description="schedule"),
            "lr0": ipywidgets.FloatLogSlider(base=10, min=-2, max=0.5, step=0.05, description="lr0",
                                             readout_format=".3g"),
            "decay_rate": ipywidgets.FloatLogSlider(base=10, min=-2, max=1, step=0.05, description="k",
                                                    readout_format=".3g"),
            "gamma": ipywidgets.FloatSlider(min=0.5, max=0.99, step=0.01, description="γ"),
            "interval": ipywidgets.IntSlider(min=1, max=30, description="interval"),
            "warmup": ipywidgets.IntSlider(min=1, max=20, description="warm-up"),
        })
        self._assign({"schedule": schedule, "lr0": lr0, "decay_rate": decay_rate, "gamma": gamma,
                      "interval": interval, "warmup": warmup})
        rates, losses = self.axes
        epochs_axis = np.arange(self.epochs)
        (self._constant_rate,) = rates.plot(epochs_axis, np.full(self.epochs, np.nan), color=self.CONSTANT_COLOR,
                                            linestyle="--", linewidth=1, label="constant lr0")
        (self._rate,) = rates.plot(epochs_axis, np.full(self.epochs, np.nan), color=self.SCHEDULE_COLOR,
                                   drawstyle="steps-post", label="schedule")
        rates.set(xlabel="epoch", ylabel="learning rate", title="the schedule", xlim=(0, self.epochs))
        rates.legend(loc="upper right")
        loss_epochs = np.arange(self.epochs + 1)
        (self._constant_loss,) = losses.plot(loss_epochs, np.full(self.epochs + 1, np.nan), color=self.CONSTANT_COLOR)
        (self._loss,) = losses.plot(loss_epochs, np.full(self.epochs + 1, np.nan), color=self.SCHEDULE_COLOR)
        losses.set_yscale("log")
        losses.set(xlabel="epoch", title=f"SGD: F − F*, mean of {self.seeds} seeds",
                   xlim=(0, self.epochs))
        self._statuses = [_status_text(losses, 0), _status_text(losses, 1)]
        self._statuses[0].set_color(self.SCHEDULE_COLOR)
        self._statuses[1].set_color(self.CONSTANT_COLOR)
        self._foreground(rates.title, self._constant_rate, self._rate, self._constant_loss, self._loss, *self._statuses)
        self._runs = DragCache(self.controls, ("lr0", "decay_rate", "gamma", "interval", "warmup"), self._run_batch)
        self.update()
        for ax in self.axes:  # few ticks before the first layout too: it is the slow part of building
            _sparse_ticks(ax)
        self._freeze_layout()

    def _lrs(self, setting: dict) -> np.ndarray:
        """The rate of every epoch under ``setting``."""
        return self._decay.schedule_lrs(setting["schedule"], setting["lr0"], self.epochs,
                                        decay_rate=setting["decay_rate"], gamma=setting["gamma"],
                                        interval=setting["interval"], warmup=min(setting["warmup"], self.epochs - 1))

    def _run_batch(self, settings: list[dict]) -> list[dict]:
        """For each setting its rates and the runs of its schedule and of the constant rate lr0, every
        distinct rate table run once, all in one ``run_sgd`` on the same mini-batches (``batch_runs``)."""
        tables = ([self._lrs(setting) for setting in settings]
                  + [np.full(self.epochs, setting["lr0"]) for setting in settings])
        distinct, which = np.unique(tables, axis=0, return_inverse=True)
        runs = self._decay.run_sgd(self.problem, np.repeat(distinct.T, self.seeds, axis=1), seed=0,
                                   batch_runs=self.seeds)
        table_runs = [runs[k * self.seeds:(k + 1) * self.seeds] for k in range(len(distinct))]
        count = len(settings)
        return [{"lrs": tables[i], "schedule": table_runs[which[i]], "constant": table_runs[which[count + i]]}
                for i in range(count)]

    def update(self) -> None:
        values = {name: control.value for name, control in self.controls.items()}
        name, lr0 = values["schedule"], values["lr0"]
        for control_name in ("decay_rate", "gamma", "interval", "warmup"):
            self.controls[control_name].disabled = control_name not in self.USES[name]
        computed = self._runs.get(values)
        self.lrs = computed["lrs"]
        self.results = {"schedule": computed["schedule"], "constant": computed["constant"]}
        self._rate.set_ydata(self.lrs)
        self._constant_rate.set_ydata(np.full(self.epochs, lr0))
        plots.set_ylim_if_changed(self.axes[0], 0, plots.round_up_125(1.3 * max(lr0, float(self.lrs.max()))))
        self.axes[0].title.set_text(self.FORMULAS[name])
        curves = []
        for line, status, key, label in ((self._loss, self._statuses[0], "schedule", name),
                                         (self._constant_loss, self._statuses[1], "constant", f"constant {lr0:.3g}")):
            result = self.results[key]
            curve = result.excess_loss.mean(axis=1)  # NaN from the epoch where a seed diverged
            line.set_ydata(curve)
            status.set_text(f"{label}: {result.summary()}")
            curves.append(curve)
        plots.fit_loss_limits(self.axes[1], curves)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"epochs": self.epochs, "seeds": self.seeds}


# --------------------------------------------------------------------------------------------------
# Notebook 10: putting it together
# --------------------------------------------------------------------------------------------------

class RecipeExplorer(Explorer):
    """The modern recipe on the notebook's MLP: warm-up length, peak lr and clipping threshold.

    Left: the learning rate of every step (linear warm-up, then cosine to 0). Right: the training
    loss (minibatch loss, EWA-smoothed with β = 0.9 and bias correction), with the notebook's
    recipe in grey for comparison. Runs of ``steps`` steps from seed 0, trained a batch at a time:
    a new setting together with the settings a drag of each slider reaches next (``DragCache``).
    """

    RUN_COLOR = plots.OPTIMIZER_COLORS["AdamW"]
    BASE_COLOR = plots.OPTIMIZER_COLORS["GD"]

    def __init__(self, warmup: int = 20, peak_lr: float = 3e-2, max_norm: float = 1.0, steps: int = 200):
        from course_lib import recipe

        self._recipe = recipe
        self.steps = _check_steps(steps)
        if self.steps < 102:
            raise ValueError(f"steps must be >= 102 (the warm-up slider reaches 100), got {steps!r}")
        self.task = recipe.make_task()
        super().__init__({
            "warmup": ipywidgets.IntSlider(min=0, max=100, description="warm-up"),
            "peak_lr": ipywidgets.FloatLogSlider(base=10, min=-4, max=0.5, step=0.05, description="peak lr",
                                                 readout_format=".3g"),
            "max_norm": ipywidgets.FloatLogSlider(base=10, min=-2, max=2, step=0.1, description="max_norm",
                                                  readout_format=".3g"),
        })
        self._assign({"warmup": warmup, "peak_lr": peak_lr, "max_norm": max_norm})
        base = recipe.RECIPE
        self._runs = DragCache(self.controls, ("warmup", "peak_lr", "max_norm"), self._train_batch)
        self._base = self._runs.get({"warmup": base.warmup_steps, "peak_lr": base.peak_lr, "max_norm": base.max_norm})
        rates, losses = self.axes
        step_axis = np.arange(self.steps)
        rates.plot(step_axis, base.lrs(self.steps), color=self.BASE_COLOR, linestyle="--", linewidth=1,
                   label=f"recipe (peak {base.peak_lr:g}, warm-up {base.warmup_steps})")
        (self._rate,) = rates.plot(step_axis, np.full(self.steps, np.nan), color=self.RUN_COLOR, label="this run")
        rates.set_yscale("log")
        rates.set(xlabel="step", ylabel="learning rate", title="warm-up, then cosine", xlim=(0, self.steps))
        rates.legend(loc="upper right", fontsize="small")
        losses.plot(step_axis, self._base["curve"], color=self.BASE_COLOR, linewidth=1)
        (self._loss,) = losses.plot(step_axis, np.full(self.steps, np.nan), color=self.RUN_COLOR)
        losses.set_yscale("log")
        losses.set(xlabel="step", ylabel="training loss (smoothed)", title="AdamW on the MLP, seed 0",
                   xlim=(0, self.steps))
        self._statuses = [_status_text(losses, 0), _status_text(losses, 1)]
        self._statuses[0].set_color(self.RUN_COLOR)
        self._statuses[1].set_color(self.BASE_COLOR)
        self._statuses[1].set_text(f"recipe: {self._base['status']}")
        self._foreground(self._rate, self._loss, self._statuses[0])
        self.update()
        for ax in self.axes:
            _sparse_ticks(ax)
        self._freeze_layout()

    def _recipe_of(self, setting: dict):
        """The notebook's recipe with the warm-up, peak lr and max_norm of ``setting``."""
        from dataclasses import replace

        return replace(self._recipe.RECIPE, warmup_steps=int(setting["warmup"]), peak_lr=float(setting["peak_lr"]),
                       max_norm=float(setting["max_norm"]))

    def _train_batch(self, settings: list[dict]) -> list[dict]:
        """The runs of ``settings`` from seed 0, trained at once, summarised (``_summary``)."""
        runs = self._recipe.train_many([self._recipe_of(setting) for setting in settings], seeds=(0,),
                                       steps=self.steps, task=self.task)
        return [self._summary(runs, r) for r in range(len(settings))]

    def _summary(self, runs, r: int) -> dict:
        with np.errstate(all="ignore"):
            losses = np.where(np.isfinite(runs.losses[:, r]), runs.losses[:, r], np.nan)
            curve = averages.ewa(np.nan_to_num(losses, nan=1e6, posinf=1e6), 0.9, bias_correction=True)
        curve[np.isnan(losses)] = np.nan
        return {"lrs": runs.lrs[:, r].astype(float), "curve": np.clip(curve, None, 1e3), "status": runs.status(r)}

    def update(self) -> None:
        setting = {name: control.value for name, control in self.controls.items()}
        self.result = self._runs.get(setting)
        self._rate.set_ydata(self.result["lrs"])
        peaks = (setting["peak_lr"], self._recipe.RECIPE.peak_lr)
        plots.set_ylim_if_changed(self.axes[0], min(peaks) / 300, 30 * max(peaks))
        self._loss.set_ydata(self.result["curve"])
        self._statuses[0].set_text(self.result["status"])
        shown = [c for c in (self.result["curve"], self._base["curve"]) if np.isfinite(c).any()]
        low = min(np.nanmin(c) for c in shown)
        high = max(np.nanmax(c) for c in shown)
        plots.set_ylim_if_changed(self.axes[1], *plots.decades_around(0.8 * low, 4.0 * high))
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps, "seed": 0}
