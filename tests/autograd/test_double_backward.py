"""Double backward (create_graph=True) through compositions of ops, and fused kernels that
refuse it clearly."""


import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import gradgradcheck
from tests.ops._check import t64


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
