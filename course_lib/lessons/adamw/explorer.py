"""Notebook 08's explorer: Adam + L2 beside AdamW on the scale-invariant model, for one lr and λ."""

import ipywidgets
import numpy as np

from course_lib import optim
from course_lib.interactive.drag_cache import DragCache
from course_lib.interactive.explorer import AXIS_KEEP_SHARE, check_steps, Explorer, log_slider, status_text
from course_lib.lab import plots
from course_lib.lessons.adamw.experiments import teacher_data, train


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
            "lr": log_slider("lr", [2.0**(k / 2) for k in range(-20, 3)]),
            "weight_decay": log_slider("λ", [2.0**(k / 2) for k in range(-24, 5)]),
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
        lr, decay, paper = (self.setting[key] for key in ("lr", "weight_decay", "paper_form"))
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
        plots.fit_loss_limits(self.axes[0], shown_norms, keep_share=AXIS_KEEP_SHARE)
        self.canvas.draw_idle()

    def _fixed_settings(self) -> dict:
        return {"steps": self.steps}
