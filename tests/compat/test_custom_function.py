"""User-defined autograd functions in torch's form (minigrad.autograd.Function)."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function, gradcheck, gradgradcheck
from tests.conftest import to_numpy


def t64(a, requires_grad=True):
    return mg.tensor(np.asarray(a, dtype=np.float64), dtype=mg.float64,
                     requires_grad=requires_grad)


class Cube(Function):
    """y = x^3;  dy/dx = 3 x^2 (written with tensor ops, so it is twice differentiable)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x ** 2


class ScaledSumDiff(Function):
    """(a * b * k, a - b) for a number k: two outputs; d/da = (b k, 1), d/db = (a k, -1)."""

    calls = 0

    @staticmethod
    def forward(ctx, a, k, b):
        ctx.save_for_backward(a, b)
        ctx.k = k
        return a * b * k, a - b

    @staticmethod
    def backward(ctx, g_prod, g_diff):
        ScaledSumDiff.calls += 1
        a, b = ctx.saved_tensors
        ga = g_prod * b * ctx.k + g_diff if ctx.needs_input_grad[0] else None
        gb = g_prod * a * ctx.k - g_diff if ctx.needs_input_grad[2] else None
        return ga, None, gb


def test_forward_backward_and_double_backward(rng):
    x = t64(rng.standard_normal((3, 4)))
    y = Cube.apply(x)
    np.testing.assert_allclose(to_numpy(y), to_numpy(x) ** 3)
    assert type(y.grad_fn).__name__ == "CubeBackward" and y.requires_grad
    assert gradcheck(Cube.apply, [x])
    assert gradgradcheck(Cube.apply, [x])
    (g,) = mg.autograd.grad(Cube.apply(x).sum(), [x], create_graph=True)
    (gg,) = mg.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(to_numpy(gg), 6 * to_numpy(x))  # d2/dx2 x^3 = 6 x


def test_several_outputs_call_backward_once(rng):
    a, b = t64(rng.standard_normal(3)), t64(rng.standard_normal(3))
    ScaledSumDiff.calls = 0
    p, d = ScaledSumDiff.apply(a, 2.0, b)
    (p.sum() + 3 * d.sum()).backward()
    assert ScaledSumDiff.calls == 1
    np.testing.assert_allclose(to_numpy(a.grad), 2 * to_numpy(b) + 3)
    np.testing.assert_allclose(to_numpy(b.grad), 2 * to_numpy(a) - 3)
    assert gradcheck(lambda s, t: ScaledSumDiff.apply(s, 0.5, t), [a, b])
    assert gradgradcheck(lambda s, t: ScaledSumDiff.apply(s, 0.5, t), [a, b])


def test_unused_output_gets_zero_gradient_and_needs_input_grad(rng):
    a, b = t64(rng.standard_normal(3)), t64(rng.standard_normal(3), requires_grad=False)
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y, x + y

        @staticmethod
        def backward(ctx, g1, g2):
            seen["needs"], seen["g2"] = ctx.needs_input_grad, g2
            return g1 + g2, None

    p, _ = Probe.apply(a, b)
    p.sum().backward()
    assert seen["needs"] == (True, False)
    np.testing.assert_array_equal(to_numpy(seen["g2"]), np.zeros(3))  # materialised zeros
    assert b.grad is None


def test_no_graph_when_nothing_requires_grad_or_under_no_grad():
    x = mg.tensor([1.0, 2.0])
    assert not Cube.apply(x).requires_grad and Cube.apply(x).grad_fn is None
    with mg.no_grad():
        assert not Cube.apply(x.requires_grad_()).requires_grad


def test_forward_runs_without_recording():
    class Peek(Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            assert not y.requires_grad and not mg.is_grad_enabled()
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = mg.tensor([1.0], requires_grad=True)
    Peek.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0]


def test_returning_an_input_keeps_the_input_a_leaf():
    class Ident(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = Ident.apply(x)
    assert y is not x and x.is_leaf and not y.is_leaf
    y.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_non_differentiable_and_integer_outputs():
    class SortLike(Function):
        @staticmethod
        def forward(ctx, x):
            idx = mg.argmax(x)
            ctx.mark_non_differentiable(idx)
            return x * 1, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            return g

    x = mg.tensor([1.0, 3.0], requires_grad=True)
    y, i = SortLike.apply(x)
    assert y.requires_grad and not i.requires_grad and i.item() == 1


def test_split_form_with_setup_context():
    class Square(Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = t64([1.0, -2.0])
    assert gradcheck(Square.apply, [x])


def test_once_differentiable_gives_no_second_order_graph():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @mg.autograd.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = t64([3.0])
    (g,) = mg.autograd.grad(Sq.apply(x).sum(), [x], create_graph=True)
    assert g.tolist() == [6.0] and not g.requires_grad


def test_saved_tensor_changed_in_place_raises():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = Cube.apply(h)
    with mg.no_grad():
        h.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_wrong_forms_raise_clear_errors():
    with pytest.raises(TypeError, match="@staticmethod"):
        class Legacy(Function):  # torch's pre-0.4 form, or the library's op form
            def forward(self, x):
                return x

    with pytest.raises(RuntimeError, match="apply"):
        Cube()
    with pytest.raises(TypeError, match="keyword"):
        Cube.apply(x=mg.ones(1))

    class BadCount(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        BadCount.apply(mg.ones(2, requires_grad=True), mg.ones(2)).sum().backward()

    class GradForNumber(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * 2, g.sum()

    with pytest.raises(RuntimeError, match="not a Tensor"):
        GradForNumber.apply(mg.ones(2, requires_grad=True), 2.0).sum().backward()

    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return mg.ones(3)

    with pytest.raises(RuntimeError, match="invalid gradient"):
        BadShape.apply(mg.ones(2, requires_grad=True)).sum().backward()

    class BadType(Function):
        @staticmethod
        def forward(ctx, x):
            return x.detach().numpy()

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(TypeError, match="must return Tensors"):
        BadType.apply(mg.ones(2, requires_grad=True))
    ctx = mg.autograd.FunctionCtx((True,))
    with pytest.raises(TypeError, match="save_for_backward"):
        ctx.save_for_backward(3.0)


def test_backward_twice_needs_retain_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [6.0, 24.0]
    z = Cube.apply(x).sum()
    z.backward()
    with pytest.raises(RuntimeError, match="second time"):
        z.backward()
