"""Reverse-mode automatic differentiation: the Function base, the engine, grad modes, and
gradient checking against finite differences."""

from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

_LAZY = {
    "Function": ("custom", "Function"),  # torch's form; the ops' base is function.Function
    "FunctionCtx": ("custom", "FunctionCtx"),
    "once_differentiable": ("custom", "once_differentiable"),
    "grad": ("api", "grad"),
    "backward": ("api", "backward"),
    "gradcheck": ("checks", "gradcheck"),
    "gradgradcheck": ("checks", "gradgradcheck"),
    "GradcheckError": ("checks", "GradcheckError"),
    "Variable": ("variable", "Variable"),
}


def __getattr__(name):  # the rest imports Tensor, which imports this package: load on use
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled", *_LAZY]
