"""Differentiable ops: one small Function class per op, with a lowercase public entry.

One file per family, each derivative in exactly one place: elementwise, reduce, shape
(indexing included), linalg (matmul, linear, einsum), activation, normalization, loss,
dropout, sparse (embedding), conv, pool, trigonometric, rounding, scan, selection; special
holds array functions (sigmoid, erf) and dispatch the few helpers that let one backward serve
arrays and Tensors.
"""

from .activation import (
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    logsumexp,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from .conv import ConvGeometry, conv_nd
from .dropout import dropout
from .elementwise import (
    abs,
    add,
    cast,
    clip,
    compare,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    sign,
    sqrt,
    sub,
    to_device,
    where,
)
from .linalg import linear, matmul
from .pool import PoolGeometry, adaptive_avg_pool, avg_pool, max_pool
from .reduce import argmax, argmin, max, mean, min, std, sum, var
from .shape import (
    concat,
    expand,
    flatten,
    getitem,
    permute,
    raw_index,
    reshape,
    squeeze,
    stack,
    swapaxes,
    unsqueeze,
)

__all__ = [
    "abs", "add", "argmax", "argmin", "cast", "clip", "compare", "concat", "div", "dropout",
    "elu", "exp", "expand", "flatten", "gelu", "getitem", "leaky_relu", "linear", "log",
    "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum", "mul",
    "neg", "permute", "pow", "raw_index", "relu", "reshape", "sigmoid", "sign", "silu",
    "softmax", "softplus", "sqrt", "squeeze", "stack", "std", "sub", "sum", "swapaxes", "tanh",
    "to_device", "unsqueeze", "var", "where",
    "ConvGeometry", "PoolGeometry", "adaptive_avg_pool", "avg_pool", "conv_nd", "max_pool",
]
