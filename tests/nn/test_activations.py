"""Activation modules: each matches its nn.functional form and keeps float32 (the ops
themselves are tested in tests/ops/test_activation.py)."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from tests.conftest import to_numpy


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
