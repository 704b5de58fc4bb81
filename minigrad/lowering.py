"""Lowering for :mod:`minigrad.jit`: one recorded kernel turned into NumPy calls into buffers.

``minigrad.jit`` records a step as *kernels* (``Linear.forward``, ``Linear.backward``, ...),
each a few lines of NumPy that allocate their results. Lowering runs each kernel once more, at
record time, on :class:`Traced` arrays: an ``ndarray`` subclass through which every NumPy call
the kernel makes is seen (``__array_ufunc__`` for ufuncs, their reductions and the operators;
``__array_function__`` for ``np.where`` and friends; ``__getitem__``, ``__setitem__``,
``copy``, ``astype``, ``fill`` for what those two hooks do not see). Each call becomes one
*instruction*, ``func(*args, out=buffer)``, whose buffer (same shape, dtype and layout as
the call's result) is allocated at record time and kept for good; views (``.T``,
``reshape``, basic slices) of buffers are taken once and cost nothing at replay. The kernel's
instructions, run in order on the same buffers, compute what the kernel computes, with no
Python of the op's own and no allocation:

    %4 = Linear.forward(in0(16, 64), 0.weight, 0.bias)
    ->  matmul(in0, 0.weight.T, out=%4)
        add(%4, 0.bias, out=%4)

A kernel is lowered only when the lowering can vouch for it; otherwise it stays an op-level
kernel (the replay calls its body, as before). The lowering gives up (:attr:`Lowerer.why`)
when the kernel

* reads a value to Python (``bool(a)``, ``float(a)``, ``a.item()``, ``a[0, 0]``,
  iterating): the Python that follows would be frozen at the recorded value;
* uses an array that no instruction made and that is neither a slot of the program (an input,
  a parameter, a buffer, an earlier kernel's result) nor a read-only constant: it would be
  frozen too (an array computed by a call the lowering does not see);
* indexes with a boolean mask, or calls a NumPy function outside a short list whose result's
  shape depends only on its arguments' shapes (``np.nonzero`` does not qualify);
* writes into a parameter or a buffer of the model, or into an array it was given (the
  replay would write into the buffer that array is loaded into), or draws random numbers;
* returns something an instruction did not make, or anything not bit-identical to the eager
  result (each instruction is checked at record time against the call it replaces).

Not seen (NumPy does them without asking the subclass): a value read through a plain view,
``np.asarray(a).item()``, or a NumPy scalar made from an array, ``np.float32(a)``. No op of
minigrad reads values that way (tests/test_jit.py checks every lowered op on new inputs).

This module knows nothing of Tensors or of the jit's slots: :mod:`minigrad.jit` tells it which
arrays are slots (:meth:`Lowerer.bind`, :meth:`Lowerer.copy_in`) and what to run.
"""

from __future__ import annotations

import operator

import numpy as np

_active: list = [None]  # the Lowerer lowering a kernel now, or None


def _plain(x):
    """``x`` as a plain ndarray (a view) if it is Traced."""
    return x.view(np.ndarray) if isinstance(x, Traced) else x


def _plain_all(values):
    if isinstance(values, (tuple, list)):
        return type(values)(_plain_all(v) for v in values)
    if isinstance(values, dict):
        return {k: _plain_all(v) for k, v in values.items()}
    return _plain(values)


class Traced(np.ndarray):
    """An array whose NumPy calls are written down by the active :class:`Lowerer`.

    Outside a lowering (which never happens in the library: traced arrays live only in the
    shadows of lowered ops) it behaves as a plain array.
    """

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        low = _active[0]
        if low is None:
            return getattr(ufunc, method)(*_plain_all(inputs), **_plain_all(kwargs))
        return low.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        low = _active[0]
        if low is None:
            return func(*_plain_all(args), **_plain_all(kwargs))
        return low.function(func, args, kwargs)

    def __getitem__(self, index):
        low = _active[0]
        if low is None:
            return np.ndarray.__getitem__(self, index)
        return low.getitem(self, index)

    def __setitem__(self, index, value):
        low = _active[0]
        if low is None:
            return np.ndarray.__setitem__(self, index, value)
        return low.setitem(self, index, value)

    def copy(self, order="C"):
        low = _active[0]
        return np.ndarray.copy(self, order) if low is None else low.copy(self, order)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        low = _active[0]
        if low is None:
            return np.ndarray.astype(self, dtype, order, casting, subok, copy)
        return low.astype(self, dtype, order, casting, copy)

    def fill(self, value):
        low = _active[0]
        if low is None:
            return np.ndarray.fill(self, value)
        return low.setitem(self, Ellipsis, value)

    # reading a value to Python: the Python that follows would be frozen at replay
    def _read(self, what: str):
        low = _active[0]
        if low is not None:
            low.fail(f"reads a value to Python ({what})")
        return self.view(np.ndarray)

    def __bool__(self):
        return bool(self._read("bool"))

    def __int__(self):
        return int(self._read("int"))

    def __float__(self):
        return float(self._read("float"))

    def __complex__(self):
        return complex(self._read("complex"))

    def __index__(self):
        return operator.index(self._read("index"))

    def item(self, *args):
        return self._read("item").item(*args)

    def tolist(self):
        return self._read("tolist").tolist()

    def __iter__(self):
        return iter(self._read("iteration"))

    def __contains__(self, value):
        return value in self._read("in")

    def argmax(self, axis=None, out=None, *, keepdims=False):
        return np.argmax(self, axis, out, keepdims=keepdims)

    def argmin(self, axis=None, out=None, *, keepdims=False):
        return np.argmin(self, axis, out, keepdims=keepdims)


def load(env: list, s: int, buffer) -> None:
    """Fill ``buffer`` with the value of slot ``s`` (an input of the step, or the result of a
    kernel replayed op-level), for the instructions that read it. A value whose shape or
    dtype changed since the recording (an op-level kernel whose result's shape depends on
    values) is refused rather than broadcast or cast into the buffer."""
    value = env[s]
    if value.shape != buffer.shape or value.dtype != buffer.dtype:
        raise RuntimeError(
            f"minigrad.jit: a value of the step has shape {value.shape} and dtype {value.dtype} "
            f"at this replay, {buffer.shape} and {buffer.dtype} when it was recorded (a result "
            "whose shape depends on values); call step.reset() or minigrad.jit(lower=False)")
    np.copyto(buffer, value)


def read_directly(env: list, s: int, sites: list) -> None:
    """Put the value of slot ``s`` itself in the argument lists of the instructions that read
    it (no copy: see :func:`direct_loads`)."""
    value = env[s]
    for args, i in sites:
        args[i] = value


def fresh(env: list, s: int, func, args, kwargs) -> None:
    """``env[s] = func(*args, **kwargs)``: a result allocated anew at every replay (a gradient
    handed to ``.grad``, see :func:`fresh_results`)."""
    env[s] = func(*args, **kwargs)


def _take(buffer, array, index):
    """``buffer[...] = array[index]``: an advanced index (a gather) as an instruction."""
    buffer[...] = array[index]


def _into(buffer, func, args, kwargs):
    """``buffer[...] = func(*args, **kwargs)``, for a NumPy function without ``out=``."""
    buffer[...] = func(*args, **kwargs)


# NumPy functions written in C whose result's shape depends only on their arguments' shapes:
# lowered as `_into` (or with out=, for those that take it). Functions written in Python are
# lowered through their body (their NumPy calls are traced one by one).
_C_FUNCTIONS = {np.where: False, np.concatenate: True, np.dot: True, np.take: True,
                np.argmax: True, np.argmin: True}


def _identical(a, b) -> bool:
    """Bit for bit the same values (NaN equal to NaN), same shape and dtype."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


class _NotOurs(Exception):
    """A traced call would write into an array that is not a buffer of the lowering."""


class Lowerer:
    """Lowers the kernels of one recorded step (see the module doc).

    Attributes:
        why: why the kernel being lowered cannot be (None while it can).
        buffers: id -> array, every array an instruction writes (the buffers).
        bound: id -> array, the slots bound by reference (parameters, buffers of the model,
            constants): instructions read them, never write them.
    """

    def __init__(self):
        self.buffers: dict[int, np.ndarray] = {}
        self.bound: dict[int, np.ndarray] = {}
        self.code: list = []
        self.why: str | None = None
        self.written: set[int] = set()  # ids of the buffers some instruction writes into
        self.loaded: set[int] = set()  # ids of the buffers a load fills (never written)

    # ------------------------------------------------------------- arrays the kernel reads
    def bind(self, array: np.ndarray) -> Traced:
        """A traced view of ``array``, a slot bound by reference (read where it lives)."""
        self.bound[id(array)] = array
        return array.view(Traced)

    def copy_in(self, array: np.ndarray, env: list, s: int) -> Traced:
        """A traced buffer for slot ``s`` of ``env`` that changes at every replay (an input of
        the step, the result of a kernel that is not lowered): instruction ``load`` fills it
        (the buffer holds ``array``'s values now)."""
        buffer = np.empty_like(array)
        buffer[...] = array
        self.buffers[id(buffer)] = buffer
        self.loaded.add(id(buffer))
        self.code.append((load, (env, s, buffer), {}))
        return buffer.view(Traced)

    def _owner(self, a):
        """'buffer', 'bound' or None: what the memory of array ``a`` is to the lowering."""
        while a is not None:
            if id(a) in self.buffers:
                return "buffer"
            if id(a) in self.bound:
                return "bound"
            a = getattr(a, "base", None)
        return None

    def known(self, a) -> bool:
        """Whether array ``a`` is (a view of) a buffer or a bound slot."""
        return self._owner(a) is not None

    def fail(self, why: str) -> None:
        if self.why is None:
            self.why = why

    # ------------------------------------------------------------- arguments of a call
    def _arg(self, x):
        """A call's argument, made plain; arrays must be known or read-only constants."""
        if isinstance(x, np.ndarray):
            if not (self.known(x) or (type(x) is np.ndarray and not x.flags.writeable)):
                self.fail(f"uses an array of shape {x.shape} that no traced call made")
            return _plain(x)
        if isinstance(x, (tuple, list)):
            return type(x)(self._arg(v) for v in x)
        return x

    def _target(self, x):
        """An array the call writes into: a buffer (never a bound slot). Raises _NotOurs
        otherwise, before the write is made (a parameter must not be written twice)."""
        if not isinstance(x, np.ndarray) or self._owner(x) != "buffer":
            self.fail("writes into an array that is not one of its own buffers (a parameter, "
                      "a buffer of the model, or an array no traced call made)")
            raise _NotOurs
        a = x
        while a is not None and id(a) not in self.buffers:
            a = getattr(a, "base", None)
        if id(a) in self.loaded:  # eagerly, the write changed the slot's own array
            self.fail("writes into an array it was given (an input of the step, or the result "
                      "of a kernel that stays op-level): the replay would write into a copy")
            raise _NotOurs
        self.written.add(id(a))
        return _plain(x)

    def _new_buffer(self, result):
        """A new buffer for a call whose eager result is ``result`` (same shape, dtype and
        memory layout)."""
        return self._register(np.empty_like(np.asarray(result)))

    def _register(self, buffer):
        self.buffers[id(buffer)] = buffer
        return buffer

    def _emit(self, func, args, kwargs, expected) -> None:
        """Append instruction ``func(*args, **kwargs)`` after checking, on the spot, that it
        writes exactly ``expected`` (the eager result) into its buffer(s)."""
        self.code.append((func, args, kwargs))
        outs = kwargs["out"] if "out" in kwargs else args[0]
        func(*args, **kwargs)
        got = outs if isinstance(outs, tuple) else (outs,)
        want = expected if isinstance(expected, tuple) else (expected,)
        if not all(_identical(g, w) for g, w in zip(got, want)):
            self.fail(f"{getattr(func, '__name__', func)} into a buffer differs from the "
                      "eager call")

    # ------------------------------------------------------------- the hooks of Traced
    def ufunc(self, ufunc, method, inputs, kwargs):
        func = ufunc if method == "__call__" else getattr(ufunc, method)
        args = tuple(self._arg(x) for x in inputs)
        kw = {k: self._arg(v) for k, v in kwargs.items() if k != "out"}
        out = kwargs.get("out")
        if out is not None and all(o is None for o in out):
            out = None
        if method == "at":
            self._target(inputs[0])
            func(*args, **kw)
            self.code.append((func, args, kw))
            return None
        if out is not None:  # the op writes in place: the instruction does the same
            kw["out"] = tuple(self._target(o) for o in out)
            func(*args, **kw)
            self.code.append((func, args, kw))
            return out[0] if len(out) == 1 else out
        result = func(*args, **kw)
        if isinstance(result, tuple):
            buffers = tuple(self._new_buffer(r) for r in result)
            self._emit(func, args, {**kw, "out": buffers}, result)
            return tuple(b.view(Traced) for b in buffers)
        buffer = self._new_buffer(result)
        self._emit(func, args, {**kw, "out": (buffer,)}, result)
        return buffer.view(Traced)

    def function(self, func, args, kwargs):
        impl = getattr(func, "_implementation", None)
        if func in _C_FUNCTIONS:
            if func is np.where and len(args) + len(kwargs) < 3:
                self.fail("np.where with one argument (a result whose shape depends on values)")
            a, kw = self._arg(args), {k: self._arg(v) for k, v in kwargs.items()}
            if kw.get("out") is not None:
                kw["out"] = self._target(kwargs["out"])
                func(*a, **kw)
                self.code.append((func, a, kw))
                return kwargs["out"]
            result = func(*a, **kw)
            buffer = self._new_buffer(result)
            if _C_FUNCTIONS[func]:
                self._emit(func, a, {**kw, "out": buffer}, result)
            else:
                self._emit(_into, (buffer, func, a, kw), {}, result)
            return buffer.view(Traced)
        if func is np.copyto:
            dst = self._target(args[0])
            a = (dst, *self._arg(args[1:]))
            kw = {k: self._arg(v) for k, v in kwargs.items()}
            func(*a, **kw)
            self.code.append((func, a, kw))
            return None
        if func is np.empty_like:  # contents undefined: a buffer, no instruction
            return self._register(func(*_plain_all(args), **_plain_all(kwargs))).view(Traced)
        if impl is None or not hasattr(impl, "__code__"):  # written in C: unknown to us
            self.fail(f"calls np.{getattr(func, '__name__', func)}, which the lowering does "
                      "not know")
            return func(*_plain_all(args), **_plain_all(kwargs))
        return impl(*args, **kwargs)  # written in Python: its NumPy calls are traced

    def getitem(self, a, index):
        idx = self._index(index)
        plain = _plain(a)
        result = plain[idx]
        if not isinstance(result, np.ndarray):
            self.fail("reads a value to Python (an element)")
            return result
        if not self._advanced(idx):  # a view: taken once, free at replay
            return result.view(Traced)
        buffer = self._new_buffer(result)
        self._emit(_take, (buffer, plain, idx), {}, result)
        return buffer.view(Traced)

    def setitem(self, a, index, value):
        target = self._target(a)
        idx = self._index(index)
        v = self._arg(value)
        target[idx] = v
        self.code.append((operator.setitem, (target, idx, v), {}))

    def copy(self, a, order):
        result = np.ndarray.copy(_plain(a), order)
        buffer = self._new_buffer(result)
        self._emit(np.copyto, (buffer, self._arg(a)), {}, result)
        return buffer.view(Traced)

    def astype(self, a, dtype, order, casting, copy):
        plain = self._arg(a)
        result = plain.astype(dtype, order, casting, True, copy)
        if result is plain:
            return a
        buffer = self._new_buffer(result)
        self._emit(np.copyto, (buffer, plain), {"casting": casting}, result)
        return buffer.view(Traced)

    def _index(self, index):
        idx = self._arg(index)
        for i in idx if isinstance(idx, tuple) else (idx,):
            if isinstance(i, np.ndarray) and i.dtype == np.bool_ or isinstance(i, list):
                self.fail("indexes with a boolean mask or a list (a shape that depends on "
                          "values)")
        return idx

    @staticmethod
    def _advanced(idx) -> bool:
        return any(isinstance(i, np.ndarray) for i in (idx if isinstance(idx, tuple) else (idx,)))

    # ------------------------------------------------------------- one kernel
    def begin(self) -> None:
        """Start a kernel: its loads (:meth:`copy_in`) come first, then :meth:`lower`."""
        self.code, self.why = [], None

    def lower(self, func, args, kwargs):
        """Run ``func(*args, **kwargs)`` on traced arguments. Returns ``(instructions,
        result)``, or None (and :attr:`why` says why) if the kernel cannot be lowered."""
        _active[0] = self
        try:
            result = func(*args, **kwargs)
        except _NotOurs:  # why says it
            result = None
        except Exception as err:  # noqa: BLE001 - any failure means: keep the op-level kernel
            self.fail(f"raised {type(err).__name__}: {err}")
            result = None
        finally:
            _active[0] = None
        for r in result if isinstance(result, (tuple, list)) else (result,):
            if r is not None and not (isinstance(r, np.ndarray) and self.known(r)):
                self.fail("returns an array that no traced call wrote (it was filled by a "
                          "call the lowering does not see, e.g. plain[...] = traced)")
        code, self.code = self.code, []
        if self.why is not None:
            return None
        return code, result


# ---------------------------------------------------------------- passes over the instructions
def reaches(a, buffer) -> bool:
    """Whether array ``a`` is ``buffer`` or a view of it (through its chain of bases)."""
    while a is not None:
        if a is buffer:
            return True
        a = getattr(a, "base", None)
    return False


def aliases(a, buffer) -> bool:
    """Whether array ``a`` is all of ``buffer`` (same memory, shape, strides and dtype)."""
    return (isinstance(a, np.ndarray) and reaches(a, buffer) and a.shape == buffer.shape
            and a.strides == buffer.strides and a.dtype == buffer.dtype
            and a.__array_interface__["data"][0] == buffer.__array_interface__["data"][0])


def mentions(value, buffer) -> bool:
    """Whether ``value`` (an argument: an array, a tuple, list or dict of them) reads
    ``buffer``."""
    if isinstance(value, np.ndarray):
        return reaches(value, buffer)
    if isinstance(value, (tuple, list)):
        return any(mentions(v, buffer) for v in value)
    if isinstance(value, dict):
        return any(mentions(v, buffer) for v in value.values())
    return False


def direct_loads(code: list, written: set, kept: list, n_inputs: int) -> None:
    """Replace, in ``code`` (a list of ``[func, args, kwargs]``), each :func:`load` by
    :func:`read_directly` where it is safe: no instruction writes the buffer, every
    instruction that reads it reads all of it as a top-level argument (no view), and no slot
    in ``kept`` (arrays the replay hands on) is a view of it; and the slot is an input of the
    step (one of the first ``n_inputs``: its shape and dtype are the program's signature). A
    copy of a big input batch (W1: 400 KB) is then saved at every replay, and the
    instructions read the caller's array as the eager step did."""
    for n, (func, args, _) in enumerate(code):
        if func is not load or id(args[2]) in written or args[1] >= n_inputs:
            continue
        env, s, buffer = args
        if any(mentions(v, buffer) for v in kept):
            continue
        sites: list = []
        for ins in code[n + 1:]:
            if mentions(ins[2], buffer):
                break
            clean = True
            for i, a in enumerate(ins[1]):
                if aliases(a, buffer):
                    sites.append((ins[1], i))
                elif mentions(a, buffer):
                    clean = False
            if not clean:
                break
        else:
            code[n] = [read_directly, [env, s, sites], {}]


def writes_of(ins) -> list:
    """The arrays instruction ``ins`` writes into."""
    func, args, kwargs = ins
    out = kwargs.get("out")
    if out is not None:
        return list(out) if isinstance(out, tuple) else [out]
    if func in (_take, _into, np.copyto, operator.setitem) or func is load:
        return [args[2] if func is load else args[0]]
    if getattr(func, "__name__", "") == "at":
        return [args[0]]
    return []


def sole_writer(code: list, env: list, s: int, kept: list, transposed: bool = False
                ) -> int | None:
    """The index of the one instruction of ``code`` that writes slot ``s``'s buffer, when
    that instruction writes all of it through a single ``out=`` and no later instruction
    reads it, and no array of ``kept`` (the other slots' arrays) views it; else None. Such
    an instruction may be given another output (a new array, a view of another buffer) with
    nothing else in the code to change. ``transposed``: the slot is the transpose of the
    buffer (a column-major gradient, ``(x^T g)^T``), not the buffer itself."""
    value = env[s]
    buffer = _root(value)
    if (not aliases(value.T if transposed else value, buffer)
            or any(v is not value and mentions(v, buffer) for v in kept)):
        return None
    writers = [n for n, ins in enumerate(code) if any(reaches(w, buffer) for w in writes_of(ins))]
    if len(writers) != 1:
        return None
    n = writers[0]
    out = code[n][2].get("out")
    if (out is None or len(out if isinstance(out, tuple) else (out,)) != 1
            or any(mentions(ins[1], buffer) or mentions(ins[2], buffer) for ins in code[n + 1:])):
        return None
    return n


def fresh_results(code: list, env: list, slots: list, kept: list) -> set:
    """For each slot ``s`` in ``slots`` (results handed to ``.grad``) whose buffer is written
    by one instruction with ``out=`` and read by no later one (:func:`sole_writer`), make
    that instruction allocate its result anew (:func:`fresh`): the gradient needs no copy
    and the next replay cannot overwrite it. ``kept``: the other slots' arrays (none may
    view the buffer). Returns the slots made fresh."""
    made = set()
    for s in slots:
        n = sole_writer(code, env, s, kept)
        if n is None:
            continue
        func, args, kwargs = code[n]
        rest = {k: v for k, v in kwargs.items() if k != "out"}
        code[n] = [fresh, [env, s, func, args, rest], {}]  # the same list: see direct_loads
        made.add(s)
    return made


def into_view(code: list, env: list, s: int, view, kept: list) -> bool:
    """Make the instruction that computes slot ``s`` (:func:`sole_writer`) write it into
    ``view`` instead of its buffer (a view of the optimizer's flat gradient buffer, see
    docs/jit.md), and ``env[s]`` that view; False, with nothing changed, if it cannot be
    (no sole writer, or a buffer of another shape, dtype or memory layout than ``view``:
    with the same layout the call computes the same numbers).

    A column-major slot (an ``nn.Linear`` weight's gradient, ``matmul(x.T, g, out=buf)``
    then ``buf.T``) is the transpose of its buffer: the instruction then writes into
    ``view.T``, C-contiguous like the buffer, so that BLAS still writes the result (NumPy's
    matmul serves an F-ordered ``out=`` without BLAS)."""
    value = env[s]
    if (value.shape != view.shape or value.dtype != view.dtype
            or value.strides != view.strides):
        return False
    transposed = not value.flags.c_contiguous
    if transposed and not (value.ndim == 2 and value.flags.f_contiguous):
        return False
    n = sole_writer(code, env, s, kept, transposed)
    if n is None:
        return False
    out = view.T if transposed else view
    kwargs = code[n][2]
    kwargs["out"] = (out,) if isinstance(kwargs["out"], tuple) else out
    env[s] = view
    return True


def tidy(code: list) -> None:
    """Cheaper calls, same numbers: a ufunc's single ``out`` passed by position, defaults of
    a reduction's keywords left out."""
    for ins in code:
        func, args, kwargs = ins
        if func is fresh:
            func, kwargs = args[2], args[4]
        if not kwargs:
            continue
        if (isinstance(func, np.ufunc) and list(kwargs) == ["out"] and len(kwargs["out"]) == 1
                and func not in (np.maximum, np.minimum)):  # (those two deprecate it)
            args.append(kwargs.pop("out")[0])  # in place: direct_loads patches this list
        elif getattr(func, "__name__", "") == "reduce":
            if kwargs.get("where", False) is True:
                del kwargs["where"]
            if "dtype" in kwargs and kwargs["dtype"] is None:
                del kwargs["dtype"]


# ---------------------------------------------------------------- the listing
def _root(a):
    while getattr(a, "base", None) is not None:
        a = a.base
    return a


def key(a) -> tuple:
    """What identifies the memory array ``a`` shows: address, shape, strides, dtype."""
    return a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str


def _name(value, names: dict) -> str:
    """``value`` (an argument of an instruction) for a reader: an array by the name of the
    buffer or slot it is (``%4``, ``0.weight``), its transpose (``%4.T``), another view of it
    (``%4[16 view]``), or a temporary (``t7``)."""
    if isinstance(value, np.ndarray):
        name = names.get(key(value))
        if name is not None:
            return name
        if value.ndim == 2 and key(value.T) in names:
            return f"{names[key(value.T)]}.T"
        if not value.flags.writeable and value.size <= 16:  # a read-only constant
            return f"const{tuple(value.shape)}"
        root = _root(value)
        name = names.get(key(root))
        if name is None:
            name = names[key(root)] = f"t{sum(n[0] == 't' for n in names.values())}"
        if root is value:
            return name
        return f"{name}[{'x'.join(map(str, value.shape))} view]"
    if isinstance(value, tuple):
        inner = ", ".join(_name(v, names) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_name(v, names) for v in value) + "]"
    if isinstance(value, (np.dtype, type)):
        return np.dtype(value).name
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 24 else text[:21] + "..."


def _func_name(func) -> str:
    if isinstance(func, np.ufunc):
        return func.__name__
    owner = getattr(func, "__self__", None)
    if isinstance(owner, np.ufunc):
        return f"{owner.__name__}.{func.__name__}"
    return getattr(func, "__name__", repr(func))


def describe(ins, names: dict, labels: list) -> str:
    """One instruction as a line of NumPy. ``names``: :func:`key` of a buffer or a bound
    array -> its name (temporaries are added as they are met); ``labels``: the slots'
    names."""
    func, args, kwargs = ins
    if func is load:
        names[key(args[2])] = labels[args[1]]
        return f"copyto({labels[args[1]]}, <its new value>)  # load into its buffer"
    if func is read_directly:
        for site, i in args[2]:
            names[key(site[i])] = labels[args[1]]
        return f"# {labels[args[1]]}: read in place by {len(args[2])} call(s), no copy"
    if func is fresh:
        env, s, func, args, kwargs = args
        call = describe([func, args, kwargs], names, labels)
        names[key(env[s])] = labels[s]
        return f"{labels[s]} = {call}  # a new array at each replay"
    if func is _take:
        index = _name(args[2], names)[1:-1].rstrip(",")
        return f"{_name(args[0], names)}[...] = {_name(args[1], names)}[{index}]"
    if func is _into:
        return f"{_name(args[0], names)}[...] = {describe(args[1:], names, labels)}"
    if func is operator.setitem:
        index = _name(args[1], names)[1:-1].rstrip(",")
        return f"{_name(args[0], names)}[{index}] = {_name(args[2], names)}"
    parts = [_name(a, names) for a in args]
    if isinstance(func, np.ufunc) and len(args) > func.nin:  # out passed by position
        parts[func.nin:] = [f"out={p}" for p in parts[func.nin:]]
    for k, v in kwargs.items():
        one = k == "out" and isinstance(v, tuple) and len(v) == 1
        parts.append(f"{k}={_name(v[0] if one else v, names)}")
    return f"{_func_name(func)}({', '.join(parts)})"


# ---------------------------------------------------------------- one Python function per run
def compile_run(code: list, env: list, patched: dict):
    """``code`` (instructions ``[func, args, kwargs]``) as one generated Python function
    ``run()``: one line per instruction, every function, buffer and constant a variable of
    its closure. Same calls as a loop over the instructions, without the loop, the argument
    tuples and the keyword dicts (about 0.1 us per instruction). The arguments read in
    place (:func:`read_directly`) are read from ``env`` by their line: ``patched`` maps
    ``(id(args list), position)`` to ``env[s]``, filled by the runs compiled before."""
    names: dict[int, str] = {}
    values: list = []

    def ref(v) -> str:
        name = names.get(id(v))
        if name is None:
            name = names[id(v)] = f"c{len(values)}"
            values.append(v)
        return name

    def call(func, args, kwargs) -> str:
        parts = [patched.get((id(args), i)) or ref(a) for i, a in enumerate(args)]
        parts += [f"{k}={ref(v)}" for k, v in kwargs.items()]
        return f"{ref(func)}({', '.join(parts)})"

    lines = []
    for func, args, kwargs in code:
        if func is read_directly:
            _, s, sites = args
            for site, i in sites:
                patched[id(site), i] = f"env[{s}]"
        elif func is load:
            lines.append(f"{ref(load)}(env, {args[1]}, {ref(args[2])})")
        elif func is fresh:
            lines.append(f"env[{args[1]}] = {call(args[2], args[3], args[4])}")
        elif func is _take:
            lines.append(f"{ref(args[0])}[...] = {ref(args[1])}[{ref(args[2])}]")
        elif func is operator.setitem:
            lines.append(f"{ref(args[0])}[{ref(args[1])}] = {ref(args[2])}")
        else:
            lines.append(call(func, args, kwargs))
    body = "\n".join(f"        {line}" for line in lines) or "        pass"
    source = (f"def make(env, {', '.join(f'c{i}' for i in range(len(values)))}):\n"
              f"    def run():\n{body}\n    return run\n")
    namespace: dict = {}
    exec(compile(source, "<minigrad.jit lowered run>", "exec"), namespace)  # noqa: S102
    run = namespace["make"](env, *values)
    run.instructions = len(code)  # for a profile's listing
    return run
