"""``minigrad.jit``: capture a training step once, then replay it without building a graph.

    step = minigrad.jit(train_step)      # or @minigrad.jit above ``def train_step(x, y)``
    loss = step(x, y)                    # 1st call: runs eagerly and records the program
    loss = step(x, y)                    # later calls (same shapes): replay the program
    print(step.program)                  # the recorded kernels, one per line

A tracing JIT in three steps (docs/jit.md tells the whole story, with the rules and why):

1. **Record.** The first call with a given input signature (the shapes, dtypes and devices of
   the Tensor arguments, and the values of the others) runs ``train_step`` eagerly while the
   hooks of :mod:`minigrad.recording` report every computation on raw arrays to a
   :class:`_Recorder`: each ``Function.forward``, each ``backward`` and each gradient sum of
   the backward pass (walked here, exactly as the engine walks it), each gradient put into a
   ``.grad``, the few array functions the ``nn`` facade runs itself (batch statistics, checked
   class targets), and, whole, the calls whose effect is on Python state: ``optimizer.step``,
   ``zero_grad``, a scheduler's ``step``. Every array a kernel reads is given a *slot*: an
   input of the step, the output of an earlier kernel, or a parameter, buffer or constant
   bound by reference.
2. **Lower and allocate.** The program is the list of kernels, each ``(function, argument
   slots, keyword arguments, output slots)``, and a template slot table with the bound arrays.
   On NumPy each kernel is also *lowered* while it is recorded (:mod:`minigrad.lowering`): the
   op is run again on traced arrays and every NumPy call it makes becomes one instruction
   ``func(*args, out=buffer)``, its buffer allocated once. A kernel the lowering cannot vouch
   for (it reads a value to Python, draws random numbers, ...) stays op-level.
3. **Replay.** A later call with the same signature checks the guards (the modules' train/eval
   flags, their parameters and buffers, the optimizers' parameter groups), fills the input
   slots with the new arrays and runs the program: the lowered kernels' instructions (no
   Python of the ops, no allocation), the op-level kernels' functions (an op's
   ``forward``/``backward`` body), and the whole calls (``optimizer.step``, ...), which run
   their usual Python and read learning rates, step counts and optimizer state afresh. No
   Tensor, no graph, no engine, no argument checks.

On CuPy the runs of device kernels between the host kernels are captured into CUDA graphs and
launched one graph per run (:class:`_CudaGraphs`; docs/jit.md says what can be in a graph).
"""

from __future__ import annotations

import functools
import operator
import threading
import warnings
from collections.abc import Callable
from heapq import heappop, heappush

import numpy as np

from . import backend, lowering, recording
from .autograd import engine
from .autograd.function import _as_0d, unbroadcast
from .backend import is_cupy_array, on_device_of
from .grad_mode import thread_state
from .lowering import Lowerer, Traced
from .tensor import Tensor
from .write_clock import writes

__all__ = ["jit", "Jit", "Program", "JitFallbackWarning"]

_CACHE_SIZE = 16  # programs kept per jitted function (one per input signature)
_EAGER = "eager"  # a signature whose step could not be recorded: it runs eagerly


class JitFallbackWarning(UserWarning):
    """A step could not be captured (a rule of docs/jit.md was broken): it runs eagerly."""


class _Refused(Exception):
    """Raised inside the recorder when the step breaks a rule of capture."""


def _is_array(a) -> bool:
    return type(a) is np.ndarray or is_cupy_array(a)


def _bases(a):
    """``a``, then the array it views, and so on to the array that owns the memory."""
    while a is not None:
        yield a
        a = getattr(a, "base", None)


def _forward_0d(fn, *arrays, **params):
    """``fn.forward`` for an op whose result is 0-d: NumPy gives a scalar, made a 0-d array
    as ``Function.apply`` does."""
    out = fn.forward(*arrays, **params)
    if type(out) is not np.ndarray and isinstance(out, np.generic):
        out = _as_0d(fn, out)
    return out


def _grad_into(p: Tensor, copy: str, g) -> None:
    """Put gradient ``g`` into ``p.grad`` as the engine's sink does (``copy``: what the
    engine's GradOwnership decided at capture: 'keep', 'copy' or 'contiguous')."""
    grad = p._grad
    if grad is None:
        if copy == "copy":
            g = g.copy()
        elif copy == "contiguous":
            g = g.copy(order="C")
        p._grad = Tensor._wrap(g)
    elif grad.requires_grad:
        p._grad = Tensor._wrap(grad.array + g)
    else:
        grad.array += g


def _grads_into(sinks: list, *grads) -> None:
    """Gradients put into ``.grad`` (consecutive ``_grad_into`` kernels, replayed as one)."""
    for sink, g in zip(sinks, grads):
        sink(g)


def _call(method, obj, args, kwargs):
    """A call recorded whole (``optimizer.step()``, ...), made again at replay."""
    return method(obj, *args, **kwargs)


class _Recorder:
    """Watches one eager call of the step and writes down its kernels (see the module doc)."""

    def __init__(self, inputs: list, names: list[str], why_not: str | None = "not asked for"):
        self.arrays: list = []  # every array met, kept alive so that ids stay unique
        self.slot_of: dict[int, int] = {}
        self.labels: list[str] = []
        self.kinds: dict[int, str] = {}  # slot -> "shape dtype", for the program's listing
        self.bound: dict[int, object] = {}  # slot -> the value bound by reference
        self.kernels: list[tuple] = []  # (func, slots, static kwargs, slot kwargs, out, line)
        self.modules: dict[int, tuple] = {}  # id -> (module, training, registries)
        self.names: dict[int, str] = {}  # id(module) -> its name in the step's program
        self.persistent: dict[int, tuple] = {}  # id(array) -> (parameter or buffer, label)
        self.live: dict[int, tuple] = {}  # id(parameter) -> (its slot, the parameter)
        self.array_guards: dict[int, tuple] = {}  # id(tensor) -> (tensor, the array bound)
        self.optimizers: dict[int, tuple] = {}  # id -> (optimizer, [[params of each group]])
        self.refusal: str | None = None
        self.thread = threading.get_ident()  # other threads' work is not part of the step
        self.draws = _draws()
        self.host_fns: set[int] = set()  # ops whose forward runs from Python (random draws)
        # lowering (see minigrad/lowering.py): kernels turned into NumPy calls into buffers
        self.lowerer = Lowerer() if why_not is None else None
        self.lowering_off: str | None = why_not  # why nothing is lowered
        self.lowering_stopped = False  # after optimizer.step(): kernels stay op-level
        self.traced: dict[int, Traced] = {}  # slot -> its traced array (lowered, or bound)
        self.shadows: dict[int, object] = {}  # id(fn) -> the op lowered in its place
        self.not_lowered: list[tuple[str, str]] = []  # (kernel, why)
        self.env: list = []  # the program's slot table (the loads read it)
        self.rebound: list = []  # buffers that op-level backward kernels read (_rebind)
        for a, name in zip(inputs, names):
            self._new_slot(a, name)

    # ------------------------------------------------------------------ slots
    def _new_slot(self, value, label: str | None = None) -> int:
        s = len(self.labels)
        self.labels.append(label if label is not None else f"%{s}")
        if _is_array(value):
            self.kinds[s] = f"{tuple(value.shape)} {value.dtype}"
            self.arrays.append(value)
            self.slot_of[id(value)] = s
        return s

    def _bind(self, value, label: str) -> int:
        s = self._new_slot(value, label)
        self.bound[s] = value
        return s

    def _slot(self, a, user: str) -> int:
        """The slot of value ``a``, an argument of kernel ``user``."""
        if not _is_array(a):
            if isinstance(a, Tensor):
                return self._tensor_slot(a, user)
            return self._bind(a, _short(a))
        s = self.slot_of.get(id(a))
        if s is not None:
            return s
        for base in _bases(a):
            known = self.persistent.get(id(base))
            if known is not None:  # a buffer's array, or a view of a parameter or buffer
                t, label = known
                self.array_guards[id(t)] = (t, t.array)
                return self._bind(a, label if a is t.array else f"view({label})")
        if a.size <= 1:  # a Python number made an array by the library: a constant
            return self._bind(a, f"const({_short(a)})")
        raise _Refused(f"{user} reads an array of shape {tuple(a.shape)} that no recorded "
                       "kernel made and that is no input, parameter or buffer (it was computed "
                       "by code the recorder does not see)")

    def _tensor_slot(self, t: Tensor, user: str) -> int:
        s = self.slot_of.get(id(t.array))
        if s is not None:
            return s
        if t._ctx is not None:
            raise _Refused(f"{user} reads a tensor computed outside the step (it has a graph)")
        if t.requires_grad:  # a parameter: its slot is read from it at every replay
            return self._live_slot(t)
        known = self.persistent.get(id(t.array))
        if known is not None:  # a buffer: bound by reference, guarded
            self.array_guards[id(t)] = (t, t.array)
            return self._bind(t.array, known[1])
        if t.array.size <= 1:  # a number the library made a tensor (a loss's seed gradient)
            return self._bind(t.array, f"const({_short(t.array)})")
        raise _Refused(
            f"{user} reads a tensor of shape {tuple(t.shape)} that is no input, parameter or "
            "registered buffer and that no recorded kernel made (it was computed from raw "
            "arrays by code the recorder does not see, or it is a constant tensor kept in a "
            "plain attribute): a replay would read it frozen. Register a constant as a buffer "
            "(module.register_buffer) or pass it as an argument of the step")

    def _live_slot(self, t: Tensor) -> int:
        """The slot of parameter ``t``, filled with ``t.array`` at the start of every replay
        (and after every call replayed whole): an optimizer may give it a new array."""
        entry = self.live.get(id(t))
        if entry is None:
            label = self.persistent.get(id(t.array), (None, f"param{tuple(t.shape)}"))[1]
            entry = self.live[id(t)] = (self._bind(t.array, label), t)
        return entry[0]

    def _tensor_label(self, t: Tensor) -> str:
        return self.persistent.get(id(t.array), (None, f"tensor{tuple(t.shape)}"))[1]

    def _kwargs(self, params: dict, user: str) -> tuple[dict, tuple]:
        static, dyn = {}, []
        for k, v in params.items():
            if _is_array(v):
                dyn.append((k, self._slot(v, user)))
            elif isinstance(v, Tensor):
                dyn.append((k, self._tensor_slot(v, user)))
            else:
                static[k] = v
        return static, tuple(dyn)

    def _add(self, func, name: str, args, params: dict, outs, host: bool = False,
             tensors: bool = False, lower=None):
        """Record kernel ``name``: ``func(*args, **params)`` gave ``outs`` (an array, a tuple
        or None). ``host``: it reads or writes Python state (a CUDA graph cannot hold it).
        ``tensors``: Tensor arguments are bound as they are (not by their arrays).
        ``lower``: the function to lower the kernel with (``func`` on a shadow op).
        Refusals stop the recording (the step goes on, eagerly). Returns the kernel's
        lowered instructions, or None."""
        if self.refusal is not None:
            return None
        try:
            slots = tuple(self._bind(a, self._tensor_label(a)) if tensors and isinstance(a, Tensor)
                          else self._slot(a, name) for a in args)
            static, dyn = self._kwargs(params, name)
        except _Refused as why:
            self.refuse(str(why))
            return
        if outs is None:
            out = None
        elif isinstance(outs, (tuple, list)):
            out = tuple(None if o is None else self._new_slot(o) for o in outs)
        else:
            out = self._new_slot(outs)
        code = None
        if lower is not None and self.lowering_off is None and not self.lowering_stopped:
            try:
                code = self._lower(lower, name, args, slots, params, outs, out)
            except Exception as err:  # noqa: BLE001 - a lowering bug must not break the step
                self.not_lowered.append((name, f"lowering raised {type(err).__name__}: {err}"))
        self.kernels.append((func, slots, static, dyn, out, name, host, code))
        return code

    def _lower(self, func, name: str, args, slots, params: dict, outs, out):
        """``func`` run on traced arguments (minigrad/lowering.py): the kernel's instructions,
        or None if it cannot be lowered (it stays op-level; :attr:`not_lowered` says why)."""
        low = self.lowerer
        low.begin()
        pending: dict[int, Traced] = {}
        targs = [self._traced(a, s, pending) for a, s in zip(args, slots)]
        tkw = {}
        for k, v in params.items():
            if isinstance(v, Tensor):
                low.fail(f"keyword argument {k} is a Tensor")
            tkw[k] = self._traced(v, self.slot_of.get(id(v)), pending) if _is_array(v) else v
        generator = backend.default_generator.numpy.bit_generator
        draws, state = _draws(), generator.state
        done = None if low.why is not None else low.lower(func, targs, tkw)
        if _draws() != draws:  # the traced run drew: undo it (the eager run drew already)
            generator.state = state
            low.fail("draws random numbers")
        many = isinstance(out, tuple)
        if done is not None:
            code, result = done
            eager = outs if many else (outs,)
            got = result if many else (result,)
            slots_out = out if many else (out,)
            if not isinstance(got, (tuple, list)) or len(got) != len(eager):
                low.fail("returned something else than the eager call")
            else:
                for e, r in zip(eager, got):
                    if (e is None) != (r is None) or e is not None and not (
                            isinstance(r, np.ndarray) and low.known(r) and _same(r, e)):
                        low.fail("returned an array that differs from the eager result, or "
                                 "that no traced call made")
        if low.why is not None:
            self.not_lowered.append((name, low.why))
            return None
        self.traced.update(pending)
        for s, r in zip(slots_out, got):
            if s is not None:
                self.traced[s] = r if type(r) is Traced else r.view(Traced)
        return code

    def _traced(self, a, s, pending: dict):
        """The traced array standing for argument ``a`` (slot ``s``) of a kernel lowered."""
        if isinstance(a, Tensor):  # an op's input
            a = a.array
        if not _is_array(a):
            return a
        t = self.traced.get(s)
        if t is None:
            t = pending.get(s)
        if t is None:
            if s in self.bound:
                t = self.lowerer.bind(a)
            else:
                t = self.lowerer.copy_in(a, self.env, s)
            pending[s] = t
        return t

    def refuse(self, why: str) -> None:
        """Stop recording: the rest of this call runs eagerly; the signature stays eager."""
        if self.refusal is None:
            self.refusal = why
        recording.recorder[0] = None

    # ------------------------------------------------------------------ hooks
    def records_this_thread(self) -> bool:
        """Whether the calling thread is the one running the step being captured."""
        return threading.get_ident() == self.thread

    def forward(self, fn, inputs, params, out) -> None:
        """``Function.apply`` ran ``fn.forward``: record it (flagged host if it drew)."""
        if threading.get_ident() != self.thread:
            return
        func = functools.partial(_forward_0d, fn) if out.ndim == 0 else fn.forward
        draws, self.draws = self.draws, _draws()
        if draws != self.draws:  # it drew random numbers: each replay draws anew, from Python
            self.host_fns.add(id(fn))
        host = id(fn) in self.host_fns
        shadow = None if host else type(fn).__new__(type(fn))  # the op lowered in fn's place
        if self._add(func, f"{type(fn).__name__}.forward", inputs, params, out, host=host,
                     lower=None if host else shadow.forward) is not None:
            self.shadows[id(fn)] = shadow

    def call_kernel(self, func, args, kwargs):
        """``recording.kernel``: call ``func`` (unrecorded inside) and record the call."""
        if threading.get_ident() != self.thread:
            return func(*args, **kwargs)
        recording.recorder[0] = None  # what the kernel does inside is the kernel
        try:
            outs = func(*args, **kwargs)
        finally:
            if self.refusal is None:
                recording.recorder[0] = self
        self._add(func, getattr(func, "__name__", "kernel").lstrip("_"), args, kwargs, outs,
                  host=True, tensors=True)  # facade code: it may read values to the host
        return outs

    def call_whole(self, method, obj, args, kwargs):
        """``@replayed_whole``: record the call as one host kernel, then make it, unrecorded
        inside. Refused: tensor arguments, a closure, a returned value."""
        if threading.get_ident() != self.thread:
            return method(obj, *args, **kwargs)
        name = f"{type(obj).__name__}.{method.__name__}"
        if any(isinstance(v, Tensor) or _is_array(v) for v in (*args, *kwargs.values())):
            self.refuse(f"{name} got a tensor argument (a value computed in the step)")
        elif args and callable(args[0]) or kwargs.get("closure") is not None:
            self.refuse(f"{name} got a closure (it would re-run the model eagerly)")
        elif self.refusal is None:
            if hasattr(obj, "param_groups") and hasattr(obj, "state"):
                self.optimizers[id(obj)] = (obj, _groups_of(obj))
            call = functools.partial(_call, method, obj, args, kwargs)
            self.kernels.append((call, (), {}, (), -1, f"{name}()  # called whole, in Python",
                                 True, None))
            if method.__name__ == "step" and hasattr(obj, "param_groups"):
                self.lowering_stopped = True  # it may move the parameters (flat groups)
        recording.recorder[0] = None  # the call itself is not recorded kernel by kernel
        try:
            result = method(obj, *args, **kwargs)
        finally:
            if self.refusal is None:
                recording.recorder[0] = self
        if result is not None:
            self.refuse(f"{name} returned a value, which a replay could not give back")
        return result

    def saw_module(self, m) -> None:
        """``Module.__call__``: note the module's mode, parameters and buffers (the guards),
        and name them for the program's listing."""
        if id(m) in self.modules or threading.get_ident() != self.thread:
            return
        name = self.names.get(id(m), type(m).__name__)
        registries = []
        for registry in ("_parameters", "_buffers"):
            d = m.__dict__[registry]
            registries.append((d, [(k, t, None if t is None else t.array) for k, t in d.items()]))
            for k, t in d.items():
                if t is not None:
                    self.persistent.setdefault(id(t.array), (t, f"{name}.{k}"))
        for k, child in m.__dict__["_modules"].items():
            if child is not None:
                self.names.setdefault(id(child), f"{name}.{k}")
        self.modules[id(m)] = (m, m.training, registries)

    def inplace_write(self, t: Tensor) -> None:
        """``Tensor._bump_version`` outside a kernel or a whole call: refuse."""
        if threading.get_ident() != self.thread:
            return
        self.refuse(f"an in-place write to a tensor of shape {tuple(t.shape)} outside any op "
                    "(x.add_(...), clip_grad_norm_, a hand-written update) would not be "
                    "replayed")

    def host_read(self, what: str) -> None:
        """``item()``, ``numpy()``, ``bool()``... of a tensor: refuse."""
        if threading.get_ident() != self.thread:
            return
        self.refuse(f"{what} of a tensor inside the step reads a value to Python (the replay "
                    "could not follow a branch on it)")

    # ------------------------------------------------------------------ backward
    def run_backward(self, roots, root_grads, retain_graph, create_graph, inputs):
        """The engine's walk (``engine.run_backward``, plain case), recording every kernel."""
        why = None
        if create_graph or inputs is not None:
            why = "backward with create_graph or inputs (autograd.grad)"
        elif engine._post_hooks:
            why = "post-accumulate-grad hooks"
        elif _has_hooks(roots):
            why = "tensor hooks or retain_grad in the graph"
        if why is not None:
            self.refuse(f"{why} inside the step")
            return engine.run_backward(roots, root_grads, retain_graph, create_graph, inputs)
        grads, heap, leaves = engine._order_roots(roots, root_grads)
        previous = thread_state.enabled
        thread_state.enabled = False
        device = on_device_of(roots[0].array)
        device.__enter__()
        try:
            while heap:
                t = heappop(heap)[1]
                g = grads.pop(id(t))
                fn = t._ctx
                if fn.inputs is None:
                    raise engine._freed_graph_error(fn)
                if fn.writes != writes[0]:
                    fn.check_versions(t)
                in_grads = fn.backward(g, *fn.saved)
                shadow = self.shadows.get(id(fn))
                name = f"{type(fn).__name__}.backward"
                if shadow is not None:
                    shadow.needs_input_grad = fn.needs_input_grad
                if self._add(fn.backward, name, (g, *fn.saved), {}, tuple(in_grads),
                             host=id(fn) in self.host_fns,  # reads its mask
                             lower=None if shadow is None else functools.partial(
                                 _shadow_backward, shadow)) is None and shadow is not None:
                    self._rebind(fn, shadow)
                self._route(fn, in_grads, grads, heap, leaves)
                if not retain_graph:
                    fn.inputs = None
            ownership = engine.GradOwnership(root_grads)
            for k, t in leaves.items():
                self._finish_leaf(t, grads.pop(k), ownership)
        finally:
            thread_state.enabled = previous
            device.__exit__(None, None, None)

    def _rebind(self, fn, shadow) -> None:
        """The backward of ``fn`` stays op-level but its forward is lowered: the forward's
        Python no longer runs at replay, so the arrays it kept on ``fn`` (a mask, a softmax)
        would be frozen. They are made views of the buffers the shadow's forward kept, which
        the lowered forward fills at every replay."""
        def buffers(v):
            if isinstance(v, Traced):
                plain = v.view(np.ndarray)
                self.rebound.append(plain)
                return plain
            if isinstance(v, (tuple, list)):
                return type(v)(buffers(x) for x in v)
            return v

        for k, v in shadow.__dict__.items():
            if k != "needs_input_grad":
                setattr(fn, k, buffers(v))

    def _route(self, fn, in_grads, grads, heap, leaves) -> None:
        for p, need, ig in zip(fn.inputs, fn.needs_input_grad, in_grads):
            if need and ig is not None:
                if ig.shape != p.array.shape:
                    shape = p.array.shape
                    g = unbroadcast(ig, shape)
                    self._add(unbroadcast, "unbroadcast", (ig, shape), {}, g, lower=unbroadcast)
                    ig = g
                k = id(p)
                prev = grads.get(k)
                if prev is not None:
                    grads[k] = prev + ig
                    self._add(operator.add, "add", (prev, ig), {}, grads[k], lower=operator.add)
                else:
                    grads[k] = ig
                    if p._ctx is None:
                        leaves[k] = p
                    else:
                        heappush(heap, (-p._ctx.sequence, p))

    def _finish_leaf(self, t: Tensor, g, ownership) -> None:
        if t._grad is None:
            kept = ownership.claim(g, t.array)
            copy = "keep" if kept is g else (
                "contiguous" if not g.flags.c_contiguous else "copy")
            t._grad = Tensor._wrap(kept)
        else:
            copy = "copy"
            if t._grad.requires_grad:
                t._grad = Tensor._wrap(t._grad.array + g)
            else:
                t._grad.array += g
        label = self.persistent.get(id(t.array), (None, f"param{tuple(t.shape)}"))[1]
        self._add(functools.partial(_grad_into, t, copy), f"{label}.grad +=", (g,), {}, None,
                  host=True)

    # ------------------------------------------------------------------ the program
    def finish(self, result, signature) -> Program:
        """The recorded program; ``result`` (what the step returned) becomes its outputs."""
        outputs = self._outputs(result)
        lines = [_line(k[:6], self.labels, self.kinds) for k in self.kernels]
        program = Program(self.kernels, lines, len(self.labels), self.bound, len(signature[0]),
                          outputs,
                          list(self.modules.values()), list(self.array_guards.values()),
                          list(self.live.values()), list(self.optimizers.values()))
        program.not_lowered = self.not_lowered
        program.lowering_off = self.lowering_off
        if self.lowering_off is None and any(k[7] is not None for k in self.kernels):
            try:
                program.lower(self.kernels, self.traced, self.env, self.lowerer.written,
                              self.rebound)
            except Exception as err:  # noqa: BLE001 - a lowering bug must not break the step
                # every kernel op-level: each forward sets its op's attributes again
                program = self.finish_op_level(result, signature)
                program.lowering_off = f"lowering raised {type(err).__name__}: {err}"
                return program
            program.names = {lowering.key(t): self.labels[s] for s, t in self.traced.items()}
            program.names.update({k: f"{self.labels[v[0]]}{''.join(v[2:])} in {v[1]}"
                                  if type(v) is tuple else v
                                  for k, v in program.flat_names.items()})
            program.labels = self.labels
        return program

    def finish_op_level(self, result, signature) -> Program:
        """The program without lowering (every kernel op-level)."""
        self.lowering_off = "not lowered"
        self.kernels = [(*k[:7], None) for k in self.kernels]
        return self.finish(result, signature)

    def _outputs(self, result):
        if result is None or isinstance(result, (bool, int, float, str)):
            return ("value", result)
        if isinstance(result, Tensor):
            return ("tensor", self._slot(result.array, "the step's result"))
        if isinstance(result, (tuple, list)):
            return (type(result).__name__, [self._outputs(r) for r in result])
        if isinstance(result, dict):
            return ("dict", {k: self._outputs(v) for k, v in result.items()})
        raise _Refused(f"the step returned a {type(result).__name__}: return tensors, "
                       "numbers or tuples, lists and dicts of them")


def _shadow_backward(shadow, grad, *saved):
    """The backward of a lowered op: on what its shadow's forward saved (traced arrays)."""
    return shadow.backward(grad, *shadow.saved)


def _same(a, b) -> bool:
    """Bit-identical arrays: same shape, dtype and values (NaN equal to NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and bool(
        np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _draws():
    """Where the framework generator stands (changes with every draw, CPU or CUDA)."""
    g = backend.default_generator
    return g.numpy.bit_generator.state["state"], tuple(sorted(g._cuda_draws.items()))


def _has_hooks(roots) -> bool:
    stack, seen = list(roots), set()
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._hooks or t._retains_grad:
            return True
        if t._ctx is not None and t._ctx.inputs is not None:
            stack.extend(t._ctx.inputs)
    return False


def _groups_of(opt) -> list:
    return [list(g["params"]) for g in opt.param_groups]


def _short(v) -> str:
    text = repr(v.item() if _is_array(v) and v.size == 1 else v)
    return text if len(text) <= 24 else text[:21] + "..."


class Program:
    """A recorded step: the kernels, the slot table's template and the guards.

    ``str(program)`` lists the kernels, one per line, as ``outputs = kernel(arguments)``.
    """

    def __init__(self, kernels, lines, n_slots, bound, n_inputs, outputs, modules, arrays, live,
                 optimizers):
        self.kernels = [k[:5] for k in kernels]
        self.host = [k[6] for k in kernels]  # kernels a CUDA graph cannot hold
        self.lines = lines
        self.cuda_graphs = None  # a _CudaGraphs, made at the first replay on CuPy
        self.template = [None] * n_slots
        for s, v in bound.items():
            self.template[s] = v
        self.n_inputs = n_inputs
        self.outputs = outputs
        self.modes = [(m, training) for m, training, _ in modules]  # flat lists: cheap guards
        self.registries = [(m, d, len(entries)) for m, _, regs in modules for d, entries in regs]
        self.entries = [(m, d, k, t) for m, _, regs in modules for d, entries in regs
                        for k, t, _ in entries]
        self.arrays = arrays  # (buffer, the array bound by reference)
        self.live = live  # (slot, parameter): the slot is read from the parameter
        self.read_live = live  # those whose slot a replayed kernel or a result reads
        self.optimizers = optimizers
        self.guard_modules = [m for m, _ in self.modes]
        self.guard_dicts = [d for _, d, _ in self.registries]
        self.guard_entry_dicts = [d for _, d, _, _ in self.entries]
        self.guard_entry_keys = [k for _, _, k, _ in self.entries]
        self.guard_buffers = [t for t, _ in arrays]
        self.guard_optimizers = [opt for opt, _ in optimizers]
        self.guard_expected = (
            [training for _, training in self.modes], [n for _, _, n in self.registries],
            [id(t) for _, _, _, t in self.entries], [id(a) for _, a in arrays],
            [[id(p) for p in ps] for _, groups in optimizers for ps in groups])
        # the replay: the kernels, or with lowering the runs of lowered kernels as one each
        self.replay = self.kernels
        self.env: list | None = None  # lowered: the slot table, kept (the loads read it)
        self.persistent: frozenset = frozenset()  # slots that are buffers, overwritten
        self.lowered_params: list = []  # (parameter, the array the instructions read)
        self.code: list = []  # every instruction, in order (for the listing)
        self.not_lowered: list = []  # (kernel, why it stays op-level)
        self.lowering_off: str | None = None  # why nothing is lowered
        self.names: dict = {}
        self.labels: list = []
        self.flat_names: dict = {}  # the flat gradient buffers and views: slot or name
        self.relaid: list = []  # optimizers laid out whole at lowering (_lean_candidate)

    def lower(self, kernels, traced: dict, env: list, written: set, rebound: list) -> None:
        """Replay the lowered kernels as their instructions (a run of consecutive ones as
        one generated function, :func:`lowering.compile_run`) on a kept slot table ``env``
        whose lowered slots hold their buffers. Results handed on are never buffers the
        next replay overwrites: a gradient put into ``.grad`` is allocated anew by the
        instruction that computes it (or copied), the step's results are copied (see
        docs/jit.md, "Aliasing")."""
        env[:] = self.template
        lowered = {s for k in kernels if k[7] is not None
                   for s in ([k[4]] if type(k[4]) is int else k[4] or ()) if s is not None}
        for s in lowered:
            env[s] = traced[s].view(np.ndarray)
        code = [[f, list(a), dict(k)] for kernel in kernels for f, a, k in kernel[7] or ()]
        kept = [env[s] for s in lowered] + rebound  # arrays read outside the instructions
        lowering.direct_loads(code, written, kept, self.n_inputs)
        lean = _lean_steps(kernels, code, env, lowered, kept, self.flat_names, self.relaid)
        sinks = [k[1][0] for i, k in enumerate(kernels) if _is_sink(k[0]) and i not in lean]
        made = lowering.fresh_results(code, env, [s for s in sinks if s in lowered], kept)
        lowering.tidy(code)
        replay, run, n, sinks = [], None, 0, None
        for i, kernel in enumerate(kernels):
            func = kernel[0]
            if i in lean:  # an optimizer's gradients and step (_lean_steps)
                replay.extend(lean[i])
                self._relabel(i, lean[i], kernel[4] == -1)
                sinks = run = None
                continue
            if _is_sink(func):
                if kernel[1][0] in lowered - made:
                    func = _grad_copied(func)  # a buffer: .grad gets a copy
                if sinks is None:  # consecutive ones: one kernel
                    sinks = ([], [])
                    replay.append((functools.partial(_grads_into, sinks[0]), sinks[1], {}, (),
                                   None))
                sinks[0].append(func)
                sinks[1].append(kernel[1][0])
                run = None
                continue
            sinks = None
            if kernel[7] is None:
                replay.append((func, *kernel[1:5]))
                run = None
                continue
            if run is None:
                run = []
                replay.append(run)  # made a kernel below
            run.extend(code[n:n + len(kernel[7])])
            n += len(kernel[7])
        patched: dict = {}  # the arguments read in place, for compile_run
        self.replay = [(lowering.compile_run(k, env, patched), (), {}, (), None)
                       if type(k) is list else k for k in replay]
        self.code, self.env = code, env
        self.persistent = frozenset(lowered - made)
        self.lowered_params = [(t, self.template[s]) for s, t in self.live if s in traced]
        # the instructions read parameters by reference: only the slots that op-level kernels
        # and the results read need the parameters' arrays put in at every replay
        read = {s for k in self.replay for s in (*k[1], *(s for _, s in k[3]))}
        read |= _result_slots(self.outputs)
        self.read_live = [(s, t) for s, t in self.live if s in read]

    def _relabel(self, i: int, kernels: list, whole: bool) -> None:
        """The listing's line of kernel ``i``, replaced by ``kernels`` (:func:`_lean_steps`):
        an optimizer's ``step()`` replayed lean, or its ``zero_grad()`` not replayed."""
        if kernels and kernels[0][4] == -1:
            name = type(kernels[0][0].args[1]).__name__
            self.lines[i] = (f"{name}.step()  # as {name}._replay_step, on the gradients "
                             "laid out flat")
        elif whole:  # zero_grad: its .grad are all set by _put_grads
            self.lines[i] = (f"{self.lines[i].split('  #')[0]}  # not replayed: each .grad "
                             "it clears is set again below")

    @property
    def instructions(self) -> str:
        """The lowered program, one NumPy call per line (what a replay runs between the
        kernels that stay op-level); empty if nothing was lowered."""
        names = dict(self.names)
        return "\n".join(lowering.describe(ins, names, self.labels) for ins in self.code)

    def stale(self) -> bool:
        """Whether a parameter that lowered instructions read has a new array (an optimizer
        moved it into a flat buffer): the program must be recorded again."""
        for t, a in self.lowered_params:
            if t.array is not a:
                return True
        return False

    def __str__(self) -> str:
        return "\n".join(self.lines)

    def __repr__(self) -> str:
        return f"<minigrad.jit.Program of {len(self.kernels)} kernels>\n{self}"

    def _guard_state(self) -> tuple:
        """What the guards compare, computed by C-level maps (a few microseconds per replay
        otherwise): train flags, registry sizes, registered tensors' ids, buffers' arrays'
        ids, optimizers' parameter ids."""
        return (list(map(_training, self.guard_modules)),
                list(map(len, self.guard_dicts)),
                list(map(id, map(dict.get, self.guard_entry_dicts, self.guard_entry_keys))),
                list(map(id, map(_array_of, self.guard_buffers))),
                [list(map(id, g["params"])) for opt in self.guard_optimizers
                 for g in opt.param_groups])

    def check_guards(self) -> None:
        """Raise RuntimeError if what the program was recorded against has changed: a module's
        train/eval mode, a module's parameters or buffers (added, removed, replaced, or given
        a new array), an optimizer's parameter groups."""
        if self._guard_state() != self.guard_expected:
            self._explain_guards()

    def _explain_guards(self) -> None:
        """The guards, one by one, to raise the error that says what changed."""
        for m, training in self.modes:
            if m.training != training:
                raise RuntimeError(
                    f"minigrad.jit: {type(m).__name__} was recorded in "
                    f"{'train' if training else 'eval'} mode and is now in "
                    f"{'train' if m.training else 'eval'} mode; call step.reset() to record "
                    "again (or jit the train and eval steps separately)")
        for m, d, n in self.registries:
            if len(d) != n:
                _replaced(m)
        for m, d, k, t in self.entries:
            if d.get(k) is not t:
                _replaced(m)
        for t, a in self.arrays:
            if t.array is not a:
                raise RuntimeError(
                    f"minigrad.jit: a buffer of shape {tuple(t.shape)} got a new array after the "
                    "step was recorded (assign in place, t.data[...] = v, or call step.reset())")
        for opt, groups in self.optimizers:
            now = opt.param_groups
            if len(now) != len(groups) or any(
                    len(g["params"]) != len(ps) or any(p is not q for p, q in zip(g["params"], ps))
                    for g, ps in zip(now, groups)):
                raise RuntimeError(
                    f"minigrad.jit: the parameter groups of {type(opt).__name__} changed after "
                    "the step was recorded; call step.reset() to record again")
        raise AssertionError("minigrad.jit: a guard changed but none explains it")

    def run(self, arrays: list, cuda_graphs: bool = True):
        """Replay: the kernels on a fresh slot table whose inputs are ``arrays`` (on CuPy, the
        device segments launched as CUDA graphs unless ``cuda_graphs`` is False)."""
        if cuda_graphs and arrays and type(arrays[0]) is not np.ndarray:
            if self.cuda_graphs is None:
                self.cuda_graphs = _CudaGraphs(self)
            if self.cuda_graphs.usable:
                return self.cuda_graphs.run(arrays)
        env = self.template.copy() if self.env is None else self.env
        env[:self.n_inputs] = arrays
        for s, t in self.read_live:
            env[s] = t.array
        _run_kernels(self.replay, env, self.read_live)
        return _rebuild(self.outputs, env, self.persistent)


def _run_kernels(kernels, env: list, live: list, fixed: set | frozenset = frozenset()) -> None:
    """Call ``kernels`` in order on slot table ``env``. A parameter's slot is read again after
    a call replayed whole (``optimizer.step`` may give it a new array). An output whose slot
    is in ``fixed`` is copied into the array already there (a CUDA graph reads that one)."""
    for func, slots, static, dyn, out in kernels:
        if not (slots or static or dyn):  # a lowered run, a call replayed whole: no arguments
            r = func()
        else:
            if dyn:
                static = dict(static)
                for k, s in dyn:
                    static[k] = env[s]
            r = func(*[env[s] for s in slots], **static)
        if out is None:
            continue
        if type(out) is int:
            if out < 0:  # a call replayed whole
                for s, t in live:
                    env[s] = t.array
                continue
            out, r = (out,), (r,)
        for s, v in zip(out, r):
            if s is not None:
                if s in fixed:
                    env[s][...] = v
                else:
                    env[s] = v


def _segments(host: list[bool]) -> list[tuple[bool, int, int]]:
    """``(is_graph, start, stop)`` runs of consecutive kernels: device kernels (a CUDA graph)
    or host kernels (called from Python)."""
    runs: list[tuple[bool, int, int]] = []
    for i, h in enumerate(host):
        if runs and runs[-1][0] == (not h):
            runs[-1] = (runs[-1][0], runs[-1][1], i + 1)
        else:
            runs.append((not h, i, i + 1))
    return runs


def _grad_copied(func):
    """``func``, or for a gradient put into ``.grad``, the same with a copy made."""
    if isinstance(func, functools.partial) and func.func is _grad_into:
        return functools.partial(_grad_into, func.args[0], "copy")
    return func


def _is_sink(func) -> bool:
    """Whether a kernel's function puts a gradient into a ``.grad`` (:func:`_grad_into`)."""
    return isinstance(func, functools.partial) and func.func is _grad_into


def _put_grads(params: list, grads: list) -> None:
    """``p.grad = g`` for each parameter (each ``g`` a Tensor on a view of the program's flat
    gradient buffer, filled by the lowered backward: see :func:`_lean_steps`)."""
    for p, g in zip(params, grads):
        p._grad = g


def _lean_steps(kernels: list, code: list, env: list, lowered: set, kept: list,
                names: dict, relaid: list) -> dict:
    """Replay an optimizer's step on gradients that the backward puts straight into a flat
    buffer laid out as the optimizer's flat groups (docs/jit.md, "The optimizer's step"):
    no gather, no per-gradient check, no Python per gradient.

    An optimizer qualifies when the step calls its ``zero_grad()`` (``set_to_none``) and its
    ``step()`` (no closure) once each, in that order (the base class's methods: an override
    runs whole), its groups are all laid out flat and steady once the step is recorded
    (``Optimizer._replay_layout``), and the gradient of each of its parameters is put into
    ``.grad`` once, in between. Then the lowered instruction that
    computes a gradient writes it into its view of the buffer (:func:`lowering.into_view`),
    or, where it cannot (an op-level kernel's result), the gradient is copied there at its
    sink; the ``.grad`` sinks become one kernel giving each parameter the same Tensor on
    its view at every replay (:func:`_put_grads`); ``step()`` becomes
    ``Optimizer._replay_step``, which falls back to the full ``step()`` when anything is
    not as recorded; ``zero_grad()`` is dropped unless a call replayed whole comes between
    it and the gradients (nothing else reads ``.grad`` in a replay).

    ``names`` gets, for the listing, each view's slot and each buffer's name, by
    :func:`lowering.key`. A group laid out flat in part (W1's: its large parameters stepped
    per tensor) is first laid out whole (``Optimizer._lay_out_whole``): its parameters get
    new arrays, the optimizer goes into ``relaid`` and is not replayed lean by this program,
    which the next call records again (not counted as parameters moved by the user).

    Returns:
        ``{kernel index: the kernels replayed in its place}`` (an empty list: none).
    """
    calls = [(i, k[0].args) for i, k in enumerate(kernels)
             if isinstance(k[0], functools.partial) and k[0].func is _call]
    sinks: dict[int, list[int]] = {}  # id(parameter) -> indices of its .grad sinks
    for i, k in enumerate(kernels):
        if _is_sink(k[0]):
            sinks.setdefault(id(k[0].args[0]), []).append(i)
    lean: dict = {}
    for i, call in calls:
        opt = call[1]
        found = _lean_candidate(i, call, calls, sinks)
        if found == "relaid":  # (a str: laid out whole just now)
            relaid.append(opt)
            continue
        if found is None:
            continue
        flats, others, params, zero, at = found
        grads = [np.empty_like(flat.param) for flat in flats]  # (others: C order)
        other_grads = [[np.empty(p.shape, p.dtype) for p in ps] for ps in others]
        views = [v for flat, grad in zip(flats, grads) for v in flat.views_of(grad)]
        views += [g for gs in other_grads for g in gs]
        slots = [kernels[a[0]][1][0] for a in at]
        name = type(opt).__name__
        names.update({lowering.key(g): f"grad({name})" for g in grads})
        for (j,), s, v in zip(at, slots, views):
            if s in lowered and lowering.into_view(code, env, s, v, kept):
                names[lowering.key(v)] = (s, f"grad({name})")
                if v.ndim == 2 and not v.flags.c_contiguous:  # written through v.T
                    names[lowering.key(v.T)] = (s, f"grad({name})", ".T")
                lean[j] = []
            else:  # an op-level kernel's result (or a buffer read again): copied into place
                lean[j] = [(functools.partial(np.copyto, v), (s,), {}, (), None)]
        first = min(a[0] for a in at)
        if not any(zero < j < first for j, _ in calls):
            lean[zero] = []  # every .grad it clears is set by _put_grads before use
        lean[first].append((functools.partial(_put_grads, params, list(map(Tensor._wrap, views))),
                            (), {}, (), None))
        lean[i] = [(functools.partial(_call, type(opt)._replay_step, opt,
                                      (flats, grads, other_grads), {}), (), {}, (), -1)]
    return lean


def _lean_candidate(i: int, call: tuple, calls: list, sinks: dict) -> tuple | str | None:
    """For ``call`` (``(method, object, args, kwargs)``), replayed whole at kernel ``i``:
    ``(flats, others, params, zero, at)`` when it is the ``step()`` of an optimizer that
    qualifies for :func:`_lean_steps` (its flat groups, each group's parameters stepped per
    tensor, all its parameters in that order, the index of its ``zero_grad()`` and each
    parameter's ``[sink index]``); ``"relaid"`` when it would qualify but a group of it was
    laid out flat in part and has just been laid out whole; else None."""
    method, opt, args, kwargs = call
    mine = [(j, c) for j, c in calls if c[1] is opt]
    zero = [j for j, (m, _, a, kw) in mine if m.__qualname__ == "Optimizer.zero_grad"
            and bool(a[0] if a else kw.get("set_to_none", True))]
    if (method.__qualname__ != "Optimizer.step" or args or kwargs  # (not an override)
            or len(mine) != 2 or len(zero) != 1
            or zero[0] > i or not hasattr(opt, "_replay_layout")):
        return None
    flats = opt._replay_layout()
    if not flats:
        return None
    if any(flat.others for flat in flats) and opt._lay_out_whole():
        return "relaid"  # its parameters have new arrays: the next call records again
    others = [[flat.group_params[j] for j in flat.others] for flat in flats]
    params = [p for flat in flats for p in flat.params] + [p for ps in others for p in ps]
    at = [sinks.get(id(p), ()) for p in params]
    if any(len(a) != 1 or not zero[0] < a[0] < i for a in at):
        return None
    return flats, others, params, zero[0], at


class _CudaGraphs:
    """A program's replay on CuPy, its device segments captured into CUDA graphs.

    A CUDA graph replays kernel launches with the addresses and the scalar arguments they had
    when captured. So: only device kernels are captured (forward and backward of ops that
    draw no random numbers, gradient sums); host kernels (the calls replayed whole, gradients
    put into ``.grad``, facade functions, random draws) run from Python between launches, on
    the same stream. The slot table of the capture is kept for good: inputs are copied into
    its input buffers, a host kernel's output that a graph reads is copied into the buffer
    the graph was captured with, and results are returned as copies. Every array allocated
    while capturing comes from a memory pool of its own that nothing else uses, so the
    graphs' temporaries can never be handed to other arrays. A parameter given a new array
    (an optimizer relocating it) makes the graphs be captured again.

    Uses CuPy's documented API: ``cupy.cuda.Stream(non_blocking=True)``,
    ``Stream.begin_capture`` / ``end_capture`` (which returns a ``cupy.cuda.Graph``),
    ``Graph.launch(stream)``, ``cupy.cuda.MemoryPool`` and ``cupy.cuda.using_allocator``.
    """

    def __init__(self, program: Program):
        cp = backend._import_cupy()
        self.cp = cp
        self.program = program
        self.segments = _segments(program.host)
        self.usable = any(g for g, _, _ in self.segments)  # else the plain replay is as good
        self.stream = cp.cuda.Stream(non_blocking=True)
        self.pool = cp.cuda.MemoryPool()
        self.graphs: list | None = None
        self.env: list | None = None
        self.live_arrays: list = []
        read_by_graphs, made_by_host = set(), set()
        for (_, slots, _, dyn, out), host in zip(program.kernels, program.host):
            if host:
                made_by_host.update([out] if type(out) is int else (out or ()))
            else:
                read_by_graphs.update(slots)
                read_by_graphs.update(s for _, s in dyn)
        self.fixed = frozenset(read_by_graphs & made_by_host)
        # a gradient left in a graph's buffer would be overwritten by the next launch (and,
        # kept in .grad, added to itself): .grad always gets a copy here
        self.kernels = [(_grad_copied(func), *rest) for func, *rest in program.kernels]

    def run(self, arrays: list):
        """One replay: capture first (or again, if a parameter moved), else copy the inputs
        in, launch the graphs and run the host kernels between them on the stream."""
        p = self.program
        outer = self.cp.cuda.get_current_stream()
        self.stream.wait_event(outer.record())  # the inputs were made on the caller's stream
        with self.stream:
            if self.graphs is None or any(t.array is not a for (_, t), a
                                          in zip(p.live, self.live_arrays)):
                result = self._capture(arrays)
            else:
                env = self.env
                for i, a in enumerate(arrays):
                    env[i][...] = a
                for (is_graph, start, stop), graph in zip(self.segments, self.graphs):
                    if is_graph:
                        graph.launch(stream=self.stream)
                    else:
                        _run_kernels(self.kernels[start:stop], env, p.live, self.fixed)
                result = _rebuild(p.outputs, env, copy=True)
        outer.wait_event(self.stream.record())  # the caller's later work sees the results
        return result

    def _capture(self, arrays: list):
        """Run the program once, capturing each device segment into a graph and launching it
        (a capture records the launches without running them)."""
        p, cp = self.program, self.cp
        env = p.template.copy()
        env[:p.n_inputs] = [a.copy() for a in arrays]  # the graphs' input buffers
        for s, t in p.live:
            env[s] = t.array
        graphs: list = []
        for n, (is_graph, start, stop) in enumerate(self.segments):
            kernels = self.kernels[start:stop]
            if not is_graph:
                _run_kernels(kernels, env, p.live)
                graphs.append(None)
                continue
            try:
                with cp.cuda.using_allocator(self.pool.malloc):
                    self.stream.begin_capture()
                    try:
                        _run_kernels(kernels, env, p.live)
                    finally:
                        graph = self.stream.end_capture()
            except Exception as err:  # e.g. a kernel that synchronised with the host
                warnings.warn(f"minigrad.jit: no CUDA graph for this step ({err}); the "
                              "program is replayed kernel by kernel", JitFallbackWarning,
                              stacklevel=4)
                self.usable = False
                for _, start2, stop2 in self.segments[n:]:  # nothing of segment n ran
                    _run_kernels(self.kernels[start2:stop2], env, p.live)
                return _rebuild(p.outputs, env)
            graph.launch(stream=self.stream)
            graphs.append(graph)
        self.graphs, self.env = graphs, env
        self.live_arrays = [t.array for _, t in p.live]
        return _rebuild(p.outputs, env, copy=True)


_training = operator.attrgetter("training")  # (C-level getters: the guards' maps)
_array_of = operator.attrgetter("array")


def _replaced(m):
    raise RuntimeError(
        f"minigrad.jit: a parameter or buffer of {type(m).__name__} was added, removed or "
        "replaced after the step was recorded (load_state_dict copies in place and is fine); "
        "call step.reset() to record again")


def _result_slots(spec) -> set:
    """The slots the step's result (an output spec of :meth:`_Recorder._outputs`) reads."""
    kind, value = spec
    if kind == "value":
        return set()
    if kind == "tensor":
        return {value}
    items = value.values() if kind == "dict" else value
    return set().union(*map(_result_slots, items))


def _rebuild(spec, env, copy=frozenset()):
    """The step's result from the slot table (``copy``: True, or the slots to copy: those
    that are buffers, which the next replay overwrites)."""
    kind, value = spec
    if kind == "value":
        return value
    if kind == "tensor":
        return Tensor._wrap(env[value].copy() if copy is True or value in copy
                            else env[value])
    if kind == "dict":
        return {k: _rebuild(v, env, copy) for k, v in value.items()}
    items = [_rebuild(v, env, copy) for v in value]
    return tuple(items) if kind == "tuple" else items


def _line(kernel, labels, kinds) -> str:
    """``outputs = name(arguments)  # output shapes and dtypes``: one kernel, for a reader."""
    func, slots, static, dyn, out, name = kernel
    if "#" in name:  # a call recorded whole
        return name
    if name.endswith("+="):  # a gradient put into .grad
        return f"{name} {labels[slots[0]]}"
    args = [labels[s] for s in slots]
    args += [f"{k}={labels[s]}" for k, s in dyn]
    args += [f"{k}={_short(v)}" for k, v in static.items()]
    outs = () if out is None else (out,) if type(out) is int else out
    lhs = ", ".join("_" if s is None else labels[s] for s in outs)
    line = f"{lhs} = {name}({', '.join(args)})" if outs else f"{name}({', '.join(args)})"
    shapes = ", ".join(kinds[s] for s in outs if s is not None and s in kinds)
    return f"{line}  # {shapes}" if shapes else line


def _signature(args: tuple, kwargs: dict) -> tuple:
    """(the Tensor arguments in order, the cache key: their shapes, dtypes and devices, and
    the values of the other arguments)."""
    tensors, key = [], []
    for name, v in [*enumerate(args), *sorted(kwargs.items())]:
        if isinstance(v, Tensor):
            tensors.append(v)
            a = v.array
            where = -1 if type(a) is np.ndarray else a.device.id  # the CPU, or the GPU's number
            key.append((name, a.shape, a.dtype, where, v.requires_grad))
        else:
            try:
                hash(v)
            except TypeError:
                raise TypeError(f"minigrad.jit: arguments must be Tensors or hashable values "
                                f"(part of the program's key), got a {type(v).__name__}") from None
            key.append((name, v))
    return tensors, tuple(key)


class Jit:
    """A training step that records itself once per input signature and then replays.

    Args:
        fn: the step, ``fn(*tensors_and_constants) -> tensors``; see :func:`jit`.
        cuda_graphs: on CuPy, launch the program's device segments as CUDA graphs.
        lower: on NumPy, lower the kernels to NumPy calls into preallocated buffers
            (minigrad/lowering.py); False replays every kernel op-level.
    """

    def __init__(self, fn: Callable, cuda_graphs: bool = True, lower: bool = True):
        if not callable(fn):
            raise TypeError(f"minigrad.jit expects a function, got {type(fn).__name__}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.cuda_graphs = cuda_graphs
        self.lower = lower
        self.programs: dict[tuple, Program | str] = {}
        self.moved: dict[tuple, int] = {}  # signature -> programs dropped for moved parameters
        self.last: Program | None = None

    @property
    def program(self) -> Program | None:
        """The program run (or recorded) by the last call; ``print`` it to read the step."""
        return self.last

    def __get__(self, obj, objtype=None):
        """As a method decorator: the instance is an argument (one program per instance)."""
        return self if obj is None else functools.partial(self, obj)

    def reset(self) -> None:
        """Forget every recorded program: the next call records again."""
        self.programs.clear()
        self.moved.clear()
        self.last = None

    def __call__(self, *args, **kwargs):
        if recording.recorder[0] is not None:  # inside another capture: be part of it
            return self.fn(*args, **kwargs)
        tensors, key = _signature(args, kwargs)
        program = self.programs.get(key)
        if program is _EAGER:
            return self.fn(*args, **kwargs)
        if program is None:
            return self._record(tensors, key, args, kwargs)
        program.check_guards()
        if program.lowered_params and program.stale():  # parameters moved: record again
            if not program.relaid:  # (a move the recording itself asked for is not counted)
                self.moved[key] = self.moved.get(key, 0) + 1
            del self.programs[key]
            return self._record(tensors, key, args, kwargs)
        self.last = program
        arrays = [t.array for t in tensors]
        if arrays and type(arrays[0]) is not np.ndarray:
            with on_device_of(arrays[0]):
                return program.run(arrays, self.cuda_graphs)
        return program.run(arrays)

    def _record(self, tensors, key, args, kwargs):
        name = getattr(self.fn, "__name__", "the step")
        labels = [f"in{i}{tuple(t.array.shape)}" for i, t in enumerate(tensors)]
        why_not = ("minigrad.jit(lower=False)" if not self.lower
                   else "the parameters were given new arrays twice after recordings"
                   if self.moved.get(key, 0) >= 2
                   else "CuPy arrays (the CUDA graphs replay op-level kernels)"
                   if not all(type(t.array) is np.ndarray for t in tensors) else None)
        rec = _Recorder([t.array for t in tensors], labels, why_not)
        if any(t.requires_grad for t in tensors):
            rec.refusal = "an input tensor requires grad (inputs must be data)"
        else:
            recording.recorder[0] = rec
        try:
            result = self.fn(*args, **kwargs)
        finally:
            recording.recorder[0] = None
        if rec.refusal is None:
            try:
                program = rec.finish(result, (tensors, key))
            except _Refused as why:
                rec.refusal = str(why)
        if rec.refusal is not None:
            warnings.warn(f"minigrad.jit: {name} is not captured and runs eagerly: "
                          f"{rec.refusal}", JitFallbackWarning, stacklevel=3)
            program = _EAGER
        if len(self.programs) >= _CACHE_SIZE:
            del self.programs[next(iter(self.programs))]
        self.programs[key] = program
        self.last = None if program is _EAGER else program
        return result


def jit(fn: Callable | None = None, *, cuda_graphs: bool = True, lower: bool = True):
    """Capture ``fn`` (a training step) on its first call and replay it on later calls.

    ``fn`` takes Tensors (the batch) and hashable constants, does a forward pass,
    ``loss.backward()``, ``optimizer.step()`` (and ``zero_grad``, a scheduler's ``step``) and
    returns Tensors (or numbers, or tuples, lists and dicts of them). Replayed calls return new
    Tensors outside any graph. Usable as a decorator (``@jit`` or ``@jit(cuda_graphs=False)``).
    On CuPy the program's device segments are launched as CUDA graphs unless ``cuda_graphs``
    is False. See docs/jit.md for the rules.

    Example:
        >>> @minigrad.jit
        ... def train_step(x, y):
        ...     opt.zero_grad()
        ...     loss = F.cross_entropy(model(x), y)
        ...     loss.backward()
        ...     opt.step()
        ...     return loss
    """
    if fn is None:
        return functools.partial(Jit, cuda_graphs=cuda_graphs, lower=lower)
    return Jit(fn, cuda_graphs=cuda_graphs, lower=lower)
