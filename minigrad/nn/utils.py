"""nn.utils: gradient clipping, re-exported from :mod:`minigrad.optim.clip` (where both the
optimizers and nn can reach it), imported at call time so that nn never depends on optim at
import."""

from __future__ import annotations

from collections.abc import Iterable

from ..tensor import Tensor


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Scale the gradients so that their joint ``norm_type`` norm is at most ``max_norm``;
    returns the norm before clipping. See :func:`minigrad.optim.clip.clip_grad_norm_`."""
    from ..optim.clip import clip_grad_norm_ as impl  # noqa: PLC0415 - layering: see module doc

    return impl(parameters, max_norm, norm_type=norm_type, error_if_nonfinite=error_if_nonfinite)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float,
                     foreach=None) -> None:
    """Clamp every gradient elementwise to [-clip_value, clip_value].
    See :func:`minigrad.optim.clip.clip_grad_value_`."""
    from ..optim.clip import clip_grad_value_ as impl  # noqa: PLC0415

    return impl(parameters, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor."""
    from .. import ops  # noqa: PLC0415

    return ops.concat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy slices of ``vec`` into the parameters' data, in order (in place)."""
    i = 0
    for p in parameters:
        n = p.size
        p.data[...] = vec.data[i:i + n].reshape(p.shape)
        p._bump_version()
        i += n
    if i != vec.size:
        raise ValueError(f"vector_to_parameters: vector has {vec.size} values, parameters {i}")
