"""The backward engine: an iterative walk of the graph in reverse topological order.

``run_backward`` reads as four named steps: order the nodes (a heap keyed on creation order),
call a node's backward, route the gradients it returns to the node's inputs, and finish the
leaves. No recursion (a 100,000-op chain is fine), one pass over the nodes (time O(n log n) in
the graph's size, from the heap), gradients gathered per tensor in a dict and dropped as soon
as they are passed on, and the graph's references released after the pass unless
``retain_graph=True``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from heapq import heappop, heappush

import numpy as np

from ..backend import get_array_module, on_device_of
from ..grad_mode import thread_state
from ..recording import recorder
from ..tensor import Tensor
from ..write_clock import writes
from .function import Function, unbroadcast

ndarray = np.ndarray
_new_tensor = object.__new__

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


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence,
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
):
    """Backpropagate ``root_grads`` from ``roots``.

    Nodes are visited in decreasing creation sequence: every consumer of a tensor was created
    after it, so a tensor is processed only once all the gradient flowing into it has been
    summed (Chainer orders its backward the same way, by generation). Leaves are finished at
    the end (a leaf with post-accumulate hooks as soon as its last use is done). Callbacks
    queued during the pass (``queue_callback``) run after it.

    Without ``inputs``, gradients accumulate into the ``.grad`` of every leaf that requires
    grad (and of non-leaves that called ``retain_grad``). With ``inputs``, nothing is
    accumulated and the gradients of ``inputs`` are returned (None where unreachable).
    ``root_grads`` are arrays, or Tensors under ``create_graph``. Recording is switched to
    ``create_graph`` in the calling thread only, for the duration of the pass.
    """
    rec = recorder[0]
    if rec is not None and rec.records_this_thread():  # minigrad.jit is capturing a step
        return rec.run_backward(roots, root_grads, retain_graph, create_graph, inputs)
    if (inputs is None and not create_graph and not _post_hooks and len(roots) == 1
            and roots[0]._ctx is not None and type(root_grads[0]) is ndarray):
        _plain_pass(roots[0], root_grads[0], retain_graph)  # loss.backward()
        return []
    grads, heap, leaves = _order_roots(roots, root_grads)
    sink = _Sink(inputs, create_graph, root_grads)
    # leaves with post-accumulate hooks are finished as soon as their last use is done
    eager = _hooked_leaf_uses(roots) if _post_hooks and inputs is None and not create_graph \
        else None
    previous_mode = thread_state.enabled
    thread_state.enabled = create_graph
    _queued_callbacks.append([])
    device = on_device_of(roots[0].array if roots else None)  # CuPy runs on its current device
    device.__enter__()
    try:
        while heap:
            t = heappop(heap)[1]
            g = grads.pop(id(t))
            fn = t._ctx
            if fn.inputs is None:
                raise _freed_graph_error(fn)
            if t._hooks:
                g = _run_hooks(t, g, create_graph)
            if sink.offers_non_leaves or t._retains_grad:
                sink.offer(t, g, is_leaf=False)
            if fn.writes == writes[0] and not create_graph:
                in_grads = fn.backward(g, *fn.saved)  # _call_backward's common case, inline:
            else:  # a call less per node (with finish_leaves, W3's backward 53 -> 50 us)
                in_grads = _call_backward(fn, t, g, create_graph)
            _route(fn, in_grads, grads, heap, leaves, eager, sink)
            if not retain_graph:
                fn.inputs = None
        sink.finish_leaves(leaves, grads)  # every consumer is done: the leaves' sums are complete
    finally:
        thread_state.enabled = previous_mode
        device.__exit__(None, None, None)
        callbacks = _queued_callbacks.pop()
    for callback in callbacks:
        callback()
    return sink.results


def _plain_pass(root: Tensor, root_grad, retain_graph: bool) -> None:
    """:func:`run_backward` for ``loss.backward()``: one root on the CPU, its gradient an
    array, no ``inputs``, no ``create_graph``, no post-accumulate hooks.

    The same pass as the general loop, step for step (heap order, version checks when the
    write clock moved, tensor hooks, ``retain_grad``, the leaves finished at the end with
    :class:`GradOwnership`), written as one loop without the general path's bookkeeping: no
    ``_Sink``, no per-node ``_route`` call, no device context, none of the checks for
    ``inputs``, ``create_graph`` and hooked leaves; a fresh leaf gradient gets its ``.grad``
    inline, and a chain's next node is visited without the heap (the heap's own order: when
    ``after`` is set, nothing else is pending). Why: this is the backward of every training
    step, and on a small network (W3: six nodes, six leaves) the general path's bookkeeping
    was a third of the engine's own time: W3's step 132.6 -> 126.2 us with the loop, 119.3
    with the inline leaves and the chain (BENCHMARKS.md, "Issue 14: W3 per-step overhead
    (h16w3)").
    """
    grads = {id(root): root_grad}
    heap: list = []
    after = root  # the one node left to visit, kept off the heap while it is the only one
    leaves: dict[int, Tensor] = {}
    ownership = GradOwnership((root_grad,))
    previous_mode = thread_state.enabled
    thread_state.enabled = False
    callbacks: list = []
    _queued_callbacks.append(callbacks)
    try:
        while True:
            if after is not None:  # (then the heap is empty)
                t, after = after, None
            elif heap:
                t = heappop(heap)[1]
            else:
                break
            g = grads.pop(id(t))
            fn = t._ctx
            if fn.inputs is None:
                raise _freed_graph_error(fn)
            if t._hooks:
                g = _run_hooks(t, g, False)
            if t._retains_grad:
                _accumulate(t, g, ownership)
            if fn.writes != writes[0]:  # an in-place write happened since it was recorded
                fn.check_versions(t)
            for p, need, ig in zip(fn.inputs, fn.needs_input_grad, fn.backward(g, *fn.saved)):
                if need and ig is not None:  # (_route, inline)
                    if ig.shape != p.array.shape:
                        ig = unbroadcast(ig, p.array.shape)
                    k = id(p)
                    prev = grads.get(k)
                    if prev is not None:
                        grads[k] = prev + ig
                    else:
                        grads[k] = ig
                        if p._ctx is None:
                            leaves[k] = p
                        elif after is None and not heap:  # a chain: no heap push and pop
                            after = p
                        else:
                            if after is not None:
                                heappush(heap, (-after._ctx.sequence, after))
                                after = None
                            heappush(heap, (-p._ctx.sequence, p))
            if not retain_graph:
                fn.inputs = None
        claimed = ownership.claimed
        for k, t in leaves.items():  # every consumer is done: the leaves' sums are complete
            g = grads[k]
            if t._hooks:
                g = _run_hooks(t, g, False)
            if t._grad is not None:
                _accumulate(t, g, ownership)
                continue
            if g is getattr(t, "_grad_written", None):  # written into the home offered to t
                t._grad_written = None  # (tensor.take_grad_home): t's own memory
            elif (type(g) is ndarray and g.base is None and id(g) not in claimed
                    and g.flags.c_contiguous and g.flags.writeable):
                claimed.add(id(g))  # GradOwnership.claim's first case (a fresh array), inline
            else:
                g = ownership.claim(g, t.array)
            t._grad = grad = _new_tensor(Tensor)  # Tensor._wrap(g), inline
            grad.array = g if type(g) is ndarray else _wrapped_array(g)
            grad._grad = grad._ctx = grad._hooks = None
            grad.requires_grad = grad._retains_grad = False
            grad._vc = [0, 0]
    finally:
        thread_state.enabled = previous_mode
        _queued_callbacks.pop()
    for callback in callbacks:
        callback()


def _order_roots(roots, root_grads):
    """The gradient table, the heap of nodes to visit (latest created first) and the leaves,
    seeded from the roots (a root given twice gets the sum of its gradients)."""
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
    return grads, heap, leaves


def _call_backward(fn: Function, out: Tensor, g, create_graph: bool):
    """One node's backward: the gradients of its inputs, given its output's gradient ``g``."""
    if fn.writes != writes[0]:  # an in-place write happened since it was recorded: check
        fn.check_versions(out)
    if not create_graph:
        return fn.backward(g, *fn.saved)
    if not fn.double_backward:
        raise NotImplementedError(
            f"double backward through {type(fn).__name__} is not supported (its backward is a "
            "fused kernel on arrays)"
        )
    return fn.backward(g, *fn.saved_tensors(out))


def _route(fn: Function, in_grads, grads: dict, heap: list, leaves: dict, eager, sink) -> None:
    """Add each input's gradient (summed down to its shape) to its entry in ``grads``; an input
    seen for the first time joins the heap, or the leaves. A hooked leaf (``eager``) whose last
    use this was is finished at once."""
    for p, need, ig in zip(fn.inputs, fn.needs_input_grad, in_grads):
        if need and ig is not None:
            if ig.shape != p.array.shape:
                ig = unbroadcast(ig, p.array.shape)
            k = id(p)
            prev = grads.get(k)
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
                if not eager[k]:
                    del leaves[k]
                    sink.finish_leaf(p, grads.pop(k))


class _Sink:
    """Where finished gradients go: returned for ``inputs`` (``autograd.grad``), or else
    accumulated into ``.grad`` (leaves, and non-leaves that asked with ``retain_grad``)."""

    def __init__(self, inputs, create_graph: bool, root_grads):
        self.wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
        self.results: list = [None] * (len(inputs) if inputs is not None else 0)
        self.create_graph = create_graph
        self.ownership = GradOwnership(root_grads)
        self.offers_non_leaves = inputs is not None  # else only those with retain_grad

    def finish_leaves(self, leaves: dict, grads: dict) -> None:
        """Every leaf's complete gradient (``grads`` keyed by the leaves' ids).

        The plain ``loss.backward()`` (no ``inputs``, no ``create_graph``, a leaf without
        hooks) takes a short path with the same effect as :meth:`finish_leaf`: it is the
        per-parameter work of every training step, and on small networks (W3) the four
        method calls per leaf that the general path makes were ~1.5 us a step.
        """
        plain = self.wanted is None and not self.create_graph
        claim = self.ownership.claim
        for k, t in leaves.items():
            g = grads.pop(k)
            if not plain or t._hooks or k in _post_hooks:
                self.finish_leaf(t, g)
            elif t._grad is None:
                t._grad = Tensor._wrap(_claim_for(t, g, claim))
            else:
                self._accumulate(t, g)

    def finish_leaf(self, t: Tensor, g) -> None:
        """A leaf's complete gradient: its hooks, then offered, then post-accumulate hooks."""
        if t._hooks:
            g = _run_hooks(t, g, self.create_graph)
        self.offer(t, g, is_leaf=True)
        if self.wanted is None and id(t) in _post_hooks:
            for hook in list(_post_hooks[id(t)][1]):
                hook(t)

    def offer(self, t: Tensor, g, is_leaf: bool) -> None:
        if self.wanted is not None:
            i = self.wanted.get(id(t))
            if i is not None:
                self.results[i] = g if self.create_graph else Tensor._wrap(g)
        elif is_leaf or t._retains_grad:
            self._accumulate(t, g)

    def _accumulate(self, t: Tensor, g) -> None:
        if self.create_graph:
            t._grad = g if t._grad is None else t._grad + g
        else:
            _accumulate(t, g, self.ownership)


def _wrapped_array(g):
    """A gradient as ``Tensor._wrap`` keeps it (a NumPy scalar, from arithmetic on 0-d
    arrays, as a 0-d array)."""
    return Tensor._wrap(g).array


def _accumulate(t: Tensor, g, ownership: GradOwnership) -> None:
    """Add the array ``g`` to ``t.grad`` (a backward without ``create_graph``)."""
    # ``_grad``: the slot under Tensor.grad, whose setter checks user assignments
    if t._grad is None:
        t._grad = Tensor._wrap(_claim_for(t, g, ownership.claim))
    elif t._grad.requires_grad:  # a grad recorded by an earlier create_graph backward
        t._grad = Tensor._wrap(t._grad.array + g)
    else:
        t._grad.array += g


def _claim_for(t: Tensor, g, claim):
    """``g`` as leaf ``t``'s new ``.grad`` array: as it is when an op wrote it into the home
    offered to ``t`` (``tensor.take_grad_home``: ``t``'s own memory), else ``claim(g,
    t.array)`` (:meth:`GradOwnership.claim`)."""
    if g is getattr(t, "_grad_written", None):
        t._grad_written = None
        return g
    return claim(g, t.array)


class GradOwnership:
    """Decides when a gradient array can become a tensor's ``.grad`` as it is, without a copy.

    A ``.grad`` is later updated in place (accumulation, optimizers), so it must share memory
    with nothing else. Backward code hands the same array (or views of it) to several places:
    ``Add`` returns ``grad`` for both inputs, a reshape returns a view of its upstream
    gradient. The rule, which needs nothing from the interpreter: the first ``.grad`` made from
    a block of memory takes it as it is; a later one from the same block (the same array, or a
    view of the same base) gets a copy, as does anything viewing the caller's own root
    gradients or read-only memory (a broadcast view, say). Blocks are tracked by the id of the
    array that owns the memory, for the duration of one backward pass.

    As torch's gradient layout contract, a strided gradient (a transposed weight's, say) of a
    C-contiguous tensor is made C-contiguous, so optimizers run on contiguous memory.
    """

    def __init__(self, root_grads):
        self.claimed = set()
        for g in root_grads:  # a loop, not a set comprehension: a call less (CPython 3.11)
            self.claimed.add(id(g if getattr(g, "base", None) is None else _memory_owner(g)))

    def claim(self, g, like):
        """``g`` itself when it may be kept, else a copy (C-contiguous like ``like``)."""
        flags = g.flags  # read once: each ``.flags`` makes a new flags object
        if not flags.c_contiguous and like.flags.c_contiguous:
            g = get_array_module(g).ascontiguousarray(g)
        else:
            owner = g if g.base is None else _memory_owner(g.base)
            if id(owner) in self.claimed or not getattr(flags, "writeable", True):
                g = g.copy()
            else:
                self.claimed.add(id(owner))
                return g
        self.claimed.add(id(g))
        return g


def _memory_owner(a):
    """The array that owns ``a``'s memory: ``a`` itself, or the base of the view chain."""
    while getattr(a, "base", None) is not None:
        a = a.base
    return a


def _freed_graph_error(fn: Function) -> RuntimeError:
    return RuntimeError(
        f"trying to backward through the graph a second time ({fn!r} was freed by an earlier "
        "backward); call backward(retain_graph=True) the first time if you need to backward "
        "twice"
    )


def _run_hooks(t: Tensor, g, create_graph: bool):
    for hook in t._hooks:
        new = hook(g if create_graph else Tensor._wrap(g))
        if new is not None:
            g = new if create_graph else new.array
    return g
