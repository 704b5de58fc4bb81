"""Datasets: the ``__len__`` / ``__getitem__`` protocol, TensorDataset, Subset, random_split.

A dataset may also offer ``get_batch(indices)`` returning a whole batch at once (already
collated); :class:`~minigrad.data.DataLoader` uses it when present and no ``collate_fn`` was
given. :class:`TensorDataset` and :class:`Subset` do, with one fancy index per array per batch.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from .. import backend
from ..backend import Array, Device, DeviceLike, Generator, device_of, get_array_module
from ..tensor import Tensor
from .sampler import _check_generator


class Dataset:
    """Base class of map-style datasets: implement ``__getitem__(i)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


def _check_index(index, n: int, who: str) -> int:
    if not isinstance(index, numbers.Integral) or isinstance(index, bool):
        raise TypeError(f"{who} indices must be integers, got {type(index).__name__} {index!r}")
    i = int(index)
    if not -n <= i < n:
        raise IndexError(f"{who} index {i} is out of range for a dataset of length {n}")
    return i + n if i < 0 else i


def _index_array(index, n: int, device: Device) -> Array:
    """Integer (or boolean mask) indices as an int64 index array on ``device``, checked."""
    if get_array_module(index) is not np:
        index = backend.to_device(index, backend.CPU)
    idx = np.asarray(index)
    if idx.dtype == np.bool_:
        if idx.shape != (n,):
            raise IndexError(f"TensorDataset: a boolean mask must have shape ({n},), got "
                             f"{idx.shape}")
        idx = np.flatnonzero(idx)
    if idx.size and idx.dtype.kind not in "iu":
        raise TypeError(f"TensorDataset indices must be integers, got dtype {idx.dtype}")
    idx = idx.astype(np.int64).reshape(-1)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)][0]
        raise IndexError(f"TensorDataset index {int(bad)} is out of range for a dataset of "
                         f"length {n}")
    return idx if device.type == "cpu" else backend.to_device(idx, device)


def _to_array(x, device: Device | None) -> Array:
    """The raw array of a tensor, array or nested list; float data in the default float dtype."""
    if isinstance(x, Tensor):
        arr = x.array  # a tensor already has the dtype its maker chose
    else:
        if isinstance(x, (str, bytes)) or x is None or np.isscalar(x):
            raise TypeError(
                f"TensorDataset takes arrays or tensors with a leading sample dimension, "
                f"got {type(x).__name__} {x!r}"
            )
        xp = get_array_module(x)
        arr = xp.asarray(x)
        if arr.dtype.kind == "f" and arr.dtype != backend.get_default_dtype():
            arr = arr.astype(backend.get_default_dtype())
        elif arr.dtype.kind not in "biuf":
            raise TypeError(
                f"TensorDataset takes numeric arrays, got dtype {arr.dtype}"
            )
    if arr.ndim == 0:
        raise ValueError(
            "TensorDataset takes arrays with a leading sample dimension, got a 0-d one"
        )
    if device is not None and device_of(arr) != device:
        arr = backend.to_device(arr, device)
    return arr


class TensorDataset(Dataset):
    """Samples are the rows of arrays or tensors sharing their first dimension.

    ``dataset[i]`` is ``tuple(Tensor(a[i]) for a in arrays)``. Float NumPy/CuPy arrays (or lists)
    are converted to the default float dtype (float32) **once, here**, as ``minigrad.tensor``
    would (a float64 array becomes float32); integer labels keep their dtype (int64 from Python
    ints); Tensors keep theirs. Nothing is converted per batch.

    Args:
        *arrays: NumPy or CuPy arrays, Tensors or nested lists, all of the same length.
        device: move the arrays there once (e.g. ``'cuda'``: then batches never cross the bus).
    """

    def __init__(self, *arrays, device: DeviceLike = None):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        dev = Device(device) if device is not None else None
        data = tuple(_to_array(a, dev) for a in arrays)
        lengths = [a.shape[0] for a in data]
        if any(n != lengths[0] for n in lengths):
            raise ValueError(
                f"TensorDataset arrays must have the same length (first dimension), got lengths "
                f"{lengths}"
            )
        devices = {device_of(a) for a in data}
        if len(devices) > 1:
            raise ValueError(
                f"TensorDataset arrays must live on one device, got {sorted(map(str, devices))}; "
                "pass device=... to move them"
            )
        self.arrays: tuple[Array, ...] = data
        self.device: Device = device_of(data[0])

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The arrays as Tensors (sharing memory)."""
        return tuple(Tensor._wrap(a) for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index) -> tuple[Tensor, ...]:
        """Sample ``index``; or, as torch's, the stacked samples of a slice (``ds[0:5]``) or
        of a sequence, array or Tensor of indices."""
        if isinstance(index, slice):
            return tuple(Tensor._wrap(a[index]) for a in self.arrays)
        if isinstance(index, (list, tuple, np.ndarray, Tensor)) or (
                get_array_module(index) is not np):
            idx = index.array if isinstance(index, Tensor) else index
            return self.get_batch(_index_array(idx, len(self), self.device))
        i = _check_index(index, len(self), "TensorDataset")
        return tuple(Tensor._wrap(a[i]) for a in self.arrays)

    def get_batch(self, indices: Array) -> tuple[Tensor, ...]:
        """One batch: one fancy index per array (``indices`` on this dataset's device)."""
        wrap = Tensor._wrap
        if type(indices) is np.ndarray:
            return tuple([wrap(a[indices]) for a in self.arrays])
        with backend.on_device_of(indices):  # CuPy gathers on its current device (cuda:N)
            return tuple([wrap(a[indices]) for a in self.arrays])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices: Sequence[int] | np.ndarray):
        if get_array_module(indices) is not np:  # CuPy indices: kept on the host here
            indices = backend.to_device(indices, backend.CPU)
        idx = np.asarray(indices if len(indices) else [], dtype=np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = idx[(idx < -n) | (idx >= n)][0]
            raise IndexError(
                f"Subset index {int(bad)} is out of range for a dataset of length {n}"
            )
        self.dataset = dataset
        self.indices = np.where(idx < 0, idx + n, idx)
        self._device_indices: dict = {}
        if hasattr(dataset, "get_batch"):
            self.get_batch = self._get_batch_fast
            self.device = getattr(dataset, "device", backend.CPU)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        i = _check_index(index, len(self), "Subset")
        return self.dataset[int(self.indices[i])]

    def _get_batch_fast(self, indices: Array):
        xp = get_array_module(indices)
        if xp is np:
            return self.dataset.get_batch(self.indices[indices])
        dev = device_of(indices)
        mine = self._device_indices.get(dev)
        if mine is None:  # copied to the GPU once, not per batch
            mine = self._device_indices[dev] = backend.to_device(self.indices, dev)
        return self.dataset.get_batch(mine[indices])


def _lengths_from(lengths: Sequence, n: int) -> list[int]:
    """Integer lengths, or fractions turned into lengths with torch's rounding rule."""
    if not isinstance(lengths, Sequence) or isinstance(lengths, (str, bytes)) or not lengths:
        raise TypeError(
            f"lengths must be a non-empty sequence of ints or fractions, got {lengths!r}"
        )
    for x in lengths:
        if not isinstance(x, numbers.Real) or isinstance(x, bool) or x < 0:
            raise ValueError(f"lengths must be non-negative ints or fractions, got {list(lengths)}")
    if all(isinstance(x, numbers.Integral) for x in lengths):
        out = [int(x) for x in lengths]
        if sum(out) != n:
            raise ValueError(
                f"random_split lengths {out} add up to {sum(out)}, but the dataset has {n} samples"
            )
        return out
    total = math.fsum(lengths)
    if not (math.isclose(total, 1.0) and total <= 1.0 + 1e-12) or any(x > 1 for x in lengths):
        raise ValueError(
            f"random_split fractions {list(lengths)} must each be in [0, 1] and add up to 1, "
            f"got a sum of {total}"
        )
    # torch's rule: floor each share, then hand the remainder out one by one from the first.
    out = [int(math.floor(n * frac)) for frac in lengths]
    for i in range(n - sum(out)):
        out[i % len(out)] += 1
    return out


def random_split(dataset, lengths: Sequence, generator: Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given lengths.

    Args:
        dataset: any dataset with a length.
        lengths: integer lengths adding up to ``len(dataset)``, or fractions adding up to 1
            (``floor(n * f)`` each, then the remainder is handed out one sample at a time
            round-robin from the first subset, as in torch).
        generator: the :class:`minigrad.backend.Generator` of the permutation (the framework
            default when None).
    """
    _check_generator(generator)
    n = len(dataset)
    sizes = _lengths_from(lengths, n)
    gen = generator if generator is not None else backend.default_generator
    perm = np.asarray(gen.permutation(n), dtype=np.int64)
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, perm[start:start + size]))
        start += size
    return out
