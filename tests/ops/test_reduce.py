"""ops/reduce.py: sum, mean, max, min, var, std over axes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.autograd import gradcheck
from tests.ops._check import check_op, t64


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


@settings(max_examples=25, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 2**16))
def test_reduction_property(shape, seed):
    a = np.random.default_rng(seed).standard_normal(shape)
    x = t64(a, "cpu")
    axis = len(shape) - 1
    assert gradcheck(lambda t: t.sum(axis) * t.mean(axis) + t.max(axis).values, [x])
