"""Notebook 10's exercise on gradient accumulation with a GradScaler: one optimizer step from
several micro-batches (``check_accumulation_step``). The checker trains a small model in real torch
with the learner's step function, records every call it makes, and names the known mistakes by the
order of those calls or, when the calls are right, by the weights they give."""

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from course_lib.interactive.checking import (
    accepts_arguments, CheckResult, describe_value, Mistake, not_attempted, wrong_signature,
)


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
