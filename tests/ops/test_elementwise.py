"""ops/elementwise.py: arithmetic, powers, exp/log/sqrt/abs, clip, maximum/minimum, where,
comparisons; shapes include broadcasting and 0-d."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from tests.conftest import to_numpy
from tests.ops._check import check_op, t64

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
