"""course_lib.lab.plots: figures, colours, styles, contour levels and loss axes."""

import io

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from course_lib.lab import landscapes, plots, runner

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


def test_linear_limits_stay_put_while_the_values_fit_and_fill_half_of_them():
    figure, (ax,) = plots.new_figure(1)
    plots.keep_or_fit_ylim(ax, 70.3, 129.6, min_share=0.5)
    assert ax.get_ylim() == (60.0, 135.0)
    FigureCanvasAgg(figure).draw()
    plots.keep_or_fit_ylim(ax, 85.0, 125.0, min_share=0.5)  # inside, 53 % of the axis
    assert ax.get_ylim() == (60.0, 135.0) and not figure.stale  # not even set again
    plots.keep_or_fit_ylim(ax, 90.0, 110.0, min_share=0.5)  # inside, but a quarter of the axis: fitted again
    assert ax.get_ylim() == plots.nice_limits(90.0, 110.0)
    plots.keep_or_fit_ylim(ax, 95.0, 150.0, min_share=0.5)  # out of it: fitted again
    assert ax.get_ylim() == plots.nice_limits(95.0, 150.0)


def test_log_limits_with_keep_share_stay_while_the_curve_fills_that_share_of_their_decades():
    figure, (ax,) = plots.new_figure(1)
    ax.set_yscale("log")
    plots.fit_loss_limits(ax, [np.array([1e-3, 2.0])], keep_share=0.25)  # never fitted: fitted
    assert ax.get_ylim() == pytest.approx((1e-4, 10.0))
    FigureCanvasAgg(figure).draw()
    plots.fit_loss_limits(ax, [np.array([0.5, 2.0])], keep_share=0.25)  # would fit (0.01, 10): 3 of 5 decades
    assert ax.get_ylim() == pytest.approx((1e-4, 10.0)) and not figure.stale
    plots.fit_loss_limits(ax, [np.array([0.5, 200.0])], keep_share=0.25)  # beyond the top: fitted again
    assert ax.get_ylim() == pytest.approx((0.1, 1000.0))
    plots.fit_loss_limits(ax, [np.array([1e-12, 2.0])], keep_share=0.25)  # beyond the bottom: (1e-13, 10)
    plots.fit_loss_limits(ax, [np.array([0.5, 2.0])], keep_share=0.25)  # 3 of 14 decades: fitted again
    assert ax.get_ylim() == pytest.approx((0.01, 10.0))
