"""Adam written out one step at a time, in the forms that circulate, to see where they differ.

``adam_step`` is Kingma & Ba's Algorithm 1, which ``torch.optim.Adam`` computes; the others move
one thing (where ε goes, or the bias correction) and say in their docstring what changes::

    w, m, v = adam_step(w, m, v, grad, t, lr=1e-3)            # t counts from 1

Each returns (w_new, m_new, v_new) and leaves its arguments alone.
"""

import numpy as np

__all__ = ["adam_moments", "adam_step", "adam_step_efficient", "adam_step_eps_inside_root",
           "adam_step_uncorrected", "efficient_eps"]


def adam_moments(m, v, grad, beta1, beta2):
    """The two averages: m ← β₁·m + (1 − β₁)·g (momentum), v ← β₂·v + (1 − β₂)·g² (RMSProp)."""
    return beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad * grad


def adam_step(w, m, v, grad, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Algorithm 1 (Kingma & Ba 2015), as torch computes it: ε added after the square root.

    m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ),  w ← w − lr·m̂ / (√v̂ + ε).
    """
    m, v = adam_moments(m, v, grad, beta1, beta2)
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_step_efficient(w, m, v, grad, t, lr=1e-3, beta1=0.9, beta2=0.999, eps_hat=1e-8):
    """The paper's "more efficient" order (end of its Section 2): fold both corrections into the
    step size, lr_t = lr·√(1 − β₂ᵗ) / (1 − β₁ᵗ), and divide by √v + ε̂ (uncorrected v).

    It equals ``adam_step`` only when ε̂ = ε·√(1 − β₂ᵗ) (``efficient_eps``); with a fixed ε̂ = ε
    the ε is in effect 1/√(1 − β₂ᵗ) times larger (31.6× at t = 1 with β₂ = 0.999).
    """
    m, v = adam_moments(m, v, grad, beta1, beta2)
    lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return w - lr_t * m / (np.sqrt(v) + eps_hat), m, v


def efficient_eps(eps, beta2, t):
    """The ε̂ that makes the efficient form equal Algorithm 1 at step t: ε·√(1 − β₂ᵗ)."""
    return eps * np.sqrt(1 - beta2**t)


def adam_step_eps_inside_root(w, m, v, grad, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """The seed notes' form, ε under the root: w ← w − lr·m̂ / √(v̂ + ε). It acts like an ε of
    about √ε (1e-4 for ε = 1e-8) added after the root, so it damps every gradient below ~1e-4."""
    m, v = adam_moments(m, v, grad, beta1, beta2)
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / np.sqrt(v_hat + eps), m, v


def adam_step_uncorrected(w, m, v, grad, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam without bias correction: w ← w − lr·m / (√v + ε). Early on m is (1 − β₁ᵗ) and √v is
    √(1 − β₂ᵗ) times too small, so the first steps are (1 − β₁ᵗ)/√(1 − β₂ᵗ) times too long."""
    m, v = adam_moments(m, v, grad, beta1, beta2)
    return w - lr * m / (np.sqrt(v) + eps), m, v
