"""Notebook 03 (RMSprop): the lesson's Adagrad and the exercise references agree with torch.optim, the
checkers pass right answers and name each known mistake, and the RMSprop explorer draws what
course_lib computes."""

import numpy as np
import pytest
import torch

from course_lib import optim
from course_lib.lab import landscapes, plots, runner
from course_lib.lessons import rmsprop as lesson
from course_lib.lessons.rmsprop import (
    Adagrad,
    FIRST_STEP_EXERCISE,
    RMSPROP_EXERCISE,
    TORCH_RMSPROP_STEP_EXERCISE,
    WHICH_IS_RMSPROP,
    adagrad_step,
    check_first_step,
    check_rmsprop,
    check_torch_rmsprop_step,
    rmsprop_first_step,
    rmsprop_path,
    step_lengths,
    torch_rmsprop_step,
)
from course_lib.lab import torch_bridge

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- the references agree with torch ------------------------------------------------------------

def torch_path(w, grads, **settings):
    tensor = torch.tensor(w, dtype=torch.float64)
    rmsprop = torch.optim.RMSprop([tensor], **settings)
    rows = []
    for grad in grads:
        tensor.grad = torch.tensor(grad, dtype=torch.float64)
        rmsprop.step()
        rows.append(tensor.numpy().copy())
    return np.array(rows)


@pytest.mark.parametrize("case", RMSPROP_EXERCISE.cases, ids=lambda case: f"alpha={case['alpha']}")
def test_rmsprop_path_is_torch_rmsprop(case):
    ours = rmsprop_path(**case)
    theirs = torch_path(case["w"], case["grads"], lr=case["lr"], alpha=case["alpha"], eps=case["eps"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", FIRST_STEP_EXERCISE.cases, ids=lambda case: f"alpha={case['alpha']}")
def test_first_step_is_torch_first_step_for_gradients_far_above_eps(case):
    grads = np.array([[3.0, -2e3, 5e-2]])
    step = torch_path(np.zeros(3), grads, lr=case["lr"], alpha=case["alpha"])[0]
    # ε shortens it by the factor 1/(1 + ε/(√(1−α)·|g|)): 2e-6 for |g| = 0.05 and α = 0.99
    np.testing.assert_allclose(np.abs(step), rmsprop_first_step(**case), rtol=1e-5)


@pytest.mark.parametrize("case", TORCH_RMSPROP_STEP_EXERCISE.cases, ids=lambda case: f"mu={case['momentum']}")
def test_torch_rmsprop_step_is_one_step_of_torch_from_the_same_state(case):
    tensor = torch.tensor(case["w"])
    rmsprop = torch.optim.RMSprop([tensor], lr=case["lr"], alpha=case["alpha"], eps=case["eps"],
                                  weight_decay=case["weight_decay"], momentum=case["momentum"])
    rmsprop.state[tensor] = {"step": torch.tensor(5.0), "square_avg": torch.tensor(case["v"]),
                             "momentum_buffer": torch.tensor(case["b"])}
    tensor.grad = torch.tensor(case["grad"])
    rmsprop.step()
    w_new, v_new, b_new = torch_rmsprop_step(**case)
    np.testing.assert_allclose(w_new, tensor.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(v_new, rmsprop.state[tensor]["square_avg"].numpy(), rtol=1e-13)
    np.testing.assert_allclose(b_new, rmsprop.state[tensor]["momentum_buffer"].numpy(), rtol=1e-13)


# --- Adagrad, RMSprop's ancestor ---------------------------------------------------------------------

ADAGRAD_SETTINGS = [
    {"lr": 0.1},
    {"lr": 0.5, "lr_decay": 0.01, "weight_decay": 0.1},
    {"lr": 0.05, "initial_accumulator_value": 0.5, "eps": 1e-3},
    {"lr": 1.0, "lr_decay": 0.5, "weight_decay": 2.0, "initial_accumulator_value": 3.0, "eps": 0.0},
]


@pytest.mark.parametrize("settings", ADAGRAD_SETTINGS, ids=str)
def test_adagrad_step_is_torch_adagrad(settings):
    rng = np.random.default_rng(7)
    w = rng.normal(size=(3, 2))
    grads = 10.0 ** rng.uniform(-3, 3, size=(40, 1, 2)) * rng.normal(size=(40, 3, 2))
    tensor = torch.tensor(w)
    adagrad = torch.optim.Adagrad([tensor], **settings)
    options = {key: value for key, value in settings.items() if key != "initial_accumulator_value"}
    state_sum = np.full_like(w, settings.get("initial_accumulator_value", 0.0))
    for t, grad in enumerate(grads, start=1):
        tensor.grad = torch.tensor(grad)
        adagrad.step()
        w, state_sum = adagrad_step(w, state_sum, grad, step=t, **options)
        np.testing.assert_allclose(w, tensor.numpy(), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(state_sum, adagrad.state[tensor]["sum"].numpy(), rtol=1e-13)


@pytest.mark.parametrize("settings", ADAGRAD_SETTINGS, ids=str)
def test_the_lessons_adagrad_runs_as_torchs_on_the_bowl(settings):
    bowl = landscapes.ill_conditioned_bowl(50.0)
    ours = runner.run(bowl, lambda params: Adagrad(params, **settings), steps=200)
    theirs = runner.run(bowl, lambda params: torch_bridge.TorchOptimizer(params, torch.optim.Adagrad, **settings),
                        steps=200)
    assert ours.diverged_at == theirs.diverged_at
    np.testing.assert_allclose(ours.path, theirs.path, rtol=1e-12, atol=1e-14)


def test_adagrad_keeps_float32_and_rejects_bad_settings():
    w = np.ones(3, dtype=np.float32)
    Adagrad([w], lr=0.1).step([np.full(3, 2.0, dtype=np.float32)])
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, 0.9, rtol=1e-6)
    for name, value in (("lr", -1.0), ("lr_decay", float("nan")), ("eps", True), ("weight_decay", "0.1")):
        with pytest.raises(ValueError, match=name):
            Adagrad([np.ones(2)], **{name: value})


def test_adagrads_steps_shrink_like_one_over_root_t_and_rmsprops_settle_at_lr():
    t = np.arange(1, 1001)
    np.testing.assert_allclose(step_lengths(np.ones(1000), "Adagrad"), 1 / np.sqrt(t), rtol=1e-9)
    np.testing.assert_allclose(step_lengths(np.full(1000, 3.0), alpha=0.99, lr=0.01),
                               1 / np.sqrt(1 - 0.99**t), rtol=1e-6)
    # the gradient 100 times smaller after 100 steps: Adagrad never recovers, RMSprop forgets
    drop = np.r_[np.full(100, 10.0), np.full(900, 0.1)]
    assert step_lengths(drop, "Adagrad")[100:].max() < 1.1e-3
    assert step_lengths(drop, alpha=0.9)[-1] == pytest.approx(1.0, rel=1e-3)
    with pytest.raises(ValueError, match="optimizer"):
        step_lengths(drop, "Adam")


# --- the checkers ----------------------------------------------------------------------------------

IN_PLACE = "your function changed its argument `{}` in place; the caller still needs it."


def rmsprop_solution(w, grads, lr, alpha, eps):
    """The notebook's solution."""
    v, path = np.zeros_like(w), []
    for g in grads:
        v = alpha * v + (1 - alpha) * g**2
        w = w - lr * g / (np.sqrt(v) + eps)
        path.append(w)
    return np.array(path)


def first_step_solution(lr, alpha):
    return lr / np.sqrt(1 - alpha)


def torch_rmsprop_step_solution(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
    grad = grad + weight_decay * w
    v = alpha * v + (1 - alpha) * grad**2
    b = momentum * b + grad / (np.sqrt(v) + eps)
    return w - lr * b, v, b


def rmsprop_loop(w, grads, lr, alpha, eps):
    """A loop with Python lists, on its own copy of the start."""
    w, v, path = w.copy(), np.zeros_like(w), []
    for g in grads:
        v = alpha * v + (1 - alpha) * g**2
        w -= lr * g / (np.sqrt(v) + eps)
        path.append(w.copy())
    return path


def rmsprop_with_course_lib(w, grads, lr, alpha, eps):
    w = w.copy()  # the optimizer updates its parameter in place: not the caller's start
    rmsprop, path = optim.RMSprop([w], lr=lr, alpha=alpha, eps=eps), []
    for g in grads:
        rmsprop.step([g])
        path.append(w.copy())
    return np.array(path)


def torch_step_in_place(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
    """Updates the state it returns in place, as torch does: allowed."""
    grad = grad + weight_decay * w
    v *= alpha
    v += (1 - alpha) * grad**2
    b *= momentum
    b += grad / (np.sqrt(v) + eps)
    w -= lr * b
    return w, v, b


@pytest.mark.parametrize("checker, answer", [
    (check_rmsprop, rmsprop_solution), (check_rmsprop, rmsprop_path), (check_rmsprop, rmsprop_loop),
    (check_rmsprop, rmsprop_with_course_lib),
    (check_first_step, first_step_solution), (check_first_step, rmsprop_first_step),
    (check_first_step, lambda lr, alpha: lr * (1 - alpha) ** -0.5),
    (check_torch_rmsprop_step, torch_rmsprop_step_solution), (check_torch_rmsprop_step, torch_rmsprop_step),
    (check_torch_rmsprop_step, torch_step_in_place),
])
def test_right_answers_pass(checker, answer):
    result = checker(answer)
    assert result.passed and str(result).startswith("Correct!"), result.message


def failure(checker, answer):
    result = checker(answer)
    assert not result.passed and result.attempted and str(result).startswith("Not yet:")
    return result.message


def rmsprop_updating_the_start(copy_rows):
    """w -= … on the caller's start: a real bug even when the rows are copies (the path is right)."""
    def rmsprop(w, grads, lr, alpha, eps):
        v, path = np.zeros_like(w), []
        for g in grads:
            v = alpha * v + (1 - alpha) * g**2
            w -= lr * g / (np.sqrt(v) + eps)
            path.append(w.copy() if copy_rows else w)
        return np.array(path)
    return rmsprop


@pytest.mark.parametrize("copy_rows", [True, False])
def test_updating_the_callers_start_in_place_is_named(copy_rows):
    message = failure(check_rmsprop, rmsprop_updating_the_start(copy_rows))
    assert message.startswith(IN_PLACE.format("w")) and "x = x - …" in message


def test_appending_one_array_updated_in_place_is_named():
    def rmsprop(w, grads, lr, alpha, eps):
        w, v, path = w.copy(), np.zeros_like(w), []  # the caller's start is safe, the rows are not
        for g in grads:
            v = alpha * v + (1 - alpha) * g**2
            w -= lr * g / (np.sqrt(v) + eps)
            path.append(w)
        return path

    assert failure(check_rmsprop, rmsprop).startswith("every row of your path is the final w")


def test_the_state_of_the_torch_step_may_be_updated_in_place_but_not_the_gradient():
    def changes_grad(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
        grad += weight_decay * w
        v = alpha * v + (1 - alpha) * grad**2
        b = momentum * b + grad / (np.sqrt(v) + eps)
        return w - lr * b, v, b

    assert failure(check_torch_rmsprop_step, changes_grad).startswith(IN_PLACE.format("grad"))
    assert TORCH_RMSPROP_STEP_EXERCISE.updates == ("w", "v", "b") and RMSPROP_EXERCISE.updates == ()


def learner_variant(eps_inside=False, bias_correction=False, square_of_average=False, no_root=False,
                    adagrad_sum=False, no_one_minus_rho=False):
    """The common mistakes, written as a learner would."""
    def rmsprop(w, grads, lr, alpha, eps):
        v, m, path = np.zeros_like(w), np.zeros_like(w), []
        for t, g in enumerate(grads, start=1):
            if adagrad_sum:
                v = v + g * g
            elif no_one_minus_rho:
                v = alpha * v + g * g
            else:
                v = alpha * v + (1 - alpha) * g * g
            m = alpha * m + (1 - alpha) * g
            s = m * m if square_of_average else v / (1 - alpha**t) if bias_correction else v
            denom = s + eps if no_root else np.sqrt(s + eps) if eps_inside else np.sqrt(s) + eps
            w = w - lr * g / denom
            path.append(w)
        return path
    return rmsprop


@pytest.mark.parametrize("answer, key_words", [
    (learner_variant(eps_inside=True), ["inside the root"]),
    (learner_variant(bias_correction=True), ["bias correction", "10·lr"]),
    (learner_variant(square_of_average=True), ["squared the average"]),
    (learner_variant(no_root=True), ["forgot the square root"]),
    (learner_variant(adagrad_sum=True), ["summed the squared gradients", "Adagrad"]),
    (learner_variant(no_one_minus_rho=True), ["lacks the factor 1−ρ"]),
])
def test_rmsprop_mistakes(answer, key_words):
    message = failure(check_rmsprop, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer, key_words", [
    (lambda lr, alpha: 10 * lr, ["ρ = 0.99 only"]),
    (lambda lr, alpha: lr, ["bias correction"]),
    (lambda lr, alpha: lr / (1 - alpha), ["square root"]),
    (lambda lr, alpha: lr * (1 - alpha) ** 0.5, ["upside down"]),
])
def test_first_step_mistakes(answer, key_words):
    message = failure(check_first_step, answer)
    assert all(word in message for word in key_words), message


def decoupled_step(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
    w = w * (1 - lr * weight_decay)
    v = alpha * v + (1 - alpha) * grad**2
    b = momentum * b + grad / (np.sqrt(v) + eps)
    return w - lr * b, v, b


def adam_like_buffer_step(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
    grad = grad + weight_decay * w
    v = alpha * v + (1 - alpha) * grad**2
    b = momentum * b + grad
    return w - lr * b / (np.sqrt(v) + eps), v, b


def decay_after_the_division_step(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
    v = alpha * v + (1 - alpha) * grad**2
    b = momentum * b + grad / (np.sqrt(v) + eps) + weight_decay * w
    return w - lr * b, v, b


def eps_inside_step(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
    grad = grad + weight_decay * w
    v = alpha * v + (1 - alpha) * grad**2
    b = momentum * b + grad / np.sqrt(v + eps)
    return w - lr * b, v, b


@pytest.mark.parametrize("answer, key_words", [
    (decoupled_step, ["AdamW", "L2"]),
    (adam_like_buffer_step, ["scaled steps"]),
    (decay_after_the_division_step, ["after dividing", "L2"]),
    (eps_inside_step, ["inside the root"]),
])
def test_torch_rmsprop_step_mistakes(answer, key_words):
    message = failure(check_torch_rmsprop_step, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("exercise, checker", [(RMSPROP_EXERCISE, check_rmsprop),
                                               (FIRST_STEP_EXERCISE, check_first_step),
                                               (TORCH_RMSPROP_STEP_EXERCISE, check_torch_rmsprop_step)],
                         ids=lambda value: getattr(value, "name", ""))
def test_the_stub_is_not_attempted_and_nothing_returned_is_reported(exercise, checker):
    def stub(*arguments):
        raise NotImplementedError  # your code here

    result = checker(stub)
    assert not result.attempted and result.message == exercise.hint
    assert str(result).startswith(f"Not attempted yet: {exercise.hint[:40]}")
    assert "forget `return`" in failure(checker, lambda *arguments: None)


@pytest.mark.parametrize("exercise", [RMSPROP_EXERCISE, FIRST_STEP_EXERCISE, TORCH_RMSPROP_STEP_EXERCISE],
                         ids=lambda exercise: exercise.name)
def test_the_messages_name_only_what_a_learner_has(exercise):
    messages = [exercise.success, exercise.hint] + [mistake.explanation for mistake in exercise.mistakes]
    assert not [message for message in messages if "seed" in message.lower() or "α" in message], messages


# --- which of three runs is RMSprop ------------------------------------------------------------------

def first_step_text(result):
    step = result.path[1] - result.path[0]
    return "(" + ", ".join(f"{value:+.2f}".replace("-", "−") for value in step) + ")"


@pytest.fixture(scope="module")
def torch_runs():
    """The three runs the figure claims to show, each made by torch.optim on the κ = 100 bowl."""
    bowl = landscapes.ill_conditioned_bowl(100.0)
    return {"A": torch_bridge.side_by_side(bowl, "momentum", lr=0.01, momentum=0.9).theirs,
            "B": torch_bridge.side_by_side(bowl, "RMSprop", lr=0.05).theirs,
            "C": torch_bridge.side_by_side(bowl, "GD", lr=2 / 101).theirs}


def test_the_three_runs_are_momentum_rmsprop_and_gd_as_torch_runs_them(torch_runs):
    runs = lesson.three_runs()
    assert list(runs) == ["A", "B", "C"]
    for label, result in runs.items():
        assert result.diverged_at is None
        np.testing.assert_allclose(result.path, torch_runs[label].path, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("answer", ["B", "b", " B ", {"run": "b"}])
def test_rmsprop_s_run_passes_and_the_message_says_why(answer, torch_runs):
    result = lesson.check_which_is_rmsprop(answer)
    assert result.passed and str(result).startswith("Correct! B is RMSprop")
    assert first_step_text(torch_runs["B"]) == "(+0.50, −0.50)" and "(+0.50, −0.50)" in result.message
    assert "as long along x as along y" in result.message and "25 times larger along y" in result.message


@pytest.mark.parametrize("answer, name", [("A", "momentum (lr = 0.01, β = 0.9)"), ("c", "GD at its best lr")])
def test_the_other_runs_are_named_with_their_first_steps(answer, name, torch_runs):
    message = failure(lesson.check_which_is_rmsprop, answer)
    label = answer.upper()
    # the numbers are those of the real run: momentum lands on y = 0 (lr·κ = 1), GD overshoots to −0.98
    assert message.startswith(f"{label} is {name}")
    assert first_step_text(torch_runs[label]) in message and "25 times longer along y" in message
    assert "like the gradient" in message


def test_the_question_s_messages_name_only_what_a_learner_has():
    messages = [lesson.check_which_is_rmsprop(run).message for run in "abc"] + [WHICH_IS_RMSPROP.hint]
    assert not [message for message in messages if "seed" in message.lower() or "α" in message], messages
    result = lesson.check_which_is_rmsprop(...)
    assert not result.attempted and result.message == WHICH_IS_RMSPROP.hint


def test_the_judge_runs_the_optimizers(monkeypatch):
    """Give run B another lr: the message reports the first step of that run, 10·lr along each axis."""
    name, described, settings = lesson._THREE_RUNS["b"]
    monkeypatch.setitem(lesson._THREE_RUNS, "b", (name, described, {**settings, "lr": 0.02}))
    assert "(+0.20, −0.20)" in lesson.check_which_is_rmsprop("b").message


def test_the_loss_curves_alone_would_not_settle_it():
    """The solution's remark: momentum at its best lr and β on κ = 100 (notebook 02) ends below B."""
    bowl = landscapes.ill_conditioned_bowl(100.0)
    best = runner.run(bowl, runner.named_optimizer("momentum", 4 / 11**2, momentum=(9 / 11) ** 2), steps=100)
    assert best.losses[-1] < 1e-3 * lesson.three_runs()["B"].losses[-1]


def test_the_figure_shows_the_judged_runs_and_reveals_nothing():
    figure = lesson.plot_three_runs()
    *path_axes, loss_axes = figure.axes
    runs = lesson.three_runs()
    course_colors = {color.lower() for color in plots.OPTIMIZER_COLORS.values()}
    for ax, (label, result) in zip(path_axes, runs.items()):
        assert ax.get_title() == f"run {label}: 100 steps from (-4, 1)"
        path_line = ax.get_lines()[-2]
        np.testing.assert_array_equal(path_line.get_xydata(), result.path)
        assert path_line.get_color().lower() not in course_colors
    assert [text.get_text() for text in loss_axes.get_legend().get_texts()] == ["A", "B", "C"]
    words = " ".join(ax.get_title() + ax.get_xlabel() + ax.get_ylabel() for ax in figure.axes).lower()
    assert not any(name in words for name in ("rmsprop", "momentum", "gd", "gradient descent", "adam"))


# --- the explorer ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def explorer():
    return lesson.RMSpropExplorer()


def status_texts(explorer):
    return [text.get_text() for text in explorer.axes[1].texts]


def test_explorer_builds_on_its_own_ipympl_canvas(explorer):
    from ipympl.backend_nbagg import Canvas
    assert isinstance(explorer.canvas, Canvas) and explorer.canvas in explorer.widget.children
    assert len(explorer.axes) == 3


def test_set_moves_the_same_artists_to_the_new_runs(explorer):
    explorer.set(lr=0.03, alpha=0.9, eps=1e-6, momentum=0.5, centered=True, condition=20.0)
    contours, losses, rates = explorer.axes
    lines_before = contours.get_lines() + losses.get_lines() + rates.get_lines()
    bowl = landscapes.ill_conditioned_bowl(20.0)
    gd_line, rmsprop_line = contours.get_lines()[-2:]
    expected = runner.run(bowl, runner.named_optimizer("RMSprop", 0.03, alpha=0.9, eps=1e-6, momentum=0.5,
                                                       centered=True), steps=100)
    np.testing.assert_array_equal(rmsprop_line.get_xydata(), expected.path)
    np.testing.assert_array_equal(gd_line.get_xydata(),
                                  runner.run(bowl, runner.named_optimizer("GD", 0.03), steps=100).path)
    assert rmsprop_line.get_color() == plots.OPTIMIZER_COLORS["RMSprop"]
    assert status_texts(explorer)[1].startswith("RMSprop ρ = 0.9, μ = 0.50, centered: final loss")
    explorer.set(lr=0.05)
    assert contours.get_lines() + losses.get_lines() + rates.get_lines() == lines_before  # nothing rebuilt
    assert not np.array_equal(rmsprop_line.get_xydata(), expected.path)


def test_the_rates_panel_shows_lr_over_root_v_plus_eps_of_the_optimizer(explorer):
    explorer.set(lr=0.05, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, condition=50.0)
    bowl = landscapes.ill_conditioned_bowl(50.0)
    point = np.array(bowl.start)
    rmsprop, rates = optim.RMSprop([point], lr=0.05), []
    for _ in range(100):
        rmsprop.step([np.stack(bowl.gradient(*point))])
        rates.append(0.05 / (np.sqrt(rmsprop.state[0]["square_avg"]) + 1e-8))
    x_line, y_line = explorer.axes[2].get_lines()[1:]
    np.testing.assert_allclose(np.stack([x_line.get_ydata(), y_line.get_ydata()], axis=1), rates, rtol=1e-10)
    assert (y_line.get_ydata() < x_line.get_ydata()).all()  # the steep coordinate gets the smaller rate


def test_rmsprop_path_does_not_depend_on_the_condition_number(explorer):
    explorer.set(lr=0.05, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, condition=1.0)
    path = explorer.axes[0].get_lines()[-1].get_xydata().copy()
    explorer.set(condition=1000.0)
    np.testing.assert_allclose(explorer.axes[0].get_lines()[-1].get_xydata(), path, atol=1e-6)


def test_explorer_says_where_gd_diverged(explorer):
    explorer.set(lr=0.05, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, condition=50.0)  # lr > 2/κ
    k = explorer.results["GD"].diverged_at
    assert k is not None and status_texts(explorer)[0] == f"GD: diverged at step {k}"
    assert status_texts(explorer)[1].startswith("RMSprop ρ = 0.99: final loss")
    explorer.set(lr=0.03)
    assert status_texts(explorer)[0].startswith("GD: final loss")


def test_a_diverged_path_is_drawn_until_it_leaves_the_frame(explorer):
    explorer.set(lr=0.05, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, condition=50.0)
    contours = explorer.axes[0]
    gd_line = contours.get_lines()[-2]
    path = explorer.results["GD"].path
    left = lesson.first_step_outside(path, landscapes.ill_conditioned_bowl(50.0).extent)
    assert left == 2  # y_t = (1 − lr·κ)^t = (−1.5)^t leaves |y| ≤ 2 at t = 2
    np.testing.assert_array_equal(gd_line.get_xydata(), path[:left + 1])
    note = [text.get_text() for text in contours.texts]
    assert "GD leaves the frame at step 2" in note
    explorer.set(lr=0.03)
    assert len(gd_line.get_xydata()) == 101 and "" in [text.get_text() for text in contours.texts]


def test_first_step_outside():
    extent = (-1.0, 1.0, -1.0, 1.0)
    assert lesson.first_step_outside(np.array([[0, 0], [0.5, 0.5], [0, 1.5], [0, 0]]), extent) == 2
    assert lesson.first_step_outside(np.array([[0, 0], [np.nan, np.nan]]), extent) == 1
    assert lesson.first_step_outside(np.zeros((4, 2)), extent) == 3


def test_the_mimebundle_is_the_widget_a_stable_line_and_a_png(explorer):
    explorer.set(lr=0.05, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, condition=50.0)
    bundle = explorer._repr_mimebundle_()
    assert set(bundle) == {WIDGET_VIEW, "text/plain", "image/png"}
    assert bundle[WIDGET_VIEW]["model_id"] == explorer.widget.model_id
    assert bundle["text/plain"] == ("RMSpropExplorer: lr=0.05, alpha=0.99, eps=1e-08, momentum=0, centered=False, "
                                    "condition=50, steps=100")
    import base64
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_SIGNATURE)


def test_bad_settings_raise_and_change_nothing(explorer):
    explorer.set(lr=0.05, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, condition=50.0)
    before = explorer.describe()
    with pytest.raises(ValueError, match="alpha"):
        explorer.set(lr=0.1, alpha=1.5)
    with pytest.raises(TypeError, match="centered"):
        explorer.set(centered=1)
    assert explorer.describe() == before
