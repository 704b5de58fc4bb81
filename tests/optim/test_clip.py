"""clip_grad_norm_ / clip_grad_value_ (torch semantics) and the Keras-style array helpers,
against closed forms."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad
from minigrad.optim.clip import (
    clip_by_norm,
    clip_by_value,
    clip_grad_norm_,
    clip_grad_value_,
    global_norm,
)

from ..conftest import to_numpy


def _with_grads(grads, device="cpu"):
    params = []
    for g in grads:
        p = minigrad.Parameter(np.zeros_like(np.asarray(g, np.float32)), device=device)
        p.grad = minigrad.Tensor(np.asarray(g, np.float32), device=device)
        params.append(p)
    return params


def test_clip_grad_norm_two_norm_closed_form(device):
    # ||(3, 4, 12)|| = 13; scale = 6.5 / (13 + 1e-6) as torch
    params = _with_grads([[3.0, 4.0], [12.0]], device)
    total = clip_grad_norm_(params, max_norm=6.5)
    assert isinstance(total, minigrad.Tensor) and total.shape == () and total.dtype == np.float32
    assert total.device == device
    assert float(total.item()) == pytest.approx(13.0, rel=1e-7)
    scale = np.float32(6.5) / (np.float32(13.0) + np.float32(1e-6))
    np.testing.assert_allclose(to_numpy(params[0].grad), [3 * scale, 4 * scale], rtol=1e-6)
    np.testing.assert_allclose(to_numpy(params[1].grad), [12 * scale], rtol=1e-6)
    assert params[0].grad._version == 1


def test_clip_grad_norm_under_the_limit_leaves_grads_unchanged():
    params = _with_grads([[3.0, 4.0], [12.0]])
    total = clip_grad_norm_(params, max_norm=20.0)
    assert float(total.item()) == pytest.approx(13.0)
    np.testing.assert_array_equal(params[0].grad.array, [3.0, 4.0])
    np.testing.assert_array_equal(params[1].grad.array, [12.0])


@pytest.mark.parametrize(("norm_type", "expected"), [
    (math.inf, 12.0), ("inf", 12.0), (1, 19.0), (1.0, 19.0),
    (3, (27 + 64 + 1728) ** (1 / 3)), (2, 13.0),
])
def test_clip_grad_norm_norm_types(norm_type, expected, device):
    params = _with_grads([[3.0, -4.0], [-12.0]], device)
    total = clip_grad_norm_(params, max_norm=1.0, norm_type=norm_type)
    assert float(total.item()) == pytest.approx(expected, rel=1e-6)
    scale = 1.0 / (expected + 1e-6)
    np.testing.assert_allclose(to_numpy(params[1].grad), [-12.0 * scale], rtol=1e-5)


def test_clip_grad_norm_skips_missing_grads_and_accepts_a_single_tensor():
    p, q = _with_grads([[6.0, 8.0], [1.0]])
    q.grad = None
    total = clip_grad_norm_(p, 5.0)
    assert float(total.item()) == pytest.approx(10.0)
    np.testing.assert_allclose(p.grad.array, [3.0, 4.0], rtol=1e-6)
    assert float(clip_grad_norm_([q], 1.0).item()) == 0.0


def test_clip_grad_norm_nonfinite():
    params = _with_grads([[1.0, np.inf], [2.0]])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(params[1].grad.array, [2.0])   # nothing changed
    with np.errstate(invalid="ignore"):                         # inf * 0 in the first grad
        total = clip_grad_norm_(params, 1.0)                    # as torch: clips anyway
    assert math.isinf(float(total.item()))
    np.testing.assert_array_equal(params[1].grad.array, [0.0])  # scale 1 / inf = 0
    nan = _with_grads([[np.nan]])
    assert math.isnan(float(clip_grad_norm_(nan, 1.0).item()))
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(_with_grads([[np.nan]]), 1.0, error_if_nonfinite=True)


@settings(max_examples=30, deadline=None)
@given(shapes=st.lists(st.lists(st.integers(1, 4), min_size=0, max_size=3), min_size=1,
                       max_size=4),
       max_norm=st.floats(0.01, 10.0), seed=st.integers(0, 2**16))
def test_clip_grad_norm_property(shapes, max_norm, seed):
    rng = np.random.default_rng(seed)
    grads = [rng.normal(size=s).astype(np.float32) * 3 for s in shapes]
    params = _with_grads(grads)
    total = float(clip_grad_norm_(params, max_norm).item())
    flat = np.concatenate([g.ravel() for g in grads]).astype(np.float64)
    assert total == pytest.approx(np.linalg.norm(flat), rel=1e-5)
    after = np.concatenate([p.grad.array.ravel() for p in params]).astype(np.float64)
    assert np.linalg.norm(after) <= max(max_norm, np.linalg.norm(flat)) * (1 + 1e-5)
    scale = min(1.0, max_norm / (total + 1e-6))
    np.testing.assert_allclose(after, flat * scale, rtol=1e-5, atol=1e-6)   # same direction


def test_clip_grad_value_closed_form(device):
    params = _with_grads([[3.0, -4.0, 0.25], [-0.5]], device)
    assert clip_grad_value_(params, 0.5) is None
    np.testing.assert_array_equal(to_numpy(params[0].grad), [0.5, -0.5, 0.25])
    np.testing.assert_array_equal(to_numpy(params[1].grad), [-0.5])
    with pytest.raises(ValueError, match="clip_value must be >= 0, got -1.0"):
        clip_grad_value_(params, -1.0)


def test_clip_grad_rejects_non_tensors():
    with pytest.raises(TypeError, match="item 0 is a ndarray"):
        clip_grad_norm_([np.ones(3)], 1.0)


def test_array_helpers_closed_forms():
    g = np.array([3.0, -4.0], np.float32)
    np.testing.assert_array_equal(clip_by_value(g, 3.5), [3.0, -3.5])
    np.testing.assert_allclose(clip_by_norm(g, 1.0), [0.6, -0.8], rtol=1e-6)
    np.testing.assert_array_equal(clip_by_norm(g, 5.0), g)
    assert clip_by_norm(g, 1.0).dtype == np.float32
    np.testing.assert_array_equal(g, [3.0, -4.0])
    assert global_norm([g, np.array([12.0], np.float32)]) == pytest.approx(13.0)


def test_nn_utils_reexports_clip():
    from minigrad.nn import utils
    if not hasattr(utils, "clip_grad_norm_"):
        pytest.skip("minigrad.nn.utils does not re-export clip_grad_norm_ yet (integration)")
    assert utils.clip_grad_norm_ is clip_grad_norm_
    assert utils.clip_grad_value_ is clip_grad_value_


@pytest.mark.parametrize("max_norm", [-1.0, -1e-9, float("nan")])
def test_clip_grad_norm_negative_max_norm_raises_and_changes_nothing(max_norm):
    params = _with_grads([np.array([3.0, 4.0], np.float32)])
    with pytest.raises(ValueError, match=f"max_norm must be >= 0, got {max_norm!r}"):
        clip_grad_norm_(params, max_norm)
    np.testing.assert_array_equal(to_numpy(params[0].grad), [3.0, 4.0])


def test_clip_grad_norm_max_norm_must_be_a_number():
    params = _with_grads([np.array([3.0, 4.0], np.float32)])
    with pytest.raises(TypeError, match="max_norm must be a number, got '1'"):
        clip_grad_norm_(params, "1")
