"""The top-level math functions with torch's signatures: ``minigrad.add(input, other, *,
alpha=1, out=None)``, ``minigrad.max(x, dim)`` returning ``(values, indices)``, and so on.

Each is a thin layer over the differentiable ops of :mod:`minigrad.ops` that adds torch's
keyword names, its overloads (``max(x)``, ``max(x, dim)``, ``max(x, other)``) and ``out=``.
Tensor methods of the same names call these.
"""

from __future__ import annotations

import builtins
import numbers
import warnings

import numpy as np

from . import backend
from . import ops as _ops
from .backend import Device, DeviceLike, get_array_module
from .grad_mode import is_grad_enabled
from .ops import clone as _clone
from .ops import linalg as _linalg
from .ops import reduce as _reduce
from .ops import rounding as _rounding
from .ops import scan as _scan
from .ops import selection as _selection
from .ops import shape as _shape
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


# ----------------------------------------------------------------------------- comparisons


def _comparison(how: str, name: str):
    def f(input, other, *, out=None) -> Tensor:  # noqa: A002
        return _into(out, _ops.compare(_tensor(input, name), other, how), name)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise ``{name}``: a bool tensor, no gradient."
    return f


eq = _comparison("equal", "eq")
ne = _comparison("not_equal", "ne")
lt = less = _comparison("less", "lt")
le = less_equal = _comparison("less_equal", "le")
gt = greater = _comparison("greater", "gt")
ge = greater_equal = _comparison("greater_equal", "ge")


# ----------------------------------------------------------------------------- compositions
# Each is written with differentiable ops, so its gradient follows from theirs.


def square(input, *, out=None) -> Tensor:  # noqa: A002
    return _into(out, _ops.pow(_tensor(input, "square"), 2), "square")


def neg(input, *, out=None) -> Tensor:  # noqa: A002
    return _into(out, _ops.neg(_tensor(input, "neg")), "neg")


negative = neg


def reciprocal(input, *, out=None) -> Tensor:  # noqa: A002
    return _into(out, _ops.div(1.0, _ops.elementwise._float(_tensor(input, "reciprocal"))),
                 "reciprocal")


def rsqrt(input, *, out=None) -> Tensor:  # noqa: A002
    return _into(out, reciprocal(_ops.sqrt(_tensor(input, "rsqrt"))), "rsqrt")


def log1p(input, *, out=None) -> Tensor:  # noqa: A002
    """ln(1 + x), accurate for small x."""
    return _into(out, _scan.log1p(_tensor(input, "log1p")), "log1p")


def expm1(input, *, out=None) -> Tensor:  # noqa: A002
    """e^x - 1, accurate for small x."""
    return _into(out, _scan.expm1(_tensor(input, "expm1")), "expm1")


def cumsum(input, dim: int, *, out=None) -> Tensor:  # noqa: A002
    return _into(out, _scan.cumsum(_tensor(input, "cumsum"), dim), "cumsum")


def norm(input, p="fro", dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The 2-norm (``p=2`` or ``'fro'``), 1-norm or inf-norm over ``dim`` (all elements when
    None), as ``torch.norm`` for vectors and the Frobenius norm."""
    x = _tensor(input, "norm")
    if p in ("fro", 2, 2.0):
        return _scan.norm2(x, dim, keepdim)
    if p in (1, 1.0):
        return _ops.sum(_ops.abs(x), dim, keepdim)
    if p in (float("inf"), "inf"):
        return _ops.max(_ops.abs(x), dim, keepdim)
    raise NotImplementedError(f"norm: p={p!r} is not supported (2, 'fro', 1 or inf)")


def remainder(input, other, *, out=None) -> Tensor:  # noqa: A002
    """input - other * floor(input / other): the sign of ``other``, as Python's % (and torch)."""
    a, b = _ops.elementwise.operands(input, other)
    if a.array.dtype.kind in "iub":
        xp = get_array_module(a.array)
        return _into(out, Tensor._wrap(xp.remainder(a.array, b.array)), "remainder")
    return _into(out, _ops.sub(a, _ops.mul(b, div(a, b, rounding_mode="floor"))), "remainder")


def floor_divide(input, other, *, out=None) -> Tensor:  # noqa: A002
    return div(input, other, rounding_mode="floor", out=out)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None) -> Tensor:  # noqa: A002
    """beta * input + alpha * (mat1 @ mat2)."""
    prod = mm(mat1, mat2)
    if alpha != 1:
        prod = _ops.mul(prod, alpha)
    return _into(out, _ops.add(input if beta == 1 else _ops.mul(input, beta), prod), "addmm")


def masked_fill(input, mask, value) -> Tensor:  # noqa: A002
    """``value`` where ``mask`` (a bool tensor, broadcast) is True, else ``input``."""
    x = _tensor(input, "masked_fill")
    m = mask.array if isinstance(mask, Tensor) else mask
    if getattr(m, "dtype", None) != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got {getattr(m, 'dtype', m)}")
    v = value.item() if isinstance(value, Tensor) and value.ndim == 0 else value
    return _ops.where(Tensor._wrap(m), v, x)


def _dim_index(x: Tensor, dim: int, index) -> tuple:
    axis = _reduce.normalize_axis(dim, x.ndim, single=True)
    return (slice(None),) * axis + (index,)


def index_select(input, dim: int, index) -> Tensor:  # noqa: A002
    """The entries at ``index`` (a 1-D integer tensor) along ``dim``."""
    x = _tensor(input, "index_select")
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise IndexError(f"index_select: index must be a 1-D integer tensor, got {idx.dtype} "
                         f"of shape {tuple(idx.shape)}")
    return _ops.getitem(x, _dim_index(x, dim, idx.reshape(-1)))


def gather(input, dim: int, index) -> Tensor:  # noqa: A002
    """out[i][j][k] = input[index[i][j][k]][j][k] for dim 0 (and so on): torch.gather."""
    x = _tensor(input, "gather")
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    axis = _reduce.normalize_axis(dim, x.ndim, single=True)
    if idx.ndim != x.ndim or idx.dtype.kind not in "iu":
        raise RuntimeError(f"gather: index must be an integer tensor with {x.ndim} dims, got "
                           f"{idx.dtype} of shape {tuple(idx.shape)}")
    xp = get_array_module(x.array)
    grids = xp.ogrid[tuple(slice(0, n) for n in idx.shape)]
    full = tuple(idx if i == axis else grids[i] for i in range(x.ndim))
    return _ops.getitem(x, full)


def _sort_along(x: Tensor, dim: int, order) -> tuple[Tensor, Tensor]:
    axis = _reduce.normalize_axis(dim, x.ndim, single=True)
    return gather(x, axis, order), Tensor._wrap(order)


def sort(input, dim: int = -1, descending: bool = False, stable: bool = False):  # noqa: A002
    """(values, indices) sorted along ``dim``; the values carry the gradient."""
    x = _tensor(input, "sort")
    xp = get_array_module(x.array)
    a = -x.array if descending and x.array.dtype.kind != "b" else x.array
    order = xp.argsort(a, axis=dim, kind="stable")
    return _selection.sort_pair(*_sort_along(x, dim, order))


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The ``k`` largest (or smallest) entries along ``dim`` and their indices."""
    x = _tensor(input, "topk")
    axis = _reduce.normalize_axis(dim, x.ndim, single=True)
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) out of range for dim {dim} of size {n}")
    xp = get_array_module(x.array)
    order = xp.argsort(-x.array if largest else x.array, axis=axis, kind="stable")
    order = xp.take(order, xp.arange(k), axis=axis)
    return _selection.topk_pair(*_sort_along(x, axis, order))


def split(tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the given sizes."""
    x = _tensor(tensor, "split")
    axis = _reduce.normalize_axis(dim, x.ndim, single=True)
    n = x.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [builtins.min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} (dim {dim})")
    out, start = [], 0
    for s in sizes:
        out.append(_ops.getitem(x, _dim_index(x, axis, slice(start, start + s))))
        start += s
    return tuple(out)


def chunk(input, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """At most ``chunks`` pieces of ceil(n / chunks) along ``dim``."""
    x = _tensor(input, "chunk")
    n = x.shape[_reduce.normalize_axis(dim, x.ndim, single=True)]
    return split(x, builtins.max(-(-n // chunks), 1), dim)


def unbind(input, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    x = _tensor(input, "unbind")
    axis = _reduce.normalize_axis(dim, x.ndim, single=True)
    return tuple(_ops.getitem(x, _dim_index(x, axis, i)) for i in range(x.shape[axis]))


def _band(input, diagonal: int, upper: bool) -> Tensor:
    x = _tensor(input, "triu" if upper else "tril")
    if x.ndim < 2:
        raise RuntimeError(f"{'triu' if upper else 'tril'}: input needs >= 2 dims, got shape "
                           f"{tuple(x.shape)}")
    xp = get_array_module(x.array)
    rows, cols = x.shape[-2], x.shape[-1]
    keep = (xp.triu if upper else xp.tril)(xp.ones((rows, cols), dtype=bool), diagonal)
    return _ops.where(Tensor._wrap(keep), x, 0)


def triu(input, diagonal: int = 0) -> Tensor:  # noqa: A002
    return _band(input, diagonal, True)


def tril(input, diagonal: int = 0) -> Tensor:  # noqa: A002
    return _band(input, diagonal, False)


def diag(input, diagonal: int = 0) -> Tensor:  # noqa: A002
    """A 1-D input as the ``diagonal``-th diagonal of a square matrix (zeros elsewhere); a 2-D
    input's ``diagonal``-th diagonal as 1-D. Differentiable both ways (indexing, scatter)."""
    x = _tensor(input, "diag")
    xp = get_array_module(x.array)
    if x.ndim == 1:
        n = x.shape[0] + (diagonal if diagonal >= 0 else -diagonal)
        rows, cols = xp.nonzero(xp.eye(n, k=diagonal, dtype=bool))
        return _shape.ScatterAdd.apply(x, index=(rows, cols), shape=(n, n))
    if x.ndim == 2:
        rows, cols = xp.nonzero(xp.eye(*x.shape, k=diagonal, dtype=bool))
        return _ops.getitem(x, (rows, cols))
    raise RuntimeError(f"diag: input must be 1-D or 2-D, got shape {tuple(x.shape)}")


def repeat(input, sizes) -> Tensor:  # noqa: A002
    """``x.repeat(*sizes)``: the tensor tiled ``sizes[i]`` times along dim i (leading dims
    added when ``sizes`` is longer), as an expand of an interleaved reshape."""
    x = _tensor(input, "repeat")
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"repeat: number of repeat dims ({len(sizes)}) can not be smaller "
                           f"than the number of tensor dims ({x.ndim})")
    shape = (1,) * (len(sizes) - x.ndim) + tuple(x.shape)
    interleaved, expanded = [], []
    for r, n in zip(sizes, shape):
        interleaved += [1, n]
        expanded += [r, n]
    tiled = _ops.expand(_ops.reshape(x, tuple(interleaved)), tuple(expanded))
    return _ops.reshape(tiled, tuple(r * n for r, n in zip(sizes, shape)))


def empty_like(input, *, dtype=None, device: DeviceLike = None,  # noqa: A002
               requires_grad: bool = False) -> Tensor:
    """A tensor of ``input``'s shape (zero-filled here; torch leaves it uninitialised)."""
    x = _tensor(input, "empty_like")
    xp = Device(device or x.device).xp
    t = Tensor._wrap(xp.zeros(x.shape, dtype=dtype or x.array.dtype))
    return t.requires_grad_(True) if requires_grad else t


def _typed_constructor(dtype, name: str):
    def make(*args, **kwargs) -> Tensor:
        return Tensor(*args, dtype=dtype, **kwargs)

    make.__name__ = make.__qualname__ = name
    make.__doc__ = (f"``minigrad.{name}(data)`` or ``{name}(*sizes)``: the legacy typed "
                    f"constructor, a tensor of dtype {np.dtype(dtype)}.")
    return make


FloatTensor = _typed_constructor(np.float32, "FloatTensor")
DoubleTensor = _typed_constructor(np.float64, "DoubleTensor")
HalfTensor = _typed_constructor(np.float16, "HalfTensor")
LongTensor = _typed_constructor(np.int64, "LongTensor")
IntTensor = _typed_constructor(np.int32, "IntTensor")
BoolTensor = _typed_constructor(np.bool_, "BoolTensor")
ByteTensor = _typed_constructor(np.uint8, "ByteTensor")
