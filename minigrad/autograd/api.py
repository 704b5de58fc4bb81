"""``grad`` and ``backward`` as functions, as in ``torch.autograd``."""

from __future__ import annotations

from collections.abc import Sequence

from ..tensor import Tensor, _initial_grad
from .engine import run_backward


def _as_list(x) -> list:
    return [x] if isinstance(x, Tensor) else list(x)


def backward(tensors, grad_tensors=None, retain_graph: bool = False,
             create_graph: bool = False) -> None:
    """Accumulate gradients of several outputs at once into the leaves' ``.grad``."""
    tensors = _as_list(tensors)
    grads = [None] * len(tensors) if grad_tensors is None else _as_list(grad_tensors)
    if len(grads) != len(tensors):
        raise ValueError(f"backward: {len(tensors)} tensors but {len(grads)} grad_tensors")
    for t in tensors:
        if not t.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad")
    roots = [_initial_grad(t, g, create_graph) for t, g in zip(tensors, grads)]
    run_backward(tensors, roots, retain_graph or create_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated.

    With ``create_graph=True`` the returned gradients are themselves differentiable, which gives
    Hessian-vector products and gradient penalties.
    """
    outputs = _as_list(outputs)
    inputs: Sequence[Tensor] = _as_list(inputs)
    grads = [None] * len(outputs) if grad_outputs is None else _as_list(grad_outputs)
    for t in outputs:
        if not t.requires_grad:
            raise RuntimeError("grad(): an output does not require grad")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad(): an input does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    roots = [_initial_grad(t, g, create_graph) for t, g in zip(outputs, grads)]
    result = run_backward(outputs, roots, retain_graph, create_graph, inputs=inputs)
    for i, r in enumerate(result):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"grad(): input {i} was not used to compute the outputs (pass allow_unused=True)"
            )
    return tuple(result)
