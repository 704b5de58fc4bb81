"""The backward engine: an iterative walk of the graph in reverse topological order.

No recursion (a 100,000-op chain is fine), one pass over the nodes (time O(n log n) in the
graph's size, from the heap), gradients gathered per tensor in a dict and dropped as soon as
they are passed on, and the graph's references released after the pass unless
``retain_graph=True``.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Sequence
from heapq import heappop, heappush

from ..backend import get_array_module, on_device_of
from ..tensor import Tensor, _writes
from .function import unbroadcast
from .grad_mode import _GradMode

# References to a view's base when only that view holds it: the view, the local name `base`
# below, and getrefcount's own argument.
_SOLE_VIEW_REFS = 3

# Callbacks queued during the running backward passes (innermost last), run when it ends.
_queued_callbacks: list[list] = []


# Leaves with post-accumulate-grad hooks: id -> (weak reference to the tensor, [hooks]).
_post_hooks: dict[int, tuple] = {}


def register_post_accumulate_grad_hook(t: Tensor, hook: Callable[[Tensor], None]):
    """Call ``hook(t)`` once backward has accumulated ``t``'s gradient for this pass into
    ``t.grad`` (torch's ``Tensor.register_post_accumulate_grad_hook``); ``t`` is a leaf.

    While such hooks exist, backward first counts each hooked leaf's uses in the graph, so a
    hooked leaf is accumulated, and its hooks run, as soon as its last use has been
    differentiated, while the rest of the graph is still being walked (DistributedDataParallel
    starts its all-reduces there). The engine holds ``hook`` until it is removed or ``t`` dies:
    a hook should not capture ``t`` (it receives it) or what holds ``t``, or neither is freed.
    Returns a function that removes the hook.
    """
    if t._ctx is not None or not t.requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors that require "
                           "grad have an accumulated gradient")
    k = id(t)
    entry = _post_hooks.get(k)
    if entry is None or entry[0]() is not t:
        entry = (weakref.ref(t, lambda _, k=k, hooks=_post_hooks: hooks.pop(k, None)), [])
        _post_hooks[k] = entry
    hooks = entry[1]
    hooks.append(hook)

    def remove() -> None:
        if hook in hooks:
            hooks.remove(hook)
        if not hooks and _post_hooks.get(k) is entry:
            del _post_hooks[k]

    return remove


def _hooked_leaf_uses(roots: Sequence[Tensor]) -> dict[int, int]:
    """For each leaf with post-accumulate hooks, how many graph edges lead into it."""
    uses: dict[int, int] = {}
    seen: set[int] = set()
    stack = [r._ctx for r in roots if r._ctx is not None]
    while stack:
        fn = stack.pop()
        if id(fn) in seen or fn.inputs is None:
            continue
        seen.add(id(fn))
        for p, need in zip(fn.inputs, fn.needs_input_grad):
            if need:
                if p._ctx is not None:
                    stack.append(p._ctx)
                elif id(p) in _post_hooks:
                    uses[id(p)] = uses.get(id(p), 0) + 1
    return uses


def queue_callback(fn) -> None:
    """Call ``fn()`` once the backward pass now running has finished (torch's
    ``Variable._execution_engine.queue_callback``): e.g. DistributedDataParallel waits there
    for its gradient all-reduces. Only valid inside a backward pass (from a hook)."""
    if not _queued_callbacks:
        raise RuntimeError("queue_callback: no backward pass is running (call it from a hook)")
    _queued_callbacks[-1].append(fn)


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
    # hooked leaves complete early: when their count of pending uses reaches 0
    eager = _hooked_leaf_uses(roots) if _post_hooks and wanted is None and not create_graph \
        else None
    previous_mode = _GradMode.enabled
    _GradMode.enabled = create_graph
    _queued_callbacks.append([])
    device = on_device_of(roots[0].array if roots else None)  # CuPy runs on its current device
    device.__enter__()
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
            if fn.writes != _writes[0]:  # an in-place write happened since: check versions
                fn.check_versions(t)
            if create_graph:
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
                    if eager is not None and k in eager:
                        eager[k] -= 1
                        if not eager[k]:  # its last use is done: accumulate it now
                            del leaves[k]
                            _finish_leaf(p, pop(k), handed)
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
                if k in _post_hooks:
                    _run_post_hooks(t)
    finally:
        _GradMode.enabled = previous_mode
        device.__exit__(None, None, None)
        callbacks = _queued_callbacks.pop()
    for fn in callbacks:
        fn()
    return results


def _finish_leaf(t: Tensor, g, handed: set[int]) -> None:
    """A hooked leaf whose gradient is complete: hooks, accumulation, post-accumulate hooks."""
    if t._hooks:
        g = _run_hooks(t, g, False)
    _accumulate(t, g, False, handed)
    _run_post_hooks(t)


def _run_post_hooks(t: Tensor) -> None:
    for hook in list(_post_hooks[id(t)][1]):
        hook(t)


def _run_hooks(t: Tensor, g, create_graph: bool):
    for hook in t._hooks:
        new = hook(g if create_graph else Tensor._wrap(g))
        if new is not None:
            g = new if create_graph else new.array
    return g


def _accumulate(t: Tensor, g, create_graph: bool, handed: set[int]) -> None:
    # ``_grad``: the slot under Tensor.grad, whose setter checks user assignments
    if create_graph:
        t._grad = g if t._grad is None else t._grad + g
    elif t._grad is None:
        t._grad = Tensor._wrap(_owned(g, t.array, handed))
    elif t._grad.requires_grad:  # a grad recorded by an earlier create_graph backward
        t._grad = Tensor._wrap(t._grad.array + g)
    else:
        t._grad.array += g
