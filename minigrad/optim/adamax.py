"""Adamax: Adam with the infinity norm in place of the second moment.

Algorithm (Kingma & Ba 2015, Algorithm 2; torch.optim.Adamax, which adds eps inside the max):

    g_t = grad + lambda * theta_{t-1}              (L2, when weight_decay != 0)
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    u_t = max(beta2 * u_{t-1}, |g_t| + eps)
    theta_t = theta_{t-1} - alpha / (1 - beta1^t) * m_t / u_t

References:
    Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, section 7.1.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import Array, get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, ema_, l2_penalty, zeros_like

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax (torch semantics; ``weight_decay`` is coupled L2).

    Args:
        params: Tensors or parameter groups.
        lr: step size alpha.
        betas: (beta1, beta2).
        eps: added to |g_t| inside the max (keeps u_t > 0).
        weight_decay: coupled L2 coefficient lambda.
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see Optimizer).
    """

    def __init__(self, params: Iterable, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas,
                        eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_adam_hyperparameters(hp)

    def init_state(self, p: Tensor, group: dict) -> dict:
        return {"exp_avg": zeros_like(p), "exp_inf": zeros_like(p)}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        beta1, beta2 = group["betas"]
        theta, m, u, t = p.array, state["exp_avg"], state["exp_inf"], state["step"]
        xp = get_array_module(theta)
        grad = l2_penalty(grad, theta, group["weight_decay"])
        ema_(m, grad, beta1)                                # m_t = beta1 m + (1 - beta1) g
        u *= beta2
        xp.maximum(u, xp.abs(grad) + group["eps"], out=u)   # u_t = max(beta2 u, |g| + eps)
        theta -= group["lr"] / (1 - beta1**t) * m / u
