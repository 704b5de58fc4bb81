"""Activation functions, in numerically stable forms (no overflow, no warnings at +-1e4)."""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import dispatch as d
from .reduce import normalize_axis
from .special import erf
from .special import sigmoid as sigmoid_array


class ReLU(Function):
    """y = max(x, 0);  dy/dx = 1 where x > 0, else 0."""

    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).maximum(x, 0)

    def backward(self, grad, x):
        return (grad * (x > 0),)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y)."""

    def forward(self, x):
        y = sigmoid_array(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad, y):
        return (grad * y * (1 - y),)


class Tanh(Function):
    """y = tanh(x);  dy/dx = 1 - y^2."""

    def forward(self, x):
        y = get_array_module(x).tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad, y):
        return (grad * (1 - y * y),)


class LeakyReLU(Function):
    """y = x if x > 0 else slope * x;  dy/dx = 1 or slope."""

    def forward(self, x, slope):
        self.slope = slope
        self.save_for_backward(x)
        return get_array_module(x).where(x > 0, x, x * slope)

    def backward(self, grad, x):
        return (d.where(x > 0, grad, grad * self.slope),)


class ELU(Function):
    """y = x if x > 0 else alpha (e^x - 1);  dy/dx = 1 or alpha e^x = y + alpha.

    References:
        Clevert et al., "Fast and Accurate Deep Network Learning by Exponential Linear Units
        (ELUs)", ICLR 2016.
    """

    def forward(self, x, alpha):
        self.alpha = alpha
        xp = get_array_module(x)
        y = xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))
        self.save_for_backward(x, y)
        return y

    def backward(self, grad, x, y):
        return (d.where(x > 0, grad, grad * (y + self.alpha)),)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class GELU(Function):
    """Exact: y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2;  dy/dx = Phi(x) + x phi(x).

    tanh: y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3);
    dy/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2).

    References:
        Hendrycks and Gimpel, "Gaussian Error Linear Units (GELUs)", arXiv:1606.08415.
    """

    double_backward = False

    def forward(self, x, approximate):
        self.approximate = approximate
        self.save_for_backward(x)
        dtype, x = x.dtype, _float16_in_float32(x)
        xp = get_array_module(x)
        if approximate == "tanh":
            self.t = xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
            return (0.5 * x * (1 + self.t)).astype(dtype, copy=False)
        self.cdf = 0.5 * (1 + erf(x * _INV_SQRT_2))
        return (x * self.cdf).astype(dtype, copy=False)

    def backward(self, grad, x):
        x = _float16_in_float32(x)
        xp = get_array_module(x)
        if self.approximate == "tanh":
            t = self.t
            dudx = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            dydx = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dudx
        else:
            dydx = self.cdf + x * (_INV_SQRT_2PI * xp.exp(-0.5 * x * x))
        return ((grad * dydx).astype(grad.dtype, copy=False),)


def _float16_in_float32(x):
    """float16 computed in float32 and rounded once at the end (1 + erf(x) near x = -3 loses
    every digit in float16), as torch does for half precision."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


class SiLU(Function):
    """y = x sigma(x);  dy/dx = sigma(x) (1 + x (1 - sigma(x))).

    References:
        Elfwing et al., "Sigmoid-Weighted Linear Units for Neural Network Function
        Approximation in Reinforcement Learning", 2017.
    """

    def forward(self, x):
        self.s = sigmoid_array(x)
        self.save_for_backward(x)
        return x * self.s

    def backward(self, grad, x):
        s = d.sigmoid(x) if d.is_tensor(x) else self.s  # recorded anew for double backward
        return (grad * s * (1 + x * (1 - s)),)


class Softplus(Function):
    """y = ln(1 + e^(beta x)) / beta, computed as logaddexp(0, beta x) / beta, or x where
    beta x > threshold (torch's rule);  dy/dx = sigma(beta x), or 1 above the threshold."""

    def forward(self, x, beta, threshold):
        self.beta, self.threshold = beta, threshold
        xp = get_array_module(x)
        bx = x * beta if beta != 1.0 else x
        y = xp.logaddexp(0, bx)
        if beta != 1.0:
            y /= beta
        self.save_for_backward(x)
        return xp.where(bx > threshold, x, y)

    def backward(self, grad, x):
        bx = x * self.beta
        return (d.where(bx > self.threshold, grad, grad * d.sigmoid(bx)),)


class Softmax(Function):
    """y_i = e^(x_i - max x) / sum_j e^(x_j - max x);  dx = y * (grad - sum(grad * y))."""

    def forward(self, x, axis):
        self.axis = axis
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        self.save_for_backward(e)
        return e

    def backward(self, grad, y):
        return (y * (grad - (grad * y).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    """y = x - max x - ln sum e^(x - max x);  dx = grad - softmax(x) * sum(grad)."""

    def forward(self, x, axis):
        self.axis = axis
        xp = get_array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        shifted -= xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        self.save_for_backward(shifted)
        return shifted

    def backward(self, grad, y):
        return (grad - d.exp(y) * grad.sum(axis=self.axis, keepdims=True),)


class LogSumExp(Function):
    """y = ln sum e^x = m + ln sum e^(x - m) with m = max x;  dy/dx = e^(x - y) = softmax(x)."""

    def forward(self, x, axis, keepdims):
        xp = get_array_module(x)
        self.axis, self.keepdims = axis, keepdims
        m = x.max(axis=axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # an all -inf row gives -inf, not nan
        out = m + xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True))
        self.kept_shape = out.shape
        y = out if keepdims else out.reshape(_drop(out.shape, axis, x.ndim))
        self.save_for_backward(x, y)
        return y

    def backward(self, grad, x, y):
        if not self.keepdims:
            grad, y = grad.reshape(self.kept_shape), y.reshape(self.kept_shape)
        return (grad * d.exp(x - y),)


def _drop(shape, axis, ndim):
    axes = range(ndim) if axis is None else [a % ndim for a in axis]
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def relu(x: Tensor) -> Tensor:
    return ReLU.apply(x)


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return Softplus.apply(x, beta=float(beta), threshold=float(threshold))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLU.apply(x, slope=float(negative_slope))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return ELU.apply(x, alpha=float(alpha))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return GELU.apply(x, approximate=approximate)


def silu(x: Tensor) -> Tensor:
    return SiLU.apply(x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return Softmax.apply(x, axis=normalize_axis(dim, x.ndim, single=True))


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return LogSoftmax.apply(x, axis=normalize_axis(dim, x.ndim, single=True))


def logsumexp(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return LogSumExp.apply(x, axis=normalize_axis(dim, x.ndim), keepdims=keepdim)
