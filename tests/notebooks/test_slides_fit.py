"""Every slide of every notebook fits a 1280×720 projector: live in JupyterLab (the
jupyterlab-slideshow deck) and in the exported reveal.js deck (tools/export_slides.py).

A slide fails, named by notebook, slide number and title, when it is taller or wider than the
screen, when a line of code or output is clipped (an element scrolls sideways), when text is
smaller than 20 px, when a heading is re-cased by the theme ("κ" shown as "K"), or, live, when a
cell of the slide is missing from it.

Live mode pages through the saved notebooks without running them. The outputs on show are the
ones a run makes (nbval keeps them equal), and an explorer shows its saved picture where the run
notebook shows its live widget: controls above a canvas drawn at the picture's own size, shrunk
by the deck's ``EXPLORER_ZOOM`` (course_slides.json). So an explorer's slide is counted with the
live widget's height, ``CONTROLS_PX`` plus the zoomed picture, and the zoomed picture must fit the
width. Running every notebook would take minutes; test_slides.py presents a run notebook and
moves its sliders.

Paging is done by making each slide's first cell the active one, which is what the deck's own
keys do (``deck:go``), and every fragment of a slide is laid out (invisible) from its start, so
the first view of a slide is its tallest.
"""

import importlib.util
import json

import nbformat
import pytest

from browser_helpers import ROOT, notebook_paths

pytestmark = pytest.mark.browser

NOTEBOOKS = notebook_paths()
SCREEN = {"width": 1280, "height": 720}
MIN_FONT_PX = 20
# Measured in the deck at 1280x720 after Run All (every explorer of notebooks 00-10): the row of
# controls is 40 px, or 72 px where it wraps to two rows (02, 03, 05); the canvas is the picture's
# size times the zoom.
CONTROLS_PX = 72
DECK_STYLES = json.loads((ROOT / "jupyter-config" / "lab-settings" / "course_slides.json").read_text())[
    "@deathbeds/jupyterlab-fonts:fonts"]["styles"]
EXPLORER_ZOOM = float(DECK_STYLES["body[data-jp-deck-mode='presenting'] .jp-Deck .jupyter-matplotlib-figure"]["zoom"])

# What is wrong with what is on screen, as a list of causes; `root` holds the slide's elements,
# `bounds` is the screen (live) or the slide (reveal.js), `scale` turns CSS px into screen px.
JS_PROBLEMS = """
function slideProblems(elements, bounds, scale, minFont) {
    const problems = [], cut = [], small = [];
    const snippet = e => JSON.stringify((e.innerText || e.textContent || '').trim().slice(0, 40));
    const name = e => `<${e.tagName.toLowerCase()}${e.classList.length ? '.' + e.classList[0] : ''}>`;
    for (const root of elements) {
        for (const e of [root, ...root.querySelectorAll('*')]) {
            if (e.closest('mjx-container, svg, .jp-InputPrompt, .jp-OutputPrompt') || !e.getClientRects().length) continue;
            const style = getComputedStyle(e);
            if (/^H[1-6]$/.test(e.tagName) && style.textTransform !== 'none')
                problems.push(`heading ${snippet(e)} is shown text-transform: ${style.textTransform}`);
            if (cut.some(c => c.contains(e))) continue;  // its clipped container is reported
            const rect = e.getBoundingClientRect();
            if (['auto', 'scroll', 'hidden', 'clip'].includes(style.overflowX) && e.scrollWidth > e.clientWidth + 1) {
                cut.push(e);
                problems.push(`clipped line in ${name(e)} ${snippet(e)}: ${e.scrollWidth} px of text in ${e.clientWidth} px`);
            } else if (rect.width > 0 && rect.right > bounds.right + 1) {
                cut.push(e);
                problems.push(`${name(e)} ${snippet(e)} runs ${Math.round((rect.right - bounds.right) / scale)} px off the right edge`);
            }
            const ownText = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
            const px = parseFloat(style.fontSize) * scale;
            if (ownText && px < minFont - 0.05) small.push([px, e]);
        }
    }
    if (small.length) {
        small.sort((a, b) => a[0] - b[0]);
        const [px, e] = small[0];
        problems.push(`text below ${minFont} px in ${small.length} elements, smallest ${px.toFixed(1)} px in ${name(e)} ${snippet(e)}`);
    }
    return [...new Set(problems)];
}
"""

JS_LIVE = """async ({starts, expected, explorers, minFont, controls, zoom}) => {
""" + JS_PROBLEMS + """
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    const notebook = panel.content;
    const wait = ms => new Promise(resolve => setTimeout(resolve, ms));
    notebook.activeCellIndex = 0;
    await app.commands.execute('deck:start');
    await wait(300);
    const report = [];
    for (const [k, start] of starts.entries()) {
        notebook.activeCellIndex = start;
        await new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
        const cells = notebook.widgets.filter(c => c.node.classList.contains('jp-deck-mod-onscreen'));
        const indexes = cells.map(c => notebook.widgets.indexOf(c));
        const problems = [];
        const missing = expected[k].filter(i => !indexes.includes(i));
        if (missing.length) problems.push(`cells ${missing} of the slide are not on screen`);
        // The slide's height: from the top of its first cell to the bottom of its last (the
        // deck scrolls an inner panel, so no scrollHeight tells it).
        const rects = cells.map(c => c.node.getBoundingClientRect());
        // An explorer's saved picture stands in for its live widget: add what the widget has more.
        let reserve = 0;
        for (const i of expected[k].filter(i => explorers.includes(i))) {
            const img = notebook.widgets[i].node.querySelector('.jp-OutputArea-output img');
            const area = notebook.widgets[i].node.querySelector('.jp-OutputArea-output').getBoundingClientRect();
            if (!img) { problems.push(`cell ${i}: the explorer has no saved picture`); continue; }
            reserve += controls + zoom * img.naturalHeight - img.getBoundingClientRect().height;
            if (zoom * img.naturalWidth > area.width + 1)
                problems.push(`the live explorer of cell ${i} is ${Math.round(zoom * img.naturalWidth - area.width)} px wider than its slide`);
        }
        const height = Math.max(...rects.map(r => r.bottom)) - Math.min(...rects.map(r => r.top)) + reserve;
        if (height > window.innerHeight + 1)
            problems.push(`${Math.round(height - window.innerHeight)} px taller than the screen`
                          + (reserve ? ` (counting the live explorer, ${Math.round(reserve)} px more than its picture)` : ''));
        const bounds = {right: window.innerWidth};
        problems.push(...slideProblems(cells.map(c => c.node), bounds, 1, minFont));
        report.push(problems);
    }
    await app.commands.execute('deck:stop');
    return report;
}
"""

JS_DECK = """async ({minFont}) => {
""" + JS_PROBLEMS + """
    const scale = Reveal.getScale();
    const height = Reveal.getConfig().height;
    document.querySelectorAll('.reveal .fragment').forEach(f => f.classList.add('visible'));
    const report = [];
    for (const slide of Reveal.getSlides()) {
        const indices = Reveal.getIndices(slide);
        Reveal.slide(indices.h, indices.v);
        await new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
        const problems = [];
        if (slide.scrollHeight > height + 1)
            problems.push(`${slide.scrollHeight - height} px taller than the slide`);
        const box = slide.getBoundingClientRect();
        problems.push(...slideProblems([slide], {right: box.right}, scale, minFont));
        const title = slide.querySelector('h1, h2, h3, p, li');
        report.push({title: title ? title.textContent.replace('¶', '').trim().slice(0, 50) : '', problems});
    }
    return report;
}
"""


def slides(path):
    """[(title, first cell, [cells on it])] of the notebook's slides and subslides, as nbconvert
    cuts them: a slide runs to the next slide or subslide, without the skip and notes cells."""
    cells = nbformat.read(path, as_version=4).cells
    kinds = [cell.metadata.get("slideshow", {}).get("slide_type", "-") for cell in cells]
    kinds[0] = "slide"
    result = []
    for index, (cell, kind) in enumerate(zip(cells, kinds)):
        if kind in ("slide", "subslide"):
            title = cell.source.strip().splitlines()[0].lstrip("#* ").strip()[:50] if cell.source.strip() else ""
            result.append((title, index, []))
        if kind not in ("skip", "notes"):
            result[-1][2].append(index)
    return result


def explorer_cells(path) -> list[int]:
    cells = nbformat.read(path, as_version=4).cells
    return [index for index, cell in enumerate(cells) if cell.cell_type == "code"
            and any("application/vnd.jupyter.widget-view+json" in output.get("data", {}) for output in cell.outputs)]


def failures(name: str, titles: list[str], report: list[list[str]]) -> list[str]:
    return [f"{name} slide {number} ({title!r}): {problem}"
            for number, (title, problems) in enumerate(zip(titles, report), 1) for problem in problems]


def test_every_live_slide_fits_the_projector(lab, page_for):
    view = page_for("slides-fit-live", viewport=SCREEN)
    page = view.page
    page.goto(lab.page_url("lab"))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=90_000)
    page.wait_for_selector(".jp-LabShell", timeout=90_000)
    found = []
    for path in NOTEBOOKS:
        page.evaluate("path => window.jupyterapp.commands.execute('docmanager:open', {path}).then(() => null)", path.name)
        page.wait_for_function("""name => { const w = window.jupyterapp.shell.currentWidget;
            return w && w.context && w.context.path === name && w.context.isReady && w.content.isVisible
                && w.content.widgets.every(c => c.model.type !== 'markdown' || c.rendered); }""",
                               arg=path.name, timeout=60_000)
        # MathJax typesets after the markdown renders: wait until the count of formulas settles.
        page.wait_for_function("""() => { const n = document.querySelectorAll('.jp-Notebook mjx-container').length;
            const last = window.__mathCount; window.__mathCount = n; return n === last; }""", polling=250)
        cuts = slides(path)
        report = page.evaluate(JS_LIVE, {
            "starts": [start for _, start, _ in cuts], "expected": [cells for _, _, cells in cuts],
            "explorers": explorer_cells(path), "minFont": MIN_FONT_PX, "controls": CONTROLS_PX,
            "zoom": EXPLORER_ZOOM})
        found += failures(f"{path.stem} (live)", [title for title, _, _ in cuts], report)
        # Close without the "save changes?" dialog (presenting marks the notebook dirty), and
        # shut its kernel down: none of the slides needs it.
        page.evaluate("""async () => { const panel = window.jupyterapp.shell.currentWidget;
            await panel.sessionContext.shutdown(); panel.dispose(); }""")
    assert not found, f"{len(found)} problems at 1280×720:\n" + "\n".join(found)


def load_export_slides():
    spec = importlib.util.spec_from_file_location("export_slides", ROOT / "tools" / "export_slides.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_exported_slide_fits_the_projector(browser, page_for, tmp_path):
    exporter = load_export_slides()
    assets = exporter.vendored_assets()
    view = page_for("slides-fit-deck", viewport=SCREEN)
    page = view.page
    found = []
    for path in NOTEBOOKS:
        deck = exporter.export(path, tmp_path, assets)
        page.goto(deck.as_uri())
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
        page.wait_for_function("() => !window.MathJax || !MathJax.startup || MathJax.startup.promise", timeout=30_000)
        page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        report = page.evaluate(JS_DECK, {"minFont": MIN_FONT_PX})
        found += failures(f"{path.stem} (exported)", [slide["title"] for slide in report],
                          [slide["problems"] for slide in report])
    assert not found, f"{len(found)} problems at 1280×720:\n" + "\n".join(found)
