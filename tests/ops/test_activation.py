"""ops/activation.py, through minigrad.* and nn.functional: values, gradients against
finite differences and torch's numbers, stability at extreme inputs, double backward."""

import math
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck, gradgradcheck
from tests.conftest import to_numpy
from tests.nn._ref import check_against_reference
from tests.ops._check import check_op


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize(
    "name,fn,np_fn,positive",
    [
        ("relu", mg.relu, lambda x: np.maximum(x, 0), False),
        ("sigmoid", mg.sigmoid, lambda x: 1 / (1 + np.exp(-x)), False),
        ("tanh", mg.tanh, np.tanh, False),
        ("softplus", mg.softplus, lambda x: np.log1p(np.exp(x)), False),
    ],
)
def test_unary_activations(name, fn, np_fn, positive, shape, device, rng):
    x = rng.standard_normal(shape)
    if positive:
        x = np.abs(x) + 0.5
    else:  # keep away from kinks (0 for relu/abs, the clip bounds) where FD is not defined
        x = np.where(np.abs(x) < 0.05, 0.3, x)
        x = np.where(np.abs(np.abs(x - 0.1) - 0.6) < 0.05, 0.2, x)
    check_op(fn, np_fn, [x], device)


def _np_logsumexp(x, axis, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    out = m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


@pytest.mark.parametrize("axis", [0, -1, 1])
def test_softmax_family(axis, device, rng):
    x = rng.standard_normal((3, 4, 2))
    sm = np.exp(x - _np_logsumexp(x, axis, keepdims=True))
    check_op(lambda t: mg.softmax(t, axis), lambda a: sm, [x], device)
    check_op(lambda t: mg.log_softmax(t, axis), lambda a: np.log(sm), [x], device)
    check_op(lambda t: mg.logsumexp(t, axis), lambda a: _np_logsumexp(a, axis), [x], device)
    check_op(lambda t: mg.logsumexp(t, axis, keepdim=True),
             lambda a: _np_logsumexp(a, axis, keepdims=True), [x], device)


def test_stable_forms_at_extremes(recwarn):
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # numpy ignores underflow
        x = mg.tensor([-1000.0, 1000.0, -1e4, 1e4], requires_grad=True)
        s = mg.sigmoid(x)
        np.testing.assert_array_equal(to_numpy(s), [0, 1, 0, 1])
        sp = mg.softplus(x)
        np.testing.assert_allclose(to_numpy(sp), [0, 1000, 0, 1e4])
        (s.sum() + sp.sum()).backward()
        assert np.all(np.isfinite(to_numpy(x.grad)))
        logits = mg.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], requires_grad=True)
        ls = mg.log_softmax(logits, -1)
        assert np.all(np.isfinite(to_numpy(ls)))
        np.testing.assert_allclose(to_numpy(ls)[0], [0, -2e4, -1e4])
        np.testing.assert_allclose(to_numpy(ls)[1], np.full(3, -np.log(3)), rtol=1e-6)
        ls.backward(mg.ones(2, 3))
        assert np.all(np.isfinite(to_numpy(logits.grad)))
        lse = mg.logsumexp(logits, 1)
        np.testing.assert_allclose(to_numpy(lse), [1e4, -1e4 + np.log(3)], rtol=1e-6)
    assert len(recwarn) == 0


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


@pytest.mark.parametrize("fn", [
    F.relu, lambda x: F.leaky_relu(x, 0.2), lambda x: F.elu(x, 0.7), F.silu,
    lambda x: F.softplus(x, 2.0, 50.0),
])
def test_activation_double_backward(fn, rng):

    a = rng.standard_normal((3, 4)) * 2
    a[np.abs(a) < 1e-2] = 0.5
    x = mg.tensor(a, dtype=mg.float64, requires_grad=True)
    assert gradgradcheck(fn, [x])


@pytest.mark.parametrize("name,fn,module", [
    ("relu", lambda x, inplace: F.relu(x, inplace=inplace), lambda: nn.ReLU(inplace=True)),
    ("leaky_relu", lambda x, inplace: F.leaky_relu(x, 0.1, inplace=inplace),
     lambda: nn.LeakyReLU(0.1, inplace=True)),
    ("elu", lambda x, inplace: F.elu(x, 0.5, inplace=inplace), lambda: nn.ELU(0.5, True)),
    ("silu", lambda x, inplace: F.silu(x, inplace=inplace), lambda: nn.SiLU(inplace=True)),
])
def test_inplace_overwrites_the_input_outside_the_graph(name, fn, module):
    a = np.array([-2.0, -0.5, 0.0, 1.5])
    want = fn(mg.tensor(a), False).numpy()
    x = mg.tensor(a)
    version = x._version
    out = fn(x, True)
    assert out is x and x._version == version + 1
    np.testing.assert_array_equal(x.numpy(), want)
    y = mg.tensor(a)
    assert module()(y) is y
    np.testing.assert_array_equal(y.numpy(), want)
    w = mg.tensor(a, requires_grad=True)
    with mg.no_grad():  # no graph recorded: allowed, as torch allows
        assert fn(w, True) is w
    with pytest.raises(RuntimeError, match=f"{name}\\(inplace=True\\) on a tensor that requires"):
        fn(mg.tensor(a, requires_grad=True) * 1, True)

