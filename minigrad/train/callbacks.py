"""Callbacks: hooks :func:`minigrad.train.fit` calls at the start and end of training, of each
epoch and (only for callbacks that override it) of each batch.

A callback sees a :class:`TrainState` (model, optimizer, scheduler, loaders, history, the
current epoch) and may end training by setting ``state.stop_training = True``.

An early-stopping object with ``step(metric, model) -> bool`` and a ``monitor`` attribute (as
:class:`minigrad.train.EarlyStopping`) can be passed to ``fit(callbacks=...)`` directly: fit
wraps it in :class:`EarlyStoppingCallback`. :class:`Checkpoint` callbacks run after all
others, so what they save includes the epoch's early-stopping and scheduler updates.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .checkpoint import save_checkpoint
from .ddp import on_main_then_wait


@dataclass
class TrainState:
    """What callbacks see during :func:`fit`."""

    model: Any
    optimizer: Any
    scheduler: Any = None
    train_loader: Any = None
    val_loader: Any = None
    history: Any = None
    callbacks: list = field(default_factory=list)
    epoch: int = 0  # the current (1-based) epoch; the last finished one in on_epoch_end
    epochs: int = 0
    stop_training: bool = False
    stop_reason: str | None = None

    def stop(self, reason: str) -> None:
        """End training after this epoch, recording why."""
        self.stop_training = True
        self.stop_reason = reason

    @property
    def early_stopping(self):
        """The first early-stopping object among the callbacks, or None."""
        for cb in self.callbacks:
            if isinstance(cb, EarlyStoppingCallback):
                return cb.early_stopping
        return None


class Callback:
    """Base class; override the hooks you need."""

    def on_train_begin(self, state: TrainState) -> None:
        """Before the first epoch."""

    def on_epoch_begin(self, state: TrainState) -> None:
        """Before an epoch's first batch (``state.epoch`` is that epoch)."""

    def on_batch_end(self, state: TrainState, batch: int, loss: float) -> None:
        """After a training batch's update; only called when a subclass overrides it."""

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        """After an epoch's validation, scheduler step and History update."""

    def on_train_end(self, state: TrainState) -> None:
        """After the last epoch (also when stopped early)."""

    def _wants_batches(self) -> bool:
        return type(self).on_batch_end is not Callback.on_batch_end


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda s, logs: ...)``.
    """

    def __init__(self, on_train_begin: Callable | None = None,
                 on_epoch_begin: Callable | None = None, on_batch_end: Callable | None = None,
                 on_epoch_end: Callable | None = None, on_train_end: Callable | None = None):
        self._fns = {"on_train_begin": on_train_begin, "on_epoch_begin": on_epoch_begin,
                     "on_batch_end": on_batch_end, "on_epoch_end": on_epoch_end,
                     "on_train_end": on_train_end}

    def on_train_begin(self, state):
        if self._fns["on_train_begin"]:
            self._fns["on_train_begin"](state)

    def on_epoch_begin(self, state):
        if self._fns["on_epoch_begin"]:
            self._fns["on_epoch_begin"](state)

    def on_batch_end(self, state, batch, loss):
        self._fns["on_batch_end"](state, batch, loss)

    def on_epoch_end(self, state, logs):
        if self._fns["on_epoch_end"]:
            self._fns["on_epoch_end"](state, logs)

    def on_train_end(self, state):
        if self._fns["on_train_end"]:
            self._fns["on_train_end"](state)

    def _wants_batches(self) -> bool:
        return self._fns["on_batch_end"] is not None


def is_early_stopping(obj) -> bool:
    """Whether ``obj`` looks like an early-stopping object (``step(metric, model)``,
    ``monitor``)."""
    return (not isinstance(obj, Callback) and callable(getattr(obj, "step", None))
            and hasattr(obj, "monitor"))


class EarlyStoppingCallback(Callback):
    """Steps an early-stopping object on ``logs[monitor]`` after each epoch and stops training
    when it says so (it restores the best weights itself if asked to)."""

    def __init__(self, early_stopping):
        if not is_early_stopping(early_stopping):
            raise TypeError(
                "EarlyStoppingCallback needs an object with step(metric, model) and a monitor "
                f"attribute, got {type(early_stopping).__name__}"
            )
        self.early_stopping = early_stopping

    @property
    def monitor(self) -> str:
        return self.early_stopping.monitor or "val_loss"

    def on_train_begin(self, state):
        if self.monitor.startswith("val_") and state.val_loader is None:
            raise ValueError(
                f"early stopping monitors {self.monitor!r}, but fit got no val_loader; pass one "
                f"or monitor a training quantity (e.g. monitor='loss')"
            )

    def on_epoch_end(self, state, logs):
        if self.monitor not in logs:
            raise ValueError(
                f"early stopping monitors {self.monitor!r}, which fit does not log; "
                f"it logs {sorted(logs)}"
            )
        if self.early_stopping.step(logs[self.monitor], state.model):
            value = logs[self.monitor]
            state.stop(f"early stopping: {self.monitor} did not improve "
                       f"(last {value:.6g}) at epoch {state.epoch}")


class Checkpoint(Callback):
    """Saves a full training checkpoint (model, optimizer, scheduler, early stopping, the
    train loader's state, history, framework RNG state, epoch) every ``every`` epochs and at the
    last one, atomically. ``path`` may contain ``{epoch}``.

    With ``monitor`` set, saves only when that logged quantity improves (``mode`` 'min'/'max').
    Resume with ``fit(..., resume_from=path)`` or :func:`minigrad.train.load_checkpoint`.
    """

    def __init__(self, path: str | os.PathLike, every: int = 1, monitor: str | None = None,
                 mode: str = "min"):
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"Checkpoint: every must be a positive integer, got {every!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"Checkpoint: mode must be 'min' or 'max', got {mode!r}")
        self.path = os.fspath(path)
        self.every, self.monitor, self.mode = every, monitor, mode
        self.best = math.inf if mode == "min" else -math.inf
        self.saved: list[str] = []

    def on_epoch_end(self, state, logs):
        last = state.epoch == state.epochs or state.stop_training
        if self.monitor is not None:
            if self.monitor not in logs:
                raise ValueError(
                    f"Checkpoint monitors {self.monitor!r}, which fit does not log; it logs "
                    f"{sorted(logs)}"
                )
            value = logs[self.monitor]
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                return
            self.best = value
        elif state.epoch % self.every and not last:
            return
        path = self.path.format(epoch=state.epoch)
        parts = {"model": state.model, "optimizer": state.optimizer,
                 "scheduler": state.scheduler, "early_stopping": state.early_stopping,
                 "train_loader": state.train_loader, "history": state.history}
        on_main_then_wait(lambda: save_checkpoint(path, epoch=state.epoch, **{  # rank 0 writes
            k: v for k, v in parts.items() if callable(getattr(v, "state_dict", None))}))
        self.saved.append(path)
