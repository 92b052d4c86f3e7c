"""What a learner and a lecturer actually see: every notebook in a real JupyterLab, in headless
Chromium, and the slides (RISE live in JupyterLab, and the exported offline deck).

nbval proves the kernel side; these tests catch what only a browser shows: a widget that fails to
render ("Error displaying widget", an ipywidgets/ipympl version that does not match its JupyterLab
extension), math left as raw TeX, an explorer whose figure does not move with its slider, a
slideshow that does not open.

One JupyterLab server (127.0.0.1, random token, a temporary copy of the notebooks as its root, every
Jupyter folder it writes in a temporary directory) and one Chromium serve the whole session; every
request that would leave the machine is aborted. Screenshots of a failure go to
``test-artifacts/browser/`` (or $BROWSER_ARTIFACTS). Without Chromium the tests are skipped with the
command that installs it.

    .venv/bin/python -m pytest tests/notebooks/test_browser.py -v
"""

import importlib.util
import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

from browser_helpers import (
    INSTALL_HINT,
    JS_IDLE_AND_DONE,
    JS_NOTEBOOK_READY,
    JS_PAGE_REPORT,
    JS_RUN_ALL,
    ROOT,
    LabServer,
    find_chromium,
    launch_chromium,
    local_only,
    notebook_paths,
)

pytestmark = pytest.mark.browser

NOTEBOOKS = notebook_paths()
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
VIEWPORT = {"width": 1400, "height": 1000}
RUN_TIMEOUT_MS = 240_000  # run-all of one notebook (nbval takes ~6 s for one today)
REDRAW_TIMEOUT_S = 30


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def chromium_path():
    path = find_chromium()
    if path is None:
        pytest.skip(INSTALL_HINT)
    pytest.importorskip("playwright", reason="playwright is missing: `make venv` installs it")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = launch_chromium(playwright, chromium_path)
    except Exception as error:  # a broken install: say so instead of a wall of playwright text
        playwright.stop()
        pytest.fail(f"Chromium at {chromium_path} did not start: {error}")
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture(scope="session")
def lab(browser, tmp_path_factory):
    server = LabServer(tmp_path_factory.mktemp("jupyterlab")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    return Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / "test-artifacts" / "browser"))


class Page:
    """A fresh page that reaches only this machine, and notes page errors and blocked requests."""

    def __init__(self, browser, artifacts: Path, name: str):
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.blocked: list[str] = []
        self.console: list[str] = []
        self.artifacts = artifacts
        self.name = name
        local_only(self.page, self.blocked)
        self.page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))
        self.page.on("console", lambda message: self.console.append(f"{message.type}: {message.text[:500]}")
                     if message.type in ("error", "warning") else None)

    def save(self, suffix: str, locator=None) -> Path | None:
        """A screenshot (of ``locator`` or the page) into the artifacts folder; its path."""
        try:
            self.artifacts.mkdir(parents=True, exist_ok=True)
            path = self.artifacts / f"{self.name}-{suffix}.png"
            (locator or self.page).screenshot(path=str(path))
            return path
        except Exception:  # a screenshot is a courtesy; never hide the real failure behind it
            return None

    def close(self):
        self.context.close()


@pytest.fixture
def page_for(browser, artifacts, request):
    """``page_for(name)`` opens a Page; on failure its screenshot and console go to artifacts."""
    pages: list[Page] = []

    def open_page(name: str) -> Page:
        pages.append(Page(browser, artifacts, name))
        return pages[-1]

    yield open_page
    failed = getattr(request.node, "failed_call", False)
    for page in pages:
        if failed:
            shot = page.save("failure")
            (page.artifacts / f"{page.name}-console.txt").write_text("\n".join(page.console + page.blocked))
            print(f"screenshot of the failure: {shot}")
        page.close()


# ------------------------------------------------------------------------- what a notebook holds


def saved_outputs(path: Path) -> list[dict]:
    return [output for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"
            for output in cell.get("outputs", [])]


def expected_explorers(path: Path) -> list[str]:
    """The text line of every explorer (a widget output with a figure) saved in the notebook."""
    return [output["data"].get("text/plain", "widget") for output in saved_outputs(path)
            if WIDGET_VIEW in output.get("data", {})]


def has_math(path: Path) -> bool:
    notebook = nbformat.read(path, as_version=4)
    return any(re.search(r"\$[^$]+\$", cell.source) for cell in notebook.cells if cell.cell_type == "markdown")


def saved_stderr_count(path: Path) -> int:
    return sum(output.get("name") == "stderr" for output in saved_outputs(path))


# ----------------------------------------------------------------------------------- JupyterLab

JS_EXPLORER_STATE = """(output) => {
    const canvas = output.querySelector('.jupyter-matplotlib canvas');
    if (!canvas || canvas.width === 0 || canvas.height === 0) return {drawn: false};
    // drawn: the figure's canvas holds more than one colour
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let first = data.slice(0, 4).join(), colours = 0;
    for (let i = 0; i < data.length; i += 4 * 97) {
        if ([data[i], data[i + 1], data[i + 2], data[i + 3]].join() !== first) { colours++; if (colours > 50) break; }
    }
    return {drawn: colours > 50};
}"""


def explorer_outputs(page):
    """The output areas that hold an ipympl figure inside a widget."""
    return page.locator(".jp-OutputArea-output").filter(has=page.locator(".jupyter-widgets .jupyter-matplotlib canvas"))


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
    page.goto(lab.page_url(f"lab/workspaces/test-{notebook.stem}/tree/{notebook.name}"))
    page.wait_for_function(JS_NOTEBOOK_READY, timeout=90_000, polling=250)

    started = time.monotonic()
    page.evaluate(JS_RUN_ALL)  # clears the saved outputs first: what follows is this run's
    page.wait_for_function(JS_IDLE_AND_DONE, timeout=RUN_TIMEOUT_MS, polling=250)
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
            page.wait_for_function(f"o => ({JS_EXPLORER_STATE})(o).drawn", arg=output.element_handle(), timeout=20_000)
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

    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    print(f"{notebook.name}: ran in {ran_s:.1f} s, {report['mathCount']} formulas, "
          f"{outputs.count()} explorer(s) checked")
    if view.blocked:
        print("requests blocked (not local):", *sorted(set(view.blocked)), sep="\n  ")
    assert not problems, f"{notebook.name} in JupyterLab:\n" + "\n\n".join(problems) + (
        "\n\nbrowser console:\n" + "\n".join(view.console[-30:]) if view.console else "")


# ------------------------------------------------------------------------------------ solutions


DEFINED = re.compile(r"^(?:def (\w+)|(\w+)\s*=)", re.M)


def solutions(path: Path, offset: int = 0) -> list[tuple[int, str]]:
    """(cell index, the first name the cell defines) of each solution cell (tagged 'solution'), or
    with ``offset=-1`` of the exercise cell before each."""
    cells = nbformat.read(path, as_version=4).cells
    return [(index + offset, next(name for name in DEFINED.search(cells[index + offset].source).groups() if name))
            for index, cell in enumerate(cells) if "solution" in cell.metadata.get("tags", [])]


def exercises_without_solutions(text: str, path: Path) -> bool:
    """Whether ``text`` (a slideshow's) holds every exercise of ``path`` and none of its solutions."""
    return (all(name in text for _, name in solutions(path, offset=-1))
            and not any(name in text for _, name in solutions(path)))


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
    page.goto(lab.page_url(f"lab/workspaces/solutions-{exercise_notebook.stem}/tree/{exercise_notebook.name}"))
    page.wait_for_function(JS_NOTEBOOK_READY, timeout=90_000, polling=250)
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


# --------------------------------------------------------------------------------------- slides


def slide_titles(path: Path) -> list[str]:
    """The first line of each cell that starts a slide (slide_type 'slide')."""
    notebook = nbformat.read(path, as_version=4)
    return [cell.source.strip().splitlines()[0].lstrip("#").strip() for cell in notebook.cells
            if cell.metadata.get("slideshow", {}).get("slide_type") == "slide"]


def plain(text: str) -> str:
    """Markdown/TeX-free words to look for in a rendered slide (lower case: themes capitalise)."""
    words = re.sub(r"[`*_$\\{}^]", " ", text).split()
    return " ".join(words[:3]).lower()


def present_text(page) -> str:
    return " ".join(page.locator(".reveal .slides > section.present").inner_text().split()).lower()


@pytest.fixture(scope="session")
def deck_notebook() -> Path:
    if not NOTEBOOKS:
        pytest.skip("no notebooks")
    with_explorer = [path for path in NOTEBOOKS if expected_explorers(path) and has_math(path)]
    return (with_explorer or NOTEBOOKS)[0]


def test_live_slideshow_with_rise_opens_and_navigates_offline(lab, page_for, deck_notebook):
    view = page_for(f"rise-{deck_notebook.stem}")
    page = view.page
    page.goto(lab.page_url(f"rise/{deck_notebook.name}"))
    page.wait_for_selector(".reveal .slides section.present", timeout=90_000)
    titles = slide_titles(deck_notebook)
    page.wait_for_function("n => document.querySelectorAll('.reveal .slides > section').length >= n", arg=len(titles))
    assert plain(titles[0]) in present_text(page), "the first slide is not the title slide"
    if has_math(deck_notebook):
        page.wait_for_function("() => document.querySelectorAll('.reveal mjx-container').length > 0", timeout=30_000)

    page.locator(".reveal").click(position={"x": 5, "y": 5})
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "t => document.querySelector('.reveal .slides > section.present')?.innerText.replace(/\\s+/g, ' ').toLowerCase().includes(t)",
        arg=plain(titles[1]), timeout=10_000)
    # The solutions are not in the slideshow (they are skipped, like the import cells).
    shown = page.evaluate("() => document.querySelector('.reveal .slides').textContent")
    assert exercises_without_solutions(shown, deck_notebook), "a solution shows in the slides, or an exercise is missing"
    # What the slideshow tried to fetch from outside (RISE's reveal theme asks for web fonts) was
    # refused, and the slides above rendered all the same.
    print("blocked:", sorted(set(view.blocked)))


WIDGET_PLUGIN_FAILURE = re.compile(r"Failed to create module: package: @jupyter-widgets|"
                                   r"'(jupyter-matplotlib|matplotlib-jupyter|@jupyter-widgets)[^']*' failed to activate")


def test_widget_extensions_load_inside_the_rise_slideshow(lab, page_for, deck_notebook):
    view = page_for(f"rise-widgets-{deck_notebook.stem}")
    view.page.goto(lab.page_url(f"rise/{deck_notebook.name}"))
    view.page.wait_for_selector(".reveal .slides section.present", timeout=90_000)
    view.page.wait_for_timeout(2000)  # plugins activate after the first slide shows
    failures = [line for line in view.console if WIDGET_PLUGIN_FAILURE.search(line)]
    assert not failures, "widget extensions failed in the RISE slideshow:\n" + "\n".join(failures)


def load_export_slides():
    spec = importlib.util.spec_from_file_location("export_slides", ROOT / "tools" / "export_slides.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exported_deck_opens_offline_from_a_file(browser, page_for, deck_notebook, tmp_path):
    deck = load_export_slides().export(deck_notebook, tmp_path)
    html = deck.read_text(encoding="utf-8")
    assert not re.search(r"""<(script|link)[^>]+(src|href)=["']?https?:""", html), "the deck loads something from the web"
    assert solutions(deck_notebook) and exercises_without_solutions(html, deck_notebook), \
        "a solution is in the deck, or an exercise is missing"

    view = page_for(f"deck-{deck_notebook.stem}")
    page = view.page
    page.goto(deck.as_uri())
    page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
    titles = slide_titles(deck_notebook)
    assert page.evaluate("() => Reveal.getHorizontalSlides().length") == len(titles)
    assert plain(titles[0]) in present_text(page)
    if has_math(deck_notebook):
        page.wait_for_function("() => document.querySelectorAll('.reveal mjx-container').length > 0", timeout=30_000)
        assert "$$" not in page.evaluate("() => document.querySelector('.reveal .slides').innerText")

    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => Reveal.getIndices().h === 1", timeout=10_000)
    assert plain(titles[1]) in present_text(page)

    # An explorer shows its saved picture (a deck has no kernel) and no widget placeholder.
    if expected_explorers(deck_notebook):
        assert "Error displaying widget" not in html
        assert page.locator(".reveal img[src^='data:image/png']").count() >= len(expected_explorers(deck_notebook))
    assert view.blocked == [], f"the deck asked for {view.blocked}"
    assert not [line for line in view.console if line.startswith("page error")], view.console
