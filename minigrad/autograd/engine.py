"""The backward engine: an iterative walk of the graph in reverse topological order.

No recursion (a 100,000-op chain is fine), one pass over the nodes (time linear in the graph's
size), gradients gathered per tensor in a dict and dropped as soon as they are passed on, and
the graph's references released after the pass unless ``retain_graph=True``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..tensor import Tensor
from .function import unbroadcast
from .grad_mode import set_grad_enabled


def _topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Tensors reachable from ``roots`` that require grad, each after every tensor it feeds."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        fn = t._ctx
        if fn is not None:
            if fn.inputs is None:
                raise RuntimeError(
                    f"trying to backward through the graph a second time ({fn!r} was freed by "
                    "an earlier backward); call backward(retain_graph=True) the first time if "
                    "you need to backward twice"
                )
            for p in fn.inputs:
                if p.requires_grad and id(p) not in visited:
                    stack.append((p, False))
    order.reverse()
    return order


def _owned(g, handed: set[int]):
    """A gradient array safe to store as a leaf's ``.grad`` (not shared with another leaf)."""
    if id(g) in handed or getattr(g, "base", None) is not None:
        g = g.copy()
    handed.add(id(g))
    return g


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence,
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
):
    """Backpropagate ``root_grads`` from ``roots``.

    Without ``inputs``, gradients accumulate into the ``.grad`` of every leaf that requires
    grad (and of non-leaves that called ``retain_grad``). With ``inputs``, nothing is
    accumulated and the gradients of ``inputs`` are returned (None where unreachable).
    ``root_grads`` are arrays, or Tensors under ``create_graph``.
    """
    order = _topological_order(roots)
    grads: dict[int, object] = {}
    for r, g in zip(roots, root_grads):
        k = id(r)
        grads[k] = g if k not in grads else grads[k] + g
    wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    results: list = [None] * (len(inputs) if inputs is not None else 0)
    handed: set[int] = {id(g) for g in root_grads}
    with set_grad_enabled(create_graph):
        for t in order:
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if t._hooks:
                for hook in t._hooks:
                    g_t = g if create_graph else Tensor._wrap(g)
                    new = hook(g_t)
                    if new is not None:
                        g = new if create_graph else new.data
            fn = t._ctx
            if wanted is not None:
                if id(t) in wanted:
                    results[wanted[id(t)]] = g if create_graph else Tensor._wrap(g)
            elif fn is None or t._retains_grad:
                _accumulate(t, g, create_graph, handed)
            if fn is None:
                continue
            fn.check_versions(t)
            if create_graph:
                saved_in, saved_out = fn.inputs, t
            else:
                saved_in = [p.data for p in fn.inputs] if fn.saves_inputs else None
                saved_out = t.data
            in_grads = fn.backward(g, saved_in, saved_out)
            for p, need, ig in zip(fn.inputs, fn.needs_input_grad, in_grads):
                if not need or ig is None:
                    continue
                if ig.shape != p.data.shape:
                    ig = unbroadcast(ig, p.data.shape)
                k = id(p)
                prev = grads.get(k)
                grads[k] = ig if prev is None else prev + ig
            if not retain_graph:
                fn.inputs = None
    return results


def _accumulate(t: Tensor, g, create_graph: bool, handed: set[int]) -> None:
    if create_graph:
        t.grad = g if t.grad is None else t.grad + g
    elif t.grad is None:
        t.grad = Tensor._wrap(_owned(g, handed))
    elif t.grad.requires_grad:  # a grad recorded by an earlier create_graph backward
        t.grad = Tensor._wrap(t.grad.data + g)
    else:
        t.grad.data += g
