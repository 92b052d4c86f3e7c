"""The optimizers of the first lessons, as in ``torch.optim``: SGD, RMSprop, Adam, AdamW and Adagrad.

Each is a thin shell around the update functions of ``core``; Adagrad adds its own two.
"""

import numpy as np

from course_lib.optim.core import (
    Optimizer,
    _checked_betas,
    _checked_flag,
    _checked_number,
    _checked_rate,
    _ANY,
    _NONNEGATIVE,
    adam_denominator,
    bias_correction,
    decoupled_weight_decay_,
    descend_,
    ewa_,
    ewa_of_squares_,
    l2_gradient,
    momentum_buffer_,
    nesterov_direction,
    preconditioned_descend_,
    rms_denominator,
)

__all__ = ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "accumulate_squares_", "decayed_lr"]


# --- Adagrad's update functions ---------------------------------------------------


def accumulate_squares_(sum_sq, grad):
    """Adagrad's memory, the sum of every squared gradient so far:  s ← s + g².

    It only grows, so each coordinate's step lr·g/(√s + ε) shrinks for good: the
    reason RMSprop replaced the sum with an EWA that can forget.
    """
    sum_sq += grad * grad
    return sum_sq


def decayed_lr(lr, lr_decay, step):
    """Adagrad's learning rate at step t:  lr / (1 + (t − 1)·η), η = ``lr_decay``."""
    return lr / (1 + (step - 1) * lr_decay)


# --- the optimizers -------------------------------------------------------------


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and L2 weight decay.

    b ← μ·b + (1 − τ)·g (b₁ = g₁);  d = g + μ·b (Nesterov) or b;  θ ← θ − lr·d.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, maximize=maximize)

    def _checked_hyperparameters(self):
        checked = dict(
            lr=_checked_rate("lr", "learning rate", self.lr, self.params),
            momentum=_checked_number("momentum", "momentum value", self.momentum, _NONNEGATIVE),
            dampening=_checked_number("dampening", "dampening value", self.dampening, _ANY),
            weight_decay=_checked_rate("weight_decay", "weight_decay value", self.weight_decay, self.params),
            nesterov=_checked_flag("nesterov", self.nesterov),
            maximize=_checked_flag("maximize", self.maximize),
        )
        if checked["nesterov"] and (checked["momentum"] <= 0 or checked["dampening"] != 0):
            raise ValueError("Nesterov momentum requires momentum > 0 and dampening == 0, "
                             f"got momentum={checked['momentum']!r}, dampening={checked['dampening']!r}")
        return checked

    def _state_names(self, hyperparameters, param):
        return ("momentum_buffer",) if hyperparameters["momentum"] != 0 else ()

    def _update(self, param, grad, state, new_state, *, lr, momentum, dampening, weight_decay,
                nesterov, maximize):
        if maximize:
            grad = -grad
        if np.any(weight_decay):
            grad = l2_gradient(grad, param, weight_decay)
        if momentum != 0:
            buf = state["momentum_buffer"]
            if "momentum_buffer" in new_state:
                np.copyto(buf, grad)  # the first buffer is the gradient itself, undamped
            else:
                momentum_buffer_(buf, grad, momentum, dampening)
            grad = nesterov_direction(grad, buf, momentum) if nesterov else buf
        descend_(param, grad, lr)


class RMSprop(Optimizer):
    """RMSprop: divide each coordinate's step by the root of an EWA of its squared gradient.

    v ← α·v + (1 − α)·g²;  d = √v + ε, or √(v − ḡ²) + ε when centered (ḡ: EWA of g);
    θ ← θ − lr·g / d, or with momentum b ← μ·b + g / d, θ ← θ − lr·b. No bias correction.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                         centered=centered, maximize=maximize)

    def _checked_hyperparameters(self):
        return dict(
            lr=_checked_rate("lr", "learning rate", self.lr, self.params),
            eps=_checked_number("eps", "epsilon value", self.eps, _NONNEGATIVE),
            momentum=_checked_number("momentum", "momentum value", self.momentum, _NONNEGATIVE),
            weight_decay=_checked_rate("weight_decay", "weight_decay value", self.weight_decay, self.params),
            alpha=_checked_number("alpha", "alpha value", self.alpha, _NONNEGATIVE),
            centered=_checked_flag("centered", self.centered),
            maximize=_checked_flag("maximize", self.maximize),
        )

    def _state_names(self, hyperparameters, param):
        return (("square_avg",)
                + (("momentum_buffer",) if hyperparameters["momentum"] > 0 else ())
                + (("grad_avg",) if hyperparameters["centered"] else ()))

    def _update(self, param, grad, state, new_state, *, lr, eps, momentum, weight_decay, alpha,
                centered, maximize):
        if maximize:
            grad = -grad
        if np.any(weight_decay):
            grad = l2_gradient(grad, param, weight_decay)
        square_avg = ewa_of_squares_(state["square_avg"], grad, alpha)
        grad_avg = ewa_(state["grad_avg"], grad, alpha) if centered else None
        denom = rms_denominator(square_avg, eps, grad_avg)
        if momentum > 0:
            buf = momentum_buffer_(state["momentum_buffer"], grad / denom, momentum, dampening=0)
            descend_(param, buf, lr)
        else:
            preconditioned_descend_(param, grad, denom, lr)


class Adam(Optimizer):
    """Adam: momentum (an EWA m of g) over RMSprop (an EWA v of g²), both bias-corrected.

    θ ← θ − lr·m̂ / (√v̂ + ε) with m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ);
    AMSGrad divides by the running maximum of v instead.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)

    def _checked_hyperparameters(self):
        return dict(
            lr=_checked_rate("lr", "learning rate", self.lr, self.params),
            eps=_checked_number("eps", "epsilon value", self.eps, _NONNEGATIVE),
            betas=_checked_betas(self.betas),
            weight_decay=_checked_rate("weight_decay", "weight_decay value", self.weight_decay, self.params),
            amsgrad=_checked_flag("amsgrad", self.amsgrad),
            maximize=_checked_flag("maximize", self.maximize),
            decoupled_weight_decay=_checked_flag("decoupled_weight_decay", self.decoupled_weight_decay),
        )

    def _state_names(self, hyperparameters, param):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if hyperparameters["amsgrad"] else ())

    def _update(self, param, grad, state, new_state, *, lr, eps, betas, weight_decay, amsgrad,
                maximize, decoupled_weight_decay):
        beta1, beta2 = betas
        if maximize:
            grad = -grad
        if np.any(weight_decay):
            if decoupled_weight_decay:
                decoupled_weight_decay_(param, lr, weight_decay)
            else:
                grad = l2_gradient(grad, param, weight_decay)
        exp_avg = ewa_(state["exp_avg"], grad, beta1)
        exp_avg_sq = ewa_of_squares_(state["exp_avg_sq"], grad, beta2)
        if amsgrad:
            exp_avg_sq = np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
        denom = adam_denominator(exp_avg_sq, bias_correction(beta2, self.steps), eps)
        preconditioned_descend_(param, exp_avg, denom, lr / bias_correction(beta1, self.steps))


class AdamW(Adam):
    """Adam with decoupled weight decay: θ ← θ·(1 − lr·λ) before the Adam step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True)


class Adagrad(Optimizer):
    """Adagrad: divide each coordinate's step by the root of the sum of its squared gradients.

    s ← s + g² (s₀ = ``initial_accumulator_value``);  θ ← θ − lr_t·g / (√s + ε),
    lr_t = lr / (1 + (t − 1)·η). With ``weight_decay`` λ, g ← g + λ·θ first (L2).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
                 maximize=False):
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)

    def _checked_hyperparameters(self):
        return dict(
            lr=_checked_rate("lr", "learning rate", self.lr, self.params),
            lr_decay=_checked_number("lr_decay", "lr_decay value", self.lr_decay, _NONNEGATIVE),
            weight_decay=_checked_rate("weight_decay", "weight_decay value", self.weight_decay, self.params),
            initial_accumulator_value=_checked_number("initial_accumulator_value", "initial_accumulator_value "
                                                      "value", self.initial_accumulator_value, _NONNEGATIVE),
            eps=_checked_number("eps", "epsilon value", self.eps, _NONNEGATIVE),
            maximize=_checked_flag("maximize", self.maximize),
        )

    def _state_names(self, hyperparameters, param):
        return ("sum",)

    def _new_state(self, name, param, hyperparameters):
        return np.full_like(param, hyperparameters["initial_accumulator_value"])

    def _update(self, param, grad, state, new_state, *, lr, lr_decay, weight_decay,
                initial_accumulator_value, eps, maximize):
        if maximize:
            grad = -grad
        if np.any(weight_decay):
            grad = l2_gradient(grad, param, weight_decay)
        sum_sq = accumulate_squares_(state["sum"], grad)
        denom = rms_denominator(sum_sq, eps)
        preconditioned_descend_(param, grad, denom, decayed_lr(lr, lr_decay, self.steps))
