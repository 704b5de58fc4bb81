"""Elementwise ops. Each class states its forward and its derivative.

Broadcasting is undone once, in the engine; each backward here returns the textbook
derivative at the broadcast shape.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd.function import Function
from ..backend import get_array_module
from ..recording import kernel
from ..tensor import Tensor, _as_array
from . import dispatch as d

# ----------------------------------------------------------------------------- operands


def as_tensor_like(x, like: Tensor) -> Tensor:
    """A Python number (or array) as a constant tensor on ``like``'s device, without upcasting:
    a number takes ``like``'s float dtype (or the default float dtype for a float number
    beside an integer tensor)."""
    if isinstance(x, Tensor):
        return x
    dtype = like.array.dtype
    kind = type(x)
    if kind is float or (kind is not bool and isinstance(x, numbers.Real)
                         and not isinstance(x, numbers.Integral)):
        if dtype.kind != "f":
            dtype = backend.get_default_dtype()
    elif kind is int or (isinstance(x, numbers.Integral) and kind is not bool):
        if dtype.kind == "b":
            dtype = np.dtype(np.int64)
    elif kind is bool:
        pass
    else:
        return Tensor._wrap(_as_array(x, device=like.device))
    return Tensor._wrap(get_array_module(like.array).asarray(x, dtype=dtype))


def operands(a, b) -> tuple[Tensor, Tensor]:
    """Two tensors of one dtype for a binary op. Integers and bools beside floats take the
    float dtype; float32 beside float64 gives float64 (the wider), as in torch."""
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"expected a Tensor operand, got {type(a).__name__} and "
                            f"{type(b).__name__}")
        a = as_tensor_like(a, b)
    elif not isinstance(b, Tensor):
        b = as_tensor_like(b, a)
    da, db = a.array.dtype, b.array.dtype
    if da != db:
        if da.kind == "f" and db.kind != "f":
            b = cast(b, da)
        elif db.kind == "f" and da.kind != "f":
            a = cast(a, db)
        else:
            common = np.promote_types(da, db)
            a, b = cast(a, common), cast(b, common)
    return a, b


# ----------------------------------------------------------------------------- arithmetic


class Add(Function):
    """z = x + y;  dz/dx = 1, dz/dy = 1."""

    def forward(self, x, y):
        return x + y

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    """z = x - y;  dz/dx = 1, dz/dy = -1."""

    def forward(self, x, y):
        return x - y

    def backward(self, grad):
        return grad, -grad


class Mul(Function):
    """z = x * y;  dz/dx = y, dz/dy = x."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y

    def backward(self, grad, x, y):
        need_x, need_y = self.needs_input_grad
        return (grad * y if need_x else None), (grad * x if need_y else None)


class Div(Function):
    """z = x / y;  dz/dx = 1 / y, dz/dy = -x / y^2."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x / y

    def backward(self, grad, x, y):
        gx = grad / y
        return gx, (-gx * x / y if self.needs_input_grad[1] else None)


class Neg(Function):
    """z = -x;  dz/dx = -1."""

    def forward(self, x):
        return -x

    def backward(self, grad):
        return (-grad,)


class PowScalar(Function):
    """z = x^p for a constant p;  dz/dx = p x^(p-1), and exactly 0 for p = 0 (as torch: x^0
    is the constant 1, so 0 * 0^(-1) = nan never arises at x = 0)."""

    def forward(self, x, p):
        self.p = p
        self.save_for_backward(x)
        return x**p

    def backward(self, grad, x):
        p = self.p
        if p == 2:
            return (grad * 2 * x,)
        if p == 0:
            return (d.zeros_like(grad),)
        return (grad * p * x ** (p - 1),)


class Pow(Function):
    """z = x^y;  dz/dx = y x^(y-1) (0 where y = 0), dz/dy = x^y ln x (0 where x = 0 and
    y >= 0), as torch's pow_backward_self / pow_backward_exponent: at x = 0 the limits are
    taken, while a negative x gives dz/dy = nan (ln x is not real there)."""

    def forward(self, x, y):
        z = x**y
        self.save_for_backward(x, y, z)
        return z

    def backward(self, grad, x, y, z):  # comparisons carry no gradient, even on Tensors
        gx = d.where(y == 0, d.zeros_like(grad), grad * y * x ** (y - 1))
        if not self.needs_input_grad[1]:
            return gx, None
        limit = (x == 0) & (y >= 0)
        log_x = d.log(d.where(limit, 1, x))  # ln 1 = 0 where the limit is taken
        return gx, grad * z * log_x


class Cast(Function):
    """z = x as another dtype;  dz/dx = 1 (cast back)."""

    def forward(self, x, dtype):
        self.dtype = x.dtype
        return x.astype(dtype)

    def backward(self, grad):
        return (grad.astype(self.dtype),)


class ToDevice(Function):
    """z = x copied to another device;  dz/dx = 1 (copied back)."""

    def forward(self, x, device):
        self.source = backend.device_of(x)
        return backend.to_device(x, device)

    def backward(self, grad):
        if d.is_tensor(grad):
            return (grad.to(self.source),)
        return (backend.to_device(grad, self.source),)


# ----------------------------------------------------------------------------- functions


class Exp(Function):
    """y = e^x;  dy/dx = y."""

    def forward(self, x):
        y = get_array_module(x).exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad, y):
        return (grad * y,)


class Log(Function):
    """y = ln x;  dy/dx = 1 / x."""

    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).log(x)

    def backward(self, grad, x):
        return (grad / x,)


class Sqrt(Function):
    """y = sqrt(x);  dy/dx = 1 / (2 y)."""

    def forward(self, x):
        y = get_array_module(x).sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad, y):
        return (grad / (2 * y),)


class Abs(Function):
    """y = |x|;  dy/dx = sign(x) (0 at 0)."""

    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).abs(x)

    def backward(self, grad, x):
        return (grad * d.sign(x),)


class Clip(Function):
    """y = min(max(x, lo), hi);  dy/dx = 1 where lo <= x <= hi, else 0."""

    def forward(self, x, lo, hi):
        xp = get_array_module(x)
        self.inside = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            self.inside &= x >= lo
        if hi is not None:
            self.inside &= x <= hi
        return xp.clip(x, lo, hi)

    def backward(self, grad):
        return (grad * self.inside,)


class Maximum(Function):
    """z = max(x, y);  the gradient goes to the larger input (split evenly on ties)."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return get_array_module(x).maximum(x, y)

    def backward(self, grad, x, y):  # comparisons carry no gradient, even on Tensors
        wx = (x > y).astype(grad.dtype) + (x == y).astype(grad.dtype) * 0.5
        return grad * wx, grad * (1 - wx)


class Minimum(Function):
    """z = min(x, y);  the gradient goes to the smaller input (split evenly on ties)."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return get_array_module(x).minimum(x, y)

    def backward(self, grad, x, y):  # comparisons carry no gradient, even on Tensors
        wx = (x < y).astype(grad.dtype) + (x == y).astype(grad.dtype) * 0.5
        return grad * wx, grad * (1 - wx)


class Where(Function):
    """z = cond ? x : y;  dz/dx = cond, dz/dy = not cond (cond carries no gradient)."""

    def forward(self, x, y, cond):
        self.cond = cond
        return get_array_module(x).where(cond, x, y)

    def backward(self, grad):
        zero = d.zeros_like(grad)
        return d.where(self.cond, grad, zero), d.where(self.cond, zero, grad)


# ----------------------------------------------------------------------------- public entries


def add(a, b) -> Tensor:
    return Add.apply(*operands(a, b))


def sub(a, b) -> Tensor:
    return Sub.apply(*operands(a, b))


def mul(a, b) -> Tensor:
    return Mul.apply(*operands(a, b))


def div(a, b) -> Tensor:
    a, b = operands(a, b)
    if a.array.dtype.kind != "f":  # true division of integers gives floats
        a, b = cast(a, backend.get_default_dtype()), cast(b, backend.get_default_dtype())
    return Div.apply(a, b)


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def pow(a, b) -> Tensor:  # noqa: A001 - the op's name
    if isinstance(a, Tensor) and isinstance(b, numbers.Real) and not isinstance(b, bool):
        if a.array.dtype.kind != "f" and (b < 0 or not float(b).is_integer()):
            a = cast(a, backend.get_default_dtype())
        return PowScalar.apply(a, p=b)
    return Pow.apply(*operands(a, b))


def cast(x: Tensor, dtype) -> Tensor:
    dtype = np.dtype(dtype)
    if dtype == x.array.dtype:
        return x
    if x.requires_grad and dtype.kind != "f":
        return Tensor._wrap(x.array.astype(dtype))  # integer results carry no gradient
    return Cast.apply(x, dtype=dtype)


def to_device(x: Tensor, device) -> Tensor:
    return ToDevice.apply(x, device=backend.Device(device))


def exp(x: Tensor) -> Tensor:
    return Exp.apply(_float(x))


def log(x: Tensor) -> Tensor:
    return Log.apply(_float(x))


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(_float(x))


def abs(x: Tensor) -> Tensor:  # noqa: A001 - the op's name
    return Abs.apply(x)


def sign(x: Tensor) -> Tensor:
    return d.sign(x)


def clip(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - torch's names
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) must not exceed max ({max})")
    return Clip.apply(x, lo=min, hi=max)


def maximum(a, b) -> Tensor:
    return Maximum.apply(*operands(a, b))


def minimum(a, b) -> Tensor:
    return Minimum.apply(*operands(a, b))


def where(cond, a, b) -> Tensor:
    """Elementwise ``a`` where ``cond`` else ``b``; differentiable in ``a`` and ``b``."""
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        like = Tensor._wrap(_as_array(a))
    a, b = operands(as_tensor_like(a, like), as_tensor_like(b, like))
    cond = cond.array if isinstance(cond, Tensor) else get_array_module(a.array).asarray(cond)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: cond must be a bool tensor, got dtype {cond.dtype}")
    return Where.apply(a, b, cond=cond)


def compare(a, b, how: str) -> Tensor:
    """Elementwise comparison: a bool tensor, no gradient."""
    a, b = operands(a, b)
    return Tensor._wrap(kernel(getattr(get_array_module(a.array), how), a.array, b.array))


def _float(x: Tensor) -> Tensor:
    return x if x.array.dtype.kind == "f" else cast(x, backend.get_default_dtype())
