"""Notebook 03 (RMSprop): the step lengths of Adagrad and RMSprop and the exercise references agree
with torch.optim, the checkers pass right answers and name each known mistake, and the RMSprop explorer draws what
course_lib computes."""

import re

import numpy as np
import pytest
import torch

from course_lib import optim
from course_lib.lab import landscapes, plots, runner
from course_lib.lessons import rmsprop as lesson
from course_lib.lessons.rmsprop import (
    RMSPROP_EXERCISE,
    SETTLING_QUESTION,
    TORCH_RMSPROP_STEP_EXERCISE,
    WHICH_IS_RMSPROP,
    check_rmsprop,
    check_settling_step,
    check_torch_rmsprop_step,
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


def test_the_settling_steps_are_torch_s_steps_on_a_steady_gradient():
    """What the prediction is judged by: torch's step lengths, which follow lr/√(1−ρ^t)."""
    lengths = lesson.settling_steps(steps=300)
    theirs = np.abs(np.diff(torch_path(np.zeros(1), np.ones((300, 1)), lr=1.0, alpha=0.99)[:, 0], prepend=0.0))
    np.testing.assert_allclose(lengths, theirs, rtol=1e-12)
    np.testing.assert_allclose(lengths, 1 / np.sqrt(1 - 0.99 ** np.arange(1, 301)), rtol=1e-7)


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
]


@pytest.mark.parametrize("optimizer, settings", [("Adagrad", s) for s in ADAGRAD_SETTINGS]
                         + [("RMSprop", {"lr": 0.01, "alpha": 0.9})], ids=str)
def test_step_lengths_are_torchs(optimizer, settings):
    """The step lengths the notebook plots, recomputed from torch's optimizer on one weight."""
    grads = 10.0 ** np.random.default_rng(7).uniform(-3, 3, size=60)
    weight = torch.zeros(1, dtype=torch.float64)
    stepper = getattr(torch.optim, optimizer)([weight], **settings)
    expected = []
    for grad in grads:
        before = weight.item()
        weight.grad = torch.tensor([grad])
        stepper.step()
        expected.append(abs(weight.item() - before) / settings["lr"])
    np.testing.assert_allclose(step_lengths(grads, optimizer, **settings), expected, rtol=1e-12)


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


def rmsprop_stepping_first(w, grads, lr, alpha, eps):
    """Steps with the v of the previous step, then updates it."""
    v, path = np.zeros_like(w), []
    for g in grads:
        w = w - lr * g / (np.sqrt(v) + eps)
        v = alpha * v + (1 - alpha) * g**2
        path.append(w)
    return path


def rmsprop_one_v(reduce):
    """One v for all coordinates, from the squared norm (np.sum) or the mean of g²."""
    def rmsprop(w, grads, lr, alpha, eps):
        v, path = 0.0, []
        for g in grads:
            v = alpha * v + (1 - alpha) * reduce(g**2)
            w = w - lr * g / (np.sqrt(v) + eps)
            path.append(w)
        return path
    return rmsprop


@pytest.mark.parametrize("answer, key_words", [
    (rmsprop_stepping_first, ["stepped before updating v", "ε alone"]),
    (rmsprop_one_v(np.sum), ["one number, the squared norm", "one v per coordinate"]),
    (rmsprop_one_v(np.mean), ["one number, the mean of g²", "one v per coordinate"]),
])
def test_the_new_rmsprop_mistakes(answer, key_words):
    message = failure(check_rmsprop, answer)
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


def no_decay_step(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
    v = alpha * v + (1 - alpha) * grad**2
    b = momentum * b + grad / (np.sqrt(v) + eps)
    return w - lr * b, v, b


def old_v_step(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
    grad = grad + weight_decay * w
    b = momentum * b + grad / (np.sqrt(v) + eps)
    v = alpha * v + (1 - alpha) * grad**2
    return w - lr * b, v, b


def old_buffer_step(w, v, b, grad, lr, alpha, eps, weight_decay, momentum):
    grad = grad + weight_decay * w
    v = alpha * v + (1 - alpha) * grad**2
    w_new = w - lr * b
    b = momentum * b + grad / (np.sqrt(v) + eps)
    return w_new, v, b


@pytest.mark.parametrize("answer, key_words", [
    (no_decay_step, ["left out the weight decay"]),
    (old_v_step, ["divided by the old v"]),
    (old_buffer_step, ["stepped along the old buffer"]),
    (decoupled_step, ["AdamW", "L2"]),
    (adam_like_buffer_step, ["scaled steps"]),
    (decay_after_the_division_step, ["after dividing", "L2"]),
    (eps_inside_step, ["inside the root"]),
])
def test_torch_rmsprop_step_mistakes(answer, key_words):
    message = failure(check_torch_rmsprop_step, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("exercise, checker", [(RMSPROP_EXERCISE, check_rmsprop),
                                               (TORCH_RMSPROP_STEP_EXERCISE, check_torch_rmsprop_step)],
                         ids=lambda value: getattr(value, "name", ""))
def test_the_stub_is_not_attempted_and_nothing_returned_is_reported(exercise, checker):
    def stub(*arguments):
        raise NotImplementedError  # your code here

    result = checker(stub)
    assert not result.attempted and result.message == exercise.hint
    assert str(result).startswith(f"Not attempted yet: {exercise.hint[:40]}")
    assert "forget `return`" in failure(checker, lambda *arguments: None)


@pytest.mark.parametrize("exercise", [RMSPROP_EXERCISE, TORCH_RMSPROP_STEP_EXERCISE],
                         ids=lambda exercise: exercise.name)
def test_the_messages_name_only_what_a_learner_has(exercise):
    messages = [exercise.success, exercise.hint] + [mistake.explanation for mistake in exercise.mistakes]
    assert not [message for message in messages if "seed" in message.lower() or "α" in message], messages


# --- predict: when the long first steps settle -------------------------------------------------------

SETTLED = ("Your t is within 2 steps of the run's, where its step first drops to at most 1.1·lr: from 1.1003·lr to "
           "1.0991·lr. The step is lr/√(1−ρ^t), at most 1.1·lr once ρ^t ≤ 1 − 1/1.21.")


@pytest.mark.parametrize("answer", [175, 174.3, 173, 177, 175.0, np.int64(176), {"steps": 175}])
def test_predictions_within_two_steps_of_the_run_pass(answer):
    result = check_settling_step(answer)
    # the run: 1.1003·lr at t = 174, 1.0991·lr at t = 175 (lr/√(1−0.99^t))
    assert result.passed and result.message == SETTLED


@pytest.mark.parametrize("answer", [173, 174, 174.3, 175, 176, 177])
def test_the_settling_success_does_not_give_the_step_away(answer):
    """After "Run All" the solution's verdict shows under the unanswered question: it must not say 175,
    nor repeat the learner's t, nor any whole step near it."""
    result = check_settling_step(answer)
    assert result.passed and result.message == SETTLED                  # the same words for every right t
    assert not any(str(t) in str(result) for t in range(170, 180)), str(result)


@pytest.mark.parametrize("answer, start", [
    (172, "too early: at t = 172 the step is still 1.103·lr"),       # just outside the tolerance
    (178, "too late: at t = 178 the step is 1.0958·lr"),
    (1, "too early: at t = 1 the step is still 10.000·lr"),          # the bias-corrected intuition
    (150, "too early: at t = 150 the step is still 1.133·lr"),
    (400, "too late: at t = 400 the step is 1.0091·lr"),
    (100, "1/(1−ρ) = 100 steps is the memory of the average, but at t = 100 the step is still 1.256·lr"),
    (239, "that is where 1/(1−ρ^t) falls to 1.1. The step is lr/√(1−ρ^t), its root"),
    (0, "t counts the steps from 1"),
    (5000, "far too late: by t = 1000 the step is already 1.00002·lr"),
])
def test_wrong_predictions_are_told_what_the_run_did(answer, start):
    assert failure(check_settling_step, answer).startswith(start)


def test_the_forgotten_root_lands_where_one_over_one_minus_rho_t_is_1_1():
    t = np.arange(1, 400)
    assert t[np.argmax(1 / (1 - 0.99**t) <= 1.1)] == 239


def test_the_settling_judge_runs_rmsprop(monkeypatch):
    """With ρ = 0.9 the same judge finds another step: lr/√(1−0.9^t) ≤ 1.1·lr from t = 17 on."""
    monkeypatch.setattr(lesson, "SETTLE_ALPHA", 0.9)
    assert check_settling_step(17).passed and not check_settling_step(175).passed


def test_the_settling_question_s_placeholder_and_hint():
    result = check_settling_step(...)
    assert not result.attempted and result.message == SETTLING_QUESTION.hint
    assert failure(check_settling_step, "175") == "`my_steps` should be a number, not '175'."


# --- interpret: which of three runs is RMSprop ----------------------------------------------------------

def first_step_text(result):
    step = result.path[1] - result.path[0]
    return "(" + ", ".join(f"{value:+.3g}".replace("-", "−") for value in step) + ")"


START = np.array([-1.0, 1.8])


@pytest.fixture(scope="module")
def torch_runs():
    """The three runs the figure claims to show, each made by torch.optim on the κ = 100 bowl."""
    bowl = landscapes.ill_conditioned_bowl(100.0)
    return {"A": torch_bridge.side_by_side(bowl, "momentum", lr=0.002, start=START, momentum=0.9).theirs,
            "B": torch_bridge.side_by_side(bowl, "GD", lr=0.005, start=START).theirs,
            "C": torch_bridge.side_by_side(bowl, "RMSprop", lr=0.01, start=START).theirs}


def test_the_three_runs_are_momentum_gd_and_rmsprop_as_torch_runs_them(torch_runs):
    runs = lesson.three_runs()
    assert list(runs) == ["A", "B", "C"]
    for label, result in runs.items():
        assert result.diverged_at is None
        np.testing.assert_allclose(result.path, torch_runs[label].path, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("answer", ["C", "c", " C ", {"run": "c"}])
def test_rmsprop_s_run_passes_and_the_message_says_why(answer, torch_runs):
    result = lesson.check_which_is_rmsprop(answer)
    assert result.passed and result.message == (
        "Your run is RMSprop (lr = 0.01, ρ = 0.99): its first step, (+0.1, −0.1), is as long along x as along y, "
        "though the gradient is 180 times larger along y: √v cancels each coordinate's scale.")
    assert first_step_text(torch_runs["C"]) == "(+0.1, −0.1)" and "(+0.1, −0.1)" in result.message
    assert "as long along x as along y" in result.message and "180 times larger along y" in result.message


def test_the_rmsprop_success_does_not_name_the_run():
    """After "Run All" the solution's verdict shows under the unanswered question: no label in it."""
    message = str(lesson.check_which_is_rmsprop("C"))
    assert message.startswith("Correct! Your run is RMSprop")
    assert not re.search(r"\b[ABC]\b", message.removeprefix("Correct! ")), message
    assert "run C" not in message and "C is" not in message


@pytest.mark.parametrize("answer, name", [("A", "momentum (lr = 0.002, β = 0.9)"), ("b", "GD (lr = 0.005)")])
def test_the_other_runs_are_named_with_their_first_steps(answer, name, torch_runs):
    message = failure(lesson.check_which_is_rmsprop, answer)
    label = answer.upper()
    assert message.startswith(f"{label} is {name}")
    # the first steps of the real runs, lr·g: (+0.002, −0.36) and (+0.005, −0.9)
    assert first_step_text(torch_runs[label]) in message and "180 times longer along y" in message
    assert "like the gradient" in message


def test_the_question_s_messages_name_only_what_a_learner_has():
    messages = [lesson.check_which_is_rmsprop(run).message for run in "abc"] + [WHICH_IS_RMSPROP.hint]
    assert not [message for message in messages if "seed" in message.lower() or "α" in message], messages
    result = lesson.check_which_is_rmsprop(...)
    assert not result.attempted and result.message == WHICH_IS_RMSPROP.hint


def test_the_judge_runs_the_optimizers(monkeypatch):
    """Give run C another lr: the message reports the first step of that run, 10·lr along each axis."""
    name, described, settings = lesson._THREE_RUNS["c"]
    monkeypatch.setitem(lesson._THREE_RUNS, "c", (name, described, {**settings, "lr": 0.02}))
    assert "(+0.2, −0.2)" in lesson.check_which_is_rmsprop("c").message


def test_neither_the_lowest_loss_nor_the_first_section_s_picture_gives_it_away():
    """RMSprop ends highest; GD, not RMSprop, is the run that drops to the x axis and runs along it."""
    runs = lesson.three_runs()
    final = {label: result.losses[-1] for label, result in runs.items()}
    assert max(final, key=final.get) == "C" and min(final, key=final.get) == "A"
    assert abs(runs["B"].path[12, 1]) < 1e-3 and runs["B"].path[-1, 0] < -0.5          # down first, then along x
    assert abs(runs["C"].path[-1, 0]) < 0.02 and runs["C"].path[-1, 1] > 0.3           # x done first, y still far


def test_the_solution_s_round_bowl_remark():
    """RMSprop's path on the κ = 100 bowl is its path on the round bowl (κ = 1), up to ε."""
    rmsprop = runner.named_optimizer("RMSprop", 0.01)
    round_bowl = runner.run(landscapes.ill_conditioned_bowl(1.0), rmsprop, start=START, steps=100)
    np.testing.assert_allclose(lesson.three_runs()["C"].path, round_bowl.path, atol=1e-6)


def test_the_figure_shows_the_judged_runs_and_reveals_nothing():
    figure = lesson.plot_three_runs()
    *path_axes, loss_axes = figure.axes
    runs = lesson.three_runs()
    course_colors = {color.lower() for color in plots.OPTIMIZER_COLORS.values()}
    for ax, (label, result) in zip(path_axes, runs.items()):
        assert ax.get_title() == f"run {label}: 100 steps from (−1, 1.8)"
        assert ax.get_xlim() == (-2.5, 2.5)
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


def test_the_rho_slider_steps_evenly_in_the_memory_from_sign_descent_to_a_long_one(explorer):
    slider = explorer.controls["alpha"]
    labels, values = zip(*slider.options)
    assert values[0] == 0.0 and values[-1] == 0.999 and {0.5, 0.9, 0.99} <= set(values)   # as the notebook says
    memories = 1 / (1 - np.array(values))                  # about how many steps v averages over
    ratios = memories[1:] / memories[:-1]
    assert ratios.min() > 1.15 and ratios.max() < 1.35     # ten steps a decade, none much longer
    assert all(float(label) == value for label, value in slider.options)  # labelled exactly
    explorer.set(lr=0.05, alpha=0.9975, eps=1e-8, momentum=0.0, centered=False, condition=50.0)
    assert status_texts(explorer)[1].startswith("RMSprop ρ = 0.9975: final loss")


def test_bad_settings_raise_and_change_nothing(explorer):
    explorer.set(lr=0.05, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, condition=50.0)
    before = explorer.describe()
    with pytest.raises(ValueError, match="alpha"):
        explorer.set(lr=0.1, alpha=1.5)
    with pytest.raises(TypeError, match="centered"):
        explorer.set(centered=1)
    assert explorer.describe() == before
