"""The slides: live in JupyterLab, and the exported offline deck."""

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

from browser_helpers import ROOT, exercises_without_solutions, expected_explorers, has_math, notebook_paths, solutions

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
