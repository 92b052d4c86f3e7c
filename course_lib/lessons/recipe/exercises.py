"""The exercises of notebook 10: the warm-up + cosine schedule (``check_warmup_cosine``); one
optimizer step from several micro-batches with a GradScaler, gradient accumulation
(``check_accumulation_step``, run in real torch with every call recorded); and a warm-up length
to choose (``check_warmup_length``, judged by training the recipe at that length)."""

import functools
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from course_lib.interactive.checking import (
    accepts_arguments, check_answer, check_function, CheckResult, describe_value, Exercise, Mistake, not_attempted,
    Question, UnusableAnswer, wrong_signature,
)
from course_lib.lessons.recipe.training import make_task, RECIPE, train_many, warmup_cosine

# --------------------------------------------------------------------------------------------------
# 1. The schedule
# --------------------------------------------------------------------------------------------------

def warmup_cosine_reference(step, peak_lr, warmup_steps, total_steps, eta_min):
    """The rate of step t (from 0): peak·(t+1)/W during the warm-up (t < W), then a cosine that is
    at the peak at t = W and at eta_min at the last step, t = total_steps − 1."""
    return warmup_cosine(step, peak_lr, warmup_steps, total_steps, eta_min)


def _schedule_with(ramp: Callable, cosine: Callable, through_w: bool = False) -> Callable:
    """A per-step schedule made of a warm-up ``ramp(t, peak, W)`` and a decay ``cosine(t, peak, W, T, eta)``
    (the known wrong versions below differ from the reference in one of the two). ``through_w``: the
    ramp also at step W (``step <= W``, when W > 0)."""
    def lr(step, peak_lr, warmup_steps, total_steps, eta_min):
        if step < warmup_steps or through_w and 0 < warmup_steps == step:
            return ramp(step, peak_lr, warmup_steps)
        return cosine(step, peak_lr, warmup_steps, total_steps, eta_min)
    return lr


def _right_ramp(s, peak, W):
    return peak * (s + 1) / W


def _cosine_of(progress: Callable, low: Callable = lambda peak, eta: eta, high: Callable = lambda peak, eta: peak,
               shape: Callable = lambda p: (1 + np.cos(np.pi * p)) / 2) -> Callable:
    def cosine(s, peak, W, T, eta):
        top, bottom = high(peak, eta), low(peak, eta)
        return bottom + (top - bottom) * shape(progress(s, W, T))
    return cosine


_RIGHT_PROGRESS = lambda s, W, T: (s - W) / (T - W - 1)
_RIGHT_COSINE = _cosine_of(_RIGHT_PROGRESS)


def _schedule_sequence(fn: Callable) -> Callable:
    """The learner's per-step function as the whole sequence of rates of a case (``...`` when the
    function returns the stub's ``...``)."""
    def sequence(peak_lr, warmup_steps, total_steps, eta_min):
        rates = []
        for s in range(total_steps):
            rate = fn(s, peak_lr, warmup_steps, total_steps, eta_min)
            if rate is Ellipsis:
                return Ellipsis
            rates.append(rate)
        return rates
    return sequence


def _rates(returned: list) -> list:
    """The rates a per-step function returned, each checked to be one number (a Python or NumPy
    number, or a 0-d array or tensor), as floats."""
    rates = []
    for step, rate in enumerate(returned):
        try:
            one = not isinstance(rate, (bool, str, bytes)) and np.ndim(rate) == 0 and float(rate) is not None
        except (TypeError, ValueError, RuntimeError):
            one = False
        if not one:
            raise UnusableAnswer(f"for step {step} your function returned {describe_value(rate)}; return one "
                                 f"number, the rate of that step")
        rates.append(float(rate))
    return rates


def _mistake(ramp: Callable = _right_ramp, cosine: Callable = _RIGHT_COSINE, through_w: bool = False) -> Callable:
    return _schedule_sequence(_schedule_with(ramp, cosine, through_w))


_WARMUP_COSINE_CASES = [
    {"peak_lr": 0.1, "warmup_steps": 5, "total_steps": 20, "eta_min": 0.001},
    {"peak_lr": 3e-3, "warmup_steps": 10, "total_steps": 50, "eta_min": 1e-4},
    {"peak_lr": 1.0, "warmup_steps": 1, "total_steps": 8, "eta_min": 0.0},
    {"peak_lr": 0.5, "warmup_steps": 0, "total_steps": 12, "eta_min": 0.05},
]

WARMUP_COSINE_EXERCISE = Exercise(
    name="warmup_cosine_lr",
    cases=_WARMUP_COSINE_CASES,
    expected=_schedule_sequence(warmup_cosine_reference),
    outputs=("the schedule",),
    run=_rates,
    success=("peak/W on the first step, the peak at steps W − 1 and W, eta_min on the last step:\n"
             "the rates of torch's SequentialLR(LinearLR, CosineAnnealingLR)."),
    mistakes=[
        Mistake(_mistake(ramp=lambda s, peak, W: peak * s / W),
                "your warm-up starts at 0: peak·t/W wastes the first step and ends below the peak. Use "
                "peak·(t+1)/W: peak/W on the first step, the peak at step W − 1."),
        Mistake(_mistake(ramp=lambda s, peak, W: peak * (s + 1) / (W + 1)),
                "off by one at the end of the warm-up: peak·(t+1)/(W+1) never reaches the peak (the last "
                "warm-up step gets peak·W/(W+1)). Divide by W, so that step W − 1 is at the peak."),
        Mistake(_mistake(through_w=True),
                "your warm-up runs one step too long: at step W it gives peak·(W+1)/W, above the peak. "
                "The warm-up is steps 0 … W − 1: test step < W."),
        Mistake(_mistake(cosine=_cosine_of(lambda s, W, T: (s - W + 1) / (T - W))),
                "off by one at the end of the warm-up: your cosine is already below the peak at step W. "
                "Count the decay's steps from W: progress (t − W)/(T − W − 1), which is 0 at t = W."),
        Mistake(_mistake(cosine=_cosine_of(lambda s, W, T: (s - W) / (T - W))),
                "the cosine does not reach eta_min: with progress (t − W)/(T − W) the last step is still "
                "above it. Divide by T − W − 1, the decay's length (CosineAnnealingLR's T_max)."),
        Mistake(_mistake(cosine=_cosine_of(lambda s, W, T: (s - W) / (T - 1))),
                "your cosine is as long as the whole run, so the last step is still above eta_min. It "
                "starts at W: its length is what is left, T − W − 1 steps."),
        Mistake(_mistake(cosine=_cosine_of(lambda s, W, T: s / (T - 1))),
                "your cosine's clock starts at step 0 instead of at the end of the warm-up, so the decay "
                "starts below the peak. Measure its progress from W: (t − W)/(T − W − 1)."),
        Mistake(_mistake(cosine=_cosine_of(_RIGHT_PROGRESS, low=lambda peak, eta: 0.0)),
                "your cosine goes down to 0 and ignores eta_min: use eta_min + (peak − eta_min)·(1 + cos(π·p))/2."),
        Mistake(_mistake(cosine=_cosine_of(_RIGHT_PROGRESS, high=lambda peak, eta: peak + eta)),
                "your cosine starts above the peak: eta_min + peak·(1 + cos)/2 adds eta_min on top. "
                "Scale the cosine by (peak − eta_min)."),
        Mistake(_mistake(cosine=_cosine_of(_RIGHT_PROGRESS, shape=lambda p: np.cos(np.pi * p))),
                "your decay goes below eta_min, down to 2·eta_min − peak: cos(π·p) runs from 1 to −1. "
                "Use (1 + cos(π·p))/2, which runs from 1 to 0."),
    ],
    hints={ZeroDivisionError: "With warmup_steps = 0 there is no warm-up: only use the ramp when step < "
                              "warmup_steps (and the decay then has total_steps − 1 steps)."},
    hint="two cases, as in the equations above: the straight ramp while step < warmup_steps, then the "
         "half cosine.",
)
WARMUP_COSINE_CALL = "warmup_cosine_lr(step, peak_lr, warmup_steps, total_steps, eta_min)"


def check_warmup_cosine(fn: Callable) -> CheckResult:
    """Check ``fn(step, peak_lr, warmup_steps, total_steps, eta_min)`` -> the rate of that step."""
    if not callable(fn):
        return check_function(fn, WARMUP_COSINE_EXERCISE)
    if not accepts_arguments(fn, 5):
        return wrong_signature(WARMUP_COSINE_CALL)
    return check_function(_schedule_sequence(fn), WARMUP_COSINE_EXERCISE)


# --------------------------------------------------------------------------------------------------
# 2. Gradient accumulation with a GradScaler
# --------------------------------------------------------------------------------------------------

def accumulation_step_reference(micro_batches, loss_of, optimizer, scaler, clip_gradients):
    """One optimizer step on a batch split into micro-batches, under a GradScaler."""
    for batch in micro_batches:
        loss = loss_of(batch) / len(micro_batches)   # the mean over the whole batch
        scaler.scale(loss).backward()                # S·gradients, added up in .grad
    scaler.unscale_(optimizer)                       # once: ÷ S, the true gradients
    clip_gradients()                                 # clip the true gradients
    scaler.step(optimizer)                           # skipped if any micro-batch gave inf/NaN
    scaler.update()                                  # adjust S once per optimizer step
    optimizer.zero_grad()                            # a clean start for the next step


_OPTIMIZER_STEPS = 3
_MICRO_BATCH = 8
_ACCUMULATION_CASES = (
    # (seed, micro-batches per step, (step, micro-batch) whose loss overflows or None, max_norm)
    (3, 4, None, 1.0),       # clipping acts on every step
    (4, 4, (1, 2), 1.0),     # one micro-batch of step 1 overflows to inf: that step is skipped
    (5, 3, None, 100.0),     # clipping never acts, so the size of the gradient shows; 3 micro-batches
)
_ORDER = ("for each micro-batch: scaler.scale(loss / n).backward(); then once: unscale_ → clip → step → "
          "update → zero_grad")


@dataclass(frozen=True)
class _Run:
    """What a step function did over the optimizer steps of one case: the calls of each step (a
    tuple of names per step; the last one ends with "raised …" if it raised), the weights after,
    the exception, and whether it returned the stub's ``...``."""

    calls: tuple
    params: np.ndarray
    error: Exception | None
    placeholder: bool = False


def _recording_scaler(events: list, inside_step: list):
    import torch

    class RecordingScaler(torch.amp.GradScaler):
        def scale(self, outputs):
            events.append("scaler.scale")
            return super().scale(outputs)

        def unscale_(self, optimizer):
            if not inside_step[0]:            # scaler.step unscales by itself when the learner did not
                events.append("scaler.unscale_")
            return super().unscale_(optimizer)

        def step(self, optimizer, *args, **kwargs):
            events.append("scaler.step")
            inside_step[0] = True
            try:
                return super().step(optimizer, *args, **kwargs)
            finally:
                inside_step[0] = False

        def update(self, new_scale=None):
            events.append("scaler.update")
            return super().update(new_scale)

    return RecordingScaler("cpu", init_scale=2.0**12)


def _accumulation_run(fn: Callable, seed: int, count: int, overflow_at, max_norm: float) -> _Run:
    """Three optimizer steps of a small linear model through ``fn``, each from ``count``
    micro-batches, in real torch; every call ``fn`` makes is recorded. With ``overflow_at`` =
    (step, k), micro-batch k of that step has an infinite loss (a step to skip)."""
    import warnings

    import torch

    generator = torch.Generator().manual_seed(seed)
    model = torch.nn.Linear(4, 3)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))
    inputs = torch.randn(_OPTIMIZER_STEPS, count, _MICRO_BATCH, 4, generator=generator)
    targets = 5 * torch.randn(_OPTIMIZER_STEPS, count, _MICRO_BATCH, 3, generator=generator)
    events, inside_step, overflowing = [], [False], []
    model.weight.register_hook(lambda grad: events.append("backward"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.register_step_pre_hook(lambda *args: None if inside_step[0] else events.append("optimizer.step"))
    zero_grad = optimizer.zero_grad

    def recorded_zero_grad(*args, **kwargs):
        events.append("optimizer.zero_grad")
        return zero_grad(*args, **kwargs)

    optimizer.zero_grad = recorded_zero_grad
    scaler = _recording_scaler(events, inside_step)

    def loss_of(batch):
        events.append("loss_of")
        x, y = batch
        loss = torch.nn.functional.mse_loss(model(x), y)
        return loss * float("inf") if any(batch is bad for bad in overflowing) else loss

    def clip_gradients():
        events.append("clip_gradients")
        return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)

    calls, error, placeholder = [], None, False
    for step in range(_OPTIMIZER_STEPS):
        micro_batches = [(inputs[step, k], targets[step, k]) for k in range(count)]
        if overflow_at is not None and overflow_at[0] == step:
            overflowing.append(micro_batches[overflow_at[1]])
        events.clear()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                placeholder = fn(micro_batches, loss_of, optimizer, scaler, clip_gradients) is Ellipsis
        except Exception as raised:  # the learner's code may raise anything: report it
            error = raised
            events.append(f"raised {type(raised).__name__}")
        calls.append(tuple(events))
        if error is not None or placeholder:
            break
    params = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy()
    return _Run(tuple(calls), params, error, placeholder)


def _runs(fn: Callable) -> list[_Run]:
    return [_accumulation_run(fn, *case) for case in _ACCUMULATION_CASES]


@functools.cache
def _reference_runs() -> tuple:
    return tuple(_runs(accumulation_step_reference))


def _same_weights(runs: list[_Run], others) -> bool:
    return all(run.error is None and other.error is None and
               np.allclose(run.params, other.params, rtol=1e-5, atol=1e-6, equal_nan=True)
               for run, other in zip(runs, others))


# The known mistakes: each is a wrong step function, and the checker recognises it by the calls it
# makes (their order) or, when the calls are right, by the weights they give.

def _forward_all_first(micro_batches, loss_of, optimizer, scaler, clip_gradients):
    losses = [loss_of(batch) / len(micro_batches) for batch in micro_batches]
    scaler.scale(sum(losses)).backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad()


def _unscaled_backward(micro_batches, loss_of, optimizer, scaler, clip_gradients):
    for batch in micro_batches:
        (loss_of(batch) / len(micro_batches)).backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad()


def _step_every_micro_batch(micro_batches, loss_of, optimizer, scaler, clip_gradients):
    for batch in micro_batches:
        scaler.scale(loss_of(batch) / len(micro_batches)).backward()
        scaler.unscale_(optimizer)
        clip_gradients()
        scaler.step(optimizer)
        scaler.update()
    optimizer.zero_grad()


def _unscale_every_micro_batch(micro_batches, loss_of, optimizer, scaler, clip_gradients):
    for batch in micro_batches:
        scaler.scale(loss_of(batch) / len(micro_batches)).backward()
        scaler.unscale_(optimizer)
    clip_gradients()
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad()


def _zero_grad_between(micro_batches, loss_of, optimizer, scaler, clip_gradients):
    for batch in micro_batches:
        optimizer.zero_grad()
        scaler.scale(loss_of(batch) / len(micro_batches)).backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    scaler.step(optimizer)
    scaler.update()


def _with_step(*calls: str, divide_by: Callable = len) -> Callable:
    """A step function that accumulates the micro-batches right (each loss ÷ ``divide_by``), then
    makes ``calls`` in this order (names: "unscale", "clip", "step", "optimizer.step", "update",
    "zero_grad")."""
    def step(micro_batches, loss_of, optimizer, scaler, clip_gradients):
        for batch in micro_batches:
            scaler.scale(loss_of(batch) / divide_by(micro_batches)).backward()
        actions = {"unscale": lambda: scaler.unscale_(optimizer), "clip": clip_gradients,
                   "step": lambda: scaler.step(optimizer), "optimizer.step": optimizer.step,
                   "update": scaler.update, "zero_grad": optimizer.zero_grad}
        for call in calls:
            actions[call]()
    return step


_NOT_DIVIDED = _with_step("unscale", "clip", "step", "update", "zero_grad", divide_by=lambda batches: 1)
_FIXED_COUNT = _with_step("unscale", "clip", "step", "update", "zero_grad", divide_by=lambda batches: 4)

MESSAGES = {
    "forward all first": "you computed every micro-batch's loss before the backward, so all their activations "
                         "stay in memory at once, which accumulation avoids. Backpropagate each loss as soon as you have it.",
    "unscaled backward": "you called backward() on the unscaled loss, yet scaler.unscale_ divides the gradients "
                         "by S anyway. Backpropagate scaler.scale(loss / n).",
    "step every micro-batch": "you took a step (unscale_, clip, step, update) after every micro-batch: several "
                              "small steps, not one on the whole batch. Do them once, after the last backward.",
    "unscale every micro-batch": "you called scaler.unscale_ after every micro-batch; it may be called once per "
                                 "step, after the last backward, when .grad holds the whole sum.",
    "zero_grad between": "you zeroed the gradients between micro-batches, so each backward wiped out the ones "
                         "before it and only the last counted. Zero them once per optimizer step.",
    "no clip": "you never called clip_gradients(): clip once per step, between scaler.unscale_ and scaler.step.",
    "no unscale": "you clipped without scaler.unscale_: the threshold applied to S·g, S times too large. Call "
                  "scaler.unscale_(optimizer) before clipping.",
    "clip before unscale": "you clipped before scaler.unscale_: the gradients were still S times too large "
                           "(S = 4096 here), so the step came out far too short. Unscale first, then clip.",
    "clip after step": "you clipped after scaler.step: the step was already taken with the unclipped gradients. "
                       "Clip between unscale_ and step.",
    "optimizer.step": "you called optimizer.step() yourself: it also steps when a micro-batch gave inf/NaN (one "
                      "case has such a step). scaler.step(optimizer) skips those steps.",
    "no step": "you never took the step: after the last backward, call scaler.unscale_, clip, scaler.step and "
               "scaler.update once.",
    "update before step": "you called scaler.update() before scaler.step(optimizer): update closes the step, so "
                          "step then unscales the gradients again. Order: step, then update.",
    "no update": "you never called scaler.update(): the scale is never adjusted, and the next step's unscale_ "
                 "fails. Call it once per step, after scaler.step.",
    "zero_grad before step": "you zeroed the gradients before scaler.step, so the step had no gradients to "
                             "follow. Call optimizer.zero_grad() after scaler.step and scaler.update.",
    "no zero_grad": "you never zeroed the gradients: the next step's micro-batches add onto this step's. End "
                    "the step with optimizer.zero_grad().",
    "not divided": "you did not divide each micro-batch's loss by their number n: the gradients add up to n "
                   "times the batch's mean gradient. Backpropagate scaler.scale(loss / n).",
    "fixed count": "you divided by a fixed number of micro-batches; divide by len(micro_batches), which is not "
                   "always 4.",
}

ACCUMULATION_MISTAKES = [
    Mistake(_forward_all_first, MESSAGES["forward all first"]),
    Mistake(_unscaled_backward, MESSAGES["unscaled backward"]),
    Mistake(_step_every_micro_batch, MESSAGES["step every micro-batch"]),
    Mistake(_unscale_every_micro_batch, MESSAGES["unscale every micro-batch"]),
    Mistake(_zero_grad_between, MESSAGES["zero_grad between"]),
    Mistake(_with_step("unscale", "step", "update", "zero_grad"), MESSAGES["no clip"]),
    Mistake(_with_step("clip", "step", "update", "zero_grad"), MESSAGES["no unscale"]),
    Mistake(_with_step("clip", "unscale", "step", "update", "zero_grad"), MESSAGES["clip before unscale"]),
    Mistake(_with_step("unscale", "step", "clip", "update", "zero_grad"), MESSAGES["clip after step"]),
    Mistake(_with_step("unscale", "clip", "optimizer.step", "update", "zero_grad"), MESSAGES["optimizer.step"]),
    Mistake(_with_step("unscale", "clip", "update", "zero_grad"), MESSAGES["no step"]),
    Mistake(_with_step("unscale", "clip", "update", "step", "zero_grad"), MESSAGES["update before step"]),
    Mistake(_with_step("unscale", "clip", "step", "zero_grad"), MESSAGES["no update"]),
    Mistake(_with_step("unscale", "clip", "zero_grad", "step", "update"), MESSAGES["zero_grad before step"]),
    Mistake(_with_step("unscale", "clip", "step", "update"), MESSAGES["no zero_grad"]),
    Mistake(_NOT_DIVIDED, MESSAGES["not divided"]),
    Mistake(_FIXED_COUNT, MESSAGES["fixed count"]),
]
"""Wrong step functions, one per known mistake, each with the message the checker gives it."""

ACCUMULATION_HINT = ("the gradients of all micro-batches add up in .grad: backpropagate each one, scaled, "
                     "then finish the step once.")
ACCUMULATION_SUCCESS = ("a scaled backward of loss/n for each micro-batch, then one unscale_, clip, step, update "
                        "and zero_grad: the step of the whole batch, skipped when a micro-batch overflows.")
ACCUMULATION_CALL = "accumulation_step(micro_batches, loss_of, optimizer, scaler, clip_gradients)"


def _first(calls: tuple, name: str, default: int | None = None) -> int | None:
    return calls.index(name) if name in calls else default


def _order_mistake(calls: tuple) -> str | None:
    """The known mistake that the calls of one optimizer step show, or None when their order is right."""
    backwards = [i for i, call in enumerate(calls) if call == "backward"]
    losses = [i for i, call in enumerate(calls) if call == "loss_of"]
    if not backwards or not losses:
        return None
    if any(not any(a < b < c for b in backwards) for a, c in zip(losses, losses[1:])):
        return "forward all first"
    if any(i == 0 or calls[i - 1] != "scaler.scale" for i in backwards):
        return "unscaled backward"
    last_backward = backwards[-1]
    steps = [i for i, call in enumerate(calls) if call in ("scaler.step", "optimizer.step")]
    if any(i < last_backward for i in steps):
        return "step every micro-batch"
    if calls.count("scaler.unscale_") > 1 or any(c == "scaler.unscale_" for c in calls[:last_backward]):
        return "unscale every micro-batch"
    if any(c == "optimizer.zero_grad" for c in calls[backwards[0]:last_backward]):
        return "zero_grad between"
    if calls and calls[-1].startswith("raised"):
        return None                         # the rest of the step was never reached
    clip, unscale = _first(calls, "clip_gradients"), _first(calls, "scaler.unscale_")
    step = _first(calls, "scaler.step", _first(calls, "optimizer.step"))
    if step is None:
        return "no step"
    if clip is None:
        return "no clip"
    if unscale is None:
        return "no unscale"
    if clip < unscale:
        return "clip before unscale"
    if clip > step:
        return "clip after step"
    if "optimizer.step" in calls:
        return "optimizer.step"
    update = _first(calls, "scaler.update")
    if update is not None and update < step:
        return "update before step"
    if update is None:
        return "no update"
    if any(c == "optimizer.zero_grad" for c in calls[last_backward:step]):
        return "zero_grad before step"
    if "optimizer.zero_grad" not in calls:
        return "no zero_grad"
    return None


def _compressed(calls: tuple) -> str:
    """'4 × (loss_of → scaler.scale → backward) → scaler.unscale_ → …': repeats folded."""
    parts, i = [], 0
    while i < len(calls):
        period, count = 1, 1
        for p in range(1, 7):
            block, c = calls[i:i + p], 1
            while calls[i + c * p:i + (c + 1) * p] == block:
                c += 1
            if c > 1 and p * c > period * count:
                period, count = p, c
        block = " → ".join(calls[i:i + period])
        parts.append(f"{count} × ({block})" if count > 1 and period > 1 else
                     f"{count} × {block}" if count > 1 else block)
        i += period * count
    return " → ".join(parts)


def check_accumulation_step(fn: Callable) -> CheckResult:
    """Check ``fn(micro_batches, loss_of, optimizer, scaler, clip_gradients)``: one optimizer step
    from several micro-batches with a GradScaler. It trains a small model in real torch for three
    optimizer steps with ``fn``, in three cases (clipping active; a micro-batch whose loss
    overflows; clipping idle, with three micro-batches), records every call, and compares the
    calls and the weights with those of the right step."""
    if not callable(fn):
        return CheckResult(False, f"expected your function `accumulation_step` itself but got {describe_value(fn)}: "
                                  "pass the function without calling it.")
    if not accepts_arguments(fn, 5):
        return wrong_signature(ACCUMULATION_CALL)
    runs = _runs(fn)
    first = runs[0]
    if first.placeholder or isinstance(first.error, NotImplementedError):
        return not_attempted(ACCUMULATION_HINT)
    mistake = _order_mistake(first.calls[0])
    if mistake == "forward all first" or mistake is None and _same_weights(runs, _reference_runs()):
        return CheckResult(mistake is None, MESSAGES[mistake] if mistake else
                           ACCUMULATION_SUCCESS)
    if mistake is not None:
        return CheckResult(False, MESSAGES[mistake])
    for key, wrong in (("not divided", _NOT_DIVIDED), ("fixed count", _FIXED_COUNT)):
        if _same_weights(runs, _runs(wrong)):
            return CheckResult(False, MESSAGES[key])
    run = next((run for run in runs if run.error is not None), None)
    calls = _compressed(first.calls[0])
    if run is not None:
        text = str(run.error) if len(str(run.error)) <= 80 else str(run.error)[:77] + "..."
        return CheckResult(False, f"your function raised {type(run.error).__name__}: {text} (optimizer step "
                                  f"{len(run.calls)}).\nYour calls in the first step: {calls}.")
    if first.calls[0] == _reference_runs()[0].calls[0]:
        return CheckResult(False, "your calls are the right ones, in the right order, but the step is not that of the "
                                  "whole batch's mean loss: check what you divide each loss by.")
    return CheckResult(False, f"the weights differ from those of one step on the whole batch. Your calls in the "
                              f"first step: {calls}.\nThe right ones: {_ORDER}.")


# --------------------------------------------------------------------------------------------------
# 3. Choose: a warm-up length for a high peak rate
# --------------------------------------------------------------------------------------------------

WARMUP_PEAK = 0.3
"""The peak rate of the question: ten times the recipe's, where runs without warm-up spike."""
WARMUP_SEEDS = (0, 1, 2, 3, 4)
STEPS = 200
SPIKE_FACTOR, SPIKE_STEPS = 3.0, 50
"""A run spikes when its minibatch loss rises above SPIKE_FACTOR times its first one within SPIKE_STEPS steps."""
TARGET_ERROR = 18.0
"""The mean test error (%) over the seeds that the runs must stay below."""


@functools.cache
def _task():
    return make_task()


def warmup_runs(warmup_steps: int):
    """The recipe at peak ``WARMUP_PEAK`` with ``warmup_steps`` of warm-up, from every seed of
    ``WARMUP_SEEDS``, 200 steps (one ``train_many`` call)."""
    return train_many([replace(RECIPE, peak_lr=WARMUP_PEAK, warmup_steps=warmup_steps)], seeds=WARMUP_SEEDS,
                      steps=STEPS, task=_task())


def _judge_warmup(warmup_steps: float) -> CheckResult:
    """Train the five runs at this warm-up length and say whether they spiked and how well they ended.
    Only seed means with one decimal and counts are printed: the digits of one chaotic run are not."""
    if warmup_steps != int(warmup_steps) or not 0 <= warmup_steps <= STEPS - 2:
        raise ValueError(f"the warm-up is a whole number of steps from 0 to {STEPS - 2}, not {warmup_steps:g}")
    W = int(warmup_steps)
    runs = warmup_runs(W)
    rises = runs.losses[:SPIKE_STEPS].max(axis=0) / runs.losses[0]
    spiked = int(np.sum(~(rises <= SPIKE_FACTOR)))           # NaN (an overflow) counts as a spike
    errors = np.where(runs.diverged, 100.0, 100 * runs.test_error)
    seeds, mean = len(WARMUP_SEEDS), errors.mean()
    reaches = "from the first step" if W == 0 else f"by step {W - 1}"
    if spiked:
        return CheckResult(False, f"too short: with W = {W} the rate is at {WARMUP_PEAK:g} {reaches}, and {spiked} of "
                                  f"the {seeds} runs' loss rose above {SPIKE_FACTOR:g}× its start in the first "
                                  f"{SPIKE_STEPS} steps. Lengthen the warm-up.")
    shown = _percent(mean)
    if mean < TARGET_ERROR:
        # No W in it: the solution's output shows under the question whenever the notebook is run.
        return CheckResult(True, f"your warm-up let the rate climb to {WARMUP_PEAK:g} gently enough that no run's loss "
                                 f"rose above {SPIKE_FACTOR:g}× its start, and left time for the decay: the mean test "
                                 f"error of the {seeds} runs is {shown} %, below {TARGET_ERROR:g} %.")
    if W < STEPS // 4:
        return CheckResult(False, f"too short: no loss tripled, but with the rate at {WARMUP_PEAK:g} {reaches} the "
                                  f"worst run ended at {errors.max():.1f} % error: mean {shown} %, not below "
                                  f"{TARGET_ERROR:g} %. Lengthen the warm-up.")
    return CheckResult(False, f"too long: the rate reaches {WARMUP_PEAK:g} only at step {W - 1}, and the decay gets "
                              f"only the last {STEPS - W} steps: mean test error {shown} % over {seeds} runs, "
                              f"not below {TARGET_ERROR:g} %. Shorten the warm-up.")


def _percent(mean: float) -> str:
    """The mean error with one decimal, or as many more as it takes not to print the target itself
    (17.98 is "17.98", not "18.0", which would contradict "below 18 %")."""
    for decimals in (1, 2, 3, 4):
        text = f"{mean:.{decimals}f}"
        if float(text) != TARGET_ERROR:
            return text
    return text


WARMUP_QUESTION = Question(
    name="my_warmup",
    fields=("warmup_steps",),
    hint="too short a warm-up lets the first steps at 0.3 throw the runs; too long a one leaves little "
         "time for the decay.",
    judge=_judge_warmup,
)


def check_warmup_length(answer: Any) -> CheckResult:
    """Check a warm-up length W for the recipe at peak 0.3: five seeds trained for 200 steps must not
    spike (loss above 3× the first within 50 steps) and must reach a mean test error below 18 %."""
    return check_answer(answer, WARMUP_QUESTION)
