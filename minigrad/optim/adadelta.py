"""Adadelta: learning rates from running averages of squared gradients and squared updates.

Algorithm (Zeiler 2012, Algorithm 1; torch.optim.Adadelta, which adds a learning rate gamma):

    g_t = grad + lambda * theta_{t-1}                          (L2, when weight_decay != 0)
    v_t = rho * v_{t-1} + (1 - rho) * g_t^2                    (E[g^2]_t)
    Delta_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t      (RMS[Dx]_{t-1} / RMS[g]_t * g_t)
    u_t = rho * u_{t-1} + (1 - rho) * Delta_t^2                (E[Dx^2]_t)
    theta_t = theta_{t-1} - gamma * Delta_t

References:
    Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import Array, get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, ema_of_square_, l2_penalty, zeros_like

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (torch semantics; ``weight_decay`` is coupled L2).

    Args:
        params: Tensors or parameter groups.
        lr: coefficient gamma that scales Delta_t (1.0 is Zeiler's method).
        rho: decay rate of the running averages.
        eps: added inside both square roots.
        weight_decay: coupled L2 coefficient lambda.
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see Optimizer).
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_nonnegative("lr", hp["lr"])
        self.check_unit_interval("rho", hp["rho"], closed=True)
        self.check_positive("eps", hp["eps"])
        self.check_nonnegative("weight_decay", hp["weight_decay"])

    def init_state(self, p: Tensor, group: dict) -> dict:
        return {"square_avg": zeros_like(p), "acc_delta": zeros_like(p)}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        rho, eps = group["rho"], group["eps"]
        theta, v, u = p.array, state["square_avg"], state["acc_delta"]
        xp = get_array_module(theta)
        grad = l2_penalty(grad, theta, group["weight_decay"])
        ema_of_square_(v, grad, rho)                   # v_t = rho v + (1 - rho) g^2
        delta = xp.sqrt(u + eps)
        delta /= xp.sqrt(v + eps)
        delta *= grad                                  # Delta_t = RMS[Dx]_{t-1} / RMS[g]_t g_t
        ema_of_square_(u, delta, rho)                  # u_t = rho u + (1 - rho) Delta_t^2
        theta -= group["lr"] * delta
