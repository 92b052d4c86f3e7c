"""Beyond Adam: Adafactor and Muon as in ``torch.optim``, Lion as in ``lion-pytorch``,
AdamWScheduleFree as in ``schedulefree``.

Each answers one question Adam leaves open. Adafactor: can the second moment of an n×m
matrix cost n + m numbers instead of n·m? Lion: does the step need a size per coordinate,
or only a sign? Muon: what if a weight matrix's update had all its singular values equal?
Schedule-free AdamW: can averaging the iterates replace a learning-rate schedule whose
length must be known in advance?

Adafactor and Muon read whole matrices (norms, matrix products), so they take one lr and
one weight_decay, not arrays of them. Lion and AdamWScheduleFree work entry by entry and
take arrays of rates like the first optimizers.
"""

import math

import numpy as np

from course_lib.optim.core import (
    Optimizer,
    _ANY,
    _NONNEGATIVE,
    _UNIT_INTERVAL,
    _checked_betas,
    _checked_choice,
    _checked_count,
    _checked_flag,
    _checked_number,
    _checked_rate,
    _checked_scalar_rate,
    _in_dtype,
    adam_denominator,
    decoupled_weight_decay_,
    descend_,
    ewa_of_squares_,
    l2_gradient,
    lerp,
    lerp_,
)

__all__ = [
    "Adafactor",
    "Muon",
    "Lion",
    "AdamWScheduleFree",
    "rms",
    "relative_step_size",
    "factored_second_moment_",
    "factored_variance",
    "adafactor_direction",
    "update_clipping",
    "round_to_bfloat16",
    "newton_schulz",
    "adjusted_lr",
    "lion_direction",
    "lion_momentum_",
    "schedule_free_weight",
]

MUON_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
"""The quintic of Jordan et al. (2024): a large slope at 0 pulls small singular values up fast."""


# --- Adafactor's update functions ---------------------------------------------------


def rms(x):
    """Root mean square of all entries:  ‖x‖ / √n (0 for an empty array)."""
    return float(np.linalg.norm(x)) / x.size**0.5 if x.size else 0.0


def relative_step_size(lr, step):
    """Adafactor's ρ_t = min(lr, 1/√t): a step size that decays on its own, capped by lr."""
    return min(lr, 1 / step**0.5)


def factored_second_moment_(row_var, col_var, grad, weight):
    """The second moment of an n×m gradient kept as n row means and m column means of g².

    R ← R + w·(mean_j g² − R),  C ← C + w·(mean_i g² − C), with w = 1 − β₂ₜ = t^(beta2_decay):
    β₂ₜ grows towards 1, so the average remembers more as training goes on. For more than
    two dimensions the last two are factored, the others are kept.
    """
    lerp_(row_var, np.mean(grad * grad, axis=-1, keepdims=True), weight)
    lerp_(col_var, np.mean(grad * grad, axis=-2, keepdims=True), weight)
    return row_var, col_var


def factored_variance(row_var, col_var, eps1):
    """The rank-one estimate of E[g²] from its factors:  V = R·C / mean(R).

    Each row mean times each column mean, divided by the overall mean so the scale is
    counted once (Shazeer & Stern 2018, section 3). The mean is kept ≥ ε₁.
    """
    return row_var @ col_var / np.maximum(np.mean(row_var, axis=-2, keepdims=True), eps1)


def adafactor_direction(grad, variance, eps1):
    """Adam's direction without momentum:  U = g / √max(V, ε₁²)."""
    return grad / np.sqrt(np.maximum(variance, eps1 * eps1))


def update_clipping(direction, d):
    """The divisor max(1, RMS(U)/d): an update whose RMS exceeds d is scaled back to d."""
    return max(1.0, rms(direction) / d)


# --- Muon's update functions --------------------------------------------------------


def round_to_bfloat16(x):
    """``x`` rounded to bfloat16 (8 significant bits), held in a float32 array.

    bfloat16 is float32 with the last 16 bits cut: add half of them (ties to even) and
    clear them, as torch rounds. Float64 passes through float32 first, as in torch. NaN
    stays NaN.
    """
    x = np.asarray(x, dtype=np.float32)
    bits = x.view(np.uint32)
    rounded = ((bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) & np.uint32(0xFFFF0000)).view(np.float32)
    return np.where(np.isnan(x), x, rounded)


def newton_schulz(matrix, coefficients=MUON_COEFFICIENTS, steps=5, eps=1e-7, precision="float64"):
    """The Newton–Schulz iteration that pushes every singular value of ``matrix`` towards 1.

    X₀ = G / max(‖G‖_F, ε) puts every singular value in [0, 1]; then, ``steps`` times,
    X ← a·X + (b·A + c·A²)·X with A = X·Xᵀ. On the SVD X = U·S·Vᵀ each step maps every
    singular value s to p(s) = a·s + b·s³ + c·s⁵ and keeps U and V. Muon's quintic is steep
    at 0 (a = 3.4445), so small values grow fast: after 5 steps every s above 0.2 % of
    ‖G‖_F lands between 0.68 and 1.20 rather than on 1. The result is about U·Vᵀ, the
    (semi-)orthogonal matrix nearest to G, without computing an SVD. A wide matrix (fewer
    rows) keeps A small; a tall one is transposed and back.

    ``precision`` "float64" or "float32" computes in that dtype. "bfloat16" follows torch:
    every intermediate is a bfloat16 number (each operation computed in float64 and rounded
    once, as torch rounds its float32 accumulations). Against torch 2.13's CPU kernels
    this gives torch's bits up to 16×16; on larger matrices torch sums in another order, and
    about 96 % of entries are the same, the others a few bfloat16 roundings (2⁻⁸) of the
    largest entry apart. bfloat16 itself moves the result from the float64 iteration by up to
    about 12 % of the largest entry.
    """
    a, b, c = coefficients
    if precision == "bfloat16":
        rounded, dtype = round_to_bfloat16, np.float64  # bfloat16 values, exact in float64
        # torch's kernels take the coefficients as float32
        a, b, c = (float(np.float32(value)) for value in coefficients)
    else:
        rounded, dtype = (lambda value: value), np.dtype(precision)
    x = rounded(matrix).astype(dtype)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    x = rounded(x / rounded(max(float(rounded(np.linalg.norm(x))), eps))).astype(dtype)
    for _ in range(steps):
        gram = rounded(x @ x.T).astype(dtype)
        polynomial = rounded(b * gram + c * (gram @ gram)).astype(dtype)
        x = rounded(a * x + polynomial @ x).astype(dtype)
    return x.T if tall else x


def adjusted_lr(lr, adjust_lr_fn, shape):
    """Muon's lr for an A×B matrix, so that matrices of different shapes move alike.

    "original" (Jordan et al.): lr·√max(1, A/B). "match_rms_adamw" (Liu et al. 2025):
    0.2·lr·√max(A, B). An A×B matrix with all singular values 1 has RMS 1/√max(A, B), so
    the step gets RMS 0.2·lr, the size Liu et al. take for an AdamW step, and AdamW's lr and
    weight decay carry over.
    """
    rows, columns = shape[:2]
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, columns))
    return lr * math.sqrt(max(1, rows / columns))


# --- Lion's and schedule-free AdamW's update functions -------------------------------


def lion_direction(exp_avg, grad, beta1):
    """Lion's step direction:  sign(β₁·m + (1 − β₁)·g), every entry −1, 0 or +1.

    As torch's ``sgn``, NaN gives 0: after a NaN gradient, m is NaN in that entry and the
    entry never moves again (its weight decay goes on).
    """
    interpolated = beta1 * exp_avg + (1 - beta1) * grad
    return np.where(np.isnan(interpolated), 0, np.sign(interpolated)).astype(grad.dtype, copy=False)


def lion_momentum_(exp_avg, grad, beta2):
    """Lion's momentum, an EWA of the gradient:  m ← β₂·m + (1 − β₂)·g, taken after the step.

    The step used β₁ (0.9) to mix g in; the memory uses the longer β₂ (0.99).
    """
    exp_avg *= beta2
    exp_avg += (1 - beta2) * grad
    return exp_avg


def schedule_free_weight(step, lr_max, r, weight_lr_power):
    """The weight of step t in schedule-free's average x:  t^r · lr_max^p.

    With r = 0 every step after the warm-up counts alike; lr_max^p (the largest lr so far)
    keeps the small steps of the warm-up from counting fully.
    """
    return step**r * lr_max**weight_lr_power


# --- the optimizers -------------------------------------------------------------


class Adafactor(Optimizer):
    """Adafactor (torch's version): RMSprop-like steps with a factored second moment.

    V ≈ R·C / mean(R) for matrices (n + m numbers instead of n·m), an exact EWA for
    vectors; β₂ₜ = 1 − t^(beta2_decay); U = g / √max(V, ε₁²), scaled down to RMS ≤ d;
    θ ← θ·(1 − lr·λ) − α_t·U with α_t = max(ε₂, RMS(θ))·min(lr, 1/√t): steps relative to
    the size of the weights. No momentum. ε₁ = None means the dtype's machine epsilon.
    """

    _elementwise = False

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 maximize=False):
        super().__init__(params, lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                         maximize=maximize)

    def _checked_hyperparameters(self):
        whole = "Adafactor scales each step by the RMS of the whole parameter"
        return dict(
            lr=_checked_scalar_rate("lr", "learning rate", self.lr, whole),
            beta2_decay=_checked_number("beta2_decay", "beta2_decay value", self.beta2_decay,
                                        ("<= 0", lambda value: value <= 0)),
            eps=_checked_eps_pair(self.eps),
            d=_checked_number("d", "clipping threshold", self.d, (">= 1", lambda value: value >= 1)),
            weight_decay=_checked_scalar_rate("weight_decay", "weight_decay value", self.weight_decay, whole),
            maximize=_checked_flag("maximize", self.maximize),
        )

    def _state_names(self, hyperparameters, param):
        return ("row_var", "col_var") if param.ndim >= 2 else ("variance",)

    def _new_state(self, name, param, hyperparameters):
        shape = list(param.shape)
        if name == "row_var":
            shape[-1] = 1
        elif name == "col_var":
            shape[-2] = 1
        return np.zeros(shape, dtype=param.dtype)

    def _update(self, param, grad, state, new_state, *, lr, beta2_decay, eps, d, weight_decay,
                maximize):
        if maximize:
            grad = -grad
        eps1, eps2 = eps
        if eps1 is None:
            eps1 = float(np.finfo(param.dtype).eps)
        weight = self.steps**beta2_decay  # 1 − β₂ₜ
        step_size = max(eps2, rms(param)) * relative_step_size(lr, self.steps)
        if weight_decay != 0:
            decoupled_weight_decay_(param, lr, weight_decay)
        if param.ndim >= 2:
            factored_second_moment_(state["row_var"], state["col_var"], grad, weight)
            variance = factored_variance(state["row_var"], state["col_var"], eps1)
        else:
            variance = lerp_(state["variance"], grad * grad, weight)
        direction = adafactor_direction(grad, variance, eps1)
        descend_(param, direction, step_size / update_clipping(direction, d))


class Muon(Optimizer):
    """Muon: SGD with Nesterov momentum whose update matrix is orthogonalized by Newton–Schulz.

    b ← b + (1 − μ)·(g − b);  M = g + μ·(b − g) (Nesterov) or b;  O = NS(M), M with its
    singular values pushed towards 1;  θ ← θ·(1 − lr·λ) − lr_A×B·O (see ``adjusted_lr``).
    For the 2-D weight matrices of hidden layers only: biases, gains, embeddings and the
    output layer go to AdamW. ``ns_precision`` ("bfloat16" as torch, "float32", "float64")
    is ours: the precision of the Newton–Schulz iteration (see ``newton_schulz``).
    """

    _elementwise = False

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=MUON_COEFFICIENTS, eps=1e-7, ns_steps=5, adjust_lr_fn=None, *,
                 ns_precision="bfloat16"):
        super().__init__(params, lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                         ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn,
                         ns_precision=ns_precision)
        for i, param in enumerate(self.params):
            if param.ndim != 2:
                raise ValueError(f"params[{i}] has shape {param.shape}: Muon updates 2-D weight matrices only; "
                                 "optimize biases, gains and other tensors that are not matrices with AdamW "
                                 "(a second optimizer)")
            if param.size == 0:
                raise ValueError(f"params[{i}] has shape {param.shape}: Muon needs at least one row and one "
                                 "column")

    def _checked_hyperparameters(self):
        whole = "Muon orthogonalizes each whole matrix"
        return dict(
            lr=_checked_scalar_rate("lr", "learning rate", self.lr, whole),
            weight_decay=_checked_scalar_rate("weight_decay", "weight_decay value", self.weight_decay, whole),
            momentum=_checked_number("momentum", "momentum value", self.momentum, _NONNEGATIVE),
            nesterov=_checked_flag("nesterov", self.nesterov),
            ns_coefficients=_checked_coefficients(self.ns_coefficients),
            eps=_checked_number("eps", "epsilon value", self.eps, _NONNEGATIVE),
            ns_steps=_checked_count("ns_steps", self.ns_steps, maximum=99),
            adjust_lr_fn=_checked_choice("adjust_lr_fn", self.adjust_lr_fn, (None, "original", "match_rms_adamw")),
            ns_precision=_checked_choice("ns_precision", self.ns_precision, ("bfloat16", "float32", "float64")),
        )

    def _state_names(self, hyperparameters, param):
        return ("momentum_buffer",)

    def _update(self, param, grad, state, new_state, *, lr, weight_decay, momentum, nesterov,
                ns_coefficients, eps, ns_steps, adjust_lr_fn, ns_precision):
        buf = lerp_(state["momentum_buffer"], grad, 1 - momentum)
        direction = lerp(grad, buf, momentum) if nesterov else buf
        orthogonalized = newton_schulz(direction, ns_coefficients, ns_steps, eps, ns_precision)
        decoupled_weight_decay_(param, lr, weight_decay)
        step = adjusted_lr(lr, adjust_lr_fn, param.shape)
        descend_(param, orthogonalized.astype(param.dtype, copy=False), step)


class Lion(Optimizer):
    """Lion (lion-pytorch's version): the sign of an interpolated momentum, every step of size lr.

    θ ← θ·(1 − lr·λ);  θ ← θ − lr·sign(β₁·m + (1 − β₁)·g);  m ← β₂·m + (1 − β₂)·g.
    One state array. With ``decoupled_weight_decay`` λ is divided by the lr given at
    construction, so the decay follows the schedule's multiplier but not the lr itself.
    """

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, decoupled_weight_decay=False):
        self._initial_lr = np.array(lr, dtype=np.float64) if np.ndim(lr) else lr  # a copy, fixed from now on
        super().__init__(params, lr=lr, betas=betas, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay)

    def _checked_hyperparameters(self):
        lr = _checked_rate("lr", "learning rate", self.lr, self.params)
        weight_decay = _checked_rate("weight_decay", "weight_decay value", self.weight_decay, self.params)
        decoupled = _checked_flag("decoupled_weight_decay", self.decoupled_weight_decay)
        if decoupled:
            initial_lr = _checked_rate("lr", "learning rate", self._initial_lr, self.params)
            if np.any(initial_lr == 0):
                raise ValueError("decoupled_weight_decay=True divides weight_decay by the lr given at "
                                 "construction, which is 0: construct with an lr > 0")
            weight_decay = weight_decay / initial_lr
        return dict(lr=lr, betas=_checked_betas(self.betas, rules=(_CLOSED_UNIT_INTERVAL,) * 2),
                    decay_rate=weight_decay)

    def _state_names(self, hyperparameters, param):
        return ("exp_avg",)

    def _update(self, param, grad, state, new_state, *, lr, betas, decay_rate):
        beta1, beta2 = betas
        decoupled_weight_decay_(param, lr, decay_rate)
        descend_(param, lion_direction(state["exp_avg"], grad, beta1), lr)
        lion_momentum_(state["exp_avg"], grad, beta2)


class AdamWScheduleFree(Optimizer):
    """Schedule-free AdamW (the ``schedulefree`` package's version): averaging instead of a schedule.

    Three sequences: z takes plain AdamW-like steps, x is a weighted average of the z's,
    and the gradient is taken at y = (1 − β₁)·z + β₁·x. Each step, with
    d = g / (√v̂ + ε) + λ·y and c = w_t / Σ w (``schedule_free_weight``):
    y ← y + c·(z − y) − lr·(1 − β₁·(1 − c))·d,  z ← z − lr·d. The parameters hold y while
    training; ``eval()`` moves them to x = (y − (1 − β₁)·z) / β₁, ``train()`` back to y. An
    optional linear warm-up over ``warmup_steps`` replaces the schedule.
    """

    def __init__(self, params, lr=0.0025, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, warmup_steps=0, r=0.0,
                 weight_lr_power=2.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, warmup_steps=warmup_steps,
                         r=r, weight_lr_power=weight_lr_power)
        self.train_mode = False  # as in schedulefree: call train() before the first step
        self.weight_sum = 0.0
        self.lr_max = -1.0
        self.scheduled_lr = 0.0

    def _checked_hyperparameters(self):
        return dict(
            lr=_checked_rate("lr", "learning rate", self.lr, self.params),
            betas=_checked_betas(self.betas, rules=(("in (0, 1]", lambda value: 0 < value <= 1), _UNIT_INTERVAL)),
            eps=_checked_number("eps", "epsilon value", self.eps, _NONNEGATIVE),
            weight_decay=_checked_rate("weight_decay", "weight_decay value", self.weight_decay, self.params),
            warmup_steps=_checked_count("warmup_steps", self.warmup_steps),
            r=_checked_number("r", "r value", self.r, _ANY),
            weight_lr_power=_checked_number("weight_lr_power", "weight_lr_power value", self.weight_lr_power,
                                            _NONNEGATIVE),
        )

    def train(self):
        """Parameters to y, where the gradients are taken: x + (1 − β₁)·(z − x)."""
        self._switch(True, lambda beta1: 1 - beta1)

    def eval(self):
        """Parameters to x, the average to evaluate and save: y + (1 − 1/β₁)·(z − y)."""
        self._switch(False, lambda beta1: 1 - 1 / beta1)

    def _switch(self, train_mode, weight):
        beta1 = self._settings()[0]["betas"][0]
        if self.train_mode != train_mode:
            for param, state in zip(self.params, self.state):
                if "z" in state:
                    lerp_(param, state["z"], weight(beta1))
            self.train_mode = train_mode

    def step(self, grads):
        """One step from y, as ``Optimizer.step``; refused in eval mode, where the weights hold x."""
        if not self.train_mode:
            raise RuntimeError("AdamWScheduleFree is in eval mode: call opt.train() before training steps "
                               "(and opt.eval() before evaluating or saving)")
        super().step(grads)

    def _begin_step(self):
        step, checked = self.steps, self._settings()[0]  # checked floats (lr is taken in float64 below)
        lr = float(self.lr) if np.ndim(self.lr) == 0 else np.asarray(self.lr, dtype=np.float64)
        warmup_steps = checked["warmup_steps"]
        self.scheduled_lr = lr = lr * (step / warmup_steps if step <= warmup_steps else 1.0)
        arrays = np.ndim(lr) or np.ndim(self.lr_max)  # a sweep of rates, now or before
        self.lr_max = lr_max = np.maximum(lr, self.lr_max) if arrays else max(lr, self.lr_max)
        weight = schedule_free_weight(step, lr_max, checked["r"], checked["weight_lr_power"])
        self.weight_sum = weight_sum = self.weight_sum + weight
        if np.ndim(weight_sum):
            average_weight = np.divide(weight, weight_sum, out=np.zeros_like(weight_sum), where=weight_sum != 0)
        else:
            average_weight = weight / weight_sum if weight_sum != 0 else 0.0
        self._this_step = (lr, average_weight, 1 - checked["betas"][1] ** step)

    def _state_names(self, hyperparameters, param):
        return ("z", "exp_avg_sq")

    def _new_state(self, name, param, hyperparameters):
        return param.copy() if name == "z" else np.zeros_like(param)

    def _update(self, param, grad, state, new_state, *, lr, betas, eps, weight_decay,
                warmup_steps, r, weight_lr_power):
        lr, average_weight, bias_correction2 = (_in_dtype(value, param.dtype)
                                                for value in self._this_step)
        beta1, beta2 = betas
        y, z = param, state["z"]
        exp_avg_sq = ewa_of_squares_(state["exp_avg_sq"], grad, beta2)
        direction = grad / adam_denominator(exp_avg_sq, bias_correction2, eps)
        if np.any(weight_decay):
            direction = l2_gradient(direction, y, weight_decay)  # the decay is taken at y
        lerp_(y, z, average_weight)
        descend_(y, direction, lr * (1 - beta1 * (1 - average_weight)))
        descend_(z, direction, lr)


# --- checks -------------------------------------------------------------------------

_CLOSED_UNIT_INTERVAL = ("in [0, 1]", lambda value: 0 <= value <= 1)


def _checked_eps_pair(eps):
    if not isinstance(eps, (tuple, list)) or len(eps) != 2:
        raise TypeError(f"eps must be a pair (eps1, eps2), eps1 None or a number, got {eps!r}")
    eps1 = None if eps[0] is None else _checked_number("eps[0]", "epsilon1 value", eps[0], _NONNEGATIVE)
    return eps1, _checked_number("eps[1]", "epsilon2 value", eps[1], _NONNEGATIVE)


def _checked_coefficients(coefficients):
    if not isinstance(coefficients, (tuple, list)) or len(coefficients) != 3:
        raise ValueError(f"ns_coefficients must be three numbers (a, b, c), got {coefficients!r}")
    return tuple(_checked_number(f"ns_coefficients[{i}]", "Newton–Schulz coefficient", value, _ANY)
                 for i, value in enumerate(coefficients))
