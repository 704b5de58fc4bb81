"""AdaInject (AdamInject form): Adam with the second-order moment injected into the first.

Dubey, Basha, Singh, Chaudhuri, "AdaInject: Injection Based Adaptive Gradient Descent
Optimizers for Convolutional Neural Networks", IEEE Transactions on Artificial Intelligence,
2022 (arXiv:2109.12504), AdamInject. In the paper's symbols, with learning rate alpha, the
short-term parameter change Delta theta_t = theta_{t-1} - theta_t (theta_t: the parameter at
which g_t is evaluated) and the injection weight k::

    m_t         = beta_1 m_{t-1} + (1 - beta_1) g_t                            if t = 1
    m_t         = beta_1 m_{t-1} + (1 - beta_1) (g_t + Delta theta_t g_t^2) / k  if t > 1
    v_t         = beta_2 v_{t-1} + (1 - beta_2) g_t^2
    m^_t        = m_t / (1 - beta_1^t),   v^_t = v_t / (1 - beta_2^t)
    theta_{t+1} = theta_t - alpha m^_t / (sqrt(v^_t) + eps)

all element-wise; k = 2 as the paper's experiments. The state keeps the previous parameter
(theta_{t-1}). ``weight_decay`` is coupled L2 (``g <- g + wd * theta``, as the authors' code);
the penalised gradient is both the one injected and the one squared.

Paper vs. the authors' code (shivram1987/AdaInject, ``AdamInject.py``): the code agrees on the
moments, the injection and k = 2 (hard-coded), but adds eps to sqrt(v_t) before the bias
correction, i.e. divides by ``sqrt(v^_t) + eps / sqrt(1 - beta_2^t)``. This follows the paper;
the two differ by O(eps) only.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import Array
from ..tensor import Tensor
from .optimizer import Optimizer, adam_denominator, ema_, ema_of_square_, l2_penalty, zeros_like

__all__ = ["AdaInject"]


class AdaInject(Optimizer):
    """AdaInject in its AdamInject form (Dubey et al., 2022).

    Args:
        params: parameters or parameter groups.
        lr: learning rate alpha.
        betas: (beta_1, beta_2) of the first and second moments.
        eps: added to sqrt(v^_t).
        weight_decay: coupled L2 coefficient (``g <- g + wd * theta``).
        k: injection weight (the paper uses k = 2).
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see the base).

    References:
        S. R. Dubey, S. H. S. Basha, S. K. Singh, B. B. Chaudhuri. AdaInject: Injection Based
        Adaptive Gradient Descent Optimizers for Convolutional Neural Networks. IEEE TAI, 2022.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, k: float = 2.0, *, maximize: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, k=k,
                        maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_adam_hyperparameters(hp)
        self.check_positive("k", hp["k"])

    def init_state(self, p: Tensor, group: dict) -> dict:
        return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p),
                "previous_param": zeros_like(p)}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        t, lr, eps = state["step"], group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        m, v, theta_prev = state["exp_avg"], state["exp_avg_sq"], state["previous_param"]
        theta = p.array
        g = l2_penalty(grad, theta, group["weight_decay"])    # g <- g + wd * theta
        if t == 1:
            injected = g
        else:
            injected = injection(g, theta_prev - theta, group["k"])
        theta_prev[...] = theta                                # remember theta_t
        ema_(m, injected, beta1)                               # m_t = beta1 m + (1-beta1) inj
        ema_of_square_(v, g, beta2)                            # v_t = beta2 v + (1 - beta2) g^2
        theta -= (lr / (1.0 - beta1**t)) * (m / adam_denominator(v, beta2, t, eps))


def injection(g: Array, delta_theta: Array, k: float) -> Array:
    """The injected gradient ``(g_t + Delta theta_t g_t^2) / k``, element-wise.

    Built in the buffer of ``delta_theta`` (a temporary the caller no longer needs).
    """
    injected = delta_theta
    injected *= g * g
    injected += g
    injected /= k
    return injected
