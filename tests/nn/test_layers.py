"""Layers: Linear, Identity, Flatten, Embedding, Dropout, BatchNorm1d/2d, LayerNorm."""

import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck
from tests.conftest import to_numpy

from ._ref import REF, check_against_reference


def f64(a, device="cpu", grad=True):
    return mg.tensor(a, dtype=mg.float64, device=device, requires_grad=grad)


# ---------------------------------------------------------------------------- Linear

def test_issue_worked_check():
    """The issue's worked example: dL/dw = (-24.1878, -30.7642), dL/db = -38.7382."""
    lin = nn.Linear(2, 1)
    with mg.no_grad():
        lin.weight.copy_(mg.tensor([[0.5989, 0.361]]))
        lin.bias.copy_(mg.tensor([-0.3608]))
    x = mg.tensor([[0.69657858, 0.51114952], [0.859582, 0.56898564], [0.543156, 0.90834304]])
    y = mg.tensor([[7.0], [12.0], [40.0]])
    nn.MSELoss()(lin(x), y).backward()
    np.testing.assert_allclose(to_numpy(lin.weight.grad)[0], [-24.1878, -30.7642], atol=1e-4)
    np.testing.assert_allclose(to_numpy(lin.bias.grad), [-38.7382], atol=1e-4)


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


def test_linear_default_init_is_torch_uniform():
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = to_numpy(lin.weight), to_numpy(lin.bias)
    assert w.dtype == np.float32 and w.shape == (300, 400) and b.shape == (300,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-a, a): mean 0, std a / sqrt 3; 120,000 draws -> sampling sd of the std ~ 0.2%
    assert abs(w.mean()) < 5 * bound / math.sqrt(3) / math.sqrt(w.size)
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    assert np.abs(w).max() > 0.99 * bound


def test_linear_errors():
    lin = nn.Linear(784, 10)
    with pytest.raises(ValueError, match=r"Linear\(in_features=784\) got input of shape "
                                         r"\(32, 783\)"):
        lin(mg.zeros(32, 783))
    with pytest.raises(TypeError, match="dtype"):
        lin(mg.zeros(2, 784, dtype=mg.float64))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 3)


def test_linear_seeded_init_repeatable():
    mg.manual_seed(3)
    a = nn.Linear(5, 4)
    mg.manual_seed(3)
    b = nn.Linear(5, 4)
    np.testing.assert_array_equal(to_numpy(a.weight), to_numpy(b.weight))


def test_identity_flatten_unflatten(rng):
    x = f64(rng.standard_normal((2, 3, 4)))
    assert nn.Identity(5, k=1)(x) is x
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0)(x).shape == (24,)
    assert nn.Flatten(1, 1)(x).shape == (2, 3, 4)
    assert nn.Unflatten(1, (3, 1))(x).shape == (2, 3, 1, 4)
    assert gradcheck(lambda t: nn.Flatten()(t) * 2, [x])


# ---------------------------------------------------------------------------- Embedding

def test_embedding_lookup_and_scatter_add(device):
    emb = nn.Embedding(5, 3, padding_idx=0).to(device)
    np.testing.assert_array_equal(to_numpy(emb.weight)[0], 0)
    idx = mg.tensor([[1, 3, 1], [0, 4, 1]], device=device)
    out = emb(idx)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(to_numpy(out), to_numpy(emb.weight)[to_numpy(idx)])
    g = np.arange(18, dtype=np.float32).reshape(2, 3, 3)
    out.backward(mg.tensor(g, device=device))
    want = np.zeros((5, 3), dtype=np.float32)
    for i, row in zip(to_numpy(idx).ravel(), g.reshape(-1, 3)):
        want[i] += row
    want[0] = 0  # padding row gets no gradient
    np.testing.assert_array_equal(to_numpy(emb.weight.grad), want)


def test_embedding_gradcheck_and_errors(rng):
    w = f64(rng.standard_normal((4, 2)))
    idx = mg.tensor([3, 0, 3, 2])
    assert gradcheck(lambda t: F.embedding(idx, t), [w])
    with pytest.raises(IndexError, match=r"index 4 is out of range.*\[0, 4\)"):
        F.embedding(mg.tensor([4]), w)
    with pytest.raises(TypeError, match="integer"):
        F.embedding(mg.tensor([1.0]), w)


# ---------------------------------------------------------------------------- Dropout

def test_dropout_keep_rate_and_scaling(device):
    p = 0.3
    d = nn.Dropout(p)
    x = mg.ones(200, 500, device=device, requires_grad=True)
    y = d(x)
    yv = to_numpy(y)
    kept = yv != 0
    # 100,000 Bernoulli(0.7): sd of the rate ~ 0.0015
    assert kept.mean() == pytest.approx(1 - p, abs=0.006)
    np.testing.assert_allclose(yv[kept], 1 / (1 - p), rtol=1e-6)
    assert y.dtype == np.float32
    assert yv.mean() == pytest.approx(1.0, abs=0.01)  # unbiased in expectation
    y.backward(mg.full((200, 500), 2.0, device=device))
    np.testing.assert_allclose(to_numpy(x.grad), 2 * yv, rtol=1e-6)  # same mask, same scale


def test_dropout_eval_and_p0_identity():
    x = mg.randn(4, 5)
    d = nn.Dropout(0.5).eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert F.dropout(x, 0.7, training=False) is x


def test_dropout_seeded_repeatable_and_fresh_each_call():
    x = mg.ones(50, 50)
    mg.manual_seed(7)
    a = to_numpy(nn.Dropout(0.5)(x))
    b = to_numpy(nn.Dropout(0.5)(x))
    mg.manual_seed(7)
    np.testing.assert_array_equal(to_numpy(nn.Dropout(0.5)(x)), a)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_bad_p(p):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        nn.Dropout(p)
    with pytest.raises(TypeError, match="number"):
        nn.Dropout("0.5")


def test_dropout_gradcheck_with_fixed_mask():
    x = f64(np.random.default_rng(0).standard_normal((3, 4)))

    def fn(t):
        mg.manual_seed(11)  # the same mask on every evaluation
        return F.dropout(t, 0.4)

    assert gradcheck(fn, [x])


# ---------------------------------------------------------------------------- BatchNorm

def _np_bn_reference(xs, momentum, axes, eps=1e-5):
    """Plain-NumPy transcription of torch's documented running-statistics update."""
    c = xs[0].shape[1]
    rm, rv = np.zeros(c), np.ones(c)
    out = []
    for k, x in enumerate(xs, start=1):
        m = x.size // c
        mean = x.mean(axis=axes)
        var_biased = x.var(axis=axes)
        f = 1.0 / k if momentum is None else momentum
        rm = (1 - f) * rm + f * mean
        rv = (1 - f) * rv + f * var_biased * m / (m - 1)
        out.append((rm.copy(), rv.copy()))
    return out


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("shape,cls", [((6, 3), nn.BatchNorm1d), ((4, 3, 5), nn.BatchNorm1d),
                                       ((2, 3, 4, 2), nn.BatchNorm2d)])
def test_batchnorm_running_stats_over_steps(momentum, shape, cls, rng, device):
    axes = (0,) + tuple(range(2, len(shape)))
    xs = [rng.standard_normal(shape) * (k + 1) + k for k in range(4)]
    bn = cls(3, momentum=momentum).double().to(device)
    for k, (x, (rm, rv)) in enumerate(zip(xs, _np_bn_reference(xs, momentum, axes))):
        y = bn(f64(x, device, grad=False))
        np.testing.assert_allclose(to_numpy(bn.running_mean), rm, rtol=1e-12)
        np.testing.assert_allclose(to_numpy(bn.running_var), rv, rtol=1e-12)
        assert int(to_numpy(bn.num_batches_tracked)) == k + 1
        # training output uses the batch's biased variance
        mean = x.mean(axis=axes, keepdims=True)
        want = (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
        np.testing.assert_allclose(to_numpy(y), want, rtol=1e-10, atol=1e-12)
    bn.eval()
    x = xs[0]
    pshape = (1, 3) + (1,) * (len(shape) - 2)
    want = (x - rm.reshape(pshape)) / np.sqrt(rv.reshape(pshape) + 1e-5)
    np.testing.assert_allclose(to_numpy(bn(f64(x, device, grad=False))), want, rtol=1e-10)
    assert int(to_numpy(bn.num_batches_tracked)) == 4  # eval does not count


def test_batchnorm2d_matches_torch_over_steps():
    bn = nn.BatchNorm2d(3, momentum=0.3).double()
    bn.load_state_dict({**bn.state_dict(), "weight": REF["bn2d/weight"],
                        "bias": REF["bn2d/bias"]})
    for step in range(5):
        x = f64(REF["bn2d/x"][step])
        y = bn(x)
        np.testing.assert_allclose(to_numpy(y), REF[f"bn2d/y{step}"], rtol=1e-10, atol=1e-12)
        y.backward(mg.tensor(REF[f"bn2d/w{step}"], dtype=mg.float64))
        np.testing.assert_allclose(to_numpy(x.grad), REF[f"bn2d/dx{step}"], rtol=1e-9,
                                   atol=1e-12)
        np.testing.assert_allclose(to_numpy(bn.running_mean), REF[f"bn2d/running_mean{step}"],
                                   rtol=1e-12)
        np.testing.assert_allclose(to_numpy(bn.running_var), REF[f"bn2d/running_var{step}"],
                                   rtol=1e-12)
    bn.eval()
    np.testing.assert_allclose(to_numpy(bn(f64(REF["bn2d/x"][0], grad=False))),
                               REF["bn2d/eval_y"], rtol=1e-10, atol=1e-12)


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


def test_batchnorm_without_affine_or_tracking(rng):
    x = f64(rng.standard_normal((6, 4)))
    bn = nn.BatchNorm1d(4, affine=False, track_running_stats=False).double()
    assert list(bn.parameters()) == [] and list(bn.state_dict()) == []
    bn.eval()  # no running stats: batch statistics even in eval
    want = (to_numpy(x) - to_numpy(x).mean(0)) / np.sqrt(to_numpy(x).var(0) + 1e-5)
    np.testing.assert_allclose(to_numpy(bn(x)), want, rtol=1e-10)
    assert gradcheck(bn, [x])


def test_batchnorm_one_value_per_channel_is_an_error():
    bn = nn.BatchNorm1d(3)
    before = to_numpy(bn.running_mean).copy()
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        bn(mg.randn(1, 3))
    np.testing.assert_array_equal(to_numpy(bn.running_mean), before)
    assert int(to_numpy(bn.num_batches_tracked)) == 0
    bn.eval()
    assert bn(mg.randn(1, 3)).shape == (1, 3)  # eval uses running stats: fine


def test_batchnorm_shape_errors():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(num_features=3\).*got shape \(4, 5\)"):
        nn.BatchNorm1d(3)(mg.randn(4, 5))
    with pytest.raises(ValueError, match="4-D"):
        nn.BatchNorm2d(3)(mg.randn(4, 3))


def test_batchnorm_float32_stays_float32(rng):
    bn = nn.BatchNorm1d(4)
    x = mg.tensor(rng.standard_normal((8, 4)).astype(np.float32), requires_grad=True)
    y = bn(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == bn.running_var.dtype == np.float32


# ---------------------------------------------------------------------------- LayerNorm

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
