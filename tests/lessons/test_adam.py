"""Notebook 04 (Adam): the written-out forms of Adam, the vectorised Reddi–Kale–Kumar counterexample,
its explorer and the exercise checkers, checked against torch.optim and course_lib.optim."""

import base64
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import averages, optim
from course_lib.interactive.checking import check_function
from course_lib.lab import plots
from course_lib.lessons import adam as lesson
from course_lib.lessons.adam import experiments

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


# --- adam_forms ----------------------------------------------------------------------------------

def torch_adam_path(w, grads, **settings):
    parameter = torch.tensor(w, dtype=torch.float64)
    adam = torch.optim.Adam([parameter], **settings)
    path = []
    for grad in grads:
        parameter.grad = torch.tensor(grad, dtype=torch.float64)
        adam.step()
        path.append(parameter.detach().numpy().copy())
    return np.array(path)


@pytest.mark.parametrize("scale", [1e-7, 1e-3, 1.0, 1e3])
@pytest.mark.parametrize("lr, beta1, beta2, eps", [(1e-3, 0.9, 0.999, 1e-8), (0.1, 0.5, 0.99, 1e-4)])
def test_adam_step_is_torch_adam(scale, lr, beta1, beta2, eps):
    rng = np.random.default_rng(0)
    w, grads = rng.normal(size=4), scale * rng.normal(size=(60, 4))
    m = v = np.zeros(4)
    ours = []
    x = w.copy()
    for t, grad in enumerate(grads, 1):
        x, m, v = lesson.adam_step(x, m, v, grad, t, lr, beta1, beta2, eps)
        ours.append(x)
    np.testing.assert_allclose(ours, torch_adam_path(w, grads, lr=lr, betas=(beta1, beta2), eps=eps),
                               rtol=1e-12, atol=1e-14)


def test_the_efficient_order_is_algorithm_1_only_with_the_scaled_eps():
    rng = np.random.default_rng(1)
    grads = 1e-6 * rng.normal(size=(50, 3))
    a = e = f = np.zeros(3)
    state = {name: (np.zeros(3), np.zeros(3)) for name in "aef"}
    for t, grad in enumerate(grads, 1):
        a, *state["a"] = lesson.adam_step(a, *state["a"], grad, t)
        e, *state["e"] = lesson.adam_step_efficient(e, *state["e"], grad, t,
                                                         eps_hat=lesson.efficient_eps(1e-8, 0.999, t))
        f, *state["f"] = lesson.adam_step_efficient(f, *state["f"], grad, t)
    np.testing.assert_allclose(e, a, rtol=1e-12)
    assert np.max(np.abs(f - a)) > 1e-6 * np.max(np.abs(a))


def test_first_step_with_tiny_gradients_efficient_form_is_about_0_77_of_algorithm_1():
    zero, grad = np.zeros(1), np.array([1e-6])
    algorithm_1 = lesson.adam_step(zero, zero, zero, grad, 1)[0]
    efficient = lesson.adam_step_efficient(zero, zero, zero, grad, 1)[0]
    inside = lesson.adam_step_eps_inside_root(zero, zero, zero, grad, 1)[0]
    assert efficient / algorithm_1 == pytest.approx(0.767, abs=1e-3)
    assert -efficient / 1e-3 == pytest.approx(0.760, abs=1e-3)
    assert -inside / 1e-3 == pytest.approx(0.01, rel=1e-3)


def test_uncorrected_steps_are_longer_by_the_ratio_of_the_corrections():
    w = m = v = wu = mu = vu = np.zeros(1)
    for t in range(1, 40):
        w_new, m, v = lesson.adam_step(w, m, v, np.ones(1), t)
        wu_new, mu, vu = lesson.adam_step_uncorrected(wu, mu, vu, np.ones(1), t)
        ratio = ((wu - wu_new) / (w - w_new)).item()
        assert ratio == pytest.approx((1 - 0.9**t) / np.sqrt(1 - 0.999**t), rel=1e-6)
        w, wu = w_new, wu_new


# --- counterexamples -----------------------------------------------------------------------------

def stepped(library, gradients, rates, beta1, beta2, amsgrad, eps=1e-8, start=0.0):
    """x_0 … x_T of a real optimizer, one step at a time, lr set before and the clip after each step."""
    x = np.array([start])
    if library == "torch":
        tensor = torch.from_numpy(x)
        adam = torch.optim.Adam([tensor], lr=1.0, betas=(beta1, beta2), eps=eps, amsgrad=amsgrad)
    else:
        adam = optim.Adam([x], lr=1.0, betas=(beta1, beta2), eps=eps, amsgrad=amsgrad)
    path = [start]
    for g, lr in zip(gradients, np.broadcast_to(rates, gradients.shape)):
        if library == "torch":
            adam.param_groups[0]["lr"] = float(lr)
            tensor.grad = torch.tensor([g], dtype=torch.float64)
            adam.step()
        else:
            adam.lr = float(lr)
            adam.step([np.array([g])])
        np.clip(x, -1, 1, out=x)
        path.append(x.item())
    return np.array(path)


@pytest.mark.parametrize("library", ["torch", "course_lib"])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("schedule", ["inverse_sqrt", "constant"])
def test_online_adam_is_adam_stepped_and_clipped(library, amsgrad, schedule):
    steps = 707
    gradients = lesson.reddi_gradients(steps)
    rates = lesson.inverse_sqrt_lr(0.5, steps) if schedule == "inverse_sqrt" else 0.01
    betas2 = np.array([0.9, 0.99, 0.999])
    fast = lesson.online_adam(gradients, rates, beta2=betas2, amsgrad=amsgrad)
    assert fast.shape == (steps + 1, 3)
    for column, beta2 in enumerate(betas2):
        slow = stepped(library, gradients, rates, 0.9, beta2, amsgrad)
        np.testing.assert_allclose(fast[:, column], slow, rtol=0, atol=1e-12)


def test_online_adam_on_random_gradients_and_start_and_a_beta1_sweep():
    rng = np.random.default_rng(3)
    gradients = rng.normal(size=300) * rng.choice([1e-3, 1.0, 30.0], size=300)
    betas1 = np.array([0.0, 0.5, 0.9])
    fast = lesson.online_adam(gradients, 0.05, beta1=betas1, beta2=0.999, start=0.3)
    for column, beta1 in enumerate(betas1):
        np.testing.assert_allclose(fast[:, column], stepped("torch", gradients, 0.05, beta1, 0.999, False, start=0.3),
                                   rtol=0, atol=1e-12)


def test_online_sgd_is_projected_gradient_descent():
    steps = 600
    gradients = lesson.reddi_gradients(steps)
    rates = lesson.inverse_sqrt_lr(0.5, steps)
    x, expected = 0.0, [0.0]
    for g, lr in zip(gradients, rates):
        x = min(1.0, max(-1.0, x - lr * g))
        expected.append(x)
    np.testing.assert_allclose(lesson.online_sgd(gradients, rates), expected, rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 400), st.integers(1, 50), st.floats(-1, 1), st.integers(0, 2**31 - 1))
def test_projected_cumsum_is_the_clipped_loop_for_any_block_size(length, block, start, seed):
    increments = np.random.default_rng(seed).normal(scale=0.4, size=(length, 2))
    x, expected = np.full(2, start), [np.full(2, start)]
    for d in increments:
        x = np.clip(x + d, -1, 1)
        expected.append(x)
    for size in (None, block):
        np.testing.assert_allclose(lesson.projected_cumsum(increments, start, block=size), expected,
                                   rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 400), st.integers(1, 50), st.floats(0, 0.9999), st.integers(0, 2**31 - 1))
def test_ewa_over_time_is_the_ewa_for_any_block_size(length, block, beta, seed):
    values = np.random.default_rng(seed).normal(size=length)
    for size in (None, block):
        np.testing.assert_allclose(lesson.ewa_over_time(values, beta, block=size),
                                   averages.ewa(values, beta), rtol=1e-10, atol=1e-12)


def test_the_gradients_sum_to_plus_10_per_period_and_the_stochastic_ones_are_seeded():
    g = lesson.reddi_gradients(303)
    assert g[0] == 1010 and g[101] == 1010 and g[1] == -10 and g[100] == -10
    assert g[:101].sum() == 10
    a, b = (lesson.reddi_stochastic_gradients(1000, seed=5) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {1010.0, -10.0}
    with pytest.raises(ValueError, match="steps must be >= 1"):
        lesson.reddi_gradients(0)


def test_the_measured_outcome_over_500k_steps():
    """Reddi et al.'s Figure 1 shows Adam going to +1 and AMSGrad to −1 (β₂ = 0.99); the tail means
    measured here: Adam +0.998, AMSGrad −0.998 (α/√t); Adam +0.97, AMSGrad −0.98 (lr 0.01);
    β₂ = 0.999 near 0 and 0.9999 at −1 under α/√t. SGD: −1 + 250/√t under α/√t, 80/101 at lr 0.01."""
    steps = 500_000
    g = lesson.reddi_gradients(steps)
    rates = lesson.inverse_sqrt_lr(0.5, steps)
    adam = lesson.tail_mean(lesson.online_adam(g, rates, beta2=np.array([0.99, 0.999, 0.9999])))
    assert adam[0] == pytest.approx(0.998, abs=1e-3) and abs(adam[1]) < 0.05 and adam[2] == pytest.approx(-0.998, abs=1e-3)
    assert lesson.tail_mean(lesson.online_adam(g, rates, amsgrad=True)) == pytest.approx(-0.998, abs=1e-3)
    assert lesson.tail_mean(lesson.online_adam(g, 0.01)) == pytest.approx(0.97, abs=5e-3)
    assert lesson.tail_mean(lesson.online_adam(g, 0.01, amsgrad=True)) == pytest.approx(-0.98, abs=5e-3)
    tail = np.arange(int(0.9 * steps), steps + 1)
    assert lesson.tail_mean(lesson.online_sgd(g, rates)) == pytest.approx(-1 + 250 * np.mean(tail**-0.5), abs=2e-3)
    assert lesson.tail_mean(lesson.online_sgd(g, 0.01)) == pytest.approx(80 / 101, abs=2e-3)


# --- Adam and AMSGrad together, for the explorer ----------------------------------------------------

def schedule_rates(schedule, steps):
    return lesson.inverse_sqrt_lr(0.5, steps) if schedule == "inverse_sqrt" else 0.01


@pytest.mark.parametrize("schedule", ["inverse_sqrt", "constant"])
def test_adam_and_amsgrad_are_online_adam_and_adam_moves_to_the_last_bit(schedule):
    steps = 50_000                                       # 1 − β₂ᵗ rounds to 1 before the end for β₂ ≤ 0.999
    g = lesson.reddi_gradients(steps)
    rates = schedule_rates(schedule, steps)
    runs = lesson.AdamAndAMSGrad(g, rates)
    for beta2 in (0.9, 0.99, 0.995, 0.999, 0.9999):
        paths, denominators = runs.run(beta2)
        moves, moves_denominators = runs.moves(beta2)
        assert paths.shape == (steps + 1, 2) and denominators.shape == moves.shape == (steps, 2)
        for column, amsgrad in enumerate((False, True)):
            expected_moves, expected_denominators = lesson.adam_moves(g, rates, beta2=beta2, amsgrad=amsgrad)
            np.testing.assert_array_equal(moves[:, column], expected_moves)
            np.testing.assert_array_equal(moves_denominators[:, column], expected_denominators)
            np.testing.assert_array_equal(denominators[:, column], expected_denominators)
            np.testing.assert_array_equal(paths[:, column], lesson.online_adam(g, rates, beta2=beta2,
                                                                                        amsgrad=amsgrad))


@pytest.mark.parametrize("schedule", ["inverse_sqrt", "constant"])
def test_adam_and_amsgrad_with_other_blocks_differ_only_by_rounding(schedule):
    steps = 5_000
    g = lesson.reddi_gradients(steps)
    rates = schedule_rates(schedule, steps)
    reference = lesson.AdamAndAMSGrad(g, rates)
    for block in (1, 37, 5_000):
        runs = lesson.AdamAndAMSGrad(g, rates, block=block)
        for beta2 in (0.99, 0.999):
            for ours, expected in zip(runs.run(beta2), reference.run(beta2)):
                np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("schedule", ["inverse_sqrt", "constant"])
def test_adam_and_amsgrad_are_torch_adam_stepped_and_clipped(schedule):
    steps = 707
    g = lesson.reddi_gradients(steps)
    rates = schedule_rates(schedule, steps)
    runs = lesson.AdamAndAMSGrad(g, rates)
    for beta2 in (0.99, 0.999):
        paths = runs.run(beta2).paths
        for column, amsgrad in enumerate((False, True)):
            np.testing.assert_allclose(paths[:, column], stepped("torch", g, rates, 0.9, beta2, amsgrad),
                                       rtol=0, atol=1e-12)


def test_adam_and_amsgrad_on_random_gradients_a_start_and_other_bounds():
    rng = np.random.default_rng(4)
    g = rng.normal(size=900) * rng.choice([1e-3, 1.0, 30.0], size=900)
    runs = lesson.AdamAndAMSGrad(g, 0.05, beta1=0.5, eps=1e-6)
    paths = runs.run(0.9, start=0.3, low=-0.5, high=2.0).paths
    for column, amsgrad in enumerate((False, True)):
        np.testing.assert_array_equal(paths[:, column], lesson.online_adam(
            g, 0.05, beta1=0.5, beta2=0.9, eps=1e-6, amsgrad=amsgrad, start=0.3, low=-0.5, high=2.0))


def test_adam_and_amsgrad_results_are_not_overwritten_by_the_next_call():
    g = lesson.reddi_gradients(2_000)
    runs = lesson.AdamAndAMSGrad(g, 0.01)
    first = runs.run(0.99)
    kept = [array.copy() for array in first]
    runs.run(0.9999)
    runs.moves(0.9)
    for array, copy in zip(first, kept):
        np.testing.assert_array_equal(array, copy)
    with pytest.raises(ValueError, match="beta2 must be a number"):
        runs.run(np.array([0.99, 0.999]))
    with pytest.raises(ValueError, match="gradients must have shape"):
        lesson.AdamAndAMSGrad(g.reshape(2, -1), 0.01)


def test_adam_and_amsgrad_write_into_an_earlier_result_when_asked():
    g = lesson.reddi_gradients(2_000)
    runs = lesson.AdamAndAMSGrad(g, lesson.inverse_sqrt_lr(0.5, 2_000))
    earlier = runs.run(0.99)
    again = runs.run(0.999, out=earlier)
    assert all(array is kept for array, kept in zip(again, earlier))
    for array, fresh in zip(again, runs.run(0.999)):
        np.testing.assert_array_equal(array, fresh)
    with pytest.raises(ValueError, match="contiguous columns"):
        runs.run(0.99, out=lesson.AdamRuns(np.zeros((2_001, 2)), np.zeros((2_000, 2))))


def test_adam_and_amsgrad_give_the_measured_outcome_over_500k_steps():
    steps = 500_000
    g = lesson.reddi_gradients(steps)
    paths = lesson.AdamAndAMSGrad(g, lesson.inverse_sqrt_lr(0.5, steps)).run(0.99).paths
    np.testing.assert_allclose(lesson.tail_mean(paths), [0.998, -0.998], atol=1e-3)
    paths = lesson.AdamAndAMSGrad(g, 0.01).run(0.99).paths
    np.testing.assert_allclose(lesson.tail_mean(paths), [0.97, -0.98], atol=5e-3)


def test_power_is_exp_of_t_log_beta_and_zero_where_it_underflows():
    t = np.arange(1, 200_001).reshape(-1, 1)
    betas = np.array([0.0, 0.5, 0.9, 0.99, 0.9999])
    with np.errstate(divide="ignore", under="ignore"):
        expected = np.exp(t * np.log(betas))
    ours = experiments._power(betas, t)
    np.testing.assert_array_equal(ours, expected)
    assert (ours[:, 1] == 0).sum() > 190_000                 # most of 0.5ᵗ is set without exp
    last = 60 * np.log(2) / -np.log(betas[1:])              # beyond it, 1 − βᵗ is 1 to the last bit
    assert all(np.all(1 - ours[t[:, 0] > bound, column + 1] == 1.0) for column, bound in enumerate(last))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.integers(1, 40), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_running_max_blocks_is_the_running_maximum(length, block, width, seed):
    values = np.random.default_rng(seed).normal(size=(length, width))
    blocked = experiments._to_blocks(values, block)
    np.testing.assert_array_equal(experiments._from_blocks(blocked, length), values)
    ours = experiments._from_blocks(experiments._running_max_blocks(blocked), length)
    np.testing.assert_array_equal(ours, np.maximum.accumulate(values, axis=0))


# --- optimizer state ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, make, arrays, torch_make", [
    ("SGD", lambda p: optim.SGD(p, lr=0.1), 0, lambda p: torch.optim.SGD(p, lr=0.1)),
    ("momentum", lambda p: optim.SGD(p, lr=0.1, momentum=0.9), 1, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("RMSprop", lambda p: optim.RMSprop(p), 1, lambda p: torch.optim.RMSprop(p)),
    ("Adam", lambda p: optim.Adam(p), 2, lambda p: torch.optim.Adam(p)),
    ("AMSGrad", lambda p: optim.Adam(p, amsgrad=True), 3, lambda p: torch.optim.Adam(p, amsgrad=True)),
])
def test_state_arrays_per_parameter_match_torch(name, make, arrays, torch_make):
    params = [np.zeros((5, 3), dtype=np.float32), np.zeros(3, dtype=np.float32)]
    opt = make(params)
    opt.step([np.ones_like(p) for p in params])
    assert opt.state_nbytes() == arrays * sum(p.nbytes for p in params)
    tensors = [torch.zeros(p.shape) for p in params]
    torch_opt = torch_make(tensors)
    for tensor in tensors:
        tensor.grad = torch.ones_like(tensor)
    torch_opt.step()
    torch_arrays = [key for key, value in torch_opt.state[tensors[0]].items() if value.shape == tensors[0].shape]
    assert sorted(torch_arrays) == sorted(opt.state[0])


# --- the explorer ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def explorer():
    return lesson.AdamFailureExplorer(beta2=0.99, steps=200_000)


def test_explorer_builds_on_its_own_canvas(explorer):
    from ipympl.backend_nbagg import Canvas
    assert isinstance(explorer.canvas, Canvas) and explorer.canvas in explorer.widget.children


def test_set_moves_the_same_artists_to_the_new_runs(explorer):
    explorer.set(beta2=0.99, schedule="inverse_sqrt")
    lines = explorer.axes[0].get_lines() + explorer.axes[1].get_lines()
    adam_line = explorer._lines["Adam"]
    before = adam_line.get_ydata().copy()
    explorer.set(beta2=0.9999)
    assert explorer.axes[0].get_lines() + explorer.axes[1].get_lines() == lines
    assert not np.array_equal(adam_line.get_ydata(), before)
    g = lesson.reddi_gradients(200_000)
    expected = lesson.online_adam(g, lesson.inverse_sqrt_lr(0.5, 200_000), beta2=0.9999)
    np.testing.assert_array_equal(adam_line.get_xdata(), np.arange(101, 200_001, 101))
    np.testing.assert_array_equal(adam_line.get_ydata(), expected[1:1 + 1980 * 101].reshape(1980, 101).mean(axis=1))
    assert adam_line.get_color() == plots.OPTIMIZER_COLORS["Adam"]
    assert explorer.axes[0].get_title(loc="left") == "β₂ = 0.9999"
    assert explorer.axes[0].get_title(loc="right") == "lr α/√t, α = 0.5"


def legend_texts(explorer):
    return [text.get_text() for text in explorer.axes[0].get_legend().get_texts()]


def test_explorer_says_when_adam_ends_at_the_worst_point(explorer):
    explorer.set(beta2=0.99, schedule="inverse_sqrt")
    texts = legend_texts(explorer)
    assert texts[0].startswith("Adam  +0.99") and texts[1].startswith("AMSGrad  −0.99")  # worst point, best point
    explorer.set(beta2=0.9999)
    assert legend_texts(explorer)[0].startswith("Adam  −0.99")
    explorer.set(beta2=0.99, schedule="constant")
    assert explorer.final["Adam"] > 0.9 and explorer.final["AMSGrad"] < -0.9
    assert legend_texts(explorer) == [f"{name}  {value:+.3f}".replace("-", "−") for name, value in explorer.final.items()]
    assert explorer.axes[0].get_title(loc="left") == "β₂ = 0.99"
    assert explorer.axes[0].get_title(loc="right") == "lr constant 0.01"
    for beta2, title in ((0.9, "β₂ = 0.9"), (0.999, "β₂ = 0.999"), (0.9995, "β₂ = 0.9995")):
        explorer.set(beta2=beta2)
        assert explorer.axes[0].get_title(loc="left") == title


def test_both_legends_sit_in_one_row_below_their_axes_inside_the_figure(explorer):
    explorer.set(beta2=0.99, schedule="inverse_sqrt")
    explorer.canvas.render()
    figure = explorer.figure.bbox
    legends = [ax.get_legend().get_window_extent() for ax in explorer.axes]
    for ax, legend in zip(explorer.axes, legends):
        assert legend.y1 <= ax.xaxis.label.get_window_extent().y0 and legend.y0 >= figure.y0 - 1
        assert legend.x0 >= figure.x0 - 1 and legend.x1 <= figure.x1 + 1
        entries = [text.get_window_extent() for text in ax.get_legend().get_texts()]
        assert max(entry.y0 for entry in entries) - min(entry.y0 for entry in entries) < 1   # one row
    assert abs(legends[0].y0 - legends[1].y0) < 2


def test_a_move_that_changes_only_curves_and_legend_texts_keeps_the_background(explorer):
    """The legend's texts are redrawn on the kept background, like the curves: a change of its
    numbers alone must not make the canvas draw the axes again."""
    explorer.set(beta2=0.99, schedule="inverse_sqrt")
    checked = 0
    for beta2 in explorer.BETA2S[explorer.BETA2S.index(0.99) + 1:]:
        explorer.canvas.render()  # the background kept, as after a draw
        texts, limits = legend_texts(explorer), explorer.axes[1].get_ylim()
        explorer.set(beta2=beta2)
        if legend_texts(explorer) != texts and explorer.axes[1].get_ylim() == limits:
            assert explorer.canvas.background_is_kept(), f"β₂ = {beta2}: the background was dropped"
            checked += 1
    assert checked >= 3, "too few moves changed the legend alone: this test checks little"


def test_the_denominator_panel_shows_adams_forgetting(explorer):
    explorer.set(beta2=0.99, schedule="inverse_sqrt")
    adam, amsgrad = (explorer._denominator_lines[name].get_ydata() for name in ("Adam", "AMSGrad"))
    assert np.ptp(amsgrad) < 1e-6 * amsgrad.max()           # the maximum stays
    assert adam.min() < 0.7 * adam.max()                   # Adam's falls between the large gradients


def test_the_mimebundle_is_the_widget_a_stable_line_and_a_png(explorer):
    explorer.set(beta2=0.99, schedule="inverse_sqrt")
    bundle = explorer._repr_mimebundle_()
    assert set(bundle) == {WIDGET_VIEW, "text/plain", "image/png"}
    assert bundle["text/plain"] == "AdamFailureExplorer: beta2=0.99, schedule=inverse_sqrt, steps=200000"
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")


def test_the_beta2_slider_steps_evenly_in_the_memory_and_holds_the_values_the_notebook_names(explorer):
    slider = explorer.controls["beta2"]
    labels, values = zip(*slider.options)
    memories = 1 / (1 - np.array(values))
    assert values[0] == 0.9 and values[-1] == 0.9999 and len(values) == 31
    assert np.all(np.diff(memories) > 0) and np.ptp(np.log10(memories)) == pytest.approx(3)
    ratios = memories[1:] / memories[:-1]
    assert ratios.min() > 1.15 and ratios.max() < 1.35       # ten steps a decade, none much longer
    for beta2 in (0.99, 0.998, 0.999, 0.9995, 0.9999):      # as written: the browser sends these very numbers
        assert beta2 in values and labels[values.index(beta2)] == str(beta2)
    assert all(float(label) == value for label, value in slider.options)


def test_bad_settings_raise_and_change_nothing(explorer):
    explorer.set(beta2=0.99, schedule="inverse_sqrt")
    data = explorer._lines["Adam"].get_ydata().copy()
    for values, error, words in [({"beta2": 0.5}, ValueError, ["beta2", "0.5"]),
                                 ({"schedule": "cosine"}, ValueError, ["schedule", "'cosine'"]),
                                 ({"beta2": "0.99"}, TypeError, ["beta2"]),
                                 ({"lr": 0.1}, ValueError, ["lr"])]:
        with pytest.raises(error) as raised:
            explorer.set(**values)
        assert all(word in str(raised.value) for word in words)
        np.testing.assert_array_equal(explorer._lines["Adam"].get_ydata(), data)
    with pytest.raises(ValueError, match="steps must be at least 303"):
        lesson.AdamFailureExplorer(steps=100)


# --- the exercises --------------------------------------------------------------------------------

ADAM_EXERCISES = [lesson.ADAM_UPDATE_EXERCISE, lesson.ADAM_STATE_EXERCISE, lesson.EFFICIENT_EPS_EXERCISE]


def test_adam_update_reference_is_torch_adam_from_the_same_state():
    for case in lesson.ADAM_UPDATE_EXERCISE.cases:
        if case["t"] == 1:
            continue
        W_new, b_new = lesson.adam_update_reference(*case.values())
        for param, grad, V, S, new in (("W", "dW", "V_dW", "S_dW", W_new), ("b", "db", "V_db", "S_db", b_new)):
            tensor = torch.tensor(case[param])
            adam = torch.optim.Adam([tensor], lr=case["lr"], betas=(case["beta1"], case["beta2"]), eps=case["eps"])
            adam.state[tensor] = {"step": torch.tensor(float(case["t"] - 1)), "exp_avg": torch.tensor(case[V]),
                                  "exp_avg_sq": torch.tensor(case[S])}
            tensor.grad = torch.tensor(case[grad])
            adam.step()
            np.testing.assert_allclose(new, tensor.numpy(), rtol=1e-12, atol=1e-15)


def test_adam_state_bytes_reference_is_what_the_optimizer_holds():
    for n, amsgrad in ((7, False), (50, True)):
        params = [np.zeros(n, dtype=np.float32)]
        adam = optim.Adam(params, amsgrad=amsgrad)
        adam.step([np.ones(n, dtype=np.float32)])
        assert lesson.adam_state_bytes_reference(n, 4, amsgrad) == adam.state_nbytes()


# The notebook's solutions, written as its collapsed solution cells write them.

def adam_update_solution(W, b, dW, db, V_dW, V_db, S_dW, S_db, t, lr, beta1, beta2, eps):
    V_dW = beta1 * V_dW + (1 - beta1) * dW
    V_db = beta1 * V_db + (1 - beta1) * db
    S_dW = beta2 * S_dW + (1 - beta2) * dW**2
    S_db = beta2 * S_db + (1 - beta2) * db**2
    V_dW_hat, V_db_hat = V_dW / (1 - beta1**t), V_db / (1 - beta1**t)
    S_dW_hat, S_db_hat = S_dW / (1 - beta2**t), S_db / (1 - beta2**t)
    W_new = W - lr * V_dW_hat / (np.sqrt(S_dW_hat) + eps)
    b_new = b - lr * V_db_hat / (np.sqrt(S_db_hat) + eps)
    return W_new, b_new


def adam_state_bytes_solution(n_parameters, bytes_per_number, amsgrad):
    arrays = 3 if amsgrad else 2        # m and v, and AMSGrad's running maximum of v
    return arrays * n_parameters * bytes_per_number


def efficient_eps_solution(eps, beta2, t):
    return eps * np.sqrt(1 - beta2**t)


def adam_update_in_place(W, b, dW, db, V_dW, V_db, S_dW, S_db, t, lr, beta1, beta2, eps):
    """A right answer that updates the state as torch does, in place."""
    for V, S, g in ((V_dW, S_dW, dW), (V_db, S_db, db)):
        V *= beta1
        V += (1 - beta1) * g
        S *= beta2
        S += (1 - beta2) * g * g
    W -= lr * (V_dW / (1 - beta1**t)) / (np.sqrt(S_dW / (1 - beta2**t)) + eps)
    b -= lr * (V_db / (1 - beta1**t)) / (np.sqrt(S_db / (1 - beta2**t)) + eps)
    return W, b


def adam_update_efficient(eps_hat_scaled):
    """The paper's efficient order: lr_t = lr·√(1−β₂ᵗ)/(1−β₁ᵗ), divided by √S + ε̂."""
    def adam_update(W, b, dW, db, V_dW, V_db, S_dW, S_db, t, lr, beta1, beta2, eps):
        lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        eps_hat = eps * np.sqrt(1 - beta2**t) if eps_hat_scaled else eps
        new = []
        for param, g, V, S in ((W, dW, V_dW, S_dW), (b, db, V_db, S_db)):
            V, S = beta1 * V + (1 - beta1) * g, beta2 * S + (1 - beta2) * g * g
            new.append(param - lr_t * V / (np.sqrt(S) + eps_hat))
        return tuple(new)
    return adam_update


@pytest.mark.parametrize("checker, answer", [
    (lesson.check_adam_update, lesson.adam_update_reference),
    (lesson.check_adam_update, adam_update_solution),
    (lesson.check_adam_update, adam_update_in_place),
    (lesson.check_adam_update, adam_update_efficient(eps_hat_scaled=True)),
    (lesson.check_adam_state_bytes, lesson.adam_state_bytes_reference),
    (lesson.check_adam_state_bytes, adam_state_bytes_solution),
    (lesson.check_efficient_eps, lesson.efficient_eps),
    (lesson.check_efficient_eps, efficient_eps_solution),
])
def test_right_answers_pass(checker, answer):
    result = checker(answer)
    assert result.passed and str(result).startswith("Correct!"), result.message


def learner_adam(eps_inside=False, correct=True, t_offset=0, b_with_V_dW=False, b_with_S_dW=False,
                 weights_squared=False, one_minus_beta=True, sign=-1):
    """A learner's Adam update written independently of the checker's mistakes."""
    def adam_update(W, b, dW, db, V_dW, V_db, S_dW, S_db, t, lr, beta1, beta2, eps):
        a1, a2 = (1 - beta1, 1 - beta2) if one_minus_beta else (1, 1)
        V_dW = beta1 * V_dW + a1 * dW
        V_db = beta1 * V_db + a1 * db
        S_dW = beta2 * S_dW + a2 * (W**2 if weights_squared else dW**2)
        S_db = beta2 * S_db + a2 * (b**2 if weights_squared else db**2)
        step = t + t_offset
        c1, c2 = (1 - beta1**step, 1 - beta2**step) if correct else (1.0, 1.0)
        root = (lambda S: np.sqrt(S / c2 + eps)) if eps_inside else (lambda S: np.sqrt(S / c2) + eps)
        W = W + sign * lr * (V_dW / c1) / root(S_dW)
        b = b + sign * lr * ((V_dW if b_with_V_dW else V_db) / c1) / root(S_dW if b_with_S_dW else S_db)
        return W, b
    return adam_update


def adam_along_the_gradient(W, b, dW, db, V_dW, V_db, S_dW, S_db, t, lr, beta1, beta2, eps):
    """RMSProp with a bias-corrected S: the momentum average is left out of the step."""
    new = []
    for param, g, S in ((W, dW, S_dW), (b, db, S_db)):
        S = beta2 * S + (1 - beta2) * g**2
        new.append(param - lr * g / (np.sqrt(S / (1 - beta2**t)) + eps))
    return new


def failure(checker, answer):
    result = checker(answer)
    assert not result.passed and result.attempted and str(result).startswith("Not yet:")
    return result.message


@pytest.mark.parametrize("answer, key_words", [
    (learner_adam(eps_inside=True), ["inside the square root", "after the root"]),
    (learner_adam(correct=False), ["no bias correction"]),
    (learner_adam(t_offset=-1), ["t−1"]),
    (learner_adam(b_with_V_dW=True), ["V_dW", "own averages"]),
    (learner_adam(b_with_S_dW=True), ["S_dW", "own averages"]),          # new: a pitfall of the notebook
    (learner_adam(weights_squared=True), ["squared weights", "squared gradients"]),
    (adam_update_efficient(eps_hat_scaled=False), ["folded the corrections", "another optimizer"]),   # new
    (lambda *a: lesson.adam_update_reference(*a)[::-1], ["wrong order"]),
    (learner_adam(one_minus_beta=False), ["lack the factors 1−β"]),                       # new
    (adam_along_the_gradient, ["stepped along dW itself", "V̂ = V/(1−β₁ᵗ)"]),             # new
    (learner_adam(sign=+1), ["uphill"]),                                                  # new
])
def test_adam_update_mistakes(answer, key_words):
    message = failure(lesson.check_adam_update, answer)
    assert all(word in message for word in key_words), message


def test_adam_update_may_update_its_state_but_not_the_gradients():
    assert lesson.ADAM_UPDATE_EXERCISE.updates == ("W", "b", "V_dW", "V_db", "S_dW", "S_db")

    def changes_dW(W, b, dW, db, *rest):
        result = lesson.adam_update_reference(W, b, dW.copy(), db, *rest)
        dW *= 0
        return result

    assert failure(lesson.check_adam_update, changes_dW).startswith("your function changed its argument `dW` in place")


@pytest.mark.parametrize("answer, key_words", [
    (lambda n, size, amsgrad: (4 if amsgrad else 3) * n * size, ["parameters themselves"]),
    (lambda n, size, amsgrad: (5 if amsgrad else 4) * n * size, ["weights and their gradients"]),   # new
    (lambda n, size, amsgrad: 2 * n * size, ["third array"]),
    (lambda n, size, amsgrad: n * size * (2 if amsgrad else 1), ["one array short"]),
    (lambda n, size, amsgrad: 16 * n * size if not amsgrad else 24 * n * size, ["bits"]),
    (lambda n, size, amsgrad: (2 + amsgrad) * n * size / 1e9, ["gigabytes"]),              # new
])
def test_adam_state_bytes_mistakes(answer, key_words):
    message = failure(lesson.check_adam_state_bytes, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer, key_words", [
    (lambda eps, beta2, t: eps, ["fixed"]),
    (lambda eps, beta2, t: eps * (1 - beta2**t), ["no square root"]),
    (lambda eps, beta2, t: eps * np.sqrt(1 - beta2 ** (t - 1)), ["off by one"]),
])
def test_efficient_eps_mistakes(answer, key_words):
    message = failure(lesson.check_efficient_eps, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("exercise", ADAM_EXERCISES, ids=lambda exercise: exercise.name)
def test_messages_name_no_internal_notes(exercise):
    for message in [exercise.success, exercise.hint] + [mistake.explanation for mistake in exercise.mistakes]:
        assert "seed" not in message.lower() and "REFERENCES" not in message, message


@pytest.mark.parametrize("checker, exercise", [
    (lesson.check_adam_update, lesson.ADAM_UPDATE_EXERCISE),
    (lesson.check_adam_state_bytes, lesson.ADAM_STATE_EXERCISE),
    (lesson.check_efficient_eps, lesson.EFFICIENT_EPS_EXERCISE),
])
def test_the_stub_is_not_attempted_and_nothing_returned_is_reported(checker, exercise):
    def stub(*arguments):
        raise NotImplementedError  # your code here

    result = checker(stub)
    assert not result.passed and not result.attempted and result.message == exercise.hint
    assert str(result).startswith("Not attempted yet: ")
    assert "None" in failure(checker, lambda *arguments: None)


# --- the prediction: Adam's first step with and without the bias correction -------------------------

RAN = "Adam from m₀ = v₀ = 0, g = 0.01: first step 1.00·lr with the correction, 10.0·lr without."


def test_first_steps_are_measured_on_the_real_optimizers():
    corrected, uncorrected = lesson.first_steps()
    assert corrected == pytest.approx(1.0, abs=1e-5) and uncorrected == pytest.approx(10.0, rel=1e-3)
    # the measurement is the real update: the same as torch's Adam, and as the written-out forms
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    torch_adam = torch.optim.Adam([x], lr=1e-3, betas=(0.9, 0.9999))
    x.grad = torch.tensor([0.01], dtype=torch.float64)
    torch_adam.step()
    assert corrected == pytest.approx(-x.item() / 1e-3, rel=1e-12)
    zero = np.zeros(1)
    manual = -lesson.adam_step_uncorrected(zero, zero, zero, np.array([0.01]), 1, 1e-3, 0.9, 0.9999)[0].item()
    assert uncorrected == pytest.approx(manual / 1e-3, rel=1e-12)
    # the default β₂ gives the notebook's 3.16, and ε matters once g is near it
    assert lesson.first_steps(beta2=0.999)[1] == pytest.approx(3.162, abs=1e-3)
    assert lesson.first_steps(grad=1e-8)[0] == pytest.approx(0.5, rel=1e-6)


SUCCESS = ("Your steps are within 10 % of the run's (g = 0.01, β₂ = 0.9999). The corrections undo the start at 0; "
           "without them, √v₁ = √(1−β₂)·|g| shrinks more than m₁ = (1−β₁)·g, so the step is longer.")


def test_the_notebook_s_solution_passes_and_says_why():
    result = lesson.check_first_steps({"corrected": 1.0, "uncorrected": 10.0})
    assert result.passed and result.message == SUCCESS
    assert all(len(line) <= 100 for line in str(result).splitlines()) and len(str(result).splitlines()) == 2


@pytest.mark.parametrize("corrected, uncorrected", [(1.0, 10.0), (0.95, 9.5), (1.09, 10.99)])
def test_the_success_does_not_give_the_steps_away(corrected, uncorrected):
    """After "Run All" the solution's verdict shows under the unanswered question: it must not state
    the measured steps (1.00·lr, 10.0·lr), the solution's 1.0 and 10.0, nor the learner's numbers."""
    message = str(lesson.check_first_steps({"corrected": corrected, "uncorrected": uncorrected}))
    assert message.startswith("Correct! ") and "·lr" not in message
    for number in ("1.0", "10.0", "0.95", "9.5", "1.09", "10.99", "0.1·g", "0.01·|g|", "10 times"):
        assert number not in message, (number, message)


@pytest.mark.parametrize("corrected", [0.91, 1.0, 1.09])
@pytest.mark.parametrize("uncorrected", [9.01, 9.5, 10.0, 10.99])
def test_every_prediction_within_10_percent_passes(corrected, uncorrected):
    assert lesson.check_first_steps({"corrected": corrected, "uncorrected": uncorrected}).passed


@pytest.mark.parametrize("corrected, uncorrected", [(0.89, 10.0), (1.11, 10.0), (1.0, 8.99), (1.0, 11.01)])
def test_predictions_just_outside_10_percent_fail(corrected, uncorrected):
    assert failure(lesson.check_first_steps, {"corrected": corrected, "uncorrected": uncorrected}).startswith(RAN)


@pytest.mark.parametrize("corrected, uncorrected, explanation", [
    (1.0, 3.16, "3.16 is the first step for β₂ = 0.999; with 0.9999, √v₁ = √(1−β₂)·|g| is smaller."),
    (1.0, 1000.0, "You divided m₁ = (1−β₁)·g by v₁; the step divides it by the root, √v₁ = √(1−β₂)·|g|."),
    (1.0, 1e5, "You divided m₁ = (1−β₁)·g by v₁; the step divides it by the root, √v₁ = √(1−β₂)·|g|."),
    # only m's start at 0 counted (0.1 = 1−β₁), or lr·10·g: both miss that √v₁ is smaller still
    (1.0, 0.1, "Uncorrected, m₁ = 0.1·g is too small, but √v₁ = 0.01·|g| is smaller still: the step is longer."),
    (1.0, 100.0, "√v₁ = 0.01·|g| is right, but m₁ = (1−β₁)·g = 0.1·g, not g: m starts at 0 too."),
    (1.0, 1.0, "That is the corrected step. Uncorrected, m₁ = (1−β₁)·g is too small, √v₁ = √(1−β₂)·|g| more so."),
    (1.0, 5.0, "Uncorrected, the step is lr·m₁/√v₁, with m₁ = (1−β₁)·g and √v₁ = √(1−β₂)·|g|."),
    (10.0, 1.0, "The two are swapped: here the correction makes the first step shorter, not longer."),
    (0.01, 10.0, "Adam's step does not grow with g: m̂₁ = g and √v̂₁ = |g|, so the first step is lr."),
    (3.16, 10.0, "With the correction, m̂₁ = g and √v̂₁ = |g| after one step, so the step is lr."),
    (-1.0, -10.0, "Give the lengths of the steps, positive numbers, in units of lr."),
])
def test_wrong_predictions_get_the_run_and_their_explanation(corrected, uncorrected, explanation):
    result = lesson.check_first_steps({"corrected": corrected, "uncorrected": uncorrected})
    assert not result.passed and result.attempted and result.message == f"{RAN}\n{explanation}"
    assert all(len(line) <= 100 for line in str(result).splitlines()) and len(str(result).splitlines()) == 2


def test_the_judge_runs_the_setting_it_states(monkeypatch):
    """The judge measures the step: in another setting the same answer is judged by that run."""
    from course_lib.lessons.adam import exercises

    monkeypatch.setitem(exercises.FIRST_STEP_SETTING, "beta2", 0.999)
    assert not lesson.check_first_steps({"corrected": 1.0, "uncorrected": 10.0}).passed
    # the explanations follow the setting too: 1/√(1−β₂) is 31.6 now, and g = 0.01 makes 10·g·lr = 0.1
    assert "m₁ = (1−β₁)·g = 0.1·g, not g" in lesson.check_first_steps({"corrected": 1.0, "uncorrected": 31.6}).message
    result = lesson.check_first_steps({"corrected": 1.0, "uncorrected": 3.2})
    assert result.passed and result.message == SUCCESS.replace("β₂ = 0.9999", "β₂ = 0.999")


def test_the_prediction_s_placeholder_and_a_partial_answer():
    hint = lesson.FIRST_STEPS_QUESTION.hint
    for answer in (..., {"corrected": ..., "uncorrected": ...}, {"corrected": 1.0, "uncorrected": ...}):
        result = lesson.check_first_steps(answer)
        assert not result.attempted and result.message == hint
    assert "should be a dict with the keys" in failure(lesson.check_first_steps, 10.0)


def test_the_cache_thread_runs_ahead_on_work_arrays_of_its_own():
    """While the cache's thread runs the next β₂ values ahead, the kernel's own runs (a setting not
    reached yet) give the numbers a lone explorer gives, and so do the thread's."""
    explorer = lesson.AdamFailureExplorer(beta2=0.99, steps=20_000)
    explorer._runs.compute_ahead()  # what a browser showing the explorer starts
    far = [0.9, 0.95, 0.999]  # far from 0.99: the kernel runs them while the thread works near 0.99
    for beta2 in far:
        explorer.controls["beta2"].value = beta2  # as the reader moves it: the thread restarts from there
        assert explorer.final == lesson.AdamFailureExplorer(beta2=beta2, steps=20_000).final
    ahead = {"beta2": 0.9992, "schedule": "inverse_sqrt"}  # one step from the last setting
    key = explorer._runs._key(ahead)
    deadline = time.monotonic() + 30
    while key not in explorer._runs._results and time.monotonic() < deadline:
        time.sleep(0.01)
    assert key in explorer._runs._results, "the thread did not run the next setting"
    assert explorer._runs._results[key]["final"] == lesson.AdamFailureExplorer(beta2=0.9992, steps=20_000).final
