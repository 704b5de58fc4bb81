"""Losses: torch's numbers (precomputed), closed forms in NumPy, finite differences,
stability at +-1e4 with warnings as errors, and bad targets."""

import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck
from tests.conftest import to_numpy
from tests.nn._ref import REF, check_against_reference

REDUCTIONS = ["none", "mean", "sum"]


def _class_weights():
    return REF["class_weight"]


@pytest.mark.parametrize("red", REDUCTIONS)
def test_cross_entropy_matches_torch(red, device):
    w = mg.tensor(_class_weights(), dtype=mg.float64, device=device)
    check_against_reference(f"ce_{red}", lambda x, t: F.cross_entropy(x, t, reduction=red),
                            device)
    check_against_reference(f"ce_w_ign_{red}",
                            lambda x, t: F.cross_entropy(x, t, weight=w, reduction=red), device)
    check_against_reference(
        f"ce_w_ign3_ls_{red}",
        lambda x, t: F.cross_entropy(x, t, weight=w, ignore_index=3, label_smoothing=0.2,
                                     reduction=red), device)
    check_against_reference(
        f"ce_ls_{red}", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1, reduction=red),
        device)
    check_against_reference(
        f"ce_prob_{red}",
        lambda x, q: F.cross_entropy(x, q, weight=w, label_smoothing=0.1, reduction=red),
        device)
    check_against_reference(f"nll_w_ign_{red}",
                            lambda x, t: F.nll_loss(x, t, weight=w, reduction=red), device)


def test_cross_entropy_spatial_matches_torch():
    w = mg.tensor(_class_weights(), dtype=mg.float64)
    check_against_reference("ce_3d_mean", lambda x, t: F.cross_entropy(x, t, weight=w))
    check_against_reference("ce_3d_none", lambda x, t: F.cross_entropy(x, t, reduction="none"))


def _np_ce(x, t, w=None, ignore=-100, eps=0.0, red="mean"):
    """Plain NumPy transcription of torch's documented cross-entropy."""
    n, c = x.shape
    lp = x - x.max(1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(1, keepdims=True))
    w = np.ones(c) if w is None else w
    valid = t != ignore
    ts = np.where(valid, t, 0)
    wt = w[ts] * valid
    nll = -lp[np.arange(n), ts] * wt
    smooth = -(lp * w).sum(1) * valid
    loss = (1 - eps) * nll + eps / c * smooth
    if red == "none":
        return loss
    return loss.sum() / wt.sum() if red == "mean" else loss.sum()


@pytest.mark.parametrize("red", REDUCTIONS)
@pytest.mark.parametrize("eps", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_closed_form_and_gradcheck(red, eps, weighted, rng, device):
    x = rng.standard_normal((6, 4)) * 3
    t = np.array([0, 3, -100, 2, 1, 3])
    w = rng.uniform(0.2, 2.0, 4) if weighted else None
    xt = mg.tensor(x, dtype=mg.float64, device=device, requires_grad=True)
    tt = mg.tensor(t, device=device)
    wt = None if w is None else mg.tensor(w, dtype=mg.float64, device=device)
    fn = lambda a: F.cross_entropy(a, tt, weight=wt, reduction=red, label_smoothing=eps)  # noqa
    np.testing.assert_allclose(to_numpy(fn(xt)), _np_ce(x, t, w, eps=eps, red=red), rtol=1e-12)
    assert gradcheck(fn, [xt])


@pytest.mark.parametrize("red", ["mean", "sum"])
def test_cross_entropy_fused_common_case(red, rng, device):
    # every row kept, no weights, no smoothing: the fused forward/backward of CrossEntropy
    x = rng.standard_normal((7, 5)) * 3
    t = np.array([0, 4, 4, 2, 1, 3, 0])
    xt = mg.tensor(x, dtype=mg.float64, device=device, requires_grad=True)
    tt = mg.tensor(t, device=device)
    fn = lambda a: F.cross_entropy(a, tt, reduction=red)  # noqa: E731
    loss = fn(xt)
    np.testing.assert_allclose(to_numpy(loss), _np_ce(x, t, None, eps=0.0, red=red), rtol=1e-12)
    (loss * 0.7).backward()  # an upstream gradient other than 1
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(7), t] -= 1.0  # softmax - onehot
    k = 0.7 / 7 if red == "mean" else 0.7
    np.testing.assert_allclose(to_numpy(xt.grad), k * p, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(to_numpy(xt), x)  # the input is unchanged
    assert gradcheck(fn, [xt])


def test_cross_entropy_fused_on_transposed_logits(rng):
    # logits stored column-major (a transposed view): the fused path's flat target positions
    x = rng.standard_normal((5, 6)) * 2  # (C, N)
    t = np.array([4, 0, 2, 2, 1, 3])
    a = mg.tensor(x, dtype=mg.float64, requires_grad=True)
    loss = F.cross_entropy(a.T, mg.tensor(t))
    loss.backward()
    z = x.T
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(loss.item(), -np.log(p[np.arange(6), t]).mean(), rtol=1e-12)
    p[np.arange(6), t] -= 1.0
    np.testing.assert_allclose(a.grad.numpy(), (p / 6).T, rtol=1e-12, atol=1e-15)


def test_cross_entropy_fused_equals_general_path_bit_for_bit(rng):
    # weight=ones takes the general ClassIndexLoss path: the same arithmetic, bit for bit
    x = rng.standard_normal((16, 10)).astype(np.float32) * 4
    t = mg.tensor(rng.integers(0, 10, 16))
    a = mg.tensor(x, requires_grad=True)
    b = mg.tensor(x, requires_grad=True)
    la, lb = F.cross_entropy(a, t), F.cross_entropy(b, t, weight=mg.ones(10))
    la.backward()
    lb.backward()
    assert la.dtype == np.float32 and a.grad.dtype == np.float32
    assert la.item() == lb.item()
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_cross_entropy_probability_targets_gradcheck_both_inputs(rng):
    x = mg.tensor(rng.standard_normal((5, 3)), dtype=mg.float64, requires_grad=True)
    q = mg.tensor(rng.dirichlet(np.ones(3), 5), dtype=mg.float64, requires_grad=True)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.2), [x, q])


def test_cross_entropy_unbatched_and_module(rng):
    x = rng.standard_normal(4)
    loss = nn.CrossEntropyLoss()(mg.tensor(x, dtype=mg.float64), mg.tensor(2))
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), -(x[2] - np.log(np.exp(x).sum())), rtol=1e-12)


def test_cross_entropy_float32_stays_float32(rng):
    x = mg.tensor(rng.standard_normal((8, 10)).astype(np.float32), requires_grad=True)
    t = mg.tensor(rng.integers(0, 10, 8))
    loss = F.cross_entropy(x, t, label_smoothing=0.1)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


def test_nll_of_log_softmax_equals_cross_entropy(rng):
    x = mg.tensor(rng.standard_normal((6, 5)), dtype=mg.float64)
    t = mg.tensor(rng.integers(0, 5, 6))
    a = F.nll_loss(F.log_softmax(x, 1), t)
    b = nn.CrossEntropyLoss()(x, t)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-14)


def test_nll_gradcheck(rng):
    x = mg.tensor(rng.standard_normal((6, 5)), dtype=mg.float64, requires_grad=True)
    t = mg.tensor([0, 1, 4, -100, 2, 2])
    w = mg.tensor(rng.uniform(0.5, 2, 5), dtype=mg.float64)
    for red in REDUCTIONS:
        assert gradcheck(lambda a, r=red: F.nll_loss(a, t, weight=w, reduction=r), [x])


@pytest.mark.parametrize("red", REDUCTIONS)
def test_binary_losses_match_torch(red):
    bw = mg.tensor(_bce_weight(), dtype=mg.float64)
    pw = mg.tensor(_pos_weight(), dtype=mg.float64)
    check_against_reference(f"bce_{red}",
                            lambda p, y: F.binary_cross_entropy(p, y, weight=bw, reduction=red))
    check_against_reference(
        f"bcel_{red}", lambda z, y: F.binary_cross_entropy_with_logits(
            z, y, weight=bw, pos_weight=pw, reduction=red))
    check_against_reference(f"huber_{red}", lambda a, b: F.huber_loss(a, b, red, delta=0.7))
    check_against_reference(f"smoothl1_{red}",
                            lambda a, b: F.smooth_l1_loss(a, b, reduction=red, beta=0.6))


def _bce_weight():
    return REF["bce_weight"]


def _pos_weight():
    return REF["pos_weight"]


def _np_pointwise(kind, r, param):
    a = np.abs(r)
    if kind == "mse":
        return r * r
    if kind == "l1":
        return a
    if kind == "huber":
        return np.where(a < param, 0.5 * r * r, param * (a - 0.5 * param))
    return np.where(a < param, 0.5 * r * r / param, a - 0.5 * param)


@pytest.mark.parametrize("kind,module", [
    ("mse", lambda red: nn.MSELoss(reduction=red)), ("l1", lambda red: nn.L1Loss(reduction=red)),
    ("huber", lambda red: nn.HuberLoss(red, delta=0.8)),
    ("smooth_l1", lambda red: nn.SmoothL1Loss(reduction=red, beta=0.5)),
])
@pytest.mark.parametrize("red", REDUCTIONS)
def test_pointwise_losses_closed_form_and_gradcheck(kind, module, red, rng, device):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    x = mg.tensor(a, dtype=mg.float64, device=device, requires_grad=True)
    y = mg.tensor(b, dtype=mg.float64, device=device, requires_grad=True)
    loss_fn = module(red)
    param = {"huber": 0.8, "smooth_l1": 0.5}.get(kind)
    want = _np_pointwise(kind, a - b, param)
    want = want.mean() if red == "mean" else want.sum() if red == "sum" else want
    np.testing.assert_allclose(to_numpy(loss_fn(x, y)), want, rtol=1e-12)
    assert gradcheck(loss_fn, [x, y])


def test_smooth_l1_beta_zero_is_l1(rng):
    a, b = (mg.tensor(rng.standard_normal(5), dtype=mg.float64) for _ in range(2))
    assert F.smooth_l1_loss(a, b, beta=0.0).item() == pytest.approx(F.l1_loss(a, b).item())


def test_binary_losses_gradcheck(rng):
    p = mg.tensor(rng.uniform(0.05, 0.95, (4, 3)), dtype=mg.float64, requires_grad=True)
    z = mg.tensor(rng.standard_normal((4, 3)) * 2, dtype=mg.float64, requires_grad=True)
    y = mg.tensor(rng.uniform(0, 1, (4, 3)), dtype=mg.float64, requires_grad=True)
    w = mg.tensor(rng.uniform(0.5, 2, 3), dtype=mg.float64)
    for red in REDUCTIONS:
        assert gradcheck(lambda a, b, r=red: F.binary_cross_entropy(a, b, weight=w,
                                                                     reduction=r), [p, y])
        assert gradcheck(lambda a, b, r=red: F.binary_cross_entropy_with_logits(
            a, b, weight=w, pos_weight=w * 2, reduction=r), [z, y])
        assert gradcheck(lambda a, b, r=red: nn.BCEWithLogitsLoss(reduction=r)(a, b), [z, y])


def test_bce_closed_form():
    p = mg.tensor([0.2, 0.9, 0.5])
    y = mg.tensor([0.0, 1.0, 1.0])
    want = -np.mean([np.log(0.8), np.log(0.9), np.log(0.5)])
    assert nn.BCELoss()(p, y).item() == pytest.approx(want, rel=1e-6)


def test_bce_clamps_log_at_minus_100_like_torch():
    p = mg.tensor([0.0, 1.0], dtype=mg.float64, requires_grad=True)
    y = mg.tensor([1.0, 0.0], dtype=mg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy(p, y, reduction="sum")
        loss.backward()
    assert loss.item() == 200.0
    assert np.all(np.isfinite(to_numpy(p.grad)))


@pytest.mark.parametrize("fn", [
    lambda x, t, q: F.cross_entropy(x, t),
    lambda x, t, q: F.cross_entropy(x, t, label_smoothing=0.1, reduction="sum"),
    lambda x, t, q: F.cross_entropy(x, q),
    lambda x, t, q: F.binary_cross_entropy_with_logits(x, q),
    lambda x, t, q: F.binary_cross_entropy_with_logits(x, q, pos_weight=mg.tensor([2.0] * 3)),
    lambda x, t, q: F.nll_loss(F.log_softmax(x, 1), t),
    lambda x, t, q: F.mse_loss(x, q) + F.huber_loss(x, q) + F.smooth_l1_loss(x, q),
])
def test_losses_finite_at_logits_1e4(fn):
    x = mg.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], requires_grad=True)
    t = mg.tensor([1, 2])
    q = mg.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = fn(x, t, q)
        loss.backward()
    assert np.isfinite(loss.item())
    assert np.all(np.isfinite(to_numpy(x.grad)))


def test_cross_entropy_extreme_values_are_right():
    x = mg.tensor([[1e4, -1e4]], dtype=mg.float64)
    assert F.cross_entropy(x, mg.tensor([1])).item() == pytest.approx(2e4)
    assert F.cross_entropy(x, mg.tensor([0])).item() == 0.0


def test_class_index_out_of_range_names_value_and_range():
    x = mg.randn(3, 4)
    for bad in (4, -1, 7):
        with pytest.raises(ValueError, match=rf"{bad}.*\[0, 4\)"):
            F.cross_entropy(x, mg.tensor([0, bad, 1]))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        nn.NLLLoss()(x, mg.tensor([0, 9, -100]))


def test_float_targets_where_indices_needed():
    x = mg.randn(3, 4)
    with pytest.raises(TypeError, match=r"float target of shape \(3,\).*integer class indices"):
        F.cross_entropy(x, mg.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="integer class indices"):
        F.nll_loss(x, mg.randn(3, 4))


def test_target_shape_mismatch():
    with pytest.raises(ValueError, match=r"target of shape \(2,\).*expected class indices of "
                                         r"shape \(3,\)"):
        F.cross_entropy(mg.randn(3, 4), mg.tensor([0, 1]))
    for fn in (F.mse_loss, F.l1_loss, F.binary_cross_entropy_with_logits):
        with pytest.raises(ValueError, match=r"target shape \(3, 1\).*input shape \(3,\)"):
            fn(mg.rand(3), mg.rand(3, 1))


def test_bad_reduction_weight_and_probabilities():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        F.cross_entropy(mg.randn(3, 4), mg.tensor([0, 1, 2]), weight=mg.ones(3))
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(mg.tensor([1.5, 0.2]), mg.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)


def test_all_ignored_mean_is_nan_like_torch():
    loss = F.cross_entropy(mg.randn(2, 3), mg.tensor([-100, -100]))
    assert np.isnan(loss.item())


def test_legacy_size_average_and_reduce_positions_match_torch(rng):
    x = mg.tensor(rng.standard_normal((4, 3)), dtype=mg.float64)
    y = mg.tensor(rng.standard_normal((4, 3)), dtype=mg.float64)
    d2 = (to_numpy(x) - to_numpy(y)) ** 2
    assert nn.MSELoss(False)(x, y).item() == pytest.approx(d2.sum())  # size_average=False
    assert nn.MSELoss(None, False)(x, y).shape == (4, 3)  # reduce=False
    assert F.mse_loss(x, y, False).item() == pytest.approx(d2.sum())
    t = mg.tensor([0, 2, 1, 2])
    # torch's positional order: (input, target, weight, size_average, ignore_index, ...)
    a = F.cross_entropy(x, t, None, None, 2)
    b = F.cross_entropy(x, t, ignore_index=2)
    assert a.item() == pytest.approx(b.item())
    assert nn.CrossEntropyLoss(None, None, 2)(x, t).item() == pytest.approx(b.item())
