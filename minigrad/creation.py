"""Factories: tensor, zeros, ones, full, arange, eye, rand, randn, *_like, from_numpy.

Floating factories make the default dtype (float32) unless ``dtype`` is given; random ones draw
from the framework's seeded generator, on the requested device, directly in that dtype.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import backend
from .backend import Device, DeviceLike
from .tensor import Tensor, _as_array, _check_dtype


def _dtype(dtype, default=None):
    dt = np.dtype(dtype) if dtype is not None else (default or backend.get_default_dtype())
    _check_dtype(dt)
    return dt


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"sizes must be non-negative integers, got {tuple(size)!r}")
    return tuple(int(s) for s in size)


def _check_like(t, name: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(t).__name__}")


def _like(make, t, name: str, dtype, device: DeviceLike, requires_grad: bool, *args) -> Tensor:
    """``make(t.shape, *args, ...)`` in ``t``'s dtype and on its device unless told otherwise:
    the body of every ``*_like`` constructor."""
    _check_like(t, name)
    return make(t.shape, *args, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def _made(array, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    The dtype, unless ``dtype`` is given: Python floats become the default float dtype
    (float32). A float array keeps its dtype unless it is wider than the default: a float64
    NumPy array becomes float32 (unlike ``torch.tensor``, which keeps float64; pass
    ``dtype=minigrad.float64`` to keep it), while float16 stays float16 (never an upcast).
    Integers keep theirs (Python ints become int64) and bools stay bool.
    """
    if (type(data) is np.ndarray and dtype is None and device is None and not requires_grad
            and (data.dtype.kind in "biu" or data.dtype == backend.get_default_dtype())):
        # a batch as a training loop passes it, kept as it is: the copy alone (0.6 us
        # instead of 1.4 for _as_array's general rules, twice a step)
        return Tensor._wrap(np.array(data))
    return _made(_as_array(data, dtype, device), requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array, keeping its dtype (as torch.from_numpy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    _check_dtype(array.dtype)
    return Tensor._wrap(array)


def zeros(*size, dtype=None, device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    dev = Device(device)
    with backend.on_device(dev):
        return _made(dev.xp.zeros(_shape(size), dtype=_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    dev = Device(device)
    with backend.on_device(dev):
        return _made(dev.xp.ones(_shape(size), dtype=_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    dev = Device(device)
    with backend.on_device(dev):
        return _made(dev.xp.empty(_shape(size), dtype=_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, device: DeviceLike = None,
         requires_grad: bool = False) -> Tensor:
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = np.bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = np.int64
    dev = Device(device)
    size = _shape(size if isinstance(size, (tuple, list)) else (size,))
    with backend.on_device(dev):
        return _made(dev.xp.full(size, fill_value, dtype=_dtype(dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, device: DeviceLike = None,
           requires_grad: bool = False) -> Tensor:
    """Values from start (inclusive) to end (exclusive): int64 for integer arguments, float32
    otherwise."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    if (end - start) * step < 0:  # as torch; NumPy would return an empty range
        raise ValueError(f"arange: the range from {start} to {end} runs against the sign of "
                         f"step={step}")
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dt = _dtype(dtype, np.dtype(np.int64) if ints else None)
    dev = Device(device)
    with backend.on_device(dev):
        return _made(dev.xp.arange(start, end, step).astype(dt, copy=False), requires_grad)


def linspace(start, end, steps: int, dtype=None, device: DeviceLike = None) -> Tensor:
    dev = Device(device)
    with backend.on_device(dev):
        return Tensor._wrap(dev.xp.linspace(start, end, steps).astype(_dtype(dtype)))


def eye(n: int, m: int | None = None, dtype=None, device: DeviceLike = None,
        requires_grad: bool = False) -> Tensor:
    dev = Device(device)
    n, m = _shape((n, n if m is None else m))
    with backend.on_device(dev):
        return _made(dev.xp.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def rand(*size, dtype=None, device: DeviceLike = None, requires_grad: bool = False,
         generator: backend.Generator | None = None) -> Tensor:
    """Uniform on [0, 1), from the seeded framework generator."""
    gen = generator or backend.default_generator
    return _made(gen.random(_shape(size), _dtype(dtype), Device(device)), requires_grad)


def randn(*size, dtype=None, device: DeviceLike = None, requires_grad: bool = False,
          generator: backend.Generator | None = None) -> Tensor:
    """Standard normal, from the seeded framework generator."""
    gen = generator or backend.default_generator
    return _made(gen.normal(_shape(size), _dtype(dtype), Device(device)), requires_grad)


def randint(low: int, high: int | None = None, size=(), device: DeviceLike = None,
            generator: backend.Generator | None = None) -> Tensor:
    """Integers uniform on [low, high), int64."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must exceed low ({low})")
    gen = generator or backend.default_generator
    return Tensor._wrap(gen.integers(low, high, _shape(tuple(size)), Device(device)))


def randperm(n: int, device: DeviceLike = None,
             generator: backend.Generator | None = None) -> Tensor:
    (n,) = _shape((n,))
    gen = generator or backend.default_generator
    return Tensor._wrap(gen.permutation(n, Device(device)))


def zeros_like(t: Tensor, dtype=None, device: DeviceLike = None,
               requires_grad: bool = False) -> Tensor:
    return _like(zeros, t, "zeros_like", dtype, device, requires_grad)


def ones_like(t: Tensor, dtype=None, device: DeviceLike = None,
              requires_grad: bool = False) -> Tensor:
    return _like(ones, t, "ones_like", dtype, device, requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, device: DeviceLike = None,
              requires_grad: bool = False) -> Tensor:
    return _like(full, t, "full_like", dtype, device, requires_grad, fill_value)


def rand_like(t: Tensor, dtype=None, device: DeviceLike = None,
              requires_grad: bool = False) -> Tensor:
    return _like(rand, t, "rand_like", dtype, device, requires_grad)


def randn_like(t: Tensor, dtype=None, device: DeviceLike = None,
               requires_grad: bool = False) -> Tensor:
    return _like(randn, t, "randn_like", dtype, device, requires_grad)
