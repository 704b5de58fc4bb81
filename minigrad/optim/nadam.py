"""NAdam: Adam with Nesterov momentum and Dozat's momentum warm-up schedule.

Algorithm (Dozat 2016; torch.optim.NAdam):

    g_t = grad + lambda * theta_{t-1}    (L2; or decoupled: theta <- theta - gamma lambda theta)
    mu_t = beta1 * (1 - 0.5 * 0.96^(t * psi))          (psi = momentum_decay)
    mu_{t+1} = beta1 * (1 - 0.5 * 0.96^((t + 1) * psi))
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
    v_hat = v_t / (1 - beta2^t)
    theta_t = theta_{t-1} - gamma * (1 - mu_t) / (1 - prod_{i<=t} mu_i) * g_t / (sqrt(v_hat) + eps)
                          - gamma * mu_{t+1} / (1 - prod_{i<=t+1} mu_i) * m_t / (sqrt(v_hat) + eps)

References:
    Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import Array
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

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam (torch semantics; ``weight_decay`` is coupled L2 unless ``decoupled_weight_decay``).

    Args:
        params: Tensors or parameter groups.
        lr: step size gamma.
        betas: (beta1, beta2).
        eps: added to the denominator.
        weight_decay: decay coefficient lambda.
        momentum_decay: psi of the momentum schedule.
        decoupled_weight_decay: decay as AdamW does (NAdamW).
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see Optimizer).
    """

    def __init__(self, params: Iterable, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas,
                        eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_adam_hyperparameters(hp)
        self.check_nonnegative("momentum_decay", hp["momentum_decay"])

    def init_state(self, p: Tensor, group: dict) -> dict:
        return {"mu_product": 1.0, "exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        lr, (beta1, beta2), psi = group["lr"], group["betas"], group["momentum_decay"]
        theta, m, v, t = p.array, state["exp_avg"], state["exp_avg_sq"], state["step"]
        if group["decoupled_weight_decay"]:
            decoupled_decay(theta, lr, group["weight_decay"])
        else:
            grad = l2_penalty(grad, theta, group["weight_decay"])
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))             # mu_t
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))  # mu_{t+1}
        mu_product = state["mu_product"] = state["mu_product"] * mu
        ema_(m, grad, beta1)                           # m_t = beta1 m + (1 - beta1) g
        ema_of_square_(v, grad, beta2)                 # v_t = beta2 v + (1 - beta2) g^2
        denom = adam_denominator(v, beta2, t, group["eps"])    # sqrt(v_hat) + eps
        theta -= lr * (1 - mu) / (1 - mu_product) * grad / denom
        theta -= lr * mu_next / (1 - mu_product * mu_next) * m / denom
