"""Matrix products: ``matmul`` with NumPy's rules for 1-D, 2-D and batched operands, and the
fused affine map of a linear layer."""

from __future__ import annotations

from ..autograd.function import Function
from ..tensor import Tensor
from .elementwise import operands


class MatMul(Function):
    """Z = X @ Y;  dX = G @ Y^T,  dY = X^T @ G (batch dims broadcast and are summed back;
    a 1-D operand is a row for X, a column for Y, as in NumPy)."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x @ y

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
                gx = (y @ grad.swapaxes(-1, -2)).swapaxes(-1, -2)
            else:
                gx = grad @ y.swapaxes(-1, -2)
        if self.needs_input_grad[1]:
            if _is_transposed(y):
                gy = (grad.swapaxes(-1, -2) @ x).swapaxes(-1, -2)
            else:
                gy = x.swapaxes(-1, -2) @ grad
        return gx, gy


class Linear(Function):
    """y = x W^T + b with W of shape (out, in), as torch's linear layer: one node, not three.

    dx = g W;  dW = g^T x (leading dims of x flattened);  db = sum of g over leading dims.
    """

    def forward(self, x, w, b=None):
        self.save_for_backward(x, w)
        y = x @ w.T
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
        if need[0]:
            gx = grad @ w
        if need[1]:
            gw = g2.T @ x2
        if len(need) > 2 and need[2]:
            gb = g2.sum(axis=0)
        return gx, gw, gb


def _is_transposed(a) -> bool:
    """A 2-D array stored column-major (a transposed view, as W.T in x @ W.T). Its gradient
    is computed in the same layout, (B^T A^T)^T instead of A B, so that the parameter under
    the transpose gets a C-contiguous gradient with no copy (BLAS transposes for free)."""
    flags = getattr(a, "flags", None)  # Tensors (create_graph) have none
    return flags is not None and a.ndim == 2 and flags.f_contiguous and not flags.c_contiguous


def matmul(a, b) -> Tensor:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        da, db = a.array.dtype, b.array.dtype
        if da != db and da.kind == "f" and db.kind == "f":
            raise TypeError(
                f"matmul: operands have dtypes {da} and {db}; cast one of them "
                "(.float() or .double()) so that both match"
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
