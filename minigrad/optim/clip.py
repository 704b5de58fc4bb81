"""Gradient clipping: torch's ``clip_grad_norm_`` / ``clip_grad_value_`` and the array helpers
behind Keras-style ``clipnorm`` / ``clipvalue`` / ``global_clipnorm`` of every optimizer.

``minigrad.nn.utils`` re-exports :func:`clip_grad_norm_` and :func:`clip_grad_value_`.

References:
    PyTorch ``torch.nn.utils.clip_grad_norm_``; TensorFlow ``tf.clip_by_norm`` and
    ``tf.clip_by_global_norm``; Pascanu et al., "On the difficulty of training recurrent neural
    networks", ICML 2013.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

from ..backend import Array, get_array_module, to_device
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_by_value", "clip_by_norm", "global_norm"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    out = []
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters must be Tensors, but item {i} is a {type(p).__name__}")
        if p.grad is not None:
            out.append(p.grad)
    return out


def _vector_norm(x: Array, norm_type: float) -> Array:
    """The p-norm of all elements of ``x`` as a 0-d array of x's dtype."""
    xp = get_array_module(x)
    if norm_type == math.inf:
        return xp.abs(x).max() if x.size else xp.zeros((), x.dtype)
    if norm_type == -math.inf:
        return xp.abs(x).min() if x.size else xp.full((), math.inf, x.dtype)
    if norm_type == 2:
        flat = x.ravel()
        return xp.sqrt(xp.dot(flat, flat))
    if norm_type == 1:
        return xp.abs(x).sum()
    if norm_type == 0:
        return xp.asarray(xp.count_nonzero(x), dtype=x.dtype)
    return (xp.abs(x) ** norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Rescale the gradients in place so that their joint norm is at most ``max_norm``.

    The joint norm is the ``norm_type``-norm of the vector of per-gradient norms (the norm of
    all gradients concatenated). When ``total > max_norm`` every gradient is multiplied by
    ``max_norm / (total + 1e-6)``, exactly as torch does (the factor is clamped to 1).

    Args:
        parameters: a Tensor or an iterable of Tensors; those without ``.grad`` are skipped.
        max_norm: the largest allowed norm.
        norm_type: p of the p-norm; ``math.inf`` (or ``'inf'``) for the max-norm.
        error_if_nonfinite: raise when the total norm is nan or inf.

    Returns:
        The total norm before clipping, as a 0-d Tensor (0 when no parameter has a gradient).

    Raises:
        TypeError: ``max_norm`` is not a number.
        ValueError: ``max_norm`` is negative or nan (checked before any gradient changes).
        RuntimeError: the total norm is non-finite and ``error_if_nonfinite`` is true.
    """
    norm_type = float(norm_type)
    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real):
        raise TypeError(f"clip_grad_norm_: max_norm must be a number, got {max_norm!r}")
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm!r}")
    max_norm = float(max_norm)
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    device = grads[0].device
    norms = [to_device(_vector_norm(g.array, norm_type), device) for g in grads]
    xp = get_array_module(norms[0])
    total = _vector_norm(xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is non-finite ({float(total)}),"
            " so it cannot be clipped; pass error_if_nonfinite=False to clip anyway"
        )
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)  # 0-d array of the grads' dtype
    for g in grads:
        g.array *= to_device(coef, g.device)
        g._bump_version()
    return Tensor._wrap(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element into ``[-clip_value, clip_value]``, in place.

    Raises:
        ValueError: ``clip_value`` is negative.
    """
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters):
        xp = get_array_module(g.array)
        xp.clip(g.array, -clip_value, clip_value, out=g.array)
        g._bump_version()


# --------------------------------------------------------------------------- array helpers

def clip_by_value(grad: Array, clip_value: float) -> Array:
    """``clip(g, -c, c)`` as a new array (Keras ``clipvalue``)."""
    return get_array_module(grad).clip(grad, -clip_value, clip_value)


def clip_by_norm(grad: Array, clip_norm: float) -> Array:
    """``g * c / max(||g||_2, c)`` as a new array (TF ``clip_by_norm``, Keras ``clipnorm``)."""
    xp = get_array_module(grad)
    flat = grad.ravel()
    norm = xp.sqrt(xp.dot(flat, flat))
    return grad * (clip_norm / xp.maximum(norm, clip_norm))


def global_norm(arrays: Iterable[Array]) -> float:
    """``sqrt(sum_i ||g_i||_2^2)`` over several arrays, as a Python float (TF ``global_norm``)."""
    total = 0.0
    for a in arrays:
        flat = a.ravel()
        total += float(get_array_module(a).dot(flat, flat))
    return math.sqrt(total)
