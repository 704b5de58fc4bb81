"""SyncBatchNorm: batch normalisation with the statistics of the whole global batch.

Under :class:`~minigrad.nn.parallel.DistributedDataParallel`, an ordinary BatchNorm normalises
each process's shard with that shard's own mean and variance (torch's default too).
SyncBatchNorm all-reduces the statistics instead, so N processes with B samples each normalise
exactly as one process with the N * B samples would.
"""

from __future__ import annotations

from .. import distributed as dist
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .module import Module
from .normalization import _BatchNorm


class _SyncNormalize(Function):
    """y = (x - mean) * invstd * gamma + beta with the global batch's statistics.

    With M values per channel over all ranks, xhat = (x - mean) invstd and dy this rank's
    upstream gradient, the gradient of the sum of every rank's loss with respect to this
    rank's x is
        dx = gamma * invstd / M * (M dy - sum_all(dy) - xhat * sum_all(dy * xhat))
    where sum_all adds over the samples of every rank (one all-reduce of 2C numbers), and
    dgamma = sum(dy * xhat), dbeta = sum(dy) over this rank's samples (DistributedDataParallel
    then averages them like every other parameter gradient).
    """

    def forward(self, x, *affine, centered, invstd, count, axes, pshape, group):
        self.axes, self.count, self.group = axes, count, group
        xhat = centered
        xhat *= invstd
        self.xhat, self.invstd = xhat, invstd
        self.gamma = affine[0].reshape(pshape) if affine else None
        if not affine:
            return xhat
        return xhat * self.gamma + affine[1].reshape(pshape)

    def backward(self, grad):
        if isinstance(grad, Tensor):
            raise NotImplementedError("double backward through sync_batch_norm is not supported")
        xp = get_array_module(grad)
        xhat, axes = self.xhat, self.axes
        gsum = grad.sum(axis=axes, keepdims=True)
        gxsum = (grad * xhat).sum(axis=axes, keepdims=True)
        dx = None
        if self.needs_input_grad[0]:
            sums = xp.concatenate([gsum.reshape(-1), gxsum.reshape(-1)])
            self.group.allreduce(sums)  # every rank runs this backward: same order everywhere
            c = gsum.size
            total_g = sums[:c].reshape(gsum.shape)
            total_gx = sums[c:].reshape(gsum.shape)
            scale = self.invstd if self.gamma is None else self.gamma * self.invstd
            dx = grad * self.count
            dx -= total_g
            dx -= xhat * total_gx
            dx *= scale * (1.0 / self.count)
        if self.gamma is None:
            return (dx,)
        return dx, gxsum.reshape(-1), gsum.reshape(-1)


def _global_stats(x, axes, group):
    """(mean, centered x, biased variance, M) over every rank's samples, per channel: the
    mean from all-reduced sums and counts, then the variance from all-reduced squared
    deviations about that mean (two passes, as a single process computes it)."""
    xp = get_array_module(x)
    c = x.shape[1]
    local = xp.empty(c + 1, dtype=x.dtype)
    local[:c] = x.sum(axis=axes)
    local[c] = x.size // c
    group.allreduce(local)
    m = int(round(float(local[c])))
    mean = (local[:c] * (1.0 / m)).astype(x.dtype).reshape((1, c) + (1,) * (x.ndim - 2))
    centered = x - mean
    sq = (centered * centered).sum(axis=axes)
    group.allreduce(sq)
    var = sq * (1.0 / m)
    return mean.reshape(c), centered, var.astype(x.dtype), m


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose training statistics are those of the global batch.

    In training, the per-channel mean and *biased* variance are computed over the samples of
    every process of ``process_group`` (two all-reduces of C numbers per forward, one of 2C
    per backward), and the running statistics are updated with them as BatchNorm does
    (unbiased variance, M = the global count). In evaluation, or with one process, it is
    BatchNorm. Input (N, C, ...) of 2 to 5 dims. Every rank must call it the same number of
    times (it communicates in forward and backward).

    Args:
        num_features, eps, momentum, affine, track_running_stats: as BatchNorm1d.
        process_group: the group; the default group when None (read at each forward).

    References:
        Ioffe and Szegedy, ICML 2015; torch.nn.SyncBatchNorm.
    """

    _expected_dims = (2, 3, 4, 5)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group=None, device=None, dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype)
        object.__setattr__(self, "process_group", process_group)

    def forward(self, input: Tensor) -> Tensor:
        group = self.process_group or dist.default_group_or_none()
        use_batch = self.training or self.running_mean is None
        if group is None or group.size == 1 or not use_batch:
            return super().forward(input)
        if input.ndim not in self._expected_dims or input.shape[1] != self.num_features:
            raise ValueError(
                f"SyncBatchNorm(num_features={self.num_features}) expected 2-D to 5-D input "
                f"with {self.num_features} channels in dim 1, got shape {tuple(input.shape)}"
            )
        x = input.array
        axes = (0,) + tuple(range(2, x.ndim))
        mean, centered, var, m = _global_stats(x, axes, group)
        if m <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel over all "
                             f"ranks when training, got {m}")
        if self.training and self.running_mean is not None:
            self._update_running(mean, var, m)
        xp = get_array_module(x)
        pshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        invstd = (1.0 / xp.sqrt(var + self.eps)).astype(x.dtype).reshape(pshape)
        affine = (self.weight, self.bias) if self.affine else ()
        return _SyncNormalize.apply(input, *affine, centered=centered, invstd=invstd, count=m,
                                    axes=axes, pshape=pshape, group=group)

    def _update_running(self, mean, var, m: int) -> None:
        if self.momentum is None:
            self.num_batches_tracked.array += 1
            factor = 1.0 / float(self.num_batches_tracked.array)
        else:
            self.num_batches_tracked.array += 1
            factor = float(self.momentum)
        rm, rv = self.running_mean.array, self.running_var.array
        rm *= 1.0 - factor
        rm += factor * mean
        rv *= 1.0 - factor
        rv += (factor * m / (m - 1)) * var
        for t in (self.running_mean, self.running_var, self.num_batches_tracked):
            t._bump_version()

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with every BatchNorm layer replaced by a SyncBatchNorm holding the same
        parameters and buffers (torch's helper); returns the new root if it was one."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            new = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group=process_group)
            for name in ("weight", "bias"):
                if getattr(module, name) is not None:
                    setattr(new, name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                if getattr(module, name) is not None:
                    setattr(new, name, getattr(module, name))
            new.train(module.training)
            return new
        for name, child in list(module.named_children()):
            if child is not None:
                setattr(module, name, cls.convert_sync_batchnorm(child, process_group))
        return module


__all__ = ["SyncBatchNorm"]
