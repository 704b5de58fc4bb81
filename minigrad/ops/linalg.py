"""Matrix product, with NumPy's rules for 1-D, 2-D and batched operands."""

from __future__ import annotations

from ..autograd.function import Function
from ..tensor import Tensor
from .elementwise import operands


class MatMul(Function):
    """Z = X @ Y;  dX = G @ Y^T,  dY = X^T @ G (batch dims broadcast and are summed back;
    a 1-D operand is a row for X, a column for Y, as in NumPy)."""

    def forward(self, x, y):
        return x @ y

    def backward(self, grad, inputs, out):
        x, y = inputs
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
