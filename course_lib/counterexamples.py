"""When Adam fails: the online counterexample of Reddi, Kale & Kumar (2018), many settings at once.

On the interval [−1, 1] the loss at step t is linear, f_t(x) = g_t·x, with g_t = 1010 when
t mod 101 = 1 and −10 otherwise. Over one period the gradients sum to +10, so the best fixed point
is x = −1; Adam with β₁ = 0.9, β₂ = 0.99 drifts to x = +1, the worst one::

    g = counterexamples.reddi_gradients(500_000)
    lr = counterexamples.inverse_sqrt_lr(0.5, len(g))                  # α/√t
    x = counterexamples.online_adam(g, lr, beta2=np.array([0.99, 0.999, 0.9999]))
    x.shape                                                           # (500_001, 3): x_0 … x_T per β₂

The gradient does not depend on x, so Adam's two averages, and with them every step it would
take, can be computed for all t at once; only the projection back onto [−1, 1] is sequential.
Both recursions (the averages and the projected sum) run over the positions of a block for all
blocks at once, then carry each block's end into the next: about 2·√T Python iterations instead
of T, which makes 500 000 steps of several settings take a fraction of a second. The numbers are
torch's ``Adam`` followed by a clip, to rounding (tests/test_nb04_adam.py checks them against
``torch.optim.Adam`` and ``course_lib.optim.Adam``).
"""

import numpy as np

__all__ = [
    "reddi_gradients",
    "reddi_stochastic_gradients",
    "inverse_sqrt_lr",
    "ewa_over_time",
    "projected_cumsum",
    "adam_moves",
    "online_adam",
    "online_sgd",
    "tail_mean",
]


def reddi_gradients(steps: int, period: int = 101, big: float = 1010.0, small: float = -10.0) -> np.ndarray:
    """g_1 … g_steps of the online problem: ``big`` when t mod ``period`` = 1, else ``small``."""
    t = np.arange(1, _checked_steps(steps) + 1)
    return np.where(t % period == 1, big, small)


def reddi_stochastic_gradients(steps: int, seed: int = 0, probability: float = 0.01, big: float = 1010.0,
                               small: float = -10.0) -> np.ndarray:
    """The stochastic variant: ``big`` with probability ``probability``, else ``small`` (seeded)."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(_checked_steps(steps)) < probability, big, small)


def inverse_sqrt_lr(alpha: float, steps: int) -> np.ndarray:
    """The step sizes α/√t for t = 1 … steps."""
    return alpha / np.sqrt(np.arange(1, _checked_steps(steps) + 1))


def ewa_over_time(values, beta, block: int | None = None) -> np.ndarray:
    """v_t = β·v_(t−1) + (1 − β)·x_t for t = 1 … T along axis 0, from v_0 = 0.

    values: shape (T,) + S; beta: a number or an array broadcasting against S (one β per
    setting). Returns shape (T,) + the broadcast shape.
    """
    values = np.asarray(values, dtype=float)
    beta = np.asarray(beta, dtype=float)
    blocks, size, length = _as_blocks(values, block)              # (size, n_blocks, …): position-major
    shape = np.broadcast_shapes(values.shape[1:], beta.shape)
    local = np.empty((size, blocks.shape[1]) + shape)
    average = np.zeros(local.shape[1:])
    for i in range(size):                                          # inside every block at once, from 0
        average = beta * average + (1 - beta) * blocks[i]
        local[i] = average
    carried = np.zeros(local.shape[1:])                            # v at the end of the block before
    for k in range(1, local.shape[1]):
        carried[k] = local[-1, k - 1] + beta**size * carried[k - 1]
    decay = beta ** np.arange(1, size + 1).reshape((size, 1) + (1,) * len(shape))   # β^i after i steps
    return _unblocked(local + decay * carried, length)


def projected_cumsum(increments, start=0.0, low: float = -1.0, high: float = 1.0,
                     block: int | None = None) -> np.ndarray:
    """x_0 = start, x_t = clip(x_(t−1) + d_t, low, high): a sum kept inside [low, high].

    Returns x_0 … x_T along axis 0 (shape (T + 1,) + the shape of one increment). A run of clipped
    steps x ↦ clip(x + d, low, high) is again such a map, x ↦ clip(x + S, L, H), so each block's
    map is built for all blocks at once, and then applied block after block.
    """
    increments = np.asarray(increments, dtype=float)
    blocks, size, length = _as_blocks(increments, block)          # (size, n_blocks, …)
    maps = np.empty((3,) + blocks.shape)                           # S, L, H after each position
    before = np.array([0.0, -np.inf, np.inf]).reshape((3,) + (1,) * (blocks.ndim - 1))   # the identity map
    for i in range(size):                                          # for all blocks at once:
        np.add(before, blocks[i], out=maps[:, i])                  #   S + d, L + d, H + d
        np.clip(maps[1:, i], low, high, out=maps[1:, i])           #   L, H kept inside [low, high]
        before = maps[:, i]
    total, floor, ceiling = maps[:, -1]                            # each block's whole map
    starts = np.empty(blocks.shape[1:])                            # x at the start of each block
    starts[0] = start
    for k in range(1, len(starts)):
        starts[k] = np.clip(starts[k - 1] + total[k - 1], floor[k - 1], ceiling[k - 1])
    inside = np.minimum(np.maximum(starts + maps[0], maps[1]), maps[2])   # clip(x + S, L, H), elementwise
    return np.concatenate([starts[:1], _unblocked(inside, length)])


def adam_moves(gradients, lr, beta1=0.9, beta2=0.99, eps: float = 1e-8, amsgrad: bool = False):
    """The moves Adam (torch's update, or AMSGrad) would make at every step, and its denominators,
    on a 1-D problem whose gradient g_t does not depend on x (a linear loss g_t·x).

    gradients: shape (T,). lr: a number or per-step rates of shape (T,). beta1, beta2: numbers or
    arrays of R values, one per setting. Returns (moves, denominators), each of shape (T,) for
    one setting or (T, R) for R: x_t = x_(t−1) + moves_t before projection, where
    moves_t = −lr_t/(1 − β₁ᵗ) · m_t / (√v_t / √(1 − β₂ᵗ) + ε).
    """
    g = np.asarray(gradients, dtype=float)
    if g.ndim != 1:
        raise ValueError(f"gradients must have shape (T,), got {g.shape}")
    beta1, beta2 = np.asarray(beta1, dtype=float), np.asarray(beta2, dtype=float)
    settings = np.broadcast_shapes(beta1.shape, beta2.shape)
    if len(settings) > 1:
        raise ValueError(f"beta1 and beta2 must be numbers or 1-D arrays, got shapes {beta1.shape}, {beta2.shape}")
    column = (len(g),) + (1,) * len(settings)                      # time along axis 0, settings after it
    t = np.arange(1, len(g) + 1).reshape(column)
    lr = np.broadcast_to(np.asarray(lr, dtype=float), g.shape).reshape(column)
    exp_avg = ewa_over_time(g.reshape(column), beta1)              # m_t
    exp_avg_sq = ewa_over_time((g * g).reshape(column), beta2)     # v_t
    if amsgrad:
        exp_avg_sq = np.maximum.accumulate(exp_avg_sq, axis=0)     # max of v_1 … v_t
    denom = np.sqrt(exp_avg_sq) / np.sqrt(1 - _power(beta2, t)) + eps
    moves = -(lr / (1 - _power(beta1, t))) * exp_avg / denom
    shape = (len(g),) + np.broadcast_shapes(settings, np.shape(moves)[1:])
    return np.broadcast_to(moves, shape), np.broadcast_to(denom, shape)


def online_adam(gradients, lr, beta1=0.9, beta2=0.99, eps: float = 1e-8, amsgrad: bool = False,
                start=0.0, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """x_0 … x_T of Adam (or AMSGrad) projected onto [low, high] after every step: the moves of
    ``adam_moves`` (same arguments), summed and clipped. Shape (T + 1,) or (T + 1, R)."""
    moves, _ = adam_moves(gradients, lr, beta1, beta2, eps, amsgrad)
    return projected_cumsum(moves, start, low, high)


def online_sgd(gradients, lr, start=0.0, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """x_0 … x_T of projected gradient descent, x_t = clip(x_(t−1) − lr_t·g_t, low, high)."""
    g = np.asarray(gradients, dtype=float)
    return projected_cumsum(-np.broadcast_to(np.asarray(lr, dtype=float), g.shape) * g, start, low, high)


def tail_mean(path, fraction: float = 0.1) -> np.ndarray:
    """The mean of x over the last ``fraction`` of the steps (where a run has settled)."""
    path = np.asarray(path)
    return path[-max(1, int(round(fraction * (len(path) - 1)))):].mean(axis=0)


def _power(beta: np.ndarray, t: np.ndarray) -> np.ndarray:
    """βᵗ as exp(t·ln β): the same to a few units in the last place, and much faster than ``**``
    on (T, R) arrays (β = 0 gives 0)."""
    with np.errstate(divide="ignore"):
        return np.exp(t * np.log(beta))


def _checked_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"steps must be an int, got {steps!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return int(steps)


def _as_blocks(values: np.ndarray, block: int | None):
    """values (T, …) zero-padded to n·size rows and cut into blocks, position-major: element
    [i, k] is step k·size + i (so the loop over i reads and writes whole rows); size ≈ √T."""
    length = len(values)
    if length == 0:
        raise ValueError("there must be at least one step")
    size = block or max(1, int(np.sqrt(length)))
    count = -(-length // size)
    padded = np.zeros((count * size,) + values.shape[1:])
    padded[:length] = values
    blocks = padded.reshape((count, size) + values.shape[1:]).swapaxes(0, 1)
    return np.ascontiguousarray(blocks), size, length


def _unblocked(blocks: np.ndarray, length: int) -> np.ndarray:
    """The inverse of ``_as_blocks``: (size, n_blocks, …) back to the first ``length`` steps."""
    return blocks.swapaxes(0, 1).reshape((-1,) + blocks.shape[2:])[:length]
