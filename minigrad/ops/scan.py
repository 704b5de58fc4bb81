"""Cumulative sums, vector norms, log1p and expm1: each one small Function with its derivative."""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import dispatch as d
from .elementwise import _float
from .reduce import _kept_shape, normalize_axis


class CumSum(Function):
    """y_i = sum_{j <= i} x_j along ``axis``;  dx_j = sum_{i >= j} g_i (a reversed cumsum)."""

    def forward(self, x, axis):
        self.axis = axis
        return get_array_module(x).cumsum(x, axis=axis)

    def backward(self, grad):
        flipped = (slice(None),) * self.axis + (slice(None, None, -1),)
        if d.is_tensor(grad):
            return (cumsum(grad[flipped], self.axis)[flipped],)
        return (get_array_module(grad).cumsum(grad[flipped], axis=self.axis)[flipped],)


class VectorNorm2(Function):
    """y = sqrt(sum x^2) over ``axis``;  dy/dx = x / y, taken as 0 where y = 0 (the
    subgradient torch uses, so a zero vector gets a zero gradient, not NaN)."""

    def forward(self, x, axis, keepdims):
        self.kept = _kept_shape(x.shape, axis)
        y = get_array_module(x).sqrt((x * x).sum(axis=axis, keepdims=keepdims))
        self.save_for_backward(x, y)
        return y

    def backward(self, grad, x, y):
        y = y.reshape(self.kept)
        safe = d.where(d.constant(y) > 0, y, 1)
        scale = d.where(d.constant(y) > 0, grad.reshape(self.kept) / safe, 0)
        return (x * scale,)


class Log1p(Function):
    """y = ln(1 + x), accurate for small x;  dy/dx = 1 / (1 + x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).log1p(x)

    def backward(self, grad, x):
        return (grad / (1 + x),)


class Expm1(Function):
    """y = e^x - 1, accurate for small x;  dy/dx = e^x = y + 1."""

    def forward(self, x):
        y = get_array_module(x).expm1(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad, y):
        return (grad * (y + 1),)


def cumsum(x: Tensor, dim: int) -> Tensor:
    return CumSum.apply(x, axis=normalize_axis(dim, x.ndim, single=True))


def norm2(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return VectorNorm2.apply(_float(x), axis=normalize_axis(dim, x.ndim), keepdims=keepdim)


def log1p(x: Tensor) -> Tensor:
    return Log1p.apply(_float(x))


def expm1(x: Tensor) -> Tensor:
    return Expm1.apply(_float(x))
