"""Notebook 13: the sorting task and the small transformer (shapes, causality, the parameter count,
the loss at initialisation, the two parameter groups), the training run (a loss that falls, seeded
runs, every schedule's rates against torch's, the LR range test, bfloat16 autocast), the warm-up +
cosine schedule against torch's schedulers, and the exercises' checkers."""

import math
import re
import types
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from course_lib import schedules
from course_lib.interactive.checking import check_function
from course_lib.lessons import recipe as lesson
from course_lib.lessons.recipe import exercises

pytestmark = pytest.mark.usefixtures("one_torch_thread")

V, C = lesson.VOCABULARY, lesson.CONTEXT


# --------------------------------------------------------------------------------------------------
# The task and the model
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model():
    return lesson.make_model(0)


@pytest.mark.parametrize("T", [1, 9, C])
def test_logits_have_one_row_of_vocabulary_scores_per_position(model, T):
    tokens = torch.randint(0, V, (3, T), generator=torch.Generator().manual_seed(T))
    assert model(tokens).shape == (3, T, V)


@pytest.mark.parametrize("j", [1, 8, C - 1])
def test_the_model_is_causal(model, j):
    """Changing token j changes no prediction before position j, and does change position j's."""
    tokens = torch.randint(0, 10, (4, C), generator=torch.Generator().manual_seed(j))
    changed = tokens.clone()
    changed[:, j] = (tokens[:, j] + 1) % V
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    torch.testing.assert_close(after[:, :j], before[:, :j], rtol=0, atol=1e-6)
    assert (after[:, j] - before[:, j]).abs().max() > 1e-3


def test_parameter_count_follows_the_architecture():
    """Embeddings V·D + C·D; per block two LayerNorms (2·2D) and four linear layers (D→3D, D→D,
    D→4D, 4D→D, each with its bias); the final LayerNorm 2D and the head D·V + V."""
    for width, layers in ((64, 2), (32, 3)):
        D = width
        block = 2 * 2 * D + (D * 3 * D + 3 * D) + (D * D + D) + (D * 4 * D + 4 * D) + (4 * D * D + D)
        expected = V * D + C * D + layers * block + 2 * D + D * V + V
        net = lesson.TinyTransformer(width=width, layers=layers)
        assert sum(p.numel() for p in net.parameters()) == expected
    assert sum(p.numel() for p in lesson.make_model(0).parameters()) == V * 64 + C * 64 + 2 * (
        4 * 64 + 12 * 64 * 64 + 9 * 64) + 128 + 65 * V   # the default: width 64, 2 layers
    with pytest.raises(ValueError, match="multiple of heads"):
        lesson.TinyTransformer(width=30, heads=4)


def test_sorting_batch_targets_are_the_inputs_shifted_and_the_second_half_is_sorted():
    inputs, targets = lesson.sorting_batch(torch.Generator().manual_seed(3), 50)
    assert inputs.shape == targets.shape == (50, C)
    assert torch.equal(inputs[:, 1:], targets[:, :-1])
    sequence = torch.cat([inputs[:, :1], targets], dim=1)           # the whole example, 2·DIGITS + 1 tokens
    digits, separator, answer = sequence[:, :8], sequence[:, 8], sequence[:, 9:]
    assert digits.max() <= 9 and digits.min() >= 0 and (separator == lesson.SEPARATOR).all()
    assert torch.equal(answer, digits.sort(dim=1).values)
    assert len({tuple(row) for row in digits.tolist()}) == 50       # random, not one example repeated


def test_the_evaluation_set_is_the_same_on_every_call_whatever_the_seed():
    torch.manual_seed(0)
    first = lesson.evaluation_set()
    torch.manual_seed(1)
    second = lesson.evaluation_set()
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert first[0].shape == (128, C)
    training = lesson.sorting_batch(torch.Generator().manual_seed(1000), 128)[0]
    assert not torch.equal(training, first[0])


def test_the_loss_at_initialisation_is_about_a_uniform_guess(model):
    """Each position's LayerNorm output has norm √D and the head's rows are U(±1/√D), so the logits
    spread across the vocabulary with a variance of about D · 1/(3D) = σ² = 1/3; for such logits the
    expected loss is ln V + σ²/2. Allowed: ln 11 − σ²/2 … ln 11 + σ² (a model that had learned, or
    logits an order of magnitude larger, falls outside)."""
    inputs, targets = lesson.evaluation_set()
    with torch.no_grad():
        logits = model(inputs)
    spread = logits[:, 8:].std(dim=-1).pow(2).mean().item()
    assert spread == pytest.approx(1 / 3, rel=0.3)                 # the premise of the tolerance
    loss = lesson.sorted_half_loss(logits, targets).item()
    assert math.log(V) - 1 / 6 < loss < math.log(V) + 1 / 3
    assert lesson.sorted_half_accuracy(logits, targets) < 0.3       # about 1 in 10 right by chance


def linear_weights(net):
    return {f"{prefix}.weight" for prefix, module in net.named_modules() if isinstance(module, nn.Linear)}


@pytest.mark.parametrize("size", [{}, {"width": 32, "layers": 3}])
def test_param_groups_decay_exactly_the_linear_weight_matrices(size):
    net = lesson.TinyTransformer(**size)
    decay, rest = lesson.param_groups(net, 0.1)
    assert decay["weight_decay"] == 0.1 and rest["weight_decay"] == 0.0
    ids = [id(p) for p in decay["params"] + rest["params"]]
    assert sorted(ids) == sorted(id(p) for p in net.parameters())     # every parameter exactly once
    names = {id(p): name for name, p in net.named_parameters()}
    assert {names[id(p)] for p in decay["params"]} == linear_weights(net)
    others = {names[id(p)] for p in rest["params"]}
    assert {"tokens.weight", "positions.weight", "norm.weight", "norm.bias", "head.bias",
            "blocks.0.norm1.weight", "blocks.0.qkv.bias"} <= others


def test_an_adamw_step_with_zero_gradients_shrinks_only_the_decay_group(model):
    net = lesson.make_model(0)
    lr, decay = 0.05, 0.1
    optimizer = torch.optim.AdamW(lesson.param_groups(net, decay), lr=lr)
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for name, p in net.named_parameters():
        factor = 1 - lr * decay if name in linear_weights(net) else 1.0
        torch.testing.assert_close(p.detach(), before[name] * factor, rtol=1e-6, atol=0)


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run():
    return lesson.train(lesson.RECIPE, seed=0)


def test_the_recipe_s_loss_falls_on_a_fixed_seed(run):
    assert run.losses.shape == run.grad_norms.shape == run.lrs.shape == (lesson.STEPS,)
    assert run.losses[-10:].mean() < 0.5 * run.losses[0]
    assert run.loss < 0.5 * math.log(V) and run.accuracy > 0.5 and run.ema_loss < 0.5 * math.log(V)


def test_two_runs_from_one_seed_are_identical(run):
    again = lesson.train(lesson.RECIPE, seed=0)
    for name in ("losses", "grad_norms", "lrs", "update_ratios"):
        np.testing.assert_array_equal(getattr(again, name), getattr(run, name))
    assert (again.loss, again.ema_loss) == (run.loss, run.ema_loss)
    assert lesson.train(lesson.RECIPE, seed=1, steps=12).losses[0] != run.losses[0]   # the seed matters


def test_update_ratios_are_measured_for_the_first_ratio_steps_only(run):
    ratios = run.update_ratios
    assert np.all(ratios[:lesson.RATIO_STEPS] > 0) and np.isnan(ratios[lesson.RATIO_STEPS:]).all()


def test_the_first_update_ratio_grows_in_proportion_to_lr():
    """Adam's first step is lr·g/(|g| + ε) ≈ ±lr per weight (and AdamW's decay lr·λ·θ): both
    proportional to lr. The premise of the prediction exercise."""
    low, high = exercises.first_step_ratio(0.01), exercises.first_step_ratio(0.1)
    assert high / low == pytest.approx(10, rel=1e-4)
    warm = lesson.train(lesson.RECIPE, seed=0, steps=12).update_ratios[0]   # warm-up 10: first lr = 0.01 / 10
    assert warm == pytest.approx(low / 10, rel=1e-4)


def test_warmup_stable_decay_landmarks_and_torch_lambda_lr():
    T, W, peak = 50, 10, 0.7
    rates = lesson.warmup_stable_decay(np.arange(T), peak, W, T)
    D = round(0.2 * T)
    np.testing.assert_allclose(rates[:W], peak * np.arange(1, W + 1) / W, rtol=1e-15)    # the ramp
    np.testing.assert_allclose(rates[W - 1:T - D + 1], peak, rtol=1e-15)                 # the plateau
    assert np.all(np.diff(rates[T - D:]) < 0) and rates[-1] == pytest.approx(peak / D, rel=1e-15)
    lam = torch_rates(lambda m, opt: m.LambdaLR(opt, lambda t: lesson.warmup_stable_decay(t, 1.0, W, T)), T, lr=peak)
    np.testing.assert_allclose(rates, lam, rtol=1e-13)
    assert lesson.warmup_stable_decay(49, 1.0, 0, 50, decay_fraction=0.5) == pytest.approx(1 / 25)


def test_one_cycle_also_cycles_beta1_and_ends_at_peak_over_250_000():
    """The notebook says one-cycle moves β₁ from 0.95 to 0.85 at the peak and back, and ends at
    peak/25/10⁴: read both off the optimizer that ``make_optimizer`` builds."""
    steps, peak = 60, lesson.RECIPE.peak_lr
    optimizer, scheduler = lesson.make_optimizer(lesson.make_model(0), replace(lesson.RECIPE, schedule="one-cycle"),
                                                 steps)
    beta1, lrs = [], []
    for _ in range(steps):
        beta1.append(optimizer.param_groups[0]["betas"][0])
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()                                 # no gradients: nothing moves, the order is kept
        scheduler.step()
    top = int(np.argmax(lrs))
    assert lrs[top] == pytest.approx(peak, rel=1e-12) and lrs[-1] == pytest.approx(peak / 250_000, rel=1e-9)
    assert beta1[0] == pytest.approx(0.95) and beta1[top] == pytest.approx(0.85) and beta1[-1] == pytest.approx(0.95)
    assert all(group["betas"][1] == lesson.RECIPE.beta2 for group in optimizer.param_groups)


@pytest.mark.parametrize("schedule", lesson.SCHEDULES)
def test_each_schedule_records_the_rate_the_optimizer_used(schedule):
    steps, peak, W = 20, lesson.RECIPE.peak_lr, lesson.RECIPE.warmup_steps
    t = np.arange(steps)
    expected = {"cosine": lambda: lesson.warmup_cosine(t, peak, W, steps),
                "warmup-stable-decay": lambda: lesson.warmup_stable_decay(t, peak, W, steps),
                "one-cycle": lambda: torch_rates(
                    lambda module, opt: module.OneCycleLR(opt, max_lr=peak, total_steps=steps), steps, lr=peak),
                "schedule-free": lambda: peak * np.minimum(1.0, (t + 1) / W)}[schedule]()
    run = lesson.train(replace(lesson.RECIPE, schedule=schedule), seed=0, steps=steps)
    np.testing.assert_allclose(run.lrs, expected, rtol=1e-12)
    assert np.isfinite(run.losses).all() and run.losses[-5:].mean() < run.losses[0]


@pytest.mark.parametrize("bad, field", [({"schedule": "linear"}, "schedule"), ({"peak_lr": 0.0}, "peak_lr"),
                                        ({"peak_lr": float("nan")}, "peak_lr"), ({"max_norm": -1.0}, "max_norm"),
                                        ({"beta2": 1.0}, "beta2"), ({"beta2": -0.1}, "beta2"),
                                        ({"weight_decay": -0.1}, "weight_decay"), ({"warmup_steps": -1}, "warmup_steps"),
                                        ({"warmup_steps": 2.5, "schedule": "schedule-free"}, "warmup_steps")])
def test_recipe_rejects_bad_values(bad, field):
    with pytest.raises(ValueError, match=field):
        lesson.Recipe(**bad)
    lesson.Recipe(max_norm=math.inf, weight_decay=0.0, beta2=0.0)       # the limits themselves are fine


def test_train_refuses_a_warmup_that_leaves_no_decay():
    with pytest.raises(ValueError, match="warmup_steps"):
        lesson.train(replace(lesson.RECIPE, warmup_steps=9), steps=10)


def test_lr_range_test_rates_are_geometric_from_lr_min_to_lr_max():
    lrs, losses = lesson.lr_range_test(seed=0, lr_min=1e-3, lr_max=1.0, steps=12)
    assert lrs[0] == pytest.approx(1e-3, rel=1e-12) and lrs[-1] == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(np.diff(np.log(lrs)), math.log(1000) / 11, rtol=1e-9)
    assert losses.shape == (12,) and np.isfinite(losses[:6]).all()


def test_bfloat16_autocast_runs_and_ends_near_float32(run):
    """bfloat16 keeps 8 bits of mantissa: the first loss moves by the forward's rounding, a relative
    2⁻⁸ ≈ 0.4 % of 2.4 (< 0.01). The recipe's training is stable (warm-up, clipping), so the gap
    does not grow into a different run: the final held-out loss stays within 0.05 (about a tenth of
    it), and autocast is really on (the first loss is not float32's)."""
    mixed = lesson.train(lesson.RECIPE, seed=0, autocast_dtype=torch.bfloat16)
    assert mixed.losses[0] != run.losses[0] and abs(mixed.losses[0] - run.losses[0]) < 0.01
    assert abs(mixed.loss - run.loss) < 0.05 and np.abs(mixed.losses - run.losses).max() < 0.1


# --------------------------------------------------------------------------------------------------
# The warm-up + cosine schedule
# --------------------------------------------------------------------------------------------------

def torch_rates(make, steps, lr=0.7):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make(torch.optim.lr_scheduler, opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(rates)


def our_rates(make, steps, lr=0.7):
    opt = types.SimpleNamespace(lr=lr)
    scheduler = make(schedules, opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.lr)
        scheduler.step()
    return np.array(rates)


@settings(max_examples=40, deadline=None)
@given(total=st.integers(2, 120), data=st.data(), eta_fraction=st.sampled_from([0.0, 0.01, 0.3]))
def test_warmup_cosine_equals_torch_sequential_lr_and_lambda_lr(total, data, eta_fraction):
    warmup = data.draw(st.integers(0, total - 2))
    eta_min = 0.7 * eta_fraction
    make = lambda m, opt: lesson.warmup_cosine_scheduler(m, opt, warmup, total, eta_min)
    closed = lesson.warmup_cosine(np.arange(total), 0.7, warmup, total, eta_min)
    theirs = torch_rates(make, total)
    np.testing.assert_allclose(closed, theirs, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(our_rates(make, total), theirs, rtol=1e-13, atol=1e-15)
    lam = torch_rates(lambda m, opt: m.LambdaLR(opt, lambda s: lesson.warmup_cosine(s, 1.0, warmup, total, eta_fraction)),
                      total)
    np.testing.assert_allclose(closed, lam, rtol=1e-13, atol=1e-15)


def test_warmup_cosine_landmarks():
    rates = lesson.warmup_cosine(np.arange(50), 0.1, 10, 50, 0.001)
    assert rates[0] == pytest.approx(0.01)            # peak/W, not 0
    assert rates[9] == pytest.approx(0.1) and rates[10] == pytest.approx(0.1)
    assert rates[-1] == pytest.approx(0.001)           # eta_min on the last step
    assert np.all(np.diff(rates[10:]) < 0)
    assert lesson.warmup_cosine(3, 0.1, 10, 50) == pytest.approx(0.04)
    with pytest.raises(ValueError, match="warmup_steps"):
        lesson.warmup_cosine(0, 0.1, 49, 50)



# --------------------------------------------------------------------------------------------------
# The schedule exercise
# --------------------------------------------------------------------------------------------------

def warmup_cosine_lr_solution(step, peak_lr, warmup_steps, total_steps, eta_min):
    """The notebook's solution, as its solution cell writes it."""
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / (total_steps - warmup_steps - 1)
    return eta_min + (peak_lr - eta_min) * (1 + math.cos(math.pi * progress)) / 2


def test_warmup_cosine_checker_accepts_the_reference_and_names_each_mistake():
    assert lesson.check_warmup_cosine(lesson.warmup_cosine_reference).passed
    assert str(lesson.check_warmup_cosine(warmup_cosine_lr_solution)).startswith("Correct!")
    for mistake in lesson.WARMUP_COSINE_EXERCISE.mistakes:
        result = check_function(mistake.answer, lesson.WARMUP_COSINE_EXERCISE)
        assert not result.passed and result.message == mistake.explanation

    def starts_at_zero(step, peak_lr, warmup_steps, total_steps, eta_min):
        if step < warmup_steps:
            return peak_lr * step / warmup_steps
        return lesson.warmup_cosine_reference(step, peak_lr, warmup_steps, total_steps, eta_min)

    result = lesson.check_warmup_cosine(starts_at_zero)
    assert not result.passed and "starts at 0" in result.message

    def no_eta_min(step, peak_lr, warmup_steps, total_steps, eta_min):
        return lesson.warmup_cosine_reference(step, peak_lr, warmup_steps, total_steps, 0.0)

    assert "ignores eta_min" in lesson.check_warmup_cosine(no_eta_min).message

    def divides_by_w(step, peak_lr, warmup_steps, total_steps, eta_min):
        ramp = peak_lr * (step + 1) / warmup_steps
        return ramp if step < warmup_steps else lesson.warmup_cosine_reference(step, peak_lr, warmup_steps,
                                                                                 total_steps, eta_min)

    result = lesson.check_warmup_cosine(divides_by_w)
    assert not result.passed and "ZeroDivisionError" in result.message and "warmup_steps = 0" in result.message
    assert "without calling it" in lesson.check_warmup_cosine(0.1).message


def test_warmup_cosine_new_mistakes_the_schedule_length_and_a_cosine_below_zero():
    """The pitfall "schedule length ≠ training length" (a cosine as long as the whole run), and a
    cosine without its (1 + …)/2."""
    def whole_run_cosine(step, peak_lr, warmup_steps, total_steps, eta_min):
        if step < warmup_steps:
            return peak_lr * (step + 1) / warmup_steps
        progress = (step - warmup_steps) / (total_steps - 1)
        return eta_min + (peak_lr - eta_min) * (1 + math.cos(math.pi * progress)) / 2

    assert lesson.check_warmup_cosine(whole_run_cosine).message.startswith(
        "your cosine is as long as the whole run, so the last step is still above eta_min.")

    def bare_cosine(step, peak_lr, warmup_steps, total_steps, eta_min):
        if step < warmup_steps:
            return peak_lr * (step + 1) / warmup_steps
        progress = (step - warmup_steps) / (total_steps - warmup_steps - 1)
        return eta_min + (peak_lr - eta_min) * math.cos(math.pi * progress)

    assert lesson.check_warmup_cosine(bare_cosine).message.startswith("your decay goes below eta_min")


def test_warmup_cosine_a_warmup_one_step_too_long_and_rates_as_tensors():
    """`step <= W`, a common off-by-one, gets its own message; a rate computed with torch (a 0-d
    tensor) is one number and passes."""
    def through_w(step, peak_lr, warmup_steps, total_steps, eta_min):
        if warmup_steps and step <= warmup_steps:
            return peak_lr * (step + 1) / warmup_steps
        return lesson.warmup_cosine_reference(step, peak_lr, warmup_steps, total_steps, eta_min)

    assert lesson.check_warmup_cosine(through_w).message == (
        "your warm-up runs one step too long: at step W it gives peak·(W+1)/W, above the peak. The warm-up is "
        "steps 0 … W − 1: test step < W.")

    def with_torch(step, peak_lr, warmup_steps, total_steps, eta_min):
        return torch.tensor(warmup_cosine_lr_solution(step, peak_lr, warmup_steps, total_steps, eta_min))

    assert lesson.check_warmup_cosine(with_torch).passed
    assert lesson.check_warmup_cosine(lambda *arguments: np.float32(0.1)).message.startswith(
        "the schedule is wrong at index 0")
    for wrong_kind, described in (("0.1", "a value of type str"), (np.array([0.1]), "an array of shape (1,)"),
                                  (True, "a value of type bool")):
        assert lesson.check_warmup_cosine(lambda *arguments, value=wrong_kind: value).message == (
            f"for step 0 your function returned {described}; return one number, the rate of that step "
            f"(test case 1 of 4).")


def test_warmup_cosine_stub_and_wrong_signature():
    def stub(step, peak_lr, warmup_steps, total_steps, eta_min):
        raise NotImplementedError

    def returns_placeholder(step, peak_lr, warmup_steps, total_steps, eta_min):
        return ...

    for placeholder in (stub, returns_placeholder):
        result = lesson.check_warmup_cosine(placeholder)
        assert not result.attempted and result.message == lesson.WARMUP_COSINE_EXERCISE.hint
    assert lesson.check_warmup_cosine(lambda step, peak_lr, warmup_steps, total_steps, eta_min: None).message == (
        "for step 0 your function returned None (did you forget `return`?); return one number, the rate of that "
        "step (test case 1 of 4).")
    assert lesson.check_warmup_cosine(lambda step, peak_lr, warmup_steps, total_steps, eta_min: peak_lr).message == (
        "the schedule is wrong at index 0: expected 0.02, got 0.1 (test case 1 of 4).")
    assert lesson.check_warmup_cosine(lambda step, peak_lr, warmup_steps, total_steps: 0.1).message == (
        "your function does not take the arguments of `warmup_cosine_lr(step, peak_lr, warmup_steps, total_steps, "
        "eta_min)`: keep the exercise's first line, def warmup_cosine_lr(step, peak_lr, warmup_steps, total_steps, "
        "eta_min):")


# --------------------------------------------------------------------------------------------------
# The parameter groups exercise
# --------------------------------------------------------------------------------------------------

def split_for_decay_solution(model):
    """The notebook's solution, as its solution cell writes it."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        is_embedding = name.startswith(("tokens.", "positions."))
        (decay if p.dim() == 2 and not is_embedding else no_decay).append(name)
    return decay, no_decay


def split_where(rule):
    """A split that decays the parameters for which rule(name, p, module) holds."""
    def split(model):
        modules = dict(model.named_modules())
        named = [(n, p, modules[n.rpartition(".")[0]]) for n, p in model.named_parameters()]
        return [n for n, p, m in named if rule(n, p, m)], [n for n, p, m in named if not rule(n, p, m)]
    return split


def test_param_groups_checker_accepts_the_reference_and_the_solution():
    assert lesson.check_param_groups(lesson.split_for_decay_reference).passed
    assert str(lesson.check_param_groups(split_for_decay_solution)).startswith("Correct! decay on the weight matrices")
    assert lesson.check_param_groups(lambda m: tuple(set(x) for x in split_for_decay_solution(m))).passed


def test_param_groups_kinds_agree_with_decays():
    for _, net in exercises._models():
        kinds = exercises._kinds(net)
        assert [kinds[n] == "matrix" for n, _ in net.named_parameters()] == [
            lesson.decays(n, p) for n, p in net.named_parameters()]
        assert set(kinds.values()) == set(exercises.KIND_REASONS)


@pytest.mark.parametrize("rule, start", [
    (lambda n, p, m: p.dim() == 2, 'the embeddings are decayed ("tokens.weight"): leave them out'),
    (lambda n, p, m: isinstance(m, (nn.Linear, nn.LayerNorm)) and n.endswith("weight"),
     'the LayerNorm gains are decayed ("blocks.0.norm1.weight"): a gain starts at 1'),
    (lambda n, p, m: isinstance(m, nn.Linear), 'some of the biases are decayed ("blocks.0.qkv.bias"): a bias'),
    (lambda n, p, m: lesson.decays(n, p) or n.endswith("bias"), 'the biases are decayed ("blocks.0.norm1.bias")'),
    (lambda n, p, m: isinstance(m, nn.Linear) and n != "head.weight",
     'some of the weight matrices of the linear layers are in no_decay ("head.weight"): they are what'),
    (lambda n, p, m: n.endswith("weight"), 'the embeddings are decayed ("tokens.weight"): leave them out: a row is '
     "a token's (or a position's) vector, looked up, not a weight that multiplies an input.\nThe LayerNorm gains"),
    (lambda n, p, m: True, "decay exactly the weight matrices of the linear layers; in your split, the embeddings "
     "are decayed, the LayerNorm gains are decayed and the biases are decayed."),
    (lambda n, p, m: not lesson.decays(n, p), "your two lists are swapped"),
])
def test_param_groups_checker_names_each_mistake(rule, start):
    result = lesson.check_param_groups(split_where(rule))
    assert not result.passed and result.attempted and result.message.startswith(start), result.message


def test_param_groups_checker_on_unusable_lists():
    notebook_names = split_for_decay_solution(lesson.make_model(0))
    cases = [
        (lambda m: notebook_names, '"blocks.2.norm1.weight" is in neither list: AdamW trains only the parameters '
                                   "it is given; build both lists from model.named_parameters() (on a 3-layer "
                                   "transformer of width 32)."),
        (lambda m: (split_for_decay_solution(m)[0] + ["head.bias"], split_for_decay_solution(m)[1]),
         '"head.bias" is in both lists: each parameter goes in exactly one group (on the notebook\'s transformer).'),
        (lambda m: (split_for_decay_solution(m)[0] * 2, split_for_decay_solution(m)[1]),
         '"blocks.0.qkv.weight" is in a list twice'),
        (lambda m: (["head.weight", "head.kernel"], []), '"head.kernel" is not a parameter of the model'),
        (lambda m: lesson.param_groups(m, 0.1), "your decay is a dict of 2 items, not a list of names"),
        (lambda m: ([p for n, p in m.named_parameters() if lesson.decays(n, p)],
                    [p for n, p in m.named_parameters() if not lesson.decays(n, p)]),
         "your decay list holds tensors: return the parameters' names"),
        (lambda m: "head.weight", "your function returned a value of type str; return two lists of names"),
        (lambda m: ([1], []), "your decay list holds a single number; it should hold names"),
        (lambda m: None, "your function returned None (did you forget `return`?)"),
        (lambda m: 1 / 0, "your function raised ZeroDivisionError: division by zero (on the notebook's transformer)."),
    ]
    for fn, start in cases:
        result = lesson.check_param_groups(fn)
        assert not result.passed and result.message.startswith(start), result.message


def test_param_groups_stub_signature_and_the_learner_s_random_state():
    def stub(model):
        raise NotImplementedError

    assert not lesson.check_param_groups(stub).attempted
    assert not lesson.check_param_groups(lambda model: ...).attempted
    assert lesson.check_param_groups(lambda: None).message.startswith(
        "your function does not take the arguments of `split_for_decay(model)`")
    assert "pass the function without calling it" in lesson.check_param_groups(([], [])).message
    exercises._models.cache_clear()
    torch.manual_seed(5)
    state = torch.get_rng_state()
    lesson.check_param_groups(split_for_decay_solution)
    assert torch.equal(torch.get_rng_state(), state)

    def changes_the_model(model):
        torch.nn.init.zeros_(model.head.weight)
        return split_for_decay_solution(model)

    assert lesson.check_param_groups(changes_the_model).passed
    assert exercises._models()[0][1].head.weight.abs().sum() > 0      # the checker's own model is untouched


# --------------------------------------------------------------------------------------------------
# The prediction: the first step without warm-up at peak 0.1
# --------------------------------------------------------------------------------------------------

def test_first_step_prediction_passes_within_a_quarter_of_the_measured_ratio():
    measured = exercises.first_step_ratio(0.1)
    assert 0.5 < measured < 0.8      # ≈ 10 × the notebook's 0.064 at 0.01
    for answer in (10 * 0.064, 0.76 * measured, 1.24 * measured):
        assert lesson.check_first_step(answer).passed
    for answer in (0.74 * measured, 1.26 * measured):
        assert not lesson.check_first_step(answer).passed
    message = lesson.check_first_step(0.64).message
    assert not re.search(r"0\.6|6\.4|64", message)           # the success message does not give the answer away
    assert lesson.check_first_step({"ratio": 0.64}).passed


@pytest.mark.parametrize("factor, start", [(0.1, "that is the ratio at 0.01"), (0.01, "you scaled by the warm-up"),
                                           (10 ** -0.5, "you scaled by √lr"), (10, "you scaled by lr²"),
                                           (0.45, "too small"), (3, "too large")])
def test_first_step_prediction_names_each_mistake(factor, start):
    result = lesson.check_first_step(factor * exercises.first_step_ratio(0.1))
    assert not result.passed and result.message.startswith(start), result.message


def test_first_step_prediction_lr_itself_unusable_and_stub():
    assert lesson.check_first_step(0.1).message.startswith("that is lr itself")
    assert lesson.check_first_step(-0.5).message == "‖Δθ‖/‖θ‖ is a ratio of two lengths: a positive number."
    assert lesson.check_first_step("0.6").message == "`my_ratio` should be a number, not '0.6'."
    assert not lesson.check_first_step(...).attempted
    assert lesson.check_first_step(...).message == lesson.FIRST_STEP_QUESTION.hint


def test_make_model_draws_torchs_seeded_defaults_from_its_own_generator():
    """The same weights as ``torch.manual_seed(seed); TinyTransformer()``, whatever the global generator
    is doing, also while another thread builds models (the explorer trains ahead in a thread)."""
    import threading

    stop = threading.Event()

    def build_models():
        while not stop.is_set():
            torch.manual_seed(99)
            lesson.TinyTransformer()           # draws from the global generator
            lesson.make_model(7)

    other = threading.Thread(target=build_models)
    other.start()
    try:
        built = {seed: [lesson.make_model(seed).state_dict() for _ in range(5)] for seed in (0, 3)}
    finally:
        stop.set()
        other.join()
    for seed, states in built.items():
        torch.manual_seed(seed)
        expected = lesson.TinyTransformer().state_dict()
        for state in states:
            assert state.keys() == expected.keys()
            assert all(torch.equal(state[name], expected[name]) for name in expected)
