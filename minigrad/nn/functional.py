"""minigrad.nn.functional: the stateless forms of the layers, activations and losses.

``import minigrad.nn.functional as F`` as in torch. This module is the torch-signature facade:
it checks arguments (types, shapes, dtypes, devices, ranges), maps torch's defaults and
deprecated arguments, prepares targets and weights, and calls the op in :mod:`minigrad.ops`
that computes the value and owns the derivative (``linear`` in ``ops/linalg.py``, activations
in ``ops/ops.py``, ``dropout`` in ``ops/dropout.py``, normalisation in
``ops/normalization.py``, ``embedding`` in ``ops/sparse.py``, losses in ``ops/loss.py``).

The ops that dominate small networks' time (``linear``, ``cross_entropy``, ``batch_norm``,
``dropout``) are each ONE fused node with a closed-form backward. Double backward
(``create_graph=True``) works through ``linear``, dropout and the activations except GELU; the
fused normalisation, loss and embedding kernels raise ``NotImplementedError`` there.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import backend, ops
from ..backend import get_array_module
from ..grad_mode import is_grad_enabled
from ..ops import loss as loss_ops
from ..ops import normalization, sparse
from ..recording import kernel
from ..tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")


def _check_tensor(x, name: str, what: str = "input") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: {what} must be a minigrad Tensor, got {type(x).__name__}")


def _check_float(x: Tensor, name: str, what: str = "input") -> None:
    if x.array.dtype.kind != "f":
        raise TypeError(f"{name}: {what} must be a floating-point tensor, got dtype {x.dtype}")


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """torch's deprecated ``size_average`` / ``reduce`` arguments, mapped to ``reduction`` as
    torch does (kept so that positional calls port unchanged)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _in_place(name: str, input: Tensor, out_of_place) -> Tensor:
    """torch's ``inplace=True``: the result is written into ``input``'s memory (its version
    advances) and ``input`` is returned. minigrad's autograd records out-of-place ops only, so
    this is refused for a tensor whose graph is being recorded (it requires grad, outside
    ``no_grad``), rather than silently done out of place."""
    if input.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"{name}(inplace=True) on a tensor that requires grad: minigrad records only "
            "out-of-place ops; use inplace=False (the default)"
        )
    return input.copy_(out_of_place(input))


def _check_reduction(reduction: str, name: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"{name}: reduction must be one of 'none', 'mean', 'sum', got {reduction!r}"
        )


# =============================================================================== linear


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight.T + bias, one fused op.

    Args:
        input: (*, in_features).
        weight: (out_features, in_features).
        bias: (out_features,) or None.
    """
    if input.array.shape[-1:] != weight.array.shape[1:]:
        raise ValueError(
            f"linear: input of shape {tuple(input.shape)} does not match weight of shape "
            f"{tuple(weight.shape)} (expected input (*, {weight.shape[1]}))"
        )
    if input.array.dtype != weight.array.dtype:
        raise TypeError(
            f"linear: input has dtype {input.dtype} but weight has dtype {weight.dtype}; "
            "cast one of them (.float() or .double())"
        )
    return ops.linear(input, weight, bias)


# =============================================================================== activations


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); ``inplace=True`` overwrites ``input`` (outside the graph only)."""
    if inplace:
        return _in_place("relu", input, ops.relu)
    return ops.relu(input)


def sigmoid(input: Tensor) -> Tensor:
    return ops.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return ops.tanh(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x (torch's default slope 0.01); ``inplace=True``
    overwrites ``input`` (outside the graph only)."""
    if inplace:
        return _in_place("leaky_relu", input, lambda x: ops.leaky_relu(x, negative_slope))
    return ops.leaky_relu(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha (exp(x) - 1); ``inplace=True`` overwrites ``input`` (outside the
    graph only).

    References:
        Clevert et al., "Fast and Accurate Deep Network Learning by Exponential Linear Units
        (ELUs)", ICLR 2016.
    """
    if inplace:
        return _in_place("elu", input, lambda x: ops.elu(x, alpha))
    return ops.elu(input, alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x) with Phi the standard normal CDF (``approximate='none'``, via erf), or its tanh
    approximation (``approximate='tanh'``).

    References:
        Hendrycks and Gimpel, "Gaussian Error Linear Units (GELUs)", arXiv:1606.08415.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    _check_float(input, "gelu")
    return ops.gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish); ``inplace=True`` overwrites ``input`` (outside the
    graph only).

    References:
        Elfwing et al., "Sigmoid-Weighted Linear Units for Neural Network Function
        Approximation in Reinforcement Learning", 2017.
    """
    if inplace:
        return _in_place("silu", input, ops.silu)
    return ops.silu(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """(1/beta) log(1 + exp(beta x)); x itself where beta x > threshold (torch's rule)."""
    return ops.softplus(input, beta, threshold)


def _softmax_dim(ndim: int) -> int:
    warnings.warn(
        "Implicit dimension choice for softmax has been deprecated (as in torch): pass dim",
        UserWarning, stacklevel=4,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_args(input: Tensor, dim, dtype) -> tuple:
    """torch's softmax arguments: ``dtype`` casts the input first; ``dim=None`` is the
    deprecated implicit choice (with torch's warning)."""
    if dtype is not None:
        input = input.astype(dtype)
    return input, (_softmax_dim(input.ndim) if dim is None else dim)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along ``dim`` (``dtype``: cast the input first)."""
    return ops.softmax(*_softmax_args(input, dim, dtype))


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """x_i - log sum_j exp(x_j) along ``dim``, computed stably (``dtype``: cast first)."""
    return ops.log_softmax(*_softmax_args(input, dim, dtype))


# =============================================================================== dropout


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by
    1 / (1 - p) in training; the identity when ``training`` is False or p == 0.

    The mask is drawn from ``minigrad.backend.default_generator`` on the input's device, in
    its dtype. ``inplace=True`` overwrites ``input`` (outside the graph only).

    References:
        Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
        Overfitting", JMLR 15 (2014).
    """
    _check_dropout_p(p)
    if not training or p == 0:
        return input
    _check_tensor(input, "dropout")
    _check_float(input, "dropout")
    if inplace:
        return _in_place("dropout", input, lambda x: ops.dropout(x, p))
    return ops.dropout(input, p)


def _check_dropout_p(p) -> None:
    if type(p) is not float and (not isinstance(p, numbers.Real) or isinstance(p, bool)):
        raise TypeError(f"dropout probability must be a number in [0, 1), got {p!r}")
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")


# =============================================================================== normalisation


def _check_affine(weight, bias, shape, name) -> None:
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"{name}: {what} must have shape {shape}, got {tuple(t.shape)}")


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
    num_batches_tracked: Tensor | None = None,
) -> Tensor:
    """Batch normalisation over (N, C), (N, C, L) or (N, C, H, W) input, one fused op.

    In training (or without running statistics) it normalises with the batch's mean and
    *biased* variance, and updates the running statistics in place as torch does:
        running_mean = (1 - momentum) running_mean + momentum * mean
        running_var  = (1 - momentum) running_var  + momentum * var * M / (M - 1)
    (the *unbiased* variance, M values per channel). ``momentum=None`` gives the cumulative
    average, factor 1 / num_batches_tracked. In evaluation it uses the running statistics.

    References:
        Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network Training by
        Reducing Internal Covariate Shift", ICML 2015.
    """
    _check_tensor(input, "batch_norm")
    _check_float(input, "batch_norm")
    shape = tuple(input.array.shape)
    if len(shape) < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, ...), got shape {shape}")
    _check_affine(weight, bias, (shape[1],), "batch_norm")  # checked before any update
    if (training or running_mean is None) and input.array.size // shape[1] <= 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input "
            f"of shape {shape}"
        )
    if training and running_mean is not None and momentum is None and num_batches_tracked is None:
        raise ValueError("batch_norm: momentum=None (cumulative average) needs "
                         "num_batches_tracked")
    return normalization.batch_norm(input, running_mean, running_var, weight, bias, training,
                                    momentum, eps, num_batches_tracked)


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dims with each sample's mean and
    biased variance, then scale and shift elementwise.

    References:
        Ba, Kiros and Hinton, "Layer Normalization", arXiv:1607.06450.
    """
    _check_tensor(input, "layer_norm")
    _check_float(input, "layer_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    x = input.array
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(
            f"layer_norm: input of shape {tuple(x.shape)} does not end with normalized_shape "
            f"{shape}"
        )
    _check_affine(weight, bias, shape, "layer_norm")
    return normalization.layer_norm(input, shape, weight, bias, eps)


# =============================================================================== embedding


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer ``input``; output shape
    ``input.shape + (dim,)``. Rows at ``padding_idx`` receive no gradient."""
    _check_tensor(input, "embedding")
    idx = input.array
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got dtype {idx.dtype}")
    n = weight.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexError(f"embedding: index {bad} is out of range for {n} embeddings [0, {n})")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    return sparse.embedding(weight, idx, padding_idx)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """(..., num_classes) int64 one-hot encoding of an integer tensor.

    With ``num_classes`` given, the encoding is one kernel of a step captured by
    ``minigrad.jit`` (replayed on each new target); inferred from the values (-1), the output's
    shape depends on them, so a captured step falls back to eager with a warning.
    """
    idx = tensor.array
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer tensor, got dtype {idx.dtype}")
    if num_classes < 0:
        return Tensor._wrap(_one_hot_array(idx, int(idx.max()) + 1 if idx.size else 0))
    return Tensor._wrap(kernel(_one_hot_array, idx, int(num_classes)))


def _one_hot_array(idx, num_classes: int):
    """The one-hot array of integer array ``idx``; ValueError for a class outside the range."""
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes})")
    xp = get_array_module(idx)
    with backend.on_device_of(idx):  # arange on the indices' GPU (cuda:N)
        return (idx[..., None] == xp.arange(num_classes)).astype(np.int64)


# =============================================================================== losses


def _pointwise_loss(name, input, target, kind, reduction, delta=0.0):
    _check_tensor(input, name)
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}: target must be a minigrad Tensor, got {type(target).__name__}")
    _check_reduction(reduction, name)
    _check_float(input, name)
    if input.array.shape != target.array.shape:
        raise ValueError(
            f"{name}: target shape {tuple(target.shape)} does not match input shape "
            f"{tuple(input.shape)} (expected equal shapes; broadcasting a loss is almost "
            "always a bug)"
        )
    if target.array.dtype != input.array.dtype:
        if target.array.dtype.kind == "f" and target.requires_grad:
            raise TypeError(
                f"{name}: input has dtype {input.dtype} but target has dtype {target.dtype}"
            )
        target = target.astype(input.array.dtype)  # the Cast op: a kernel of a captured step
    return loss_ops.pointwise_loss(kind, input, target, reduction, delta)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean") -> Tensor:
    """(x - y)^2, reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _pointwise_loss("mse_loss", input, target, "mse", reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean") -> Tensor:
    """|x - y|, reduced (gradient sign(x - y), 0 at equality as torch)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _pointwise_loss("l1_loss", input, target, "l1", reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """0.5 r^2 where |r| < delta, else delta (|r| - 0.5 delta); r = x - y.

    References:
        Huber, "Robust Estimation of a Location Parameter", Ann. Math. Statist. 35 (1964).
    """
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta!r}")
    return _pointwise_loss("huber_loss", input, target, "huber", reduction, float(delta))


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 r^2 / beta where |r| < beta, else |r| - 0.5 beta (L1 when beta == 0)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta!r}")
    return _pointwise_loss("smooth_l1_loss", input, target, "smooth_l1", reduction, float(beta))


def _rows(x: Tensor, name: str):
    """(M, C) view of (N, C, d1, ...) input with the class dim last: returns (x2, restore)."""
    if x.ndim == 1:
        return x.reshape(1, -1), (lambda t: t.reshape(())), ()
    if x.ndim == 2:
        return x, (lambda t: t), (x.shape[0],)
    perm = (0,) + tuple(range(2, x.ndim)) + (1,)
    moved = x.permute(perm)
    spatial = moved.shape[:-1]
    return moved.reshape(-1, x.shape[1]), (lambda t: t.reshape(spatial)), spatial


def _class_weight(weight, x: Tensor, name: str):
    if weight is None:
        return None
    w = weight.array if isinstance(weight, Tensor) else weight
    c = x.shape[1] if x.ndim > 1 else x.shape[0]
    if tuple(w.shape) != (c,):
        raise ValueError(f"{name}: weight must have shape ({c},) (one per class), got "
                         f"{tuple(w.shape)}")
    w = backend.to_device(w, x.device)
    return w if w.dtype == x.dtype else w.astype(x.dtype)


def _class_targets(target: Tensor, x: Tensor, name: str):
    expected = (x.shape[0],) + tuple(x.shape[2:]) if x.ndim > 1 else ()
    if tuple(target.shape) != expected:
        raise ValueError(
            f"{name}: target of shape {tuple(target.shape)} does not fit input of shape "
            f"{tuple(x.shape)}: expected class indices of shape {expected}"
            + (f" or class probabilities of shape {tuple(x.shape)}" if name == "cross_entropy"
               else "")
        )
    t = target.array
    if x.ndim > 2:
        t = t.reshape(-1)
    elif x.ndim == 1:
        t = t.reshape(1)
    if t.dtype != np.int64:
        t = t.astype(np.int64)
    return t


def _check_classes(t, c: int, ignore_index: int):
    """(targets with ignored entries set to 0, mask of kept entries or None when all are kept).

    Raises ValueError for a class index outside [0, C) that is not ``ignore_index``.
    """
    if not t.size:
        return t, None
    # as unsigned, a negative index is huge: one reduction checks both ends
    if not 0 <= ignore_index < c and int(t.view(np.uint64).max()) < c:
        return t, None
    xp = get_array_module(t)
    valid = t != ignore_index
    safe = xp.where(valid, t, 0)
    bad = (safe < 0) | (safe >= c)
    if bool(bad.any()):
        v = int(t[bad][0])
        raise ValueError(
            f"class index {v} is out of range: expected targets in [0, {c}) "
            f"(or ignore_index={ignore_index})"
        )
    return safe, (None if bool(valid.all()) else valid)


def _class_loss(name, input, target, weight, ignore_index, reduction, smoothing, log_input):
    if (weight is None and not smoothing and type(target) is Tensor and type(input) is Tensor
            and input.array.ndim == 2 and target.array.dtype == np.int64
            and input.array.dtype.kind == "f" and target.array.shape == input.array.shape[:1]
            and reduction in _REDUCTIONS and type(target.array) is type(input.array)):
        # the common case (N, C) logits and (N,) int64 targets, without the general checks
        safe, valid = kernel(_check_classes, target.array, input.array.shape[1],
                             int(ignore_index))
        op = loss_ops.NLL if log_input else loss_ops.CrossEntropy  # class_index_loss, inline
        return op.apply(input, safe=safe, valid=valid, weight=None, reduction=reduction,
                        smoothing=0.0)
    _check_tensor(input, name)
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}: target must be a minigrad Tensor, got {type(target).__name__}")
    _check_reduction(reduction, name)
    _check_float(input, name)
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have shape (N, C) or (C,), got a 0-d tensor")
    if target.device != input.device:
        raise RuntimeError(f"{name}: expected target on {input.device} (the input's device), "
                           f"got {target.device}")
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {smoothing!r}")
    w = _class_weight(weight, input, name)
    kind = target.array.dtype.kind
    if kind == "f":
        if name != "cross_entropy" or tuple(target.shape) != tuple(input.shape):
            exp = (input.shape[0],) + tuple(input.shape[2:]) if input.ndim > 1 else ()
            raise TypeError(
                f"{name}: got a float target of shape {tuple(target.shape)}: expected integer "
                f"class indices of shape {exp}"
                + (f" or float class probabilities of shape {tuple(input.shape)}"
                   if name == "cross_entropy" else "")
            )
        x2, restore, _ = _rows(input, name)
        q2, _, _ = _rows(target, name)
        if q2.dtype != x2.dtype:
            q2 = q2.astype(x2.dtype)
        out = loss_ops.soft_cross_entropy(x2, q2, w, reduction, float(smoothing))
        return restore(out) if reduction == "none" else out
    if kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got dtype "
                        f"{target.dtype}")
    t = _class_targets(target, input, name)
    x2, restore, _ = _rows(input, name)
    safe, valid = kernel(_check_classes, t, x2.shape[1], int(ignore_index))
    out = loss_ops.class_index_loss(x2, safe, valid, w, reduction, float(smoothing), log_input)
    return restore(out) if reduction == "none" else out


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits ``input`` (N, C) [or (C,), or (N, C, d1, ...)] and either
    integer class indices (N,) [(), (N, d1, ...)] or class probabilities of input's shape.

    loss_i = -w_{t_i} log softmax(x_i)_{t_i} (with label smoothing eps: (1 - eps) times that
    plus eps / C times -sum_c w_c log softmax(x_i)_c). 'mean' divides by the sum of the
    non-ignored targets' weights (by N for probability targets), exactly as torch.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _class_loss("cross_entropy", input, target, weight, ignore_index, reduction,
                       label_smoothing, log_input=False)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities ``input``: loss_i = -w_{t_i} x_{i, t_i};
    'mean' divides by the sum of the non-ignored targets' weights."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _class_loss("nll_loss", input, target, weight, ignore_index, reduction, 0.0,
                       log_input=True)


def _binary_targets(name, input, target, weight):
    _check_tensor(input, name)
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}: target must be a minigrad Tensor, got {type(target).__name__}")
    _check_float(input, name)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"{name}: target shape {tuple(target.shape)} does not match input shape "
            f"{tuple(input.shape)} (expected equal shapes)"
        )
    if target.array.dtype.kind != "f":  # torch refuses these too: a 0/1 label is a float here
        raise TypeError(
            f"{name}: target must be a floating-point tensor of 0/1 labels or probabilities, "
            f"got dtype {target.dtype} (use target.float())"
        )
    if target.array.dtype != input.array.dtype:
        if target.requires_grad:
            raise TypeError(f"{name}: input has dtype {input.dtype}, target {target.dtype}")
        target = target.astype(input.array.dtype)  # the Cast op: a kernel of a captured step
    return target, _broadcast_weight(weight, input, name, "weight")


def _broadcast_weight(weight, input: Tensor, name: str, what: str):
    """``weight`` (a Tensor, array or None) as an array on input's device in its dtype,
    checked to broadcast to input's shape."""
    if weight is None:
        return None
    w = weight.array if isinstance(weight, Tensor) else weight
    w = backend.to_device(w, input.device)
    w = w if w.dtype == input.dtype else w.astype(input.dtype)
    try:
        np.broadcast_shapes(tuple(w.shape), tuple(input.shape))
    except ValueError:
        raise ValueError(f"{name}: {what} of shape {tuple(w.shape)} does not broadcast to "
                         f"input shape {tuple(input.shape)}") from None
    return w


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """-w (y log p + (1 - y) log(1 - p)) for probabilities p in [0, 1]; logs clamped at -100
    (torch's rule, so p = 0 or 1 gives a finite loss)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy")
    target, w = _binary_targets("binary_cross_entropy", input, target, weight)
    p = input.array
    if p.size and (float(p.min()) < 0 or float(p.max()) > 1):
        raise ValueError(
            "binary_cross_entropy: input must hold probabilities in [0, 1], got values in "
            f"[{float(p.min())}, {float(p.max())}] (use binary_cross_entropy_with_logits "
            "for logits)"
        )
    return loss_ops.binary_cross_entropy(input, target, w, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Sigmoid + binary cross-entropy in one numerically stable op (finite for logits of any
    size). ``pos_weight`` (broadcast over the last dim, one per class) weighs positives."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    target, w = _binary_targets("binary_cross_entropy_with_logits", input, target, weight)
    pw = _broadcast_weight(pos_weight, input, "binary_cross_entropy_with_logits", "pos_weight")
    return loss_ops.binary_cross_entropy_with_logits(input, target, w, pw, reduction)


__all__ = [
    "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "dropout", "elu", "embedding", "gelu", "huber_loss", "l1_loss", "layer_norm", "leaky_relu",
    "linear", "log_softmax", "mse_loss", "nll_loss", "one_hot", "relu", "sigmoid", "silu",
    "smooth_l1_loss", "softmax", "softplus", "tanh",
]


# =============================================================================== convolution


def _ntuple(value, n: int, name: str, what: str, minimum: int) -> tuple[int, ...]:
    """An int or a length-n sequence of ints >= minimum, as an n-tuple (else a clear error)."""
    items = (value,) * n if isinstance(value, numbers.Integral) else value
    try:
        items = tuple(items)
    except TypeError:
        raise TypeError(f"{name}: {what} must be an int or a tuple of {n} ints, "
                        f"got {value!r}") from None
    if len(items) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                  for v in items):
        raise TypeError(f"{name}: {what} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in items):
        kind = "non-negative" if minimum == 0 else "positive"
        raise ValueError(f"{name}: {what} must be {kind}, got {value!r}")
    return tuple(int(v) for v in items)


def _conv_padding(padding, kernel, dilation, stride, name: str):
    """torch's padding argument as (before, after) per dim: an int, a tuple, "valid" (none)
    or "same" (total d (k - 1), the odd extra one after, as torch; stride 1 only)."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions, got stride={stride}")
            total = [dil * (k - 1) for k, dil in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in total)
        raise ValueError(f"{name}: padding must be 'valid', 'same', an int or a tuple of {n} "
                         f"ints, got {padding!r}")
    return tuple((p, p) for p in _ntuple(padding, n, name, "padding", 0))


def _conv_nd(name: str, nd: int, input, weight, bias, stride, padding, dilation, groups):
    """Check every argument of conv{nd}d (before computing anything), then convolve."""
    _check_tensor(input, name)
    _check_tensor(weight, name, "weight")
    _check_float(input, name)
    if weight.ndim != nd + 2:
        raise ValueError(f"{name}: weight must be {nd + 2}-D (out_channels, in_channels / "
                         f"groups, kernel), got shape {tuple(weight.shape)}")
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                         f"input, got {input.ndim}-D input of shape {tuple(input.shape)}")
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    c_out, c_per_group = weight.shape[:2]
    if c_out % groups:
        raise ValueError(f"{name}: out_channels ({c_out}, weight's dim 0) must be divisible by "
                         f"groups={groups}")
    batched = input.ndim == nd + 2
    c_in = input.shape[1 if batched else 0]
    if c_in != c_per_group * groups:
        raise ValueError(
            f"{name}: given groups={groups} and weight of shape {tuple(weight.shape)}, expected "
            f"input of shape {tuple(input.shape)} to have {c_per_group * groups} channels, but "
            f"got {c_in} channels instead"
        )
    if bias is not None:
        _check_tensor(bias, name, "bias")
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is not None and t.array.dtype != input.array.dtype:
            raise TypeError(f"{name}: input has dtype {input.dtype} but {what} has dtype "
                            f"{t.dtype}; cast one of them (.float() or .double())")
    if bias is not None:
        if tuple(bias.shape) != (c_out,):
            raise ValueError(f"{name}: bias must have shape ({c_out},), got "
                             f"{tuple(bias.shape)}")
    kernel = tuple(weight.shape[2:])
    stride = _ntuple(stride, nd, name, "stride", 1)
    dilation = _ntuple(dilation, nd, name, "dilation", 1)
    pads = _conv_padding(padding, kernel, dilation, stride, name)
    geom = ops.ConvGeometry(stride, pads, dilation, int(groups))
    spatial = tuple(input.shape[-nd:])
    for n, (lo, hi), k, dil in zip(spatial, pads, kernel, dilation):
        if n + lo + hi < dil * (k - 1) + 1:
            raise ValueError(
                f"{name}: kernel size {kernel} (dilation {dilation}, so it spans "
                f"{tuple(dl * (m - 1) + 1 for m, dl in zip(kernel, dilation))}) is larger "
                f"than the padded input {tuple(m + a + b for m, (a, b) in zip(spatial, pads))} "
                f"(input {spatial}, padding {padding!r})"
            )
    x = input if batched else input.unsqueeze(0)
    y = ops.conv_nd(x, weight, geom, bias)
    return y if batched else y.squeeze(0)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of (N, C_in, L) or (C_in, L) input with weight
    (C_out, C_in / groups, k); torch's arguments (``padding``: int, tuple, "valid", "same")."""
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of (N, C_in, H, W) or (C_in, H, W) input with weight
    (C_out, C_in / groups, kH, kW), as torch:

        out[n, j] = bias[j] + sum_{c in group(j)} weight[j, c] (star) input[n, c]

    ``padding``: an int, a tuple, "valid" or "same" (stride 1; an odd total padding puts the
    extra row/column after, as torch). ``groups`` splits the channels (``groups == C_in``:
    depthwise). Kernels: :mod:`minigrad.ops.conv` (im2col + one matmul per product)."""
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


# =============================================================================== pooling


def _pool_geometry(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode,
                   max_pad_of):
    """Checked PoolGeometry for ``input`` (torch's rules: stride defaults to the kernel,
    padding at most half the (dilated) kernel, a non-empty output)."""
    _check_tensor(input, name)
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                         f"input, got {input.ndim}-D input of shape {tuple(input.shape)}")
    kernel = _ntuple(kernel_size, nd, name, "kernel_size", 1)
    stride = kernel if stride is None or stride == () else _ntuple(stride, nd, name,
                                                                   "stride", 1)
    padding = _ntuple(padding, nd, name, "padding", 0)
    dilation = _ntuple(dilation, nd, name, "dilation", 1)
    for p, k, dil in zip(padding, kernel, dilation):
        if p > max_pad_of(k, dil):
            raise ValueError(f"{name}: padding should be at most half of the (dilated) kernel "
                             f"size, got padding={padding}, kernel_size={kernel}, "
                             f"dilation={dilation}")
    geom = ops.PoolGeometry(kernel, stride, padding, dilation, bool(ceil_mode))
    out = geom.output_shape(tuple(input.shape[-nd:]))
    if any(o < 1 for o in out):
        raise ValueError(f"{name}: input of shape {tuple(input.shape)} is too small for "
                         f"kernel_size={kernel}, stride={stride}, padding={padding}, "
                         f"dilation={dilation}: the output size would be {out}")
    return geom


def _batched(input, nd, fn):
    """Apply fn to input with a batch dim (added and removed for unbatched input)."""
    if input.ndim == nd + 2:
        return fn(input)
    out = fn(input.unsqueeze(0))
    if isinstance(out, tuple):
        return tuple(o.squeeze(0) for o in out)
    return out.squeeze(0)


def _max_pool_nd(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode,
                 return_indices):
    geom = _pool_geometry(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode,
                          lambda k, dil: (dil * (k - 1) + 1) // 2)
    return _batched(input, nd, lambda x: ops.max_pool(x, geom, return_indices))


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over windows of (N, C, L) or (C, L) input; the gradient goes to each window's
    first maximum. ``return_indices``: also the positions (in L) of the maxima."""
    return _max_pool_nd("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                        ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over windows of (N, C, H, W) or (C, H, W) input (torch's arguments and output
    size, ceil_mode included; padding counts as -inf). The gradient goes to each window's
    first maximum. ``return_indices``: also the maxima's positions in the flattened H*W."""
    return _max_pool_nd("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                        ceil_mode, return_indices)


def _avg_pool_nd(name, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                 divisor_override):
    _check_tensor(input, name)
    _check_float(input, name)
    geom = _pool_geometry(name, nd, input, kernel_size, stride, padding, 1, ceil_mode,
                          lambda k, dil: k // 2)
    if divisor_override is not None and (
            not isinstance(divisor_override, numbers.Integral) or divisor_override <= 0):
        raise ValueError(f"{name}: divisor_override must be a positive int or None, got "
                         f"{divisor_override!r}")
    return _batched(input, nd, lambda x: ops.avg_pool(x, geom, bool(count_include_pad),
                                                  divisor_override))


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over windows of (N, C, L) or (C, L) input; ``count_include_pad``: the zero
    padding counts in the window size."""
    return _avg_pool_nd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over windows of (N, C, H, W) or (C, H, W) input, torch's divisor: the window
    clipped to the padded input (``count_include_pad``) or to the input, or
    ``divisor_override``."""
    return _avg_pool_nd("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, divisor_override)


def _adaptive_avg_pool_nd(name, nd, input, output_size):
    _check_tensor(input, name)
    _check_float(input, name)
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                         f"input, got {input.ndim}-D input of shape {tuple(input.shape)}")
    spatial = tuple(input.shape[-nd:])
    sizes = (output_size,) * nd if isinstance(output_size, numbers.Integral) or \
        output_size is None else tuple(output_size)
    if len(sizes) != nd:
        raise ValueError(f"{name}: output_size must be an int or a tuple of {nd}, got "
                         f"{output_size!r}")
    sizes = tuple(n if s is None else s for s, n in zip(sizes, spatial))
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
               for s in sizes):
        raise ValueError(f"{name}: output_size must hold positive ints (or None), got "
                         f"{output_size!r}")
    if any(n == 0 for n in spatial):
        raise ValueError(f"{name}: input of shape {tuple(input.shape)} has an empty spatial "
                         "dim")
    return ops.adaptive_avg_pool(input, tuple(int(s) for s in sizes))


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Mean over windows [floor(i L / O), ceil((i + 1) L / O)) of (N, C, L) or (C, L) input."""
    return _adaptive_avg_pool_nd("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Mean over windows [floor(i H / O_H), ceil((i + 1) H / O_H)) x (the same in W) of
    (N, C, H, W) or (C, H, W) input; ``output_size`` an int, a pair, or None to keep a dim."""
    return _adaptive_avg_pool_nd("adaptive_avg_pool2d", 2, input, output_size)


__all__ += [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "conv1d",
    "conv2d", "max_pool1d", "max_pool2d",
]
