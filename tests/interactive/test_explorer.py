"""What every explorer shares (course_lib.interactive): its own ipympl canvas, a stable text and a PNG
for a saved notebook, refusal of bad settings, quick in-place updates that redraw only what moved, and
the drag cache; shown on the explorers of notebooks 00, 01 and 02 and, where it is cheap, on all."""

import base64
import importlib
import io
import pkgutil
import statistics
import subprocess
import sys
import time

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import course_lib.lessons
from course_lib.interactive.drag_cache import DragCache
from course_lib.interactive.explorer import Explorer
from course_lib.lab import landscapes, plots, runner
from course_lib.lessons import ewa, momentum, welcome

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPLORERS = {name: value for module in pkgutil.walk_packages(course_lib.lessons.__path__, "course_lib.lessons.")
             for name, value in vars(importlib.import_module(module.name)).items()
             if isinstance(value, type) and issubclass(value, Explorer) and value is not Explorer}
"""Every lesson's explorer class, by name."""


@pytest.fixture(scope="module")
def landscape_explorer():
    return welcome.LandscapeExplorer()


@pytest.fixture(scope="module")
def momentum_explorer():
    return momentum.MomentumExplorer()


@pytest.fixture(scope="module")
def ewa_explorer():
    return ewa.EWAExplorer()


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
import course_lib.lab.plots, course_lib.interactive.explorer, course_lib.lessons.welcome
print(before, matplotlib.get_backend(auto_select=False), *(m in sys.modules for m in ("matplotlib.pyplot", "torch")))
"""


def test_importing_plots_and_an_explorer_loads_neither_pyplot_nor_torch_and_keeps_the_backend():
    """ipympl's own import calls matplotlib.use(ipympl) when matplotlib is already imported."""
    output = subprocess.run([sys.executable, "-c", IMPORTS_IN_A_FRESH_PYTHON], capture_output=True, text=True,
                            check=True).stdout
    assert output.split() == ["None", "None", "False", "False"]


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
        momentum.MomentumExplorer(nesterov=1)
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        welcome.LandscapeExplorer(steps=0)


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
    lrs = np.array([0.01, 0.04, 0.14])  # slider positions
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
    for values in (dict(lr=0.056), dict(beta=0.91), dict(condition=11.0), dict(nesterov=True)):
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

    cache = DragCache(controls, ("lr", "steps"), compute, reach=2)
    assert cache.get({"lr": 0.01, "steps": 4, "name": "a"}) == ("a", 0.04)
    assert sorted((round(s["lr"], 12), s["steps"]) for s in batches[0]) == sorted(
        (round(lr, 12), steps) for lr, steps in
        [(0.01, 4), (0.001, 4), (10**-2.5, 4), (10**-1.5, 4), (0.1, 4), (0.01, 2), (0.01, 3)])
    assert cache.get({"lr": 10**-1.5 * (1 + 1e-13), "steps": 4, "name": "a"}) == ("a", pytest.approx(4 * 10**-1.5))
    assert cache.get({"lr": 0.01, "steps": 3, "name": "a"})[1] == pytest.approx(0.03)
    assert len(batches) == 1  # both were neighbours: no new computation
    assert cache.get({"lr": 0.01, "steps": 4, "name": "b"}) == ("b", 0.04)
    assert len(batches) == 2


def test_drag_cache_computes_ahead_after_a_control_event_and_gives_the_same_results():
    """After a reader's move the cache's thread computes the slider positions further out and the
    other choices of each checkbox; asking for them later computes nothing."""
    import ipywidgets

    calls = []

    def compute(batch):
        calls.append(len(batch))
        return [setting["x"] * 2 + setting["flag"] for setting in batch]

    controls = {"x": ipywidgets.SelectionSlider(options=list(range(1, 10))), "flag": ipywidgets.Checkbox()}
    cache = DragCache(controls, ("x",), compute)
    with DragCache.reader_waiting():
        assert cache.get({"x": 1, "flag": False}) == 2
    assert calls[0] == 3  # the setting and its two neighbours, while the reader waited
    ahead = ({"x": 6, "flag": False}, {"x": 1, "flag": True})
    deadline = time.monotonic() + 10
    while not all(cache._key(setting) in cache._results for setting in ahead):
        assert time.monotonic() < deadline, "the cache did not compute ahead within 10 s"
        time.sleep(0.01)
    count = len(calls)
    assert cache.get({"x": 6, "flag": False}) == 12 and cache.get({"x": 1, "flag": True}) == 3
    assert len(calls) == count  # served from what was computed ahead


def test_decay_rates_reach_both_ends_and_each_step_lengthens_the_memory_alike():
    from course_lib.interactive.explorer import decay_rates

    for low, high, count in ((0.9, 0.9999, 31), (0.0, 0.999, 31), (0.9, 0.999999, 51)):
        rates = decay_rates(low, high)
        assert (rates[0], rates[-1], len(set(rates)), len(rates)) == (low, high, count, count)
        memories = 1 / (1 - np.array(rates))
        assert np.all(memories[1:] / memories[:-1] >= 1.2 - 1e-9) and np.all(memories[1:] / memories[:-1] < 1.34)


def test_drag_cache_computes_each_slider_as_far_ahead_as_it_is_told():
    """``far``: how many steps out the thread computes each slider (a drag skips positions)."""
    import ipywidgets

    batches = []

    def compute(batch):
        batches.append(sorted(setting["x"] for setting in batch))
        return [setting["x"] * 2 for setting in batch]

    controls = {"x": ipywidgets.SelectionSlider(options=list(range(1, 40)))}
    for far, ahead in ((DragCache.FAR, [15, 16, 17, 23, 24, 25]), (10, [*range(10, 18), *range(23, 31)])):
        batches.clear()
        cache = DragCache(controls, ("x",), compute, far=far)
        with DragCache.reader_waiting():
            assert cache.get({"x": 20}) == 40
        deadline = time.monotonic() + 10
        while len(batches) < 2:
            assert time.monotonic() < deadline, "the cache did not compute ahead within 10 s"
            time.sleep(0.01)
        time.sleep(0.1)
        assert batches == [[18, 19, 20, 21, 22], ahead]


def test_drag_cache_asked_not_to_wait_answers_none_and_computes_that_setting_first():
    import ipywidgets

    calls = []

    def compute(batch):
        calls.append([setting["x"] for setting in batch])
        return [setting["x"] * 2 for setting in batch]

    controls = {"x": ipywidgets.SelectionSlider(options=list(range(1, 10)))}
    cache = DragCache(controls, ("x",), compute, reach=0)
    with DragCache.reader_waiting():
        assert cache.get({"x": 5}, wait=False) is None
        assert calls == [] and not cache.known({"x": 5})  # nothing computed while the reader waits
    deadline = time.monotonic() + 10
    while not cache.known({"x": 5}):
        assert time.monotonic() < deadline, "the cache did not compute the setting within 10 s"
        time.sleep(0.01)
    assert calls[0] == [5]  # before anything ahead of it
    assert cache.get({"x": 5}, wait=False) == 10 and cache.get({"x": 5}) == 10


def test_a_reader_who_does_not_wait_stops_what_the_thread_computes_ahead():
    """The thread drops a setting it computes ahead, at its next call of the course's code, when the
    reader asks without waiting for another: that one comes first, at once."""
    import threading

    import ipywidgets

    from course_lib import averages
    from course_lib.interactive.drag_cache import OneAtATime

    started, stop_holding = [], threading.Event()

    def compute(batch):
        started.append([setting["x"] for setting in batch])
        while batch[0]["x"] == 2 and not stop_holding.is_set():  # a long computation ahead
            averages.ewa(np.ones(3), 0.5)
            time.sleep(0.001)
        return [setting["x"] * 2 for setting in batch]

    controls = {"x": ipywidgets.SelectionSlider(options=list(range(1, 10)))}
    cache = OneAtATime(controls, ("x",), compute, reach=0)
    try:
        with DragCache.reader_waiting():
            assert cache.get({"x": 1}) == 2
        deadline = time.monotonic() + 10
        while [2] not in started:  # the thread computes x = 2 ahead, and holds there
            assert time.monotonic() < deadline, "the thread did not compute ahead within 10 s"
            time.sleep(0.01)
        with DragCache.reader_waiting():
            assert cache.get({"x": 7}, wait=False) is None
        while not cache.known({"x": 7}):
            assert time.monotonic() < deadline, "the reader's setting was not computed within 10 s"
            time.sleep(0.01)
        assert started[started.index([2]) + 1] == [7] and not cache.known({"x": 2})
    finally:
        stop_holding.set()


@pytest.mark.parametrize("one_at_a_time", [True, False])
def test_the_thread_computes_what_nobody_waits_for_gently_one_setting_at_a_time(one_at_a_time):
    """A OneAtATime cache's thread rests now and then while it computes ahead (GENTLE), not while
    it computes the setting a reader waits for; a batched cache's never rests."""
    import ipywidgets

    from course_lib.interactive.drag_cache import OneAtATime

    gentle = {}

    def compute(batch):
        gentle.update((setting["x"], cache._gentle) for setting in batch)
        return [setting["x"] * 2 for setting in batch]

    controls = {"x": ipywidgets.SelectionSlider(options=list(range(1, 10)))}
    cache = (OneAtATime if one_at_a_time else DragCache)(controls, ("x",), compute, reach=0)
    with DragCache.reader_waiting():
        assert cache.get({"x": 5}, wait=False) is None
    deadline = time.monotonic() + 10
    while not all(cache.known({"x": x}) for x in (4, 5, 6)):
        assert time.monotonic() < deadline, "not computed within 10 s"
        time.sleep(0.01)
    assert gentle[5] is False and gentle[4] is gentle[6] is one_at_a_time


@pytest.mark.parametrize("name", sorted(set(EXPLORERS) - {"ShowdownExplorer"}))  # that one needs a finished sweep
def test_what_an_update_moves_is_in_the_saved_picture_too(name):
    """matplotlib leaves animated artists out of a normal draw, and out of a saved picture too unless
    an Axes draws them: each foreground artist must belong to an Axes, or the PNG shown on GitHub
    would lack it."""
    explorer = EXPLORERS[name]()
    assert explorer.canvas.foreground
    assert all(artist.axes in explorer.axes for artist in explorer.canvas.foreground)


# --- sliders take only the values on their grid ------------------------------------------------------

SLIDERS = ("SelectionSlider", "FloatSlider", "IntSlider", "FloatLogSlider")
_BUILT = {}


def built(name):
    """One default explorer per class for the tests below (some take seconds to build)."""
    if name not in _BUILT:
        _BUILT[name] = EXPLORERS[name]()
    return _BUILT[name]


def sliders(explorer) -> dict:
    return {name: control for name, control in explorer.controls.items() if type(control).__name__ in SLIDERS}


def where_the_browser_puts(control, value):
    """The value a slider's view in the browser shows for ``value`` (and sends back if it differs)."""
    import ipywidgets

    if isinstance(control, ipywidgets.SelectionSlider):
        options = [option[1] for option in control.options]
        return options[min(range(len(options)), key=lambda i: abs(options[i] - value))]
    if isinstance(control, ipywidgets.FloatLogSlider):
        position = np.log(value) / np.log(control.base)
        return control.base ** (control.min + round((position - control.min) / control.step) * control.step)
    return control.min + round((value - control.min) / control.step) * control.step


def label_names(label: str, value: float) -> bool:
    """Whether a slider's label shows its value: to 3 significant digits, or exactly (as a decimal
    or as a power "b^k")."""
    if "^" in label:
        base, exponent = label.split("^")
        return float(base) ** int(exponent) == value
    return label == f"{value:.3g}" or float(label) == value


@pytest.mark.parametrize("name", sorted(set(EXPLORERS) - {"ShowdownExplorer"}))  # drop-downs only, over a sweep
def test_every_slider_starts_on_its_grid_so_the_browser_does_not_move_it(name):
    import ipywidgets

    explorer = built(name)
    assert sliders(explorer), f"{name} has no slider"
    for slider, control in sliders(explorer).items():
        assert not isinstance(control, ipywidgets.FloatLogSlider), \
            f"{name}.{slider}: a FloatLogSlider moves values to base**(min + k·step); use log_slider"
        if isinstance(control, ipywidgets.SelectionSlider):
            labels = [option[0] for option in control.options]
            assert all(label_names(label, value) for label, value in control.options), labels
            assert control.value in [option[1] for option in control.options]
        else:
            assert where_the_browser_puts(control, control.value) == pytest.approx(control.value, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", sorted(set(EXPLORERS) - {"ShowdownExplorer"}))
def test_a_value_between_grid_points_is_refused_naming_the_slider_and_its_neighbours(name):
    import ipywidgets

    explorer = built(name)
    before = explorer.describe()
    for slider, control in sliders(explorer).items():
        if isinstance(control, ipywidgets.SelectionSlider):
            low, high = control.options[0][1], control.options[1][1]
            between = float(np.sqrt(low * high)) if low > 0 else (low + high) / 2  # (a grid from 0: ρ)
            neighbours = (f"{low:.6g}", f"{high:.6g}")
        elif isinstance(control, ipywidgets.IntSlider):
            continue  # an int is always on a step-1 grid; a float is refused as not an int
        else:
            low, high = control.min, control.min + control.step
            between, neighbours = (low + high) / 2, (f"{low:.6g}", f"{high:.6g}")
        with pytest.raises(ValueError) as raised:
            explorer.set(**{slider: between})
        message = str(raised.value)
        assert f"{slider}={between!r}" in message and "slider" in message and "nearest" in message, message
        assert all(value in message for value in neighbours), message
        assert explorer.describe() == before


def test_a_float_sliders_value_from_the_browser_is_put_on_its_round_grid_point():
    """The browser adds slider steps in binary floating point: from 0.9, one step of 0.01 sends
    0.9100000000000001. The explorer keeps and uses 0.91, the value the reader sees."""
    import ipywidgets

    checked = []
    for name in sorted(set(EXPLORERS) - {"ShowdownExplorer"}):
        explorer = built(name)
        for slider, control in sliders(explorer).items():
            if type(control) is not ipywidgets.FloatSlider:
                continue
            start = control.value
            step = control.step if start + control.step <= control.max else -control.step
            sent = float(np.nextafter(start + step, np.inf))  # one ulp off the grid point, as a browser may send
            control.value = sent
            assert control.value == float(f"{start + step:.12g}") != sent, (name, slider, control.value)
            assert "0000000" not in explorer.describe(), explorer.describe()
            explorer.set(**{slider: start})
            checked.append(f"{name}.{slider}")
    assert checked, "no explorer has a FloatSlider: this test checks nothing"


def test_the_notebooks_values_are_slider_positions_and_stay_exact():
    """The values the notebooks and their text use: 0.036 and κ = 50 (02), 0.03 (10), 2⁻² (08)."""
    explorer = momentum.MomentumExplorer(lr=0.036, beta=0.7, condition=50)
    assert (explorer.controls["lr"].value, explorer.controls["condition"].value) == (0.036, 50.0)
    assert explorer.axes[0].get_title() == "ill-conditioned bowl (κ = 50)"
    assert "lr=0.036" in explorer.describe() and "condition=50," in explorer.describe()
    explorer.set(condition=56.0, lr=0.001)
    assert explorer.controls["condition"].value == 56.0
    with pytest.raises(ValueError, match=r"condition=50.1187 is not a position of the condition slider; "
                                         r"the nearest are 50 and 56"):
        explorer.set(condition=50.1187)


# --- figures: status lines clear of the curves, a diverged run does not push the others away -----------

def curve_points_inside(ax, boxes) -> int:
    """Vertices of the axes' lines, sampled along each segment, that fall in any of ``boxes``."""
    count = 0
    for line in ax.lines:
        x, y = (np.asarray(values, float) for values in line.get_data())
        if len(x) < 2:
            continue
        t = np.linspace(0, 1, 8)[:, None]
        xs, ys = (x[:-1] + t * np.diff(x)).ravel(), np.exp(np.log(y[:-1]) + t * np.diff(np.log(y))).ravel()
        points = ax.transData.transform(np.column_stack([xs, ys]))
        points = points[np.isfinite(points).all(axis=1)]
        for box in boxes:
            count += int(np.sum((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
                                & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)))
    return count


@pytest.mark.parametrize("settings", [dict(lr=0.036, beta=0.7, condition=50), dict(lr=0.05, beta=0.7, condition=50),
                                      dict(lr=0.01, beta=0.9, condition=10), dict(lr=0.2, beta=0.5, condition=2)])
def test_momentum_loss_curves_stay_clear_of_the_status_lines_and_a_diverged_run_leaves_the_rest_in_view(settings):
    explorer = momentum.MomentumExplorer(**settings)
    losses = explorer.axes[1]
    explorer.figure.draw_without_rendering()
    boxes = [text.get_window_extent() for text in losses.texts if text.get_text()]
    assert curve_points_inside(losses, boxes) == 0
    bottom, top = losses.get_ylim()
    for line, result in zip(losses.lines, explorer.results.values()):
        curve = line.get_ydata()[np.isfinite(line.get_ydata())]
        if result.diverged_at is None:
            assert curve.max() < top  # the whole curve, down to 12 decades below the top
            assert curve[0] > bottom
        else:
            assert len(line.get_ydata()) == explorer.steps + 1 and np.isnan(line.get_ydata()[result.diverged_at:]).all()
    if any(result.diverged_at is not None for result in explorer.results.values()):
        converging = [line.get_ydata() for line, result in zip(losses.lines, explorer.results.values())
                      if result.diverged_at is None]
        assert all((curve[:20] > bottom).all() for curve in converging)  # not pushed off by the blow-up


def test_the_saddle_escape_label_has_room_above_its_line_and_below_the_top():
    from course_lib.lessons.saddles import explorer as saddles

    explorer = saddles.SaddleExplorer()
    escape = explorer.axes[1]
    explorer.figure.draw_without_rendering()
    label = explorer._escape_label.get_window_extent()
    frame = escape.get_window_extent()
    line_y = escape.transData.transform((0, saddles.ESCAPE_THRESHOLD))[1]
    assert label.y0 > line_y  # above its dotted line
    assert frame.y1 - label.y1 > 0.05 * frame.height  # not against the top
