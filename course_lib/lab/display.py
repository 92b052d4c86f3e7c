"""Show course_lib's own code in a notebook, so what the reader sees is what runs, and say how closely
two computations agree."""

import inspect
import textwrap
from numbers import Real

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
    mark = "✓" if largest <= tolerance else "✗ NOT"
    return f"largest difference {largest:.1e}, {mark} within {tolerance:.0e}"


def verdict(ours, theirs, tolerance: float = 0.0, relative: bool = False) -> str:
    """How closely two arrays agree, as a short verdict: '✓ identical' (tolerance 0), '✓ within 1e-12',
    or '✗ off by 3.1e-10' with the largest difference.

    With ``relative`` the differences are divided by |theirs| (where it is not 0). An agreeing
    difference is not printed: its last digits vary between machines, the verdict does not.
    """
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    if ours.shape != theirs.shape:
        raise ValueError(f"cannot compare shapes {ours.shape} and {theirs.shape}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, Real) or not tolerance >= 0:
        raise ValueError(f"tolerance must be a number >= 0, got {tolerance!r}")
    difference = np.abs(ours - theirs)
    if relative:
        scale = np.abs(theirs)
        difference = np.divide(difference, scale, out=difference.copy(), where=scale > 0)
    largest = float(np.max(difference, initial=0.0))
    if not largest <= tolerance:
        return f"✗ off by {largest:.1e}"
    return "✓ identical" if tolerance == 0 else f"✓ within {tolerance:.0e}"
