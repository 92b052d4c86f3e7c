"""Notebook 02's lesson: the momentum explorer, the exercises (their references agree with torch,
right answers pass, each known mistake is named), the two questions (a predicted stability limit and a
choice of lr and β, both judged by real runs), and the analysis (the 2×2 iteration's factor is the
measured rate, Sutskever et al.'s look-ahead points are torch's Nesterov iterates, momentum on noisy
gradients is SGD with lr/(1−β))."""

import numpy as np
import pytest
import torch
from learner_answers import failure, passes

from course_lib import optim
from course_lib.lab import landscapes, plots, runner
from course_lib.lessons import momentum as lesson
from course_lib.lessons.momentum import (MOMENTUM_EXERCISE, NESTEROV_EXERCISE, TORCH_MAPPING_EXERCISE,
                                         check_alpha_limit, check_momentum_step, check_nesterov_step,
                                         check_settings, check_torch_mapping, textbook_momentum_step,
                                         torch_nesterov_step)


@pytest.fixture(scope="module")
def momentum_explorer():
    return lesson.MomentumExplorer()


def status_texts(explorer):
    return [text.get_text() for text in explorer.axes[-1].texts]


# The notebook's solutions, written as its solution cells write them.

def momentum_step_solution(w, v, grad, lr, beta):
    v_new = beta * v + (1 - beta) * grad
    w_new = w - lr * v_new
    return w_new, v_new


def torch_sgd_args_solution(alpha, beta):
    return {"lr": alpha * (1 - beta), "momentum": beta}


def nesterov_step_solution(w, b, grad, lr, momentum):
    b_new = momentum * b + grad
    w_new = w - lr * (grad + momentum * b_new)
    return w_new, b_new


ALPHA_LIMIT_SOLUTION = 2 * (1 + 0.9) / ((1 - 0.9) * 50)
SETTINGS_SOLUTION = {"lr": 0.007, "beta": 0.85}


@pytest.mark.parametrize("checker, answer", [
    (check_momentum_step, momentum_step_solution),
    (check_momentum_step, textbook_momentum_step),
    (check_torch_mapping, torch_sgd_args_solution),
    (check_torch_mapping, lambda alpha, beta: dict(lr=alpha - alpha * beta, momentum=beta,
                                                   dampening=0, nesterov=False)),
    (check_nesterov_step, nesterov_step_solution),
    (check_nesterov_step, torch_nesterov_step),
    (check_alpha_limit, ALPHA_LIMIT_SOLUTION),
    (check_alpha_limit, {"alpha": ALPHA_LIMIT_SOLUTION}),
    (check_settings, SETTINGS_SOLUTION),
])
def test_right_answers_pass(checker, answer):
    passes(checker, answer)


def test_the_solutions_messages():
    assert str(check_alpha_limit(ALPHA_LIMIT_SOLUTION)) == (
        "Correct! at 0.98 × your α: loss 1e-6 at step 157; at 1.02 ×: diverged at step 54.\n"
        "Your α is at the edge: its lr = α(1−β) sits at the heavy ball's limit 2(1+β)/κ on the steep axis.")
    assert str(check_settings(SETTINGS_SOLUTION)) == (
        "Correct! with your lr and β the loss reached 1e-6 at step 88 of 200 (GD at its best lr: step 1916):\n"
        "both curvatures lie in the complex window, where the error spirals in at √β per step.")


def test_the_solutions_success_messages_do_not_give_the_answer_away():
    """A solution's output shows right under its question: it must not state the answer."""
    alpha_message = str(check_alpha_limit(ALPHA_LIMIT_SOLUTION))
    assert all(answer not in alpha_message for answer in ("0.76", "19 times", "3.8/5")), alpha_message
    settings_message = str(check_settings(SETTINGS_SOLUTION))
    assert all(answer not in settings_message for answer in ("0.007", "0.85", "0.92")), settings_message


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


@pytest.mark.parametrize("alpha, beta", [(0.1, 0.9), (0.05, 0.8), (0.3, 0.95)])
def test_textbook_momentum_step_is_torch_sgd_with_lr_alpha_times_one_minus_beta(alpha, beta):
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(20, 3, 2))
    w, v = rng.normal(size=(3, 2)), np.zeros((3, 2))
    param = torch.tensor(w)
    optimizer = torch.optim.SGD([param], lr=alpha * (1 - beta), momentum=beta)
    for grad in grads:
        w, v = textbook_momentum_step(w, v, grad, alpha, beta)
        param.grad = torch.from_numpy(grad)
        optimizer.step()
    np.testing.assert_allclose(w, param.numpy(), rtol=1e-12)


@pytest.mark.parametrize("lr, momentum", [(0.1, 0.9), (0.05, 0.8)])
def test_nesterov_step_is_torch_sgd_nesterov(lr, momentum):
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(20, 4))
    w, b = rng.normal(size=4), np.zeros(4)
    param = torch.tensor(w)
    optimizer = torch.optim.SGD([param], lr=lr, momentum=momentum, nesterov=True)
    for grad in grads:
        w, b = torch_nesterov_step(w, b, grad, lr, momentum)
        param.grad = torch.from_numpy(grad)
        optimizer.step()
    np.testing.assert_allclose(w, param.numpy(), rtol=1e-12)


@pytest.mark.parametrize("case", TORCH_MAPPING_EXERCISE.cases)
def test_textbook_path_is_torch_sgd_path(case):
    alpha, beta = case["alpha"], case["beta"]
    hessian, linear = torch.from_numpy(lesson._HESSIAN), torch.from_numpy(lesson._LINEAR)
    param = torch.from_numpy(lesson._START.copy())
    optimizer = torch.optim.SGD([param], lr=alpha * (1 - beta), momentum=beta)
    path = []
    for _ in range(50):
        param.grad = hessian @ param - linear
        optimizer.step()
        path.append(param.clone().numpy())
    np.testing.assert_allclose(TORCH_MAPPING_EXERCISE.expected(alpha, beta), path, rtol=1e-10)


def test_momentum_step_that_updates_in_place_passes_and_leaves_the_cases_alone():
    cases_before = [{key: np.copy(value) for key, value in case.items()}
                    for case in MOMENTUM_EXERCISE.cases]

    def in_place(w, v, grad, lr, beta):
        v *= beta
        v += (1 - beta) * grad
        w -= lr * v
        return w, v

    def scales_the_gradient_in_place(w, v, grad, lr, beta):
        grad *= 1 - beta
        return in_place(w, v, grad / (1 - beta), lr, beta)

    assert check_momentum_step(in_place).passed
    assert check_momentum_step(in_place).passed
    assert failure(check_momentum_step, scales_the_gradient_in_place).startswith(
        "your function changed its argument `grad` in place; the caller still needs it.")
    for before, after in zip(cases_before, MOMENTUM_EXERCISE.cases):
        for key in before:
            np.testing.assert_array_equal(before[key], after[key])


def test_nesterov_step_may_update_w_and_its_buffer_in_place_but_not_the_gradient():
    assert NESTEROV_EXERCISE.updates == ("w", "b") and MOMENTUM_EXERCISE.updates == ("w", "v")

    def in_place(w, b, grad, lr, momentum):
        b *= momentum
        b += grad
        w -= lr * (grad + momentum * b)
        return w, b

    passes(check_nesterov_step, in_place)

    def clobbers_the_gradient(w, b, grad, lr, momentum):
        w_new, b_new = torch_nesterov_step(w, b, grad.copy(), lr, momentum)
        grad[...] = 0
        return w_new, b_new

    assert failure(check_nesterov_step, clobbers_the_gradient).startswith(
        "your function changed its argument `grad` in place")


def test_stubs_are_not_attempted_and_give_their_hint():
    def stub(*arguments):
        raise NotImplementedError

    for checker, exercise in ((check_momentum_step, MOMENTUM_EXERCISE), (check_torch_mapping, TORCH_MAPPING_EXERCISE),
                              (check_nesterov_step, NESTEROV_EXERCISE)):
        result = checker(stub)
        assert not result.attempted and result.message == exercise.hint
    for checker in (check_alpha_limit, check_settings):
        result = checker(...)
        assert not result.attempted and str(result).startswith("Not attempted yet: ")
    assert not check_settings({"lr": 0.01, "beta": ...}).attempted


@pytest.mark.parametrize("answer, key_words", [
    (lambda w, v, grad, lr, beta: (w - lr * grad, beta * v + (1 - beta) * grad),
     ["raw gradient instead of the velocity"]),
    (lambda w, v, grad, lr, beta: (w - lr * (beta * v + grad), beta * v + grad),
     ["forgot the (1−β)"]),
    (lambda w, v, grad, lr, beta: (w - lr * ((1 - beta) * v + beta * grad),
                                   (1 - beta) * v + beta * grad),
     ["swapped"]),
    (lambda w, v, grad, lr, beta: (w - lr * v, beta * v + (1 - beta) * grad),
     ["updated w before v"]),
    (lambda w, v, grad, lr, beta: (w - lr * (beta * v + (1 - beta) * w), beta * v + (1 - beta) * w),
     ["you averaged the weights", "gradients only"]),
    (lambda w, v, grad, lr, beta: textbook_momentum_step(w, v, grad, lr, beta)[::-1],
     ["wrong order"]),
    (lambda w, v, grad, lr, beta: (w + lr * (beta * v + (1 - beta) * grad), beta * v + (1 - beta) * grad),
     ["v_new is right, but w moved uphill", "w_new = w − lr·v_new"]),
    (lambda w, v, grad, lr, beta: (w + (beta * v - lr * grad), beta * v - lr * grad),
     ["Sutskever et al.'s form", "v = β·v + (1−β)·g, then steps to w − lr·v"]),
])
def test_momentum_step_mistakes(answer, key_words):
    message = failure(check_momentum_step, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer, key_words", [
    (lambda alpha, beta: dict(lr=alpha, momentum=beta, dampening=beta),
     ["dampening=β", "first buffer is still the undamped gradient", "lr = α(1−β)"]),
    (lambda alpha, beta: dict(lr=alpha * (1 - beta), momentum=beta, dampening=beta),
     ["(1−β) twice", "dampening"]),
    (lambda alpha, beta: dict(lr=alpha, momentum=beta), ["lr=α", "1/(1−β) times too long"]),
    (lambda alpha, beta: dict(lr=alpha / (1 - beta), momentum=beta), ["divided by (1−β)", "multiply"]),
    (lambda alpha, beta: dict(lr=alpha * (1 - beta), momentum=1 - beta), ["momentum is β"]),
    (lambda alpha, beta: {"lr": alpha * (1 - beta)}, ["without momentum=β", "plain gradient descent"]),
    (lambda alpha, beta: dict(lr=alpha * (1 - beta), momentum=beta, nesterov=True),
     ["nesterov=True", "leave nesterov False"]),
    (lambda alpha, beta: dict(lr=alpha * (1 - beta) * 1.01, momentum=beta),  # no known mistake
     ["path w_1, …, w_50", "index (0, 0)", "(test case 1 of 3: alpha=0.1, beta=0.9)"]),
])
def test_torch_mapping_mistakes(answer, key_words):
    message = failure(check_torch_mapping, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer, key_words", [
    (lambda alpha, beta: dict(lr=alpha, beta=beta),
     ["SGD rejected", "beta=0.9", "TypeError", "unexpected keyword argument 'beta'"]),
    (lambda alpha, beta: dict(lr=-alpha, momentum=beta), ["SGD rejected", "ValueError", "-0.1"]),
    (lambda alpha, beta: (alpha * (1 - beta), beta), ["tuple", "return a dict"]),
])
def test_torch_mapping_unusable_answers_are_reported(answer, key_words):
    message = failure(check_torch_mapping, answer)
    assert all(word in message for word in key_words), message


@pytest.mark.parametrize("answer, key_words", [
    (lambda w, b, grad, lr, mu: (w - lr * (mu * b + grad), mu * b + grad), ["heavy-ball"]),
    (lambda w, b, grad, lr, mu: (w - lr * (grad + mu * b), mu * b + grad),  # the same thing
     ["heavy-ball", "old buffer", "g + μ·b_new"]),
    (lambda w, b, grad, lr, mu: (w - lr * mu * (mu * b + grad), mu * b + grad),
     ["dropped the gradient"]),
    (lambda w, b, grad, lr, mu: (w - lr * (grad + mu * (mu * b + (1 - mu) * grad)),
                                 mu * b + (1 - mu) * grad),
     ["damped"]),
    (lambda w, b, grad, lr, mu: torch_nesterov_step(w, b, grad, lr, mu)[::-1], ["wrong order"]),
])
def test_nesterov_mistakes(answer, key_words):
    message = failure(check_nesterov_step, answer)
    assert all(word in message for word in key_words), message


# --------------------------------------------------------------------------------------------------
# Predict, then run: the largest stable α of the textbook form (β = 0.9, κ = 50)
# --------------------------------------------------------------------------------------------------

LIMIT = 2 * (1 + 0.9) / ((1 - 0.9) * 50)  # 0.76


def test_the_textbook_form_really_changes_behaviour_at_the_limit():
    """Just below the limit the real run converges, just above it diverges: the limit is physical."""
    assert lesson.alpha_limit(0.9, 50) == pytest.approx(0.76)
    below, above = lesson.textbook_run(0.995 * LIMIT), lesson.textbook_run(1.005 * LIMIT, steps=1000)
    assert below.diverged_at is None and below.losses[-1] < 1e-6
    assert above.diverged_at is not None
    ours = lesson.textbook_run(0.5)
    w, v, path = np.array(landscapes.ill_conditioned_bowl(50).start), np.zeros(2), []
    for _ in range(lesson.LIMIT_STEPS):  # the textbook loop itself
        w, v = textbook_momentum_step(w, v, np.stack(landscapes.ill_conditioned_bowl(50).gradient(*w)), 0.5, 0.9)
        path.append(w)
    np.testing.assert_allclose(ours.path[1:], path, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("factor", [0.981, 0.99, 1.0, 1.01, 1.0199])
def test_alpha_limit_accepts_answers_within_two_percent(factor):
    passes(check_alpha_limit, factor * LIMIT)


@pytest.mark.parametrize("factor, direction", [(0.979, "higher"), (0.95, "higher"), (1.021, "lower"), (1.5, "lower")])
def test_alpha_limit_rejects_answers_just_outside(factor, direction):
    assert f"The limit is {direction}" in failure(check_alpha_limit, factor * LIMIT)


def test_alpha_limit_reports_what_the_real_runs_did():
    for alpha in (LIMIT, 0.9 * LIMIT, 1.1 * LIMIT):
        below, above = lesson.textbook_run(0.98 * alpha), lesson.textbook_run(1.02 * alpha)
        message = check_alpha_limit(alpha).message
        for result, where in ((below, "0.98 × your α: "), (above, "1.02 ×: ")):
            if result.diverged_at is not None:
                assert f"{where}diverged at step {result.diverged_at}" in message, message
            else:
                assert f"{where}loss 1e-6 at step {lesson.first_step_below(result)}" in message, message
    assert "loss 0.014 at step 300" in check_alpha_limit(0.01).message  # neither diverged nor reached 1e-6


@pytest.mark.parametrize("alpha, verdict, runs", [
    # 1.02 × 0.745 = 0.7599 lies just below the limit 0.76, but its steep direction's two real roots
    # are close: the loss grows for hundreds of steps first. The run does not converge, so the answer
    # passes, as the exercise says.
    (0.745, True, "loss 1e-6 at step 158; at 1.02 ×: loss grew to 4.7e+02 by step 300."),
    (0.744, False, "loss 1e-6 at step 163; at 1.02 ×: loss 1e-6 at step 168."),
    # 0.98 × 0.7755 = 0.75999 is below the limit too, and its run also grows first: it does not pass.
    (0.7755, False, "loss grew to 6.8e+03 by step 300; at 1.02 ×: diverged at step 37."),
    (0.7752, True, "loss 0.33 at step 300; at 1.02 ×: diverged at step 37."),
])
def test_alpha_limit_verdict_is_what_the_two_runs_did(alpha, verdict, runs):
    result = check_alpha_limit(alpha)
    assert result.passed is verdict and runs in result.message, result.message
    below, above = lesson.textbook_run(0.98 * alpha), lesson.textbook_run(1.02 * alpha)
    converged = [run.diverged_at is None and run.losses[-1] <= run.losses[0] for run in (below, above)]
    assert converged == [True, False] if verdict else converged != [True, False]
    if not verdict:
        assert f"The limit is {'lower' if alpha > LIMIT else 'higher'}" in result.message


@pytest.mark.parametrize("answer, key_words", [
    (2 / 50, ["0.04 is GD's limit 2/κ"]),
    (2 * 1.9 / 50, ["limit on torch's lr = α(1−β)", "1/(1−β) times larger"]),
    (2 * 1.9 / 50 * 0.1, ["multiplied torch's limit on lr by (1−β)", "divide instead"]),
    (2 / (0.1 * 50), ["scaled GD's 2/κ by 1/(1−β)", "(1+β)"]),
    (2 * 1.9 / (2.8 * 0.1 * 50), ["Nesterov's limit", "heavy ball"]),  # 0.271
    (0.27, ["Nesterov's limit"]),
    (2 * 1.9 / 0.1, ["flat curvature 1", "κ = 50"]),
    (0.0, ["a positive number, not 0"]),
    (-0.76, ["a positive number, not -0.76"]),
])
def test_alpha_limit_recognises_known_wrong_predictions(answer, key_words):
    message = failure(check_alpha_limit, answer)
    assert all(word in message for word in key_words), message


def test_alpha_limit_messages_fit_two_lines():
    for answer in (LIMIT, 0.5, 0.9, 0.04, 0.076, 0.0076, 0.27, 0.4, 38, 0.01, 1e-9, 1e9, 0.0, 0.745, 0.7755):
        text = str(check_alpha_limit(answer))
        assert len(text.splitlines()) <= 2 and all(len(line) <= 100 for line in text.splitlines()), text


# --------------------------------------------------------------------------------------------------
# Choose: lr and β that reach loss 1e-6 within 200 steps on the κ = 400 bowl
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lr, beta", [
    (0.007, 0.85), (0.004, 0.9), (0.0085, 0.8), (0.0019, 0.92), (0.009, 0.9),
    (4 / 21**2, (19 / 21) ** 2),  # the section's best lr and β for κ = 400
])
def test_settings_accepts_the_good_region_and_reports_the_step(lr, beta):
    result = lesson.settings_run(lr, beta)
    step = lesson.first_step_below(result)
    assert step is not None and step <= 200
    message = check_settings({"lr": lr, "beta": beta}).message
    assert f"reached 1e-6 at step {step} of 200" in message and "(GD at its best lr: step 1916): " in message


@pytest.mark.parametrize("lr, beta, why", [
    # (1−√0.85)² = 0.0061 < 0.007 and 400 · 0.007 = 2.8 < (1+√0.85)² = 3.69: both in the window
    (0.007, 0.85, "both curvatures lie in the complex window, where the error spirals in at √β per step."),
    # 0.0035 < (1−√0.88)² = 0.0038: the flat direction's roots are real and positive
    (0.0035, 0.88, "the error shrinks straight along the valley and spirals in at √β per step across it."),
    # 400 · 0.00876 = 3.504 > (1+√0.758)² = 3.4995, below the limit 2(1+β) = 3.516: real, negative roots
    (0.00876, 0.758, "the error shrinks straight along the valley and bounces in across it."),
    # 0.00908 > (1−√0.82)² = 0.0089, but 400 · 0.00908 = 3.632 > (1+√0.82)² = 3.631, below 2(1+β) = 3.64
    (0.00908, 0.82, "the error spirals in at √β per step along the valley and bounces in across it."),
])
def test_settings_success_says_how_each_direction_shrinks(lr, beta, why):
    result = check_settings({"lr": lr, "beta": beta})
    step = lesson.first_step_below(lesson.settings_run(lr, beta))
    assert result.passed and result.message == (
        f"with your lr and β the loss reached 1e-6 at step {step} of 200 (GD at its best lr: step 1916): {why}")
    assert len(str(result).splitlines()) <= 2 and all(len(line) <= 100 for line in str(result).splitlines())
    along, across = lesson.contraction_factor(lr, beta, [1.0, 400.0])
    spirals = np.isclose([along, across], np.sqrt(beta), rtol=1e-9, atol=0)
    assert list(spirals) == [why.startswith("both") or "spirals in at √β per step along" in why,
                             why.startswith("both") or "spirals in at √β per step across" in why]


def test_settings_verdict_is_the_real_run_s_across_the_region():
    """Passes exactly when SGD(lr, momentum=β) itself gets to 1e-6 within 200 steps."""
    for lr in np.geomspace(0.001, 0.012, 9):
        for beta in (0.0, 0.6, 0.8, 0.85, 0.9, 0.95):
            reached = lesson.first_step_below(lesson.settings_run(lr, beta)) is not None
            assert check_settings({"lr": lr, "beta": beta}).passed == reached
    plain = runner.run(landscapes.ill_conditioned_bowl(400), runner.named_optimizer("momentum", 0.007, momentum=0.85),
                       steps=200)
    np.testing.assert_array_equal(lesson.settings_run(0.007, 0.85).losses, plain.losses)


def test_gradient_descent_steps_is_the_measured_count():
    assert lesson.gradient_descent_steps() == 1916
    bowl = landscapes.ill_conditioned_bowl(400)
    gd = runner.run(bowl, runner.named_optimizer("GD", 2 / 401), steps=1916)
    assert gd.losses[1915] > 1e-6 >= gd.losses[1916]


@pytest.mark.parametrize("lr, beta, key_words", [
    (0.02, 0.9, ["diverged at step", "lr < 2(1+β)/400 = 0.0095"]),
    (0.0091, 0.82, ["grew to loss", "lr < 2(1+β)/400 = 0.0091"]),  # on the limit: |z| = 1
    (0.009, 0.8, ["the run grew to loss 1.6e+04", "lr < 2(1+β)/400 = 0.009."]),  # 2(1+0.8)/400 rounds above 0.009
    (0.005, 0.0, ["the run is still at loss 2.0e+02", "lr < 2(1+β)/400 = 0.005."]),  # GD bouncing on its limit
    (0.005, 0.8, ["still 1.1e-04 after 200 steps", "along the valley (curvature 1)", "0.972",
                  "Try a larger lr or a larger β."]),
    (0.0049, 0.0, ["along the valley", "0.995", "Try a larger β."]),  # gradient descent
    (0.0085, 0.75, ["along the valley", "0.961", "Try a larger β."]),  # lr is already near its limit 0.00875
    (0.002, 0.9, ["along the valley", "0.974", "Try a larger lr."]),
    (0.004, 0.95, ["spiral in at only √β = 0.975", "Try a smaller β."]),
    (0.001, 0.99, ["√β = 0.995", "Change lr and β together"]),
    (0.0018, 0.92, ["√β = 0.959", "Change lr and β together"]),  # a smaller β alone leaves curvature 1 behind
    (0.001, 0.5, ["along the valley", "Change lr and β together"]),
    (0.008991, 0.8, ["across the valley the error shrinks only by 0.980 per step (lr is near its limit 0.009)",
                     "Try a smaller lr or a larger β."]),
    (0.009399, 0.88, ["the loss grew to 1.4e+04 in 200 steps", "0.997", "Try a smaller lr or a larger β."]),
    (0.001, 0.93, ["along the valley", "0.981", "Change lr and β together"]),  # a larger β is slower still
    (0.005, 1.0, ["with β = 1 the run never settles", "β ≥ 1 never forgets", "below 1"]),
    (-0.01, 0.9, ["cannot be run", "Invalid learning rate"]),
    (0.005, -0.5, ["cannot be run", "Invalid momentum value"]),
])
def test_settings_explains_what_went_wrong(lr, beta, key_words):
    message = failure(check_settings, {"lr": lr, "beta": beta})
    assert all(word in message for word in key_words), message
    assert len(str(check_settings({"lr": lr, "beta": beta})).splitlines()) <= 2


def test_settings_losses_are_sgd_s_runs():
    """The batched runs behind the advice are SGD's runs, number for number, wherever SGD has not diverged."""
    lrs, betas = np.meshgrid(np.geomspace(1e-4, 0.0105, 12), [0.0, 0.5, 0.8, 0.85, 0.9, 0.92, 0.99])
    batched = lesson.settings_losses(lrs, betas)
    assert batched.shape == lrs.shape + (201,)
    for i, j in np.ndindex(lrs.shape):
        losses = lesson.settings_run(lrs[i, j], betas[i, j]).losses
        kept = np.isfinite(losses)
        np.testing.assert_array_equal(batched[i, j][kept], losses[kept])


@pytest.mark.parametrize("lr, beta", [
    (0.005, 0.8), (0.0049, 0.0), (0.0085, 0.75), (0.002, 0.9), (0.004, 0.95), (0.008991, 0.8),
    (0.009399, 0.88), (0.005, 0.7), (0.005, 0.93),
])
def test_settings_advice_is_what_real_runs_do(lr, beta):
    """Each suggested change, made alone, reaches 1e-6 in a real run of SGD."""
    message = failure(check_settings, {"lr": lr, "beta": beta})
    advice = message[message.rindex(". ") + 2:]
    assert advice.startswith("Try "), message
    limit = 2 * (1 + beta) / 400
    tries = {"a larger lr": [(other, beta) for other in np.geomspace(lr, limit, 40, endpoint=False)[1:]],
             "a smaller lr": [(other, beta) for other in np.geomspace(1e-4, lr, 40, endpoint=False)],
             "a larger β": [(lr, other) for other in np.arange(round(beta + 0.01, 2), 0.985, 0.01)],
             "a smaller β": [(lr, other) for other in np.arange(0.0, beta - 0.005, 0.01)]}
    for change in advice[len("Try "):-1].split(" or "):
        assert any(lesson.first_step_below(lesson.settings_run(*pair)) is not None for pair in tries[change]), change


def test_settings_diverged_step_is_the_run_s():
    result = lesson.settings_run(0.02, 0.9)
    assert f"diverged at step {result.diverged_at}:" in check_settings({"lr": 0.02, "beta": 0.9}).message


# --------------------------------------------------------------------------------------------------
# The analysis: the 2×2 iteration, Sutskever et al.'s look-ahead form, noisy gradients, the figures
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lr, momentum, curvature, nesterov", [
    (0.036, 0.7, 50.0, False), (0.036, 0.7, 1.0, False), (0.036, 0.5, 1.0, False), (0.025, 0.9, 50.0, True),
    (0.025, 0.9, 1.0, True), (0.01, 0.3, 20.0, True),
])
def test_contraction_factor_is_the_measured_rate(lr, momentum, curvature, nesterov):
    """The factor of the 2×2 iteration is the decay of a real 1-D run, read from its envelope."""
    x = np.array([1.0])
    optimizer = optim.SGD([x], lr=lr, momentum=momentum, nesterov=nesterov)
    sizes = []
    for _ in range(400):
        optimizer.step([curvature * x])
        sizes.append(abs(x[0]))
    measured = (max(sizes[-40:]) / max(sizes[-240:-200])) ** (1 / 200)
    np.testing.assert_allclose(lesson.contraction_factor(lr, momentum, curvature, nesterov), measured, rtol=2e-3)


def test_contraction_factor_of_gradient_descent_and_of_the_best_heavy_ball():
    np.testing.assert_allclose(lesson.contraction_factor(0.036, 0.0, [1, 50]), [0.964, 0.8])
    for kappa in (10, 100, 1000):
        root = np.sqrt(kappa)
        best = lesson.contraction_factor(4 / (1 + root) ** 2, ((root - 1) / (root + 1)) ** 2,
                                         np.geomspace(1, kappa, 50))
        np.testing.assert_allclose(best, (root - 1) / (root + 1), rtol=1e-6)  # every curvature: √β


@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_contraction_factor_stability_limits(beta):
    heavy_ball_limit, nesterov_limit = 2 * (1 + beta), 2 * (1 + beta) / (1 + 2 * beta)
    for limit, nesterov in ((heavy_ball_limit, False), (nesterov_limit, True)):
        assert lesson.contraction_factor(0.999 * limit, beta, 1.0, nesterov) < 1
        assert lesson.contraction_factor(1.001 * limit, beta, 1.0, nesterov) > 1


def test_sutskever_lookahead_points_are_torch_nesterov_iterates():
    bowl = landscapes.ill_conditioned_bowl(50.0)
    theta, lookahead = lesson.sutskever_nesterov_path(bowl, lr=0.025, momentum=0.9, steps=100)
    param = torch.tensor(bowl.start, dtype=torch.float64)
    optimizer = torch.optim.SGD([param], lr=0.025, momentum=0.9, nesterov=True)
    path = [param.clone().numpy()]
    for _ in range(100):
        param.grad = torch.tensor(np.stack(bowl.gradient(*param.numpy())))
        optimizer.step()
        path.append(param.clone().numpy())
    np.testing.assert_allclose(lookahead, path, rtol=1e-12, atol=1e-14)
    assert np.abs(theta[1:] - lookahead[1:]).max() > 1e-3  # θ itself is another sequence


def test_noisy_bowl_losses_are_seeded_and_without_noise_are_the_plain_run():
    losses = lesson.noisy_bowl_losses(lr=0.01, momentum=0.9, runs=3, steps=20)
    assert losses.shape == (3, 21)
    np.testing.assert_array_equal(losses, lesson.noisy_bowl_losses(lr=0.01, momentum=0.9, runs=3, steps=20))
    assert not np.array_equal(losses, lesson.noisy_bowl_losses(lr=0.01, momentum=0.9, runs=3, steps=20, seed=1))
    quiet = lesson.noisy_bowl_losses(lr=0.01, momentum=0.9, noise=0.0, runs=2, steps=20)
    plain = runner.run(landscapes.ill_conditioned_bowl(10.0), runner.named_optimizer("momentum", 0.01), steps=20)
    np.testing.assert_allclose(quiet, np.tile(plain.losses, (2, 1)), rtol=1e-12)


def test_momentum_on_noisy_gradients_is_sgd_with_lr_over_one_minus_beta():
    momentum = lesson.noisy_bowl_losses(lr=0.0005, momentum=0.9, runs=200, steps=1500)
    rescaled = lesson.noisy_bowl_losses(lr=0.005, runs=200, steps=1500)
    plain = lesson.noisy_bowl_losses(lr=0.0005, runs=200, steps=1500)
    floor_momentum, floor_rescaled = momentum[:, 1001:].mean(), rescaled[:, 1001:].mean()
    np.testing.assert_allclose(floor_momentum, floor_rescaled, rtol=0.1)
    np.testing.assert_allclose(floor_rescaled, 0.005 / 2, rtol=0.1)  # lr·σ²/4 per coordinate
    np.testing.assert_allclose(momentum.mean(axis=0)[300], rescaled.mean(axis=0)[300], rtol=0.15)
    assert plain.mean(axis=0)[300] > 10 * momentum.mean(axis=0)[300]


def test_plot_race_keeps_one_legend_and_the_given_colours():
    bowl = landscapes.ill_conditioned_bowl(50.0)
    results = {name: runner.run(bowl, runner.named_optimizer("momentum", 0.036, momentum=beta), steps=10)
               for name, beta in (("momentum, β = 0.5", 0.5), ("momentum, β = 0.9", 0.9))}
    figure = lesson.plot_race(bowl, results, colors={"momentum, β = 0.5": "#8c6bb1"})
    paths, losses = figure.axes
    assert paths.get_legend() is None and losses.get_legend() is not None
    colours = {line.get_label(): line.get_color() for line in losses.get_lines()}
    assert colours == {"momentum, β = 0.5": "#8c6bb1", "momentum, β = 0.9": plots.OPTIMIZER_COLORS["momentum"]}
