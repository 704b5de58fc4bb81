"""AngularGrad: Adam whose step is scaled by the angle between consecutive gradients.

Roy, Paoletti, Haut, Dubey, Kar, Plaza, Chaudhuri, "AngularGrad: A New Optimization Technique
for Angular Convergence of Convolutional Neural Networks", arXiv:2105.10190, 2021. In the
paper's symbols, with learning rate alpha and lambda_1 = lambda_2 = 0.5, element-wise::

    m_t     = beta_1 m_{t-1} + (1 - beta_1) g_t
    v_t     = beta_2 v_{t-1} + (1 - beta_2) g_t^2
    m^_t    = m_t / (1 - beta_1^t),   v^_t = v_t / (1 - beta_2^t)
    A_t     = arctan |(g_{t-1} - g_t) / (1 + g_{t-1} g_t)|     (angle between the lines of
                                                               slopes g_{t-1} and g_t)
    A_min   = min(A_min, A_t)                                 (smallest angle so far)
    phi_t   = tanh(|cos(A_min)|) lambda_1 + lambda_2           (method='cos')
    phi_t   = tanh(|tan(A_min)|) lambda_1 + lambda_2           (method='tan')
    theta_t = theta_{t-1} - alpha phi_t m^_t / (sqrt(v^_t) + eps)

with g_0 = 0 and A_min starting at pi/2 (the largest angle), so A_min = A_1 after the first step.
A_t is computed as ``arctan2(|g_{t-1} - g_t|, |1 + g_{t-1} g_t|)``, which equals the arctan of the
quotient and needs no division (so 1 + g_{t-1} g_t = 0 gives pi/2 rather than inf/nan). The
angular coefficient phi_t lies in [0.5, 0.5 + tanh(1)/2] for 'cos' and [0.5, 1) for 'tan'.
``weight_decay`` is coupled L2 (``g <- g + wd * theta``, as the authors' code); defaults are the
paper's: alpha = 1e-3, betas (0.9, 0.999), eps = 1e-8.

Paper vs. the authors' code (mhaut/AngularGrad, ``cosangulargrad.py`` / ``tanangulargrad.py``):

* The code does not take an element-wise minimum: it compares the angle array with the stored
  one and replaces the *whole* stored array (angle, and cos or tan of it) only when fewer than
  half of its elements grew (a majority vote per tensor).
* The code starts the stored minimum at 0 (degrees) and the stored cos/tan at 0, so
  phi = tanh(0) * 0.5 + 0.5 = 0.5 until such a vote passes, and since no angle is below 0 the
  vote passes only when most elements of the gradient are exactly unchanged. In practice the
  released code runs Adam with half the learning rate.
* The code adds eps to sqrt(v_t) before the bias correction (``sqrt(v^_t) + eps / sqrt(1 -
  beta_2^t)``).

This follows the paper: the element-wise running minimum of the angle. Where the paper's
notation is ambiguous (``A_min = min(A_{t-1}, A_t)``), A_{t-1} is read as the minimum kept from
the previous step, which is what the code's stored "min" is meant to be.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..backend import Array, get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, adam_denominator, ema_, ema_of_square_, l2_penalty, zeros_like

__all__ = ["AngularGrad"]

_LAMBDA1 = 0.5
_LAMBDA2 = 0.5


class AngularGrad(Optimizer):
    """AngularGrad (Roy et al., 2021), the cos and tan variants.

    Args:
        params: parameters or parameter groups.
        lr: learning rate alpha.
        betas: (beta_1, beta_2) of the first and second moments.
        eps: added to sqrt(v^_t).
        weight_decay: coupled L2 coefficient (``g <- g + wd * theta``).
        method: ``'cos'`` (CosAngularGrad) or ``'tan'`` (TanAngularGrad).
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see the base).

    References:
        S. K. Roy et al. AngularGrad: A New Optimization Technique for Angular Convergence of
        Convolutional Neural Networks. arXiv:2105.10190, 2021.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, method: str = "cos", *, maximize: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, method=method,
                        maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_adam_hyperparameters(hp)
        self.check(hp["method"] in ("cos", "tan"), "method", "'cos' or 'tan'", hp["method"])

    def init_state(self, p: Tensor, group: dict) -> dict:
        xp = get_array_module(p.array)
        return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p),
                "previous_grad": zeros_like(p),
                "min_angle": xp.full_like(p.array, math.pi / 2)}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        xp = get_array_module(grad)
        t, lr, eps = state["step"], group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        g_prev, a_min = state["previous_grad"], state["min_angle"]
        g = l2_penalty(grad, p.array, group["weight_decay"])    # g <- g + wd * theta
        ema_(m, g, beta1)                                       # m_t = beta1 m + (1 - beta1) g
        ema_of_square_(v, g, beta2)                             # v_t = beta2 v + (1 - beta2) g^2
        a_t = xp.arctan2(xp.abs(g_prev - g), xp.abs(1.0 + g_prev * g))   # A_t
        xp.minimum(a_min, a_t, out=a_min)                       # A_min = min(A_min, A_t)
        g_prev[...] = g                                         # remember g_t
        phi = angular_coefficient(a_min, group["method"])      # phi_t
        denom = adam_denominator(v, beta2, t, eps)              # sqrt(v^_t) + eps
        p.array -= lr / (1.0 - beta1**t) * phi * m / denom      # theta -= alpha phi m^ / (...)


def angular_coefficient(a_min: Array, method: str) -> Array:
    """``phi_t = tanh(|f(A_min)|) lambda_1 + lambda_2`` with f = cos or tan, a new array."""
    xp = get_array_module(a_min)
    phi = xp.cos(a_min) if method == "cos" else xp.tan(a_min)
    xp.abs(phi, out=phi)
    xp.tanh(phi, out=phi)
    phi *= _LAMBDA1
    phi += _LAMBDA2
    return phi
