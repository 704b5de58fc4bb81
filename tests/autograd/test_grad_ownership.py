"""When the engine may keep a gradient array as a .grad without copying (GradOwnership)."""

import numpy as np

import minigrad as mg
from minigrad.autograd.engine import GradOwnership


def test_first_claim_keeps_the_array_later_claims_of_the_same_memory_copy():
    own = GradOwnership(root_grads=[])
    like = np.zeros((2, 3), np.float32)
    g = np.ones((2, 3), np.float32)
    assert own.claim(g, like) is g
    again = own.claim(g, like)
    assert again is not g and not np.shares_memory(again, g)
    view = g.reshape(3, 2)
    kept = own.claim(view, np.zeros((3, 2), np.float32))
    assert not np.shares_memory(kept, g)


def test_a_view_of_fresh_memory_is_kept_without_a_copy():
    own = GradOwnership(root_grads=[])
    base = np.arange(6, dtype=np.float32)
    view = base.reshape(2, 3)
    assert own.claim(view, np.zeros((2, 3), np.float32)) is view


def test_the_callers_root_gradients_and_read_only_memory_are_copied():
    root = np.ones(4, np.float32)
    own = GradOwnership(root_grads=[root])
    like = np.zeros(4, np.float32)
    assert not np.shares_memory(own.claim(root, like), root)
    assert not np.shares_memory(own.claim(root[::1], like), root)
    frozen = np.ones(4, np.float32)
    frozen.flags.writeable = False
    assert own.claim(frozen, like).flags.writeable


def test_a_strided_gradient_of_a_contiguous_tensor_is_made_contiguous():
    own = GradOwnership(root_grads=[])
    g = np.ones((3, 2), np.float32).T
    out = own.claim(g, np.zeros((2, 3), np.float32))
    assert out.flags.c_contiguous and np.array_equal(out, g)


def test_leaf_grads_that_backward_derives_from_one_array_stay_independent():
    # Add hands one array to both branches; the reshape branch gets a view of it
    a = mg.tensor(np.zeros(6, np.float32), requires_grad=True)
    b = mg.tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    c = mg.tensor(np.zeros((3, 2), np.float32), requires_grad=True)
    (a.reshape(2, 3) + b + c.reshape(2, 3)).sum().backward()
    with mg.no_grad():
        a.grad.add_(1)
        c.grad.mul_(5)
    np.testing.assert_array_equal(a.grad.numpy(), np.full(6, 2.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(c.grad.numpy(), np.full((3, 2), 5.0))
