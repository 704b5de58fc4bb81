"""Devices, array modules, the default dtype and the framework's seeded random generator.

``'cpu'`` runs on NumPy; ``'cuda'`` / ``'cuda:N'`` runs on CuPy, which is imported lazily, the
first time a CUDA device or a CuPy array is met (CuPy arrays are recognised by their type's
module, so one made before minigrad imported CuPy is no surprise). Everything above this module
finds the array module of its data with :func:`get_array_module` and never imports NumPy or
CuPy for computing. The GPU-specific rules live here, once each: :func:`on_device` (CuPy works
on its *current* device), :func:`host_value_on` (host data written into a GPU array), and the
:class:`Generator`'s CUDA streams. See docs/gpu.md.
"""

from __future__ import annotations

import contextlib
import json
import numbers
from typing import Any, Union

import numpy as np

Array = Any  # a numpy.ndarray or a cupy.ndarray
DeviceLike = Union[str, "Device", None]

_cupy = None  # the cupy module once imported; None before the first CUDA request
_cuda_works: bool | None = None  # cached answer of cuda_is_available()


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


_cupy_types: dict[type, bool] = {}


def _is_cupy_type(cls: type) -> bool:
    """True for ``cupy.ndarray`` and its subclasses, judged by the defining module's name, so
    that a CuPy array made before minigrad imported CuPy is recognised without importing it."""
    known = _cupy_types.get(cls)
    if known is None:
        known = _cupy_types[cls] = any(
            c.__module__ == "cupy" or c.__module__.startswith("cupy.")
            for c in cls.__mro__ if c is not object
        )
    return known


def is_cupy_array(x) -> bool:
    """True when ``x`` is a ``cupy.ndarray`` (CuPy is imported then, if it was not yet)."""
    if type(x) is np.ndarray:
        return False
    if _cupy is not None:
        return isinstance(x, _cupy.ndarray)
    if _is_cupy_type(type(x)):
        return isinstance(x, _import_cupy().ndarray)
    return False


def cuda_is_available() -> bool:
    """True when CuPy imports, sees a GPU, and a kernel and a cuRAND draw actually run there.

    Counting devices is not enough: without the CUDA toolkit's libraries (CuPy's ``[ctk]``
    extra, or a system toolkit) the count is right but NVRTC or cuRAND fail to load. The
    answer is computed once and cached.
    """
    global _cuda_works
    if _cuda_works is None:
        try:
            _cuda_works = _cuda_smoke_test(_import_cupy())
        except Exception:  # noqa: BLE001 - any failure means "no usable GPU"
            _cuda_works = False
    return _cuda_works


def _cuda_smoke_test(cp) -> bool:
    if cp.cuda.runtime.getDeviceCount() < 1:
        return False
    with cp.cuda.Device(0):
        x = cp.arange(4, dtype=cp.float32) * 2  # an elementwise kernel (NVRTC)
        u = _new_cupy_random_state(cp).random_sample((4,), dtype=np.float32)  # cuRAND
        return float(x.sum()) == 12.0 and bool(((u >= 0) & (u < 1)).all())


def _device_count() -> int:
    return _import_cupy().cuda.runtime.getDeviceCount() if cuda_is_available() else 0


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
        n = _device_count()
        if self.index >= n:
            raise DeviceError(f"device {self} is not available: CuPy sees {n} usable GPU(s)")
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
_CUDA_DEVICES: dict[int, Device] = {}


def _cuda(index: int) -> Device:
    dev = _CUDA_DEVICES.get(index)
    if dev is None:
        dev = _CUDA_DEVICES[index] = Device(f"cuda:{index}")
    return dev


def device_of(array: Array) -> Device:
    """The device an array lives on (the CPU for NumPy arrays, scalars and anything else)."""
    if is_cupy_array(array):
        return _cuda(array.device.id)
    return CPU


def get_array_module(array: Array):
    """numpy for NumPy arrays (and scalars), cupy for CuPy arrays: one code path serves both.

    A CuPy array is recognised even before minigrad has imported CuPy (CuPy is imported then).
    """
    if type(array) is np.ndarray:
        return np
    return _cupy if is_cupy_array(array) else np


def on_device(device: Device):
    """A context manager under which CuPy allocates, draws and launches on ``device``:
    ``cupy.cuda.Device(N)`` for ``cuda:N`` (CuPy works on its *current* device, whatever
    device the arrays live on), nothing on the CPU."""
    if device.type == "cpu":
        return _NO_DEVICE
    return device.xp.cuda.Device(device.index)  # .xp: a clear DeviceError when unusable


def on_device_of(array: Array):
    """:func:`on_device` for the device ``array`` lives on."""
    if type(array) is np.ndarray or not is_cupy_array(array):
        return _NO_DEVICE
    return array.device  # a cupy.cuda.Device: entering it makes it current


def to_device(array: Array, device: Device) -> Array:
    """``array`` (a NumPy or CuPy array, a number, a nested list) as an array on ``device``;
    no copy when it is already there."""
    if device.type == "cpu":
        if type(array) is np.ndarray:
            return array
        if is_cupy_array(array):
            return array.get()  # CuPy enters the array's device itself
        return np.asarray(array)
    cp = device.xp
    if isinstance(array, cp.ndarray) and array.device.id == device.index:
        return array
    with cp.cuda.Device(device.index):
        return cp.asarray(array)


def host_value_on(value, like: Array):
    """``value`` made ready to be written into the array ``like`` (``like[...] = value``,
    ``fill``, an in-place ufunc): a host array, list or CPU tensor's array is moved to
    ``like``'s GPU; Python and NumPy scalars, and arrays already on that device, pass as they
    are. On the CPU a CuPy value is copied to the host. The one place where host data meets
    a GPU tensor."""
    if type(like) is np.ndarray:
        if type(value) in _HOST_TYPES or not is_cupy_array(value):
            return value
        return to_device(value, CPU)
    if type(value) in _SCALAR_TYPES or isinstance(value, (numbers.Number, np.generic)):
        return value
    return to_device(value, device_of(like))


_HOST_TYPES = frozenset({float, int, bool, np.ndarray, list, tuple, np.float32, np.float64})
_SCALAR_TYPES = frozenset({float, int, bool, np.float32, np.float64, np.float16, np.int64})
_NO_DEVICE = contextlib.nullcontext()  # reusable: entering it does nothing


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


# --------------------------------------------------------------------------- determinism

_deterministic = True


def use_deterministic_algorithms(mode: bool) -> None:
    """Choose bit-reproducible kernels where a backend has a faster non-reproducible one.

    On by default. The one place it matters is adding gradients at repeated indices (the
    backward of advanced indexing and of ``embedding``): deterministic mode sorts and sums in
    a fixed order on CuPy (:func:`minigrad.ops.indexing.scatter_add`); off, CuPy uses atomic
    adds (``cupyx.scatter_add``), whose float32 sums vary in the last bits from run to run.
    NumPy's ``add.at`` is sequential, so the CPU is deterministic either way. minigrad has
    no other atomic-add kernel on its CuPy paths (CuPy's reductions and cuBLAS's matmuls are
    bit-wise reproducible on one GPU model and library version).
    """
    global _deterministic
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms: mode must be a bool, got {mode!r}")
    _deterministic = mode


def are_deterministic_algorithms_enabled() -> bool:
    """Whether :func:`use_deterministic_algorithms` is on (the default)."""
    return _deterministic


# --------------------------------------------------------------------------- the generator


_SEED_LIMIT = 2**64  # seeds are unsigned 64-bit integers, as in torch and cuRAND


def _new_cupy_random_state(cp, seed: int = 0):
    """A cuRAND Philox4x32-10 generator. Philox is counter-based: reseeding it costs no kernel
    (XORWOW, CuPy's default, re-initialises its state on the GPU after every reseed)."""
    return cp.random.RandomState(seed, method=cp.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)


def cuda_draw_seed(seed: int, device_index: int, draw: int) -> int:
    """The cuRAND seed of the ``draw``-th CUDA draw on GPU ``device_index``: a SeedSequence
    hash of the three, so every draw has its own independent Philox stream and the whole
    CUDA state is one counter per device (saved and restored exactly)."""
    words = np.random.SeedSequence([seed, device_index, draw]).generate_state(2, np.uint32)
    return int(words[0]) << 32 | int(words[1])


class Generator:
    """The framework's seeded random generator: one seed drives every backend.

    CPU draws come from ``numpy.random.Generator(PCG64(seed))``. CUDA draws come from a
    cuRAND Philox generator per GPU: draw number ``k`` on GPU ``i`` is made from the seed
    :func:`cuda_draw_seed` ``(seed, i, k)``, so the CUDA state is a draw counter per device,
    which :meth:`get_state` saves and :meth:`set_state` restores exactly (a resumed run draws
    the same dropout masks as an uninterrupted one).

    float32 and float64 are drawn directly in that dtype (no float64 draw followed by a cast);
    float16 is drawn in float32 and cast, on both backends (neither draws float16).
    """

    def __init__(self, seed: int | None = None):
        self.manual_seed(seed)

    def manual_seed(self, seed: int | None) -> Generator:
        """Reset every stream from ``seed``, an integer in [0, 2**64) (torch's range; torch
        also folds negatives, which minigrad refuses)."""
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
            or not 0 <= seed < _SEED_LIMIT
        ):
            raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
        self.initial_seed = (
            int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        )
        self.numpy = np.random.Generator(np.random.PCG64(self.initial_seed))
        # cuRAND generators, one per GPU, kept across reseeds: every draw reseeds its own
        self._cupy_states: dict[int, Any] = getattr(self, "_cupy_states", {})
        self._cuda_draws: dict[int, int] = {}
        return self

    def _cupy_state(self, device: Device):
        """The cuRAND generator of ``device``, reseeded for its next draw (call under
        ``on_device(device)``)."""
        index = device.index
        state = self._cupy_states.get(index)
        if state is None:
            state = self._cupy_states[index] = _new_cupy_random_state(device.xp)
        k = self._cuda_draws.get(index, 0)
        self._cuda_draws[index] = k + 1
        state.seed(cuda_draw_seed(self.initial_seed, index, k))
        return state

    # Each draw takes the device and returns an array on it.
    def _float_draw(self, numpy_method: str, cupy_method: str, shape, dtype, device: Device):
        """``(draw, dtype)``: a float draw by the named method of the device's generator, in
        ``dtype`` when it is float32 or float64, else in float32 (neither generator draws
        float16: the caller casts)."""
        dtype = np.dtype(dtype or _default_dtype)
        draw_dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)
        if device.type == "cpu":
            return getattr(self.numpy, numpy_method)(shape, dtype=draw_dtype), dtype
        with on_device(device):
            state = self._cupy_state(device)
            return getattr(state, cupy_method)(shape, dtype=draw_dtype), dtype

    def random(self, shape, dtype=None, device: Device = CPU) -> Array:
        """Uniform on [0, 1)."""
        u, dtype = self._float_draw("random", "random_sample", shape, dtype, device)
        return u if u.dtype == dtype else _cast_below_one(u, dtype)

    def normal(self, shape, dtype=None, device: Device = CPU) -> Array:
        """Standard normal."""
        z, dtype = self._float_draw("standard_normal", "standard_normal", shape, dtype, device)
        return z if z.dtype == dtype else z.astype(dtype)

    def integers(self, low: int, high: int, shape, device: Device = CPU) -> Array:
        """Integers uniform on [low, high), int64."""
        if device.type == "cpu":
            return self.numpy.integers(low, high, size=shape, dtype=np.int64)
        with on_device(device):
            return self._cupy_state(device).randint(low, high, size=shape, dtype=np.int64)

    def permutation(self, n: int, device: Device = CPU) -> Array:
        """A random permutation of range(n), int64."""
        if device.type == "cpu":
            return self.numpy.permutation(n)
        with on_device(device):
            return self._cupy_state(device).permutation(n).astype(np.int64, copy=False)

    def get_state(self) -> dict:
        """A JSON-serialisable snapshot: the CPU stream's exact state and the CUDA draw
        counters (which fix every later CUDA draw exactly)."""
        return {
            "initial_seed": self.initial_seed,
            "numpy": json.dumps(self.numpy.bit_generator.state),
            "cuda_draws": {str(i): k for i, k in sorted(self._cuda_draws.items())},
        }

    def set_state(self, state: dict) -> None:
        """Restore a snapshot taken with :meth:`get_state` (one without ``cuda_draws``, from
        an older minigrad, restarts the CUDA streams from the seed)."""
        try:
            seed = int(state["initial_seed"])
            np_state = json.loads(str(state["numpy"]))
            draws = {int(i): int(k) for i, k in dict(state.get("cuda_draws", {})).items()}
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"not a minigrad generator state: {err!r}") from err
        if any(i < 0 or k < 0 for i, k in draws.items()):
            raise ValueError(f"not a minigrad generator state: negative CUDA counters {draws}")
        self.manual_seed(seed)
        self.numpy.bit_generator.state = np_state
        self._cuda_draws = draws


def _cast_below_one(u: Array, dtype: np.dtype) -> Array:
    """Uniform [0, 1) draws cast to a narrower float, keeping them below 1: float32 values
    just under 1 round up to 1.0 in float16, which would break ``u < 1`` (and dropout's
    ``u >= p`` with p near 1)."""
    out = u.astype(dtype)
    below_one = np.nextafter(dtype.type(1), dtype.type(0))
    xp = get_array_module(out)
    return xp.minimum(out, below_one, out=out)


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
