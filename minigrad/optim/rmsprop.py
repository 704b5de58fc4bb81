"""RMSprop: divide the gradient by a running root mean square, optionally centered, with momentum.

Algorithm (Hinton's lecture 6e; centered form of Graves 2013; torch.optim.RMSprop):

    g_t = grad + lambda * theta_{t-1}                   (L2, when weight_decay != 0)
    v_t = alpha * v_{t-1} + (1 - alpha) * g_t^2
    gbar_t = alpha * gbar_{t-1} + (1 - alpha) * g_t      (centered only)
    s_t = sqrt(v_t - gbar_t^2) + eps   (centered)   or   sqrt(v_t) + eps
    b_t = mu * b_{t-1} + g_t / s_t;  theta_t = theta_{t-1} - gamma * b_t    (mu > 0)
    theta_t = theta_{t-1} - gamma * g_t / s_t                               (mu = 0)

References:
    Tieleman & Hinton, "Lecture 6.5 - RMSProp", COURSERA: Neural Networks for ML, 2012.
    Graves, "Generating Sequences With Recurrent Neural Networks", arXiv:1308.0850, 2013.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import Array, get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, ema_, ema_of_square_, l2_penalty, zeros_like

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (torch semantics; ``weight_decay`` is coupled L2).

    Args:
        params: Tensors or parameter groups.
        lr: learning rate gamma.
        alpha: smoothing constant of the running averages.
        eps: added to the denominator (outside the square root, as torch).
        weight_decay: coupled L2 coefficient lambda.
        momentum: momentum factor mu.
        centered: normalise by an estimate of the variance instead of the second moment.
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see Optimizer).
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *, maximize: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_nonnegative("lr", hp["lr"])
        self.check_unit_interval("alpha", hp["alpha"], closed=True)
        self.check_positive("eps", hp["eps"])
        self.check_nonnegative("weight_decay", hp["weight_decay"])
        self.check_nonnegative("momentum", hp["momentum"])

    def init_state(self, p: Tensor, group: dict) -> dict:
        # buffers of options off at the first step stay None until an option is switched on
        return {"square_avg": zeros_like(p),
                "grad_avg": zeros_like(p) if group["centered"] else None,
                "momentum_buffer": zeros_like(p) if group["momentum"] > 0 else None}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        alpha, mu, lr = group["alpha"], group["momentum"], group["lr"]
        theta, v = p.array, state["square_avg"]
        xp = get_array_module(theta)
        grad = l2_penalty(grad, theta, group["weight_decay"])
        ema_of_square_(v, grad, alpha)                 # v_t = alpha v + (1 - alpha) g^2
        if group["centered"]:
            gbar = _buffer(state, "grad_avg", theta)
            ema_(gbar, grad, alpha)                    # gbar_t = alpha gbar + (1 - alpha) g
            s = xp.sqrt(v - gbar * gbar)
        else:
            s = xp.sqrt(v)
        s += group["eps"]                              # s_t
        if mu > 0:
            b = _buffer(state, "momentum_buffer", theta)
            b *= mu
            b += grad / s                              # b_t = mu b + g_t / s_t
            theta -= lr * b
        else:
            theta -= lr * grad / s


def _buffer(state: dict, key: str, theta: Array) -> Array:
    """``state[key]``, given its zeros the first time its option is on (None until then)."""
    if state[key] is None:
        state[key] = get_array_module(theta).zeros_like(theta)
    return state[key]
