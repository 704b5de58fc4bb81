"""Inputs torch refuses are refused here too, with messages that name what clashes; and the
dtype rule of minigrad.tensor() (float16 kept, float64 data made float32)."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.data import DataLoader, TensorDataset
from minigrad.optim.sgd import SGD
from minigrad.train import evaluate, fit


@pytest.mark.parametrize("da,db", [("float32", "int64"), ("int64", "float32"),
                                   ("float32", "float64"), ("int32", "int64")])
def test_matmul_of_different_dtypes_names_both(da, db):
    a, b = mg.ones(2, 3, dtype=da), mg.ones(3, 2, dtype=db)
    with pytest.raises(TypeError, match=f"dtypes {da} and {db}"):
        a @ b


def test_matmul_of_equal_integer_dtypes_still_works():
    a = mg.tensor([[1, 2], [3, 4]])
    np.testing.assert_array_equal((a @ a).numpy(), [[7, 10], [15, 22]])


@pytest.mark.parametrize("shape", [(-2, 3), (3, -3), (-5,)])
def test_reshape_refuses_negative_sizes_other_than_minus_one(shape):
    with pytest.raises(ValueError, match=f"invalid size {min(shape)}"):
        mg.ones(6).reshape(*shape)


def test_reshape_refuses_float_sizes():
    with pytest.raises(TypeError, match="shape must be integers"):
        mg.ones(6).reshape(2.0, 3)
    assert mg.ones(6).reshape(-1, 3).shape == (2, 3)


@pytest.mark.parametrize("loss", [nn.BCELoss(), nn.BCEWithLogitsLoss()])
@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_binary_cross_entropy_refuses_non_float_targets(loss, dtype):
    with pytest.raises(TypeError, match=f"target must be a floating-point.*{dtype}"):
        loss(mg.full((3,), 0.5), mg.tensor([0, 1, 1]).astype(dtype))


def test_int_tensor_add_float_says_which_dtypes_clash():
    t = mg.tensor([1, 2])
    with pytest.raises(TypeError, match="add_: the result has dtype float64.*int64") as info:
        t.add_(0.5)
    assert "ufunc" not in str(info.value)
    with pytest.raises(TypeError, match=r"\*=.*float32.*int64"):
        t *= mg.tensor([0.5, 0.5])
    np.testing.assert_array_equal(t.numpy(), [1, 2])  # unchanged


def _tiny():
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    y = np.arange(8) % 2
    return nn.Linear(3, 2), DataLoader(TensorDataset(x, y), batch_size=4)


def test_fit_refuses_an_empty_validation_loader_before_training():
    model, train = _tiny()
    before = model.weight.detach().numpy().copy()
    empty = DataLoader(TensorDataset(np.zeros((0, 3), np.float32), np.zeros(0, np.int64)),
                       batch_size=4)
    with pytest.raises(ValueError, match="val_loader yields no batches"):
        fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), train, 1,
            val_loader=empty, progress=False)
    np.testing.assert_array_equal(model.weight.detach().numpy(), before)


def test_evaluate_refuses_a_loader_without_batches():
    model, _ = _tiny()
    with pytest.raises(ValueError, match="yielded no batches"):
        evaluate(model, nn.CrossEntropyLoss(), iter(()))


def test_tensor_keeps_float16_and_narrows_float64():
    assert mg.tensor(np.ones(2, np.float16)).dtype == np.float16
    assert mg.tensor(np.float16(1.5)).dtype == np.float16
    assert mg.tensor(np.ones(2, np.float64)).dtype == np.float32
    assert mg.tensor([1.5, 2.0]).dtype == np.float32
    assert mg.tensor(np.ones(2), dtype=mg.float64).dtype == np.float64
    assert mg.tensor([1, 2]).dtype == np.int64
    assert mg.tensor(np.ones(2, np.int16)).dtype == np.int16


def test_tensor_under_a_float64_default_never_upcasts():
    previous = mg.get_default_dtype()
    mg.set_default_dtype(mg.float64)
    try:
        assert mg.tensor([1.5]).dtype == np.float64
        assert mg.tensor(np.ones(2, np.float32)).dtype == np.float32
        assert mg.tensor(np.ones(2, np.float16)).dtype == np.float16
    finally:
        mg.set_default_dtype(previous)
