"""minigrad: a from-scratch reverse-mode autograd tensor library on NumPy (CPU) and CuPy (GPU).

    import minigrad as mg
    x = mg.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x @ x.T).sum()
    y.backward()          # x.grad == 2 x
"""

import builtins as _builtins
import numbers as _numbers

import numpy as _np

from . import autograd, backend, cuda, data, nn, ops, optim, train, utils
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd import no_grad as inference_mode  # torch's faster no_grad: the same here
from .backend import (
    Device,
    DeviceError,
    Generator,
    are_deterministic_algorithms_enabled,
    cuda_is_available,
    get_array_module,
    get_default_dtype,
    get_rng_state,
    manual_seed,
    set_default_dtype,
    set_rng_state,
    use_deterministic_algorithms,
)
from .creation import (
    arange,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .functions import (  # noqa: E402  (torch's signatures and overloads; after .ops on purpose)
    BoolTensor,
    ByteTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    abs,
    acos,
    add,
    addmm,
    all,
    allclose,
    amax,
    amin,
    any,
    arccos,
    arcsin,
    arctan,
    argmax,
    argmin,
    asin,
    atan,
    bmm,
    ceil,
    chunk,
    clone,
    cos,
    cosh,
    cumsum,
    diag,
    div,
    divide,
    einsum,
    empty_like,
    eq,
    equal,
    exp,
    expm1,
    floor,
    floor_divide,
    gather,
    ge,
    greater,
    greater_equal,
    gt,
    index_select,
    is_floating_point,
    is_tensor,
    isclose,
    le,
    less,
    less_equal,
    log,
    log1p,
    lt,
    masked_fill,
    matmul,
    max,
    meshgrid,
    min,
    mm,
    mul,
    multiply,
    ne,
    neg,
    negative,
    norm,
    normal,
    numel,
    pow,
    reciprocal,
    remainder,
    repeat,
    round,
    rsqrt,
    sign,
    sin,
    sinh,
    sort,
    split,
    sqrt,
    square,
    sub,
    subtract,
    t,
    tan,
    topk,
    tril,
    triu,
    true_divide,
    unbind,
)
from .ops import (
    clip,
    concat,
    expand,
    flatten,
    log_softmax,
    logsumexp,
    maximum,
    mean,
    minimum,
    permute,
    relu,
    reshape,
    sigmoid,
    softmax,
    softplus,
    squeeze,
    stack,
    std,
    sum,
    swapaxes,
    tanh,
    unsqueeze,
    var,
    where,
)
from .serialization import CheckpointError, load, save  # noqa: E402
from .tensor import Parameter, Size, Tensor

clamp = clip
cat = concat
transpose = swapaxes

float16 = _np.dtype(_np.float16)
float32 = _np.dtype(_np.float32)
float64 = _np.dtype(_np.float64)
int32 = _np.dtype(_np.int32)
int64 = _np.dtype(_np.int64)
bool_ = _np.dtype(_np.bool_)
uint8 = _np.dtype(_np.uint8)
int8 = _np.dtype(_np.int8)
int16 = _np.dtype(_np.int16)
half = float16
int = int32  # noqa: A001 - torch's alias
short = int16
bool = bool_  # noqa: A001 - torch's name for the dtype
float = float32  # noqa: A001 - torch's alias
double = float64
long = int64


def device(type="cpu", index=None) -> Device:  # noqa: A002 - torch's names
    """``minigrad.device('cuda:0')`` or ``minigrad.device('cuda', 0)``, as ``torch.device``."""
    if index is None:
        return Device(type)
    if isinstance(type, Device) or ":" in str(type):
        raise ValueError(f"device({type!r}, {index}): give the index once, in the string or "
                         "as the second argument")
    if not isinstance(index, _numbers.Integral) or isinstance(index, _builtins.bool) or index < 0:
        raise ValueError(f"device index must be a non-negative int, got {index!r}")
    return Device(f"{type}:{index}")


__version__ = "0.1.0"

from .jit import JitFallbackWarning, jit  # noqa: E402  (capture a step once, replay it)
