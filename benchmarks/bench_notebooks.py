"""The whole notebook series executes under nbval in at most 150 s in all, no notebook over 25 s
(kernel start included): ``pytest notebooks/NN.ipynb --nbval ...`` per notebook, one after another."""

import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Result

TOTAL_LIMIT_S = 150.0
EACH_LIMIT_S = 25.0
ROOT = Path(__file__).resolve().parent.parent
NBVAL = ["--nbval", "--nbval-current-env", "--nbval-sanitize-with", "tests/notebooks/sanitize.cfg", "-q", "-p", "no:cacheprovider"]


def time_notebook(path: Path) -> tuple[float, bool]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", str(path.relative_to(ROOT)), *NBVAL],
                          cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - start, done.returncode == 0


def run(quick: bool, repeats: int = 1) -> list[Result]:
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    seconds = {nb.name: [] for nb in notebooks}
    failed = set()
    for _ in range(repeats):
        for nb in notebooks:
            took, ok = time_notebook(nb)
            seconds[nb.name].append(took)
            if not ok:
                failed.add(nb.name)
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    results = [Result(f"nbval {name[:2]} ({name[3:-6]})", f"{s:.1f} s", f"<= {EACH_LIMIT_S:.0f} s",
                      s <= EACH_LIMIT_S, note="nbval FAILED" if name in failed else "")
               for name, s in medians.items()]
    total = sum(medians.values())
    results.append(Result(f"nbval all {len(notebooks)} notebooks, one after another", f"{total:.1f} s",
                          f"<= {TOTAL_LIMIT_S:.0f} s", total <= TOTAL_LIMIT_S,
                          note=f"median of {repeats} pass(es)" + (f"; failed: {', '.join(sorted(failed))}" if failed else "")))
    return results
