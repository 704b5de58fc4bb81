"""RAdam: Adam with a rectified adaptive learning rate (no warm-up needed).

Algorithm (Liu et al. 2020, Algorithm 2; torch.optim.RAdam):

    g_t = grad + lambda * theta_{t-1}    (L2; or decoupled: theta <- theta - gamma lambda theta)
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
    m_hat = m_t / (1 - beta1^t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    if rho_t > 5:
        l_t = sqrt(1 - beta2^t) / (sqrt(v_t) + eps)
        r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        theta_t = theta_{t-1} - gamma * m_hat * r_t * l_t
    else:
        theta_t = theta_{t-1} - gamma * m_hat

References:
    Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..backend import Array, get_array_module
from ..tensor import Tensor
from .optimizer import (
    Optimizer,
    decoupled_decay,
    ema_,
    ema_of_square_,
    l2_penalty,
    rectification,
    sma_length,
    zeros_like,
)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (torch semantics; ``weight_decay`` is coupled L2 unless ``decoupled_weight_decay``).

    Args:
        params: Tensors or parameter groups.
        lr: step size gamma.
        betas: (beta1, beta2).
        eps: added to the denominator.
        weight_decay: decay coefficient lambda.
        decoupled_weight_decay: decay as AdamW does.
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see Optimizer).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas,
                        eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_adam_hyperparameters(hp)

    def init_state(self, p: Tensor, group: dict) -> dict:
        return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        theta, m, v, t = p.array, state["exp_avg"], state["exp_avg_sq"], state["step"]
        if group["decoupled_weight_decay"]:
            decoupled_decay(theta, lr, group["weight_decay"])
        else:
            grad = l2_penalty(grad, theta, group["weight_decay"])
        ema_(m, grad, beta1)                           # m_t = beta1 m + (1 - beta1) g
        ema_of_square_(v, grad, beta2)                 # v_t = beta2 v + (1 - beta2) g^2
        bias_correction1 = 1 - beta1**t
        rho_inf, rho_t = sma_length(beta2, t)
        if rho_t > 5:
            r_t = rectification(rho_inf, rho_t)
            denom = get_array_module(v).sqrt(v)
            denom += group["eps"]                      # l_t = sqrt(1 - beta2^t) / denom
            theta -= lr * r_t * math.sqrt(1 - beta2**t) / bias_correction1 * m / denom
        else:
            theta -= lr / bias_correction1 * m         # un-adapted momentum SGD step
