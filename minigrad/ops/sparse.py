"""Embedding lookup: rows of a weight matrix picked by integer indices."""

from __future__ import annotations

from ..autograd.function import Function
from ..tensor import Tensor
from .indexing import scatter_add


class Embedding(Function):
    """y = W[idx];  dW = grad's rows added at idx (scatter-add: a repeated index accumulates),
    and rows at padding_idx get none."""

    double_backward = False

    def forward(self, w, idx, padding_idx):
        self.idx, self.padding_idx, self.wshape = idx, padding_idx, w.shape
        return w[idx]

    def backward(self, grad):
        gw = scatter_add(self.wshape, self.idx, grad)  # deterministic: ops/indexing.py
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return (gw,)


def embedding(weight: Tensor, idx, padding_idx: int | None = None) -> Tensor:
    """``weight[idx]`` for an integer index array ``idx`` (checked by ``nn.functional``)."""
    return Embedding.apply(weight, idx=idx, padding_idx=padding_idx)
