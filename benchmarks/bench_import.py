"""`import course_lib` takes at most 0.5 s and loads neither torch nor matplotlib (fresh subprocess)."""

import json
import statistics
import subprocess
import sys

from benchmarks.common import Result

LIMIT_S = 0.5
HEAVY = ("torch", "matplotlib")

PROBE = f"""
import json, sys, time
start = time.perf_counter()
import course_lib
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def one_import() -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool) -> list[Result]:
    probes = [one_import() for _ in range(3 if quick else 7)]
    seconds = statistics.median(p["seconds"] for p in probes)
    loaded = sorted({m for p in probes for m in p["loaded"]})
    return [
        Result("import course_lib: time", f"{seconds * 1e3:.1f} ms", f"<= {LIMIT_S * 1e3:.0f} ms", seconds <= LIMIT_S),
        Result("import course_lib: heavy modules", ", ".join(loaded) or "none loaded",
               "no torch, no matplotlib", not loaded),
    ]
