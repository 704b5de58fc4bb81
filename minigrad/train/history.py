"""History: what :func:`minigrad.train.fit` measured, one entry per epoch."""

from __future__ import annotations

import math
import os

_EXTRA_HINT = "pip install 'minigrad-tensor[examples]'"


class History:
    """Per-epoch records of a training run.

    ``history["loss"]``, ``history["val_loss"]``, ``history["accuracy"]``,
    ``history["val_accuracy"]``, ``history["lr"]`` and ``history["time"]`` (seconds per epoch)
    are lists with one value per epoch; ``history.epochs`` lists the epoch numbers (1-based).
    ``stopped_early`` / ``stop_reason`` say why training ended before ``epochs``.
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epochs: list[int] = []
        self.stopped_early = False
        self.stop_reason: str | None = None

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        """Record one epoch's values (a key first seen later is padded with nan before)."""
        n = len(self.epochs)
        for key, value in logs.items():
            col = self.history.setdefault(key, [math.nan] * n)
            col.append(float(value))
        for key, col in self.history.items():
            if key not in logs:
                col.append(math.nan)
        self.epochs.append(int(epoch))

    def set_last(self, logs: dict[str, float]) -> None:
        """Add values to the latest epoch's record (callbacks that measure during the epoch,
        such as :class:`~minigrad.train.Diagnostics`); a new key is nan for earlier epochs."""
        if not self.epochs:
            raise ValueError("History.set_last: no epoch recorded yet")
        n = len(self.epochs)
        for key, value in logs.items():
            col = self.history.setdefault(key, [math.nan] * n)
            col[-1] = float(value)

    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(
                f"History has no {key!r}; it has {sorted(self.history)}"
            ) from None

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epochs)

    def keys(self):
        return self.history.keys()

    def best(self, key: str, mode: str = "min") -> tuple[int, float]:
        """(epoch, value) of the best ``key`` under ``mode`` ('min' or 'max'), nan ignored."""
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        pairs = [(e, v) for e, v in zip(self.epochs, self[key]) if not math.isnan(v)]
        if not pairs:
            raise ValueError(f"History has no finite {key!r} values")
        pick = min if mode == "min" else max
        return pick(pairs, key=lambda p: p[1])

    def state_dict(self) -> dict:
        return {"history": {k: list(v) for k, v in self.history.items()},
                "epochs": list(self.epochs), "stopped_early": self.stopped_early,
                "stop_reason": self.stop_reason}

    def load_state_dict(self, state: dict) -> None:
        try:
            history = {str(k): [float(x) for x in v] for k, v in state["history"].items()}
            epochs = [int(e) for e in state["epochs"]]
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"not a History state dict: {err!r}") from err
        self.history, self.epochs = history, epochs
        self.stopped_early = bool(state.get("stopped_early", False))
        self.stop_reason = state.get("stop_reason")

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items()} if self.epochs else {}
        return f"History(epochs={len(self.epochs)}, last={last})"

    def plot(self, path: str | os.PathLike | None = None):
        """Draw the loss, each metric and the learning rate against the epoch.

        One panel per quantity (train and validation curves together; the lr on a log axis).
        Needs matplotlib (``pip install 'minigrad-tensor[examples]'``).

        Args:
            path: save the figure there (a PNG for ``.png``) with the Agg backend, without
                touching pyplot's global state; when None, the figure is made with pyplot
                so ``plt.show()`` displays it.

        Returns:
            The matplotlib Figure.
        """
        try:
            import matplotlib  # noqa: F401, PLC0415  (optional dependency)
        except ImportError as err:
            raise ImportError(
                f"History.plot needs matplotlib, which is not installed: {_EXTRA_HINT}"
            ) from err
        if not self.epochs:
            raise ValueError("History.plot: nothing to plot, no epoch was recorded")
        panels = ["loss"] + [k for k in self.history  # diag/ columns: Diagnostics.plot
                             if not k.startswith(("val_", "diag/"))
                             and k not in ("loss", "lr", "time")]
        if "lr" in self.history:
            panels.append("lr")
        if path is not None:
            from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
            from matplotlib.figure import Figure  # noqa: PLC0415

            fig = Figure(figsize=(4.2 * len(panels), 3.4))
            FigureCanvasAgg(fig)
        else:
            import matplotlib.pyplot as plt  # noqa: PLC0415

            fig = plt.figure(figsize=(4.2 * len(panels), 3.4))
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, key in zip(axes, panels):
            if key in self.history:
                ax.plot(self.epochs, self.history[key], marker="o", ms=3, label=f"train {key}"
                        if key != "lr" else "lr")
            if f"val_{key}" in self.history:
                ax.plot(self.epochs, self.history[f"val_{key}"], marker="o", ms=3,
                        label=f"val {key}")
            if key == "lr" and all(v > 0 for v in self.history["lr"]):
                ax.set_yscale("log")
            ax.set_xlabel("epoch")
            ax.set_title(key)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        if path is not None:
            fig.savefig(os.fspath(path), dpi=100)
        return fig
