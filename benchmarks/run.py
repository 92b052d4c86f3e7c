"""Run the benchmarks, print a table (figure, target, pass/fail) and exit 1 if a target is missed.

    python -m benchmarks                    # everything
    python -m benchmarks --quick            # fewer repeats, notebooks left out (for iterating)
    python -m benchmarks optim explorers    # some of: import optim nets explorers latency notebooks
    python -m benchmarks --nb-repeats 3     # notebooks timed as the median of 3 passes
"""

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bench_explorers, bench_import, bench_latency, bench_nets, bench_notebooks, bench_optim

BENCHMARKS = {
    "import": bench_import,
    "optim": bench_optim,
    "nets": bench_nets,
    "explorers": bench_explorers,
    "latency": bench_latency,
    "notebooks": bench_notebooks,
}


def table(results) -> str:
    rows = [("benchmark", "figure", "target", "result")] + [
        (r.name, r.figure, r.target, "pass" if r.passed else "MISS") for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {r.name}: {r.note}" for r in results if r.note]
    return "\n".join(lines + (["", "notes:"] + notes if notes else []))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", metavar="NAME", help=f"benchmarks to run, of: {' '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats; notebooks only if named")
    parser.add_argument("--nb-repeats", type=int, default=3, help="passes over the notebooks (median taken)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.which if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    which = args.which or [name for name in BENCHMARKS if not (args.quick and name == "notebooks")]
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs", flush=True)
    results = []
    for name in which:
        start = time.perf_counter()
        module = BENCHMARKS[name]
        got = module.run(args.quick, args.nb_repeats) if name == "notebooks" else module.run(args.quick)
        results += got
        print(f"[{name}: {sum(r.passed for r in got)}/{len(got)} met, {time.perf_counter() - start:.0f} s]", flush=True)
    print(table(results))
    missed = [r for r in results if not r.passed]
    print(f"\n{len(results) - len(missed)}/{len(results)} targets met"
          + (f"; missed: {len(missed)}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
