"""Linear, Identity, Flatten and Unflatten layers."""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import backend
from ..backend import DeviceLike
from ..ops.linalg import Linear as LinearOp
from ..ops.linalg import LinearReLU
from ..tensor import Parameter, Tensor
from . import functional as F
from . import init
from .activation import ReLU
from .module import Module


class Identity(Module):
    """Returns its input unchanged (arguments are accepted and ignored, as torch)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """y = x W^T + b, with ``weight`` (out_features, in_features) and ``bias`` (out_features,).

    A weight of at least :data:`COLUMN_MAJOR_MIN_NUMEL` numbers has torch's shape but is
    stored column-major (F-contiguous: ``weight.array`` is ``empty((in, out)).T``), so that
    ``weight.array.T`` is a C-contiguous (in, out) matrix and the products are those of a
    hand-written NumPy MLP: ``x @ W.T`` without a transpose for BLAS (NN), the weight's
    gradient as ``(x^T g)^T`` in the weight's own layout (TN) and ``dx = g @ W`` (NT). Shape,
    indexing, values, the seeded initial values and ``state_dict`` are torch's; only the
    strides differ. Why, and why not for smaller weights: :data:`COLUMN_MAJOR_MIN_NUMEL`.

    Default initialisation is torch's: ``kaiming_uniform_(weight, a=sqrt(5))``, which is
    U(-1/sqrt(in_features), 1/sqrt(in_features)), and bias U(-1/sqrt(in_features),
    1/sqrt(in_features)).

    Args:
        in_features: size of each input sample's last dim.
        out_features: size of each output sample's last dim.
        bias: learn an additive bias.
        device, dtype: where and in which float dtype to create the parameters.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: DeviceLike = None, dtype=None) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {v!r}")
        self.in_features = in_features
        self.out_features = out_features
        _add_weight_and_bias(self, (out_features, in_features), bias, dtype, device,
                             column_major=_column_major(in_features, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: weight by kaiming_uniform_(a=sqrt(5)), bias U(+-1/sqrt(fan_in))."""
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        """``F.linear``'s op called directly once its checks pass: F.linear checks the shape
        and dtype again and calls ``ops.linear``, two calls more (W3's Linear(64, 64) layer
        6.16 -> 6.00 us, ``timeit``; BENCHMARKS.md "Issue 14: W3, second pass (h16w3b)")."""
        return self._linear(LinearOp, input)

    def forward_relu(self, input: Tensor) -> Tensor:
        """``relu(self(input))`` as one node (:class:`~minigrad.ops.linalg.LinearReLU`)."""
        return self._linear(LinearReLU, input)

    def _fused_forward(self, next_module: Module):
        """For ``nn.Sequential``: when ``next_module`` is an ``nn.ReLU``, a callable that runs
        this layer and it as one node while both still run the code of ``nn.Linear`` and
        ``nn.ReLU`` (checked at every call: a ``forward`` replaced since, on the instance
        or on the class, as ``minigrad.viz.trace_modules`` and ``train.Diagnostics`` do,
        runs as written); else None."""
        if type(next_module) is ReLU:
            return functools.partial(self._then_relu, next_module)
        return None

    def _then_relu(self, relu: ReLU, input: Tensor) -> Tensor:
        if (type(self).forward is _LINEAR_FORWARD and ReLU.forward is _RELU_FORWARD
                and "forward" not in self.__dict__ and "forward" not in relu.__dict__):
            return self._linear(LinearReLU, input)
        return relu(self(input))

    def _linear(self, op: type, input: Tensor) -> Tensor:
        """``op`` (LinearOp or LinearReLU) on the input, the weight and the bias, after the
        checks that ``F.linear`` makes."""
        try:
            x = input.array
        except AttributeError:
            raise TypeError(f"Linear: input must be a minigrad Tensor, got "
                            f"{type(input).__name__}") from None
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear(in_features={self.in_features}) got input of shape "
                f"{tuple(input.shape)}"
            )
        weight, bias = self.weight, self.bias
        w = weight.array
        if x.shape[-1:] != w.shape[1:] or x.dtype != w.dtype:  # F.linear says what differs
            return F.linear(input, weight, bias)  # (raises)
        if bias is None:
            return op.apply(input, weight)
        return op.apply(input, weight, bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


_LINEAR_FORWARD, _RELU_FORWARD = Linear.forward, ReLU.forward  # (Linear._then_relu)


# OpenBLAS multiplies by a transposed operand (NT) about 13% slower than NN (784x256 weight,
# batch 128: 581 vs 506 us). With torch's row-major (out, in) weight the forward x W^T is NT
# and dx = g W is NN; with the weight stored column-major it is the other way round, so a
# layer whose dx is computed gains nothing; the first layer of a network, whose input needs
# no gradient, gains the forward's 13% (W1: 75 us of a 1.85 ms step; W1 epochs 2.5-4% faster,
# minigrad.jit's W1 step 1.04-1.07 -> 1.01-1.05x the hand-written NumPy step:
# BENCHMARKS.md, "Issue 14/15: Linear weights stored (in, out)"). For small weights the
# products take a few microseconds either way and the column-major layout costs more than it
# saves (W3's 64x64 layers: the step 2-3% slower in eager and under minigrad.jit: the NT dx
# of a 10x64 weight, and the bookkeeping of transposed gradients), so they keep torch's.
COLUMN_MAJOR_MIN_NUMEL = 1 << 14  # (128 x 128)


def _column_major(in_features: int, out_features: int) -> bool:
    """Whether a Linear weight of this size is stored column-major
    (:data:`COLUMN_MAJOR_MIN_NUMEL`)."""
    return in_features * out_features >= COLUMN_MAJOR_MIN_NUMEL


class Flatten(Module):
    """Flattens dims ``start_dim`` to ``end_dim`` (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dim ``dim`` into ``unflattened_size``."""

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        d = self.dim % input.ndim
        if math.prod(self.unflattened_size) != input.shape[d] and -1 not in self.unflattened_size:
            raise ValueError(
                f"Unflatten: sizes {self.unflattened_size} do not multiply up to the size of "
                f"dim {self.dim} ({input.shape[d]}) of the input of shape {tuple(input.shape)}"
            )
        shape = input.shape[:d] + self.unflattened_size + input.shape[d + 1:]
        return input.reshape(shape)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


def _empty(shape, dtype, column_major: bool = False):
    """A zero Tensor of ``shape`` to make a Parameter of; ``column_major``: a 2-D shape stored
    F-contiguous (a Linear weight: see :class:`Linear`)."""
    dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
    if dt.kind != "f":
        raise TypeError(f"parameters must have a floating dtype, got {dt}")
    if column_major and len(shape) == 2:
        return Tensor._wrap(np.zeros(shape[::-1], dtype=dt).T)
    return Tensor._wrap(np.zeros(shape, dtype=dt))  # a Tensor: Parameter keeps its dtype


def _add_weight_and_bias(module: Module, weight_shape: tuple, bias: bool, dtype,
                         device: DeviceLike, column_major: bool = False) -> None:
    """Register ``module.weight`` of ``weight_shape`` and ``module.bias`` of shape
    ``(weight_shape[0],)`` (or a None bias), uninitialised until ``reset_parameters``: the
    parameters of Linear and of the convolutions (``column_major``: see :func:`_empty`)."""
    module.weight = Parameter(_empty(weight_shape, dtype, column_major), device=device)
    if bias:
        module.bias = Parameter(_empty(weight_shape[:1], dtype), device=device)
    else:
        module.register_parameter("bias", None)


def _reset_weight_and_bias(weight: Parameter, bias: Parameter | None) -> None:
    """torch's default for Linear and the convolutions: weight by kaiming_uniform_(a=sqrt(5)),
    which is U(+-1/sqrt(fan_in)), and bias U(+-1/sqrt(fan_in)) (0 when fan_in is 0), where
    fan_in = in_features, or in_channels / groups * prod(kernel_size)."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = init._calculate_fan_in_and_fan_out(weight)[0]
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


class LazyLinear(Linear):
    """A :class:`Linear` whose ``in_features`` is inferred from the first input, as torch's.

    Until that first call, ``weight`` and ``bias`` are empty placeholder Parameters; the first
    call fills those same Parameter objects in place (shape (out_features, in_features), the
    default initialisation) and the module becomes a plain ``Linear``. An optimizer made
    before the first call therefore already holds the right parameters (torch asks for a
    dry run first; here it is not needed, but does no harm).
    """

    def __init__(self, out_features: int, bias: bool = True, device: DeviceLike = None,
                 dtype=None) -> None:
        Module.__init__(self)
        if not isinstance(out_features, int) or isinstance(out_features, bool) or \
                out_features < 0:
            raise ValueError(f"LazyLinear: out_features must be a non-negative int, got "
                             f"{out_features!r}")
        self.in_features = 0
        self.out_features = out_features
        self._factory = {"device": device, "dtype": dtype}
        self.weight = Parameter(_empty((0,), dtype), device=device)
        if bias:
            self.bias = Parameter(_empty((0,), dtype), device=device)
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.in_features:  # nothing to initialise before the shapes are known
            Linear.reset_parameters(self)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim == 0:
            raise ValueError("LazyLinear got a 0-d input: it needs (..., in_features)")
        self.in_features = int(input.shape[-1])
        shape = {"weight": (self.out_features, self.in_features), "bias": (self.out_features,)}
        for name, p in self._parameters.items():
            if p is not None:
                fresh = Parameter(_empty(shape[name], self._factory["dtype"],
                                         _column_major(self.in_features, self.out_features)),
                                  device=self._factory["device"])
                p.array = fresh.array  # the same Parameter object: optimizers keep it
        self.__dict__.pop("_factory")
        self.__class__ = Linear
        self.reset_parameters()
        return Linear.forward(self, input)

    def extra_repr(self) -> str:
        return f"in_features=<lazy>, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"
