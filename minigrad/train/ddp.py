"""What ``fit`` does differently when it runs in several processes (data parallelism).

When :func:`minigrad.distributed.init_process_group` has made a group of more than one
process, ``fit`` calls these helpers at a few points; with no group (or a group of one)
every helper is a no-op, so single-process training is unchanged:

* :func:`set_sampler_epoch`: ``DistributedSampler.set_epoch(epoch - 1)`` before each epoch
  (torch users call it by hand; the order then depends only on the seed and the epoch, so a
  resumed run, with any number of processes, draws the same orders);
* :func:`is_main_process`: the progress bar is drawn, and checkpoints written, by rank 0 only;
* :func:`average_logs`: every epoch's logged numbers (loss, metrics, validation) are averaged
  over the ranks, then rank 0's result is broadcast, so every rank sees bit-identical logs and
  the scheduler (ReduceLROnPlateau), early stopping and checkpoint monitors decide the same on
  every rank. The average of per-rank means is the global mean when every rank saw the same
  number of samples, as DistributedSampler guarantees;
* :func:`on_main_then_wait`: run a function (a checkpoint save) on rank 0, then a barrier, so
  that no rank reads a file before it is complete.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import distributed as dist


def _group():
    group = dist.default_group_or_none()
    return group if group is not None and group.size > 1 else None


def is_main_process() -> bool:
    """True on rank 0, and in a single process."""
    group = dist.default_group_or_none()
    return group is None or group.rank == 0


def set_sampler_epoch(loader, epoch: int) -> None:
    """Call ``set_epoch(epoch - 1)`` on the loader's sampler (or its batch sampler's) if it
    has one (a DistributedSampler); ``epoch`` counts from 1 as in fit."""
    for sampler in (getattr(loader, "sampler", None),
                    getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        if callable(getattr(sampler, "set_epoch", None)):
            sampler.set_epoch(epoch - 1)
            return


def average_logs(logs: dict[str, float]) -> dict[str, float]:
    """The logs averaged over the ranks (identical on every rank); unchanged in one process.

    Every rank must log the same keys (they run the same fit call).
    """
    group = _group()
    if group is None:
        return logs
    keys = sorted(k for k, v in logs.items() if isinstance(v, (int, float)))
    values = np.array([logs[k] for k in keys], dtype=np.float64)
    group.allreduce(values, dist.ReduceOp.AVG)
    group.broadcast(values, 0)  # bit-identical everywhere, whatever MPI's summation order
    out = dict(logs)
    out.update({k: float(v) for k, v in zip(keys, values)})
    return out


def any_rank(flag: bool) -> bool:
    """True when ``flag`` is true in any process (every rank calls this); ``flag`` alone in
    one process. fit uses it so that a non-finite loss on one rank stops every rank."""
    group = _group()
    if group is None:
        return flag
    value = np.array([1.0 if flag else 0.0])
    group.allreduce(value, dist.ReduceOp.MAX)
    return bool(value[0])


def on_main_then_wait(fn: Callable[[], object]) -> None:
    """Run ``fn()`` on rank 0 only, then wait at a barrier for it (every rank calls this)."""
    if is_main_process():
        fn()
    group = _group()
    if group is not None:
        group.barrier()


__all__ = ["any_rank", "average_logs", "is_main_process", "on_main_then_wait", "set_sampler_epoch"]
