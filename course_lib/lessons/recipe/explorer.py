"""The explorer of notebook 13: the recipe's knobs (warm-up length, peak lr, clipping threshold,
schedule) on the small transformer, one real training run per setting, beside the notebook's recipe."""

import math
from dataclasses import replace

import ipywidgets
import numpy as np

from course_lib import averages
from course_lib.interactive.drag_cache import OneAtATime
from course_lib.interactive.explorer import (Explorer, HALF_DECADES, log_slider, log_values,
    sparse_ticks, status_text)
from course_lib.lab import plots
from course_lib.lessons.recipe.training import RECIPE, Run, SCHEDULES, STEPS, learning_rates, train

MAX_WARMUP = 30
RATE_LIMITS = (1e-6, 1.0)
"""The lr axis: above the largest peak (0.3) and below the first warm-up step of the smallest
(1e-3 / 30); a cosine's last steps fall through the bottom on their way to 0."""
LOSS_LIMITS = (0.2, 30.0)
"""The loss axis: every run starts at about ln 11 ≈ 2.4; the best reach about 0.4 in 60 steps and
the worst spikes reach about 15. Fixed, so a control redraws only the curves."""
SPIKE = 1.1
"""A run "spiked" when its minibatch loss rose more than 10 % above its first value (a few percent
is the noise of a 16-example batch)."""


class RecipeExplorer(Explorer):
    """The recipe's knobs on the notebook's transformer: warm-up steps, peak lr, clipping (on/off
    and its threshold) and the schedule, everything else as in ``RECIPE`` (AdamW, β₂ = 0.95, λ = 0.1
    on the matrices).

    Left: the learning rate of every step (log scale). Right: the minibatch loss of seed 0,
    EWA-smoothed (β = 0.9, bias-corrected); the notebook's recipe in grey on both. The status
    lines give the held-out accuracy at the end and, for a run whose loss rose, how far and when.

    ``max_norm=math.inf`` or ``clip=False`` is no clipping (the ``clip`` checkbox). Each setting is
    one real ``train`` run (about half a second on one thread): in the browser a move to a setting
    not trained yet shows its learning rates at once and "training…", and the loss when the run is
    done (``result_or_later``). ``base``, the run of ``RECIPE`` from seed 0 that the notebook has
    already trained, saves training it again::

        lesson.RecipeExplorer(base=runs.runs[0])
    """

    RUN_COLOR = plots.OPTIMIZER_COLORS["AdamW"]
    BASE_COLOR = "0.55"
    REACH = 0
    """Slider steps computed with a new setting: none. Runs here are not batched, so a neighbour
    costs as much as the setting itself; the cache's thread computes them ahead instead, while the
    reader looks (``OneAtATime``), and a setting not computed yet costs one run, not seven."""

    def __init__(self, warmup: int = RECIPE.warmup_steps, peak_lr: float = RECIPE.peak_lr,
                 max_norm: float = RECIPE.max_norm, schedule: str = RECIPE.schedule, base: Run | None = None,
                 clip: bool = True):
        if base is not None and not isinstance(base, Run):
            raise TypeError(f"base must be a Run of RECIPE from seed 0 (or None), got {type(base).__name__}")
        if base is not None and len(base.losses) != STEPS:
            raise ValueError(f"base must be a run of {STEPS} steps, got {len(base.losses)}")
        if isinstance(max_norm, (int, float)) and not isinstance(max_norm, bool) and max_norm == math.inf:
            clip, max_norm = False, RECIPE.max_norm   # "off": the threshold slider waits at the recipe's
        super().__init__({
            "warmup": ipywidgets.IntSlider(min=0, max=MAX_WARMUP, description="warm-up"),
            "peak_lr": log_slider("peak lr", log_values(1e-3, 0.3, HALF_DECADES)),
            "clip": ipywidgets.Checkbox(description="clip", indent=False, layout=ipywidgets.Layout(width="auto")),
            "max_norm": log_slider("max_norm", log_values(0.1, 10, HALF_DECADES)),
            "schedule": ipywidgets.Dropdown(options=SCHEDULES, description="schedule"),
        })
        self._assign({"warmup": warmup, "peak_lr": peak_lr, "clip": clip, "max_norm": max_norm, "schedule": schedule})
        self._summaries = {} if base is None else {RECIPE: self._summary(base, RECIPE)}
        self._rates = {}  # learning_rates of each recipe drawn while its run trains
        self._base = self._summary_of(RECIPE)
        self._runs = OneAtATime(self.controls, ("warmup", "peak_lr", "max_norm"), self._train_each, reach=self.REACH)

        rates, losses = self.axes
        steps = np.arange(STEPS)
        rates.plot(steps, self._base["lrs"], color=self.BASE_COLOR, linestyle="--", linewidth=1,
                   label=f"recipe (peak {RECIPE.peak_lr:g}, warm-up {RECIPE.warmup_steps}, {RECIPE.schedule})")
        (self._rate,) = rates.plot(steps, np.full(STEPS, np.nan), color=self.RUN_COLOR, label="this run")
        rates.set_yscale("log")
        rates.set(xlabel="step", ylabel="learning rate", title="the lr of every step", xlim=(0, STEPS - 1),
                  ylim=RATE_LIMITS)
        rates.legend(loc="lower left", fontsize="small")
        losses.plot(steps, self._base["curve"], color=self.BASE_COLOR, linewidth=1)
        (self._loss,) = losses.plot(steps, np.full(STEPS, np.nan), color=self.RUN_COLOR)
        losses.set_yscale("log")
        losses.set(xlabel="step", ylabel="minibatch loss (smoothed)", title="the transformer, seed 0",
                   xlim=(0, STEPS - 1), ylim=LOSS_LIMITS)
        self._statuses = [status_text(losses, row) for row in range(3)]
        self._statuses[0].set_color(self.RUN_COLOR)
        self._statuses[1].set_color(self.RUN_COLOR)
        self._statuses[2].set_color(self.BASE_COLOR)
        self._statuses[2].set_text(f"recipe: {self._base['accuracy']}")
        self._foreground(self._rate, self._loss, *self._statuses[:2])
        self.update()
        for ax in self.axes:
            sparse_ticks(ax)
        self._freeze_layout()

    @staticmethod
    def recipe_of(setting: dict):
        """``RECIPE`` with the setting's knobs. Settings that train alike give the same recipe:
        with clipping off the threshold is ∞ whatever the slider says, and one-cycle brings its own
        warm-up (so the slider's is left at the recipe's)."""
        own_warmup = setting["schedule"] == "one-cycle"
        return replace(RECIPE, peak_lr=float(setting["peak_lr"]), schedule=setting["schedule"],
                       warmup_steps=RECIPE.warmup_steps if own_warmup else int(setting["warmup"]),
                       max_norm=float(setting["max_norm"]) if setting["clip"] else math.inf)

    def _summary_of(self, recipe) -> dict:
        """The summary of ``recipe``'s run from seed 0, trained once per distinct recipe."""
        if recipe not in self._summaries:
            self._summaries[recipe] = self._summary(train(recipe, seed=0, steps=STEPS), recipe)
        return self._summaries[recipe]

    def _train_each(self, settings: list[dict]) -> list[dict]:
        """The ``DragCache``'s computation: one run per setting (a batch would save nothing here)."""
        return [self._summary_of(self.recipe_of(setting)) for setting in settings]

    @staticmethod
    def _summary(run: Run, recipe) -> dict:
        """What the figure shows of a run: its lrs, its smoothed loss and its status lines (what
        happened, and how often clipping acted: at a threshold above every gradient norm, clipping
        does nothing, and the line says so where the curves cannot)."""
        losses = np.asarray(run.losses, dtype=float)
        finite = np.isfinite(losses)
        curve = averages.ewa(np.where(finite, losses, 1e6), 0.9, bias_correction=True)
        curve[~finite] = np.nan
        if not finite.all():
            behaviour = f"diverged at step {int(np.argmin(finite))}"
        elif losses.max() > SPIKE * losses[0]:
            behaviour = f"spiked to {losses.max() / losses[0]:.2g}× its first loss at step {int(losses.argmax())}"
        else:
            behaviour = "no spike"
        clipped = _clipping(recipe)
        if math.isfinite(recipe.max_norm):
            clipped += f": {np.mean(run.grad_norms > recipe.max_norm):.0%} of the steps"
        accuracy = f"held-out accuracy {_percent(run.accuracy)} (EMA {_percent(run.ema_accuracy)})"
        return {"lrs": np.asarray(run.lrs, dtype=float), "curve": curve, "accuracy": accuracy,
                "behaviour": f"{behaviour}; {clipped}"}

    def update(self) -> None:
        setting = self.setting
        self._grey_out("max_norm", not setting["clip"])
        self._grey_out("warmup", setting["schedule"] == "one-cycle")
        self.result = self.result_or_later(self._runs, setting) or self._training(self.recipe_of(setting))
        self._rate.set_ydata(self.result["lrs"])
        self._loss.set_ydata(self.result["curve"])
        self._statuses[0].set_text(f"this run: {self.result['accuracy']}")
        self._statuses[1].set_text(self.result["behaviour"])
        self.canvas.draw_idle()

    def _training(self, recipe) -> dict:
        """What the figure shows of a run still training: its learning rates, no loss yet."""
        lr_only = replace(recipe, max_norm=RECIPE.max_norm)  # the rates do not depend on clipping
        if lr_only not in self._rates:
            self._rates[lr_only] = learning_rates(lr_only)
        return {"lrs": self._rates[lr_only], "curve": np.full(STEPS, np.nan), "accuracy": "training…",
                "behaviour": _clipping(recipe)}

    def _fixed_settings(self) -> dict:
        return {"steps": STEPS, "seed": 0}


def _clipping(recipe) -> str:
    return f"clipping at {recipe.max_norm:g}" if math.isfinite(recipe.max_norm) else "no clipping"


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.0f} %" if np.isfinite(fraction) else "n/a"
