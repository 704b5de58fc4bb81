"""Every differentiable op: forward against NumPy, gradient against float64 central
differences under a random upstream gradient, inputs unchanged; shapes include broadcasting
and 0-d."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.autograd import gradcheck, gradgradcheck
from tests.conftest import to_numpy


def t64(a, device, requires_grad=True):
    return mg.tensor(np.asarray(a, dtype=np.float64), dtype=mg.float64, device=device,
                     requires_grad=requires_grad)


def check_op(fn, np_fn, arrays, device, atol=1e-5, rtol=1e-4):
    """Forward vs NumPy (float64), gradcheck, and inputs unchanged."""
    inputs = [t64(a, device) for a in arrays]
    before = [to_numpy(t).copy() for t in inputs]
    out = fn(*inputs)
    np.testing.assert_allclose(to_numpy(out), np_fn(*arrays), rtol=1e-10, atol=1e-12)
    assert gradcheck(fn, inputs, atol=atol, rtol=rtol)
    for t, b in zip(inputs, before):
        np.testing.assert_array_equal(to_numpy(t), b)


BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (3,)), ((5,), ())]


@pytest.mark.parametrize("sa,sb", BINARY_SHAPES)
@pytest.mark.parametrize(
    "name,fn,np_fn",
    [
        ("add", lambda a, b: a + b, np.add),
        ("sub", lambda a, b: a - b, np.subtract),
        ("mul", lambda a, b: a * b, np.multiply),
        ("div", lambda a, b: a / b, np.divide),
        ("maximum", mg.maximum, np.maximum),
        ("minimum", mg.minimum, np.minimum),
        ("pow", lambda a, b: a.abs() ** b, lambda a, b: np.abs(a) ** b),
    ],
)
def test_binary_ops(name, fn, np_fn, sa, sb, device, rng):
    a = rng.standard_normal(sa) + (3.0 if name in ("div", "pow") else 0.0)
    b = rng.standard_normal(sb) + (3.0 if name == "div" else 0.0)
    check_op(fn, np_fn, [a, b], device)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize(
    "name,fn,np_fn,positive",
    [
        ("neg", lambda x: -x, np.negative, False),
        ("exp", mg.exp, np.exp, False),
        ("log", mg.log, np.log, True),
        ("sqrt", mg.sqrt, np.sqrt, True),
        ("abs", mg.abs, np.abs, False),
        ("relu", mg.relu, lambda x: np.maximum(x, 0), False),
        ("sigmoid", mg.sigmoid, lambda x: 1 / (1 + np.exp(-x)), False),
        ("tanh", mg.tanh, np.tanh, False),
        ("softplus", mg.softplus, lambda x: np.log1p(np.exp(x)), False),
        ("clip", lambda x: mg.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), False),
        ("pow_scalar", lambda x: x**3, lambda x: x**3, False),
        ("rpow", lambda x: 2.0**x, lambda x: 2.0**x, False),
        ("scalar_arith", lambda x: (3 - x) * 2 / (x * x + 1) + 1,
         lambda x: (3 - x) * 2 / (x * x + 1) + 1, False),
    ],
)
def test_unary_ops(name, fn, np_fn, positive, shape, device, rng):
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


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2), -1])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "std"])
def test_reductions(name, axis, keepdims, device, rng):
    x = rng.standard_normal((3, 4, 5))  # continuous values: no ties for max/min
    np_fn = {
        "sum": lambda a: a.sum(axis=axis, keepdims=keepdims),
        "mean": lambda a: a.mean(axis=axis, keepdims=keepdims),
        "max": lambda a: a.max(axis=axis, keepdims=keepdims),
        "min": lambda a: a.min(axis=axis, keepdims=keepdims),
        "var": lambda a: a.var(axis=axis, keepdims=keepdims, ddof=1),
        "std": lambda a: a.std(axis=axis, keepdims=keepdims, ddof=1),
    }[name]
    check_op(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), np_fn, [x], device)


def test_max_splits_gradient_between_ties():
    x = mg.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0.5, 0.5, 0])


def test_var_correction_zero_is_biased(rng):
    a = rng.standard_normal((4, 6))
    out = mg.tensor(a, dtype=mg.float64).var(1, correction=0)
    np.testing.assert_allclose(out.numpy(), a.var(1), rtol=1e-12)


@pytest.mark.parametrize(
    "sa,sb",
    [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
     ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2))],
)
def test_matmul(sa, sb, device, rng):
    check_op(lambda a, b: a @ b, np.matmul, [rng.standard_normal(sa), rng.standard_normal(sb)],
             device)


def test_matmul_with_transposed_weight_gives_contiguous_grad(rng):
    x = mg.tensor(rng.standard_normal((5, 3)), dtype=mg.float64)
    w = mg.tensor(rng.standard_normal((4, 3)), dtype=mg.float64, requires_grad=True)
    g = rng.standard_normal((5, 4))
    (x @ w.T).backward(g)
    np.testing.assert_allclose(w.grad.numpy(), g.T @ x.numpy(), rtol=1e-12)
    assert w.grad.array.flags.c_contiguous


@pytest.mark.parametrize(
    "fn,np_fn",
    [
        (lambda x: x.reshape(4, 6), lambda a: a.reshape(4, 6)),
        (lambda x: x.reshape(-1), lambda a: a.reshape(-1)),
        (lambda x: x.transpose(0, 2), lambda a: a.swapaxes(0, 2)),
        (lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
        (lambda x: x.T, lambda a: a.T),
        (lambda x: x.unsqueeze(1).squeeze(1), lambda a: a),
        (lambda x: x[:, 1:3].unsqueeze(0), lambda a: a[None, :, 1:3]),
        (lambda x: x.flatten(1), lambda a: a.reshape(2, 12)),
        (lambda x: x[1], lambda a: a[1]),
        (lambda x: x[..., ::2], lambda a: a[..., ::2]),
        (lambda x: x[:, [0, 2, 2]], lambda a: a[:, [0, 2, 2]]),  # repeated index accumulates
        (lambda x: x[x > 0], lambda a: a[a > 0]),
        (lambda x: x[mg.arange(2), mg.tensor([1, 2])], lambda a: a[np.arange(2), [1, 2]]),
        (lambda x: x[:, :1].expand(2, 3, 4), lambda a: np.broadcast_to(a[:, :1], (2, 3, 4))),
    ],
)
def test_shape_ops(fn, np_fn, device, rng):
    check_op(fn, np_fn, [rng.standard_normal((2, 3, 4))], device)


def test_concat_and_stack(device, rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    check_op(lambda x, y: mg.concat([x, y], 0), lambda x, y: np.concatenate([x, y]), [a, b],
             device)
    c, d = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    check_op(lambda x, y: mg.stack([x, y], 1), lambda x, y: np.stack([x, y], 1), [c, d], device)


def test_where(device, rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    cond = rng.standard_normal((3, 4)) > 0
    check_op(lambda x, y: mg.where(mg.tensor(cond, device=device), x, y),
             lambda x, y: np.where(cond, x, y), [a, b], device)


def test_comparisons_and_argmax_have_no_gradient():
    x = mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 1.0]], requires_grad=True)
    assert not (x > 1).requires_grad and (x > 1).dtype == np.bool_
    np.testing.assert_array_equal((x >= 2).numpy(), [[False, True, True], [True, False, False]])
    np.testing.assert_array_equal(x.argmax(1).numpy(), [1, 0])
    np.testing.assert_array_equal(x.argmin(1, keepdim=True).numpy(), [[0], [1]])
    assert x.argmax().item() == 3


# ----------------------------------------------------------------------------- stability


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


# ----------------------------------------------------------------------------- second order


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: (a @ b).sum() * (a * a).sum(),
        lambda a, b: (a @ b).tanh().sum(),
        lambda a, b: mg.sigmoid(a @ b).log().sum(),
        lambda a, b: mg.log_softmax(a @ b, 1).sum() + (a.exp() / (1 + a * a)).sum(),
        lambda a, b: mg.softmax(a @ b, 0).max(1).values.sum() + mg.softplus(a).mean(),
        lambda a, b: (a[:, [0, 1, 1]] ** 3).sum() + mg.logsumexp(a @ b, 1).var(),
        lambda a, b: (a.sqrt().abs() * mg.maximum(a, 0.5)).sum() + (a.T @ a).std(),
    ],
)
def test_gradgradcheck(fn, rng):
    a = t64(np.abs(rng.standard_normal((3, 4))) + 0.2, "cpu")
    b = t64(rng.standard_normal((4, 2)), "cpu")
    assert gradgradcheck(fn, [a, b], atol=1e-4, rtol=1e-3)


# ----------------------------------------------------------------------------- hypothesis


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_broadcast_binary_property(data):
    shape_a, shape_b = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                                  max_side=3)).input_shapes
    elems = st.floats(-3, 3, allow_nan=False, width=64)
    a = data.draw(hnp.arrays(np.float64, shape_a, elements=elems))
    b = data.draw(hnp.arrays(np.float64, shape_b, elements=elems))
    op = data.draw(st.sampled_from(["add", "sub", "mul"]))
    ta, tb = t64(a, "cpu"), t64(b, "cpu")
    out = getattr(mg.ops, op)(ta, tb)
    np_op = getattr(np, {"sub": "subtract", "mul": "multiply"}.get(op, op))
    np.testing.assert_allclose(to_numpy(out), np_op(a, b))
    g = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(g)
    # closed-form adjoints, summed over the broadcast axes
    ga = {"add": g, "sub": g, "mul": g * b}[op]
    gb = {"add": g, "sub": -g, "mul": g * a}[op]

    def reduce_to(grad, shape):
        grad = np.asarray(grad)
        while grad.ndim > len(shape):
            grad = grad.sum(0)
        for i, n in enumerate(shape):
            if n == 1 and grad.shape[i] != 1:
                grad = grad.sum(i, keepdims=True)
        return grad

    np.testing.assert_allclose(ta.grad.numpy(), reduce_to(np.broadcast_to(ga, out.shape), shape_a),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tb.grad.numpy(), reduce_to(np.broadcast_to(gb, out.shape), shape_b),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 2**16))
def test_reduction_property(shape, seed):
    a = np.random.default_rng(seed).standard_normal(shape)
    x = t64(a, "cpu")
    axis = len(shape) - 1
    assert gradcheck(lambda t: t.sum(axis) * t.mean(axis) + t.max(axis).values, [x])
