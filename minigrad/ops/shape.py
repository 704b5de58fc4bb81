"""Shape ops: reshape, permute, squeeze/unsqueeze, expand, indexing, concat, stack."""

from __future__ import annotations

import numbers
import operator

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import dispatch as d
from . import indexing
from .elementwise import cast
from .reduce import normalize_axis


class Reshape(Function):
    """y = x with a new shape;  dx = grad reshaped back."""

    is_view = True

    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, grad):
        return (grad.reshape(self.shape),)


class Permute(Function):
    """y = x with its axes reordered;  dx = grad with the inverse order."""

    is_view = True

    def forward(self, x, axes):
        self.inverse = None if axes is None else _inverse(axes)
        return x.transpose(axes)

    def backward(self, grad):
        return (grad.transpose(self.inverse),)


def _inverse(axes: tuple) -> tuple:
    """The permutation that undoes ``axes``."""
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


class Expand(Function):
    """y = x broadcast to a larger shape;  dx = grad summed back (the engine unbroadcasts)."""

    is_view = True

    def forward(self, x, shape):
        return get_array_module(x).broadcast_to(x, shape)

    def backward(self, grad):
        return (grad,)


class BasicIndex(Function):
    """y = x[ints, slices, None, ...] (a view);  dx = grad placed back at those positions."""

    is_view = True

    def forward(self, x, index):
        self.index, self.shape = index, x.shape
        return x[index]

    def backward(self, grad):
        return (scatter_add(grad, self.index, self.shape),)


class AdvancedIndex(BasicIndex):
    """y = x[int arrays or bool masks] (a copy);  dx = grad added back at those positions
    (repeated indices accumulate)."""

    is_view = False


class ScatterAdd(Function):
    """y = zeros(shape) with grad added at index;  dx = grad[index]. Backward of indexing,
    used as an op itself when the backward pass is recorded (create_graph)."""

    def forward(self, g, index, shape):
        self.index = index
        return _scatter_add_array(g, index, shape)

    def backward(self, grad):
        return (grad[self.index],)


def _scatter_add_array(g, index, shape):
    return indexing.scatter_add(shape, index, g)


def scatter_add(g, index, shape):
    if d.is_tensor(g):
        return ScatterAdd.apply(g, index=index, shape=shape)
    return _scatter_add_array(g, index, shape)


class Concat(Function):
    """y = [x_1, ..., x_k] joined along axis;  dx_i = the slice of grad that x_i filled."""

    def forward(self, *xs, axis):
        self.axis = axis
        self.bounds = np.cumsum([0] + [x.shape[axis] for x in xs]).tolist()
        return get_array_module(xs[0]).concatenate(xs, axis=axis)

    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(grad[lead + (slice(a, b),)] for a, b in zip(self.bounds, self.bounds[1:]))


class Stack(Function):
    """y = x_1, ..., x_k stacked along a new axis;  dx_i = grad[..., i, ...]."""

    def forward(self, *xs, axis):
        self.axis, self.k = axis, len(xs)
        return get_array_module(xs[0]).stack(xs, axis=axis)

    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(grad[lead + (i,)] for i in range(self.k))


# ----------------------------------------------------------------------------- indices


def raw_index(index):
    """An index with Tensors and lists turned into arrays, ready for array indexing."""
    if isinstance(index, tuple):
        return tuple(_raw_index_item(i) for i in index)
    return _raw_index_item(index)


def _raw_index_item(i):
    if isinstance(i, Tensor):
        if i.array.dtype.kind not in "biu":
            raise IndexError(f"tensors used as indices must be integer or bool, got {i.dtype}")
        return i.array
    if isinstance(i, list):
        arr = np.asarray(i)
        if arr.dtype.kind not in "biu":
            raise IndexError(f"lists used as indices must hold integers or bools, got {i!r}")
        return arr
    return i


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or isinstance(i, slice)
        or (isinstance(i, numbers.Integral) and not isinstance(i, bool))
        for i in items
    )


# ----------------------------------------------------------------------------- public entries


def reshape(x: Tensor, shape: tuple) -> Tensor:
    try:
        shape = tuple(operator.index(s) for s in shape)  # 2.0 or 2.5 are refused, as torch
    except TypeError as err:
        raise TypeError(f"reshape: shape must be integers, got {shape!r}") from err
    for s in shape:
        if s < -1:
            raise ValueError(f"reshape: invalid size {s} in shape {shape}: sizes must be "
                             "non-negative, or -1 for the one inferred size")
    return Reshape.apply(x, shape=shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, (1,))
    s = normalize_axis(start_dim, x.ndim, single=True)
    e = normalize_axis(end_dim, x.ndim, single=True)
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) comes after end_dim ({end_dim})")
    shape = x.shape
    n = 1
    for k in shape[s:e + 1]:
        n *= k
    return reshape(x, shape[:s] + (n,) + shape[e + 1:])


def permute(x: Tensor, axes) -> Tensor:
    if axes is not None:
        axes = normalize_axis(axes, x.ndim)
        if len(axes) != x.ndim:
            raise ValueError(f"permute: got {len(axes)} dims for a tensor of {x.ndim} dims")
    return Permute.apply(x, axes=axes)


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    a = normalize_axis(axis1, x.ndim, single=True)
    b = normalize_axis(axis2, x.ndim, single=True)
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(x, axes=tuple(axes))


def squeeze(x: Tensor, dim=None) -> Tensor:
    if dim is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    dims = normalize_axis(dim, x.ndim)
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    dim = normalize_axis(dim, x.ndim + 1, single=True)
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def expand(x: Tensor, shape: tuple) -> Tensor:
    shape = tuple(shape)
    if len(shape) < x.ndim:
        raise ValueError(f"expand: cannot expand shape {x.shape} to {shape} (fewer dims)")
    lead = len(shape) - x.ndim
    full = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
    try:
        np.broadcast_shapes(x.shape, full)
    except ValueError:
        raise ValueError(f"expand: cannot expand shape {x.shape} to {shape}") from None
    if np.broadcast_shapes(x.shape, full) != full:
        raise ValueError(f"expand: cannot expand shape {x.shape} to {shape}")
    return Expand.apply(x, shape=full)


def array_index(index, like):
    """``index`` (ints, slices, Tensors, lists, arrays) ready to index the array ``like``:
    raw arrays on its device, integer entries checked against its shape (CuPy would wrap)."""
    return indexing.array_index(raw_index(index), like)


def getitem(x: Tensor, index) -> Tensor:
    index = array_index(index, x.array)
    cls = BasicIndex if _is_basic(index) else AdvancedIndex
    try:
        return cls.apply(x, index=index)
    except ValueError as err:
        raise IndexError(f"index {index!r} for shape {x.shape}: {err}") from None


def concat(tensors, dim: int = 0) -> Tensor:
    tensors = _check_sequence(tensors, "concat")
    axis = normalize_axis(dim, tensors[0].ndim, single=True)
    for t in tensors[1:]:
        if t.ndim != tensors[0].ndim or any(
            a != b for i, (a, b) in enumerate(zip(t.shape, tensors[0].shape)) if i != axis
        ):
            shapes = ", ".join(str(tuple(u.shape)) for u in tensors)
            raise ValueError(f"concat: shapes must match except along dim {dim}, got {shapes}")
    return Concat.apply(*_same_dtype(tensors), axis=axis)


def stack(tensors, dim: int = 0) -> Tensor:
    tensors = _check_sequence(tensors, "stack")
    axis = normalize_axis(dim, tensors[0].ndim + 1, single=True)
    if any(t.shape != tensors[0].shape for t in tensors):
        shapes = ", ".join(str(tuple(u.shape)) for u in tensors)
        raise ValueError(f"stack: all tensors must have the same shape, got {shapes}")
    return Stack.apply(*_same_dtype(tensors), axis=axis)


def _check_sequence(tensors, name):
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{name}: expected a non-empty sequence of tensors")
    return tensors


def _same_dtype(tensors):
    dtype = np.result_type(*[t.array.dtype for t in tensors])
    return [cast(t, dtype) for t in tensors]
