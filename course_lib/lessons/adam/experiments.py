"""Notebook 04's experiments: Adam written out one step at a time in the forms that circulate, and
the online counterexample of Reddi, Kale & Kumar (2018), computed for all steps at once.

    w, m, v = adam_step(w, m, v, grad, t, lr=1e-3)         # t counts from 1
    x = online_adam(reddi_gradients(500_000), 0.01, beta2=np.array([0.99, 0.999]))

The optimizer itself is part of the mirror (``course_lib.optim.Adam``).
"""

from typing import NamedTuple

import numpy as np

# --------------------------------------------------------------------------------------------------
# Adam written out one step at a time
# --------------------------------------------------------------------------------------------------
# ``adam_step`` is Kingma & Ba's Algorithm 1, which ``torch.optim.Adam`` computes; the others move
# one thing (where ε goes, or the bias correction) and say in their docstring what changes::
#
#     w, m, v = adam_step(w, m, v, grad, t, lr=1e-3)            # t counts from 1
#
# Each returns (w_new, m_new, v_new) and leaves its arguments alone.


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
    """A common misstatement, ε under the root: w ← w − lr·m̂ / √(v̂ + ε). It acts like an ε of
    about √ε (1e-4 for ε = 1e-8) added after the root, so it damps every gradient below ~1e-4."""
    m, v = adam_moments(m, v, grad, beta1, beta2)
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / np.sqrt(v_hat + eps), m, v


def adam_step_uncorrected(w, m, v, grad, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam without bias correction: w ← w − lr·m / (√v + ε). Early on m is (1 − β₁ᵗ) and √v is
    √(1 − β₂ᵗ) times too small, so the first steps are (1 − β₁ᵗ)/√(1 − β₂ᵗ) times too long."""
    m, v = adam_moments(m, v, grad, beta1, beta2)
    return w - lr * m / (np.sqrt(v) + eps), m, v


# --------------------------------------------------------------------------------------------------
# When Adam fails: the online counterexample of Reddi, Kale & Kumar (2018)
# --------------------------------------------------------------------------------------------------
# On the interval [−1, 1] the loss at step t is linear, f_t(x) = g_t·x, with g_t = 1010 when
# t mod 101 = 1 and −10 otherwise. Over one period the gradients sum to +10, so the best fixed point
# is x = −1; Adam with β₁ = 0.9, β₂ = 0.99 drifts to x = +1, the worst one::
#
#     g = lesson.reddi_gradients(500_000)
#     lr = lesson.inverse_sqrt_lr(0.5, len(g))                  # α/√t
#     x = lesson.online_adam(g, lr, beta2=np.array([0.99, 0.999, 0.9999]))
#     x.shape                                                           # (500_001, 3): x_0 … x_T per β₂
#
# The gradient does not depend on x, so Adam's two averages, and with them every step it would
# take, can be computed for all t at once; only the projection back onto [−1, 1] is sequential.
# Both recursions (the averages and the projected sum) run over the positions of a block for all
# blocks at once, then carry each block's end into the next: with blocks of √(T/8) steps, a few
# numpy calls per position (√(T/8) positions) and a few float operations per block (√(8T) blocks)
# instead of T steps, which makes 500 000 steps of several settings take a fraction of a second.
# ``AdamAndAMSGrad`` keeps what does not depend on β₂ and gives Adam and AMSGrad at another β₂ in
# one pass (the explorer of notebook 04). The numbers are torch's ``Adam`` followed by a clip, to
# rounding (tests/lessons/test_adam.py checks them against ``torch.optim.Adam`` and ``course_lib.optim.Adam``).


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
    setting). Returns shape (T,) + the broadcast shape. ``block``: the block length (√(T/8) if not given).
    """
    values = np.asarray(values, dtype=float)
    beta = np.asarray(beta, dtype=float)
    size = _block_size(len(values), block)
    shape = np.broadcast_shapes(values.shape[1:], beta.shape)
    columns = np.broadcast_to(values, values.shape[:1] + shape).reshape(len(values), -1)
    averages = _ewa_blocks(_to_blocks(columns, size), np.broadcast_to(beta, shape).reshape(-1, 1))
    return _from_blocks(averages, len(values)).reshape(values.shape[:1] + shape)


def projected_cumsum(increments, start=0.0, low: float = -1.0, high: float = 1.0,
                     block: int | None = None) -> np.ndarray:
    """x_0 = start, x_t = clip(x_(t−1) + d_t, low, high): a sum kept inside [low, high].

    Returns x_0 … x_T along axis 0 (shape (T + 1,) + the shape of one increment). A run of clipped
    steps x ↦ clip(x + d, low, high) is again such a map, x ↦ clip(x + S, L, H), so each block's
    map is built for all blocks at once, and then applied block after block.
    """
    increments = np.asarray(increments, dtype=float)
    size = _block_size(len(increments), block)
    shape = increments.shape[1:]
    starts = np.broadcast_to(np.asarray(start, dtype=float), shape).ravel()
    path = _projected_blocks(_to_blocks(increments.reshape(len(increments), -1), size), starts, low, high)
    return _from_blocks(path, len(increments), first=starts).reshape((len(increments) + 1,) + shape)


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


class AdamRuns(NamedTuple):
    """Adam (column 0) and AMSGrad (column 1) at one β₂: x_0 … x_T, shape (T + 1, 2), and the
    denominators √v̂_t + ε of steps 1 … T, shape (T, 2)."""

    paths: np.ndarray
    denominators: np.ndarray


class AdamAndAMSGrad:
    """Adam and AMSGrad on one gradient sequence and one step-size schedule, for any β₂ (β₁ fixed):
    what the two share is computed once here, what depends on β₂ once per call for both.

    The two differ only in the denominator: Adam divides by √v_t, AMSGrad by the running maximum
    √(max_(s≤t) v_s) (= max_(s≤t) √v_s), each /√(1 − β₂ᵗ), + ε. The numerator
    −lr_t/(1 − β₁ᵗ)·m_t depends only on the gradients and the schedule, so it is kept, with g_t²
    and t, in the blocked layout the recursions run on::

        runs = AdamAndAMSGrad(gradients, lr)           # once per gradient sequence and schedule
        paths, denominators = runs.run(beta2=0.99)     # (T + 1, 2) and (T, 2): Adam, AMSGrad

    ``run(β₂)`` gives the numbers of ``online_adam`` (and ``moves(β₂)`` those of ``adam_moves``) with
    ``amsgrad`` False and True, to the last bit (with the same ``block``), from one EWA of g² instead
    of four EWAs and one projected sum of two columns instead of two of one. Every call reuses the
    same work arrays (fresh memory, page by page, costs about as much as the arithmetic): not
    thread-safe.
    """

    def __init__(self, gradients, lr, beta1: float = 0.9, eps: float = 1e-8, block: int | None = None):
        g = np.asarray(gradients, dtype=float)
        if g.ndim != 1:
            raise ValueError(f"gradients must have shape (T,), got {g.shape}")
        beta1 = np.asarray(beta1, dtype=float)
        if beta1.ndim:
            raise ValueError(f"beta1 must be a number, got shape {beta1.shape}")
        self.steps, self.eps = len(g), float(eps)
        self._size = size = _block_size(len(g), block)
        t = np.arange(1, len(g) + 1)
        lr = np.broadcast_to(np.asarray(lr, dtype=float), g.shape)
        step = -(lr / (1 - _power(beta1, t))) * ewa_over_time(g, beta1, size)   # −lr_t/(1 − β₁ᵗ)·m_t
        self._step = _to_blocks(step[:, None], size)                          # (size, 1, n_blocks)
        self._squares = _to_blocks((g * g)[:, None], size)                    # g_t²
        count = self._step.shape[2]
        self._t = np.ascontiguousarray(np.arange(1, count * size + 1.0).reshape(count, size).T[:, None])   # t
        self._work = np.empty(self._step.shape)                               # v_t, then √(1 − β₂ᵗ)
        self._denominators = np.empty((size, 2, count))                       # Adam's, AMSGrad's
        self._moves = np.empty((size, 2, count))                              # the moves, then the paths

    def moves(self, beta2: float) -> tuple[np.ndarray, np.ndarray]:
        """(moves, denominators) of Adam and AMSGrad at ``beta2``, each (T, 2): ``adam_moves``'s."""
        self._blocked_moves(beta2)
        return _from_blocks(self._moves, self.steps), _from_blocks(self._denominators, self.steps)

    def run(self, beta2: float, start: float = 0.0, low: float = -1.0, high: float = 1.0,
            out: AdamRuns | None = None) -> AdamRuns:
        """x_0 … x_T of Adam and AMSGrad projected onto [low, high] and their denominators: ``online_adam``.
        ``out``: an earlier result of ``run`` to write this one into, instead of new arrays."""
        self._blocked_moves(beta2)
        starts = np.full(2, float(start))
        paths = _projected_blocks(self._moves, starts, low, high, out=self._moves)   # x_t over the moves
        out_paths, out_denominators = (None, None) if out is None else out
        return AdamRuns(_from_blocks(paths, self.steps, first=starts, out=out_paths),
                        _from_blocks(self._denominators, self.steps, out=out_denominators))

    def _blocked_moves(self, beta2: float) -> None:
        """moves_t = −lr_t/(1 − β₁ᵗ)·m_t / (√v_t / √(1 − β₂ᵗ) + ε), with v_t (Adam, column 0) or
        max_(s≤t) v_s (AMSGrad, column 1), into ``_moves`` and the denominators into ``_denominators``."""
        beta2 = np.asarray(beta2, dtype=float)
        if beta2.ndim:
            raise ValueError(f"beta2 must be a number, got shape {beta2.shape}")
        adam, amsgrad = self._denominators[:, :1], self._denominators[:, 1:]
        np.sqrt(_ewa_blocks(self._squares, beta2.reshape(1, 1), out=self._work), out=adam)   # √v_t
        _running_max_blocks(adam, out=amsgrad)                              # √(max v) = max √v
        # Once β₂ᵗ < 2⁻⁶⁰ (t > last), 1 − β₂ᵗ rounds to 1 and dividing by it changes nothing:
        # only the blocks that start at t ≤ last are divided.
        with np.errstate(divide="ignore"):
            last = 60 * np.log(2) / -np.log(beta2)
        early = np.searchsorted(self._t[0, 0], last, side="right")
        correction = self._work[..., :early]
        np.subtract(1, _power(beta2, self._t[..., :early], out=correction), out=correction)
        self._denominators[..., :early] /= np.sqrt(correction, out=correction)   # √v_t / √(1 − β₂ᵗ)
        self._denominators += self.eps
        np.divide(self._step, self._denominators, out=self._moves)


def online_sgd(gradients, lr, start=0.0, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """x_0 … x_T of projected gradient descent, x_t = clip(x_(t−1) − lr_t·g_t, low, high)."""
    g = np.asarray(gradients, dtype=float)
    return projected_cumsum(-np.broadcast_to(np.asarray(lr, dtype=float), g.shape) * g, start, low, high)


def tail_mean(path, fraction: float = 0.1) -> np.ndarray:
    """The mean of x over the last ``fraction`` of the steps (where a run has settled)."""
    path = np.asarray(path)
    return path[-max(1, int(round(fraction * (len(path) - 1)))):].mean(axis=0)


def _power(beta: np.ndarray, t: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """βᵗ as exp(t·ln β): the same to a few units in the last place, and much faster than ``**``
    on (T, R) arrays (β = 0 gives 0). Where t·ln β ≤ −746 the result is 0, set without calling exp
    (which is slow where it underflows)."""
    with np.errstate(divide="ignore"):
        exponent = np.multiply(t, np.log(beta), out=out)
    underflow = exponent <= -746.0
    np.exp(exponent, out=exponent, where=~underflow)
    exponent[underflow] = 0.0
    return exponent


def _checked_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"steps must be an int, got {steps!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return int(steps)


def _block_size(length: int, block: int | None = None) -> int:
    """The block length the recursions use: ``block``, or ≈ √(T/8). A position costs a few numpy
    calls on a row of one number per block; a block, a few Python float operations per column in
    the carry loops (``_carried``, ``_block_starts``), ~8 times cheaper."""
    if length == 0:
        raise ValueError("there must be at least one step")
    return block or max(1, int(np.sqrt(length / 8)))


# The blocked layout: a (T, c) array is zero-padded to n·size rows and stored as (size, c, n), element
# [i, j, k] being step k·size + i of column j. Position i of every block is then one contiguous row,
# so a recursion over the positions costs ``size`` calls on rows of c·n numbers.

def _to_blocks(columns: np.ndarray, size: int) -> np.ndarray:
    """(T, c) → (size, c, n) blocked, zero-padded."""
    length, width = columns.shape
    count = -(-length // size)
    padded = np.zeros((width, count * size))
    padded[:, :length] = columns.T
    blocked = np.empty((size, width, count))
    for plane, column in zip(blocked.transpose(1, 0, 2), padded):          # one 2-D transpose per column
        np.copyto(plane, column.reshape(count, size).T)
    return blocked


def _from_blocks(blocked: np.ndarray, length: int, first=None, out: np.ndarray | None = None) -> np.ndarray:
    """(size, c, n) blocked → its first ``length`` steps as (length, c), after a row ``first`` if
    given (then (length + 1, c)). Column-major: each column is contiguous, and so must be those of
    ``out``, an earlier result to write into."""
    size, width, count = blocked.shape
    offset = 0 if first is None else 1
    columns = np.empty((width, offset + length)) if out is None else out.T
    if not columns.flags.c_contiguous or columns.shape != (width, offset + length):
        raise ValueError(f"out must have shape {(offset + length, width)} with contiguous columns, got {out.shape}")
    if first is not None:
        columns[:, 0] = first
    whole, rest = divmod(length, size)                                    # blocks that end by step T
    for column, plane in zip(columns, blocked.transpose(1, 0, 2)):
        np.copyto(column[offset:offset + whole * size].reshape(whole, size), plane[:, :whole].T)
        if rest:
            column[offset + whole * size:] = plane[:rest, whole]
    return columns.T if out is None else out


def _ewa_blocks(blocked: np.ndarray, beta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """v_t = β·v_(t−1) + (1 − β)·x_t, v_0 = 0, on blocked x (size, c, n); β: (c, 1), one per column.

    Each block is averaged from 0, all blocks at once; block k then adds βⁱ·V_k at its position i,
    V_k being v at the end of block k − 1 (``_carried``). ``out`` may be ``blocked`` itself."""
    size = len(blocked)
    local = np.multiply(1 - beta, blocked, out=out)                       # (1 − β)·x_t, then v_t
    average, row = np.zeros(local.shape[1:]), np.empty(local.shape[1:])
    for i in range(size):
        average = np.add(np.multiply(beta, average, out=row), local[i], out=local[i])
    carried = _carried(local[-1], beta ** size)
    decay = beta ** np.arange(1, size + 1).reshape(size, 1, 1)            # βⁱ
    for rows in range(0, size, 64):                                       # a small temporary at a time
        local[rows:rows + 64] += decay[rows:rows + 64] * carried
    return local


def _carried(ends: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """V_0 = 0, V_k = e_(k−1) + q·V_(k−1) along each row of ends (c, n), q = decay (c, 1):
    what each block inherits from the blocks before it."""
    carried = np.empty(ends.shape)
    for row, block_ends, q in zip(carried, ends.tolist(), decay.ravel().tolist()):
        value, values = 0.0, [0.0]
        for end in block_ends[:-1]:
            value = end + q * value
            values.append(value)
        row[:] = values
    return carried


def _running_max_blocks(blocked: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """max(x_1 … x_t) on blocked x (size, c, n): within each block, then with the earlier blocks'."""
    local = np.empty(blocked.shape) if out is None else out
    local[0] = blocked[0]
    for i in range(1, len(blocked)):
        np.maximum(local[i - 1], blocked[i], out=local[i])
    before = np.full(blocked.shape[1:], -np.inf)                          # max of all earlier blocks
    np.maximum.accumulate(local[-1, :, :-1], axis=1, out=before[:, 1:])
    return np.maximum(local, before, out=local)


def _projected_blocks(blocked: np.ndarray, start: np.ndarray, low: float, high: float,
                      out: np.ndarray | None = None) -> np.ndarray:
    """x_t = clip(x_(t−1) + d_t, low, high) on blocked d (size, c, n), x_0 = start (c,): x_1 … x_T blocked.

    Pass 1 builds each block's map x ↦ clip(x + S, L, H): S the block's sum, L and H where −∞ and
    +∞ end up. ``_block_starts`` applies the maps block after block; pass 2 steps every block from
    its start. ``out`` may be ``blocked`` itself.
    """
    lows, highs = np.full((2,) + blocked.shape[1:], low), np.full((2,) + blocked.shape[1:], high)
    floor_ceiling = np.empty(lows.shape)
    floor_ceiling[0], floor_ceiling[1] = -np.inf, np.inf
    for d in blocked:                                                     # pass 1: L, H of every block
        np.add(floor_ceiling, d, out=floor_ceiling)
        np.minimum(floor_ceiling, highs, out=floor_ceiling)
        np.maximum(floor_ceiling, lows, out=floor_ceiling)
    x = _block_starts(start, blocked.sum(axis=0), *floor_ceiling)
    path = np.empty(blocked.shape) if out is None else out
    for d, row in zip(blocked, path):                                     # pass 2: x inside every block
        x = np.maximum(np.minimum(np.add(x, d, out=row), highs[0], out=row), lows[0], out=row)
    return path


def _block_starts(start: np.ndarray, total: np.ndarray, floor: np.ndarray, ceiling: np.ndarray) -> np.ndarray:
    """x at the start of each block, (c, n): x_0 = start, then clip(x + S_k, L_k, H_k) per block."""
    starts = np.empty(total.shape)
    for row, x, sums, lows, highs in zip(starts, start.tolist(), total.tolist(), floor.tolist(), ceiling.tolist()):
        values = [x]
        for s, lo, hi in zip(sums[:-1], lows[:-1], highs[:-1]):
            x += s
            x = lo if x < lo else hi if x > hi else x
            values.append(x)
        row[:] = values
    return starts
