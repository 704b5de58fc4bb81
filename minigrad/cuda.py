"""``minigrad.cuda``: the few CUDA queries torch code makes (``torch.cuda.is_available()``...).

GPUs are reached through CuPy, imported only when asked about; with no CuPy or no GPU every
query answers "none" rather than raising.
"""

from __future__ import annotations

from . import backend


def is_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    return backend.cuda_is_available()


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CuPy)."""
    if not backend.cuda_is_available():
        return 0
    return int(backend._import_cupy().cuda.runtime.getDeviceCount())


def manual_seed(seed: int) -> None:
    """Seed the framework generator, which drives the CPU and every GPU (so this is the same
    as ``minigrad.manual_seed``: one seed, as torch's ``manual_seed`` also seeds CUDA)."""
    backend.manual_seed(seed)


manual_seed_all = manual_seed


def current_device() -> int:
    """The index of the current GPU (raises when there is none, as torch)."""
    if not backend.cuda_is_available():
        raise backend.DeviceError("current_device(): no GPU is available (CuPy sees none)")
    return int(backend._import_cupy().cuda.runtime.getDevice())


def synchronize(device=None) -> None:
    """Wait for the GPU's queued work to finish (a no-op without a GPU)."""
    if backend.cuda_is_available():
        backend._import_cupy().cuda.runtime.deviceSynchronize()
