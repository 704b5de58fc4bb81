"""SGDW: stochastic gradient descent with momentum and decoupled weight decay.

Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019, Algorithm 1 (SGDW).

The paper's algorithm, with schedule multiplier eta_t, learning rate alpha, decay lambda::

    g_t     = grad f_t(theta_{t-1})
    m_t     = beta_1 m_{t-1} + eta_t alpha g_t
    theta_t = theta_{t-1} - m_t - eta_t lambda theta_{t-1}

Conventions used here (and why):

* The momentum buffer is torch's SGD buffer, with the learning rate outside it::

      b_t     = mu b_{t-1} + (1 - dampening) g_t        (b_1 = g_1)
      d_t     = g_t + mu b_t  if nesterov  else  b_t
      theta_t = theta_{t-1} - lr_t d_t - lr_t wd theta_{t-1}

  With a constant learning rate this is exactly the paper's recursion (m_t = lr b_t), and
  ``SGDW(weight_decay=0)`` is ``SGD`` step for step. When a scheduler changes ``lr`` the whole
  buffer is rescaled at once, as in torch's SGD, instead of only the new gradients.
* Decay convention: ``lr_t = alpha * eta_t`` is the group's current learning rate and the decay
  is ``lr_t * wd * theta_{t-1}``; with a constant multiplier (eta_t = 1) the decay per step is
  ``lr * wd``, i.e. the paper's lambda equals ``lr * wd``, and a schedule that scales ``lr``
  scales the decay by the same eta_t, as the paper prescribes. This is the convention of torch's
  AdamW and of :func:`minigrad.optim.optimizer.decoupled_decay`.
* The decay uses ``theta_{t-1}``, the parameter before this step's gradient update.

Note: torch-optimizer 0.3.0's ``SGDW`` adds the constant ``-lr * wd`` to every weight instead of
``-lr * wd * theta`` (``p.array.add_(weight_decay, alpha=-lr)``); it is not a reference for this.
"""

from __future__ import annotations

from ..backend import Array
from ..tensor import Tensor
from .optimizer import decoupled_decay
from .sgd import SGD, momentum_direction

__all__ = ["SGDW"]


class SGDW(SGD):
    """SGD with momentum and decoupled weight decay (Loshchilov & Hutter, 2019).

    Args:
        params: parameters or parameter groups.
        lr: learning rate ``lr_t = alpha * eta_t``.
        momentum: momentum factor mu (0 disables the buffer).
        dampening: dampening of the gradient added to the buffer.
        weight_decay: decoupled decay ``wd``: ``theta <- theta - lr * wd * theta`` each step.
        nesterov: Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see the base).

    References:
        I. Loshchilov, F. Hutter. Decoupled Weight Decay Regularization. ICLR 2019.

    The constructor, checks, state and momentum (:func:`~minigrad.optim.sgd.momentum_direction`)
    are SGD's; only the weight decay differs (decoupled here, coupled L2 in SGD).
    """

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        theta = p.array
        decoupled_decay(theta, group["lr"], group["weight_decay"])  # theta -= lr wd theta_{t-1}
        theta -= group["lr"] * momentum_direction(grad, state, group)   # theta -= lr d_t
