"""Execute the course notebooks in place, top to bottom, each in a fresh kernel.

This is the only way committed outputs are produced (``make notebooks``); nbval then proves in
``make test`` that executing them again gives the same outputs.

    python tools/execute_notebooks.py                      # every notebook
    python tools/execute_notebooks.py notebooks/01_*.ipynb # some of them, by path
    python tools/execute_notebooks.py 01 5                 # or by number
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TIMEOUT_PER_CELL_S = 120


def execute(path: Path) -> float:
    """Run one notebook in a fresh kernel with its folder as working directory; return seconds."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_PER_CELL_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        coalesce_streams=True,  # one output per stream, however the kernel split its flushes
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(notebook, path)
    return seconds


def notebook_path(argument: str) -> Path:
    """A notebook given by its path or by its number ("02" or "2")."""
    if argument.isdigit():
        found = sorted(NOTEBOOKS.glob(f"{int(argument):02d}_*.ipynb"))
        if len(found) != 1:
            sys.exit(f"no notebook numbered {argument} in {NOTEBOOKS}")
        return found[0]
    return Path(argument).resolve()


def main(arguments: list[str]) -> None:
    paths = [notebook_path(a) for a in arguments] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(f"{path.name:<50} {execute(path):6.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
