"""Decay schedules: a user factor, step, multistep, exponential, polynomial and inverse-time.

Each schedule is a pure function of the step count ``t`` (and the group's ``base_lr``), with
the formula in its docstring; its class checks the arguments and calls it.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..optimizer import Optimizer
from .base import (
    LRScheduler,
    callables,
    check_optimizer,
    function_state,
    load_function_state,
    nonneg_int,
    positive_int,
)

__all__ = ["LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ExponentialLR",
           "PolynomialLR", "InverseTimeLR", "ExponentialDecay", "product_of_factors",
           "step_decay", "multistep_decay", "exponential_decay", "polynomial_decay",
           "inverse_time_decay", "natural_exponential_decay"]


# --------------------------------------------------------------------------- the formulas

def product_of_factors(t: int, factor: Callable[[int], float], k: int, lr_k: float) -> float:
    """``lr_t = lr_k * prod_{j=k+1..t} factor(j)``: MultiplicativeLR's running product, from a
    known ``lr_k`` (``k = 0``, ``lr_0 = base_lr`` from the start)."""
    lr = lr_k
    for j in range(k + 1, t + 1):
        lr = lr * factor(j)
    return lr


def step_decay(t: float, base_lr: float, step_size: int, gamma: float) -> float:
    """``lr_t = base_lr * gamma ** floor(t / step_size)``."""
    return base_lr * gamma ** (t // step_size)


def multistep_decay(t: float, base_lr: float, milestones: Sequence[int], gamma: float) -> float:
    """``lr_t = base_lr * gamma ** (number of milestones <= t)`` (``milestones`` sorted; a
    repeated milestone counts twice)."""
    return base_lr * gamma ** bisect_right(milestones, t)


def exponential_decay(t: float, base_lr: float, gamma: float) -> float:
    """``lr_t = base_lr * gamma ** t``."""
    return base_lr * gamma ** t


def natural_exponential_decay(t: float, base_lr: float, k: float) -> float:
    """``lr_t = base_lr * e^(-k t)`` (the slides' exponential decay)."""
    return base_lr * math.exp(-k * t)


def polynomial_decay(t: float, base_lr: float, total_iters: int, power: float) -> float:
    """``lr_t = base_lr * (1 - min(t, T) / T) ** power`` with ``T = total_iters``."""
    return base_lr * (1.0 - min(total_iters, t) / total_iters) ** power


def inverse_time_decay(t: float, base_lr: float, decay: float, power: float) -> float:
    """``lr_t = base_lr / (1 + decay * t) ** power``."""
    return base_lr / (1 + decay * t) ** power


# --------------------------------------------------------------------------- the classes

class _UserFunctions(LRScheduler):
    """A scheduler built on user functions ``lr_lambdas`` (one per param group), saved as
    torch saves them: a plain function not at all, a callable object by its ``__dict__``."""

    _unsaved = ("optimizer", "lr_lambdas")
    lr_lambdas: list[Callable[[int], float]]

    def _extra_state(self) -> dict[str, Any]:
        return {"lr_lambdas": [function_state(fn) for fn in self.lr_lambdas]}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        for fn, fn_state in zip(self.lr_lambdas, extra["lr_lambdas"]):
            load_function_state(fn, fn_state)


class LambdaLR(_UserFunctions):
    """lr_t = base_lr * lr_lambda(t).

    Args:
        optimizer: the optimizer.
        lr_lambda: a function of the step count, or a list with one per param group.
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]
                 | Sequence[Callable[[int], float]], last_epoch: int = -1) -> None:
        check_optimizer(optimizer, "LambdaLR")
        self.lr_lambdas = callables("LambdaLR", "lr_lambda", lr_lambda, optimizer)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return base_lr * self.lr_lambdas[group](t)


class MultiplicativeLR(_UserFunctions):
    """lr_t = base_lr * prod_{k=1..t} lr_lambda(k)   (torch: lr_t = lr_{t-1} * lr_lambda(t)).

    The running product is cached, so stepping costs one call of ``lr_lambda`` per step; a jump
    backwards recomputes it from k = 1 (:func:`product_of_factors`).

    Args:
        optimizer: the optimizer.
        lr_lambda: the factor applied at step k, or a list with one function per param group.
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]
                 | Sequence[Callable[[int], float]], last_epoch: int = -1) -> None:
        check_optimizer(optimizer, "MultiplicativeLR")
        self.lr_lambdas = callables("MultiplicativeLR", "lr_lambda", lr_lambda, optimizer)
        # per group: (k, base_lr, lr_k) of the last product computed
        self._products: list[tuple[int, float, float]] = [(0, math.nan, math.nan)] * len(
            self.lr_lambdas)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        t = int(t)
        k, base, lr_k = self._products[group]
        if base != base_lr or k > t:
            k, lr_k = 0, base_lr
        lr = product_of_factors(t, self.lr_lambdas[group], k, lr_k)
        self._products[group] = (t, base_lr, lr)
        return lr


def _check_gamma(who: str, gamma: Any) -> float:
    if not gamma > 0:
        raise ValueError(f"{who}: gamma must be > 0, got {gamma!r}")
    return gamma


class StepLR(LRScheduler):
    """lr_t = base_lr * gamma ** floor(t / step_size) (:func:`step_decay`).

    Args:
        optimizer: the optimizer.
        step_size: steps between two decays (a positive integer).
        gamma: the decay factor (> 0).
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size = positive_int("StepLR", "step_size", step_size)
        self.gamma = _check_gamma("StepLR", gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return step_decay(t, base_lr, self.step_size, self.gamma)


class MultiStepLR(LRScheduler):
    """lr_t = base_lr * gamma ** (number of milestones <= t) (:func:`multistep_decay`).

    Args:
        optimizer: the optimizer.
        milestones: the steps at which to decay (non-negative integers).
        gamma: the decay factor (> 0).
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        milestones = list(milestones)
        for m in milestones:
            nonneg_int("MultiStepLR", "milestones", m)
        self.gamma = _check_gamma("MultiStepLR", gamma)
        self.milestones = Counter(milestones)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return multistep_decay(t, base_lr, sorted(self.milestones.elements()), self.gamma)


class ExponentialLR(LRScheduler):
    """lr_t = base_lr * gamma ** t (:func:`exponential_decay`).

    This is the slides' exponential decay lr0 * e^(-k t) with gamma = e^(-k); see
    :class:`ExponentialDecay` for that parametrisation.

    Args:
        optimizer: the optimizer.
        gamma: the factor per step (> 0).
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _check_gamma("ExponentialLR", gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return exponential_decay(t, base_lr, self.gamma)


class PolynomialLR(LRScheduler):
    """lr_t = base_lr * (1 - min(t, T) / T) ** power, T = total_iters (:func:`polynomial_decay`).

    Args:
        optimizer: the optimizer.
        total_iters: steps until the learning rate reaches 0 (a positive integer).
        power: the polynomial's power (>= 0; 1 is a linear decay).
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        self.total_iters = positive_int("PolynomialLR", "total_iters", total_iters)
        if not power >= 0:
            raise ValueError(f"PolynomialLR: power must be >= 0, got {power!r}")
        self.power = power
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return polynomial_decay(t, base_lr, self.total_iters, self.power)


class InverseTimeLR(LRScheduler):
    """lr_t = base_lr / (1 + decay * t) ** power (:func:`inverse_time_decay`).

    ``power=0.5, decay=1`` is the Adagrad slide's eta / sqrt(t + 1); ``power=1`` the classic
    1/t decay of stochastic approximation (Robbins & Monro, 1951).

    Args:
        optimizer: the optimizer.
        decay: the time scale (>= 0; 0 keeps the learning rate constant).
        power: the power of the decay (>= 0).
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, decay: float, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        if not decay >= 0:
            raise ValueError(f"InverseTimeLR: decay must be >= 0, got {decay!r}")
        if not power >= 0:
            raise ValueError(f"InverseTimeLR: power must be >= 0, got {power!r}")
        self.decay, self.power = decay, power
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return inverse_time_decay(t, base_lr, self.decay, self.power)


class ExponentialDecay(LRScheduler):
    """lr_t = base_lr * e^(-k t), the slides' exponential decay
    (:func:`natural_exponential_decay`).

    The same schedule as ``ExponentialLR(optimizer, gamma=math.exp(-k))`` (to round-off).

    Args:
        optimizer: the optimizer.
        k: the decay rate per step (>= 0).
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, k: float, last_epoch: int = -1) -> None:
        if not k >= 0:
            raise ValueError(f"ExponentialDecay: k must be >= 0, got {k!r}")
        self.k = k
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return natural_exponential_decay(t, base_lr, self.k)
