"""Every notebook follows the course template and was saved as `make notebooks` leaves it.

nbval (in `make test`) proves the outputs are reproducible; these tests check what nbval cannot:
that the outputs are there at all, in order, without errors or warnings, and that each notebook
has the parts a learner and a lecturer rely on.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}
# Headings every technique notebook (01 onwards) has, in this order (see DESIGN.md, "the template").
TEMPLATE_HEADINGS = ["The idea", "The equations", "The code", "Verified", "Explore", "reproduced", "GPU", "Pitfalls",
                     "Exercises", "Summary"]


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code" and "".join(cell["source"]).strip()]


def headings(notebook):
    return [line.lstrip("#").strip() for cell in notebook["cells"] if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines() if line.startswith("## ")]


def test_notebooks_are_numbered_from_00_without_gaps():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(len(numbers))) and numbers, numbers


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_as_executed_top_to_bottom_without_errors(path):
    cells = code_cells(load(path))
    assert [cell["execution_count"] for cell in cells] == list(range(1, len(cells) + 1))
    for number, cell in enumerate(cells, 1):
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"cell [{number}] has an error: {output.get('evalue')}"
            assert output.get("name") != "stderr", f"cell [{number}] writes to stderr: {''.join(output['text'])[:200]}"
            text = json.dumps(output.get("text", "")) + json.dumps(output.get("data", {}).get("text/plain", ""))
            assert not re.search(r"/(work|root|home|tmp)/", text), f"cell [{number}] prints a local path"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_slide_metadata(path):
    for number, cell in enumerate(load(path)["cells"]):
        slide_type = cell["metadata"].get("slideshow", {}).get("slide_type")
        assert slide_type in SLIDE_TYPES, f"cell {number} has no slide type"
    assert load(path)["cells"][0]["metadata"]["slideshow"]["slide_type"] == "slide"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_title_what_you_will_do_and_prerequisites(path):
    first = "".join(load(path)["cells"][0]["source"])
    assert first.startswith(f"# {path.name[:2]} · ")
    for part in ("In this notebook you will", "Prerequisites"):
        assert part in first, f"the first cell lacks {part!r}"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if not p.name.startswith("00")], ids=lambda p: p.name)
def test_technique_notebooks_follow_the_template(path):
    notebook = load(path)
    found = headings(notebook)
    positions = []
    for heading in TEMPLATE_HEADINGS:
        matches = [i for i, text in enumerate(found) if heading.lower() in text.lower()]
        assert matches, f"no '## …{heading}…' section (sections: {found})"
        positions.append(matches[0])
    assert positions == sorted(positions), f"template sections out of order: {found}"
    sources = ["".join(cell["source"]) for cell in code_cells(notebook)]
    assert any("show_source(" in source for source in sources), "the code is not displayed from course_lib"
    assert any("pick_device()" in source for source in sources), "no GPU-optional PyTorch cell"
    assert any("Explorer(" in source for source in sources), "no explorer"
    assert any(re.search(r"lesson\.check_\w+\(", source) for source in sources), "no checked exercise"


def test_readme_links_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"(notebooks/{path.name})" in readme, f"README does not link {path.name}"
