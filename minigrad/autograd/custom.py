"""Custom differentiable functions in torch's form.

    class Exp(minigrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

    y = Exp.apply(x)

``forward`` runs on Tensors with gradient recording off; ``backward`` gets one gradient per
output (zeros for outputs that received none) and returns one per ``forward`` argument (None
for those that need none; ``ctx.needs_input_grad`` says which do). When ``backward`` is written
with tensor operations, it is itself differentiable: ``create_graph=True`` records it, so
gradients of gradients work. torch 2's split form (``forward(*args)`` without ctx, plus
``setup_context(ctx, inputs, output)``) is accepted too.

This is the user-facing class. The library's own ops use the leaner base class of
:mod:`minigrad.autograd.function` (forward on raw arrays, one class per op).
"""

from __future__ import annotations

import functools

from ..backend import get_array_module
from ..grad_mode import no_grad, thread_state
from ..tensor import Tensor
from ..write_clock import writes
from . import function as _function

_RIGHT_FORM = (
    "write them as @staticmethod forward(ctx, *args) and @staticmethod backward(ctx, *grads), "
    "and call F.apply(*args) (torch's form)"
)


class FunctionCtx:
    """The ``ctx`` passed to ``forward`` and ``backward``: what backward needs, kept by forward.

    Any attribute may also be set on it (``ctx.scale = 2.0``) for non-tensor values.
    """

    def __init__(self, needs_input_grad: tuple[bool, ...]):
        self.needs_input_grad = needs_input_grad
        self._saved: tuple = ()
        self._versions: tuple = ()
        self._non_differentiable: set[int] = set()
        self._materialize_grads = True
        self._released = False

    def save_for_backward(self, *tensors) -> None:
        """Keep these tensors (or None) for backward; changing one in place after this makes
        ``saved_tensors`` raise instead of giving a wrong gradient."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward can only save tensors (or None), but argument {i} is a "
                    f"{type(t).__name__}: keep other values as ctx attributes (ctx.name = value)"
                )
        self._saved = tensors
        self._versions = tuple(None if t is None else t._vc[0] for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        if self._released:
            raise RuntimeError(
                "trying to backward through the graph a second time (the saved tensors were "
                "freed); call backward(retain_graph=True) the first time if you need to"
            )
        for i, (t, v) in enumerate(zip(self._saved, self._versions)):
            if t is not None and t._vc[0] != v:
                raise RuntimeError(
                    f"one of the tensors needed for gradient computation (saved tensor {i}, "
                    f"shape {tuple(t.shape)}) has been modified by an inplace operation "
                    f"(version {t._vc[0]}, expected {v})"
                )
        return self._saved

    def mark_non_differentiable(self, *outputs) -> None:
        """These outputs get no gradient (they are returned with requires_grad=False)."""
        self._non_differentiable.update(id(t) for t in outputs)

    def set_materialize_grads(self, value: bool) -> None:
        """False: backward gets None, not zeros, for outputs that received no gradient."""
        self._materialize_grads = bool(value)

    def mark_dirty(self, *tensors) -> None:
        raise NotImplementedError(
            "mark_dirty: custom functions that modify their inputs in place are not supported "
            "here; return a new tensor from forward instead"
        )


class _FunctionMeta(type):
    def __init__(cls, name, bases, namespace):
        super().__init__(name, bases, namespace)
        if namespace.get("_is_base"):
            return
        for method in ("forward", "backward"):
            impl = namespace.get(method)
            if impl is not None and not isinstance(impl, staticmethod):
                raise TypeError(
                    f"{name}.{method} must be a @staticmethod taking ctx first: {_RIGHT_FORM}. "
                    "(For an op on raw arrays in the library's own style, subclass "
                    "minigrad.autograd.function.Function instead.)"
                )


class Function(metaclass=_FunctionMeta):
    """Base class of user-defined differentiable functions, as ``torch.autograd.Function``."""

    _is_base = True

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            f"{type(self).__name__}: autograd functions are not instantiated: {_RIGHT_FORM}"
        )

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(f"a custom Function must define forward: {_RIGHT_FORM}")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(f"a custom Function must define backward: {_RIGHT_FORM}")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError  # only called when a subclass defines it

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on ``args`` and, when some tensor argument requires grad (and
        recording is on), record one node whose backward is ``cls.backward``."""
        if kwargs:
            raise TypeError(f"{cls.__name__}.apply() takes no keyword arguments (torch's rule); "
                            f"pass them positionally: got {sorted(kwargs)}")
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        split_form = cls.setup_context is not Function.setup_context
        with no_grad():
            out = cls.forward(*args) if split_form else cls.forward(ctx, *args)
            if split_form:
                cls.setup_context(ctx, args, out)
        single = not isinstance(out, tuple)
        outputs = (out,) if single else out
        for i, o in enumerate(outputs):
            if o is not None and not isinstance(o, Tensor):
                raise TypeError(f"{cls.__name__}.forward must return Tensors (or a tuple of "
                                f"them), but output {i} is a {type(o).__name__}")
        if not (thread_state.enabled and any(needs)):
            return out
        outputs = tuple(_fresh(o, args) for o in outputs)
        node_cls = cls.__dict__.get("_node_class")
        if node_cls is None:  # torch names the node class after the function: FBackward
            node_cls = type(f"{cls.__name__}Backward", (_CustomNode,), {})
            cls._node_class = node_cls
        node = node_cls(cls, ctx, args, outputs)
        if single:
            _attach(outputs[0], node, ctx)
            return outputs[0]
        node.connect_multi(outputs)
        return outputs


def once_differentiable(backward):
    """Decorator for a ``backward`` that is not itself differentiable: it runs with recording
    off, so ``create_graph=True`` through it gives gradients without a graph (as torch's)."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with no_grad():
            return backward(ctx, *grads)

    return wrapper


# ----------------------------------------------------------------------------- graph nodes


def _fresh(o, args):
    """The output as a tensor of its own: an input returned as is gets a new tensor that
    shares its storage (the input itself must keep its place in the graph)."""
    if o is None:
        return None
    if any(o is a for a in args) or o._ctx is not None or o.requires_grad:
        return Tensor._wrap(o.array)
    return o


def _attach(o: Tensor, node, ctx: FunctionCtx) -> None:
    if o is None or id(o) in ctx._non_differentiable or o.array.dtype.kind != "f":
        return
    o.requires_grad = True
    o._ctx = node


class _CustomNode(_function.Function):
    """The recorded node of one ``F.apply`` call: backward calls ``F.backward(ctx, *grads)``.

    For several outputs a hidden tensor stands for the call: each output's ``_Unpack`` node
    passes its gradient into a slot of a :class:`_GradTuple`, which the engine sums like any
    gradient, so ``F.backward`` runs once with every output's gradient.
    """

    def __init__(self, cls, ctx: FunctionCtx, args, outputs):
        self.cls, self.ctx = cls, ctx
        self.arg_positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        self.inputs = tuple(args[i] for i in self.arg_positions)
        self.needs_input_grad = tuple(ctx.needs_input_grad[i] for i in self.arg_positions)
        self.out_meta = tuple(None if o is None else (o.array.shape, o.array.dtype, o.array)
                              for o in outputs)
        self.sequence = next(_function._sequence)
        self.writes = writes[0]

    def connect_multi(self, outputs) -> None:
        xp = get_array_module(self.inputs[0].array)
        hidden = Tensor._wrap(xp.empty((0,), dtype=xp.float32), requires_grad=True)
        hidden._ctx = self
        for k, o in enumerate(outputs):
            if o is None or id(o) in self.ctx._non_differentiable or o.array.dtype.kind != "f":
                continue
            unpack = _Unpack(k, len(outputs), hidden, self.cls.__name__)
            o.requires_grad = True
            o._ctx = unpack

    def backward(self, grad):
        graph = isinstance(grad, Tensor) or (isinstance(grad, _GradTuple) and grad.is_graph)
        grads = grad.slots if isinstance(grad, _GradTuple) else [grad]
        grads = [self._materialize(k, g, graph) for k, g in enumerate(grads)]
        result = self.cls.backward(self.ctx, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        n_args = len(self.ctx.needs_input_grad)
        if len(result) < n_args or any(r is not None for r in result[n_args:]):
            raise RuntimeError(
                f"function {self.cls.__name__}Backward returned an incorrect number of "
                f"gradients (expected {n_args}, got {len(result)})"
            )
        for pos, r in enumerate(result[:n_args]):
            if r is not None and pos not in self.arg_positions:
                raise RuntimeError(
                    f"function {self.cls.__name__}Backward returned a gradient different than "
                    f"None at position {pos}, but the corresponding forward input was not a "
                    "Tensor (return None there)"
                )
        out_grads = []
        for pos, t in zip(self.arg_positions, self.inputs):
            out_grads.append(self._check_grad(pos, result[pos], t, graph))
        return tuple(out_grads)

    def _materialize(self, k: int, g, graph: bool):
        if g is None:
            meta = self.out_meta[k]
            if meta is None or not self.ctx._materialize_grads:
                return None
            z = get_array_module(meta[2]).zeros(meta[0], dtype=meta[1])
            return Tensor._wrap(z)
        return g if graph else Tensor._wrap(g)

    def _check_grad(self, pos: int, g, t: Tensor, graph: bool):
        if g is None or not self.ctx.needs_input_grad[pos]:
            return None
        if not isinstance(g, Tensor):
            raise TypeError(
                f"function {self.cls.__name__}Backward returned a {type(g).__name__} as the "
                f"gradient of argument {pos}: expected a Tensor or None"
            )
        gs, ts = tuple(g.shape), tuple(t.array.shape)
        if gs != ts and not _broadcasts_to(ts, gs):
            raise RuntimeError(
                f"function {self.cls.__name__}Backward returned an invalid gradient at index "
                f"{pos} - got {list(gs)} but expected shape compatible with {list(ts)}"
            )
        if g.array.dtype != t.array.dtype:
            g = g.to(t.array.dtype)
        return g if graph else g.array

    def __repr__(self) -> str:
        return f"<{self.cls.__name__}Backward>"


class _Unpack(_function.Function):
    """Output k of a several-output custom function: its gradient goes to slot k."""

    def __init__(self, k: int, n: int, hidden: Tensor, name: str):
        self.k, self.n, self.name = k, n, name
        self.inputs = (hidden,)
        self.needs_input_grad = (True,)
        self.sequence = next(_function._sequence)
        self.writes = writes[0]

    def backward(self, grad):
        slots = [None] * self.n
        slots[self.k] = grad
        return (_GradTuple(slots),)

    def __repr__(self) -> str:
        return f"<{self.name}Backward>"


class _GradTuple:
    """The gradients of a custom function's outputs, one slot each, summed slot by slot."""

    __slots__ = ("slots",)
    shape = (0,)  # the hidden tensor's shape, so the engine never tries to unbroadcast it

    def __init__(self, slots):
        self.slots = slots

    @property
    def is_graph(self) -> bool:
        return any(isinstance(s, Tensor) for s in self.slots)

    def __add__(self, other: _GradTuple) -> _GradTuple:
        return _GradTuple([b if a is None else a if b is None else a + b
                           for a, b in zip(self.slots, other.slots)])


def _broadcasts_to(shape: tuple, grad_shape: tuple) -> bool:
    """True if an input of ``shape`` broadcast to ``grad_shape`` (the engine sums it back)."""
    if len(shape) > len(grad_shape):
        return False
    return all(a == b or a == 1 for a, b in zip(shape[::-1], grad_shape[::-1]))
