"""Each course_lib optimizer step on 4 million float32 parameters in a few arrays takes at most 1.5x
the time of ``torch.optim`` with ``foreach=True``, same CPU, same process, interleaved. Also: the
memory-bandwidth floor (bytes a step must move / measured copy bandwidth) and how close each comes."""

import statistics
import time

import numpy as np

from benchmarks.common import Result, ms

MAX_RATIO = 1.5
SHAPES = [(2000, 1000), (1000, 1000), (500, 1000), (250, 1000), (250, 1000)]  # 4,000,000 parameters

# name: (course_lib / torch class name, keyword arguments, arrays touched per step (read + write) per parameter)
# SGD+momentum reads p, g, buf and writes buf, p; RMSprop reads p, g, square_avg and writes two;
# Adam(W) reads p, g, exp_avg, exp_avg_sq and writes three.
CASES = {
    "SGD momentum": ("SGD", {"lr": 1e-2, "momentum": 0.9}, 5),
    "RMSprop": ("RMSprop", {"lr": 1e-2}, 5),
    "Adam": ("Adam", {"lr": 1e-3}, 7),
    "AdamW": ("AdamW", {"lr": 1e-3, "weight_decay": 1e-2}, 7),
}


def copy_bandwidth(repeats: int) -> tuple[float, float]:
    """Bytes per second of a copy of a 64 MB float32 array, counting the read and the write:
    with np.copyto (one thread) and with torch's copy_ (torch's threads, as its optimizers use)."""
    import torch

    src = np.random.default_rng(0).standard_normal(16_000_000).astype(np.float32)
    dst = np.empty_like(src)
    tsrc, tdst = torch.from_numpy(src.copy()), torch.empty(len(src))
    speeds = []
    for copy in (lambda: np.copyto(dst, src), lambda: tdst.copy_(tsrc)):
        copy()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            copy()
            times.append(time.perf_counter() - start)
        speeds.append(2 * src.nbytes / statistics.median(times))
    return speeds[0], speeds[1]


def arrays(seed: int):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape, dtype=np.float32) for shape in SHAPES]


def run(quick: bool) -> list[Result]:
    import torch

    from course_lib import optim

    repeats = 7 if quick else 21
    numpy_bandwidth, torch_bandwidth = copy_bandwidth(repeats)
    bandwidth = max(numpy_bandwidth, torch_bandwidth)  # the floor uses the faster copy
    count = sum(int(np.prod(s)) for s in SHAPES)
    results = []
    for label, (cls, kwargs, arrays_moved) in CASES.items():
        params, grads = arrays(1), arrays(2)
        ours = getattr(optim, cls)(params, **kwargs)
        tparams = [torch.tensor(p.copy()) for p in params]
        for p, g in zip(tparams, grads):
            p.grad = torch.tensor(g)
        theirs = getattr(torch.optim, cls)(tparams, foreach=True, **kwargs)
        ours.step(grads)   # the first step creates the state; not timed
        theirs.step()
        ours_t, theirs_t = [], []
        for _ in range(repeats):  # interleaved, so both see the same machine load
            start = time.perf_counter()
            ours.step(grads)
            ours_t.append(time.perf_counter() - start)
            start = time.perf_counter()
            theirs.step()
            theirs_t.append(time.perf_counter() - start)
        ratio = statistics.median(o / t for o, t in zip(ours_t, theirs_t))
        ours_s, theirs_s = statistics.median(ours_t), statistics.median(theirs_t)
        floor = arrays_moved * 4 * count / bandwidth
        results.append(Result(
            f"optimizer step {label}, 4M float32 / torch foreach",
            f"{ratio:.2f}x ({ms(ours_s)} vs {ms(theirs_s)})",
            f"<= {MAX_RATIO}x", ratio <= MAX_RATIO,
            note=f"floor {ms(floor)} ({arrays_moved} arrays x 16 MB at {bandwidth / 1e9:.1f} GB/s; copy "
                 f"np.copyto {numpy_bandwidth / 1e9:.1f}, torch copy_ {torch_bandwidth / 1e9:.1f} GB/s): "
                 f"ours {ours_s / floor:.1f}x floor, torch {theirs_s / floor:.1f}x floor "
                 f"(torch threads {torch.get_num_threads()})"))
    return results
