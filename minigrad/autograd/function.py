"""The Function base: one small class per differentiable op.

A Function's ``forward`` works on raw arrays and returns the output array; its ``backward``
gets the upstream gradient and returns one gradient per input, written as the textbook
derivative. Undoing broadcasting happens here, once, for every op.

``backward(grad, inputs, out)`` receives the inputs' and the output's values as the engine
reads them at backward time. In ordinary backward these are arrays; under
``create_graph=True`` they are the Tensors themselves and ``grad`` is a Tensor, so the same
derivative code records a graph and gradients of gradients work. Backward code therefore uses
only operators and the helpers of :mod:`minigrad.ops.dispatch`, which serve arrays and Tensors
alike.

Before reading saved values the engine checks the version counters: a tensor changed in place
after the op recorded it raises instead of giving a silently wrong gradient.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..backend import device_of
from ..grad_mode import thread_state
from ..tensor import Tensor
from ..write_clock import writes

ndarray = np.ndarray
_new_tensor = object.__new__
_sequence = itertools.count()  # creation order of recorded nodes: a topological order


class Function:
    """Base of every op. Subclasses define ``forward`` and ``backward``.

    Class attributes:
        saves_inputs: backward reads the inputs' values (so in-place changes to them are errors).
        saves_output: backward reads the output's value.
        is_view: the output shares memory with the first input (they share a version counter).
        double_backward: backward can run on Tensors (``create_graph=True``); a fused kernel
            whose backward works on raw arrays only sets it False, and the engine then raises.
    """

    saves_inputs = True
    saves_output = False
    is_view = False
    double_backward = True

    # filled in by apply when a graph is recorded
    inputs: tuple[Tensor, ...] | None
    needs_input_grad: tuple[bool, ...]

    def forward(self, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad, inputs, out):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **params) -> Tensor:
        """Run forward on the inputs' arrays and, when needed, record this node for backward."""
        fn = cls.__new__(cls)
        n = len(inputs)
        if n == 1:
            arrays = (inputs[0].array,)
            requires_grad = inputs[0].requires_grad
        elif n == 2:  # most ops: no comprehensions on the hot path
            x, y = inputs
            arrays = (x.array, y.array)
            requires_grad = x.requires_grad or y.requires_grad
            if type(arrays[0]) is not ndarray or type(arrays[1]) is not ndarray:
                _check_devices(cls, arrays)
        else:  # one loop, no comprehensions (each costs a call in CPython 3.11)
            arrays, needs = [], []
            for t in inputs:
                arrays.append(t.array)
                needs.append(t.requires_grad)
            arrays = tuple(arrays)
            requires_grad = True in needs
            _check_devices(cls, arrays)
        try:
            out_data = fn.forward(*arrays, **params)
        except ValueError as err:
            shapes = " and ".join(str(tuple(a.shape)) for a in arrays)
            raise ValueError(f"{cls.__name__}: inputs of shapes {shapes}: {err}") from None
        if type(out_data) is not ndarray and isinstance(out_data, np.generic):
            out_data = np.asarray(out_data)  # NumPy gives scalars for 0-d results
        out = _new_tensor(Tensor)
        out.array = out_data
        out.grad = None
        out._hooks = None
        out._retains_grad = False
        out._vc = inputs[0]._vc if cls.is_view else [0]
        if requires_grad and thread_state.enabled:
            out.requires_grad = True
            out._ctx = fn
            fn.sequence = next(_sequence)
            fn.writes = writes[0]
            fn.inputs = inputs
            if n == 1:
                fn.needs_input_grad = (True,)
                if cls.saves_inputs:
                    fn.versions = (inputs[0]._vc[0],)
            elif n == 2:
                fn.needs_input_grad = (x.requires_grad, y.requires_grad)
                if cls.saves_inputs:
                    fn.versions = (x._vc[0], y._vc[0])
            else:
                fn.needs_input_grad = tuple(needs)
                if cls.saves_inputs:
                    fn.versions = tuple([t._vc[0] for t in inputs])
            if cls.saves_inputs:
                fn.arrays = arrays  # the inputs' values, checked against versions at backward
            if cls.saves_output:
                fn.out_version = out._vc[0]
        else:
            out.requires_grad = False
            out._ctx = None
        return out

    def check_versions(self, out: Tensor) -> None:
        """Raise if a value backward needs was changed in place after it was recorded.

        The engine calls this only when some in-place write happened after the node was
        recorded (``self.writes`` differs from the global write clock)."""
        if self.saves_inputs:
            for i, (t, v) in enumerate(zip(self.inputs, self.versions)):
                if t._vc[0] != v:
                    raise RuntimeError(
                        f"{type(self).__name__}.backward needs input {i} (shape "
                        f"{tuple(t.shape)}), which was modified in place after it was used "
                        f"(version {t._vc[0]}, expected {v}); use an out-of-place op instead"
                    )
        if self.saves_output and out._vc[0] != self.out_version:
            raise RuntimeError(
                f"{type(self).__name__}.backward needs its output (shape {tuple(out.shape)}), "
                f"which was modified in place after it was computed (version {out._vc[0]}, "
                f"expected {self.out_version}); use an out-of-place op instead"
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"


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
