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
from .optimizer import (
    Optimizer,
    adam_denominator,
    decoupled_decay,
    ema_,
    ema_of_square_,
    l2_penalty,
    rectification,
    sma_length,
    zeros_like,
)

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
        t, lr, eps = state["step"], group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        m, s, theta = state["exp_avg"], state["exp_avg_var"], p.array
        g = _weight_decay(theta, grad, group)               # package option (before Alg. 2)
        ema_(m, g, beta1)                                   # m_t = beta1 m + (1 - beta1) g_t
        ema_of_square_(s, g - m, beta2)
        s += eps                                            # s_t = ... (g_t - m_t)^2 + eps
        if group["amsgrad"]:                                # package option
            s_max = state["max_exp_avg_var"]
            get_array_module(s).maximum(s_max, s, out=s_max)   # s_max_t = max(s_max, s_t)
        s_used = s_max if group["amsgrad"] else s
        if group["rectify"]:                                # package option
            _rectified_step(theta, m, s_used, t, group)
            return
        theta -= (lr / (1.0 - beta1**t)) * (m / adam_denominator(s_used, beta2, t, eps))


def _weight_decay(theta: Array, grad: Array, group: dict) -> Array:
    """The package's weight decay, from theta_{t-1}; returns the gradient to use.

    ``weight_decouple``: ``theta <- theta (1 - alpha wd)``, or ``theta (1 - wd)`` with
    ``fixed_decay``; otherwise coupled L2, ``g <- g + wd theta``.
    """
    wd = group["weight_decay"]
    if not group["weight_decouple"]:
        return l2_penalty(grad, theta, wd)
    decoupled_decay(theta, 1.0 if group["fixed_decay"] else group["lr"], wd)
    return grad


def _rectified_step(theta: Array, m: Array, s: Array, t: int, group: dict) -> None:
    """The package's ``rectify=True`` step (RAdam's rectification, Liu et al. 2020).

    ``theta -= alpha r_t / (1 - beta_1^t) m_t / (sqrt(s_t) + eps)`` with
    ``r_t = sqrt(1 - beta_2^t) * rectification(rho_inf, rho_t)`` while rho_t >= 5; before that
    an SGD-with-momentum step ``theta -= alpha m_t / (1 - beta_1^t)`` if
    ``degenerated_to_sgd``, else no step.
    """
    lr, (beta1, beta2) = group["lr"], group["betas"]
    bias1 = 1.0 - beta1**t
    rho_inf, rho_t = sma_length(beta2, t)
    if rho_t >= 5.0:
        r_t = math.sqrt(1.0 - beta2**t) * rectification(rho_inf, rho_t)
        denom = get_array_module(s).sqrt(s)
        denom += group["eps"]                               # sqrt(s_t) + eps
        theta -= (lr * r_t / bias1) * (m / denom)
    elif group["degenerated_to_sgd"]:
        theta -= (lr / bias1) * m                           # SGD-with-momentum step
