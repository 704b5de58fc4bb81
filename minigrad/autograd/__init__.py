"""Reverse-mode automatic differentiation: the Function base, the engine, grad modes, and
gradient checking against finite differences."""

from ..grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .api import backward, grad
from .checks import GradcheckError, gradcheck, gradgradcheck
from .function import Function

__all__ = [
    "Function", "GradcheckError", "backward", "enable_grad", "grad", "gradcheck",
    "gradgradcheck", "is_grad_enabled", "no_grad", "set_grad_enabled",
]
