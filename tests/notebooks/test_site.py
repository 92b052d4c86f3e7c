"""The course as a static website (``make site``, tools/build_site.py): built from the committed
notebooks and opened from file:// in headless Chromium with every other request blocked."""

import importlib.util
import re
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

from browser_helpers import ROOT, WIDGET_VIEW, solutions

README = ROOT / "README.md"
WEB_ADDRESS = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""",
                         re.I)


def readme_rows() -> list[tuple[str, str, str | None]]:
    """(number, title, notebook path or None) of each row of the README's table of notebooks."""
    section = README.read_text(encoding="utf-8").split("\n## The notebooks", 1)[1].split("\n## ", 1)[0]
    rows = []
    for number, title in re.findall(r"^\|\s*(\d\d)\s*\|\s*(.+?)\s*\|", section, flags=re.M):
        link = re.fullmatch(r"\[(.+)\]\((.+)\)", title)
        rows.append((number, link.group(1), link.group(2)) if link else (number, title.replace(" (coming)", ""), None))
    return rows


def published() -> list[Path]:
    """The notebooks the README links, in its order: the ones that get a page."""
    return [ROOT / path for _, _, path in readme_rows() if path]


def page_name(notebook: Path) -> str:
    return notebook.stem + ".html"


def load_build_site():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once for this file from the committed notebooks."""
    output = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    load_build_site().build(output)
    print(f"site built in {time.perf_counter() - start:.1f} s")
    return output


def local_target(page: Path, href: str) -> Path | None:
    """The file a link of ``page`` points to, or None for a link that leaves the site."""
    parsed = urlparse(href)
    if parsed.scheme in ("http", "https", "mailto") or href.startswith("#"):
        return None
    return (page.parent / unquote(parsed.path)).resolve()


# ------------------------------------------------------------------------- without a browser


def test_every_page_is_built_and_loads_nothing_from_the_web(site):
    pages = sorted(path.name for path in site.glob("*.html"))
    assert pages == sorted(["index.html", *map(page_name, published())])
    for page in site.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not WEB_ADDRESS.search(text), f"{page.name} loads {WEB_ADDRESS.search(text).group(0)}"
        addresses = re.findall(r"https?://[^\s\"'<>)]+", re.sub(r"data:[\w/+.-]+;base64,[\w+/=]+", "", text))
        assert not [a for a in addresses if re.search(r"cdn|unpkg|jsdelivr", a)], f"{page.name}: {addresses}"
        assert WIDGET_VIEW not in text and "Error displaying widget" not in text, page.name
        assert str(ROOT) not in text and str(site) not in text, f"{page.name} shows a path of this machine"
        for href in re.findall(r"""<(?:a|link|script|img)\b[^>]*?\b(?:href|src)="([^"]+)\"""", text):
            target = local_target(page, href) if not href.startswith("data:") else None
            assert target is None or target.is_file(), f"{page.name} links to {href}, which is not in the site"


def test_hidden_cells_solutions_and_saved_frames(tmp_path):
    """What a page keeps of a notebook: notes cells go, a solution folds, and an explorer whose output
    kept no picture shows the last frame its canvas sent (the saved widget state)."""
    frame = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# 01 · Test\n\n$$x^2$$"),
        nbformat.v4.new_markdown_cell("for the speaker only", metadata={"slideshow": {"slide_type": "notes"}}),
        nbformat.v4.new_code_cell("def answer():\n    return 42", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("explorer", outputs=[nbformat.v4.new_output(
            "display_data", data={WIDGET_VIEW: {"model_id": "box", "version_major": 2, "version_minor": 0},
                                  "text/plain": "Explorer"})]),
    ]
    state = {"box": {"state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_canvas"]}},
             "slider": {"state": {"value": 1}},
             "canvas": {"state": {"_data_url": "data:image/png;base64," + frame}}}
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json":
                                    {"version_major": 2, "version_minor": 0, "state": state}}
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nbformat.write(notebook, notebooks / "01_test.ipynb")
    (tmp_path / "README.md").write_text("# Course\n\n## The notebooks\n\n"
                                        "| # | notebook | what you learn |\n|---|---|---|\n"
                                        "| 01 | [test](notebooks/01_test.ipynb) | `x` squared |\n"
                                        "| 02 | later (coming) | more |\n\n## Next\n")
    output = tmp_path / "site"
    load_build_site().build(output, readme=tmp_path / "README.md")
    page = (output / "01_test.html").read_text(encoding="utf-8")
    assert "for the speaker only" not in page
    assert re.search(r'<details class="course-solution"><summary>[^<]*</summary>\s*<div[^>]*>[\s\S]*answer',
                     page), "the solution is not inside a closed <details>"
    assert f'src="data:image/png;base64,{frame}"' in page, "the explorer's saved frame is not shown"
    index = (output / "index.html").read_text(encoding="utf-8")
    assert '<a href="01_test.html">test</a>' in index and "later (coming)" in index and "<code>x</code>" in index
    assert not list(output.glob("02*")), "a notebook still to come got a page"


# ----------------------------------------------------------------------------- in a browser

JS_MATH = """async () => {
    if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) return {loaded: false};
    await MathJax.startup.promise;
    const raw = [];
    for (const m of document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown')) {
        const copy = m.cloneNode(true);
        copy.querySelectorAll('code, pre, mjx-container').forEach(e => e.remove());
        const text = copy.textContent;
        const hit = text.match(/\\$\\$|\\\\(frac|beta|theta|alpha|sqrt|hat|mathbb|sum|left|right|tfrac|epsilon|nabla)\\b/)
            || text.match(/(^|[^\\w$])\\$[^$\\s][^$]*\\$/);
        if (hit) raw.push(text.slice(Math.max(0, hit.index - 60), hit.index + 80));
    }
    return {loaded: true, typeset: document.querySelectorAll('mjx-container').length, raw};
}"""

JS_IMAGES = """(ids) => ids.map(id => {
    const images = [...document.querySelectorAll(`[id="cell-id=${id}"] .jp-OutputArea-output img`)];
    return images.length > 0 && images.every(img => img.complete && img.naturalWidth > 0);
})"""


def explorer_cell_ids(path: Path) -> list[str]:
    cells = nbformat.read(path, as_version=4).cells
    return [cell.id for cell in cells if cell.cell_type == "code"
            and any(WIDGET_VIEW in output.get("data", {}) for output in cell.get("outputs", []))]


def has_math(path: Path) -> bool:
    return any("$" in cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown")


@pytest.mark.browser
def test_index_lists_every_notebook_and_its_links_open(site, page_for):
    view = page_for("site-index")
    page = view.page
    page.goto((site / "index.html").as_uri())
    rows = page.locator("tbody tr")
    assert rows.count() == len(readme_rows())
    for row, (number, title, path) in zip(rows.all(), readme_rows()):
        cells = row.locator("td")
        assert cells.nth(0).inner_text() == number and title in cells.nth(1).inner_text()
        links = cells.nth(1).locator("a")
        if path is None:
            assert links.count() == 0, f"notebook {number} is still to come but has a link"
        else:
            assert links.get_attribute("href") == page_name(ROOT / path)
    first = published()[0]
    rows.locator("a").first.click()
    page.wait_for_url(f"**/{page_name(first)}")
    assert view.blocked == [], f"the index asked for {view.blocked}"


@pytest.mark.browser
def test_every_page_reads_offline(site, page_for):
    """Each page from file:// with the network blocked: math typeset, every explorer's picture
    shown, solutions folded until clicked, links to the previous and next notebooks, no errors."""
    view = page_for("site-pages")
    page = view.page
    notebooks = published()
    problems = []
    for number, path in enumerate(notebooks):
        name = page_name(path)
        page.goto((site / name).as_uri())
        expected_title = next(f"{n} · {t}" for n, t, p in readme_rows() if p and ROOT / p == path)
        if page.title() != expected_title:
            problems.append(f"{name}: title {page.title()!r}, not {expected_title!r}")

        math = page.evaluate(JS_MATH)
        if not math["loaded"]:
            problems.append(f"{name}: MathJax did not load")
        elif has_math(path) and (math["typeset"] == 0 or math["raw"]):
            problems.append(f"{name}: {math['typeset']} formulas typeset, raw TeX left: {math['raw'][:3]}")

        explorers = explorer_cell_ids(path)
        shown = page.evaluate(JS_IMAGES, explorers)
        if not explorers or not all(shown):
            problems.append(f"{name}: explorer pictures shown {shown} for cells {explorers}")

        folded = page.locator("details.course-solution")
        names = [defined for _, defined in solutions(path)]
        if folded.count() != len(names):
            problems.append(f"{name}: {folded.count()} folded solutions, the notebook has {len(names)}")
        for details, defined in zip(folded.all(), names):
            code = details.locator(".jp-InputArea-editor").first
            if details.get_attribute("open") is not None or code.is_visible():
                problems.append(f"{name}: the solution defining {defined} is open before a click")
                continue
            details.locator("summary").click()
            if not (code.is_visible() and defined in code.inner_text()):
                problems.append(f"{name}: a click did not open the solution defining {defined}")

        for rel, neighbour in (("prev", number - 1), ("next", number + 1)):
            links = page.locator(f"a[rel={rel}]")
            expected = page_name(notebooks[neighbour]) if 0 <= neighbour < len(notebooks) else None
            hrefs = set(links.evaluate_all("links => links.map(a => a.getAttribute('href'))"))
            if hrefs != ({expected} if expected else set()):
                problems.append(f"{name}: {rel} links {hrefs}, expected {expected}")
        if page.locator("a[href='index.html']").count() == 0:
            problems.append(f"{name}: no link back to the index")

    assert not problems, "\n".join(problems)
    page.locator("a[rel=prev]").first.click()  # the last page's previous: the one before it
    page.wait_for_url(f"**/{page_name(notebooks[-2])}")
    assert view.blocked == [], f"the pages asked for {view.blocked}"
    errors = [line for line in view.console if line.startswith(("error:", "page error:"))]
    assert not errors, "errors in the browser console:\n" + "\n".join(errors)
