"""Process groups: the communicators behind :mod:`minigrad.distributed`.

Three kinds, one interface (rank, size, ``allreduce``, ``iallreduce``, ``broadcast``,
``barrier`` and small-object helpers), all acting in place on contiguous backend arrays:

* :class:`MPIGroup`: MPI through mpi4py (``MPI.COMM_WORLD`` by default). NumPy arrays go to MPI
  directly; CuPy arrays are staged through host memory unless the MPI library is CUDA-aware
  (then mpi4py reads their ``__cuda_array_interface__``).
* :class:`NCCLGroup`: CuPy arrays reduced with NCCL (``cupy.cuda.nccl``); the communicator is
  built from a unique id that rank 0 creates and broadcasts over MPI. Host arrays and Python
  objects still go over MPI.
* :class:`LocalGroup`: one process, no communication (the world of a script run without
  ``mpiexec`` when mpi4py is not installed).
"""

from __future__ import annotations

import enum
import sys
import traceback

import numpy as np


class ReduceOp(enum.Enum):
    """The reductions of :func:`minigrad.distributed.all_reduce` (torch's names).

    ``AVG`` is the sum divided by the world size (floating-point arrays only).
    """

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"


def check_op(op) -> ReduceOp:
    if isinstance(op, ReduceOp):
        return op
    if isinstance(op, str) and op.upper() in ReduceOp.__members__:
        return ReduceOp[op.upper()]
    raise ValueError(f"all_reduce: op must be one of ReduceOp.SUM/AVG/MAX/MIN, got {op!r}")


class _Done:
    """A finished request (what a one-process group returns from ``iallreduce``)."""

    def wait(self) -> None:
        return None

    def test(self) -> bool:
        return True


class LocalGroup:
    """The world of one process: every collective is the identity."""

    backend = "local"
    rank = 0
    size = 1

    def allreduce(self, array, op: ReduceOp = ReduceOp.SUM) -> None:
        if op is ReduceOp.AVG and array.dtype.kind != "f":
            raise TypeError(f"all_reduce: ReduceOp.AVG needs a float array, got {array.dtype}")

    def iallreduce(self, array, op: ReduceOp = ReduceOp.SUM):
        self.allreduce(array, op)
        return _Done()

    def broadcast(self, array, src: int = 0) -> None:
        return None

    def barrier(self) -> None:
        return None

    def allreduce_floats(self, values, op: ReduceOp = ReduceOp.SUM) -> list[float]:
        return [float(v) for v in values]

    def broadcast_object(self, obj, src: int = 0):
        return obj

    def close(self) -> None:
        return None


class _MPIRequest:
    """An in-flight non-blocking all-reduce; ``wait()`` finishes it (and divides for AVG)."""

    __slots__ = ("request", "array", "staged", "scale")

    def __init__(self, request, array, staged, scale):
        self.request, self.array, self.staged, self.scale = request, array, staged, scale

    def test(self) -> bool:
        """Drives MPI's progress engine; True once the reduction has completed."""
        return self.request is None or bool(self.request.Test())

    def wait(self) -> None:
        if self.request is not None:
            self.request.Wait()
            self.request = None
        if self.staged is not None:  # a CuPy array reduced through host memory
            self.array.set(self.staged)
            self.staged = None
        if self.scale is not None:
            self.array *= self.array.dtype.type(self.scale)
            self.scale = None


class MPIGroup:
    """A process group over an mpi4py communicator.

    Args:
        comm: an ``mpi4py.MPI.Comm``; ``MPI.COMM_WORLD`` when None.
        cuda_aware: hand CuPy arrays to MPI directly (a CUDA-aware MPI); otherwise they are
            copied to the host and back.
    """

    backend = "mpi"

    def __init__(self, comm=None, cuda_aware: bool = False):
        from mpi4py import MPI  # noqa: PLC0415  (optional dependency: minigrad-tensor[mpi])

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.cuda_aware = cuda_aware
        self._ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.MAX: MPI.MAX,
                     ReduceOp.MIN: MPI.MIN}

    def _host(self, array):
        """(buffer MPI reads, staged host copy or None)."""
        if isinstance(array, np.ndarray) or self.cuda_aware:
            return array, None
        host = array.get()  # a CuPy array: through host memory
        return host, host

    def _scale(self, array, op: ReduceOp):
        if op is not ReduceOp.AVG:
            return None
        if array.dtype.kind != "f":
            raise TypeError(f"all_reduce: ReduceOp.AVG needs a float array, got {array.dtype}")
        return 1.0 / self.size

    def iallreduce(self, array, op: ReduceOp = ReduceOp.SUM) -> _MPIRequest:
        """Start reducing ``array`` in place across the group; returns a request to wait on."""
        scale = self._scale(array, op)
        buf, staged = self._host(array)
        request = self.comm.Iallreduce(self.MPI.IN_PLACE, buf, op=self._ops[op])
        return _MPIRequest(request, array, staged, scale)

    def allreduce(self, array, op: ReduceOp = ReduceOp.SUM) -> None:
        scale = self._scale(array, op)
        buf, staged = self._host(array)
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self._ops[op])
        _MPIRequest(None, array, staged, scale).wait()

    def broadcast(self, array, src: int = 0) -> None:
        buf, staged = self._host(array)
        self.comm.Bcast(buf, root=src)
        if staged is not None:
            array.set(staged)

    def barrier(self) -> None:
        self.comm.Barrier()

    def allreduce_floats(self, values, op: ReduceOp = ReduceOp.SUM) -> list[float]:
        """Reduce a few Python numbers (float64 on the wire)."""
        buf = np.asarray(values, dtype=np.float64).reshape(-1).copy()
        self.allreduce(buf, op)
        return buf.tolist()

    def broadcast_object(self, obj, src: int = 0):
        """Rank ``src``'s picklable ``obj`` on every rank."""
        return self.comm.bcast(obj, root=src)

    def abort(self, code: int = 1) -> None:
        self.comm.Abort(code)

    def close(self) -> None:
        return None  # COMM_WORLD is finalized by mpi4py at exit


_NCCL_DTYPES = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32",
                "float64": "NCCL_FLOAT64", "int32": "NCCL_INT32", "int64": "NCCL_INT64",
                "int8": "NCCL_INT8", "uint8": "NCCL_UINT8"}
_NCCL_OPS = {ReduceOp.SUM: "NCCL_SUM", ReduceOp.AVG: "NCCL_SUM", ReduceOp.MAX: "NCCL_MAX",
             ReduceOp.MIN: "NCCL_MIN"}


class _NCCLRequest:
    """A reduction queued on a CUDA stream; ``wait()`` synchronises that stream."""

    __slots__ = ("stream", "array", "scale")

    def __init__(self, stream, array, scale):
        self.stream, self.array, self.scale = stream, array, scale

    def test(self) -> bool:
        return bool(self.stream.done)

    def wait(self) -> None:
        if self.scale is not None:  # queued on the same stream, after the reduction
            with self.stream:
                self.array *= self.array.dtype.type(self.scale)
            self.scale = None
        self.stream.synchronize()


class NCCLGroup(MPIGroup):
    """CuPy arrays reduced with NCCL; everything else over MPI.

    Each process uses the GPU ``local_rank % device_count`` (``local_rank``: its rank among the
    processes of its node). Written against CuPy's documented ``cupy.cuda.nccl`` API
    (``get_unique_id``, ``NcclCommunicator(ndev, commId, rank)``, ``allReduce``, ``bcast``).
    """

    backend = "nccl"

    def __init__(self, comm=None):
        super().__init__(comm)
        import cupy  # noqa: PLC0415  (optional dependency: minigrad-tensor[cuda12])
        from cupy.cuda import nccl  # noqa: PLC0415

        self.cupy, self.nccl = cupy, nccl
        local = self.comm.Split_type(self.MPI.COMM_TYPE_SHARED)
        self.local_rank = local.Get_rank()
        local.Free()
        cupy.cuda.Device(self.local_rank % cupy.cuda.runtime.getDeviceCount()).use()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = self.comm.bcast(uid, root=0)
        self.nccl_comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self.stream = cupy.cuda.Stream(non_blocking=True)

    def _is_device(self, array) -> bool:
        return not isinstance(array, np.ndarray)

    def _nccl_dtype(self, array):
        name = _NCCL_DTYPES.get(array.dtype.name)
        if name is None:
            raise TypeError(f"nccl: unsupported dtype {array.dtype}")
        return getattr(self.nccl, name)

    def iallreduce(self, array, op: ReduceOp = ReduceOp.SUM):
        if not self._is_device(array):
            return super().iallreduce(array, op)
        scale = self._scale(array, op)
        # the gradient was written on the current stream: the NCCL stream waits for it
        self.stream.wait_event(self.cupy.cuda.get_current_stream().record())
        ptr = array.data.ptr
        self.nccl_comm.allReduce(ptr, ptr, array.size, self._nccl_dtype(array),
                                 getattr(self.nccl, _NCCL_OPS[op]), self.stream.ptr)
        return _NCCLRequest(self.stream, array, scale)

    def allreduce(self, array, op: ReduceOp = ReduceOp.SUM) -> None:
        if not self._is_device(array):
            return super().allreduce(array, op)
        self.iallreduce(array, op).wait()

    def broadcast(self, array, src: int = 0) -> None:
        if not self._is_device(array):
            return super().broadcast(array, src)
        self.stream.wait_event(self.cupy.cuda.get_current_stream().record())
        self.nccl_comm.bcast(array.data.ptr, array.size, self._nccl_dtype(array), src,
                             self.stream.ptr)
        self.stream.synchronize()

    def close(self) -> None:
        self.nccl_comm.destroy()


def install_abort_hook(group: MPIGroup) -> None:
    """On an uncaught exception in any rank: print it (naming the rank), then ``MPI_Abort``,
    so that ``mpiexec`` ends every rank instead of leaving them waiting in a collective."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        try:
            sys.stderr.write(f"minigrad.distributed: rank {group.rank} of {group.size} raised "
                             f"{exc_type.__name__}; aborting all ranks (MPI_Abort)\n")
            traceback.print_exception(exc_type, exc, tb)
            sys.stderr.flush()
        finally:
            if exc_type is KeyboardInterrupt:
                previous(exc_type, exc, tb)
            group.abort(1)

    sys.excepthook = hook
