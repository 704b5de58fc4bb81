"""ops/linalg.py: matmul with NumPy's rules, and the fused linear map x W^T + b."""


import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck, gradgradcheck
from tests.conftest import to_numpy
from tests.ops._check import check_op, f64


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


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_value_and_gradcheck(shape, bias, rng, device):
    x = f64(rng.standard_normal(shape), device)
    w = f64(rng.standard_normal((2, 3)), device)
    b = f64(rng.standard_normal(2), device) if bias else None
    want = to_numpy(x) @ to_numpy(w).T + (to_numpy(b) if bias else 0)
    np.testing.assert_allclose(to_numpy(F.linear(x, w, b)), want, rtol=1e-13)
    if bias:
        assert gradcheck(F.linear, [x, w, b])
    else:
        assert gradcheck(F.linear, [x, w])


def test_linear_skips_input_grad_when_not_needed(rng):
    lin = nn.Linear(3, 2).double()
    x = f64(rng.standard_normal((4, 3)), grad=False)
    lin(x).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(to_numpy(lin.bias.grad), [4.0, 4.0])
    np.testing.assert_allclose(to_numpy(lin.weight.grad), np.tile(to_numpy(x).sum(0), (2, 1)))


def test_linear_double_backward():

    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((3, 4)), dtype=mg.float64, requires_grad=True)
    w = mg.tensor(rng.standard_normal((2, 4)), dtype=mg.float64, requires_grad=True)
    b = mg.tensor(rng.standard_normal(2), dtype=mg.float64, requires_grad=True)
    assert gradgradcheck(lambda x, w, b: F.linear(x, w, b).tanh(), [x, w, b])
