"""ops/dropout.py, through nn.Dropout and nn.functional.dropout."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck
from tests.conftest import to_numpy
from tests.ops._check import f64


def test_dropout_keep_rate_and_scaling(device):
    p = 0.3
    d = nn.Dropout(p)
    x = mg.ones(200, 500, device=device, requires_grad=True)
    y = d(x)
    yv = to_numpy(y)
    kept = yv != 0
    # 100,000 Bernoulli(0.7): sd of the rate ~ 0.0015
    assert kept.mean() == pytest.approx(1 - p, abs=0.006)
    np.testing.assert_allclose(yv[kept], 1 / (1 - p), rtol=1e-6)
    assert y.dtype == np.float32
    assert yv.mean() == pytest.approx(1.0, abs=0.01)  # unbiased in expectation
    y.backward(mg.full((200, 500), 2.0, device=device))
    np.testing.assert_allclose(to_numpy(x.grad), 2 * yv, rtol=1e-6)  # same mask, same scale


def test_dropout_eval_and_p0_identity():
    x = mg.randn(4, 5)
    d = nn.Dropout(0.5).eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert F.dropout(x, 0.7, training=False) is x


def test_dropout_seeded_repeatable_and_fresh_each_call():
    x = mg.ones(50, 50)
    mg.manual_seed(7)
    a = to_numpy(nn.Dropout(0.5)(x))
    b = to_numpy(nn.Dropout(0.5)(x))
    mg.manual_seed(7)
    np.testing.assert_array_equal(to_numpy(nn.Dropout(0.5)(x)), a)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_bad_p(p):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        nn.Dropout(p)
    with pytest.raises(TypeError, match="number"):
        nn.Dropout("0.5")


def test_dropout_gradcheck_with_fixed_mask():
    x = f64(np.random.default_rng(0).standard_normal((3, 4)))

    def fn(t):
        mg.manual_seed(11)  # the same mask on every evaluation
        return F.dropout(t, 0.4)

    assert gradcheck(fn, [x])


def test_dropout_inplace_overwrites_the_input_outside_the_graph():
    x = mg.ones(20, 30)
    mg.manual_seed(3)
    want = F.dropout(mg.ones(20, 30), 0.4).numpy()
    mg.manual_seed(3)
    assert F.dropout(x, 0.4, inplace=True) is x
    np.testing.assert_array_equal(x.numpy(), want)
    y = mg.ones(20, 30)
    mg.manual_seed(3)
    assert nn.Dropout(0.4, inplace=True)(y) is y
    np.testing.assert_array_equal(y.numpy(), want)
    with pytest.raises(RuntimeError, match="dropout\\(inplace=True\\)"):
        F.dropout(mg.ones(3, requires_grad=True) * 1, 0.4, inplace=True)
