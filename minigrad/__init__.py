"""minigrad: a from-scratch reverse-mode autograd tensor library on NumPy (CPU) and CuPy (GPU).

    import minigrad as mg
    x = mg.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x @ x.T).sum()
    y.backward()          # x.grad == 2 x
"""

import numpy as _np

from . import autograd, backend, data, nn, ops, optim, train
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
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
from .ops import (
    abs,
    argmax,
    argmin,
    clip,
    concat,
    exp,
    expand,
    flatten,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    permute,
    relu,
    reshape,
    sigmoid,
    softmax,
    softplus,
    sqrt,
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
from .tensor import Parameter, Tensor

clamp = clip
cat = concat
transpose = swapaxes

float16 = _np.dtype(_np.float16)
float32 = _np.dtype(_np.float32)
float64 = _np.dtype(_np.float64)
int32 = _np.dtype(_np.int32)
int64 = _np.dtype(_np.int64)
bool_ = _np.dtype(_np.bool_)
float = float32  # noqa: A001 - torch's alias
double = float64
long = int64


def device(spec="cpu") -> Device:
    """``minigrad.device('cuda:0')``, as ``torch.device``."""
    return Device(spec)


__version__ = "0.1.0"
