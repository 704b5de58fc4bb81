"""A sweep of bad inputs across the public API, kept as a table.

Each row: an id, the call (a function of a fresh :class:`World`), the exception type it must
raise, and a phrase its message must contain. Every row also checks that nothing changed:
every tensor, parameter, gradient, buffer, optimizer state, scheduler state and file of the
world is compared before and after the failed call (``extra`` adds row-specific checks).
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    random_split,
)
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.optim import lr_scheduler as sched
from minigrad.train import evaluate, fit


class World:
    """Fresh objects for one row: tensors, a small model with a BatchNorm, an optimizer and a
    scheduler that have taken one step, a data loader and a checkpoint file."""

    def __init__(self, tmp):
        mg.manual_seed(0)
        self.tmp = str(tmp)
        self.x = mg.randn(2, 3)
        self.xi = mg.tensor([1, 2, 3])
        self.w = mg.randn(3, 3, requires_grad=True)
        self.model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(),
                                   nn.Linear(4, 2))
        self.p = self.model[0].weight
        self.opt = mg.optim.Adam(self.model.parameters(), lr=0.01)
        self.sched = sched.StepLR(self.opt, step_size=2)
        xs = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
        self.ds = TensorDataset(xs, np.arange(8) % 2)
        self.loader = DataLoader(self.ds, batch_size=4)
        loss = nn.CrossEntropyLoss()(self.model(mg.tensor(xs)), mg.tensor(np.arange(8) % 2))
        loss.backward()
        self.opt.step()
        self.sched.step()
        self.ckpt = os.path.join(self.tmp, "good.npz")
        mg.save({"w": self.x}, self.ckpt)
        self.loss_fn = nn.CrossEntropyLoss()

    def snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = {}
        for name in ("x", "xi", "w"):
            snap[name] = getattr(self, name).detach().numpy().copy()
        for k, v in self.model.state_dict().items():
            snap[f"model.{k}"] = v.detach().numpy().copy()
        for i, q in enumerate(self.model.parameters()):
            snap[f"grad{i}"] = None if q.grad is None else q.grad.numpy().copy()
        snap["opt"] = _plain(self.opt.state_dict())
        snap["sched"] = _plain(self.sched.state_dict())
        snap["files"] = sorted(os.listdir(self.tmp))
        with open(self.ckpt, "rb") as f:
            snap["ckpt"] = f.read()
        snap["training"] = [m.training for m in self.model.modules()]
        return snap


def _plain(obj):
    """A deep copy with Tensors as NumPy arrays (for equality checks)."""
    if isinstance(obj, mg.Tensor):
        return obj.detach().numpy().copy()
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    if callable(obj):
        return repr(type(obj))
    return copy.deepcopy(obj)


def _assert_same(a, b, where="world"):
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b)):
            _assert_same(u, v, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


class Row(NamedTuple):
    id: str
    call: Callable[[World], Any]
    exc: type[BaseException]
    phrase: str
    extra: Callable[[World], None] | None = None


def _P(*shape):
    return nn.Parameter(mg.zeros(*shape))


def _write(w, name, data: bytes):
    path = os.path.join(w.tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


R = Row
ROWS: list[Row] = [
    # ------------------------------------------------------------------ tensor factories
    R("tensor-str", lambda w: mg.tensor("abc"), TypeError, "string"),
    R("tensor-ragged", lambda w: mg.tensor([[1, 2], [3]]), ValueError, "rectangular"),
    R("tensor-objects", lambda w: mg.tensor([object()]), TypeError, "unsupported dtype"),
    R("tensor-complex", lambda w: mg.tensor([1j]), TypeError, "complex"),
    R("tensor-dtype-str", lambda w: mg.tensor([1.0], dtype="U3"), TypeError, "unsupported dtype"),
    R("tensor-int-requires-grad", lambda w: mg.tensor([1, 2], requires_grad=True), TypeError,
      "floating-point"),
    R("tensor-device-int", lambda w: mg.tensor([1.0], device=3), TypeError, "device"),
    R("seed-negative", lambda w: mg.manual_seed(-1), ValueError, "-1"),
    R("default-dtype-int", lambda w: mg.set_default_dtype(mg.int64), TypeError, "int64"),
    R("tensor-bad-device", lambda w: mg.tensor([1.0], device="tpu"), ValueError, "tpu"),
    R("zeros-negative", lambda w: mg.zeros(-1, 2), ValueError, "-1"),
    R("ones-float-size", lambda w: mg.ones(2.5), ValueError, "2.5"),
    R("full-bad-size", lambda w: mg.full("ab", 1.0), ValueError, "ab"),
    R("arange-step-sign", lambda w: mg.arange(0, 5, -1), ValueError, "sign of step=-1"),
    R("arange-zero-step", lambda w: mg.arange(0, 5, 0), ValueError, "step"),
    R("linspace-negative-steps", lambda w: mg.linspace(0, 1, -3), ValueError, "-3"),
    R("eye-negative", lambda w: mg.eye(-2), ValueError, "-2"),
    R("randn-negative", lambda w: mg.randn(2, -3), ValueError, "-3"),
    R("randint-empty-range", lambda w: mg.randint(5, 5, (2,)), ValueError, "5"),
    R("randperm-negative", lambda w: mg.randperm(-1), ValueError, "-1"),
    R("from-numpy-list", lambda w: mg.from_numpy([1.0]), TypeError, "numpy.ndarray"),
    R("from-numpy-str", lambda w: mg.from_numpy(np.array(["a"])), TypeError, "unsupported"),
    R("zeros-like-list", lambda w: mg.zeros_like([1.0]), TypeError, "list"),
    # ------------------------------------------------------------------ tensor methods
    R("item-many", lambda w: w.x.item(), ValueError, "one element"),
    R("bool-many", lambda w: bool(w.x), RuntimeError, "ambiguous"),
    R("len-0d", lambda w: len(mg.tensor(1.0)), TypeError, "0-d"),
    R("index-float", lambda w: [1, 2][mg.tensor(1.0)], TypeError, "integer"),
    R("numpy-requires-grad", lambda w: w.w.numpy(), RuntimeError, "detach"),
    R("backward-no-grad", lambda w: w.x.sum().backward(), RuntimeError, "does not require grad"),
    R("backward-nonscalar", lambda w: (w.w * 2).backward(), RuntimeError, "non-scalar"),
    R("backward-grad-shape", lambda w: (w.w * 2).backward(mg.ones(2, 2)), RuntimeError,
      "shape (2, 2)"),
    R("backward-twice", lambda w: _backward_twice(w), RuntimeError, "second time"),
    R("retain-grad-no-grad", lambda w: w.x.retain_grad(), RuntimeError, "does not require"),
    R("hook-no-grad", lambda w: w.x.register_hook(print), RuntimeError, "does not require"),
    R("requires-grad-int", lambda w: w.xi.requires_grad_(), TypeError, "floating-point"),
    R("requires-grad-false-nonleaf", lambda w: (w.w * 2).requires_grad_(False), RuntimeError,
      "detach"),
    R("data-set-array", lambda w: setattr(w.x, "data", np.zeros((2, 3))), TypeError,
      "Tensor"),
    R("data-set-int-on-grad", lambda w: setattr(w.w, "data", mg.zeros(3, 3, dtype=mg.int64)),
      TypeError, "only floating-point"),
    R("grad-set-shape", lambda w: setattr(w.p, "grad", mg.zeros(3, 4)), RuntimeError,
      "shape (3, 4)"),
    R("grad-set-dtype", lambda w: setattr(w.p, "grad", mg.zeros(4, 3, dtype=mg.float64)),
      RuntimeError, "dtype float64"),
    R("grad-set-array", lambda w: setattr(w.p, "grad", np.zeros((4, 3))), TypeError,
      "Tensor or None"),
    R("grad-set-self", lambda w: setattr(w.p, "grad", w.p), RuntimeError, "its own grad"),
    R("to-bad-kwarg", lambda w: w.x.to(devise="cpu"), TypeError, "devise"),
    R("to-bad-device", lambda w: w.x.to("tpu"), ValueError, "tpu"),
    R("to-string-dtype", lambda w: w.x.to(dtype="U3"), TypeError, "unsupported dtype <U3"),
    R("astype-object", lambda w: w.x.astype(object), TypeError, "unsupported dtype object"),
    R("invert-float", lambda w: ~w.x, TypeError, "bool"),
    R("inplace-leaf-grad", lambda w: w.w.add_(1.0), RuntimeError, "no_grad"),
    R("inplace-int-float", lambda w: w.xi.add_(0.5), TypeError, "dtype float64"),
    R("inplace-mul-int-float", lambda w: w.xi.mul_(mg.tensor([0.5, 1.0, 2.0])), TypeError,
      "float32"),
    R("inplace-str", lambda w: w.x.add_("a"), TypeError, "got str"),
    R("inplace-none", lambda w: w.x.mul_(None), TypeError, "got NoneType"),
    R("inplace-shape", lambda w: w.x.add_(mg.ones(3, 2)), ValueError, "(2, 3)"),
    R("copy-shape", lambda w: w.x.copy_(mg.ones(4)), ValueError, "(4,)"),
    R("fill-leaf-grad", lambda w: w.w.fill_(0.0), RuntimeError, "fill_"),
    R("setitem-leaf-grad", lambda w: w.w.__setitem__(0, 1.0), RuntimeError, "item assignment"),
    R("setitem-out-of-range", lambda w: w.x.__setitem__(5, 1.0), IndexError, "5"),
    # ------------------------------------------------------------------ ops
    R("add-shapes", lambda w: w.x + mg.ones(4), ValueError, "(2, 3) and (4,)"),
    R("mul-shapes", lambda w: w.x * mg.ones(2, 2), ValueError, "(2, 2)"),
    R("matmul-dtypes", lambda w: w.x @ mg.ones(3, 2, dtype=mg.int64),
      TypeError, "float32 and int64"),
    R("matmul-f32-f64", lambda w: w.x @ mg.ones(3, 2, dtype=mg.float64), TypeError,
      "float32 and float64"),
    R("matmul-align", lambda w: w.x @ mg.ones(2, 2), ValueError, "do not align"),
    R("matmul-0d", lambda w: mg.tensor(2.0) @ w.x, ValueError, "at least 1 dim"),
    R("reshape-minus-two", lambda w: w.x.reshape(-2, 3), ValueError, "invalid size -2"),
    R("reshape-two-inferred", lambda w: w.x.reshape(-1, -1), ValueError, "Reshape"),
    R("reshape-size", lambda w: w.x.reshape(4, 2), ValueError, "(2, 3)"),
    R("reshape-float", lambda w: w.x.reshape(2.0, 3), TypeError, "integers"),
    R("view-str", lambda w: w.x.view("a"), TypeError, "integers"),
    R("permute-count", lambda w: w.x.permute(0), ValueError, "1 dims"),
    R("permute-repeat", lambda w: w.x.permute(0, 0), ValueError, "repeated"),
    R("transpose-range", lambda w: w.x.transpose(0, 5), IndexError, "out of range"),
    R("sum-dim-range", lambda w: w.x.sum(dim=2), IndexError, "out of range"),
    R("sum-dim-float", lambda w: w.x.sum(dim=1.0), TypeError, "integers"),
    R("mean-int", lambda w: w.xi.mean(), TypeError, "floating"),
    R("max-empty", lambda w: mg.zeros(0).max(), ValueError, "empty"),
    R("var-too-few", lambda w: mg.ones(1).var(), ValueError, "need more elements"),
    R("std-too-few", lambda w: mg.ones(3, 1).std(dim=1), ValueError, "need more elements"),
    R("argmax-range", lambda w: w.x.argmax(dim=3), IndexError, "out of range"),
    R("squeeze-range", lambda w: w.x.squeeze(4), IndexError, "out of range"),
    R("unsqueeze-range", lambda w: w.x.unsqueeze(5), IndexError, "out of range"),
    R("flatten-order", lambda w: mg.zeros(2, 3, 4).flatten(2, 1), ValueError, "comes after"),
    R("expand-bad", lambda w: w.x.expand(3, 3), ValueError, "(2, 3)"),
    R("getitem-range", lambda w: w.x[5], IndexError, "5"),
    R("getitem-float", lambda w: w.x[1.5], IndexError, "only integers"),
    R("where-int-cond", lambda w: mg.where(w.xi, w.xi, w.xi), TypeError, "bool"),
    R("concat-empty", lambda w: mg.concat([]), ValueError, "non-empty"),
    R("concat-shapes", lambda w: mg.concat([w.x, mg.ones(2, 2)], dim=0), ValueError, "(2, 2)"),
    R("stack-shapes", lambda w: mg.stack([w.x, mg.ones(3, 2)]), ValueError, "(3, 2)"),
    R("softmax-dim", lambda w: w.x.softmax(dim=3), IndexError, "out of range"),
    R("clip-none", lambda w: w.x.clip(), ValueError, "min"),
    # ------------------------------------------------------------------ nn constructors
    R("linear-negative-in", lambda w: nn.Linear(-1, 3), ValueError, "in_features"),
    R("linear-float", lambda w: nn.Linear(2.5, 3), ValueError, "2.5"),
    R("linear-negative-out", lambda w: nn.Linear(3, -1), ValueError, "out_features"),
    R("dropout-p", lambda w: nn.Dropout(1.5), ValueError, "1.5"),
    R("dropout-p-negative", lambda w: nn.Dropout(-0.1), ValueError, "-0.1"),
    R("bn-zero", lambda w: nn.BatchNorm1d(0), ValueError, "num_features"),
    R("bn-momentum", lambda w: nn.BatchNorm1d(3, momentum=2.0), ValueError, "momentum"),
    R("embedding-negative", lambda w: nn.Embedding(-1, 3), ValueError, "num_embeddings"),
    R("embedding-dim", lambda w: nn.Embedding(3, -2), ValueError, "embedding_dim"),
    R("layernorm-bad", lambda w: nn.LayerNorm(-1), ValueError, "normalized_shape"),
    R("sequential-non-module", lambda w: nn.Sequential(nn.ReLU(), 3), TypeError, "int"),
    R("modulelist-non-module", lambda w: nn.ModuleList([nn.ReLU(), "x"]), TypeError, "str"),
    R("param-int", lambda w: nn.Parameter(mg.tensor([1, 2])), TypeError, "floating-point"),
    R("register-param-tensor", lambda w: w.model.register_parameter("q", mg.zeros(2)),
      TypeError, "Parameter"),
    R("register-buffer-param", lambda w: w.model.register_buffer("q", _P(2)), TypeError,
      "Parameter cannot be a buffer"),
    R("setattr-param-tensor", lambda w: setattr(w.model[0], "weight", mg.zeros(4, 3)),
      TypeError, "Parameter"),
    R("setattr-buffer-str", lambda w: setattr(w.model[1], "running_mean", "x"), TypeError,
      "buffer"),
    R("load-state-missing", lambda w: w.model.load_state_dict({}), RuntimeError, "missing keys"),
    R("load-state-shape", lambda w: w.model.load_state_dict(
        {**w.model.state_dict(), "0.weight": mg.zeros(3, 3)}), RuntimeError, "0.weight"),
    R("load-state-unexpected", lambda w: w.model.load_state_dict(
        {**w.model.state_dict(), "zzz": mg.zeros(1)}), RuntimeError, "zzz"),
    R("module-to-bad", lambda w: w.model.to("tpu"), ValueError, "tpu"),
    # ------------------------------------------------------------------ nn calls
    R("linear-input-width", lambda w: w.model(mg.ones(4, 5)), ValueError, "(4, 5)"),
    R("linear-int-input", lambda w: nn.Linear(3, 2)(w.xi), TypeError, "int64"),
    R("bn-channels", lambda w: w.model[1](mg.ones(4, 5)), ValueError, "num_features=4"),
    R("bn-one-sample", lambda w: w.model[1](mg.ones(1, 4)), ValueError, "more than 1 value"),
    R("embedding-float-idx", lambda w: nn.Embedding(4, 2)(w.x), TypeError, "integer"),
    R("embedding-idx-range", lambda w: nn.Embedding(4, 2)(mg.tensor([4])), IndexError, "4"),
    R("layernorm-shape", lambda w: nn.LayerNorm(4)(w.x), ValueError, "(2, 3)"),
    R("flatten-range", lambda w: nn.Flatten(5)(w.x), IndexError, "out of range"),
    R("unflatten-sizes", lambda w: nn.Unflatten(1, (2, 2))(w.x), ValueError, "(2, 2)"),
    R("softmax-module-dim", lambda w: nn.Softmax(dim=4)(w.x), IndexError, "out of range"),
    R("dropout-int-input", lambda w: nn.Dropout(0.5)(w.xi), TypeError, "floating-point"),
    R("dropout-p-str", lambda w: nn.Dropout("0.5"), TypeError, "'0.5'"),
    R("module-train-str", lambda w: w.model.train("no"), TypeError, "bool"),
    R("sequential-index", lambda w: w.model[7], IndexError, "index 7"),
    R("module-call-tensor-list", lambda w: w.model([1.0, 2.0, 3.0]), TypeError, "list"),
    # ------------------------------------------------------------------ losses
    R("ce-target-float-shape", lambda w: w.loss_fn(w.x, mg.ones(3)), TypeError, "(3,)"),
    R("ce-target-range", lambda w: w.loss_fn(w.x, mg.tensor([0, 3])), ValueError,
      "class index 3"),
    R("ce-target-negative", lambda w: w.loss_fn(w.x, mg.tensor([0, -2])), ValueError,
      "class index -2"),
    R("ce-target-batch", lambda w: w.loss_fn(w.x, mg.tensor([0, 1, 2])), ValueError, "(3,)"),
    R("ce-int-input", lambda w: w.loss_fn(w.xi.reshape(1, 3), mg.tensor([0])), TypeError,
      "floating-point"),
    R("ce-weight-shape", lambda w: nn.CrossEntropyLoss(weight=mg.ones(5))(w.x, mg.tensor([0, 1])),
      ValueError, "weight must have shape (3,)"),
    R("mse-int", lambda w: nn.MSELoss()(w.xi, w.xi), TypeError, "floating-point"),
    R("ce-reduction", lambda w: nn.CrossEntropyLoss(reduction="avg"), ValueError, "avg"),
    R("ce-label-smoothing", lambda w: nn.CrossEntropyLoss(label_smoothing=1.5), ValueError,
      "label_smoothing"),
    R("ce-target-list", lambda w: w.loss_fn(w.x, [0, 1]), TypeError, "list"),
    R("nll-target-range", lambda w: nn.NLLLoss()(w.x, mg.tensor([0, 5])), ValueError,
      "class index 5"),
    R("mse-shapes", lambda w: nn.MSELoss()(w.x, mg.ones(3, 2)), ValueError, "(3, 2)"),
    R("mse-reduction", lambda w: nn.MSELoss(reduction="none!"), ValueError, "none!"),
    R("l1-shapes", lambda w: nn.L1Loss()(w.x, mg.ones(2)), ValueError, "(2,)"),
    R("huber-delta", lambda w: nn.HuberLoss(delta=0.0), ValueError, "delta"),
    R("smoothl1-beta", lambda w: nn.SmoothL1Loss(beta=-1.0), ValueError, "beta"),
    R("bce-int-target", lambda w: nn.BCELoss()(mg.full((3,), 0.5), w.xi), TypeError,
      "floating-point"),
    R("bce-logits-int-target", lambda w: nn.BCEWithLogitsLoss()(mg.zeros(3), w.xi), TypeError,
      "floating-point"),
    R("bce-out-of-range", lambda w: nn.BCELoss()(mg.full((3,), 1.5), mg.ones(3)), ValueError,
      "[0, 1]"),
    R("bce-shapes", lambda w: nn.BCELoss()(mg.full((3,), 0.5), mg.ones(2)), ValueError,
      "(2,)"),
    R("bce-logits-pos-weight", lambda w: nn.BCEWithLogitsLoss(pos_weight=mg.ones(4))(
        w.x, mg.zeros(2, 3)), ValueError, "pos_weight"),
    R("F-ce-input-ndarray", lambda w: F.cross_entropy(np.zeros((2, 3)), mg.tensor([0, 1])),
      TypeError, "ndarray"),
    # ------------------------------------------------------------------ init
    R("init-kaiming-mode", lambda w: init.kaiming_uniform_(w.p, mode="fan_avg"), ValueError,
      "fan_avg"),
    R("init-kaiming-nonlin", lambda w: init.kaiming_normal_(w.p, nonlinearity="swish"),
      ValueError, "swish"),
    R("init-gain-unknown", lambda w: init.calculate_gain("swish"), ValueError, "swish"),
    R("init-xavier-1d", lambda w: init.xavier_uniform_(w.model[0].bias), ValueError, "2"),
    R("init-eye-3d", lambda w: init.eye_(mg.zeros(2, 2, 2)), ValueError, "2-D"),
    R("init-orthogonal-1d", lambda w: init.orthogonal_(mg.zeros(3)), ValueError, "2"),
    R("init-uniform-bounds", lambda w: init.uniform_(w.p, 1.0, 0.0), ValueError, "1.0"),
    R("init-normal-std", lambda w: init.normal_(w.p, std=-1.0), ValueError, "std"),
    R("init-trunc-bounds", lambda w: init.trunc_normal_(w.p, a=2.0, b=1.0), ValueError, "a"),
    R("init-int-tensor", lambda w: init.normal_(w.xi), TypeError, "floating"),
    R("init-ndarray", lambda w: init.zeros_(np.zeros(3)), TypeError, "Tensor"),
    # ------------------------------------------------------------------ optimizers
    R("sgd-lr-negative", lambda w: mg.optim.SGD(w.model.parameters(), lr=-0.1), ValueError,
      "lr"),
    R("sgd-momentum", lambda w: mg.optim.SGD(w.model.parameters(), lr=0.1, momentum=-1),
      ValueError, "momentum"),
    R("sgd-nesterov", lambda w: mg.optim.SGD(w.model.parameters(), lr=0.1, nesterov=True),
      ValueError, "nesterov"),
    R("sgd-weight-decay", lambda w: mg.optim.SGD(w.model.parameters(), lr=0.1,
                                                  weight_decay=-1), ValueError, "weight_decay"),
    R("adam-beta1", lambda w: mg.optim.Adam(w.model.parameters(), betas=(1.0, 0.9)), ValueError,
      "beta1"),
    R("adam-beta2", lambda w: mg.optim.Adam(w.model.parameters(), betas=(0.9, 1.5)), ValueError,
      "1.5"),
    R("adam-eps", lambda w: mg.optim.Adam(w.model.parameters(), eps=-1e-8), ValueError, "eps"),
    R("adamw-lr", lambda w: mg.optim.AdamW(w.model.parameters(), lr=-1), ValueError, "lr"),
    R("rmsprop-alpha", lambda w: mg.optim.RMSprop(w.model.parameters(), alpha=-0.5),
      ValueError, "alpha"),
    R("adagrad-lr-decay", lambda w: mg.optim.Adagrad(w.model.parameters(), lr_decay=-1),
      ValueError, "lr_decay"),
    R("adadelta-rho", lambda w: mg.optim.Adadelta(w.model.parameters(), rho=1.5), ValueError,
      "rho"),
    R("lion-betas", lambda w: mg.optim.Lion(w.model.parameters(), betas=(1.5, 0.99)),
      ValueError, "beta1"),
    R("optim-empty", lambda w: mg.optim.SGD([], lr=0.1), ValueError, "empty"),
    R("optim-tensor-not-list", lambda w: mg.optim.SGD(w.p, lr=0.1), TypeError, "iterable"),
    R("optim-non-leaf", lambda w: mg.optim.SGD([w.p * 2], lr=0.1), ValueError, "leaf"),
    R("optim-duplicate", lambda w: mg.optim.SGD([w.p, w.p], lr=0.1), ValueError, "appears twice"),
    R("optim-add-group-dup", lambda w: w.opt.add_param_group({"params": [w.p]}), ValueError,
      "already in parameter group 0"),
    R("optim-add-group-bad-lr", lambda w: w.opt.add_param_group({"params": [_P(2)], "lr": -1}),
      ValueError, "lr"),
    R("optim-load-state-groups", lambda w: w.opt.load_state_dict({"state": {}, "param_groups": []}),
      ValueError, "group"),
    R("optim-clipnorm", lambda w: mg.optim.SGD(w.model.parameters(), lr=0.1, clipnorm=-1.0),
      ValueError, "clipnorm"),
    R("clip-grad-value-negative", lambda w: mg.optim.clip_grad_value_(w.model.parameters(),
                                                                      -1.0),
      ValueError, "clip_value"),
    # ------------------------------------------------------------------ schedulers
    R("steplr-step-size", lambda w: sched.StepLR(w.opt, step_size=0), ValueError, "step_size"),
    R("steplr-not-optimizer", lambda w: sched.StepLR("opt", step_size=2), TypeError, "str"),
    R("exponential-gamma", lambda w: sched.ExponentialLR(w.opt, gamma=-0.5), ValueError,
      "gamma"),
    R("cosine-tmax", lambda w: sched.CosineAnnealingLR(w.opt, T_max=0), ValueError, "T_max"),
    R("warm-restarts-t0", lambda w: sched.CosineAnnealingWarmRestarts(w.opt, T_0=0),
      ValueError, "T_0"),
    R("warm-restarts-tmult", lambda w: sched.CosineAnnealingWarmRestarts(w.opt, T_0=2,
                                                                         T_mult=0),
      ValueError, "T_mult"),
    R("linear-start-factor", lambda w: sched.LinearLR(w.opt, start_factor=0.0), ValueError,
      "start_factor"),
    R("constant-factor", lambda w: sched.ConstantLR(w.opt, factor=1.5), ValueError, "factor"),
    R("polynomial-iters", lambda w: sched.PolynomialLR(w.opt, total_iters=-1), ValueError,
      "total_iters"),
    R("onecycle-total", lambda w: sched.OneCycleLR(w.opt, max_lr=0.1), ValueError,
      "total_steps"),
    R("onecycle-pct", lambda w: sched.OneCycleLR(w.opt, max_lr=0.1, total_steps=10,
                                                 pct_start=1.5), ValueError, "pct_start"),
    R("cyclic-mode", lambda w: sched.CyclicLR(w.opt, 0.001, 0.1, mode="sine"), ValueError,
      "sine"),
    R("plateau-mode", lambda w: sched.ReduceLROnPlateau(w.opt, mode="up"), ValueError, "up"),
    R("plateau-factor", lambda w: sched.ReduceLROnPlateau(w.opt, factor=1.0), ValueError,
      "factor"),
    R("plateau-step-none", lambda w: sched.ReduceLROnPlateau(w.opt).step(), TypeError,
      "metric"),
    R("lambda-not-callable", lambda w: sched.LambdaLR(w.opt, lr_lambda=3), TypeError,
      "callable"),
    R("sequential-milestones", lambda w: _sequential_lr(milestones=[1, 2]), ValueError,
      "milestones"),
    # ------------------------------------------------------------------ data
    R("tensordataset-lengths", lambda w: TensorDataset(np.zeros(3), np.zeros(4)), ValueError,
      "3"),
    R("tensordataset-empty", lambda w: TensorDataset(), ValueError, "at least one"),
    R("dataset-index-range", lambda w: w.ds[8], IndexError, "8"),
    R("dataset-index-float", lambda w: w.ds[1.5], TypeError, "1.5"),
    R("subset-index-range", lambda w: Subset(w.ds, [0, 9]), IndexError, "9"),
    R("random-split-sum", lambda w: random_split(w.ds, [3, 3]), ValueError, "8"),
    R("random-split-fractions", lambda w: random_split(w.ds, [0.5, 0.6]), ValueError,
      "add up to 1"),
    R("loader-drop-last-str", lambda w: DataLoader(w.ds, drop_last="yes"), TypeError,
      "drop_last"),
    R("random-sampler-generator", lambda w: RandomSampler(w.ds, generator=3), TypeError,
      "generator"),
    R("random-split-negative", lambda w: random_split(w.ds, [10, -2]), ValueError, "-2"),
    R("loader-batch-zero", lambda w: DataLoader(w.ds, batch_size=0), ValueError, "batch_size"),
    R("loader-batch-float", lambda w: DataLoader(w.ds, batch_size=2.5), ValueError, "2.5"),
    R("loader-shuffle-str", lambda w: DataLoader(w.ds, shuffle="yes"), TypeError, "shuffle"),
    R("loader-not-dataset", lambda w: DataLoader(5), TypeError, "int"),
    R("loader-sampler-and-shuffle", lambda w: DataLoader(w.ds, shuffle=True,
                                                         sampler=SequentialSampler(w.ds)),
      ValueError, "shuffle"),
    R("loader-collate", lambda w: DataLoader(w.ds, collate_fn=3), TypeError, "collate_fn"),
    R("loader-generator", lambda w: DataLoader(w.ds, generator=3), TypeError, "generator"),
    R("loader-batch-sampler-and-size", lambda w: DataLoader(
        w.ds, batch_size=3, batch_sampler=BatchSampler(SequentialSampler(w.ds), 2, False)),
      ValueError, "batch_sampler"),
    R("random-sampler-num-samples", lambda w: RandomSampler(w.ds, num_samples=0), ValueError,
      "num_samples"),
    R("random-sampler-replacement", lambda w: RandomSampler(w.ds, replacement="no"), TypeError,
      "replacement"),
    R("batch-sampler-size", lambda w: BatchSampler(SequentialSampler(w.ds), 0, False),
      ValueError, "batch_size"),
    R("batch-sampler-drop-last", lambda w: BatchSampler(SequentialSampler(w.ds), 2, "no"),
      TypeError, "drop_last"),
    R("subset-random-sampler-str", lambda w: SubsetRandomSampler("abc"), TypeError, "indices"),
    # ------------------------------------------------------------------ fit / evaluate
    R("fit-epochs-zero", lambda w: _fit(w, epochs=0), ValueError, "epochs"),
    R("fit-epochs-float", lambda w: _fit(w, epochs=2.0), ValueError, "epochs"),
    R("fit-nan-policy", lambda w: _fit(w, nan_policy="skip"), ValueError, "nan_policy"),
    R("fit-initial-epoch", lambda w: _fit(w, initial_epoch=5), ValueError, "initial_epoch"),
    R("fit-empty-train", lambda w: _fit(w, train_loader=DataLoader(Subset(w.ds, []))),
      ValueError, "train_loader yields no batches"),
    R("fit-empty-val", lambda w: _fit(w, val_loader=DataLoader(Subset(w.ds, []))),
      ValueError, "val_loader yields no batches"),
    R("fit-bad-metric", lambda w: _fit(w, metrics=("precision",)), ValueError, "precision"),
    R("fit-metric-type", lambda w: _fit(w, metrics=(3,)), TypeError, "metrics"),
    R("fit-callback-type", lambda w: _fit(w, callbacks=[3]), TypeError, "callbacks"),
    R("fit-batch-shape", lambda w: _fit(w, train_loader=[mg.ones(2, 3)]), ValueError,
      "(inputs, targets)"),
    R("evaluate-empty", lambda w: evaluate(w.model, w.loss_fn, []), ValueError,
      "no batches"),
    R("fit-resume-missing", lambda w: _fit(w, resume_from=os.path.join(w.tmp, "none.npz")),
      FileNotFoundError, "none.npz"),
    # ------------------------------------------------------------------ save / load
    R("save-object", lambda w: mg.save({"f": object()}, os.path.join(w.tmp, "o.npz")),
      TypeError, "object"),
    R("save-lambda", lambda w: mg.save([lambda: 0], os.path.join(w.tmp, "o.npz")), TypeError,
      "function"),
    R("save-key-type", lambda w: mg.save({frozenset([1]): 1}, os.path.join(w.tmp, "o.npz")),
      TypeError, "key"),
    R("save-object-array", lambda w: mg.save(np.array([None]), os.path.join(w.tmp, "o.npz")),
      TypeError, "object"),
    R("save-missing-dir", lambda w: mg.save({"a": 1}, os.path.join(w.tmp, "no", "c.npz")),
      FileNotFoundError, "c.npz"),
    R("save-too-deep", lambda w: mg.save(_deep(150), os.path.join(w.tmp, "o.npz")), ValueError,
      "levels deep"),
    R("save-over-checkpoint-bad", lambda w: mg.save({"f": object()}, w.ckpt), TypeError,
      "object"),
    R("load-missing", lambda w: mg.load(os.path.join(w.tmp, "none.npz")), FileNotFoundError,
      "none.npz"),
    R("load-text", lambda w: mg.load(_write(w, "t.txt", b"hello world\n")),
      mg.CheckpointError, "text file"),
    R("load-empty", lambda w: mg.load(_write(w, "e.npz", b"")), mg.CheckpointError, "empty"),
    R("load-junk", lambda w: mg.load(_write(w, "j.npz", b"\x00\x01\x02\x03" * 10)),
      mg.CheckpointError, "zip signature"),
    R("load-npy", lambda w: mg.load(_npy(w)), mg.CheckpointError, ".npy"),
    R("load-truncated", lambda w: mg.load(_truncated(w)), mg.CheckpointError, "truncated"),
    R("load-directory", lambda w: mg.load(w.tmp), IsADirectoryError, "directory"),
    R("load-map-location", lambda w: mg.load(w.ckpt, map_location="tpu"), ValueError, "tpu"),
]


def _backward_twice(w):
    y = (w.w * w.w).sum()
    y.backward()
    w.w.grad = None  # make the world's grad state match again; the error comes next
    y.backward()


def _sequential_lr(**kwargs):
    opt = mg.optim.SGD([_P(2)], lr=0.1)  # its own optimizer: sub-schedulers set lr at creation
    return sched.SequentialLR(opt, [sched.ConstantLR(opt), sched.ConstantLR(opt)], **kwargs)


def _fit(w, **kwargs):
    args = dict(model=w.model, loss_fn=w.loss_fn, optimizer=w.opt, train_loader=w.loader,
                epochs=1, progress=False)
    args.update(kwargs)
    return fit(**args)


def _deep(n):
    node: Any = 1
    for _ in range(n):
        node = [node]
    return node


def _npy(w):
    path = os.path.join(w.tmp, "a.npy")
    np.save(path, np.zeros(3))
    return path


def _truncated(w):
    with open(w.ckpt, "rb") as f:
        data = f.read()
    return _write(w, "cut.npz", data[: len(data) // 2])


def test_the_table_is_large_and_ids_are_unique():
    ids = [r.id for r in ROWS]
    assert len(set(ids)) == len(ids), [i for i in ids if ids.count(i) > 1]
    assert len(ROWS) > 150


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input_raises_and_changes_nothing(row, tmp_path):
    w = World(tmp_path)
    before = w.snapshot()
    with pytest.raises(row.exc) as info:
        row.call(w)
    assert row.phrase in str(info.value), f"{row.id}: {info.type.__name__}: {info.value}"
    after = w.snapshot()
    # files written by the row itself (inputs it crafted) are allowed; nothing else may change
    crafted = set(after["files"]) - set(before["files"])
    assert all(re.fullmatch(r"[\w.]+\.(txt|npz|npy)", f) and not f.startswith(".")
               for f in crafted), crafted
    after["files"] = before["files"]
    _assert_same(before, after)
    if row.extra is not None:
        row.extra(w)
