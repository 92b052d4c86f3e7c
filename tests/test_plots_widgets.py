"""course_lib.plots and course_lib.widgets: figures, colours, styles, and explorers that update in place."""

import base64
import io
import statistics
import subprocess
import sys
import time

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from course_lib import averages, data, landscapes, plots, runner, widgets

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def isolated_rcparams():
    with matplotlib.rc_context():
        yield


def png_bytes(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def runs_on(landscape, lr=0.05, steps=60):
    return {name: runner.run(landscape, runner.named_optimizer(name, lr), steps=steps)
            for name in ("GD", "momentum", "Adam")}


# --- plots ---------------------------------------------------------------------------------------

def test_one_distinct_colour_per_optimizer_found_from_a_label():
    assert list(plots.OPTIMIZER_COLORS) == ["GD", "momentum", "Nesterov", "RMSprop", "Adam", "AdamW", "AMSGrad"]
    assert len(set(plots.OPTIMIZER_COLORS.values())) == 7
    assert plots.optimizer_color("AdamW, lr = 0.1") == plots.OPTIMIZER_COLORS["AdamW"]
    assert plots.optimizer_color("adam (diverged at step 3)") == plots.OPTIMIZER_COLORS["Adam"]
    assert plots.optimizer_color("Nesterov β = 0.90") == plots.OPTIMIZER_COLORS["Nesterov"]
    assert plots.optimizer_color("Newton") is None


def test_presentation_style_switches_on_and_off_in_one_call():
    plots.use_presentation_style()
    for key, value in plots.PRESENTATION_STYLE.items():
        assert matplotlib.rcParams[key] == value
    plots.use_presentation_style(False)
    for key, value in plots.NORMAL_STYLE.items():
        assert matplotlib.rcParams[key] == value
    assert set(plots.PRESENTATION_STYLE) == set(plots.NORMAL_STYLE)
    assert plots.PRESENTATION_STYLE["font.size"] > plots.NORMAL_STYLE["font.size"]
    assert plots.PRESENTATION_STYLE["lines.linewidth"] > plots.NORMAL_STYLE["lines.linewidth"]
    with pytest.raises(TypeError, match="on must be True or False, got 'yes'"):
        plots.use_presentation_style("yes")


def test_presentation_style_as_a_context_manager_restores_the_style():
    plots.use_presentation_style(False)
    with plots.presentation_style():
        big = plots.plot_runs(landscapes.saddle(), {})
    small = plots.plot_runs(landscapes.saddle(), {})
    assert matplotlib.rcParams["font.size"] == plots.NORMAL_STYLE["font.size"]
    assert big.axes[0].title.get_fontsize() > small.axes[0].title.get_fontsize()


def test_plot_runs_draws_every_path_and_loss_curve_with_its_colour():
    bowl = landscapes.ill_conditioned_bowl(10)
    results = runs_on(bowl)
    figure = plots.plot_runs(bowl, results)
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    contours, losses = figure.axes
    paths = {line.get_label(): line for line in contours.get_lines()}
    curves = {line.get_label(): line for line in losses.get_lines()}
    for name, result in results.items():
        np.testing.assert_array_equal(paths[name].get_xydata(), result.path)
        np.testing.assert_array_equal(curves[name].get_ydata(), result.losses - bowl.minimum_value)
        assert paths[name].get_color() == curves[name].get_color() == plots.OPTIMIZER_COLORS[name]
    assert losses.get_yscale() == "log"
    assert contours.get_xlim() == bowl.extent[:2] and contours.get_ylim() == bowl.extent[2:]


def test_a_diverged_run_says_where_in_its_legend():
    bowl = landscapes.ill_conditioned_bowl(10)
    diverged = runner.run(bowl, runner.named_optimizer("GD", 0.3), steps=100)
    figure = plots.plot_runs(bowl, {"GD": diverged})
    labels = [text.get_text() for text in figure.axes[1].get_legend().get_texts()]
    assert labels == [f"GD (diverged at step {diverged.diverged_at})"]


def test_a_landscape_without_a_minimum_gets_a_symmetric_log_loss_axis():
    saddle = landscapes.saddle()
    figure = plots.plot_runs(saddle, runs_on(saddle, lr=0.1, steps=200))
    assert figure.axes[1].get_yscale() == "symlog"
    assert 0.0 in figure.axes[1].get_yticks()


def test_figures_are_deterministic():
    rosenbrock = landscapes.rosenbrock()
    first = png_bytes(plots.plot_runs(rosenbrock, runs_on(rosenbrock, lr=1e-3)))
    second = png_bytes(plots.plot_runs(rosenbrock, runs_on(rosenbrock, lr=1e-3)))
    assert first.startswith(PNG_SIGNATURE) and first == second


def test_figures_show_as_png_without_pyplot_and_with_a_stable_text():
    figure = plots.plot_runs(landscapes.saddle(), {})
    assert figure._repr_png_().startswith(PNG_SIGNATURE)  # what IPython displays without %matplotlib inline
    assert repr(figure) == "<NotebookFigure size 800x350 with 2 Axes>"


def test_contour_levels_are_geometric_above_the_minimum_and_even_without_one():
    for landscape in (landscapes.rosenbrock(), landscapes.double_well()):
        _, _, Z = landscape.grid(50)
        gaps = plots.contour_levels(landscape, Z) - landscape.minimum_value
        assert np.all(gaps > 0)
        np.testing.assert_allclose(gaps[1:] / gaps[:-1], gaps[1] / gaps[0])
    _, _, Z = landscapes.saddle().grid(50)
    np.testing.assert_allclose(np.diff(plots.contour_levels(landscapes.saddle(), Z, count=5)), np.ptp(Z) / 4)


def test_loss_limits_skip_what_the_scale_cannot_show():
    figure, (ax,) = plots.new_figure(1)
    ax.set_yscale("log")
    plots.fit_loss_limits(ax, [np.array([1e-6, 1e-3, 1.0, np.nan, 0.0, -1.0])])
    assert ax.get_ylim() == pytest.approx((1e-7, 10.0))  # 0.5e-6 and 2.0, out to whole decades
    plots.fit_loss_limits(ax, [np.array([3.0, 4.0])])  # less than two decades: widened to two
    assert ax.get_ylim() == pytest.approx((0.01, 10.0))  # 4.0 / 50 and 8.0, out to whole decades


def test_symlog_ticks_leave_out_plus_and_minus_one():
    assert plots.symlog_ticks(-8e11, 2.25) == [-1e11, -1e7, -1e3, 0.0]
    assert plots.symlog_ticks(-123, 1e5) == [-100.0, -10.0, 0.0, 10.0, 1000.0, 100000.0]
    assert plots.symlog_ticks(-5, 3) == [0.0]


# --- widgets -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def landscape_explorer():
    return widgets.LandscapeExplorer()


@pytest.fixture(scope="module")
def momentum_explorer():
    return widgets.MomentumExplorer()


@pytest.fixture(scope="module")
def ewa_explorer():
    return widgets.EWAExplorer()


def status_texts(explorer):
    return [text.get_text() for text in explorer.axes[-1].texts]


def test_explorers_build_outside_a_notebook_on_their_own_ipympl_canvas(landscape_explorer, momentum_explorer,
                                                                        ewa_explorer):
    from ipympl.backend_nbagg import Canvas
    for explorer in (landscape_explorer, momentum_explorer, ewa_explorer):
        assert isinstance(explorer.canvas, Canvas) and explorer.figure.canvas is explorer.canvas
        assert explorer.canvas in explorer.widget.children


IMPORTS_IN_A_FRESH_PYTHON = """
import sys, matplotlib, matplotlib.figure
before = matplotlib.get_backend(auto_select=False)
import course_lib.plots, course_lib.widgets
print(before, matplotlib.get_backend(auto_select=False), *(m in sys.modules for m in ("matplotlib.pyplot", "torch")))
"""


def test_importing_plots_and_widgets_loads_neither_pyplot_nor_torch_and_keeps_the_backend():
    """ipympl's own import calls matplotlib.use(ipympl) when matplotlib is already imported."""
    output = subprocess.run([sys.executable, "-c", IMPORTS_IN_A_FRESH_PYTHON], capture_output=True, text=True,
                            check=True).stdout
    assert output.split() == ["None", "None", "False", "False"]


def test_landscape_explorer_set_moves_the_same_artists(landscape_explorer):
    explorer = landscape_explorer
    explorer.set(landscape="rosenbrock", optimizer="Adam", lr=0.05)
    contours, losses = explorer.axes
    lines_before = contours.get_lines() + losses.get_lines()
    path_line = explorer._path
    np.testing.assert_array_equal(path_line.get_xydata(), explorer.result.path)
    explorer.set(lr=0.1)
    assert contours.get_lines() + losses.get_lines() == lines_before  # nothing rebuilt
    np.testing.assert_array_equal(path_line.get_xydata(), explorer.result.path)
    expected = runner.run(landscapes.rosenbrock(), runner.named_optimizer("Adam", 0.1), steps=explorer.steps)
    np.testing.assert_array_equal(explorer.result.path, expected.path)
    assert contours.get_title() == landscapes.rosenbrock().label
    assert path_line.get_color() == plots.OPTIMIZER_COLORS["Adam"]
    explorer.set(landscape="saddle")
    assert losses.get_yscale() == "symlog" and contours.get_title() == landscapes.saddle().label
    for name, artists in explorer._backgrounds.items():  # precomputed contours, shown one landscape at a time
        assert all(artist.get_visible() == (name == "saddle") for artist in artists)


def test_landscape_explorer_reacts_to_its_slider(landscape_explorer):
    explorer = landscape_explorer
    explorer.set(landscape="ill_conditioned_bowl", optimizer="GD", lr=0.1)
    explorer.controls["lr"].value = 0.15  # what dragging the slider does
    np.testing.assert_array_equal(
        explorer._path.get_xydata(),
        runner.run(landscapes.ill_conditioned_bowl(), runner.named_optimizer("GD", 0.15), steps=explorer.steps).path)


def test_landscape_explorer_says_where_a_run_diverged(landscape_explorer):
    explorer = landscape_explorer
    explorer.set(landscape="ill_conditioned_bowl", optimizer="GD", lr=0.3)  # lr > 2/κ = 0.2
    k = explorer.result.diverged_at
    assert k is not None
    assert status_texts(explorer) == [f"GD, lr = 0.3: diverged at step {k}"]
    explorer.set(lr=0.1)
    assert status_texts(explorer) == [f"GD, lr = 0.1: final loss {explorer.result.losses[-1]:.3g}"]


def test_momentum_explorer_compares_gd_with_momentum_and_nesterov(momentum_explorer):
    explorer = momentum_explorer
    explorer.set(lr=0.05, beta=0.9, condition=10.0, nesterov=False)
    bowl = landscapes.ill_conditioned_bowl(10.0)
    gd_line, momentum_line = explorer.axes[0].get_lines()[-2:]
    np.testing.assert_array_equal(gd_line.get_xydata(), runner.run(bowl, runner.named_optimizer("GD", 0.05),
                                                                    steps=100).path)
    np.testing.assert_array_equal(momentum_line.get_xydata(),
                                  runner.run(bowl, runner.named_optimizer("momentum", 0.05), steps=100).path)
    explorer.set(nesterov=True, beta=0.5, condition=20.0)
    bowl = landscapes.ill_conditioned_bowl(20.0)
    np.testing.assert_array_equal(
        momentum_line.get_xydata(),
        runner.run(bowl, runner.named_optimizer("Nesterov", 0.05, momentum=0.5), steps=100).path)
    assert momentum_line.get_color() == plots.OPTIMIZER_COLORS["Nesterov"]
    assert status_texts(explorer)[1].startswith("Nesterov β = 0.50: final loss")
    assert explorer.axes[0].get_title() == bowl.label
    explorer.set(beta=0.0)  # β = 0: both momentum forms are GD (torch refuses Nesterov without momentum)
    np.testing.assert_array_equal(momentum_line.get_xydata(), gd_line.get_xydata())


def test_momentum_explorer_level_curves_follow_the_condition_number(momentum_explorer):
    explorer = momentum_explorer
    explorer.set(condition=1.0)
    x, y = explorer._ellipses.get_data()
    explorer.set(condition=100.0)
    np.testing.assert_array_equal(explorer._ellipses.get_xdata(), x)
    np.testing.assert_allclose(explorer._ellipses.get_ydata(), y / 10)
    values = landscapes.ill_conditioned_bowl(100.0).value(x, y / 10)
    curves = [curve[np.isfinite(curve)] for curve in np.split(values, np.flatnonzero(np.isnan(values)))]
    curves = [curve for curve in curves if curve.size]
    assert len(curves) > 5
    for curve in curves:  # each NaN-separated curve is one level of f
        np.testing.assert_allclose(curve, curve[0])


def test_momentum_explorer_says_where_a_run_diverged(momentum_explorer):
    explorer = momentum_explorer
    explorer.set(lr=0.25, beta=0.9, condition=10.0, nesterov=False)  # GD: lr > 2/κ = 0.2
    k = explorer.results["GD"].diverged_at
    assert k is not None and status_texts(explorer)[0] == f"GD: diverged at step {k}"


def test_ewa_explorer_draws_the_average_of_averages_ewa(ewa_explorer):
    explorer = ewa_explorer
    series = data.noisy_series()
    for beta, bias_correction in ((0.98, False), (0.9, True)):
        explorer.set(beta=beta, bias_correction=bias_correction)
        np.testing.assert_array_equal(explorer._average.get_ydata(),
                                      averages.ewa(series, beta, bias_correction=bias_correction))
    assert explorer.axes[0].get_title().startswith("β = 0.90: an average over ≈ 1/(1 − β) = 10 values")
    assert explorer.axes[0].get_title().endswith("bias correction on")


def test_ewa_explorer_takes_its_own_series():
    explorer = widgets.EWAExplorer(series=[1.0, 2.0, 3.0, 4.0], beta=0.5)
    np.testing.assert_array_equal(explorer.average, [0.5, 1.25, 2.125, 3.0625])
    assert explorer.describe() == "EWAExplorer: beta=0.5, bias_correction=False, points=4"
    with pytest.raises(ValueError, match="series"):
        widgets.EWAExplorer(series=[[1.0, 2.0]])


def test_the_mimebundle_is_the_widget_a_stable_line_and_a_png(landscape_explorer, momentum_explorer, ewa_explorer):
    landscape_explorer.set(landscape="rosenbrock", optimizer="Adam", lr=0.05)
    momentum_explorer.set(lr=0.05, beta=0.9, condition=10.0, nesterov=False)
    ewa_explorer.set(beta=0.9, bias_correction=False)
    expected = {
        landscape_explorer: "LandscapeExplorer: landscape=rosenbrock, optimizer=Adam, lr=0.05, steps=150",
        momentum_explorer: "MomentumExplorer: lr=0.05, beta=0.9, condition=10, nesterov=False, steps=100",
        ewa_explorer: "EWAExplorer: beta=0.9, bias_correction=False, points=365",
    }
    for explorer, text in expected.items():
        bundle = explorer._repr_mimebundle_()
        assert set(bundle) == {WIDGET_VIEW, "text/plain", "image/png"}
        assert bundle[WIDGET_VIEW] == {"version_major": 2, "version_minor": 0, "model_id": explorer.widget.model_id}
        assert bundle["text/plain"] == text
        assert base64.b64decode(bundle["image/png"]).startswith(PNG_SIGNATURE)


def test_set_refuses_bad_input_and_changes_nothing(landscape_explorer):
    explorer = landscape_explorer
    explorer.set(landscape="ill_conditioned_bowl", optimizer="GD", lr=0.1)
    path = explorer._path.get_xydata().copy()
    for values, error, words in [
        ({"lr": 10.0}, ValueError, ["lr", "10.0", "between"]),
        ({"optimizer": "SGD"}, ValueError, ["optimizer", "'SGD'", "Nesterov"]),
        ({"landscape": "mountain"}, ValueError, ["landscape", "'mountain'"]),
        ({"lr": "0.1"}, TypeError, ["lr", "'0.1'"]),
        ({"beta": 0.9}, ValueError, ["beta=0.9", "landscape, optimizer, lr"]),
        ({"optimizer": "Adam", "lr": -1.0}, ValueError, ["lr", "-1.0"]),
    ]:
        with pytest.raises(error) as raised:
            explorer.set(**values)
        for word in words:
            assert word in str(raised.value)
        assert explorer.describe() == "LandscapeExplorer: landscape=ill_conditioned_bowl, optimizer=GD, lr=0.1, steps=150"
        np.testing.assert_array_equal(explorer._path.get_xydata(), path)
    with pytest.raises(TypeError, match="nesterov must be True or False, got 1"):
        widgets.MomentumExplorer(nesterov=1)
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        widgets.LandscapeExplorer(steps=0)


def timings(action, repeats):
    """Seconds taken by action(0), action(1), …"""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        action(i)
        times.append(time.perf_counter() - start)
    return times


def test_an_update_is_quick_and_much_quicker_than_a_rebuild(landscape_explorer):
    """A sanity bound, not the benchmark: update + render well under half a second, and faster
    than drawing the same picture from scratch."""
    explorer = landscape_explorer
    explorer.set(landscape="ill_conditioned_bowl", optimizer="momentum", lr=0.05)
    lrs = np.geomspace(0.01, 0.15, 3)
    bowl = landscapes.ill_conditioned_bowl()

    def update(i):
        explorer.set(lr=float(lrs[i]))
        explorer.canvas.render()

    def rebuild(i):
        result = runner.run(bowl, runner.named_optimizer("momentum", float(lrs[i])), steps=explorer.steps)
        FigureCanvasAgg(plots.plot_runs(bowl, {"momentum": result})).draw()

    updating, rebuilding = statistics.median(timings(update, 3)), min(timings(rebuild, 2))
    assert updating < 0.5
    assert updating * 2 < rebuilding


# --- drawing only what moved, computing what a drag reaches next -----------------------------------

def rendered(canvas) -> np.ndarray:
    canvas.render()
    return np.asarray(canvas.get_renderer().buffer_rgba()).copy()


def rendered_from_scratch(canvas) -> np.ndarray:
    canvas._background = None
    return rendered(canvas)


def test_a_redraw_on_the_kept_background_is_the_picture_drawn_from_scratch(momentum_explorer):
    explorer = momentum_explorer
    explorer.set(lr=0.05, beta=0.9, condition=10.0, nesterov=False)
    first = rendered(explorer.canvas)
    for values in (dict(lr=0.056), dict(beta=0.91), dict(condition=11.2), dict(nesterov=True)):
        explorer.set(**values)
        assert explorer.canvas._background is not None  # only foreground artists moved
        assert not np.array_equal(kept := rendered(explorer.canvas), first)
        np.testing.assert_array_equal(kept, rendered_from_scratch(explorer.canvas))


def test_a_change_behind_the_foreground_redraws_everything(landscape_explorer):
    explorer = landscape_explorer
    explorer.set(landscape="ill_conditioned_bowl", optimizer="GD", lr=0.05)
    rendered(explorer.canvas)
    explorer.set(landscape="rosenbrock")  # other contours, limits and ticks
    assert explorer.canvas._background is None
    np.testing.assert_array_equal(rendered(explorer.canvas), rendered_from_scratch(explorer.canvas))
    explorer.axes[1].set_ylim(1e-3, 1e3)
    assert explorer.canvas._background is None


def test_the_layered_picture_is_the_saved_picture_where_nothing_overlaps(ewa_explorer):
    """The saved PNG draws every artist in z-order in one pass; the canvas draws the foreground
    last. Where no foreground artist crosses a background one, as in the EWA explorer, they agree."""
    explorer = ewa_explorer
    for beta in (0.5, 0.9, 0.98):
        explorer.set(beta=beta)
        shown = rendered(explorer.canvas)
        buffer = io.BytesIO()
        explorer.figure.savefig(buffer, format="rgba")
        np.testing.assert_array_equal(shown, np.frombuffer(buffer.getvalue(), np.uint8).reshape(shown.shape))


def test_log_limits_snap_to_decades_and_stay_put_while_the_curves_move_a_little():
    figure, (ax,) = plots.new_figure(1)
    ax.set_yscale("log")
    plots.fit_loss_limits(ax, [np.array([3e-5, 2.0])], decades=12)
    assert ax.get_ylim() == pytest.approx((1e-11, 10.0))
    FigureCanvasAgg(figure).draw()
    plots.fit_loss_limits(ax, [np.array([1e-9, 3.0])], decades=12)
    assert ax.get_ylim() == pytest.approx((1e-11, 10.0)) and not figure.stale  # not even set again
    assert plots.decades_around(0.03, 270.0) == (0.01, 1000.0)
    assert plots.nice_limits(0.13, 0.97) == (0.0, 1.0)
    assert [plots.round_up_125(x) for x in (0.013, 0.26, 0.5, 0.52, 1.0, 4.1, 70.0)] == [0.02, 0.5, 0.5, 1.0, 1.0, 5.0,
                                                                                        100.0]


def test_a_drag_cache_computes_a_setting_with_the_positions_its_sliders_reach_next():
    import ipywidgets

    controls = {"lr": ipywidgets.FloatLogSlider(base=10, min=-3, max=0, step=0.5, value=0.01),
                "steps": ipywidgets.IntSlider(min=1, max=4, value=4),
                "name": ipywidgets.Dropdown(options=["a", "b"])}
    batches = []

    def compute(settings):
        assert len({setting["name"] for setting in settings}) == 1  # only the sliders vary in a batch
        batches.append(settings)
        return [(setting["name"], setting["lr"] * setting["steps"]) for setting in settings]

    cache = widgets.DragCache(controls, ("lr", "steps"), compute, reach=2)
    assert cache.get({"lr": 0.01, "steps": 4, "name": "a"}) == ("a", 0.04)
    assert sorted((round(s["lr"], 12), s["steps"]) for s in batches[0]) == sorted(
        (round(lr, 12), steps) for lr, steps in
        [(0.01, 4), (0.001, 4), (10**-2.5, 4), (10**-1.5, 4), (0.1, 4), (0.01, 2), (0.01, 3)])
    assert cache.get({"lr": 10**-1.5 * (1 + 1e-13), "steps": 4, "name": "a"}) == ("a", pytest.approx(4 * 10**-1.5))
    assert cache.get({"lr": 0.01, "steps": 3, "name": "a"})[1] == pytest.approx(0.03)
    assert len(batches) == 1  # both were neighbours: no new computation
    assert cache.get({"lr": 0.01, "steps": 4, "name": "b"}) == ("b", 0.04)
    assert len(batches) == 2


@pytest.mark.parametrize("name", ["LandscapeExplorer", "MomentumExplorer", "RMSpropExplorer", "EWAExplorer",
                                  "AdamFailureExplorer", "ScheduleExplorer", "SaddleExplorer", "WeightDecayExplorer",
                                  "ClippingExplorer", "RecipeExplorer"])
def test_what_an_update_moves_is_in_the_saved_picture_too(name):
    """matplotlib leaves animated artists out of a normal draw, and out of a saved picture too unless
    an Axes draws them: each foreground artist must belong to an Axes, or the PNG shown on GitHub
    would lack it."""
    explorer = getattr(widgets, name)()
    assert explorer.canvas.foreground
    assert all(artist.axes in explorer.axes for artist in explorer.canvas.foreground)
