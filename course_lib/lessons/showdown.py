"""Notebook 07, the optimizer showdown: the explorer of a finished sweep on the two moons (the three
optimizers' cost curves at one learning rate, the picked run's decision boundary), and the
exercises (the output layer's backward pass, mini-batches, and which curve is which optimizer).
The network itself, shared equipment, is ``course_lib.lab.nets``.

    from course_lib.lessons import showdown as lesson
    lesson.ShowdownExplorer(training, optimizer="Adam", lr=0.01)   # training: a nets.Training
    lesson.mystery_figure()                                        # three unnamed curves, A, B, C
"""

import functools
from typing import Any, Callable

import ipywidgets
import numpy as np

from course_lib.interactive.checking import (
    call_on_case, check_answer, check_function, CheckResult, describe_value, Exercise, Mistake, Question, UnusableAnswer,
)
from course_lib.interactive.explorer import Explorer, status_text
from course_lib.lab import nets, plots

# --------------------------------------------------------------------------------------------------
# The explorer
# --------------------------------------------------------------------------------------------------

class ShowdownExplorer(Explorer):
    """Pick an optimizer and a learning rate among the runs of a finished ``nets.train`` sweep and
    see the three optimizers' cost curves at that rate (the picked one bold) beside the picked
    run's decision boundary. Everything is precomputed, so a change only moves artists.

    ``training``: a ``nets.Training`` of one draw whose settings cover every optimizer × rate.
    """

    def __init__(self, training, optimizer: str = "Adam", lr: float | None = None, resolution: int = 120):

        self.training = training
        self.rates = sorted({s.lr for s in training.settings})
        draws = {s.draw for s in training.settings}
        if len(draws) != 1:
            raise ValueError(f"the sweep must hold runs of one draw, got {len(draws)}")
        self._index = {(s.optimizer, s.lr): i for i, s in enumerate(training.settings) if not s.decay}
        missing = [(name, rate) for name in nets.OPTIMIZERS for rate in self.rates if (name, rate) not in self._index]
        if missing:
            raise ValueError(f"the sweep lacks the runs {missing[:3]}{'…' if len(missing) > 3 else ''}")
        super().__init__({
            "optimizer": ipywidgets.Dropdown(options=list(nets.OPTIMIZERS), description="optimizer"),
            "lr": ipywidgets.Dropdown(options=[(f"{rate:g}", rate) for rate in self.rates], description="lr"),
        })
        self._assign({"optimizer": optimizer, "lr": self.rates[len(self.rates) // 2] if lr is None else lr})
        X, Y = next(iter(draws)).data()
        self._extent = (X[0].min() - 0.5, X[0].max() + 0.5, X[1].min() - 0.5, X[1].max() + 0.5)
        gx = np.linspace(self._extent[0], self._extent[1], resolution)
        gy = np.linspace(self._extent[2], self._extent[3], resolution)
        points = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
        self.boundaries = nets.probabilities(training.params, points).reshape(-1, resolution, resolution)
        curves, boundary = self.axes
        # momentum dashed: at small rates its curve lies on GD's, which shows through the gaps
        self._lines = {name: curves.plot([], [], color=plots.optimizer_color(name), label=name,
                                         linestyle="--" if name == "momentum" else "-")[0]
                       for name in nets.OPTIMIZERS}
        curves.set(xlabel="epoch", ylabel="cost (mean cross-entropy)", yscale="log",
                   xlim=(0, training.epochs[-1]), title="cost per epoch at the chosen lr")
        curves.legend(loc="lower left")
        self._status = status_text(curves, 0)
        self._image = boundary.imshow(np.zeros((resolution, resolution)), origin="lower", extent=self._extent,
                                      vmin=0, vmax=1, cmap=_faded("RdBu", 0.55), aspect="auto")
        points = boundary.scatter(X[0], X[1], c=Y[0], cmap="RdBu", vmin=0, vmax=1, s=8, edgecolors="black",
                                  linewidths=0.3)
        boundary.set(xlabel="x₁", ylabel="x₂", title="decision boundary of the chosen run")
        self._foreground(*self._lines.values(), self._status, self._image, points, *boundary.spines.values())
        self.update()
        self._freeze_layout()

    def update(self) -> None:
        setting = self.setting
        chosen, rate = setting["optimizer"], setting["lr"]
        shown = []
        for name, line in self._lines.items():
            run = self._index[(name, rate)]
            curve = np.where(np.isfinite(self.training.costs[run]), self.training.costs[run], np.nan)
            line.set_data(self.training.epochs, curve)
            line.set_linewidth(2.5 if name == chosen else 1.0)
            line.set_alpha(1.0 if name == chosen else 0.5)
            shown.append(curve)
        run = self._index[(chosen, rate)]
        self.run = run
        diverged = self.training.diverged_at[run]
        if diverged is None:
            status = (f"{chosen}, lr = {rate:g}: final cost {self.training.costs[run, -1]:.3g}, "
                      f"accuracy {100 * self.training.accuracy[run]:.1f} %")
        else:
            status = f"{chosen}, lr = {rate:g}: diverged at epoch {diverged}"
        self._status.set_text(status)
        self._status.set_color(plots.optimizer_color(chosen))
        self._image.set_data(np.nan_to_num(self.boundaries[run], nan=0.5))
        plots.fit_loss_limits(self.axes[0], shown)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"epochs": int(self.training.epochs[-1]) + 1}


def _faded(colormap: str, alpha: float):
    """``colormap`` as it looks at opacity ``alpha`` over white, but opaque: an image drawn with it
    covers the one drawn before it (an explorer redraws its image on the last picture)."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    colors = colormaps[colormap](np.linspace(0, 1, 256))
    colors[:, :3] = alpha * colors[:, :3] + (1 - alpha)
    return ListedColormap(colors, name=f"{colormap}, faded")


# --------------------------------------------------------------------------------------------------
# The exercises
# --------------------------------------------------------------------------------------------------

def _output_layer_cases(seed: int = 17) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    cases = []
    for m in (5, 8, 3):
        A2 = np.maximum(rng.normal(size=(2, m)), 0)
        cases.append({"A3": 1 / (1 + np.exp(-rng.normal(size=(1, m)))),
                      "Y": (rng.random((1, m)) > 0.5).astype(float), "A2": A2})
    return cases


def output_layer_backward(A3, Y, A2):
    """The sigmoid + cross-entropy output layer's gradients: dZ3 = (A3 − Y)/m, dW3 = dZ3·A2ᵀ,
    db3 = Σ dZ3 over the examples."""
    dZ3 = (A3 - Y) / Y.shape[1]
    return dZ3 @ A2.T, dZ3.sum(axis=1, keepdims=True)


def _output_layer_with(dZ: Callable) -> Callable:
    def wrong(A3, Y, A2):
        dZ3 = dZ(A3, Y, Y.shape[1])
        return dZ3 @ A2.T, dZ3.sum(axis=1, keepdims=True)
    return wrong


def _sigmoid_output_gradient(A3, Y, m):
    """dA3, the gradient of the mean cost at the sigmoid's output, taken for dZ3 (its input)."""
    return -(Y / A3 - (1 - Y) / (1 - A3)) / m


def _db3_without_one_over_m(A3, Y, A2):
    m = Y.shape[1]
    return (A3 - Y) @ A2.T / m, (A3 - Y).sum(axis=1, keepdims=True)


def _db3_averaged(A3, Y, A2):
    dW3, db3 = output_layer_backward(A3, Y, A2)
    return dW3, db3 / Y.shape[1]


def _dW3_transposed(A3, Y, A2):
    dW3, db3 = output_layer_backward(A3, Y, A2)
    return dW3.T, db3


OUTPUT_LAYER_EXERCISE = Exercise(
    name="output_layer_backward",
    cases=_output_layer_cases(),
    expected=output_layer_backward,
    outputs=("dW3", "db3"),
    success="dZ3 = (A3 − Y)/m, then dW3 = dZ3·A2ᵀ and db3 = dZ3 summed over the examples.",
    hint="start from dZ3, the gradient of the mean cost at the sigmoid's input (see \"The equations\"); "
         "m is the number of columns of Y.",
    mistakes=[
        Mistake(_output_layer_with(lambda A3, Y, m: A3 - Y),
                "dZ3 lacks its 1/m (m = Y.shape[1], the number of examples): without it the step grows "
                "with the batch size, and the last batch of 44 gets another rate."),
        Mistake(_output_layer_with(lambda A3, Y, m: (Y - A3) / m),
                "the sign is flipped: through the sigmoid the cross-entropy gives dZ3 = (A3 − Y)/m, "
                "prediction minus label; with Y − A3 gradient descent climbs."),
        Mistake(_output_layer_with(lambda A3, Y, m: (A3 - Y) / m**2),
                "you divided by m twice: once in dZ3 = (A3 − Y)/m is enough; dW3 = dZ3·A2ᵀ "
                "already sums over the examples."),
        Mistake(_output_layer_with(lambda A3, Y, m: (A3 - Y) * A3 * (1 - A3) / m),
                "you multiplied by the sigmoid's derivative A3(1 − A3) again: with the cross-entropy it "
                "cancels, so dZ3 = (A3 − Y)/m. The extra factor belongs to the squared error."),
        Mistake(_output_layer_with(_sigmoid_output_gradient),
                "you used dA3, the gradient at the sigmoid's output. dZ3 is at its input: "
                "dZ3 = dA3·A3(1 − A3) = (A3 − Y)/m."),
        Mistake(lambda A3, Y, A2: output_layer_backward(A3, Y, A2)[::-1],
                "the values are right but in the wrong order: return (dW3, db3)."),
        Mistake(_dW3_transposed,
                "your dW3 is transposed: it has W3's shape, 1 × 2, so dW3 = dZ3·A2ᵀ, not A2·dZ3ᵀ."),
        Mistake(_db3_without_one_over_m,
                "dW3 is right, but db3 lacks the 1/m: compute dZ3 = (A3 − Y)/m once and use it for both."),
        Mistake(_db3_averaged,
                "db3 is the sum of dZ3 over the examples, not its mean: dZ3 = (A3 − Y)/m already holds the 1/m."),
    ],
)


def check_output_layer_backward(fn: Callable) -> CheckResult:
    """Check ``fn(A3, Y, A2)`` -> (dW3, db3) of the sigmoid + cross-entropy output layer."""
    return check_function(fn, OUTPUT_LAYER_EXERCISE)


def mini_batches(X, Y, batch_size, permutation):
    """The assignment's split: reorder the columns by ``permutation``, cut batches of
    ``batch_size`` and keep the last, smaller one: a list of (X_batch, Y_batch)."""
    Xs, Ys = X[:, permutation], Y[:, permutation]
    return [(Xs[:, start:start + batch_size], Ys[:, start:start + batch_size])
            for start in range(0, X.shape[1], batch_size)]


def _batch_arrays(returned: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """A learner's list of (X_batch, Y_batch) as float arrays, each X_batch 2 × k and Y_batch 1 × k;
    raises UnusableAnswer, saying why, when it is not that."""
    if not isinstance(returned, (list, tuple)):
        raise UnusableAnswer(f"your function returned {describe_value(returned)}; return a list of "
                             f"(X_batch, Y_batch) pairs, one per batch")
    if not all(isinstance(b, (list, tuple)) and len(b) == 2 for b in returned):
        raise UnusableAnswer(f"your function returned a {type(returned).__name__} of {len(returned)} items, "
                             f"not all of them (X_batch, Y_batch) pairs; return one pair per batch")
    batches = []
    for number, (xb, yb) in enumerate(returned, start=1):
        try:
            xb, yb = np.asarray(xb, dtype=float), np.asarray(yb, dtype=float)
        except (TypeError, ValueError):
            raise UnusableAnswer(f"batch {number} is not two arrays of numbers") from None
        if xb.ndim != 2 or yb.ndim != 2 or xb.shape[0] != 2 or yb.shape[0] != 1 or xb.shape[1] != yb.shape[1]:
            raise UnusableAnswer(f"batch {number} holds arrays of shapes {xb.shape} and {yb.shape}; keep the "
                                 f"examples as columns: X_batch is 2 × k and Y_batch 1 × k")
        batches.append((xb, yb))
    return batches


def _batches_as_numbers(returned: Any) -> np.ndarray:
    """A list of (X_batch, Y_batch) as one array: the batch sizes, then every batch's columns."""
    parts = [np.vstack([xb, yb]) for xb, yb in _batch_arrays(returned)]
    sizes = [part.shape[1] for part in parts]
    return np.concatenate([[len(parts)], sizes, np.concatenate(parts, axis=1).ravel() if parts else []])


def _batch_cases(seed: int = 23) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [{"X": rng.normal(size=(2, m)), "Y": (rng.random((1, m)) > 0.5).astype(float),
             "batch_size": size, "permutation": rng.permutation(m)}
            for m, size in ((10, 4), (300, 64), (12, 5), (12, 4))]


def _labels_not_shuffled(X, Y, batch_size, permutation):
    """X's columns reordered, Y's left in their stored order."""
    in_order = mini_batches(X, Y, batch_size, np.arange(X.shape[1]))
    return [(xb, yb) for (xb, _), (_, yb) in zip(mini_batches(X, Y, batch_size, permutation), in_order)]


def _empty_last_batch(X, Y, batch_size, permutation):
    """One batch too many when batch_size divides m: ``range(m // batch_size + 1)``."""
    empty = [(X[:, :0], Y[:, :0])] if X.shape[1] % batch_size == 0 else []
    return mini_batches(X, Y, batch_size, permutation) + empty


MINI_BATCH_EXERCISE = Exercise(
    name="mini_batches",
    cases=_batch_cases(),
    expected=lambda X, Y, batch_size, permutation: _batches_as_numbers(mini_batches(X, Y, batch_size, permutation)),
    run=_batches_as_numbers,
    outputs=("the batches",),
    success="shuffled, cut into full batches, the remainder kept as a smaller last batch.",
    hint="reorder the columns of X and of Y by the permutation, then slice off batch_size columns at a "
         "time, up to the end.",
    hints={IndexError: "The examples are the columns: X[:, permutation], not X[permutation]."},
    mistakes=[
        Mistake(lambda X, Y, b, p: mini_batches(X, Y, b, p)[:X.shape[1] // b],
                "you dropped the last, partial batch: with 300 examples and batches of 64, 44 examples "
                "(15 %) are never trained on. Keep the remainder as a smaller last batch."),
        Mistake(lambda X, Y, b, p: mini_batches(X, Y, b, np.arange(X.shape[1])),
                "the batches are not shuffled: you cut X in its stored order. Reorder the columns by "
                "the permutation first (X[:, permutation], and Y the same way)."),
        Mistake(_labels_not_shuffled,
                "X is shuffled but Y is not: the labels no longer belong to their examples. Apply "
                "the same permutation to both."),
        Mistake(_empty_last_batch,
                "with 12 examples in batches of 4 your last batch is empty: its mean cost would be 0/0. "
                "Add a smaller batch only when something is left."),
    ],
)


def _batches_difference(fn: Callable) -> str | None:
    """What is wrong with ``fn``'s batches, batch by batch (a count, a size, the examples, the labels),
    for the first case where they differ; None when that cannot be said (the function raises, returns
    something unusable, or agrees)."""
    for number, case in enumerate(MINI_BATCH_EXERCISE.cases):
        m, size = case["X"].shape[1], case["batch_size"]
        where = f"test case {number + 1} of {len(MINI_BATCH_EXERCISE.cases)}: {m} examples, batches of {size}"
        try:
            got = _batch_arrays(call_on_case(fn, case))
        except Exception:  # the learner's code may raise anything; check_function has reported it
            return None
        want = mini_batches(**case)
        if len(got) != len(want):
            left = f"one of {m % size}" if m % size else "nothing left over"
            return (f"you returned {len(got)} batches, not {len(want)}: {m} examples in batches of {size} make "
                    f"{m // size} full batches and {left} ({where}).")
        for k, ((xb, yb), (xw, yw)) in enumerate(zip(got, want), start=1):
            if xb.shape != xw.shape:
                return (f"batch {k} holds {xb.shape[1]} examples, not {xw.shape[1]}: every batch but the last "
                        f"has batch_size columns ({where}).")
            if not np.allclose(xb, xw):
                return (f"batch {k} holds other examples: reorder the columns with X[:, permutation] "
                        f"before cutting ({where}).")
            if not np.allclose(yb, yw):
                return (f"batch {k}'s labels do not belong to its examples: reorder Y by the same "
                        f"permutation as X ({where}).")
    return None


def check_mini_batches(fn: Callable) -> CheckResult:
    """Check ``fn(X, Y, batch_size, permutation)`` -> list of (X_batch, Y_batch), the last one
    possibly smaller. A difference no known mistake explains is described batch by batch."""
    result = check_function(fn, MINI_BATCH_EXERCISE)
    explained = {mistake.explanation for mistake in MINI_BATCH_EXERCISE.mistakes}
    if (result.passed or not result.attempted or result.message in explained
            or result.message.startswith("your function changed its argument")):
        return result
    difference = _batches_difference(fn)
    return CheckResult(False, difference) if difference else result


# --------------------------------------------------------------------------------------------------
# Interpret: which curve is which optimizer?
# --------------------------------------------------------------------------------------------------

MYSTERY_LR, MYSTERY_EPOCHS = 0.2, 1000
"""The runs behind the three unnamed curves: the assignment's draw, one shared rate, no decay. The
rate is not one of the sweep's, so the explorer shows the optimizers' habits, not these very curves."""
MYSTERY_ORDER = ("momentum", "Adam", "GD")
"""Which optimizer drew curve A, B and C (a fixed shuffle: the figure must not give it away)."""
MYSTERY_LABELS = ("A", "B", "C")
_NEUTRAL_COLORS = ("#882255", "#117733", "#332288")  # none of them an optimizer's colour


@functools.cache
def mystery_runs() -> nets.Training:
    """GD, momentum and Adam at lr = 0.2 for 1000 epochs on the assignment's draw, the cost of every
    epoch recorded, in the order of ``MYSTERY_ORDER`` (curves A, B, C). Computed once, about 0.3 s."""
    return nets.train([nets.Setting(name, MYSTERY_LR) for name in MYSTERY_ORDER], epochs=MYSTERY_EPOCHS,
                      record_every=1)


def mystery_features(training: nets.Training | None = None) -> dict[str, dict[str, float]]:
    """What tells the curves apart, measured on ``mystery_runs``: per label, the cost at epoch 10
    (how fast it falls at first) and the jitter over the last 500 epochs (the mean change of log
    cost from one epoch to the next)."""
    training = mystery_runs() if training is None else training
    late = training.epochs >= MYSTERY_EPOCHS // 2
    features = {}
    for label, costs in zip(MYSTERY_LABELS, training.costs):
        features[label] = {"early": float(costs[np.flatnonzero(training.epochs == 10)[0]]),
                           "jitter": float(np.mean(np.abs(np.diff(np.log(costs[late])))))}
    return features


def mystery_figure():
    """The three runs of ``mystery_runs`` as curves A, B and C in neutral colours: the first 100
    epochs, and all 1000 on a log scale."""
    training = mystery_runs()
    figure, (start, whole) = plots.new_figure(2)
    for label, color, costs in zip(MYSTERY_LABELS, _NEUTRAL_COLORS, training.costs):
        for ax in (start, whole):
            ax.plot(training.epochs, costs, color=color, linewidth=1.0, label=label)
    start.set(xlim=(0, 100), xlabel="epoch", ylabel="cost", title="the first 100 epochs")
    whole.set(xlim=(0, MYSTERY_EPOCHS), yscale="log", xlabel="epoch", title=f"all {MYSTERY_EPOCHS} epochs")
    start.legend(loc="upper right")
    return figure


def _judge_mystery_curves(**named) -> CheckResult:
    """Right when every curve is named after its optimizer; otherwise the feature that tells the
    misnamed curves apart, measured on the real runs."""
    truth = dict(zip(MYSTERY_LABELS, (name.lower() for name in MYSTERY_ORDER)))
    named = {label: named[label] for label in MYSTERY_LABELS}
    repeated = sorted({name for name in named.values() if list(named.values()).count(name) > 1})
    if repeated:
        return CheckResult(False, f'you named two curves "{repeated[0]}": each optimizer drew one curve, so '
                                  f'use "gd", "momentum" and "adam" once each.')
    features = mystery_features()
    adam, momentum, gd = (next(label for label, name in truth.items() if name == wanted)
                          for wanted in ("adam", "momentum", "gd"))
    if named == truth:   # the message names no curve: it shows under the question after "Run All"
        others = sorted({f"{features[label]['early']:.1f}" for label in (momentum, gd)})
        smoother = "less" if features[momentum]["jitter"] < features[gd]["jitter"] else "more"
        return CheckResult(True, f"Your Adam falls fastest (cost {features[adam]['early']:.1f} at epoch 10, the "
                                 f"others at {' and '.join(others)}): its steps are about lr whatever the gradient. "
                                 f"Your momentum jitters {smoother} than your GD late on: it averages the gradients.")
    theirs = {name: label for label, name in named.items()}
    if named[adam] != "adam":
        return CheckResult(False, f"your Adam, {theirs['adam']}, is at {features[theirs['adam']]['early']:.1f} by "
                                  f"epoch 10. Adam's steps are about lr whatever the gradient's size: at lr = {MYSTERY_LR:g}, "
                                  f"which curve falls fastest, then rattles?")
    calmer = "less" if features[theirs["momentum"]]["jitter"] < features[theirs["gd"]]["jitter"] else "more"
    return CheckResult(False, f"Adam is right; your momentum, {theirs['momentum']}, jitters {calmer} than your GD. "
                              f"Momentum steps along an average of the last gradients: it follows GD a little "
                              f"late, and jitters less.")


MYSTERY_QUESTION = Question(
    name="my_labels",
    fields=MYSTERY_LABELS,
    hint='name each curve "gd", "momentum" or "adam". Look at the first epochs, then at the jitter late on.',
    judge=_judge_mystery_curves,
    choices=("gd", "momentum", "adam"),
)


def check_mystery_curves(answer) -> CheckResult:
    """Check ``{"A": ..., "B": ..., "C": ...}``: which optimizer drew each curve of ``mystery_figure``.
    The check measures the real runs and explains what tells the curves apart."""
    return check_answer(answer, MYSTERY_QUESTION)
