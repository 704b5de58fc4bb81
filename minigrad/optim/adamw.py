"""AdamW: Adam with decoupled weight decay.

Algorithm (Loshchilov & Hutter 2019, Algorithm 2 with schedule multiplier 1; torch.optim.AdamW):

    theta_{t-1} <- theta_{t-1} - alpha * lambda * theta_{t-1}   (decoupled decay, not in g)
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
    v_max_t = max(v_max_{t-1}, v_t)                             (amsgrad only)
    theta_t = theta_{t-1} - alpha / (1 - beta1^t) * m_t / (sqrt(v_t / (1 - beta2^t)) + eps)

This is ``Adam(..., decoupled_weight_decay=True)``: one update, :meth:`Adam.update`, whose
first line is the decoupled decay. Unlike Adam's coupled L2, the decay never passes through the
adaptive denominator, so every weight shrinks by the same factor (1 - alpha * lambda) per step.

References:
    Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
"""

from __future__ import annotations

from collections.abc import Iterable

from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    """AdamW (decoupled weight decay; default ``weight_decay=1e-2`` as torch).

    Args:
        params: Tensors or parameter groups.
        lr: step size alpha.
        betas: (beta1, beta2).
        eps: added to the denominator for numerical stability.
        weight_decay: decoupled decay coefficient lambda (theta <- theta - alpha lambda theta).
        amsgrad: use the running maximum of v_t.
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see Optimizer).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)
