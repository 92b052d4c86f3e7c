"""What a learner actually sees: every notebook in a real JupyterLab, in headless Chromium (the slides
are in test_slides.py; the shared server, browser and pages in conftest.py).

nbval proves the kernel side; these tests catch what only a browser shows: a widget that fails to
render ("Error displaying widget", an ipywidgets/ipympl version that does not match its JupyterLab
extension), math left as raw TeX, an explorer whose figure does not move with its slider, a
solution that shows.

One JupyterLab server (127.0.0.1, random token, a temporary copy of the notebooks as its root, every
Jupyter folder it writes in a temporary directory) and one Chromium serve the whole session; every
request that would leave the machine is aborted. Screenshots of a failure go to
``test-artifacts/browser/`` (or $BROWSER_ARTIFACTS). Without Chromium the tests are skipped with the
command that installs it.

    .venv/bin/python -m pytest tests/notebooks/test_browser.py -v
"""

import time
from pathlib import Path

import pytest

from browser_helpers import (
    JS_CANVAS_DRAWN,
    JS_PAGE_REPORT,
    expected_explorers,
    explorer_outputs,
    has_math,
    notebook_paths,
    open_notebook,
    run_all,
    saved_stderr_count,
    solutions,
)

pytestmark = pytest.mark.browser

NOTEBOOKS = notebook_paths()
RUN_TIMEOUT_MS = 240_000  # run-all of one notebook (nbval takes ~6 s for one today)
REDRAW_TIMEOUT_S = 30


# ----------------------------------------------------------------------------------- JupyterLab

def move_first_slider(output) -> tuple[str, str]:
    """Press a key on the explorer's first slider handle; return the value before and after.

    noUiSlider (ipywidgets 8) moves 5 steps on PageUp / PageDown; aria-valuetext holds the exact
    value (aria-valuenow is rounded). At the top end PageUp does nothing, so PageDown is tried next.
    """
    if output.locator(".widget-slider .noUi-handle").count() == 0:
        return change_other_control(output)
    handle = output.locator(".widget-slider .noUi-handle").first
    before = handle.get_attribute("aria-valuetext")
    handle.focus()
    for key in ("PageUp", "PageDown"):
        handle.press(key)
        deadline = time.monotonic() + 3
        while handle.get_attribute("aria-valuetext") == before and time.monotonic() < deadline:
            time.sleep(0.1)
        if handle.get_attribute("aria-valuetext") != before:
            break
    return before, handle.get_attribute("aria-valuetext")


def change_other_control(output) -> tuple[str, str]:
    """For an explorer without a slider: pick the next option of its first drop-down, else click its
    first checkbox or toggle button."""
    select = output.locator(".widget-dropdown select")
    if select.count():
        select = select.first
        before = select.input_value()
        options = select.locator("option").evaluate_all("os => os.map(o => o.value)")
        select.select_option(options[(options.index(before) + 1) % len(options)])
        return before, select.input_value()
    toggle = output.locator(".widget-checkbox input, .widget-toggle-button").first
    if toggle.count() == 0:
        return "no control", "no control"
    before = str(toggle.evaluate("e => e.checked ?? e.classList.contains('mod-active')"))
    toggle.click()
    return before, str(toggle.evaluate("e => e.checked ?? e.classList.contains('mod-active')"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_renders_and_its_explorers_react(notebook, lab, page_for):
    view = page_for(notebook.stem)
    page = view.page
    open_notebook(page, lab, notebook.name, f"test-{notebook.stem}")

    started = time.monotonic()
    run_all(page, RUN_TIMEOUT_MS)  # clears the saved outputs first: what follows is this run's
    ran_s = time.monotonic() - started

    explorers = expected_explorers(notebook)
    if explorers:
        page.wait_for_function(
            "n => document.querySelectorAll('.jp-OutputArea-output .jupyter-matplotlib canvas').length >= 2 * n"
            " || /Error displaying widget/.test(document.body.innerText)", arg=len(explorers), timeout=30_000)
    if has_math(notebook):
        page.wait_for_function("() => document.querySelectorAll('.jp-MarkdownCell mjx-container').length > 0",
                               timeout=30_000)
    page.wait_for_timeout(500)  # let the last typesetting and widget views settle
    report = page.evaluate(JS_PAGE_REPORT)

    problems = []
    if report["errors"]:
        problems.append("error output:\n" + "\n---\n".join(report["errors"]))
    stderr = report["stderr"]
    if len(stderr) > saved_stderr_count(notebook):
        problems.append("new stderr output (warnings):\n" + "\n---\n".join(t[:1000] for t in stderr))
    if report["widgetErrors"]:
        problems.append("widgets that did not render:\n" + "\n---\n".join(report["widgetErrors"]))
    if has_math(notebook) and report["mathCount"] == 0:
        problems.append("the markdown has $…$ math but nothing was typeset (no mjx-container)")
    if report["rawMath"]:
        problems.append("raw TeX left in rendered markdown:\n" + "\n".join(report["rawMath"]))

    outputs = explorer_outputs(page)
    if outputs.count() < len(explorers):
        problems.append(f"{len(explorers)} explorer(s) saved in the notebook ({'; '.join(explorers)}), "
                        f"{outputs.count()} rendered with an ipympl canvas")

    for index in range(outputs.count()):
        output = outputs.nth(index)
        name = f"explorer {index + 1} ({explorers[index] if index < len(explorers) else '?'})"
        output.scroll_into_view_if_needed()
        figure = output.locator(".jupyter-matplotlib-canvas-div").first
        try:
            page.wait_for_function(JS_CANVAS_DRAWN, arg=output.element_handle(), timeout=20_000)
        except Exception:
            problems.append(f"{name}: the figure's canvas stays blank")
            view.save(f"explorer{index + 1}-blank", figure)
            continue
        before_png = figure.screenshot()
        value_before, value_after = move_first_slider(output)
        if value_before == value_after:
            problems.append(f"{name}: its control did not change (value {value_before})")
            continue
        deadline = time.monotonic() + REDRAW_TIMEOUT_S
        after_png = figure.screenshot()
        while after_png == before_png and time.monotonic() < deadline:
            time.sleep(0.3)
            after_png = figure.screenshot()
        if after_png == before_png:
            view.save(f"explorer{index + 1}-unchanged", figure)
            problems.append(f"{name}: slider {value_before} -> {value_after} but the figure's pixels did not "
                            f"change within {REDRAW_TIMEOUT_S} s")

    console_errors = [line for line in view.console if line.startswith(("error:", "page error:"))]
    if console_errors:
        problems.append("errors in the browser console:\n" + "\n".join(console_errors))

    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    print(f"{notebook.name}: ran in {ran_s:.1f} s, {report['mathCount']} formulas, "
          f"{outputs.count()} explorer(s) checked")
    if view.blocked:
        print("requests blocked (not local):", *sorted(set(view.blocked)), sep="\n  ")
    assert not problems, f"{notebook.name} in JupyterLab:\n" + "\n\n".join(problems) + (
        "\n\nbrowser console:\n" + "\n".join(view.console[-30:]) if view.console else "")


# ------------------------------------------------------------------------------------ solutions


@pytest.fixture(scope="session")
def exercise_notebook() -> Path:
    with_solutions = [path for path in NOTEBOOKS if solutions(path)]
    if not with_solutions:
        pytest.skip("no notebook has a solution cell")
    return with_solutions[0]


JS_CELL_NODE = """([index, id]) => {
  const notebook = window.jupyterapp.shell.currentWidget.content;
  notebook.activeCellIndex = index;
  notebook.scrollToItem(index);
  const cell = notebook.widgets[index];
  cell.node.id = id;
  return cell.inputHidden && cell.outputHidden;
}"""


def test_solutions_show_collapsed_and_open_on_click(lab, page_for, exercise_notebook):
    page = page_for(f"solutions-{exercise_notebook.stem}").page
    open_notebook(page, lab, exercise_notebook.name, f"solutions-{exercise_notebook.stem}")
    for number, (index, name) in enumerate(solutions(exercise_notebook)):
        assert page.evaluate(JS_CELL_NODE, [index, f"solution-{number}"]), f"cell {index} shows its source or verdict"
        cell = page.locator(f"#solution-{number}")
        placeholder = cell.locator(".jp-InputPlaceholder .jp-Placeholder-content")
        placeholder.wait_for(state="visible")
        assert "Solution" in placeholder.inner_text() and name not in cell.inner_text()
        assert cell.locator(".jp-OutputPlaceholder").count() == 1, "the solution's verdict shows"
        if number == 0:  # a click opens it
            placeholder.click()
            page.wait_for_function(f"() => !window.jupyterapp.shell.currentWidget.content.widgets[{index}].inputHidden")
            cell.locator(".jp-InputArea-editor").wait_for(state="visible")
            assert name in cell.inner_text()
