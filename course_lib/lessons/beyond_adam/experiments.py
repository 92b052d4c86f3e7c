"""Notebook 12, beyond Adam: the measurements behind each section.

* ``state_floats``: the optimizer state of each optimizer on a model's parameter shapes;
* ``update_rms``: how large Adam's and Lion's steps are on noisy gradients (why Lion wants a smaller lr);
* ``momentum_like_matrix`` and ``singular_values``: a matrix with a steep spectrum, before and after
  Newton–Schulz; ``iterate_polynomial``: what the quintic does to one singular value;
* ``compare_on_moons``: the shared experiment, six optimizers on a small network, lr tuned on a grid,
  several seeds;
* ``anytime_regression``: schedule-free AdamW against cosine schedules of several lengths;
* ``verify_against_references``: each optimizer of ``course_lib.optim`` beside its reference.
"""

from dataclasses import dataclass

import numpy as np

from course_lib import optim
from course_lib.lab import data, nets
from course_lib.lab.regression import minibatches, noisy_regression

# --------------------------------------------------------------------------------------------------
# Memory: the state each optimizer keeps
# --------------------------------------------------------------------------------------------------

def transformer_shapes(vocab: int = 1000, width: int = 128, context: int = 64, blocks: int = 2) -> dict:
    """The parameter shapes of a small GPT-style transformer, by name (no biases, untied head).

    "attn"/"mlp" matrices are the hidden 2-D weights Muon is meant for; embeddings, gains and the
    head are the parameters that stay with AdamW.
    """
    shapes = {"token embedding": (vocab, width), "position embedding": (context, width)}
    for k in range(blocks):
        shapes |= {f"block {k} gain 1": (width,), f"block {k} attn qkv": (3 * width, width),
                   f"block {k} attn out": (width, width), f"block {k} gain 2": (width,),
                   f"block {k} mlp up": (4 * width, width), f"block {k} mlp down": (width, 4 * width)}
    return shapes | {"final gain": (width,), "head": (vocab, width)}


def is_hidden_matrix(name: str, shape: tuple) -> bool:
    """Muon's share: 2-D weights inside the blocks. Embeddings, gains and the head go to AdamW."""
    return len(shape) == 2 and ("attn" in name or "mlp" in name)


def _state_size(optimizer) -> int:
    return sum(array.size for state in optimizer.state for array in state.values())


def _stepped(make, shapes) -> int:
    """Floats in the state of ``make(params)`` after one step on parameters of ``shapes``."""
    if not shapes:
        return 0
    params = [np.zeros(shape, dtype=np.float32) for shape in shapes]
    optimizer = make(params)
    if hasattr(optimizer, "train"):
        optimizer.train()
    optimizer.step([np.ones(shape, dtype=np.float32) for shape in shapes])
    return _state_size(optimizer)


OPTIMIZER_MAKERS = {
    "SGD, momentum": lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
    "AdamW": lambda params: optim.AdamW(params),
    "Adafactor": lambda params: optim.Adafactor(params),
    "Lion": lambda params: optim.Lion(params),
    "schedule-free AdamW": lambda params: optim.AdamWScheduleFree(params),
}


def state_floats(shapes: dict) -> dict:
    """Floats of optimizer state for parameters of ``shapes`` ({name: shape}), counted on the real
    optimizers after one step; "Muon + AdamW" is Muon on the hidden matrices and AdamW on the rest."""
    counts = {name: _stepped(make, list(shapes.values())) for name, make in OPTIMIZER_MAKERS.items()}
    hidden = [shape for name, shape in shapes.items() if is_hidden_matrix(name, shape)]
    rest = [shape for name, shape in shapes.items() if not is_hidden_matrix(name, shape)]
    counts["Muon + AdamW"] = (_stepped(lambda p: optim.Muon(p, ns_precision="float32"), hidden)
                              + _stepped(lambda p: optim.AdamW(p), rest))
    return counts


# --------------------------------------------------------------------------------------------------
# Lion: every coordinate moves by lr
# --------------------------------------------------------------------------------------------------

def noisy_gradients(steps: int = 1000, size: int = 1000, signal: float = 0.1, seed: int = 0) -> np.ndarray:
    """(steps, size) gradients: coordinate i has mean ``signal``·s_i and noise s_i, with scales s_i
    spread over six decades, as the gradients of different weights are."""
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(-3, 3, size)
    return scales * (signal + rng.standard_normal((steps, size)))


def update_rms(grads: np.ndarray, lr: float = 1e-3) -> dict:
    """RMS over the coordinates of each step's update, divided by lr, for Adam and Lion (no decay)."""
    out = {}
    for name, make in (("Adam", lambda p: optim.Adam(p, lr=lr)), ("Lion", lambda p: optim.Lion(p, lr=lr))):
        theta = np.zeros(grads.shape[1])
        optimizer, sizes = make([theta]), []
        for grad in grads:
            before = theta.copy()
            optimizer.step([grad])
            sizes.append(optim.rms(theta - before) / lr)
        out[name] = np.array(sizes)
    return out


# --------------------------------------------------------------------------------------------------
# Muon: Newton–Schulz on the singular values
# --------------------------------------------------------------------------------------------------

def momentum_like_matrix(rows: int = 32, columns: int = 64, seed: int = 0) -> np.ndarray:
    """A matrix whose singular values fall steeply, 1/k² for k = 1, 2, …, as a momentum matrix's
    do: a few directions dominate and most are tiny."""
    rng = np.random.default_rng(seed)
    left, _ = np.linalg.qr(rng.standard_normal((rows, rows)))
    right, _ = np.linalg.qr(rng.standard_normal((columns, rows)))
    return left @ np.diag(1.0 / np.arange(1, rows + 1) ** 2) @ right.T


def singular_values(matrix: np.ndarray) -> np.ndarray:
    """Singular values, largest first."""
    return np.linalg.svd(np.asarray(matrix, dtype=np.float64), compute_uv=False)


def iterate_polynomial(s, coefficients=optim.beyond.MUON_COEFFICIENTS, steps: int = 5) -> np.ndarray:
    """s after ``steps`` applications of p(s) = a·s + b·s³ + c·s⁵: what Newton–Schulz does to each
    singular value of the normalised matrix."""
    a, b, c = coefficients
    s = np.asarray(s, dtype=np.float64)
    for _ in range(steps):
        s = a * s + b * s**3 + c * s**5
    return s


def polynomial_band(low: float = 1e-3, coefficients=optim.beyond.MUON_COEFFICIENTS, steps: int = 5) -> tuple:
    """(smallest, largest) value of the iterated polynomial over s in [``low``, 1] (on a fine grid)."""
    values = iterate_polynomial(np.geomspace(low, 1.0, 20001), coefficients, steps)
    return float(values.min()), float(values.max())


# --------------------------------------------------------------------------------------------------
# The shared experiment: six optimizers on a small network
# --------------------------------------------------------------------------------------------------

LAYERS = (2, 32, 32, 1)
"""The network of the comparison: 2 inputs, two hidden layers of 32 ReLUs, a sigmoid output."""

LR_GRIDS = {
    "SGD, momentum": (0.03, 0.1, 0.3, 1.0),
    "AdamW": (0.003, 0.01, 0.03, 0.1),
    "Adafactor": (0.03, 0.1, 0.3, 1.0),
    "Lion": (0.0003, 0.001, 0.003, 0.01),
    "Muon + AdamW": (0.003, 0.01, 0.03, 0.1),
    "schedule-free AdamW": (0.003, 0.01, 0.03, 0.1),
}
"""Each optimizer's lr grid: four values about 3 times apart around its usual range. Adafactor's lr
caps its relative step min(lr, 1/√t) (the paper's cap is 0.01, torch's default lr); at lr = 1 only 1/√t
limits it."""


class _MuonAndAdamW:
    """Muon for the hidden-to-hidden matrix W2, AdamW for the rest, one lr for both (Muon's scaled
    by "match_rms_adamw", so AdamW's lr carries over)."""

    def __init__(self, params, lr):
        self.muon = optim.Muon([params[2]], lr=lr, weight_decay=0.0, adjust_lr_fn="match_rms_adamw",
                               ns_precision="float32")
        self.adamw = optim.AdamW([p for i, p in enumerate(params) if i != 2], lr=lr, weight_decay=0.0)

    def step(self, grads):
        self.muon.step([grads[2]])
        self.adamw.step([g for i, g in enumerate(grads) if i != 2])


def make_optimizer(name: str, params: list, lr: float):
    """One of the six optimizers of the comparison, without weight decay, so that only the update
    rules differ. Params are [W1, b1, W2, b2, W3, b3]."""
    makers = {
        "SGD, momentum": lambda: optim.SGD(params, lr=lr, momentum=0.9),
        "AdamW": lambda: optim.AdamW(params, lr=lr, weight_decay=0.0),
        "Adafactor": lambda: optim.Adafactor(params, lr=lr),
        "Lion": lambda: optim.Lion(params, lr=lr),
        "Muon + AdamW": lambda: _MuonAndAdamW(params, lr),
        "schedule-free AdamW": lambda: optim.AdamWScheduleFree(params, lr=lr),
    }
    if name not in makers:
        raise ValueError(f"optimizer must be one of {', '.join(makers)}; got {name!r}")
    optimizer = makers[name]()
    if hasattr(optimizer, "train"):
        optimizer.train()
    return optimizer


def moons_task(seed: int):
    """Two moons with noise 0.25: a training set (200 points), a validation set (1000 points, to pick
    the lr), a test set (1000 points, to report), and the network's initial weights."""
    sets = [data.two_moons(n, noise=0.25, seed=seed + offset) for n, offset in ((200, 0), (1000, 1000), (1000, 2000))]
    return [(X.T, y[None, :].astype(float)) for X, y in sets], nets.he_init(LAYERS, seed)


def mean_cross_entropy(params, X, Y) -> float:
    """The mean binary cross-entropy of the network on (X, Y); inf for a diverged run."""
    with np.errstate(all="ignore"):
        A = np.clip(nets.forward(params, X)[0], 1e-12, 1 - 1e-12)
        loss = float(nets.cost(A, Y) / Y.shape[-1])
    return loss if np.isfinite(loss) else np.inf


def train_moons(name: str, lr: float, seed: int, steps: int = 150) -> tuple:
    """Full-batch training of the small network; (validation loss, test loss) at the end, at the
    weights one would use (schedule-free AdamW's x, after ``eval()``)."""
    ((X, Y), validation, test), params = moons_task(seed)
    optimizer = make_optimizer(name, params, lr)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            _, cache = nets.forward(params, X)
            optimizer.step(nets.backward(params, Y, cache))
    if hasattr(optimizer, "eval"):
        optimizer.eval()
    return mean_cross_entropy(params, *validation), mean_cross_entropy(params, *test)


@dataclass(frozen=True)
class Comparison:
    """``validation[name]`` and ``test[name]``: (lrs, seeds) arrays of final losses; ``best[name]``
    the lr of the grid with the lowest mean validation loss over the seeds."""

    lrs: dict
    validation: dict
    test: dict
    best: dict

    def at_best(self, name: str) -> np.ndarray:
        """The seeds' test losses at the best lr of ``name``."""
        return self.test[name][list(self.lrs[name]).index(self.best[name])]


def compare_on_moons(names=tuple(LR_GRIDS), seeds=(0, 1, 2), steps: int = 150, lr_grids=None) -> Comparison:
    """Every optimizer at every lr of its grid, on every seed; the lr chosen on the validation set."""
    lr_grids = lr_grids or LR_GRIDS
    validation, test, best = {}, {}, {}
    for name in names:
        results = np.array([[train_moons(name, lr, seed, steps) for seed in seeds] for lr in lr_grids[name]])
        validation[name], test[name] = results[..., 0], results[..., 1]
        best[name] = lr_grids[name][int(np.argmin(validation[name].mean(axis=1)))]
    return Comparison({name: tuple(lr_grids[name]) for name in names}, validation, test, best)


# --------------------------------------------------------------------------------------------------
# Schedule-free: no schedule, no run length
# --------------------------------------------------------------------------------------------------

def _regression_gradient(problem, w, batch):
    X, y = problem.X[batch], problem.y[batch]          # (R, B, d), (R, B)
    residual = np.einsum("rbd,rd->rb", X, w) - y
    return np.einsum("rbd,rb->rd", X, residual) / batch.shape[-1]


def anytime_regression(lr: float = 0.05, lengths=(250, 500, 1000, 2000, 4000), runs: int = 32, seed: int = 0) -> dict:
    """Noisy least squares, d = 10, runs seeds at once: F − F* (mean over the runs) at each length T of

    * "cosine": AdamW with a cosine schedule from lr to 0 that knows T (one run per T);
    * "constant": AdamW at constant lr, one run, read at each T;
    * "schedule-free": one run of schedule-free AdamW at lr, read at each T at x (after ``eval()``).
    """
    problem = noisy_regression()
    d = problem.X.shape[1]
    longest = max(lengths)

    def run(make, total, schedule=None, read_at=()):
        w = np.zeros((runs, d))
        optimizer = make(w)
        if hasattr(optimizer, "train"):
            optimizer.train()
        batches, read = minibatches(problem, runs=runs, seed=seed), {}
        t = 0
        while t < total:
            for batch in next(batches):
                if t == total:
                    break
                if schedule is not None:
                    optimizer.lr = schedule(t)
                optimizer.step([_regression_gradient(problem, w, batch)])
                t += 1
                if t in read_at:
                    if hasattr(optimizer, "eval"):
                        optimizer.eval()
                    read[t] = float(np.mean(problem.excess_loss(w)))
                    if hasattr(optimizer, "train"):
                        optimizer.train()
        return read

    cosine = {T: run(lambda w: optim.AdamW([w], lr=lr, weight_decay=0.0), T,
                     schedule=lambda t, T=T: 0.5 * lr * (1 + np.cos(np.pi * t / T)), read_at=(T,))[T]
              for T in lengths}
    constant = run(lambda w: optim.AdamW([w], lr=lr, weight_decay=0.0), longest, read_at=set(lengths))
    free = run(lambda w: optim.AdamWScheduleFree([w], lr=lr), longest, read_at=set(lengths))
    return {"lengths": tuple(lengths), "cosine": [cosine[T] for T in lengths],
            "constant": [constant[T] for T in lengths], "schedule-free": [free[T] for T in lengths]}


# --------------------------------------------------------------------------------------------------
# Verified: each optimizer beside its reference
# --------------------------------------------------------------------------------------------------

BF16_ROUNDING = 2.0**-8
"""One rounding of bfloat16 (8 significant bits), relative."""


def _references():
    """The reference of each optimizer: (its name, ours, theirs), with the settings compared."""
    import schedulefree
    import torch
    from lion_pytorch import Lion as ReferenceLion

    return {
        "Adagrad": ("torch.optim", lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.1),
                    lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.1)),
        "Adafactor": ("torch.optim", lambda p: optim.Adafactor(p, lr=0.01, weight_decay=0.1),
                      lambda p: torch.optim.Adafactor(p, lr=0.01, weight_decay=0.1)),
        "Lion": ("lion-pytorch", lambda p: optim.Lion(p, lr=1e-3, weight_decay=0.1),
                 lambda p: ReferenceLion(p, lr=1e-3, weight_decay=0.1)),
        "AdamWScheduleFree": ("schedulefree",
                              lambda p: optim.AdamWScheduleFree(p, lr=0.01, warmup_steps=10, weight_decay=0.01),
                              lambda p: schedulefree.AdamWScheduleFree(p, lr=0.01, warmup_steps=10,
                                                                       weight_decay=0.01)),
        "Muon": ("torch.optim", lambda p: optim.Muon(p, lr=0.02), lambda p: torch.optim.Muon(p, lr=0.02)),
    }


def verify_against_references(steps: int = 100, seed: int = 0) -> dict:
    """{name: (reference, largest difference)} after ``steps`` steps on the same random gradients, in
    float64. For all but Muon: the largest relative difference of the final weights (schedule-free
    AdamW's after ``eval()`` on both sides). For Muon, whose reference runs Newton–Schulz in bfloat16:
    each step's update from the same weights and momentum, its largest difference in units of one
    bfloat16 rounding (2⁻⁸) of the update's largest entry, the worst over the steps."""
    import torch

    out = {}
    for name, (reference, ours_of, theirs_of) in _references().items():
        rng = np.random.default_rng(seed)
        shapes = [(5, 4), (3, 6)] if name == "Muon" else [(5, 4), (4,)]
        start = [rng.standard_normal(shape) for shape in shapes]
        ours_params = [p.copy() for p in start]
        tensors = [torch.tensor(p, requires_grad=True) for p in start]
        ours, theirs = ours_of(ours_params), theirs_of(tensors)
        for opt in (ours, theirs):
            if hasattr(opt, "train"):
                opt.train()
        worst = 0.0
        for _ in range(steps):
            grads = [rng.standard_normal(shape) for shape in shapes]
            if name == "Muon":  # start each step from torch's weights and momentum
                for i, tensor in enumerate(tensors):
                    ours_params[i][...] = tensor.detach().numpy()
                    if tensor in theirs.state:
                        ours.state[i]["momentum_buffer"][...] = theirs.state[tensor]["momentum_buffer"].numpy()
                before = [p.copy() for p in ours_params]
            ours.step(grads)
            for tensor, grad in zip(tensors, grads):
                tensor.grad = torch.tensor(grad)
            theirs.step()
            if name == "Muon":
                for i, tensor in enumerate(tensors):
                    their_update = tensor.detach().numpy() - before[i]
                    difference = np.max(np.abs(ours_params[i] - before[i] - their_update))
                    worst = max(worst, difference / (BF16_ROUNDING * np.max(np.abs(their_update))))
        if name != "Muon":
            for opt in (ours, theirs):
                if hasattr(opt, "eval"):
                    opt.eval()
            mine = np.concatenate([p.ravel() for p in ours_params])
            reference_values = np.concatenate([t.detach().numpy().ravel() for t in tensors])
            worst = float(np.max(np.abs(mine - reference_values) / np.abs(reference_values)))
        out[name] = (reference, float(worst))
    return out
