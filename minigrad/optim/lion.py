"""Lion: EvoLved Sign Momentum.

Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023 (arXiv:2302.06675),
Algorithm 2 (Lion), with learning rate eta, decoupled weight decay lambda::

    c_t     = beta_1 m_{t-1} + (1 - beta_1) g_t          (interpolation used for the update)
    theta_t = theta_{t-1} - eta (sign(c_t) + lambda theta_{t-1})
    m_t     = beta_2 m_{t-1} + (1 - beta_2) g_t          (the only state: one momentum buffer)

Defaults are the paper's: eta = 1e-4, (beta_1, beta_2) = (0.9, 0.99), lambda = 0 (the paper
recommends a 3-10x smaller lr and a 3-10x larger weight decay than for AdamW). The decay is
decoupled and scaled by the learning rate (``theta -= lr * wd * theta``), as in the paper's
program and in lucidrains/lion-pytorch. ``sign(0) = 0``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import Array, get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, decoupled_decay, ema_, zeros_like

__all__ = ["Lion"]


class Lion(Optimizer):
    """Lion (Chen et al., 2023): the sign of an interpolated momentum, decoupled weight decay.

    Args:
        params: parameters or parameter groups.
        lr: learning rate eta (paper default 1e-4).
        betas: (beta_1, beta_2): interpolation factor of the update and momentum decay.
        weight_decay: decoupled decay lambda: ``theta <- theta - lr * lambda * theta``.
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see the base).

    References:
        X. Chen et al. Symbolic Discovery of Optimization Algorithms. NeurIPS 2023.
    """

    def __init__(self, params: Iterable, lr: float = 1e-4,
                 betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0, *,
                 maximize: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None):
        defaults = dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_nonnegative("lr", hp["lr"])
        self.check_betas(hp["betas"])
        self.check_nonnegative("weight_decay", hp["weight_decay"])

    def init_state(self, p: Tensor, group: dict) -> dict:
        return {"exp_avg": zeros_like(p)}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        xp = get_array_module(grad)
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        m, theta = state["exp_avg"], p.array
        decoupled_decay(theta, lr, group["weight_decay"])   # theta -= eta * lambda * theta_{t-1}
        c = beta1 * m
        c += (1.0 - beta1) * grad                           # c_t = beta1 m + (1 - beta1) g
        theta -= lr * xp.sign(c)                            # theta -= eta sign(c_t)
        ema_(m, grad, beta2)                                # m_t = beta2 m + (1 - beta2) g
