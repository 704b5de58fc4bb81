"""Weight initializers, as ``torch.nn.init``.

Every function fills its tensor IN PLACE (under ``no_grad``, bumping its version), on the
tensor's own device and in its own dtype, drawing only from the framework's seeded generator
(``minigrad.backend.default_generator``), and returns the tensor.

For a weight of shape (out, in, *k): fan_in = in * prod(k), fan_out = out * prod(k).
"""

from __future__ import annotations

import math
import numbers

from .. import backend
from ..backend import get_array_module
from ..grad_mode import no_grad
from ..tensor import Tensor

_LINEAR_LIKE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (torch's table).

    linear, conv*, sigmoid: 1;  tanh: 5/3;  relu: sqrt(2);
    leaky_relu: sqrt(2 / (1 + a^2)) with a = param (default 0.01);  selu: 3/4.
    """
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            a = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            a = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + a * a))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{', '.join(_LINEAR_LIKE)}, tanh, relu, leaky_relu, selu"
    )


_ANY_DTYPE = ("zeros_", "ones_", "constant_", "eye_")  # the rest draw or scale floats


def _check(tensor, name: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{name}: expected a Tensor, got {type(tensor).__name__}")
    if name not in _ANY_DTYPE and tensor.array.dtype.kind != "f":
        raise TypeError(f"init.{name}: expected a floating-point tensor, got dtype "
                        f"{tensor.array.dtype}")


def _fill(tensor: Tensor, values) -> Tensor:
    with no_grad():
        tensor.array[...] = values
        tensor._bump_version()
    return tensor


def _normal(tensor: Tensor):
    return backend.default_generator.normal(tensor.shape, tensor.dtype, tensor.device)


def _uniform(tensor: Tensor):
    return backend.default_generator.random(tensor.shape, tensor.dtype, tensor.device)


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(
            "fan in and fan out can not be computed for a tensor with fewer than 2 dimensions, "
            f"got shape {tuple(tensor.shape)}"
        )
    receptive = 1
    for n in tensor.shape[2:]:
        receptive *= n
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    _check(tensor, "zeros_")
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    _check(tensor, "ones_")
    return _fill(tensor, 1)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    _check(tensor, "constant_")
    return _fill(tensor, val)


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (2-D tensors only)."""
    _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"init.eye_: expected a 2-D tensor, got shape {tuple(tensor.shape)}")
    xp = get_array_module(tensor.array)
    return _fill(tensor, xp.eye(*tensor.shape, dtype=tensor.dtype))


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """U(a, b)."""
    _check(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"init.uniform_: need a <= b, got a={a}, b={b}")
    u = _uniform(tensor)
    u *= b - a
    u += a
    return _fill(tensor, u)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """N(mean, std^2)."""
    _check(tensor, "normal_")
    if std < 0:
        raise ValueError(f"init.normal_: std must be non-negative, got {std}")
    z = _normal(tensor)
    z *= std
    z += mean
    return _fill(tensor, z)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0) -> Tensor:
    """N(mean, std^2) truncated to [a, b] (absolute bounds, as torch).

    Drawn by rejection: values outside [a, b] are redrawn until none remain, which samples the
    truncated distribution exactly.
    """
    _check(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"init.trunc_normal_: need a < b, got a={a}, b={b}")
    if std <= 0:
        raise ValueError(f"init.trunc_normal_: std must be positive, got {std}")
    lo, hi = (a - mean) / std, (b - mean) / std
    # mass of [lo, hi] under N(0, 1); rejection would take forever on a tiny window
    mass = 0.5 * (math.erf(hi / math.sqrt(2)) - math.erf(lo / math.sqrt(2)))
    if mass < 1e-3:
        raise ValueError(
            f"init.trunc_normal_: [a, b] = [{a}, {b}] holds only {mass:.2e} of N({mean}, {std}^2)"
        )
    gen, dev = backend.default_generator, tensor.device
    z = _normal(tensor).reshape(-1)
    bad = (z < lo) | (z > hi)
    nbad = int(bad.sum())
    while nbad:
        z[bad] = gen.normal((nbad,), tensor.dtype, dev)
        bad = (z < lo) | (z > hi)
        nbad = int(bad.sum())
    z *= std
    z += mean
    # rounding in (z * std + mean) may step just outside [a, b]
    xp = get_array_module(z)
    return _fill(tensor, xp.clip(z, a, b).reshape(tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-bound, bound), bound = gain sqrt(6 / (fan_in + fan_out)).

    References:
        Glorot and Bengio, "Understanding the difficulty of training deep feedforward neural
        networks", AISTATS 2010.
    """
    _check(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2), std = gain sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    _check(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-bound, bound), bound = gain sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).

    References:
        He et al., "Delving Deep into Rectifiers: Surpassing Human-Level Performance on
        ImageNet Classification", ICCV 2015.
    """
    _check(tensor, "kaiming_uniform_")
    fan = _fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = gain * math.sqrt(3.0 / fan) if fan else 0.0
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2), std = gain / sqrt(fan) (He et al., 2015)."""
    _check(tensor, "kaiming_normal_")
    fan = _fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(fan) if fan else 0.0)


def lecun_normal_(tensor: Tensor) -> Tensor:
    """N(0, 1 / fan_in).

    References:
        LeCun et al., "Efficient BackProp", 1998; Klambauer et al., "Self-Normalizing Neural
        Networks", NeurIPS 2017.
    """
    _check(tensor, "lecun_normal_")
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fan_in))


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain``: Q of the QR decomposition of a standard
    normal (rows, cols) matrix (rows = shape[0], cols = the rest), with Q's columns multiplied
    by sign(diag R) so that the result is uniformly (Haar) distributed.

    References:
        Saxe et al., "Exact solutions to the nonlinear dynamics of learning in deep linear
        neural networks", ICLR 2014; Mezzadri, "How to generate random matrices from the
        classical compact groups", Notices of the AMS 54 (2007).
    """
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(
            f"init.orthogonal_: only tensors with 2 or more dimensions are supported, got "
            f"shape {tuple(tensor.shape)}"
        )
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    # QR has no float16 kernel (NumPy or CuPy): factor in float32, cast once at the end
    work = "float32" if tensor.dtype == "float16" else tensor.dtype
    flat = backend.default_generator.normal((rows, cols), work, tensor.device)
    if rows < cols:
        flat = flat.T
    xp = get_array_module(flat)
    q, r = xp.linalg.qr(flat)
    sign = xp.sign(xp.diagonal(r))
    sign[sign == 0] = 1
    q = q * sign
    if rows < cols:
        q = q.T
    q = q.astype(tensor.dtype, copy=False) * gain
    return _fill(tensor, q.reshape(tensor.shape))


__all__ = [
    "calculate_gain", "constant_", "eye_", "kaiming_normal_", "kaiming_uniform_",
    "lecun_normal_", "normal_", "ones_", "orthogonal_", "trunc_normal_", "uniform_",
    "xavier_normal_", "xavier_uniform_", "zeros_",
]
