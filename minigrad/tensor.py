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
import warnings
from collections.abc import Callable

import numpy as np

from . import backend
from .backend import Array, Device, DeviceLike, device_of, get_array_module
from .grad_mode import thread_state
from .recording import host_read, inplace_write, recorder
from .write_clock import writes

_SUPPORTED_KINDS = "biuf"  # bool, signed and unsigned integers, floats

def _is_array(data) -> bool:
    """An array or tensor with a dtype of its own (a NumPy scalar counts); not a Python
    number or nested list, whose floats NumPy reads as float64."""
    return hasattr(data, "dtype") and hasattr(data, "shape")


def _check_dtype(dtype: np.dtype) -> None:
    if dtype.kind not in _SUPPORTED_KINDS:
        raise TypeError(
            f"unsupported dtype {dtype}: minigrad tensors hold bool, integer or float data"
        )


def _as_array(data, dtype=None, device: DeviceLike = None, copy: bool = True) -> Array:
    """Convert ``data`` (a number, nested list, NumPy/CuPy array or Tensor) to a backend array.

    Without ``dtype``: Python floats, and float arrays wider than the default float dtype
    (float32), become the default (float64 data -> float32; torch would keep float64); narrower
    float arrays keep their dtype (float16 stays float16: never an upcast); integers keep
    theirs (Python ints -> int64), bools stay bool.
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
        with backend.on_device_of(data):  # cupy.array copies onto the *current* device
            arr = xp.array(data, copy=copy)
    if dtype is None:
        dtype = arr.dtype
        if dtype.kind == "f":
            default = backend.get_default_dtype()
            if dtype.itemsize > default.itemsize or not _is_array(data):
                dtype = default
        if arr.dtype.kind == "c":
            _check_dtype(arr.dtype)
    if arr.dtype != dtype:
        with backend.on_device_of(arr):
            arr = arr.astype(dtype)
    if dev is not None and device_of(arr) != dev:
        arr = backend.to_device(arr, dev)
    return arr


def _constructor_array(data, sizes: tuple, dtype, device: DeviceLike) -> Array:
    """The array of ``Tensor(data)`` / ``Tensor(*sizes)``, with torch.Tensor's rules: floating
    (the default dtype) unless ``dtype`` is given; integers alone are sizes."""
    dtype = backend.get_default_dtype() if dtype is None else dtype
    if data is None and not sizes:
        sizes = (0,)
    if sizes or (isinstance(data, numbers.Integral) and not isinstance(data, (bool, np.ndarray))):
        shape = sizes if data is None else (data, *sizes)
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        for n in shape:
            if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
                raise TypeError(
                    f"Tensor(*sizes): sizes must be non-negative ints, got {shape!r} (to make a "
                    "tensor from data, pass one sequence: Tensor([1, 2]))"
                )
        dt = np.dtype(dtype)
        _check_dtype(dt)
        return Device(device).xp.zeros(tuple(int(n) for n in shape), dtype=dt)
    return _as_array(data, dtype, device)


class Size(tuple):
    """A tensor's shape, as ``torch.Size``: a tuple of ints that also counts its elements."""

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self) -> str:
        return f"minigrad.Size({list(self)})"


def bump_versions(tensors: list) -> None:
    """``t._bump_version()`` for every tensor, in one loop (an optimizer's flat step)."""
    writes[0] += len(tensors)
    clock = writes[0]
    for t in tensors:
        vc = t._vc
        vc[0] += 1
        vc[1] = clock
    if recorder[0] is not None:  # minigrad.jit: as in _bump_version
        for t in tensors:
            inplace_write(t)


def take_grad_home(t: Tensor | None, dtype, order: str = "C") -> Array | None:
    """The array where backward may write leaf ``t``'s gradient itself, taken (no other node
    of this pass gets it: a parameter used twice gets the sum of two gradients), or None:
    nothing was offered (an optimizer's ``zero_grad`` offers each parameter of a group laid
    out flat its view of the group's gradient buffer), ``t`` has a gradient already (the new
    one is added to it), ``minigrad.jit`` is recording, or the home cannot be a NumPy
    ``out=`` for a gradient of ``dtype`` and ``t``'s shape, C-contiguous (``order`` "C") or
    F-contiguous ("F", written through its transpose). The op writes the gradient there and
    returns it; the engine makes it the ``.grad`` as it is, and the optimizer's next step
    finds its gradients already in its buffer: none allocated, none copied (BENCHMARKS.md,
    "Issue 14: gradients written into the optimizer's buffer").
    """
    home = getattr(t, "_grad_home", None)
    if home is None or t._grad is not None or recorder[0] is not None:
        return None
    flags = home.flags
    if (home.dtype != dtype or home.shape != t.array.shape
            or not (flags.c_contiguous if order == "C" else flags.f_contiguous)):
        return None
    t._grad_home = None
    t._grad_written = home
    return home


class Tensor:
    """An n-dimensional array that can record the operations applied to it for backward.

    As ``torch.Tensor``, the constructor makes floating tensors: ``Tensor([1, 2, 3])`` is
    float32 (the default dtype), and ``Tensor(2, 3)`` is a (2, 3) tensor of zeros (torch leaves
    it uninitialised). ``minigrad.tensor(data)`` keeps the data's kind: ints stay int64.

    Args:
        data: a number, nested list, NumPy or CuPy array, or Tensor; or the first of the sizes.
        *sizes: the remaining sizes, for the ``Tensor(2, 3)`` form.
        requires_grad: record operations on this tensor so that ``backward`` fills ``.grad``.
        dtype: the dtype; by default the default float dtype (float32).
        device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``; by default where ``data`` lives.
    """

    __slots__ = ("array", "_grad", "requires_grad", "_ctx", "_vc", "_hooks", "_retains_grad",
                 "__weakref__")
    __array_priority__ = 1000  # so ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data=None, *sizes, requires_grad: bool = False, dtype=None,
                 device: DeviceLike = None):
        self.array = _constructor_array(data, sizes, dtype, device)
        self._grad: Tensor | None = None
        self._ctx = None
        self._vc = [0, 0]  # (version, write clock of the last in-place write)
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
        t._grad = None
        t.requires_grad = requires_grad
        t._ctx = None
        t._vc = [0, 0]
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
    def grad(self) -> Tensor | None:
        """The gradient accumulated by ``backward`` (None until then).

        Filled for leaves that require grad, and for non-leaves that called
        :meth:`retain_grad`; reading it on any other non-leaf warns, as torch does, since
        backward never fills it. Assigning checks the value against this tensor (shape,
        dtype, device) at the assignment, so a wrong gradient cannot reach an optimizer.
        The backward engine writes ``_grad`` directly and pays for none of this.
        """
        if self._ctx is not None and not self._retains_grad:
            warnings.warn(
                "reading .grad of a non-leaf tensor: backward does not fill it (only leaves "
                "get .grad); call .retain_grad() on it before backward if you want its "
                "gradient, or read the .grad of the leaf tensors instead", UserWarning,
                stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            _check_grad_value(self, value)
        self._grad = value

    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None):
        """The shape as a :class:`Size` (a tuple), or the length of dimension ``dim``."""
        if dim is None:
            return Size(self.array.shape)
        if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
            raise TypeError(f"size(dim): dim must be an int, got {dim!r}")
        nd = self.array.ndim
        if not -max(nd, 1) <= dim < max(nd, 1) or nd == 0:
            raise IndexError(
                f"size({dim}): dimension out of range for a tensor of {nd} dim(s) "
                f"(expected to be in [{-nd}, {nd - 1}])"
            )
        return self.array.shape[dim]

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
        vc = self._vc
        vc[0] += 1
        writes[0] += 1
        vc[1] = writes[0]  # the clock of this write: later than every node recorded before it
        if recorder[0] is not None:  # minigrad.jit: refused inside a captured step
            inplace_write(self)

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

    def register_post_accumulate_grad_hook(
            self, hook: Callable[[Tensor], None]) -> Callable[[], None]:
        """Call ``hook(self)`` after backward has accumulated this leaf's gradient into
        ``self.grad`` (as torch's); see :func:`minigrad.autograd.engine.
        register_post_accumulate_grad_hook`. Returns a function that removes the hook."""
        return register_post_accumulate_grad_hook(self, hook)

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
        host_read("item()")
        if self.array.size != 1:
            raise ValueError(
                f"item() needs a tensor with one element, got shape {tuple(self.array.shape)}"
            )
        return self.array.item()

    def tolist(self):
        """Nested Python lists (works on tensors that require grad, as torch's)."""
        host_read("tolist()")
        return backend.to_device(self.array, backend.CPU).tolist()

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (copied from the GPU; shared on the CPU)."""
        host_read("numpy()")
        if self.requires_grad:
            raise RuntimeError(
                "numpy() on a tensor that requires grad: call .detach().numpy() instead"
            )
        return backend.to_device(self.array, backend.CPU)

    def __array__(self, dtype=None, copy=None):
        host_read("numpy.asarray()")
        arr = backend.to_device(self.array, backend.CPU)
        return arr if dtype is None else arr.astype(dtype)

    # ----------------------------------------------------------------- devices and dtypes
    def to(self, *args, **kwargs) -> Tensor:
        """``t.to('cuda')``, ``t.to(minigrad.float64)``, ``t.to('cpu', dtype)``, ``t.to(other)``:
        a moved or cast copy, differentiable; the same tensor when nothing changes."""
        device, dtype = parse_to_args("to", args, kwargs)
        out = self
        if dtype is not None and np.dtype(dtype) != self.array.dtype:
            _check_dtype(np.dtype(dtype))
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
        _check_dtype(dtype)
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
        host_read("bool()")
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
        return Tensor._wrap(self.array & _host_value(other, self.array))

    def __or__(self, other):
        return Tensor._wrap(self.array | _host_value(other, self.array))

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
        other = _host_value(other, self.array)
        try:
            if xp is np:
                getattr(xp, ufunc)(self.array, other, out=self.array, casting="same_kind")
            else:
                with backend.on_device_of(self.array):  # CuPy launches on its current device
                    getattr(xp, ufunc)(self.array, other, out=self.array, casting="same_kind")
        except TypeError:  # NumPy's casting message names ufuncs; say which dtypes clash
            raise TypeError(_inplace_type_message(name, self.array, other)) from None
        except ValueError:  # NumPy's broadcasting message; name the shapes torch-style
            raise ValueError(
                f"{name}: cannot apply an operand of shape "
                f"{tuple(getattr(other, 'shape', ()))} in place to this tensor of shape "
                f"{tuple(self.array.shape)}"
            ) from None
        self._bump_version()
        return self

    def add_(self, other, alpha: float = 1.0) -> Tensor:
        if alpha != 1.0:
            other = _host_value(other, self.array) * alpha
        return self._inplace("add_", "add", other)

    def sub_(self, other, alpha: float = 1.0) -> Tensor:
        if alpha != 1.0:
            other = _host_value(other, self.array) * alpha
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
        _assign(self.array, Ellipsis, value)
        self._bump_version()
        return self

    def copy_(self, src) -> Tensor:
        self._check_inplace("copy_")
        src = _host_value(src, self.array)
        if tuple(src.shape) != tuple(self.array.shape) and np.broadcast_shapes(
            src.shape, self.array.shape
        ) != tuple(self.array.shape):
            raise ValueError(f"copy_: cannot copy shape {src.shape} into {self.array.shape}")
        _assign(self.array, Ellipsis, src)
        self._bump_version()
        return self

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002 - torch's names
        self._check_inplace("clamp_")
        with backend.on_device_of(self.array):  # CuPy launches on its current device
            get_array_module(self.array).clip(self.array, min, max, out=self.array)
        self._bump_version()
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        self._check_inplace("normal_")
        z = backend.default_generator.normal(self.array.shape, self.array.dtype, self.device)
        with backend.on_device_of(z):  # the arithmetic on z's GPU too (cuda:N)
            _assign(self.array, Ellipsis, mean + std * z)
        self._bump_version()
        return self

    def uniform_(self, low: float = 0.0, high: float = 1.0) -> Tensor:
        self._check_inplace("uniform_")
        u = backend.default_generator.random(self.array.shape, self.array.dtype, self.device)
        with backend.on_device_of(u):
            _assign(self.array, Ellipsis, low + (high - low) * u)
        self._bump_version()
        return self

    def _inplace_from(self, name: str, fn, *args) -> Tensor:
        """Write ``fn(self, *args)``, computed out of place outside the graph, into this
        tensor's storage (torch's ``x.exp_()`` family)."""
        self._check_inplace(name)
        result = fn(Tensor._wrap(self.array), *args).array
        if not np.can_cast(result.dtype, self.array.dtype, "same_kind"):
            raise RuntimeError(f"{name}: result type {result.dtype} can't be cast to the "
                               f"tensor's dtype {self.array.dtype}")
        self.array[...] = result
        self._bump_version()
        return self

    def exp_(self):
        return self._inplace_from("exp_", _ops.exp)

    def log_(self):
        return self._inplace_from("log_", _ops.log)

    def sqrt_(self):
        return self._inplace_from("sqrt_", _ops.sqrt)

    def abs_(self):
        return self._inplace_from("abs_", _ops.abs)

    def neg_(self):
        return self._inplace_from("neg_", _ops.neg)

    def pow_(self, exponent):
        return self._inplace_from("pow_", _ops.pow, exponent)

    def tanh_(self):
        return self._inplace_from("tanh_", _ops.tanh)

    def sigmoid_(self):
        return self._inplace_from("sigmoid_", _ops.sigmoid)

    def relu_(self):
        return self._inplace_from("relu_", _ops.relu)

    def floor_(self):
        return self._inplace_from("floor_", _fn.floor)

    def ceil_(self):
        return self._inplace_from("ceil_", _fn.ceil)

    def round_(self, decimals: int = 0):
        return self._inplace_from("round_", lambda t: _fn.round(t, decimals=decimals))

    def sign_(self):
        return self._inplace_from("sign_", _fn.sign)

    def __setitem__(self, index, value) -> None:
        self._check_inplace("item assignment")
        _assign(self.array, _ops.shape.array_index(index, self.array), value)
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
        return _fn.sign(self)

    def pow(self, exponent):
        return _ops.pow(self, exponent)

    def sin(self):
        return _fn.sin(self)

    def cos(self):
        return _fn.cos(self)

    def tan(self):
        return _fn.tan(self)

    def asin(self):
        return _fn.asin(self)

    def acos(self):
        return _fn.acos(self)

    def atan(self):
        return _fn.atan(self)

    def sinh(self):
        return _fn.sinh(self)

    def cosh(self):
        return _fn.cosh(self)

    arcsin, arccos, arctan = asin, acos, atan

    def floor(self):
        return _fn.floor(self)

    def ceil(self):
        return _fn.ceil(self)

    def round(self, decimals: int = 0):
        return _fn.round(self, decimals=decimals)

    def add(self, other, *, alpha=1):
        return _fn.add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        return _fn.sub(self, other, alpha=alpha)

    def mul(self, other):
        return _ops.mul(self, other)

    def div(self, other, *, rounding_mode=None):
        return _fn.div(self, other, rounding_mode=rounding_mode)

    subtract, multiply, divide, true_divide = sub, mul, div, div

    def mm(self, mat2):
        return _fn.mm(self, mat2)

    def bmm(self, mat2):
        return _fn.bmm(self, mat2)

    def t(self):
        return _fn.t(self)

    def clone(self, *, memory_format=None):
        return _fn.clone(self)

    def eq(self, other):
        return _fn.eq(self, other)

    def ne(self, other):
        return _fn.ne(self, other)

    def lt(self, other):
        return _fn.lt(self, other)

    def le(self, other):
        return _fn.le(self, other)

    def gt(self, other):
        return _fn.gt(self, other)

    def ge(self, other):
        return _fn.ge(self, other)

    def square(self):
        return _fn.square(self)

    def neg(self):
        return _ops.neg(self)

    negative = neg

    def reciprocal(self):
        return _fn.reciprocal(self)

    def rsqrt(self):
        return _fn.rsqrt(self)

    def log1p(self):
        return _fn.log1p(self)

    def expm1(self):
        return _fn.expm1(self)

    def cumsum(self, dim: int):
        return _fn.cumsum(self, dim)

    def norm(self, p="fro", dim=None, keepdim: bool = False):
        return _fn.norm(self, p, dim, keepdim)

    def remainder(self, other):
        return _fn.remainder(self, other)

    def floor_divide(self, other):
        return _fn.floor_divide(self, other)

    def __floordiv__(self, other):
        return _fn.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _fn.floor_divide(_ops.elementwise.as_tensor_like(other, self), self)

    def __mod__(self, other):
        return _fn.remainder(self, other)

    def __rmod__(self, other):
        return _fn.remainder(_ops.elementwise.as_tensor_like(other, self), self)

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return _fn.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def masked_fill(self, mask, value):
        return _fn.masked_fill(self, mask, value)

    def masked_fill_(self, mask, value):
        self._check_inplace("masked_fill_")
        m = _raw(mask)
        if getattr(m, "dtype", None) != np.bool_:
            raise TypeError(f"masked_fill_: mask must be a bool tensor, got "
                            f"{getattr(m, 'dtype', m)}")
        xp = get_array_module(self.array)
        self.array[...] = xp.where(m, _raw(value), self.array)
        self._bump_version()
        return self

    def index_select(self, dim: int, index):
        return _fn.index_select(self, dim, index)

    def gather(self, dim: int, index):
        return _fn.gather(self, dim, index)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        return _fn.sort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        return _fn.topk(self, k, dim, largest, sorted)

    def split(self, split_size, dim: int = 0):
        return _fn.split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0):
        return _fn.chunk(self, chunks, dim)

    def unbind(self, dim: int = 0):
        return _fn.unbind(self, dim)

    def triu(self, diagonal: int = 0):
        return _fn.triu(self, diagonal)

    def tril(self, diagonal: int = 0):
        return _fn.tril(self, diagonal)

    def diag(self, diagonal: int = 0):
        return _fn.diag(self, diagonal)

    def repeat(self, *sizes):
        return _fn.repeat(self, _shape_args(sizes))

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def all(self, dim=None, keepdim: bool = False):
        return _fn.all(self, dim, keepdim)

    def any(self, dim=None, keepdim: bool = False):
        return _fn.any(self, dim, keepdim)

    def equal(self, other) -> bool:
        return _fn.equal(self, other)

    def allclose(self, other, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False):
        return _fn.allclose(self, other, rtol, atol, equal_nan)

    def isclose(self, other, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False):
        return _fn.isclose(self, other, rtol, atol, equal_nan)

    def contiguous(self, memory_format=None):
        """This tensor if its array is C-contiguous, else a C-contiguous copy in the graph
        (torch's rule). The ops need neither: each takes any layout."""
        return self if self.array.flags.c_contiguous else self.clone()

    def is_contiguous(self, memory_format=None) -> bool:
        """Whether the array is C-contiguous (row-major). An ``nn.Linear`` weight is not: it is
        stored column-major, where torch's is contiguous (docs/from_pytorch.md says why)."""
        return bool(self.array.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def type(self, dtype=None, non_blocking: bool = False):
        """``x.type()``: the type name, as torch's (``'minigrad.FloatTensor'``);
        ``x.type(dtype)``: a cast copy (``dtype`` a dtype or a name like
        ``'torch.DoubleTensor'``)."""
        if dtype is None:
            return "minigrad." + _TYPE_NAMES.get(self.array.dtype, f"{self.array.dtype}Tensor")
        if isinstance(dtype, str):
            name = dtype.rpartition(".")[2]
            found = [dt for dt, n in _TYPE_NAMES.items() if n == name]
            if not found:
                raise ValueError(f"type(): unknown tensor type {dtype!r}; expected one of "
                                 f"{sorted(_TYPE_NAMES.values())} or a dtype")
            dtype = found[0]
        return self.astype(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.astype(other.array.dtype)

    def view_as(self, other: Tensor) -> Tensor:
        return _ops.reshape(self, tuple(other.shape))

    reshape_as = view_as

    def expand_as(self, other: Tensor) -> Tensor:
        return _ops.expand(self, tuple(other.shape))

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> Tensor:
        """A new tensor (a copy of ``data``) with this tensor's dtype and device by default."""
        t = Tensor._wrap(_as_array(data, dtype or self.array.dtype, device or self.device))
        return t.requires_grad_(True) if requires_grad else t

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self.new_full(_shape_args(size), 0, dtype=dtype, device=device,
                             requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self.new_full(_shape_args(size), 1, dtype=dtype, device=device,
                             requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        xp = Device(device or self.device).xp
        t = Tensor._wrap(xp.full(tuple(size), fill_value, dtype=dtype or self.array.dtype))
        return t.requires_grad_(True) if requires_grad else t

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
        """torch's: ``x.max()`` the largest element, ``x.max(dim)`` the pair
        ``(values, indices)``, ``x.max(other_tensor)`` the elementwise maximum. NumPy's
        keywords (``axis=``, ``keepdims=``) give NumPy's answer: the values only."""
        if _numpy_style(dim, axis, keepdims):
            return _ops.max(self, _pick(dim, axis), _pick(keepdim, keepdims))
        return _fn.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """torch's ``min``, as :meth:`max`."""
        if _numpy_style(dim, axis, keepdims):
            return _ops.min(self, _pick(dim, axis), _pick(keepdim, keepdims))
        return _fn.min(self, dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        return _fn.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        return _fn.amin(self, dim, keepdim)

    def var(self, dim=None, keepdim=False, *, correction=1, axis=None, keepdims=None):
        return _ops.var(self, _pick(dim, axis), _pick(keepdim, keepdims), correction)

    def std(self, dim=None, keepdim=False, *, correction=1, axis=None, keepdims=None):
        return _ops.std(self, _pick(dim, axis), _pick(keepdim, keepdims), correction)

    def argmax(self, dim=None, keepdim=False, *, axis=None):
        return _fn.argmax(self, dim, keepdim, axis=axis)

    def argmin(self, dim=None, keepdim=False, *, axis=None):
        return _fn.argmin(self, dim, keepdim, axis=axis)

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
    when assigned as an attribute of a ``minigrad.nn.Module``.

    ``_grad_home`` (unset, or None, unless an optimizer offered one): an array of the
    parameter's shape, dtype and layout where the next backward may write its gradient, a
    view of the optimizer's flat gradient buffer (:func:`take_grad_home`); ``_grad_written``:
    the home an op of the running backward wrote, which the engine keeps as the ``.grad``.
    """

    __slots__ = ("_grad_home", "_grad_written")

    def __init__(self, data=None, requires_grad: bool = True, dtype=None, device=None):
        if data is None:
            data = np.empty((0,), dtype=backend.get_default_dtype())
        # torch's Parameter wraps a tensor as it is (its dtype kept); other data follows
        # minigrad.tensor's rules, not the float-only Tensor constructor's
        if dtype is None and isinstance(data, Tensor):
            dtype = data.array.dtype
        self.array = _as_array(data, dtype, device)
        self._grad = None
        self._ctx = None
        self._vc = [0, 0]
        self._hooks = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _inplace_type_message(name: str, array, other) -> str:
    if not (isinstance(other, numbers.Number) or hasattr(other, "dtype")):
        return f"{name}: expected a number or a tensor, got {type(other).__name__}"
    result = get_array_module(array).result_type(array, other)
    return (f"{name}: the result has dtype {result} ({array.dtype} with "
            f"{getattr(other, 'dtype', type(other).__name__)}), which cannot be stored in this "
            f"tensor of dtype {array.dtype}")


def _check_grad_value(t: Tensor, g) -> None:
    """Raise unless ``g`` can be ``t``'s gradient: a Tensor of t's shape, dtype and device."""
    if not isinstance(g, Tensor):
        raise TypeError(f"assigned grad must be a Tensor or None, got {type(g).__name__}")
    if g is t:
        raise RuntimeError("cannot assign a tensor as its own grad")
    ga, ta = g.array, t.array
    if ga.shape != ta.shape:
        raise RuntimeError(
            f"assigned grad has shape {tuple(ga.shape)}, but the tensor has shape "
            f"{tuple(ta.shape)}: they must match"
        )
    if ga.dtype != ta.dtype:
        raise RuntimeError(
            f"assigned grad has dtype {ga.dtype}, but the tensor has dtype "
            f"{ta.dtype}: they must match (cast it with .to({ta.dtype}))"
        )
    # the device: compared without building Device objects (an assignment stays cheap)
    if type(ga) is not type(ta) or (type(ta) is not np.ndarray and ga.device.id != ta.device.id):
        raise RuntimeError(
            f"assigned grad is on device {g.device}, but the tensor is on {t.device}: "
            "they must match"
        )


_TYPE_NAMES = {
    np.dtype(np.float16): "HalfTensor", np.dtype(np.float32): "FloatTensor",
    np.dtype(np.float64): "DoubleTensor", np.dtype(np.int8): "CharTensor",
    np.dtype(np.uint8): "ByteTensor", np.dtype(np.int16): "ShortTensor",
    np.dtype(np.int32): "IntTensor", np.dtype(np.int64): "LongTensor",
    np.dtype(np.bool_): "BoolTensor",
}


def _numpy_style(dim, axis, keepdims) -> bool:
    """A reduction called NumPy's way (axis=, keepdims=, or a tuple of dims): values only."""
    return axis is not None or keepdims is not None or not isinstance(
        dim, (numbers.Integral, Tensor))


def parse_to_args(name: str, args: tuple, kwargs: dict) -> tuple:
    """``(device, dtype)`` from the arguments of torch's ``to``, each None when not given:
    positional devices (``'cuda'``, a Device), dtypes, or a tensor (its device and dtype), and
    the ``device=``/``dtype=`` keywords. Shared by ``Tensor.to`` and ``Module.to``."""
    kwargs = dict(kwargs)
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"{name}() got unexpected arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, (str, Device)):
            device = a
        elif isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        else:
            dtype = a
    return device, dtype


def _pick(torch_style, numpy_style):
    return torch_style if numpy_style is None else numpy_style


def _shape_args(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _raw(x):
    """The array inside a Tensor; anything else unchanged."""
    return x.array if isinstance(x, Tensor) else x


def _assign(array: Array, index, value) -> None:
    """``array[index] = value``: a host value moved to a GPU array's device first, and the
    copy launched on that GPU (CuPy launches on its current device)."""
    value = _host_value(value, array)
    if type(array) is np.ndarray:
        array[index] = value
    else:
        with backend.on_device_of(array):
            array[index] = value


def _host_value(value, like: Array):
    """A Tensor's array or any host value, on ``like``'s device, ready to be written into it
    (see :func:`minigrad.backend.host_value_on`: the one place host data meets GPU data)."""
    return backend.host_value_on(value.array if isinstance(value, Tensor) else value, like)


def _initial_grad(t: Tensor, grad, create_graph: bool):
    """The upstream gradient for ``t.backward(grad)``, checked and in t's dtype and device."""
    if grad is None:
        if t.array.size != 1:
            raise RuntimeError(
                f"backward() of a non-scalar tensor of shape {tuple(t.array.shape)} needs a "
                "`grad` of that shape (grad can be implicitly created only for scalar outputs)"
            )
        a = t.array  # copy + fill: two C calls (0.2 us); NumPy's ones_like is a Python
        if type(a) is np.ndarray:  # function (0.9 us), paid on every loss.backward()
            g = a.copy()
        else:
            with backend.on_device_of(a):  # CuPy allocates on the current device
                g = a.copy()
        g.fill(1)
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
from . import functions as _fn  # noqa: E402  (torch-signature wrappers over ops)
from . import ops as _ops  # noqa: E402
from .autograd.engine import register_post_accumulate_grad_hook, run_backward  # noqa: E402
