"""Activations: values against closed forms and torch's numbers, gradients against finite
differences, erf accuracy, stability at +-1e4."""

import math
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck
from minigrad.ops.special import erf
from tests.conftest import to_numpy

from ._ref import check_against_reference


def test_erf_matches_math_erf_float64():
    x = np.concatenate([np.linspace(-7, 7, 40001), [0.0, 0.46875, -0.46875, 4.0, -4.0, 30.0]])
    want = np.array([math.erf(v) for v in x])
    got = erf(x)
    assert got.dtype == np.float64
    assert np.max(np.abs(got - want)) < 1e-15
    # relative accuracy in the tail, where erf is close to +-1 but 1 - erf is not tiny
    assert np.max(np.abs(got - want) / np.abs(want).clip(1e-300)) < 1e-14


def test_erf_float32_stays_float32_and_is_accurate():
    x = np.linspace(-6, 6, 20001, dtype=np.float32)
    want = np.array([math.erf(float(v)) for v in x])
    got = erf(x)
    assert got.dtype == np.float32
    assert np.max(np.abs(got - want)) < 1e-6


def test_erf_special_values():
    got = erf(np.array([0.0, -0.0, np.inf, -np.inf, np.nan]))
    assert got[0] == 0 and np.signbit(got[1])
    assert got[2] == 1 and got[3] == -1 and np.isnan(got[4])


CLOSED_FORMS = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda a: np.where(a > 0, a, 0.2 * a)),
    "elu": (lambda x: F.elu(x, 0.7), lambda a: np.where(a > 0, a, 0.7 * np.expm1(a))),
    "silu": (F.silu, lambda a: a / (1 + np.exp(-a))),
    "softplus": (F.softplus, lambda a: np.log1p(np.exp(a))),
    "gelu_none": (F.gelu, lambda a: a * 0.5 * (1 + np.vectorize(math.erf)(a / math.sqrt(2)))),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) *
                                                   (a + 0.044715 * a ** 3)))),
    "relu": (F.relu, lambda a: np.maximum(a, 0)),
    "sigmoid": (F.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    "tanh": (F.tanh, np.tanh),
    "softmax": (lambda x: F.softmax(x, dim=1),
                lambda a: np.exp(a) / np.exp(a).sum(1, keepdims=True)),
    "log_softmax": (lambda x: F.log_softmax(x, dim=-1),
                    lambda a: a - np.log(np.exp(a).sum(1, keepdims=True))),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_activation_value_and_gradcheck(name, device, rng):
    fn, ref = CLOSED_FORMS[name]
    a = rng.standard_normal((3, 4)) * 2
    a[np.abs(a) < 1e-3] = 0.5  # keep finite differences away from kinks
    x = mg.tensor(a, dtype=mg.float64, device=device, requires_grad=True)
    before = a.copy()
    np.testing.assert_allclose(to_numpy(fn(x)), ref(a), rtol=1e-12, atol=1e-14)
    assert gradcheck(fn, [x])
    np.testing.assert_array_equal(to_numpy(x), before)  # inputs unchanged


@pytest.mark.parametrize("name", ["gelu_none", "gelu_tanh", "elu", "leaky_relu", "silu",
                                  "softplus", "softplus_b2_t5"])
def test_activation_matches_torch(name):
    fns = {
        "gelu_none": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
        "elu": lambda x: F.elu(x, alpha=0.7), "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
        "silu": F.silu, "softplus": F.softplus,
        "softplus_b2_t5": lambda x: F.softplus(x, beta=2.0, threshold=5.0),
    }
    check_against_reference(name, fns[name])


def test_softplus_beta_threshold_gradcheck(rng):
    x = mg.tensor(rng.standard_normal((4, 3)) * 2, dtype=mg.float64, requires_grad=True)
    assert gradcheck(lambda t: F.softplus(t, beta=2.0, threshold=50.0), [x])


@pytest.mark.parametrize("module,fn", [
    (nn.ReLU(), F.relu), (nn.LeakyReLU(0.3), lambda x: F.leaky_relu(x, 0.3)),
    (nn.ELU(0.5), lambda x: F.elu(x, 0.5)), (nn.GELU(), F.gelu),
    (nn.GELU("tanh"), lambda x: F.gelu(x, "tanh")), (nn.SiLU(), F.silu),
    (nn.Sigmoid(), F.sigmoid), (nn.Tanh(), F.tanh),
    (nn.Softplus(2.0, 10.0), lambda x: F.softplus(x, 2.0, 10.0)),
    (nn.Softmax(dim=0), lambda x: F.softmax(x, 0)),
    (nn.LogSoftmax(dim=1), lambda x: F.log_softmax(x, 1)),
])
def test_modules_match_functional_and_keep_float32(module, fn, rng):
    x = mg.tensor(rng.standard_normal((5, 4)).astype(np.float32))
    y = module(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(to_numpy(y), to_numpy(fn(x)))


@pytest.mark.parametrize("fn", [
    F.relu, F.sigmoid, F.tanh, F.silu, F.gelu, lambda x: F.gelu(x, "tanh"), F.softplus,
    lambda x: F.elu(x), lambda x: F.leaky_relu(x), lambda x: F.softmax(x, -1),
    lambda x: F.log_softmax(x, -1), lambda x: F.softplus(x, 3.0, 100.0),
])
def test_activations_stable_at_large_inputs(fn):
    x = mg.tensor([[-1e4, -50.0, 0.0, 50.0, 1e4]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = fn(x)
        (y * mg.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]])).sum().backward()
    assert np.all(np.isfinite(to_numpy(y))) and np.all(np.isfinite(to_numpy(x.grad)))


def test_softmax_implicit_dim_warns_like_torch():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.warns(UserWarning, match="dim"):
        y = F.softmax(x)
    np.testing.assert_allclose(to_numpy(y).sum(1), [1, 1], rtol=1e-6)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("erf")


def test_linear_double_backward():
    from minigrad.autograd import gradgradcheck

    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((3, 4)), dtype=mg.float64, requires_grad=True)
    w = mg.tensor(rng.standard_normal((2, 4)), dtype=mg.float64, requires_grad=True)
    b = mg.tensor(rng.standard_normal(2), dtype=mg.float64, requires_grad=True)
    assert gradgradcheck(lambda x, w, b: F.linear(x, w, b).tanh(), [x, w, b])


@pytest.mark.parametrize("fn", [
    lambda x: F.leaky_relu(x, 0.2), lambda x: F.elu(x, 0.7), F.silu,
    lambda x: F.softplus(x, 2.0, 50.0),
])
def test_activation_double_backward(fn, rng):
    from minigrad.autograd import gradgradcheck

    a = rng.standard_normal((3, 4)) * 2
    a[np.abs(a) < 1e-2] = 0.5
    x = mg.tensor(a, dtype=mg.float64, requires_grad=True)
    assert gradgradcheck(fn, [x])


@pytest.mark.parametrize("fn", [
    F.gelu,
    lambda x: F.cross_entropy(x, mg.tensor([0, 1, 2])),
    lambda x: F.batch_norm(x, None, None, training=True),
    lambda x: F.mse_loss(x, mg.zeros(3, 4, dtype=mg.float64)),
])
def test_fused_ops_refuse_double_backward_clearly(fn):
    x = mg.tensor(np.random.default_rng(0).standard_normal((3, 4)), dtype=mg.float64,
                  requires_grad=True)
    with pytest.raises(NotImplementedError, match="double backward"):
        mg.autograd.grad([fn(x).sum()], [x], create_graph=True)
