"""Export every course notebook as a reveal.js slide deck that opens offline (``make slides``).

    python tools/export_slides.py                         # every notebook -> slides/NN_*.slides.html
    python tools/export_slides.py notebooks/01_*.ipynb    # some of them
    python tools/export_slides.py --output-dir /tmp/decks

Each deck is ONE self-contained HTML file: nbconvert's slides exporter writes it, but reveal.js,
its theme and its speaker-notes plugin, and MathJax are inlined from the copies vendored in
``tools/vendor/`` (see its README) instead of being loaded from a CDN, so a deck opens from a USB
stick on a machine without network (file:// is enough, no server needed).

The slide structure comes from each cell's ``slideshow`` metadata (slide, subslide, fragment,
skip, notes), the same metadata that the live deck in JupyterLab (jupyterlab-slideshow) follows;
the transition / scroll settings come from the notebook's ``rise`` metadata (a name kept from RISE).

An exported deck has no kernel, so an explorer shows the static picture saved with it (its
``image/png`` output) instead of a live widget: the widget views and the saved widget state are
left out, and with them the widget manager that nbconvert would load from a CDN. For live
widgets, present the notebook itself with the deck in JupyterLab (README, "How to present").
"""

import argparse
import re
import sys
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import SlidesExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by path, as the tests do
from offline_export import (MATHJAX, MATHJAX_CONFIG, NOTEBOOKS, ROOT, VENDOR,  # noqa: E402
                            read_vendored, static_notebook)

SLIDES = ROOT / "slides"
REVEAL = VENDOR / "reveal.js"
TEMPLATE_NAME = "course_slides.html.j2"

# nbconvert's reveal template with every CDN reference replaced by an inlined local copy.
# Blocks overridden: the head scripts (jQuery, require.js, mermaid: none is needed), the widget
# manager (no live widgets without a kernel), MathJax 2 from a CDN (-> MathJax 3, SVG output, which
# needs no font files), and the footer that loads reveal.js through require.js from a CDN.
TEMPLATE = r"""
{%- extends 'reveal/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}
{{ resources.course_slides.mathjax_config }}
<script>{{ resources.course_slides.mathjax_js }}</script>
{%- endblock html_head_js_mathjax -%}
{%- block header -%}
{{ super() | replace('<link rel="stylesheet" href="' ~ reveal_url_prefix ~ '/dist/reveal.css">',
                     '<style type="text/css">' ~ resources.course_slides.reveal_css ~ '</style>')
           | replace('<link rel="stylesheet" href="' ~ reveal_url_prefix ~ '/dist/theme/' ~ reveal_theme ~ '.css" id="theme">',
                     '<style type="text/css" id="theme">' ~ resources.course_slides.theme_css ~ '</style>') }}
<style type="text/css">
/* Sized for a 1280x720 projector: the deck is 1280x720 and reveal.js scales it by about 0.98 to
   leave its margin, so 21 px of text and code show as 20.6 px. Code wraps instead of being
   clipped; headings stay as written, since the theme's capitals turn "κ" into "K". */
.reveal { font-size: 21px; }
.reveal .slides section { line-height: 1.35; }
.reveal h1, .reveal h2, .reveal h3, .reveal h4 { text-transform: none; line-height: 1.2; margin-bottom: 0.4em; }
.reveal h1 { font-size: 40px; }
.reveal h2 { font-size: 32px; }
.reveal h3, .reveal h4 { font-size: 26px; }
.reveal p, .reveal li, .reveal table { font-size: 21px; }
.reveal pre, .reveal code, .reveal div.highlight > pre, .reveal div.jp-OutputArea-output > pre {
  font-size: 21px; white-space: pre-wrap; overflow-wrap: anywhere; width: auto; max-width: 100%; box-sizing: border-box;
}
.reveal .jp-InputArea-editor { overflow: visible; }
.reveal section img { max-height: 480px; width: auto; margin: 0.2em 0; }
/* Code shows on a slide only where it is the point: in cells tagged slide-code. */
.reveal .jp-CodeCell:not(.celltag_slide-code) .jp-Cell-inputWrapper { display: none; }
/* Long slides scroll instead of overflowing the projector (the notebook's rise.scroll setting). */
.reveal .slides > section.course-scroll, .reveal .slides > section > section.course-scroll {
  height: 95vh; overflow-y: auto !important; overflow-x: hidden;
}
</style>
{%- endblock header -%}
{% block footer_js %}
<script>{{ resources.course_slides.reveal_js }}</script>
<script>{{ resources.course_slides.notes_js }}</script>
<script>
Reveal.initialize({
  controls: true,
  progress: true,
  history: true,
  hash: true,
  transition: "{{ reveal_transition }}",
  slideNumber: "{{ reveal_number }}",
  plugins: [RevealNotes],
  width: 1280,
  height: 720,
  margin: 0.02
});
function courseScrollingSlides() {
  if (!{{ reveal_scroll }}) return;
  var limit = document.querySelector('.reveal').clientHeight * 0.95;
  document.querySelectorAll('.reveal .slides section').forEach(function (section) {
    if (section.querySelector('section') === null && section.scrollHeight > limit) {
      section.classList.add('course-scroll');
    }
  });
}
Reveal.on('ready', courseScrollingSlides);
Reveal.on('slidechanged', courseScrollingSlides);
</script>
{% endblock footer_js %}
"""


def _theme_css(name: str) -> str:
    # The theme's web fonts (@import of a relative font folder) are not vendored: the theme's own
    # font stack falls back to Helvetica / sans-serif.
    css = read_vendored(REVEAL / "dist" / "theme" / f"{name}.css")
    return re.sub(r"@import url\([^)]*\);", "", css)


def vendored_assets(theme: str = "white") -> dict:
    """The inlined texts the template refers to as ``resources.course_slides.*``."""
    return {
        "reveal_js": read_vendored(REVEAL / "dist" / "reveal.js"),
        "reveal_css": read_vendored(REVEAL / "dist" / "reveal.css"),
        "theme_css": _theme_css(theme),
        "notes_js": read_vendored(REVEAL / "plugin" / "notes" / "notes.js"),
        "mathjax_js": read_vendored(MATHJAX),
        "mathjax_config": MATHJAX_CONFIG,
    }


def make_exporter(notebook: nbformat.NotebookNode) -> SlidesExporter:
    rise = notebook.metadata.get("rise", {})
    exporter = SlidesExporter(extra_loaders=[DictLoader({TEMPLATE_NAME: TEMPLATE})], template_file=TEMPLATE_NAME)
    exporter.reveal_url_prefix = "vendored"  # referenced by nothing the deck loads; set to skip the CDN default
    exporter.reveal_theme = rise.get("theme", "white")
    exporter.reveal_transition = rise.get("transition", "none")
    exporter.reveal_scroll = bool(rise.get("scroll", True))
    exporter.reveal_number = "c/t"
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    return exporter


def export(path: Path, output_dir: Path, assets: dict | None = None) -> Path:
    """Write ``output_dir/<notebook name>.slides.html`` for the notebook at ``path``; return it."""
    notebook = nbformat.read(path, as_version=4)
    exporter = make_exporter(notebook)
    resources = {
        "metadata": {"name": path.stem, "path": str(path.parent)},
        "course_slides": assets or vendored_assets(exporter.reveal_theme),
    }
    body, _ = exporter.from_notebook_node(static_notebook(notebook), resources=resources)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{path.stem}.slides.html"
    target.write_text(body, encoding="utf-8")
    return target


def main(arguments: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to export (default: all)")
    parser.add_argument("--output-dir", type=Path, default=SLIDES, help="where the decks go (default: slides/)")
    options = parser.parse_args(arguments)
    paths = [p.resolve() for p in options.notebooks] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        target = export(path, options.output_dir)
        print(f"{path.name:<50} -> {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
              f"  ({target.stat().st_size / 1e6:.1f} MB)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
