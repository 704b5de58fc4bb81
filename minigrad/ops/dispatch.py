"""Helpers that serve arrays and Tensors alike, for backward code.

Ordinary backward passes arrays; ``create_graph=True`` passes Tensors, so that the same
derivative code records a differentiable graph. Operators (``+ - * / @``), comparisons and the
methods that arrays and Tensors share (``sum``, ``reshape``, ``swapaxes``, ``astype``) need
nothing; the few functions below call the array module's function on an array and the Tensor's
own (recorded) method on a Tensor. Most ops need none of them.
"""

from __future__ import annotations

from ..backend import get_array_module
from ..tensor import Tensor
from .special import sigmoid as sigmoid_array


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def exp(x):
    return x.exp() if isinstance(x, Tensor) else get_array_module(x).exp(x)


def log(x):
    return x.log() if isinstance(x, Tensor) else get_array_module(x).log(x)


def sign(x):
    """sign(x), a constant: its derivative is zero almost everywhere."""
    if isinstance(x, Tensor):
        return Tensor._wrap(get_array_module(x.array).sign(x.array))
    return get_array_module(x).sign(x)


def constant(x):
    """x as a value that carries no gradient (a mask, a count)."""
    return Tensor._wrap(x.array) if isinstance(x, Tensor) else x


def constant_like(like, array):
    """``array`` as a value of ``like``'s kind that carries no gradient (a saved mask)."""
    return Tensor._wrap(array) if isinstance(like, Tensor) else array


def where(cond, a, b):
    """``a`` where ``cond`` else ``b``: differentiable in ``a`` and ``b`` when they are Tensors."""
    if isinstance(a, Tensor):
        return a.where(cond, b)
    if isinstance(b, Tensor):
        return b.where(~cond, a)
    return get_array_module(a).where(cond, a, b)


def broadcast_to(x, shape):
    if isinstance(x, Tensor):
        return x.expand(shape)
    out = get_array_module(x).empty(shape, dtype=x.dtype)  # faster than a broadcast view
    out[...] = x
    return out


def sigmoid(x):
    return x.sigmoid() if isinstance(x, Tensor) else sigmoid_array(x)


def zeros_like(x):
    if isinstance(x, Tensor):
        return Tensor._wrap(get_array_module(x.array).zeros_like(x.array))
    return get_array_module(x).zeros_like(x)
