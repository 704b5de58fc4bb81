"""Flat parameter groups: the optimizer's fast path, one update call per group.

Why: an update rule written per tensor costs about ten NumPy calls per tensor, each with a few
microseconds of Python and dispatch around it. A model of many small tensors (50 Linear(32, 32)
layers: 100 tensors, 53 K numbers) spends almost all of its step in that overhead, and so does
a small MLP trained on small batches (W3 of ../shared/PEERS.md). torch answers with its
``foreach`` and ``fused`` kernels; the NumPy way is to make the tensors views into one buffer,
so that the same rule runs once over the whole buffer: a handful of whole-buffer in-place ufuncs
whatever the number of tensors.

How: when every parameter of a group has a gradient and the group qualifies (floating
parameters of one dtype and device, each C-contiguous (or a 2-D F-contiguous one, as
``nn.Linear``'s weight) and owning its memory or already a view of this optimizer's
buffer; an algorithm whose update is elementwise, ``Optimizer.flat_update``; no per-parameter
``clipnorm``), the base class

* relocates the parameters into one buffer: ``p.array`` becomes a view of it (same values, same
  Parameter objects, so modules and references to the Tensors see nothing change);
* keeps each state array of each parameter as a view of one buffer per state key, so
  ``optimizer.state[p]`` still holds that parameter's own state and ``state_dict``,
  ``load_state_dict``, checkpoints and schedulers see exactly what they saw before;
* gathers the gradients into one buffer (a copy into each parameter's view of it on NumPy,
  one ``concatenate(out=)`` kernel on CuPy), and lends the
  buffer's views to gradients that nobody else holds (:meth:`FlatGroup.gather`), so that
  gradients which stay between steps are found in place and not copied again;
* calls the algorithm's ``update`` once, on the flat views, and hands the numbers it changed
  (``step``, NAdam's ``mu_product``, ...) back to every parameter's state.

Once a group has taken a flat step and nothing changed since (the same hyperparameter objects,
each parameter holding its view and its state dict, gradients that fit), ``Optimizer.step``
takes the *steady* step: a few C-level ``map`` passes over the group
(:meth:`FlatGroup.steady_gradients`) instead of its per-parameter checks, then the same flat
step (``Optimizer._steady_step``).

The update rules themselves are unchanged: they are elementwise, so the flat call computes the
same numbers, element for element, as the per-tensor calls. A parameter keeps its memory
layout in the buffer: the span of a 2-D column-major parameter (``nn.Linear``'s weight) holds
it in its memory order, and its view is ``flat[a:b].reshape(shape[::-1]).T``
(:func:`span_view`); its gradient and state views have the same layout, gradients are
gathered and states adopted in memory order (the transpose of a transposed span's array is
passed to ``concatenate``), so the flat update still meets each parameter element with its
own gradient and state elements. A gradient or state array in the other layout is still
right, only copied element by element instead of as one block. Whatever breaks the layout (a
parameter without a gradient in a step, ``p.array`` or ``p.data`` replaced, ``load_state_dict``)
sends the group through the per-tensor path for that step, and the next flat step adopts the
parameters and their state again (a copy). Measured gains: BENCHMARKS.md, "Flat optimizer
steps" and "Issue 14: the steady flat step (h14opt)".
"""

from __future__ import annotations

import operator
import sys
import weakref
from collections.abc import Callable
from itertools import repeat
from typing import Any

import numpy as np

from ..backend import Array, get_array_module, on_device_of
from ..tensor import Parameter, Tensor


class FlatGroup:
    """One parameter group laid out flat.

    Attributes:
        params: the parameters laid out flat, in the group's order: all of the group's, or
            its small ones when the group as a whole is too large (see :func:`relocate`).
        group_params: all of the group's parameters, in order.
        members: the index in ``group_params`` of each of ``params``; ``others``: the rest
            (stepped per tensor).
        views: ``p.array`` of each parameter, a view of ``param``.
        states: the state dict of each parameter (``optimizer.state[p]``).
        param: the flat parameter buffer; ``tensor`` wraps it for ``update``.
        grad: the flat gradient buffer; ``grad_views``: its view for each parameter, which
            may become the parameter's gradient array (see :meth:`gather`); ``lent``: True
            once one has; ``wait``: steps to let pass before lending views again;
            ``grad_refs``: the buffer's reference count with only its own views (see
            :meth:`grad_held`).
        state: the flat state handed to ``update``: a buffer per array key, and the numbers.
        buffers: the state buffers that the parameters' states are views of, by key.
        spans: ``(start, stop, shape, column_major)`` of each parameter in the buffers
            (:func:`span_view`); ``shapes``: the shapes; ``fits``: ``(array type, shape,
            dtype)`` that each gradient's array must have (:meth:`steady_gradients` compares
            them in one pass); ``transposed``: whether any span is column-major;
            ``transpose_all``: whether every span is column-major or at most 1-D (an MLP's
            weights and biases), so that every array may be transposed
            (:meth:`in_memory_order`).
        stale: True until the state is laid out, and again after a per-tensor step: the next
            flat step adopts the parameters' state again.
        per_tensor: the state keys whose numbers each parameter keeps its own value of
            (``Optimizer.per_tensor_state``): see :class:`Segments`.
        versions: the version counter that the parameters share while the group steps
            flat (``tensor._vc``; None before: :meth:`bump_versions`).
    """

    __slots__ = ("params", "views", "states", "param", "tensor", "grad", "grad_views",
                 "grad_refs", "state", "buffers", "handed", "spans", "shapes", "fits",
                 "state_lens", "stale", "group_params", "members", "others", "lent", "wait",
                 "transposed", "transpose_all", "per_tensor", "versions", "homes",
                 "homes_taken")

    def __init__(self, params: list[Tensor], param: Array, spans: list[tuple],
                 group_params: list[Tensor] | None = None, members: list[int] | None = None):
        self.params = params
        self.group_params = params if group_params is None else group_params
        self.members = list(range(len(params))) if members is None else members
        taken = set(self.members)
        self.others = [i for i in range(len(self.group_params)) if i not in taken]
        self.param = param
        self.tensor = Tensor._wrap(param)
        self.spans = spans
        self.shapes = [span[2] for span in spans]
        self.fits = [(type(param), shape, param.dtype) for shape in self.shapes]
        self.transposed = any(span[3] for span in spans)
        self.transpose_all = all(span[3] or len(span[2]) <= 1 for span in spans)
        self.views = self.views_of(param)
        self.wait = 0
        self._new_grad_buffer()
        self.homes = type(param) is np.ndarray and all(isinstance(p, Parameter) for p in params)
        self.homes_taken = False  # a step found every gradient in its view (gather)
        self.states: list[dict] = []
        self.state_lens: list[int] = []
        self.state: dict[str, Any] = {}
        self.buffers: dict[str, Array] = {}
        self.handed: dict[str, Any] = {}  # the numbers every parameter's state holds
        self.stale = True  # no state laid out yet
        self.per_tensor: tuple[str, ...] = ()
        self.versions: list | None = None  # the version counter the params share, once shared

    @classmethod
    def detached(cls) -> FlatGroup:
        """An empty record, which no parameter holds: the group's next step lays it out again.

        A copy of an optimizer (``copy.deepcopy``, pickle) gets this: copying the views one by
        one would give independent arrays that the copied buffer's updates never reach.
        """
        empty = cls.__new__(cls)
        empty.params, empty.views, empty.states, empty.spans, empty.shapes = [], [], [], [], []
        empty.fits = []
        empty.grad_views, empty.state_lens, empty.lent, empty.wait = [], [], False, 0
        empty.grad_refs, empty.homes, empty.homes_taken = 0, False, False
        empty.transposed = empty.transpose_all = False
        empty.group_params, empty.members, empty.others = [], [], []
        empty.param = empty.tensor = empty.grad = None
        empty.state, empty.buffers, empty.handed, empty.stale = {}, {}, {}, True
        empty.per_tensor = ()
        empty.versions = None
        return empty

    def __deepcopy__(self, memo: dict) -> FlatGroup:
        return FlatGroup.detached()

    def __reduce__(self):
        return FlatGroup.detached, ()

    def holds(self, params: list[Tensor]) -> bool:
        """True when these are the group's parameters, each flat one still holding its view."""
        return (len(params) == len(self.group_params)
                and all(map(operator.is_, params, self.group_params))
                and all(map(operator.is_, [p.array for p in self.params], self.views)))

    def is_current(self, params: list[Tensor], state: dict) -> bool:
        """True when nothing broke the layout since the last flat step: :meth:`holds`, no
        per-tensor step since, and each parameter still holding its state dict."""
        return (not self.stale and self.holds(params)
                and all(map(operator.is_, [state.get(p) for p in self.params], self.states)))

    def steady(self, params: list[Tensor], state: dict, others: bool = False) -> bool:
        """True when ``params`` (the group's parameters) can take a flat step with the state
        laid out as it is: nothing broke the layout since the last flat step (each parameter
        still holds its view and its state dict, which still has as many keys). ``others``:
        the group may hold parameters stepped per tensor (:attr:`others`, not checked
        here). One C-level ``map`` per test over the group."""
        if self.stale or len(params) != len(self.group_params):
            return False
        if self.others:
            if not others or not all(map(operator.is_, params, self.group_params)):
                return False
            params = self.params
        return (all(map(operator.is_, map(_ARRAY, params), self.views))
                and all(map(operator.is_, map(state.get, params), self.states))
                and list(map(len, self.states)) == self.state_lens)

    def steady_gradients(self, params: list[Tensor], state: dict) -> list[Array] | None:
        """The raw gradients of ``params`` (a group wholly laid out here), when the group can
        take its flat step without the per-parameter checks of ``Optimizer.step``; else None.

        It can when nothing broke the layout since the last flat step (as :meth:`steady`:
        each parameter still holds its view and its state dict, which still has as many keys;
        the caller has checked that the hyperparameters, hence the keys they need, are
        unchanged) and every gradient fits its parameter. A gradient that is still the view
        of :attr:`grad` that :meth:`gather` gave it fits by construction; any other must be a
        Tensor whose array has the parameter's array type, shape, dtype and device. The
        ``.grad`` setter checks these at assignment, but ``p.grad.array = ...`` (or
        ``p.grad.data = ...``) and the engine's ``p._grad`` go around it, so they are checked
        again here. None sends the step through the checked path, which finds and reports
        whatever differs. When every gradient is its view of :attr:`grad`, the list returned
        is :attr:`grad_views` itself.

        One Python loop makes the tests of the layout and of the lent gradients, each
        parameter read once: 9-9.6 us over 100 parameters where five C-level ``map`` passes
        (one per test, as :meth:`steady` makes them) took 16.3 (CPython 3.11 specialises the
        slot reads and the dict subscript; BENCHMARKS.md, "Issue 14: small tensors
        (h17small)").
        """
        if (self.stale or len(params) != len(self.group_params) or self.others
                or type(state) is not dict):  # (a defaultdict would make entries on lookup)
            return None
        lent = self.lent
        try:
            for p, view, st, keys, grad_view in zip(params, self.views, self.states,
                                                    self.state_lens, self.grad_views):
                if p.array is not view or state[p] is not st or len(st) != keys:
                    return None
                if lent and p._grad.array is not grad_view:
                    lent = False
        except (KeyError, AttributeError):  # no state, or no gradient (with a lent view)
            return None
        if lent:
            return self.grad_views  # (which :meth:`gather` knows at a glance)
        try:
            arrays = list(map(_ARRAY, map(_GRAD, params)))
        except AttributeError:  # a parameter without a gradient, or one that is no Tensor
            return None
        param = self.param
        if (not all(map(isinstance, map(_GRAD, params), repeat(Tensor)))
                or list(map(_FIT, arrays)) != self.fits):  # array type, shape, dtype at once
            return None
        if type(param) is not np.ndarray and not all(a.device == param.device for a in arrays):
            return None
        return arrays

    def gather(self, grads: list[Array], lend: bool = False) -> Array:
        """The group's gradient as one flat array, :attr:`grad` (never to be written by the
        step: it may be the parameters' gradients' own memory).

        When every gradient already is its view of :attr:`grad`, that is all. Otherwise the
        gradients are copied into it (:func:`_copy_each`; into a new buffer when an earlier
        step's gradient Tensors still hold views of this one, whose values must not change),
        and, with ``lend``, the buffer's views are lent to them (:meth:`_lend`), unless views
        lent before were replaced by new gradients within :data:`LEND_EVERY` steps.
        """
        if self.lent:
            if grads is self.grad_views or all(map(operator.is_, grads, self.grad_views)):
                self.homes_taken = True
                return self.grad
            self.wait = LEND_EVERY  # the gradients are made anew at every step
            if self.grad_held():
                self._new_grad_buffer()
            self.lent = False
        if type(self.grad) is np.ndarray:  # each copied into its view, in its layout
            _copy_each(self.grad_views, grads)
        else:  # CuPy: one kernel for the group, not one per array (axis=None: each array
            # ravelled inside the call, in the memory order of its span)
            get_array_module(self.grad).concatenate(
                self.in_memory_order(grads) if self.transposed else grads, axis=None,
                out=self.grad)
        if self.wait:
            self.wait -= 1
        elif lend:
            self._lend(grads)
        return self.grad

    def views_of(self, buffer: Array) -> list[Array]:
        """Each parameter's view of a flat ``buffer`` laid out as :attr:`param` (its shape, in
        its memory layout: :func:`span_view`)."""
        return [span_view(buffer, span) for span in self.spans]

    def in_memory_order(self, arrays: list[Array]) -> list[Array]:
        """``arrays`` (one per span, shaped as its parameter), each as an array whose C-order
        ravel is its span's memory order: the transpose of those on column-major spans."""
        if not self.transposed:
            return arrays
        if self.transpose_all:  # each array column-major or 1-D (its own transpose): a C map
            return list(map(_TRANSPOSE, arrays))
        return [a.T if span[3] else a for a, span in zip(arrays, self.spans)]

    def _lend(self, grads: list[Array]) -> None:
        """Give each gradient Tensor whose array nobody else can see (it owns its memory, and
        no reference to it exists but the Tensor's and ``grads``') its view of :attr:`grad`
        as its array: the same numbers, now in the buffer.

        Why: gradients that stay between steps (filled in place by backward after
        ``zero_grad(set_to_none=False)``, by a data-parallel all-reduce, or set once) then
        live in the buffer, and the next step copies nothing: SGD over 100 small tensors
        with fixed gradients (``bench_optim.py --model small``) 94 -> 46 us a step on top of
        the steady step, Adam on W3 with fixed gradients 32 -> 26 us. Gradients made anew at
        every step (``zero_grad()``) gain nothing from it, and it costs about 3 us a step on
        W3, hence not again for :data:`LEND_EVERY` steps once lent views were replaced. An
        array that someone else holds (``minigrad.from_numpy``, ``a = p.grad.array``) is left
        alone, so writes to it still reach ``p.grad``.
        """
        held = _UNHELD + 1  # grads' reference and the gradient Tensor's, no other
        for t, array, view, count in zip(list(map(_GRAD, self.params)), grads, self.grad_views,
                                         _references(grads)):
            if count == held and _owns_memory(array) and not t.requires_grad:
                t.array = view
                self.lent = True

    def bump_versions(self) -> None:
        """Mark every laid-out parameter as written in place (the flat step's write): ONE
        bump of the version counter they share (:attr:`versions`, the flat tensor's; shared
        here at the group's first flat step).

        Why: the parameters are views of one buffer, and views of one buffer share their
        base's version counter (``Tensor._vc``), as in torch, so the group's write is one
        bump instead of one per parameter: 4.3 -> 0.1 us a step over 100 tensors
        (BENCHMARKS.md, "Issue 14: small tensors (h17small)"). What it changes: an in-place
        write to one laid-out parameter (``p.mul_(2)`` under ``no_grad``, ``nn.init``) also
        marks the others written, so a graph that saved one of them refuses its backward,
        and ``p._version`` counts the writes to any of them. Each parameter gets a counter
        of its own back when the group stops stepping it flat (:meth:`unshare_versions`).
        """
        if self.versions is None:
            counters = [p._vc for p in self.params]
            # the latest version and write stamp of any: every check stays on the safe side
            self.versions = self.tensor._vc = [max(vc[0] for vc in counters),
                                               max(vc[1] for vc in counters)]
            for p in self.params:
                p._vc = self.versions
        self.tensor._bump_version()

    def unshare_versions(self) -> None:
        """Give each parameter a version counter of its own again (a copy of the shared one)
        when the group is no longer stepped flat: a per-tensor step writes one parameter, or
        the group is laid out anew (a parameter's array replaced)."""
        shared, self.versions = self.versions, None
        if shared is not None:
            for p in self.params:
                if p._vc is shared:
                    p._vc = list(shared)
            self.tensor._vc = [0, 0]

    def _new_grad_buffer(self) -> None:
        xp = get_array_module(self.param)
        with on_device_of(self.param):
            self.grad = xp.empty_like(self.param)
        self.grad_views = self.views_of(self.grad)
        self.grad_refs = sys.getrefcount(self.grad)  # (grad_held)
        self.lent = False

    def offer_grad_homes(self) -> None:
        """Offer each parameter its view of :attr:`grad` as the place where the next backward
        writes its gradient (``tensor.take_grad_home``; ``Optimizer.zero_grad`` calls this
        once the gradients are None). The ops that take it (``nn.Linear``'s and BatchNorm's
        backward) write there with NumPy's ``out=``, so the next step finds those gradients
        in the buffer: none allocated, none gathered. Only for a group laid out wholly, of
        Parameters, on NumPy; not while gradients that did not come back in their views
        (made by ops that take no home) had the views replaced within :data:`LEND_EVERY`
        steps (the offers would only cost); into a new buffer when something else can still
        see this one (:meth:`grad_held`).
        """
        if self.stale or self.wait or self.others or not self.homes:
            return
        params = self.params
        for p in params:  # offers that no backward took (the counts below see only ours)
            p._grad_home = p._grad_written = None
        if self.grad_held():
            self._new_grad_buffer()
        for p, view in zip(params, self.grad_views):
            p._grad_home = view
        self.lent = True

    def grad_held(self) -> bool:
        """Whether something else than this group can see :attr:`grad`'s memory: one of
        :attr:`grad_views` (an earlier step's gradient Tensor, ``a = p.grad.array``), or
        another view of the buffer (``p.grad[0]``, ``p.grad.array[:]``: NumPy makes the
        buffer their base, so they count as references to it). New gradients must then go
        into a new buffer, or those would see their values change."""
        return (sys.getrefcount(self.grad) != self.grad_refs
                or _references(self.grad_views) != [_UNHELD] * len(self.grad_views))

    def scatter_state(self) -> None:
        """Hand the flat state back to each parameter's state: the numbers that ``update``
        changed (``step``, NAdam's ``mu_product``, ...; a number that is the very object
        handed back before is not stored again: one ``dict.update`` per parameter and step,
        6.2 us over 100 tensors, see :data:`_update`), and any array that ``update`` created or
        replaced (SGD's momentum buffer at its first step) as views. A per-tensor key
        (:attr:`per_tensor`) holds a list, one value per parameter: each gets its own, when
        ``update`` put a new list there."""
        buffers, handed = self.buffers, self.handed
        changed = {k: v for k, v in self.state.items()
                   if v is not buffers.get(k, _NONE) and v is not handed.get(k, _NONE)}
        if len(changed) != 1 or type(changed.get("step")) is not int:  # not ``step`` alone
            for key in [k for k, v in changed.items() if _is_array(v)]:
                self._share(key, changed.pop(key))
            for key in [k for k in changed if k in self.per_tensor] if self.per_tensor else ():
                values = handed[key] = changed.pop(key)  # a list: one value per parameter
                for st, value in zip(self.states, values):
                    _store(st, key, value)
        if changed:
            for _ in map(_update, self.states, repeat(changed)):
                pass
        handed.update(changed)

    def _share(self, key: str, buffer: Array) -> None:
        xp = get_array_module(buffer)
        buffer = xp.ascontiguousarray(buffer.reshape(-1))
        self.state[key] = self.buffers[key] = buffer
        for st, span in zip(self.states, self.spans):
            _store(st, key, span_view(buffer, span))


class ParamState(dict):
    """The state dict of a parameter laid out flat (``optimizer.state[p]``): a dict whose
    arrays are views of its group's state buffers, so a value replaced by hand
    (``opt.state[p]['exp_avg'] = a``, or through ``update``) would not reach the buffer
    that the flat step updates: replacing one marks the group :attr:`FlatGroup.stale`, and
    its next step lays the state out again from the parameters' dicts (:func:`adopt_state`),
    the new value included. A key added or removed changes the dict's length, which the
    steady step's checks see anyway. The flat step's own stores go around this
    (:func:`_store`). Pickled and copied as a plain dict.
    """

    __slots__ = ("group",)

    def __init__(self, items: dict, group: FlatGroup):
        dict.__init__(self, items)
        self.group = group

    def __setitem__(self, key, value) -> None:
        dict.__setitem__(self, key, value)
        self.group.stale = True

    def update(self, *args, **kwargs) -> None:
        dict.update(self, *args, **kwargs)
        self.group.stale = True

    def __ior__(self, other):
        self.update(other)
        return self

    def __reduce__(self):
        return dict, (dict(self),)


# The flat step's stores into the parameters' states: dict's own methods, not ParamState's
# (not a replacement by hand). Storing ``step`` into 100 states costs 6.2 us with ``_update``
# mapped over them (7.0 with ``_store`` in a loop; 2.4 into plain dicts by subscript).
_store, _update = dict.__setitem__, dict.update
_NONE = object()  # no buffer (a state value of None is not one)
_ARRAY = operator.attrgetter("array")
_TRANSPOSE = operator.attrgetter("T")
_GRAD = operator.attrgetter("_grad")
_FIT = operator.attrgetter("__class__", "shape", "dtype")  # FlatGroup.fits of a gradient


def _copy_each(views: list[Array], arrays: list[Array]) -> None:
    """``view[...] = array`` for each pair: the gather on NumPy. One copy per view costs
    25-35% less than ``numpy.concatenate(arrays, axis=None, out=)`` (W3's six gradients
    2.4 -> 1.8 us, 100 gradients of Linear(32, 32) layers 24.4 -> 19.6 us, W1's six 22.4 ->
    21.3 us; ``timeit``, BENCHMARKS.md "Issue 14: W3, second pass (h16w3b)"). A function of
    its own so that no local variable outlives the loop (:meth:`FlatGroup._lend` counts the
    references to the arrays)."""
    for view, array in zip(views, arrays):
        view[...] = array


def _references(arrays: list[Array]) -> list[int]:
    """``sys.getrefcount`` of each array of the list, counted as :data:`_UNHELD` counts."""
    return list(map(sys.getrefcount, arrays))


_UNHELD = _references([np.empty(0)])[0]  # an array that only its list holds (CPython: 2)


def _is_array(v: Any) -> bool:
    return isinstance(v, np.ndarray) or type(v).__module__.startswith("cupy")


def _owns_memory(array: Array) -> bool:
    """``array`` owns its memory, or is the transpose of an array that owns it and that
    nothing else holds (a column-major gradient, ``(x^T g)^T``, as ``ops.linalg.Linear``
    makes it): then no one else can see it change."""
    base = array.base
    if base is None:
        return True
    # an unheld base's references: ``array``'s, the name ``base`` and getrefcount's argument
    return array.ndim == 2 and base.base is None and sys.getrefcount(base) == _UNHELD + 1 \
        and base.shape == array.shape[::-1]


def _column_major(a: Array) -> bool:
    """A 2-D array stored F-contiguous and not C-contiguous (``nn.Linear``'s weight)."""
    return a.ndim == 2 and not a.flags.c_contiguous


def span_view(buffer: Array, span: tuple) -> Array:
    """The view of flat ``buffer`` that ``span`` (``(start, stop, shape, column_major)``)
    describes: the parameter's shape, in its memory layout."""
    a, b, shape, column_major = span
    if column_major:
        return buffer[a:b].reshape(shape[::-1]).T
    return buffer[a:b].reshape(shape)


def _same_place(arrays: list[Array]) -> bool:
    """Floating arrays of one dtype, one array type and one device, each C-contiguous or 2-D
    F-contiguous (kept in that layout: :func:`span_view`)."""
    first = arrays[0]
    kind, dtype = type(first), first.dtype
    if dtype.kind != "f":
        return False
    device = None if kind is np.ndarray else first.device
    return all(type(a) is kind and a.dtype == dtype
               and (a.flags.c_contiguous or a.ndim == 2 and a.flags.f_contiguous)
               and (device is None or a.device == device) for a in arrays)


# The flat step copies every gradient into one buffer (one extra pass over the parameters);
# the per-tensor step pays about ten NumPy calls per tensor instead (~2 us each). The copy is
# the cheaper one only while the tensors are small. Measured (BENCHMARKS.md, "Flat optimizer
# steps"): Adam over W3's 6 tensors (1.5 K numbers on average) 2.7x faster flat and the W3
# epoch 15% faster; over W1's 6 tensors (39 K on average) the step alone with fixed gradients
# was 12% faster flat, but whole W1 training steps were not faster and W1 epochs were slower
# (the gradients come fresh from backward, out of cache); over bench_optim.py's 8 tensors
# (163 K on average) 10% slower, SGD's 70% slower. So a group goes flat only while its
# tensors hold at most this many numbers on average; a group above it lays out the tensors
# that hold at most this many each (W1's biases and last weight), if two or more. Not in a
# step that minigrad.jit replays lean, whose gradients come laid out flat: there the whole
# group is (``relocate(whole=True)``, ``Optimizer._lay_out_whole``).
FLAT_MEAN_NUMEL = 1 << 13

LEND_EVERY = 64  # (FlatGroup.gather)

_BUFFERS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id -> flat buffer


def _ours(array: Array) -> bool:
    """True when ``array`` is a view of a buffer made by :func:`relocate` (whose spans are
    disjoint, so the parameter is its only user)."""
    base = array.base
    return base is not None and _BUFFERS.get(id(base)) is base


def relocate(group_params: list[Tensor], whole: bool = False,
             in_part: bool = True) -> FlatGroup | None:
    """Move the parameters into one buffer (values unchanged), or None if they don't qualify.

    A parameter qualifies when it owns its memory or is a view that :func:`relocate` made (a
    parameter that shares memory with another array, e.g. a tied transpose, keeps its own);
    the group, when its tensors are small (:data:`FLAT_MEAN_NUMEL`). A group whose tensors are
    too large on average lays out its small ones only (each of at most ``FLAT_MEAN_NUMEL``
    numbers), when there are two or more, and steps the large ones per tensor: W1's Adam
    step then makes 2 passes of calls instead of 6 (BENCHMARKS.md, "Issue 14: W1/W2 per-step
    work"). ``whole``: lay out every parameter whatever its size, for a step whose gradients
    come already laid out flat, so that no gather costs what the single pass saves
    (minigrad.jit's lean replay: ``Optimizer._lay_out_whole``). ``in_part`` False: a group
    too large on average is not laid out at all (``Optimizer.flat_in_part``).
    """
    members = list(range(len(group_params)))
    if (not whole
            and sum(p.array.size for p in group_params) > FLAT_MEAN_NUMEL * len(group_params)):
        if not in_part:
            return None
        members = [i for i, p in enumerate(group_params) if p.array.size <= FLAT_MEAN_NUMEL]
    params = [group_params[i] for i in members]
    arrays = [p.array for p in params]
    if (len(arrays) < 2 or not _same_place(arrays)
            or len({id(a) for a in arrays}) != len(arrays)):
        return None
    if any(a.base is not None and not _ours(a) for a in arrays):
        return None
    xp = get_array_module(arrays[0])
    spans, start = [], 0
    for a in arrays:
        spans.append((start, start + a.size, a.shape, _column_major(a)))
        start += a.size
    with on_device_of(arrays[0]):  # CuPy allocates on the current device: the parameters'
        param = xp.empty(start, arrays[0].dtype)
        xp.concatenate([a.T if span[3] else a for a, span in zip(arrays, spans)], axis=None,
                       out=param)
        flat = FlatGroup(params, param, spans, list(group_params), members)
    try:
        _BUFFERS[id(param)] = param
    except TypeError:  # an array type without weak references: its views won't be moved again
        pass
    for p, view in zip(params, flat.views):
        p.array = view
    return flat


def adopt_state(flat: FlatGroup, states: list[dict | None], fresh: dict,
                per_tensor: tuple[str, ...] = ()) -> bool:
    """Lay the parameters' state out flat; False (nothing changed) if it can't be.

    Args:
        flat: the relocated group.
        states: each parameter's current state dict, or None before its first step.
        fresh: ``init_state`` of the flat parameter with ``step = 0`` (the state of a group
            whose parameters have not stepped yet).
        per_tensor: the keys whose numbers each parameter keeps its own value of
            (``Optimizer.per_tensor_state``): the flat state holds a list of them, one per
            parameter, and :data:`SEGMENTS` (see :class:`Segments`).

    Returns:
        True when every parameter's state is now a view of ``flat.state``; the states must all
        be None (then ``fresh`` is used) or all hold the same keys and numbers (per-tensor
        keys aside), with arrays of the parameter's shape and dtype.
    """
    flat.stale = True
    flat.buffers, flat.handed = {}, {}
    flat.per_tensor = per_tensor
    if all(st is None for st in states):
        flat.stale = False
        flat.state = fresh
        flat.states = [ParamState({}, flat) for _ in states]
        for key, value in fresh.items():
            if _is_array(value):
                flat._share(key, value)
        for key in per_tensor:
            fresh[key] = [fresh[key]] * len(states)
        _hand_segments(flat)
        flat.scatter_state()
        flat.state_lens = list(map(len, flat.states))
        return True
    if any(st is None for st in states) or not _same_layout(flat, states):
        return False  # (stale: the next flat step tries again)
    first = states[0]
    flat.states = [ParamState(st, flat) for st in states]  # (new dicts: see ParamState)
    flat.state = {k: v for k, v in first.items() if not _is_array(v)}
    for key in per_tensor:
        flat.state[key] = [st[key] for st in states]
    flat.handed = dict(flat.state)
    _hand_segments(flat)
    xp = get_array_module(flat.param)
    with on_device_of(flat.param):
        for key in [k for k, v in first.items() if _is_array(v)]:
            buffer = xp.empty_like(flat.param)
            xp.concatenate(flat.in_memory_order([st[key] for st in states]), axis=None,
                           out=buffer)
            flat._share(key, buffer)
    flat.state_lens = list(map(len, flat.states))
    flat.stale = False
    return True


def _same_layout(flat: FlatGroup, states: list[dict]) -> bool:
    """Every state has the first one's keys and numbers (each its own for a per-tensor key),
    and arrays shaped as its parameter."""
    first = states[0]
    dtype = flat.param.dtype
    for st, view in zip(states, flat.views):
        if st.keys() != first.keys():
            return False
        for key, value in st.items():
            ref = first[key]
            if _is_array(value) != _is_array(ref):
                return False
            if _is_array(value):
                if (value.shape != view.shape or value.dtype != dtype
                        or type(value) is not type(view)):
                    return False
            elif key not in flat.per_tensor and (type(value) is not type(ref) or value != ref):
                return False
    return True


# ------------------------------------------------ per-tensor numbers in a flat group (SWATS)
# An additive hook for an update that is elementwise but for a few numbers per tensor, taken
# from reductions over each tensor (SWATS's dot products p.g and p.p, its phase and rate).
# Only optimizers that name such keys (``Optimizer.per_tensor_state``) see any of it.

SEGMENTS = "segments"  # the flat state's key of the group's :class:`Segments`


class Segments:
    """Where each parameter of a flat group lies in the group's flat buffers, for an update
    with per-tensor numbers: per-tensor sums over the buffer, per-tensor values spread to
    every element.

    Each parameter holds the span ``[a, b)`` of the buffers, whatever the order of its
    elements inside (a span's memory is the tensor's memory, C- or F-ordered alike), so a
    reduction over a span is that tensor's reduction. ``update`` finds it as
    ``state[SEGMENTS]`` in the flat state; it is never a parameter's state.

    Attributes:
        count: the number of parameters; ``sizes``: each one's number of elements.
    """

    __slots__ = ("count", "sizes", "_starts", "_filled", "_memo", "_buffer", "_runs")

    def __init__(self, spans: list[tuple], buffer: Array):
        xp = get_array_module(buffer)
        self.count = len(spans)
        self.sizes = [span[1] - span[0] for span in spans]
        filled = [i for i, n in enumerate(self.sizes) if n]  # reduceat can't sum an empty span
        with on_device_of(buffer):
            self._filled = None if len(filled) == self.count else xp.asarray(filled)
            self._starts = xp.asarray([spans[i][0] for i in filled], dtype=np.intp)
        self._buffer = buffer  # (its device and dtype)
        self._memo: dict[str, tuple[Any, Any]] = {}
        self._runs = _runs([span[0] for span in spans], self.sizes, buffer.shape[0])

    def sums(self, x: Array) -> Array:
        """The sum over each parameter's span of the flat array ``x`` (in ``x``'s dtype, each
        span summed in order: ``add.reduceat``), a vector of :attr:`count` on its device."""
        xp = get_array_module(x)
        if self._filled is None:
            return xp.add.reduceat(x, self._starts)
        sums = xp.zeros(self.count, x.dtype)
        if len(self._starts):
            sums[self._filled] = xp.add.reduceat(x, self._starts)
        return sums

    def dots(self, p: Array, g: Array, scratch: Array | None = None) -> Array:
        """``p . g`` and ``p . p`` over each parameter's span of the flat arrays ``p`` and
        ``g`` (shaped as the buffer): an array of shape ``(2, count)`` on their device, in
        their dtype. ``scratch``: an array shaped as ``p`` for the products of a layout
        without runs (by default a new one).

        When the spans fall into a few runs of equal sizes at equal strides (weights and
        biases alternating: 50 Linear(32, 32) layers make two runs), each run is a strided
        2-D view of ``p`` and of ``g``, one row per span, and its dot products are row-wise
        (``vecdot``, SIMD, no products array made): SWATS's dot products over 100 tensors,
        with their copy to the host, 34.6 -> 18.2 us, against about 9 for one tensor's two
        BLAS dots (summed in another order than span by span: the same numbers to float
        round-off; BENCHMARKS.md, "Issue 14: small tensors (h17small)"). Other layouts
        multiply, then sum each span in order (:meth:`sums`)."""
        xp = get_array_module(p)
        if self._runs is None:
            products = xp.multiply(p, g, out=scratch)
            p_dot_g = self.sums(products)
            return xp.stack((p_dot_g, self.sums(xp.multiply(p, p, out=products))))
        row_dots = getattr(xp, "vecdot", None) or _row_dots  # (NumPy >= 2)
        with on_device_of(p):
            out = xp.empty((2, self.count), p.dtype)
            for first, rows, step, size, where, last, last_index in self._runs:
                x = p[first:first + rows * step].reshape(rows, step)[:, :size]
                y = g[first:first + rows * step].reshape(rows, step)[:, :size]
                out[0, where] = row_dots(x, y)                       # p . g
                out[1, where] = row_dots(x, x)                       # p . p
                if last is not None:  # the run's last span, which ends short of a stride
                    x, y = p[last:last + size], g[last:last + size]
                    out[0, last_index] = xp.dot(x, y)
                    out[1, last_index] = xp.dot(x, x)
        return out

    def spread(self, values: list, dtype: Any = None) -> Array:
        """The flat array (of ``dtype``, by default the buffer's, on the buffer's device)
        whose elements in each parameter's span are that parameter's value in ``values``:
        ``repeat(values, sizes)``."""
        xp = get_array_module(self._buffer)
        with on_device_of(self._buffer):
            return xp.repeat(xp.asarray(values, dtype=dtype or self._buffer.dtype), self.sizes)

    def memo(self, name: str, key: Any, make: Callable[[], Any]) -> Any:
        """``make()``, kept under ``name`` and given again while ``key`` stays equal: for
        values made from per-tensor numbers that seldom change (SWATS's per-element rates
        change at a switch or with the group's ``lr``). The caller must not write it."""
        kept = self._memo.get(name)
        if kept is None or kept[0] != key:
            kept = self._memo[name] = (key, make())
        return kept[1]


def _runs(starts: list[int], sizes: list[int], length: int) -> list[tuple] | None:
    """The spans of a flat buffer of ``length`` elements as runs of equal sizes at equal
    strides, when at most :data:`MAX_RUNS` runs of two spans or more cover every span; else
    None. Each run is ``(first start, rows, stride, size, where, last, last index)``: its
    first ``rows`` spans are the rows of the 2-D view ``x[first:first + rows * stride]
    .reshape(rows, stride)[:, :size]`` (``where``: their indices, a slice), and ``last``,
    unless None, is the start of one more span (index ``last index``) whose stride would
    run past the buffer's end."""
    by_size: dict[int, list[int]] = {}
    for i, size in enumerate(sizes):
        by_size.setdefault(size, []).append(i)
    runs: list[tuple] = []
    for size, members in by_size.items():
        if size == 0:
            return None
        j = 0
        while j < len(members):
            k = j + 2  # a run: its first two members, and the next ones at the same strides
            while k < len(members) and (
                    members[k] - members[k - 1] == members[j + 1] - members[j]
                    and starts[members[k]] - starts[members[k - 1]]
                    == starts[members[j + 1]] - starts[members[j]]):
                k += 1
            if k > len(members):
                return None  # a lone span
            first, di = members[j], members[j + 1] - members[j]
            step = starts[members[j + 1]] - starts[first]
            rows = min(k - j, (length - starts[first]) // step)
            last = None if rows == k - j else starts[members[k - 1]]
            runs.append((starts[first], rows, step, size, slice(first, first + rows * di, di),
                         last, members[k - 1]))
            j = k
    return runs if len(runs) <= MAX_RUNS else None


MAX_RUNS = 8  # (Segments.dots: two row-wise dot products per run)


def _row_dots(x: Array, y: Array) -> Array:
    """The dot product of each row of ``x`` with the same row of ``y`` (``vecdot`` where the
    array module has none)."""
    return get_array_module(x).einsum("ij,ij->i", x, y)


def _hand_segments(flat: FlatGroup) -> None:
    """Put the group's :class:`Segments` into its flat state when the optimizer keeps
    per-tensor numbers (handed: never stored into the parameters' states)."""
    if flat.per_tensor:
        segments = Segments(flat.spans, flat.param)
        flat.state[SEGMENTS] = flat.handed[SEGMENTS] = segments
