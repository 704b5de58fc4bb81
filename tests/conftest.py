"""Shared fixtures: every device-aware test runs on the CPU and, where CuPy sees a GPU, on CUDA."""

import numpy as np
import pytest

import minigrad

CUDA = minigrad.cuda_is_available()
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(
        not CUDA,
        reason="CUDA device not available (needs CuPy and a GPU: minigrad-tensor[cuda12])")),
]


@pytest.fixture(params=DEVICES)
def device(request):
    """The device name a test runs on: 'cpu', and 'cuda' when a GPU is present."""
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same framework seed."""
    minigrad.manual_seed(0)
    yield


@pytest.fixture
def rng():
    """A NumPy generator for test data (independent of the framework generator)."""
    return np.random.default_rng(1234)


def to_numpy(x):
    """A tensor's or array's values as a NumPy array."""
    if isinstance(x, minigrad.Tensor):
        x = x.detach().array
    return x.get() if hasattr(x, "get") else np.asarray(x)


@pytest.fixture
def column_major_linear(monkeypatch):
    """Every nn.Linear made in the test stores its weight column-major, small ones too (by
    default only weights of at least ``nn.linear.COLUMN_MAJOR_MIN_NUMEL`` numbers are)."""
    import minigrad.nn.linear  # noqa: PLC0415

    monkeypatch.setattr(minigrad.nn.linear, "COLUMN_MAJOR_MIN_NUMEL", 0)
