"""course_lib's layers, and who may import whom.

    course_lib/optim/ schedules.py clipping.py averages.py swa_utils.py   the mirror of torch.optim
    course_lib/lab/           the shared equipment
    course_lib/interactive/   canvas, explorer base, exercise checking
    course_lib/lessons/       one lesson per notebook

Imports go downward only: lessons → interactive → lab → the mirror, and no lesson imports another
(what two share moves down). No module is over 700 lines. A notebook imports the mirror, the lab
and its own lesson, nothing else of course_lib.
"""

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "course_lib"
MAX_LINES = 700
RANK = {"mirror": 0, "lab": 1, "interactive": 2, "lessons": 3}
NOTEBOOK_LESSONS = {"00": "welcome", "01": "ewa", "02": "momentum", "03": "rmsprop", "04": "adam", "05": "decay",
                    "06": "saddles", "07": "showdown", "08": "adamw", "09": "gradient_clipping",
                    "10": "mixed_precision", "11": "weight_averaging", "12": "beyond_adam", "13": "recipe"}
"""The lesson each notebook imports, by the notebook's number."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> tuple[str, str | None]:
    """(layer, lesson) of a course_lib module: the lesson is set for course_lib.lessons.<lesson>…"""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ("lab", "interactive"):
        return parts[1], None
    if len(parts) >= 2 and parts[1] == "lessons":
        return "lessons", parts[2] if len(parts) > 2 else None
    return "mirror", None


def imported_modules(source: str, module: str) -> list[str]:
    """Every course_lib module ``source`` imports, at any depth (``from course_lib import lab`` names
    course_lib.lab; ``from course_lib.lab import plots`` names course_lib.lab.plots)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [f"{node.module}.{alias.name}" if node.module.count(".") < 2 else node.module
                      for alias in node.names]
    return [name for name in found if name == "course_lib" or name.startswith("course_lib.")]


def import_violations(module: str, imports: list[str]) -> list[str]:
    """What breaks the rules when ``module`` imports ``imports``."""
    own_layer, own_lesson = layer(module)
    problems = []
    for target in imports:
        if target == "course_lib":
            continue
        target_layer, target_lesson = layer(target)
        if RANK[target_layer] > RANK[own_layer]:
            problems.append(f"{module} ({own_layer}) imports {target} ({target_layer}): imports go downward only")
        elif target_layer == "lessons" and own_layer == "lessons" and target_lesson not in (own_lesson, None):
            problems.append(f"{module} imports {target}: a lesson never imports another; move what they share down")
    return problems


def notebook_violations(notebook: str, imports: list[str]) -> list[str]:
    own = NOTEBOOK_LESSONS[notebook]
    problems = []
    for target in imports:
        target_layer, target_lesson = layer(target)
        if target_layer == "interactive" or (target_layer == "lessons" and target_lesson != own):
            problems.append(f"notebook {notebook} imports {target}: only the mirror, the lab and "
                            f"course_lib.lessons.{own}")
    return problems


MODULES = sorted(PACKAGE.rglob("*.py"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_imports_go_downward_and_no_lesson_imports_another(path):
    module = module_name(path)
    assert import_violations(module, imported_modules(path.read_text(encoding="utf-8"), module)) == []


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_is_over_700_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_every_layer_and_every_notebook_s_lesson_is_there():
    for folder in ("lab", "interactive", "lessons"):
        assert (PACKAGE / folder / "__init__.py").exists()
    for mirror in ("optim", "schedules", "clipping", "averages", "swa_utils"):
        assert (PACKAGE / f"{mirror}.py").exists() or (PACKAGE / mirror / "__init__.py").exists()
    for lesson in NOTEBOOK_LESSONS.values():
        assert (PACKAGE / "lessons" / f"{lesson}.py").exists() or (PACKAGE / "lessons" / lesson / "__init__.py").exists()
    assert sorted(path.name[:2] for path in NOTEBOOKS) == sorted(NOTEBOOK_LESSONS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_a_notebook_imports_the_mirror_the_lab_and_its_own_lesson(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    source = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    python = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    imports = imported_modules(python, "notebook")
    assert f"course_lib.lessons.{NOTEBOOK_LESSONS[path.name[:2]]}" in imports
    assert notebook_violations(path.name[:2], imports) == []


# The rules themselves can fail: each broken import of this table is caught, each allowed one is not.
@pytest.mark.parametrize("module, source, broken", [
    ("course_lib.optim", "from course_lib.lab import plots", True),
    ("course_lib.optim", "import numpy as np\nfrom course_lib import averages", False),
    ("course_lib.lab.plots", "from course_lib.interactive import explorer", True),
    ("course_lib.lab.plots", "def f():\n    from course_lib.lessons import adam", True),
    ("course_lib.lab.runner", "from course_lib import optim\nfrom course_lib.lab.landscapes import Landscape", False),
    ("course_lib.interactive.explorer", "from course_lib.lessons.saddles import escape_step", True),
    ("course_lib.interactive.explorer", "from course_lib.lab import plots, runner", False),
    ("course_lib.lessons.saddles", "from course_lib.lessons import adam", True),
    ("course_lib.lessons.saddles", "from course_lib.lessons.decay import run_sgd", True),
    ("course_lib.lessons.recipe.explorer", "from course_lib.lessons.recipe.training import RECIPE", False),
    ("course_lib.lessons.recipe", "from course_lib.lessons.recipe.training import RECIPE", False),
    ("course_lib.lessons.saddles", "from course_lib.interactive.explorer import Explorer", False),
])
def test_the_import_rules_catch_what_they_should(module, source, broken):
    assert bool(import_violations(module, imported_modules(source, module))) == broken


@pytest.mark.parametrize("notebook, source, broken", [
    ("06", "from course_lib.lessons import saddles as lesson\nfrom course_lib.lab import plots", False),
    ("06", "from course_lib.lessons import decay", True),
    ("06", "from course_lib.interactive.checking import check_function", True),
    ("06", "from course_lib import optim, clipping", False),
])
def test_the_notebook_rule_catches_what_it_should(notebook, source, broken):
    assert bool(notebook_violations(notebook, imported_modules(source, "notebook"))) == broken
