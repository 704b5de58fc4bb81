"""minigrad.distributed: data parallelism across processes and machines, over MPI.

Every process runs the same script; ``mpiexec`` starts them and MPI connects them::

    mpiexec -n 4 python3 train.py

    import minigrad.distributed as dist
    dist.init_process_group("mpi")               # world size 1 without mpiexec
    model = nn.parallel.DistributedDataParallel(model)
    sampler = data.DistributedSampler(dataset)   # each rank its own shard
    ...                                          # the ordinary training loop

The functions follow ``torch.distributed``'s names and act in place on tensors:
:func:`broadcast`, :func:`all_reduce` (``ReduceOp.SUM``, ``AVG``, ``MAX``, ``MIN``),
:func:`barrier`. Backends: ``"mpi"`` (mpi4py; install ``minigrad-tensor[mpi]``, which brings the
``mpich`` wheel and its ``mpiexec``) and ``"nccl"`` (CuPy arrays through ``cupy.cuda.nccl``, the
communicator's id broadcast over MPI). After :func:`init_process_group` with more than one
process, an uncaught exception on any rank aborts every rank (``MPI_Abort``) rather than
leaving the others waiting in a collective.
"""

from __future__ import annotations

import os

from ..tensor import Tensor
from .group import LocalGroup, MPIGroup, NCCLGroup, ReduceOp, check_op, install_abort_hook

BACKENDS = ("mpi", "nccl")
# set by mpiexec (MPICH/hydra: PMI_*, Open MPI: OMPI_*), Slurm's srun: a multi-process launch
_LAUNCHER_VARS = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "SLURM_NTASKS")

_group = None


def _launched_by_mpi() -> bool:
    return any(v in os.environ for v in _LAUNCHER_VARS)


def init_process_group(backend: str = "mpi", *, comm=None, abort_on_exception: bool = True):
    """Join the processes started by ``mpiexec`` into the default process group.

    Args:
        backend: ``"mpi"`` (every array over MPI; CuPy arrays staged through the host) or
            ``"nccl"`` (CuPy arrays over NCCL, one GPU per process, host arrays over MPI).
        comm: an mpi4py communicator to use instead of ``MPI.COMM_WORLD``.
        abort_on_exception: install a ``sys.excepthook`` that calls ``MPI_Abort`` when a
            rank dies of an uncaught exception (only with more than one process).

    Without ``mpiexec`` the world is this one process. If mpi4py is not installed and no MPI
    launcher started this process, that world of one is made without MPI.

    Raises:
        ValueError: an unknown backend.
        RuntimeError: already initialised.
        ImportError: mpi4py (or CuPy, for nccl) is missing where it is needed.
    """
    global _group
    if backend not in BACKENDS:
        raise ValueError(f"init_process_group: backend must be one of {BACKENDS}, "
                         f"got {backend!r}")
    if _group is not None:
        raise RuntimeError("init_process_group: the default process group is already "
                           "initialised (call destroy_process_group first)")
    try:
        import mpi4py  # noqa: F401, PLC0415
    except ImportError as err:
        if comm is None and not _launched_by_mpi() and backend == "mpi":
            _group = LocalGroup()
            return _group
        raise ImportError("init_process_group: the MPI backend needs mpi4py and an MPI "
                          "library: pip install 'minigrad-tensor[mpi]' (mpi4py and the mpich "
                          "wheel)") from err
    group = NCCLGroup(comm) if backend == "nccl" else MPIGroup(comm)
    if abort_on_exception and group.size > 1:
        install_abort_hook(group)
    _group = group
    return group


def _default_group():
    if _group is None:
        raise RuntimeError("minigrad.distributed: the default process group is not "
                           "initialised; call minigrad.distributed.init_process_group() first")
    return _group


def is_initialized() -> bool:
    """True between :func:`init_process_group` and :func:`destroy_process_group`."""
    return _group is not None


def get_rank() -> int:
    """This process's rank in the default group, 0 .. world_size - 1."""
    return _default_group().rank


def get_world_size() -> int:
    """The number of processes in the default group."""
    return _default_group().size


def get_backend() -> str:
    """'mpi', 'nccl', or 'local' (one process without MPI)."""
    return _default_group().backend


def barrier() -> None:
    """Wait until every process has reached this call."""
    _default_group().barrier()


def _array_of(tensor: Tensor, name: str):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: expected a minigrad Tensor, got {type(tensor).__name__}")
    return tensor.array


def in_logical_order(arr, fn) -> None:
    """Run ``fn`` (a collective acting in place on contiguous memory) on ``arr``'s values in
    their logical (C) order: on ``arr`` itself when it is C-contiguous, else through a
    C-contiguous copy written back.

    Why not on the memory of an F-contiguous array (an ``nn.Linear`` weight) directly: the
    ranks' layouts of the same tensor may differ (one rank loaded a checkpoint into a new
    array, another kept its column-major one), and a collective pairs elements by memory
    position; the logical order pairs them by index whatever the layouts. It costs one copy
    of a weight at a broadcast (``DistributedDataParallel`` gradients travel in C-contiguous
    buckets, so not at every step)."""
    if arr.flags.c_contiguous:
        fn(arr)
    else:
        from ..backend import get_array_module  # noqa: PLC0415

        tmp = get_array_module(arr).ascontiguousarray(arr)
        fn(tmp)
        arr[...] = tmp


def _in_place(tensor: Tensor, name: str, fn) -> None:
    """Run ``fn(array)`` on the tensor's array, in its logical order (:func:`in_logical_order`:
    through a contiguous copy when it is strided)."""
    in_logical_order(_array_of(tensor, name), fn)
    tensor._bump_version()


def broadcast(tensor: Tensor, src: int = 0) -> Tensor:
    """Copy rank ``src``'s values of ``tensor`` into ``tensor`` on every rank (in place).

    Returns:
        ``tensor``.
    """
    group = _default_group()
    if not 0 <= src < group.size:
        raise ValueError(f"broadcast: src must be a rank in [0, {group.size}), got {src!r}")
    _in_place(tensor, "broadcast", lambda a: group.broadcast(a, src))
    return tensor


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM) -> Tensor:
    """Replace ``tensor`` on every rank by the reduction of its values over all ranks.

    Args:
        tensor: the same shape and dtype on every rank.
        op: ``ReduceOp.SUM``, ``AVG`` (sum / world size; floats only), ``MAX`` or ``MIN``.

    Returns:
        ``tensor``, reduced in place.
    """
    op = check_op(op)
    group = _default_group()
    if op is ReduceOp.AVG and _array_of(tensor, "all_reduce").dtype.kind != "f":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a float tensor, got "
                        f"{tensor.array.dtype}")
    _in_place(tensor, "all_reduce", lambda a: group.allreduce(a, op))
    return tensor


def destroy_process_group() -> None:
    """Leave the default group (MPI itself is finalized when the process exits)."""
    global _group
    if _group is not None:
        _group.close()
    _group = None


def default_group_or_none():
    """The default group, or None before :func:`init_process_group` (for library code that
    works with or without one)."""
    return _group


__all__ = ["BACKENDS", "ReduceOp", "all_reduce", "barrier", "broadcast",
           "destroy_process_group", "get_backend", "get_rank", "get_world_size",
           "init_process_group", "is_initialized"]
