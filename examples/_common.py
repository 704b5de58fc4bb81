"""Shared pieces of the examples: arguments, the digits data, the MLP, optimizer and scheduler
look-up by name, plotting and tables.

Every example imports this module, so none of them copies a training loop: they build a model,
an optimizer and loaders here and hand them to :func:`minigrad.train.fit`.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import sys
import time
from collections.abc import Sequence

# run from a checkout without installing: put the repository root on the path
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # scripts only write PNGs; never open a window

import numpy as np  # noqa: E402

import minigrad  # noqa: E402
from minigrad import nn, optim  # noqa: E402
from minigrad.data import DataLoader, TensorDataset  # noqa: E402
from minigrad.optim import lr_scheduler  # noqa: E402

# --------------------------------------------------------------------------- look-up by name


def optimizer_classes() -> dict[str, type]:
    """Every optimizer class of minigrad.optim, by class name (AMSGrad included, aliases such
    as ``diffGrad`` once)."""
    found: dict[str, type] = {}
    for obj in vars(optim).values():
        if (inspect.isclass(obj) and issubclass(obj, optim.Optimizer)
                and obj is not optim.Optimizer):
            found[obj.__name__] = obj
    return dict(sorted(found.items(), key=lambda kv: kv[0].lower()))


def optimizer_class(name: str) -> type:
    """The optimizer class called ``name`` (case-insensitive), e.g. 'adam' -> Adam."""
    classes = optimizer_classes()
    by_lower = {k.lower(): v for k, v in classes.items()}
    try:
        return by_lower[name.lower()]
    except KeyError:
        raise SystemExit(f"unknown optimizer {name!r}: expected one of "
                         f"{', '.join(classes)}") from None


# --------------------------------------------------------------------------- arguments


def base_parser(description: str, out_dir: str, epochs: int | None = None,
                seed: int = 0) -> argparse.ArgumentParser:
    """The flags every example shares: --device, --out-dir, --seed (and --epochs)."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default="cpu", help="'cpu' or 'cuda' (CuPy)")
    p.add_argument("--out-dir", default=out_dir, help="where the PNGs (and files) go")
    p.add_argument("--seed", type=int, default=seed, help="minigrad.manual_seed")
    if epochs is not None:
        p.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    return p


def setup(args: argparse.Namespace) -> str:
    """Seed, check the device and create the output folder; returns the device string."""
    device = str(minigrad.device(args.device))
    if device.startswith("cuda") and not minigrad.cuda_is_available():
        raise SystemExit(f"--device {args.device}: CUDA is not available (install minigrad with "
                         "the cuda12 or cuda13 extra on a machine with an NVIDIA GPU)")
    minigrad.manual_seed(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    return device


# --------------------------------------------------------------------------- data


def digits_splits(seed: int = 0, test_size: float = 0.2,
                  val_size: float = 0.0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's bundled handwritten digits (1,797 8x8 images; no download).

    A stratified ``test_size`` test split, then (if ``val_size`` > 0) a stratified validation
    split of that fraction of the training part. Features are standardised with the mean and
    standard deviation of the training part only (no test information leaks into training).

    Returns:
        ``{"train": (x, y), "val": (x, y), "test": (x, y)}`` as float32 / int64 NumPy arrays
        (no "val" when ``val_size == 0``).
    """
    from sklearn.datasets import load_digits  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, stratify=y, random_state=seed)
    splits = {}
    if val_size > 0:
        x_train, x_val, y_train, y_val = train_test_split(
            x_train, y_train, test_size=val_size, stratify=y_train, random_state=seed)
        splits["val"] = (x_val, y_val)
    splits["train"] = (x_train, y_train)
    splits["test"] = (x_test, y_test)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0  # the always-blank corner pixels
    return {k: (((xs - mean) / std).astype(np.float32), ys.astype(np.int64))
            for k, (xs, ys) in splits.items()}


def loader(split: tuple[np.ndarray, np.ndarray], batch_size: int, device: str,
           shuffle: bool = False) -> DataLoader:
    """A DataLoader over ``(x, y)`` whose dataset lives on ``device`` (no per-batch copies)."""
    x, y = split
    return DataLoader(TensorDataset(x, y, device=device), batch_size=min(batch_size, len(y)),
                      shuffle=shuffle)


def mlp(sizes: Sequence[int], batchnorm: bool = False, dropout: float = 0.0) -> nn.Sequential:
    """Linear -> [BatchNorm1d] -> ReLU -> [Dropout] per hidden layer, then a Linear head."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        layers.append(nn.Linear(n_in, n_out))
        if batchnorm:
            layers.append(nn.BatchNorm1d(n_out))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- schedulers

SCHEDULERS = ("none", "onecycle", "cosine", "step", "exponential", "plateau", "cyclic",
              "warmup_cosine")


def make_scheduler(name: str, optimizer, epochs: int, steps_per_epoch: int, lr: float):
    """A scheduler by short name (see :data:`SCHEDULERS`), set up for ``epochs`` epochs.

    OneCycleLR and CyclicLR are stepped per batch by fit, the others per epoch
    (ReduceLROnPlateau on the validation loss).
    """
    name = name.lower()
    S = lr_scheduler  # noqa: N806
    # cycling momentum (or Adam's beta1) needs an optimizer that has one (not Adagrad, FTRL)
    group = optimizer.param_groups[0]
    cycle = "momentum" in group or "betas" in group
    if name == "none":
        return None
    if name == "onecycle":
        return S.OneCycleLR(optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch,
                            cycle_momentum=cycle)
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=lr * 1e-2)
    if name == "step":
        return S.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.3)
    if name == "exponential":
        return S.ExponentialLR(optimizer, gamma=0.01 ** (1 / max(1, epochs)))
    if name == "plateau":
        return S.ReduceLROnPlateau(optimizer, mode="min", factor=0.3, patience=3)
    if name == "cyclic":
        return S.CyclicLR(optimizer, base_lr=lr / 10, max_lr=lr,
                          step_size_up=max(1, 2 * steps_per_epoch), cycle_momentum=cycle)
    if name == "warmup_cosine":              # 10% linear warm-up, then a cosine to lr / 100
        warmup = max(1, epochs // 10)
        cosine = S.CosineAnnealingLR(optimizer, T_max=max(1, epochs - warmup), eta_min=lr * 1e-2)
        return S.WarmupLR(cosine, warmup_steps=warmup)
    raise SystemExit(f"unknown scheduler {name!r}: expected one of {', '.join(SCHEDULERS)}")


# --------------------------------------------------------------------------- output


def table(rows: Sequence[Sequence], headers: Sequence[str]) -> str:
    """A plain-text table (numbers formatted with 4 significant digits)."""
    def fmt(v):
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.4g}"
        return str(v)

    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths)))
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (5.0, 4.0)):
    """A matplotlib Figure and its axes grid (Agg canvas; nothing global is touched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def savefig(fig, out_dir: str, name: str) -> str:
    """Save ``fig`` as ``out_dir/name`` and print where it went."""
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"saved {path}")
    return path


def save_animation(fig, update, frames: int, out_dir: str, name: str, fps: int = 12) -> str:
    """Write an animated GIF: ``update(i)`` redraws frame i of ``frames`` on ``fig``
    (matplotlib's FuncAnimation with the Pillow writer); prints where it went."""
    from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: PLC0415

    path = os.path.join(out_dir, name)
    fig.tight_layout()
    anim = FuncAnimation(fig, update, frames=frames, blit=False)
    anim.save(path, writer=PillowWriter(fps=fps), dpi=80)
    print(f"saved {path}")
    return path


class Timer:
    """``with Timer() as t: ...``; then ``t.seconds``."""

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t0

