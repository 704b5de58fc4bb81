"""Learning rate and batch size: the same model trained with plain SGD at different settings.

Model: an MLP 64-64-10 (ReLU) on scikit-learn's digits (stratified 80/20 split, standardised),
always from the same initial weights.

* Learning rates 0.5, 0.05 and 0.0003 at batch size 32 (the slides' three), plus 5.0: on
  this small standardised problem 0.5 is still stable and fastest, 5.0 is too large (the
  loss blows up or jumps around), 0.0003 is too small (the loss barely moves in 30 epochs).
* Batch sizes 1, 10, 64 and the full training set (1,437) at learning rate 0.05: small batches
  make many noisy updates per epoch and cost more time per epoch (Python and framework overhead
  per step); at batch 1 the same lr is too noisy (the epoch's mean loss rises after the first
  epoch, from a few confidently wrong samples); the full batch makes one exact update per
  epoch and is far from converged after 30.

The figure shows the training loss per epoch and per update; the table gives updates per epoch
and seconds per epoch. Batch size 1 is the slow one, so it runs fewer epochs (``--bs1-epochs``).

Usage::

    python3 examples/learning_rates.py            # ~30 s; writes runs/learning_rates/*.png
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import _common as C
import numpy as np

import minigrad
from minigrad import nn, train

LEARNING_RATES = (5.0, 0.5, 0.05, 0.0003)
BATCH_SIZES = (1, 10, 64, "full")


def train_once(data, init_state, lr: float, batch_size: int, epochs: int, seed: int,
               device: str) -> dict:
    minigrad.manual_seed(seed)
    model = C.mlp([64, 64, 10]).to(device)
    model.load_state_dict(init_state)
    loader = C.loader(data["train"], batch_size, device, shuffle=True)
    optimizer = C.optimizer_class("SGD")(model.parameters(), lr=lr)
    with warnings.catch_warnings():         # a diverging run is expected here: say it once
        warnings.simplefilter("ignore", RuntimeWarning)
        history = train.fit(model, nn.CrossEntropyLoss(), optimizer, loader, epochs=epochs,
                            progress=False, nan_policy="stop")
    h = history.history
    return {"loss": h.get("loss", []), "updates_per_epoch": len(loader),
            "seconds_per_epoch": float(np.mean(h["time"])) if len(history) else float("nan"),
            "diverged": history.stopped_early, "accuracy": h.get("accuracy", [])}


def main(argv: Sequence[str] | None = None) -> dict:
    p = C.base_parser(__doc__.splitlines()[0], out_dir=os.path.join("runs", "learning_rates"),
                      epochs=30)
    p.add_argument("--bs1-epochs", type=int, default=3, help="epochs at batch size 1")
    args = p.parse_args(argv)
    device = C.setup(args)
    data = C.digits_splits(seed=args.seed)
    n_train = len(data["train"][1])
    minigrad.manual_seed(args.seed)
    init_state = C.mlp([64, 64, 10]).to(device).state_dict()

    runs: dict[str, dict] = {}
    for lr in LEARNING_RATES:
        runs[f"lr={lr:g}, batch 32"] = train_once(data, init_state, lr, 32, args.epochs,
                                                  args.seed, device)
    for bs in BATCH_SIZES:
        size = n_train if bs == "full" else bs
        epochs = args.bs1_epochs if bs == 1 else args.epochs
        runs[f"batch {bs}, lr=0.05"] = train_once(data, init_state, 0.05, size, epochs,
                                                  args.seed, device)

    rows = []
    for label, r in runs.items():
        final = r["loss"][-1] if r["loss"] else float("nan")
        rows.append([label, len(r["loss"]), r["updates_per_epoch"], r["seconds_per_epoch"],
                     final, "yes (loss inf/nan)" if r["diverged"] else "no"])
    print(f"SGD on digits, MLP 64-64-10, {n_train} training samples")
    print(C.table(rows, ["run", "epochs", "updates/epoch", "s/epoch", "final train loss",
                         "diverged"]))

    fig, axes = C.figure(ncols=3, size=(4.6, 3.8))
    ax = axes[0][0]
    for label in list(runs)[: len(LEARNING_RATES)]:
        loss = np.minimum(runs[label]["loss"], 1e3)      # a diverged run would hide the others
        if runs[label]["diverged"]:
            label += " (diverged)"
        ax.plot(np.arange(1, len(loss) + 1), loss, marker="o", ms=2, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_title("learning rate (SGD, batch 32)")
    ax.legend(fontsize=8)
    for ax, per_update in ((axes[0][1], False), (axes[0][2], True)):
        for label in list(runs)[len(LEARNING_RATES):]:
            r = runs[label]
            loss = np.asarray(r["loss"])
            x = np.arange(1, len(loss) + 1) * (r["updates_per_epoch"] if per_update else 1)
            ax.plot(x, loss, marker="o", ms=2, label=label)
        ax.set_yscale("log")
        if per_update:
            ax.set_xscale("log")
        ax.set_xlabel("updates (log)" if per_update else "epoch")
        ax.set_title("batch size (SGD, lr 0.05): per " + ("update" if per_update else "epoch"))
        ax.legend(fontsize=8)
    for ax in axes[0]:
        ax.set_ylabel("training loss")
        ax.grid(alpha=0.3)
    figure = C.savefig(fig, args.out_dir, "learning_rates.png")
    return {"runs": runs, "figure": figure}


if __name__ == "__main__":
    main()
