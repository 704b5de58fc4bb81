"""Learning-rate schedulers.

The classes, arguments, defaults and learning-rate sequences follow ``torch.optim.lr_scheduler``
(the tests compare every scheduler with sequences torch generated), plus three schedules from
the lecture slides that torch lacks: :class:`InverseTimeLR`, :class:`ExponentialDecay` and
:class:`WarmupLR`.

**One formula per scheduler.** Each scheduler writes its formula once, as a closed form of the
step count: ``lr_at(t, base_lr, group)`` is the learning rate of param group ``group`` after
``t`` calls of ``step()``, starting from ``base_lr`` (the group's ``initial_lr``). ``step()``
advances ``last_epoch`` and writes ``lr_at(last_epoch, ...)`` into every param group. Torch
computes several of these recursively (``lr *= gamma``); the closed forms give the same values
to float round-off, and make ``step(epoch)``, resuming and composition exact.

Usage (as torch)::

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train(...)              # optimizer.step() for every batch
        scheduler.step()        # once per epoch (per batch for CyclicLR / OneCycleLR)

Conventions shared by every scheduler:

* Constructing a scheduler performs the initial step: ``last_epoch`` becomes 0 and every group's
  ``lr`` becomes ``lr_at(0, base_lr)``; the group gets an ``initial_lr`` key (the ``base_lr``)
  if it has none. ``last_epoch=k`` resumes (the groups must then have ``initial_lr``).
* ``get_last_lr()`` returns the learning rates the last step wrote.
* ``state_dict()`` holds plain values (no optimizer, no functions);
  ``load_state_dict(sd)`` restores them *and* writes the saved learning rates (and cycled
  momenta) back into the optimizer, so a resumed run continues the identical sequence even if
  the optimizer's own state was not reloaded.
* Schedules compose explicitly, through :class:`ChainedScheduler` (factors multiply),
  :class:`SequentialLR` (one after another) or :class:`WarmupLR`. Unlike torch, two schedulers
  stepped side by side on one optimizer do *not* compose: the last one stepped sets the lr.

References:
    PyTorch, ``torch.optim.lr_scheduler`` (v2.x documentation and source).
    Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017.
    Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large
    Learning Rates", 2018.
    Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017 (warm-up).
"""

from __future__ import annotations

import copy
import math
import types
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .optimizer import Optimizer

__all__ = [
    "LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
    "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR", "ReduceLROnPlateau",
    "SequentialLR", "ChainedScheduler", "InverseTimeLR", "ExponentialDecay", "WarmupLR",
]


# --------------------------------------------------------------------------- argument checks

def _check_optimizer(optimizer: Any, who: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{who}: optimizer must be a minigrad.optim.Optimizer, got "
            f"{type(optimizer).__name__}"
        )


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _positive_int(who: str, name: str, value: Any) -> int:
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")
    return value


def _nonneg_int(who: str, name: str, value: Any) -> int:
    if not _is_int(value) or value < 0:
        raise ValueError(f"{who}: {name} must be a non-negative integer, got {value!r}")
    return value


def _per_group(who: str, name: str, value: Any, optimizer: Optimizer) -> list:
    """A scalar broadcast to every param group, or a list with one value per group."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{who}: {name} must have one value per param group ({n}), got {len(value)}"
            )
        return list(value)
    return [value] * n


def _callables(who: str, name: str, fns: Any, optimizer: Optimizer) -> list[Callable]:
    fns = _per_group(who, name, fns, optimizer)
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"{who}: {name} must be callable, got {type(fn).__name__}")
    return fns


def _functions_state(fns: list[Callable]) -> list[dict | None]:
    """torch's convention: a plain function is not saved; a callable object saves its __dict__."""
    return [None if isinstance(fn, types.FunctionType) else dict(vars(fn))
            if hasattr(fn, "__dict__") else None for fn in fns]


# --------------------------------------------------------------------------- the base class

class LRScheduler:
    """Base class: owns the step counter and writes ``lr_at(t, base_lr, group)`` into the
    optimizer's param groups.

    Subclasses implement :meth:`lr_at` (the formula) and validate their arguments before
    calling ``super().__init__``.

    Attributes:
        optimizer: the wrapped optimizer.
        base_lrs: each param group's starting learning rate (its ``initial_lr``).
        last_epoch: how many times ``step()`` has been called since the initial step (0 after
            construction).
    """

    #: :func:`minigrad.train.fit` steps a scheduler with ``step_per_batch`` after every batch.
    step_per_batch: bool = False
    # attributes state_dict leaves out: the optimizer and anything that is code, not state
    _unsaved: tuple[str, ...] = ("optimizer",)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1, *,
                 base_lrs: Sequence[float] | None = None) -> None:
        _check_optimizer(optimizer, type(self).__name__)
        if not _is_int(last_epoch) or last_epoch < -1:
            raise ValueError(
                f"{type(self).__name__}: last_epoch must be an integer >= -1, got {last_epoch!r}"
            )
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr'; resuming "
                        f"with last_epoch={last_epoch} needs the optimizer state of the run "
                        f"being resumed (or pass last_epoch=-1 for a fresh run)"
                    )
        self.base_lrs: list[float] = (
            [g["initial_lr"] for g in optimizer.param_groups] if base_lrs is None
            else list(base_lrs)
        )
        self.last_epoch = last_epoch
        self._step_count = 0
        self._last_lr: list[float] = []
        self.step()

    # -- the formula -----------------------------------------------------------------------
    def lr_at(self, t: float, base_lr: float, group: int = 0) -> float:
        """The learning rate of param group ``group`` after ``t`` steps, from ``base_lr``."""
        raise NotImplementedError(f"{type(self).__name__} does not define lr_at")

    # -- stepping --------------------------------------------------------------------------
    def get_lr(self) -> list[float]:
        """The learning rates for the current ``last_epoch`` (use :meth:`get_last_lr` to read
        the ones in effect)."""
        return [self.lr_at(self.last_epoch, base_lr, i)
                for i, base_lr in enumerate(self.base_lrs)]

    def step(self, epoch: float | None = None) -> None:
        """Advance one step (or jump to ``epoch``) and write the new learning rates.

        Args:
            epoch: the step count to jump to; every scheduler here is a closed form, so a jump
                gives the same learning rate as stepping there one by one.
        """
        self._step_count += 1
        self._step_to(self.last_epoch + 1 if epoch is None else epoch)

    def _step_to(self, t: float) -> None:
        self.last_epoch = t
        self._apply(self.get_lr())

    def _apply(self, lrs: Sequence[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list[float]:
        """The learning rates the last step wrote, one per param group."""
        return list(self._last_lr)

    # -- checkpointing ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer and functions, as plain (deep-copied) values."""
        return {k: copy.deepcopy(v) for k, v in vars(self).items() if k not in self._unsaved}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` and write its learning rates into the optimizer."""
        if not isinstance(state_dict, dict):
            raise TypeError(
                f"{type(self).__name__}.load_state_dict expects a dict, got "
                f"{type(state_dict).__name__}"
            )
        self.__dict__.update(copy.deepcopy(state_dict))
        self._restore_optimizer()

    def _restore_optimizer(self) -> None:
        if len(self._last_lr) == len(self.optimizer.param_groups):
            for group, lr in zip(self.optimizer.param_groups, self._last_lr):
                group["lr"] = lr

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


class _LambdaStateMixin:
    """state_dict handling for schedulers holding user functions ``lr_lambdas`` (as torch)."""

    _unsaved = ("optimizer", "lr_lambdas")

    def state_dict(self) -> dict[str, Any]:
        state = LRScheduler.state_dict(self)
        state["lr_lambdas"] = _functions_state(self.lr_lambdas)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        fn_states = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        LRScheduler.load_state_dict(self, state)
        for fn, fn_state in zip(self.lr_lambdas, fn_states):
            if fn_state is not None:
                vars(fn).update(copy.deepcopy(fn_state))


# --------------------------------------------------------------------------- multiplicative

class LambdaLR(_LambdaStateMixin, LRScheduler):
    """lr_t = base_lr * lr_lambda(t).

    Args:
        optimizer: the optimizer.
        lr_lambda: a function of the step count, or a list with one per param group.
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]
                 | Sequence[Callable[[int], float]], last_epoch: int = -1) -> None:
        _check_optimizer(optimizer, "LambdaLR")
        self.lr_lambdas = _callables("LambdaLR", "lr_lambda", lr_lambda, optimizer)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return base_lr * self.lr_lambdas[group](t)


class MultiplicativeLR(_LambdaStateMixin, LRScheduler):
    """lr_t = base_lr * prod_{k=1..t} lr_lambda(k)   (torch: lr_t = lr_{t-1} * lr_lambda(t)).

    The running product is cached, so stepping costs one call of ``lr_lambda`` per step; a jump
    backwards recomputes it from k = 1.

    Args:
        optimizer: the optimizer.
        lr_lambda: the factor applied at step k, or a list with one function per param group.
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]
                 | Sequence[Callable[[int], float]], last_epoch: int = -1) -> None:
        _check_optimizer(optimizer, "MultiplicativeLR")
        self.lr_lambdas = _callables("MultiplicativeLR", "lr_lambda", lr_lambda, optimizer)
        # per group: (k, base_lr * prod_{j<=k} lr_lambda(j)), multiplied in torch's order
        self._products: list[tuple[int, float, float]] = [(0, math.nan, math.nan)] * len(
            self.lr_lambdas)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        t = int(t)
        k, base, lr = self._products[group]
        if base != base_lr or k > t:
            k, lr = 0, base_lr
        for j in range(k + 1, t + 1):
            lr = lr * self.lr_lambdas[group](j)
        self._products[group] = (t, base_lr, lr)
        return lr


class StepLR(LRScheduler):
    """lr_t = base_lr * gamma ** floor(t / step_size).

    Args:
        optimizer: the optimizer.
        step_size: steps between two decays (a positive integer).
        gamma: the decay factor (> 0).
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size = _positive_int("StepLR", "step_size", step_size)
        if not gamma > 0:
            raise ValueError(f"StepLR: gamma must be > 0, got {gamma!r}")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return base_lr * self.gamma ** (t // self.step_size)


class MultiStepLR(LRScheduler):
    """lr_t = base_lr * gamma ** (number of milestones <= t); a repeated milestone counts twice.

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
            _nonneg_int("MultiStepLR", "milestones", m)
        if not gamma > 0:
            raise ValueError(f"MultiStepLR: gamma must be > 0, got {gamma!r}")
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return base_lr * self.gamma ** bisect_right(sorted(self.milestones.elements()), t)


class ConstantLR(LRScheduler):
    """lr_t = base_lr * factor for t < total_iters, base_lr afterwards.

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
        self.total_iters = _nonneg_int("ConstantLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return base_lr * (self.factor + (t >= self.total_iters) * (1 - self.factor))


class LinearLR(LRScheduler):
    """lr_t = base_lr * (start_factor + (end_factor - start_factor) * min(t, T) / T),
    T = total_iters.

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
        self.total_iters = _positive_int("LinearLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        ramp = min(self.total_iters, t) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * ramp)


class ExponentialLR(LRScheduler):
    """lr_t = base_lr * gamma ** t.

    This is the slides' exponential decay lr0 * e^(-k t) with gamma = e^(-k); see
    :class:`ExponentialDecay` for that parametrisation.

    Args:
        optimizer: the optimizer.
        gamma: the factor per step (> 0).
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        if not gamma > 0:
            raise ValueError(f"ExponentialLR: gamma must be > 0, got {gamma!r}")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return base_lr * self.gamma ** t


class PolynomialLR(LRScheduler):
    """lr_t = base_lr * (1 - min(t, T) / T) ** power, T = total_iters.

    Args:
        optimizer: the optimizer.
        total_iters: steps until the learning rate reaches 0 (a positive integer).
        power: the polynomial's power (>= 0; 1 is a linear decay).
        last_epoch: the step to resume from (-1: a fresh run).
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        self.total_iters = _positive_int("PolynomialLR", "total_iters", total_iters)
        if not power >= 0:
            raise ValueError(f"PolynomialLR: power must be >= 0, got {power!r}")
        self.power = power
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr, group=0):
        return base_lr * (1.0 - min(self.total_iters, t) / self.total_iters) ** self.power


class InverseTimeLR(LRScheduler):
    """lr_t = base_lr / (1 + decay * t) ** power.

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
        return base_lr / (1 + self.decay * t) ** self.power


class ExponentialDecay(LRScheduler):
    """lr_t = base_lr * e^(-k t), the slides' exponential decay.

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
        return base_lr * math.exp(-self.k * t)


# --------------------------------------------------------------------------- cosine

def _cosine(eta_min: float, eta_max: float, t_cur: float, t_period: float) -> float:
    """eta_min + (eta_max - eta_min) * (1 + cos(pi * t_cur / t_period)) / 2 (SGDR, eq. 5)."""
    return eta_min + (eta_max - eta_min) * (1 + math.cos(math.pi * t_cur / t_period)) / 2


class CosineAnnealingLR(LRScheduler):
    """lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2.

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
        return _cosine(self.eta_min, base_lr, t, self.T_max)


class CosineAnnealingWarmRestarts(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2, where the
    i-th period lasts T_i = T_0 * T_mult**i steps and T_cur is the (possibly fractional) step
    count since the last restart.

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
        self.T_0 = _positive_int("CosineAnnealingWarmRestarts", "T_0", T_0)
        if not _is_int(T_mult) or T_mult < 1:
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
        if t < self.T_0:
            return t, self.T_0
        if self.T_mult == 1:
            return t % self.T_0, self.T_0
        t_cur, t_i = t, self.T_0
        while t_cur >= t_i:  # exact: only integers are subtracted
            t_cur, t_i = t_cur - t_i, t_i * self.T_mult
        return t_cur, t_i

    def lr_at(self, t, base_lr, group=0):
        t_cur, t_i = self.period(t)
        return _cosine(self.eta_min, base_lr, t_cur, t_i)

    def step(self, epoch: float | None = None) -> None:
        """Advance by 1 or jump to ``epoch`` (fractional allowed, >= 0)."""
        if epoch is not None and not epoch >= 0:
            raise ValueError(
                f"CosineAnnealingWarmRestarts: epoch must be non-negative, got {epoch!r}"
            )
        self._step_count += 1
        self._step_to(max(self._epoch + 1, 0) if epoch is None else epoch)

    def _step_to(self, t: float) -> None:
        self._epoch = t
        self.last_epoch = math.floor(t)
        self.T_cur, self.T_i = self.period(t)
        self._apply([self.lr_at(t, b, i) for i, b in enumerate(self.base_lrs)])


# --------------------------------------------------------------------------- cyclic

class _MomentumCycling:
    """Shared by CyclicLR and OneCycleLR: cycle ``momentum`` (SGD, RMSprop) or ``betas[0]``
    (the Adam family) inversely to the learning rate."""

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
        self.base_momentums = _per_group(who, "base_momentum", base_momentum, optimizer)
        self.max_momentums = _per_group(who, "max_momentum", max_momentum, optimizer)
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

    def _restore_optimizer(self) -> None:
        LRScheduler._restore_optimizer(self)
        if self.cycle_momentum:
            self._apply_momentum(self._last_momentum)


class CyclicLR(_MomentumCycling, LRScheduler):
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

    step_per_batch = True
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
        _check_optimizer(optimizer, who)
        base_lrs = _per_group(who, "base_lr", base_lr, optimizer)
        self.max_lrs = _per_group(who, "max_lr", max_lr, optimizer)
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
        cycle = math.floor(1 + t / self.total_size)
        x = 1.0 + t / self.total_size - cycle
        if x <= self.step_ratio:
            h = x / self.step_ratio
        else:
            h = (x - 1) / (self.step_ratio - 1)
        return h, self.scale_fn(cycle if self.scale_mode == "cycle" else t)

    def lr_at(self, t, base_lr, group=0):
        h, scale = self._height(t)
        return base_lr + (self.max_lrs[group] - base_lr) * h * scale

    def momentum_at(self, t: float, group: int = 0) -> float:
        """The momentum (or beta1) of param group ``group`` at step ``t``."""
        h, scale = self._height(t)
        m_max = self.max_momentums[group]
        return m_max - (m_max - self.base_momentums[group]) * h * scale

    def _step_to(self, t: float) -> None:
        LRScheduler._step_to(self, t)
        if self.cycle_momentum:
            self._apply_momentum([self.momentum_at(t, i) for i in range(len(self.base_lrs))])

    def state_dict(self) -> dict[str, Any]:
        state = LRScheduler.state_dict(self)
        fn = self.scale_fn_custom
        state["scale_fn_custom"] = (None if fn is None or isinstance(fn, types.FunctionType)
                                    else dict(vars(fn)) if hasattr(fn, "__dict__") else None)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        fn_state = state.pop("scale_fn_custom", None)
        LRScheduler.load_state_dict(self, state)
        if fn_state is not None and self.scale_fn_custom is not None:
            vars(self.scale_fn_custom).update(copy.deepcopy(fn_state))


class OneCycleLR(_MomentumCycling, LRScheduler):
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

    step_per_batch = True

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85,
                 max_momentum: float | Sequence[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        who = "OneCycleLR"
        _check_optimizer(optimizer, who)
        if total_steps is not None:
            self.total_steps = _positive_int(who, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_positive_int(who, "epochs", epochs)
                                * _positive_int(who, "steps_per_epoch", steps_per_epoch))
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
        self.max_lrs = _per_group(who, "max_lr", max_lr, optimizer)
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

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

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
        return self._anneal(levels[a], levels[b], pct)

    def momentum_at(self, t: float, group: int = 0) -> float:
        """The momentum (or beta1) of param group ``group`` at step ``t``."""
        (_, _, _, a, b), pct = self._phase(t)
        levels = {"base": self.base_momentums[group], "max": self.max_momentums[group]}
        return self._anneal(levels[a], levels[b], pct)

    def _step_to(self, t: float) -> None:
        LRScheduler._step_to(self, t)
        if self.cycle_momentum:
            self._apply_momentum([self.momentum_at(t, i) for i in range(len(self.base_lrs))])


# --------------------------------------------------------------------------- plateau

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
    current ``lr``.

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

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | Sequence[float] = 0,
                 eps: float = 1e-8) -> None:
        who = "ReduceLROnPlateau"
        _check_optimizer(optimizer, who)
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
        self.optimizer = optimizer
        self.mode, self.factor = mode, factor
        self.patience = _nonneg_int(who, "patience", patience)
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown = _nonneg_int(who, "cooldown", cooldown)
        self.min_lrs = [float(m) for m in _per_group(who, "min_lr", min_lr, optimizer)]
        self.eps = eps
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

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


# --------------------------------------------------------------------------- composition

def _check_parts(who: str, schedulers: Sequence[LRScheduler], optimizer: Optimizer) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{who}: schedulers must hold at least one scheduler, got none")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(
                f"{who}: schedulers[{i}] must be an LRScheduler, got {type(s).__name__}"
            )
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(
                f"{who}: schedulers[{i}] is a ReduceLROnPlateau, which needs a metric in "
                f"step() and cannot be composed"
            )
        if s.optimizer is not optimizer:
            raise ValueError(
                f"{who}: schedulers[{i}] ({type(s).__name__}) wraps a different optimizer"
            )


class _CompositeScheduler(LRScheduler):
    """A scheduler made of others (``self._schedulers``): checkpoints include theirs."""

    _schedulers: list[LRScheduler]

    def state_dict(self) -> dict[str, Any]:
        state = LRScheduler.state_dict(self)
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        parts = state.pop("_schedulers")
        for s, sd in zip(self._schedulers, parts):
            s.load_state_dict(sd)
        LRScheduler.load_state_dict(self, state)


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

    _unsaved = ("optimizer", "_schedulers")

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        who = "SequentialLR"
        _check_optimizer(optimizer, who)
        _check_parts(who, schedulers, optimizer)
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"{who}: milestones must have one entry fewer than schedulers "
                f"({len(schedulers)}), got {len(milestones)}"
            )
        for m in milestones:
            _nonneg_int(who, "milestones", m)
        if any(a > b for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"{who}: milestones must be increasing, got {milestones}")
        self._schedulers = list(schedulers)
        self._milestones = milestones
        super().__init__(optimizer, last_epoch)

    @property
    def step_per_batch(self) -> bool:  # type: ignore[override]
        return any(s.step_per_batch for s in self._schedulers)

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

    _unsaved = ("optimizer", "_schedulers")

    def __init__(self, schedulers: Sequence[LRScheduler],
                 optimizer: Optimizer | None = None) -> None:
        who = "ChainedScheduler"
        if len(schedulers) < 1:
            raise ValueError(f"{who}: schedulers must hold at least one scheduler, got none")
        optimizer = schedulers[0].optimizer if optimizer is None else optimizer
        _check_optimizer(optimizer, who)
        _check_parts(who, schedulers, optimizer)
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self.base_lrs = [g.get("initial_lr", g["lr"]) for g in optimizer.param_groups]
        self.last_epoch = 0
        self._step_count = 1
        self._apply(self._product([s.get_last_lr() for s in self._schedulers]))

    @property
    def step_per_batch(self) -> bool:  # type: ignore[override]
        return any(s.step_per_batch for s in self._schedulers)

    def _product(self, lrs_per_scheduler: list[list[float]]) -> list[float]:
        """base_lr * prod_j (lr_j / base_lr_j) for every param group."""
        return [self._chain(base_lr, [(lrs[i], s.base_lrs[i]) for s, lrs in
                                      zip(self._schedulers, lrs_per_scheduler)])
                for i, base_lr in enumerate(self.base_lrs)]

    @staticmethod
    def _chain(base_lr: float, parts: list[tuple[float, float]]) -> float:
        lr = base_lr
        for lr_j, base_j in parts:
            lr = lr * lr_j / base_j if base_j != 0 else 0.0
        return lr

    def lr_at(self, t, base_lr, group=0):
        return self._chain(base_lr, [(s.lr_at(t, s.base_lrs[group], group), s.base_lrs[group])
                                     for s in self._schedulers])

    def step(self, epoch: float | None = None) -> None:
        """Step every chained scheduler, then write the product of their factors."""
        if epoch is not None:
            raise TypeError("ChainedScheduler.step() takes no epoch; step the parts instead")
        self._step_count += 1
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
            _check_parts(who, [scheduler_or_optimizer], scheduler_or_optimizer.optimizer)
            self.scheduler: LRScheduler | None = scheduler_or_optimizer
            optimizer = scheduler_or_optimizer.optimizer
        elif isinstance(scheduler_or_optimizer, Optimizer):
            self.scheduler, optimizer = None, scheduler_or_optimizer
        else:
            raise TypeError(
                f"{who}: scheduler_or_optimizer must be an LRScheduler or a "
                f"minigrad.optim.Optimizer, got {type(scheduler_or_optimizer).__name__}"
            )
        self.warmup_steps = _positive_int(who, "warmup_steps", warmup_steps)
        if not 0 <= start_factor <= 1:
            raise ValueError(f"{who}: start_factor must be in [0, 1], got {start_factor!r}")
        if strategy not in ("linear", "cos"):
            raise ValueError(f"{who}: strategy must be 'linear' or 'cos', got {strategy!r}")
        self.start_factor, self.strategy, self.overlap = start_factor, strategy, overlap
        base_lrs = None if self.scheduler is None else self.scheduler.base_lrs
        super().__init__(optimizer, last_epoch, base_lrs=base_lrs)

    @property
    def step_per_batch(self) -> bool:  # type: ignore[override]
        return self.scheduler is not None and self.scheduler.step_per_batch

    def warmup_factor(self, t: float) -> float:
        """w(t): the multiplier of the warm-up at step ``t`` (1 from step W on)."""
        ramp = min(t, self.warmup_steps) / self.warmup_steps
        if self.strategy == "cos":
            ramp = (1 - math.cos(math.pi * ramp)) / 2
        return self.start_factor + (1 - self.start_factor) * ramp

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

    def state_dict(self) -> dict[str, Any]:
        state = LRScheduler.state_dict(self)
        state["scheduler"] = None if self.scheduler is None else self.scheduler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        inner = state.pop("scheduler", None)
        if inner is not None and self.scheduler is not None:
            self.scheduler.load_state_dict(inner)
        LRScheduler.load_state_dict(self, state)
