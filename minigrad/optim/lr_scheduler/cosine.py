"""Cosine annealing, with and without warm restarts (SGDR).

References:
    Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.
"""

from __future__ import annotations

import math

from ...recording import replayed_whole
from ..optimizer import Optimizer
from .base import LRScheduler, is_int, positive_int

__all__ = ["CosineAnnealingLR", "CosineAnnealingWarmRestarts", "cosine_annealing",
           "restart_period"]


# --------------------------------------------------------------------------- the formulas

def cosine_annealing(t_cur: float, eta_max: float, t_period: float, eta_min: float) -> float:
    """``eta_min + (eta_max - eta_min) * (1 + cos(pi * t_cur / t_period)) / 2`` (SGDR, eq. 5).
    """
    return eta_min + (eta_max - eta_min) * (1 + math.cos(math.pi * t_cur / t_period)) / 2


def restart_period(t: float, T_0: int, T_mult: int) -> tuple[float, int]:
    """``(T_cur, T_i)``: the position at step ``t`` within its SGDR period, and the period's
    length, the i-th period lasting ``T_i = T_0 * T_mult**i`` steps."""
    if t < T_0:
        return t, T_0
    if T_mult == 1:
        return t % T_0, T_0
    t_cur, t_i = t, T_0
    while t_cur >= t_i:  # exact: only integers are subtracted
        t_cur, t_i = t_cur - t_i, t_i * T_mult
    return t_cur, t_i


# --------------------------------------------------------------------------- the classes

class CosineAnnealingLR(LRScheduler):
    """lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2
    (:func:`cosine_annealing`).

    Past ``T_max`` the curve rises again (period 2 * T_max), as torch's. For restarts use
    :class:`CosineAnnealingWarmRestarts`.

    Args:
        optimizer: the optimizer.
        T_max: steps of the half cosine (> 0).
        eta_min: the minimum learning rate.
        last_epoch: the step to resume from (-1: a fresh run).

    References:
        Loshchilov & Hutter, SGDR, ICLR 2017, eq. 5.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be > 0, got {T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return cosine_annealing(t, base_lr, self.T_max, self.eta_min)


class CosineAnnealingWarmRestarts(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2, where the
    i-th period lasts T_i = T_0 * T_mult**i steps and T_cur is the (possibly fractional) step
    count since the last restart (:func:`restart_period`, :func:`cosine_annealing`).

    ``step(epoch)`` accepts fractional epochs, e.g. ``scheduler.step(epoch + i / iters)`` once
    per batch; ``step()`` adds 1 to the current (possibly fractional) position, as torch.

    Args:
        optimizer: the optimizer.
        T_0: length of the first period (a positive integer).
        T_mult: growth factor of the period (an integer >= 1).
        eta_min: the minimum learning rate.
        last_epoch: the step to resume from (-1: a fresh run).

    Attributes:
        T_cur, T_i: the position in the current period and its length.

    References:
        Loshchilov & Hutter, SGDR, ICLR 2017, eq. 5.
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        self.T_0 = positive_int("CosineAnnealingWarmRestarts", "T_0", T_0)
        if not is_int(T_mult) or T_mult < 1:
            raise ValueError(
                f"CosineAnnealingWarmRestarts: T_mult must be an integer >= 1, got {T_mult!r}"
            )
        if isinstance(eta_min, bool) or not isinstance(eta_min, (int, float)):
            raise ValueError(
                f"CosineAnnealingWarmRestarts: eta_min must be a number, got {eta_min!r}"
            )
        self.T_mult, self.eta_min = T_mult, eta_min
        self.T_i, self.T_cur = T_0, last_epoch
        self._epoch: float = last_epoch  # the exact (fractional) position; last_epoch = floor
        super().__init__(optimizer, last_epoch)

    def period(self, t: float) -> tuple[float, int]:
        """(T_cur, T_i): the position within the current period at step ``t``, and its length.
        """
        return restart_period(t, self.T_0, self.T_mult)

    def lr_at(self, t, base_lr, group=0):
        t_cur, t_i = self.period(t)
        return cosine_annealing(t_cur, base_lr, t_i, self.eta_min)

    @replayed_whole
    def step(self, epoch: float | None = None) -> None:
        """Advance by 1 or jump to ``epoch`` (fractional allowed, >= 0)."""
        if epoch is not None and not epoch >= 0:
            raise ValueError(
                f"CosineAnnealingWarmRestarts: epoch must be non-negative, got {epoch!r}"
            )
        self._step_to(max(self._epoch + 1, 0) if epoch is None else epoch)

    def _step_to(self, t: float) -> None:
        self._epoch = t
        self.last_epoch = math.floor(t)
        self.T_cur, self.T_i = self.period(t)
        self._apply([self.lr_at(t, b, i) for i, b in enumerate(self.base_lrs)])
