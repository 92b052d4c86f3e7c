"""Notebook 09, gradient clipping: the explorer of clipping on the cliff of Pascanu et al. (2013),
their Figure 6 computed (``plot_cliff_runs``), and the exercises (clipping by global norm; finding
non-finite gradients; choosing a threshold that survives the cliff, ``check_cliff_threshold``,
judged by running the cliff at that threshold). The clipping functions are part of the mirror
(``course_lib.clipping``).

    from course_lib.lessons import gradient_clipping as lesson
    lesson.ClippingExplorer(mode="norm", threshold=1.0, lr=1.0)
    lesson.check_clip_by_global_norm(my_clip)
    lesson.check_cliff_threshold(0.5)
"""

from typing import Any, Callable

import ipywidgets
import numpy as np

from course_lib import clipping
from course_lib.interactive.checking import (
    check_answer, check_function, CheckResult, describe_value, Exercise, flat_array_list, is_one_number, Mistake,
    Question, UnusableAnswer,
)
from course_lib.interactive.explorer import (
    check_steps, DragCache, Explorer, EXPLORER_LOSS_DECADES, log_slider, log_values, lr_slider, status_text,
)
from course_lib.lab import plots, runner
from course_lib.lab.gradient_cases import clip_each_own_norm, gradient_list
from course_lib.lab.landscapes import cliff

# --------------------------------------------------------------------------------------------------
# The explorer
# --------------------------------------------------------------------------------------------------

class ClippingExplorer(Explorer):
    """Gradient descent on the cliff of Pascanu et al. (2013), unclipped (grey) beside a clipped
    run: pick the clipping mode (by norm, by value, none), the threshold and the learning rate.

    The status lines give each run's largest step and its final loss: an unclipped run jumps
    off the wall onto the plateau (E ≈ 0.09) and stays there.
    """

    CLIPPED_COLOR = "#0072b2"

    def __init__(self, mode: str = "norm", threshold: float = 1.0, lr: float = 1.0, steps: int = 400):

        self.steps = check_steps(steps)
        self.landscape = cliff()
        super().__init__({
            "mode": ipywidgets.Dropdown(options=[("by norm", "norm"), ("by value", "value"), ("no clipping", "none")],
                                        description="clipping"),
            "threshold": log_slider("threshold", log_values(0.01, 100)),
            "lr": lr_slider(0.01, 10),
        })
        self._assign({"mode": mode, "threshold": threshold, "lr": lr})
        contours, losses = self.axes
        X, Y, Z = self.landscape.grid(200)
        x_min, x_max, y_min, y_max = self.landscape.extent
        contours.imshow(np.log10(Z + 1e-12), origin="lower", extent=self.landscape.extent, aspect="auto",
                        cmap="Greys_r", vmin=-4, vmax=0)
        contours.set(xlim=(x_min, x_max), ylim=(y_min, y_max), xlabel="w", ylabel="b",
                     title="the cliff (dark: low E)")
        contours.plot(*self.landscape.start, "o", color="black", markersize=5)
        self._lines = {}
        for row, (key, color) in enumerate((("unclipped", plots.OPTIMIZER_COLORS["GD"]),
                                            ("clipped", self.CLIPPED_COLOR))):
            style = {"color": color, "linewidth": 1.2}
            (path,) = contours.plot([], [], "o-", markersize=2, **style)
            (loss,) = losses.plot([], [], **style)
            status = status_text(losses, row)
            status.set_color(color)
            status.set_in_layout(False)
            self._lines[key] = (path, loss, status)
        plots.frame_losses(losses, self.landscape.minimum_value)
        losses.set(title="loss E (log scale)")
        losses.set_xlim(0, self.steps)
        self._foreground(*(artist for run in self._lines.values() for artist in run))
        # a batch of 32 settings costs little more than one of 12: ten slider steps ahead, for a drag
        self._runs = DragCache(self.controls, ("threshold", "lr"), self._run_batch, far=10)
        self.update()
        self._freeze_layout()

    def _run_batch(self, settings: list[dict]) -> list[dict]:
        """For each of ``settings`` (one mode; threshold and lr vary) an unclipped and a clipped run,
        all in one computation: runs 2i and 2i + 1 are setting i's."""
        mode = settings[0]["mode"]
        lr = np.repeat([[setting["lr"]] for setting in settings], 2, axis=0)
        thresholds = np.repeat([setting["threshold"] for setting in settings], 2)
        batch = runner.run(self.landscape, clipping.clipped(runner.named_optimizer("GD", lr),
                                                                  ["none", mode] * len(settings), thresholds),
                           start=np.tile(self.landscape.start, (2 * len(settings), 1)), steps=self.steps)
        return [{"unclipped": batch[2 * i], "clipped": batch[2 * i + 1] if mode != "none" else None}
                for i in range(len(settings))]

    def update(self) -> None:
        mode, threshold, lr = (self.setting[key] for key in ("mode", "threshold", "lr"))
        self.results = self._runs.get({"mode": mode, "threshold": threshold, "lr": lr})
        names = {"unclipped": "unclipped", "clipped": f"by {mode} at {threshold:.3g}"}
        curves = []
        for key, (path_line, loss_line, status) in self._lines.items():
            result = self.results[key]
            if result is None:
                for artist in (path_line, loss_line):
                    artist.set_data([], [])
                status.set_text("")
                continue
            path_line.set_data(result.path[:, 0], result.path[:, 1])
            loss_line.set_data(np.arange(len(result.losses)), result.losses)
            status.set_text(f"{names[key]}: {self.describe_run(result)}")
            curves.append(result.losses)
        plots.fit_loss_limits(self.axes[1], curves, headroom=100,  # room for the status lines above the curves
                              decades=EXPLORER_LOSS_DECADES)
        self.canvas.draw_idle()

    @staticmethod
    def describe_run(result: runner.RunResult) -> str:
        """'max step 10.4, E 0.09 (plateau)': the longest step and the final loss, or where the run
        diverged. "(plateau)" marks a run that jumped off the wall and stayed on the flat top."""
        if result.diverged_at is not None:
            return result.summary()
        longest = np.linalg.norm(np.diff(result.path, axis=0), axis=1).max(initial=0.0)
        plateau = " (plateau)" if longest > 3 and result.losses[-1] > 0.05 else ""
        return f"max step {longest:.3g}, E {result.losses[-1]:.2g}{plateau}"

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}


# --------------------------------------------------------------------------------------------------
# Figure 6 of Pascanu et al. (2013), computed
# --------------------------------------------------------------------------------------------------

CLIFF_RUN_COLORS = {"none": plots.OPTIMIZER_COLORS["GD"], "norm": ClippingExplorer.CLIPPED_COLOR,
                    "value": "#d55e00"}
"""The colour of each clipping mode in the reproduced figure."""
CLIFF_RUN_LABELS = {"none": "GD, unclipped", "norm": "clipped by norm", "value": "clipped by value"}
WALL_ZOOM = (3.3, 5.0, -3.2, -1.0)
"""(w_min, w_max, b_min, b_max) of the close-up on the wall where the clipped runs cross it."""


def _log_loss_map(ax, landscape, extent, resolution: int) -> None:
    """log₁₀ E over ``extent`` as a grey map (dark: low E), as in the explorer."""
    w_min, w_max, b_min, b_max = extent
    W, B = np.meshgrid(np.linspace(w_min, w_max, resolution), np.linspace(b_min, b_max, resolution))
    ax.imshow(np.log10(landscape.value(W, B) + 1e-12), origin="lower", extent=extent, aspect="auto",
              cmap="Greys_r", vmin=-4, vmax=0)
    ax.set(xlim=(w_min, w_max), ylim=(b_min, b_max), xlabel="w", ylabel="b")


def plot_cliff_runs(runs: dict, threshold: float = 1.0):
    """What Figure 6 of Pascanu, Mikolov & Bengio (2013) draws, computed: the error surface
    log₁₀ E(w, b) of the one-unit net (dark: low E) with gradient descent unclipped, clipped by
    norm and clipped by value (``runs``: mode → RunResult, modes "none", "norm", "value").

    Left, the whole surface: the unclipped run's longest step, the jump off the wall, is labelled.
    Middle, a close-up of the wall (``WALL_ZOOM``) where the clipped runs cross into the valley.
    Right, E against the step on a log scale.
    """
    landscape = cliff()
    figure, (whole, close, losses) = plots.new_figure(3)
    _log_loss_map(whole, landscape, landscape.extent, 200)
    _log_loss_map(close, landscape, WALL_ZOOM, 300)
    for mode, result in runs.items():
        style = {"color": CLIFF_RUN_COLORS[mode], "linewidth": 1.2,
                 "zorder": {"norm": 4, "value": 3}.get(mode, 2)}         # the norm run on top
        label = CLIFF_RUN_LABELS[mode] + (f" at {threshold:g}" if mode != "none" else "")
        for ax in (whole, close):
            ax.plot(result.path[:, 0], result.path[:, 1], "o-", markersize=1.5, **style)
        losses.plot(np.arange(len(result.losses)), result.losses, label=label, **style)
    for ax in (whole, close):
        ax.plot(*landscape.start, "o", color="black", markersize=5)
    if "none" in runs:
        path = runs["none"].path
        lengths = np.linalg.norm(np.diff(path, axis=0), axis=1)
        jump = int(lengths.argmax())
        whole.annotate(f"step {jump + 1}: one step\nof length {lengths[jump]:.1f}",
                       xy=(path[jump] + path[jump + 1]) / 2, xytext=(7.2, -1.0), ha="center",
                       fontsize="small", arrowprops={"arrowstyle": "->", "color": "black"})
    whole.set_title("the error surface, log₁₀ E")
    close.set_title("close-up of the wall")
    steps = max(len(result.losses) for result in runs.values()) - 1
    losses.set_yscale("log")
    losses.set(xlabel="step", ylabel="E", title="E (log scale)", ylim=(1e-8, 1.0), xlim=(0, steps))
    losses.legend(loc="lower right")
    return figure


# --------------------------------------------------------------------------------------------------
# The exercises
# --------------------------------------------------------------------------------------------------

def _clipped_and_total(returned: Any) -> tuple:
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        raise UnusableAnswer(f"your function returned {describe_value(returned)}; return the pair "
                             f"(clipped_grads, total_norm)")
    grads, total = returned
    if is_one_number(grads) and isinstance(total, (list, tuple)):
        raise UnusableAnswer("you returned (total_norm, clipped_grads); return them the other way round, "
                             "(clipped_grads, total_norm)")
    return flat_array_list(grads, "clipped_grads"), total


def clip_by_global_norm_reference(grads, max_norm):
    """torch's clip_grad_norm_ without the in-place part: (clipped copies, total norm before)."""
    clipped = [np.array(g, dtype=float) for g in grads]
    total = clipping.clip_grad_norm_(clipped, max_norm)
    return clipped, total


def _global_norm(grads) -> float:
    return float(np.sqrt(sum(np.sum(np.asarray(g) ** 2) for g in grads)))


def _scaled_all(grads, coef) -> list:
    return [np.asarray(g) * coef for g in grads]


def _clip_with_total(total: Callable) -> Callable:
    """Clipping by norm done right, except that the total norm is ``total(grads)``."""
    def clip(grads, max_norm):
        return _scaled_all(grads, min(1.0, max_norm / (total(grads) + 1e-6))), total(grads)
    return clip


_GLOBAL_NORM_CASES = [
    {"grads": gradient_list(20, [(3, 2)] * 3, 2.0), "max_norm": 1.0},     # total ≈ 8: clipped
    {"grads": gradient_list(21, [(5,)] * 2, 0.05), "max_norm": 1.0},      # total ≈ 0.2: left alone
    {"grads": gradient_list(22, [(4,)] * 3, 3e-5), "max_norm": 1e-5},     # tiny: the 1e-6 shows
    {"grads": [np.array([3.0, 4.0]), np.array([12.0, 0.0])], "max_norm": 6.5},  # total = 13
]

GLOBAL_NORM_EXERCISE = Exercise(
    name="clip_by_global_norm",
    cases=_GLOBAL_NORM_CASES,
    expected=lambda grads, max_norm: _clipped_and_total(clip_by_global_norm_reference(grads, max_norm)),
    run=_clipped_and_total,
    outputs=("clipped_grads (all entries in a row)", "total_norm"),
    success="one global norm, one factor min(1, max_norm/(total + 1e-6)), the norm before clipping.",
    mistakes=[
        Mistake(lambda grads, max_norm: (clip_each_own_norm(grads, max_norm), _global_norm(grads)),
                "you clipped each gradient by its own norm, which turns the update. Take ONE norm over all "
                "gradients together and scale them all by the same factor."),
        Mistake(_clip_with_total(lambda grads: sum(np.linalg.norm(np.ravel(g)) for g in grads)),
                "you added up the per-gradient norms; the global 2-norm is √(Σ_i ‖g_i‖²), the norm of "
                "all entries at once."),
        Mistake(_clip_with_total(lambda grads: _global_norm(grads) ** 2),
                "your total is Σ g², the squared norm: take its square root, √(Σ_i ‖g_i‖²)."),
        Mistake(lambda grads, max_norm: (_scaled_all(grads, max_norm / (_global_norm(grads) + 1e-6)),
                                         _global_norm(grads)),
                "you also scaled gradients whose norm was below max_norm, making them larger. The factor "
                "is min(1, max_norm/(total + 1e-6)): below the threshold, leave them alone."),
        Mistake(lambda grads, max_norm: (_scaled_all(grads, min(1.0, max_norm / _global_norm(grads))),
                                         _global_norm(grads)),
                "you divided by the total norm itself; torch divides by total + 1e-6 (which also keeps "
                "an all-zero gradient from dividing by zero). It shows when the norms are tiny."),
        Mistake(lambda grads, max_norm: (clip_by_global_norm_reference(grads, max_norm)[0],
                                         _global_norm(clip_by_global_norm_reference(grads, max_norm)[0])),
                "the gradients are right, but you returned their norm after clipping. Return the norm "
                "before, as torch does: it shows how large the gradients really were."),
        Mistake(lambda grads, max_norm: ([np.clip(np.asarray(g, dtype=float), -max_norm, max_norm) for g in grads],
                                         _global_norm(grads)),
                "you clipped by value (each entry to [−max_norm, max_norm]); clipping by norm scales all "
                "entries by the same factor."),
    ],
    hints={ZeroDivisionError: "Add 1e-6 to the total norm before dividing, as torch does."},
    hint="take ONE norm over all the arrays together, then scale every array by the same factor "
         "(the equations above).",
)


def check_clip_by_global_norm(fn: Callable) -> CheckResult:
    """Check ``fn(grads, max_norm)`` -> (clipped copies of grads, total 2-norm before clipping)."""
    return check_function(fn, GLOBAL_NORM_EXERCISE)


NONFINITE_NAMES = ("embedding.weight", "attention.weight", "attention.bias", "output.weight")


def _named(seed: int, nan=(), inf=(), minus_inf=()) -> dict:
    """{parameter name: gradient}, with NaN, +inf and −inf put into the gradients named."""
    rng = np.random.default_rng(seed)
    grads = {name: rng.normal(size=(3, 2)) for name in NONFINITE_NAMES}
    for names, value, where in ((nan, np.nan, (0, 1)), (inf, np.inf, (2, 0)), (minus_inf, -np.inf, (1, 1))):
        for name in names:
            grads[name][where] = value
    return grads


def _which(found: Any) -> np.ndarray:
    """The learner's {"nan": [...], "inf": [...]} as 0/1 flags per known name (nan row, inf row)."""
    if not isinstance(found, dict):
        raise UnusableAnswer(f"your function returned {describe_value(found)}; return a dict "
                             f"{{'nan': [names], 'inf': [names]}}")
    if set(found) != {"nan", "inf"}:
        keys = ", ".join(repr(key) for key in sorted(map(str, found))) or "none"
        raise UnusableAnswer(f"your dict has the keys {keys}; return a dict {{'nan': [names], 'inf': [names]}}")
    for kind in ("nan", "inf"):
        if not isinstance(found[kind], (list, tuple, set)):
            raise UnusableAnswer(f"found['{kind}'] should be a list of the parameter names (the dict's keys); "
                                 f"got {describe_value(found[kind])}")
        other = next((item for item in found[kind] if not isinstance(item, str)), None)
        if other is not None:
            raise UnusableAnswer(f"found['{kind}'] should hold the parameter names (the dict's keys), not "
                                 f"{describe_value(other)}")
        unknown = sorted(set(found[kind]) - set(NONFINITE_NAMES))
        if unknown:
            raise UnusableAnswer(f"found['{kind}'] holds {unknown[0]!r}, which is not one of the dict's keys")
    return np.array([[name in found[kind] for name in NONFINITE_NAMES] for kind in ("nan", "inf")], dtype=float)


def _finder(nan_test: Callable, inf_test: Callable, exclusive: bool = False) -> Callable:
    def find(named_grads):
        found = {"nan": [], "inf": []}
        for name, g in named_grads.items():
            if nan_test(g):
                found["nan"].append(name)
                if exclusive:
                    continue
            if inf_test(g):
                found["inf"].append(name)
        return found
    return find


def _swapped_nonfinite_check(named_grads):
    """The common loop with its labels swapped, returning what it prints: isnan → "inf", elif
    isinf → "nan"."""
    found = {"nan": [], "inf": []}
    for name, g in named_grads.items():
        if np.isnan(g).any():
            found["inf"].append(name)
        elif np.isinf(g).any():
            found["nan"].append(name)
    return found


_NONFINITE_CASES = [
    {"named_grads": _named(30, nan=["embedding.weight"], inf=["output.weight"])},
    {"named_grads": _named(31, nan=["attention.weight"], inf=["attention.weight"])},
    {"named_grads": _named(32)},
    {"named_grads": _named(33, minus_inf=["attention.bias"])},
]

NONFINITE_EXERCISE = Exercise(
    name="find_nonfinite",
    cases=_NONFINITE_CASES,
    expected=lambda named_grads: _which(clipping.nonfinite_gradients(named_grads)),
    run=_which,
    outputs=("the table of flags (row 0: holds NaN, row 1: holds ±inf; one column per name)",),
    success="NaN under 'nan' by isnan, ±inf under 'inf' by isinf; a gradient with both is in both.",
    mistakes=[
        Mistake(_swapped_nonfinite_check,
                "this is the swapped check from above, with both its flaws: the labels are swapped, and its "
                "elif hides a gradient holding both. Test isnan and isinf independently."),
        Mistake(_finder(lambda g: np.isinf(g).any(), lambda g: np.isnan(g).any()),
                "the labels are swapped: isnan finds NaN, so its names go under 'nan'; isinf finds "
                "±inf, whose names go under 'inf'."),
        Mistake(_finder(lambda g: np.isnan(g).any(), lambda g: np.isinf(g).any(), exclusive=True),
                "a gradient holding both NaN and inf was listed only under 'nan': test the two "
                "independently (two ifs, not if/elif)."),
        Mistake(_finder(lambda g: np.isnan(g).any(), lambda g: (g == np.inf).any()),
                "you missed −inf: g == inf only finds +inf; np.isinf (or np.abs(g) == inf) finds both."),
        Mistake(_finder(lambda g: not np.isfinite(g).all(), lambda g: np.isinf(g).any()),
                "you tested NaN with ~isfinite, which is also true for ±inf, so infinite gradients "
                "appear under 'nan' too; use isnan."),
        Mistake(_finder(lambda g: not np.isnan(g).any(), lambda g: not np.isinf(g).any()),
                "you listed the gradients WITHOUT NaN / inf: keep the names where .any() is true."),
        Mistake(_finder(lambda g: np.isnan(g).any(), lambda g: not np.isfinite(g).all()),
                "you tested inf with ~isfinite, which is also true for NaN, so gradients holding NaN "
                "appear under 'inf' too; use isinf."),
        Mistake(_finder(lambda g: (g == np.nan).any(), lambda g: np.isinf(g).any()),
                "g == nan is never true: NaN is not equal to anything, not even to itself. Test with "
                "np.isnan(g)."),
        Mistake(_finder(lambda g: np.isnan(g).all(), lambda g: np.isinf(g).all()),
                "with .all() a gradient is listed only if every entry is NaN (or inf); one such entry "
                "is enough: use .any()."),
    ],
    hints={ValueError: "Test np.isnan(g).any(), not np.isnan(g).",
           TypeError: "The gradients are NumPy arrays: use np.isnan and np.isinf."},
    hint="loop over named_grads.items() and test each gradient twice, once for NaN and once for ±inf, "
         "each under its own label.",
)


def check_find_nonfinite(fn: Callable) -> CheckResult:
    """Check ``fn(named_grads)`` -> {"nan": [names holding NaN], "inf": [names holding ±inf]}."""
    return check_function(fn, NONFINITE_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Choose: a clipping threshold that survives the cliff
# --------------------------------------------------------------------------------------------------

CLIFF_LR, CLIFF_STEPS = 1.0, 400
"""The cliff experiment of the notebook: gradient descent with lr = 1 from the landscape's start, 400 steps."""
VALLEY_E, LAST_STEPS = 1e-3, 100
"""A run survived the cliff when its E stayed below ``VALLEY_E`` over its last ``LAST_STEPS`` steps."""


def cliff_run(max_norm: float) -> runner.RunResult:
    """The notebook's cliff run (GD, lr = 1, 400 steps from the start), clipped by norm at ``max_norm``."""
    landscape = cliff()
    optimizer = clipping.clipped(runner.named_optimizer("GD", CLIFF_LR), "norm", max_norm)
    return runner.run(landscape, optimizer, start=landscape.start, steps=CLIFF_STEPS)


CLIFF_SUCCESS = (f"with lr = 1 no step is longer than your threshold, so the step at the wall stayed short and "
                 f"did not throw the run: it crossed into the valley, with E below 1e-3 over its last {LAST_STEPS} "
                 f"of {CLIFF_STEPS} steps.")
"""What every threshold that survives the cliff is told. It names no threshold: the solution's
output shows under the question whenever the notebook is run, and must not answer it."""


def _judge_cliff_threshold(max_norm: float) -> CheckResult:
    """Run the cliff clipped at ``max_norm`` and say where the run ended and why. The verdict is a
    band of E over the last steps, never E's digits: the clipped runs bounce off the wall, and
    their digits differ between computers."""
    result = cliff_run(max_norm)
    longest = float(np.linalg.norm(np.diff(result.path, axis=0), axis=1).max())
    late = result.losses[-LAST_STEPS:]
    if np.all(late < VALLEY_E):
        return CheckResult(True, CLIFF_SUCCESS)
    if max_norm == 0:
        return CheckResult(False, "max_norm = 0 cuts every step to length 0: the run never moves. Pick a positive "
                                  "threshold.")
    not_settled = f"E is not below 1e-3 over the last {LAST_STEPS} of {CLIFF_STEPS} steps"
    if longest > 1.0:
        clipped = "clipping never acts: the step at the wall" if longest < 0.99 * max_norm else "the step at the wall"
        return CheckResult(False, f"too large: at max_norm = {max_norm:g} {clipped} was {longest:.3g} long and threw "
                                  f"the run onto the plateau; {not_settled}. Lower it.")
    where = "the run has not even crossed the wall" if result.losses[-1] > 0.2 else "it still zig-zags down the valley"
    return CheckResult(False, f"too small: at max_norm = {max_norm:g} every step is at most {max_norm:g} long, and "
                              f"{where}: {not_settled}. Raise it.")


CLIFF_THRESHOLD_QUESTION = Question(
    name="my_max_norm",
    fields=("max_norm",),
    hint="a threshold too large lets the step at the wall throw the run; one too small leaves it "
         "crawling. Pick a number between.",
    judge=_judge_cliff_threshold,
)


def check_cliff_threshold(answer: Any) -> CheckResult:
    """Check a clipping threshold for the cliff: the notebook's run (GD, lr = 1, 400 steps) clipped by
    norm at ``answer`` must end in the valley, E below 1e-3 over its last 100 steps."""
    return check_answer(answer, CLIFF_THRESHOLD_QUESTION)
