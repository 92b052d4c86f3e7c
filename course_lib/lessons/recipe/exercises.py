"""The exercises of notebook 10: the warm-up + cosine schedule, and one mixed-precision step in the
right order."""

from typing import Callable

import numpy as np

from course_lib.interactive.checking import check_function, CheckResult, describe_value, Exercise, Mistake
from course_lib.lessons.recipe.training import warmup_cosine

def warmup_cosine_reference(step, peak_lr, warmup_steps, total_steps, eta_min):
    """The rate of step t (from 0): peak·(t+1)/W during the warm-up (t < W), then a cosine that is
    at the peak at t = W and at eta_min at the last step, t = total_steps − 1."""
    return warmup_cosine(step, peak_lr, warmup_steps, total_steps, eta_min)


def _schedule_with(ramp: Callable, cosine: Callable) -> Callable:
    """A per-step schedule made of a warm-up ``ramp(t, peak, W)`` and a decay ``cosine(t, peak, W, T, eta)``
    (the known wrong versions below differ from the reference in one of the two)."""
    def lr(step, peak_lr, warmup_steps, total_steps, eta_min):
        if step < warmup_steps:
            return ramp(step, peak_lr, warmup_steps)
        return cosine(step, peak_lr, warmup_steps, total_steps, eta_min)
    return lr


def _right_ramp(s, peak, W):
    return peak * (s + 1) / W


def _cosine_of(progress: Callable, low: Callable = lambda peak, eta: eta, high: Callable = lambda peak, eta: peak) -> Callable:
    def cosine(s, peak, W, T, eta):
        top, bottom = high(peak, eta), low(peak, eta)
        return bottom + (top - bottom) * (1 + np.cos(np.pi * progress(s, W, T))) / 2
    return cosine


_RIGHT_COSINE = _cosine_of(lambda s, W, T: (s - W) / (T - W - 1))


def _schedule_sequence(fn: Callable) -> Callable:
    """The learner's per-step function as the whole sequence of rates of a case."""
    def sequence(peak_lr, warmup_steps, total_steps, eta_min):
        return [fn(s, peak_lr, warmup_steps, total_steps, eta_min) for s in range(total_steps)]
    return sequence


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
    outputs=("the rates of steps 0 … total_steps − 1",),
    success=("peak/W on the first step, the peak at steps W − 1 and W, eta_min on the last step:\n"
             "the rates of torch's SequentialLR(LinearLR, CosineAnnealingLR)."),
    mistakes=[
        Mistake(_schedule_sequence(_schedule_with(lambda s, peak, W: peak * s / W, _RIGHT_COSINE)),
                "your warm-up starts at 0: peak·t/W gives the first step a learning rate of 0, a wasted "
                "step, and the last warm-up step only reaches peak·(W−1)/W. Use peak·(t+1)/W: the "
                "first step gets peak/W and step W − 1 the full peak."),
        Mistake(_schedule_sequence(_schedule_with(lambda s, peak, W: peak * (s + 1) / (W + 1), _RIGHT_COSINE)),
                "off by one at the end of the warm-up: peak·(t+1)/(W+1) never reaches the peak (the last "
                "warm-up step gets peak·W/(W+1)). Divide by W, so that step W − 1 is at the peak."),
        Mistake(_schedule_sequence(_schedule_with(_right_ramp, _cosine_of(lambda s, W, T: (s - W + 1) / (T - W)))),
                "off by one at the end of the warm-up: your cosine is already below the peak at step W. "
                "Count the decay's steps from W: progress (t − W)/(T − W − 1), which is 0 at t = W."),
        Mistake(_schedule_sequence(_schedule_with(_right_ramp, _cosine_of(lambda s, W, T: (s - W) / (T - W)))),
                "the cosine does not reach eta_min: with progress (t − W)/(T − W) the last step, "
                "t = T − 1, is still above it. The decay has T − W − 1 steps after its start: divide by "
                "T − W − 1 (CosineAnnealingLR's T_max)."),
        Mistake(_schedule_sequence(_schedule_with(_right_ramp, _cosine_of(lambda s, W, T: s / (T - 1)))),
                "your cosine's clock starts at step 0 instead of at the end of the warm-up, so the decay "
                "starts below the peak. Measure its progress from W: (t − W)/(T − W − 1)."),
        Mistake(_schedule_sequence(_schedule_with(_right_ramp, _cosine_of(lambda s, W, T: (s - W) / (T - W - 1),
                                                                           low=lambda peak, eta: 0.0))),
                "your cosine goes down to 0 and ignores eta_min: use eta_min + (peak − eta_min)·(1 + cos(π·p))/2."),
        Mistake(_schedule_sequence(_schedule_with(_right_ramp, _cosine_of(lambda s, W, T: (s - W) / (T - W - 1),
                                                                           high=lambda peak, eta: peak + eta))),
                "your cosine starts above the peak: eta_min + peak·(1 + cos)/2 adds eta_min on top. "
                "Scale the cosine by (peak − eta_min)."),
    ],
    hints={ZeroDivisionError: "With warmup_steps = 0 there is no warm-up: only use the ramp when step < "
                              "warmup_steps (and the decay then has total_steps − 1 steps)."},
)


def check_warmup_cosine(fn: Callable) -> CheckResult:
    """Check ``fn(step, peak_lr, warmup_steps, total_steps, eta_min)`` -> the rate of that step."""
    if not callable(fn):
        return check_function(fn, WARMUP_COSINE_EXERCISE)
    return check_function(_schedule_sequence(fn), WARMUP_COSINE_EXERCISE)


def amp_step_reference(loss, optimizer, scaler, clip_gradients):
    """One mixed-precision training step in the right order."""
    scaler.scale(loss).backward()      # gradients of S·loss
    scaler.unscale_(optimizer)         # ÷ S: the true gradients (inf/NaN noted)
    clip_gradients()                   # clip the TRUE gradients
    scaler.step(optimizer)             # optimizer.step(), or skip it if inf/NaN was found
    scaler.update()                    # adjust S for the next step


class _RecordedLoss:
    """A loss tensor whose ``backward()`` is written into ``events`` (everything else is the tensor's)."""

    def __init__(self, tensor, events: list, name: str):
        self.tensor, self._events, self._name = tensor, events, name

    def backward(self, *args, **kwargs):
        self._events.append(self._name)
        return self.tensor.backward(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tensor, name)


def _recording_scaler(events: list, inside_step: list):
    import torch

    class RecordingScaler(torch.amp.GradScaler):
        def scale(self, outputs):
            events.append("scaler.scale")
            tensor = outputs.tensor if isinstance(outputs, _RecordedLoss) else outputs
            return _RecordedLoss(super().scale(tensor), events, "scaled_loss.backward")

        def unscale_(self, optimizer):
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


def _amp_run(fn: Callable, seed: int, overflow_at: int | None):
    """Three training steps of a small linear model through ``fn``; what was called, in order,
    and the parameters after. With ``overflow_at``, that step's loss is inf (a step to skip)."""
    import warnings

    import torch

    generator = torch.Generator().manual_seed(seed)
    model = torch.nn.Linear(4, 3)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))
    x, target = torch.randn(16, 4, generator=generator), 5 * torch.randn(16, 3, generator=generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    events, inside_step = [], [False]
    optimizer.register_step_pre_hook(lambda *args: None if inside_step[0] else events.append("optimizer.step"))
    scaler = _recording_scaler(events, inside_step)

    def clip_gradients():
        events.append("clip_gradients")
        return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)

    error = None
    for step in range(3):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), target)
        if step == overflow_at:
            loss = loss * float("inf")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(_RecordedLoss(loss, events, "loss.backward"), optimizer, scaler, clip_gradients)
        except Exception as raised:  # the learner's code may raise anything: report it
            error = raised
            events.append(f"raised {type(raised).__name__}")
            break
        events.append("|")
    params = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()
    return tuple(events), params, error


_AMP_CASES = [(3, None), (4, 1)]
_AMP_STEPS_ORDER = ("scaler.scale(loss).backward() → scaler.unscale_(optimizer) → clip_gradients() → "
                    "scaler.step(optimizer) → scaler.update()")


def _calls(events) -> str:
    first = list(events[:events.index("|")] if "|" in events else events)
    return " → ".join(first)


def _clip_then_unscale(loss, optimizer, scaler, clip_gradients):
    scaler.scale(loss).backward()
    clip_gradients()
    scaler.unscale_(optimizer)
    scaler.step(optimizer)
    scaler.update()


def _no_unscale(loss, optimizer, scaler, clip_gradients):
    scaler.scale(loss).backward()
    clip_gradients()
    scaler.step(optimizer)
    scaler.update()


def _update_before_step(loss, optimizer, scaler, clip_gradients):
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    scaler.update()
    scaler.step(optimizer)


def _optimizer_step_directly(loss, optimizer, scaler, clip_gradients):
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    optimizer.step()
    scaler.update()


def _unscaled_backward(loss, optimizer, scaler, clip_gradients):
    loss.backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    scaler.step(optimizer)
    scaler.update()


def _clip_after_step(loss, optimizer, scaler, clip_gradients):
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    scaler.step(optimizer)
    clip_gradients()
    scaler.update()


def _no_update(loss, optimizer, scaler, clip_gradients):
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    clip_gradients()
    scaler.step(optimizer)


AMP_MISTAKES = [
    Mistake(_clip_then_unscale,
            "you clipped before scaler.unscale_: at that point the gradients are S times too large "
            "(S = 4096 here, 65536 by default), so the threshold cuts them far too hard and the step "
            "comes out up to S times too short. Unscale first, then clip."),
    Mistake(_no_unscale,
            "you clipped without scaler.unscale_: the gradients were still multiplied by the scale S, so "
            "the clipping threshold applied to S·g. Call scaler.unscale_(optimizer) before clipping "
            "(scaler.step will not unscale twice)."),
    Mistake(_update_before_step,
            "you called scaler.update() before scaler.step(optimizer): update closes the step (it "
            "adjusts S and forgets that the gradients were unscaled), so step then unscales them a second "
            "time and the next unscale_ fails. Order: step, then update."),
    Mistake(_optimizer_step_directly,
            "you called optimizer.step() yourself: it also steps when the gradients hold inf/NaN (the "
            "second case has such a step), writing NaN into the weights. scaler.step(optimizer) skips "
            "those steps."),
    Mistake(_unscaled_backward,
            "you called backward() on the unscaled loss: the gradients are then not multiplied by S, "
            "and scaler.unscale_ divides them by S anyway. Backpropagate scaler.scale(loss)."),
    Mistake(_clip_after_step,
            "you clipped after scaler.step: the step was already taken with the unclipped gradients. "
            "Clip between unscale_ and step."),
    Mistake(_no_update,
            "you never called scaler.update(): the scale is not adjusted, and the next step's unscale_ "
            "fails because the previous step was never closed. End every step with scaler.update()."),
]


def check_amp_step(fn: Callable) -> CheckResult:
    """Check ``fn(loss, optimizer, scaler, clip_gradients)``: one training step with a GradScaler,
    run for three steps on a small model (twice: once with a step whose loss overflows to inf)."""
    if not callable(fn):
        return CheckResult(False, f"expected your function `amp_step` itself but got {describe_value(fn)}: pass "
                                  "the function without calling it.")
    runs = [_amp_run(fn, seed, overflow) for seed, overflow in _AMP_CASES]
    references = [_amp_run(amp_step_reference, seed, overflow) for seed, overflow in _AMP_CASES]
    if all(error is None and np.allclose(params, ref_params, rtol=1e-6, atol=1e-7, equal_nan=True)
           for (_, params, error), (_, ref_params, _) in zip(runs, references)):
        return CheckResult(True, "scale(loss).backward() → unscale_ → clip → step → update: the clipping "
                                 "sees\nthe true gradients, and a step with inf/NaN is skipped.")
    for mistake in AMP_MISTAKES:
        if all(events == _amp_run(mistake.answer, seed, overflow)[0]
               for (events, _, _), (seed, overflow) in zip(runs, _AMP_CASES)):
            return CheckResult(False, mistake.explanation)
    events, _, error = next(run for run, ref in zip(runs, references)
                            if run[2] is not None or not np.allclose(run[1], ref[1], rtol=1e-6, atol=1e-7, equal_nan=True))
    if error is not None and isinstance(error, NotImplementedError):
        return CheckResult(False, "your function raised NotImplementedError: replace the placeholder with your code.")
    what = f"it raised {type(error).__name__}: {error}" if error is not None else "the weights came out different"
    return CheckResult(False, f"your calls, in order: {_calls(events)}; {what}. The right order is "
                              f"{_AMP_STEPS_ORDER}.")
