"""The training loop: ``fit``, built from public pieces (``train_epoch``, ``evaluate``).

Per batch, fit does what a hand-written loop does and nothing more::

    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss_value = loss.item()            # the one host sync of the batch; checked for nan/inf
    loss.backward()
    optimizer.step()
    scheduler.step()                    # only OneCycleLR / CyclicLR (per-batch schedules)

Metrics are computed from the raw output array (``argmax`` over the classes, no graph) and
summed on the device; they are read once per epoch.

Under data parallelism (``minigrad.distributed`` with several processes, the model in
``nn.parallel.DistributedDataParallel``) the same ``fit`` call runs on every rank: see
:mod:`minigrad.train.ddp` for what changes (rank-0 progress and checkpoints, logs averaged over
the ranks, the DistributedSampler's epoch set before each epoch).

``fit`` reads top-down: ``fit`` checks its arguments and resumes, ``_run_epochs`` calls the
callbacks around the epochs, ``_run_epoch`` is one epoch (``train_epoch``, then
``_validate_and_schedule``, History and callbacks).
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..autograd import no_grad
from ..backend import get_array_module
from ..tensor import Tensor
from . import ddp
from .callbacks import Callback, Checkpoint, EarlyStoppingCallback, TrainState, is_early_stopping
from .checkpoint import load_checkpoint
from .history import History
from .progress import ProgressBar

NAN_POLICIES = ("raise", "stop", "ignore")


# --------------------------------------------------------------------------- metrics


class Metric:
    """A running, batch-size-weighted metric: ``update(outputs, targets)``, then ``compute()``.

    ``outputs`` and ``targets`` are raw arrays (no graph). Sums stay on the device until
    :meth:`compute`.
    """

    name = "metric"

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.count = 0

    def update(self, outputs, targets) -> None:
        raise NotImplementedError

    def compute(self) -> float:
        return float(self.total) / self.count if self.count else math.nan


class Accuracy(Metric):
    """Fraction of samples whose arg-max output is the target class.

    ``outputs`` of shape (N, C) (logits or probabilities); ``targets`` class indices of shape
    (N,) or one-hot / class probabilities of shape (N, C).
    """

    name = "accuracy"

    @staticmethod
    def applies(outputs, targets) -> bool:
        if outputs.ndim < 2 or outputs.shape[-1] < 2:
            return False
        if targets.dtype.kind in "iub":
            return targets.shape == outputs.shape[:-1]
        return targets.shape == outputs.shape

    def update(self, outputs, targets) -> None:
        if not self.count and not self.applies(outputs, targets):  # shapes: checked once
            raise ValueError(
                f"metric 'accuracy' needs outputs of shape (N, C) with class-index targets "
                f"(N,) or one-hot targets (N, C); got outputs {tuple(outputs.shape)} and "
                f"targets {tuple(targets.shape)} of dtype {targets.dtype} (use "
                "'binary_accuracy' for one logit per sample, or metrics=() for regression)"
            )
        xp = get_array_module(outputs)
        pred = xp.argmax(outputs, axis=-1)
        if targets.dtype.kind not in "iub":
            targets = xp.argmax(targets, axis=-1)
        self.total = self.total + xp.count_nonzero(pred == targets)
        self.count += pred.size


class BinaryAccuracy(Metric):
    """Fraction of samples with ``(logit > 0) == (target > 0.5)``: one logit per sample,
    targets 0/1 of the same number of elements (e.g. with a BCE-with-logits loss)."""

    name = "binary_accuracy"

    def update(self, outputs, targets) -> None:
        if outputs.size != targets.size:
            raise ValueError(
                f"metric 'binary_accuracy' needs one logit per target, got outputs "
                f"{tuple(outputs.shape)} and targets {tuple(targets.shape)}"
            )
        xp = get_array_module(outputs)
        pred = outputs.reshape(-1) > 0
        self.total = self.total + xp.count_nonzero(pred == (targets.reshape(-1) > 0.5))
        self.count += pred.size


class FunctionMetric(Metric):
    """A user function ``fn(outputs: Tensor, targets: Tensor) -> number`` (a batch mean),
    averaged over the epoch weighted by batch size."""

    def __init__(self, fn: Callable, name: str | None = None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "metric")
        super().__init__()

    def update(self, outputs, targets) -> None:
        n = targets.shape[0] if targets.ndim else 1
        value = self.fn(Tensor._wrap(outputs), Tensor._wrap(targets))
        if isinstance(value, Tensor):
            value = value.array
        self.total = self.total + value * n
        self.count += n


_BUILTIN = {"accuracy": Accuracy, "binary_accuracy": BinaryAccuracy}


def _make_metrics(metrics) -> list[Metric]:
    if isinstance(metrics, (str, Metric)) or callable(metrics) and not isinstance(metrics, type):
        metrics = (metrics,)
    out = []
    for m in metrics:
        if isinstance(m, str):
            if m not in _BUILTIN:
                raise ValueError(f"unknown metric {m!r}: expected one of {sorted(_BUILTIN)} "
                                 "or a callable fn(outputs, targets)")
            out.append(_BUILTIN[m]())
        elif isinstance(m, Metric):
            out.append(m)
        elif isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str) and callable(m[1]):
            out.append(FunctionMetric(m[1], m[0]))
        elif callable(m):
            out.append(FunctionMetric(m))
        else:
            raise TypeError(f"metrics must be names, Metric objects or callables, got {m!r}")
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValueError(f"metric names must be unique, got {names}")
    return out


# --------------------------------------------------------------------------- pieces


def scheduler_kind(scheduler) -> str | None:
    """How fit steps ``scheduler``, as the scheduler says in its ``stepping`` attribute:
    'batch' (after every optimizer step: OneCycleLR, CyclicLR), 'metric' (ReduceLROnPlateau:
    on val_loss, else the train loss, per epoch) or 'epoch'.

    An object without ``stepping`` is stepped per epoch, or per batch if it declares
    ``step_per_batch = True`` (the older spelling).
    """
    if scheduler is None:
        return None
    kind = getattr(scheduler, "stepping", "epoch")
    if kind == "epoch" and getattr(scheduler, "step_per_batch", False) is True:
        kind = "batch"
    if kind not in ("batch", "epoch", "metric"):
        raise ValueError(f"fit: {type(scheduler).__name__}.stepping must be 'batch', 'epoch' or "
                         f"'metric', got {kind!r}")
    return kind


def _split_batch(batch):
    """(model inputs, targets): the last element is the target, the rest go to the model."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return tuple(batch[:-1]), batch[-1]
    raise ValueError(
        "fit expects batches of (inputs, targets) (the last element is the target), got "
        f"{type(batch).__name__}" + (f" of length {len(batch)}" if hasattr(batch, "__len__")
                                     else "")
    )


def _batch_len(targets, inputs) -> int:
    for x in (targets, *inputs):
        shape = getattr(x, "shape", None)
        if shape:
            return int(shape[0])
    return 1


def _lr(optimizer) -> float:
    try:
        return float(optimizer.param_groups[0]["lr"])
    except (AttributeError, IndexError, KeyError, TypeError):
        return math.nan


def _raw(x):
    return x.array if isinstance(x, Tensor) else x


def _nan_message(value: float, epoch: int, batch: int, nbatches: int, policy: str) -> str:
    where = (f"became {value}" if not math.isfinite(value)
             else "became non-finite in another process")
    return (f"fit: the loss {where} at epoch {epoch}, batch {batch} of {nbatches}; "
            f"training stopped before this batch's update, with the model's parameters and "
            f"buffers as they were before this batch (nan_policy={policy!r}; 'stop' ends "
            "training quietly, 'ignore' goes on)")


def _modules_with_buffers(model) -> list:
    """Every submodule that has buffers (none for a plain callable), read once per epoch;
    :func:`_snapshot_buffers` copies their buffers before each forward."""
    modules = getattr(model, "modules", None)
    if not callable(modules):
        return []
    return [m for m in modules() if getattr(m, "_buffers", None)]


def _snapshot_buffers(modules: list) -> list:
    """Copies of every buffer, taken before a forward pass that may write to them.

    The forward in training mode updates buffers (BatchNorm's running statistics and batch
    count) before the loss is known; if the loss turns out nan/inf, :func:`_restore_buffers`
    puts them back, so the model is exactly as before the batch. Buffers are small (one value
    per channel), so the copy is cheap next to the forward itself; a model without buffers
    pays nothing.
    """
    return [(m, name, t, None if t is None else t.array.copy())
            for m in modules for name, t in m._buffers.items()]


def _restore_buffers(snapshot: list) -> None:
    for module, name, t, saved in snapshot:
        if module._buffers.get(name) is not t:
            setattr(module, name, t)  # the forward rebound the buffer: undo that
        if t is None:
            continue
        if t.array.shape == saved.shape and t.array.dtype == saved.dtype:
            t.array[...] = saved  # in place: views of the buffer see the restored values
        else:
            t.array = saved
        t._bump_version()


def _drop_default_accuracy(metrics: list[Metric], outputs, targets, explicit: bool):
    """The default 'accuracy' is dropped for targets it cannot apply to (regression)."""
    if explicit:
        return metrics
    return [m for m in metrics if not (isinstance(m, Accuracy)
                                       and not Accuracy.applies(outputs, targets))]


class _EpochLogs:
    """An epoch's running, batch-size-weighted mean loss and metrics, as fit logs them.

    The first batch decides whether the default 'accuracy' applies (see
    :func:`_drop_default_accuracy`).
    """

    def __init__(self, metrics: Sequence[Metric], explicit: bool):
        self.metrics = list(metrics)
        for m in self.metrics:
            m.reset()
        self.explicit = explicit
        self.loss_sum, self.count, self.first = 0.0, 0, True

    def update(self, loss_value: float, inputs, outputs, targets) -> None:
        out_raw, tgt_raw = _raw(outputs), _raw(targets)
        if self.first and self.metrics:
            self.metrics = _drop_default_accuracy(self.metrics, out_raw, tgt_raw, self.explicit)
            self.first = False
        for m in self.metrics:
            m.update(out_raw, tgt_raw)
        n = _batch_len(targets, inputs)
        self.loss_sum += loss_value * n
        self.count += n

    def logs(self) -> dict[str, float]:
        logs = {"loss": self.loss_sum / self.count if self.count else math.nan}
        logs.update({m.name: m.compute() for m in self.metrics})
        return logs


_TRAIN_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning issued by its caller at the first frame outside
    ``minigrad/train`` (the user's ``fit`` or ``train_epoch`` call), however deep the loop's
    helpers are."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == _TRAIN_DIR:
        frame, level = frame.f_back, level + 1
    return level


def _nonfinite_loss(value: float, nan_policy: str) -> bool:
    """Whether the loss ``value`` is nan/inf and ``nan_policy`` says to act on it.

    Under DDP every rank must take the same branch, or the others wait for it forever: the
    ranks agree (``ddp.any_rank``).
    """
    return nan_policy != "ignore" and ddp.any_rank(not math.isfinite(value))


def train_epoch(model, loss_fn, optimizer, loader: Iterable, *, scheduler=None,
                metrics: Sequence[Metric] = (), epoch: int = 1, nan_policy: str = "raise",
                progress: ProgressBar | None = None, on_batch_end: Sequence[Callable] = (),
                _explicit_metrics: bool = True) -> tuple[dict[str, float], bool]:
    """One training epoch over ``loader`` (the model must already be in train mode).

    Steps ``scheduler`` after every batch (pass it only for per-batch schedules).

    Returns:
        (logs, finished): the epoch's mean ``loss`` and metrics, and False when a non-finite
        loss stopped the epoch under ``nan_policy='stop'``.

    Raises:
        FloatingPointError: a non-finite loss under ``nan_policy='raise'``, naming the epoch
            and batch (before that batch's update).

    Under 'raise' and 'stop', a non-finite loss leaves the model's parameters and buffers
    exactly as they were before that batch: buffers written by the forward pass (BatchNorm's
    running statistics) are copied before each forward and put back.
    """
    running = _EpochLogs(metrics, _explicit_metrics)
    nbatches = len(loader) if hasattr(loader, "__len__") else -1
    buffered = _modules_with_buffers(model) if nan_policy != "ignore" else []
    for b, batch in enumerate(loader):
        inputs, targets = _split_batch(batch)
        optimizer.zero_grad()
        saved_buffers = _snapshot_buffers(buffered) if buffered else None
        outputs = model(*inputs)
        loss = loss_fn(outputs, targets)
        value = loss.item()
        if _nonfinite_loss(value, nan_policy):
            if saved_buffers:
                _restore_buffers(saved_buffers)
            msg = _nan_message(value, epoch, b + 1, nbatches, nan_policy)
            if nan_policy == "raise":
                raise FloatingPointError(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=_user_stacklevel())
            return {"loss": math.nan}, False
        running.update(value, inputs, outputs, targets)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        for fn in on_batch_end:
            fn(b, value)
        if progress is not None:
            progress.update(1, lambda: {**running.logs(), "lr": _lr(optimizer)})
    return running.logs(), True


def evaluate(model, loss_fn, loader: Iterable, metrics=("accuracy",)) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``loader``, in eval mode and under no_grad.

    The model's train/eval mode is restored afterwards.

    Returns:
        ``{"loss": ..., <metric name>: ...}``.

    Raises:
        ValueError: ``loader`` yielded no batches (rather than a silent nan).
    """
    explicit = tuple(metrics) != ("accuracy",) if not isinstance(metrics, str) else True
    running = _EpochLogs(_make_metrics(metrics), explicit)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            for batch in loader:
                inputs, targets = _split_batch(batch)
                outputs = model(*inputs)
                running.update(loss_fn(outputs, targets).item(), inputs, outputs, targets)
    finally:
        model.train(was_training)
    if running.count == 0:
        raise ValueError("evaluate: the loader yielded no batches (an empty validation set, or "
                         "drop_last with fewer samples than batch_size): there is nothing to "
                         "measure")
    return running.logs()


# --------------------------------------------------------------------------- fit


def _check_args(epochs, nan_policy, initial_epoch, train_loader, val_loader=None) -> None:
    if not isinstance(epochs, numbers.Integral) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"fit: nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    if (not isinstance(initial_epoch, numbers.Integral) or isinstance(initial_epoch, bool)
            or not 0 <= initial_epoch <= epochs):
        raise ValueError(
            f"fit: initial_epoch must be an integer in [0, epochs={epochs}], got {initial_epoch!r}"
        )
    if hasattr(train_loader, "__len__") and len(train_loader) == 0:
        raise ValueError("fit: train_loader yields no batches (empty dataset, or drop_last "
                         "with fewer samples than batch_size)")
    if val_loader is not None and hasattr(val_loader, "__len__") and len(val_loader) == 0:
        raise ValueError("fit: val_loader yields no batches (empty dataset, or drop_last "
                         "with fewer samples than batch_size); pass val_loader=None to train "
                         "without validation")


def fit(model, loss_fn: Callable, optimizer, train_loader: Iterable, epochs: int,
        val_loader: Iterable | None = None, scheduler=None, callbacks: Iterable = (),
        metrics=("accuracy",), progress: bool = True, nan_policy: str = "raise", *,
        initial_epoch: int = 0, history: History | None = None,
        resume_from=None) -> History:
    """Train ``model`` for ``epochs`` epochs and return a :class:`History`.

    Each epoch: ``model.train()``, one pass over ``train_loader`` (zero_grad, forward, loss,
    backward, step), then, given ``val_loader``, ``model.eval()`` and a pass under no_grad;
    then the scheduler (if its kind is per epoch), the History and the callbacks.

    Args:
        model: a callable module with ``train()``/``eval()``; called as ``model(*inputs)``
            where a batch is ``(*inputs, targets)``.
        loss_fn: ``loss_fn(outputs, targets)`` -> a scalar Tensor (a mean over the batch).
        optimizer: with ``zero_grad()``, ``step()`` and ``param_groups``.
        train_loader, val_loader: iterables of batches (e.g. :class:`minigrad.data.DataLoader`).
        epochs: the epoch to train up to (counting from 1).
        scheduler: an LR scheduler, stepped according to :func:`scheduler_kind`: after every
            batch (OneCycleLR, CyclicLR), on ``val_loss`` (else the train ``loss``) for
            ReduceLROnPlateau, else once per epoch.
        callbacks: :class:`Callback` s and early-stopping objects (``step(metric, model)``).
        metrics: names ('accuracy', 'binary_accuracy'), :class:`Metric` s or callables
            ``fn(outputs, targets)``. The default 'accuracy' is skipped when the targets are
            not classes (regression); an explicitly requested one raises instead.
        progress: a per-epoch progress bar on a terminal (tqdm if installed).
        nan_policy: on a nan/inf training loss, 'raise' a FloatingPointError naming the epoch
            and batch, 'stop' training with a warning, or 'ignore' it. Unless 'ignore', the
            offending batch's update is not applied and the buffers its forward pass wrote
            (BatchNorm's running statistics) are restored, so the model is exactly as before
            that batch.
        initial_epoch: epochs already done (resuming); training runs epochs
            ``initial_epoch + 1 .. epochs``.
        history: a History to append to (resuming); a new one by default.
        resume_from: a :class:`~minigrad.train.Checkpoint` file: restores the model,
            optimizer, scheduler, early stopping, train loader, history and RNG state from it
            and continues after its epoch.

    Under data parallelism, see the module docstring.

    Returns:
        The History: per-epoch ``loss``, ``val_loss``, metrics and ``val_`` metrics, ``lr``
        (of param group 0 at the epoch's start) and ``time`` (seconds).
    """
    explicit_metrics = not (isinstance(metrics, tuple) and metrics == ("accuracy",))
    plan = _EpochPlan(loss_fn=loss_fn, metrics=_make_metrics(metrics), nan_policy=nan_policy,
                      val_metrics=metrics if explicit_metrics else None, progress=progress)
    state = TrainState(model=model, optimizer=optimizer, scheduler=scheduler,
                       train_loader=train_loader, val_loader=val_loader,
                       history=history if history is not None else History(),
                       callbacks=_as_callbacks(callbacks), epochs=epochs)
    _check_args(epochs, nan_policy, initial_epoch, train_loader, val_loader)
    if resume_from is not None:
        initial_epoch = _resume(state, resume_from)
    _run_epochs(state, plan, first_epoch=initial_epoch + 1)
    return state.history


@dataclass
class _EpochPlan:
    """What each epoch of one :func:`fit` call uses."""

    loss_fn: Callable
    metrics: list[Metric]  # the training metrics
    val_metrics: Any  # the metrics asked for, or None: the default accuracy if training had it
    nan_policy: str
    progress: bool
    scheduler_kind: str | None = None  # set by _run_epochs: see scheduler_kind
    batch_hooks: list = field(default_factory=list)  # the callbacks' on_batch_end, bound


def _as_callbacks(callbacks: Iterable) -> list[Callback]:
    """fit's callbacks as Callback objects (early-stopping objects wrapped), the checkpoints
    last, so that they save the epoch's early-stopping and scheduler updates."""
    cbs: list[Callback] = []
    for cb in callbacks:
        if isinstance(cb, Callback):
            cbs.append(cb)
        elif is_early_stopping(cb):
            cbs.append(EarlyStoppingCallback(cb))
        else:
            raise TypeError(
                f"fit: callbacks must be Callback objects or early-stopping objects with "
                f"step(metric, model), got {type(cb).__name__}"
            )
    cbs.sort(key=lambda c: isinstance(c, Checkpoint))
    return cbs


def _resume(state: TrainState, path) -> int:
    """Restore every component of ``state`` from the checkpoint at ``path``; its epoch."""
    loader = state.train_loader
    ck = load_checkpoint(
        path, model=state.model, optimizer=state.optimizer, scheduler=state.scheduler,
        early_stopping=state.early_stopping,
        train_loader=loader if callable(getattr(loader, "state_dict", None)) else None,
        history=state.history)
    epoch = int(ck["epoch"] or 0)
    if epoch > state.epochs:
        raise ValueError(f"fit: the checkpoint {path} is at epoch {epoch}, "
                         f"past epochs={state.epochs}")
    return epoch


def _run_epochs(state: TrainState, plan: _EpochPlan, first_epoch: int) -> None:
    """The callbacks' train begin, the epochs up to ``state.epochs`` (or a stop), their train
    end; the model's train/eval mode is restored afterwards."""
    plan.scheduler_kind = scheduler_kind(state.scheduler)
    plan.batch_hooks = [lambda b, v, cb=cb: cb.on_batch_end(state, b, v)
                        for cb in state.callbacks if cb._wants_batches()]
    was_training = getattr(state.model, "training", True)
    for cb in state.callbacks:
        cb.on_train_begin(state)
    try:
        for epoch in range(first_epoch, state.epochs + 1):
            state.epoch = epoch
            _run_epoch(state, plan)
            if state.stop_training:
                break
    finally:
        state.model.train(was_training)
    if state.stop_training:
        state.history.stopped_early = True
        state.history.stop_reason = state.stop_reason
    for cb in state.callbacks:
        cb.on_train_end(state)


def _run_epoch(state: TrainState, plan: _EpochPlan) -> None:
    """Epoch ``state.epoch``: train, validate, step an epoch scheduler, log, call back."""
    epoch, train_loader = state.epoch, state.train_loader
    for cb in state.callbacks:
        cb.on_epoch_begin(state)
    t0 = time.perf_counter()
    lr = _lr(state.optimizer)
    ddp.set_sampler_epoch(train_loader, epoch)
    bar = ProgressBar(len(train_loader) if hasattr(train_loader, "__len__") else 0,
                      desc=f"epoch {epoch}/{state.epochs}",
                      enabled=None if plan.progress and ddp.is_main_process() else False)
    try:
        state.model.train()
        logs, finished = train_epoch(
            state.model, plan.loss_fn, state.optimizer, train_loader,
            scheduler=state.scheduler if plan.scheduler_kind == "batch" else None,
            metrics=plan.metrics, epoch=epoch, nan_policy=plan.nan_policy, progress=bar,
            on_batch_end=plan.batch_hooks, _explicit_metrics=plan.val_metrics is not None)
        if not finished:
            bar.close(logs)
            state.stop(f"non-finite loss at epoch {epoch} (nan_policy='stop')")
            return
        logs = _validate_and_schedule(state, plan, logs)
        logs["lr"] = lr
        logs["time"] = time.perf_counter() - t0
        state.history.append(epoch, logs)
        bar.close({k: v for k, v in logs.items() if k != "time"})
    finally:
        bar.close()  # a no-op unless an error left it open
    for cb in state.callbacks:
        cb.on_epoch_end(state, logs)


def _validate_and_schedule(state: TrainState, plan: _EpochPlan, logs: dict) -> dict:
    """The epoch's logs with the ``val_`` ones added and averaged over DDP ranks; then an
    epoch or metric scheduler is stepped."""
    if state.val_loader is not None:
        val = evaluate(state.model, plan.loss_fn, state.val_loader,
                       plan.val_metrics if plan.val_metrics is not None
                       else _default_like(logs))
        logs.update({f"val_{k}": v for k, v in val.items()})
    logs = ddp.average_logs(logs)  # under DDP: the ranks' mean, the same on every rank
    if plan.scheduler_kind == "epoch":
        state.scheduler.step()
    elif plan.scheduler_kind == "metric":
        state.scheduler.step(logs.get("val_loss", logs["loss"]))
    return logs


def _default_like(train_logs: dict) -> tuple:
    """Validation measures the default accuracy only if training could."""
    return ("accuracy",) if "accuracy" in train_logs else ()


__all__ = ["Accuracy", "BinaryAccuracy", "FunctionMetric", "Metric", "evaluate", "fit",
           "scheduler_kind", "train_epoch"]
