"""Convolution over any number of spatial dims (used as 1-D and 2-D): im2col + one matmul.

Shapes: input x (N, C, *S), weight w (C_out, C/G, *K), output y (N, C_out, *O) with, per
spatial dim i (padding lo_i before and hi_i after, stride s_i, dilation d_i),

    O_i = floor((S_i + lo_i + hi_i - d_i (K_i - 1) - 1) / s_i) + 1
    y[n, g*C_out/G + o, p] = sum_{c, k} w[g*C_out/G + o, c, k] x_pad[n, g*C/G + c, s*p + d*k]

(cross-correlation, as torch). im2col gathers every window of the padded input through a
strided view (``as_strided``: one copy, no Python loop) into columns laid out
(G, C/G * prod(K), N * prod(O)), so that each of the three products is ONE batched matmul
over the G groups:

    forward          Y  = W @ cols                  (G, C_out/G, N prod(O))
    weight gradient  dW = G_y @ cols^T
    input gradient   dcols = W^T @ G_y, then col2im: each kernel offset's slab of dcols is
                     added into the strided slice of the padded input it came from (one
                     Python iteration per kernel offset, never per pixel or sample).

Double backward: the trilinear form T(x, w, g) = <conv_nd(x, w), g> has the partials
    dT/dx = conv_input_grad(g, w),  dT/dw = conv_weight_grad(x, g),  dT/dg = conv_nd(x, w),
so each of the three ops below is a partial of T and its backward is made of the other
two. Under ``create_graph=True`` the backward applies them as Functions (a graph is recorded
and any order of derivative works); otherwise it calls the array kernels directly.

Memory: the columns of one layer hold C prod(K) N prod(O) values (prod(K) times the padded
input when the stride is 1); the forward keeps them for the weight gradient.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module, on_device_of
from ..tensor import Tensor
from . import dispatch as d


@dataclass(frozen=True)
class ConvGeometry:
    """Stride, padding as (before, after) per spatial dim, dilation and groups of a conv."""

    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    groups: int

    def output_shape(self, spatial: tuple[int, ...], kernel: tuple[int, ...]) -> tuple:
        """O_i = floor((S_i + lo_i + hi_i - d_i (K_i - 1) - 1) / s_i) + 1."""
        return tuple(
            (n + lo + hi - dil * (k - 1) - 1) // s + 1
            for n, (lo, hi), k, s, dil in zip(spatial, self.padding, kernel, self.stride,
                                              self.dilation)
        )


def _pad(x, padding):
    """x with zeros added before and after each spatial dim (no copy when there are none)."""
    if not any(lo or hi for lo, hi in padding):
        return x
    xp = get_array_module(x)
    out = xp.zeros(x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], padding)),
                   dtype=x.dtype)
    out[_interior(x.shape[2:], padding, 2)] = x
    return out


def _interior(spatial, padding, lead: int) -> tuple:
    """The index of the unpadded region inside a padded array (``lead`` leading full dims)."""
    return (slice(None),) * lead + tuple(slice(lo, lo + n) for n, (lo, _) in
                                         zip(spatial, padding))


def im2col(x, kernel: tuple, geom: ConvGeometry):
    """The windows of the padded x as columns (G, C/G prod(K), N prod(O)), one copy.

    The strided view has shape (C, *K, N, *O): element [c, k, n, p] is
    x_pad[n, c, s * p + d * k] (its strides are the input's, scaled by d and s).
    """
    xp = get_array_module(x)
    xpad = _pad(x, geom.padding)
    n, c = x.shape[:2]
    out = geom.output_shape(x.shape[2:], kernel)
    st = xpad.strides
    view = _as_strided(xp)(
        xpad,
        shape=(c, *kernel, n, *out),
        strides=(st[1], *(s * dil for s, dil in zip(st[2:], geom.dilation)),
                 st[0], *(s * stv for s, stv in zip(st[2:], geom.stride))),
    )
    cols = xp.ascontiguousarray(view)
    return cols.reshape(geom.groups, -1, n * math.prod(out))


def _as_strided(xp):
    """as_strided of NumPy or CuPy (cupy.lib.stride_tricks has the same signature, without
    NumPy's subok/writeable; the views here are only read)."""
    if xp is np:
        return np.lib.stride_tricks.as_strided
    from cupy.lib.stride_tricks import as_strided  # noqa: PLC0415 - only with CuPy arrays

    return as_strided


def col2im(dcols, in_shape: tuple, kernel: tuple, geom: ConvGeometry):
    """The adjoint of im2col: every column value added back to the input position it was
    read from. ``dcols`` is (G, C/G prod(K), N prod(O)); returns an array of ``in_shape``.

    One Python iteration per kernel offset k: the slab dcols[:, k] (C, N, *O) is added into
    the strided slice x_pad[:, :, d*k : d*k + s*(O-1) + 1 : s] of a (C, N, *S_pad) buffer.
    """
    xp = get_array_module(dcols)
    n, c = in_shape[:2]
    spatial = in_shape[2:]
    out = geom.output_shape(spatial, kernel)
    padded = tuple(m + lo + hi for m, (lo, hi) in zip(spatial, geom.padding))
    slabs = dcols.reshape((c, *kernel, n, *out))
    acc = xp.zeros((c, n, *padded), dtype=dcols.dtype)
    for k in itertools.product(*(range(m) for m in kernel)):
        window = tuple(slice(dil * j, dil * j + s * (o - 1) + 1, s)
                       for j, dil, s, o in zip(k, geom.dilation, geom.stride, out))
        acc[(slice(None), slice(None)) + window] += slabs[(slice(None),) + k]
    # (N, C, *S) as a view of the channel-major buffer: the next product reads it as is
    return acc[_interior(spatial, geom.padding, 2)].swapaxes(0, 1)


def _weight_matrix(w, groups: int):
    """w (C_out, C/G, *K) as (G, C_out/G, C/G prod(K))."""
    return w.reshape(groups, w.shape[0] // groups, -1)


def _output_matrix(y, groups: int):
    """y (N, C_out, *O) as (G, C_out/G, N prod(O)) (a copy unless y is channel-major)."""
    n, c = y.shape[:2]
    return y.swapaxes(0, 1).reshape(groups, c // groups, -1)


def _from_output_matrix(ym, n: int, out: tuple):
    """(G, C_out/G, N prod(O)) back to (N, C_out, *O) (a transposed view, no copy)."""
    return ym.reshape((-1, n, *out)).swapaxes(0, 1)


# ----------------------------------------------------------------------------- array kernels


def _on_device_of_first(kernel):
    """Run ``kernel`` with CuPy's current device set to its first array's (cuda:N), so that
    the buffers it allocates live beside its inputs; nothing on the CPU."""

    @functools.wraps(kernel)
    def wrapper(a, *args, **kwargs):
        with on_device_of(a):
            return kernel(a, *args, **kwargs)

    return wrapper



@_on_device_of_first
def conv_array(x, w, geom: ConvGeometry):
    """y = conv_nd(x, w) on arrays; returns (y, cols)."""
    cols = im2col(x, w.shape[2:], geom)
    y = _weight_matrix(w, geom.groups) @ cols
    return _from_output_matrix(y, x.shape[0], geom.output_shape(x.shape[2:], w.shape[2:])), cols


@_on_device_of_first
def conv_input_grad_array(g, w, geom: ConvGeometry, in_shape: tuple):
    """dx = col2im(W^T @ g): the transposed convolution of g with w."""
    wm = _weight_matrix(w, geom.groups)
    dcols = wm.swapaxes(1, 2) @ _output_matrix(g, geom.groups)
    return col2im(dcols, in_shape, w.shape[2:], geom)


@_on_device_of_first
def conv_weight_grad_array(x, g, geom: ConvGeometry, w_shape: tuple, cols=None):
    """dw = g @ cols(x)^T, summed over samples and output positions."""
    if cols is None:
        cols = im2col(x, w_shape[2:], geom)
    dw = _output_matrix(g, geom.groups) @ cols.swapaxes(1, 2)
    return dw.reshape(w_shape)


# ----------------------------------------------------------------------------- Functions


class Conv(Function):
    """y = conv_nd(x, w) + b (cross-correlation; see the module docstring for the shapes).

    dx = conv_input_grad(g, w) (col2im of W^T g);  dw = conv_weight_grad(x, g) (g cols^T);
    db = g summed over the samples and the output positions.
    """

    def forward(self, x, w, b=None, *, geom):
        self.geom = geom
        self.save_for_backward(x, w)
        y, cols = conv_array(x, w, geom)
        self.cols = cols  # the weight gradient's right factor, gathered once
        if b is not None:
            y += b.reshape((1, -1) + (1,) * (y.ndim - 2))
        return y

    def backward(self, grad, x, w):
        need = self.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            gx = conv_input_grad(grad, w, self.geom, tuple(x.shape))
        if need[1]:
            if d.is_tensor(grad):
                gw = conv_weight_grad(x, grad, self.geom, tuple(w.shape))
            else:
                gw = conv_weight_grad_array(x, grad, self.geom, w.shape, self.cols)
        if len(need) > 2 and need[2]:
            gb = grad.sum(axis=(0,) + tuple(range(2, grad.ndim)))
        return gx, gw, gb


class ConvInputGrad(Function):
    """z = conv_input_grad(g, w) = dT/dx, linear in g and in w.

    For an upstream h shaped like x:  dg = conv_nd(h, w);  dw = conv_weight_grad(h, g).
    """

    def forward(self, g, w, *, geom, in_shape):
        self.save_for_backward(g, w)
        self.geom = geom
        return conv_input_grad_array(g, w, geom, in_shape)

    def backward(self, grad, g, w):
        dg = dw = None
        if self.needs_input_grad[0]:
            dg = conv_nd(grad, w, self.geom)
        if self.needs_input_grad[1]:
            dw = conv_weight_grad(grad, g, self.geom, tuple(w.shape))
        return dg, dw


class ConvWeightGrad(Function):
    """z = conv_weight_grad(x, g) = dT/dw, linear in x and in g.

    For an upstream h shaped like w:  dx = conv_input_grad(g, h);  dg = conv_nd(x, h).
    """

    def forward(self, x, g, *, geom, w_shape):
        self.save_for_backward(x, g)
        self.geom = geom
        return conv_weight_grad_array(x, g, geom, w_shape)

    def backward(self, grad, x, g):
        dx = dg = None
        if self.needs_input_grad[0]:
            dx = conv_input_grad(g, grad, self.geom, tuple(x.shape))
        if self.needs_input_grad[1]:
            dg = conv_nd(x, grad, self.geom)
        return dx, dg


# ----------------------------------------------------------------------------- entries
# Each serves arrays (ordinary backward) and Tensors (create_graph) alike.


def conv_nd(x, w, geom: ConvGeometry, b=None):
    """conv_nd(x, w) (+ b). No argument checks here: minigrad.nn.functional does them."""
    if isinstance(x, Tensor) or isinstance(w, Tensor):
        x, w = _as_tensor(x), _as_tensor(w)
        if b is None:
            return Conv.apply(x, w, geom=geom)
        return Conv.apply(x, w, _as_tensor(b), geom=geom)
    y, _ = conv_array(x, w, geom)
    if b is not None:
        y += b.reshape((1, -1) + (1,) * (y.ndim - 2))
    return y


def conv_input_grad(g, w, geom: ConvGeometry, in_shape: tuple):
    if isinstance(g, Tensor) or isinstance(w, Tensor):
        return ConvInputGrad.apply(_as_tensor(g), _as_tensor(w), geom=geom, in_shape=in_shape)
    return conv_input_grad_array(g, w, geom, in_shape)


def conv_weight_grad(x, g, geom: ConvGeometry, w_shape: tuple):
    if isinstance(x, Tensor) or isinstance(g, Tensor):
        return ConvWeightGrad.apply(_as_tensor(x), _as_tensor(g), geom=geom, w_shape=w_shape)
    return conv_weight_grad_array(x, g, geom, w_shape)


def _as_tensor(a):
    return a if isinstance(a, Tensor) else Tensor._wrap(a)
