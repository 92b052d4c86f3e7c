"""Build the course as a static website that opens offline (``make site``).

    python tools/build_site.py                      # -> site/index.html and site/NN_name.html
    python tools/build_site.py --output-dir /tmp/course-site

The index is the README's table of notebooks (number, title, what you learn); a notebook still to
come is listed without a link. Each notebook becomes one page, written by nbconvert's HTML exporter
with JupyterLab's look, with links to the index and to the previous and next notebooks.

Everything a page loads lies in the site's folder, so the site opens from file:// with no network
and can be copied anywhere as it is (a USB stick, GitHub Pages):
- math: MathJax from the copy vendored in tools/vendor/ (SVG output, so no font files);
- explorers: the picture saved with each one (a page has no kernel to run a live widget);
- solutions: closed <details> elements that open on a click, as the collapsed cells in JupyterLab;
- cells for the slides only (slide type "notes") are left out.
"""

import argparse
import html
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter
from nbconvert.filters import markdown2html

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by path, as the tests do
from offline_export import MATHJAX, MATHJAX_CONFIG, ROOT, VENDOR, read_vendored, static_notebook  # noqa: E402

SITE = ROOT / "site"
README = ROOT / "README.md"
ASSETS = "assets"
TEMPLATE_NAME = "course_site.html.j2"
HIDDEN_SLIDE_TYPES = {"notes"}  # speaker notes: the slides' business, not a reader's

# A small stylesheet over JupyterLab's: a readable column, wide enough for 100-character outputs.
SITE_CSS = """
body.jp-Notebook, body.course-index { margin: 0; background: #fff; }
main, .course-index main { max-width: 1060px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
body.course-index { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; line-height: 1.5;
  color: #222; }
.course-nav { display: flex; justify-content: space-between; gap: 1rem; max-width: 1060px; margin: 0 auto;
  padding: 0.6rem 1.5rem; font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
.course-nav a { color: #1565c0; text-decoration: none; }
.course-nav a:hover { text-decoration: underline; }
.course-nav span { min-width: 12rem; }
.course-nav .course-next { text-align: right; }
.jp-OutputArea-output img { max-width: 100%; height: auto; }
.jp-RenderedText pre, .jp-InputArea-editor pre { white-space: pre-wrap; overflow-wrap: anywhere; }
details.course-solution { margin: 0.3rem 0 0.8rem; border-left: 3px solid #90caf9; padding-left: 0.5rem; }
details.course-solution > summary { cursor: pointer; color: #1565c0; font: 14px system-ui, sans-serif;
  padding: 0.2rem 0; }
.course-index table { border-collapse: collapse; width: 100%; }
.course-index th, .course-index td { border-bottom: 1px solid #ddd; padding: 0.45rem 0.6rem; text-align: left;
  vertical-align: top; }
.course-index td:first-child { font-variant-numeric: tabular-nums; color: #555; }
.course-index code { background: #f3f3f3; padding: 0 0.2em; border-radius: 3px; }
"""

# nbconvert's JupyterLab template, with everything it would load from a CDN replaced or dropped:
# require.js and mermaid (nothing here needs them), the widget manager (no live widgets without a
# kernel) and MathJax 2 (-> the vendored MathJax 3, a file of the site). A picture's alternative
# text is its output's text (an explorer's settings, a figure's size).
TEMPLATE = r"""
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
{{ resources.course_site.mathjax_config }}
<script src="{{ resources.course_site.mathjax_src }}"></script>
{%- endblock html_head_js_mathjax -%}
{%- block html_head_css -%}
<link rel="stylesheet" href="{{ resources.course_site.css_href }}">
{%- endblock html_head_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.course_site.nav }}
{%- endblock body_header -%}
{% block body_footer %}
{{ resources.course_site.nav }}
{{ super() }}
{% endblock body_footer %}
{% block codecell %}
{%- if 'solution' in cell.metadata.get('tags', []) -%}
<details class="course-solution"><summary>Solution (click to open)</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{% endblock codecell %}
{% block data_png scoped %}
{{ super() | replace('<img ', '<img alt="' ~ (output.data.get('text/plain', 'A figure') | escape_html) ~ '" ', 1) }}
{% endblock data_png %}
"""


@dataclass
class Entry:
    """One row of the README's table of notebooks."""

    number: str
    title: str
    learn: str  # the "what you learn" column, Markdown
    notebook: Path | None  # None for a notebook still to come

    @property
    def page(self) -> str | None:
        return f"{self.notebook.stem}.html" if self.notebook else None


def read_table(readme: Path = README) -> list[Entry]:
    """The rows of the table under the README's "## The notebooks" heading."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("\n## The notebooks", 1)[1].split("\n## ", 1)[0]
    entries = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not re.fullmatch(r"\d\d", cells[0]):
            continue  # the header, its rule, and the prose around the table
        link = re.fullmatch(r"\[(.+)\]\((.+\.ipynb)\)", cells[1])
        title = link.group(1) if link else re.sub(r"\s*\(coming\)$", "", cells[1])
        notebook = (readme.parent / link.group(2)).resolve() if link else None
        entries.append(Entry(cells[0], title, cells[2], notebook))
    if not entries:
        raise SystemExit(f"no table of notebooks found under '## The notebooks' in {readme}")
    return entries


def inline_markdown(text: str) -> str:
    """A table cell's Markdown as HTML, without the paragraph around it."""
    return re.sub(r"^<p>|</p>\s*$", "", markdown2html(text).strip())


def nav(entries: list[Entry], index: int) -> str:
    """Links to the previous notebook, the index and the next notebook (those that have a page)."""
    built = [i for i, entry in enumerate(entries) if entry.page]
    here = built.index(index)

    def link(i: int | None, rel: str, arrow: str) -> str:
        if i is None:
            return "<span></span>"
        entry = entries[i]
        label = f"{arrow} {entry.number} · {html.escape(entry.title)}" if rel == "prev" else \
            f"{entry.number} · {html.escape(entry.title)} {arrow}"
        return f'<span class="course-{rel}"><a rel="{rel}" href="{entry.page}">{label}</a></span>'

    previous = built[here - 1] if here > 0 else None
    following = built[here + 1] if here + 1 < len(built) else None
    return (f'<nav class="course-nav">{link(previous, "prev", "←")}'
            f'<span class="course-home"><a href="index.html">All notebooks</a></span>'
            f'{link(following, "next", "→")}</nav>')


def readable_notebook(path: Path, title: str) -> nbformat.NotebookNode:
    """The notebook as the site shows it: explorers as pictures, slide-only cells left out."""
    notebook = static_notebook(nbformat.read(path, as_version=4))
    notebook.cells = [cell for cell in notebook.cells
                      if cell.metadata.get("slideshow", {}).get("slide_type") not in HIDDEN_SLIDE_TYPES]
    notebook.metadata["title"] = title
    return notebook


def local_links(body: str, entries: list[Entry]) -> str:
    """Links between notebooks (``04_adam.ipynb#…``) go to their pages, or to the index if none yet."""
    pages = {entry.notebook.name: entry.page for entry in entries if entry.notebook}

    def target(match: re.Match) -> str:
        name, anchor = match.group(1), match.group(2) or ""
        return f'href="{pages[name]}{anchor}"' if name in pages else 'href="index.html"'

    return re.sub(r'href="(?:\.\./notebooks/|\./)?(\d\d_[\w-]+\.ipynb)(#[^"]*)?"', target, body)


def make_exporter() -> HTMLExporter:
    exporter = HTMLExporter(extra_loaders=[DictLoader({TEMPLATE_NAME: TEMPLATE})], template_file=TEMPLATE_NAME)
    exporter.theme = "light"
    return exporter


def write_page(exporter: HTMLExporter, entries: list[Entry], index: int, output_dir: Path) -> Path:
    entry = entries[index]
    notebook = readable_notebook(entry.notebook, f"{entry.number} · {entry.title}")
    resources = {
        "metadata": {"name": entry.notebook.stem, "path": str(entry.notebook.parent)},
        "course_site": {
            "mathjax_config": MATHJAX_CONFIG,
            "mathjax_src": f"{ASSETS}/mathjax/{MATHJAX.name}",
            "css_href": f"{ASSETS}/site.css",
            "nav": nav(entries, index),
        },
    }
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    target = output_dir / entry.page
    target.write_text(local_links(body, entries), encoding="utf-8")
    return target


def write_index(entries: list[Entry], output_dir: Path, readme: Path = README) -> Path:
    heading = readme.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
    rows = []
    for entry in entries:
        title = (f'<a href="{entry.page}">{html.escape(entry.title)}</a>' if entry.page
                 else f"{html.escape(entry.title)} (coming)")
        rows.append(f'<tr id="nb-{entry.number}"><td>{entry.number}</td><td>{title}</td>'
                    f"<td>{inline_markdown(entry.learn)}</td></tr>")
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(heading)}</title>
<link rel="stylesheet" href="{ASSETS}/site.css">
</head>
<body class="course-index">
<main>
<h1>{html.escape(heading)}</h1>
<p>One page per notebook, as it looks once run: equations, code and its outputs, each explorer as a
picture, and exercises with their solutions folded (click to open one). To change a setting of an
explorer or to do an exercise, run the notebook itself in JupyterLab.</p>
<table>
<thead><tr><th>#</th><th>notebook</th><th>what you learn</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</main>
</body>
</html>
"""
    target = output_dir / "index.html"
    target.write_text(page, encoding="utf-8")
    return target


def copy_assets(output_dir: Path) -> None:
    assets = output_dir / ASSETS
    if assets.exists():
        shutil.rmtree(assets)
    (assets / "mathjax").mkdir(parents=True)
    read_vendored(MATHJAX, inline=False)  # says how to restore it when it is missing
    shutil.copy2(MATHJAX, assets / "mathjax" / MATHJAX.name)
    shutil.copy2(VENDOR / "mathjax" / "LICENSE", assets / "mathjax" / "LICENSE")
    (assets / "site.css").write_text(SITE_CSS.lstrip(), encoding="utf-8")


def build(output_dir: Path = SITE, readme: Path = README, log=None) -> list[Path]:
    """Write the whole site into ``output_dir``; return the pages written, the index first."""
    entries = read_table(readme)
    output_dir.mkdir(parents=True, exist_ok=True)
    for old in output_dir.glob("*.html"):  # pages of notebooks renamed or removed since the last build
        old.unlink()
    copy_assets(output_dir)
    pages = [write_index(entries, output_dir, readme)]
    exporter = make_exporter()
    for index, entry in enumerate(entries):
        if entry.page:
            pages.append(write_page(exporter, entries, index, output_dir))
            if log:
                log(f"{entry.notebook.name:<50} -> {pages[-1].name}  ({pages[-1].stat().st_size / 1e6:.1f} MB)")
    return pages


def main(arguments: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=SITE, help="where the site goes (default: site/)")
    options = parser.parse_args(arguments)
    start = time.perf_counter()
    pages = build(options.output_dir, log=lambda line: print(line, flush=True))
    print(f"{len(pages)} pages in {time.perf_counter() - start:.1f} s; open "
          f"{(options.output_dir / 'index.html').resolve().as_uri()}")


if __name__ == "__main__":
    main(sys.argv[1:])
