"""Every explorer's update (``explorer.set(...)`` then ``FigureCanvasAgg.draw(explorer.canvas)``)
takes at most 30 ms median and is at least 3x faster than re-rendering the same figure from scratch
(a fresh explorer of the same class with the same settings, drawn on the Agg canvas)."""

import inspect
import statistics
import time
import warnings

from benchmarks.common import Result, ms

MAX_UPDATE_S = 0.030
MIN_SPEEDUP = 3.0

# Per explorer: the settings an update cycles through (each changes something visible).
SETTINGS = {
    "LandscapeExplorer": [dict(landscape="rosenbrock", optimizer="Adam", lr=0.05),
                          dict(landscape="rosenbrock", optimizer="Adam", lr=0.1),
                          dict(landscape="ill_conditioned_bowl", optimizer="momentum", lr=0.05)],
    "MomentumExplorer": [dict(lr=0.036, beta=0.7, condition=50.0, nesterov=False),
                         dict(lr=0.036, beta=0.9, condition=50.0, nesterov=False),
                         dict(lr=0.036, beta=0.9, condition=20.0, nesterov=True)],
    "EWAExplorer": [dict(beta=0.9, bias_correction=False),
                    dict(beta=0.98, bias_correction=False),
                    dict(beta=0.98, bias_correction=True)],
    "ClippingExplorer": [dict(mode="norm", threshold=1.0, lr=1.0),
                         dict(mode="norm", threshold=0.5, lr=1.0),
                         dict(mode="value", threshold=0.5, lr=1.0)],
    "SaddleExplorer": [dict(x0=1e-6, optimizer="GD", lr=0.01),
                       dict(x0=1e-6, optimizer="GD", lr=0.02),
                       dict(x0=1e-6, optimizer="Adam", lr=0.02)],
    "RMSpropExplorer": [dict(lr=0.05, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, condition=50.0),
                        dict(lr=0.1, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, condition=50.0),
                        dict(lr=0.1, alpha=0.9, eps=1e-8, momentum=0.5, centered=True, condition=50.0)],
    "WeightDecayExplorer": [dict(lr=2.0**-2, weight_decay=2.0**-4, paper_form=False),
                            dict(lr=2.0**-2, weight_decay=2.0**-6, paper_form=False),
                            dict(lr=2.0**-2, weight_decay=2.0**-6, paper_form=True)],
    "AdamFailureExplorer": [dict(beta2=0.99, schedule="inverse_sqrt"),
                            dict(beta2=0.999, schedule="inverse_sqrt"),
                            dict(beta2=0.999, schedule="constant")],
    "ShowdownExplorer": [dict(optimizer="Adam", lr=0.001),
                         dict(optimizer="GD", lr=0.001),
                         dict(optimizer="GD", lr=0.01)],
    "ScheduleExplorer": [dict(schedule="inverse time", lr0=0.2, decay_rate=1.0),
                         dict(schedule="inverse time", lr0=0.2, decay_rate=0.5),
                         dict(schedule="cosine", lr0=0.2, decay_rate=0.5)],
    "RecipeExplorer": [dict(warmup=20, peak_lr=0.03, max_norm=1.0),
                       dict(warmup=40, peak_lr=0.03, max_norm=1.0),
                       dict(warmup=40, peak_lr=0.03, max_norm=0.5)],
}


def explorer_classes():
    from course_lib import widgets

    return [c for _, c in inspect.getmembers(widgets, inspect.isclass)
            if issubclass(c, widgets.Explorer) and c is not widgets.Explorer]


def showdown_sweep():
    """A sweep like notebook 07's (every optimizer x its nine rates, 1000 epochs, one draw)."""
    from course_lib import nets

    rates = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
    return nets.train([nets.Setting(name, lr) for name in nets.OPTIMIZERS for lr in rates], epochs=1000)


def measure(cls, settings, extra_args, quick):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    def build(values):
        explorer = cls(*extra_args, **values)
        FigureCanvasAgg.draw(explorer.canvas)
        return explorer

    explorer = build(settings[0])
    for values in settings:  # warm-up: every setting once
        explorer.set(**values)
        FigureCanvasAgg.draw(explorer.canvas)
    updates, sets, rebuilds = [], [], []
    rounds = 2 if quick else 5
    for r in range(rounds):
        for i, values in enumerate(settings):
            start = time.perf_counter()
            explorer.set(**values)
            middle = time.perf_counter()
            FigureCanvasAgg.draw(explorer.canvas)
            updates.append(time.perf_counter() - start)
            sets.append(middle - start)
            if r < (1 if quick else 2):  # a rebuild of the same figure, measured beside it
                start = time.perf_counter()
                build(values)
                rebuilds.append(time.perf_counter() - start)
    return statistics.median(updates), statistics.median(sets), statistics.median(rebuilds)


def run(quick: bool) -> list[Result]:
    import matplotlib

    matplotlib.use("Agg")
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sweep = None
        for cls in explorer_classes():
            name = cls.__name__
            if name not in SETTINGS:
                results.append(Result(f"explorer {name}", "no settings", "covered", False,
                                      note="add settings for it to benchmarks/bench_explorers.py"))
                continue
            extra = ()
            if name == "ShowdownExplorer":
                sweep = sweep or showdown_sweep()
                extra = (sweep,)
            update, set_only, rebuild = measure(cls, SETTINGS[name], extra, quick)
            speedup = rebuild / update
            results.append(Result(f"explorer {name}: update", ms(update), f"<= {ms(MAX_UPDATE_S)}",
                                  update <= MAX_UPDATE_S,
                                  note=f"set (recompute + artists) {ms(set_only)}, Agg draw {ms(update - set_only)}"))
            results.append(Result(f"explorer {name}: rebuild / update", f"{speedup:.1f}x (rebuild {ms(rebuild)})",
                                  f">= {MIN_SPEEDUP:.0f}x", speedup >= MIN_SPEEDUP))
    return results
