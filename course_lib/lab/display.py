"""Show course_lib's own code in a notebook, so what the reader sees is what runs."""

import inspect
import textwrap

import numpy as np


class SourceListing:
    """The source of one or more functions or classes, rendered as a Python code block.

    A method is shown without its class's indentation. The text forms (Markdown and plain) are
    deterministic, so a saved notebook compares cleanly.
    """

    def __init__(self, *objects):
        if not objects:
            raise ValueError("show_source needs at least one function or class")
        self.source = "\n\n".join(textwrap.dedent(inspect.getsource(obj)).rstrip() for obj in objects)

    def _repr_markdown_(self):
        return f"```python\n{self.source}\n```"

    def __repr__(self):
        return self.source


def show_source(*objects):
    """Display the source of ``objects`` (functions or classes) as one highlighted code block."""
    return SourceListing(*objects)


def agreement(ours, theirs, tolerance):
    """'largest difference 4.4e-16, within 1e-12 ✓' for two arrays that should be equal.

    The difference itself varies in its last digits between machines (nbval masks it); whether it is
    within ``tolerance`` does not.
    """
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    if ours.shape != theirs.shape:
        raise ValueError(f"cannot compare shapes {ours.shape} and {theirs.shape}")
    largest = float(np.max(np.abs(ours - theirs), initial=0.0))
    verdict = "✓" if largest <= tolerance else "✗ NOT"
    return f"largest difference {largest:.1e}, {verdict} within {tolerance:.0e}"
