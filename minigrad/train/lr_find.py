"""The learning-rate range test: :func:`lr_find`.

Train for a few batches while the learning rate grows from ``start_lr`` to ``end_lr``
(geometrically or linearly), record the smoothed loss, and stop once it blows up. The loss
against the learning rate falls, flattens and shoots up; a good rate lies on the steep part of
the fall, about ten times below the rate at the minimum (Smith 2015; fastai's ``lr_find``).
Everything the test changes is put back afterwards: the model's parameters, buffers, gradients
and train/eval flags, the optimizer's state and learning rates, the loader's state and the
framework's random generator are bit for bit as before.

    result = lr_find(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                     train_loader)
    result.plot("lr_find.png")
    optimizer.param_groups[0]["lr"] = result.lr_steep

References:
    L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017
    (arXiv:1506.01186, 2015), section 3.3.
    fastai's ``Learner.lr_find``; D. Kostadinov's ``torch-lr-finder`` (the smoothing and the
    divergence rule used here).
"""

from __future__ import annotations

import copy
import math
import numbers
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from .. import backend
from ..tensor import Tensor
from .fit import _split_batch

STEP_MODES = ("exp", "linear")


@dataclass
class LRFinderResult:
    """What :func:`lr_find` measured.

    Attributes:
        lrs: the learning rate of each recorded batch.
        losses: the smoothed training loss after each of those batches.
        raw_losses: the unsmoothed losses.
        lr_steep: the rate where the smoothed loss falls fastest against log(lr), before its
            minimum.
        lr_min: the rate at the smoothed loss's minimum divided by 10.
        diverged: whether the test stopped early because the loss blew up.
    """

    lrs: list[float]
    losses: list[float]
    raw_losses: list[float] = field(default_factory=list)
    lr_steep: float = math.nan
    lr_min: float = math.nan
    diverged: bool = False

    @property
    def suggestions(self) -> dict[str, float]:
        return {"steepest": self.lr_steep, "minimum/10": self.lr_min}

    def plot(self, path: str | os.PathLike | None = None, skip_start: int = 0,
             skip_end: int = 0, ax=None):
        """The smoothed loss against the learning rate (log axis), with the suggestions.

        Args:
            path: save the figure there (Agg backend, pyplot untouched); when None and no
                ``ax``, the figure is made with pyplot.
            skip_start, skip_end: points left out at either end (the first batches are noisy).
            ax: a matplotlib Axes to draw into instead of a new figure.

        Returns:
            The matplotlib Figure.
        """
        fig, ax = _figure(ax, path)
        end = len(self.lrs) - skip_end
        ax.plot(self.lrs[skip_start:end], self.losses[skip_start:end], color="C0",
                label="smoothed loss")
        for lr, name, color in ((self.lr_steep, "steepest", "C1"),
                                (self.lr_min, "minimum/10", "C2")):
            if math.isfinite(lr):
                ax.axvline(lr, color=color, ls="--", lw=1, label=f"{name}: {lr:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title("learning-rate range test")
        ax.grid(alpha=0.3)
        ax.legend()
        if path is not None:
            fig.tight_layout()
            fig.savefig(os.fspath(path), dpi=100)
        return fig


def _figure(ax, path):
    if ax is not None:
        return ax.figure, ax
    try:
        import matplotlib  # noqa: F401, PLC0415  (optional dependency)
    except ImportError as err:
        raise ImportError("LRFinderResult.plot needs matplotlib: "
                          "pip install 'minigrad-tensor[examples]'") from err
    if path is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415

        fig = Figure(figsize=(5.5, 3.8))
        FigureCanvasAgg(fig)
    else:
        import matplotlib.pyplot as plt  # noqa: PLC0415

        fig = plt.figure(figsize=(5.5, 3.8))
    return fig, fig.add_subplot(1, 1, 1)


def lr_schedule(start_lr: float, end_lr: float, num_iter: int, step_mode: str) -> np.ndarray:
    """The rates tried: ``start * (end / start) ** (i / (n - 1))`` ('exp') or
    ``start + (end - start) * i / (n - 1)`` ('linear'), i = 0 .. n - 1."""
    frac = np.arange(num_iter) / (num_iter - 1)
    if step_mode == "exp":
        return start_lr * (end_lr / start_lr) ** frac
    return start_lr + (end_lr - start_lr) * frac


def _check(start_lr, end_lr, num_iter, step_mode, smooth, diverge_th) -> None:
    for name, v in (("start_lr", start_lr), ("end_lr", end_lr)):
        if not isinstance(v, numbers.Real) or not v > 0 or not math.isfinite(v):
            raise ValueError(f"lr_find: {name} must be a finite positive number, got {v!r}")
    if not end_lr > start_lr:
        raise ValueError(f"lr_find: end_lr must exceed start_lr, got start_lr={start_lr!r}, "
                         f"end_lr={end_lr!r}")
    if not isinstance(num_iter, numbers.Integral) or isinstance(num_iter, bool) or num_iter < 2:
        raise ValueError(f"lr_find: num_iter must be an integer >= 2, got {num_iter!r}")
    if step_mode not in STEP_MODES:
        raise ValueError(f"lr_find: step_mode must be one of {STEP_MODES}, got {step_mode!r}")
    if not isinstance(smooth, numbers.Real) or not 0 <= smooth < 1:
        raise ValueError(f"lr_find: smooth must be in [0, 1) (0: no smoothing), got {smooth!r}")
    if not isinstance(diverge_th, numbers.Real) or not diverge_th > 1:
        raise ValueError(f"lr_find: diverge_th must be a number > 1, got {diverge_th!r}")


def lr_find(model, loss_fn: Callable, optimizer, loader: Iterable, start_lr: float = 1e-7,
            end_lr: float = 10, num_iter: int = 100, step_mode: str = "exp",
            smooth: float = 0.05, diverge_th: float = 5) -> LRFinderResult:
    """The learning-rate range test: one training step per rate, rates growing every batch.

    Batch i trains at rate ``lr_i`` (see :func:`lr_schedule`; every parameter group gets it),
    and the smoothed loss ``s_i = smooth * loss_i + (1 - smooth) * s_{i-1}`` (``s_0 =
    loss_0``) is recorded. The test stops when ``s_i > diverge_th * min(s)`` or the loss is
    not finite, or after ``num_iter`` batches (the loader is restarted if it runs out).
    The model, optimizer, loader and random generator are restored afterwards, also when an
    error interrupts the test.

    Args:
        model: a Module (trained in train mode during the test).
        loss_fn: ``loss_fn(outputs, targets)`` -> a scalar Tensor.
        optimizer: a :class:`minigrad.optim.Optimizer` over the model's parameters.
        loader: batches ``(*inputs, targets)``, as for :func:`minigrad.train.fit`.
        start_lr, end_lr: the first and last rates.
        num_iter: the number of rates (batches) at most.
        step_mode: 'exp' (geometric, the usual choice) or 'linear'.
        smooth: weight of the newest loss in the exponential moving average (0: raw losses).
        diverge_th: stop once the smoothed loss exceeds this multiple of its minimum.

    Returns:
        An :class:`LRFinderResult` with ``lrs``, ``losses``, ``lr_steep``, ``lr_min`` and
        ``plot()``.
    """
    _check(start_lr, end_lr, num_iter, step_mode, smooth, diverge_th)
    rates = lr_schedule(float(start_lr), float(end_lr), int(num_iter), step_mode)
    snapshot = _Snapshot(model, optimizer, loader)
    try:
        model.train()
        lrs, losses, raw, diverged = _run(model, loss_fn, optimizer, loader, rates, smooth,
                                          diverge_th)
    finally:
        snapshot.restore()
    lr_steep, lr_min = suggest(lrs, losses)
    return LRFinderResult(lrs, losses, raw, lr_steep, lr_min, diverged)


def _run(model, loss_fn, optimizer, loader, rates, smooth, diverge_th):
    lrs: list[float] = []
    losses: list[float] = []
    raw: list[float] = []
    best = math.inf
    batches = iter(loader)
    for lr in rates:
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(loader)
            batch = next(batches, None)
            if batch is None:
                raise ValueError("lr_find: the loader yields no batches") from None
        inputs, targets = _split_batch(batch)
        for group in optimizer.param_groups:
            group["lr"] = float(lr)
        optimizer.zero_grad()
        loss = loss_fn(model(*inputs), targets)
        value = loss.item()
        if not math.isfinite(value):
            return lrs, losses, raw, True
        loss.backward()
        optimizer.step()
        s = value if not losses or smooth == 0 else smooth * value + (1 - smooth) * losses[-1]
        lrs.append(float(lr))
        raw.append(value)
        losses.append(s)
        best = min(best, s)
        if s > diverge_th * best:
            return lrs, losses, raw, True
    return lrs, losses, raw, False


def suggest(lrs, losses) -> tuple[float, float]:
    """(steepest, minimum/10): the rate where the loss falls fastest against log(lr) on the
    way down to its minimum, and the rate at the minimum divided by 10 (nan when there are
    too few points)."""
    if len(losses) < 2:
        return math.nan, math.nan
    losses = np.asarray(losses, dtype=np.float64)
    i_min = int(np.argmin(losses))
    lr_min = lrs[i_min] / 10
    if i_min == 0:
        return math.nan, float(lr_min)
    slope = np.gradient(losses, np.log(np.asarray(lrs, dtype=np.float64)))
    return float(lrs[int(np.argmin(slope[: i_min + 1]))]), float(lr_min)


class _Snapshot:
    """Everything lr_find changes, copied so it can be put back bit for bit."""

    def __init__(self, model, optimizer, loader):
        self.model, self.optimizer, self.loader = model, optimizer, loader
        params = [p for g in optimizer.param_groups for p in g["params"]]
        tensors = {id(t): t for t in (*model.parameters(), *model.buffers(), *params)}
        self.tensors = [(t, t.array.copy(), None if t.grad is None else t.grad.array.copy())
                        for t in tensors.values()]
        self.training = [(m, m.training) for m in model.modules()]
        # copy the optimizer's values, not its parameters (nor itself, should a bound method
        # of it be stored as an attribute)
        memo = {id(p): p for p in params}
        memo[id(optimizer)] = optimizer
        self.optimizer_vars = copy.deepcopy(vars(optimizer), memo)
        self.rng = backend.get_rng_state()
        has_state = callable(getattr(loader, "state_dict", None))
        self.loader_state = copy.deepcopy(loader.state_dict()) if has_state else None

    def restore(self) -> None:
        for t, value, grad in self.tensors:
            t.array[...] = value
            if grad is None:
                t.grad = None
            elif t.grad is not None and not t.grad.requires_grad and t.grad.shape == grad.shape:
                t.grad.array[...] = grad
            else:
                t.grad = Tensor._wrap(grad.copy())
        for m, mode in self.training:
            m.__dict__["training"] = mode
        saved = copy.copy(self.optimizer_vars)
        live = vars(self.optimizer)
        for group, old in zip(live["param_groups"], saved.pop("param_groups")):
            group.clear()  # in place: schedulers hold these dicts
            group.update(old)
        state = saved.pop("state", None)
        if isinstance(live.get("state"), dict) and state is not None:
            live["state"].clear()
            live["state"].update(state)
        elif state is not None:
            live["state"] = state
        for k in set(live) - set(saved) - {"param_groups", "state"}:
            del live[k]  # attributes the test created
        live.update(saved)
        backend.set_rng_state(self.rng)
        if self.loader_state is not None:
            self.loader.load_state_dict(self.loader_state)
