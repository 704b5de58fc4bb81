"""Activation functions, in numerically stable forms (no overflow, no warnings at +-1e4)."""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import dispatch as d
from .reduce import normalize_axis


def sigmoid_array(x):
    """sigma(x) = 1 / (1 + e^-x), computed as (1 + tanh(x / 2)) / 2, which never overflows."""
    xp = get_array_module(x)
    return 0.5 * (1 + xp.tanh(0.5 * x))


class ReLU(Function):
    """y = max(x, 0);  dy/dx = 1 where x > 0, else 0."""

    def forward(self, x):
        return get_array_module(x).maximum(x, 0)

    def backward(self, grad, inputs, out):
        (x,) = inputs
        return (grad * (d.constant(x) > 0),)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y)."""

    saves_inputs = False
    saves_output = True

    def forward(self, x):
        return sigmoid_array(x)

    def backward(self, grad, inputs, y):
        return (grad * y * (1 - y),)


class Tanh(Function):
    """y = tanh(x);  dy/dx = 1 - y^2."""

    saves_inputs = False
    saves_output = True

    def forward(self, x):
        return get_array_module(x).tanh(x)

    def backward(self, grad, inputs, y):
        return (grad * (1 - y * y),)


class Softplus(Function):
    """y = ln(1 + e^x), computed as logaddexp(0, x);  dy/dx = sigma(x)."""

    def forward(self, x):
        return get_array_module(x).logaddexp(0, x)

    def backward(self, grad, inputs, out):
        (x,) = inputs
        return (grad * d.sigmoid(x),)


class Softmax(Function):
    """y_i = e^(x_i - max x) / sum_j e^(x_j - max x);  dx = y * (grad - sum(grad * y))."""

    saves_inputs = False
    saves_output = True

    def forward(self, x, axis):
        self.axis = axis
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        return e

    def backward(self, grad, inputs, y):
        return (y * (grad - (grad * y).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    """y = x - max x - ln sum e^(x - max x);  dx = grad - softmax(x) * sum(grad)."""

    saves_inputs = False
    saves_output = True

    def forward(self, x, axis):
        self.axis = axis
        xp = get_array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        shifted -= xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        return shifted

    def backward(self, grad, inputs, y):
        return (grad - d.exp(y) * grad.sum(axis=self.axis, keepdims=True),)


class LogSumExp(Function):
    """y = ln sum e^x = m + ln sum e^(x - m) with m = max x;  dy/dx = e^(x - y) = softmax(x)."""

    saves_output = True

    def forward(self, x, axis, keepdims):
        xp = get_array_module(x)
        self.axis, self.keepdims = axis, keepdims
        m = x.max(axis=axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # an all -inf row gives -inf, not nan
        out = m + xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True))
        self.kept_shape = out.shape
        return out if keepdims else out.reshape(_drop(out.shape, axis, x.ndim))

    def backward(self, grad, inputs, y):
        (x,) = inputs
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


def softplus(x: Tensor) -> Tensor:
    return Softplus.apply(x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return Softmax.apply(x, axis=normalize_axis(dim, x.ndim, single=True))


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return LogSoftmax.apply(x, axis=normalize_axis(dim, x.ndim, single=True))


def logsumexp(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return LogSumExp.apply(x, axis=normalize_axis(dim, x.ndim), keepdims=keepdim)
