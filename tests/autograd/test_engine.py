"""The engine: accumulation, retain_graph, create_graph, no_grad, version counters, hooks,
deep chains, and the errors a user meets."""

import gc
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import grad as autograd_grad
from tests.conftest import to_numpy


def test_gradients_accumulate_across_backward_calls(device):
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), 2 * np.array([1, 2, 3]) + 3)


def test_shared_subexpression_sums_both_paths(device):
    x = mg.tensor(2.0, requires_grad=True, device=device)
    y = x * x
    z = y * y + y  # dz/dx = (2y + 1) * 2x = 9 * 4 = 36
    z.backward()
    assert x.grad.item() == pytest.approx(36.0)


def test_leaf_grads_never_alias(device):
    a = mg.randn(3, 2, requires_grad=True, device=device)
    b = mg.randn(3, 2, requires_grad=True, device=device)
    c = mg.randn(2, 3, requires_grad=True, device=device)
    (a.T + b.T + c).backward(mg.ones(2, 3, device=device))
    a.grad.array += 1  # in place, as clipping does: must not leak into the others
    np.testing.assert_array_equal(to_numpy(b.grad), np.ones((3, 2)))
    np.testing.assert_array_equal(to_numpy(c.grad), np.ones((2, 3)))


def test_user_grad_is_not_aliased(device):
    x = mg.randn(3, requires_grad=True, device=device)
    g = mg.ones(3, device=device)
    (x + 0).backward(g)
    x.grad.array *= 5
    np.testing.assert_array_equal(to_numpy(g), np.ones(3))


def test_second_backward_through_freed_graph_raises():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy() if not x.grad.requires_grad else 0,
                               4 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_graph_is_freed_after_backward():
    x = mg.randn(100, requires_grad=True)
    y = x.exp()
    ref = weakref.ref(y)
    loss = (y * 2).sum()
    del y
    assert ref() is not None  # the graph holds y
    loss.backward()
    assert ref() is None  # freed with the graph, without the cycle collector


def test_graph_has_no_reference_cycles():
    gc.collect()
    gc.disable()
    try:
        x = mg.randn(8, 8, requires_grad=True)
        h = x
        for _ in range(20):
            h = (h @ x).tanh() + h.relu() * 0.5
        ref = weakref.ref(h)
        loss = h.sum()
        del h
        loss.backward()
        del loss
        assert ref() is None
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_hessian_vector_product_against_closed_form(device, rng):
    # f(x) = 1/2 x^T A x + sum(x^3): grad = A x + 3 x^2, Hessian = A + diag(6 x)
    a = rng.standard_normal((4, 4))
    a = a + a.T
    x0, v0 = rng.standard_normal(4), rng.standard_normal(4)
    A = mg.tensor(a, dtype=mg.float64, device=device)
    x = mg.tensor(x0, dtype=mg.float64, device=device, requires_grad=True)
    v = mg.tensor(v0, dtype=mg.float64, device=device)
    f = 0.5 * (x @ (A @ x)) + (x**3).sum()
    (g,) = autograd_grad(f, x, create_graph=True)
    np.testing.assert_allclose(to_numpy(g), a @ x0 + 3 * x0**2, rtol=1e-12)
    (hv,) = autograd_grad((g * v).sum(), x)
    np.testing.assert_allclose(to_numpy(hv), (a + np.diag(6 * x0)) @ v0, rtol=1e-12)


def test_create_graph_backward_gives_differentiable_grad():
    x = mg.tensor([1.5, -0.5], dtype=mg.float64, requires_grad=True)
    y = x.tanh().sum()
    y.backward(create_graph=True)
    assert x.grad.requires_grad
    g1 = x.grad
    x.grad = None
    g1.sum().backward()  # d/dx sum(1 - tanh^2) = -2 tanh (1 - tanh^2)
    t = np.tanh([1.5, -0.5])
    np.testing.assert_allclose(x.grad.numpy(), -2 * t * (1 - t * t), rtol=1e-12)


def test_gradient_penalty_style_double_backward():
    w = mg.tensor([[0.3, -0.2], [0.1, 0.4]], dtype=mg.float64, requires_grad=True)
    x = mg.tensor([[1.0, 2.0]], dtype=mg.float64, requires_grad=True)
    out = (x @ w).tanh().sum()
    (gx,) = autograd_grad(out, x, create_graph=True)
    penalty = (gx * gx).sum()
    penalty.backward()
    # check against central differences of the penalty in w
    def pen(wv):
        z = np.array([[1.0, 2.0]]) @ wv
        gxv = (1 - np.tanh(z) ** 2) @ wv.T
        return (gxv**2).sum()
    num = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            e = np.zeros((2, 2))
            e[i, j] = 1e-6
            num[i, j] = (pen(w.detach().numpy() + e) - pen(w.detach().numpy() - e)) / 2e-6
    np.testing.assert_allclose(w.grad.numpy(), num, rtol=1e-6, atol=1e-9)


def test_no_grad_records_nothing_and_restores():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        y = x * 2
        assert not mg.is_grad_enabled()
        with mg.enable_grad():
            z = x * 3
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @mg.no_grad()
    def f(t):
        return t * 2

    @mg.no_grad
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    assert g.__name__ == "g"
    assert mg.is_grad_enabled()


def test_grad_mode_decorators_apply_inside_only():
    x = mg.tensor([1.0], requires_grad=True)

    @mg.set_grad_enabled(False)
    def off(t):
        return t * 2

    assert mg.is_grad_enabled()  # decorating changed nothing outside
    assert not off(x).requires_grad and mg.is_grad_enabled()

    @mg.enable_grad()
    def on(t):
        return t * 2

    with mg.no_grad():
        assert on(x).requires_grad
        assert not mg.is_grad_enabled()
    prev = mg.set_grad_enabled(False)  # a plain call switches the mode, as torch's does
    assert not mg.is_grad_enabled()
    prev.__exit__(None, None, None)
    assert mg.is_grad_enabled()


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ValueError):
        with mg.no_grad():
            raise ValueError("boom")
    assert mg.is_grad_enabled()


def test_version_counter_catches_inplace_change_of_saved_input():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    x = mg.tensor([3.0, 4.0])
    y = (w * x).sum()
    x += 1  # backward of Mul needs x
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_version_counter_catches_inplace_change_of_saved_output():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    y = w.exp()
    loss = (y + 1.0).sum()  # Add reads nothing: the error must come from Exp
    with mg.no_grad():
        y.mul_(2)  # Exp's backward reads its output
    with pytest.raises(RuntimeError, match="ExpBackward|Exp.backward"):
        loss.backward()


def test_version_counter_sees_changes_through_views():
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = mg.tensor([1.0, 1.0, 1.0])
    y = (w * x).sum()
    view = x[1:]
    view += 5  # changes x's memory, and x's version
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_write_before_the_node_or_to_another_tensor_is_fine():
    # a node's saved tensors are checked against the write clock of its forward: a write made
    # before the op read the tensor, or to a tensor it did not save, raises nothing
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    x = mg.tensor([3.0, 4.0])
    other = mg.tensor([0.0, 0.0])
    x += 1  # before Mul reads it
    y = (w * x).sum()
    other += 1  # after, but Mul did not save it: the clock moved, the check finds nothing
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [4, 5])


def test_write_between_two_nodes_is_caught_only_by_the_later_reader():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    x = mg.tensor([3.0, 4.0])
    first = (w * x).sum()  # reads x before the write
    x += 1
    second = (w * x).sum()  # reads x after it: its backward is exact
    second.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [4, 5])
    with pytest.raises(RuntimeError, match="modified in place"):
        first.backward()


def test_inplace_not_needed_by_backward_is_fine():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    x = mg.tensor([3.0, 4.0])
    y = (w + x).sum()  # Add does not read its inputs
    x += 1
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1, 1])


def test_inplace_on_leaf_requiring_grad_raises_outside_no_grad():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w += 1
    np.testing.assert_array_equal(w.detach().numpy(), [1, 2])
    with mg.no_grad():
        w -= 1
    np.testing.assert_array_equal(w.detach().numpy(), [0, 1])


def test_deep_chain_backward_is_iterative():
    x = mg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_plain_backward_matches_the_general_pass_bit_for_bit():
    # loss.backward() takes the engine's lean pass (_plain_pass, which visits a chain without
    # the heap); autograd.grad the general one. Same visiting order, so the same sums exactly,
    # on a graph with chains, a diamond and a weight used twice.
    rng = np.random.default_rng(3)
    w = mg.tensor(rng.standard_normal((4, 4)).astype(np.float32), requires_grad=True)
    x = mg.tensor(rng.standard_normal((5, 4)).astype(np.float32))

    def loss():
        h = (x @ w).tanh()
        c = (h * 3.0 + h.exp()) @ w
        return (c.tanh() * c).sum()

    loss().backward()
    (general,) = mg.autograd.grad(loss(), [w])
    np.testing.assert_array_equal(w.grad.numpy(), general.numpy())


def test_hooks_see_and_replace_gradients():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x * 3
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    remove = x.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * 3 * np.array([1.0, 2.0]) * 1)
    np.testing.assert_allclose(x.grad.numpy(), 10 * 18 * np.array([1.0, 2.0]))
    remove()
    x.grad = None
    (x * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 1])


def test_leaves_of_every_kind_finished_in_one_pass():
    # one backward whose leaves take each of the engine's leaf paths: a fresh .grad, a .grad
    # accumulated in place, a leaf hook, and a .grad recorded by a create_graph backward
    fresh = mg.tensor([1.0, 2.0], requires_grad=True)
    kept = mg.tensor([3.0, 4.0], requires_grad=True)
    hooked = mg.tensor([5.0, 6.0], requires_grad=True)
    recorded = mg.tensor([7.0, 8.0], requires_grad=True)
    kept.grad = mg.tensor([1.0, 1.0])
    (recorded * recorded).sum().backward(create_graph=True)  # recorded.grad = 2 r, in a graph
    assert recorded.grad.requires_grad
    hooked.register_hook(lambda g: g * 10)
    (fresh * 2 + kept * 3 + hooked * 4 + recorded * 5).sum().backward()
    np.testing.assert_array_equal(fresh.grad.numpy(), [2, 2])
    np.testing.assert_array_equal(kept.grad.numpy(), [4, 4])
    np.testing.assert_array_equal(hooked.grad.numpy(), [40, 40])
    np.testing.assert_array_equal(recorded.grad.detach().numpy(), [19, 21])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_implicit_root_gradient_is_one_in_the_roots_dtype(dtype):
    x = mg.tensor([1.5, -2.0], dtype=dtype, requires_grad=True)
    (x * 3).sum().reshape(1, 1).backward()  # one element, not 0-d
    assert x.grad.dtype == dtype
    np.testing.assert_array_equal(x.grad.numpy(), [3, 3])


def test_retain_grad_on_non_leaf():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [4, 8])


def test_grad_with_unused_input():
    x = mg.tensor([1.0], requires_grad=True)
    y = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        autograd_grad((x * 2).sum(), [x, y])
    gx, gy = autograd_grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None and gx.item() == 2.0


# ----------------------------------------------------------------------------- errors


def test_backward_of_non_scalar_needs_grad():
    x = mg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"non-scalar.*shape \(3,\)"):
        (x * 2).backward()


def test_backward_grad_of_wrong_shape():
    x = mg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"grad has shape \(2,\).*\(3,\)"):
        (x * 2).backward(mg.ones(2))


def test_backward_without_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (mg.ones(3) * 2).sum().backward()


def test_broadcast_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5,\)"):
        mg.ones(3, 4) + mg.ones(5)


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(5, 2\)"):
        mg.ones(3, 4) @ mg.ones(5, 2)


def test_matmul_mixed_float_dtypes_raise():
    with pytest.raises(TypeError, match="float32 and float64"):
        mg.ones(2, 2) @ mg.ones(2, 2, dtype=mg.float64)


def test_only_float_tensors_require_grad():
    with pytest.raises(TypeError, match="floating"):
        mg.tensor([1, 2], requires_grad=True)
