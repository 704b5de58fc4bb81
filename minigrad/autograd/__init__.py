"""Reverse-mode automatic differentiation: the engine, grad modes, gradient checking against
finite differences, and torch's form of user-defined functions (``autograd.Function`` with
``ctx``). The ops' own base class is :class:`minigrad.autograd.function.Function`."""

from ..grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .api import backward, grad
from .checks import GradcheckError, gradcheck, gradgradcheck
from .custom import (  # torch's form; ops use function.Function
    Function,
    FunctionCtx,
    once_differentiable,
)
from .variable import Variable

__all__ = [
    "Function", "FunctionCtx", "GradcheckError", "Variable", "backward", "enable_grad", "grad",
    "gradcheck", "gradgradcheck", "is_grad_enabled", "no_grad", "once_differentiable",
    "set_grad_enabled",
]
