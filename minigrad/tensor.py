"""Tensor: one array of its device's backend, plus what autograd needs.

Operators and methods delegate to the small Function classes in :mod:`minigrad.ops`, and
``backward`` to the engine in :mod:`minigrad.autograd.engine`.

Imports: the one cycle in minigrad is inherent. Tensor methods call the ops and the engine,
and those build Tensors. As in tinygrad, this module imports them at its very end, after
every name they import from here is defined (see the last lines); every other import in
minigrad sits at the top of its file.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

from . import backend
from .backend import Array, Device, DeviceLike, device_of, get_array_module
from .grad_mode import thread_state
from .write_clock import writes

_SUPPORTED_KINDS = "biuf"  # bool, signed and unsigned integers, floats

def _check_dtype(dtype: np.dtype) -> None:
    if dtype.kind not in _SUPPORTED_KINDS:
        raise TypeError(
            f"unsupported dtype {dtype}: minigrad tensors hold bool, integer or float data"
        )


def _as_array(data, dtype=None, device: DeviceLike = None, copy: bool = True) -> Array:
    """Convert ``data`` (a number, nested list, NumPy/CuPy array or Tensor) to a backend array.

    Python floats and float arrays become the default float dtype (float32) unless ``dtype``
    says otherwise; integers stay int64, bools stay bool.
    """
    if isinstance(data, Tensor):
        data = data.array
    dev = Device(device) if device is not None else None
    if dtype is not None:
        dtype = np.dtype(dtype)
        _check_dtype(dtype)
    xp = get_array_module(data)
    if xp is np:
        if isinstance(data, (str, bytes)):
            raise TypeError(f"unsupported data {data!r}: expected numbers, not a string")
        try:
            arr = np.array(data, copy=copy) if isinstance(data, np.ndarray) else np.asarray(data)
        except ValueError as err:  # ragged nesting
            raise ValueError(
                f"tensor(): data must be a rectangular nested sequence of numbers ({err})"
            ) from None
        if arr.dtype.kind in "OSUV":
            raise TypeError(
                f"unsupported dtype {arr.dtype} for data of type {type(data).__name__}: "
                "expected numbers (bool, int or float)"
            )
    else:
        arr = xp.array(data, copy=copy)
    if dtype is None:
        dtype = backend.get_default_dtype() if arr.dtype.kind == "f" else arr.dtype
        if arr.dtype.kind == "c":
            _check_dtype(arr.dtype)
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    if dev is not None and device_of(arr) != dev:
        arr = backend.to_device(arr, dev)
    return arr


class Tensor:
    """An n-dimensional array that can record the operations applied to it for backward.

    Args:
        data: a number, nested list, NumPy or CuPy array, or Tensor.
        requires_grad: record operations on this tensor so that ``backward`` fills ``.grad``.
        dtype: the dtype; by default floats become float32, ints int64, bools bool.
        device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``; by default where ``data`` lives.
    """

    __slots__ = ("array", "grad", "requires_grad", "_ctx", "_vc", "_hooks", "_retains_grad",
                 "__weakref__")
    __array_priority__ = 1000  # so ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None, device: DeviceLike = None):
        self.array = _as_array(data, dtype, device)
        self.grad: Tensor | None = None
        self._ctx = None
        self._vc = [0]
        self._hooks = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: Array, requires_grad: bool = False) -> Tensor:
        """Wrap an existing backend array without copying or converting it (a NumPy scalar,
        which NumPy returns for 0-d results, becomes a 0-d array)."""
        if type(array) is not np.ndarray and isinstance(array, np.generic):
            array = np.asarray(array)
        t = object.__new__(cls)
        t.array = array
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = None
        t._vc = [0]
        t._hooks = None
        t._retains_grad = False
        return t

    # ----------------------------------------------------------------- attributes
    @property
    def data(self) -> Tensor:
        """A tensor sharing this tensor's storage, outside the graph (torch's ``.data``).

        In-place methods on it (``p.data.normal_()``, ``p.data.mul_(0.5)``) change this tensor
        and are not recorded by autograd; it has a version counter of its own, so they are not
        seen by backward's in-place checks either (as in torch). ``p.data = t`` replaces the
        storage. The raw backend array (``numpy.ndarray`` or ``cupy.ndarray``) is ``.array``:
        that is what the library's own code reads and writes.
        """
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(
                f"data must be set to a Tensor, got {type(value).__name__} "
                "(use minigrad.tensor(...) to make one)"
            )
        if self.requires_grad and value.array.dtype.kind != "f":
            raise TypeError(
                f"data set to a tensor of dtype {value.array.dtype}, but this tensor requires "
                "grad: only floating-point data can require grad"
            )
        self.array = value.array

    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def size(self) -> int:
        return self.array.size

    def numel(self) -> int:
        return self.array.size

    def dim(self) -> int:
        return self.array.ndim

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    @property
    def device(self) -> Device:
        return device_of(self.array)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    @property
    def T(self) -> Tensor:
        return _ops.permute(self, tuple(range(self.array.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        return _ops.swapaxes(self, -1, -2)

    @property
    def _version(self) -> int:
        return self._vc[0]

    def _bump_version(self) -> None:
        """Mark the data as changed in place (backward checks this)."""
        self._vc[0] += 1
        writes[0] += 1

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.array.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require grad, got dtype {self.array.dtype}"
            )
        if not requires_grad and self._ctx is not None:
            raise RuntimeError(
                "requires_grad_(False) on a non-leaf tensor: use .detach() to cut it from the graph"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retains_grad = True

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Callable[[], None]:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a function that removes the hook."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        hooks = self._hooks

        def remove() -> None:
            if hook in hooks:
                hooks.remove(hook)

        return remove

    # ----------------------------------------------------------------- autograd
    def backward(self, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        Args:
            grad: the upstream gradient, same shape as self; may be omitted for a scalar.
            retain_graph: keep the graph so that backward can run through it again.
            create_graph: record the backward pass too, for gradients of gradients.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: it has no graph "
                "(create leaves with requires_grad=True, and call it outside no_grad)"
            )
        g = _initial_grad(self, grad, create_graph)
        run_backward([self], [g], retain_graph=retain_graph or create_graph,
                     create_graph=create_graph)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory and the version counter)."""
        t = Tensor._wrap(self.array)
        t._vc = self._vc
        return t

    def detach_(self) -> Tensor:
        self._ctx = None
        self.requires_grad = False
        return self

    def item(self):
        if self.array.size != 1:
            raise ValueError(
                f"item() needs a tensor with one element, got shape {tuple(self.array.shape)}"
            )
        return self.array.item()

    def tolist(self):
        return self.numpy().tolist()

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (copied from the GPU; shared on the CPU)."""
        if self.requires_grad:
            raise RuntimeError(
                "numpy() on a tensor that requires grad: call .detach().numpy() instead"
            )
        return backend.to_device(self.array, backend.CPU)

    def __array__(self, dtype=None, copy=None):
        arr = backend.to_device(self.array, backend.CPU)
        return arr if dtype is None else arr.astype(dtype)

    # ----------------------------------------------------------------- devices and dtypes
    def to(self, *args, **kwargs) -> Tensor:
        """``t.to('cuda')``, ``t.to(minigrad.float64)``, ``t.to('cpu', dtype)``: a moved or cast
        copy, differentiable; the same tensor when nothing changes."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, (str, Device)):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None and np.dtype(dtype) != self.array.dtype:
            out = _ops.cast(out, np.dtype(dtype))
        if device is not None and Device(device) != out.device:
            out = _ops.to_device(out, Device(device))
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, index: int | None = None) -> Tensor:
        return self.to("cuda" if index is None else f"cuda:{index}")

    def astype(self, dtype) -> Tensor:
        dtype = np.dtype(dtype)
        return self if dtype == self.array.dtype else _ops.cast(self, dtype)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def long(self) -> Tensor:
        return self.astype(np.int64)

    def int(self) -> Tensor:
        return self.astype(np.int32)

    def bool(self) -> Tensor:
        return self.astype(np.bool_)

    # ----------------------------------------------------------------- representation
    def __repr__(self) -> str:
        body = np.array2string(
            backend.to_device(self.array, backend.CPU), separator=", ", precision=4,
            prefix="tensor(",
        )
        extras = []
        if self.array.dtype != backend.get_default_dtype() and self.array.dtype.kind == "f" or (
            self.array.dtype.kind != "f" and self.array.dtype != np.int64
        ):
            extras.append(f"dtype={self.array.dtype}")
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self._ctx is not None:
            extras.append(f"grad_fn={self._ctx!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.array.size} elements is ambiguous"
            )
        return bool(self.array)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self.item())

    __hash__ = object.__hash__

    # ----------------------------------------------------------------- arithmetic
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    # comparisons: no gradient, bool results
    def __lt__(self, other):
        return _ops.compare(self, other, "less")

    def __le__(self, other):
        return _ops.compare(self, other, "less_equal")

    def __gt__(self, other):
        return _ops.compare(self, other, "greater")

    def __ge__(self, other):
        return _ops.compare(self, other, "greater_equal")

    def __eq__(self, other):  # elementwise, as in NumPy and torch
        return _ops.compare(self, other, "equal")

    def __ne__(self, other):
        return _ops.compare(self, other, "not_equal")

    def __invert__(self):
        if self.array.dtype != np.bool_:
            raise TypeError(f"~ needs a bool tensor, got dtype {self.array.dtype}")
        return Tensor._wrap(~self.array)

    def __and__(self, other):
        return Tensor._wrap(self.array & _raw(other))

    def __or__(self, other):
        return Tensor._wrap(self.array | _raw(other))

    # ----------------------------------------------------------------- in place
    def _check_inplace(self, name: str) -> None:
        if self.requires_grad and thread_state.enabled:
            kind = "a leaf tensor" if self._ctx is None else "a tensor in the graph"
            raise RuntimeError(
                f"{name} on {kind} that requires grad: wrap it in `with minigrad.no_grad():`, "
                "or use the out-of-place form"
            )

    def _inplace(self, name: str, ufunc: str, other) -> Tensor:
        self._check_inplace(name)
        xp = get_array_module(self.array)
        other = _raw(other)
        getattr(xp, ufunc)(self.array, other, out=self.array, casting="same_kind")
        self._bump_version()
        return self

    def add_(self, other, alpha: float = 1.0) -> Tensor:
        if alpha != 1.0:
            other = _raw(other) * alpha
        return self._inplace("add_", "add", other)

    def sub_(self, other, alpha: float = 1.0) -> Tensor:
        if alpha != 1.0:
            other = _raw(other) * alpha
        return self._inplace("sub_", "subtract", other)

    def mul_(self, other) -> Tensor:
        return self._inplace("mul_", "multiply", other)

    def div_(self, other) -> Tensor:
        return self._inplace("div_", "true_divide", other)

    def __iadd__(self, other):
        return self._inplace("+=", "add", other)

    def __isub__(self, other):
        return self._inplace("-=", "subtract", other)

    def __imul__(self, other):
        return self._inplace("*=", "multiply", other)

    def __itruediv__(self, other):
        return self._inplace("/=", "true_divide", other)

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value) -> Tensor:
        self._check_inplace("fill_")
        self.array[...] = _raw(value)
        self._bump_version()
        return self

    def copy_(self, src) -> Tensor:
        self._check_inplace("copy_")
        src = _raw(src)
        if tuple(src.shape) != tuple(self.array.shape) and np.broadcast_shapes(
            src.shape, self.array.shape
        ) != tuple(self.array.shape):
            raise ValueError(f"copy_: cannot copy shape {src.shape} into {self.array.shape}")
        self.array[...] = backend.to_device(src, self.device)
        self._bump_version()
        return self

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002 - torch's names
        self._check_inplace("clamp_")
        get_array_module(self.array).clip(self.array, min, max, out=self.array)
        self._bump_version()
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        self._check_inplace("normal_")
        self.array[...] = mean + std * backend.default_generator.normal(
            self.array.shape, self.array.dtype, self.device)
        self._bump_version()
        return self

    def uniform_(self, low: float = 0.0, high: float = 1.0) -> Tensor:
        self._check_inplace("uniform_")
        u = backend.default_generator.random(self.array.shape, self.array.dtype, self.device)
        self.array[...] = low + (high - low) * u
        self._bump_version()
        return self

    def __setitem__(self, index, value) -> None:
        self._check_inplace("item assignment")
        self.array[_ops.raw_index(index)] = _raw(value)
        self._bump_version()

    # ----------------------------------------------------------------- math methods
    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def abs(self):
        return _ops.abs(self)

    def sign(self):
        return _ops.sign(self)

    def clip(self, min=None, max=None):  # noqa: A002 - torch's names
        return _ops.clip(self, min, max)

    clamp = clip

    def where(self, condition, other):
        """``self`` where ``condition`` else ``other`` (torch's ``Tensor.where``)."""
        return _ops.where(condition, self, other)

    def maximum(self, other):
        return _ops.maximum(self, other)

    def minimum(self, other):
        return _ops.minimum(self, other)

    def relu(self):
        return _ops.relu(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def tanh(self):
        return _ops.tanh(self)

    def softplus(self):
        return _ops.softplus(self)

    def softmax(self, dim: int = -1):
        return _ops.softmax(self, dim)

    def log_softmax(self, dim: int = -1):
        return _ops.log_softmax(self, dim)

    def logsumexp(self, dim=None, keepdim: bool = False):
        return _ops.logsumexp(self, dim, keepdim)

    def matmul(self, other):
        return _ops.matmul(self, other)

    # reductions: torch's (dim, keepdim) and NumPy's (axis, keepdims) both accepted
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.sum(self, _pick(dim, axis), _pick(keepdim, keepdims))

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.mean(self, _pick(dim, axis), _pick(keepdim, keepdims))

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.max(self, _pick(dim, axis), _pick(keepdim, keepdims))

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.min(self, _pick(dim, axis), _pick(keepdim, keepdims))

    def var(self, dim=None, keepdim=False, *, correction=1, axis=None, keepdims=None):
        return _ops.var(self, _pick(dim, axis), _pick(keepdim, keepdims), correction)

    def std(self, dim=None, keepdim=False, *, correction=1, axis=None, keepdims=None):
        return _ops.std(self, _pick(dim, axis), _pick(keepdim, keepdims), correction)

    def argmax(self, dim=None, keepdim=False):
        return _ops.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _ops.argmin(self, dim, keepdim)

    # shape
    def reshape(self, *shape):
        return _ops.reshape(self, _shape_args(shape))

    def view(self, *shape):
        return _ops.reshape(self, _shape_args(shape))

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return _ops.flatten(self, start_dim, end_dim)

    def transpose(self, *dims):
        if len(dims) == 2 and all(isinstance(d, numbers.Integral) for d in dims):
            return _ops.swapaxes(self, dims[0], dims[1])  # torch's transpose(dim0, dim1)
        return _ops.permute(self, _shape_args(dims) if dims else None)

    def swapaxes(self, axis1: int, axis2: int):
        return _ops.swapaxes(self, axis1, axis2)

    def permute(self, *dims):
        return _ops.permute(self, _shape_args(dims))

    def squeeze(self, dim=None):
        return _ops.squeeze(self, dim)

    def unsqueeze(self, dim: int):
        return _ops.unsqueeze(self, dim)

    def expand(self, *shape):
        return _ops.expand(self, _shape_args(shape))

    def broadcast_to(self, shape):
        return _ops.expand(self, tuple(shape))

    def __getitem__(self, index):
        return _ops.getitem(self, index)


class Parameter(Tensor):
    """A Tensor that is a learnable parameter: requires grad by default, and registers itself
    when assigned as an attribute of a ``minigrad.nn.Module``."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True, dtype=None, device=None):
        if data is None:
            data = np.empty((0,), dtype=backend.get_default_dtype())
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, device=device)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _pick(torch_style, numpy_style):
    return torch_style if numpy_style is None else numpy_style


def _shape_args(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _raw(x):
    """The array inside a Tensor; anything else unchanged."""
    return x.array if isinstance(x, Tensor) else x


def _initial_grad(t: Tensor, grad, create_graph: bool):
    """The upstream gradient for ``t.backward(grad)``, checked and in t's dtype and device."""
    if grad is None:
        if t.array.size != 1:
            raise RuntimeError(
                f"backward() of a non-scalar tensor of shape {tuple(t.array.shape)} needs a "
                "`grad` of that shape (grad can be implicitly created only for scalar outputs)"
            )
        xp = get_array_module(t.array)
        g = xp.ones_like(t.array)
        return Tensor._wrap(g) if create_graph else g
    g_t = grad if isinstance(grad, Tensor) else Tensor(grad, dtype=t.array.dtype, device=t.device)
    if tuple(g_t.shape) != tuple(t.array.shape):
        raise RuntimeError(
            f"backward(): grad has shape {tuple(g_t.shape)} but the tensor has shape "
            f"{tuple(t.array.shape)}"
        )
    if g_t.device != t.device:
        raise RuntimeError(f"backward(): grad is on {g_t.device} but the tensor on {t.device}")
    if create_graph:
        return g_t
    g = g_t.array
    return g if g.dtype == t.array.dtype else g.astype(t.array.dtype)


# The inherent cycle (see the module docstring): what Tensor's methods call, imported last.
from . import ops as _ops  # noqa: E402
from .autograd.engine import run_backward  # noqa: E402
