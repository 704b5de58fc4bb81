"""ReduceLROnPlateau: reduce the learning rate when a metric stops improving.

References:
    PyTorch, ``torch.optim.lr_scheduler.ReduceLROnPlateau``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...recording import replayed_whole
from ..optimizer import Optimizer
from .base import LRScheduler, check_optimizer, nonneg_int, per_group

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when a metric stops improving.

    ``step(metric)`` once per epoch. With ``best`` the best metric so far, the metric improves
    when (mode, threshold_mode)::

        min, rel: metric < best * (1 - threshold)      min, abs: metric < best - threshold
        max, rel: metric > best * (1 + threshold)      max, abs: metric > best + threshold

    After more than ``patience`` epochs without improvement (NaN never improves)::

        lr = max(lr * factor, min_lr)    # skipped when the change is <= eps

    then ``cooldown`` epochs pass during which bad epochs are not counted. This is the one
    scheduler that is not a function of the step count: it reads and writes the optimizer's
    current ``lr``. Its ``stepping`` is ``'metric'``: fit steps it once per epoch with the
    validation loss (the training loss without validation data).

    Args:
        optimizer: the optimizer.
        mode: 'min' (a loss) or 'max' (an accuracy).
        factor: the reduction factor, in (0, 1).
        patience: epochs without improvement tolerated (a non-negative integer).
        threshold: the significance threshold.
        threshold_mode: 'rel' or 'abs'.
        cooldown: epochs to wait after a reduction before counting bad epochs again.
        min_lr: a lower bound on the learning rate, a float or one per param group.
        eps: reductions smaller than this are skipped.
    """

    stepping = "metric"

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | Sequence[float] = 0,
                 eps: float = 1e-8) -> None:
        who = "ReduceLROnPlateau"
        check_optimizer(optimizer, who)
        if mode not in ("min", "max"):
            raise ValueError(f"{who}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"{who}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}"
            )
        if not 0 < factor < 1:
            raise ValueError(f"{who}: factor must be in (0, 1), got {factor!r}")
        if not threshold >= 0:
            raise ValueError(f"{who}: threshold must be >= 0, got {threshold!r}")
        self.mode, self.factor = mode, factor
        self.patience = nonneg_int(who, "patience", patience)
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown = nonneg_int(who, "cooldown", cooldown)
        self.min_lrs = [float(m) for m in per_group(who, "min_lr", min_lr, optimizer)]
        self.eps = eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        super().__init__(optimizer)

    def _initial_step(self) -> None:
        """No learning rate changes at construction; the epoch count starts at 0."""
        self.last_epoch = 0

    def is_better(self, metric: float, best: float) -> bool:
        """Whether ``metric`` improves on ``best`` by more than the threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return metric < best * (1.0 - self.threshold)
        if self.mode == "min":
            return metric < best - self.threshold
        if self.threshold_mode == "rel":
            return metric > best * (self.threshold + 1.0)
        return metric > best + self.threshold

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    @replayed_whole
    def step(self, metrics: float, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record one epoch's metric and reduce the learning rate if it has plateaued."""
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def get_lr(self) -> list[float]:
        return self.get_last_lr()
