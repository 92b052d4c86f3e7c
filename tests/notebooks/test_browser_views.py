"""An explorer outside the single run in one tab: saved and reopened, shown in two pages at once, and
a picture that comes in two.

- Save and reopen: JupyterLab saves a run notebook with its widgets' state (the course turns
  ``saveState`` on, ``jupyter-config/lab-settings/course_lib.json``). Reopened with its kernel shut
  down, each explorer shows the picture it showed when saved, never "Error displaying widget: model
  not found"; run again, it is live.
- Two views: two pages (two browser tabs) on one kernel each hold their own copy of the canvas
  model and get every frame the kernel sends. After quick slider moves, one page moving while the
  other is too busy to paint each frame as it comes, both show the kernel's own picture, pixel for
  pixel (``LayeredCanvas`` sends whole frames: a view that skips one loses nothing; with ipympl's
  change-only frames the busy page keeps a mix of pictures).
- A picture in two: the recipe's explorer, moved to a setting not trained yet, shows a first picture
  at once (its widget marked as working meanwhile) and the whole picture once the run is done, the
  one the kernel drew (``Explorer.result_or_later``).

The pictures are compared exactly: at a device pixel ratio of 1 ipympl copies the PNG the kernel
sends onto the page's canvas pixel for pixel, and ``canvas.toDataURL()`` reads it back losslessly.

    .venv/bin/python -m pytest tests/notebooks/test_browser_views.py -v
"""

import base64
import io
import json
import re
import time

import nbformat
import numpy as np
import pytest
from PIL import Image

from course_lib.interactive.canvas import LayeredCanvas
from course_lib.interactive.explorer import Explorer
from browser_helpers import JS_IDLE_AND_DONE, NOTEBOOKS, WIDGET_VIEW, explorer_outputs, open_notebook, run_all

pytestmark = pytest.mark.browser

SOURCE = NOTEBOOKS / "02_gradient_descent_with_momentum.ipynb"
"""A notebook with an explorer (three sliders and a checkbox); the tests run a short copy of it."""
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MODEL_REFERENCE = re.compile(r"IPY_MODEL_(\w+)")
SETTLE_S = 15

# ---------------------------------------------------------------------------------- the page side

JS_CANVASES = """() => [...document.querySelectorAll(
    '.jp-OutputArea-output .jupyter-matplotlib-canvas-div canvas:first-child')]
    .filter(c => c.width > 0 && c.height > 0).map(c => c.toDataURL())"""
"""What each explorer's figure canvas on the page shows, as PNG data URLs (lossless). A canvas not laid out
yet (while a run replaces the output) has no pixels and no PNG: it is left out."""

JS_EXPLORER_MODEL_IDS = """() => window.jupyterapp.shell.currentWidget.content.widgets
    .filter(cell => cell.model.type === 'code').flatMap(cell => cell.model.outputs.toJSON())
    .filter(o => o.data && o.data['application/vnd.jupyter.widget-view+json'])
    .map(o => o.data['application/vnd.jupyter.widget-view+json'].model_id)"""

JS_KERNEL_STDOUT = """async (code) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const future = kernel.requestExecute({code, silent: false, store_history: false});
    let out = '';
    future.onIOPub = msg => { if (msg.header.msg_type === 'stream') out += msg.content.text;
                              if (msg.header.msg_type === 'error') out += 'ERROR ' + msg.content.evalue; };
    await future.done;
    return out;
}"""
"""Runs ``code`` in the notebook's kernel without touching the notebook; returns what it printed."""

JS_BUSY = "ms => { setTimeout(() => { const end = Date.now() + ms; while (Date.now() < end); }, 0); }"
"""Keeps the page's JavaScript busy for ``ms`` from just after it returns: the frames that arrive
meanwhile wait, and are then handled one right after the other."""
BUSY_MS = 1500

JS_KERNEL_ID = "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.id"

KERNEL_PICTURE = """
import base64
from ipywidgets.widgets.widget import _instances
print(base64.b64encode(_instances[{model_id!r}].children[-1]._last_png).decode(), end="")
"""
"""The picture the explorer's canvas (the last child of its widget) last sent to the browser (its Agg
buffer may hold a picture drawn ahead since)."""


def decode(data: str) -> np.ndarray:
    """RGBA pixels of a PNG given as a data URL or as base64."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data.split(",")[-1]))).convert("RGBA"))


def blank(picture: np.ndarray) -> bool:
    return picture.size == 0 or len(np.unique(picture.reshape(-1, 4)[::97], axis=0)) < 50


def differing_pixels(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    return f"{int((a != b).any(axis=-1).sum())} of {a.shape[0] * a.shape[1]} pixels differ"


def run_all_and_draw(page) -> None:
    run_all(page)
    page.wait_for_function(f"() => ({JS_CANVASES})().length > 0", timeout=30_000)


def canvases(page) -> list[np.ndarray]:
    return [decode(url) for url in page.evaluate(JS_CANVASES)]


def kernel_picture(page, model_id: str) -> np.ndarray:
    printed = page.evaluate(JS_KERNEL_STDOUT, KERNEL_PICTURE.format(model_id=model_id))
    assert not printed.startswith("ERROR"), printed
    return decode(printed)


def press_quickly(page, key: str, times: int) -> tuple[str, str]:
    """Press ``key`` on the first explorer's first slider ``times`` times, as fast as the page takes
    keys; return the slider's value before and after."""
    handle = page.locator(".jp-OutputArea-output .widget-slider .noUi-handle").first
    handle.scroll_into_view_if_needed()
    before = handle.get_attribute("aria-valuetext")
    handle.focus()
    for _ in range(times):
        page.keyboard.press(key, delay=0)
    return before, handle.get_attribute("aria-valuetext")


def wait_until(condition, timeout_s: float = SETTLE_S, interval_s: float = 0.3):
    """``condition()`` polled until it is truthy or the time is up; its last value."""
    deadline = time.monotonic() + timeout_s
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(interval_s)
    return result


def copy_for_test(lab, name: str) -> str:
    """A copy of SOURCE in the server's root (other tests keep the original) with only its title,
    its imports and its explorer: the same explorer, run in a second instead of ten."""
    notebook = nbformat.read(SOURCE, as_version=4)
    explorer = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
                    and any(WIDGET_VIEW in output.get("data", {}) for output in cell.outputs))
    imports = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    notebook.cells = [notebook.cells[0], notebook.cells[imports], notebook.cells[explorer]]
    nbformat.write(notebook, lab.root / name)
    return name


# ---------------------------------------------------------------------------------- save, reopen


def models_missing_from_saved_state(path) -> tuple[list[str], dict]:
    """The widget models the saved outputs show (and every model those refer to) that the saved
    widget state lacks; and that state."""
    notebook = nbformat.read(path, as_version=4)
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    wanted = [output["data"][WIDGET_VIEW]["model_id"] for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if WIDGET_VIEW in output.get("data", {})]
    missing, seen = [], set()
    while wanted:
        model_id = wanted.pop()
        if model_id in seen:
            continue
        seen.add(model_id)
        if model_id not in state:
            missing.append(model_id)
        else:
            wanted += MODEL_REFERENCE.findall(json.dumps(state[model_id]["state"]))
    return missing, state


def test_a_saved_notebook_reopens_with_each_explorers_last_picture_and_runs_again(lab, page_for):
    name = copy_for_test(lab, "reopen_" + SOURCE.name)
    first = page_for("reopen-first-run")
    open_notebook(first.page, lab, name, "reopen-1")
    run_all_and_draw(first.page)
    before, after = press_quickly(first.page, "ArrowRight", 2)  # a picture the run alone did not draw
    assert before != after, "the slider did not move"
    [model_id] = first.page.evaluate(JS_EXPLORER_MODEL_IDS)
    shown = wait_until(lambda: (pictures := canvases(first.page)) and np.array_equal(
        pictures[0], kernel_picture(first.page, model_id)) and pictures)
    assert shown, "the canvas never showed the kernel's picture after the slider moved"
    time.sleep(LayeredCanvas.SAVED_PICTURE_DELAY_MS / 1000 + 1)  # the kernel sends it as the picture to save

    first.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    first.page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    missing, state = models_missing_from_saved_state(lab.root / name)
    assert not missing, f"the saved notebook's widget state lacks the models its outputs show: {missing}"
    data_urls = [model["state"].get("_data_url") for model in state.values()
                 if model["model_name"] == "MPLCanvasModel"]
    assert data_urls and all(str(url).startswith("data:image/png;base64,") for url in data_urls), \
        "a saved canvas has no picture (_data_url)"
    first.page.evaluate("""async () => { const panel = window.jupyterapp.shell.currentWidget;
                                         await panel.sessionContext.shutdown(); panel.close(); }""")
    first.close()

    reopened = page_for("reopen-again")
    open_notebook(reopened.page, lab, name, "reopen-2")
    page = reopened.page
    page.wait_for_function(f"""() => /Error displaying widget|model not found/.test(document.body.innerText)
        || ({JS_CANVASES})().length > 0""", timeout=30_000)
    text = page.locator("body").inner_text()
    assert "Error displaying widget" not in text and "model not found" not in text, \
        "the reopened notebook shows a widget error instead of the explorer's picture"
    pictures = wait_until(lambda: (p := canvases(page)) and not blank(p[0]) and p, timeout_s=10)
    assert pictures, "the reopened explorer's canvas stays blank"
    assert np.array_equal(pictures[0], shown[0]), (
        "the reopened explorer shows another picture than the one on screen when it was saved: "
        + differing_pixels(pictures[0], shown[0]))

    run_all_and_draw(page)
    start = wait_until(lambda: (p := canvases(page)) and not blank(p[0]) and p)
    assert start, "after running again the explorer's canvas stays blank"
    before, after = press_quickly(page, "ArrowRight", 1)
    assert before != after, "after running again the slider does not move"
    assert wait_until(lambda: not np.array_equal(canvases(page)[0], start[0])), \
        "after running again the picture does not follow the slider"
    errors = [line for view in (first, reopened) for line in view.console
              if line.startswith(("error:", "page error:"))]
    assert not errors, "errors in the browser console:\n" + "\n".join(errors)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")


# ------------------------------------------------------------------------------------- two views


def test_two_pages_on_one_kernel_both_show_the_kernels_picture_after_quick_moves(lab, page_for):
    name = copy_for_test(lab, "two_views_" + SOURCE.name)
    one, two = page_for("two-views-1"), page_for("two-views-2")
    open_notebook(one.page, lab, name, "two-views-1")
    run_all_and_draw(one.page)
    one.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    one.page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    open_notebook(two.page, lab, name, "two-views-2")  # the saved outputs, live: models from the kernel
    assert one.page.evaluate(JS_KERNEL_ID) == two.page.evaluate(JS_KERNEL_ID), "the pages do not share a kernel"
    [model_id] = one.page.evaluate(JS_EXPLORER_MODEL_IDS)
    assert two.page.evaluate(JS_EXPLORER_MODEL_IDS) == [model_id]
    two.page.wait_for_function(f"() => ({JS_CANVASES})().length > 0", timeout=30_000)

    rounds = ((one, "ArrowRight", two), (two, "ArrowLeft", one), (one, "ArrowRight", None))
    for mover, key, busy in rounds:
        if busy:  # the other page gets every frame late, all at once (as a tab busy drawing would)
            busy.page.evaluate(JS_BUSY, BUSY_MS)
        before, after = press_quickly(mover.page, key, 6)
        assert before != after, "the slider did not move"
        if busy:
            time.sleep(BUSY_MS / 1000)
        one.page.wait_for_function(JS_IDLE_AND_DONE, timeout=30_000)

        def both_show_the_kernels_picture():
            kernel = kernel_picture(one.page, model_id)
            return all(np.array_equal(canvases(view.page)[0], kernel) for view in (one, two))

        if not wait_until(both_show_the_kernels_picture):
            kernel = kernel_picture(one.page, model_id)
            shown = {view: canvases(view.page)[0] for view in (one, two)}
            for view, picture in shown.items():
                Image.fromarray(picture).save(view.artifacts / f"{view.name}-canvas.png")
            Image.fromarray(kernel).save(one.artifacts / "two-views-kernel.png")
            pytest.fail(f"{key} ×6 on {mover.name} ({before} -> {after})"
                        + (f" while {busy.name} was busy" if busy else "")
                        + ": the views do not show the kernel's picture: "
                        + ", ".join(f"{view.name}: {differing_pixels(picture, kernel)}"
                                    for view, picture in shown.items()))
    errors = [line for view in (one, two) for line in view.console if line.startswith(("error:", "page error:"))]
    assert not errors, "errors in the browser console:\n" + "\n".join(errors)
    one.page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")


# ----------------------------------------------------------------------------- a picture in two

RECIPE_SOURCE = NOTEBOOKS / "13_putting_it_together.ipynb"

JS_WATCH_WORKING = """([output, workingClass]) => {
    // whether the explorer's widget was marked as working, then no more; the first new picture
    // its canvas showed meanwhile
    const seen = window.__working = {added: false, removed: false, during: null};
    const canvas = output.querySelector('.jupyter-matplotlib-canvas-div canvas');
    const start = canvas.toDataURL();
    const tick = () => {
        if (output.querySelector('.' + workingClass) !== null) {
            seen.added = true;
            const now = canvas.toDataURL();
            if (seen.during === null && now !== start) seen.during = now;
        } else if (seen.added) {
            seen.removed = true;
            return;
        }
        requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
}"""


def test_a_setting_not_trained_yet_shows_a_first_picture_then_the_kernels_whole_one(lab, page_for):
    notebook = nbformat.read(RECIPE_SOURCE, as_version=4)
    imports = next(cell for cell in notebook.cells if cell.cell_type == "code")
    notebook.cells = [notebook.cells[0], imports, nbformat.v4.new_code_cell("lesson.RecipeExplorer()")]
    nbformat.write(notebook, lab.root / "recipe_in_two.ipynb")
    view = page_for("recipe-in-two")
    open_notebook(view.page, lab, "recipe_in_two.ipynb", "recipe-in-two")
    run_all_and_draw(view.page)
    [model_id] = view.page.evaluate(JS_EXPLORER_MODEL_IDS)
    output = explorer_outputs(view.page).first
    start = canvases(view.page)[0]
    peak_lr = output.locator(".widget-slider .noUi-handle").nth(1)
    assert peak_lr.get_attribute("aria-valuetext") == "2"  # the third choice: 0.01
    view.page.evaluate(JS_WATCH_WORKING, [output.element_handle(), Explorer.WORKING_CLASS])
    peak_lr.focus()
    view.page.keyboard.press("PageUp")  # to 0.3: trained ahead only after a dozen nearer settings
    assert peak_lr.get_attribute("aria-valuetext") == "5"
    view.page.wait_for_function("() => window.__working.removed", timeout=30_000)
    during = view.page.evaluate("() => window.__working.during")
    assert during is not None, "no new picture while the explorer was marked as working"
    during = decode(during)
    whole = kernel_picture(view.page, model_id)
    assert np.array_equal(canvases(view.page)[0], whole), differing_pixels(canvases(view.page)[0], whole)
    assert not np.array_equal(during, start) and not np.array_equal(during, whole)
    errors = [line for line in view.console if line.startswith(("error:", "page error:"))]
    assert not errors, "errors in the browser console:\n" + "\n".join(errors)
    view.page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
