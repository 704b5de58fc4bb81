"""Training diagnostics: a :func:`fit` callback that measures, per layer, what training does.

Every ``every`` steps (by default on the first batch of each epoch) it records

- per parameter (``'0.weight'``, ...): the gradient norm ``||g||``, the parameter norm
  ``||p||`` and the update-to-parameter ratio ``||p_after - p_before|| / ||p_before||``: the
  update the optimizer actually applied (``||lr * update||`` for SGD, Adam's scaled step
  for Adam), as a fraction of the weights. About 1e-3 is healthy; far below, the layer
  barely learns; far above, it is being thrown around (Karpathy, "makemore" part 3);
- per module output (``'1'`` for ``model[1]``, ...): the activations' mean and standard
  deviation, for ReLU modules the fraction of dead units (a unit, i.e. a feature along axis 1,
  that is zero for every sample of the batch), and for Tanh and Sigmoid modules the fraction
  of saturated outputs (``|tanh| > saturation``, ``sigmoid`` within ``1 - saturation`` of 0
  or 1), where the gradient vanishes.

Values go into the :class:`History` (keys ``'diag/<name>/<stat>'``, one value per epoch: the
epoch's last measurement) and, one per measurement, into :attr:`Diagnostics.records`.
:meth:`Diagnostics.plot` draws them all in one grid of small plots.

Cost: nothing when not used (fit has no diagnostics code). When used, the batches it does not
measure pay one Python call; a measured batch pays a copy of the parameters before the step
and a forward wrapper on each module (instance attributes, removed right after).

References:
    X. Glorot, Y. Bengio, "Understanding the difficulty of training deep feedforward neural
    networks", AISTATS 2010 (activation and gradient statistics per layer).
    A. Karpathy, "Building makemore part 3: activations & gradients, BatchNorm", 2022 (the
    update-to-data ratio, saturated tanh).
"""

from __future__ import annotations

import math
import numbers
import os

from ..backend import get_array_module
from ..tensor import Tensor
from .callbacks import Callback, TrainState

STATS_PARAM = ("grad_norm", "param_norm", "update_ratio")
STATS_ACT = ("act_mean", "act_std", "dead_frac", "saturated_frac")
_RELU = ("ReLU",)
_SQUASH = {"Tanh": "tanh", "Sigmoid": "sigmoid"}


class Diagnostics(Callback):
    """Per-layer gradient, weight, update and activation statistics during :func:`fit`.

    Args:
        every: measure every ``every`` optimizer steps (counted over the whole run, from the
            first); None (the default) measures the first batch of each epoch.
        activations: also record module outputs (mean, std, dead ReLUs, saturation).
        saturation: the threshold of a saturated tanh (``|y| > saturation``) or sigmoid
            (``|2 y - 1| > saturation``).

    Attributes:
        records: ``{'step': [...], 'epoch': [...], 'diag/<name>/<stat>': [...]}``, one entry per
            measurement (nan where a statistic was not measured that time).
    """

    def __init__(self, every: int | None = None, activations: bool = True,
                 saturation: float = 0.99):
        if every is not None and (not isinstance(every, numbers.Integral)
                                  or isinstance(every, bool) or every < 1):
            raise ValueError(f"Diagnostics: every must be a positive integer or None, got "
                             f"{every!r}")
        if not isinstance(saturation, numbers.Real) or not 0 < saturation < 1:
            raise ValueError(f"Diagnostics: saturation must be in (0, 1), got {saturation!r}")
        self.every, self.activations, self.saturation = every, activations, float(saturation)
        self.records: dict[str, list[float]] = {"step": [], "epoch": []}
        self._step = 0
        self._armed = False
        self._before: list = []
        self._acts: dict[str, dict[str, float]] = {}
        self._wrapped: list = []
        self._epoch_values: dict[str, float] = {}

    # ----------------------------------------------------------------- fit's hooks
    def on_train_begin(self, state: TrainState) -> None:
        self._params = _named_parameters(state.model, state.optimizer)
        if self.every is not None:
            self._arm(state)  # step 0 is measured

    def on_epoch_begin(self, state: TrainState) -> None:
        self._epoch_values = {}
        if self.every is None:
            self._arm(state)

    def on_batch_end(self, state: TrainState, batch: int, loss: float) -> None:
        if self._armed:
            self._measure(state)
        self._step += 1
        if self.every is not None and self._step % self.every == 0:
            self._arm(state)

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        if self._epoch_values:
            state.history.set_last(self._epoch_values)

    def on_train_end(self, state: TrainState) -> None:
        self._disarm()

    # ----------------------------------------------------------------- measuring
    def _arm(self, state: TrainState) -> None:
        """Copy the parameters (the update is measured against them) and wrap the modules'
        forward so the next batch's outputs are measured."""
        if self._armed:
            return
        self._armed = True
        self._before = [p.array.copy() for _, p in self._params]
        if self.activations:
            self._acts = {}
            for name, mod in state.model.named_modules():
                if "forward" in mod.__dict__ or next(mod.children(), None) is not None:
                    continue  # containers repeat their last child's output
                mod.__dict__["forward"] = self._recording(mod, name)
                self._wrapped.append(mod)

    def _disarm(self) -> None:
        for mod in self._wrapped:
            mod.__dict__.pop("forward", None)
        self._wrapped = []
        self._armed = False

    def _recording(self, mod, name: str):
        forward = type(mod).forward.__get__(mod)
        kind = type(mod).__name__

        def recorded(*args, **kwargs):
            if not self._armed:  # left behind by an interrupted fit: step aside
                mod.__dict__.pop("forward", None)
                return forward(*args, **kwargs)
            out = forward(*args, **kwargs)
            if isinstance(out, Tensor) and name not in self._acts:
                self._acts[name] = activation_stats(out.array, kind, self.saturation)
            return out

        return recorded

    def _measure(self, state: TrainState) -> None:
        self._disarm()
        values: dict[str, float] = {}
        for (name, p), before in zip(self._params, self._before):
            for stat, v in parameter_stats(p.array, before, p.grad).items():
                values[f"diag/{name}/{stat}"] = v
        for name, stats in self._acts.items():
            for stat, v in stats.items():
                values[f"diag/{name}/{stat}"] = v
        self._before, self._acts = [], {}
        n = len(self.records["step"])
        for key, v in values.items():
            self.records.setdefault(key, [math.nan] * n).append(v)
        for key, col in self.records.items():
            if key not in values and key not in ("step", "epoch"):
                col.append(math.nan)
        self.records["step"].append(self._step)
        self.records["epoch"].append(state.epoch)
        self._epoch_values.update(values)

    # ----------------------------------------------------------------- plotting
    def plot(self, path: str | os.PathLike | None = None, stats=None, x: str = "step",
             biases: bool = False):
        """All measurements in one grid of small plots (see :func:`plot_diagnostics`).

        Returns:
            The matplotlib Figure.
        """
        return plot_diagnostics(self.records, path, stats, x, biases)


def _named_parameters(model, optimizer) -> list[tuple[str, Tensor]]:
    """The optimizer's parameters, named after the model's ``named_parameters``."""
    names = {id(p): n for n, p in model.named_parameters()}
    out = []
    for i, group in enumerate(optimizer.param_groups):
        for j, p in enumerate(group["params"]):
            out.append((names.get(id(p), f"group{i}.param{j}"), p))
    return out


def parameter_stats(after, before, grad) -> dict[str, float]:
    """``grad_norm`` = ||g||, ``param_norm`` = ||p_before||, ``update_ratio`` =
    ||p_after - p_before|| / ||p_before|| (Frobenius norms, computed in float64)."""
    xp = get_array_module(after)
    p_norm = float(xp.linalg.norm(before.astype(xp.float64).ravel()))
    step = float(xp.linalg.norm((after.astype(xp.float64) - before).ravel()))
    g = math.nan if grad is None else float(xp.linalg.norm(grad.array.astype(xp.float64).ravel()))
    return {"grad_norm": g, "param_norm": p_norm,
            "update_ratio": step / p_norm if p_norm > 0 else math.nan}


def activation_stats(y, kind: str, saturation: float) -> dict[str, float]:
    """Mean and std of a module's output; the dead fraction for ReLU (units along axis 1 that
    are zero for every sample), the saturated fraction for Tanh and Sigmoid."""
    xp = get_array_module(y)
    y64 = y.astype(xp.float64)
    stats = {"act_mean": float(y64.mean()), "act_std": float(y64.std())}
    if kind in _RELU and y.ndim >= 1:
        axes = tuple(i for i in range(y.ndim) if i != (1 if y.ndim >= 2 else 0))
        alive = (y > 0).any(axis=axes) if axes else y > 0
        stats["dead_frac"] = 1.0 - float(alive.mean())
    elif kind in _SQUASH:
        centred = y64 if _SQUASH[kind] == "tanh" else 2 * y64 - 1
        stats["saturated_frac"] = float((xp.abs(centred) > saturation).mean())
    return stats


def plot_diagnostics(records: dict[str, list[float]], path=None, stats=None, x: str = "step",
                     biases: bool = False):
    """A grid of small plots of :attr:`Diagnostics.records`: one panel per statistic, one line
    per layer, coloured from dark (first layer) to light (last); norms and ratios on log axes,
    the update ratio with the 1e-3 guide.

    Args:
        records: ``Diagnostics.records`` (or ``History.history`` with ``x='epoch'``, whose
            epoch numbers are then taken as 1, 2, ...).
        path: save there (Agg, pyplot untouched); None makes the figure with pyplot.
        stats: which statistics (default: every one recorded).
        x: 'step' or 'epoch' on the horizontal axis.
        biases: also draw the parameters whose name ends in 'bias' (off: they crowd the plot).
    """
    if x not in ("step", "epoch"):
        raise ValueError(f"plot_diagnostics: x must be 'step' or 'epoch', got {x!r}")
    by_stat: dict[str, dict[str, list[float]]] = {}
    for key, col in records.items():
        if key.startswith("diag/"):
            name, stat = key[5:].rsplit("/", 1)
            if biases or not (stat in STATS_PARAM and name.endswith("bias")):
                by_stat.setdefault(stat, {})[name] = col
    order = [s for s in (*STATS_PARAM, *STATS_ACT) if s in by_stat]
    stats = order if stats is None else list(stats)
    missing = [s for s in stats if s not in by_stat]
    if missing or not stats:
        raise ValueError(f"plot_diagnostics: nothing recorded for {missing or 'any statistic'}; "
                         f"recorded: {order}")
    fig = _figure(len(stats), path)
    cols = min(3, len(stats))
    axes = fig.subplots(math.ceil(len(stats) / cols), cols, squeeze=False).ravel()
    n = len(next(v for k, v in records.items() if k.startswith("diag/")))
    xs = records[x] if x in records else list(range(1, n + 1))
    cmap = _viridis()
    for ax, stat in zip(axes, stats):
        series = by_stat[stat]
        for i, (name, col) in enumerate(series.items()):
            color = cmap(0.9 * i / max(1, len(series) - 1))
            ax.plot(xs, col, marker="o", ms=2, lw=1, color=color, label=name)
        if stat in STATS_PARAM and all(v > 0 for c in series.values() for v in c
                                       if not math.isnan(v)):
            ax.set_yscale("log")
        if stat == "update_ratio":
            ax.axhline(1e-3, color="gray", ls="--", lw=0.8)
        names = list(series)
        ax.set_title(stat if len(names) <= 6 else f"{stat} ({names[0]} dark ... {names[-1]} "
                     "light)", fontsize=8)
        ax.set_xlabel(x, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if len(names) <= 6:
            ax.legend(fontsize=6)
    for ax in axes[len(stats):]:
        ax.set_visible(False)
    fig.tight_layout()
    if path is not None:
        fig.savefig(os.fspath(path), dpi=100)
    return fig


def _viridis():
    import matplotlib  # noqa: PLC0415

    return matplotlib.colormaps["viridis"]


def _figure(n: int, path):
    try:
        import matplotlib  # noqa: F401, PLC0415  (optional dependency)
    except ImportError as err:
        raise ImportError("plotting diagnostics needs matplotlib: "
                          "pip install 'minigrad-tensor[examples]'") from err
    cols = min(3, n)
    size = (3.6 * cols, 2.7 * math.ceil(n / cols))
    if path is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415

        fig = Figure(figsize=size)
        FigureCanvasAgg(fig)
        return fig
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt.figure(figsize=size)


__all__ = ["Diagnostics", "activation_stats", "parameter_stats", "plot_diagnostics"]
