"""``Variable``: torch's deprecated alias, kept so that old code runs.

Since torch 0.4 ``Variable(t)`` is a Tensor: here too. ``Variable(t, requires_grad=True)``
returns a new leaf tensor sharing ``t``'s storage, and ``isinstance(x, Variable)`` is true of
every Tensor.
"""

from __future__ import annotations

from ..tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """Deprecated: use tensors directly (``Variable(t)`` is a tensor sharing ``t``'s storage).

    Args:
        data: a Tensor.
        requires_grad: make the returned leaf require grad.
        volatile: accepted and ignored (removed from torch in 0.4; use ``no_grad``).
    """

    def __new__(cls, data, requires_grad: bool = False, volatile: bool = False):
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Variable data has to be a tensor, but got {type(data).__name__} "
                "(Variable is deprecated: use minigrad.tensor(...) directly)"
            )
        t = Tensor._wrap(data.array)
        return t.requires_grad_(True) if requires_grad else t
