"""Every explorer's update takes at most 30 ms median and is at least 3x faster than re-rendering the
same figure from scratch.

An update is what a control event runs: ``explorer.set(...)`` (recompute, move the artists), then
``explorer.canvas.render()``, the Agg drawing that ipympl's canvas does before it sends the picture
(``course_lib.interactive.canvas.LayeredCanvas``: the kept background plus the moved artists, or everything when an
axis changed). The updates timed are a reader's moves: each control in turn, dragged three slider
steps from the explorer's default setting (a dropdown: three other choices; a checkbox: on and
off again) and back, on a fresh explorer in each round. Where an explorer computes a setting
together with its slider neighbours (``course_lib.interactive.drag_cache.DragCache``), the first move costs that batch and
the next few cost only drawing; the slowest update is reported beside the median.
A rebuild is a fresh explorer of the same class with the same setting, rendered once.
"""

import importlib
import inspect
import pkgutil
import statistics
import time
import warnings

import numpy as np

from benchmarks.common import Result, ms

MAX_UPDATE_S = 0.030
MIN_SPEEDUP = 3.0
DRAG_STEPS = 3


def explorer_classes():
    """Every lesson's explorer class, in the order of the lessons."""
    import course_lib.lessons
    from course_lib.interactive.explorer import Explorer

    found = {}
    for module in pkgutil.walk_packages(course_lib.lessons.__path__, "course_lib.lessons."):
        for _, c in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(c, Explorer) and c is not Explorer:
                found[c.__name__] = c
    return list(found.values())


def showdown_sweep():
    """A sweep like notebook 07's (every optimizer x its nine rates, 1000 epochs, one draw)."""
    from course_lib.lab import nets

    rates = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
    return nets.train([nets.Setting(name, lr) for name in nets.OPTIMIZERS for lr in rates], epochs=1000)


def drag(control) -> list:
    """The values a reader passes through moving ``control``: DRAG_STEPS slider steps from where it
    is (down if up would leave the range), the next choices of a dropdown, a checkbox on and off."""
    import ipywidgets

    if isinstance(control, ipywidgets.Checkbox):
        return [not control.value, control.value]
    if isinstance(control, ipywidgets.Dropdown):
        values = [option[1] if isinstance(option, tuple) else option for option in control.options]
        start = values.index(control.value)
        return [values[(start + k) % len(values)] for k in range(1, min(DRAG_STEPS, len(values) - 1) + 1)]
    if isinstance(control, ipywidgets.SelectionSlider):  # a log slider's round values (log_slider)
        values = [option[1] for option in control.options]
        start = values.index(control.value)
        direction = 1 if start + DRAG_STEPS < len(values) else -1
        return [values[start + direction * k] for k in range(1, DRAG_STEPS + 1)]
    log = isinstance(control, ipywidgets.FloatLogSlider)
    position = np.log(control.value) / np.log(control.base) if log else control.value
    index = round((position - control.min) / control.step)  # the browser's slider snaps to min + k·step
    direction = 1 if control.min + (index + DRAG_STEPS) * control.step <= control.max else -1
    positions = [control.min + (index + direction * k) * control.step for k in range(1, DRAG_STEPS + 1)]
    values = [float(control.base**p) if log else p for p in positions]
    return [int(round(v)) if isinstance(control, ipywidgets.IntSlider) else float(v) for v in values]


def interaction(explorer) -> list[dict]:
    """Each control dragged in turn (``drag``), back to its first value before the next one moves;
    controls greyed out at the explorer's default setting are left alone, as a reader must."""
    moves = []
    for name, control in explorer.controls.items():
        if not control.disabled:
            moves += [{name: value} for value in drag(control)] + [{name: control.value}]
    return moves


def release_widgets() -> None:
    """Close every widget and free the explorers measured so far: ipywidgets keeps each widget
    until it is closed, and a process holding dozens of explorers (hundreds of MB) is slower
    than a notebook that holds a few."""
    import gc

    import ipywidgets

    ipywidgets.Widget.close_all()
    gc.collect()


def measure(cls, extra_args, rounds):
    def build(settings=None):
        explorer = cls(*extra_args, **(settings or {}))
        explorer.canvas.render()
        return explorer

    updates, sets, renders, rebuilds = [], [], [], []
    for round_ in range(rounds):
        release_widgets()
        explorer = build()
        moves = interaction(explorer)
        for move in moves:
            start = time.perf_counter()
            explorer.set(**move)
            middle = time.perf_counter()
            explorer.canvas.render()
            end = time.perf_counter()
            updates.append(end - start)
            sets.append(middle - start)
            renders.append(end - middle)
        if round_ == 0:  # rebuilds of some of the same figures, measured beside them
            current = {name: control.value for name, control in explorer.controls.items()}
            for move in moves[::max(1, len(moves) // 4)]:
                start = time.perf_counter()
                build(current | move)
                rebuilds.append(time.perf_counter() - start)
                release_widgets()
    return {"update": statistics.median(updates), "set": statistics.median(sets), "render": statistics.median(renders),
            "slowest": max(updates), "rebuild": statistics.median(rebuilds), "count": len(updates)}


def run(quick: bool) -> list[Result]:
    import matplotlib

    matplotlib.use("Agg")
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sweep = None
        for cls in explorer_classes():
            name = cls.__name__
            extra = ()
            if name == "ShowdownExplorer":
                sweep = sweep or showdown_sweep()
                extra = (sweep,)
            got = measure(cls, extra, rounds=1 if quick else 3)
            speedup = got["rebuild"] / got["update"]
            results.append(Result(f"explorer {name}: update", ms(got["update"]), f"<= {ms(MAX_UPDATE_S)}",
                                  got["update"] <= MAX_UPDATE_S,
                                  note=f"median of {got['count']} updates; medians of their parts: set (recompute "
                                       f"+ artists) {ms(got['set'])}, render {ms(got['render'])}; slowest update "
                                       f"{ms(got['slowest'])}"))
            results.append(Result(f"explorer {name}: rebuild / update",
                                  f"{speedup:.1f}x (rebuild {ms(got['rebuild'])})", f">= {MIN_SPEEDUP:.0f}x",
                                  speedup >= MIN_SPEEDUP))
    return results
