"""Reductions that select one element per row: ``max``/``min`` over a dim, with the indices.

``torch.max(x, dim)`` returns the named pair ``(values, indices)``; the gradient of the values
goes to the selected element only (as torch's, which routes it through the indices), unlike
the full reduction ``max(x)``, which splits it between ties.
"""

from __future__ import annotations

import collections
import numbers

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .reduce import normalize_axis

#: torch.return_types.max / min: a tuple ``(values, indices)`` with those two names.
max_pair = collections.namedtuple("max", ["values", "indices"])
min_pair = collections.namedtuple("min", ["values", "indices"])
sort_pair = collections.namedtuple("sort", ["values", "indices"])
topk_pair = collections.namedtuple("topk", ["values", "indices"])


class SelectAlongDim(Function):
    """y = x[..., i(...), ...] along ``axis`` at fixed indices i (one per row);
    dy/dx = 1 at the selected element of each row, 0 elsewhere."""

    def forward(self, x, index, axis, keepdims):
        xp = get_array_module(x)
        self.kept = index.shape
        positions = xp.arange(x.shape[axis]).reshape(
            tuple(-1 if i == axis else 1 for i in range(x.ndim)))
        self.mask = (positions == index).astype(x.dtype)  # one 1 per row, at the index
        y = xp.take_along_axis(x, index, axis=axis)
        return y if keepdims else y.squeeze(axis)

    def backward(self, grad):
        return (grad.reshape(self.kept) * self.mask,)


def _select(x: Tensor, dim, keepdim: bool, how: str):
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{how}(dim): dim must be an int, got {dim!r}")
    axis = normalize_axis(int(dim), x.ndim, single=True)
    if x.ndim and x.array.shape[axis] == 0:
        raise IndexError(
            f"{how}(): cannot reduce over dim {dim} of size 0 (shape {tuple(x.shape)})"
        )
    xp = get_array_module(x.array)
    if x.ndim == 0:
        return x, Tensor._wrap(xp.zeros((), dtype=xp.int64))
    index = xp.expand_dims(getattr(x.array, "arg" + how)(axis=axis), axis)
    values = SelectAlongDim.apply(x, index=index, axis=axis, keepdims=keepdim)
    indices = Tensor._wrap(index if keepdim else index.squeeze(axis))
    return values, indices


def max_dim(x: Tensor, dim: int, keepdim: bool = False):
    """The maximum of each row along ``dim`` and its index (the first one on ties)."""
    return max_pair(*_select(x, dim, keepdim, "max"))


def min_dim(x: Tensor, dim: int, keepdim: bool = False):
    """The minimum of each row along ``dim`` and its index (the first one on ties)."""
    return min_pair(*_select(x, dim, keepdim, "min"))
