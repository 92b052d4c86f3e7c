"""The slides: live in JupyterLab (jupyterlab-slideshow's deck, on the notebook itself), and the
exported offline deck."""

import importlib.util
import re
import time
from pathlib import Path

import nbformat
import pytest

from browser_helpers import (
    JS_CANVAS_DRAWN,
    ROOT,
    WIDGET_VIEW,
    exercises_without_solutions,
    expected_explorers,
    has_math,
    notebook_paths,
    open_notebook,
    run_all,
    solutions,
)

pytestmark = pytest.mark.browser

NOTEBOOKS = notebook_paths()


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


JS_DECK = """() => {
    // What the deck shows now: the active cell, and the index and text of every cell on screen.
    const notebook = window.jupyterapp.shell.currentWidget.content;
    const shown = notebook.widgets.flatMap((cell, index) => cell.node.classList.contains('jp-deck-mod-visible')
        ? [[index, cell.node.innerText.replace(/\\s+/g, ' ').toLowerCase()]] : []);
    return {active: notebook.activeCellIndex, shown,
            math: document.querySelectorAll('.jp-deck-mod-visible mjx-container').length > 0,
            presenting: !!document.querySelector('.jp-NotebookPanel.jp-Deck')};
}"""

def slide_types(path: Path) -> list[str]:
    cells = nbformat.read(path, as_version=4).cells
    return [cell.metadata.get("slideshow", {}).get("slide_type", "") for cell in cells]


JS_DECK_SETTING_OFF = """async () => {
    const settings = await window.jupyterapp.serviceManager.settings.fetch('jupyterlab-slideshow:plugin');
    return !(settings.settings || {}).active;
}"""


def explorer_cells(path: Path) -> list[int]:
    """The index of every code cell whose saved output is an explorer (a widget view)."""
    cells = nbformat.read(path, as_version=4).cells
    return [index for index, cell in enumerate(cells) if cell.cell_type == "code"
            and any(WIDGET_VIEW in output.get("data", {}) for output in cell.get("outputs", []))]


def press(page, key: str) -> dict:
    """Press ``key`` and return the deck once its active cell has moved."""
    active = page.evaluate(JS_DECK)["active"]
    page.keyboard.press(key)
    page.wait_for_function(f"n => ({JS_DECK})().active !== n", arg=active, timeout=10_000)
    return page.evaluate(JS_DECK)


def redraws(figure, before_png: bytes, timeout_s: float = 20) -> bool:
    """Whether the figure's pixels differ from ``before_png`` within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while figure.screenshot() == before_png:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def explore_while_presenting(page, cell, deck: dict) -> list[str]:
    """Move the explorer's slider on the slide with the keyboard and with the mouse; return what failed.

    A focused slider takes the arrow keys, so the slide must stay while the value and the picture change.
    """
    problems = []
    output = cell.locator(".jp-OutputArea-output").filter(has=page.locator(".jupyter-matplotlib canvas")).first
    figure = output.locator(".jupyter-matplotlib-canvas-div").first
    handle = output.locator(".widget-slider .noUi-handle").first
    figure.scroll_into_view_if_needed()
    page.wait_for_function(JS_CANVAS_DRAWN, arg=figure.element_handle(), timeout=20_000)
    if handle.count() == 0:
        return ["the explorer on the slide has no slider"]

    value, picture = handle.get_attribute("aria-valuetext"), figure.screenshot()
    handle.focus()
    handle.press("ArrowRight")
    if handle.get_attribute("aria-valuetext") == value:  # at its top end: the other way
        handle.press("ArrowLeft")
    page.wait_for_timeout(300)  # a key the deck took would have moved the slide by now
    if [index for index, _ in page.evaluate(JS_DECK)["shown"]] != [index for index, _ in deck["shown"]]:
        problems.append("→ on the focused slider changed the slide")
    if handle.get_attribute("aria-valuetext") == value:
        problems.append(f"→/← on the focused slider did not move it (value {value})")
    elif not redraws(figure, picture):
        problems.append("the slider moved by a key but the figure did not change")

    value, picture = handle.get_attribute("aria-valuetext"), figure.screenshot()
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 60 if x > 200 else x + 60, y, steps=5)
    page.mouse.up()
    if handle.get_attribute("aria-valuetext") == value:
        problems.append(f"a mouse drag did not move the slider (value {value})")
    elif not redraws(figure, picture):
        problems.append("the slider moved by a mouse drag but the figure did not change")
    return problems


def test_live_deck_presents_the_run_notebook_with_live_explorers(lab, page_for, deck_notebook):
    """What a lecturer does (README, "How to present"): Run All, select the first cell, start the deck
    from the notebook's toolbar, walk through every slide, work an explorer on its slide, Esc."""
    view = page_for(f"deck-live-{deck_notebook.stem}", viewport={"width": 1280, "height": 720})
    page = view.page
    open_notebook(page, lab, deck_notebook.name, f"deck-{deck_notebook.stem}")
    run_all(page)

    types, titles = slide_types(deck_notebook), slide_titles(deck_notebook)
    on_slides = [index for index, kind in enumerate(types) if kind not in ("skip", "notes")]
    page.locator(".jp-Notebook .jp-Cell").first.locator("h1").click()  # the first cell: the deck starts there
    page.locator(".jp-NotebookPanel-toolbar [data-jp-item-name='deck'] jp-button").click()
    try:
        page.wait_for_function(f"() => ({JS_DECK})().presenting")
        deck = page.evaluate(JS_DECK)
        assert [index for index, _ in deck["shown"]] == [0] and plain(titles[0]) in deck["shown"][0][1], \
            f"the first slide is not the title slide alone: {deck['shown']}"
        deck = press(page, "ArrowRight")
        assert plain(titles[1]) in " ".join(text for _, text in deck["shown"]), "→ did not go to the second slide"
        deck = press(page, "ArrowLeft")
        assert deck["active"] == 0, "← did not go back to the title slide"

        # Space walks the deck in reading order; the explorer is worked on its slide on the way.
        shown, math, explored = {}, False, None
        for _ in range(3 * len(types)):
            shown.update(deck["shown"])
            math = math or deck["math"]
            on_screen = [index for index, _ in deck["shown"]]
            explorers = [index for index in explorer_cells(deck_notebook) if index in on_screen]
            if explored is None and explorers:
                cell = page.locator(".jp-Notebook .jp-Cell").nth(explorers[0])
                explored = explore_while_presenting(page, cell, deck)
                handle = cell.locator(".widget-slider .noUi-handle").first
                value = handle.get_attribute("aria-valuetext")
                deck = press(page, "Space")  # the slider still has the focus: Space goes on all the same
                assert handle.get_attribute("aria-valuetext") == value, "Space on a focused slider moved the slider"
            elif deck["active"] == on_slides[-1]:
                break
            else:
                deck = press(page, "Space")
        hidden = sorted(set(on_slides) - set(shown))
        assert not hidden, (f"cells {hidden} (slide types {[types[i] for i in hidden]}) never showed in the deck"
                            " (jupyterlab-slideshow shows no cell of slide type '-': JupyterLab writes '' for it)")
        assert explored is not None, "no explorer showed in the deck"
        assert not explored, f"the explorer on its slide in {deck_notebook.name}:\n" + "\n".join(explored)
        assert not set(shown) & {index for index, _ in solutions(deck_notebook)}, "a solution cell showed in the deck"
        assert exercises_without_solutions(" ".join(shown.values()), deck_notebook), \
            "a solution shows in the deck, or an exercise is missing"
        assert math or not has_math(deck_notebook), "no typeset formula showed in the deck"

        page.keyboard.press("Escape")
        page.wait_for_function(f"() => !({JS_DECK})().presenting", timeout=10_000)
    finally:  # never leave the server's settings in presenting mode for the next page
        page.evaluate("async () => document.querySelector('.jp-Deck')"
                      " && await window.jupyterapp.commands.execute('deck:stop')")
        page.wait_for_function(JS_DECK_SETTING_OFF, timeout=10_000)
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    errors = [line for line in view.console if line.startswith(("error:", "page error:"))]
    assert not errors, "errors in the browser console while presenting:\n" + "\n".join(errors)


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
