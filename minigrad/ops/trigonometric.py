"""Trigonometric and hyperbolic functions. Each class states its derivative."""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import dispatch as d
from .elementwise import _float


class Sin(Function):
    """y = sin x;  dy/dx = cos x."""

    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).sin(x)

    def backward(self, grad, x):
        return (grad * cos(x) if d.is_tensor(x) else grad * get_array_module(x).cos(x),)


class Cos(Function):
    """y = cos x;  dy/dx = -sin x."""

    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).cos(x)

    def backward(self, grad, x):
        return (-grad * (sin(x) if d.is_tensor(x) else get_array_module(x).sin(x)),)


class Tan(Function):
    """y = tan x;  dy/dx = 1 + tan^2 x = 1 + y^2."""

    def forward(self, x):
        y = get_array_module(x).tan(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad, y):
        return (grad * (1 + y * y),)


class Asin(Function):
    """y = arcsin x;  dy/dx = 1 / sqrt(1 - x^2)."""

    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).arcsin(x)

    def backward(self, grad, x):
        return (grad / (1 - x * x) ** 0.5,)


class Acos(Function):
    """y = arccos x;  dy/dx = -1 / sqrt(1 - x^2)."""

    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).arccos(x)

    def backward(self, grad, x):
        return (-grad / (1 - x * x) ** 0.5,)


class Atan(Function):
    """y = arctan x;  dy/dx = 1 / (1 + x^2)."""

    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).arctan(x)

    def backward(self, grad, x):
        return (grad / (1 + x * x),)


class Sinh(Function):
    """y = sinh x;  dy/dx = cosh x."""

    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).sinh(x)

    def backward(self, grad, x):
        return (grad * (cosh(x) if d.is_tensor(x) else get_array_module(x).cosh(x)),)


class Cosh(Function):
    """y = cosh x;  dy/dx = sinh x."""

    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).cosh(x)

    def backward(self, grad, x):
        return (grad * (sinh(x) if d.is_tensor(x) else get_array_module(x).sinh(x)),)


def sin(x: Tensor) -> Tensor:
    return Sin.apply(_float(x))


def cos(x: Tensor) -> Tensor:
    return Cos.apply(_float(x))


def tan(x: Tensor) -> Tensor:
    return Tan.apply(_float(x))


def asin(x: Tensor) -> Tensor:
    return Asin.apply(_float(x))


def acos(x: Tensor) -> Tensor:
    return Acos.apply(_float(x))


def atan(x: Tensor) -> Tensor:
    return Atan.apply(_float(x))


def sinh(x: Tensor) -> Tensor:
    return Sinh.apply(_float(x))


def cosh(x: Tensor) -> Tensor:
    return Cosh.apply(_float(x))
