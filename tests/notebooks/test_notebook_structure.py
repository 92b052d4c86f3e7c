"""Every notebook follows the course template and was saved as `make notebooks` leaves it.

nbval (in `make test`) proves the outputs are reproducible; these tests check what nbval cannot:
that the outputs are there at all, in order, without errors or warnings, and that each notebook
has the parts a learner and a lecturer rely on.
"""

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

from test_layers import NOTEBOOK_LESSONS  # the lesson each notebook imports

from course_lib.interactive.checking import Question

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", None}
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


def series_table():
    """{number: row} of the README's table of notebooks."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return {int(row[2:4]): row for row in re.findall(r"^\| \d\d \|.*$", readme, flags=re.M)}


def test_notebooks_are_numbered_from_00_without_gaps_except_the_ones_announced():
    """A number may be missing only while the README's table says that notebook is coming."""
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers and numbers == sorted(set(numbers)), numbers
    table = series_table()
    assert sorted(table) == list(range(max(numbers) + 1)), sorted(table)
    for number, row in table.items():
        assert (number in numbers) != ("(coming)" in row), row


def test_every_link_to_a_notebook_leads_to_one():
    """Relative links in the README and in every notebook's text point to notebooks that exist."""
    texts = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    texts |= {path.name: "".join("".join(cell["source"]) for cell in load(path)["cells"]) for path in NOTEBOOKS}
    for name, text in texts.items():
        for target in re.findall(r"\]\(([^)#\s]+\.ipynb)", text):
            base = ROOT if name == "README.md" else ROOT / "notebooks"
            assert (base / target).is_file(), f"{name} links {target}, which does not exist"


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
def test_every_cell_has_a_unique_id(path):
    """nbformat 4.5: without ids, JupyterLab and nbformat warn and invent new ones on every save."""
    ids = [cell.get("id") for cell in load(path)["cells"]]
    assert None not in ids and len(set(ids)) == len(ids)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_a_known_slide_type(path):
    """A cell continues the slide before it when it has no slide type. The continuing type is never
    written out as "-": the live slideshow in JupyterLab hides such a cell (jupyterlab-slideshow 0.3.4),
    while exported decks read both forms alike."""
    for number, cell in enumerate(load(path)["cells"]):
        slide_type = cell["metadata"].get("slideshow", {}).get("slide_type")
        assert slide_type in SLIDE_TYPES, f"cell {number} has the unknown slide type {slide_type!r}"
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


# --------------------------------------------------------------------------------------------------
# Exercises: a stub the learner fills in, then a collapsed solution (DESIGN.md, "Exercises")
# --------------------------------------------------------------------------------------------------

CHECK_CALL = re.compile(r"lesson\.(check_\w+)\((\w+)\)")


def saved_text(cell):
    return "".join("".join(output.get("data", {}).get("text/plain", output.get("text", "")))
                   for output in cell.get("outputs", []))


def defined_names(source):
    """The names a cell defines at its top level (functions, classes, assignments, imports)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def is_solution(cell):
    return "solution" in cell["metadata"].get("tags", [])


def exercises(notebook):
    """(stub, solution) pairs: a cell whose check says "Not attempted yet" and the cell after it."""
    cells = notebook["cells"]
    return [(cell, cells[i + 1] if i + 1 < len(cells) else None) for i, cell in enumerate(cells)
            if cell["cell_type"] == "code" and saved_text(cell).startswith("Not attempted yet:")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_is_a_stub_followed_by_its_collapsed_solution(path):
    notebook = load(path)
    pairs = exercises(notebook)
    assert pairs, "no exercise whose saved check says 'Not attempted yet'"
    for stub, solution in pairs:
        stub_source = "".join(stub["source"])
        assert "NotImplementedError" in stub_source or "..." in stub_source, stub_source[:200]
        assert not is_solution(stub), "a stub is tagged 'solution'"
        assert solution is not None and solution["cell_type"] == "code" and is_solution(solution), \
            f"the cell after the stub is not its solution:\n{stub_source[:200]}"
        solution_source = "".join(solution["source"])
        assert solution["metadata"].get("jupyter") == {"source_hidden": True, "outputs_hidden": True}, \
            "the solution (its code and its verdict) is not collapsed"
        assert solution["metadata"].get("slideshow", {}).get("slide_type") == "skip", "the solution shows in slides"
        assert [name for name, _ in CHECK_CALL.findall(stub_source)] == \
               [name for name, _ in CHECK_CALL.findall(solution_source)], "the solution runs another check"
        assert saved_text(solution).startswith("Correct!"), saved_text(solution)[:200]
        overwritten = defined_names(stub_source) & defined_names(solution_source)
        assert not overwritten, f"running the solution would overwrite the learner's {overwritten}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_answer_is_visible_outside_a_solution(path):
    """A learner sees "Correct!" only under a collapsed solution; every solution follows its stub."""
    notebook = load(path)
    stubs_and_solutions = {id(cell) for pair in exercises(notebook) for cell in pair}
    for number, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        if saved_text(cell).startswith("Correct!"):
            assert is_solution(cell), f"cell {number} shows a passing check outside a solution"
        if is_solution(cell):
            assert id(cell) in stubs_and_solutions, f"solution cell {number} does not follow a stub"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if not p.name.startswith("00")], ids=lambda p: p.name)
def test_technique_notebooks_have_a_task_that_makes_the_learner_think(path):
    """At least one predict / choose / interpret question, each asked in a stub."""
    lesson = importlib.import_module(f"course_lib.lessons.{NOTEBOOK_LESSONS[path.name[:2]]}")
    questions = [value for value in vars(lesson).values() if isinstance(value, Question)]
    assert questions, f"course_lib.lessons.{lesson.__name__} has no Question"
    asked = {argument for stub, _ in exercises(load(path)) for _, argument in CHECK_CALL.findall("".join(stub["source"]))}
    for question in questions:
        assert question.name in asked, f"the question `{question.name}` is not asked in a stub"
