"""Adam and AMSGrad: adaptive moment estimation, with coupled L2 ``weight_decay``.

Algorithm (Kingma & Ba 2015, Algorithm 1; torch.optim.Adam):

    g_t = grad + lambda * theta_{t-1}              (L2, when weight_decay != 0)
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t      (first moment)
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2    (second moment)
    v_max_t = max(v_max_{t-1}, v_t)                (AMSGrad only; v_t is replaced by it)
    theta_t = theta_{t-1} - alpha / (1 - beta1^t) * m_t / (sqrt(v_t / (1 - beta2^t)) + eps)

With ``decoupled_weight_decay=True`` the L2 line is replaced by AdamW's
``theta <- theta - alpha * lambda * theta`` (as torch's flag of the same name); :class:`AdamW` is
this flag, so both share this one update.

References:
    Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018 (AMSGrad).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import Array, get_array_module
from ..tensor import Tensor
from .optimizer import (
    Optimizer,
    adam_denominator,
    decoupled_decay,
    ema_,
    ema_of_square_,
    l2_penalty,
    zeros_like,
)

__all__ = ["Adam", "AMSGrad"]


class Adam(Optimizer):
    """Adam (torch semantics: ``weight_decay`` is coupled L2; see AdamW for decoupled decay).

    Args:
        params: Tensors or parameter groups.
        lr: step size alpha.
        betas: (beta1, beta2), decay rates of the first and second moment estimates.
        eps: added to the denominator for numerical stability.
        weight_decay: coupled L2 coefficient lambda (g <- g + lambda * theta).
        amsgrad: use the running maximum of v_t (Reddi et al. 2018).
        maximize: ascend instead of descend.
        decoupled_weight_decay: apply weight decay as AdamW does.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see Optimizer).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas,
                        eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_adam_hyperparameters(hp)

    def init_state(self, p: Tensor, group: dict) -> dict:
        state = {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = zeros_like(p)
        return state

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        theta, m, v, t = p.array, state["exp_avg"], state["exp_avg_sq"], state["step"]
        if group["decoupled_weight_decay"]:
            decoupled_decay(theta, lr, group["weight_decay"])  # theta -= alpha lambda theta
        else:
            grad = l2_penalty(grad, theta, group["weight_decay"])  # g_t += lambda theta
        # One scratch array, kept by the optimizer between steps (Optimizer.scratch: no page
        # faults from fresh temporaries), holds each temporary in turn: (1 - beta1) g, g^2,
        # then the denominator and the step written over it, in torch's order (the quotient,
        # then the step size). One array, not two: W1's Adam step 305 -> 289 us (BENCHMARKS.md,
        # "Current figures").
        xp = get_array_module(theta)
        scratch = self.scratch(theta)
        ema_(m, grad, beta1, scratch)                   # m_t = beta1 m + (1 - beta1) g_t
        ema_of_square_(v, grad, beta2, scratch)         # v_t = beta2 v + (1 - beta2) g_t^2
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]
            xp.maximum(v_max, v, out=v_max)             # v_max_t = max(v_max, v_t)
        denom = adam_denominator(v_max if group["amsgrad"] else v, beta2, t, eps, out=scratch)
        step = xp.divide(m, denom, out=scratch)         # m_t / (sqrt(v^_t) + eps)
        step *= lr / (1 - beta1**t)                     # times alpha / (1 - beta1^t)
        theta -= step


class AMSGrad(Adam):
    """AMSGrad (Reddi et al., 2018): ``Adam(..., amsgrad=True)``, found by its name.

    Keeps ``v_max_t = max(v_max_{t-1}, v_t)`` and divides by ``sqrt(v_max_t)``, so the effective
    step size never increases; this fixes Adam's non-convergence on the paper's online problem.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad=True, maximize=maximize,
                         decoupled_weight_decay=decoupled_weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm)
