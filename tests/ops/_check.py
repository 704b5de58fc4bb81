"""Shared checks for tests/ops: forward against NumPy, gradient against float64 central
differences under a random upstream gradient, inputs unchanged."""

import numpy as np

import minigrad as mg
from minigrad.autograd import gradcheck
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


def f64(a, device="cpu", grad=True):
    """A float64 tensor from a NumPy array (requiring grad unless ``grad=False``)."""
    return mg.tensor(a, dtype=mg.float64, device=device, requires_grad=grad)
