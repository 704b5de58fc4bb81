"""Tensor.grad: assignments are checked at the assignment (shape, dtype, device, as torch);
reading .grad of a non-leaf warns and points at retain_grad(); the engine's own
accumulation bypasses both."""

import importlib
import warnings

import numpy as np
import pytest

import minigrad as mg

tensor_mod = importlib.import_module("minigrad.tensor")  # the module, not mg.tensor()


def test_assigning_a_grad_of_another_shape_raises_naming_both():
    p = mg.nn.Parameter(mg.zeros(3, 2))
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\).*shape \(3, 2\)"):
        p.grad = mg.zeros(2, 3)
    assert p.grad is None


def test_assigning_a_grad_of_another_dtype_raises_naming_both():
    p = mg.nn.Parameter(mg.zeros(3))
    p.grad = mg.ones(3)
    with pytest.raises(RuntimeError, match="float64.*float32"):
        p.grad = mg.zeros(3, dtype=mg.float64)
    np.testing.assert_array_equal(p.grad.numpy(), [1, 1, 1])  # unchanged


def test_assigning_a_non_tensor_or_itself_raises():
    p = mg.nn.Parameter(mg.zeros(3))
    with pytest.raises(TypeError, match="ndarray"):
        p.grad = np.zeros(3, np.float32)
    with pytest.raises(RuntimeError, match="its own grad"):
        p.grad = p


def test_assigning_a_matching_grad_or_none_works():
    p = mg.nn.Parameter(mg.zeros(2))
    g = mg.tensor([1.0, 2.0])
    p.grad = g
    assert p.grad is g
    p.grad = None
    assert p.grad is None


@pytest.mark.skipif(not mg.cuda_is_available(), reason="CUDA device not available")
def test_assigning_a_grad_on_another_device_raises():
    p = mg.nn.Parameter(mg.zeros(2))
    with pytest.raises(RuntimeError, match="device"):
        p.grad = mg.zeros(2, device="cuda")


def test_bad_grad_never_reaches_the_optimizer():
    p = mg.nn.Parameter(mg.ones(2))
    opt = mg.optim.SGD([p], lr=0.1)
    with pytest.raises(RuntimeError):
        p.grad = mg.ones(3)
    opt.step()  # no grad: nothing happens
    np.testing.assert_array_equal(p.detach().numpy(), [1, 1])


def test_reading_grad_of_a_non_leaf_warns_and_points_at_retain_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.sum().backward()
    with pytest.warns(UserWarning, match=r"retain_grad\(\)"):
        assert y.grad is None


def test_no_warning_for_leaves_or_retained_non_leaves():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y * y).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(y.grad.numpy(), [4.0, 8.0])
        np.testing.assert_array_equal(x.grad.numpy(), [8.0, 16.0])
        assert mg.tensor([1.0]).grad is None


def test_engine_accumulation_does_not_go_through_the_setter(monkeypatch):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    calls = []

    real = tensor_mod._check_grad_value
    monkeypatch.setattr(tensor_mod, "_check_grad_value",
                        lambda t, g: calls.append(1) or real(t, g))
    (x * x).sum().backward()
    (x * x).sum().backward()
    assert calls == []
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
