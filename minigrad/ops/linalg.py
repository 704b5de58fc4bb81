"""Matrix products: ``matmul`` with NumPy's rules for 1-D, 2-D and batched operands, and the
fused affine map of a linear layer."""

from __future__ import annotations

import collections

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor, take_grad_home
from . import dispatch as d
from .elementwise import operands


class MatMul(Function):
    """Z = X @ Y;  dX = G @ Y^T,  dY = X^T @ G (batch dims broadcast and are summed back;
    a 1-D operand is a row for X, a column for Y, as in NumPy)."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return _mm(x, y)

    def backward(self, grad, x, y):
        gx = gy = None
        if x.ndim == 1 and y.ndim == 1:  # dot product
            return grad * y, grad * x
        if x.ndim == 1:  # (k) @ (..., k, m) -> (..., m)
            g = grad[..., None, :]
            if self.needs_input_grad[0]:
                gx = (g @ y.swapaxes(-1, -2))[..., 0, :]
            if self.needs_input_grad[1]:
                gy = x[:, None] @ g
            return gx, gy
        if y.ndim == 1:  # (..., n, k) @ (k) -> (..., n)
            g = grad[..., None]
            if self.needs_input_grad[0]:
                gx = g @ y[None, :]
            if self.needs_input_grad[1]:
                gy = (x.swapaxes(-1, -2) @ g)[..., 0]
            return gx, gy
        if self.needs_input_grad[0]:
            if _is_transposed(x):
                gx = _mm(y, grad.swapaxes(-1, -2)).swapaxes(-1, -2)
            else:
                gx = _mm(grad, y.swapaxes(-1, -2))
        if self.needs_input_grad[1]:
            if _is_transposed(y):
                gy = _mm(grad.swapaxes(-1, -2), x).swapaxes(-1, -2)
            else:
                gy = _mm(x.swapaxes(-1, -2), grad)
        return gx, gy


class Linear(Function):
    """y = x W^T + b with W of shape (out, in), as torch's linear layer: one node, not three.

    dx = g W;  dW = g^T x (leading dims of x flattened);  db = sum of g over leading dims.
    A W stored column-major (``nn.Linear``'s) gets dW in its own layout, (x^T g)^T, as
    :class:`MatMul` does for a transposed operand: the engine keeps it with no copy.
    """

    def forward(self, x, w, b=None):
        self.save_for_backward(x, w)
        y = x.dot(w.T) if type(x) is ndarray and x.ndim == 2 else x @ w.T  # (_DOT)
        if b is not None:
            y += b
        return y

    def backward(self, grad, x, w):
        need = self.needs_input_grad
        gx = gw = gb = None
        if x.ndim != 2:  # flatten leading dims for the weight gradient
            g2 = grad.reshape(-1, grad.shape[-1])
            x2 = x.reshape(-1, x.shape[-1])
        else:
            g2, x2 = grad, x
        dot = type(g2) is ndarray  # NumPy arrays (not Tensors under create_graph): _DOT
        # the input Tensors, to take the gradient homes an optimizer offered to the weight
        # and the bias (none when minigrad.jit replays this as a kernel)
        inputs = self.inputs if dot else None
        if need[0]:
            gx = grad.dot(w) if dot and grad.ndim == 2 else grad @ w
        if need[1]:
            flags = getattr(w, "flags", None)  # (Tensors under create_graph have none)
            row_major = flags is None or flags.c_contiguous
            home = None if inputs is None else \
                take_grad_home(inputs[1], g2.dtype, "C" if row_major else "F")
            if not dot:
                gw = g2.T @ x2 if row_major else (x2.T @ g2).T
            elif home is not None:  # dW written where the optimizer will read it
                if row_major:
                    np.dot(g2.T, x2, out=home)
                else:
                    np.dot(x2.T, g2, out=home.T)
                gw = home
            else:  # a column-major W (nn.Linear's large weights): dW in the same layout
                gw = g2.T.dot(x2) if row_major else x2.T.dot(g2).T
        if len(need) > 2 and need[2]:
            home = None if inputs is None else take_grad_home(inputs[2], g2.dtype)
            gb = g2.sum(axis=0) if home is None else np.add.reduce(g2, axis=0, out=home)
        return gx, gw, gb


class LinearReLU(Linear):
    """y = max(x W^T + b, 0): a linear layer and the ReLU after it, as one node.

    dz = g where y > 0, else 0 (ReLU's derivative: y > 0 exactly where x W^T + b > 0);
    then dx, dW, db of :class:`Linear` with dz for g. The same arithmetic as the two nodes,
    bit for bit; the ReLU is taken in place on the product, which no one else has seen.

    ``nn.Sequential`` runs an ``nn.Linear`` followed by an ``nn.ReLU`` through this op
    (``Linear._fused_forward``). Why: on a small network the cost of a node is its Python,
    not its arithmetic (a Function.apply in forward, a visit and the routing of its
    gradient in backward); W3 (64-64-64-10, batch 16) has two such pairs: its step
    116.0 -> 111.0 us, ``benchmarks/bench_step.py --compare`` (BENCHMARKS.md, "Issue 14:
    Linear + ReLU as one node").
    """

    def forward(self, x, w, b=None):
        y = Linear.forward(self, x, w, b)
        get_array_module(y).maximum(y, 0, out=y)
        self.save_for_backward(x, w, y)
        return y

    def backward(self, grad, x, w, y):
        return Linear.backward(self, grad * (y > 0), x, w)


# _DOT: the products of a linear layer's 2-D NumPy operands go through ``ndarray.dot``: the
# same BLAS gemm as ``@`` (the same bits for C- and F-contiguous operands, checked on 300
# random shapes; an input that is a strided view may differ from ``@`` in the last bit, both
# deterministic), without the matmul ufunc's dispatch, which costs 0.5-0.6 us a product
# on W3's 16 x 64 by 64 x 64 (``x @ w.T`` 2.72 us, ``x.dot(w.T)`` 2.09), eight products a
# step. ``@`` stays for batched inputs (``dot`` of an N-d array is another product),
# Tensors (create_graph) and CuPy.
ndarray = np.ndarray


def _mm(a, b):
    """``a @ b``; by ``ndarray.dot`` for two 2-D NumPy arrays (_DOT)."""
    if type(a) is ndarray and a.ndim == 2 and b.ndim == 2:
        return a.dot(b)
    return a @ b


def _is_transposed(a) -> bool:
    """A 2-D array stored column-major (a transposed view, as W.T in x @ W.T). Its gradient
    is computed in the same layout, (B^T A^T)^T instead of A B, so that the parameter under
    the transpose gets a C-contiguous gradient with no copy (BLAS transposes for free)."""
    flags = getattr(a, "flags", None)  # Tensors (create_graph) have none
    return flags is not None and a.ndim == 2 and flags.f_contiguous and not flags.c_contiguous


def matmul(a, b) -> Tensor:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        da, db = a.array.dtype, b.array.dtype
        if da != db:  # as torch: no silent promotion (float32 @ int64 would give float64)
            raise TypeError(
                f"matmul: operands have dtypes {da} and {db}; cast one of them "
                "(.float(), .double(), .long()...) so that both match"
            )
    a, b = operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: both operands need at least 1 dim, got shapes {a.shape} and {b.shape}"
        )
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} do not align ({ka} != {kb} in the "
            "contracted dimension)"
        )
    return MatMul.apply(a, b)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias as one node (shapes and dtypes are checked by ``nn.functional``)."""
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)


# ----------------------------------------------------------------------------- einsum


class Einsum(Function):
    """Z = einsum('s_1,...,s_n->s_z', X_1, ..., X_n), a sum of products over the indices
    missing from s_z. The derivative in X_k is the same contraction with X_k's place taken by
    the upstream gradient:  dX_k = einsum('s_1,..,s_z,..,s_n->s_k', X_1, .., G, .., X_n)
    (indices of s_k found in no other term are summed away, so dX_k is broadcast along them).
    """

    def forward(self, *xs, subscripts, output):
        self.subscripts, self.output = subscripts, output
        self.save_for_backward(*xs)
        eq = ",".join(subscripts) + "->" + output
        return get_array_module(xs[0]).einsum(eq, *xs, optimize=len(xs) > 2)

    def backward(self, grad, *inputs):
        grads = []
        for k, (x, s_k) in enumerate(zip(inputs, self.subscripts)):
            if not self.needs_input_grad[k]:
                grads.append(None)
                continue
            terms = [self.output] + [s for j, s in enumerate(self.subscripts) if j != k]
            operands_ = [grad] + [v for j, v in enumerate(inputs) if j != k]
            present = set("".join(terms))
            kept = "".join(c for c in s_k if c in present)
            g = _einsum_any(",".join(terms) + "->" + kept, operands_)
            if kept != s_k:  # broadcast along the indices summed away in the forward
                g = d.broadcast_to(
                    g.reshape(tuple(n if c in present else 1 for c, n in zip(s_k, x.shape))),
                    tuple(x.shape))
            grads.append(g)
        return tuple(grads)


def _einsum_any(eq: str, operands_):
    if any(isinstance(v, Tensor) for v in operands_):
        return einsum(eq, *operands_)
    return get_array_module(operands_[0]).einsum(eq, *operands_, optimize=len(operands_) > 2)


def _parse_einsum(equation: str, shapes) -> tuple[list[str], str]:
    """Explicit subscripts (one string per operand) and output, '...' spelled out as letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: equation {equation!r} has {len(terms)} operand(s), got {len(shapes)}")
    used = set(c for c in eq if c.isalpha())
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    n_ell = max((len(shape) - len(t.replace("...", "")) for t, shape in zip(terms, shapes)
                 if "..." in t), default=0)
    ell = "".join(free[:n_ell])
    subs = []
    for t, shape in zip(terms, shapes):
        if "..." in t:
            k = len(shape) - len(t.replace("...", ""))
            t = t.replace("...", ell[n_ell - k:] if k else "")
        if not all(c.isalpha() for c in t) or len(t) != len(shape):
            raise ValueError(
                f"einsum: term {t!r} of {equation!r} does not fit an operand of shape {shape}")
        subs.append(t)
    if arrow:
        out = out.replace("...", ell)
    else:  # implicit output: the ellipsis, then the indices used once, in alphabetical order
        counts = collections.Counter("".join(subs))
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return subs, out


def einsum(equation: str, *tensors) -> Tensor:
    """Einstein summation, as ``torch.einsum(equation, *operands)`` (operands may also come as
    one list). Differentiable in every operand."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError("einsum: operands must be Tensors")
    subs, out = _parse_einsum(equation, [tuple(t.shape) for t in tensors])
    for s, t in zip(subs, tensors):
        if t.requires_grad and len(set(s)) != len(s):
            raise NotImplementedError(
                f"einsum: the gradient of a term with a repeated index ({s!r}, a diagonal) is "
                "not supported; take the diagonal first (x.diagonal()) or detach the operand")
    return Einsum.apply(*tensors, subscripts=tuple(subs), output=out)
