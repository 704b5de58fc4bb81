"""The backend's device logic, shown on the CPU.

No GPU is needed here: a small stand-in for the ``cupy`` module (arrays that wrap NumPy arrays
and say they live on a GPU, a ``cuda.Device`` context that records which device is current, a
cuRAND stand-in that records its seeds) drives the very code paths CuPy takes: recognising a
CuPy array before CuPy was imported, moving host values to a tensor's GPU, entering
``cuda.Device(N)``, the per-GPU draw counters that make a resumed run bit-exact, and
``cuda_is_available``'s smoke test. The same paths run on a real GPU in test_cuda_paths.py.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend
from minigrad.data import SubsetRandomSampler
from minigrad.ops import indexing

# ----------------------------------------------------------------------------- a stand-in CuPy


class FakeCupyArray:
    """Quacks like a cupy.ndarray for the backend's purposes: a NumPy array on 'GPU' ``dev``."""

    def __init__(self, data, dev: int = 0):
        self.host = np.asarray(data)
        self.device = FakeDevice(dev)

    shape = property(lambda self: self.host.shape)
    dtype = property(lambda self: self.host.dtype)
    ndim = property(lambda self: self.host.ndim)
    size = property(lambda self: self.host.size)

    def get(self):
        return self.host.copy()

    def astype(self, dtype):
        return FakeCupyArray(self.host.astype(dtype), self.device.id)

    def __ge__(self, other):
        return self.host >= other

    def __lt__(self, other):
        return self.host < other


FakeCupyArray.__module__ = "cupy"  # what cupy.ndarray's type says
FakeCupyArray.__name__ = FakeCupyArray.__qualname__ = "ndarray"


class FakeDevice:
    current: list[int] = [0]

    def __init__(self, dev: int):
        self.id = dev

    def __enter__(self):
        FakeDevice.current.append(self.id)
        return self

    def __exit__(self, *exc):
        FakeDevice.current.pop()


class FakeRandomState:
    """cuRAND stand-in: records every seed; draws are a NumPy stream of the last seed."""

    def __init__(self, seed=0, method=None):
        self.method, self.seeds = method, []
        self.seed(seed)

    def seed(self, seed):
        self.seeds.append(seed)
        self.rng = np.random.default_rng(seed)

    def random_sample(self, shape, dtype):
        assert np.dtype(dtype) in (np.float32, np.float64), "cuRAND draws only float32/64"
        return FakeCupyArray(self.rng.random(shape, dtype=dtype), FakeDevice.current[-1])

    def standard_normal(self, shape, dtype):
        assert np.dtype(dtype) in (np.float32, np.float64), "cuRAND draws only float32/64"
        return FakeCupyArray(self.rng.standard_normal(shape, dtype=dtype),
                             FakeDevice.current[-1])


def _fake_cupy(device_count=2, kernels_work=True):
    def asarray(a):
        host = a.get() if isinstance(a, FakeCupyArray) else np.asarray(a)
        return FakeCupyArray(host, FakeDevice.current[-1])

    def arange(n, dtype=None):
        if not kernels_work:
            raise RuntimeError("CUDA_ERROR_NOT_FOUND: libnvrtc.so")  # no toolkit libraries
        return np.arange(n, dtype=dtype)

    def minimum(a, b, out):
        np.minimum(a.host, b, out=out.host)
        return out

    return types.SimpleNamespace(
        __name__="cupy", ndarray=FakeCupyArray, asarray=asarray, arange=arange, minimum=minimum,
        float32=np.float32,
        random=types.SimpleNamespace(RandomState=FakeRandomState),
        cuda=types.SimpleNamespace(
            Device=FakeDevice,
            runtime=types.SimpleNamespace(getDeviceCount=lambda: device_count),
            curand=types.SimpleNamespace(CURAND_RNG_PSEUDO_PHILOX4_32_10=7),
        ),
    )


@pytest.fixture
def fake_cupy(monkeypatch):
    """CuPy 'installed but not yet imported', two usable GPUs; yields the stand-in module."""
    fake = _fake_cupy()
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cuda_works", True)
    monkeypatch.setattr(backend, "_import_cupy", lambda: _install(monkeypatch, fake))
    monkeypatch.setattr(backend, "_CUDA_DEVICES", {})
    FakeDevice.current = [0]
    return fake


def _install(monkeypatch, fake):
    monkeypatch.setattr(backend, "_cupy", fake)
    return fake


# ----------------------------------------------------------------------------- recognition


def test_cupy_types_are_recognised_by_their_module_name():
    assert backend._is_cupy_type(FakeCupyArray)
    sub = type("Sub", (FakeCupyArray,), {"__module__": "mylib"})
    assert backend._is_cupy_type(sub)  # a subclass of cupy.ndarray still is one
    for cls in (np.ndarray, np.float32, list, type("x", (), {"__module__": "cupyx_like"})):
        assert not backend._is_cupy_type(cls)


def test_a_cupy_array_is_recognised_before_cupy_was_imported(fake_cupy):
    a = FakeCupyArray(np.ones(3, np.float32), dev=1)
    assert backend._cupy is None  # nothing has imported CuPy yet
    assert backend.get_array_module(a) is fake_cupy  # recognised, and CuPy imported lazily
    assert backend._cupy is fake_cupy
    assert backend.device_of(a) == "cuda:1"


def test_numpy_things_stay_on_the_cpu_once_cupy_is_imported(fake_cupy):
    backend._import_cupy()
    for x in (np.float32(1.5), np.int64(3), np.ones(2), 2.0, [1, 2]):
        assert backend.device_of(x) == "cpu"
        assert backend.get_array_module(x) is np


def test_importing_minigrad_does_not_import_cupy():
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = ("import sys, minigrad, numpy as np; minigrad.tensor(np.ones(2)) + 1; "
            "assert 'cupy' not in sys.modules, 'minigrad imported cupy'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- host values


def test_host_values_are_moved_to_the_tensors_gpu_in_one_place(fake_cupy):
    like = FakeCupyArray(np.zeros((2, 3), np.float32), dev=1)
    for value in (np.ones((2, 3)), [[1.0] * 3] * 2, np.ones(3, np.float32)):
        moved = backend.host_value_on(value, like)
        assert isinstance(moved, FakeCupyArray) and moved.device.id == 1
        np.testing.assert_array_equal(moved.get(), np.asarray(value))
    for scalar in (1.5, 2, np.float32(3.0), True):  # scalars need no copy
        assert backend.host_value_on(scalar, like) is scalar
    already = FakeCupyArray(np.ones(3), dev=1)
    assert backend.host_value_on(already, like) is already


def test_a_gpu_value_written_into_a_cpu_array_comes_to_the_host(fake_cupy):
    out = backend.host_value_on(FakeCupyArray(np.arange(3.0), dev=0), np.zeros(3))
    assert type(out) is np.ndarray and out.tolist() == [0.0, 1.0, 2.0]


def test_cpu_values_written_into_cpu_tensors_are_left_alone():
    value = [1, 2]
    assert backend.host_value_on(value, np.zeros(2)) is value


def test_to_device_copies_under_the_target_gpu(fake_cupy):
    out = backend.to_device(np.arange(4.0), mg.Device("cuda:1"))
    assert out.device.id == 1 and out.get().tolist() == [0, 1, 2, 3]
    same = FakeCupyArray(np.ones(2), dev=1)
    assert backend.to_device(same, mg.Device("cuda:1")) is same
    other = backend.to_device(same, mg.Device("cuda:0"))
    assert other is not same and other.device.id == 0


def test_on_device_makes_the_gpu_current(fake_cupy):
    with backend.on_device(mg.Device("cuda:1")):
        assert FakeDevice.current[-1] == 1
    assert FakeDevice.current[-1] == 0
    with backend.on_device_of(FakeCupyArray(np.ones(1), dev=1)):
        assert FakeDevice.current[-1] == 1
    with backend.on_device(backend.CPU), backend.on_device_of(np.ones(1)):
        assert FakeDevice.current == [0]


def test_unavailable_gpu_index_is_a_clear_error(fake_cupy):
    with pytest.raises(backend.DeviceError, match=r"cuda:5 is not available: CuPy sees 2"):
        backend.on_device(mg.Device("cuda:5"))


def test_subset_random_sampler_takes_gpu_indices(fake_cupy):
    sampler = SubsetRandomSampler(FakeCupyArray(np.array([4, 7, 9]), dev=0))
    assert sorted(sampler) == [4, 7, 9]
    assert sorted(SubsetRandomSampler(mg.tensor([1, 2]))) == [1, 2]


# ----------------------------------------------------------------------------- cuda_is_available


@pytest.mark.parametrize("count, kernels, expected", [(2, True, True), (0, True, False),
                                                      (1, False, False)])
def test_cuda_is_available_runs_a_kernel_and_a_draw(monkeypatch, count, kernels, expected):
    fake = _fake_cupy(count, kernels)
    monkeypatch.setattr(backend, "_cuda_works", None)
    monkeypatch.setattr(backend, "_import_cupy", lambda: fake)
    assert backend.cuda_is_available() is expected


def test_cuda_is_available_without_cupy(monkeypatch):
    def missing():
        raise backend.DeviceError("no CuPy")

    monkeypatch.setattr(backend, "_cuda_works", None)
    monkeypatch.setattr(backend, "_import_cupy", missing)
    assert backend.cuda_is_available() is False


# ----------------------------------------------------------------------------- the generator


def test_gpu_draws_use_a_seed_per_draw_and_device(fake_cupy):
    gen = backend.Generator(123)
    dev1 = mg.Device("cuda:1")
    gen.random((3,), np.float32, dev1)
    gen.normal((3,), np.float32, dev1)
    gen.random((3,), np.float32, mg.Device("cuda:0"))
    seeds1 = gen._cupy_states[1].seeds[1:]  # [0] is the construction seed
    assert seeds1 == [backend.cuda_draw_seed(123, 1, 0), backend.cuda_draw_seed(123, 1, 1)]
    assert gen._cupy_states[1].method == 7  # Philox: reseeding costs no kernel
    assert gen.get_state()["cuda_draws"] == {"0": 1, "1": 2}


def test_gpu_stream_resumes_exactly_from_a_saved_state(fake_cupy):
    """Defect 4: the state holds the CUDA streams' positions, so a resumed run draws the
    same dropout masks as the uninterrupted one (not the masks after the seed again)."""
    dev = mg.Device("cuda:1")
    gen = backend.Generator(7)
    gen.random((5,), np.float32, dev)
    saved = gen.get_state()
    after = [gen.random((5,), np.float32, dev).get() for _ in range(3)]
    restored = backend.Generator(999)
    restored.set_state(saved)
    again = [restored.random((5,), np.float32, dev).get() for _ in range(3)]
    for a, b in zip(after, again):
        np.testing.assert_array_equal(a, b)
    fresh = backend.Generator(7)  # the old behaviour: restart from the seed
    assert not np.array_equal(fresh.random((5,), np.float32, dev).get(), after[0])


def test_gpu_float16_draws_are_made_in_float32_and_cast(fake_cupy):
    gen = backend.Generator(0)
    dev = mg.Device("cuda:0")
    u = gen.random((1000,), np.float16, dev)
    z = gen.normal((1000,), np.float16, dev)
    assert u.dtype == np.float16 and z.dtype == np.float16
    assert float(u.get().max()) < 1.0 and float(u.get().min()) >= 0.0


def test_float16_uniform_stays_below_one():
    u = np.array([0.0, 0.5, 0.99999994, np.nextafter(np.float32(1), 0)], np.float32)
    out = backend._cast_below_one(u, np.dtype(np.float16))
    assert out.dtype == np.float16 and out.max() < 1 and out[-1] == np.float16(0.9995)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_cpu_draws_have_the_requested_dtype(dtype):
    u = mg.rand(4096, dtype=dtype)
    z = mg.randn(4096, dtype=dtype)
    assert u.dtype == dtype and z.dtype == dtype
    assert 0 <= float(u.min()) and float(u.max()) < 1


def test_cuda_draw_seeds_are_distinct_and_fixed():
    seeds = {backend.cuda_draw_seed(s, d, k) for s in (0, 1, 2**64 - 1) for d in (0, 1)
             for k in range(50)}
    assert len(seeds) == 300 and all(0 <= s < 2**64 for s in seeds)
    # a fixed function of its inputs (SeedSequence's documented hash), not of the process
    words = np.random.SeedSequence([5, 1, 3]).generate_state(2, np.uint32)
    assert backend.cuda_draw_seed(5, 1, 3) == (int(words[0]) << 32) + int(words[1])


@pytest.mark.parametrize("seed", [2**64, 2**70, -1, 1.0, "3", True])
def test_seeds_outside_uint64_raise_on_every_backend(seed):
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*64\)"):
        mg.manual_seed(seed)


def test_largest_seed_is_accepted():
    mg.manual_seed(2**64 - 1)
    assert mg.rand(2).shape == (2,)


def test_rng_state_round_trips_and_rejects_garbage():
    mg.manual_seed(3)
    mg.rand(5)
    state = mg.get_rng_state()
    a = mg.rand(5).numpy()
    mg.set_rng_state(state)
    np.testing.assert_array_equal(mg.rand(5).numpy(), a)
    old = {k: v for k, v in state.items() if k != "cuda_draws"}  # from before the counters
    mg.set_rng_state(old)
    np.testing.assert_array_equal(mg.rand(5).numpy(), a)
    with pytest.raises(ValueError, match="not a minigrad generator state"):
        mg.set_rng_state({**state, "cuda_draws": {"0": -4}})
    with pytest.raises(ValueError, match="not a minigrad generator state"):
        mg.set_rng_state({**state, "cuda_draws": ["x"]})


# ----------------------------------------------------------------------------- bounds


@pytest.mark.parametrize("index, shape", [
    (np.array([0, 3]), (3,)),
    (np.array([-4]), (3, 2)),
    ((slice(None), np.array([2])), (3, 2)),
    ((Ellipsis, np.array([5])), (2, 3, 4)),
    ((None, np.array([1]), np.array([2])), (2, 2)),
    ((np.ones((2, 2), bool), np.array([4])), (2, 2, 4)),
])
def test_out_of_range_index_arrays_raise_index_error(index, shape):
    with pytest.raises(IndexError, match="out of bounds for axis"):
        indexing.check_bounds(index, shape)
    with pytest.raises(IndexError):  # NumPy agrees that these are out of range
        np.zeros(shape)[index]


@pytest.mark.parametrize("index, shape", [
    (np.array([0, 2, -3]), (3,)),
    ((Ellipsis, np.array([3, -4])), (2, 3, 4)),
    ((np.ones((2, 2), bool), np.array([3])), (2, 2, 4)),
    ((slice(None), 1, np.array([0])), (2, 2, 1)),
    (np.array([], dtype=np.int64), (0,)),
])
def test_in_range_index_arrays_pass(index, shape):
    indexing.check_bounds(index, shape)
    np.zeros(shape)[index]


def test_tensor_indexing_and_assignment_check_bounds():
    t = mg.zeros(3, 2)
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        t[mg.tensor([0, 3])]
    with pytest.raises(IndexError, match="index 2 is out of bounds for axis 1 with size 2"):
        t[:, [2]] = 1.0
    assert t.numpy().sum() == 0  # nothing was written


# ----------------------------------------------------------------------------- scatter-add


def _loop_scatter(shape, index, values):
    """The definition, one element at a time."""
    out = np.zeros(shape, values.dtype)
    pos = np.arange(out.size).reshape(shape)[index].reshape(-1)
    for p, v in zip(pos, values.reshape(-1)):
        out.flat[p] += v
    return out


@pytest.mark.parametrize("shape, index", [
    ((6, 4), np.array([1, 1, 5, 0, 1, -1, 5])),
    ((6, 4), np.array([[3, 3], [3, 0]])),
    ((5,), np.array([2, 2, 2, 2, 2, 2, 2, 2, 2, 1])),
    ((3, 4, 2), (slice(None), np.array([0, 3, 0, 0]))),
    ((3, 4), (np.array([0, 0, 2]), np.array([1, 1, -1]))),
    ((3, 4), (np.array([[0], [0]]), np.array([1, 1, 3]))),
    ((4, 3), (np.array([1, 3, 1]), slice(1, None))),
    ((0, 3), np.array([], dtype=np.int64)),
])
@pytest.mark.parametrize("path", ["numpy add.at", "sorted (CuPy's deterministic path)"])
def test_scatter_add_equals_the_loop_definition(shape, index, path, rng):
    picked = np.zeros(shape)[index].shape
    values = rng.integers(-8, 8, picked).astype(np.float32)  # small integers: sums are exact
    if path.startswith("sorted"):
        got = indexing.sorted_scatter_add(np.zeros(shape, np.float32), index, values)
    else:
        got = indexing.scatter_add(shape, index, values)
    np.testing.assert_array_equal(got, _loop_scatter(shape, index, values))
    assert got.dtype == np.float32


def test_segment_sum_is_a_fixed_pairwise_tree():
    keys = np.array([2, 0, 2, 2, 0])
    values = np.array([[1e8], [1.0], [1.0], [-1e8], [2.0]], np.float32)
    uniq, sums = indexing.segment_sum(keys, values)
    assert uniq.tolist() == [0, 2]
    # key 2 in stable order: (1e8 + 1) + (-1e8) = 0 in float32 (1 is lost), a fixed order
    assert sums[:, 0].tolist() == [3.0, np.float32(np.float32(1e8) + 1) - np.float32(1e8)]


def test_sorted_scatter_add_is_bit_reproducible(rng):
    idx = rng.integers(0, 7, 5000)
    g = rng.standard_normal((5000, 3)).astype(np.float32)
    runs = [indexing.sorted_scatter_add(np.zeros((7, 3), np.float32), idx, g)
            for _ in range(3)]
    assert all(np.array_equal(runs[0], r) for r in runs)
    np.testing.assert_allclose(runs[0], _loop_scatter((7, 3), idx, g), rtol=1e-4, atol=1e-3)


def test_embedding_and_indexing_backward_use_the_scatter_add(rng):
    w = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    idx = mg.tensor([[1, 1], [3, 1]])
    g = rng.standard_normal((2, 2, 3)).astype(np.float32)
    mg.nn.functional.embedding(idx, w).backward(mg.tensor(g))
    expected = np.zeros((4, 3), np.float32)
    for i, row in zip(idx.numpy().reshape(-1), g.reshape(-1, 3)):
        expected[i] += row
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-6)
    x = mg.tensor(rng.standard_normal(5), requires_grad=True)
    x[mg.tensor([0, 0, 4, 0])].sum().backward()
    assert x.grad.numpy().tolist() == [3, 0, 0, 0, 1]


def test_deterministic_flag():
    assert mg.are_deterministic_algorithms_enabled()
    try:
        mg.use_deterministic_algorithms(False)
        assert not mg.are_deterministic_algorithms_enabled()
    finally:
        mg.use_deterministic_algorithms(True)
    with pytest.raises(TypeError, match="mode must be a bool"):
        mg.use_deterministic_algorithms("yes")


# ----------------------------------------------------------------------------- CuPy's API


def test_the_cupy_api_minigrad_calls_exists():
    """Where CuPy is installed (no GPU needed): the type test and the signatures the GPU
    paths rely on (a CuPy upgrade that changes them fails here, not on the first GPU run)."""
    import inspect  # noqa: PLC0415

    cp = pytest.importorskip("cupy")
    cupyx = pytest.importorskip("cupyx")
    assert backend._is_cupy_type(cp.ndarray)
    assert not backend._is_cupy_type(type(cp.float32(1)))  # CuPy scalars are NumPy's

    def params(f):
        return set(inspect.signature(f).parameters)

    assert {"seed", "method"} <= params(cp.random.RandomState.__init__)
    for draw in (cp.random.RandomState.random_sample, cp.random.RandomState.standard_normal):
        assert {"size", "dtype"} <= params(draw)
    assert {"low", "high", "size", "dtype"} <= params(cp.random.RandomState.randint)
    assert "kind" in params(cp.argsort)
    assert params(cupyx.scatter_add) == {"a", "slices", "value"}
    for name in ("flatnonzero", "cumsum", "where", "minimum", "not_equal", "asarray", "stack"):
        assert callable(getattr(cp, name))
    assert hasattr(cp.cuda.Device, "__enter__") and hasattr(cp.ndarray, "get")
