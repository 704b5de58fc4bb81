"""Losses, each one fused node: pointwise regression losses, cross-entropy and NLL with class
indices or probabilities, binary cross-entropy on probabilities or logits.

Each forward computes the per-element loss and reduces it ('none', 'mean' or 'sum'); each
backward applies the derivative of the reduction (1/n for 'mean') to the loss's own derivative.
Arguments, shapes and targets are checked by ``nn.functional`` before these run.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .special import sigmoid as sigmoid_array


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class PointwiseLoss(Function):
    """loss = reduce(l(x - y)); dx = reduce'(grad) l'(x - y), dy = -dx. A subclass gives l and
    l' in ``loss_and_slope``; only l' is kept for backward."""

    double_backward = False

    def loss_and_slope(self, r, xp, delta):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x, y, reduction, delta=0.0):
        xp = get_array_module(x)
        loss, self.dl = self.loss_and_slope(x - y, xp, delta)
        self.reduction = reduction
        if reduction == "none":
            return loss
        out = loss.sum() if reduction == "sum" else loss.mean()
        return xp.asarray(out, dtype=x.dtype)

    def backward(self, grad):
        dl = self.dl
        if self.reduction == "mean":
            gx = dl * (grad / dl.size)
        else:
            gx = dl * grad
        return gx, (-gx if self.needs_input_grad[1] else None)


class MSE(PointwiseLoss):
    """l(r) = r^2;  l'(r) = 2 r."""

    def loss_and_slope(self, r, xp, delta):
        return r * r, r * 2


class L1(PointwiseLoss):
    """l(r) = |r|;  l'(r) = sign(r) (0 at r = 0, as torch)."""

    def loss_and_slope(self, r, xp, delta):
        return xp.abs(r), xp.sign(r)


class Huber(PointwiseLoss):
    """l(r) = r^2 / 2 where |r| < delta, else delta (|r| - delta / 2);
    l'(r) = r, or delta sign(r).

    References:
        Huber, "Robust Estimation of a Location Parameter", Ann. Math. Statist. 35 (1964).
    """

    def loss_and_slope(self, r, xp, delta):
        a = xp.abs(r)
        small = a < delta
        return (xp.where(small, 0.5 * r * r, delta * (a - 0.5 * delta)),
                xp.where(small, r, delta * xp.sign(r)))


class SmoothL1(PointwiseLoss):
    """l(r) = r^2 / (2 beta) where |r| < beta, else |r| - beta / 2 (Huber / beta; L1 when
    beta = 0);  l'(r) = r / beta, or sign(r). ``delta`` carries beta."""

    def loss_and_slope(self, r, xp, beta):
        a = xp.abs(r)
        if beta == 0:
            return a, xp.sign(r)
        small = a < beta
        return (xp.where(small, (0.5 / beta) * r * r, a - 0.5 * beta),
                xp.where(small, r * (1.0 / beta), xp.sign(r)))


class ClassIndexLoss(Function):
    """Cross-entropy or NLL with integer class targets, one fused op over (M, C) rows.

    With q_ic = (1 - eps) w_{t_i} [c = t_i] + (eps / C) w_c (eps the label smoothing, zero for
    ignored rows) and lp = log_softmax(x) (cross-entropy) or lp = x (NLL):
        loss_i = -sum_c q_ic lp_ic
    Backward (cross-entropy): dx_i = g_i (softmax(x_i) * sum_c q_ic - q_i);
    (NLL): dx_i = -g_i q_i. g_i is the upstream gradient, divided by the sum of the targets'
    weights under reduction='mean'. No (M, C) one-hot is built.
    """

    double_backward = False
    log_input = False  # True: the input holds log-probabilities (NLL)

    def forward(self, x, safe, valid, weight, reduction, smoothing):
        log_input = self.log_input
        xp = get_array_module(x)
        n, c = x.shape
        rows = _arange(n, xp)
        if log_input:
            lp = x
            picked = x[rows, safe]
        else:
            shifted = x - x.max(axis=1, keepdims=True)
            e = xp.exp(shifted)
            s = e.sum(axis=1, keepdims=True)
            log_s = xp.log(s)
            self.e, self.s = e, s
            # log p_{i, t_i} = shifted_{i, t_i} - log s_i; the full (M, C) log-softmax is only
            # needed for label smoothing
            picked = shifted[rows, safe] - log_s[:, 0]
            if smoothing:
                lp = shifted
                lp -= log_s
        wt = None if weight is None else weight[safe]
        if valid is not None:
            vf = valid.astype(x.dtype)
            wt = vf if wt is None else wt * vf
        loss = -picked if wt is None else -(picked * wt)
        if smoothing:
            smooth = -(lp.sum(axis=1) if weight is None else lp @ weight)
            if valid is not None:
                smooth *= vf
            loss *= 1.0 - smoothing
            loss += (smoothing / c) * smooth
        denom = 1.0
        if reduction == "mean":
            denom = float(n) if wt is None else float(wt.sum())
            total = loss.sum()
            out = total / x.dtype.type(denom) if denom else total * x.dtype.type(np.nan)
        elif reduction == "sum":
            out = loss.sum()
        else:
            out = loss
        self.safe, self.wt, self.weight, self.denom = safe, wt, weight, denom
        self.reduction, self.smoothing = reduction, smoothing
        self.valid, self.nc = valid, (n, c)
        return xp.asarray(out, dtype=x.dtype)

    def backward(self, grad):
        xp = get_array_module(grad)
        eps, wt, weight = self.smoothing, self.wt, self.weight
        n, c = self.nc
        rows = _arange(n, xp)
        if self.reduction == "none":
            g = grad
        elif self.denom:
            g = grad / grad.dtype.type(self.denom) if self.denom != 1.0 else grad
        else:
            g = grad * grad.dtype.type(np.nan)
        if not eps and wt is None and g.ndim == 0:  # the common case: one scale for all rows
            if self.log_input:
                dx = xp.zeros((n, c), dtype=grad.dtype)
            else:
                dx = self.e * (g / self.s)
            dx[rows, self.safe] -= g
            return (dx,)
        gi = g if g.ndim else xp.full((n,), g, dtype=g.dtype)  # g_i per row
        gw = gi if wt is None else gi * wt  # g_i w_{t_i} (zero on ignored rows)
        gv = gi if self.valid is None else gi * self.valid
        if self.log_input:
            dx = xp.zeros((n, c), dtype=grad.dtype)
        else:
            # sum_c q_ic = (1 - eps) w_t + (eps / C) sum_c w_c, times g_i
            qsum = gw * (1.0 - eps) if eps else gw
            if eps:
                wsum = float(c) if weight is None else weight.sum()
                qsum = qsum + gv * (eps / c * wsum)
            dx = self.e * (qsum[:, None] / self.s)
        dx[rows, self.safe] -= gw * (1.0 - eps) if eps else gw
        if eps:
            if weight is None:
                dx -= (gv * (eps / c))[:, None]
            else:
                dx -= (gv * (eps / c))[:, None] * weight
        return (dx,)


_ARANGES: dict[int, object] = {}


def _arange(n: int, xp):
    """arange(n) (cached on the CPU: the row index of every loss call)."""
    if xp is not np:
        return xp.arange(n)
    r = _ARANGES.get(n)
    if r is None:
        if len(_ARANGES) > 64:
            _ARANGES.clear()
        r = _ARANGES[n] = np.arange(n)
        r.flags.writeable = False
    return r


class CrossEntropy(ClassIndexLoss):
    """loss_i = -sum_c q_ic log_softmax(x_i)_c with class indices (see ClassIndexLoss);
    dx_i = g_i (softmax(x_i) sum_c q_ic - q_i).

    The common case (every row kept, no class weights, no label smoothing, reduction 'mean'
    or 'sum') is fused as in a hand-written step: with z_i = x_i - max_c x_ic, e = exp(z) and
    s_i = sum_c e_ic,
        loss = k sum_i (log s_i - z_{i,t_i}),   dx = g k (e / s - onehot(t))
    (k = 1/N for 'mean', 1 for 'sum'). Forward keeps e, s and the flat positions i C + t_i of
    the targets: picking z_{i,t_i} and subtracting the one-hot then index one flat view, which
    costs a third of 2-D fancy indexing on W3's (16, 10) logits (forward + backward 11.7 us
    against 13.6; BENCHMARKS.md, h14ops). Same arithmetic as the general path, bit for bit.
    """

    at = None  # the targets' flat positions, kept by the fused forward

    def forward(self, x, safe, valid, weight, reduction, smoothing):
        if (valid is not None or weight is not None or smoothing or reduction == "none"
                or not x.size):
            return super().forward(x, safe, valid, weight, reduction, smoothing)
        xp = get_array_module(x)
        n, c = x.shape
        at = _row_starts(n, c, xp) + safe  # i C + t_i
        z = x - x.max(axis=1, keepdims=True)
        if not z.flags.c_contiguous:  # a transposed x: the flat positions need C order
            z = xp.ascontiguousarray(z)
        picked = z.reshape(-1)[at]  # z_{i, t_i}
        e = xp.exp(z, out=z)
        s = e.sum(axis=1, keepdims=True)
        loss = xp.log(s.reshape(-1))
        loss -= picked
        total = loss.sum()
        self.e, self.s, self.at = e, s, at
        self.n = n if reduction == "mean" else 1
        out = total / x.dtype.type(n) if reduction == "mean" else total
        return xp.asarray(out, dtype=x.dtype)

    def backward(self, grad):
        if self.at is None:
            return super().backward(grad)
        g = grad / grad.dtype.type(self.n) if self.n != 1 else grad
        dx = self.e * (g / self.s)  # g k softmax(x)
        dx.reshape(-1)[self.at] -= g
        return (dx,)


def _row_starts(n: int, c: int, xp):
    """i C for i in [0, n): the flat position of row i of an (n, C) array."""
    if xp is not np:
        return xp.arange(0, n * c, c)
    key = (n, c)
    r = _ROW_STARTS.get(key)
    if r is None:
        if len(_ROW_STARTS) > 64:
            _ROW_STARTS.clear()
        r = _ROW_STARTS[key] = np.arange(0, n * c, c)
        r.flags.writeable = False
    return r


_ROW_STARTS: dict[tuple, object] = {}


class NLL(ClassIndexLoss):
    """loss_i = -sum_c q_ic x_ic for log-probabilities x (see ClassIndexLoss); dx_i = -g_i q_i."""

    log_input = True


class SoftCrossEntropy(Function):
    """Cross-entropy with class-probability targets q (after label smoothing
    q <- (1 - eps) q + eps / C) and class weights w:
        loss_i = -sum_c w_c q_ic log_softmax(x)_ic
        dx_i = g_i (softmax(x_i) sum_c w_c q_ic - w q_i);  dq_i = -g_i w log_softmax(x_i).
    Reduction 'mean' divides by the number of rows (torch's rule for probability targets).
    """

    double_backward = False

    def forward(self, x, q, weight, reduction, smoothing):
        xp = get_array_module(x)
        n, c = x.shape
        if smoothing:
            q = q * (1.0 - smoothing) + smoothing / c
        shifted = x - x.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        lp = shifted - xp.log(s)
        wq = q if weight is None else q * weight
        loss = -(wq * lp).sum(axis=1)
        self.p, self.wq, self.lp, self.weight = e / s, wq, lp, weight
        self.reduction, self.smoothing, self.n = reduction, smoothing, n
        if reduction == "none":
            return loss
        out = loss.sum() if reduction == "sum" else loss.sum() / x.dtype.type(n)
        return xp.asarray(out, dtype=x.dtype)

    def backward(self, grad):
        g = grad / grad.dtype.type(self.n) if self.reduction == "mean" else grad
        g = g[:, None] if g.ndim else g
        dx = dq = None
        if self.needs_input_grad[0]:
            dx = g * (self.p * self.wq.sum(axis=1, keepdims=True) - self.wq)
        if self.needs_input_grad[1]:
            w = 1.0 if self.weight is None else self.weight
            dq = -g * w * self.lp
            if self.smoothing:
                dq = dq * (1.0 - self.smoothing)
        return dx, dq


class BinaryCrossEntropy(Function):
    """loss = -w (y log p + (1 - y) log(1 - p)), each log clamped at -100 as torch;
    dp = w (p - y) / max(p (1 - p), 1e-12);  dy = w (log(1 - p) - log p)."""

    double_backward = False

    def forward(self, p, y, w, reduction):
        self.save_for_backward(p, y)
        xp = get_array_module(p)
        with np.errstate(divide="ignore"):
            logp = xp.maximum(xp.log(p), -100.0)
            log1mp = xp.maximum(xp.log1p(-p), -100.0)
        loss = -(y * logp + (1 - y) * log1mp)
        if w is not None:
            loss = loss * w
        self.w, self.reduction, self.logs = w, reduction, (logp, log1mp)
        if reduction == "none":
            return loss
        return xp.asarray(_reduce(loss, reduction), dtype=p.dtype)

    def backward(self, grad, p, y):
        xp = get_array_module(p)
        g = grad / grad.dtype.type(p.size) if self.reduction == "mean" else grad
        if self.w is not None:
            g = g * self.w
        dp = dy = None
        if self.needs_input_grad[0]:
            dp = g * (p - y) / xp.maximum(p * (1 - p), p.dtype.type(1e-12))
        if self.needs_input_grad[1]:
            dy = g * (self.logs[1] - self.logs[0])
        return dp, dy


class BinaryCrossEntropyWithLogits(Function):
    """With l = 1 + (pos_weight - 1) y and softplus(-x) = log(1 + e^-|x|) + max(-x, 0):
        loss = w ((1 - y) x + l softplus(-x))
        dx = w ((1 - y) - l sigma(-x));  dy = w (-x + (pos_weight - 1) softplus(-x)).
    Stable for any |x| (no exp of a positive number).
    """

    double_backward = False

    def forward(self, x, y, w, pos_weight, reduction):
        self.save_for_backward(x, y)
        xp = get_array_module(x)
        sp = xp.log1p(xp.exp(-xp.abs(x)))
        sp += xp.maximum(-x, 0)  # softplus(-x)
        if pos_weight is None:
            loss = (1 - y) * x + sp
        else:
            lw = (pos_weight - 1) * y + 1
            loss = (1 - y) * x + lw * sp
        if w is not None:
            loss = loss * w
        self.sp, self.w, self.pw, self.reduction = sp, w, pos_weight, reduction
        if reduction == "none":
            return loss
        return xp.asarray(_reduce(loss, reduction), dtype=x.dtype)

    def backward(self, grad, x, y):
        g = grad / grad.dtype.type(x.size) if self.reduction == "mean" else grad
        if self.w is not None:
            g = g * self.w
        dx = dy = None
        if self.needs_input_grad[0]:
            s_neg = sigmoid_array(-x)
            if self.pw is None:
                dx = g * ((1 - y) - s_neg)
            else:
                dx = g * ((1 - y) - ((self.pw - 1) * y + 1) * s_neg)
        if self.needs_input_grad[1]:
            dy = g * (-x) if self.pw is None else g * (-x + (self.pw - 1) * self.sp)
        return dx, dy


# ----------------------------------------------------------------------------- entries
# (called by nn.functional after its checks; targets and weights arrive as prepared arrays)

_POINTWISE = {"mse": MSE, "l1": L1, "huber": Huber, "smooth_l1": SmoothL1}


def pointwise_loss(kind: str, x: Tensor, y: Tensor, reduction: str, delta: float = 0.0) -> Tensor:
    """``kind`` in 'mse', 'l1', 'huber', 'smooth_l1' of x - y, reduced."""
    return _POINTWISE[kind].apply(x, y, reduction=reduction, delta=delta)


def class_index_loss(x: Tensor, safe, valid, weight, reduction: str, smoothing: float,
                     log_input: bool) -> Tensor:
    """Cross-entropy of (M, C) logits (NLL of log-probabilities when ``log_input``) with class
    indices ``safe`` (ignored rows: ``valid`` False)."""
    cls = NLL if log_input else CrossEntropy
    return cls.apply(x, safe=safe, valid=valid, weight=weight, reduction=reduction,
                     smoothing=smoothing)


def soft_cross_entropy(x: Tensor, q: Tensor, weight, reduction: str, smoothing: float) -> Tensor:
    """Cross-entropy of (M, C) logits with class probabilities ``q``."""
    return SoftCrossEntropy.apply(x, q, weight=weight, reduction=reduction, smoothing=smoothing)


def binary_cross_entropy(p: Tensor, y: Tensor, weight, reduction: str) -> Tensor:
    return BinaryCrossEntropy.apply(p, y, w=weight, reduction=reduction)


def binary_cross_entropy_with_logits(x: Tensor, y: Tensor, weight, pos_weight,
                                     reduction: str) -> Tensor:
    return BinaryCrossEntropyWithLogits.apply(x, y, w=weight, pos_weight=pos_weight,
                                              reduction=reduction)
