"""Warm-up and composition: constant and linear factors, WarmupLR, SequentialLR and
ChainedScheduler.

References:
    Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017 (warm-up).
    PyTorch, ``torch.optim.lr_scheduler`` (ConstantLR, LinearLR, SequentialLR, ChainedScheduler).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from ...recording import replayed_whole
from ..optimizer import Optimizer
from .base import LRScheduler, check_optimizer, nonneg_int, positive_int

__all__ = ["ConstantLR", "LinearLR", "WarmupLR", "SequentialLR", "ChainedScheduler",
           "constant_factor", "linear_factor", "warmup_factor", "chain"]


# --------------------------------------------------------------------------- the formulas

def constant_factor(t: float, factor: float, total_iters: int) -> float:
    """ConstantLR's multiplier: ``factor`` while ``t < total_iters``, then 1."""
    return factor + (t >= total_iters) * (1 - factor)


def linear_factor(t: float, start_factor: float, end_factor: float, total_iters: int) -> float:
    """LinearLR's multiplier ``start + (end - start) * min(t, T) / T`` with ``T = total_iters``.
    """
    ramp = min(total_iters, t) / total_iters
    return start_factor + (end_factor - start_factor) * ramp


def warmup_factor(t: float, warmup_steps: int, start_factor: float, strategy: str) -> float:
    """WarmupLR's multiplier, with W = ``warmup_steps`` and s = ``start_factor``::

        w(t) = s + (1 - s) * min(t, W) / W                        # 'linear'
        w(t) = s + (1 - s) * (1 - cos(pi * min(t, W) / W)) / 2     # 'cos'
    """
    ramp = min(t, warmup_steps) / warmup_steps
    if strategy == "cos":
        ramp = (1 - math.cos(math.pi * ramp)) / 2
    return start_factor + (1 - start_factor) * ramp


def chain(base_lr: float, parts: list[tuple[float, float]]) -> float:
    """ChainedScheduler's ``base_lr * prod_j (lr_j / base_lr_j)`` over ``parts = [(lr_j,
    base_lr_j)]`` (a part whose base is 0 makes the product 0)."""
    lr = base_lr
    for lr_j, base_j in parts:
        lr = lr * lr_j / base_j if base_j != 0 else 0.0
    return lr


# --------------------------------------------------------------------------- factors

class ConstantLR(LRScheduler):
    """lr_t = base_lr * factor for t < total_iters, base_lr afterwards (:func:`constant_factor`).

    Args:
        optimizer: the optimizer.
        factor: the multiplier during the first ``total_iters`` steps, in [0, 1].
        total_iters: how many steps the factor applies.
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor!r}")
        self.factor = factor
        self.total_iters = nonneg_int("ConstantLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return base_lr * constant_factor(t, self.factor, self.total_iters)


class LinearLR(LRScheduler):
    """lr_t = base_lr * (start_factor + (end_factor - start_factor) * min(t, T) / T),
    T = total_iters (:func:`linear_factor`).

    Args:
        optimizer: the optimizer.
        start_factor: the multiplier at step 0, in (0, 1].
        end_factor: the multiplier from step ``total_iters`` on, in [0, 1].
        total_iters: steps of the linear ramp (a positive integer).
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        self.start_factor, self.end_factor = start_factor, end_factor
        self.total_iters = positive_int("LinearLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return base_lr * linear_factor(t, self.start_factor, self.end_factor, self.total_iters)


# --------------------------------------------------------------------------- composition

def check_parts(who: str, schedulers: Sequence[LRScheduler], optimizer: Optimizer) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{who}: schedulers must hold at least one scheduler, got none")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(
                f"{who}: schedulers[{i}] must be an LRScheduler, got {type(s).__name__}"
            )
        if s.stepping == "metric":
            raise ValueError(
                f"{who}: schedulers[{i}] is a {type(s).__name__}, which needs a metric in "
                f"step() and cannot be composed"
            )
        if s.optimizer is not optimizer:
            raise ValueError(
                f"{who}: schedulers[{i}] ({type(s).__name__}) wraps a different optimizer"
            )


class _CompositeScheduler(LRScheduler):
    """A scheduler made of others (``self._schedulers``): stepped per batch when any part is,
    and its checkpoints hold the parts' own."""

    _unsaved = ("optimizer", "_schedulers")
    _schedulers: list[LRScheduler]

    @property
    def stepping(self) -> str:  # type: ignore[override]
        return "batch" if any(s.stepping == "batch" for s in self._schedulers) else "epoch"

    def _extra_state(self) -> dict[str, Any]:
        return {"_schedulers": [s.state_dict() for s in self._schedulers]}

    def check_state_dict(self, state_dict: Any) -> None:
        super().check_state_dict(state_dict)
        parts = state_dict["_schedulers"]
        if len(parts) != len(self._schedulers):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state_dict has "
                             f"{len(parts)} schedulers, this one {len(self._schedulers)}")
        for s, sd in zip(self._schedulers, parts):
            s.check_state_dict(sd)

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        for s, sd in zip(self._schedulers, extra["_schedulers"]):
            s.load_state_dict(sd)


class SequentialLR(_CompositeScheduler):
    """Run ``schedulers[k]`` from milestone k - 1 to milestone k, each from its own step 0::

        k    = number of milestones <= t
        lr_t = schedulers[k].lr_at(t - milestones[k - 1])     (milestones[-1] := 0)

    Each scheduler keeps its own ``base_lrs`` (the group's ``initial_lr`` for most).

    Args:
        optimizer: the optimizer all ``schedulers`` wrap.
        schedulers: the schedulers, in order.
        milestones: the steps at which to switch (one fewer than ``schedulers``, increasing).
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        who = "SequentialLR"
        check_optimizer(optimizer, who)
        check_parts(who, schedulers, optimizer)
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"{who}: milestones must have one entry fewer than schedulers "
                f"({len(schedulers)}), got {len(milestones)}"
            )
        for m in milestones:
            nonneg_int(who, "milestones", m)
        if any(a > b for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"{who}: milestones must be increasing, got {milestones}")
        self._schedulers = list(schedulers)
        self._milestones = milestones
        super().__init__(optimizer, last_epoch)

    def _locate(self, t: float) -> tuple[LRScheduler, float]:
        k = bisect_right(self._milestones, t)
        return self._schedulers[k], t - (self._milestones[k - 1] if k else 0)

    def lr_at(self, t, base_lr, group=0):
        s, t_s = self._locate(t)
        return s.lr_at(t_s, s.base_lrs[group], group)

    def _step_to(self, t: float) -> None:
        self.last_epoch = t
        s, t_s = self._locate(t)
        s._step_to(t_s)  # also cycles momentum where s does
        self._apply(s.get_last_lr())



class ChainedScheduler(_CompositeScheduler):
    """Apply several schedulers at once; their factors multiply::

        lr_t = base_lr * prod_j (schedulers[j].lr_at(t) / schedulers[j].base_lr)

    ``step()`` steps every scheduler. This equals torch's ChainedScheduler whenever each
    chained schedule is a multiple of its base learning rate (LambdaLR at the head of the
    chain, MultiplicativeLR, StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR,
    PolynomialLR, CosineAnnealingLR with eta_min = 0 ...). Where one is not (a cosine with
    eta_min > 0, CyclicLR), torch's recursive update gives a path-dependent result; here the
    product above is the definition.

    Args:
        schedulers: the schedulers to chain, all on one optimizer.
        optimizer: that optimizer (default: the first scheduler's).
    """

    def __init__(self, schedulers: Sequence[LRScheduler],
                 optimizer: Optimizer | None = None) -> None:
        who = "ChainedScheduler"
        if len(schedulers) < 1:
            raise ValueError(f"{who}: schedulers must hold at least one scheduler, got none")
        optimizer = schedulers[0].optimizer if optimizer is None else optimizer
        check_optimizer(optimizer, who)
        check_parts(who, schedulers, optimizer)
        self._schedulers = list(schedulers)
        super().__init__(optimizer, base_lrs=[g.get("initial_lr", g["lr"])
                                              for g in optimizer.param_groups])

    def _initial_step(self) -> None:
        """The parts made their initial steps already: write the product of their factors."""
        self.last_epoch = 0
        self._apply(self._product([s.get_last_lr() for s in self._schedulers]))

    def _product(self, lrs_per_scheduler: list[list[float]]) -> list[float]:
        """base_lr * prod_j (lr_j / base_lr_j) for every param group."""
        return [chain(base_lr, [(lrs[i], s.base_lrs[i]) for s, lrs in
                                      zip(self._schedulers, lrs_per_scheduler)])
                for i, base_lr in enumerate(self.base_lrs)]

    def lr_at(self, t, base_lr, group=0):
        return chain(base_lr, [(s.lr_at(t, s.base_lrs[group], group), s.base_lrs[group])
                                     for s in self._schedulers])

    @replayed_whole
    def step(self, epoch: float | None = None) -> None:
        """Step every chained scheduler, then write the product of their factors."""
        if epoch is not None:
            raise TypeError("ChainedScheduler.step() takes no epoch; step the parts instead")
        self.last_epoch += 1
        for s in self._schedulers:
            s.step()
        self._apply(self._product([s.get_last_lr() for s in self._schedulers]))


class WarmupLR(LRScheduler):
    """Warm up the learning rate, then hand over to any scheduler (or keep it constant).

    With W = ``warmup_steps`` and s = ``start_factor``, the warm-up factor is::

        w(t) = s + (1 - s) * min(t, W) / W                        # strategy='linear'
        w(t) = s + (1 - s) * (1 - cos(pi * min(t, W) / W)) / 2     # strategy='cos'

    and, with ``inner(t)`` the wrapped scheduler's learning rate (``base_lr`` when an optimizer
    is given)::

        lr_t = w(t) * inner(max(t - W, 0))     # overlap=False: inner starts after warm-up
        lr_t = w(t) * inner(t)                 # overlap=True: warm-up scales inner's start

    With ``overlap=False`` (the default) the inner schedule runs unchanged, only delayed by W
    steps: ``WarmupLR(CosineAnnealingLR(opt, T_max=90), 10)`` ramps to base_lr in 10 steps and
    then anneals over 90 (total 100). ``overlap=True`` equals
    ``ChainedScheduler([LinearLR(opt, s, 1, W), inner])`` for linear warm-up.

    Args:
        scheduler_or_optimizer: the scheduler to warm up (not ReduceLROnPlateau), or an
            optimizer for a warm-up to a constant learning rate.
        warmup_steps: W, the steps of warm-up (a positive integer).
        start_factor: the factor at step 0, in [0, 1] (0: start from lr = 0).
        strategy: 'linear' or 'cos'.
        overlap: whether the warm-up overlaps the inner schedule's first W steps.
        last_epoch: the step to resume from (-1: a fresh run).

    References:
        Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017.
    """

    _unsaved = ("optimizer", "scheduler")

    def __init__(self, scheduler_or_optimizer: LRScheduler | Optimizer, warmup_steps: int,
                 start_factor: float = 0.0, strategy: str = "linear", overlap: bool = False,
                 last_epoch: int = -1) -> None:
        who = "WarmupLR"
        if isinstance(scheduler_or_optimizer, LRScheduler):
            check_parts(who, [scheduler_or_optimizer], scheduler_or_optimizer.optimizer)
            self.scheduler: LRScheduler | None = scheduler_or_optimizer
            optimizer = scheduler_or_optimizer.optimizer
        elif isinstance(scheduler_or_optimizer, Optimizer):
            self.scheduler, optimizer = None, scheduler_or_optimizer
        else:
            raise TypeError(
                f"{who}: scheduler_or_optimizer must be an LRScheduler or a "
                f"minigrad.optim.Optimizer, got {type(scheduler_or_optimizer).__name__}"
            )
        self.warmup_steps = positive_int(who, "warmup_steps", warmup_steps)
        if not 0 <= start_factor <= 1:
            raise ValueError(f"{who}: start_factor must be in [0, 1], got {start_factor!r}")
        if strategy not in ("linear", "cos"):
            raise ValueError(f"{who}: strategy must be 'linear' or 'cos', got {strategy!r}")
        self.start_factor, self.strategy, self.overlap = start_factor, strategy, overlap
        base_lrs = None if self.scheduler is None else self.scheduler.base_lrs
        super().__init__(optimizer, last_epoch, base_lrs=base_lrs)

    @property
    def stepping(self) -> str:  # type: ignore[override]
        return "epoch" if self.scheduler is None else self.scheduler.stepping

    def warmup_factor(self, t: float) -> float:
        """w(t): the multiplier of the warm-up at step ``t`` (1 from step W on)."""
        return warmup_factor(t, self.warmup_steps, self.start_factor, self.strategy)

    def _inner_step(self, t: float) -> float:
        return t if self.overlap else max(t - self.warmup_steps, 0)

    def lr_at(self, t, base_lr, group=0):
        inner = (base_lr if self.scheduler is None
                 else self.scheduler.lr_at(self._inner_step(t), base_lr, group))
        return self.warmup_factor(t) * inner

    def _step_to(self, t: float) -> None:
        self.last_epoch = t
        if self.scheduler is None:
            inner = self.base_lrs
        else:
            self.scheduler._step_to(self._inner_step(t))  # also cycles momentum where it does
            inner = self.scheduler.get_last_lr()
        w = self.warmup_factor(t)
        self._apply([w * lr for lr in inner])

    def _extra_state(self) -> dict[str, Any]:
        return {"scheduler": None if self.scheduler is None else self.scheduler.state_dict()}

    def check_state_dict(self, state_dict: Any) -> None:
        super().check_state_dict(state_dict)
        inner = state_dict["scheduler"]
        if (inner is None) != (self.scheduler is None):
            raise ValueError("WarmupLR.load_state_dict: the state_dict and this WarmupLR differ "
                             "in whether they wrap a scheduler")
        if inner is not None:
            self.scheduler.check_state_dict(inner)

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        if extra["scheduler"] is not None:
            self.scheduler.load_state_dict(extra["scheduler"])
