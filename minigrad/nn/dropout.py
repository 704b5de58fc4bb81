"""Dropout (Srivastava et al., JMLR 2014), inverted: scaled in training, identity in eval."""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) in training
    mode; the identity in eval mode or when p == 0.

    Args:
        p: drop probability, in [0, 1) (ValueError otherwise).
        inplace: overwrite the input (outside the graph only, as F.dropout).
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        F._check_dropout_p(p)
        self.p = float(p)
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
