"""Piecewise-constant functions: floor, ceil, round, sign. Their derivative is 0 almost
everywhere, and, as in torch, they stay in the graph with that zero gradient (so that
``x.round().sum().backward()`` runs and gives zeros rather than raising)."""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import dispatch as d


class _PiecewiseConstant(Function):
    """y = f(x) for a step function f;  dy/dx = 0 (almost everywhere)."""

    def backward(self, grad):
        return (d.zeros_like(grad),)


class Floor(_PiecewiseConstant):
    """y = floor x (the largest integer <= x);  dy/dx = 0."""

    def forward(self, x):
        return get_array_module(x).floor(x)


class Ceil(_PiecewiseConstant):
    """y = ceil x (the smallest integer >= x);  dy/dx = 0."""

    def forward(self, x):
        return get_array_module(x).ceil(x)


class Round(_PiecewiseConstant):
    """y = x rounded to ``decimals`` places, halves to even (as torch and NumPy);  dy/dx = 0."""

    def forward(self, x, decimals):
        return get_array_module(x).round(x, decimals)


class Sign(_PiecewiseConstant):
    """y = sign x (-1, 0 or 1);  dy/dx = 0."""

    def forward(self, x):
        return get_array_module(x).sign(x)


def _unchanged_if_integer(x: Tensor):
    return x.array.dtype.kind in "iub"


def floor(x: Tensor) -> Tensor:
    return Tensor._wrap(x.array.copy()) if _unchanged_if_integer(x) else Floor.apply(x)


def ceil(x: Tensor) -> Tensor:
    return Tensor._wrap(x.array.copy()) if _unchanged_if_integer(x) else Ceil.apply(x)


def round(x: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001 - torch's name
    if _unchanged_if_integer(x) and decimals >= 0:
        return Tensor._wrap(x.array.copy())
    return Round.apply(x, decimals=decimals)


def sign(x: Tensor) -> Tensor:
    if x.array.dtype.kind == "b":
        return Tensor._wrap(x.array.copy())
    return Sign.apply(x)
