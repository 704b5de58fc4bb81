"""Early stopping: end training when a validation metric stops improving.

Keras's rules (``keras.callbacks.EarlyStopping``), made explicit: the direction is always given
(``mode='min'`` or ``'max'``; nothing is guessed from the metric's name), NaN never counts as an
improvement and is reported, and the stopper is a plain object with ``step(metric, model)``, so
it works in a hand-written loop as well as in :func:`minigrad.train.fit`::

    stopper = EarlyStopping(mode="min", patience=5, min_delta=1e-4, restore_best_weights=True)
    for epoch in range(100):
        train_one_epoch(model)
        if stopper.step(evaluate(model), model):   # True: stop now; best weights restored
            break

The rule, per call (``epoch`` counts calls from 0; calls with ``epoch < start_from_epoch`` are
ignored)::

    improved(x, ref) = x + min_delta < ref     (mode 'min')
                       x - min_delta > ref     (mode 'max')      # NaN: never improved
    wait += 1
    if improved(metric, best):                 # best starts at +inf ('min') or -inf ('max')
        best, best_epoch = metric, epoch        # (and snapshot the weights)
        if baseline is None or improved(metric, baseline):
            wait = 0
    elif wait >= patience and epoch > 0:
        stop                                   # (and restore the best weights)

So training stops after ``patience`` consecutive epochs without an improvement of more than
``min_delta`` (``patience=0``: at the first one), never at the first monitored epoch; with a
``baseline``, improvements that do not also beat the baseline do not reset ``wait``.

References:
    Keras ``keras.callbacks.EarlyStopping`` (Keras 3 source);
    Prechelt, "Early Stopping -- But When?", in Neural Networks: Tricks of the Trade, 1998.
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

__all__ = ["EarlyStopping"]


def _copy_value(value: Any) -> Any:
    """A copy of one state_dict value: a Tensor's or array's data as a fresh array, on the
    same device (``deepcopy`` of a CuPy array copies on the array's own GPU)."""
    data = getattr(value, "array", value)  # a Tensor's raw array
    if hasattr(data, "copy") and hasattr(data, "shape") and hasattr(data, "dtype"):
        return copy.deepcopy(data)
    return copy.deepcopy(value)


def _to_host(value: Any) -> Any:
    """A NumPy copy of a (NumPy or CuPy) array, for a portable state_dict."""
    return value.get() if hasattr(value, "get") and hasattr(value, "device") else value


class EarlyStopping:
    """Stop when a monitored metric has not improved for ``patience`` epochs.

    Args:
        mode: 'min' (a loss: lower is better) or 'max' (an accuracy: higher is better).
            Defaults to 'min', the right direction for the default ``monitor='val_loss'``;
            pass ``mode='max'`` for accuracies.
        patience: how many epochs without improvement to tolerate (a non-negative integer).
        min_delta: an improvement must exceed this (its sign is ignored).
        baseline: a value the metric must beat for ``wait`` to reset; ``None``: no baseline.
        restore_best_weights: snapshot the model's ``state_dict()`` at the best epoch and load
            it back when stopping (or when :meth:`restore` is called).
        start_from_epoch: ignore the first ``start_from_epoch`` calls (a warm-up).
        monitor: the key of ``logs`` that :meth:`on_epoch_end` and :func:`minigrad.train.fit`
            read (default 'val_loss').

    Attributes:
        best: the best metric so far (+-inf before any).
        best_epoch: the epoch (0-based call count) of ``best``; None before any.
        stopped_epoch: the epoch at which :meth:`step` returned True; None while running.
        wait: epochs since the last improvement that beat the baseline.
        epoch: the number of calls of :meth:`step` so far.
        best_weights: the snapshot (name -> array copy) with ``restore_best_weights``.
    """

    def __init__(self, mode: str = "min", patience: int = 0, min_delta: float = 0.0,
                 baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0, monitor: str = "val_loss") -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(
                f"EarlyStopping: patience must be a non-negative integer, got {patience!r}"
            )
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) \
                or math.isnan(min_delta):
            raise ValueError(f"EarlyStopping: min_delta must be a number, got {min_delta!r}")
        if baseline is not None and (not isinstance(baseline, (int, float))
                                     or math.isnan(baseline)):
            raise ValueError(
                f"EarlyStopping: baseline must be a number or None, got {baseline!r}"
            )
        if (isinstance(start_from_epoch, bool) or not isinstance(start_from_epoch, int)
                or start_from_epoch < 0):
            raise ValueError(
                f"EarlyStopping: start_from_epoch must be a non-negative integer, got "
                f"{start_from_epoch!r}"
            )
        if not isinstance(monitor, str):
            raise TypeError(f"EarlyStopping: monitor must be a str, got {type(monitor).__name__}")
        self.mode = mode
        self.patience = patience
        self.min_delta = abs(float(min_delta))
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = start_from_epoch
        self.monitor = monitor
        self.reset()

    def reset(self) -> None:
        """Forget everything seen (to reuse the stopper for a new run)."""
        self.epoch = 0
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.best_weights: dict[str, Any] | None = None

    # -- the rule ----------------------------------------------------------------------------
    def improved(self, metric: float, reference: float) -> bool:
        """Whether ``metric`` beats ``reference`` by more than ``min_delta`` (NaN: never)."""
        if self.mode == "min":
            return metric + self.min_delta < reference
        return metric - self.min_delta > reference

    @property
    def stopped(self) -> bool:
        """Whether :meth:`step` has said to stop."""
        return self.stopped_epoch is not None

    def step(self, metric: float, model: Any = None) -> bool:
        """Record one epoch's metric; True when training should stop.

        Args:
            metric: the monitored value (a float, a 0-d Tensor or array).
            model: needed with ``restore_best_weights``: anything with ``state_dict()`` and
                ``load_state_dict(dict)`` (a :class:`minigrad.nn.Module`).

        Returns:
            True at the epoch where patience runs out (the best weights are then back in
            ``model``), and at every later call; False otherwise.
        """
        if self.restore_best_weights and model is None:
            raise ValueError("EarlyStopping(restore_best_weights=True).step needs the model")
        metric = float(metric.item() if hasattr(metric, "item") else metric)
        epoch = self.epoch
        self.epoch += 1
        if self.stopped:
            return True
        if epoch < self.start_from_epoch:
            return False
        if math.isnan(metric):
            warnings.warn(
                f"EarlyStopping: the monitored metric is NaN at epoch {epoch}; counted as no "
                f"improvement", RuntimeWarning, stacklevel=2,
            )
        if self.restore_best_weights and self.best_weights is None:
            # until something improves, the first monitored weights are the best known
            self.best_weights = self._snapshot(model)
            self.best_epoch = epoch
        self.wait += 1
        if self.improved(metric, self.best):
            self.best = metric
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self._snapshot(model)
            if self.baseline is None or self.improved(metric, self.baseline):
                self.wait = 0
            return False
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            if self.restore_best_weights:
                self.restore(model)
            return True
        return False

    # -- weights -----------------------------------------------------------------------------
    @staticmethod
    def _snapshot(model: Any) -> dict[str, Any]:
        return {name: _copy_value(v) for name, v in model.state_dict().items()}

    def restore(self, model: Any) -> bool:
        """Load the best weights into ``model``; False (and nothing changes) if none were kept.
        """
        if self.best_weights is None:
            return False
        model.load_state_dict({k: _copy_value(v) for k, v in self.best_weights.items()})
        return True

    # -- checkpointing -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: settings, counters, best value and best weights (as
        NumPy arrays)."""
        state = {k: copy.deepcopy(v) for k, v in vars(self).items() if k != "best_weights"}
        state["best_weights"] = (None if self.best_weights is None else
                                 {k: _to_host(_copy_value(v))
                                  for k, v in self.best_weights.items()})
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; the run then stops exactly where the original would."""
        if not isinstance(state_dict, dict):
            raise TypeError(
                f"EarlyStopping.load_state_dict expects a dict, got {type(state_dict).__name__}"
            )
        known = set(vars(self))
        unknown = sorted(set(state_dict) - known)
        if unknown:
            raise KeyError(f"EarlyStopping.load_state_dict: unexpected keys {unknown}")
        for k, v in state_dict.items():
            setattr(self, k, {n: _copy_value(a) for n, a in v.items()}
                    if k == "best_weights" and v is not None else copy.deepcopy(v))

    # -- callback adapter --------------------------------------------------------------------
    def on_epoch_end(self, trainer_or_epoch: Any, logs: dict[str, float]) -> bool:
        """Callback form: read ``logs[monitor]`` and :meth:`step` on it.

        ``trainer_or_epoch`` is either the epoch number (nothing else is used) or a training
        state with ``model`` (used for the weights) and ``stop_training`` (set to True when
        stopping). :func:`minigrad.train.fit` accepts the stopper itself in ``callbacks``.

        Returns:
            Whether training should stop.
        """
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, which logs lack; logs have "
                f"{sorted(logs)}"
            )
        model = getattr(trainer_or_epoch, "model", None)
        stop = self.step(logs[self.monitor], model)
        if stop and hasattr(trainer_or_epoch, "stop_training"):
            trainer_or_epoch.stop_training = True
        return stop

    def __repr__(self) -> str:
        return (f"EarlyStopping(mode={self.mode!r}, patience={self.patience}, "
                f"min_delta={self.min_delta}, best={self.best}, best_epoch={self.best_epoch}, "
                f"wait={self.wait}, stopped_epoch={self.stopped_epoch})")
