"""What a learner sees is self-contained, cited and fits a slide.

A learner has the repository and nothing else: no notebook, check message or displayed docstring
names the course's internal documents or test tools; every notebook ends with its References; no
printed line is wider than 100 characters.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_OUTPUT_WIDTH = 100
INTERNAL = re.compile(r"seed[ _-]?notes?|seed['’]s|\bseed_(?:picture|step|formula|version)|REFERENCES\.md|DESIGN\.md"
                      r"|\bnbval\b|NBVAL|the references['’]|reference numbers", re.IGNORECASE)
"""Names of what the learner does not have: the notes the course grew from, our own reference and design
files, the test tool."""


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def output_text(cell):
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append("".join(output["text"]))
        elif "text/plain" in output.get("data", {}):
            parts.append("".join(output["data"]["text/plain"]))
        elif output["output_type"] == "error":
            parts.append(output["evalue"])
    return "".join(parts)


def learner_visible(path):
    """(where, text) of every markdown cell, code cell and printed output of the notebook."""
    for number, cell in enumerate(cells(path)):
        yield f"cell {number} ({cell['cell_type']})", "".join(cell["source"])
        if cell["cell_type"] == "code":
            yield f"cell {number} (output)", output_text(cell)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_no_internal_names_in_what_a_learner_sees(path):
    found = [f"{where}: {match.group(0)!r}" for where, text in learner_visible(path)
             for match in INTERNAL.finditer(text)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_every_notebook_ends_with_its_references(path):
    markdown = ["".join(cell["source"]) for cell in cells(path) if cell["cell_type"] == "markdown"]
    headings = [i for i, text in enumerate(markdown) if text.lstrip().startswith("## References")]
    assert headings and not any(text.lstrip().startswith("#") for text in markdown[headings[-1] + 1:]), \
        "the notebook does not end with its References (a slide may continue them in a cell without a heading)"
    last = "\n".join(markdown[headings[-1]:])
    entries = [line for line in last.splitlines() if line.lstrip().startswith(("-", "*", "1."))]
    assert entries and all(re.search(r"\(\d{4}\)|\b(19|20)\d{2}\b", entry) for entry in entries), \
        "each reference gives its year"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_printed_lines_fit_a_slide(path):
    wide = [f"cell {number}: {len(line)} characters: {line[:60]}…"
            for number, cell in enumerate(cells(path)) if cell["cell_type"] == "code"
            for line in output_text(cell).splitlines() if len(line) > MAX_OUTPUT_WIDTH]
    assert not wide, "\n".join(wide)


@pytest.mark.parametrize("text, internal", [
    ("as the seed notes say", True), ("the seed's formula", True), ("seed_picture = 1", True),
    ("see REFERENCES.md", True), ("# NBVAL_IGNORE_OUTPUT", True), ("three seeds, seed 0", False),
    ("a common misstatement is", False), ("Kingma & Ba (2015), Algorithm 1", False),
])
def test_the_internal_names_are_recognised(text, internal):
    assert bool(INTERNAL.search(text)) == internal


def references_text(path) -> str:
    """The markdown of a notebook from its "## References" heading to the end."""
    markdown = ["".join(cell["source"]) for cell in cells(path) if cell["cell_type"] == "markdown"]
    start = max(i for i, text in enumerate(markdown) if text.lstrip().startswith("## References"))
    return "\n".join(markdown[start:])


def test_the_readme_bibliography_names_the_notebooks_that_cite_each_work():
    """Each entry of the README's bibliography ends with "Notebook(s) NN, …": exactly the notebooks whose
    References list a work by that first author in that year (for PyTorch's documentation and paper: any
    reference to PyTorch)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    bibliography = readme[readme.index("## Bibliography"):]
    cited = {path.name[:2]: references_text(path).split("\n- ") for path in NOTEBOOKS}
    wrong = []
    for entry in re.findall(r"^- (.+)$", bibliography, flags=re.M):
        surname, year = entry.split(",")[0], re.search(r"\((\d{4})\)", entry).group(1)
        said = re.search(r"Notebooks? ([\d, ]+)\.?$", entry)
        said = set(re.findall(r"\d\d", said.group(1))) if said else set()
        matches = ((lambda line: "PyTorch" in line) if surname.startswith("PyTorch") else
                   (lambda line: surname in line and f"({year}" in line))
        found = {number for number, lines in cited.items() if any(map(matches, lines))}
        if said != found:
            wrong.append(f"{surname} ({year}): README says {sorted(said)}, References of {sorted(found)}")
    assert not wrong, "\n".join(wrong)


def test_every_work_a_notebook_cites_is_in_the_readme_bibliography():
    """The README's list is the whole bibliography: each reference (first author and year) of every
    notebook has its entry there; PyTorch's documentation has one entry for all."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    entries = re.findall(r"^- (.+)$", readme[readme.index("## Bibliography"):], flags=re.M)
    missing = []
    for path in NOTEBOOKS:
        for reference in references_text(path).split("\n- ")[1:]:
            if reference.startswith("PyTorch"):
                continue
            authors, year = reference.split("(")[0], re.search(r"\((\d{4})\)", reference).group(1)
            first = re.split(r",| and | & | et al", authors)[0].strip()
            surname = first.split()[-1]    # "Polyak, B. T." gives Polyak; "Diederik P. Kingma", Kingma
            if not any(surname in entry and f"({year}" in entry for entry in entries):
                missing.append(f"{path.name[:2]}: {reference[:70]}")
    assert not missing, "\n".join(missing)
