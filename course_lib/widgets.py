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

EXPLORER_OPTIMIZERS = ("GD", "momentum", "Nesterov", "RMSprop", "Adam")


class Explorer:
    """What the explorers share: a figure on an ipympl canvas, named controls, ``set``, display.

    A subclass builds its artists once and implements ``update``: recompute, move the artists,
    ``canvas.draw_idle()``. ``describe`` (the text/plain line) lists the controls' values and the
    subclass's ``_fixed_settings``.
    """

    def __init__(self, controls: dict, ncols: int = 2, figsize=None):
        self.controls = controls
        self.figure, self.axes = plots.new_figure(ncols, figsize)
        self.canvas = Canvas(self.figure)
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
        plots.fit_loss_limits(self.axes[1], [curve])
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
        bowl = ill_conditioned_bowl()
        plots.frame_landscape(contours, bowl)
        self._unit_ellipses = _level_ellipses(bowl)
        (self._ellipses,) = contours.plot(*self._unit_ellipses, color="0.7", linewidth=0.7)
        contours.plot(*np.transpose(bowl.minima), "*", color="black", markersize=10)
        contours.plot(*bowl.start, "o", color="black", markersize=5)
        self._lines = [(plots.draw_path(contours, np.full((1, 2), np.nan), name), losses.plot([], [])[0],
                        _status_text(losses, row)) for row, name in enumerate(("GD", "momentum"))]
        plots.frame_losses(losses, bowl.minimum_value)
        losses.set_xlim(0, self.steps)
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
        x, y = self._unit_ellipses
        self._ellipses.set_data(x, y / np.sqrt(condition))
        self.axes[0].set_title(bowl.label)
        curves = [_show_run(*artists, name, result, bowl.minimum_value)
                  for artists, (name, result) in zip(self._lines, self.results.items())]
        plots.fit_loss_limits(self.axes[1], curves)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}


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
        self.update()
        self._freeze_layout()

    def update(self) -> None:
        beta, bias_correction = self.controls["beta"].value, self.controls["bias_correction"].value
        self.average = averages.ewa(self.series, beta, bias_correction=bias_correction)
        self._average.set_ydata(self.average)
        self.axes[0].set_title(f"β = {beta:.2f}: an average over ≈ 1/(1 − β) = {averages.effective_window(beta):.3g} "
                               f"values, bias correction {'on' if bias_correction else 'off'}")
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"points": len(self.series)}
