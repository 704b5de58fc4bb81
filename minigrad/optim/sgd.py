"""SGD: stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 decay.

Algorithm (torch.optim.SGD; ``weight_decay`` is coupled L2, added to the gradient):

    g_t = grad + lambda * theta_{t-1}                       (L2, when weight_decay != 0)
    b_1 = g_1;  b_t = mu * b_{t-1} + (1 - tau) * g_t         (momentum, when mu != 0)
    g_t = g_t + mu * b_t  (nesterov)   or   g_t = b_t
    theta_t = theta_{t-1} - gamma * g_t

References:
    Robbins & Monro, "A Stochastic Approximation Method", 1951.
    Polyak, "Some methods of speeding up the convergence of iteration methods", 1964.
    Sutskever et al., "On the importance of initialization and momentum in deep learning",
    ICML 2013 (the momentum and Nesterov forms used here, as in torch).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import Array
from ..tensor import Tensor
from .optimizer import Optimizer, l2_penalty, zeros_like

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum; torch semantics.

    Args:
        params: Tensors or parameter groups.
        lr: learning rate gamma.
        momentum: momentum factor mu.
        dampening: dampening tau of the momentum (not applied at the first step).
        weight_decay: coupled L2 coefficient lambda (g <- g + lambda * theta).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening == 0).
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see Optimizer).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_nonnegative("lr", hp["lr"])
        self.check_nonnegative("momentum", hp["momentum"])
        self.check_nonnegative("dampening", hp["dampening"])
        self.check_nonnegative("weight_decay", hp["weight_decay"])
        if hp["nesterov"]:
            self.check(hp["momentum"] > 0, "momentum", "> 0 when nesterov=True", hp["momentum"])
            self.check(hp["dampening"] == 0, "dampening", "0 when nesterov=True",
                       hp["dampening"])

    def init_state(self, p: Tensor, group: dict) -> dict:
        return {"momentum_buffer": zeros_like(p)} if group["momentum"] != 0 else {}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
        theta = p.array
        grad = l2_penalty(grad, theta, group["weight_decay"])
        if mu != 0:
            b = state.get("momentum_buffer")
            if b is None:  # momentum switched on after the first step (e.g. by a scheduler)
                b = state["momentum_buffer"] = grad.copy()
            elif state["step"] == 1:
                b[...] = grad                      # b_1 = g_1
            else:
                b *= mu
                b += (1 - tau) * grad              # b_t = mu b_{t-1} + (1 - tau) g_t
            grad = grad + mu * b if group["nesterov"] else b
        theta -= lr * grad                         # theta_t = theta_{t-1} - gamma g_t
