"""Tensor construction, dtype policy, factories, devices, the seeded generator, bad input."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import Device
from tests.conftest import CUDA, to_numpy


def test_attributes(device):
    x = mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device, requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.numel() == 6 and x.dtype == np.float32
    assert x.size() == (2, 3) and x.size(-1) == 3
    assert x.device == device and x.is_leaf and x.grad_fn is None and x.requires_grad
    assert x.T.shape == (3, 2) and len(x) == 2
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None
    assert x.detach().requires_grad is False
    assert mg.tensor(3.5).item() == 3.5


@pytest.mark.parametrize(
    "data,dtype",
    [
        (1.5, np.float32),
        ([1.0, 2.0], np.float32),
        (np.array([1.0, 2.0]), np.float32),  # float64 data becomes the default float dtype
        ([1, 2], np.int64),
        ([True, False], np.bool_),
    ],
)
def test_default_dtypes(data, dtype):
    assert mg.tensor(data).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.int64,
                                   np.uint8, np.bool_])
def test_tensor_of_an_array_copies_and_applies_the_dtype_rule(dtype):
    a = np.asfortranarray(np.arange(6).reshape(2, 3).astype(dtype))
    t = mg.tensor(a)
    expected = np.float32 if dtype == np.float64 else dtype  # only wider floats narrow
    assert t.dtype == expected and not np.shares_memory(t.array, a)
    np.testing.assert_array_equal(t.array, a.astype(expected))
    a[0, 0] = 1  # the tensor holds a copy
    assert t.array[0, 0] == 0
    mg.set_default_dtype(mg.float64)
    try:
        assert mg.tensor(a).dtype == dtype  # nothing is wider than float64: every dtype kept
    finally:
        mg.set_default_dtype(mg.float32)


def test_float64_when_asked_for():
    x = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    y = (x * 2.5 + 1) ** 2 / 3 - x.exp()
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float64
    assert mg.from_numpy(np.zeros(3)).dtype == np.float64  # shares memory, keeps dtype


def test_python_scalars_never_upcast_float32():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    for y in (x + 1, 1 - x, x * 0.1, 0.1 / x, x**2.5, 2.0**x, mg.maximum(x, 0.5),
              mg.where(x > 1, x, 0.0), x.mean(), x.var(), x.std(), x.softmax(), -x):
        assert y.dtype == np.float32
    (x * 0.1).sum().backward()
    assert x.grad.dtype == np.float32


def test_integer_tensors_promote_to_float_beside_floats():
    i = mg.tensor([1, 2])
    f = mg.tensor([0.5, 0.5])
    assert (i * f).dtype == np.float32
    assert (i / 2).dtype == np.float32
    assert (i + 1).dtype == np.int64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_factories(dtype, device):
    assert mg.zeros(2, 3, dtype=dtype, device=device).dtype == dtype
    np.testing.assert_array_equal(to_numpy(mg.ones((2, 2), device=device)), np.ones((2, 2)))
    np.testing.assert_array_equal(to_numpy(mg.full((2,), 7.0, device=device)), [7, 7])
    np.testing.assert_array_equal(to_numpy(mg.eye(3, device=device)), np.eye(3))
    assert mg.arange(5).dtype == np.int64
    np.testing.assert_allclose(to_numpy(mg.arange(0, 1, 0.25)), [0, 0.25, 0.5, 0.75])
    assert mg.arange(0, 1, 0.25).dtype == np.float32
    for t in (mg.rand(4, 5, dtype=dtype, device=device), mg.randn(4, 5, dtype=dtype,
                                                                   device=device)):
        assert t.dtype == dtype and t.shape == (4, 5) and t.device == device
    x = mg.randn(3, 2, device=device)
    for like in (mg.zeros_like(x), mg.ones_like(x), mg.rand_like(x), mg.randn_like(x),
                 mg.full_like(x, 2.0)):
        assert like.shape == (3, 2) and like.dtype == np.float32 and like.device == device


def test_manual_seed_repeats_bit_for_bit():
    mg.manual_seed(42)
    a = (mg.randn(5, 5).numpy(), mg.rand(3).numpy(), mg.randint(0, 10, (4,)).numpy(),
         mg.randperm(7).numpy())
    mg.manual_seed(42)
    b = (mg.randn(5, 5).numpy(), mg.rand(3).numpy(), mg.randint(0, 10, (4,)).numpy(),
         mg.randperm(7).numpy())
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    mg.manual_seed(43)
    assert not np.array_equal(mg.randn(5, 5).numpy(), a[0])


def test_rng_state_round_trip():
    mg.manual_seed(7)
    mg.randn(10)
    state = mg.get_rng_state()
    first = mg.randn(4).numpy()
    mg.randn(100)
    mg.set_rng_state(state)
    np.testing.assert_array_equal(mg.randn(4).numpy(), first)


def test_random_draws_statistics():
    x = mg.randn(200_000).numpy()
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01
    u = mg.rand(200_000).numpy()
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.005


def test_to_and_astype_are_differentiable():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(mg.float64) * 3
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3, 3])
    assert x.to("cpu") is x


def test_inplace_methods_bump_version_and_change_values():
    x = mg.tensor([1.0, 2.0])
    v = x._version
    x.add_(1).mul_(2).sub_(1).div_(3)
    np.testing.assert_allclose(x.numpy(), [1, 5 / 3])
    assert x._version == v + 4
    x.zero_()
    np.testing.assert_array_equal(x.numpy(), [0, 0])
    x.copy_(mg.tensor([5.0, 6.0]))
    x[0] = 9.0
    np.testing.assert_array_equal(x.numpy(), [9, 6])


def test_repr_is_readable():
    r = repr(mg.tensor([1.0, 2.0], requires_grad=True))
    assert r.startswith("tensor([1., 2.]") and "requires_grad=True" in r
    assert "grad_fn" in repr(mg.tensor([1.0], requires_grad=True) * 2)
    assert "dtype=float64" in repr(mg.tensor([1.0], dtype=mg.float64))


# ----------------------------------------------------------------------------- devices


def test_device_parsing():
    assert Device("cpu") == "cpu" and str(Device("cuda")) == "cuda:0"
    assert Device("cuda:1").index == 1
    for bad in ("tpu", "cuda:x", "cpu:3"):
        with pytest.raises(ValueError, match=bad.split(":")[0]):
            Device(bad)
    with pytest.raises(TypeError):
        Device(3)


@pytest.mark.skipif(CUDA, reason="checks the message shown when CUDA is missing")
def test_cuda_without_cupy_or_gpu_says_which_extra():
    with pytest.raises(Exception, match=r"minigrad-tensor\[cuda1[23]\]|GPU"):
        mg.zeros(2, device="cuda")


@pytest.mark.skipif(not CUDA, reason="CUDA device not available")
def test_mixing_devices_names_both():
    a = mg.ones(2)
    b = mg.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="cpu.*cuda:0|cuda:0.*cpu"):
        a + b


@pytest.mark.skipif(not CUDA, reason="CUDA device not available")
def test_to_cuda_and_back_is_differentiable():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.cuda() * 2).cpu().sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2])


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("data", [["a", "b"], "text", [object()], {"a": 1}])
def test_unsupported_data_raise_type_error(data):
    with pytest.raises(TypeError, match="unsupported|expected numbers"):
        mg.tensor(data)


def test_ragged_data_raises_value_error():
    with pytest.raises(ValueError, match="rectangular"):
        mg.tensor([[1.0, 2.0], [3.0]])


def test_unsupported_dtype_raises():
    with pytest.raises(TypeError, match="unsupported dtype"):
        mg.tensor([1.0], dtype=np.complex64)


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="non-negative"):
        mg.zeros(-1, 2)


def test_item_needs_one_element():
    with pytest.raises(ValueError, match=r"one element.*\(2,\)"):
        mg.ones(2).item()


def test_numpy_of_grad_tensor_says_detach():
    with pytest.raises(RuntimeError, match="detach"):
        mg.ones(2, requires_grad=True).numpy()


def test_to_another_tensor_takes_its_dtype_and_device_as_torch():
    x = mg.tensor([1.5, 2.5])
    other = mg.tensor([1, 2], dtype=mg.float64)
    y = x.to(other)
    assert y.dtype == np.float64 and y.device == other.device
    np.testing.assert_array_equal(y.numpy(), [1.5, 2.5])
    with pytest.raises(TypeError, match=r"to\(\) got unexpected arguments \['colour'\]"):
        x.to(colour="red")
