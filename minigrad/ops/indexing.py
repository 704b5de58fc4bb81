"""Integer indices on both backends: bounds checks, and a deterministic scatter-add.

Two things differ between NumPy and CuPy here, and each is handled once, in this module:

* **Bounds.** NumPy raises ``IndexError`` for an integer index array with an entry outside
  ``[-n, n)``; CuPy takes it modulo ``n`` and silently reads or writes the wrong element.
  :func:`array_index` checks every integer index array against its axis first, on both
  backends, so both raise the same ``IndexError`` (one reduction, one device sync, per array).
* **Accumulating repeated indices** (``out[index] += values`` where ``index`` repeats a
  position: the backward of advanced indexing and of embedding). ``cupyx.scatter_add`` adds
  with atomics, whose order varies from run to run, so float32 sums differ in the last bits
  between identical seeded runs. On CuPy, :func:`scatter_add` therefore sorts by target
  position (a stable sort) and sums each run of equal positions as a pairwise tree in a fixed
  order, then writes each position once (:func:`sorted_scatter_add`): the same bits on every
  run. ``minigrad.use_deterministic_algorithms(False)`` switches CuPy to
  ``cupyx.scatter_add`` (atomic: faster, not bit-reproducible). On NumPy, ``numpy.add.at``
  adds in index order: deterministic already, so it serves in both modes (on the CPU it is
  much faster than sorting for narrow rows, and within 2x either way for wide ones:
  benchmarks/bench_scatter.py, figures in BENCHMARKS.md).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..backend import Array, get_array_module


def _is_bool_array(i) -> bool:
    return hasattr(i, "dtype") and i.dtype.kind == "b"


def _is_int_array(i) -> bool:
    return hasattr(i, "dtype") and hasattr(i, "ndim") and i.dtype.kind in "iu"


def check_bounds(index, shape: tuple) -> None:
    """Raise ``IndexError`` if an integer index array in ``index`` (an item or a tuple of
    ints, slices, None, Ellipsis, integer or bool arrays) has an entry outside ``[-n, n)`` of
    the axis it indexes; NumPy's message, raised on both backends."""
    items = index if isinstance(index, tuple) else (index,)
    if not any(_is_int_array(i) for i in items):
        return
    explicit = sum(i.ndim if _is_bool_array(i) else 1 for i in items
                   if i is not None and i is not Ellipsis)
    axis = 0
    for i in items:
        if i is None:
            continue
        if i is Ellipsis:
            axis += len(shape) - explicit
        elif _is_bool_array(i):
            axis += i.ndim
        else:
            if _is_int_array(i) and i.size and axis < len(shape):
                _check_axis(i, axis, shape[axis])
            axis += 1


def _check_axis(i: Array, axis: int, n: int) -> None:
    lo, hi = (int(v) for v in get_array_module(i).stack([i.min(), i.max()]).tolist())
    if lo < -n or hi >= n:
        bad = lo if lo < -n else hi
        raise IndexError(f"index {bad} is out of bounds for axis {axis} with size {n}")


_PLAIN = frozenset({int, slice, type(None), type(Ellipsis), np.ndarray, bool})


def array_index(index, like: Array):
    """``index`` ready to index the array ``like``: its integer and bool arrays on ``like``'s
    device (a NumPy index for a CuPy array is copied over, and back), bounds checked (NumPy
    checks its own, with the same message)."""
    if type(like) is np.ndarray and (
        type(index) in _PLAIN
        or type(index) is tuple and all(type(i) in _PLAIN for i in index)
    ):
        return index
    if isinstance(index, tuple):
        index = tuple(_on_device(i, like) for i in index)
    else:
        index = _on_device(index, like)
    check_bounds(index, like.shape)
    return index


def _on_device(i, like: Array):
    if not hasattr(i, "dtype") or isinstance(i, (numbers.Number, np.generic)):
        return i
    if type(like) is np.ndarray and type(i) is np.ndarray:
        return i
    return backend.to_device(i, backend.device_of(like))


# ----------------------------------------------------------------------------- scatter-add


def scatter_add(shape: tuple, index, values: Array, deterministic: bool | None = None) -> Array:
    """``zeros(shape)`` with ``values`` added at ``index`` (``out[index] += values``, where a
    repeated position receives the sum of all its values).

    Args:
        shape: the shape of the result.
        index: a basic or advanced index into an array of that shape; ``values`` has the
            shape of ``zeros(shape)[index]``.
        values: the array to add (its dtype and device are the result's).
        deterministic: on CuPy, sort and sum in a fixed order (the default, from
            :func:`minigrad.backend.use_deterministic_algorithms`) or add with atomics
            (run-to-run varying). NumPy is deterministic either way.
    """
    xp = get_array_module(values)
    out = xp.zeros(shape, dtype=values.dtype)
    items = index if isinstance(index, tuple) else (index,)
    if not any(_is_int_array(i) for i in items):  # slices, ints, masks: positions are unique
        out[index] = values
        return out
    if xp is np:  # numpy.add.at adds in index order: deterministic already
        np.add.at(out, index, values)
        return out
    if deterministic is None:
        deterministic = backend.are_deterministic_algorithms_enabled()
    if deterministic:
        return sorted_scatter_add(out, index, values)
    import cupyx  # noqa: PLC0415 - only reached with CuPy arrays

    cupyx.scatter_add(out, index, values)
    return out


def sorted_scatter_add(out: Array, index, values: Array) -> Array:
    """``out[index] += values`` with repeated positions summed in a fixed order, with array
    operations only (no atomics): the flat position of every value, :func:`segment_sum`, and
    one write per distinct position. Returns ``out`` (C-contiguous), changed in place. The
    deterministic path on CuPy; the same code runs on NumPy (the tests use it there)."""
    xp = get_array_module(values)
    items = index if isinstance(index, tuple) else (index,)
    shape = out.shape
    if len(items) == 1 and out.ndim:  # whole rows: x[idx] or an embedding
        idx = items[0].reshape(-1)
        rows = xp.where(idx < 0, idx + shape[0], idx)
        width = int(np.prod(shape[1:], dtype=np.int64))
        out2d = out.reshape(shape[0], width)
        vals = values.reshape(rows.size, width)
    else:  # any index: the flat position of every element it picks
        rows = xp.arange(out.size).reshape(shape)[index].reshape(-1)
        out2d = out.reshape(-1, 1)
        vals = values.reshape(-1, 1)
    targets, sums = segment_sum(rows, vals)
    out2d[targets] += sums
    return out


def segment_sum(keys: Array, values: Array) -> tuple[Array, Array]:
    """The distinct ``keys`` (sorted) and, for each, the sum of the rows of ``values`` (n, D)
    with that key, in a fixed order: a stable sort by key, then a pairwise tree within each
    run of equal keys (log2 of the longest run elementwise passes, no atomics)."""
    xp = get_array_module(values)
    order = xp.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    n = keys.size
    first = xp.empty(n, dtype=bool)
    first[:1] = True
    xp.not_equal(keys[1:], keys[:-1], out=first[1:])
    segment = xp.cumsum(first) - 1  # integer prefix sum: exact
    starts = xp.flatnonzero(first)
    rank = xp.arange(n) - starts[segment]  # position of each row within its run
    longest = int(rank.max()) + 1 if n else 0
    for _ in range((longest - 1).bit_length()):  # each pass halves every run
        even = xp.flatnonzero(rank % 2 == 0)
        partner = xp.minimum(even + 1, n - 1)
        paired = (even + 1 < n) & (segment[partner] == segment[even])
        values = values[even] + xp.where(paired[:, None], values[partner], 0).astype(
            values.dtype, copy=False)
        segment, rank, n = segment[even], rank[even] // 2, even.size
    return keys[starts], values
