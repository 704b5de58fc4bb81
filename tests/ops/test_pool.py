"""Pooling: values against direct loop definitions (torch's window and divisor rules, ceil_mode
included), the first-maximum gradient rule, return_indices, gradients of first and second
order against central differences, unbatched input, float32 kept, bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck, gradgradcheck
from tests.conftest import to_numpy


def t64(a, device="cpu", grad=True):
    return mg.tensor(a, dtype=mg.float64, device=device, requires_grad=grad)


def out_size(n, k, s, p, d, ceil_mode):
    """torch's rule, written independently: floor or ceil of the window count, and in ceil
    mode no window may start past the input and its left padding."""
    span = n + 2 * p - d * (k - 1) - 1
    o = (math.ceil(span / s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def windows(spatial, kernel, stride, padding, dilation, ceil_mode):
    """For each output position: the list of input positions of its window (inside the
    input only) and the padded-window size clipped as torch's avg divisor."""
    outs = [out_size(*a, ceil_mode) for a in zip(spatial, kernel, stride, padding, dilation)]
    for p in np.ndindex(*outs):
        per_dim, sizes, clipped = [], 1, 1
        for i, n in enumerate(spatial):
            start = p[i] * stride[i] - padding[i]
            pos = [start + j * dilation[i] for j in range(kernel[i])]
            per_dim.append([q for q in pos if 0 <= q < n])
            end = min(start + kernel[i], n + padding[i])
            sizes *= end - start
            clipped *= min(end, n) - max(start, 0)
        yield p, list(itertools.product(*per_dim)), sizes, clipped, outs


def max_pool_loop(x, kernel, stride, padding, dilation, ceil_mode):
    spatial = x.shape[2:]
    ws = list(windows(spatial, kernel, stride, padding, dilation, ceil_mode))
    outs = ws[0][4]
    y = np.zeros(x.shape[:2] + tuple(outs))
    idx = np.zeros(y.shape, dtype=np.int64)
    for n, c in np.ndindex(*x.shape[:2]):
        for p, positions, *_ in ws:
            vals = [x[(n, c) + q] for q in positions]
            j = int(np.argmax(vals))             # the first maximum
            y[(n, c) + p] = vals[j]
            idx[(n, c) + p] = np.ravel_multi_index(positions[j], spatial)
    return y, idx


def avg_pool_loop(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor=None):
    ws = list(windows(x.shape[2:], kernel, stride, padding, (1,) * len(kernel), ceil_mode))
    y = np.zeros(x.shape[:2] + tuple(ws[0][4]))
    for n, c in np.ndindex(*x.shape[:2]):
        for p, positions, size, clipped, _ in ws:
            total = sum(x[(n, c) + q] for q in positions)
            y[(n, c) + p] = total / (divisor or (size if count_include_pad else clipped))
    return y


def adaptive_loop(x, out):
    spatial = x.shape[2:]
    y = np.zeros(x.shape[:2] + tuple(out))
    for p in np.ndindex(*out):
        sl = tuple(slice(math.floor(i * n / o), math.ceil((i + 1) * n / o))
                   for i, n, o in zip(p, spatial, out))
        y[(slice(None), slice(None)) + p] = x[(slice(None), slice(None)) + sl].mean(
            axis=tuple(range(2, x.ndim)))
    return y


def _t(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


# (spatial, kernel, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    ((6, 6), 2, None, 0, 1, False),
    ((7, 5), 3, 2, 1, 1, False),
    ((5, 5), 2, 2, 1, 1, True),          # ceil: the 4th window would start past the input
    ((7, 8), (3, 2), (2, 3), (1, 0), 1, True),
    ((7, 7), 2, 1, 1, 2, False),         # dilation
    ((9, 6), 3, 2, 0, (2, 1), True),
    ((9,), 3, 2, 1, 1, True),
    ((10,), 4, 3, 2, 1, False),
    ((8,), 2, 3, 0, 2, True),
]


def _max_args(case):
    spatial, k, s, p, d, ceil_mode = case
    nd = len(spatial)
    return _t(k, nd), _t(k if s is None else s, nd), _t(p, nd), _t(d, nd), ceil_mode


def _max_pool(nd):
    return F.max_pool1d if nd == 1 else F.max_pool2d


@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool_values_and_indices_match_the_loop(case, rng, device):
    spatial = case[0]
    x = rng.standard_normal((2, 3, *spatial))
    k, s, p, d, ceil_mode = _max_args(case)
    y, idx = _max_pool(len(spatial))(t64(x, device), case[1], case[2], case[3], case[4],
                                     ceil_mode=case[5], return_indices=True)
    ref, ref_idx = max_pool_loop(x, k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(to_numpy(y), ref)
    np.testing.assert_array_equal(to_numpy(idx), ref_idx)


@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool_gradcheck(case, rng, device):
    spatial = case[0]
    x = t64(rng.permutation(np.arange(6 * math.prod(spatial)) * 0.1 - 1).reshape(
        (2, 3, *spatial)), device)        # distinct values: no ties within eps
    pool = _max_pool(len(spatial))
    f = lambda x: pool(x, case[1], case[2], case[3], case[4], ceil_mode=case[5])  # noqa: E731
    assert gradcheck(f, [x])
    assert gradgradcheck(lambda x: f(x * x), [x])


def test_max_pool_sends_the_gradient_to_the_first_maximum(device):
    """Ties: torch's kernel replaces the running maximum only by a strictly larger value, so
    the first position (in row-major window order) of each window gets the gradient."""
    x = mg.ones((1, 1, 4, 4), dtype=mg.float64, device=device, requires_grad=True)
    y = F.max_pool2d(x, 2)
    (y * mg.tensor(np.arange(1.0, 5.0).reshape(1, 1, 2, 2), device=device)).sum().backward()
    expect = np.zeros((4, 4))
    expect[0, 0], expect[0, 2], expect[2, 0], expect[2, 2] = 1, 2, 3, 4
    np.testing.assert_array_equal(to_numpy(x.grad)[0, 0], expect)
    # overlapping windows (stride 1) [0 5], [5 5], [5 1]: maxima at positions 1, 1 (the
    # first of the tie), 2; a position that is several windows' maximum collects them all
    x = t64(np.array([[[0.0, 5.0, 5.0, 1.0]]]), device)
    F.max_pool1d(x, 2, 1).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [[[0, 2, 1, 0]]])


def test_max_pool_padding_is_never_the_maximum(device):
    x = t64(-np.ones((1, 1, 3, 3)) - np.arange(9).reshape(1, 1, 3, 3), device)
    y = F.max_pool2d(x, 3, 1, padding=1)
    assert (to_numpy(y) < 0).all()


@pytest.mark.parametrize("spatial, k, expect", [
    ((112, 112), 3, (56, 56)),   # GoogLeNet's stem: MaxPool2d(3, 2, ceil_mode=True) -> 56
    ((5, 5), 2, (3, 3)),
])
def test_ceil_mode_output_sizes(spatial, k, expect):
    x = mg.zeros((1, 1, *spatial))
    assert F.max_pool2d(x, k, 2, ceil_mode=True).shape[2:] == expect
    assert F.max_pool2d(x, k, 2).shape[2:] == tuple((n - k) // 2 + 1 for n in spatial)
    # the start-inside rule: 5 + 2*1 - 2 + 1 = 6 -> ceil(5/2) + 1 = 4 windows, the 4th would
    # start at 6 >= 5 + 1 (past input and left padding), so 3
    assert F.max_pool1d(mg.zeros((1, 1, 5)), 2, 2, padding=1, ceil_mode=True).shape[-1] == 3
    assert F.avg_pool1d(mg.zeros((1, 1, 5)), 2, 2, padding=1, ceil_mode=True).shape[-1] == 3


# (spatial, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG_CASES = [
    ((6, 6), 2, None, 0, False, True, None),
    ((7, 5), 3, 2, 1, False, True, None),
    ((7, 5), 3, 2, 1, False, False, None),
    ((5, 6), 2, 2, 1, True, True, None),
    ((6, 7), (3, 2), (2, 3), (1, 1), True, False, None),
    ((6, 7), 3, 2, 1, True, True, 4),
    ((9,), 3, 2, 1, True, True, None),
    ((8,), 4, 3, 2, True, False, None),
]


@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool_values_and_gradients(case, rng, device):
    spatial, k, s, p, ceil_mode, cip, div = case
    nd = len(spatial)
    x = rng.standard_normal((2, 2, *spatial))
    if nd == 1:
        f = lambda x: F.avg_pool1d(x, k, s, p, ceil_mode, cip)  # noqa: E731
    else:
        f = lambda x: F.avg_pool2d(x, k, s, p, ceil_mode, cip, div)  # noqa: E731
    ref = avg_pool_loop(x, _t(k, nd), _t(k if s is None else s, nd), _t(p, nd), ceil_mode, cip,
                        div)
    np.testing.assert_allclose(to_numpy(f(t64(x, device))), ref, rtol=1e-12, atol=1e-14)
    assert gradcheck(f, [t64(x, device)])
    assert gradgradcheck(lambda x: f(x * x), [t64(x, device)])


@pytest.mark.parametrize("spatial, out", [
    ((7,), (3,)), ((10,), (4,)), ((3,), (5,)), ((6,), (1,)), ((6,), (6,)),
    ((5, 7), (3, 2)), ((8, 8), (1, 1)), ((7, 5), (None, 3)), ((4, 9), (6, 4)),
])
def test_adaptive_avg_pool_values_and_gradients(spatial, out, rng, device):
    x = rng.standard_normal((2, 3, *spatial))
    f = (F.adaptive_avg_pool1d if len(spatial) == 1 else F.adaptive_avg_pool2d)
    want = tuple(n if o is None else o for o, n in zip(out, spatial))
    y = f(t64(x, device), out)
    assert y.shape == (2, 3) + want
    np.testing.assert_allclose(to_numpy(y), adaptive_loop(x, want), rtol=1e-12, atol=1e-14)
    assert gradcheck(lambda x: f(x, out), [t64(x, device)])
    assert gradgradcheck(lambda x: f(x * x, out), [t64(x, device)])


def test_adaptive_int_output_size_and_modules():
    x = mg.tensor(np.arange(2 * 10 * 10, dtype=np.float32).reshape(1, 2, 10, 10))
    assert nn.AdaptiveAvgPool2d(3)(x).shape == (1, 2, 3, 3)
    assert nn.AdaptiveAvgPool1d(4)(x[:, :, 0]).shape == (1, 2, 4)
    assert nn.AdaptiveAvgPool2d((None, 2))(x).dtype == mg.float32


@pytest.mark.parametrize("make", [
    lambda: nn.MaxPool2d(2), lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True),
    lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False), lambda: nn.AdaptiveAvgPool2d(3),
])
def test_unbatched_input_and_float32(make, rng, device):
    layer = make()
    x = mg.tensor(rng.standard_normal((3, 7, 6)), dtype=mg.float32, device=device,
                  requires_grad=True)
    y = layer(x)
    yb = layer(x.unsqueeze(0))
    assert y.shape == yb.shape[1:] and y.dtype == mg.float32
    np.testing.assert_array_equal(to_numpy(y), to_numpy(yb)[0])
    y.sum().backward()
    assert x.grad.dtype == mg.float32 and x.grad.shape == x.shape


def test_1d_modules(rng):
    x = mg.tensor(rng.standard_normal((2, 3, 9)), dtype=mg.float32)
    assert nn.MaxPool1d(3, 2, 1)(x).shape == (2, 3, 5)
    assert nn.AvgPool1d(2)(x).shape == (2, 3, 4)
    y, idx = nn.MaxPool1d(3, return_indices=True)(x)
    np.testing.assert_array_equal(
        to_numpy(idx), np.argmax(to_numpy(x).reshape(2, 3, 3, 3), axis=-1) + [0, 3, 6])


def _x(shape):
    return mg.zeros(shape)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: F.max_pool2d(_x((1, 1, 8, 8)), 2, padding=2), ValueError,
     r"padding should be at most half of the \(dilated\) kernel size, got padding=\(2, 2\)"),
    (lambda: F.avg_pool2d(_x((1, 1, 8, 8)), 3, padding=2), ValueError,
     r"at most half.*kernel_size=\(3, 3\)"),
    (lambda: F.max_pool2d(_x((1, 1, 2, 8)), 3), ValueError,
     r"input of shape \(1, 1, 2, 8\) is too small for kernel_size=\(3, 3\).*output size "
     r"would be \(0, 2\)"),
    (lambda: nn.MaxPool2d(2)(_x((1, 1, 1, 8, 8))), ValueError,
     r"expected 3-D \(unbatched\) or 4-D \(batched\) input, got 5-D input"),
    (lambda: F.avg_pool1d(_x((8,)), 2), ValueError, r"got 1-D input of shape \(8,\)"),
    (lambda: F.max_pool2d(_x((1, 1, 8, 8)), 0), ValueError, r"kernel_size must be positive"),
    (lambda: F.max_pool2d(_x((1, 1, 8, 8)), 2, padding=-1), ValueError,
     r"padding must be non-negative, got -1"),
    (lambda: F.adaptive_avg_pool2d(_x((1, 1, 8, 8)), (2, 0)), ValueError,
     r"output_size must hold positive ints \(or None\), got \(2, 0\)"),
    (lambda: F.adaptive_avg_pool2d(_x((1, 1, 8, 8)), (2, 2, 2)), ValueError,
     r"output_size must be an int or a tuple of 2"),
    (lambda: F.avg_pool2d(_x((1, 1, 8, 8)), 2, divisor_override=0), ValueError,
     r"divisor_override must be a positive int or None, got 0"),
    (lambda: F.avg_pool2d(mg.zeros((1, 1, 4, 4), dtype=mg.int64), 2), TypeError,
     r"must be a floating-point tensor"),
])
def test_bad_input_raises_naming_the_values(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
