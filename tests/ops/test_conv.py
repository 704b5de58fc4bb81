"""conv1d / conv2d: values against a direct loop definition, gradients (first and second
order) against central differences over a grid of geometries, float32 kept, unbatched input,
every bad input, and a Hessian-vector product through a small ConvNet."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck, gradgradcheck
from tests.conftest import to_numpy


def t64(a, device="cpu", grad=True):
    return mg.tensor(a, dtype=mg.float64, device=device, requires_grad=grad)


def conv_loop(x, w, b, stride, pads, dilation, groups):
    """The definition, one output value at a time:
    y[n, o, p] = b[o] + sum_{c, k} w[o, c, k] x_pad[n, g(o) C/G + c, s p + d k]."""
    nd = x.ndim - 2
    xpad = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    n_, c_in = x.shape[:2]
    c_out, c_g = w.shape[:2]
    kernel = w.shape[2:]
    out = [(xpad.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
           for i in range(nd)]
    o_g = c_out // groups
    y = np.zeros((n_, c_out, *out))
    for n, o in itertools.product(range(n_), range(c_out)):
        g = o // o_g
        for p in np.ndindex(*out):
            acc = 0.0 if b is None else b[o]
            for c in range(c_g):
                for k in np.ndindex(*kernel):
                    pos = tuple(p[i] * stride[i] + k[i] * dilation[i] for i in range(nd))
                    acc += w[(o, c) + k] * xpad[(n, g * c_g + c) + pos]
            y[(n, o) + p] = acc
    return y


def _pairs(padding, kernel, dilation):
    """Padding as (before, after) per dim, "same" as torch: the odd extra after."""
    nd = len(kernel)
    if padding == "valid":
        return ((0, 0),) * nd
    if padding == "same":
        tot = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in tot)
    p = (padding,) * nd if isinstance(padding, int) else padding
    return tuple((q, q) for q in p)


# (spatial, c_in, c_out, kernel, stride, padding, dilation, groups, bias)
CASES_2D = [
    ((5, 5), 2, 3, (3, 3), 1, 0, 1, 1, True),
    ((6, 5), 2, 4, (3, 2), (2, 1), 1, 1, 1, False),
    ((7, 6), 4, 4, (3, 3), 2, (1, 2), (1, 2), 2, True),          # groups 2, dilation
    ((5, 6), 3, 3, (2, 3), 1, "same", 1, 3, True),               # depthwise, even kernel
    ((6, 5), 2, 2, (2, 2), 1, "same", (2, 1), 1, False),          # same + dilation, even k
    ((5, 5), 2, 6, (3, 1), 1, "valid", 1, 2, True),
    ((4, 5), 3, 6, (1, 1), 3, 0, 1, 3, True),                    # depthwise multiplier 2
]
CASES_1D = [
    ((9,), 2, 3, (3,), 1, 0, 1, 1, True),
    ((8,), 2, 4, (4,), 2, 1, 1, 2, False),
    ((7,), 3, 3, (2,), 1, "same", 2, 3, True),
    ((10,), 2, 2, (3,), 3, (2,), (2,), 1, True),
]
CASES = [pytest.param(c, id=f"{len(c[0])}d-{i}") for i, c in enumerate(CASES_1D + CASES_2D)]


def _inputs(case, rng, device, n=2, grad=True):
    spatial, c_in, c_out, kernel, stride, padding, dilation, groups, bias = case
    x = rng.standard_normal((n, c_in, *spatial))
    w = rng.standard_normal((c_out, c_in // groups, *kernel))
    b = rng.standard_normal(c_out) if bias else None
    return x, w, b


def _conv(nd):
    return F.conv1d if nd == 1 else F.conv2d


@pytest.mark.parametrize("case", CASES)
def test_values_match_the_loop_definition(case, rng, device):
    spatial, c_in, c_out, kernel, stride, padding, dilation, groups, bias = case
    nd = len(spatial)
    x, w, b = _inputs(case, rng, device)
    y = _conv(nd)(t64(x, device), t64(w, device), None if b is None else t64(b, device),
                  stride=stride, padding=padding, dilation=dilation, groups=groups)
    st = (stride,) * nd if isinstance(stride, int) else stride
    dil = (dilation,) * nd if isinstance(dilation, int) else dilation
    ref = conv_loop(x, w, b, st, _pairs(padding, kernel, dil), dil, groups)
    assert y.shape == ref.shape
    np.testing.assert_allclose(to_numpy(y), ref, rtol=1e-12, atol=1e-12)
    if padding == "same":
        assert y.shape[2:] == tuple(spatial)


@pytest.mark.parametrize("case", CASES)
def test_gradcheck(case, rng, device):
    spatial, c_in, c_out, kernel, stride, padding, dilation, groups, bias = case
    x, w, b = _inputs(case, rng, device)
    args = [t64(x, device), t64(w, device)] + ([t64(b, device)] if bias else [])
    conv = _conv(len(spatial))

    def f(x, w, b=None):
        return conv(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)

    assert gradcheck(f, args)


@pytest.mark.parametrize("case", CASES[::2] + CASES[7:8])
def test_gradgradcheck(case, rng, device):
    """Second order: conv is bilinear in (x, w), so d^2/dx dw is what is checked (through
    ConvInputGrad and ConvWeightGrad, whose backwards are convolutions again)."""
    spatial, c_in, c_out, kernel, stride, padding, dilation, groups, bias = case
    x, w, b = _inputs(case, rng, device, n=1)
    args = [t64(x, device), t64(w, device)] + ([t64(b, device)] if bias else [])
    conv = _conv(len(spatial))

    def f(x, w, b=None):
        return conv(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)

    assert gradgradcheck(f, args)


def test_double_backward_through_squared_conv(rng, device):
    """A nonlinear function of conv2d: its Hessian has an x-x block too."""
    x = t64(rng.standard_normal((1, 2, 5, 4)), device)
    w = t64(rng.standard_normal((3, 2, 2, 3)), device)
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1, stride=(1, 2)) ** 2, [x, w])


def test_hessian_vector_product_through_a_small_convnet(rng, device):
    """Hv by double backward (create_graph) matches central differences of the gradient
    (g(theta + eps v) - g(theta - eps v)) / (2 eps), over every parameter at once."""
    mg.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 2), nn.Tanh(), nn.AvgPool2d(2, 1),
        nn.Flatten(), nn.Linear(4, 3),
    ).double().to(device)
    x = t64(rng.standard_normal((5, 1, 6, 6)), device, grad=False)
    y = t64(rng.standard_normal((5, 3)), device, grad=False)
    params = list(model.parameters())
    v = [t64(rng.standard_normal(p.shape), device, grad=False) for p in params]

    def grads():
        loss = ((model(x) - y) ** 2).mean()  # cross_entropy has no double backward yet
        return mg.autograd.grad(loss, params, create_graph=True)

    g = grads()
    gv = sum((gi * vi).sum() for gi, vi in zip(g, v))
    hv = [to_numpy(h) for h in mg.autograd.grad(gv, params)]
    eps = 1e-5

    def shifted(sign):
        with mg.no_grad():
            for p, vi in zip(params, v):
                p.array += sign * eps * vi.array
        out = [to_numpy(gi) for gi in grads()]
        with mg.no_grad():
            for p, vi in zip(params, v):
                p.array -= sign * eps * vi.array
        return out

    up, down = shifted(1.0), shifted(-1.0)
    for h, a, b in zip(hv, up, down):
        np.testing.assert_allclose(h, (a - b) / (2 * eps), rtol=1e-5, atol=1e-7)


def test_float32_stays_float32(rng, device):
    x = mg.tensor(rng.standard_normal((2, 3, 6, 6)), dtype=mg.float32, device=device,
                  requires_grad=True)
    conv = nn.Conv2d(3, 4, 3, padding="same", groups=1).to(device)
    y = conv(x)
    assert y.dtype == mg.float32
    y.sum().backward()
    for t in (x.grad, conv.weight.grad, conv.bias.grad):
        assert t.dtype == mg.float32
    y1 = F.conv1d(x[:, :, 0], conv.weight[:, :, 0])
    assert y1.dtype == mg.float32


@pytest.mark.parametrize("nd", [1, 2])
def test_unbatched_input_is_one_sample(nd, rng, device):
    x = t64(rng.standard_normal((3,) + (6,) * nd), device)
    w = t64(rng.standard_normal((2, 3) + (3,) * nd), device)
    conv = _conv(nd)
    y = conv(x, w, padding=1)
    y_batched = conv(x.unsqueeze(0), w, padding=1)
    assert y.shape == y_batched.shape[1:]
    np.testing.assert_allclose(to_numpy(y), to_numpy(y_batched)[0])
    assert gradcheck(lambda x, w: conv(x, w, stride=2), [x, w])


def test_input_unchanged(rng):
    x0 = rng.standard_normal((2, 2, 5, 5))
    x, w = t64(x0.copy()), t64(rng.standard_normal((3, 2, 3, 3)))
    F.conv2d(x, w, padding=1).sum().backward()
    np.testing.assert_array_equal(x.array, x0)


# ---------------------------------------------------------------------------- bad input

def _x(shape):
    return mg.tensor(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: F.conv2d(_x((1, 3, 8, 8)), _x((4, 2, 3, 3))), ValueError,
     r"expected input of shape \(1, 3, 8, 8\) to have 2 channels, but got 3"),
    (lambda: nn.Conv2d(3, 4, 3)(_x((1, 2, 8, 8))), ValueError, r"to have 3 channels, but got 2"),
    (lambda: F.conv2d(_x((1, 1, 4, 4)), _x((2, 1, 5, 5))), ValueError,
     r"kernel size \(5, 5\).*larger than the padded input \(4, 4\)"),
    (lambda: F.conv2d(_x((1, 1, 4, 4)), _x((2, 1, 5, 5)), padding=(0, 1)), ValueError,
     r"larger than the padded input \(4, 6\)"),
    (lambda: F.conv1d(_x((1, 1, 4)), _x((2, 1, 3)), dilation=2), ValueError,
     r"spans \(5,\).*larger than the padded input \(4,\)"),
    (lambda: nn.Conv2d(6, 4, 3, groups=4), ValueError,
     r"in_channels \(6\) must be divisible by groups \(4\)"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError,
     r"out_channels \(6\) must be divisible by groups \(4\)"),
    (lambda: F.conv2d(_x((1, 6, 5, 5)), _x((4, 2, 3, 3)), groups=4), ValueError,
     r"groups=4 and weight of shape \(4, 2, 3, 3\), expected input .* 8 channels, but got 6"),
    (lambda: F.conv2d(_x((1, 4, 5, 5)), _x((6, 1, 3, 3)), groups=4), ValueError,
     r"out_channels \(6, weight's dim 0\) must be divisible by groups=4"),
    (lambda: nn.Conv2d(2, 2, 3, stride=2, padding="same"), ValueError,
     r"padding='same' is not supported for strided convolutions, got stride=\(2, 2\)"),
    (lambda: F.conv1d(_x((1, 1, 8)), _x((1, 1, 3)), stride=2, padding="same"), ValueError,
     r"padding='same' is not supported for strided"),
    (lambda: nn.Conv2d(2, 2, 3, padding=-1), ValueError, r"padding must be non-negative, got -1"),
    (lambda: F.conv2d(_x((1, 1, 8, 8)), _x((1, 1, 3, 3)), padding=(1, -2)), ValueError,
     r"padding must be non-negative, got \(1, -2\)"),
    (lambda: F.conv2d(_x((1, 1, 8, 8)), _x((1, 1, 3, 3)), padding="full"), ValueError,
     r"padding must be 'valid', 'same', an int or a tuple of 2 ints, got 'full'"),
    (lambda: nn.Conv2d(2, 2, 3)(_x((1, 1, 2, 8, 8))), ValueError,
     r"expected 3-D \(unbatched\) or 4-D \(batched\) input, got 5-D input of shape "
     r"\(1, 1, 2, 8, 8\)"),
    (lambda: F.conv2d(_x((1, 1, 2, 8, 8)), _x((1, 1, 3, 3))), ValueError, r"got 5-D input"),
    (lambda: nn.Conv1d(2, 2, 3)(_x((2, 8, 8, 1))), ValueError, r"got 4-D input"),
    (lambda: F.conv2d(_x((1, 1, 8, 8)), _x((1, 1, 3, 3)), stride=0), ValueError,
     r"stride must be positive, got 0"),
    (lambda: F.conv2d(_x((1, 1, 8, 8)), _x((1, 1, 3, 3)), dilation=(1, 2, 3)), TypeError,
     r"dilation must be an int or a tuple of 2 ints, got \(1, 2, 3\)"),
    (lambda: F.conv2d(_x((1, 1, 8, 8)), _x((1, 1, 3)),), ValueError, r"weight must be 4-D"),
    (lambda: F.conv2d(_x((1, 1, 8, 8)), _x((2, 1, 3, 3)), _x((3,))), ValueError,
     r"bias must have shape \(2,\), got \(3,\)"),
    (lambda: F.conv2d(_x((1, 1, 8, 8)), mg.zeros((1, 1, 3, 3), dtype=mg.float64)), TypeError,
     r"input has dtype float32 but weight has dtype float64"),
    (lambda: nn.Conv2d(2, 2, 0), ValueError, r"kernel_size must be positive, got 0"),
    (lambda: nn.Conv2d(2, 2, 3, padding_mode="reflect"), NotImplementedError,
     r"padding_mode='reflect'"),
])
def test_bad_input_raises_naming_the_values(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------------------- init

@pytest.mark.parametrize("cls, args, fan_in", [
    (nn.Conv2d, (16, 32, 3), 16 * 9),
    (nn.Conv2d, (16, 64, (3, 5), 1, 0, 1, 4), 4 * 15),    # groups=4
    (nn.Conv1d, (24, 96, 7), 24 * 7),
])
def test_default_init_bounds_and_std(cls, args, fan_in):
    """torch's default: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)) for the weight,
    U(+-1/sqrt(fan_in)) for the bias; the std of U(-b, b) is b/sqrt(3)."""
    mg.manual_seed(3)
    conv = cls(*args)
    bound = 1 / np.sqrt(fan_in)
    w = to_numpy(conv.weight)
    assert conv.weight.dtype == mg.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    np.testing.assert_allclose(w.std(), bound / np.sqrt(3), rtol=0.05)
    assert abs(w.mean()) < 0.05 * bound
    b = to_numpy(conv.bias)
    assert b.shape == (args[1],) and np.abs(b).max() <= bound
    assert np.abs(b).max() > 0.5 * bound
