"""Notebook 08, AdamW: L2 regularisation against decoupled decay, torch's λ against the paper's,
and the lr × λ grid of Loshchilov & Hutter (2019) on a small scale-invariant model; the explorer
and the exercises follow.

The experiments are NumPy and run every cell of a grid at once, along a leading "run" axis::

    from course_lib.lessons import adamw as lesson
    data = lesson.teacher_data()                        # 4000 train / 5000 test points, d = 20
    grids = lesson.decay_grid(data, LRS, DECAYS)        # {form: test error, shape (λ, lr)}

The model is logistic regression on the direction of w only, logit = 8·x·w/‖w‖: the loss does not
change when w is scaled, like a network layer followed by batch normalisation. On such a model the
learning rate and the weight norm are one knob, and weight decay sets the norm.

The exercises: torch's AdamW step, torch's λ from the paper's, and a choice of lr and λ that lands in
AdamW's good region of the grid (``check_adamw_pair``, which trains the chosen cell over the grid's seeds).
"""

import functools
from dataclasses import dataclass
from typing import Any, Callable

import ipywidgets
import numpy as np

from course_lib import optim
from course_lib.interactive.checking import check_answer, check_function, CheckResult, Exercise, Mistake, Question
from course_lib.interactive.explorer import check_steps, DragCache, Explorer, status_text
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


# --------------------------------------------------------------------------------------------------
# The explorer
# --------------------------------------------------------------------------------------------------

class WeightDecayExplorer(Explorer):
    """Adam + L2 beside AdamW on the scale-invariant model of this module: the weight norm ‖w‖ and
    the test error over training, for a learning rate and a decay λ.

    The curves are sampled every 10 steps; a diverged run is reported by the first sample that is
    no longer finite. Controls: lr, λ, and whether AdamW's λ is the paper's. The paper's decay per
    step is λ, not lr·λ, so AdamW then runs with ``weight_decay = λ/lr``. Adam + L2 is
    ``Adam(lr, weight_decay=λ)`` throughout.
    """

    def __init__(self, lr: float = 2.0**-6, weight_decay: float = 2.0**-4, paper_form: bool = False,
                 steps: int = 2000):
        self.steps = check_steps(steps)
        self.data = teacher_data()
        super().__init__({
            "lr": ipywidgets.FloatLogSlider(base=2, min=-10, max=1, step=0.5, description="lr", readout_format=".3g"),
            "weight_decay": ipywidgets.FloatLogSlider(base=2, min=-12, max=2, step=0.5, description="λ",
                                                      readout_format=".3g"),
            "paper_form": ipywidgets.Checkbox(description="AdamW with the paper's λ"),
        })
        self._assign({"lr": lr, "weight_decay": weight_decay, "paper_form": paper_form})
        norms, errors = self.axes
        self._lines = {}
        for row, name in enumerate(("Adam + L2", "AdamW")):
            color = plots.optimizer_color(name)
            self._lines[name] = (norms.plot([], [], color=color, label=name)[0],
                                 errors.plot([], [], color=color, label=name)[0],
                                 status_text(errors, row))
            self._lines[name][2].set_color(color)
        errors.axhline(100 * self.data.bayes_error, color="0.5", linestyle=":", linewidth=1)
        norms.set(xlabel="step", yscale="log", title="weight norm ‖w‖")
        errors.set(xlabel="step", ylabel="%", title="test error (dotted: teacher's)", ylim=(0, 60))
        for ax in self.axes:
            ax.set_xlim(0, self.steps)
        norms.legend(loc="lower left")
        self._foreground(norms.title, *(artist for run in self._lines.values() for artist in run))
        self._trainings = DragCache(self.controls, ("lr", "weight_decay"), self._train_batch)
        self.update()
        self._freeze_layout()

    def _train_batch(self, settings: list[dict]) -> list[dict]:
        """Adam + L2 and AdamW for each of ``settings`` (one paper_form; lr and λ vary), trained at
        once: per setting, optimizer name → (steps, ‖w‖, test error, diverged_at)."""

        lr = np.array([[setting["lr"]] for setting in settings])
        decay = np.array([[setting["weight_decay"]] for setting in settings])
        adamw_decay = decay / lr if settings[0]["paper_form"] else decay
        training = train(self.data, {
            "Adam + L2": (lambda params: optim.Adam(params, lr=lr, weight_decay=decay), len(settings)),
            "AdamW": (lambda params: optim.AdamW(params, lr=lr, weight_decay=adamw_decay), len(settings)),
        }, steps=self.steps, record_every=10)
        return [{name: (training.steps, training.norms[name][i], training.errors[name][i],
                        training.diverged_at[name][i]) for name in self._lines} for i in range(len(settings))]

    def update(self) -> None:
        lr, decay, paper = (self.controls[key].value for key in ("lr", "weight_decay", "paper_form"))
        adamw_decay = decay / lr if paper else decay
        self.result = self._trainings.get({"lr": lr, "weight_decay": decay, "paper_form": paper})
        shown_norms = []
        for name, (norm_line, error_line, status) in self._lines.items():
            steps, norm, error, diverged_at = self.result[name]
            norm_line.set_data(steps, norm)
            error_line.set_data(steps, 100 * error)
            shown_norms.append(norm)
            if diverged_at is None:
                status.set_text(f"{name}: final test error {100 * error[-1]:.1f} %")
            else:
                status.set_text(f"{name}: diverged by step {diverged_at}")
        per_step = lr * adamw_decay
        self.axes[0].title.set_text(f"‖w‖; AdamW: decay {per_step:.2g} a step")
        plots.fit_loss_limits(self.axes[0], shown_norms)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}


# --------------------------------------------------------------------------------------------------
# The exercises
# --------------------------------------------------------------------------------------------------

def _adam_moments(m, v, grad, beta1, beta2):
    return beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad * grad


def _adam_direction(m_new, v_new, t, beta1, beta2, eps, bias_correction=True):
    """m̂ / (√v̂ + ε), or m / (√v + ε) without bias correction."""
    if not bias_correction:
        return m_new / (np.sqrt(v_new) + eps)
    return (m_new / (1 - beta1**t)) / (np.sqrt(v_new / (1 - beta2**t)) + eps)


def torch_adamw_step(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    """Step t of torch's AdamW: θ ← θ·(1 − lr·λ), then the Adam step from m, v of the gradient alone.

    Returns (w_new, m_new, v_new). The Adam step does not depend on θ, so decaying first or
    subtracting lr·λ·θ_old in the same line is the same step.
    """
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    w_new = w * (1 - lr * weight_decay) - lr * _adam_direction(m_new, v_new, t, beta1, beta2, eps)
    return w_new, m_new, v_new


def _adam_l2_step(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    grad = grad + weight_decay * w
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    return w - lr * _adam_direction(m_new, v_new, t, beta1, beta2, eps), m_new, v_new


def _decay_not_times_lr(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    return w - weight_decay * w - lr * _adam_direction(m_new, v_new, t, beta1, beta2, eps), m_new, v_new


def _decay_after_the_step(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    stepped = w - lr * _adam_direction(m_new, v_new, t, beta1, beta2, eps)
    return stepped * (1 - lr * weight_decay), m_new, v_new


def _adamw_without_bias_correction(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    direction = _adam_direction(m_new, v_new, t, beta1, beta2, eps, bias_correction=False)
    return w * (1 - lr * weight_decay) - lr * direction, m_new, v_new


def _adamw_decay_added(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    return w * (1 + lr * weight_decay) - lr * _adam_direction(m_new, v_new, t, beta1, beta2, eps), m_new, v_new


def _decay_divided_by_the_denominator(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    """λ·θ inside Adam's fraction: θ − lr·(m̂ + λ·θ)/(√v̂ + ε), m and v of the gradient alone."""
    m_new, v_new = _adam_moments(m, v, grad, beta1, beta2)
    m_hat, v_hat = m_new / (1 - beta1**t), v_new / (1 - beta2**t)
    return w - lr * (m_hat + weight_decay * w) / (np.sqrt(v_hat) + eps), m_new, v_new


def _l2_and_decoupled_decay(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps):
    """Both: λ·θ added to the gradient (L2) and θ·(1 − lr·λ)."""
    return torch_adamw_step(w, m, v, grad + weight_decay * w, t, lr, weight_decay, beta1, beta2, eps)


def _adamw_cases(seed: int = 9) -> list[dict[str, Any]]:
    """Seeded AdamW states: step t > 1 (so bias correction matters), lr·λ large enough that decaying
    before or after the Adam step differs by far more than the tolerance."""
    rng = np.random.default_rng(seed)
    return [
        {"w": rng.normal(size=shape), "m": 0.1 * rng.normal(size=shape), "v": 0.01 * rng.random(size=shape) + 1e-3,
         "grad": rng.normal(size=shape), "t": t, "lr": lr, "weight_decay": decay, "beta1": 0.9, "beta2": 0.999,
         "eps": 1e-8}
        for shape, t, lr, decay in [((3, 2), 3, 0.1, 0.2), ((4,), 10, 0.05, 0.5), ((2, 2), 2, 0.2, 0.1)]
    ]


ADAMW_EXERCISE = Exercise(
    name="adamw_step",
    cases=_adamw_cases(),
    expected=torch_adamw_step,
    outputs=("w_new", "m_new", "v_new"),
    success="θ ← θ·(1 − lr·λ), then θ ← θ − lr·m̂/(√v̂ + ε), m and v from the gradient alone.",
    hint="two separate moves (see \"AdamW, torch's form\"): shrink the weights by the decay, then take "
         "Adam's step from the gradient alone.",
    updates=("w", "m", "v"),
    mistakes=[
        Mistake(_adam_l2_step,
                "you added λ·θ to the gradient: that is Adam with L2, so √v̂ divides the decay too. "
                "AdamW leaves the gradient alone and shrinks the weights: θ ← θ·(1 − lr·λ)."),
        Mistake(_decay_not_times_lr,
                "your decay θ ← θ − λ·θ is not multiplied by the learning rate. torch's AdamW "
                "decays by lr·λ per step: θ ← θ·(1 − lr·λ)."),
        Mistake(_decay_after_the_step,
                "you decayed the weights after the Adam step. torch decays the weights the step "
                "started from: θ_new = θ·(1 − lr·λ) − lr·m̂/(√v̂ + ε)."),
        Mistake(_adamw_without_bias_correction,
                "you left out the bias correction: divide m by 1 − β₁ᵗ and v by 1 − β₂ᵗ (t is the "
                "step number, from 1) before forming m̂/(√v̂ + ε)."),
        Mistake(_adamw_decay_added,
                "your decay has the wrong sign: θ·(1 + lr·λ) grows the weights; decay shrinks them, "
                "θ·(1 − lr·λ)."),
        Mistake(_decay_divided_by_the_denominator,
                "your decay λ·θ sits inside Adam's fraction, so √v̂ + ε divides it, as in Adam + L2. "
                "AdamW keeps it outside: θ·(1 − lr·λ), then the Adam step."),
        Mistake(_l2_and_decoupled_decay,
                "you decayed twice: λ·θ added to the gradient (L2) and θ·(1 − lr·λ). AdamW keeps only "
                "the second and feeds m and v the bare gradient."),
    ],
)


def check_adamw_step(fn: Callable) -> CheckResult:
    """Check ``fn(w, m, v, grad, t, lr, weight_decay, beta1, beta2, eps)`` -> (w_new, m_new, v_new),
    step t of torch's AdamW."""
    return check_function(fn, ADAMW_EXERCISE)


def torch_weight_decay_from_paper(paper_decay, alpha):
    """torch's ``weight_decay`` for the paper's λ at learning rate α: λ_torch = λ_paper / α."""
    return paper_decay / alpha


WEIGHT_DECAY_CONVERSION_EXERCISE = Exercise(
    name="torch_weight_decay",
    cases=[{"paper_decay": decay, "alpha": alpha} for decay, alpha in [(1e-4, 1e-3), (0.025, 0.5), (2e-3, 4e-2)]],
    expected=torch_weight_decay_from_paper,
    outputs=("torch's weight_decay",),
    success="λ_torch = λ_paper / α, so torch's decay per step, lr·λ_torch, is the paper's λ_paper.",
    hint="torch decays by lr·λ_torch per step, the paper by λ_paper (without a schedule): "
         "which λ_torch makes the two equal when lr = α?",
    mistakes=[
        Mistake(lambda paper_decay, alpha: paper_decay * alpha,
                "you multiplied by α, but torch multiplies its weight_decay by lr = α itself. "
                "Divide instead: λ_torch = λ_paper / α."),
        Mistake(lambda paper_decay, alpha: paper_decay,
                "the same number means a different decay: torch decays by lr·λ per step, the "
                "paper by λ. Divide by α: λ_torch = λ_paper / α."),
        Mistake(lambda paper_decay, alpha: alpha / paper_decay,
                "upside down: λ_torch = λ_paper / α, so that lr·λ_torch = λ_paper."),
        Mistake(lambda paper_decay, alpha: paper_decay / alpha**2,
                "you divided by α twice; once is enough: lr·λ_torch = α·(λ_paper/α) = λ_paper."),
    ],
)


def check_weight_decay_conversion(fn: Callable) -> CheckResult:
    """Check ``fn(paper_decay, alpha)`` -> torch's AdamW weight_decay for the paper's λ at lr α."""
    return check_function(fn, WEIGHT_DECAY_CONVERSION_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Choose: an lr × λ pair in torch's AdamW's good region of the grid
# --------------------------------------------------------------------------------------------------

GRID_SEEDS = tuple(range(1, 9))
"""The training seeds of the notebook's grid: each cell's test error is averaged over them."""
GOOD_MARGIN = 0.01
"""A cell is good when its mean test error is within one point of the teacher's (the white outline)."""


@functools.cache
def grid_data() -> TeacherData:
    """The notebook's data set, ``teacher_data()``, made once."""
    return teacher_data()


def seed_errors(data: TeacherData, lr: float, weight_decay: float, seeds=GRID_SEEDS, steps: int = 2000,
                batch: int = 8) -> np.ndarray:
    """Final test error of ``optim.AdamW(lr=lr, weight_decay=weight_decay)`` for each training seed: the
    cell (λ, lr) of ``decay_grids`` for "AdamW (torch's λ)", the same numbers to the last bit, but one
    optimizer steps the runs of every seed at once (8 times fewer steps to take than one seed at a time).
    Each seed's gradient is computed as ``train`` computes it, from its own start and minibatches."""
    plans = [training_plan(data, steps, batch, seed) for seed in seeds]
    w = np.stack([start for start, _ in plans])
    g = np.empty_like(w)
    adamw = optim.AdamW([w], lr=lr, weight_decay=weight_decay)
    with np.errstate(all="ignore"):  # a diverging run turns to inf/nan quietly; it is reported as NaN
        for step in range(steps):
            for k, (_, batches) in enumerate(plans):
                rows = batches[step]
                g[k] = gradient(w[k:k + 1].copy(), data.x_train[rows], data.y_train[rows])[0]
            adamw.step([g])
        norms = np.linalg.norm(w, axis=-1)
        good = np.isfinite(norms) & (norms > 0)
        return np.where(good, test_error(np.where(good[:, None], w, 1.0), data), np.nan)


def _number(value: float) -> str:
    """A negative power of two as 2⁻⁹, anything else in three digits (with a true minus sign)."""
    if 0 < value < 1 and float(np.log2(value)).is_integer():
        return "2⁻" + str(-int(np.log2(value))).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{value:.3g}".replace("-", "−")


def _judge_adamw_pair(lr: float, weight_decay: float) -> CheckResult:
    """Train the chosen cell over the grid's 8 seeds; right when the mean test error is within one point
    of the teacher's, otherwise what went wrong: a blow-up, a decay that flips the weights, too little
    training, or steps that turn w too far. (A no-break space before each % keeps it by its number.)"""
    data = grid_data()
    errors = seed_errors(data, lr, weight_decay)
    per_step = lr * weight_decay
    ran = f"lr = {_number(lr)}, λ = {_number(weight_decay)}, lr·λ = {_number(per_step)}"
    teacher, good = 100 * data.bayes_error, 100 * (data.bayes_error + GOOD_MARGIN)
    blown = int(np.isnan(errors).sum())
    if blown:
        why = (f"1 − lr·λ = {_number(1 - per_step)} is below −1, so the decay flips and grows them every step"
               if per_step > 2 else "lower lr")
        return CheckResult(False, f"{ran}: the weights blew up in {blown} of the {len(errors)} seeds: {why}.")
    mean = 100 * float(errors.mean())
    if mean <= good:
        return CheckResult(True, f"{ran}: the test error averages under {good:.1f}\u00a0% over the {len(errors)} "
                                 f"seeds, within a point of the teacher's {teacher:.1f}\u00a0%. In torch's form "
                                 f"what counts is lr·λ.")
    result = (f"{ran}: the test error averages {mean:.0f}\u00a0% over the {len(errors)} seeds, "
              f"not under {good:.1f}\u00a0%. ")
    if per_step >= 1:
        return CheckResult(False, result + "1 − lr·λ ≤ 0 zeroes or flips the weights every step.")
    if mean > 20:
        return CheckResult(False, result + "In 2000 steps w has hardly turned from its start: raise lr.")
    return CheckResult(False, result + "Each step turns w too far: lower lr·λ (it keeps ‖w‖ small) or lr.")


ADAMW_PAIR_QUESTION = Question(
    name="my_pair",
    fields=("lr", "weight_decay"),
    hint="pick a cell inside the white outline of the AdamW (torch's λ) panel: along which lines is that "
         "panel flat?",
    judge=_judge_adamw_pair,
)


def check_adamw_pair(answer) -> CheckResult:
    """Check ``{"lr": ..., "weight_decay": ...}`` for torch's AdamW on the grid's model: the cell is
    trained for the grid's 8 seeds, and a mean test error within one point of the teacher's is right."""
    return check_answer(answer, ADAMW_PAIR_QUESTION)
