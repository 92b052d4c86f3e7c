"""The exercises of notebook 13: the warm-up + cosine schedule (``check_warmup_cosine``), AdamW's two
parameter groups (``check_param_groups``, on the notebook's transformer and on one of another size)
and a prediction (``check_first_step``: the size of Adam's first step at a ten times higher peak
rate, judged against a real run). Gradient accumulation with a GradScaler is an exercise of
notebook 10 (mixed precision)."""

import copy
import functools
from dataclasses import replace
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from course_lib.interactive.checking import (
    accepts_arguments, check_answer, check_function, CheckResult, describe_value, Exercise, Mistake, not_attempted,
    Question, UnusableAnswer, wrong_signature,
)
from course_lib.lessons.recipe.model import decays, make_model, TinyTransformer
from course_lib.lessons.recipe.training import RECIPE, train, warmup_cosine

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
# 2. The two parameter groups of AdamW
# --------------------------------------------------------------------------------------------------

PARAM_GROUPS_CALL = "split_for_decay(model)"
OTHER_SIZE = {"width": 32, "heads": 4, "layers": 3}
"""The second transformer of the check: another width and depth, so a list of names written out by
hand for the notebook's model fails."""


@functools.cache
def _models() -> tuple[tuple[str, nn.Module], ...]:
    """(description, model) of the two transformers the check splits: the notebook's, and one of
    another size."""
    with torch.random.fork_rng():                    # the learner's random state stays as it was
        notebook = make_model(0)
        torch.manual_seed(1)
        other = TinyTransformer(**OTHER_SIZE)
    return (("the notebook's transformer", notebook),
            (f"a {OTHER_SIZE['layers']}-layer transformer of width {OTHER_SIZE['width']}", other))


def split_for_decay_reference(model: nn.Module) -> tuple[list[str], list[str]]:
    """(decay, no_decay): the names of the linear layers' weight matrices, and of everything else
    (embeddings, biases, LayerNorm gains), as ``param_groups`` splits them."""
    named = list(model.named_parameters())
    return [n for n, p in named if decays(n, p)], [n for n, p in named if not decays(n, p)]


def _kinds(model: nn.Module) -> dict[str, str]:
    """The kind of each parameter by the module that holds it: "matrix" (a linear layer's weight),
    "bias" (of a linear layer or a LayerNorm), "gain" (a LayerNorm's weight) or "embedding"."""
    kinds = {}
    for prefix, module in model.named_modules():
        for attribute, _ in module.named_parameters(recurse=False):
            kind = ("embedding" if isinstance(module, nn.Embedding) else "bias" if attribute == "bias"
                    else "gain" if isinstance(module, nn.LayerNorm) else "matrix")
            kinds[f"{prefix}.{attribute}" if prefix else attribute] = kind
    return kinds


KIND_REASONS = {
    "matrix": ("the weight matrices of the linear layers", "in no_decay",
               "they are what weight decay is for: it keeps the weights that multiply the inputs small."),
    "embedding": ("the embeddings", "decayed",
                  "leave them out: a row is a token's (or a position's) vector, looked up, not a weight that "
                  "multiplies an input."),
    "gain": ("the LayerNorm gains", "decayed",
             "a gain starts at 1, its neutral value, and decay would pull it towards 0."),
    "bias": ("the biases", "decayed",
             "a bias adds a constant instead of multiplying an input; biases stay out of weight decay."),
}
"""For each kind of parameter: what it is, how it went wrong, and why it belongs in its group."""


def _names(returned: Any, model: nn.Module) -> tuple[list[str], list[str]]:
    """The learner's (decay, no_decay) as two lists of names, or :class:`UnusableAnswer` saying what
    is wrong with them: not two lists, tensors instead of names, a name the model does not have, a
    name in both lists or twice, a parameter in neither."""
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        raise UnusableAnswer(f"your function returned {describe_value(returned)}; return two lists of names, "
                             f"(decay, no_decay)")
    lists = []
    for which, names in zip(("decay", "no_decay"), returned):
        if isinstance(names, (str, dict)) or not isinstance(names, (list, tuple, set)):
            raise UnusableAnswer(f"your {which} is {describe_value(names)}, not a list of names")
        if any(isinstance(name, torch.Tensor) for name in names):
            raise UnusableAnswer(f"your {which} list holds tensors: return the parameters' names, from "
                                 f"model.named_parameters(), such as \"head.weight\" (a name says which "
                                 f"parameter it is; param_groups then looks the tensors up)")
        if not all(isinstance(name, str) for name in names):
            raise UnusableAnswer(f"your {which} list holds {describe_value(next(n for n in names if not isinstance(n, str)))}"
                                 f"; it should hold names (strings)")
        lists.append(list(names))
    decay, no_decay = lists
    parameters = [name for name, _ in model.named_parameters()]
    unknown = next((name for name in decay + no_decay if name not in parameters), None)
    if unknown is not None:
        raise UnusableAnswer(f"\"{unknown}\" is not a parameter of the model: take the names from "
                             f"model.named_parameters()")
    for name in parameters:
        if name in decay and name in no_decay:
            raise UnusableAnswer(f"\"{name}\" is in both lists: each parameter goes in exactly one group")
        if decay.count(name) + no_decay.count(name) > 1:
            raise UnusableAnswer(f"\"{name}\" is in a list twice: each parameter goes in exactly once")
        if name not in decay and name not in no_decay:
            raise UnusableAnswer(f"\"{name}\" is in neither list: AdamW trains only the parameters it is given; "
                                 f"build both lists from model.named_parameters()")
    return decay, no_decay


def _explain_groups(decay: list[str], model: nn.Module) -> str | None:
    """None when ``decay`` holds exactly the parameters ``decays`` picks; else one sentence per kind
    of parameter in the wrong group, naming one of them."""
    kinds = _kinds(model)
    wrong = {}
    for name, parameter in model.named_parameters():
        if (name in decay) != decays(name, parameter):
            wrong.setdefault(kinds[name], []).append(name)
    if not wrong:
        return None
    if set(wrong) == set(KIND_REASONS) and not set(decay) & {n for n, p in model.named_parameters() if decays(n, p)}:
        return "your two lists are swapped: return (decay, no_decay), the names to decay first."
    if len(wrong) > 2:                               # e.g. every 2-D or every parameter decayed
        parts = [f"{KIND_REASONS[kind][0]} are {KIND_REASONS[kind][1]}" for kind in KIND_REASONS if kind in wrong]
        return (f"decay exactly the weight matrices of the linear layers; in your split, {', '.join(parts[:-1])} "
                f"and {parts[-1]}.")
    sentences = []
    for kind, (what, how, why) in KIND_REASONS.items():
        if kind in wrong:
            all_of_them = len(wrong[kind]) == sum(k == kind for k in kinds.values())
            subject = what if all_of_them else f"some of {what}"
            sentences.append(f"{subject} are {how} (\"{wrong[kind][0]}\"): {why}")
    return "\n".join([sentences[0]] + [sentence[0].upper() + sentence[1:] for sentence in sentences[1:]])


PARAM_GROUPS_HINT = ("go through model.named_parameters(); a linear layer's weight is 2-D (p.dim() == 2), but so "
                     "is an embedding (its name starts with \"tokens.\" or \"positions.\").")
PARAM_GROUPS_SUCCESS = ("decay on the weight matrices of the linear layers, none on the embeddings, biases "
                        "and LayerNorm gains, on both transformers: AdamW(param_groups(model, λ)) uses this split.")


def check_param_groups(fn: Callable) -> CheckResult:
    """Check ``fn(model)`` -> (decay, no_decay), two lists of parameter names, on the notebook's
    transformer and on one of another size. Names, not tensors: a name says which parameter a
    mistake is about."""
    if not callable(fn):
        return CheckResult(False, f"expected your function `split_for_decay` itself but got "
                                  f"{describe_value(fn)}: pass the function without calling it.")
    if not accepts_arguments(fn, 1):
        return wrong_signature(PARAM_GROUPS_CALL)
    for where, model in _models():
        try:
            returned = fn(copy.deepcopy(model))
        except NotImplementedError:
            return not_attempted(PARAM_GROUPS_HINT)
        except Exception as error:  # the learner's code may raise anything: report it
            text = str(error) if len(str(error)) <= 80 else str(error)[:77] + "..."
            return CheckResult(False, f"your function raised {type(error).__name__}: {text} (on {where}).")
        if returned is Ellipsis:
            return not_attempted(PARAM_GROUPS_HINT)
        try:
            decay, _ = _names(returned, model)
        except UnusableAnswer as reason:
            return CheckResult(False, f"{reason} (on {where}).")
        explanation = _explain_groups(decay, model)
        if explanation:
            return CheckResult(False, explanation)
    return CheckResult(True, PARAM_GROUPS_SUCCESS)


# --------------------------------------------------------------------------------------------------
# 3. Predict: the first step without warm-up at a ten times higher peak
# --------------------------------------------------------------------------------------------------

FIRST_STEP_PEAK = 0.1
"""The peak of the question; the notebook shows the first step at RECIPE.peak_lr = 0.01."""
FIRST_STEP_TOLERANCE = 0.25
"""An answer within ±25 % of the measured ratio passes (the scaling is what is asked, not digits)."""


@functools.cache
def first_step_ratio(peak_lr: float) -> float:
    """‖Δθ‖/‖θ‖ of the first step of the recipe without warm-up at ``peak_lr``, seed 0 (a run of
    2 steps: the shortest a cosine schedule allows; its first step is at the peak)."""
    with torch.random.fork_rng():                    # the learner's random state stays as it was
        run = train(replace(RECIPE, peak_lr=peak_lr, warmup_steps=0), seed=0, steps=2)
    return float(run.update_ratios[0])


def _near(ratio: float, target: float) -> bool:
    return abs(ratio / target - 1) <= FIRST_STEP_TOLERANCE


def _judge_first_step(ratio: float) -> CheckResult:
    measured = first_step_ratio(FIRST_STEP_PEAK)
    scale = FIRST_STEP_PEAK / RECIPE.peak_lr
    if ratio <= 0:
        return CheckResult(False, "‖Δθ‖/‖θ‖ is a ratio of two lengths: a positive number.")
    if _near(ratio, measured):
        return CheckResult(True, "at step 1 Adam's m̂/√v̂ is ±1 for every weight, whatever the gradient's size, "
                                 "so each weight moves by about lr: the ratio grows in proportion to lr, ten times "
                                 "the rate, ten times the step.")
    if _near(ratio, measured / scale):
        return CheckResult(False, "that is the ratio at 0.01 (or with a warm-up of 10 steps, whose first step is "
                                  "at peak/10). Here the first step is at the full 0.1: how does the step grow "
                                  "with lr?")
    if _near(ratio, measured / scale**2):
        return CheckResult(False, "you scaled by the warm-up: that is the first step with warm-up at 0.01 "
                                  "(lr = peak/10). Without warm-up the first step is at the full peak, 0.1.")
    if _near(ratio, measured / np.sqrt(scale)):
        return CheckResult(False, "you scaled by √lr: at step 1 m̂/√v̂ = ±1, and lr multiplies it directly. "
                                  "Ten times the rate, how much bigger the step?")
    if _near(ratio, measured * scale):
        return CheckResult(False, "you scaled by lr²: the step is lr·m̂/√v̂ with m̂/√v̂ = ±1 at step 1; "
                                  "lr enters once.")
    if abs(ratio / FIRST_STEP_PEAK - 1) <= 0.1:
        return CheckResult(False, "that is lr itself: each weight moves by about lr, but ‖θ‖ is not one per "
                                  "weight. Start from the ratio measured at 0.01 and scale it.")
    return CheckResult(False, f"too {'small' if ratio < measured else 'large'}: start from the ratio measured "
                              f"without warm-up at 0.01; at step 1 each weight moves by about lr.")


FIRST_STEP_QUESTION = Question(
    name="my_ratio",
    fields=("ratio",),
    hint="at step 1 Adam's m̂ = g and v̂ = g², so each weight moves by lr·g/|g|. How does ‖Δθ‖ change "
         "when lr goes from 0.01 to 0.1?",
    judge=_judge_first_step,
)


def check_first_step(answer: Any) -> CheckResult:
    """Check a predicted ‖Δθ‖/‖θ‖ of the first step of the recipe without warm-up at peak 0.1, against
    the real run (seed 0): within ±25 % passes."""
    return check_answer(answer, FIRST_STEP_QUESTION)
