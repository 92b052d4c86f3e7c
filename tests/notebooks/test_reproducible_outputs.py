"""Every number a notebook prints survives a change of one part in 10¹² in its experiment's inputs.

CPUs differ in the last bits of exp, log, sums and matrix products, and a chaotic run (minibatch
training, a cliff) amplifies that into printed digits. Each notebook is executed here in a fresh
kernel in which every input is perturbed first (random data and initial weights, starting points,
fixed data series: see ``perturb_inputs``), and the text it prints, after its own rounding and the
same sanitizing as nbval, must equal the committed output cell by cell. A number that fails this
is printed with fewer digits, as a statistic over seeds, or as a verdict.
"""

import configparser
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

TESTS = Path(__file__).resolve().parent
NOTEBOOKS = sorted((TESTS.parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
INSTALL = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import perturb_inputs; perturb_inputs.install()"


def sanitizers():
    config = configparser.ConfigParser()
    config.read(TESTS / "sanitize.cfg", encoding="utf-8")
    return [(re.compile(config[section]["regex"]), config[section]["replace"]) for section in config.sections()]


SANITIZERS = sanitizers()


def printed_text(cell):
    """What a cell prints for a reader: streams, errors, plain-text results and the verdicts of checks
    (Markdown with a plain-text twin), sanitized like nbval."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
        elif set(output.get("data", {})) in ({"text/plain"}, {"text/plain", "text/markdown"}):
            parts.append(output["data"]["text/plain"])  # a result, or a check's verdict; not a figure's repr
    text = "".join(parts)
    for pattern, replacement in SANITIZERS:
        text = pattern.sub(replacement, text)
    return text


def compared_cells(notebook):
    """The code cells whose output nbval compares (not those it is told to ignore, by tag or comment)."""
    return [(index, cell) for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and "NBVAL_IGNORE_OUTPUT" not in cell.source
            and "nbval-ignore-output" not in cell.metadata.get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_printed_numbers_survive_perturbed_inputs(path):
    committed = nbformat.read(path, as_version=4)
    perturbed = nbformat.read(path, as_version=4)
    perturbed.cells.insert(0, nbformat.v4.new_code_cell(INSTALL))
    NotebookClient(perturbed, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    perturbed.cells.pop(0)

    changed = [f"cell {index}:\n--- committed\n{printed_text(cell)}\n+++ inputs perturbed by 1e-12\n"
               f"{printed_text(perturbed.cells[index])}"
               for index, cell in compared_cells(committed)
               if printed_text(cell) != printed_text(perturbed.cells[index])]
    assert not changed, "\n".join(changed)
