"""Dropout: multiply by a random mask drawn from the framework generator."""

from __future__ import annotations

from .. import backend
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import dispatch as d


class Dropout(Function):
    """y = x * m / (1 - p) with m ~ Bernoulli(1 - p);  dx = grad * m / (1 - p).

    The mask is drawn from ``minigrad.backend.default_generator`` on x's device, in x's dtype.

    References:
        Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
        Overfitting", JMLR 15 (2014).
    """

    def forward(self, x, p):
        u = backend.default_generator.random(x.shape, x.dtype, backend.device_of(x))
        # m / (1 - p) written over the fresh draw u (1.0 where u >= p, else 0.0): no second
        # array of x's size
        mask = get_array_module(u).greater_equal(u, p, out=u)
        mask *= 1.0 / (1.0 - p)
        self.mask = mask
        return x * mask

    def backward(self, grad):
        return (grad * d.constant_like(grad, self.mask),)


def dropout(x: Tensor, p: float) -> Tensor:
    """Inverted dropout with probability ``p`` in (0, 1) (``nn.functional`` checks p)."""
    return Dropout.apply(x, p=float(p))
