"""Seeded gradient lists for the exercises of notebooks 09 (clipping) and 10 (mixed precision), and
the clipping mistake both check for: each tensor clipped by its own norm instead of one global norm.
"""

import numpy as np

from course_lib import clipping


def gradient_list(seed: int, shapes, scale: float) -> list:
    """One seeded normal array per shape, times ``scale``: the same numbers on every machine."""
    rng = np.random.default_rng(seed)
    return [scale * rng.normal(size=shape) for shape in shapes]


def clip_each_own_norm(grads, max_norm) -> list:
    """The common mistake: copies of ``grads``, each clipped to ``max_norm`` by its own norm. The
    directions of the whole update change, because large tensors shrink more than small ones."""
    clipped = [np.array(g, dtype=float) for g in grads]
    for g in clipped:
        clipping.clip_grad_norm_(g, max_norm)
    return clipped
