"""AdaBelief: adapting step sizes by the belief in observed gradients.

Zhuang, Tang, Ding, Tatikonda, Dvornek, Papademetris, Duncan, "AdaBelief Optimizer: Adapting
Stepsizes by the Belief in Observed Gradients", NeurIPS 2020 (arXiv:2010.07468), Algorithm 2.
In the paper's symbols, with learning rate alpha::

    m_t     = beta_1 m_{t-1} + (1 - beta_1) g_t
    s_t     = beta_2 s_{t-1} + (1 - beta_2) (g_t - m_t)^2 + eps
    m^_t    = m_t / (1 - beta_1^t),   s^_t = s_t / (1 - beta_2^t)
    theta_t = theta_{t-1} - alpha m^_t / (sqrt(s^_t) + eps)

s_t is the EMA of the squared deviation of the gradient from its prediction m_t: a small s_t
(the observation agrees with the belief) gives a large step. Note that eps enters twice, inside
s_t (accumulated every step) and in the denominator, exactly as in the paper and the code.

Which version this follows: adabelief-pytorch 0.2.1 (the authors' PyPI package,
juntang-zhuang/Adabelief-Optimizer), whose defaults are eps = 1e-16, ``weight_decouple=True``,
``fixed_decay=False``, ``amsgrad=False``, ``rectify=True``, ``degenerated_to_sgd=True``. Every
option behaves as there, except:

* ``rectify`` defaults to False here: Algorithm 2 of the paper has no rectification (the
  package turned it on by default from 0.1.0). ``rectify=True`` gives the package's RAdam-style
  update (Liu et al., 2020), with rho_inf = 2 / (1 - beta_2) - 1 and
  rho_t = rho_inf - 2 t beta_2^t / (1 - beta_2^t)::

      if rho_t >= 5:   r_t = sqrt((1 - beta_2^t) (rho_t - 4)(rho_t - 2) rho_inf
                                  / ((rho_inf - 4)(rho_inf - 2) rho_t))
                       theta_t = theta_{t-1} - alpha r_t / (1 - beta_1^t) m_t / (sqrt(s_t) + eps)
      elif degenerated_to_sgd:
                       theta_t = theta_{t-1} - alpha m_t / (1 - beta_1^t)
      else:            no update

* with ``amsgrad=True`` (s_max_t = max(s_max_{t-1}, s_t)) the rectified branch divides by
  sqrt(s_max_t) here; the package's rectified branch silently ignores the maximum.

Weight decay (decided by ``weight_decouple`` and ``fixed_decay``, applied before the moments,
from theta_{t-1}, as in the package):

* ``weight_decouple=True`` (default): decoupled, ``theta <- theta (1 - alpha wd)``, or
  ``theta <- theta (1 - wd)`` with ``fixed_decay=True``;
* ``weight_decouple=False``: coupled L2, ``g <- g + wd theta``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..backend import Array, get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, decoupled_decay, l2_penalty, zeros_like

__all__ = ["AdaBelief"]


class AdaBelief(Optimizer):
    """AdaBelief (Zhuang et al., NeurIPS 2020), as adabelief-pytorch 0.2.1 with rectify=False.

    Args:
        params: parameters or parameter groups.
        lr: learning rate alpha.
        betas: (beta_1, beta_2) of m_t and s_t.
        eps: added to s_t every step and to sqrt(s^_t) (default 1e-16; eps_AdaBelief plays the
            role of eps_Adam^2).
        weight_decay: decay coefficient, decoupled or coupled per ``weight_decouple``.
        amsgrad: divide by the running maximum of s_t.
        weight_decouple: decoupled decay (True, default) or coupled L2 (False).
        fixed_decay: with decoupled decay, do not scale the decay by the learning rate.
        rectify: RAdam-style rectification (default False, as the paper's Algorithm 2).
        degenerated_to_sgd: with ``rectify``, take an SGD-with-momentum step while rho_t < 5.
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see the base).

    References:
        J. Zhuang et al. AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
        Gradients. NeurIPS 2020.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-16,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 weight_decouple: bool = True, fixed_decay: bool = False, rectify: bool = False,
                 degenerated_to_sgd: bool = True, maximize: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        weight_decouple=weight_decouple, fixed_decay=fixed_decay,
                        rectify=rectify, degenerated_to_sgd=degenerated_to_sgd,
                        maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_adam_hyperparameters(hp)
        for flag in ("amsgrad", "weight_decouple", "fixed_decay", "rectify",
                     "degenerated_to_sgd"):
            self.check(isinstance(hp[flag], bool), flag, "a bool", hp[flag])

    def init_state(self, p: Tensor, group: dict) -> dict:
        state = {"exp_avg": zeros_like(p), "exp_avg_var": zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_var"] = zeros_like(p)
        return state

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        xp = get_array_module(grad)
        t, lr, eps, wd = state["step"], group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        m, s, theta = state["exp_avg"], state["exp_avg_var"], p.array
        g = grad
        if not group["weight_decouple"]:
            g = l2_penalty(grad, theta, wd)                 # g <- g + wd * theta
        elif group["fixed_decay"]:
            decoupled_decay(theta, 1.0, wd)                 # theta <- theta (1 - wd)
        else:
            decoupled_decay(theta, lr, wd)                  # theta <- theta (1 - alpha wd)
        m *= beta1
        m += (1.0 - beta1) * g                              # m_t = beta1 m + (1 - beta1) g
        s *= beta2
        s += (1.0 - beta2) * (g - m) ** 2
        s += eps                                            # s_t = beta2 s + (1-beta2)(g-m)^2 + eps
        if group["amsgrad"]:
            s_max = state["max_exp_avg_var"]
            xp.maximum(s_max, s, out=s_max)                 # s_max_t = max(s_max_{t-1}, s_t)
            s = s_max
        bias1, bias2 = 1.0 - beta1**t, 1.0 - beta2**t
        if not group["rectify"]:
            denom = xp.sqrt(s)
            denom *= 1.0 / math.sqrt(bias2)
            denom += eps                                    # sqrt(s^_t) + eps
            theta -= (lr / bias1) * (m / denom)             # theta -= alpha m^_t / (...)
            return
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * t * beta2**t / bias2
        if rho_t >= 5.0:
            r_t = math.sqrt(bias2 * (rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                            / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            denom = xp.sqrt(s)
            denom += eps                                    # sqrt(s_t) + eps
            theta -= (lr * r_t / bias1) * (m / denom)
        elif group["degenerated_to_sgd"]:
            theta -= (lr / bias1) * m                       # SGD-with-momentum step
