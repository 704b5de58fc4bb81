"""BatchNorm1d, BatchNorm2d and LayerNorm, matching torch.nn's statistics exactly."""

from __future__ import annotations

import numpy as np

from ..backend import DeviceLike
from ..tensor import Parameter, Tensor
from . import functional as F
from . import init
from .linear import _empty
from .module import Module


class _BatchNorm(Module):
    """Batch normalisation (Ioffe and Szegedy, ICML 2015).

    Training: y = (x - mean_B) / sqrt(var_B + eps) * weight + bias with the batch's mean and
    *biased* variance over every axis but the channel axis (1); the running statistics are
    updated as torch does, with the *unbiased* batch variance:
        running_mean = (1 - momentum) running_mean + momentum mean_B
        running_var  = (1 - momentum) running_var  + momentum var_B M / (M - 1)
    (``momentum=None``: cumulative average with factor 1 / num_batches_tracked).
    Evaluation: the running statistics replace the batch's (unless
    ``track_running_stats=False``, which always uses batch statistics).

    Buffers: ``running_mean`` (zeros), ``running_var`` (ones), ``num_batches_tracked`` (int64).
    """

    _expected_dims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 device: DeviceLike = None, dtype=None) -> None:
        super().__init__()
        if not isinstance(num_features, int) or num_features <= 0:
            raise ValueError(
                f"{type(self).__name__}: num_features must be a positive int, got {num_features!r}"
            )
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, "
                             f"got {momentum!r}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(_empty((num_features,), dtype), device=device)
            self.bias = Parameter(_empty((num_features,), dtype), device=device)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", Tensor(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked",
                                 Tensor(np.zeros((), dtype=np.int64), dtype=np.int64,
                                        device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.array[...] = 0
            self.num_batches_tracked._bump_version()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in self._expected_dims or input.shape[1] != self.num_features:
            want = " or ".join(f"{n}-D" for n in self._expected_dims)
            raise ValueError(
                f"{type(self).__name__}(num_features={self.num_features}) expected {want} "
                f"input with {self.num_features} channels in dim 1, got shape "
                f"{tuple(input.shape)}"
            )
        return F.batch_norm(
            input, self.running_mean, self.running_var, self.weight, self.bias,
            training=self.training, momentum=self.momentum, eps=self.eps,
            num_batches_tracked=self.num_batches_tracked,
        )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel C."""

    _expected_dims = (4,)


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last dims
    ``normalized_shape`` of each sample (biased variance), weight and bias elementwise
    (Ba, Kiros and Hinton, 2016)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: DeviceLike = None, dtype=None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(
            normalized_shape)
        if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0
                   for n in shape):
            raise ValueError(
                f"LayerNorm: normalized_shape must be non-negative ints, got {normalized_shape!r}"
            )
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_empty(shape, dtype), device=device)
            if bias:
                self.bias = Parameter(_empty(shape, dtype), device=device)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
