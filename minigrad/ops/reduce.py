"""Reductions over axes: sum, mean, max, min, var, std; argmax/argmin (no gradient)."""

from __future__ import annotations

import builtins
import numbers

from ..autograd.function import Function
from ..backend import get_array_module
from ..recording import kernel
from ..tensor import Tensor
from . import dispatch as d


def normalize_axis(dim, ndim: int, single: bool = False):
    """``dim`` (None, an int or a sequence of ints, negatives allowed) as non-negative axes:
    None, or a tuple (an int when ``single``). Out-of-range dims raise IndexError."""
    if dim is None:
        if single:
            raise TypeError("a dim is required here")
        return None
    if type(dim) is int and -ndim <= dim < ndim:  # the common case, without the checks below
        dim = dim % ndim
        return dim if single else (dim,)
    if isinstance(dim, numbers.Integral):
        dims = (dim,)
    elif isinstance(dim, (tuple, list)):
        dims = tuple(dim)
    else:
        raise TypeError(f"dims must be integers, got {dim!r}")
    span = builtins.max(ndim, 1)
    out = []
    for a in dims:
        if not isinstance(a, numbers.Integral):
            raise TypeError(f"dims must be integers, got {a!r}")
        if not -span <= a < span:
            raise IndexError(
                f"dimension out of range (expected to be in [{-span}, {span - 1}], but got {a})"
            )
        out.append(int(a) % span)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated dim in {dim!r}")
    return out[0] if single else tuple(out)


def _kept_shape(shape, axis):
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum of x over axis;  dy/dx = 1 (the gradient is broadcast back)."""

    def forward(self, x, axis, keepdims):
        self.shape, self.kept = x.shape, _kept_shape(x.shape, axis)
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, grad):
        return (d.broadcast_to(grad.reshape(self.kept), self.shape),)


class Mean(Function):
    """y = sum of x over axis / n;  dy/dx = 1 / n."""

    def forward(self, x, axis, keepdims):
        self.shape, self.kept = x.shape, _kept_shape(x.shape, axis)
        self.n = builtins.max(x.size // builtins.max(_prod(self.kept), 1), 1)
        return x.mean(axis=axis, keepdims=keepdims)

    def backward(self, grad):
        return (d.broadcast_to(grad.reshape(self.kept) / self.n, self.shape),)


class Max(Function):
    """y = max of x over axis;  dy/dx = 1 at the maximum (split evenly between ties).

    The even split is torch's rule for ``max()`` over all elements and for ``amax(dim)``;
    torch's ``max(dim)``, which also returns indices, sends the gradient to the returned
    index instead.
    """

    def forward(self, x, axis, keepdims):
        if x.size == 0:
            raise ValueError("max/min of an empty tensor")
        self.kept = _kept_shape(x.shape, axis)
        self.axis = axis
        y = x.max(axis=axis, keepdims=keepdims)
        self.save_for_backward(x, y)
        return y

    def backward(self, grad, x, y):  # comparisons carry no gradient, even on Tensors
        hit = (x == y.reshape(self.kept)).astype(grad.dtype)
        return (hit * (grad.reshape(self.kept) / hit.sum(axis=self.axis, keepdims=True)),)


class Var(Function):
    """y = sum (x - mean)^2 / (n - correction);  dy/dx = 2 (x - mean) / (n - correction)."""

    def forward(self, x, axis, keepdims, correction):
        self.kept = _kept_shape(x.shape, axis)
        n = x.size // builtins.max(_prod(self.kept), 1)
        self.dof = n - correction
        if self.dof <= 0:
            raise ValueError(
                f"var/std over {n} element(s) with correction={correction}: need more elements"
            )
        self.axis = axis
        self.save_for_backward(x)
        centred = x - x.mean(axis=axis, keepdims=True)
        return (centred * centred).sum(axis=axis, keepdims=keepdims) / self.dof

    def backward(self, grad, x):
        centred = x - x.mean(axis=self.axis, keepdims=True)
        return (grad.reshape(self.kept) * centred * (2 / self.dof),)


class Std(Var):
    """y = sqrt(var(x));  dy/dx = (x - mean) / ((n - correction) y), and 0 where y = 0.

    At y = 0 (a constant slice) the chain rule through sqrt would give 0 * inf = nan; torch's
    std_backward masks the 1 / (2 y) factor to 0 there, and so does this.
    """

    def forward(self, x, axis, keepdims, correction):
        y = get_array_module(x).sqrt(super().forward(x, axis, keepdims, correction))
        self.save_for_backward(x, y)
        return y

    def backward(self, grad, x, y):
        y = y.reshape(self.kept)
        zero = d.constant(y) == 0
        safe_y = d.where(zero, 1, y)  # no 1 / 0 to mask afterwards
        grad_var = d.where(zero, d.zeros_like(y), grad.reshape(self.kept) / (2 * safe_y))
        centred = x - x.mean(axis=self.axis, keepdims=True)
        return (grad_var * centred * (2 / self.dof),)


def _prod(shape) -> int:
    p = 1
    for n in shape:
        p *= n
    return p


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return Sum.apply(x, axis=normalize_axis(dim, x.ndim), keepdims=keepdim)


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    if x.array.dtype.kind != "f":
        raise TypeError(f"mean needs a floating tensor, got dtype {x.array.dtype}")
    return Mean.apply(x, axis=normalize_axis(dim, x.ndim), keepdims=keepdim)


def max(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return Max.apply(x, axis=normalize_axis(dim, x.ndim), keepdims=keepdim)


def min(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return -Max.apply(-x, axis=normalize_axis(dim, x.ndim), keepdims=keepdim)


def var(x: Tensor, dim=None, keepdim: bool = False, correction: int = 1) -> Tensor:
    """Variance; ``correction=1`` (the default, as in torch) is the unbiased estimate.

    Deliberate difference from torch: with no degrees of freedom left (n - correction <= 0,
    e.g. the unbiased variance of one element) this raises ValueError, where torch returns
    nan (and an inf or nan gradient). The gradient of a constant slice is 0, as in torch.
    """
    return Var.apply(x, axis=normalize_axis(dim, x.ndim), keepdims=keepdim, correction=correction)


def std(x: Tensor, dim=None, keepdim: bool = False, correction: int = 1) -> Tensor:
    """Standard deviation, sqrt of :func:`var`; its gradient is 0 where the std is 0 (as
    torch's std_backward), and too few elements raise as in :func:`var`."""
    return Std.apply(x, axis=normalize_axis(dim, x.ndim), keepdims=keepdim, correction=correction)


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (over the flattened tensor when dim is None); no gradient."""
    return _arg(x, dim, keepdim, "argmax")


def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _arg(x, dim, keepdim, "argmin")


def _arg(x: Tensor, dim, keepdim: bool, how: str) -> Tensor:
    axis = None if dim is None else normalize_axis(dim, x.ndim, single=True)
    return Tensor._wrap(kernel(_arg_array, x.array, how, axis, keepdim))


def _arg_array(a, how: str, axis, keepdim: bool):
    """``a.argmax(axis)`` or ``a.argmin(axis)`` (over the flattened array when axis is None)."""
    xp = get_array_module(a)
    if axis is None:
        return xp.asarray(getattr(a, how)())
    out = getattr(a, how)(axis=axis)
    return xp.expand_dims(out, axis) if keepdim else out
