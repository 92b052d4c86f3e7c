"""The modern recipe (notebook 13): AdamW, linear warm-up then cosine decay, clipping, AMP; the
experiments of the notebook.

Three parts:

* ``warmup_cosine`` — the learning rate of step s (closed form) and ``warmup_cosine_scheduler`` —
  the same schedule built from ``LinearLR`` + ``CosineAnnealingLR`` in ``SequentialLR``, for
  ``course_lib.schedules`` or ``torch.optim.lr_scheduler`` alike;
* a small seeded classification task (``make_task``) and the MLP of the notebook, trained in
  plain PyTorch with the whole recipe (``train_torch``: autocast + GradScaler as detected by
  ``course_lib.lab.precision``);
* ``train_many``: many runs of the same MLP side by side (seeds × recipes) along a leading run axis:
  gradients from torch autograd, the update from ``course_lib.optim`` (whose lr and weight decay
  may differ per run) and ``course_lib.clipping.clip_each_run_`` — the ablation and sweeps of the
  notebook in one computation each.

torch is imported here (``import course_lib`` stays NumPy-only).
"""

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from course_lib import clipping, optim
from course_lib.lab import torch_bridge
from course_lib.lab.display import verdict  # noqa: F401  (notebook 13 uses lesson.verdict)

LAYERS = (8, 32, 32, 4)
"""The MLP of the notebook: 8 inputs, two hidden ReLU layers of 32, 4 classes."""


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


def warmup_constant(step, peak_lr, warmup_steps):
    """The same warm-up, then the peak rate for good (the recipe without decay)."""
    s = np.asarray(step, dtype=float)
    lr = peak_lr * np.minimum(1.0, (s + 1) / max(int(warmup_steps), 1))
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


# --------------------------------------------------------------------------------------------------
# The task and the model
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """A seeded 4-class problem in 8 dimensions: labels from a random teacher net (8 tanh units),
    then 5 % of them redrawn at random (so about 3.75 % end up wrong)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def make_task(n_train=2048, n_test=4096, noise=0.05, seed=0) -> Task:
    d, classes = LAYERS[0], LAYERS[-1]
    rng = np.random.default_rng(seed)
    W1, W2 = rng.normal(size=(d, 8)) / np.sqrt(d), rng.normal(size=(8, classes)) / np.sqrt(8)
    X = rng.normal(size=(n_train + n_test, d))
    y = np.argmax(np.tanh(2 * X @ W1) @ W2, axis=1)
    flip = rng.random(len(y)) < noise
    y[flip] = rng.integers(0, classes, size=flip.sum())
    X = X.astype(np.float32)
    return Task(X[:n_train], y[:n_train], X[n_train:], y[n_train:])


def make_model(seed: int, dtype=torch.float32) -> torch.nn.Sequential:
    """The notebook's MLP with torch's default initialisation, seeded."""
    torch.manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(LAYERS[:-1], LAYERS[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out, dtype=dtype))
        if i < len(LAYERS) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def batch_order(n: int, batch_size: int, steps: int, seed: int) -> np.ndarray:
    """(steps, batch_size) indices: epochs of seeded random permutations, cut into batches."""
    rng = np.random.default_rng(1000 + seed)
    per_epoch = n // batch_size
    epochs = -(-steps // per_epoch)
    order = np.concatenate([rng.permutation(n)[:per_epoch * batch_size] for _ in range(epochs)])
    return order.reshape(-1, batch_size)[:steps]


# --------------------------------------------------------------------------------------------------
# The recipe and its ablations
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    """One training configuration. ``max_norm=inf`` is no clipping; ``optimizer`` is "AdamW",
    "Adam+L2" (torch ``Adam(weight_decay=λ)``: λθ added to the gradient) or "SGD" (momentum 0.9,
    L2 decay as torch's ``SGD(weight_decay=λ)``)."""

    peak_lr: float = 3e-2
    warmup_steps: int = 20
    decay: bool = True
    max_norm: float = 1.0
    weight_decay: float = 0.05
    optimizer: str = "AdamW"
    eta_min: float = 0.0

    def lrs(self, steps: int) -> np.ndarray:
        s = np.arange(steps)
        if self.decay:
            return warmup_cosine(s, self.peak_lr, self.warmup_steps, steps, self.eta_min)
        return warmup_constant(s, self.peak_lr, self.warmup_steps)


RECIPE = Recipe()
ABLATIONS = {
    "full recipe": RECIPE,
    "no warm-up": replace(RECIPE, warmup_steps=0),
    "no clipping": replace(RECIPE, max_norm=math.inf),
    "constant lr": replace(RECIPE, decay=False),
    "no weight decay": replace(RECIPE, weight_decay=0.0),
    "Adam + L2, λ 5e-4": replace(RECIPE, optimizer="Adam+L2", weight_decay=5e-4),
    "Adam + L2, λ 0.05": replace(RECIPE, optimizer="Adam+L2", weight_decay=0.05),
}
"""The full recipe and one ingredient removed at a time. "no weight decay" (λ = 0) is the control
that the two Adam + L2 rows need: at its usual small λ and at the recipe's λ = 0.05."""


@dataclass(frozen=True)
class Runs:
    """What ``train_many`` recorded, one column per run (run r = recipe r // seeds, seed r % seeds).

    losses, grad_norms, update_ratios: (steps, R) — minibatch loss before the step, gradient norm
    before clipping, ‖Δθ‖/‖θ‖ of the step; lrs: (steps, R); start_loss, train_loss, train_error,
    test_error: (R,) before and after training; weights: (R, PARAMETERS) after training;
    spiked_at: (R,) first step whose loss is not finite or above 3× the first one, −1 if none;
    diverged: (R,) the loss became inf or NaN; classes_predicted: (R,) how many of the 4 classes
    the trained net predicts on the test set (1: it gives every input the same answer).
    """

    names: tuple
    seeds: int
    losses: np.ndarray
    grad_norms: np.ndarray
    update_ratios: np.ndarray
    lrs: np.ndarray
    start_loss: np.ndarray
    test_error: np.ndarray
    train_loss: np.ndarray
    train_error: np.ndarray
    weights: np.ndarray
    spiked_at: np.ndarray
    diverged: np.ndarray
    classes_predicted: np.ndarray
    guess_error: float

    def status(self, r: int) -> str:
        """Run r in words, what happened and how it ended:

        'test error 14.6 %';  'spiked at step 1, recovered: test error 17.6 %';
        'spiked at step 1, then collapsed to one class (error 78.3 %)': finite loss, but the net
        answers every input with the same class; 'learned nothing (error 64.2 %)': no better than
        always guessing the commonest class; 'diverged: inf/NaN at step 3': the loss overflowed.
        """
        if self.diverged[r]:
            bad = np.flatnonzero(~np.isfinite(self.losses[:, r]))
            return f"diverged: inf/NaN at step {int(bad[0]) if bad.size else len(self.losses)}"
        spiked = self.spiked_at[r] >= 0
        error = f"{100 * self.test_error[r]:.1f} %"
        if self.classes_predicted[r] == 1:
            ending = f"collapsed to one class (error {error})"
        elif self.test_error[r] >= self.guess_error - 0.005:
            ending = f"learned nothing (error {error})"
        else:
            return f"spiked at step {self.spiked_at[r]}, recovered: test error {error}" if spiked else f"test error {error}"
        return f"spiked at step {self.spiked_at[r]}, then {ending}" if spiked else ending

    def per_recipe(self, values: np.ndarray) -> np.ndarray:
        """(…, R) → (…, recipes, seeds)."""
        return values.reshape(*values.shape[:-1], len(self.names), self.seeds)


def _layer_slices():
    slices, start = [], 0
    for fan_in, fan_out in zip(LAYERS[:-1], LAYERS[1:]):
        slices.append((start, start + fan_in * fan_out, start + fan_in * fan_out + fan_out, fan_in, fan_out))
        start += fan_in * fan_out + fan_out
    return slices, start


SLICES, PARAMETERS = _layer_slices()


def init_flat(seeds, dtype=np.float32) -> np.ndarray:
    """(len(seeds), PARAMETERS): torch's default Linear init, U(±1/√fan_in), one row per seed."""
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        parts = []
        for _, _, _, fan_in, fan_out in SLICES:
            bound = 1 / math.sqrt(fan_in)
            parts += [rng.uniform(-bound, bound, fan_in * fan_out), rng.uniform(-bound, bound, fan_out)]
        rows.append(np.concatenate(parts))
    return np.array(rows, dtype=dtype)


def forward_many(theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Logits (R, B, classes) of R MLPs, row r of ``theta`` being run r's parameters, on X (R, B, d)."""
    R, h = theta.shape[0], X
    for i, (start, mid, end, fan_in, fan_out) in enumerate(SLICES):
        weight = theta[:, start:mid].reshape(R, fan_in, fan_out)
        bias = theta[:, mid:end].reshape(R, 1, fan_out)
        h = torch.baddbmm(bias, h, weight)
        if i < len(SLICES) - 1:
            h = torch.relu(h)
    return h


def _loss_per_run(theta, X, y):
    logits = forward_many(theta, X)
    R, B, C = logits.shape
    return torch.nn.functional.cross_entropy(logits.reshape(R * B, C), y.reshape(-1), reduction="none").reshape(R, B).mean(1)


@torch_bridge.one_cpu_thread()
def train_many(recipes, seeds=(0, 1, 2), steps=200, batch_size=64, task=None, names=None) -> Runs:
    """Train every recipe from every seed, all runs at once, and record the curves.

    In float64, not float32: these runs are chaotic (a ReLU switching on a few test points changes
    the error), and in float32 the last bits of the arithmetic, which differ between CPUs, would
    show in the printed mean errors; in float64 they stay ~10⁸ times smaller.

    All recipes must be Adam-family ("AdamW", "Adam+L2") or all "SGD". Each run is exactly the
    PyTorch loop ``clip_grad_norm_ → optimizer.step() → scheduler.step()`` on its own MLP (the
    notebook verifies the pieces against torch); runs share the data, and a seed fixes both the
    initialisation and the order of the minibatches.
    """
    task = task or make_task()
    recipes, seeds = list(recipes), list(seeds)
    kinds = {r.optimizer for r in recipes}
    if not (kinds <= {"AdamW", "Adam+L2"} or kinds == {"SGD"}):
        raise ValueError(f"recipes must all be Adam-family or all SGD, got {sorted(kinds)}")
    R = len(recipes) * len(seeds)
    per_run = [recipe for recipe in recipes for _ in seeds]
    run_seeds = [seed for _ in recipes for seed in seeds]
    theta = init_flat(run_seeds, dtype=np.float64)
    lrs = np.stack([recipe.lrs(steps) for recipe in per_run], axis=1)
    max_norms = np.array([recipe.max_norm for recipe in per_run])
    decoupled = np.array([[r.weight_decay if r.optimizer == "AdamW" else 0.0] for r in per_run])
    l2 = np.array([[r.weight_decay if r.optimizer != "AdamW" else 0.0] for r in per_run]).astype(theta.dtype)
    if kinds == {"SGD"}:
        opt = optim.SGD([theta], lr=np.zeros((R, 1)), momentum=0.9)
    else:
        opt = optim.AdamW([theta], lr=np.zeros((R, 1)), weight_decay=decoupled)
    X, y = torch.from_numpy(task.X_train.astype(theta.dtype)), torch.from_numpy(task.y_train)
    orders = np.stack([batch_order(len(task.y_train), batch_size, steps, seed) for seed in run_seeds], axis=1)
    losses, norms, ratios = (np.empty((steps, R)) for _ in range(3))
    with torch.no_grad():
        start_loss = _loss_per_run(torch.from_numpy(theta), X.expand(R, -1, -1), y.expand(R, -1)).numpy()
    for t in range(steps):
        idx = torch.from_numpy(orders[t])
        weights = torch.from_numpy(theta).requires_grad_(True)   # shares memory with theta
        loss = _loss_per_run(weights, X[idx], y[idx])
        loss.sum().backward()                                     # runs are independent: Σ gives each its own gradient
        grad = weights.grad.numpy()
        losses[t] = loss.detach().numpy()
        norms[t] = clipping.clip_each_run_(grad, "norm", max_norms)
        if np.any(l2):
            grad = optim.l2_gradient(grad, theta, l2)             # Adam(weight_decay=λ): after clipping, in step()
        before = theta.copy()
        opt.lr = lrs[t][:, None]
        opt.step([grad])
        with np.errstate(all="ignore"):
            ratios[t] = np.linalg.norm(theta - before, axis=1) / np.linalg.norm(before, axis=1)
    with torch.no_grad(), np.errstate(all="ignore"):
        weights = torch.from_numpy(theta)
        Xt = torch.from_numpy(task.X_test.astype(theta.dtype)).expand(R, -1, -1)
        predicted = forward_many(weights, Xt).argmax(-1).numpy()
        test_error = (predicted != task.y_test).mean(1)
        logits = forward_many(weights, X.expand(R, -1, -1))
        train_error = (logits.argmax(-1).numpy() != task.y_train).mean(1)
        train_loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.repeat(R),
                                                       reduction="none").reshape(R, -1).mean(1).numpy()
    classes_predicted = np.array([np.unique(row).size for row in predicted])
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(losses) | (losses > 3 * losses[0])
        diverged = ~np.isfinite(train_loss) | ~np.isfinite(losses).all(0)
    test_error = np.where(diverged, np.nan, test_error)
    train_error = np.where(diverged, np.nan, train_error)
    spiked_at = np.where(bad.any(0), bad.argmax(0), -1)
    names = tuple(names or (f"recipe {i}" for i in range(len(recipes))))
    guess_error = 1 - np.bincount(task.y_test).max() / len(task.y_test)
    return Runs(names, len(seeds), losses, norms, ratios, lrs, start_loss, test_error, train_loss, train_error,
                theta.copy(), spiked_at, diverged, classes_predicted, float(guess_error))


def active_units(weights: np.ndarray, X: np.ndarray) -> list[int]:
    """For one run's parameters (a row of ``Runs.weights``): how many units of each hidden layer
    output more than 0 for at least one row of X. A unit that is 0 for every input is *dead*: its
    ReLU passes no gradient, so nothing can revive it."""
    h = np.asarray(X, dtype=float)
    counts = []
    for start, mid, end, fan_in, fan_out in SLICES[:-1]:
        h = np.maximum(h @ weights[start:mid].reshape(fan_in, fan_out) + weights[mid:end], 0.0)
        counts.append(int((h > 0).any(axis=0).sum()))
    return counts


def spread(values: np.ndarray) -> str:
    """'12.3 ± 0.4' (mean ± standard deviation over seeds, in the values' units); NaN-aware."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "diverged"
    text = f"{finite.mean():.1f} ± {finite.std():.1f}"
    return text if finite.size == values.size else f"{text} ({values.size - finite.size} diverged)"


# --------------------------------------------------------------------------------------------------
# The whole recipe in plain PyTorch
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TorchRun:
    losses: np.ndarray
    lrs: np.ndarray
    grad_norms: np.ndarray
    test_error: float
    skipped_steps: int


@torch_bridge.one_cpu_thread()
def train_torch(recipe: Recipe = RECIPE, steps=200, batch_size=64, seed=0, task=None,
                device="cpu", plan=None) -> TorchRun:
    """The modern recipe as a reader would write it in PyTorch::

        optimizer = AdamW(model.parameters(), lr=peak, weight_decay=λ)
        scheduler = SequentialLR(LinearLR warm-up, CosineAnnealingLR)
        for each batch:
            optimizer.zero_grad()
            with torch.autocast(device, dtype=plan.dtype):      # low precision where it works
                loss = cross_entropy(model(x), y)
            scaler.scale(loss).backward()                        # × S (float16 only)
            scaler.unscale_(optimizer)                           # ÷ S, before clipping
            clip_grad_norm_(model.parameters(), max_norm)
            scaler.step(optimizer); scaler.update()              # skips a step with inf/NaN
            scheduler.step()

    ``plan`` is a ``course_lib.lab.precision.AmpPlan`` (None: float32 throughout).
    """
    task = task or make_task()
    device = torch.device(device)
    model = make_model(seed).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.peak_lr,
                                  weight_decay=recipe.weight_decay)
    scheduler = warmup_cosine_scheduler(torch.optim.lr_scheduler, optimizer, recipe.warmup_steps,
                                        steps, recipe.eta_min)
    dtype = plan.dtype if plan is not None else torch.float32
    scaler = torch.amp.GradScaler(device.type, enabled=plan is not None and plan.use_scaler)
    X, y = torch.from_numpy(task.X_train).to(device), torch.from_numpy(task.y_train).to(device)
    order = torch.from_numpy(batch_order(len(task.y_train), batch_size, steps, seed)).to(device)
    losses, lrs, norms, skipped = [], [], [], 0
    for t in range(steps):
        optimizer.zero_grad()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = torch.nn.functional.cross_entropy(model(X[order[t]]).float(), y[order[t]])
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.max_norm).item())
        lrs.append(optimizer.param_groups[0]["lr"])
        scale_before = scaler.get_scale() if scaler.is_enabled() else 1.0
        scaler.step(optimizer)
        scaler.update()
        skipped += scaler.is_enabled() and scaler.get_scale() < scale_before
        scheduler.step()
        losses.append(loss.item())
    with torch.no_grad():
        Xt = torch.from_numpy(task.X_test).to(device)
        error = (model(Xt).argmax(1).cpu().numpy() != task.y_test).mean()
    return TorchRun(np.array(losses), np.array(lrs), np.array(norms), float(error), int(skipped))


def dtypes_under_autocast(plan=None, device="cpu", task=None) -> dict:
    """The dtype of each kind of tensor in one training step of ``train_torch``'s loop under
    ``plan`` (a ``course_lib.lab.precision.AmpPlan``; None: float32): autocast lowers what the
    matrix products compute, not what is stored. Returns {"weights", "layer outputs", "gradients",
    "Adam's moments"} → dtype names."""
    task = task or make_task()
    device = torch.device(device)
    dtype = plan.dtype if plan is not None else torch.float32
    model = make_model(0).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=RECIPE.peak_lr, weight_decay=RECIPE.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=plan is not None and plan.use_scaler)
    X, y = torch.from_numpy(task.X_train[:64]).to(device), torch.from_numpy(task.y_train[:64]).to(device)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
        hidden = model[0](X)
        loss = torch.nn.functional.cross_entropy(model[1:](hidden).float(), y)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    scaler.step(optimizer)
    scaler.update()
    weight = model[0].weight
    name = lambda t: str(t.dtype).removeprefix("torch.")
    return {"weights": name(weight), "layer outputs": name(hidden), "gradients": name(weight.grad),
            "Adam's moments": name(optimizer.state[weight]["exp_avg"])}
