"""The backward engine: an iterative walk of the graph in reverse topological order.

No recursion (a 100,000-op chain is fine), one pass over the nodes (time O(n log n) in the
graph's size, from the heap), gradients gathered per tensor in a dict and dropped as soon as
they are passed on, and the graph's references released after the pass unless
``retain_graph=True``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from heapq import heappop, heappush

from ..backend import get_array_module
from ..grad_mode import thread_state
from ..tensor import Tensor
from ..write_clock import writes
from .function import unbroadcast

# References to a view's base when only that view holds it: the view, the local name `base`
# below, and getrefcount's own argument.
_SOLE_VIEW_REFS = 3


def _owned(g, like, handed: set[int]):
    """A gradient array safe to keep as a leaf's ``.grad`` and to update in place later.

    As torch's gradient layout contract: a strided view (a transposed weight's gradient, say)
    is made C-contiguous like its parameter, so optimizers run on contiguous memory. Otherwise
    a copy is made only when the array could alias something else: the same array handed to
    another leaf (or passed in by the caller), or a view whose base is referenced elsewhere
    or is read-only.
    """
    if not g.flags.c_contiguous and like.flags.c_contiguous:
        g = get_array_module(g).ascontiguousarray(g)
    else:
        base = getattr(g, "base", None)
        if id(g) in handed or (
            base is not None
            and (sys.getrefcount(base) > _SOLE_VIEW_REFS or not getattr(g.flags, "writeable", True))
        ):
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

    Nodes are visited in decreasing creation sequence, from a heap that is fed as gradients
    reach them: every consumer of a tensor was created after it, so a tensor is processed
    only once all the gradient flowing into it has been summed (Chainer orders its backward
    the same way, by generation). Leaves are accumulated at the end.

    Without ``inputs``, gradients accumulate into the ``.grad`` of every leaf that requires
    grad (and of non-leaves that called ``retain_grad``). With ``inputs``, nothing is
    accumulated and the gradients of ``inputs`` are returned (None where unreachable).
    ``root_grads`` are arrays, or Tensors under ``create_graph``.
    """
    grads: dict[int, object] = {}
    heap: list = []
    leaves: dict[int, Tensor] = {}
    for r, g in zip(roots, root_grads):
        k = id(r)
        if k in grads:
            grads[k] = grads[k] + g
            continue
        grads[k] = g
        if r._ctx is None:
            leaves[k] = r
        else:
            heappush(heap, (-r._ctx.sequence, r))
    wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    results: list = [None] * (len(inputs) if inputs is not None else 0)
    handed: set[int] = {id(g) for g in root_grads}
    pop, get = grads.pop, grads.get
    previous_mode = thread_state.enabled  # this thread's mode only: others keep theirs
    thread_state.enabled = create_graph
    try:
        while heap:
            t = heappop(heap)[1]
            g = pop(id(t))
            fn = t._ctx
            inputs_of_fn = fn.inputs
            if inputs_of_fn is None:
                raise RuntimeError(
                    f"trying to backward through the graph a second time ({fn!r} was freed by "
                    "an earlier backward); call backward(retain_graph=True) the first time if "
                    "you need to backward twice"
                )
            if t._hooks:
                g = _run_hooks(t, g, create_graph)
            if wanted is not None:
                if id(t) in wanted:
                    results[wanted[id(t)]] = g if create_graph else Tensor._wrap(g)
            elif t._retains_grad:
                _accumulate(t, g, create_graph, handed)
            if fn.writes != writes[0]:  # an in-place write happened since: check versions
                fn.check_versions(t)
            if create_graph:
                if not fn.double_backward:
                    raise NotImplementedError(
                        f"double backward through {type(fn).__name__} is not supported "
                        "(its backward is a fused kernel on arrays)"
                    )
                in_grads = fn.backward(g, inputs_of_fn, t)
            else:
                in_grads = fn.backward(g, fn.arrays if fn.saves_inputs else None, t.array)
            for p, need, ig in zip(inputs_of_fn, fn.needs_input_grad, in_grads):
                if need and ig is not None:
                    if ig.shape != p.array.shape:
                        ig = unbroadcast(ig, p.array.shape)
                    k = id(p)
                    prev = get(k)
                    if prev is not None:
                        grads[k] = prev + ig
                    else:
                        grads[k] = ig
                        if p._ctx is None:
                            leaves[k] = p
                        else:
                            heappush(heap, (-p._ctx.sequence, p))
            if not retain_graph:
                fn.inputs = None
        g = in_grads = ig = prev = None  # drop stray references: _owned counts them
        for k, t in leaves.items():  # every consumer is done: leaves' sums are complete
            g = pop(k)
            if t._hooks:
                g = _run_hooks(t, g, create_graph)
            if wanted is not None:
                if k in wanted:
                    results[wanted[k]] = g if create_graph else Tensor._wrap(g)
            else:
                _accumulate(t, g, create_graph, handed)
    finally:
        thread_state.enabled = previous_mode
    return results


def _run_hooks(t: Tensor, g, create_graph: bool):
    for hook in t._hooks:
        new = hook(g if create_graph else Tensor._wrap(g))
        if new is not None:
            g = new if create_graph else new.array
    return g


def _accumulate(t: Tensor, g, create_graph: bool, handed: set[int]) -> None:
    if create_graph:
        t.grad = g if t.grad is None else t.grad + g
    elif t.grad is None:
        t.grad = Tensor._wrap(_owned(g, t.array, handed))
    elif t.grad.requires_grad:  # a grad recorded by an earlier create_graph backward
        t.grad = Tensor._wrap(t.grad.array + g)
    else:
        t.grad.array += g
