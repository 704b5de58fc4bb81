"""Pooling over the trailing spatial dims: max, average and adaptive average (1-D and 2-D).

Window geometry, as torch (per spatial dim: kernel k, stride s, padding p, dilation d):

    O = floor((S + 2p - d (k - 1) - 1 + (s - 1 if ceil_mode else 0)) / s) + 1,
    and in ceil mode O is decreased by one if the last window would start at or past the end
    of the input and its left padding ((O - 1) s >= S + p): every window starts inside.

Window o covers padded positions o s + d j, j = 0..k-1. Both the forward and the backward
loop over the prod(k) kernel offsets (never over pixels or samples): offset j's values are
the strided slice x_pad[..., d j : d j + s (O - 1) + 1 : s], one array op each.

- Max pooling sends each window's gradient to its FIRST maximum, as torch (whose kernel
  replaces the running maximum only by a strictly larger value): at backward, offsets are
  visited in order and the first position equal to the window's maximum takes the gradient.
  A NaN propagates to the output (its window then sends no gradient).
- Average pooling divides the window's sum by its size: with count_include_pad the window
  clipped to the padded input (hend = min(hstart + k, S + p)), otherwise the part inside the
  input; ``divisor_override`` replaces both.
- Adaptive average pooling uses windows start_i = floor(i L / O), end_i = ceil((i + 1) L / O),
  which overlap or vary in size when O does not divide L. The average over a box is separable,
  so y = P_H x P_W^T with P[i, start_i:end_i] = 1 / (end_i - start_i): two matmuls with
  constant matrices, differentiable to any order.

Max and average pooling are linear in x given the window weights (the max's one-hot choice,
the average's 1 / divisor): ``window_sum`` gathers y = sum_j w_j x_pad[slice_j] and
``window_spread`` is its adjoint dx = sum_j pad-add(w_j g). Each is the other's backward,
so double backward works through both (the max's choice is constant almost everywhere).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module, on_device_of
from ..tensor import Tensor
from . import dispatch as d
from .linalg import matmul


@dataclass(frozen=True)
class PoolGeometry:
    """Kernel, stride, padding (both sides), dilation and ceil_mode of a pooling op."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    ceil_mode: bool

    def output_shape(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        """torch's pooling output size per dim (see the module docstring)."""
        out = []
        for n, k, s, p, dil in zip(spatial, self.kernel, self.stride, self.padding,
                                   self.dilation):
            num = n + 2 * p - dil * (k - 1) - 1 + (s - 1 if self.ceil_mode else 0)
            o = num // s + 1
            if self.ceil_mode and (o - 1) * s >= n + p:
                o -= 1  # the last window must start inside the input or the left padding
            out.append(o)
        return tuple(out)


class Windows:
    """The windows of one input shape: the padded size, the interior, one slice per offset."""

    def __init__(self, geom: PoolGeometry, shape: tuple[int, ...]):
        self.geom = geom
        self.shape = shape
        spatial = shape[2:]
        self.out = geom.output_shape(spatial)
        ends = [(o - 1) * s + dil * (k - 1) + 1 for o, s, dil, k in
                zip(self.out, geom.stride, geom.dilation, geom.kernel)]
        self.padded = shape[:2] + tuple(max(n + p, e) for n, p, e in
                                        zip(spatial, geom.padding, ends))
        self.interior = (slice(None), slice(None)) + tuple(
            slice(p, p + n) for n, p in zip(spatial, geom.padding))
        self.offsets = [
            (slice(None), slice(None)) + tuple(
                slice(dil * j, dil * j + s * (o - 1) + 1, s)
                for j, dil, s, o in zip(k, geom.dilation, geom.stride, self.out))
            for k in itertools.product(*(range(m) for m in geom.kernel))
        ]

    def pad(self, x, fill):
        """x inside a (N, C, *padded) array of ``fill`` (x itself when nothing is added)."""
        if self.padded == self.shape:
            return x
        out = get_array_module(x).full(self.padded, fill, dtype=x.dtype)
        out[self.interior] = x
        return out


def _chosen(values, j, index):
    """values where offset j is the window's choice (index == j); all of them without index."""
    return values if index is None else values * (index == j)


def window_sum_array(x, win: Windows, scale=None, index=None):
    """y = scale * sum_j [index == j] x_pad[slice_j] (zero padding)."""
    with on_device_of(x):  # CuPy allocates on the current device: make it x's (cuda:N)
        return _window_sum(x, win, scale, index)


def _window_sum(x, win, scale, index):
    xpad = win.pad(x, 0)
    y = _chosen(xpad[win.offsets[0]], 0, index).copy()
    for j, sl in enumerate(win.offsets[1:], 1):
        y += _chosen(xpad[sl], j, index)
    if scale is not None:
        y *= scale
    return y


def window_spread_array(g, win: Windows, scale=None, index=None):
    """dx = sum_j pad-add([index == j] scale g), cropped to the input: window_sum's adjoint."""
    with on_device_of(g):
        return _window_spread(g, win, scale, index)


def _window_spread(g, win, scale, index):
    xp = get_array_module(g)
    if scale is not None:
        g = g * scale
    acc = xp.zeros(win.padded, dtype=g.dtype)
    for j, sl in enumerate(win.offsets):
        acc[sl] += _chosen(g, j, index)
    return acc if win.padded == win.shape else xp.ascontiguousarray(acc[win.interior])


class WindowSum(Function):
    """y = sum_j w_j x_pad[slice_j];  dx = window_spread(grad) with the same weights."""

    def forward(self, x, *, win, scale, index):
        self.win, self.scale, self.index = win, scale, index
        return window_sum_array(x, win, scale, index)

    def backward(self, grad):
        return (window_spread(grad, self.win, self.scale, self.index),)


class WindowSpread(Function):
    """dx = sum_j pad-add(w_j g);  its adjoint: dg = window_sum(grad) with the same weights."""

    def forward(self, g, *, win, scale, index):
        self.win, self.scale, self.index = win, scale, index
        return window_spread_array(g, win, scale, index)

    def backward(self, grad):
        return (window_sum(grad, self.win, self.scale, self.index),)


def window_sum(x, win, scale=None, index=None):
    if isinstance(x, Tensor):
        return WindowSum.apply(x, win=win, scale=scale, index=index)
    return window_sum_array(x, win, scale, index)


def window_spread(g, win, scale=None, index=None):
    if isinstance(g, Tensor):
        return WindowSpread.apply(g, win=win, scale=scale, index=index)
    return window_spread_array(g, win, scale, index)


class MaxPool(Function):
    """y = max over each window (NaN propagates);  dx = the gradient sent to each window's
    FIRST maximum (window_spread with the one-hot choice, found at backward time)."""

    def forward(self, x, *, geom):
        with on_device_of(x):  # CuPy allocates on the current device: make it x's (cuda:N)
            y = self._max(x, geom)
        self.save_for_backward(x, y)  # backward compares the input with the output
        return y

    def _max(self, x, geom):
        xp = get_array_module(x)
        win = Windows(geom, x.shape)
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xpad = win.pad(x, fill)
        first = xpad[win.offsets[0]]
        y = xp.empty_like(first)  # keeps x's memory order (channel-major, say)
        if len(win.offsets) == 1:
            y[...] = first
        else:
            xp.maximum(first, xpad[win.offsets[1]], out=y)
        for sl in win.offsets[2:]:
            xp.maximum(y, xpad[sl], out=y)
        self.win, self.xpad, self.y = win, xpad, y
        self._index = None
        return y

    @property
    def index(self):
        """The offset of each window's first maximum (0 .. prod(kernel) - 1)."""
        if self._index is None:
            with on_device_of(self.y):
                self._index = self._first_max_offsets()
        return self._index

    def _first_max_offsets(self):
        xp = get_array_module(self.y)
        dtype = xp.uint8 if len(self.win.offsets) < 256 else xp.int32
        index = xp.zeros(self.y.shape, dtype=dtype)
        taken = None
        for j, sl in enumerate(self.win.offsets):
            hit = self.xpad[sl] == self.y
            if taken is None:
                taken = hit
                continue
            xp.less(taken, hit, out=hit)  # a maximum not seen at an earlier offset
            taken |= hit
            index[hit] = j
        return index

    def backward(self, grad, x, y):  # reads them through self.xpad and self.y
        if not d.is_tensor(grad):
            with on_device_of(grad):
                return (self._spread_first_max(grad),)
        return (window_spread(grad, self.win, None, self.index),)

    def _spread_first_max(self, g):
        """dx for an array gradient: each window's first maximum gets the window's g (one
        comparison per kernel offset; disjoint windows are written, not accumulated)."""
        xp, win, geom = get_array_module(g), self.win, self.win.geom
        disjoint = all(s >= dil * (k - 1) + 1 for s, dil, k in
                       zip(geom.stride, geom.dilation, geom.kernel))
        # windows that tile the padded input exactly write every position once: no zeroing
        tiles = disjoint and all(s == k and dil == 1 and o * s == n for s, dil, k, o, n in zip(
            geom.stride, geom.dilation, geom.kernel, win.out, win.padded[2:]))
        acc = xp.empty_like(self.xpad) if tiles else xp.zeros_like(self.xpad)
        taken = None
        last = len(win.offsets) - 1
        for j, sl in enumerate(win.offsets):
            hit = self.xpad[sl] == self.y
            if taken is None:
                taken = hit
            else:
                xp.less(taken, hit, out=hit)
                if j < last:
                    taken |= hit
            if disjoint:
                xp.multiply(g, hit, out=acc[sl])
            else:
                acc[sl] += g * hit
        return acc if win.padded == win.shape else acc[win.interior]


def flat_indices(fn: MaxPool):
    """torch's ``return_indices``: each maximum's position in the flattened input plane."""
    with on_device_of(fn.y):
        return _flat_indices(fn)


def _flat_indices(fn: MaxPool):
    win, xp = fn.win, get_array_module(fn.index)
    geom, spatial = win.geom, win.shape[2:]
    offsets = list(itertools.product(*(range(m) for m in geom.kernel)))
    flat = 0
    for axis, (n, o, s, p, dil) in enumerate(zip(spatial, win.out, geom.stride, geom.padding,
                                                 geom.dilation)):
        table = xp.asarray([k[axis] * dil for k in offsets], dtype=xp.int64)
        start = xp.arange(o, dtype=xp.int64) * s - p
        start = start.reshape((o,) + (1,) * (len(spatial) - axis - 1))
        flat = flat * n + start + table[fn.index.astype(xp.intp)]
    return flat


# ----------------------------------------------------------------------------- entries


def max_pool(x: Tensor, geom: PoolGeometry, return_indices: bool = False):
    """Max pooling over x's trailing len(geom.kernel) dims (arguments checked by F)."""
    y = MaxPool.apply(x, geom=geom)
    if not return_indices:
        return y
    fn = y._ctx if y._ctx is not None else _last_forward(x, geom)
    return y, Tensor._wrap(flat_indices(fn))


def _last_forward(x: Tensor, geom: PoolGeometry) -> MaxPool:
    """Run the forward outside the graph to read its choice (no grad was recorded)."""
    fn = MaxPool.__new__(MaxPool)
    fn.forward(x.array, geom=geom)
    return fn


def avg_divisor(win: Windows, count_include_pad: bool, divisor_override=None):
    """1 / window size, shaped (*O) to broadcast over (N, C, *O) (separable per dim)."""
    geom = win.geom
    if divisor_override is not None:
        return 1.0 / divisor_override
    inv = 1.0
    for axis, (n, o, k, s, p) in enumerate(zip(win.shape[2:], win.out, geom.kernel,
                                               geom.stride, geom.padding)):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if count_include_pad:
            size = end - start
        else:
            size = np.minimum(end, n) - np.maximum(start, 0)
        shape = (o,) + (1,) * (len(win.out) - axis - 1)
        inv = inv * (1.0 / size).reshape(shape)
    return inv


def avg_pool(x: Tensor, geom: PoolGeometry, count_include_pad: bool = True,
             divisor_override=None) -> Tensor:
    """Average pooling over x's trailing len(geom.kernel) dims (arguments checked by F)."""
    win = Windows(geom, tuple(x.shape))
    scale = avg_divisor(win, count_include_pad, divisor_override)
    if not isinstance(scale, float):
        with on_device_of(x.array):
            scale = get_array_module(x.array).asarray(scale, dtype=x.array.dtype)
    else:
        scale = x.array.dtype.type(scale)
    return WindowSum.apply(x, win=win, scale=scale, index=None)


def adaptive_matrix(length: int, out: int, like):
    """P (out, length) with P[i, floor(i L / O) : ceil((i + 1) L / O)] = 1 / window size."""
    p = np.zeros((out, length))
    for i in range(out):
        start, end = (i * length) // out, -(-((i + 1) * length) // out)
        p[i, start:end] = 1.0 / (end - start)
    with on_device_of(like):
        return Tensor._wrap(get_array_module(like).asarray(p, dtype=like.dtype))


def adaptive_avg_pool(x: Tensor, output_size: tuple[int, ...]) -> Tensor:
    """Adaptive average pooling over x's trailing len(output_size) dims: y = P_H x P_W^T."""
    nd = len(output_size)
    y = x
    for axis, out in enumerate(output_size):
        dim = x.ndim - nd + axis
        length = x.shape[dim]
        if out == length:
            continue
        p = adaptive_matrix(length, out, x.array)
        if dim == x.ndim - 1:
            y = matmul(y, p.swapaxes(0, 1))
        else:  # contract the second-to-last dim: P @ y (P broadcasts over leading dims)
            y = matmul(p, y)
    return y if y is not x else x * 1

