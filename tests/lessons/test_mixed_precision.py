"""Notebook 10's lesson: the small net's activation gradients and what a loss scale and a 16-bit
dtype keep of them (against torch's own cast), the GradientScaleExplorer, the reproduced histogram,
the checkers (unscale before clipping; gradient accumulation with a GradScaler, moved here from
notebook 13) and the question (the window of S for a summed loss, judged by rounding the gradients
× 2^10 × S to float16)."""

import base64

import numpy as np
import pytest
import torch

from course_lib import clipping
from course_lib.lessons import mixed_precision as lesson

# --------------------------------------------------------------------------------------------------
# The gradients, the dtypes' limits and what survives
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_limits_are_the_dtypes_rounding_thresholds(dtype):
    torch_dtype = lesson.DTYPES[dtype]
    bounds = lesson.limits(dtype)
    def cast(x):       # a float32 value, as S × a float32 gradient is, rounded to the 16-bit dtype
        return torch.tensor([x], dtype=torch.float32).to(torch_dtype).double().item()

    def up(x):
        return np.nextafter(np.float32(x), np.float32(np.inf))

    def down(x):
        return np.nextafter(np.float32(x), np.float32(0))

    assert cast(bounds.zero_at) == 0 and cast(up(bounds.zero_at)) > 0
    assert cast(bounds.inf_at) == float("inf") and np.isfinite(cast(down(bounds.inf_at)))
    assert cast(bounds.subnormal_below) == bounds.normal == torch.finfo(torch_dtype).tiny
    assert cast(down(bounds.subnormal_below)) < bounds.normal
    assert bounds.largest == torch.finfo(torch_dtype).max


def test_float16_is_what_the_notebook_says():
    bounds = lesson.limits("float16")
    assert (bounds.largest, bounds.normal, 2 * bounds.zero_at) == (65504.0, 2.0**-14, 2.0**-24)


@pytest.fixture(scope="module")
def sample():
    return lesson.activation_gradients()


def test_the_sample_is_float32_training_of_the_small_net(sample):
    assert sample.values.dtype == np.float32 and sample.layers == 7
    assert len(sample.losses) == 300 and sample.losses[-1] < 0.01 * sample.losses[0]
    assert len(sample.values) == 10 * 1024 * (6 * 32 + 1)          # 10 sampled steps, every layer's output
    assert lesson.activation_gradients() is sample                  # cached: the notebook trains once


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("exponent", [0, 3, 8, 16, 25, 40])
def test_survival_equals_torch_s_own_cast(sample, dtype, exponent):
    values = sample.values[::7]
    scaled = (torch.tensor(values).double() * 2.0**exponent).to(lesson.DTYPES[dtype])
    nonzero = values != 0
    count = nonzero.sum()
    kept = lesson.survival(values, 2.0**exponent, dtype)
    assert kept.zero == pytest.approx(1 - count / len(values), abs=1e-12)
    assert kept.lost == pytest.approx(((scaled == 0).numpy() & nonzero).sum() / count, abs=1e-12)
    assert kept.overflow == pytest.approx(torch.isinf(scaled).numpy().sum() / count, abs=1e-12)
    subnormal = (scaled != 0) & (scaled.abs() < torch.finfo(lesson.DTYPES[dtype]).tiny)
    assert kept.subnormal == pytest.approx(subnormal.numpy().sum() / count, abs=1e-12)


def test_a_scale_moves_gradients_out_of_the_zero_and_into_the_inf(sample):
    lost = [lesson.survival(sample.values, 2.0**k).lost for k in range(0, 30, 3)]
    overflow = [lesson.survival(sample.values, 2.0**k).overflow for k in range(0, 30, 3)]
    assert lost[0] > 0.05 and lost == sorted(lost, reverse=True) and lost[-1] == 0
    assert overflow[0] == 0 and overflow == sorted(overflow) and overflow[-1] > 0
    assert lesson.survival(sample.values, 1.0, "bfloat16") == lesson.Survival(
        lesson.survival(sample.values, 1.0).zero, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="the scale S must be a positive number"):
        lesson.survival(sample.values, 0.0)


def test_log2_histogram_counts_every_nonzero_value_once(sample):
    edges, percent = lesson.log2_histogram(sample.values)
    assert edges[0] == -48 and edges[-1] == 24 and percent.sum() == pytest.approx(100)


def test_plot_gradient_histogram_draws_both_panels_with_their_shares(sample):
    figure = lesson.plot_gradient_histogram(sample)
    unscaled, scaled = figure.axes
    assert scaled.get_title() == "multiplied by S = 2^8"
    texts = [text.get_text() for text in unscaled.texts]
    lost = lesson.survival(sample.values, 1.0).lost
    assert f"→ 0 in float16: {100 * lost:.1f} %\n→ inf: 0.0 %" in texts


# --------------------------------------------------------------------------------------------------
# GradientScaleExplorer
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def explorer():
    return lesson.GradientScaleExplorer()


def test_explorer_builds_and_set_moves_the_artists(explorer, sample):
    explorer.set(scale=1.0, dtype="float16")
    edges_before = explorer._stairs.get_data().edges.copy()
    assert explorer._status[0].get_text() == (
        f"S = 2^0, float16: {100 * lesson.survival(sample.values, 1.0).lost:.1f} % → 0, 0.0 % → inf")
    explorer.set(scale=2.0**10)
    np.testing.assert_array_equal(explorer._stairs.get_data().edges, edges_before + 10)
    assert explorer._marker.get_xdata()[0] == 10
    assert explorer.results == lesson.survival(sample.values, 2.0**10, "float16")
    float16_curve = explorer._lost_line.get_ydata().copy()
    explorer.set(dtype="bfloat16")
    assert explorer._status[0].get_text() == "S = 2^10, bfloat16: 0.0 % → 0, 0.0 % → inf"
    assert not np.array_equal(explorer._lost_line.get_ydata(), float16_curve)
    assert explorer._spans["lost"].get_x() + explorer._spans["lost"].get_width() == -134


def test_explorer_mimebundle_and_bad_settings(explorer):
    explorer.set(scale=2.0**8, dtype="float16")
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"] == "GradientScaleExplorer: scale=256, dtype=float16, values=1976320"
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="dtype must be one of float16, bfloat16"):
        explorer.set(dtype="float8")
    with pytest.raises(ValueError, match="not a position of the scale slider"):
        explorer.set(scale=3.0)


# --------------------------------------------------------------------------------------------------
# Predict: the window of S for a summed loss
# --------------------------------------------------------------------------------------------------

def works(sample, exponent):
    """The question's rule for S = 2^exponent on the summed loss's gradients (× 2^10), computed by
    torch's own cast: none becomes inf, at most 1 % of the nonzero ones become 0."""
    scaled = (torch.tensor(sample.values).double() * 2.0 ** (exponent + lesson.SUM_SHIFT)).to(torch.float16)
    nonzero = sample.values != 0
    return bool(not torch.isinf(scaled).any() and ((scaled == 0).numpy() & nonzero).sum() <= 0.01 * nonzero.sum())


def window(low, high):
    return lesson.check_scale_window({"smallest": low, "largest": high})


@pytest.fixture(scope="module")
def true_window():
    return lesson.exercises._window()


def test_the_judge_s_window_is_where_torch_s_cast_keeps_the_gradients(sample, true_window):
    low, high = true_window
    assert works(sample, low) and works(sample, high)              # the shares are monotone in S: the ends
    assert not works(sample, low - 1) and not works(sample, high + 1)   # and one step outside decide it
    assert window(low, high).passed and str(window(low, high)).startswith("Correct!")


def test_the_summed_loss_moves_the_window_by_exactly_ten_powers_of_two(sample, true_window):
    low, high = true_window
    averaged = [k for k in range(low + 8, high + 13) if lesson.survival(sample.values, 2.0**k).overflow == 0
                and lesson.survival(sample.values, 2.0**k).lost <= lesson.MAX_LOST]
    assert (averaged[0], averaged[-1]) == (low + 10, high + 10)
    assert window(-4, 14).passed                                   # the notebook's solution


def test_the_window_messages_name_the_mistake(true_window):
    low, high = true_window
    for shift in (-1, 0, 1):                                       # the averaged loss's window, as read off roughly
        assert window(low + 10, high + 10 + shift).message.startswith("that is the window of the averaged loss")
    assert window(low + 20, high + 20).message.startswith("you moved the window up")
    lost = lesson.survival(lesson.activation_gradients().values, 2.0 ** (low - 1 + lesson.SUM_SHIFT)).lost
    assert window(low - 1, high).message == (f"at 2^{low - 1}, {100 * lost:.2g} % of the nonzero gradients still round "
                                             "to 0, so your smallest goes too low.")
    assert window(low + 1, high).message == f"2^{low} works too, so your smallest can go lower."
    assert window(low, high - 1).message == f"2^{high} works too, so your largest can go higher."
    assert window(low, high + 1).message.startswith(f"at 2^{high + 1}, ")
    assert window(low, high + 1).message.endswith("overflow to inf, so your largest goes too high.")
    assert window(low + 1, high + 1).message.count(";") == 1       # both ends wrong: both named
    assert window(low + 0.5, high).message.startswith("give whole exponents k")
    assert window(high, low).message.startswith("the smallest exponent is larger than the largest")


def test_the_window_question_s_stub_and_unusable_answers():
    assert not lesson.check_scale_window(...).attempted
    assert not lesson.check_scale_window({"smallest": ..., "largest": ...}).attempted
    assert lesson.check_scale_window(2.0**10).message.startswith("`my_window` should be a dict")
    assert lesson.check_scale_window({"smallest": -4}).message.startswith("`my_window` should have the keys")


def test_the_success_message_and_the_hint_do_not_give_the_window_away(true_window):
    low, high = true_window
    for text in (lesson.WINDOW_SUCCESS, lesson.SCALE_WINDOW_QUESTION.hint):
        assert str(low) not in text and str(high) not in text, text
    assert len(str(window(low, high)).splitlines()) <= 2


# --------------------------------------------------------------------------------------------------
# Unscale, then clip (moved here from notebook 09)
# --------------------------------------------------------------------------------------------------

def unscale_then_clip_solution(scaled_grads, scale, max_norm):
    """The notebook's solution, as its solution cell writes it."""
    grads = [g / scale for g in scaled_grads]
    clipping.clip_grad_norm_(grads, max_norm)
    return grads


def test_unscale_reference_and_solution_pass_and_each_mistake_gets_its_message():
    assert lesson.check_unscale_then_clip(lesson.unscale_then_clip_reference).passed
    assert str(lesson.check_unscale_then_clip(unscale_then_clip_solution)).startswith("Correct!")
    for mistake in lesson.UNSCALE_EXERCISE.mistakes:
        result = lesson.check_unscale_then_clip(mistake.answer)
        assert not result.passed and result.message == mistake.explanation


def test_unscale_stub_and_unusable_answers():
    def stub(*arguments):
        raise NotImplementedError

    for placeholder in (stub, lambda *arguments: ...):
        result = lesson.check_unscale_then_clip(placeholder)
        assert not result.attempted and result.message == lesson.UNSCALE_EXERCISE.hint
    assert "forget `return`" in lesson.check_unscale_then_clip(lambda g, s, c: None).message

    def returns_what_clip_grad_norm_returns(scaled_grads, scale, max_norm):
        return clipping.clip_grad_norm_([g / scale for g in scaled_grads], max_norm)

    assert lesson.check_unscale_then_clip(returns_what_clip_grad_norm_returns).message.startswith(
        "your function returned a single number, perhaps the norm that clip_grad_norm_ returns")

    def returns_the_pair(scaled_grads, scale, max_norm):
        grads = [g / scale for g in scaled_grads]
        return grads, clipping.clip_grad_norm_(grads, max_norm)

    assert lesson.check_unscale_then_clip(returns_the_pair).message == (
        "you returned a pair (gradients, norm); return only the list of gradients (test case 1 of 3).")
    # a right answer returned as a tuple of arrays is still right, even with two parameters
    assert lesson.check_unscale_then_clip(lambda g, s, c: tuple(unscale_then_clip_solution(g, s, c))).passed
    assert lesson.check_unscale_then_clip(lambda g, s, c: np.zeros(3)).message.startswith(
        "the gradients should be a list with one array per parameter; got an array of shape (3,)")


def test_unscale_mistakes_as_a_learner_writes_them():
    def unscale_then_clip_each(scaled_grads, scale, max_norm):
        grads = [g / scale for g in scaled_grads]
        for g in grads:
            clipping.clip_grad_norm_(g, max_norm)
        return grads

    assert lesson.check_unscale_then_clip(unscale_then_clip_each).message.startswith(
        "you clipped each gradient by its own norm")

    def unscale_then_clip_by_value(scaled_grads, scale, max_norm):
        grads = [g / scale for g in scaled_grads]
        clipping.clip_grad_value_(grads, max_norm)
        return grads

    assert lesson.check_unscale_then_clip(unscale_then_clip_by_value).message.startswith("you clipped by value")


def test_no_check_message_names_material_the_learner_does_not_have():
    exercise = lesson.UNSCALE_EXERCISE
    for text in [exercise.success, exercise.hint, lesson.WINDOW_SUCCESS, lesson.SCALE_WINDOW_QUESTION.hint] + [
            mistake.explanation for mistake in exercise.mistakes]:
        assert "seed" not in text.lower(), text
    assert len(f"Correct! {exercise.success}") <= 100, "the saved success line must fit a slide"


# --------------------------------------------------------------------------------------------------
# Gradient accumulation with a GradScaler (moved here from notebook 13)
# --------------------------------------------------------------------------------------------------

def accumulation_step_solution(micro_batches, loss_of, optimizer, scaler, clip_gradients):
    """The notebook's solution, as its solution cell writes it."""
    for batch in micro_batches:
        loss = loss_of(batch) / len(micro_batches)
        scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad()


def zero_grad_first(micro_batches, loss_of, optimizer, scaler, clip_gradients):
    """Zeroing at the start of the step instead of at its end: the same weights, also right."""
    optimizer.zero_grad()
    for batch in micro_batches:
        scaler.scale(loss_of(batch) / len(micro_batches)).backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    scaler.step(optimizer)
    scaler.update()


def divide_after_scaling(micro_batches, loss_of, optimizer, scaler, clip_gradients):
    for batch in micro_batches:
        (scaler.scale(loss_of(batch)) / len(micro_batches)).backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)


@pytest.mark.parametrize("answer", [lesson.accumulation_step_reference, accumulation_step_solution, zero_grad_first,
                                    divide_after_scaling], ids=lambda answer: answer.__name__)
def test_accumulation_checker_accepts_right_steps(answer):
    result = lesson.check_accumulation_step(answer)
    assert result.passed and str(result).startswith("Correct! a scaled backward of loss/n for each micro-batch")


def test_accumulation_checker_names_each_mistake():
    messages = [mistake.explanation for mistake in lesson.ACCUMULATION_MISTAKES]
    assert len(set(messages)) == len(messages)
    for mistake in lesson.ACCUMULATION_MISTAKES:
        result = lesson.check_accumulation_step(mistake.answer)
        assert not result.passed and result.message == mistake.explanation, mistake.answer.__name__
        assert len(str(result).splitlines()) <= 2 and all(len(line) <= 100 for line in str(result).splitlines())


@pytest.mark.parametrize("key_words, answer_lines", [
    # the mistakes of the exercise's text, each written as a learner would
    ("took a step (unscale_, clip, step, update) after every micro-batch",
     ["for batch in micro_batches:",
      "    scaler.scale(loss_of(batch) / len(micro_batches)).backward()",
      "    scaler.unscale_(optimizer); clip_gradients(); scaler.step(optimizer); scaler.update()",
      "    optimizer.zero_grad()"]),
    ("did not divide each micro-batch's loss by their number n",
     ["for batch in micro_batches:",
      "    scaler.scale(loss_of(batch)).backward()",
      "scaler.unscale_(optimizer); clip_gradients(); scaler.step(optimizer); scaler.update()",
      "optimizer.zero_grad()"]),
    ("zeroed the gradients between micro-batches",
     ["for batch in micro_batches:",
      "    scaler.scale(loss_of(batch) / len(micro_batches)).backward()",
      "    optimizer.zero_grad()"]),
    ("clipped before scaler.unscale_",
     ["for batch in micro_batches:",
      "    scaler.scale(loss_of(batch) / len(micro_batches)).backward()",
      "clip_gradients(); scaler.unscale_(optimizer); scaler.step(optimizer); scaler.update()",
      "optimizer.zero_grad()"]),
    ("zeroed the gradients before scaler.step, so the step had no gradients to follow",
     ["for batch in micro_batches:",
      "    scaler.scale(loss_of(batch) / len(micro_batches)).backward()",
      "scaler.unscale_(optimizer); clip_gradients()",
      "optimizer.zero_grad()",
      "scaler.step(optimizer); scaler.update()"]),
    ("called scaler.unscale_ after every micro-batch",
     ["for batch in micro_batches:",
      "    scaler.scale(loss_of(batch) / len(micro_batches)).backward()",
      "    scaler.unscale_(optimizer)",
      "    clip_gradients()",
      "scaler.step(optimizer); scaler.update(); optimizer.zero_grad()"]),
])
def test_the_mistakes_people_make_are_recognised_by_what_they_do(key_words, answer_lines):
    source = "def answer(micro_batches, loss_of, optimizer, scaler, clip_gradients):\n" + "".join(
        f"    {line}\n" for line in answer_lines)
    namespace = {}
    exec(source, namespace)
    result = lesson.check_accumulation_step(namespace["answer"])
    assert not result.passed and key_words in result.message, result.message


def test_accumulation_checker_stub_wrong_answers_and_exceptions():
    def stub(micro_batches, loss_of, optimizer, scaler, clip_gradients):
        raise NotImplementedError

    for placeholder in (stub, lambda micro_batches, loss_of, optimizer, scaler, clip_gradients: ...):
        result = lesson.check_accumulation_step(placeholder)
        assert not result.attempted and result.message == lesson.ACCUMULATION_HINT
    assert "without calling it" in lesson.check_accumulation_step(None).message
    assert lesson.check_accumulation_step(lambda loss, optimizer, scaler, clip_gradients: None).message == (
        "your function does not take the arguments of `accumulation_step(micro_batches, loss_of, optimizer, scaler, "
        "clip_gradients)`: keep the exercise's first line, def accumulation_step(micro_batches, loss_of, optimizer, "
        "scaler, clip_gradients):")

    def raises(micro_batches, loss_of, optimizer, scaler, clip_gradients):
        scaler.scale(loss_of(micro_batches[0])).backward()
        raise KeyError("oops")

    assert lesson.check_accumulation_step(raises).message == (
        "your function raised KeyError: 'oops' (optimizer step 1).\n"
        "Your calls in the first step: loss_of → scaler.scale → backward → raised KeyError.")


def test_accumulation_checker_trains_the_model_and_compares_the_weights():
    """Right calls, wrong arithmetic: only the weights of the real torch run tell."""
    def halves_the_loss_again(micro_batches, loss_of, optimizer, scaler, clip_gradients):
        for batch in micro_batches:
            scaler.scale(loss_of(batch) / (2 * len(micro_batches))).backward()
        scaler.unscale_(optimizer)
        clip_gradients()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()

    def divides_by_the_micro_batch_size(micro_batches, loss_of, optimizer, scaler, clip_gradients):
        for inputs, targets in micro_batches:           # loss_of already returns the mean
            scaler.scale(loss_of((inputs, targets)) / len(inputs)).backward()
        scaler.unscale_(optimizer)
        clip_gradients()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()

    for calls_right_weights_wrong in (halves_the_loss_again, divides_by_the_micro_batch_size):
        assert lesson.check_accumulation_step(calls_right_weights_wrong).message == (
            "your calls are the right ones, in the right order, but the step is not that of the whole batch's "
            "mean loss: check what you divide each loss by.")

    def scales_twice(micro_batches, loss_of, optimizer, scaler, clip_gradients):
        for batch in micro_batches:
            scaler.scale(scaler.scale(loss_of(batch) / len(micro_batches))).backward()
        scaler.unscale_(optimizer)
        clip_gradients()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()

    message = lesson.check_accumulation_step(scales_twice).message
    assert message.startswith("the weights differ from those of one step on the whole batch. Your calls in the "
                              "first step: 4 × (loss_of → scaler.scale → scaler.scale → backward) → scaler.unscale_ → "
                              "clip_gradients → scaler.step → scaler.update → optimizer.zero_grad.")


