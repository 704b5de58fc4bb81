"""The scheduler base class and the argument checks every scheduler shares.

A scheduler owns a step counter ``last_epoch`` and writes ``lr_at(t, base_lr, group)`` into the
optimizer's param groups. ``lr_at`` calls the schedule's pure function of the step count
(defined beside its class, with the formula in its docstring).

References:
    PyTorch, ``torch.optim.lr_scheduler.LRScheduler`` (v2.x documentation and source).
"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable, Sequence
from typing import Any

from ...recording import replay_overrides_whole, replayed_whole
from ..optimizer import Optimizer

__all__ = ["LRScheduler", "STEPPINGS"]

#: The ways a scheduler asks to be stepped (its ``stepping`` class attribute): after every
#: optimizer step, once per epoch, or once per epoch with a metric.
STEPPINGS = ("batch", "epoch", "metric")


# --------------------------------------------------------------------------- argument checks

def check_optimizer(optimizer: Any, who: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{who}: optimizer must be a minigrad.optim.Optimizer, got "
            f"{type(optimizer).__name__}"
        )


def is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def positive_int(who: str, name: str, value: Any) -> int:
    if not is_int(value) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")
    return value


def nonneg_int(who: str, name: str, value: Any) -> int:
    if not is_int(value) or value < 0:
        raise ValueError(f"{who}: {name} must be a non-negative integer, got {value!r}")
    return value


def per_group(who: str, name: str, value: Any, optimizer: Optimizer) -> list:
    """A scalar broadcast to every param group, or a list with one value per group."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{who}: {name} must have one value per param group ({n}), got {len(value)}"
            )
        return list(value)
    return [value] * n


def callables(who: str, name: str, fns: Any, optimizer: Optimizer) -> list[Callable]:
    fns = per_group(who, name, fns, optimizer)
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"{who}: {name} must be callable, got {type(fn).__name__}")
    return fns


def function_state(fn: Callable | None) -> dict | None:
    """torch's convention: a plain function is not saved; a callable object saves its __dict__."""
    if fn is None or isinstance(fn, types.FunctionType) or not hasattr(fn, "__dict__"):
        return None
    return dict(vars(fn))


def load_function_state(fn: Callable | None, state: dict | None) -> None:
    """Restore what :func:`function_state` saved into the callable object ``fn``."""
    if state is not None and fn is not None:
        vars(fn).update(copy.deepcopy(state))


# --------------------------------------------------------------------------- the base class

class LRScheduler:
    """Base class: owns the step counter and writes ``lr_at(t, base_lr, group)`` into the
    optimizer's param groups.

    Subclasses implement :meth:`lr_at` (by calling their schedule's pure function) and validate
    their arguments before calling ``super().__init__``.

    Attributes:
        optimizer: the wrapped optimizer.
        base_lrs: each param group's starting learning rate (its ``initial_lr``).
        last_epoch: how many times ``step()`` has been called since the initial step (0 after
            construction).
        stepping: how the scheduler wants to be stepped, one of :data:`STEPPINGS`; read by
            :func:`minigrad.train.fit` (class attribute; 'epoch' unless a subclass says so).
    """

    stepping: str = "epoch"
    # attributes state_dict does not save as plain values: the optimizer, and what subclasses
    # save in their own way (functions, inner schedulers) through _extra_state
    _unsaved: tuple[str, ...] = ("optimizer",)

    def __init_subclass__(cls, **kwargs):
        # minigrad.jit replays a subclass's own step whole (see recording.py)
        super().__init_subclass__(**kwargs)
        replay_overrides_whole(cls, ("step",))

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1, *,
                 base_lrs: Sequence[float] | None = None) -> None:
        who = type(self).__name__
        check_optimizer(optimizer, who)
        if not is_int(last_epoch) or last_epoch < -1:
            raise ValueError(f"{who}: last_epoch must be an integer >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{who}: param_groups[{i}] has no 'initial_lr'; resuming "
                        f"with last_epoch={last_epoch} needs the optimizer state of the run "
                        f"being resumed (or pass last_epoch=-1 for a fresh run)"
                    )
        self.base_lrs: list[float] = (
            [g["initial_lr"] for g in optimizer.param_groups] if base_lrs is None
            else list(base_lrs)
        )
        self.last_epoch = last_epoch
        self._last_lr: list[float] = [g["lr"] for g in optimizer.param_groups]
        self._initial_step()

    def _initial_step(self) -> None:
        """Construction performs the first step, as torch's: ``last_epoch`` becomes 0."""
        self.step()

    @property
    def step_per_batch(self) -> bool:
        """``stepping == 'batch'`` (the name fit used before ``stepping``)."""
        return self.stepping == "batch"

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

    @replayed_whole
    def step(self, epoch: float | None = None) -> None:
        """Advance one step (or jump to ``epoch``) and write the new learning rates.

        Args:
            epoch: the step count to jump to; every scheduler here is a closed form, so a jump
                gives the same learning rate as stepping there one by one.
        """
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
        """Every attribute except the optimizer, as plain (deep-copied) values, plus what
        :meth:`_extra_state` adds, under the key ``'_class'`` the scheduler's class name."""
        state = {k: copy.deepcopy(v) for k, v in vars(self).items() if k not in self._unsaved}
        state.update(self._extra_state())
        state["_class"] = type(self).__name__
        return state

    def _extra_state(self) -> dict[str, Any]:
        """The saved form of the attributes in ``_unsaved`` other than the optimizer."""
        return {}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        """Restore what :meth:`_extra_state` saved."""

    def check_state_dict(self, state_dict: Any) -> None:
        """Raise unless ``state_dict`` is a state of this scheduler's class (nothing changes).

        Raises:
            TypeError: not a dict, or the state of another scheduler class.
            ValueError: the saved attributes are not this scheduler's.
        """
        who = type(self).__name__
        if not isinstance(state_dict, dict):
            raise TypeError(f"{who}.load_state_dict expects a dict, got "
                            f"{type(state_dict).__name__}")
        saved_class = state_dict.get("_class", who)
        if saved_class != who:
            raise TypeError(f"{who}.load_state_dict: got the state_dict of a {saved_class}; "
                            f"a {who} can only load a {who}'s")
        expected = {k for k in vars(self) if k not in self._unsaved}
        expected |= set(self._extra_state())
        got = set(state_dict) - {"_class"}
        if got != expected:
            raise ValueError(
                f"{who}.load_state_dict: the state_dict is not a {who}'s: it lacks "
                f"{sorted(expected - got)} and has unexpected {sorted(got - expected)}"
            )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` and write its learning rates into the optimizer.

        The state is checked first (:meth:`check_state_dict`), so a state of another scheduler
        class raises and changes nothing.
        """
        self.check_state_dict(state_dict)
        extra_keys = set(self._extra_state())
        self.__dict__.update(copy.deepcopy(
            {k: v for k, v in state_dict.items() if k != "_class" and k not in extra_keys}))
        self._load_extra_state({k: state_dict[k] for k in extra_keys})
        self._restore_optimizer()

    def _restore_optimizer(self) -> None:
        if len(self._last_lr) == len(self.optimizer.param_groups):
            for group, lr in zip(self.optimizer.param_groups, self._last_lr):
                group["lr"] = lr

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"
