"""diffGrad: an optimizer whose step is damped by the change of the gradient.

Dubey, Chakraborty, Roy, Mukherjee, Singh, Chaudhuri, "diffGrad: An Optimization Method for
Convolutional Neural Networks", IEEE TNNLS 31(11), 2020 (arXiv:1909.11015, 2019). In the
paper's symbols, with learning rate alpha::

    m_t     = beta_1 m_{t-1} + (1 - beta_1) g_t
    v_t     = beta_2 v_{t-1} + (1 - beta_2) g_t^2
    m^_t    = m_t / (1 - beta_1^t),   v^_t = v_t / (1 - beta_2^t)
    xi_t    = AbsSig(g_{t-1} - g_t) = 1 / (1 + exp(-|g_{t-1} - g_t|))      (the friction)
    theta_t = theta_{t-1} - alpha xi_t m^_t / (sqrt(v^_t) + eps)

Everything is element-wise; ``g_0 = 0`` (the authors' code starts the previous gradient at zero,
so xi_1 = sigmoid(|g_1|)). The state keeps a copy of the previous gradient. ``weight_decay`` is
coupled L2 (``g <- g + wd * theta``, as in the authors' code); the penalised gradient is the one
remembered as g_{t-1}. Defaults are the paper's: alpha = 1e-3, betas (0.9, 0.999), eps = 1e-8.

Paper vs. the authors' code (shivram1987/diffGrad, also torch-optimizer's DiffGrad): the code
adds eps to sqrt(v_t) *before* the bias correction, i.e. it divides by
``sqrt(v^_t) + eps / sqrt(1 - beta_2^t)``. This follows the paper (eps added to sqrt(v^_t)), as
torch's Adam does; the two differ by O(eps) only.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import Array, get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, adam_denominator, ema_, ema_of_square_, l2_penalty, zeros_like

__all__ = ["DiffGrad"]


class DiffGrad(Optimizer):
    """diffGrad (Dubey et al., 2019/2020): Adam with a per-element friction on the step.

    Args:
        params: parameters or parameter groups.
        lr: learning rate alpha.
        betas: (beta_1, beta_2) of the first and second moments.
        eps: added to sqrt(v^_t).
        weight_decay: coupled L2 coefficient (``g <- g + wd * theta``).
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see the base).

    References:
        S. R. Dubey et al. diffGrad: An Optimization Method for Convolutional Neural Networks.
        IEEE Transactions on Neural Networks and Learning Systems, 2020.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
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
        return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p),
                "previous_grad": zeros_like(p)}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        xp = get_array_module(grad)
        t, lr, eps = state["step"], group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        m, v, g_prev = state["exp_avg"], state["exp_avg_sq"], state["previous_grad"]
        g = l2_penalty(grad, p.array, group["weight_decay"])   # g <- g + wd * theta
        ema_(m, g, beta1)                                      # m_t = beta1 m + (1 - beta1) g
        ema_of_square_(v, g, beta2)                            # v_t = beta2 v + (1 - beta2) g^2
        xi = 1.0 / (1.0 + xp.exp(-xp.abs(g_prev - g)))         # xi_t = AbsSig(g_{t-1} - g_t)
        g_prev[...] = g                                        # remember g_t
        denom = adam_denominator(v, beta2, t, eps)             # sqrt(v^_t) + eps
        p.array -= lr / (1.0 - beta1**t) * xi * m / denom      # theta -= alpha xi m^ / (...)
