"""float32 stays float32 through every layer and loss (values and gradients); nn.utils."""

import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from tests.conftest import to_numpy

LAYERS = [
    lambda: nn.Linear(4, 3), nn.ReLU, lambda: nn.LeakyReLU(0.1), nn.ELU, nn.GELU,
    lambda: nn.GELU("tanh"), nn.SiLU, nn.Sigmoid, nn.Tanh, lambda: nn.Softplus(2.0),
    lambda: nn.Softmax(1), lambda: nn.LogSoftmax(1), lambda: nn.Dropout(0.3),
    lambda: nn.BatchNorm1d(4), lambda: nn.LayerNorm(4), nn.Identity, nn.Flatten,
]


@pytest.mark.parametrize("make", LAYERS)
def test_layers_keep_float32(make, rng):
    x = mg.tensor(rng.standard_normal((6, 4)).astype(np.float32), requires_grad=True)
    layer = make()
    y = layer(x)
    (y * mg.tensor(rng.standard_normal(y.shape).astype(np.float32))).sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    for p in layer.parameters():
        assert p.grad.dtype == np.float32


LOSSES = [
    (nn.MSELoss(), "float"), (nn.L1Loss(), "float"), (nn.HuberLoss(delta=0.5), "float"),
    (nn.SmoothL1Loss(beta=0.5), "float"), (nn.CrossEntropyLoss(), "index"),
    (nn.CrossEntropyLoss(weight=mg.ones(4), label_smoothing=0.1), "index"),
    (nn.CrossEntropyLoss(), "prob"), (nn.BCEWithLogitsLoss(pos_weight=mg.ones(4)), "prob"),
    (nn.BCELoss(), "bce"), (nn.NLLLoss(), "index"),
]


@pytest.mark.parametrize("loss_fn,kind", LOSSES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_losses_keep_float32(loss_fn, kind, reduction, rng):
    loss_fn.reduction = reduction
    x = mg.tensor(rng.uniform(0.1, 0.9, (5, 4)).astype(np.float32), requires_grad=True)
    if kind == "index":
        t = mg.tensor(rng.integers(0, 4, 5))
    elif kind == "prob":
        t = mg.tensor(rng.dirichlet(np.ones(4), 5).astype(np.float32))
    else:
        t = mg.tensor(rng.uniform(0, 1, (5, 4)).astype(np.float32))
    loss = loss_fn(x, t)
    loss.backward(mg.ones(*loss.shape))
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_cross_entropy_any_shape_matches_numpy(n, c, seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, c)) * 5
    t = r.integers(0, c, n)
    got = F.cross_entropy(mg.tensor(x, dtype=mg.float64), mg.tensor(t), reduction="none")
    lse = np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + x.max(1)
    np.testing.assert_allclose(to_numpy(got), lse - x[np.arange(n), t], rtol=1e-12, atol=1e-12)


HAVE_CLIP = importlib.util.find_spec("minigrad.optim.clip") is not None


@pytest.mark.skipif(not HAVE_CLIP, reason="minigrad.optim.clip (optim helper) not written yet")
def test_clip_grad_norm_reexport():
    lin = nn.Linear(3, 2)
    for p in lin.parameters():
        p.grad = mg.full(p.shape, 3.0)
    total = nn.utils.clip_grad_norm_(lin.parameters(), 1.0)
    assert float(total) == pytest.approx(3.0 * np.sqrt(8), rel=1e-5)
    norm = np.sqrt(sum(float((to_numpy(p.grad) ** 2).sum()) for p in lin.parameters()))
    assert norm == pytest.approx(1.0, rel=1e-4)
    nn.utils.clip_grad_value_(lin.parameters(), 0.1)
    assert all(np.abs(to_numpy(p.grad)).max() <= 0.1 + 1e-7 for p in lin.parameters())


def test_parameters_to_vector_round_trip():
    lin = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(lin.parameters())
    assert vec.shape == (8,)
    other = nn.Linear(3, 2)
    nn.utils.vector_to_parameters(vec, other.parameters())
    np.testing.assert_array_equal(to_numpy(other.weight), to_numpy(lin.weight))
    before = to_numpy(other.weight).copy()
    with pytest.raises(ValueError, match=r"8 values.*got shape \(9,\)"):
        nn.utils.vector_to_parameters(mg.zeros(9), other.parameters())
    np.testing.assert_array_equal(to_numpy(other.weight), before)


def test_nn_utils_clip_is_optims_function_or_absent():
    if HAVE_CLIP:
        from minigrad.optim import clip

        assert nn.utils.clip_grad_norm_ is clip.clip_grad_norm_
    else:
        with pytest.raises(ImportError):
            nn.utils.clip_grad_norm_  # noqa: B018


def test_functional_import_style():
    import minigrad.nn.functional as F2

    assert F2 is F and nn.functional is F
    assert nn.Parameter is mg.Parameter
