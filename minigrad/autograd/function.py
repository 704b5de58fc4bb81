"""The Function base: one small class per differentiable op.

Writing an op (the whole API)::

    class Mul(Function):
        '''z = x * y;  dz/dx = y, dz/dy = x.'''

        def forward(self, x, y):              # raw arrays in, the output array out
            self.save_for_backward(x, y)      # what backward reads: inputs and/or the output
            return x * y

        def backward(self, grad, x, y):       # grad, then what forward saved, in that order
            return grad * y, grad * x         # one gradient per input (None: no gradient)

    def mul(a, b):
        return Mul.apply(a, b)                # Tensors in, a Tensor out, the node recorded

- ``forward`` gets the inputs' arrays (and keyword parameters, such as an axis) and returns the
  output array. ``self.save_for_backward(...)`` names the inputs and/or the output that the
  backward needs; ``backward(grad, *saved)`` receives them as arguments. Anything else the
  backward needs (an axis, a mask, a shape) is kept as an attribute of ``self``: a constant.
- ``backward`` returns one gradient per input, at the broadcast shape: undoing broadcasting
  is done once for every op (``unbroadcast`` below, called by the engine).
  ``self.needs_input_grad[i]`` says whether input i wants one (return None to skip the work).
- What was saved is guarded: if an input or the output saved for backward is changed in place
  before backward runs, backward raises instead of giving a silently wrong gradient.
- Under ``create_graph=True`` the same backward runs on Tensors (``grad`` and the saved values
  become Tensors) so that it is itself recorded and gradients of gradients work. Backward code
  therefore uses operators, comparisons and the methods arrays and Tensors share, plus the few
  helpers of :mod:`minigrad.ops.dispatch`. A fused kernel whose backward only works on arrays
  sets ``double_backward = False`` and the engine refuses it clearly.
- ``is_view = True`` says the output shares memory with the first input (they then share one
  version counter, so an in-place change through either is seen by both).
"""

from __future__ import annotations

import itertools

import numpy as np

from ..backend import device_of, on_device_of
from ..grad_mode import thread_state
from ..recording import recorder
from ..tensor import Tensor
from ..write_clock import writes

ndarray = np.ndarray
_new_tensor = object.__new__
_sequence = itertools.count()  # creation order of recorded nodes: a topological order


class Function:
    """Base of every op: subclasses define ``forward`` and ``backward`` (see the module doc).

    Filled in by ``apply`` when the node is recorded: ``inputs`` (the input Tensors),
    ``needs_input_grad``, ``sequence`` (creation order) and ``writes`` (the write clock when
    forward ran: a saved tensor written in place since has a later clock in ``_vc[1]``).
    """

    is_view = False
    double_backward = True
    saved: tuple = ()  # what forward saved for backward (arrays)

    inputs: tuple[Tensor, ...] | None = None  # (None: not recorded, or freed by backward)
    needs_input_grad: tuple[bool, ...]

    def forward(self, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad, *saved):  # pragma: no cover - abstract
        raise NotImplementedError

    def save_for_backward(self, *values) -> None:
        """Keep inputs and/or the output (the arrays forward got or returns) for backward."""
        self.saved = values

    @classmethod
    def apply(cls, *inputs: Tensor, **params) -> Tensor:
        """Run forward on the inputs' arrays and, when needed, record this node for backward."""
        fn = cls.__new__(cls)
        clock = writes[0]  # before forward: a write from then on is after this node's reads
        arrays, needs = [], []
        on_host = True
        for t in inputs:  # one pass: no comprehensions (each costs a call in CPython 3.11)
            a = t.array
            arrays.append(a)
            needs.append(t.requires_grad)
            if type(a) is not ndarray:
                on_host = False
        if not on_host:
            _check_devices(cls, arrays)
        try:
            if on_host:
                out_array = fn.forward(*arrays, **params)
            else:  # CuPy launches on its current device: make it the inputs' (cuda:N)
                with on_device_of(arrays[0]):
                    out_array = fn.forward(*arrays, **params)
        except ValueError as err:
            shapes = " and ".join(str(tuple(a.shape)) for a in arrays)
            raise ValueError(f"{cls.__name__}: inputs of shapes {shapes}: {err}") from None
        if type(out_array) is not ndarray and isinstance(out_array, np.generic):
            out_array = _as_0d(fn, out_array)  # NumPy gives scalars for 0-d results
        if recorder[0] is not None:  # minigrad.jit is capturing a step
            recorder[0].forward(fn, inputs, params, out_array)
        out = _new_tensor(Tensor)
        out.array = out_array
        out._grad = None
        out._hooks = None
        out._retains_grad = False
        out._vc = inputs[0]._vc if cls.is_view else [0, 0]
        if True in needs and thread_state.enabled:
            out.requires_grad = True
            out._ctx = fn
            fn.inputs = inputs
            fn.needs_input_grad = tuple(needs)
            fn.sequence = next(_sequence)
            fn.writes = clock
        else:
            out.requires_grad = False
            out._ctx = None
        return out

    def saved_tensors(self, out: Tensor) -> tuple:
        """What forward saved, as the Tensors it came from (for a recorded backward)."""
        tensors = []
        for i, v in enumerate(self.saved):
            t = self._source(v, out)[0]
            if t is None:
                raise TypeError(
                    f"{type(self).__name__} saved value {i} for backward, which is neither one "
                    "of its inputs nor its output: keep such values as attributes (constants), "
                    "or set double_backward = False"
                )
            tensors.append(t)
        return tuple(tensors)

    def check_versions(self, out: Tensor) -> None:
        """Raise if a saved input or output was changed in place after this node was recorded.

        The engine calls this only when some in-place write happened since then (``writes``
        differs from the write clock)."""
        for v in self.saved:
            t, what = self._source(v, out)
            if t is not None and t._vc[1] > self.writes:  # written after forward read it
                raise RuntimeError(
                    f"{type(self).__name__}.backward needs {what} (shape {tuple(t.shape)}), "
                    f"which was modified in place after it was used (now at version "
                    f"{t._vc[0]}); use an out-of-place op instead"
                )

    def _source(self, value, out: Tensor) -> tuple:
        """(the Tensor whose array ``value`` is, a name for messages); Nones for an array
        that is neither an input's nor the output's."""
        if value is out.array:  # (a view shares its base's counter and clock)
            return out, "its output"
        for i, t in enumerate(self.inputs):
            if value is t.array:
                return t, f"input {i}"
        return None, None

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"


def _as_0d(fn: Function, scalar):
    """A NumPy scalar result as a 0-d array, also where forward saved it as its output."""
    array = np.asarray(scalar)
    if fn.saved:
        fn.saved = tuple(array if v is scalar else v for v in fn.saved)
    return array


def _check_devices(cls, arrays) -> None:
    """Raise, naming every device, unless all arrays live on one device."""
    first = arrays[0]
    for a in arrays:
        if type(a) is not type(first) or (
            type(a) is not ndarray and a.device.id != first.device.id
        ):
            devs = ", ".join(str(device_of(x)) for x in arrays)
            raise RuntimeError(
                f"{cls.__name__}: expected all tensors on the same device, got {devs}"
            )


def unbroadcast(grad, shape: tuple):
    """Sum ``grad`` down to ``shape``: the adjoint of broadcasting ``shape`` up to grad's shape."""
    gshape = grad.shape
    extra = len(gshape) - len(shape)
    if extra and gshape[extra:] == shape:  # only leading dims were added (a bias, say)
        return grad.sum(axis=tuple(range(extra)) if extra > 1 else 0)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and gshape[i + extra] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if extra:
        grad = grad.reshape(shape)
    return grad
