"""Notebook 12, beyond Adam: ``NewtonSchulzExplorer``, the iteration of Muon on the singular values of a
matrix, for a number of steps and a choice of coefficients."""

import ipywidgets
import numpy as np

from course_lib import optim
from course_lib.interactive.explorer import Explorer, sparse_ticks, status_text
from course_lib.lab import plots
from course_lib.lessons.beyond_adam.experiments import iterate_polynomial, momentum_like_matrix, singular_values

COEFFICIENTS = {
    "Muon's quintic": optim.beyond.MUON_COEFFICIENTS,
    "cubic": (1.5, -0.5, 0.0),
    "quintic with p(1) = 1": (2.0, -1.5, 0.5),
}
"""Three polynomials p(s) = a·s + b·s³ + c·s⁵. The cubic is the classic Newton–Schulz iteration: every
s in (0, 1] converges to 1, slowly from near 0. "p(1) = 1" is a quintic that keeps 1 fixed too.
Muon's quintic trades that for a steep start (a = 3.4445): p(1) = 0.7 and the values oscillate
in a band around 1."""


class NewtonSchulzExplorer(Explorer):
    """Pick a number of Newton–Schulz steps and a polynomial; see (left) the map it applies to each
    singular value s of the normalised matrix, on s from 10⁻⁴ to 1, and (right) the 32 singular values
    of a 32×64 matrix with a steep spectrum (1/k²), before (grey) and after (colour)."""

    def __init__(self, steps: int = 5, coefficients: str = "Muon's quintic"):
        super().__init__({
            "steps": ipywidgets.IntSlider(value=5, min=0, max=10, description="steps"),
            "coefficients": ipywidgets.Dropdown(options=list(COEFFICIENTS), description="p"),
        })
        self._assign({"steps": steps, "coefficients": coefficients})
        self.matrix = momentum_like_matrix()
        self.before = singular_values(self.matrix) / np.linalg.norm(self.matrix)
        self.grid = np.geomspace(1e-4, 1.0, 400)
        curve, spectrum = self.axes
        curve.plot(self.grid, self.grid, color="0.7", linewidth=1, label="before: p⁰(s) = s")
        curve.axhline(1.0, color="0.5", linestyle=":", linewidth=1)
        (self._curve,) = curve.plot(self.grid, self.grid, color=plots.OPTIMIZER_COLORS["Adam"], linewidth=2,
                                    label="after the steps")
        curve.set(xscale="log", xlabel="s before (÷ ‖G‖_F)", ylabel="s after", ylim=(0, 1.6),
                  title="what the steps do to one singular value")
        curve.legend(loc="upper left")
        index = np.arange(1, len(self.before) + 1)
        spectrum.plot(index, self.before, "o", color="0.6", markersize=3, label="before (÷ ‖G‖_F)")
        (self._after,) = spectrum.plot(index, self.before, "o", color=plots.OPTIMIZER_COLORS["Adam"],
                                       markersize=4, label="after")
        spectrum.axhline(1.0, color="0.5", linestyle=":", linewidth=1)
        spectrum.set(yscale="log", ylim=(3e-4, 5), xlabel="k", ylabel="k-th singular value",
                     title="a 32×64 matrix, 1/k² spectrum")
        spectrum.legend(loc="lower left")
        self._status = status_text(spectrum, 0)
        self._foreground(self._curve, self._after, self._status)
        self.update()
        for ax in self.axes:
            sparse_ticks(ax)
        self._freeze_layout()

    def update(self) -> None:
        setting = self.setting
        steps, coefficients = setting["steps"], COEFFICIENTS[setting["coefficients"]]
        self._curve.set_ydata(iterate_polynomial(self.grid, coefficients, steps))
        self.after = singular_values(optim.newton_schulz(self.matrix, coefficients, steps))
        self._after.set_ydata(self.after)
        self._status.set_text(f"after {steps} steps: from {self.after.min():.2f} to {self.after.max():.2f}")
        self.canvas.draw_idle()
