"""Normalisation: batch norm and layer norm, each one fused node with a closed-form backward.

Both compute xhat = (x - mean) * invstd and y = xhat * gamma + beta. They differ in the axes of
the statistics (per channel over the batch, or per sample over its last dims) and therefore in
the backward. Arguments are checked by ``nn.functional``.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..recording import kernel
from ..tensor import Tensor, take_grad_home


def _normalize(fn, x, affine, mean, invstd, pshape, centered):
    """xhat = (x - mean) invstd, then xhat gamma + beta; keeps xhat, invstd, gamma on ``fn``."""
    xhat = x - mean if centered is None else centered  # centered: x - mean, ours to overwrite
    xhat *= invstd
    fn.xhat, fn.invstd, fn.gamma = xhat, invstd, None
    if not affine:
        return xhat
    fn.gamma = affine[0].reshape(pshape)
    y = xhat * fn.gamma
    if len(affine) > 1:
        y += affine[1].reshape(pshape)
    return y


def _channel_sums_of_products(a, b, pshape, out=None):
    """sum(a * b) over every axis but the channel axis 1, shaped ``pshape`` (written into
    ``out``, of shape (C,), when given). One einsum pass: ``(a * b).sum(...)`` would first
    write the (N, C, ...) product (measured 10.7 us against 16.1 us at (128, 512) float32;
    in BENCHMARKS.md, h14ops)."""
    idx = "abcdefghijklmnopqrstuvwxyz"[:a.ndim]
    return get_array_module(a).einsum(f"{idx},{idx}->{idx[1]}", a, b, out=out).reshape(pshape)


class BatchNorm(Function):
    """y = (x - mean) * invstd * gamma + beta, statistics per channel over (N, *spatial).

    With the batch's own statistics (``batch_stats``), M values per channel,
    xhat = (x - mean) invstd and dxhat = grad * gamma:
        dx = invstd / M * (M dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
    where, because the statistics' axes are the parameters' axes, sum(dxhat) = gamma dbeta and
    sum(dxhat * xhat) = gamma dgamma (two full passes saved). With running statistics,
    dx = grad * gamma * invstd. Always dgamma = sum(grad * xhat), dbeta = sum(grad).

    References:
        Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network Training by
        Reducing Internal Covariate Shift", ICML 2015.
    """

    double_backward = False

    def forward(self, x, *affine, mean, invstd, axes, pshape, batch_stats, centered=None):
        self.axes, self.batch_stats = axes, batch_stats
        return _normalize(self, x, affine, mean, invstd, pshape, centered)

    def backward(self, grad):
        xhat, invstd, gamma, axes = self.xhat, self.invstd, self.gamma, self.axes
        need = self.needs_input_grad
        dx = dgamma = dbeta = None
        # dgamma and dbeta written where an optimizer offered (tensor.take_grad_home)
        homes = self.inputs if type(grad) is np.ndarray and self.inputs is not None else ()
        home_g = take_grad_home(homes[1], grad.dtype) if len(homes) > 1 and need[1] else None
        home_b = take_grad_home(homes[2], grad.dtype) if len(homes) > 2 and need[2] else None
        if home_b is None:
            gsum = grad.sum(axis=axes, keepdims=True)
        else:
            gsum = np.add.reduce(grad, axis=axes, out=home_b).reshape(invstd.shape)
        gxsum = _channel_sums_of_products(grad, xhat, invstd.shape, out=home_g)
        if need[0]:
            scale = invstd if gamma is None else gamma * invstd
            if self.batch_stats:
                # dx = scale (grad - sum(grad) / M - xhat sum(grad xhat) / M), built in the one
                # fresh array it returns (no (N, C, ...) temporaries)
                inv_m = 1.0 / (xhat.size // invstd.size)
                dx = xhat * (gxsum * -inv_m)
                dx += grad
                dx -= gsum * inv_m
                dx *= scale
            else:
                dx = grad * scale
        if len(need) > 1 and need[1]:
            dgamma = gxsum.reshape(-1) if home_g is None else home_g
        if len(need) > 2 and need[2]:
            dbeta = gsum.reshape(-1) if home_b is None else home_b
        return dx, dgamma, dbeta


class LayerNorm(Function):
    """y = (x - mean) * invstd * gamma + beta, statistics per sample over its last dims.

    With M values per statistic, xhat = (x - mean) invstd and dxhat = grad * gamma:
        dx = invstd / M * (M dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))  (sums per sample)
        dgamma = sum(grad * xhat), dbeta = sum(grad)  (sums over the leading dims)

    References:
        Ba, Kiros and Hinton, "Layer Normalization", arXiv:1607.06450.
    """

    double_backward = False

    def forward(self, x, *affine, mean, invstd, axes, pshape, centered=None):
        self.axes, self.lead = axes, tuple(range(x.ndim - len(axes)))
        return _normalize(self, x, affine, mean, invstd, pshape, centered)

    def backward(self, grad):
        xhat, invstd, gamma, axes = self.xhat, self.invstd, self.gamma, self.axes
        need = self.needs_input_grad
        dx = dgamma = dbeta = None
        if need[0]:
            dxhat = grad if gamma is None else grad * gamma
            m = xhat.size // invstd.size
            s1 = dxhat.sum(axis=axes, keepdims=True)
            s2 = (dxhat * xhat).sum(axis=axes, keepdims=True)
            dx = dxhat * m
            dx -= s1
            dx -= xhat * s2
            dx *= invstd * (1.0 / m)
        if len(need) > 1 and need[1]:
            dgamma = (grad * xhat).sum(axis=self.lead)
        if len(need) > 2 and need[2]:
            dbeta = grad.sum(axis=self.lead)
        return dx, dgamma, dbeta


def _affine(weight, bias) -> tuple:
    """The affine tensors to pass to apply: (), (weight,) or (weight, bias)."""
    if weight is None and bias is None:
        return ()
    if weight is None:
        weight = Tensor._wrap(get_array_module(bias.array).ones_like(bias.array))
    return (weight,) if bias is None else (weight, bias)


def _update_running_stats(rm, rv, nbt, momentum, mean, var, m: int) -> None:
    """running = (1 - f) running + f * batch statistic, in place on the arrays, as torch; the
    variance stored is the unbiased one (times M / (M - 1)); f = momentum, or
    1 / num_batches_tracked (the cumulative average) when momentum is None."""
    if nbt is not None:
        nbt += 1
    factor = 1.0 / float(nbt) if momentum is None else float(momentum)
    c = rm.size
    rm *= 1.0 - factor
    rm += factor * mean.reshape(c)
    rv *= 1.0 - factor
    rv += (factor * m / (m - 1)) * var.reshape(c)


def _batch_norm_statistics(a, rm, rv, nbt, *, axes, pshape, use_batch, update, momentum, eps):
    """(mean, invstd, centered) of batch norm's input array ``a``: the batch's (updating the
    running statistics ``rm``, ``rv`` in place when ``update``) or the running ones. One kernel
    of a step captured by minigrad.jit."""
    xp = get_array_module(a)
    if use_batch:
        m = a.size // a.shape[1]
        # sum * (1/M) rather than .mean(): NumPy's mean adds microseconds of Python overhead
        inv_m = 1.0 / m
        mean = a.sum(axis=axes, keepdims=True)
        mean *= inv_m
        centered = a - mean
        var = _channel_sums_of_products(centered, centered, mean.shape)
        var *= inv_m
        if update:
            _update_running_stats(rm, rv, nbt, momentum, mean, var, m)
    else:
        mean = rm.reshape(pshape)
        var = rv.reshape(pshape)
        centered = None
    invstd = var + eps
    xp.sqrt(invstd, out=invstd)
    xp.reciprocal(invstd, out=invstd)
    return mean, invstd, centered


def batch_norm(x: Tensor, running_mean, running_var, weight, bias, training: bool,
               momentum, eps: float, num_batches_tracked=None) -> Tensor:
    """Batch norm of (N, C, ...) input: the batch's mean and biased variance when training or
    without running statistics (updating the running statistics in place when training), the
    running statistics otherwise."""
    a = x.array
    c = a.shape[1]
    axes = (0,) + tuple(range(2, a.ndim))
    pshape = (1, c) + (1,) * (a.ndim - 2)
    use_batch = training or running_mean is None
    update = training and running_mean is not None
    buffers = [running_mean, running_var, num_batches_tracked if update else None]
    rm, rv, nbt = (None if t is None else t.array for t in buffers)
    mean, invstd, centered = kernel(_batch_norm_statistics, a, rm, rv, nbt, axes=axes,
                                    pshape=pshape, use_batch=use_batch, update=update,
                                    momentum=momentum, eps=eps)
    if update:  # the statistics were written in place
        kernel(_bump_versions, *(t for t in buffers if t is not None))
    return BatchNorm.apply(x, *_affine(weight, bias), mean=mean, invstd=invstd, axes=axes,
                           pshape=pshape, batch_stats=use_batch, centered=centered)


def _bump_versions(*tensors) -> None:
    for t in tensors:
        t._bump_version()


def _layer_norm_statistics(a, axes, eps):
    """(mean, invstd, centered) of layer norm's input array over ``axes``."""
    xp = get_array_module(a)
    mean = a.mean(axis=axes, keepdims=True)
    centered = a - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)
    return mean, 1.0 / xp.sqrt(var + eps), centered


def layer_norm(x: Tensor, normalized_shape: tuple, weight, bias, eps: float) -> Tensor:
    """Layer norm over the last ``len(normalized_shape)`` dims, each sample's mean and biased
    variance, then an elementwise scale and shift."""
    a = x.array
    axes = tuple(range(a.ndim - len(normalized_shape), a.ndim))
    mean, invstd, centered = kernel(_layer_norm_statistics, a, axes, eps)
    return LayerNorm.apply(x, *_affine(weight, bias), mean=mean, invstd=invstd, axes=axes,
                           pshape=normalized_shape, centered=centered)
