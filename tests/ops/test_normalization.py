"""ops/normalization.py, through nn.functional: batch norm and layer norm gradients and values."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck
from tests.conftest import to_numpy
from tests.nn._ref import REF, check_against_reference
from tests.ops._check import f64


@pytest.mark.parametrize("shape", [(5, 3), (3, 3, 4), (2, 3, 2, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradcheck(shape, training, rng):
    x = f64(rng.standard_normal(shape))
    w = f64(rng.uniform(0.5, 1.5, 3))
    b = f64(rng.standard_normal(3))
    rm = mg.tensor(rng.standard_normal(3), dtype=mg.float64)
    rv = mg.tensor(rng.uniform(0.5, 2, 3), dtype=mg.float64)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=training,
                                                  momentum=0.0), [x, w, b])


@pytest.mark.parametrize("shape", [(6, 3), (3, 3, 4), (2, 3, 2, 2)])
def test_batchnorm_without_affine_gradcheck_and_closed_form(shape, rng):
    x = f64(rng.standard_normal(shape) * 2 + 1)
    assert gradcheck(lambda x: F.batch_norm(x, None, None, training=True), [x])
    axes = (0,) + tuple(range(2, len(shape)))
    a = to_numpy(x)
    mean = a.mean(axis=axes, keepdims=True)
    var = ((a - mean) ** 2).mean(axis=axes, keepdims=True)  # biased, as the forward uses
    np.testing.assert_allclose(to_numpy(F.batch_norm(x, None, None, training=True)),
                               (a - mean) / np.sqrt(var + 1e-5), rtol=1e-12, atol=1e-12)


def test_layernorm_matches_torch():
    ln = nn.LayerNorm((4, 6)).double()
    ln.load_state_dict({"weight": REF["ln/weight"], "bias": REF["ln/bias"]})
    check_against_reference("ln", ln)


def test_layernorm_gradcheck_and_closed_form(rng):
    x = f64(rng.standard_normal((3, 5)))
    w = f64(rng.uniform(0.5, 1.5, 5))
    b = f64(rng.standard_normal(5))
    a = to_numpy(x)
    want = (a - a.mean(1, keepdims=True)) / np.sqrt(a.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(to_numpy(F.layer_norm(x, 5, w, b)),
                               want * to_numpy(w) + to_numpy(b), rtol=1e-10)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (5,), w, b), [x, w, b])
    assert gradcheck(lambda x: F.layer_norm(x, (3, 5)), [x])
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(4)(x)
