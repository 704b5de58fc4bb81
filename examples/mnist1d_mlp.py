"""MNIST-1D: the paper's MLP baseline and logistic regression, next to the paper's numbers.

Greydanus & Kobak, "Scaling Down Deep Learning with MNIST-1D", ICML 2024 (arXiv:2011.14439).
The data set (4,000 training and 1,000 test sequences of 40 values, 10 classes) is generated
locally by the ``mnist1d`` package with its default arguments (seed 42) -- nothing is
downloaded. ``pip install 'minigrad-tensor[mnist1d]'`` installs it; without it this script says so
and exits with status 0.

Models, as in the paper's baselines: logistic regression (a single Linear 40-10) and an MLP
40-100-100-10 with ReLU, trained with Adam (lr 1e-2), batch 100, for 6,000 steps (150 epochs).
The paper reports about 32% and 68% test accuracy.

Usage::

    python3 examples/mnist1d_mlp.py                 # ~25 s; writes runs/mnist1d/*.png
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import _common as C
import numpy as np

import minigrad
from minigrad import nn, train

PAPER = {"logistic regression": 0.32, "MLP 40-100-100-10": 0.68}


def make_mnist1d() -> dict[str, np.ndarray] | None:
    """The MNIST-1D arrays from the package's generator, or None if it is not installed."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset  # noqa: PLC0415
    except ImportError:
        return None
    state = np.random.get_state()  # noqa: NPY002 (make_dataset reseeds NumPy's global one)
    try:
        data = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return {"x": data["x"].astype(np.float32), "y": data["y"].astype(np.int64),
            "x_test": data["x_test"].astype(np.float32),
            "y_test": data["y_test"].astype(np.int64)}


def main(argv: Sequence[str] | None = None) -> dict:
    p = C.base_parser(__doc__.splitlines()[0], out_dir=os.path.join("runs", "mnist1d"),
                      epochs=150)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-2)
    args = p.parse_args(argv)
    data = make_mnist1d()
    if data is None:
        print("mnist1d_mlp.py needs the mnist1d package, which is not installed: "
              "pip install 'minigrad-tensor[mnist1d]'  (skipping)")
        return {"skipped": True}
    device = C.setup(args)
    print(f"MNIST-1D: {len(data['y'])} train / {len(data['y_test'])} test sequences of "
          f"{data['x'].shape[1]} values; Adam lr {args.lr:g}, batch {args.batch_size}, "
          f"{args.epochs} epochs")
    test_loader = C.loader((data["x_test"], data["y_test"]), 1000, device)
    models = {"logistic regression": [40, 10], "MLP 40-100-100-10": [40, 100, 100, 10]}

    results, rows = {}, []
    fig, axes = C.figure(ncols=2, size=(5.0, 3.8))
    for label, sizes in models.items():
        minigrad.manual_seed(args.seed)
        model = C.mlp(sizes).to(device)
        loader = C.loader((data["x"], data["y"]), args.batch_size, device, shuffle=True)
        optimizer = C.optimizer_class("Adam")(model.parameters(), lr=args.lr)
        history = train.fit(model, nn.CrossEntropyLoss(), optimizer, loader,
                            epochs=args.epochs, val_loader=test_loader, progress=False)
        acc = history["val_accuracy"][-1]
        results[label] = {"test_accuracy": acc, "train_accuracy": history["accuracy"][-1],
                          "seconds": sum(history["time"])}
        best = max(history["val_accuracy"])
        rows.append([label, history["accuracy"][-1], acc, best, PAPER[label],
                     sum(history["time"])])
        axes[0][0].plot(history.epochs, history["loss"], label=f"{label} train")
        axes[0][0].plot(history.epochs, history["val_loss"], ls="--", label=f"{label} test")
        axes[0][1].plot(history.epochs, history["val_accuracy"], label=label)
        axes[0][1].axhline(PAPER[label], color=axes[0][1].lines[-1].get_color(), ls=":",
                           lw=1)
    print(C.table(rows, ["model", "train accuracy", "test accuracy", "best epoch's test acc.",
                         "paper (test)", "time (s)"]))
    print("(the best epoch's test accuracy peeks at the test set; it is shown only because the "
          "MLP overfits after ~40 epochs and the paper's figure is read off such curves)")
    axes[0][0].set_title("loss")
    axes[0][1].set_title("test accuracy (dotted: the paper)")
    for ax in axes[0]:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure = C.savefig(fig, args.out_dir, "mnist1d.png")
    return {"results": results, "figure": figure, "skipped": False}


if __name__ == "__main__":
    main()
