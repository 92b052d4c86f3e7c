"""The figures the notebooks share: contours with optimizer paths, loss curves, one colour per
optimizer across the whole series, and a one-call presentation style for lecturers.

Every function builds on ``matplotlib.figure.Figure`` (never pyplot), returns its Figure or Axes
and never calls ``show()``: a notebook displays what a cell returns (as a PNG, with or without
``%matplotlib inline``), and nothing here touches matplotlib's global state except
``use_presentation_style``.

    fig = plots.plot_runs(bowl, {"GD": gd_result, "momentum": momentum_result})
"""

import io
from collections.abc import Mapping

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from course_lib.lab.landscapes import Landscape
from course_lib.lab.runner import RunResult

OPTIMIZER_COLORS: dict[str, str] = {
    "GD": "#4d4d4d",
    "momentum": "#0072b2",
    "Nesterov": "#56b4e9",
    "RMSprop": "#009e73",
    "Adam": "#d55e00",
    "AdamW": "#cc79a7",
    "AMSGrad": "#e69f00",
}
"""One colour per optimizer in every notebook (Okabe–Ito, readable with colour-blindness)."""

NORMAL_STYLE: dict = {
    "figure.dpi": 90,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "lines.linewidth": 1.5,
    "lines.markersize": 6,
}
PRESENTATION_STYLE: dict = {
    "figure.dpi": 100,
    "font.size": 14,
    "axes.titlesize": 14,
    "axes.labelsize": 14,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "lines.linewidth": 2.5,
    "lines.markersize": 9,
}
"""Larger fonts and thicker lines for a projector; the keys are those of ``NORMAL_STYLE``."""

PANEL_SIZE = (4.0, 3.5)
"""Width and height in inches of one panel in the normal style."""


def optimizer_color(label: str) -> str | None:
    """The course colour of the optimizer that ``label`` names, e.g. 'Adam, lr=0.1' → Adam's.

    The longest name that starts the label wins (AdamW before Adam); None for another label, which
    then takes matplotlib's next colour.
    """
    matches = [name for name in OPTIMIZER_COLORS if label.lower().startswith(name.lower())]
    return OPTIMIZER_COLORS[max(matches, key=len)] if matches else None


def use_presentation_style(on: bool = True) -> None:
    """Switch every later figure to the presentation style (``on=True``) or back to the normal one."""
    if not isinstance(on, bool):
        raise TypeError(f"on must be True or False, got {on!r}")
    matplotlib.rcParams.update(PRESENTATION_STYLE if on else NORMAL_STYLE)


def presentation_style():
    """A context manager: the figures built inside ``with plots.presentation_style():`` use it."""
    return matplotlib.rc_context(PRESENTATION_STYLE)


class NotebookFigure(Figure):
    """A Figure that a notebook shows as a PNG whatever matplotlib's backend (a plain Figure made
    without pyplot has a picture only once pyplot's inline backend is loaded)."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def figure_size(panels: int = 2) -> tuple[float, float]:
    """Inches for ``panels`` panels in a row: ``PANEL_SIZE`` each, grown by √(font size / normal
    font size), so that the larger text of the presentation style keeps its room."""
    scale = (matplotlib.rcParams["font.size"] / NORMAL_STYLE["font.size"]) ** 0.5
    return PANEL_SIZE[0] * panels * scale, PANEL_SIZE[1] * scale


def new_figure(ncols: int = 2, figsize=None) -> tuple[Figure, list[Axes]]:
    """A Figure with ``ncols`` axes in a row (``figure_size(ncols)`` unless ``figsize`` is given),
    laid out by matplotlib's constrained layout."""
    figure = NotebookFigure(figsize=figsize or figure_size(ncols), layout="constrained")
    return figure, list(figure.subplots(1, ncols, squeeze=False)[0])


def contour_levels(landscape: Landscape, values: np.ndarray, count: int = 20) -> np.ndarray:
    """Contour levels for ``values`` of ``landscape``: geometric above f* when f is bounded below
    (so the valley floor gets as many lines as the walls), evenly spaced otherwise."""
    if landscape.minimum_value is None:
        return np.linspace(values.min(), values.max(), count)
    gap = values - landscape.minimum_value
    return landscape.minimum_value + np.geomspace(np.quantile(gap[gap > 0], 0.005), gap.max(), count)


def landscape_artists(ax: Axes, landscape: Landscape, resolution: int = 150) -> list:
    """Contour lines of ``landscape`` over its extent, its minima (★) and saddles (✕); returns the
    artists drawn (an explorer precomputes them once and toggles their visibility)."""
    X, Y, Z = landscape.grid(resolution)
    artists = [ax.contour(X, Y, Z, levels=contour_levels(landscape, Z), colors="0.7", linewidths=0.7,
                          negative_linestyles="solid")]
    for points, marker in ((landscape.minima, "*"), (landscape.saddles, "x")):
        if points:
            artists += ax.plot(*np.transpose(points), marker, color="black", markersize=10, linestyle="none")
    return artists


def frame_landscape(ax: Axes, landscape: Landscape) -> None:
    """Limits, axis labels and title of a contour plot of ``landscape``."""
    x_min, x_max, y_min, y_max = landscape.extent
    ax.set(xlim=(x_min, x_max), ylim=(y_min, y_max), xlabel="x", ylabel="y", title=landscape.label)


def run_label(name: str, result: RunResult) -> str:
    """The legend entry of a run: its name, and where it diverged if it did."""
    return name if result.diverged_at is None else f"{name} ({result.summary()})"


def draw_path(ax: Axes, path: np.ndarray, label: str):
    """The iterates of one run as a line with a dot per step, in the optimizer's colour."""
    (line,) = ax.plot(path[:, 0], path[:, 1], "o-", markersize=0.4 * matplotlib.rcParams["lines.markersize"],
                      color=optimizer_color(label), label=label)
    return line


def loss_curve(losses: np.ndarray, minimum_value: float | None) -> np.ndarray:
    """What a loss plot shows: the gap f − f* when f* is known (for a log scale), else f itself."""
    return losses if minimum_value is None else losses - minimum_value


def fit_loss_limits(ax: Axes, curves: list[np.ndarray], headroom: float = 1.0, decades: int | None = None,
                    keep_share: float | None = None) -> None:
    """Fit the y axis of a loss plot to the values of ``curves`` that its scale can show (finite,
    and positive on a log scale, which spans at least two decades out to whole decades, times
    ``headroom`` at the top; with ``decades``, exactly that many decades below the top); NaN (a
    diverged run) and the rest are left out as gaps. Limits that snap to round values stay put
    while the curves move a little: an explorer then redraws only its curves.

    With ``keep_share``, limits set before stay while they hold the fitted ones and these fill at
    least that share of them (on a log scale, in decades): an explorer's nearby settings then
    share one axis. An axis never fitted (still autoscaling) is fitted."""
    log_scale = ax.get_yscale() == "log"
    values = np.concatenate([np.empty(0), *curves])
    shown = np.isfinite(values) & (values > 0) if log_scale else np.isfinite(values)
    values = values[shown]
    if values.size == 0:
        return
    low, high = values.min(), values.max()
    if log_scale:
        bottom, top = decades_around(min(low / 2, high / 50), high * 2)
        if decades is not None:
            bottom = top / 10.0**decades
        if not (keep_share is not None and kept_limits_hold(ax, bottom, top * headroom, keep_share, log=True)):
            set_ylim_if_changed(ax, bottom, top * headroom)
        return
    if ax.get_yscale() == "symlog":
        ticks = symlog_ticks(low, high)
        if list(ax.get_yticks()) != ticks:
            ax.set_yticks(ticks)
        pad = 0.05 * (high - low) or 1.0
        set_ylim_if_changed(ax, low - pad, high + pad)
        return
    set_ylim_if_changed(ax, *nice_limits(low, high))


def nice_limits(low: float, high: float) -> tuple[float, float]:
    """Round limits just around [low, high] (the outer ticks of at most 5 at 1, 2, 2.5, 5 or 10 times a
    power of ten), which stay put while the values move a little."""
    if low == high:
        low, high = low - 1.0, high + 1.0
    ticks = MaxNLocator(5).tick_values(low, high)
    return float(ticks[0]), float(ticks[-1])


def keep_or_fit_ylim(ax: Axes, low: float, high: float, min_share: float) -> None:
    """Keep the y limits while [low, high] lies within them and fills at least ``min_share`` of
    them; else round limits around it (``nice_limits``). Nearby settings of an explorer then share
    one axis, and its canvas redraws only the curves
    (``course_lib.interactive.canvas.LayeredCanvas``). An axis never fitted is fitted."""
    if not kept_limits_hold(ax, low, high, min_share):
        set_ylim_if_changed(ax, *nice_limits(low, high))


def kept_limits_hold(ax: Axes, low: float, high: float, min_share: float, log: bool = False) -> bool:
    """Whether the y limits were set (not autoscaled), hold [low, high] and [low, high] fills at
    least ``min_share`` of them (with ``log``, measured in decades)."""
    if ax.get_autoscaley_on():
        return False
    bottom, top = ax.get_ylim()
    if log:
        if min(bottom, low) <= 0:
            return False
        bottom, top, low, high = np.log10([bottom, top, low, high])
    return bottom <= low and high <= top and high - low >= min_share * (top - bottom)


def round_up_125(value: float) -> float:
    """The smallest of 1, 2 and 5 times a power of ten that is at least ``value`` (> 0): an axis
    limit that stays put over a wide range of values."""
    power = 10.0 ** np.floor(np.log10(value))
    return next(float(m * power) for m in (1, 2, 5, 10) if m * power >= value)


def decades_around(low: float, high: float) -> tuple[float, float]:
    """The powers of ten just below ``low`` and just above ``high``: log-axis limits that stay put
    while the curves move a little (so an explorer's axis and its ticks need no redrawing)."""
    return 10.0 ** np.floor(np.log10(low)), 10.0 ** np.ceil(np.log10(high))


def set_ylim_if_changed(ax: Axes, low: float, high: float) -> None:
    """``ax.set_ylim(low, high)``, skipped when those are the limits already: setting them marks the
    axes as changed, which makes an explorer's canvas redraw everything
    (``course_lib.interactive.canvas.LayeredCanvas``)."""
    if ax.get_ylim() != (low, high):
        ax.set_ylim(low, high)


def symlog_ticks(low: float, high: float, per_side: int = 3) -> list[float]:
    """0 and at most ``per_side`` powers of ten on each side for a symmetric log axis over
    [low, high] (leaving out ±1, which would crowd the 0)."""
    ticks = [0.0]
    for sign, end in ((1.0, high), (-1.0, -low)):
        if end >= 10:
            top = int(np.log10(end))
            step = -(-top // per_side)
            ticks += [sign * 10.0**k for k in range(top, 0, -step)]
    return sorted(ticks)


def plot_trajectories(landscape: Landscape, results: Mapping[str, RunResult], ax: Axes | None = None) -> Axes:
    """Contours of ``landscape`` with the path of each run of ``results`` (name → single run)."""
    if ax is None:
        ax = new_figure(1)[1][0]
    landscape_artists(ax, landscape)
    frame_landscape(ax, landscape)
    for name, result in results.items():
        draw_path(ax, result.path, run_label(name, result))
    if results:
        starts = np.unique([result.path[0] for result in results.values()], axis=0)
        ax.plot(starts[:, 0], starts[:, 1], "o", color="black", markersize=5, label="start")
        ax.legend(loc="best")
    return ax


def plot_losses(results: Mapping[str, RunResult], minimum_value: float | None = None,
                ax: Axes | None = None) -> Axes:
    """Loss against step for each run: f − f* on a log scale when f* is given, else f."""
    if ax is None:
        ax = new_figure(1)[1][0]
    curves = [loss_curve(result.losses, minimum_value) for result in results.values()]
    for (name, result), curve in zip(results.items(), curves):
        ax.plot(curve, color=optimizer_color(name), label=run_label(name, result))
    if results:
        ax.legend(loc="best")
    frame_losses(ax, minimum_value)
    fit_loss_limits(ax, curves)
    return ax


def frame_losses(ax: Axes, minimum_value: float | None) -> None:
    """Scale and labels of a loss plot: log of f − f* when f* is known, else a symmetric log of f
    (which shows a fall towards −∞ decade by decade)."""
    if minimum_value is None:
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set(xlabel="step", title="loss f (symmetric log scale)")
    else:
        ax.set_yscale("log")
        ax.set(xlabel="step", title="loss above the minimum, f − f*")


def plot_runs(landscape: Landscape, results: Mapping[str, RunResult], figsize=None) -> Figure:
    """Contours with the paths (left) beside the loss curves (right)."""
    figure, (left, right) = new_figure(2, figsize)
    plot_trajectories(landscape, results, ax=left)
    plot_losses(results, landscape.minimum_value, ax=right)
    return figure
