"""Adagrad: per-coordinate learning rates from the sum of squared gradients.

Algorithm (Duchi et al. 2011, diagonal form; torch.optim.Adagrad):

    g_t = grad + lambda * theta_{t-1}              (L2, when weight_decay != 0)
    gamma_t = gamma / (1 + (t - 1) * eta)          (lr_decay eta)
    G_t = G_{t-1} + g_t^2                          (G_0 = initial_accumulator_value)
    theta_t = theta_{t-1} - gamma_t * g_t / (sqrt(G_t) + eps)

References:
    Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
    Optimization", JMLR 12, 2011.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import Array, get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, l2_penalty

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (torch semantics; ``weight_decay`` is coupled L2).

    Args:
        params: Tensors or parameter groups.
        lr: learning rate gamma.
        lr_decay: eta in gamma_t = gamma / (1 + (t - 1) eta).
        weight_decay: coupled L2 coefficient lambda.
        initial_accumulator_value: G_0.
        eps: added to the denominator for numerical stability.
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see Optimizer).
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_nonnegative("lr", hp["lr"])
        self.check_nonnegative("lr_decay", hp["lr_decay"])
        self.check_nonnegative("weight_decay", hp["weight_decay"])
        self.check_nonnegative("initial_accumulator_value", hp["initial_accumulator_value"])
        self.check_positive("eps", hp["eps"])

    def init_state(self, p: Tensor, group: dict) -> dict:
        xp = get_array_module(p.array)
        return {"sum": xp.full_like(p.array, group["initial_accumulator_value"])}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        theta, G, t = p.array, state["sum"], state["step"]
        xp = get_array_module(theta)
        grad = l2_penalty(grad, theta, group["weight_decay"])
        lr_t = group["lr"] / (1 + (t - 1) * group["lr_decay"])    # gamma_t
        G += grad * grad                                           # G_t = G_{t-1} + g_t^2
        std = xp.sqrt(G)
        std += group["eps"]                                        # sqrt(G_t) + eps
        theta -= lr_t * grad / std
