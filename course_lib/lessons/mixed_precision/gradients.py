"""Small gradients and 16-bit floats: the activation gradients of a small net trained in float32
(what Figure 3 of Micikevicius et al. 2018 histograms for a Multibox SSD detector), what a loss
scale S and a 16-bit dtype keep of them (``survival``), the figure of the notebook
(``plot_gradient_histogram``) and the explorer of the scale (``GradientScaleExplorer``).

    sample = activation_gradients()              # float32 values, all layers, sampled steps
    survival(sample.values, 2.0**8, "float16")   # Survival(zero=…, lost=…, subnormal=…, overflow=…)
"""

import functools
from dataclasses import dataclass

import ipywidgets
import numpy as np
import torch

from course_lib.interactive.explorer import Explorer, status_text
from course_lib.lab import plots, torch_bridge

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class Limits:
    """Where a dtype's range ends, for magnitudes: below ``zero_at`` (or at it) a value rounds to 0,
    below ``normal`` it is subnormal (fewer significant bits), from ``inf_at`` on it rounds to inf.
    Exactly: round to nearest, ties to even, as torch casts."""

    zero_at: float
    normal: float
    subnormal_below: float
    inf_at: float
    largest: float


@functools.cache
def limits(dtype: str) -> Limits:
    """The range of ``dtype`` ("float16" or "bfloat16") from ``torch.finfo``."""
    info = torch.finfo(DTYPES[dtype])
    smallest = info.tiny * info.eps                           # the smallest subnormal: 2^-24 in float16
    ulp_at_max = 2.0 ** np.floor(np.log2(info.max)) * info.eps
    return Limits(zero_at=smallest / 2, normal=info.tiny, subnormal_below=info.tiny - smallest / 2,
                  inf_at=info.max + ulp_at_max / 2, largest=info.max)


@dataclass(frozen=True)
class GradientSample:
    """Activation gradients of a float32 training run: ``values`` (float32, every layer's output
    gradient at every ``every``-th step, flattened together) and the run's ``losses``."""

    values: np.ndarray
    losses: np.ndarray
    layers: int
    every: int


DEPTH, WIDTH, BATCH, STEPS, EVERY, LR = 6, 32, 1024, 300, 30, 0.1
"""The small net: 6 hidden ReLU layers of 32 units, one output, mean squared error on batches of
1024, SGD with momentum 0.9 at lr 0.1 for 300 steps, gradients kept every 30 steps."""


@functools.cache
def activation_gradients(seed: int = 0) -> GradientSample:
    """Train the small net in float32 and keep the gradient of the loss with respect to the output
    of every linear layer, as Figure 3 of Micikevicius et al. (2018) collects across all layers
    during float32 training. The loss is a mean over the batch, so each value carries a factor
    1/1024, and a deep ReLU net shrinks them further layer by layer. Cached, and the values are
    read-only: every caller shares them.

    Trained on one CPU thread: the matrices are small, and on a busy machine a second thread
    waiting for its share slows every step down several times. The values do not depend on it."""
    with torch_bridge.one_cpu_thread():
        return _train_and_collect(seed)


def _train_and_collect(seed: int) -> GradientSample:
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    inputs = torch.randn(2048, 16, generator=generator)
    targets = torch.tanh(inputs @ torch.randn(16, 1, generator=generator))
    layers, width = [], 16
    for _ in range(DEPTH):
        layers += [torch.nn.Linear(width, WIDTH), torch.nn.ReLU()]
        width = WIDTH
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    kept, losses = [], []
    for step in range(STEPS):
        rows = torch.randint(0, len(inputs), (BATCH,), generator=generator)
        outputs, h = [], inputs[rows]
        for module in model:
            h = module(h)
            if isinstance(module, torch.nn.Linear):
                h.retain_grad()
                outputs.append(h)
        loss = torch.nn.functional.mse_loss(h, targets[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % EVERY == 0:
            kept.append(torch.cat([output.grad.reshape(-1) for output in outputs]))
    values = torch.cat(kept).numpy()
    values.flags.writeable = False                        # shared by every caller: read only
    return GradientSample(values, np.array(losses), DEPTH + 1, EVERY)


@dataclass(frozen=True)
class Survival:
    """What becomes of gradients multiplied by S and rounded to a 16-bit dtype: the share that was
    exactly 0 already (``zero``), and, as shares of the nonzero ones, those that round to 0
    (``lost``), to a subnormal (``subnormal``: kept with fewer bits) and to inf (``overflow``)."""

    zero: float
    lost: float
    subnormal: float
    overflow: float


def survival(values: np.ndarray, scale: float, dtype: str = "float16") -> Survival:
    """The shares of ``Survival`` for ``scale`` × ``values`` in ``dtype``, from the dtype's exact
    rounding thresholds (the tests check them against torch's own cast)."""
    return survivals(values, [scale], dtype)[0]


def survivals(values: np.ndarray, scales, dtype: str = "float16") -> list[Survival]:
    """``survival`` for many scales at once: one sort, then a binary search per threshold."""
    if any(not np.isfinite(s) or s <= 0 for s in scales):
        raise ValueError(f"the scale S must be a positive number, got {list(scales)}")
    nonzero, size = _sorted_nonzero(values)
    count = max(len(nonzero), 1)
    zero = 1 - len(nonzero) / max(size, 1)
    bounds = limits(dtype)
    results = []
    for scale in scales:
        lost = np.searchsorted(nonzero, bounds.zero_at / scale, side="right")
        sub = np.searchsorted(nonzero, bounds.subnormal_below / scale, side="left")
        inf = len(nonzero) - np.searchsorted(nonzero, bounds.inf_at / scale, side="left")
        results.append(Survival(float(zero), float(lost / count), float((sub - lost) / count),
                                float(inf / count)))
    return results


_SORTED = {"values": None, "sorted": None}


def _sorted_nonzero(values: np.ndarray) -> tuple[np.ndarray, int]:
    """The nonzero |values| sorted, and how many values there were. The last array's result is
    kept: the explorer and the notebook ask about the same sample again and again."""
    if _SORTED["values"] is values:
        return _SORTED["sorted"], values.size
    magnitudes = np.abs(np.asarray(values, dtype=np.float64))
    nonzero = np.sort(magnitudes[magnitudes > 0])
    if isinstance(values, np.ndarray) and not values.flags.writeable:
        _SORTED.update(values=values, sorted=nonzero)
    return nonzero, magnitudes.size


# --------------------------------------------------------------------------------------------------
# The reproduced figure: a histogram of log₂ |g| with float16's range
# --------------------------------------------------------------------------------------------------

LOG2_RANGE = (-48, 24)
"""The x axis of the histograms, in powers of two."""
RANGE_COLORS = {"lost": "#d55e00", "subnormal": "#e69f00", "overflow": "#cc79a7"}


def log2_histogram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(edges, percent): the nonzero |values| in bins one power of two wide, as percent of the
    nonzero values."""
    magnitudes = np.abs(values[values != 0]).astype(np.float64)
    edges = np.arange(LOG2_RANGE[0], LOG2_RANGE[1] + 1)
    counts, _ = np.histogram(np.log2(magnitudes), bins=edges)
    return edges, 100 * counts / max(len(magnitudes), 1)


def _shade_ranges(ax, dtype: str, shift: float = 0.0) -> dict:
    """Shade where ``dtype`` loses values: rounds to 0, subnormal, inf; ``shift`` in powers of two
    moves the shading (a scale S seen from the unscaled values). Returns the patches by name."""
    bounds = limits(dtype)
    low, high = LOG2_RANGE
    spans = {"lost": (low - 100, np.log2(bounds.zero_at)), "subnormal": (np.log2(bounds.zero_at), np.log2(bounds.normal)),
             "overflow": (np.log2(bounds.inf_at), high + 100)}
    return {name: ax.axvspan(a - shift, b - shift, color=RANGE_COLORS[name], alpha=0.18, linewidth=0)
            for name, (a, b) in spans.items()}


def plot_gradient_histogram(sample: GradientSample, scales=(1.0, 2.0**8)):
    """What Figure 3 of Micikevicius et al. (2018) shows, for our small net: the activation
    gradients of float32 training as a histogram over powers of two, with float16's limits shaded.
    Exact zeros (a ReLU passes no gradient where it is off) have no logarithm; their share is
    written in the corner. One panel per scale in ``scales`` (two): the values as they are, and
    multiplied by S, where more of them fit."""
    figure, axes = plots.new_figure(ncols=len(scales), figsize=(11, 3.4))
    edges, percent = log2_histogram(sample.values)
    for ax, scale in zip(axes, scales):
        shift = np.log2(scale)
        ax.stairs(percent, edges + shift, fill=True, color="#0072b2", alpha=0.8)
        _shade_ranges(ax, "float16")
        kept = survival(sample.values, scale)
        title = "float32 training, as computed" if scale == 1 else f"multiplied by S = 2^{shift:.0f}"
        ax.set(xlim=LOG2_RANGE, ylim=(0, 1.3 * percent.max()), xlabel="log₂ |activation gradient × S|",
               ylabel="% of the nonzero values", title=title)
        ax.text(0.99, 0.97, f"→ 0 in float16: {100 * kept.lost:.1f} %\n→ inf: {100 * kept.overflow:.1f} %",
                transform=ax.transAxes, ha="right", va="top", fontsize="small")
        ax.text(0.01, 0.97, f"not drawn: exact zeros,\n{100 * kept.zero:.0f} % of all values",
                transform=ax.transAxes, ha="left", va="top", fontsize="small", color="0.3")
    top = axes[0].get_ylim()[1]
    axes[0].text(np.log2(limits("float16").zero_at) - 1, 0.5 * top, "rounds to 0\nin float16", ha="right",
                 fontsize="small", color=RANGE_COLORS["lost"])
    axes[0].text(np.log2(limits("float16").normal) - 0.5, 0.75 * top, "subnormal", ha="right", fontsize="small",
                 color="#b07800")
    axes[0].text(np.log2(limits("float16").inf_at) + 1, 0.5 * top, "inf", ha="left", fontsize="small",
                 color=RANGE_COLORS["overflow"])
    return figure


# --------------------------------------------------------------------------------------------------
# The explorer: the loss scale S and the dtype
# --------------------------------------------------------------------------------------------------

SCALE_EXPONENTS = range(0, 33)
"""The scale slider: S = 2^0 … 2^32, powers of two as GradScaler's are."""


class GradientScaleExplorer(Explorer):
    """The activation gradients of the small net multiplied by a loss scale S and rounded to
    float16 or bfloat16. Left: their histogram over powers of two, with the dtype's lost ranges
    shaded (rounds to 0, subnormal, inf). Right: the shares that round to 0 and to inf against S,
    with the current S marked. The status lines give the shares at this S."""

    def __init__(self, scale: float = 1.0, dtype: str = "float16"):
        super().__init__({
            "scale": ipywidgets.SelectionSlider(options=[(f"2^{k}", 2.0**k) for k in SCALE_EXPONENTS],
                                                description="loss scale S"),
            "dtype": ipywidgets.Dropdown(options=list(DTYPES), description="dtype"),
        })
        self._assign({"scale": scale, "dtype": dtype})
        self.sample = activation_gradients()
        self._edges, percent = log2_histogram(self.sample.values)
        histogram, shares = self.axes
        self._stairs = histogram.stairs(percent, self._edges, fill=True, color="#0072b2", alpha=0.8)
        histogram.set(xlim=LOG2_RANGE, ylim=(0, 1.3 * percent.max()), xlabel="log₂ |S × gradient|",
                      ylabel="% of the nonzero values", title="gradients × S, and the dtype's range")
        self._spans = _shade_ranges(histogram, "float16")
        self._status = [status_text(histogram, row) for row in range(2)]
        exponents = np.array(SCALE_EXPONENTS, dtype=float)
        self._curves = {dtype: survivals(self.sample.values, 2.0**exponents, dtype) for dtype in DTYPES}
        (self._lost_line,) = shares.plot(exponents, np.zeros_like(exponents), color=RANGE_COLORS["lost"],
                                         label="round to 0")
        (self._inf_line,) = shares.plot(exponents, np.zeros_like(exponents), color=RANGE_COLORS["overflow"],
                                        label="overflow to inf")
        self._marker = shares.axvline(0, color="black", linewidth=1)
        shares.set(xlim=(exponents[0], exponents[-1]), ylim=(-2, 102), xlabel="log₂ S",
                   ylabel="% of the nonzero values", title="what the dtype loses, against S")
        shares.legend(loc="center right")
        self._foreground(self._stairs, *self._spans.values(), *self._status, self._lost_line, self._inf_line,
                         self._marker)
        self.update()
        self._freeze_layout()

    def update(self) -> None:
        setting = self.setting
        scale, dtype = setting["scale"], setting["dtype"]
        shift = np.log2(scale)
        self._stairs.set_data(edges=self._edges + shift)
        bounds = limits(dtype)
        low, high = LOG2_RANGE
        for name, (a, b) in {"lost": (low - 100, np.log2(bounds.zero_at)),
                             "subnormal": (np.log2(bounds.zero_at), np.log2(bounds.normal)),
                             "overflow": (np.log2(bounds.inf_at), high + 100)}.items():
            self._spans[name].set_x(a)
            self._spans[name].set_width(b - a)
        curve = self._curves[dtype]
        self._lost_line.set_ydata([100 * each.lost for each in curve])
        self._inf_line.set_ydata([100 * each.overflow for each in curve])
        self._marker.set_xdata([shift, shift])
        self.results = survival(self.sample.values, scale, dtype)
        self._status[0].set_text(f"S = 2^{shift:.0f}, {dtype}: {self.describe_survival(self.results)}")
        self._status[1].set_text(f"subnormal, fewer bits: {100 * self.results.subnormal:.1f} %")
        self.canvas.draw_idle()

    @staticmethod
    def describe_survival(kept: Survival) -> str:
        """'0.3 % → 0, 0.0 % → inf': the shares of the nonzero gradients lost either way."""
        return f"{100 * kept.lost:.1f} % → 0, {100 * kept.overflow:.1f} % → inf"

    def _fixed_settings(self) -> dict:
        return {"values": len(self.sample.values)}
