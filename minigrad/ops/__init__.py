"""Differentiable ops: one small Function class per op, with a lowercase public entry."""

from .activation import log_softmax, logsumexp, relu, sigmoid, softmax, softplus, tanh
from .conv import ConvGeometry, conv_nd
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
from .linalg import matmul
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
    "abs", "add", "argmax", "argmin", "cast", "clip", "compare", "concat", "div", "exp",
    "expand", "flatten", "getitem", "log", "log_softmax", "logsumexp", "matmul", "max",
    "maximum", "mean", "min", "minimum", "mul", "neg", "permute", "pow", "raw_index", "relu",
    "reshape", "sigmoid", "sign", "softmax", "softplus", "sqrt", "squeeze", "stack", "std",
    "sub", "sum", "swapaxes", "tanh", "to_device", "unsqueeze", "var", "where",
    "ConvGeometry", "PoolGeometry", "adaptive_avg_pool", "avg_pool", "conv_nd", "max_pool",
]
