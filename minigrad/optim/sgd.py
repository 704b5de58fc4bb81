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
from .optimizer import Optimizer, l2_penalty

__all__ = ["SGD", "momentum_direction"]


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
        # torch's layout: the buffer is None until the first step with momentum, which sets
        # b_1 = g_1 (a scheduler may switch momentum on after the first step)
        return {"momentum_buffer": None}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        theta = p.array
        grad = l2_penalty(grad, theta, group["weight_decay"])   # g_t <- g_t + lambda theta
        theta -= group["lr"] * momentum_direction(grad, state, group)   # theta -= gamma d_t


def momentum_direction(grad: Array, state: dict, group: dict) -> Array:
    """The heavy-ball direction of torch's SGD, shared by :class:`SGD` and :class:`SGDW`.

    With momentum mu, dampening tau and the buffer ``b = state['momentum_buffer']``::

        b_1 = g_1;  b_t = mu b_{t-1} + (1 - tau) g_t
        d_t = g_t + mu b_t  (nesterov)   or   d_t = b_t

    The buffer is updated in place (created as a copy of ``g`` at the first step with
    momentum). With mu = 0 the direction is ``g`` itself.

    Returns:
        d_t (``grad`` itself, the buffer itself, or a new array for Nesterov).
    """
    mu = group["momentum"]
    if mu == 0:
        return grad
    b = state["momentum_buffer"]
    if b is None:
        b = state["momentum_buffer"] = grad.copy()      # b_1 = g_1
    else:
        b *= mu
        b += (1 - group["dampening"]) * grad            # b_t = mu b_{t-1} + (1 - tau) g_t
    return grad + mu * b if group["nesterov"] else b
