"""Notebook 08 (AdamW): the lesson course_lib.lessons.adamw against torch, the scale invariances
the lr × λ grid shows, the WeightDecayExplorer, the AdamW step and the retuned weight_decay checkers,
and the choice of an lr × λ pair."""

import matplotlib
import numpy as np
import pytest
import torch

from course_lib import optim
from course_lib.lessons import adamw as lesson
from course_lib.lessons.adamw import exercises

DATA = lesson.teacher_data()


@pytest.fixture(autouse=True)
def isolated_rcparams():
    with matplotlib.rc_context():
        yield


# --- the model and the data -----------------------------------------------------------------------

def test_teacher_data_is_seeded_with_the_sizes_the_notebook_states():
    again = lesson.teacher_data()
    np.testing.assert_array_equal(DATA.x_train, again.x_train)
    np.testing.assert_array_equal(DATA.y_test, again.y_test)
    assert DATA.x_train.shape == (4000, 20) and DATA.x_test.shape == (5000, 20)
    assert np.linalg.norm(DATA.teacher) == pytest.approx(1.0)
    assert 0.05 < DATA.bayes_error < 0.09
    assert not np.array_equal(lesson.teacher_data(seed=1).y_train, DATA.y_train)
    with pytest.raises(ValueError, match="n_train=0"):
        lesson.teacher_data(n_train=0)


def test_loss_and_gradient_agree_with_torch_autograd_for_a_batch_of_runs():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 20)) * rng.uniform(0.1, 10, size=(5, 1))
    x, y = DATA.x_train[:8], DATA.y_train[:8]
    tensor = torch.tensor(w, requires_grad=True)
    logits = lesson.SCALE * (tensor / tensor.norm(dim=1, keepdim=True)) @ torch.tensor(x).T
    losses = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(y).expand(5, 8),
                                                                  reduction="none").mean(dim=1)
    losses.sum().backward()
    np.testing.assert_allclose(lesson.loss(w, x, y), losses.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(lesson.gradient(w, x, y), tensor.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_the_gradient_is_orthogonal_to_w_and_shrinks_like_one_over_its_norm():
    w = np.random.default_rng(1).standard_normal(20)
    x, y = DATA.x_train[:8], DATA.y_train[:8]
    g = lesson.gradient(w, x, y)
    assert abs(g @ w) < 1e-12 * np.linalg.norm(g) * np.linalg.norm(w)
    np.testing.assert_allclose(lesson.gradient(3 * w, x, y), g / 3, rtol=1e-12)


# --- the invariances behind the grid ----------------------------------------------------------------

def directions(make, start, steps=300):
    start, batches = start, lesson.training_plan(DATA, steps=steps)[1]
    w = start.copy()
    opt, path = make([w]), []
    for batch in batches:
        opt.step([lesson.gradient(w, DATA.x_train[batch], DATA.y_train[batch])])
        path.append(w / np.linalg.norm(w))
    return np.array(path)


START = lesson.training_plan(DATA)[0]


def test_sgd_with_l2_depends_on_lr_times_decay_only():
    a = directions(lambda p: optim.SGD(p, lr=0.5, weight_decay=0.02), START)
    b = directions(lambda p: optim.SGD(p, lr=2.0, weight_decay=0.005), 2 * START)  # c = √(lr ratio) = 2
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_the_papers_adamw_does_not_depend_on_the_learning_rate():
    paper = lambda alpha, decay: (lambda p: optim.AdamW(p, lr=alpha, weight_decay=decay / alpha))
    a = directions(paper(0.01, 0.01), START)
    b = directions(paper(0.04, 0.01), 4 * START)                                   # c = α ratio = 4
    np.testing.assert_allclose(a, b, atol=1e-6)  # ε = 1e-8 is the one term that is not scaled


def test_adam_with_l2_depends_on_lr_squared_times_decay():
    a = directions(lambda p: optim.Adam(p, lr=0.01, weight_decay=0.04), START)
    b = directions(lambda p: optim.Adam(p, lr=0.02, weight_decay=0.01), 2 * START)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_the_grid_is_one_run_that_equals_its_cells_run_alone():
    lrs, decays = np.array([0.01, 0.1]), np.array([0.001, 0.1, 1.0])
    grids = lesson.decay_grid(DATA, lrs, decays, steps=200)
    assert list(grids) == list(lesson.FORMS)
    for name, (optimizer_class, weight_decay_of) in lesson.FORMS.items():
        assert grids[name].shape == (3, 2)
        for i, decay in enumerate(decays):
            for j, lr in enumerate(lrs):
                alone = lesson.train(DATA, {name: (lambda p: optimizer_class(
                    p, lr=lr, weight_decay=weight_decay_of(lr, decay)), 1)}, steps=200)
                np.testing.assert_array_equal(alone.errors[name][0, -1], grids[name][i, j])


def test_a_cell_whose_decay_wipes_the_weights_is_reported_as_diverged_without_warnings():
    with np.errstate(all="raise"):
        training = lesson.train(DATA, {"AdamW": (lambda p: optim.AdamW(p, lr=2.0, weight_decay=4.0), 1)},
                                      steps=600, record_every=10)
    assert training.diverged_at["AdamW"][0] is not None
    assert np.isnan(training.errors["AdamW"][0, -1]) and np.isnan(training.norms["AdamW"][0, -1])


def test_unknown_form_and_bad_steps_are_refused():
    with pytest.raises(ValueError, match="Unknown form"):
        lesson.grid_forms([0.1], [0.1], names=("Adam + L3",))
    with pytest.raises(ValueError, match="steps=0"):
        lesson.training_plan(DATA, steps=0)


def test_grids_over_seeds_are_the_grid_of_each_seed_stacked():
    lrs, decays = np.array([0.01, 0.1]), np.array([0.001, 0.1, 1.0])
    names = ("SGD + L2", "AdamW (paper's λ)")
    by_seed = lesson.decay_grids(DATA, lrs, decays, seeds=(3, 5), names=names, steps=100)
    assert list(by_seed) == list(names)
    for k, seed in enumerate((3, 5)):
        alone = lesson.decay_grid(DATA, lrs, decays, names=names, steps=100, seed=seed)
        for name in names:
            np.testing.assert_array_equal(by_seed[name][k], alone[name])
    assert not np.array_equal(by_seed["SGD + L2"][0], by_seed["SGD + L2"][1])  # each seed its own run


def test_mean_spread_along_averages_each_seeds_spread():
    lr, decay = np.meshgrid(2.0 ** np.arange(-4, 0), 2.0 ** np.arange(-5, 0))
    flat = np.log2(lr * decay) / 100                    # constant along lr·λ: spread 0
    tilted = flat + np.log2(lr) / 100                   # along lr·λ the error moves with lr
    by_seed = np.stack([flat, tilted])
    assert lesson.mean_spread_along(by_seed, lr * decay) == pytest.approx(
        lesson.spread_along(tilted, lr * decay) / 2)
    assert lesson.spread_along(tilted, lr * decay) > lesson.FLAT


def test_spread_along_is_zero_for_an_error_that_depends_on_the_invariant_only():
    lr, decay = np.meshgrid(2.0 ** np.arange(-4, 0), 2.0 ** np.arange(-5, 0))
    errors = np.log2(lr * decay) / 100
    assert lesson.spread_along(errors, lr * decay) == 0
    assert lesson.spread_along(errors, decay) > 0.02


# --- torch's form and the paper's ----------------------------------------------------------------------

def test_the_papers_algorithm_is_torch_adamw_with_decay_over_alpha_under_a_schedule():
    alpha, decay, steps = 0.01, 0.002, 200
    multiplier = lambda t: 0.5 * (1 + np.cos(np.pi * t / steps))
    rng = np.random.default_rng(4)
    gradients, theta = rng.standard_normal((steps, 7)), rng.standard_normal(7)
    ours, m, v = theta.copy(), np.zeros(7), np.zeros(7)
    for t in range(1, steps + 1):
        lesson.paper_adamw_step_(ours, gradients[t - 1], m, v, t, alpha, decay, multiplier(t - 1))
    tensor = torch.tensor(theta)
    adamw = torch.optim.AdamW([tensor], lr=alpha, weight_decay=lesson.torch_weight_decay(decay, alpha))
    schedule = torch.optim.lr_scheduler.LambdaLR(adamw, multiplier)
    for t in range(steps):
        tensor.grad = torch.from_numpy(gradients[t])
        adamw.step()
        schedule.step()
    np.testing.assert_allclose(ours, tensor.numpy(), rtol=1e-12, atol=1e-14)


def test_weight_decay_conversions_are_inverse():
    assert lesson.torch_weight_decay(5e-4, 1e-3) == pytest.approx(0.5)
    assert lesson.paper_weight_decay(0.5, 1e-3) == pytest.approx(5e-4)


# --- the explorer -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def explorer():
    return lesson.WeightDecayExplorer(lr=2.0**-2, weight_decay=2.0**-4, steps=300)


def lines_of(explorer):
    return [[np.array(line.get_ydata(), dtype=float) for line in ax.get_lines()] for ax in explorer.axes]


def test_explorer_builds_with_two_runs_on_its_own_canvas(explorer):
    assert set(explorer.controls) == {"lr", "weight_decay", "paper_form"}
    assert [text.get_text().split(":")[0] for *_, text in explorer._lines.values()] == ["Adam + L2", "AdamW"]
    steps, *_ = explorer.result["AdamW"]
    assert steps[-1] == 300


def test_explorer_set_moves_the_same_artists(explorer):
    artists = [line for ax in explorer.axes for line in ax.get_lines()]
    before = lines_of(explorer)
    explorer.set(lr=2.0**-5, weight_decay=2.0**-2)
    assert [line for ax in explorer.axes for line in ax.get_lines()] == artists
    after = lines_of(explorer)
    assert not np.allclose(before[0][0], after[0][0], equal_nan=True)
    explorer.set(paper_form=True)
    _, paper, *_ = explorer.result["AdamW"]
    explorer.set(paper_form=False)
    assert not np.allclose(paper, explorer.result["AdamW"][1])


def test_explorer_says_where_a_run_diverged(explorer):
    explorer.set(lr=2.0, weight_decay=4.0, paper_form=False)
    texts = [text.get_text() for *_, text in explorer._lines.values()]
    assert texts[1].startswith("AdamW: diverged by step ")
    assert texts[0].startswith("Adam + L2: final test error")
    explorer.set(lr=2.0**-2, weight_decay=2.0**-4)
    assert "final test error" in explorer._lines["AdamW"][2].get_text()


def test_explorer_mimebundle_and_bad_settings(explorer):
    bundle = explorer._repr_mimebundle_()
    assert set(bundle) == {"application/vnd.jupyter.widget-view+json", "text/plain", "image/png"}
    assert bundle["text/plain"] == ("WeightDecayExplorer: lr=0.25, weight_decay=0.0625, paper_form=False, "
                                    "steps=300")
    with pytest.raises(ValueError, match="weight_decay must be between"):
        explorer.set(weight_decay=100.0)
    with pytest.raises(ValueError, match="Unknown setting"):
        explorer.set(momentum=0.9)


# --- the checkers ------------------------------------------------------------------------------------

def test_torch_adamw_step_reference_is_torch_adamw():
    rng = np.random.default_rng(2)
    w, lr, decay = rng.standard_normal(6), 0.1, 0.3
    tensor = torch.tensor(w)
    adamw = torch.optim.AdamW([tensor], lr=lr, weight_decay=decay, betas=(0.8, 0.99), eps=1e-6)
    m, v = np.zeros(6), np.zeros(6)
    for t in range(1, 6):
        g = rng.standard_normal(6)
        w, m, v = lesson.torch_adamw_step(w, m, v, g, t, lr, decay, 0.8, 0.99, 1e-6)
        tensor.grad = torch.from_numpy(g)
        adamw.step()
    np.testing.assert_allclose(w, tensor.numpy(), rtol=1e-12)
    np.testing.assert_allclose(m, adamw.state[tensor]["exp_avg"].numpy(), rtol=1e-12)


def adamw_loop(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    """A learner's loop over coordinates, with Python floats."""
    out_w, out_m, out_v = [], [], []
    for wi, mi, vi, gi in zip(np.ravel(w), np.ravel(m), np.ravel(v), np.ravel(grad)):
        wi = wi - lr * weight_decay * wi
        mi = beta1 * mi + (1 - beta1) * gi
        vi = beta2 * vi + (1 - beta2) * gi * gi
        wi = wi - lr * (mi / (1 - beta1**t)) / ((vi / (1 - beta2**t)) ** 0.5 + eps)
        out_w.append(wi), out_m.append(mi), out_v.append(vi)
    shape = np.shape(w)
    return np.reshape(out_w, shape), np.reshape(out_m, shape), np.reshape(out_v, shape)


@pytest.mark.parametrize("checker, answer", [
    (lesson.check_adamw_step, lesson.torch_adamw_step),
    (lesson.check_adamw_step, adamw_loop),
    (lesson.check_retuned_weight_decay, lambda weight_decay, lr_old, lr_new: weight_decay * lr_old / lr_new),
    (lesson.check_retuned_weight_decay, lambda weight_decay, lr_old, lr_new: (lr_old * weight_decay) / lr_new),
    (lesson.check_retuned_weight_decay, lambda weight_decay, lr_old, lr_new: weight_decay / (lr_new / lr_old)),
])
def test_right_answers_pass(checker, answer):
    result = checker(answer)
    assert result.passed, result.message


@pytest.mark.parametrize("key_words, answer", [
    ("Adam with L2", exercises._adam_l2_step),
    ("not multiplied by the learning rate", exercises._decay_not_times_lr),
    ("after the Adam step", exercises._decay_after_the_step),
    ("bias correction", exercises._adamw_without_bias_correction),
])
def test_adamw_step_mistakes_are_named(key_words, answer):
    assert key_words in lesson.check_adamw_step(answer).message


@pytest.mark.parametrize("checker, answer", [
    (lesson.check_adamw_step, lesson.torch_adamw_step),
    (lesson.check_retuned_weight_decay, lesson.retuned_weight_decay_reference),
])
def test_the_success_messages_fit_two_lines_of_a_slide(checker, answer):
    shown = str(checker(answer))
    assert shown.startswith("Correct!") and len(shown.splitlines()) <= 2, shown


def test_the_grid_panels_label_lambda_once():
    lrs, decays = np.array([0.01, 0.1]), np.array([0.001, 0.1, 1.0])
    grids = {name: np.full((3, 2), 0.1) for name in ("Adam + L2", "AdamW (paper's λ)")}
    figure = lesson.plot_decay_grids(grids, lrs, decays)
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_ylabel() for ax in panels] == ["log₂ λ", ""]
    assert [ax.get_title().split("\n")[1] for ax in panels] == ["constant along lr²·λ", "constant along λ"]


def test_the_stub_is_not_attempted_and_a_missing_return_is_reported():
    def stub(*arguments):
        raise NotImplementedError

    result = lesson.check_adamw_step(stub)
    assert not result.attempted and result.message == lesson.ADAMW_EXERCISE.hint
    assert "returned None" in lesson.check_retuned_weight_decay(lambda weight_decay, lr_old, lr_new: None).message


# --- the notebook's solutions, and the mistakes its Pitfalls name --------------------------------------

def adamw_step_solution(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_new = beta1 * m + (1 - beta1) * grad
    v_new = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m_new / (1 - beta1**t), v_new / (1 - beta2**t)
    w_new = w * (1 - lr * weight_decay) - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w_new, m_new, v_new


def retuned_weight_decay_solution(weight_decay, lr_old, lr_new):
    return weight_decay * lr_old / lr_new


def test_the_notebook_s_solutions_pass():
    assert str(lesson.check_adamw_step(adamw_step_solution)).startswith("Correct!")
    assert str(lesson.check_retuned_weight_decay(retuned_weight_decay_solution)).startswith("Correct!")


def test_a_step_that_updates_w_m_and_v_in_place_as_torch_does_passes():
    def in_place(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
        w *= 1 - lr * weight_decay
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        w -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
        return w, m, v

    assert lesson.check_adamw_step(in_place).passed


def test_a_step_that_changes_the_gradient_in_place_is_told():
    def clips_the_gradient(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
        np.clip(grad, -0.5, 0.5, out=grad)
        return lesson.torch_adamw_step(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps)

    assert lesson.check_adamw_step(clips_the_gradient).message.startswith(
        "your function changed its argument `grad` in place")


def decay_inside_the_fraction(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    """As a learner writes it: λ·θ put next to m̂, so √v̂ + ε divides it."""
    m_new = beta1 * m + (1 - beta1) * grad
    v_new = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m_new / (1 - beta1**t), v_new / (1 - beta2**t)
    return w - lr * (m_hat + weight_decay * w) / (np.sqrt(v_hat) + eps), m_new, v_new


def l2_and_decoupled(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    """As a learner writes it: Adam(weight_decay=λ)'s L2 and AdamW's decay, both."""
    grad = grad + weight_decay * w
    w = w * (1 - lr * weight_decay)
    m_new = beta1 * m + (1 - beta1) * grad
    v_new = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m_new / (1 - beta1**t), v_new / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new


@pytest.mark.parametrize("answer, message", [
    (decay_inside_the_fraction, "your decay λ·θ sits inside Adam's fraction, so √v̂ + ε divides it, as in Adam + L2. "
                                "AdamW keeps it outside: θ·(1 − lr·λ), then the Adam step."),
    (l2_and_decoupled, "you decayed twice: λ·θ added to the gradient (L2) and θ·(1 − lr·λ). AdamW keeps only "
                       "the second and feeds m and v the bare gradient."),
])
def test_the_pitfalls_new_mistakes_get_their_own_message(answer, message):
    result = lesson.check_adamw_step(answer)
    assert not result.passed and result.message == message


def returns_m_hat_and_v_hat(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_hat = (beta1 * m + (1 - beta1) * grad) / (1 - beta1**t)
    v_hat = (beta2 * v + (1 - beta2) * grad**2) / (1 - beta2**t)
    return w * (1 - lr * weight_decay) - lr * m_hat / (np.sqrt(v_hat) + eps), m_hat, v_hat


def v_of_the_gradient(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_new, v_new = beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad
    return w * (1 - lr * weight_decay) - lr * (m_new / (1 - beta1**t)) / (np.sqrt(v_new / (1 - beta2**t)) + eps), \
        m_new, v_new


def t_counted_from_zero(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_new, v_new = beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m_new / (1 - beta1 ** (t + 1)), v_new / (1 - beta2 ** (t + 1))
    return w - lr * weight_decay * w - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new


@pytest.mark.parametrize("answer, message", [
    (returns_m_hat_and_v_hat, "you returned m̂ and v̂: return m and v themselves, before the bias correction, "
                              "since the next step averages into them."),
    (v_of_the_gradient, "your v averages the gradients, not their squares: v ← β₂v + (1 − β₂)g²."),
    (t_counted_from_zero, "t is already counted from 1: the bias corrections are 1 − β₁ᵗ and 1 − β₂ᵗ, "
                          "not 1 − β₁ᵗ⁺¹ and 1 − β₂ᵗ⁺¹."),
])
def test_the_moments_typical_mistakes_get_their_own_message(answer, message):
    result = lesson.check_adamw_step(answer)
    assert not result.passed and result.message == message


def test_a_step_with_eps_under_the_root_or_the_decay_inside_lr_passes():
    """Two right forms: ε under the root differs far below the tolerance, and lr·(A + λθ) is torch's form."""
    def eps_under_the_root(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
        m_new, v_new = beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad**2
        direction = (m_new / (1 - beta1**t)) / np.sqrt(v_new / (1 - beta2**t) + eps)
        return w * (1 - lr * weight_decay) - lr * direction, m_new, v_new

    def decay_inside_lr(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
        m_new, v_new = beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad**2
        direction = (m_new / (1 - beta1**t)) / (np.sqrt(v_new / (1 - beta2**t)) + eps)
        return w - lr * (direction + weight_decay * w), m_new, v_new

    assert lesson.check_adamw_step(eps_under_the_root).passed and lesson.check_adamw_step(decay_inside_lr).passed


# --- exercise 2: the weight_decay that keeps the decay per step when lr changes -------------------------

@pytest.mark.parametrize("answer, message", [
    (lambda weight_decay, lr_old, lr_new: weight_decay,
     "the same λ at another lr is another decay: torch decays by lr·λ per step. Keep lr·λ: λ·lr_old/lr_new."),
    (lambda weight_decay, lr_old, lr_new: weight_decay * lr_new / lr_old,
     "upside down: a larger lr needs a smaller λ to keep lr·λ, so λ·lr_old/lr_new."),
    (lambda weight_decay, lr_old, lr_new: lr_old * weight_decay,
     "lr_old·λ is the decay per step, the paper's λ; torch's weight_decay at lr_new is that divided by lr_new."),
    (lambda weight_decay, lr_old, lr_new: weight_decay / lr_new,
     "you divided λ by lr_new as if it were the paper's λ. It is torch's: its decay per step is lr_old·λ, and "
     "that is what lr_new·λ_new must equal."),
    (lambda weight_decay, lr_old, lr_new: weight_decay * lr_old**2 / lr_new**2,
     "(lr_old/lr_new)² keeps lr²·λ, the invariant of Adam + L2. AdamW's decay per step is lr·λ."),
])
def test_each_retuning_mistake_gets_its_own_message(answer, message):
    result = lesson.check_retuned_weight_decay(answer)
    assert not result.passed and result.message == message


def test_the_retuned_weight_decay_keeps_torch_s_decay_per_step_and_the_paper_s_lambda():
    for case in lesson.RETUNED_WEIGHT_DECAY_EXERCISE.cases:
        new = lesson.retuned_weight_decay_reference(**case)
        assert case["lr_new"] * new == pytest.approx(case["lr_old"] * case["weight_decay"])
        assert lesson.paper_weight_decay(new, case["lr_new"]) == pytest.approx(
            lesson.paper_weight_decay(case["weight_decay"], case["lr_old"]))


def test_the_retuned_weight_decay_runs_torch_s_adamw_with_the_same_decay():
    """With no gradient, AdamW only decays: the retuned pair shrinks a weight exactly as the old pair does."""
    def decayed(lr, weight_decay, steps=50):
        w = torch.ones(3, dtype=torch.float64)
        adamw = torch.optim.AdamW([w], lr=lr, weight_decay=weight_decay)
        for _ in range(steps):
            w.grad = torch.zeros_like(w)
            adamw.step()
        return w.numpy()

    old = decayed(1e-3, 0.5)
    np.testing.assert_allclose(decayed(4e-3, lesson.retuned_weight_decay_reference(0.5, 1e-3, 4e-3)), old, rtol=1e-12)
    assert not np.allclose(decayed(4e-3, 0.5), old, rtol=1e-6)


# --- exercise 3: an lr × λ pair in torch's AdamW's good region ---------------------------------------------

def test_the_check_trains_the_grid_s_own_cell_to_the_last_bit():
    for lr, decay in ((2.0**-3, 2.0**-4), (2.0, 4.0)):   # a cell that trains, and one that blows up
        grid = lesson.decay_grids(DATA, [lr], [decay], seeds=(1, 2, 3), names=("AdamW (torch's λ)",), steps=300)
        np.testing.assert_array_equal(lesson.seed_errors(DATA, lr, decay, seeds=(1, 2, 3), steps=300),
                                      grid["AdamW (torch's λ)"][:, 0, 0])
    assert lesson.GRID_SEEDS == tuple(range(1, 9))          # the notebook's seeds = range(1, 9)


def pair(lr, weight_decay):
    return lesson.check_adamw_pair({"lr": lr, "weight_decay": weight_decay})


def text(result):
    """The message with its no-break spaces (which keep "7.7 %" on one line) as plain spaces."""
    return result.message.replace("\u00a0", " ")


@pytest.mark.parametrize("lr, weight_decay", [
    (2.0**-9, 2.0**-4),    # the notebook's solution, lr·λ = 2⁻¹³: 7.1 % over the 8 seeds
    (1e-3, 1e-2),          # torch's defaults, lr·λ = 1e-5: 7.0 %
    (2.0**-6, 2.0**-8),    # lr·λ = 2⁻¹⁴ at a larger lr: 7.4 %
])
def test_pairs_across_the_good_region_pass(lr, weight_decay):
    result = pair(lr, weight_decay)
    assert result.passed, result.message
    assert text(result) == ("Your cell's test error averages under 7.7 % over the 8 seeds, within a point of the "
                            "teacher's 6.7 %. In torch's form what counts is your lr·λ, the decay per step.")
    assert len(str(result).splitlines()) <= 2


@pytest.mark.parametrize("lr, weight_decay, written", [
    (2.0**-9, 2.0**-4, ("2⁻⁹", "2⁻⁴", "2⁻¹³")),          # the notebook's solution, as the messages write it
    (1e-3, 1e-2, ("0.001", "0.01", "1e-05", "1e-3", "1e-2", "1e-5")),
])
def test_the_success_message_does_not_give_the_pair_away(lr, weight_decay, written):
    """After "Run All" the solution's verdict shows right under the question: no lr, λ or lr·λ in it."""
    message = text(pair(lr, weight_decay))
    assert not any(number in message for number in written), message
    assert "lr =" not in message and "λ =" not in message and "lr·λ =" not in message


def test_a_wrong_pair_is_reported_in_powers_of_two():
    result = pair(2.0**-5, 2.0**-4)
    assert not result.passed and result.message.startswith("lr = 2⁻⁵, λ = 2⁻⁴, lr·λ = 2⁻⁹: the test error")


def test_sixteen_times_the_decay_crosses_the_outline():
    """At lr = 2⁻⁷ the judge's verdict flips between λ = 2⁻⁷ (7.3 %) and 2⁻³ (8.0 %, lr·λ = 2⁻¹⁰):
    the check runs the cell, it does not look the answer up. Near the outline it prints no digits."""
    assert pair(2.0**-7, 2.0**-7).passed
    result = pair(2.0**-7, 2.0**-3)
    assert not result.passed
    assert text(result) == ("lr = 2⁻⁷, λ = 2⁻³, lr·λ = 2⁻¹⁰: the test error averages a little above 7.7 % over "
                              "the 8 seeds. Each step turns w too far: lower lr·λ (it keeps ‖w‖ small) or lr.")


def test_sixteen_times_the_lr_needs_a_sixteenth_of_the_decay():
    """The notebook's follow-up: from its answer (2⁻⁹, 2⁻⁴), lr × 16 at the same λ leaves the good region
    (8.4 %), lr × 16 with λ / 16 (exercise 2's rule) stays in it (7.5 %)."""
    assert not pair(2.0**-5, 2.0**-4).passed
    assert pair(2.0**-5, lesson.retuned_weight_decay_reference(2.0**-4, 2.0**-9, 2.0**-5)).passed


def test_no_decay_trains_well_but_is_not_the_answer():
    result = pair(2.0**-9, 0.0)
    assert not result.passed and text(result) == (
        "lr = 2⁻⁹, λ = 0, lr·λ = 0: the test error averages under 7.7 % over the 8 seeds, but λ = 0 switches "
        "the decay off. Choose a λ > 0.")


@pytest.mark.parametrize("lr, weight_decay, words", [
    (0.0, 0.1, "averages 52 % over the 8 seeds, not under 7.7 %. In 2000 steps w has hardly turned from its "
               "start: raise lr."),
    (1e-4, 1e-4, "In 2000 steps w has hardly turned from its start: raise lr."),
    # w turned (cos 0.56) but too slowly: 39 % after 1000 steps, 22 % after 2000
    (2.0**-12, 1.0, "averages 22 % over the 8 seeds, not under 7.7 %. It was still falling (39 % at step "
                    "1000): w turns too slowly; raise lr."),
    (2.0**-11, 2.0**-4, "averages 13 % over the 8 seeds, not under 7.7 %. It was still falling (30 % at step "
                        "1000): w turns too slowly; raise lr."),
    # a decay of half the weights a step: the error is high but no longer falls, 20 % and 21 %
    (0.5, 1.0, "averages 21 % over the 8 seeds, not under 7.7 %. Each step turns w too far"),
    (0.01, 10.0, "averages 16 % over the 8 seeds, not under 7.7 %. Each step turns w too far"),
    (1.5, 1.0, "1 − lr·λ ≤ 0 zeroes or flips the weights every step."),
    (2.0, 4.0, "the weights blew up in 8 of the 8 seeds: 1 − lr·λ = −7 is below −1"),
])
def test_each_kind_of_bad_pair_gets_its_explanation(lr, weight_decay, words):
    result = pair(lr, weight_decay)
    assert not result.passed and words in text(result), result.message
    assert len(str(result).splitlines()) <= 2


def test_a_pair_the_optimizer_refuses_is_reported():
    assert pair(-1e-3, 0.1).message == "that answer cannot be run: Invalid learning rate: lr=-0.001 (must be >= 0)"
    assert "Invalid weight_decay value" in pair(1e-3, -0.1).message
