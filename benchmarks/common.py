"""What every benchmark shares: a result row, medians of repeated timings, the quick switch."""

import statistics
import time
from dataclasses import dataclass


@dataclass
class Result:
    """One row of the table: what was measured, its figure, its target and whether it is met."""

    name: str
    figure: str
    target: str
    passed: bool
    note: str = ""


def median_seconds(action, repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``action()``."""
    return statistics.median(timings(action, repeats))


def timings(action, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"
