"""The modern recipe (notebook 13) on the small transformer of ``model``: the schedules, one training
run in plain PyTorch, the LR range test, and runs over seeds.

``train`` is the loop a reader would write::

    optimizer = AdamW(param_groups(model, λ), lr=peak, betas=(0.9, 0.95))
    scheduler = warm-up, then cosine (or warmup-stable-decay, or one-cycle)
    for each batch:
        with torch.autocast(device, dtype=bfloat16, enabled=...):     # optional
            loss = sorted_half_loss(model(x), y)
        optimizer.zero_grad(); loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step(); scheduler.step()
        ema.update_parameters(model)                                   # an EMA of the weights

Every run is seeded (the initial weights and the batches), so two runs of one recipe from one seed
are identical on one machine. torch is imported here (``import course_lib`` stays NumPy-only).
"""

from dataclasses import dataclass, field

import numpy as np
import schedulefree
import torch
from torch.optim import lr_scheduler
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from course_lib.lab import torch_bridge
from course_lib.lessons.recipe.model import (evaluation_set, make_model, param_groups, sorted_half_accuracy,
                                             sorted_half_loss, sorting_batch)

STEPS = 60
"""Steps of every run: a budget of 960 examples (the task has 10⁸ different inputs)."""
BATCH_SIZE = 16
SEEDS = (0, 1, 2)
RATIO_STEPS = 20
"""``Run.update_ratios`` is measured for the first 20 steps (NaN after): where warm-up acts."""
EMA_DECAY = 0.9
"""The EMA of the weights averages over about the last 1 / (1 − 0.9) = 10 steps."""


# --------------------------------------------------------------------------------------------------
# The schedule
# --------------------------------------------------------------------------------------------------

def warmup_cosine(step, peak_lr, warmup_steps, total_steps, eta_min=0.0):
    """The rate of step t = 0 … total_steps − 1: a linear warm-up, then a cosine down to eta_min.

        t < W:   lr = peak · (t + 1) / W
        t ≥ W:   lr = η_min + (peak − η_min) · (1 + cos(π (t − W) / (T − W − 1))) / 2

    The first step is not wasted at 0, the last warm-up step W − 1 is at the peak, and so is
    step W; the last step, T − 1, is at η_min.

    W = 0 is no warm-up: a cosine from the first step. Equals ``warmup_cosine_scheduler`` (torch's
    ``SequentialLR``) and ``LambdaLR(lambda t: warmup_cosine(t, 1, W, T, η_min / peak))``.
    """
    W, T = _checked_steps(warmup_steps, total_steps)
    s = np.asarray(step, dtype=float)
    ramp = peak_lr * (s + 1) / max(W, 1)
    cosine = eta_min + (peak_lr - eta_min) * (1 + np.cos(np.pi * (s - W) / (T - W - 1))) / 2
    lr = np.where(s < W, ramp, cosine)
    return float(lr) if lr.ndim == 0 else lr


def _checked_steps(warmup_steps, total_steps):
    W, T = int(warmup_steps), int(total_steps)
    if W != warmup_steps or T != total_steps or W < 0 or T - W < 2:
        raise ValueError(f"need integers 0 <= warmup_steps <= total_steps − 2, got warmup_steps={warmup_steps!r}, "
                         f"total_steps={total_steps!r}")
    return W, T


def warmup_cosine_scheduler(module, optimizer, warmup_steps, total_steps, eta_min=0.0):
    """``warmup_cosine`` as torch's chained schedulers, from ``module`` = ``course_lib.schedules``
    or ``torch.optim.lr_scheduler`` (step it once after every optimizer step)::

        LinearLR(start_factor=1/W, total_iters=W − 1)    steps 0 … W − 1
        CosineAnnealingLR(T_max=T − W − 1, eta_min)       from step W
        SequentialLR([warm-up, cosine], milestones=[W])
    """
    W, T = _checked_steps(warmup_steps, total_steps)
    cosine = module.CosineAnnealingLR(optimizer, T_max=T - W - 1, eta_min=eta_min)
    if W == 0:
        return cosine
    warmup = module.LinearLR(optimizer, start_factor=1.0 / W, end_factor=1.0,
                             total_iters=max(W - 1, 1))
    return module.SequentialLR(optimizer, [warmup, cosine], milestones=[W])


def warmup_stable_decay(step, peak_lr, warmup_steps, total_steps, decay_fraction=0.2):
    """Warm-up, then the peak held constant, then a straight line down over the last
    ``decay_fraction`` of the steps (D of them): step t ≥ T − D uses peak · (T − t) / D, so the last
    step uses peak / D. The constant phase can run as long as wanted; only the final decay must
    know where the run ends."""
    W, T = _checked_steps(warmup_steps, total_steps)
    D = max(1, round(decay_fraction * T))
    s = np.asarray(step, dtype=float)
    lr = peak_lr * np.minimum(np.minimum(1.0, (s + 1) / max(W, 1)), (T - s) / D)
    return float(lr) if lr.ndim == 0 else lr


# --------------------------------------------------------------------------------------------------
# The recipe and one run
# --------------------------------------------------------------------------------------------------

SCHEDULES = ("cosine", "warmup-stable-decay", "one-cycle", "schedule-free")


@dataclass(frozen=True)
class Recipe:
    """One training configuration. ``max_norm=inf`` is no clipping; ``decay_everything`` puts every
    parameter in one group with weight decay λ (instead of ``param_groups``). "one-cycle" is torch's
    ``OneCycleLR`` with its defaults (its own warm-up over the first 30 % of the steps, which replaces
    ``warmup_steps``; it also cycles β₁ between 0.85 and 0.95); "schedule-free" is
    ``schedulefree.AdamWScheduleFree`` with the same warm-up and no schedule after it."""

    peak_lr: float = 1e-2
    warmup_steps: int = 10
    schedule: str = "cosine"
    max_norm: float = 1.0
    beta2: float = 0.95
    weight_decay: float = 0.1
    decay_everything: bool = False

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("peak_lr", "max_norm"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.warmup_steps != int(self.warmup_steps) or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be a whole number >= 0, got {self.warmup_steps!r}")
        if not 0 <= self.beta2 < 1 or not self.weight_decay >= 0:
            raise ValueError(f"need 0 <= beta2 < 1 and weight_decay >= 0, got beta2={self.beta2!r}, "
                             f"weight_decay={self.weight_decay!r}")


RECIPE = Recipe()
"""AdamW (β₂ = 0.95, λ = 0.1 on the matrices only), 10 warm-up steps then cosine to 0, clipping at 1.0."""


def make_optimizer(model: torch.nn.Module, recipe: Recipe, steps: int):
    """(optimizer, scheduler) for ``recipe``; the scheduler is None for schedule-free AdamW."""
    groups = ([{"params": list(model.parameters()), "weight_decay": recipe.weight_decay}]
              if recipe.decay_everything else param_groups(model, recipe.weight_decay))
    betas = (0.9, recipe.beta2)
    if recipe.schedule == "schedule-free":
        optimizer = schedulefree.AdamWScheduleFree(groups, lr=recipe.peak_lr, betas=betas,
                                                   warmup_steps=recipe.warmup_steps)
        optimizer.train()
        return optimizer, None
    optimizer = torch.optim.AdamW(groups, lr=recipe.peak_lr, betas=betas, fused=True)
    if recipe.schedule == "cosine":
        return optimizer, warmup_cosine_scheduler(lr_scheduler, optimizer, recipe.warmup_steps, steps)
    if recipe.schedule == "one-cycle":
        return optimizer, lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.peak_lr, total_steps=steps)
    return optimizer, lr_scheduler.LambdaLR(
        optimizer, lambda t: warmup_stable_decay(t, 1.0, recipe.warmup_steps, steps))


def learning_rates(recipe: Recipe = RECIPE, steps: int = STEPS) -> np.ndarray:
    """The lr of every step of a run of ``recipe`` (its ``Run.lrs``) without training: its optimizer
    and scheduler stepped on a 1×1 linear layer whose gradients are 0 (no schedule here looks at the
    gradients). The layer is made without drawing from torch's random generator."""
    model = torch.nn.utils.skip_init(torch.nn.Linear, 1, 1)
    optimizer, scheduler = make_optimizer(model, recipe, steps)
    for parameter in model.parameters():
        parameter.data.zero_()
        parameter.grad = torch.zeros_like(parameter)
    group, lrs = optimizer.param_groups[0], np.empty(steps)
    for t in range(steps):
        optimizer.step()
        lrs[t] = group.get("scheduled_lr", group["lr"])
        if scheduler is not None:
            scheduler.step()
    return lrs


@dataclass(frozen=True)
class Run:
    """One run. Per step (arrays of ``steps``): losses (minibatch loss before the step),
    grad_norms (before clipping), lrs (of the weight matrices), update_ratios (‖Δθ‖ / ‖θ‖ of the
    step, for the first RATIO_STEPS steps; NaN after). At the end, on the held-out examples: loss,
    accuracy (sorted digits predicted right), and the same for the EMA of the weights."""

    losses: np.ndarray
    grad_norms: np.ndarray
    lrs: np.ndarray
    update_ratios: np.ndarray
    loss: float
    accuracy: float
    ema_loss: float
    ema_accuracy: float


def _flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@torch.no_grad()
def evaluate(model: torch.nn.Module, device="cpu") -> tuple[float, float]:
    """(loss, accuracy) on the held-out examples."""
    inputs, targets = evaluation_set(device=device)
    logits = model(inputs)
    return sorted_half_loss(logits, targets).item(), sorted_half_accuracy(logits, targets)


@torch_bridge.one_cpu_thread()
def train(recipe: Recipe = RECIPE, seed: int = 0, steps: int = STEPS, batch_size: int = BATCH_SIZE,
          device="cpu", autocast_dtype: torch.dtype | None = None,
          ema_decay: float = EMA_DECAY) -> Run:
    """Train the transformer from ``seed`` with ``recipe``; the seed fixes the initial weights and
    the batches. ``autocast_dtype`` (e.g. torch.bfloat16): the forward pass under
    ``torch.autocast`` (no GradScaler: bfloat16 has float32's range)."""
    device = torch.device(device)
    model = make_model(seed, device)
    optimizer, scheduler = make_optimizer(model, recipe, steps)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema_decay))
    data = torch.Generator().manual_seed(1000 + seed)
    low_precision = autocast_dtype is not None
    losses, grad_norms, lrs = (np.empty(steps) for _ in range(3))
    ratios = np.full(steps, np.nan)
    for t in range(steps):
        inputs, targets = sorting_batch(data, batch_size, device)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=low_precision):
            loss = sorted_half_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        grad_norms[t] = torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.max_norm).item()
        group = optimizer.param_groups[0]
        before = _flat(model) if t < RATIO_STEPS else None
        optimizer.step()
        lrs[t] = group.get("scheduled_lr", group["lr"])    # schedule-free keeps its warm-up apart
        if before is not None:
            ratios[t] = ((_flat(model) - before).norm() / before.norm()).item()
        if scheduler is not None:
            scheduler.step()
        ema.update_parameters(model)
        losses[t] = loss.item()
    if recipe.schedule == "schedule-free":
        optimizer.eval()                                     # evaluate the average x, not y
    return Run(losses, grad_norms, lrs, ratios, *evaluate(model, device),
               *evaluate(ema.module, device))


@torch_bridge.one_cpu_thread()
def lr_range_test(seed: int = 0, lr_min: float = 1e-4, lr_max: float = 1.0, steps: int = STEPS,
                  batch_size: int = BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Smith's LR range test: one short run whose rate grows geometrically from lr_min to lr_max
    (torch's ``ExponentialLR``), AdamW as in the recipe, no clipping. Returns (lrs, losses)."""
    model = make_model(seed)
    optimizer = torch.optim.AdamW(param_groups(model, RECIPE.weight_decay), lr=lr_min, betas=(0.9, RECIPE.beta2),
                                  fused=True)
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=(lr_max / lr_min) ** (1 / (steps - 1)))
    data = torch.Generator().manual_seed(1000 + seed)
    lrs, losses = np.empty(steps), np.empty(steps)
    for t in range(steps):
        inputs, targets = sorting_batch(data, batch_size)
        loss = sorted_half_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        lrs[t] = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        losses[t] = loss.item()
    return lrs, losses


# --------------------------------------------------------------------------------------------------
# Runs over seeds
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Runs:
    """One recipe from several seeds: the fields of ``Run`` stacked, one row (or entry) per seed."""

    recipe: Recipe
    runs: list = field(repr=False)

    def __getattr__(self, name):
        if name in Run.__dataclass_fields__:
            return np.array([getattr(run, name) for run in self.runs])
        raise AttributeError(name)


def train_seeds(recipe: Recipe = RECIPE, seeds=SEEDS, **settings) -> Runs:
    """``train`` from each seed (``settings`` go to ``train``)."""
    return Runs(recipe, [train(recipe, seed, **settings) for seed in seeds])


def spread(values, digits: int = 2) -> str:
    """'0.58 ± 0.03': mean ± standard deviation over seeds."""
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"
