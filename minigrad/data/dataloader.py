"""DataLoader: batches of Tensors from a dataset, shuffled afresh every epoch.

Fast path: when the dataset offers ``get_batch`` (as :class:`TensorDataset` and
:class:`Subset` do) and no ``collate_fn`` is given, each batch is one fancy index per array
with an int64 index array sliced from the epoch's order; no per-sample Python loop. Otherwise
samples are fetched one by one and stacked by :func:`default_collate`.

Reproducibility and resuming: the shuffle order is drawn at the start of each epoch (each
``iter(loader)``) from the loader's ``generator``, or from the framework's default generator
when it has none. With the default generator, ``minigrad.get_rng_state()`` saved at an epoch's
end is all a checkpoint needs to replay the following epochs' orders. With an own generator,
save :meth:`DataLoader.state_dict` too (it holds that generator's state and the epoch count).
"""

from __future__ import annotations

import collections.abc as cabc
import itertools
import numbers
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout

import numpy as np

from .. import backend
from ..backend import Device, DeviceLike, Generator, device_of, get_array_module
from ..tensor import Tensor
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler


def _stack_arrays(arrays: list, what: str):
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(
            f"default_collate: cannot stack {what} of different shapes {sorted(shapes)}"
        )
    devices = {device_of(a) for a in arrays}
    if len(devices) > 1:
        raise ValueError(
            f"default_collate: cannot stack {what} on different devices "
            f"{sorted(map(str, devices))}"
        )
    with backend.on_device_of(arrays[0]):  # CuPy allocates on its current device
        return get_array_module(arrays[0]).stack(arrays)


def default_collate(batch: list):
    """Stack a list of samples into a batch, recursively.

    - Tensors and NumPy/CuPy arrays (and NumPy scalars) are stacked along a new first axis into
      one Tensor; float arrays become the default float dtype (float32), as ``minigrad.tensor``
      does; Tensors keep their dtype.
    - Python numbers become a 1-d Tensor: bools -> bool, ints -> int64, floats -> float32.
    - Mappings are collated key by key; tuples, lists and namedtuples element by element
      (every sample must have the same keys / length).
    - Strings, bytes and None are returned as a list.
    """
    if not isinstance(batch, (list, tuple)) or len(batch) == 0:
        raise ValueError(f"default_collate takes a non-empty list of samples, got {batch!r}")
    elem = batch[0]
    if isinstance(elem, Tensor):
        if not all(isinstance(b, Tensor) for b in batch):
            raise TypeError("default_collate: a batch mixes Tensors with other types")
        return Tensor._wrap(_stack_arrays([b.array for b in batch], "tensors"))
    if isinstance(elem, (str, bytes)) or elem is None:
        return list(batch)
    if isinstance(elem, bool):
        return Tensor._wrap(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral) and not isinstance(elem, np.generic):
        return Tensor._wrap(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real) and not isinstance(elem, np.generic):
        return Tensor._wrap(np.asarray(batch, dtype=backend.get_default_dtype()))
    if isinstance(elem, np.generic) or hasattr(elem, "__array__") or hasattr(elem, "shape"):
        arrays = [get_array_module(b).asarray(b) for b in batch]
        if arrays[0].dtype.kind not in "biuf":
            raise TypeError(f"default_collate: cannot batch arrays of dtype {arrays[0].dtype}")
        out = _stack_arrays(arrays, "arrays")
        if out.dtype.kind == "f" and out.dtype != backend.get_default_dtype():
            out = out.astype(backend.get_default_dtype())
        return Tensor._wrap(out)
    if isinstance(elem, cabc.Mapping):
        keys = list(elem.keys())
        for b in batch:
            if not isinstance(b, cabc.Mapping) or set(b.keys()) != set(keys):
                raise ValueError(
                    f"default_collate: samples have different keys: {sorted(map(str, keys))} vs "
                    f"{sorted(map(str, b.keys())) if isinstance(b, cabc.Mapping) else b!r}"
                )
        out = {k: default_collate([b[k] for b in batch]) for k in keys}
        return out if type(elem) is dict else _rebuild_mapping(elem, out)
    if isinstance(elem, (tuple, list)):
        n = len(elem)
        for b in batch:
            if not isinstance(b, (tuple, list)) or len(b) != n:
                raise ValueError(
                    f"default_collate: samples have different lengths: {n} vs "
                    f"{len(b) if isinstance(b, (tuple, list)) else b!r}"
                )
        fields = [default_collate([b[i] for b in batch]) for i in range(n)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(
        f"default_collate: cannot batch samples of type {type(elem).__name__}; expected "
        "Tensors, arrays, numbers, strings, None, or tuples/lists/dicts of them"
    )


def _rebuild_mapping(elem, out: dict):
    try:
        return type(elem)(out)
    except TypeError:
        return out


def _move(batch, device: Device):
    """Move every Tensor in a (nested) batch to ``device``."""
    if isinstance(batch, Tensor):
        if device_of(batch.array) == device:
            return batch
        return Tensor._wrap(backend.to_device(batch.array, device))
    if isinstance(batch, dict):
        return {k: _move(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_move(v, device) for v in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(_move(v, device) for v in batch)
    return batch


class DataLoader:
    """Iterates over a dataset in batches of Tensors.

    Args:
        dataset: a map-style dataset (``__len__`` and ``__getitem__``).
        batch_size: samples per batch (a positive integer).
        shuffle: draw a fresh random order every epoch.
        sampler: a custom :class:`Sampler` of indices (not with ``shuffle``).
        batch_sampler: a custom sampler of index batches (not with ``batch_size``, ``shuffle``,
            ``sampler`` or ``drop_last``).
        drop_last: drop the last incomplete batch.
        collate_fn: turns a list of samples into a batch; :func:`default_collate` by default.
        generator: the :class:`minigrad.backend.Generator` of the shuffle; the framework
            default (``minigrad.manual_seed``) when None.
        device: put every batch on this device. A :class:`TensorDataset` already on that
            device (``TensorDataset(..., device='cuda')``) is indexed there: nothing crosses
            the bus but the epoch's index order, once.
        num_workers: with 0 (the default) batches are made in the loop that asks for them;
            with n > 0, n background **threads** prepare the next batches while the training
            step runs, and the loader yields exactly the batches of ``num_workers=0``, in the
            same order (the epoch's order is drawn first, on the calling thread, from the same
            generator; each batch is a pure function of its indices).
            Threads, not torch's processes: batching here is NumPy/CuPy indexing, which
            releases the GIL, so threads overlap it with compute without pickling the dataset
            or copying batches between processes, work the same on every OS (no fork/spawn
            difference) and share the one seeded generator. A ``__getitem__`` that is pure
            Python and CPU-bound gains little from threads; a dataset that draws random
            augmentations from a shared generator during loading gets its draws in a
            thread-dependent order (torch seeds each worker separately, with the same effect).
        prefetch_factor: batches prepared ahead per worker (default 2, as torch); only with
            ``num_workers > 0``.
        persistent_workers: keep the worker threads between epochs (only with
            ``num_workers > 0``).
        pin_memory: accepted for torch compatibility; batches are placed by ``device=``
            (page-locked host buffers would matter only for CuPy transfers, not done here).
        timeout: seconds to wait for a worker's batch (0: forever).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker thread.

    ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 sampler: Sampler | None = None, batch_sampler=None, drop_last: bool = False,
                 collate_fn: Callable | None = None, generator: Generator | None = None,
                 device: DeviceLike = None, num_workers: int = 0, pin_memory: bool = False,
                 timeout: float = 0, worker_init_fn: Callable | None = None,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = ""):
        _check_sampling(dataset, batch_size, shuffle, sampler, batch_sampler, drop_last,
                        collate_fn, generator)
        _check_workers(num_workers, prefetch_factor, persistent_workers, timeout,
                       worker_init_fn)
        user_batch_sampler = batch_sampler is not None
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = (getattr(batch_sampler, "batch_size", None) if user_batch_sampler
                           else batch_size)
        self.shuffle = shuffle
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.generator = generator
        self.device = Device(device) if device is not None else None
        self.num_workers = int(num_workers)
        self.prefetch_factor = (2 if prefetch_factor is None else int(prefetch_factor)) \
            if num_workers else None
        self.persistent_workers = persistent_workers
        self.pin_memory = bool(pin_memory)
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self._pool = None  # the persistent workers' thread pool
        self.epoch = 0  # epochs started so far (each iter() starts one)

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator:
        self.epoch += 1
        if self.num_workers:
            return self._iter_workers()
        if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            return self._iter_fast()
        return self._iter_samples()

    # ----------------------------------------------------------------- background workers
    def _plan(self) -> tuple:
        """(the epoch's index batches, drawn now; the function making one batch from them):
        the same batches, in the same order, as the single-threaded paths."""
        dev = self.device
        if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            data_dev = getattr(self.dataset, "device", backend.CPU)
            bs = self.batch_sampler
            if isinstance(bs, BatchSampler):
                order = bs._order()
                _check_order(order, len(self.dataset))
                if data_dev.type != "cpu":
                    order = backend.to_device(order, data_dev)
                n, size = len(order), bs.batch_size
                stop = n - n % size if bs.drop_last else n
                batches = [order[i:i + size] for i in range(0, stop, size)]
            else:
                n = len(self.dataset)
                batches = [_as_index_array(b, n, data_dev) for b in bs]
            get_batch = self.dataset.get_batch
            if dev is None or dev == data_dev:
                return batches, get_batch
            return batches, lambda idx: _move(get_batch(idx), dev)
        bs = self.batch_sampler
        batches = list(bs.batches() if isinstance(bs, BatchSampler) else bs)
        collate, dataset = self.collate_fn or default_collate, self.dataset

        def make(idx):
            batch = collate([dataset[int(i)] for i in idx])
            return batch if dev is None else _move(batch, dev)

        return batches, make

    def _workers(self):
        if self._pool is not None:
            return self._pool
        counter = iter(range(self.num_workers))
        init = self.worker_init_fn
        pool = ThreadPoolExecutor(
            self.num_workers, thread_name_prefix="minigrad-DataLoader",
            initializer=(lambda: init(next(counter))) if init is not None else None)
        if self.persistent_workers:
            self._pool = pool
        return pool

    def _iter_workers(self) -> Iterator:
        batches, make = self._plan()
        pool = self._workers()
        return _prefetched(batches, make, pool, self.num_workers * self.prefetch_factor,
                           self.timeout or None, own_pool=pool is not self._pool)

    def _iter_fast(self) -> Iterator:
        data_dev = getattr(self.dataset, "device", backend.CPU)
        bs = self.batch_sampler
        if not isinstance(bs, BatchSampler):
            n = len(self.dataset)
            return self._fetch((_as_index_array(b, n, data_dev) for b in bs), data_dev)
        order = bs._order()  # drawn now, at iter(), not at the first next()
        _check_order(order, len(self.dataset))
        if data_dev.type != "cpu":  # the epoch's order crosses the bus once
            order = backend.to_device(order, data_dev)
        n, size = len(order), bs.batch_size
        stop = n - n % size if bs.drop_last else n
        if self.device is None or self.device == data_dev:
            return self._slices(order, size, stop)
        return self._fetch((order[i:i + size] for i in range(0, stop, size)), data_dev)

    def _slices(self, order, size: int, stop: int) -> Iterator:
        get_batch = self.dataset.get_batch
        for start in range(0, stop, size):  # the hot loop: one slice, one fancy index per array
            yield get_batch(order[start:start + size])

    def _fetch(self, batches, data_dev: Device) -> Iterator:
        get_batch, dev = self.dataset.get_batch, self.device
        if dev is None or dev == data_dev:
            for idx in batches:
                yield get_batch(idx)
        else:
            for idx in batches:
                yield _move(get_batch(idx), dev)

    def _iter_samples(self) -> Iterator:
        batch_sampler = self.batch_sampler
        if isinstance(batch_sampler, BatchSampler):  # draw the order now, at iter()
            batch_sampler = batch_sampler.batches()
        return self._collated(batch_sampler)

    def _collated(self, batch_sampler) -> Iterator:
        collate = self.collate_fn or default_collate
        dataset, dev = self.dataset, self.device
        for idx in batch_sampler:
            batch = collate([dataset[int(i)] for i in idx])
            yield batch if dev is None else _move(batch, dev)

    # ----------------------------------------------------------------- resuming
    def state_dict(self) -> dict:
        """The epoch count and the state of the loader's own generator (None when it uses
        the framework's default generator, whose state ``minigrad.get_rng_state`` holds)."""
        gen = self.generator
        return {"epoch": self.epoch, "generator": None if gen is None else gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`: the next ``iter()`` draws the order it would have drawn."""
        try:
            epoch = int(state["epoch"])
            gen_state = state["generator"]
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a DataLoader state dict: {state!r}") from err
        if (gen_state is None) != (self.generator is None):
            raise ValueError(
                "DataLoader.load_state_dict: the state was saved from a loader "
                f"{'without' if gen_state is None else 'with'} its own generator, but this "
                f"loader has {'one' if self.generator is not None else 'none'}"
            )
        if gen_state is not None:
            self.generator.set_state(gen_state)
        self.epoch = epoch

    def __repr__(self) -> str:
        return (f"DataLoader(dataset={type(self.dataset).__name__}(len={len(self.dataset)}), "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, batches={len(self)})")


def _prefetched(batches, make, pool, depth: int, timeout, own_pool: bool) -> Iterator:
    """Yield ``make(b)`` for each b in order, with up to ``depth`` batches in the making."""
    pending: deque = deque()
    todo = iter(batches)
    try:
        for b in itertools.islice(todo, depth):
            pending.append(pool.submit(make, b))
        while pending:
            try:
                batch = pending.popleft().result(timeout=timeout)
            except FuturesTimeout:
                raise RuntimeError(
                    f"DataLoader timed out after {timeout} seconds waiting for a batch"
                ) from None
            for b in itertools.islice(todo, 1):
                pending.append(pool.submit(make, b))
            yield batch
    finally:  # also on break or an error: stop the batches not yet started
        for f in pending:
            f.cancel()
        if own_pool:
            pool.shutdown(wait=False, cancel_futures=True)


def _check_sampling(dataset, batch_size, shuffle, sampler, batch_sampler, drop_last,
                    collate_fn, generator) -> None:
    """DataLoader's dataset and its options of order and batching, checked as torch does."""
    if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        raise TypeError(
            f"DataLoader needs a map-style dataset with __len__ and __getitem__, "
            f"got {type(dataset).__name__}"
        )
    if (not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool)
            or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(
            f"generator must be a minigrad.backend.Generator or None, "
            f"got {type(generator).__name__}"
        )
    if collate_fn is not None and not callable(collate_fn):
        raise TypeError(f"collate_fn must be callable, got {collate_fn!r}")
    if sampler is not None and shuffle:
        raise ValueError(
            "shuffle=True cannot be combined with a sampler: the sampler decides the order "
            "(use RandomSampler(dataset) for a shuffled order)"
        )
    if batch_sampler is not None:
        if sampler is not None:
            raise ValueError("sampler cannot be combined with batch_sampler")
        if shuffle or batch_size != 1 or drop_last:
            raise ValueError(
                "batch_sampler cannot be combined with shuffle, batch_size or drop_last "
                f"(got shuffle={shuffle}, batch_size={batch_size}, drop_last={drop_last})"
            )


def _check_workers(num_workers, prefetch_factor, persistent_workers, timeout,
                   worker_init_fn) -> None:
    if (not isinstance(num_workers, numbers.Integral) or isinstance(num_workers, bool)
            or num_workers < 0):
        raise ValueError(f"num_workers option should be a non-negative integer, got "
                         f"{num_workers!r}")
    if prefetch_factor is not None:
        if num_workers == 0:
            raise ValueError("prefetch_factor option could only be specified with "
                             "num_workers > 0 (background workers)")
        if not isinstance(prefetch_factor, numbers.Integral) or prefetch_factor < 1:
            raise ValueError(f"prefetch_factor must be a positive integer, got "
                             f"{prefetch_factor!r}")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    if not isinstance(timeout, numbers.Real) or timeout < 0:
        raise ValueError(f"timeout option should be non-negative, got {timeout!r}")
    if worker_init_fn is not None and not callable(worker_init_fn):
        raise TypeError(f"worker_init_fn must be callable, got {worker_init_fn!r}")


def _check_order(order: np.ndarray, n: int) -> None:
    if order.size and (order.min() < 0 or order.max() >= n):
        bad = order[(order < 0) | (order >= n)][0]
        raise IndexError(f"sampler index {int(bad)} is out of range for a dataset of length {n}")


def _as_index_array(batch, n: int, device: Device):
    if get_array_module(batch) is not np:  # already a CuPy index array
        _check_order(batch, n)  # CuPy would wrap an out-of-range index
        return batch
    idx = np.asarray(batch, dtype=np.int64).reshape(-1)
    _check_order(idx, n)
    return idx if device.type == "cpu" else backend.to_device(idx, device)
