"""Notebook 08's experiments: the teacher data and the scale-invariant model, the five ways to decay
(L2 or decoupled, torch's λ or the paper's), training every cell of an lr × λ grid as one NumPy run,
the paper's Algorithm 2 step by step, and the grid's heatmaps.

The model is logistic regression on the direction of w only, logit = 8·x·w/‖w‖: the loss does not
change when w is scaled, like a network layer followed by batch normalisation. On such a model the
learning rate and the weight norm are one knob, and weight decay sets the norm.
"""

from dataclasses import dataclass

import numpy as np

from course_lib import optim
from course_lib.lab import plots

# --------------------------------------------------------------------------------------------------
# The teacher data, the five ways to decay, the lr × λ grid
# --------------------------------------------------------------------------------------------------

SCALE = 8.0
"""The logit is SCALE·x·w/‖w‖: the model's confidence, the same for the teacher and the student."""


@dataclass(frozen=True)
class TeacherData:
    """Inputs x ~ N(0, I_d) labelled by a noisy teacher: P(y = 1 | x) = σ(SCALE·x·w*), ‖w*‖ = 1."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    teacher: np.ndarray

    @property
    def bayes_error(self) -> float:
        """The test error of the teacher's own direction: no model can do better on average."""
        return float(test_error(self.teacher, self))


def teacher_data(d: int = 20, n_train: int = 4000, n_test: int = 5000, seed: int = 0) -> TeacherData:
    """The seeded data set of the grid: d = 20, 4000 training and 5000 test points."""
    if min(d, n_train, n_test) < 1:
        raise ValueError(f"d, n_train and n_test must be >= 1, got d={d}, n_train={n_train}, n_test={n_test}")
    rng = np.random.default_rng(seed)
    teacher = rng.standard_normal(d)
    teacher /= np.linalg.norm(teacher)
    x = rng.standard_normal((n_train + n_test, d))
    y = (rng.random(n_train + n_test) < _sigmoid(SCALE * x @ teacher)).astype(float)
    return TeacherData(x[:n_train], y[:n_train], x[n_train:], y[n_train:], teacher)


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))  # = 1/(1 + e^−z), without overflow warnings


def loss(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean cross-entropy of logit = SCALE·x·w/‖w‖ on (x, y); w is (d,) or (R, d)."""
    z = SCALE * (w / np.linalg.norm(w, axis=-1, keepdims=True)) @ x.T
    return np.mean(np.logaddexp(0, z) - y * z, axis=-1)


def gradient(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The gradient of ``loss`` in w: with u = w/‖w‖ it is P·∇_u loss / ‖w‖, where P removes the part
    along u. It is orthogonal to w and shrinks like 1/‖w‖: a longer w turns less for the same step.
    """
    norm = np.sqrt(np.einsum("...i,...i->...", w, w))[..., None]
    u = w / norm
    along_u = (SCALE / len(y)) * (_sigmoid(SCALE * u @ x.T) - y) @ x
    along_u -= np.einsum("...i,...i->...", along_u, u)[..., None] * u
    return along_u / norm


def test_error(w: np.ndarray, data: TeacherData) -> np.ndarray:
    """Share of the test points whose label differs from the sign of x·w (per run for w of shape (R, d))."""
    predictions = np.asarray(w) @ data.x_test.T > 0
    return np.mean(predictions != (data.y_test > 0.5), axis=-1)


# --- the five ways to decay, as course_lib optimizers ----------------------------------------------

FORMS: dict[str, tuple[type, callable]] = {
    "SGD + L2": (optim.SGD, lambda lr, decay: decay),
    "SGDW (paper's λ)": (optim.SGD, lambda lr, decay: decay / lr),
    "Adam + L2": (optim.Adam, lambda lr, decay: decay),
    "AdamW (torch's λ)": (optim.AdamW, lambda lr, decay: decay),
    "AdamW (paper's λ)": (optim.AdamW, lambda lr, decay: decay / lr),
}
"""name → (optimizer class, weight_decay argument for a learning rate lr and a decay λ).

SGD's and Adam's ``weight_decay`` add λ·θ to the gradient (L2). For SGD that is θ ← (1 − lr·λ)θ − lr·g,
decoupled decay with the factor lr·λ (torch's form of SGDW). torch's AdamW decays by lr·λ per step; the
paper's decays by η_t·λ (η_t = 1 here: no schedule), which is torch's AdamW with weight_decay = λ/lr.
"""


def paper_weight_decay(torch_weight_decay, lr):
    """The paper's λ for torch's ``weight_decay`` at learning rate lr (α): λ_paper = lr·λ_torch."""
    return lr * torch_weight_decay


def torch_weight_decay(paper_weight_decay, lr):
    """torch's ``weight_decay`` for the paper's λ at learning rate lr (α): λ_torch = λ_paper / lr."""
    return paper_weight_decay / lr


@dataclass(frozen=True)
class Training:
    """Runs of several forms on the teacher data, all cells at once.

    errors: form → test error after each recorded step, shape (runs, records);
    norms: form → ‖w‖ at the same steps; weights: form → w itself, shape (runs, records, d);
    steps: the recorded step numbers (0 = the start);
    diverged_at: form → per run, the first recorded step where w was no longer finite (None if never).
    """

    errors: dict
    norms: dict
    weights: dict
    steps: np.ndarray
    diverged_at: dict


def training_plan(data: TeacherData, steps: int = 2000, batch: int = 8, seed: int = 1):
    """The seeded start (a direction, ‖w‖ = 1) and the minibatches (indices, shape (steps, batch)):
    a new shuffle of the training set each epoch. Every run of ``train`` with this seed uses them."""
    if steps < 1 or batch < 1:
        raise ValueError(f"steps and batch must be >= 1, got steps={steps}, batch={batch}")
    rng = np.random.default_rng(seed)
    start = rng.standard_normal(data.x_train.shape[1])
    start /= np.linalg.norm(start)
    n = len(data.y_train)
    epochs = -(-steps * batch // n)
    order = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    return start, order[:steps * batch].reshape(steps, batch)


def train(data: TeacherData, forms: dict, steps: int = 2000, batch: int = 8, record_every: int | None = None,
          seed: int = 1) -> Training:
    """Train every form of ``forms`` (name → (factory ``params -> optimizer``, number of runs R); the
    factory's lr and weight_decay may be arrays of shape (R, 1)) with one parameter of shape (R, d)
    each, on the same minibatches.

    All runs start from the same seeded direction with ‖w‖ = 1 and see the same shuffled minibatches
    (``training_plan``); the gradient of every run is computed in one
    NumPy call. ``record_every`` steps (default: only the end) the test error and ‖w‖ are recorded.
    """
    record_every = record_every or steps
    start, batches = training_plan(data, steps, batch, seed)
    sizes = {name: runs for name, (_, runs) in forms.items()}
    w = np.tile(start, (sum(sizes.values()), 1))
    views, first = {}, 0
    for name, size in sizes.items():
        views[name] = w[first:first + size]
        first += size
    recorded, snapshots = [0], [w.copy()]
    with np.errstate(all="ignore"):  # a diverging cell turns to inf/nan quietly; it is reported below
        optimizers = {name: make([views[name]]) for name, (make, _) in forms.items()}
        for step in range(1, steps + 1):
            g = gradient(w, data.x_train[batches[step - 1]], data.y_train[batches[step - 1]])
            first = 0
            for name, optimizer in optimizers.items():
                optimizer.step([g[first:first + sizes[name]]])
                first += sizes[name]
            if step % record_every == 0 or step == steps:
                recorded.append(step)
                snapshots.append(w.copy())
        snapshots = np.stack(snapshots, axis=1)  # (runs, records, d)
        norms = np.linalg.norm(snapshots, axis=-1)
        good = np.isfinite(norms) & (norms > 0)
        errors = np.where(good, test_error(snapshots.reshape(-1, snapshots.shape[-1]), data).reshape(norms.shape),
                          np.nan)
    recorded = np.array(recorded)
    result = {"errors": {}, "norms": {}, "weights": {}, "diverged_at": {}}
    first = 0
    for name, size in sizes.items():
        rows = slice(first, first + size)
        first += size
        result["errors"][name] = errors[rows]
        result["norms"][name] = np.where(good[rows], norms[rows], np.nan)
        result["weights"][name] = snapshots[rows]
        bad = ~good[rows]
        result["diverged_at"][name] = tuple(int(recorded[row.argmax()]) if row.any() else None for row in bad)
    return Training(steps=recorded, **result)


def grid_forms(lrs, decays, names=tuple(FORMS)) -> dict:
    """(factory, R) for the lr × λ grid of the named forms, as ``train`` takes them, one optimizer per
    optimizer class: forms of the same class share one optimizer with R = len(names of that class)·
    len(decays)·len(lrs) runs, form after form; within a form, cell (i, j) is run i·len(lrs) + j, with
    λ = decays[i] and lr = lrs[j]. Keyed by the names of a group joined with " | "."""
    unknown = [name for name in names if name not in FORMS]
    if unknown:
        raise ValueError(f"Unknown form: {unknown[0]!r} (known: {', '.join(FORMS)})")
    lr, decay = (grid.reshape(-1, 1) for grid in np.meshgrid(np.asarray(lrs, float), np.asarray(decays, float)))
    groups = {}
    for name in names:
        groups.setdefault(FORMS[name][0], []).append(name)
    factories = {}
    for optimizer_class, members in groups.items():
        lrs_stacked = np.vstack([lr] * len(members))
        decays_stacked = np.vstack([FORMS[name][1](lr, decay) for name in members])
        factories[" | ".join(members)] = (_factory(optimizer_class, lrs_stacked, decays_stacked), len(lrs_stacked))
    return factories


def _factory(optimizer_class, lr, weight_decay):
    return lambda params: optimizer_class(params, lr=lr, weight_decay=weight_decay)


def decay_grid(data: TeacherData, lrs, decays, names=tuple(FORMS), steps: int = 2000, batch: int = 8,
               seed: int = 1) -> dict:
    """Final test error of every (λ, lr) cell for each named form, in ONE vectorised run: form → array
    of shape (len(decays), len(lrs)), NaN where the run diverged."""
    training = train(data, grid_forms(lrs, decays, names), steps=steps, batch=batch, seed=seed)
    grids = {}
    for group, errors in training.errors.items():
        for name, block in zip(group.split(" | "), np.split(errors[:, -1], len(group.split(" | ")))):
            grids[name] = block.reshape(len(decays), len(lrs))
    return {name: grids[name] for name in names}


def decay_grids(data: TeacherData, lrs, decays, seeds, names=tuple(FORMS), steps: int = 2000,
                batch: int = 8) -> dict:
    """``decay_grid`` once per training seed (each seed: its own start and minibatches, same data):
    form → array of shape (len(seeds), len(decays), len(lrs))."""
    per_seed = [decay_grid(data, lrs, decays, names, steps, batch, seed) for seed in seeds]
    return {name: np.stack([grid[name] for grid in per_seed]) for name in names}


FLAT = 0.015
"""A line of cells is flat when its range of test errors, averaged over seeds, is under 1.5 points:
in the notebook's grid the flat lines measure under 1 point and the others over 2."""


def mean_spread_along(errors_by_seed: np.ndarray, invariant: np.ndarray) -> float:
    """``spread_along`` of the grid of each seed (shape (seeds, λ, lr)), averaged over the seeds."""
    return float(np.mean([spread_along(errors, invariant) for errors in errors_by_seed]))


def spread_along(errors: np.ndarray, invariant: np.ndarray) -> float:
    """Mean over the groups of cells with equal ``invariant`` (e.g. lr·λ) of each group's range of test
    errors, over groups of at least two finite cells: near 0 when the error depends on ``invariant`` only."""
    keys = np.round(np.log2(invariant), 6)
    spreads = []
    for key in np.unique(keys):
        values = errors[(keys == key) & np.isfinite(errors)]
        if values.size >= 2:
            spreads.append(values.max() - values.min())
    return float(np.mean(spreads))


# --- the paper's algorithm, step by step -----------------------------------------------------------

def paper_adamw_step_(param, grad, exp_avg, exp_avg_sq, step, alpha, weight_decay, multiplier=1.0,
                      betas=(0.9, 0.999), eps=1e-8):
    """One step of Loshchilov & Hutter's AdamW (Algorithm 2), in place:

    m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  m̂ = m/(1 − β₁ᵗ),  v̂ = v/(1 − β₂ᵗ),
    θ ← θ − η_t·(α·m̂/(√v̂ + ε) + λ·θ),   η_t = ``multiplier`` (the schedule), α = ``alpha``.
    """
    beta1, beta2 = betas
    optim.ewa_(exp_avg, grad, beta1)
    optim.ewa_of_squares_(exp_avg_sq, grad, beta2)
    m_hat = exp_avg / optim.bias_correction(beta1, step)
    v_hat = exp_avg_sq / optim.bias_correction(beta2, step)
    param -= multiplier * (alpha * m_hat / (np.sqrt(v_hat) + eps) + weight_decay * param)
    return param


# --- figures --------------------------------------------------------------------------------------

INVARIANTS = {
    "SGD + L2": ("lr·λ", lambda lr, decay: lr * decay),
    "SGDW (paper's λ)": ("λ", lambda lr, decay: decay),
    "Adam + L2": ("lr²·λ", lambda lr, decay: lr**2 * decay),
    "AdamW (torch's λ)": ("lr·λ", lambda lr, decay: lr * decay),
    "AdamW (paper's λ)": ("λ", lambda lr, decay: decay),
}
"""form → (the combination its test error depends on, on the scale-invariant model; as a function)."""


def plot_decay_grids(grids: dict, lrs, decays, vmin: float | None = None, vmax: float = 0.3,
                     good: float | None = None):
    """Heatmaps of test error over log₂ lr (x) × log₂ λ (y), one panel per form of ``grids``, with
    dotted lines along which the form's invariant (``INVARIANTS``) is constant, and a white outline
    around the cells with test error ≤ ``good``; diverged cells grey."""
    from matplotlib import colormaps


    figure, axes = plots.new_figure(len(grids), figsize=plots.figure_size(len(grids)))
    x, y = np.log2(lrs), np.log2(decays)
    colours = colormaps["viridis"].with_extremes(bad="0.75")
    for ax, (name, errors) in zip(axes, grids.items()):
        image = ax.imshow(100 * errors, origin="lower", cmap=colours, aspect="auto",
                          vmin=None if vmin is None else 100 * vmin, vmax=100 * vmax,
                          extent=(x[0] - 0.5, x[-1] + 0.5, y[0] - 0.5, y[-1] + 0.5))
        label, _ = INVARIANTS.get(name, ("", None))
        slope = {"lr·λ": -1, "lr²·λ": -2, "λ": 0}.get(label)
        if slope is not None:
            for offset in np.arange(y[0] - 2 * (x[-1] - x[0]), y[-1] + 2 * (x[-1] - x[0]) + 1, 4):
                ax.plot(x, offset + slope * (x - x[0]), ":", color="0.85", linewidth=0.8)
        if good is not None:
            ax.contour(x, y, np.nan_to_num(errors, nan=1.0), levels=[good], colors="white", linewidths=2)
        ax.set(xlim=(x[0] - 0.5, x[-1] + 0.5), ylim=(y[0] - 0.5, y[-1] + 0.5), xlabel="log₂ lr",
               title=f"{name}\nconstant along {label}" if label else name)
    axes[0].set_ylabel("log₂ λ")  # every panel has the same λ axis: one label, clear of the next panel
    figure.colorbar(image, ax=axes, label="test error (%)", shrink=0.9)
    return figure
