"""Training checkpoints: everything needed to resume a run exactly.

``save_checkpoint(path, model=..., optimizer=..., scheduler=..., early_stopping=...,
train_loader=..., history=..., epoch=...)`` stores each component's ``state_dict()``, the
framework RNG state (``minigrad.get_rng_state()``: the CPU stream's exact state and the
per-GPU CUDA draw counters, so shuffling and dropout masks continue the same streams on either
device and a resumed run is bit-exact; see :class:`minigrad.backend.Generator`) and the epoch
in one atomic ``.npz`` (see :mod:`minigrad.serialization`).
``load_checkpoint`` checks the file holds every component asked for before restoring any.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np

from .. import backend
from ..backend import DeviceLike
from ..serialization import CheckpointError, load, save
from ..tensor import Tensor

KIND = "minigrad.train.checkpoint"
_COMPONENTS = ("model", "optimizer", "scheduler", "early_stopping", "train_loader", "history")


def _snapshot(obj):
    """A copy of a state dict that later in-place updates of the live objects cannot change."""
    if isinstance(obj, Tensor):
        return Tensor._wrap(obj.array.copy())
    if hasattr(obj, "shape") and hasattr(obj, "copy") and not isinstance(obj, np.generic):
        return obj.copy()
    if isinstance(obj, dict):
        return type(obj)((k, _snapshot(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_snapshot(v) for v in obj)
    return copy.deepcopy(obj)


def save_checkpoint(path: str | os.PathLike, *, model=None, optimizer=None, scheduler=None,
                    early_stopping=None, train_loader=None, history=None,
                    epoch: int | None = None, extra: Any = None, rng: bool = True) -> None:
    """Save the state of every component given (and the framework RNG state) to ``path``.

    Args:
        path: the file (written atomically).
        model, optimizer, scheduler, early_stopping, train_loader, history: objects with
            ``state_dict()``; None ones are left out.
        epoch: the number of finished epochs.
        extra: anything else :func:`minigrad.save` can store.
        rng: include ``minigrad.get_rng_state()``.
    """
    state: dict[str, Any] = {"kind": KIND, "epoch": epoch, "extra": extra}
    objs = dict(zip(_COMPONENTS, (model, optimizer, scheduler, early_stopping, train_loader,
                                  history)))
    for name, obj in objs.items():
        if obj is not None:
            if not callable(getattr(obj, "state_dict", None)):
                raise TypeError(
                    f"save_checkpoint: {name} ({type(obj).__name__}) has no state_dict()"
                )
            state[name] = obj.state_dict()
    if rng:
        state["rng"] = backend.get_rng_state()
    save(state, path)


def load_checkpoint(path: str | os.PathLike, *, model=None, optimizer=None, scheduler=None,
                    early_stopping=None, train_loader=None, history=None,
                    map_location: DeviceLike = "cpu", restore_rng: bool = True) -> dict:
    """Restore the given components from a :func:`save_checkpoint` file.

    The whole file is read and checked first (it must hold every component passed here), so a
    bad file changes nothing; if a component rejects its state, the components already
    restored are rolled back before the error propagates. ``map_location`` defaults to
    ``'cpu'``: a model's ``load_state_dict`` copies values onto its parameters' own device.

    Returns:
        The loaded dict (``epoch``, ``extra`` and the raw state dicts).

    Raises:
        CheckpointError: the file is not a training checkpoint or lacks a component.
    """
    state = load(path, map_location=map_location)
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise CheckpointError(
            f"{os.fspath(path)}: a minigrad file, but not a training checkpoint "
            "(written by minigrad.save, not save_checkpoint)"
        )
    objs = dict(zip(_COMPONENTS, (model, optimizer, scheduler, early_stopping, train_loader,
                                  history)))
    missing = [name for name, obj in objs.items() if obj is not None and name not in state]
    if restore_rng and "rng" not in state:
        missing.append("rng")
    if missing:
        raise CheckpointError(
            f"{os.fspath(path)}: the checkpoint has no {', '.join(missing)} state (it holds "
            f"{sorted(k for k in state if k in _COMPONENTS or k == 'rng')})"
        )
    targets = {name: obj for name, obj in objs.items() if obj is not None}
    # a component may still reject its state (a shape mismatch, another optimizer): then the
    # ones already restored are rolled back, so a failed load changes nothing
    backups = {name: _snapshot(obj.state_dict()) for name, obj in targets.items()}
    done = []
    try:
        for name, obj in targets.items():
            obj.load_state_dict(state[name])
            done.append(name)
    except BaseException:
        for name in done:
            targets[name].load_state_dict(backups[name])
        raise
    if restore_rng:
        backend.set_rng_state(state["rng"])
    return state
