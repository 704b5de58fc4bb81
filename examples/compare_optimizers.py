"""Every optimizer of minigrad.optim on the same digits MLP, from the same initial weights.

The model is an MLP 64-128-10 (ReLU) on scikit-learn's digits (stratified 80/20 split,
standardised), trained with batches of 32 in the same order for every optimizer (the seed is
reset before each run). Each optimizer runs with the learning rate in :data:`LR` -- its paper's
or torch's default where that is sensible for this problem, else a round value from a short
manual search -- and no weight decay. The table gives the final training loss, the test
accuracy and the training time; the figure shows every training-loss curve.

There is no best optimizer: the ranking moves with the learning rate, the budget and the seed
(try ``--seed 1`` or ``--epochs 40``).

Usage::

    python3 examples/compare_optimizers.py           # ~40 s; writes runs/compare/*.png
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import _common as C

import minigrad
from minigrad import nn, train

# learning rates for this problem; every other hyperparameter is the optimizer's default
LR = {"SGD": 0.05, "SGDW": 0.05, "Adagrad": 0.05, "Adadelta": 1.0, "RMSprop": 1e-3,
      "Adam": 1e-3, "AMSGrad": 1e-3, "AdamW": 1e-3, "Adamax": 2e-3, "NAdam": 2e-3,
      "RAdam": 1e-3, "AdaBelief": 1e-3, "DiffGrad": 1e-3, "SWATS": 1e-3, "FTRL": 0.5,
      "Lion": 1e-4, "AngularGrad": 1e-3, "AdaInject": 1e-3}


def main(argv: Sequence[str] | None = None) -> dict:
    p = C.base_parser(__doc__.splitlines()[0], out_dir=os.path.join("runs", "compare"),
                      epochs=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--optimizers", nargs="*", default=None,
                   help="a subset of class names (default: every optimizer in minigrad.optim)")
    args = p.parse_args(argv)
    device = C.setup(args)

    data = C.digits_splits(seed=args.seed)
    test_loader = C.loader(data["test"], 512, device)
    names = args.optimizers or list(C.optimizer_classes())
    minigrad.manual_seed(args.seed)
    init_state = C.mlp([64, 128, 10]).to(device).state_dict()

    results, rows = {}, []
    fig, axes = C.figure(size=(7.5, 4.8))
    ax = axes[0][0]
    colors = C.matplotlib.colormaps["tab20"].colors
    for i, name in enumerate(names):
        cls = C.optimizer_class(name)
        minigrad.manual_seed(args.seed)             # the same batch order for everyone
        model = C.mlp([64, 128, 10]).to(device)
        model.load_state_dict(init_state)           # the same initial weights for everyone
        train_loader = C.loader(data["train"], args.batch_size, device, shuffle=True)
        optimizer = cls(model.parameters(), lr=LR.get(cls.__name__, 1e-3))
        history = train.fit(model, nn.CrossEntropyLoss(), optimizer, train_loader,
                            epochs=args.epochs, progress=False, nan_policy="stop")
        test = train.evaluate(model, nn.CrossEntropyLoss(), test_loader)
        seconds = sum(history["time"])
        results[cls.__name__] = {"train_loss": history["loss"][-1],
                                 "test_accuracy": test["accuracy"], "seconds": seconds}
        rows.append([cls.__name__, optimizer.param_groups[0]["lr"], history["loss"][-1],
                     test["accuracy"], seconds])
        ax.plot(history.epochs, history["loss"], color=colors[i % 20], lw=1.3,
                ls="-" if i < 10 else "--", label=cls.__name__)
    rows.sort(key=lambda r: -r[3])
    print(f"digits MLP 64-128-10, {args.epochs} epochs, batch {args.batch_size}, seed "
          f"{args.seed} (sorted by test accuracy)")
    print(C.table(rows, ["optimizer", "lr", "final train loss", "test accuracy", "time (s)"]))
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (log scale)")
    ax.set_title("same model, same data, same seed: no best optimizer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    figure = C.savefig(fig, args.out_dir, "compare_optimizers.png")
    return {"results": results, "figure": figure}


if __name__ == "__main__":
    main()
