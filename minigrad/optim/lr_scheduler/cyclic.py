"""Cyclical schedules: CyclicLR and the 1cycle policy, which also cycle the momentum.

Both are stepped after every batch (``stepping = 'batch'``).

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017.
    Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large
    Learning Rates", 2018.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ..optimizer import Optimizer
from .base import (
    LRScheduler,
    check_optimizer,
    function_state,
    load_function_state,
    per_group,
    positive_int,
)

__all__ = ["CyclicLR", "OneCycleLR", "triangle", "anneal"]


# --------------------------------------------------------------------------- the formulas

def triangle(t: float, total_size: float, step_ratio: float) -> tuple[float, int]:
    """``(h, cycle)``: the height in [0, 1] of CyclicLR's triangle wave at step ``t``, and the
    cycle number (from 1); ``total_size`` is the cycle's length and ``step_ratio`` the rising
    fraction of it::

        cycle = floor(1 + t / total_size)
        x     = 1 + t / total_size - cycle            # position in the cycle, in [0, 1)
        h     = x / r if x <= r else (x - 1) / (r - 1)
    """
    cycle = math.floor(1 + t / total_size)
    x = 1.0 + t / total_size - cycle
    if x <= step_ratio:
        return x / step_ratio, cycle
    return (x - 1) / (step_ratio - 1), cycle


def anneal(start: float, end: float, pct: float, strategy: str) -> float:
    """OneCycleLR's move from ``start`` to ``end`` over a phase, ``pct`` of it done::

        cos:    end + (start - end) / 2 * (1 + cos(pi * pct))
        linear: start + (end - start) * pct
    """
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


# --------------------------------------------------------------------------- the classes

class _MomentumCycling(LRScheduler):
    """Shared by CyclicLR and OneCycleLR: cycle ``momentum`` (SGD, RMSprop) or ``betas[0]``
    (the Adam family) inversely to the learning rate, as ``momentum_at(t, group)`` says."""

    stepping = "batch"
    cycle_momentum: bool

    def _setup_momentum(self, who: str, optimizer: Optimizer, base_momentum: Any,
                        max_momentum: Any, fresh: bool) -> None:
        group0 = optimizer.param_groups[0] if optimizer.param_groups else {}
        defaults = getattr(optimizer, "defaults", {}) or {}
        if "betas" in group0 or "betas" in defaults:
            self.use_beta1 = True
        elif "momentum" in group0 or "momentum" in defaults:
            self.use_beta1 = False
        else:
            raise ValueError(
                f"{who}: cycle_momentum=True needs an optimizer with 'momentum' or 'betas', "
                f"{type(optimizer).__name__} has neither (pass cycle_momentum=False)"
            )
        self.base_momentums = per_group(who, "base_momentum", base_momentum, optimizer)
        self.max_momentums = per_group(who, "max_momentum", max_momentum, optimizer)
        if fresh:
            for group, b, m in zip(optimizer.param_groups, self.base_momentums,
                                   self.max_momentums):
                self._write_momentum(group, m)
                group["max_momentum"], group["base_momentum"] = m, b
        self._last_momentum = list(self.max_momentums)

    def _write_momentum(self, group: dict, momentum: float) -> None:
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def _apply_momentum(self, momenta: Sequence[float]) -> None:
        for group, m in zip(self.optimizer.param_groups, momenta):
            self._write_momentum(group, m)
        self._last_momentum = list(momenta)

    def get_last_momentum(self) -> list[float]:
        """The momenta (or beta1 values) the last step wrote, one per param group."""
        return list(self._last_momentum)

    def momentum_at(self, t: float, group: int = 0) -> float:
        """The momentum (or beta1) of param group ``group`` at step ``t``."""
        raise NotImplementedError(f"{type(self).__name__} does not define momentum_at")

    def _step_to(self, t: float) -> None:
        super()._step_to(t)
        if self.cycle_momentum:
            self._apply_momentum([self.momentum_at(t, i) for i in range(len(self.base_lrs))])

    def _restore_optimizer(self) -> None:
        super()._restore_optimizer()
        if self.cycle_momentum:
            self._apply_momentum(self._last_momentum)


class CyclicLR(_MomentumCycling):
    """Cyclical learning rate between ``base_lr`` and ``max_lr`` (step it after every batch).

    With ``S = step_size_up + step_size_down`` and ``r = step_size_up / S``::

        cycle = floor(1 + t / S)
        x     = 1 + t / S - cycle                       # position in the cycle, in [0, 1)
        h     = x / r if x <= r else (x - 1) / (r - 1)  # triangle height, in [0, 1]
        lr_t  = base_lr + (max_lr - base_lr) * h * scale_fn(cycle or t)
        momentum_t = max_momentum - (max_momentum - base_momentum) * h * scale_fn(cycle or t)

    with ``scale_fn(c) = 1`` (triangular), ``1 / 2**(c - 1)`` (triangular2), or
    ``gamma**t`` (exp_range, evaluated at the step count t).

    Args:
        optimizer: the optimizer (its ``lr`` is set to ``base_lr``).
        base_lr: lower learning rate, a float or one per param group.
        max_lr: upper learning rate, a float or one per param group.
        step_size_up: steps of the rising half (> 0).
        step_size_down: steps of the falling half (default: ``step_size_up``).
        mode: 'triangular', 'triangular2' or 'exp_range' (ignored when ``scale_fn`` is given).
        gamma: the factor of 'exp_range'.
        scale_fn: a custom amplitude function of the cycle number or the step count.
        scale_mode: 'cycle' or 'iterations': what ``scale_fn`` is evaluated at.
        cycle_momentum: cycle ``momentum`` (or Adam's ``betas[0]``) between
            ``max_momentum`` (at base_lr) and ``base_momentum`` (at max_lr).
        base_momentum: lower momentum, a float or one per param group.
        max_momentum: upper momentum, a float or one per param group.
        last_epoch: the step to resume from (-1: a fresh run).

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017.
    """

    _unsaved = ("optimizer", "scale_fn_custom")
    _MODES = ("triangular", "triangular2", "exp_range")

    def __init__(self, optimizer: Optimizer, base_lr: float | Sequence[float],
                 max_lr: float | Sequence[float], step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None,
                 scale_mode: str = "cycle", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.8,
                 max_momentum: float | Sequence[float] = 0.9, last_epoch: int = -1) -> None:
        who = "CyclicLR"
        check_optimizer(optimizer, who)
        base_lrs = per_group(who, "base_lr", base_lr, optimizer)
        self.max_lrs = per_group(who, "max_lr", max_lr, optimizer)
        if not step_size_up > 0:
            raise ValueError(f"{who}: step_size_up must be > 0, got {step_size_up!r}")
        if step_size_down is not None and not step_size_down > 0:
            raise ValueError(f"{who}: step_size_down must be > 0, got {step_size_down!r}")
        if scale_fn is None and mode not in self._MODES:
            raise ValueError(f"{who}: mode must be one of {self._MODES}, got {mode!r}")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"{who}: scale_fn must be callable, got {type(scale_fn).__name__}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(
                f"{who}: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}"
            )
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        self.mode, self.gamma = mode, gamma
        self.scale_fn_custom = scale_fn
        # the built-in modes fix what the amplitude is a function of (torch)
        self.scale_mode = scale_mode if scale_fn is not None else (
            "iterations" if mode == "exp_range" else "cycle")
        fresh = last_epoch == -1
        if fresh:
            for group, lr in zip(optimizer.param_groups, base_lrs):
                group["lr"] = lr
        self.cycle_momentum = cycle_momentum
        self.optimizer = optimizer
        if cycle_momentum:
            self._setup_momentum(who, optimizer, base_momentum, max_momentum, fresh)
        super().__init__(optimizer, last_epoch, base_lrs=base_lrs)

    def scale_fn(self, x: float) -> float:
        """The amplitude factor at cycle number (or step count) ``x``."""
        if self.scale_fn_custom is not None:
            return self.scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def _height(self, t: float) -> tuple[float, float]:
        """(h, scale): the triangle's height at step t in [0, 1] and the amplitude factor."""
        h, cycle = triangle(t, self.total_size, self.step_ratio)
        return h, self.scale_fn(cycle if self.scale_mode == "cycle" else t)

    def lr_at(self, t, base_lr, group=0):
        h, scale = self._height(t)
        return base_lr + (self.max_lrs[group] - base_lr) * h * scale

    def momentum_at(self, t: float, group: int = 0) -> float:
        """The momentum (or beta1) of param group ``group`` at step ``t``."""
        h, scale = self._height(t)
        m_max = self.max_momentums[group]
        return m_max - (m_max - self.base_momentums[group]) * h * scale


    def _extra_state(self) -> dict[str, Any]:
        return {"scale_fn_custom": function_state(self.scale_fn_custom)}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        load_function_state(self.scale_fn_custom, extra["scale_fn_custom"])


class OneCycleLR(_MomentumCycling):
    """The 1cycle policy (step it after every batch).

    The learning rate rises from ``initial_lr = max_lr / div_factor`` to ``max_lr`` during the
    first ``pct_start * total_steps - 1`` steps, then anneals to
    ``min_lr = initial_lr / final_div_factor`` at step ``total_steps - 1``; with ``three_phase``
    it first comes back down to ``initial_lr`` (symmetric to the rise) before annealing to
    ``min_lr``. Within a phase from step s0 to s1, with pct = (t - s0) / (s1 - s0)::

        anneal(a, b, pct) = b + (a - b) * (1 + cos(pi * pct)) / 2     # 'cos'
        anneal(a, b, pct) = a + (b - a) * pct                         # 'linear'

    Momentum (or Adam's beta1) moves the opposite way, between ``max_momentum`` and
    ``base_momentum``.

    Args:
        optimizer: the optimizer.
        max_lr: the peak learning rate, a float or one per param group.
        total_steps: the number of steps (or give ``epochs`` and ``steps_per_epoch``).
        epochs, steps_per_epoch: total_steps = epochs * steps_per_epoch.
        pct_start: the fraction of the steps spent rising, a float in [0, 1].
        anneal_strategy: 'cos' or 'linear'.
        cycle_momentum: whether to cycle momentum / beta1.
        base_momentum, max_momentum: the momentum range, floats or one per param group.
        div_factor: initial_lr = max_lr / div_factor.
        final_div_factor: min_lr = initial_lr / final_div_factor.
        three_phase: use the three-phase schedule of fast.ai.
        last_epoch: the step to resume from (-1: a fresh run).

    References:
        Smith & Topin, "Super-Convergence", 2018.
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85,
                 max_momentum: float | Sequence[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        who = "OneCycleLR"
        check_optimizer(optimizer, who)
        if total_steps is not None:
            self.total_steps = positive_int(who, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (positive_int(who, "epochs", epochs)
                                * positive_int(who, "steps_per_epoch", steps_per_epoch))
        else:
            raise ValueError(f"{who}: give total_steps, or epochs and steps_per_epoch")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"{who}: pct_start must be a float in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"{who}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        if not div_factor > 0:
            raise ValueError(f"{who}: div_factor must be > 0, got {div_factor!r}")
        if not final_div_factor > 0:
            raise ValueError(f"{who}: final_div_factor must be > 0, got {final_div_factor!r}")
        self.anneal_strategy = anneal_strategy
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        self.three_phase = three_phase
        up_end = float(pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        # (end step, lr from, lr to, momentum from, momentum to) of each phase
        if three_phase:
            self._phases = [(up_end, "initial", "max", "max", "base"),
                            (float(2 * pct_start * self.total_steps) - 2, "max", "initial",
                             "base", "max"),
                            (last, "initial", "min", "max", "max")]
        else:
            self._phases = [(up_end, "initial", "max", "max", "base"),
                            (last, "max", "min", "base", "max")]
        self.max_lrs = per_group(who, "max_lr", max_lr, optimizer)
        fresh = last_epoch == -1
        if fresh:
            for group, m in zip(optimizer.param_groups, self.max_lrs):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        self.optimizer = optimizer
        if cycle_momentum:
            self._setup_momentum(who, optimizer, base_momentum, max_momentum, fresh)
        super().__init__(optimizer, last_epoch)

    def _phase(self, t: float) -> tuple[tuple, float]:
        """The phase containing step t and the fraction of it done."""
        if t > self.total_steps:
            raise ValueError(
                f"OneCycleLR: stepped to {t}, past total_steps={self.total_steps}"
            )
        start = 0.0
        for k, phase in enumerate(self._phases):
            if t <= phase[0] or k == len(self._phases) - 1:
                return phase, (t - start) / (phase[0] - start)
            start = phase[0]
        raise AssertionError("unreachable")

    def lr_at(self, t, base_lr, group=0):
        (_, a, b, _, _), pct = self._phase(t)
        levels = {"initial": base_lr, "max": self.max_lrs[group],
                  "min": base_lr / self.final_div_factor}
        return anneal(levels[a], levels[b], pct, self.anneal_strategy)

    def momentum_at(self, t: float, group: int = 0) -> float:
        """The momentum (or beta1) of param group ``group`` at step ``t``."""
        (_, _, _, a, b), pct = self._phase(t)
        levels = {"base": self.base_momentums[group], "max": self.max_momentums[group]}
        return anneal(levels[a], levels[b], pct, self.anneal_strategy)

