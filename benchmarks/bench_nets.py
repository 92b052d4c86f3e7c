"""Notebook 07's training runs, batched, at least 10x faster than one model at a time in a plain
NumPy loop (``course_lib.lab.nets.time_batched_vs_one_at_a_time``)."""

import statistics

from benchmarks.common import Result

MIN_SPEEDUP = 10.0


def notebook_07_settings():
    """The showdown's settings, exactly as notebook 07 builds them (24 runs)."""
    from course_lib.lab import nets

    published_decay_lr = {"GD": 0.1, "momentum": 0.1, "Adam": 0.01}
    draws = [nets.COURSERA] + [nets.Draw.fresh(seed) for seed in (1, 2, 4)]
    return [nets.Setting(name, lr, decay, draw)
            for draw in draws for name in nets.OPTIMIZERS
            for decay, lr in ((False, 0.0007), (True, published_decay_lr[name]))]


def run(quick: bool) -> list[Result]:
    from course_lib.lab import nets

    settings = notebook_07_settings()
    epochs = 10 if quick else 20
    nets.time_batched_vs_one_at_a_time(settings[:3], epochs=2)  # warm-up
    pairs = [nets.time_batched_vs_one_at_a_time(settings, epochs=epochs) for _ in range(3 if quick else 5)]
    speedup = statistics.median(loop / batched for batched, loop in pairs)
    batched = statistics.median(b for b, _ in pairs)
    loop = statistics.median(l for _, l in pairs)
    return [Result(f"nb07 training, {len(settings)} runs x {epochs} epochs: batched vs loop",
                   f"{speedup:.1f}x ({batched * 1e3:.0f} ms vs {loop * 1e3:.0f} ms)",
                   f">= {MIN_SPEEDUP:.0f}x", speedup >= MIN_SPEEDUP)]
