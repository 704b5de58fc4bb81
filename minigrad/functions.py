"""The top-level math functions with torch's signatures: ``minigrad.add(input, other, *,
alpha=1, out=None)``, ``minigrad.max(x, dim)`` returning ``(values, indices)``, and so on.

Each is a thin layer over the differentiable ops of :mod:`minigrad.ops` that adds torch's
keyword names, its overloads (``max(x)``, ``max(x, dim)``, ``max(x, other)``) and ``out=``.
Tensor methods of the same names call these.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from . import backend
from . import ops as _ops
from .autograd.grad_mode import is_grad_enabled
from .backend import Device, DeviceLike, get_array_module
from .ops import clone as _clone
from .ops import linalg as _linalg
from .ops import rounding as _rounding
from .ops import selection as _selection
from .ops import trigonometric as _trig
from .tensor import Tensor

# ----------------------------------------------------------------------------- out=


def _into(out: Tensor | None, result: Tensor, name: str) -> Tensor:
    """Write ``result`` into ``out`` as torch's ``out=`` does (resizing a tensor of another
    shape; casting only within the same kind), or return ``result`` when ``out`` is None."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): out must be a Tensor, got {type(out).__name__}")
    if result.requires_grad or (out.requires_grad and is_grad_enabled()):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad (call it under "
            "minigrad.no_grad(), or drop out=)"
        )
    src, dst = result.array.dtype, out.array.dtype
    if not np.can_cast(src, dst, "same_kind"):
        raise RuntimeError(f"{name}(): result type {src} can't be cast to the desired output "
                           f"type {dst} of out=")
    if tuple(out.array.shape) != tuple(result.array.shape):
        out.array = result.array.astype(dst)  # torch resizes out to the result's shape
    else:
        out.array[...] = result.array
    out._bump_version()
    return out


def _tensor(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a Tensor, got {type(x).__name__}")
    return x


# ----------------------------------------------------------------------------- arithmetic


def add(input, other, *, alpha=1, out=None) -> Tensor:  # noqa: A002 - torch's names
    """input + alpha * other."""
    return _into(out, _ops.add(input, other if alpha == 1 else _ops.mul(other, alpha)), "add")


def sub(input, other, *, alpha=1, out=None) -> Tensor:  # noqa: A002
    """input - alpha * other."""
    return _into(out, _ops.sub(input, other if alpha == 1 else _ops.mul(other, alpha)), "sub")


subtract = sub


def mul(input, other, *, out=None) -> Tensor:  # noqa: A002
    return _into(out, _ops.mul(input, other), "mul")


multiply = mul


def div(input, other, *, rounding_mode=None, out=None) -> Tensor:  # noqa: A002
    """input / other; ``rounding_mode='trunc'`` rounds toward zero, ``'floor'`` down (both
    have a zero gradient, as in torch; on integers they stay integers)."""
    if rounding_mode not in (None, "trunc", "floor"):
        raise ValueError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"{rounding_mode!r}")
    a, b = _ops.elementwise.operands(input, other)
    if rounding_mode is not None and a.array.dtype.kind in "iub":
        xp = get_array_module(a.array)
        if rounding_mode == "floor":
            q = xp.floor_divide(a.array, b.array)
        else:
            q = (xp.trunc(a.array / b.array)).astype(a.array.dtype)
        return _into(out, Tensor._wrap(q), "div")
    q = _ops.div(a, b)
    if rounding_mode == "floor":
        q = _rounding.floor(q)
    elif rounding_mode == "trunc":
        q = _rounding.sign(q) * _rounding.floor(_ops.abs(q))
    return _into(out, q, "div")


divide = true_divide = div


def pow(input, exponent, *, out=None) -> Tensor:  # noqa: A001, A002
    """input ** exponent (either may be a number)."""
    return _into(out, _ops.pow(input, exponent), "pow")


def matmul(input, other, *, out=None) -> Tensor:  # noqa: A002
    return _into(out, _ops.matmul(input, other), "matmul")


def mm(input, mat2, *, out=None) -> Tensor:  # noqa: A002
    """The product of two matrices (2-D only; no broadcasting: use matmul for that)."""
    for name, t in (("input", input), ("mat2", mat2)):
        if _tensor(t, "mm").ndim != 2:
            raise RuntimeError(f"mm(): {name} must be a matrix (2-D), got shape {tuple(t.shape)}")
    return _into(out, _ops.matmul(input, mat2), "mm")


def bmm(input, mat2, *, out=None) -> Tensor:  # noqa: A002
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (no broadcasting)."""
    for name, t in (("input", input), ("mat2", mat2)):
        if _tensor(t, "bmm").ndim != 3:
            raise RuntimeError(f"bmm(): {name} must be a 3-D tensor, got shape {tuple(t.shape)}")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(
            f"bmm(): batch sizes differ: {tuple(input.shape)} and {tuple(mat2.shape)}")
    return _into(out, _ops.matmul(input, mat2), "bmm")


def t(input) -> Tensor:  # noqa: A002
    """The transpose of a matrix; 0-D and 1-D tensors are returned as they are."""
    if _tensor(input, "t").ndim > 2:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 dimensions, but got shape {tuple(input.shape)} "
            "(use transpose(dim0, dim1) or .mT)")
    return input if input.ndim < 2 else _ops.swapaxes(input, 0, 1)


def clone(input, *, memory_format=None) -> Tensor:  # noqa: A002
    """A copy in new memory that stays in the graph (gradient 1)."""
    return _clone.clone(_tensor(input, "clone"))


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, differentiable in every operand (see ops.linalg.Einsum)."""
    return _linalg.einsum(equation, *operands)


# ----------------------------------------------------------------------------- unary


def _unary(fn, name: str):
    def f(input, *, out=None) -> Tensor:  # noqa: A002
        return _into(out, fn(_tensor(input, name)), name)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``minigrad.{name}(input, *, out=None)``, elementwise (see {fn.__module__})."
    return f


sin = _unary(_trig.sin, "sin")
cos = _unary(_trig.cos, "cos")
tan = _unary(_trig.tan, "tan")
asin = arcsin = _unary(_trig.asin, "asin")
acos = arccos = _unary(_trig.acos, "acos")
atan = arctan = _unary(_trig.atan, "atan")
sinh = _unary(_trig.sinh, "sinh")
cosh = _unary(_trig.cosh, "cosh")
floor = _unary(_rounding.floor, "floor")
ceil = _unary(_rounding.ceil, "ceil")
sign = _unary(_rounding.sign, "sign")
exp = _unary(_ops.exp, "exp")
log = _unary(_ops.log, "log")
sqrt = _unary(_ops.sqrt, "sqrt")
abs = _unary(_ops.abs, "abs")  # noqa: A001


def round(input, *, decimals: int = 0, out=None) -> Tensor:  # noqa: A001, A002
    """Round half to even, to ``decimals`` places (zero gradient)."""
    return _into(out, _rounding.round(_tensor(input, "round"), decimals), "round")


# ----------------------------------------------------------------------------- reductions


def _extremum(input, dim, keepdim, out, how: str):
    _tensor(input, how)
    if isinstance(dim, Tensor):  # max(input, other): the elementwise maximum
        r = (_ops.maximum if how == "max" else _ops.minimum)(input, dim)
        return _into(out, r, how)
    if dim is None:
        if keepdim:
            raise TypeError(f"{how}(): keepdim needs a dim")
        return _into(out, (_ops.max if how == "max" else _ops.min)(input), how)
    pair = (_selection.max_dim if how == "max" else _selection.min_dim)(input, dim, keepdim)
    if out is not None:
        values, indices = out
        _into(values, pair.values, how)
        _into(indices, pair.indices, how)
        return type(pair)(values, indices)
    return pair


def max(input, dim=None, keepdim: bool = False, *, out=None):  # noqa: A001, A002
    """As ``torch.max``: ``max(x)`` the largest element (the gradient split between ties);
    ``max(x, dim, keepdim=False)`` the pair ``(values, indices)`` over ``dim`` (the gradient
    to the element at the index); ``max(x, other)`` the elementwise maximum."""
    return _extremum(input, dim, keepdim, out, "max")


def min(input, dim=None, keepdim: bool = False, *, out=None):  # noqa: A001, A002
    """As ``torch.min``; see :func:`max`."""
    return _extremum(input, dim, keepdim, out, "min")


def amax(input, dim=(), keepdim: bool = False) -> Tensor:  # noqa: A002
    """The maximum over one or several dims (all when ``dim=()``): values only, the gradient
    split evenly between ties (as torch.amax)."""
    return _ops.max(input, None if dim == () else dim, keepdim)


def amin(input, dim=(), keepdim: bool = False) -> Tensor:  # noqa: A002
    return _ops.min(input, None if dim == () else dim, keepdim)


def argmax(input, dim=None, keepdim: bool = False, *, axis=None) -> Tensor:  # noqa: A002
    """Index of the maximum (of the flattened tensor when dim is None); ``axis=`` is accepted
    as NumPy's name for ``dim``."""
    return _ops.argmax(input, _dim_or_axis(dim, axis, "argmax"), keepdim)


def argmin(input, dim=None, keepdim: bool = False, *, axis=None) -> Tensor:  # noqa: A002
    return _ops.argmin(input, _dim_or_axis(dim, axis, "argmin"), keepdim)


def _dim_or_axis(dim, axis, name: str):
    if dim is not None and axis is not None:
        raise TypeError(f"{name}(): give dim or axis (NumPy's name for it), not both")
    return dim if axis is None else axis


def numel(input) -> int:  # noqa: A002
    return _tensor(input, "numel").numel()


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(input) -> bool:  # noqa: A002
    return _tensor(input, "is_floating_point").array.dtype.kind == "f"


# ----------------------------------------------------------------------------- creation


def normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None,
           device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    """Normal draws with the given mean and standard deviation, as ``torch.normal``:
    ``normal(mean_tensor, std_tensor)`` (broadcast), ``normal(mean_tensor, 1.0)``,
    ``normal(0.0, std_tensor)``, or ``normal(0.0, 1.0, size)``. Drawn from the seeded
    framework generator (or ``generator``), in the dtype of the tensor argument (or ``dtype``,
    by default float32)."""
    gen = generator or backend.default_generator
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if tensors:
        if size is not None:
            raise TypeError("normal(): size is given only when mean and std are both numbers")
        like = tensors[0]
        shape = np.broadcast_shapes(*(tuple(v.shape) for v in tensors))
        dt = np.dtype(dtype) if dtype is not None else like.array.dtype
        if dt.kind != "f":
            raise TypeError(f"normal(): mean and std must be floating, got dtype {dt}")
        dev = like.device
    else:
        if size is None:
            raise TypeError("normal(): with a number mean and std, give the size")
        shape = (size,) if isinstance(size, numbers.Integral) else tuple(size)
        dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
        dev = Device(device)
    std_raw = std.array if isinstance(std, Tensor) else std
    xp = dev.xp
    if bool(xp.any(xp.asarray(std_raw) < 0)):
        raise RuntimeError(f"normal(): std must be >= 0, got {std_raw}")
    mean_raw = mean.array if isinstance(mean, Tensor) else mean
    z = gen.normal(shape, dt, dev)
    r = Tensor._wrap((mean_raw + std_raw * z).astype(dt, copy=False))
    if requires_grad:
        r.requires_grad_(True)
    return _into(out, r, "normal")


def meshgrid(*tensors, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors, as ``torch.meshgrid``. ``indexing='ij'`` (matrix,
    torch's default, which torch warns about when not given) or ``'xy'`` (Cartesian, NumPy's
    default). Differentiable (each grid is an expanded view of its input)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn(
            "meshgrid: in an upcoming release it will be required to pass the indexing "
            "argument (torch's warning); using indexing='ij'", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if _tensor(t, "meshgrid").ndim > 1:
            raise RuntimeError(
                f"meshgrid(): expects 0-D or 1-D tensors, got shape {tuple(t.shape)}")
    vecs = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(vecs) >= 2
    if swap:
        vecs[0], vecs[1] = vecs[1], vecs[0]
    shape = tuple(v.shape[0] for v in vecs)
    n = len(vecs)
    grids = [v.reshape(tuple(-1 if i == k else 1 for i in range(n))).expand(shape)
             for k, v in enumerate(vecs)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)



# ----------------------------------------------------------------------------- tests of values


def all(input, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """True where every element (along ``dim``, or of the whole tensor) is non-zero."""
    a = _tensor(input, "all").array
    xp = get_array_module(a)
    return Tensor._wrap(xp.asarray(xp.all(a, axis=dim, keepdims=keepdim)))


def any(input, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """True where some element (along ``dim``, or of the whole tensor) is non-zero."""
    a = _tensor(input, "any").array
    xp = get_array_module(a)
    return Tensor._wrap(xp.asarray(xp.any(a, axis=dim, keepdims=keepdim)))


def equal(input, other) -> bool:  # noqa: A002
    """True if both tensors have the same shape and elements."""
    a, b = _tensor(input, "equal").array, _tensor(other, "equal").array
    return a.shape == b.shape and bool(get_array_module(a).array_equal(a, b))


def isclose(input, other, rtol: float = 1e-5, atol: float = 1e-8,  # noqa: A002
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol |other|, elementwise (torch's and NumPy's rule)."""
    a, b = _ops.elementwise.operands(input, other)
    xp = get_array_module(a.array)
    return Tensor._wrap(xp.isclose(a.array, b.array, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol: float = 1e-5, atol: float = 1e-8,  # noqa: A002
             equal_nan: bool = False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())
