"""Devices, array modules, the default dtype and the framework's seeded random generator.

``'cpu'`` runs on NumPy; ``'cuda'`` / ``'cuda:N'`` runs on CuPy, which is imported lazily, the
first time a CUDA device is asked for. Everything above this module finds the array module of
its data with :func:`get_array_module` and never imports NumPy or CuPy for computing.
"""

from __future__ import annotations

import json
from typing import Any, Union

import numpy as np

Array = Any  # a numpy.ndarray or a cupy.ndarray
DeviceLike = Union[str, "Device", None]

_cupy = None  # the cupy module once imported; None before the first CUDA request


class DeviceError(RuntimeError):
    """A device that cannot be used here (no CuPy, no GPU, an index out of range)."""


def _import_cupy():
    global _cupy
    if _cupy is None:
        try:
            import cupy  # noqa: PLC0415  (lazy by design: CPU users never pay for CuPy)
        except ImportError as err:
            raise DeviceError(
                "device 'cuda' needs CuPy, which is not installed: "
                "pip install 'minigrad-tensor[cuda12]' (CUDA 12) or "
                "'minigrad-tensor[cuda13]' (CUDA 13)"
            ) from err
        _cupy = cupy
    return _cupy


def cuda_is_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        cp = _import_cupy()
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


class Device:
    """A place where arrays live: ``Device('cpu')``, ``Device('cuda')``, ``Device('cuda:1')``.

    Compares equal to its string form, so ``t.device == 'cpu'`` works.
    """

    __slots__ = ("type", "index")

    def __init__(self, spec: DeviceLike = "cpu"):
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        if spec is None:
            spec = "cpu"
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string like 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, idx = spec.strip().lower().partition(":")
        if kind == "gpu":
            kind = "cuda"
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        if kind == "cpu" and idx not in ("", "0"):
            raise ValueError(f"unknown device {spec!r}: the CPU has no index")
        if kind == "cuda" and idx and not idx.isdigit():
            raise ValueError(f"unknown device {spec!r}: the index must be a non-negative integer")
        self.type = kind
        self.index = (int(idx) if idx else 0) if kind == "cuda" else None

    @property
    def xp(self):
        """The array module of this device: numpy or cupy."""
        if self.type == "cpu":
            return np
        cp = _import_cupy()
        n = cp.cuda.runtime.getDeviceCount() if cuda_is_available() else 0
        if self.index >= n:
            raise DeviceError(f"device {self} is not available: CuPy sees {n} GPU(s)")
        return cp

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = Device(other)
            except (ValueError, TypeError):
                return False
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    def __repr__(self) -> str:
        return f"device('{self}')"


CPU = Device("cpu")


def device_of(array: Array) -> Device:
    """The device an array lives on."""
    if isinstance(array, np.ndarray) or _cupy is None:
        return CPU
    return Device(f"cuda:{array.device.id}")


def get_array_module(array: Array):
    """numpy for NumPy arrays (and scalars), cupy for CuPy arrays: one code path serves both."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    return np


def to_device(array: Array, device: Device) -> Array:
    """Copy ``array`` onto ``device`` (no copy when it is already there)."""
    if device.type == "cpu":
        if isinstance(array, np.ndarray):
            return array
        return array.get() if hasattr(array, "get") else np.asarray(array)
    cp = device.xp
    with cp.cuda.Device(device.index):
        if isinstance(array, cp.ndarray) and array.device.id == device.index:
            return array
        return cp.asarray(array)


# --------------------------------------------------------------------------- default dtype

_default_dtype = np.dtype(np.float32)


def get_default_dtype() -> np.dtype:
    """The dtype of floating tensors made from Python numbers or float data: float32 unless set."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the default floating dtype (float32 or float64)."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt not in (np.float16, np.float32, np.float64):
        raise TypeError(f"default dtype must be a floating dtype (float16/32/64), got {dt}")
    _default_dtype = dt


# --------------------------------------------------------------------------- the generator


class Generator:
    """The framework's seeded random generator: one seed drives every backend.

    CPU draws come from ``numpy.random.Generator(PCG64(seed))``; CUDA draws from a
    ``cupy.random.RandomState`` per GPU, seeded from the same seed, created on first use.
    Floats are drawn directly in the requested dtype (no float64 draw followed by a cast).
    """

    def __init__(self, seed: int | None = None):
        self.manual_seed(seed)

    def manual_seed(self, seed: int | None) -> Generator:
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.initial_seed = (
            int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        )
        self.numpy = np.random.Generator(np.random.PCG64(self.initial_seed))
        self._cupy_states: dict[int, Any] = {}
        return self

    def _cupy_state(self, device: Device):
        state = self._cupy_states.get(device.index)
        if state is None:
            cp = device.xp
            with cp.cuda.Device(device.index):
                state = cp.random.RandomState(self.initial_seed + 7919 * device.index)
            self._cupy_states[device.index] = state
        return state

    # Each draw takes the device and returns an array on it.
    def random(self, shape, dtype=None, device: Device = CPU) -> Array:
        """Uniform on [0, 1)."""
        dtype = np.dtype(dtype or _default_dtype)
        if device.type == "cpu":
            if dtype in (np.float32, np.float64):
                return self.numpy.random(shape, dtype=dtype)
            return self.numpy.random(shape, dtype=np.float32).astype(dtype)
        return self._cupy_state(device).random_sample(shape, dtype=dtype)

    def normal(self, shape, dtype=None, device: Device = CPU) -> Array:
        """Standard normal."""
        dtype = np.dtype(dtype or _default_dtype)
        if device.type == "cpu":
            if dtype in (np.float32, np.float64):
                return self.numpy.standard_normal(shape, dtype=dtype)
            return self.numpy.standard_normal(shape, dtype=np.float32).astype(dtype)
        return self._cupy_state(device).standard_normal(shape, dtype=dtype)

    def integers(self, low: int, high: int, shape, device: Device = CPU) -> Array:
        """Integers uniform on [low, high), int64."""
        if device.type == "cpu":
            return self.numpy.integers(low, high, size=shape, dtype=np.int64)
        return self._cupy_state(device).randint(low, high, size=shape, dtype=np.int64)

    def permutation(self, n: int, device: Device = CPU) -> Array:
        """A random permutation of range(n), int64."""
        if device.type == "cpu":
            return self.numpy.permutation(n)
        return self._cupy_state(device).permutation(n)

    def get_state(self) -> dict:
        """A JSON-serialisable snapshot (CPU stream exactly; CUDA streams by seed)."""
        st = self.numpy.bit_generator.state
        return {
            "initial_seed": self.initial_seed,
            "numpy": json.dumps(st),
        }

    def set_state(self, state: dict) -> None:
        """Restore a snapshot taken with :meth:`get_state`."""
        try:
            seed = int(state["initial_seed"])
            np_state = json.loads(str(state["numpy"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a minigrad generator state: {err}") from err
        self.manual_seed(seed)
        self.numpy.bit_generator.state = np_state


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the framework-wide generator on every backend; returns it."""
    return default_generator.manual_seed(seed)


def get_rng_state() -> dict:
    """The framework generator's state, JSON-serialisable (for checkpoints)."""
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    """Restore the framework generator's state from :func:`get_rng_state`."""
    default_generator.set_state(state)
