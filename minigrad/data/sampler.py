"""Samplers: the order in which a :class:`~minigrad.data.DataLoader` visits a dataset.

A sampler yields dataset indices; a :class:`BatchSampler` groups them into batches. Unlike
torch, whose batch sampler yields lists of ints, :class:`BatchSampler` yields int64 NumPy
arrays: a whole batch is then fetched with one fancy index per array, and the epoch's order is
built with one vectorised draw rather than a per-sample Python loop.

Shuffling draws from a :class:`minigrad.backend.Generator`: the sampler's own ``generator`` or,
when it has none, the framework-wide ``minigrad.backend.default_generator`` (seeded by
``minigrad.manual_seed``). Each epoch (each ``iter()``) draws a fresh permutation, so two runs
from the same seed see the same batches and two epochs see different orders. Permutations are
always drawn on the CPU stream, whose state :func:`minigrad.get_rng_state` captures exactly, so
a checkpoint that stores the generator state resumes the same order, on any device.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sized

import numpy as np

from .. import backend
from ..backend import Generator


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(
            "generator must be a minigrad.backend.Generator or None, "
            f"got {type(generator).__name__}"
        )


class Sampler:
    """Base class: an iterable of dataset indices with a length.

    Subclasses implement ``__iter__`` and ``__len__``; they may also implement
    :meth:`indices`, which returns one epoch's whole order as an int64 array (the fast path).
    """

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def indices(self) -> np.ndarray:
        """One epoch's indices as an int64 array (draws a fresh order for random samplers)."""
        return np.fromiter(iter(self), dtype=np.int64)


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source: Sized):
        self.data_source = data_source

    def indices(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh random permutation of the indices every epoch (or draws with replacement).

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw ``num_samples`` indices uniformly with replacement instead.
        num_samples: how many indices per epoch; ``len(data_source)`` by default.
        generator: the :class:`minigrad.backend.Generator` to draw from; the framework's
            default generator when None (looked up at every epoch, so ``manual_seed`` applies).
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Generator | None = None):
        _check_generator(generator)
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement must be a bool, got {replacement!r}")
        if num_samples is not None and (
            not isinstance(num_samples, numbers.Integral) or isinstance(num_samples, bool)
            or num_samples < 1
        ):
            raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
        if num_samples is not None and not replacement and num_samples != len(data_source):
            raise ValueError(
                f"num_samples={num_samples} differs from the dataset's length "
                f"{len(data_source)}: that needs replacement=True"
            )
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = None if num_samples is None else int(num_samples)
        self.generator = generator

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def indices(self) -> np.ndarray:
        gen = self.generator if self.generator is not None else backend.default_generator
        n = len(self.data_source)
        if self.replacement:
            if n == 0:
                raise ValueError("RandomSampler(replacement=True) over an empty dataset")
            return gen.integers(0, n, (self.num_samples,))
        return np.asarray(gen.permutation(n), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """A fresh random order of the given ``indices`` every epoch."""

    def __init__(self, indices, generator: Generator | None = None):
        _check_generator(generator)
        host = backend.to_device(getattr(indices, "array", indices), backend.CPU)  # CuPy too
        idx = np.asarray(host)
        if idx.size and idx.dtype.kind not in "iu":
            raise TypeError(f"SubsetRandomSampler: indices must be integers, got {indices!r}")
        self.idx = idx.astype(np.int64).reshape(-1)
        self.generator = generator

    def indices(self) -> np.ndarray:
        gen = self.generator if self.generator is not None else backend.default_generator
        return self.idx[gen.permutation(len(self.idx))]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return len(self.idx)


class BatchSampler(Sampler):
    """Groups a sampler's indices into batches of ``batch_size`` (int64 arrays).

    Args:
        sampler: a :class:`Sampler` or any iterable of indices with a length.
        batch_size: indices per batch, a positive integer.
        drop_last: drop the last batch when it is smaller than ``batch_size``.

    ``len`` is ``n // batch_size`` with ``drop_last``, else ``ceil(n / batch_size)``.
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool = False):
        if (not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool)
                or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(drop_last, bool):
            raise TypeError(f"drop_last must be a bool, got {drop_last!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def _order(self) -> np.ndarray:
        if hasattr(self.sampler, "indices") and callable(self.sampler.indices):
            order = self.sampler.indices()
        else:  # a plain iterable of ints
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        return order

    def batches(self, order=None) -> Iterator[np.ndarray]:
        """One epoch's batches: the order is drawn now (at the call, not at the first
        ``next``) unless given (e.g. already moved to a GPU), then sliced."""
        if order is None:
            order = self._order()
        n, bs = len(order), self.batch_size
        stop = n - n % bs if self.drop_last else n
        return (order[start:start + bs] for start in range(0, stop, bs))

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.batches()

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _world_default(value, what: str) -> int:
    """``num_replicas`` / ``rank`` from the default process group when not given."""
    if value is not None:
        return value
    from .. import distributed as dist  # noqa: PLC0415  (data does not need MPI otherwise)

    if not dist.is_initialized():
        raise RuntimeError(
            f"DistributedSampler: {what} was not given and the default process group is not "
            "initialised: call minigrad.distributed.init_process_group() first, or pass "
            "num_replicas and rank"
        )
    return dist.get_world_size() if what == "num_replicas" else dist.get_rank()


class DistributedSampler(Sampler):
    """Each of ``num_replicas`` processes gets its own equal-sized shard of the dataset.

    torch's algorithm (``torch.utils.data.DistributedSampler``): with n samples and R
    replicas, every replica gets ``num_samples = ceil(n / R)`` indices; without ``drop_last``
    the epoch's order is padded by repeating its head up to ``total_size = R * num_samples``,
    with ``drop_last`` (when R does not divide n) ``num_samples = ceil((n - R) / R)`` and the
    tail is dropped. Replica r takes ``order[r:total_size:R]``. So the shards of an epoch are
    disjoint and, without padding, cover every sample exactly once; with a batch of B per
    replica, the replicas' batch i together form batch i of one process that reads the same
    order with batch R * B.

    The order is a permutation drawn from a :class:`~minigrad.backend.Generator` seeded with
    ``seed + epoch``, identical on every replica and independent of the framework's RNG
    state. The permutation is minigrad's (NumPy's PCG64), not torch's ``randperm``: the
    shards match torch's for ``shuffle=False`` only. Call :meth:`set_epoch` at the start of
    every epoch (``minigrad.train.fit`` does) for a fresh order each epoch.

    Args:
        dataset: the dataset (only its length is used).
        num_replicas: the number of processes; the default group's world size by default.
        rank: this process's replica, in ``[0, num_replicas)``; the default group's rank.
        shuffle: draw a new permutation each epoch (else ``0 .. n-1`` in order).
        seed: the permutation's seed; must be the same on every replica.
        drop_last: drop the tail to make the shards equal instead of padding them.
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        num_replicas = _world_default(num_replicas, "num_replicas")
        rank = _world_default(rank, "rank")
        for name, v in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool):
                raise TypeError(f"DistributedSampler: {name} must be an integer, got {v!r}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be positive, "
                             f"got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas - 1}], "
                             f"got {rank}")
        if seed < 0:
            raise ValueError(f"DistributedSampler: seed must be non-negative, got {seed}")
        for name, v in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(v, bool):
                raise TypeError(f"DistributedSampler: {name} must be a bool, got {v!r}")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % self.num_replicas:
            self.num_samples = -(-(n - self.num_replicas) // self.num_replicas)
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` (the permutation's seed is ``seed + epoch``)."""
        if not isinstance(epoch, numbers.Integral) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(f"DistributedSampler.set_epoch: epoch must be a non-negative "
                             f"integer, got {epoch!r}")
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            order = Generator(self.seed + self.epoch).permutation(n).astype(np.int64)
        else:
            order = np.arange(n, dtype=np.int64)
        if self.total_size > n:  # pad with the head, repeated as often as needed
            order = np.resize(order, self.total_size) if n else order
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def state_dict(self) -> dict:
        return {"epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.set_epoch(state["epoch"])
