"""DistributedDataParallel: the same model in every process, gradients averaged by all-reduce.

Data parallelism (as torch.nn.parallel.DistributedDataParallel; Li et al., "PyTorch
Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020): each of the N
processes holds a replica of the model and runs forward and backward on its own shard of the
batch; before the optimizer step every gradient is replaced by the average over the replicas,

    g = (1/N) sum_r g_r,

so with a mean loss over B samples per process every replica steps exactly as one process
would with the mean loss over the N * B samples, and the replicas stay identical.

How the averaging is done: the parameters are packed, in reverse registration order (roughly
the order in which backward produces their gradients), into *buckets* of at most
``bucket_cap_mb`` megabytes, each with one flat buffer. A hook on each parameter copies its
gradient into its bucket's buffer; when a bucket is full (and every earlier bucket has been
started: the non-blocking collectives must be issued in the same order on every rank) one
non-blocking all-reduce (``MPI_Iallreduce`` or NCCL) starts on it, while backward goes on with
the rest of the graph: the hook is a post-accumulate-grad hook, which the engine runs as soon
as the parameter's last use has been differentiated (so the last layer's bucket is on the
wire while the first layers' gradients are still being computed). When the backward pass
ends, the requests are waited on, divided by N and written back into ``p.grad``. Parameters
that received no gradient on a rank in this backward contribute zeros (or their gradient
accumulated so far): every rank reduces the same buffers in the same order, so no rank waits
for a bucket that another never sends.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator

from .. import distributed as dist
from ..autograd.engine import queue_callback
from ..backend import get_array_module
from ..grad_mode import is_grad_enabled
from ..tensor import Tensor
from .module import Module


class _Bucket:
    """A flat buffer holding the gradients of a few parameters of one dtype and device."""

    __slots__ = ("params", "offsets", "flat", "ready", "request")

    def __init__(self, params: list[Tensor]):
        self.params = params
        self.offsets = []
        total = 0
        for p in params:
            self.offsets.append(total)
            total += p.array.size
        self.flat = get_array_module(params[0].array).zeros(total, dtype=params[0].array.dtype)
        self.ready: set[int] = set()
        self.request = None

    def slot(self, i: int):
        p = self.params[i]
        off = self.offsets[i]
        return self.flat[off:off + p.array.size].reshape(p.array.shape)


def _make_buckets(params: list[Tensor], cap_bytes: int) -> list[_Bucket]:
    """Buckets in reverse parameter order; a new one per dtype/device change or full cap."""
    buckets, current, size, key = [], [], 0, None
    for p in reversed(params):
        k = (p.array.dtype, type(p.array), getattr(p.array, "device", None))
        nbytes = p.array.nbytes
        if current and (k != key or size + nbytes > cap_bytes):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += nbytes
        key = k
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _remove_all(removers) -> None:
    for remove in removers:
        remove()


class DistributedDataParallel(Module):
    """Wrap ``module`` so that backward averages its gradients across the processes.

    At construction rank 0's parameters and buffers are broadcast to every rank. Call the
    wrapper as the module; after ``loss.backward()`` every ``p.grad`` is the average over the
    ranks (the same on every rank), so ``optimizer.step()`` keeps the replicas identical.

    Args:
        module: the model (its parameters must not change after wrapping).
        bucket_cap_mb: the largest bucket, in megabytes (torch's default, 25); smaller
            buckets start communicating earlier, larger ones make fewer calls.
        broadcast_buffers: copy rank 0's buffers (e.g. BatchNorm's running statistics) to
            every rank at each forward in training mode, as torch does. The batch statistics
            themselves stay per process; use :class:`minigrad.nn.SyncBatchNorm` for global
            ones.
        process_group: the group to average over; the default group
            (``minigrad.distributed.init_process_group()`` must have been called).

    The ``state_dict`` keys carry the ``module.`` prefix, as torch's; save
    ``ddp.module.state_dict()`` for a file that loads into the bare model.
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0,
                 broadcast_buffers: bool = True, process_group=None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a minigrad.nn.Module, "
                            f"got {type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, "
                             f"got {bucket_cap_mb!r}")
        group = process_group if process_group is not None else dist.default_group_or_none()
        if group is None:
            raise RuntimeError("DistributedDataParallel: the default process group is not "
                               "initialised; call minigrad.distributed.init_process_group()")
        self.module = module
        object.__setattr__(self, "_group", group)
        self.broadcast_buffers = broadcast_buffers
        self.bucket_cap_mb = bucket_cap_mb
        params = [p for p in module.parameters() if p.requires_grad]
        self._sync_states(list(module.parameters()) + self._buffers_to_sync())
        object.__setattr__(self, "_buckets", _make_buckets(params, int(bucket_cap_mb * 2**20)))
        removers = []
        for b, bucket in enumerate(self._buckets):
            for i, p in enumerate(bucket.params):
                removers.append(p.register_post_accumulate_grad_hook(self._make_hook(b, i)))
        # the engine holds the hooks; they hold this wrapper weakly, and go with it
        weakref.finalize(self, _remove_all, removers)
        self._require_sync = True       # False inside no_sync()
        self._sync_this_backward = False  # set by a forward that records a graph
        self._started = False           # this backward's hooks have queued the finish
        self._next_bucket = 0           # buckets are launched in this order on every rank

    # ----------------------------------------------------------------- forward
    def _buffers_to_sync(self) -> list[Tensor]:
        return [b for b in self.module.buffers() if b is not None]

    def _sync_states(self, tensors: list[Tensor]) -> None:
        """Rank 0's values of ``tensors`` on every rank (one broadcast per tensor)."""
        if self._group.size == 1:
            return
        for t in tensors:
            dist.in_logical_order(t.array, lambda a: self._group.broadcast(a, 0))
            t._bump_version()

    def forward(self, *args, **kwargs):
        if self._started:  # a backward that raised midway left its buckets half-filled
            self._reset()
        if self.training and self.broadcast_buffers and self._group.size > 1:
            self._sync_states(self._buffers_to_sync())
        self._sync_this_backward = self._require_sync and is_grad_enabled()
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes of forwards run inside this block accumulate local gradients
        without communicating; the first synchronised backward after it averages the sum.

        Example (gradient accumulation over 4 micro-batches)::

            with ddp.no_sync():
                for x, y in micro_batches[:-1]:
                    loss_fn(ddp(x), y).backward()
            loss_fn(ddp(x_last), y_last).backward()   # all-reduces the accumulated grads
            optimizer.step()
        """
        previous = self._require_sync
        self._require_sync = False
        try:
            yield
        finally:
            self._require_sync = previous

    # ----------------------------------------------------------------- backward
    def _make_hook(self, b: int, i: int):
        ddp = weakref.ref(self)

        def hook(param: Tensor) -> None:
            wrapper = ddp()
            if wrapper is not None and wrapper._sync_this_backward:
                wrapper._mark_ready(b, i)

        return hook

    def _mark_ready(self, b: int, i: int) -> None:
        """Copy this parameter's accumulated gradient into its slot; start full buckets."""
        if not self._started:
            self._started = True
            queue_callback(self._finish)
        bucket = self._buckets[b]
        bucket.slot(i)[...] = bucket.params[i].grad.array
        bucket.ready.add(i)
        self._launch_ready()

    def _launch_ready(self) -> None:
        buckets = self._buckets
        while (self._next_bucket < len(buckets)
               and len(buckets[self._next_bucket].ready) == len(buckets[self._next_bucket].params)):
            bucket = buckets[self._next_bucket]
            bucket.request = self._group.iallreduce(bucket.flat, dist.ReduceOp.AVG)
            self._next_bucket += 1
        if self._next_bucket:
            buckets[self._next_bucket - 1].request.test()  # lets MPI progress meanwhile

    def _finish(self) -> None:
        """End of backward: start the buckets still missing gradients (zeros for the
        parameters that got none), wait for every reduction, write the averages to p.grad."""
        try:
            for bucket in self._buckets:
                if len(bucket.ready) < len(bucket.params):
                    for i, p in enumerate(bucket.params):
                        if i not in bucket.ready:
                            slot = bucket.slot(i)
                            if p.grad is None:
                                slot.fill(0)
                            else:
                                slot[...] = p.grad.array
                    bucket.ready.update(range(len(bucket.params)))
            self._launch_ready()
            for bucket in self._buckets:
                bucket.request.wait()
                for i, p in enumerate(bucket.params):
                    if p.grad is None or p.grad.array.shape != p.array.shape:
                        p.grad = Tensor._wrap(bucket.slot(i).copy())
                    else:
                        p.grad.array[...] = bucket.slot(i)
        finally:
            self._reset()

    def _reset(self) -> None:
        for bucket in self._buckets:
            bucket.ready.clear()
            bucket.request = None
        self._next_bucket = 0
        self._started = False
        self._sync_this_backward = False

    @property
    def num_buckets(self) -> int:
        """How many all-reduces each synchronised backward makes."""
        return len(self._buckets)

    def extra_repr(self) -> str:
        return (f"world_size={self._group.size}, buckets={len(self._buckets)}, "
                f"bucket_cap_mb={self.bucket_cap_mb}")


__all__ = ["DistributedDataParallel"]
