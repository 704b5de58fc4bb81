"""nn.utils: gradient clipping and parameter <-> vector helpers.

``clip_grad_norm_`` and ``clip_grad_value_`` live in :mod:`minigrad.optim.clip` (below both
the optimizers and nn in the layering) and are re-exported here as the very same function
objects, looked up on first access (PEP 562), so that importing nn never imports optim.
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import ops
from ..backend import host_value_on
from ..tensor import Tensor

_FROM_CLIP = ("clip_grad_norm_", "clip_grad_value_")


def __getattr__(name: str):
    if name in _FROM_CLIP:
        from ..optim import clip  # noqa: PLC0415 - lazy by design, see the module docstring

        return getattr(clip, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    return ops.concat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters' data, in place (all or nothing:
    a length mismatch raises before anything is written)."""
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(
            f"vector_to_parameters: expected a 1-D vector of {total} values (the parameters' "
            f"total), got shape {tuple(vec.shape)}"
        )
    i = 0
    for p in params:
        n = p.numel()
        p.array[...] = host_value_on(vec.array[i:i + n].reshape(p.shape), p.array)
        p._bump_version()
        i += n


__all__ = ["parameters_to_vector", "vector_to_parameters"]  # + the two clip functions, lazily


def __dir__():
    return sorted([*globals(), *_FROM_CLIP])
