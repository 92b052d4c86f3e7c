"""What the offline exports share (``make slides``: export_slides.py, ``make site``: build_site.py).

Both turn the committed notebooks into pages that open from file:// with no network: MathJax
comes from the copy vendored in ``tools/vendor/`` (see its README), configured the same way, and
each explorer, a live widget that needs a kernel, shows the picture saved with it instead.
"""

import copy
import re
from pathlib import Path

import nbformat

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
NOTEBOOKS = ROOT / "notebooks"
VENDOR = TOOLS / "vendor"
# MathJax 3, TeX input, SVG output: SVG needs no font files, so one script is all a page loads.
MATHJAX = VENDOR / "mathjax" / "es5" / "tex-svg-full.js"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

# The notebooks' TeX as JupyterLab reads it: $…$ and \(…\) inline, $$…$$ and \[…\] displayed.
MATHJAX_CONFIG = r"""<script>
window.MathJax = {
  tex: {
    inlineMath: [['$', '$'], ['\\(', '\\)']],
    displayMath: [['$$', '$$'], ['\\[', '\\]']],
    processEscapes: true,
    processEnvironments: true
  },
  svg: { fontCache: 'global' },
  options: { enableMenu: false, ignoreHtmlClass: 'tex2jax_ignore', processHtmlClass: 'tex2jax_process' }
};
</script>"""


def read_vendored(path: Path, inline: bool = True) -> str:
    """The text of a vendored file; with ``inline``, made safe to paste into a <script> or <style>."""
    if not path.is_file():
        raise SystemExit(f"{path} is missing: tools/vendor/README.md says how to restore it")
    text = path.read_text(encoding="utf-8")
    if not inline:
        return text
    # Inlined, a source-map comment would point the browser at a file that is not there.
    text = re.sub(r"^//# sourceMappingURL=.*$", "", text, flags=re.MULTILINE)
    # Nothing must close the inline <script> early.
    return text.replace("</script", "<\\/script")


def _saved_frame(state: dict, model_id: str, seen: set | None = None) -> str | None:
    """The base64 PNG a canvas inside widget ``model_id`` sent last (its ``_data_url``), if any."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return None
    seen.add(model_id)
    values = state[model_id].get("state", {})
    data_url = values.get("_data_url") or ""
    if data_url.startswith("data:image/png;base64,"):
        return data_url.split(",", 1)[1]
    # The widgets it holds: "IPY_MODEL_<id>" references, alone or in lists (a box's children).
    references = [item for value in values.values() for item in (value if isinstance(value, list) else [value])]
    for reference in references:
        if isinstance(reference, str) and reference.startswith("IPY_MODEL_"):
            found = _saved_frame(state, reference[len("IPY_MODEL_"):], seen)
            if found:
                return found
    return None


def static_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy without live widgets: each widget output keeps its saved picture and text.

    An explorer's output holds its picture as ``image/png`` beside the widget view. Where an output
    has none, the last frame its canvas sent (``_data_url`` in the saved widget state) takes its place.
    """
    notebook = copy.deepcopy(notebook)
    state = notebook.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).pop(WIDGET_VIEW, None)
            if view and "image/png" not in output["data"]:
                frame = _saved_frame(state, view.get("model_id", ""))
                if frame:
                    output["data"]["image/png"] = frame
    return notebook
