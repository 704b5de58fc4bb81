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
        self.idx = np.asarray(host, dtype=np.int64).reshape(-1)
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
