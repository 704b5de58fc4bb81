"""SWATS: switch from Adam to SGD once the projected SGD learning rate has settled.

Keskar & Socher, "Improving Generalization Performance by Switching from Adam to SGD",
arXiv:1712.07628, 2017, Algorithm 1. In the paper's symbols (step k, learning rate alpha)::

    phase Adam:
        m_k = beta_1 m_{k-1} + (1 - beta_1) g_k
        a_k = beta_2 a_{k-1} + (1 - beta_2) g_k^2
        p_k = -alpha sqrt(1 - beta_2^k) / (1 - beta_1^k) * m_k / (sqrt(a_k) + eps)
        x_k = x_{k-1} + p_k
        if p_k^T g_k != 0:
            gamma_k  = p_k^T p_k / (-p_k^T g_k)          (the SGD rate whose step projects onto p_k)
            lambda_k = beta_2 lambda_{k-1} + (1 - beta_2) gamma_k
            if k > 1 and |lambda_k / (1 - beta_2^k) - gamma_k| < eps:
                phase = SGD;  v_k = 0;  Lambda = lambda_k / (1 - beta_2^k)
        else:
            lambda_k = lambda_{k-1}
    phase SGD:
        v_k = beta_1 v_{k-1} + g_k
        x_k = x_{k-1} - (1 - beta_1) Lambda v_k

The SGD phase is heavy-ball SGD with momentum beta_1, i.e. torch's ``SGD(momentum=beta_1)`` at
learning rate ``(1 - beta_1) Lambda``. Defaults are the paper's: alpha = 1e-3,
betas (0.9, 0.999), eps = 1e-9 (used both in the Adam denominator and as the switch tolerance).

Decisions (documented because the paper leaves them open or the code differs):

* Per parameter tensor ("per layer"): every parameter has its own gamma, lambda, phase and
  Lambda, kept in ``optimizer.state[p]``: ``'phase'`` (``'adam'`` or ``'sgd'``), ``'sgd_lr'``
  (Lambda, None before the switch), ``'switch_step'`` (k at which the switch happened, None
  before) and ``'lambda'`` (lambda_k). So layers switch independently, each at its own rate.
  torch-optimizer's SWATS instead switches the whole parameter group (and overwrites the group's
  ``lr``) as soon as any one tensor meets the criterion; put all parameters in one tensor to get
  a single global decision.
* The switch also requires Lambda > 0 (as in torch-optimizer): a non-positive rate would ascend.
  The tolerance is absolute, ``|Lambda - gamma_k| < eps``, as in Algorithm 1 (torch-optimizer
  uses a relative ``allclose(rtol=1e-6)``).
* After the switch the SGD rate is ``Lambda * lr_t / lr_switch``: a scheduler that scales the
  group's ``lr`` after the switch scales the SGD rate by the same factor (lr_switch, the group's
  rate at the switch, is kept in ``state['switch_lr']``).
* gamma_k's dot products are taken in the parameter's dtype and read back as Python floats (one
  device synchronisation per parameter per Adam-phase step; none after the switch). With
  float32 parameters gamma_k carries a relative round-off of about 1e-7, so the paper's
  absolute tolerance eps = 1e-9 can only be met while gamma_k is below about 1e-2 (true for
  the paper's alpha = 1e-3 on typical gradients); with a larger alpha, raise ``eps``.
* ``weight_decay`` is coupled L2 (``g <- g + wd * x``) in both phases.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..backend import Array, get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, ema_, ema_of_square_, l2_penalty, zeros_like

__all__ = ["SWATS"]


class SWATS(Optimizer):
    """SWATS (Keskar & Socher, 2017): Adam, then SGD with momentum at the rate Adam implied.

    Args:
        params: parameters or parameter groups.
        lr: Adam learning rate alpha.
        betas: (beta_1, beta_2): Adam's moment decays; beta_1 is also the SGD momentum and
            beta_2 the decay of the rate estimate lambda.
        eps: Adam's denominator term and the switch tolerance (paper: 1e-9).
        weight_decay: coupled L2 coefficient (``g <- g + wd * x``).
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see the base).

    References:
        N. S. Keskar, R. Socher. Improving Generalization Performance by Switching from Adam to
        SGD. arXiv:1712.07628, 2017.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-9,
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_adam_hyperparameters(hp)

    def init_state(self, p: Tensor, group: dict) -> dict:
        # the SGD buffer v exists from the start so the state has a fixed layout (checkpoints)
        return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p),
                "momentum_buffer": zeros_like(p), "lambda": 0.0, "phase": "adam",
                "sgd_lr": None, "switch_step": None, "switch_lr": None}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        k, lr = state["step"], group["lr"]
        beta1, beta2 = group["betas"]
        g = l2_penalty(grad, p.array, group["weight_decay"])     # g <- g + wd * x
        if state["phase"] == "sgd":
            self._sgd_step(p, g, state, lr, beta1)
        else:
            self._adam_step(p, g, state, k, lr, beta1, beta2, group["eps"])

    @staticmethod
    def _sgd_step(p: Tensor, g: Array, state: dict, lr: float, beta1: float) -> None:
        v = state["momentum_buffer"]
        v *= beta1
        v += g                                                   # v_k = beta1 v_{k-1} + g_k
        rate = state["sgd_lr"]
        if state["switch_lr"]:
            rate *= lr / state["switch_lr"]                      # follow the group's schedule
        p.array -= ((1.0 - beta1) * rate) * v                     # x_k = x - (1-beta1) Lambda v

    @staticmethod
    def _adam_step(p: Tensor, g: Array, state: dict, k: int, lr: float, beta1: float,
                   beta2: float, eps: float) -> None:
        xp = get_array_module(g)
        m, a = state["exp_avg"], state["exp_avg_sq"]
        ema_(m, g, beta1)                                        # m_k
        ema_of_square_(a, g, beta2)                              # a_k
        bias2 = 1.0 - beta2**k
        denom = xp.sqrt(a)
        denom += eps                                             # sqrt(a_k) + eps
        p_k = xp.divide(m, denom, out=denom)
        p_k *= -lr * math.sqrt(bias2) / (1.0 - beta1**k)         # p_k
        p.array += p_k                                           # x_k = x_{k-1} + p_k
        p_flat = p_k.ravel()
        p_dot_g = float(xp.dot(p_flat, g.ravel()))
        if p_dot_g == 0.0:
            return                                               # lambda_k = lambda_{k-1}
        gamma = float(xp.dot(p_flat, p_flat)) / -p_dot_g         # gamma_k
        state["lambda"] = beta2 * state["lambda"] + (1.0 - beta2) * gamma   # lambda_k
        rate = state["lambda"] / bias2                           # Lambda = lambda_k / (1 - b2^k)
        if k > 1 and rate > 0.0 and abs(rate - gamma) < eps:
            state["phase"] = "sgd"
            state["sgd_lr"] = rate
            state["switch_step"] = k
            state["switch_lr"] = lr
            state["momentum_buffer"].fill(0)                     # v_k = 0
