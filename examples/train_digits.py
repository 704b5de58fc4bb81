"""The main job: an MLP with BatchNorm and Dropout on scikit-learn's handwritten digits.

What it shows, end to end:

* data: the 1,797 8x8 digit images bundled with scikit-learn (no download), a stratified
  80/20 train/test split, a stratified validation split taken from the training part, and
  features standardised with training statistics only;
* model: 64 -> 128 -> BatchNorm1d -> ReLU -> Dropout -> 128 -> BatchNorm1d -> ReLU -> Dropout
  -> 10;
* training: Adam with a one-cycle learning-rate schedule, early stopping on the validation
  loss that puts the best weights back, all driven by :func:`minigrad.train.fit` with a
  progress bar;
* results: the test accuracy, the loss/accuracy/lr curves (``curves.png``) and a checkpoint
  (``checkpoint.npz``: model, optimizer and history, loadable with ``minigrad.load``).

Usage::

    python3 examples/train_digits.py                       # about 10 s on 2 CPU cores
    python3 examples/train_digits.py --optimizer nadam --scheduler cosine --seed 3
    python3 examples/train_digits.py --device cuda
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Sequence

import _common as C

import minigrad
from minigrad import nn, train

DEFAULTS = dict(epochs=40, batch_size=32, lr=1e-2, hidden=128, dropout=0.2, patience=10,
                val_size=0.15, weight_decay=1e-4)


def parse_args(argv: Sequence[str] | None):
    p = C.base_parser(__doc__.splitlines()[0], out_dir=os.path.join("runs", "digits"),
                      epochs=DEFAULTS["epochs"])
    p.add_argument("--optimizer", default="Adam",
                   help="any optimizer class of minigrad.optim, case-insensitive")
    p.add_argument("--scheduler", default="onecycle", choices=C.SCHEDULERS)
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"],
                   help="learning rate (the peak for onecycle/cyclic)")
    p.add_argument("--hidden", type=int, default=DEFAULTS["hidden"], help="hidden units")
    p.add_argument("--dropout", type=float, default=DEFAULTS["dropout"])
    p.add_argument("--weight-decay", type=float, default=DEFAULTS["weight_decay"])
    p.add_argument("--patience", type=int, default=DEFAULTS["patience"],
                   help="early-stopping patience in epochs (on the validation loss)")
    p.add_argument("--es-start", type=int, default=None,
                   help="epochs before early stopping starts to watch (default: 30%% of the "
                        "epochs with onecycle, i.e. once the learning rate decreases; else 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def build_optimizer(name: str, params, lr: float, weight_decay: float):
    """``name``'s class with the given lr; weight decay where the optimizer takes it."""
    cls = C.optimizer_class(name)
    kwargs = {"lr": lr}
    if weight_decay and "weight_decay" in inspect.signature(cls).parameters:
        kwargs["weight_decay"] = weight_decay
    return cls(params, **kwargs)


def main(argv: Sequence[str] | None = None) -> dict:
    """Train, evaluate, plot and checkpoint; returns the numbers it printed."""
    args = parse_args(argv)
    C.optimizer_class(args.optimizer)           # an unknown name fails before any work
    device = C.setup(args)
    t_start = time.perf_counter()

    data = C.digits_splits(seed=args.seed, val_size=DEFAULTS["val_size"])
    train_loader = C.loader(data["train"], args.batch_size, device, shuffle=True)
    val_loader = C.loader(data["val"], 512, device)
    test_loader = C.loader(data["test"], 512, device)
    print(f"digits: {len(data['train'][1])} train / {len(data['val'][1])} val / "
          f"{len(data['test'][1])} test samples, 64 features, 10 classes; device {device}")

    model = C.mlp([64, args.hidden, args.hidden, 10], batchnorm=True,
                  dropout=args.dropout).to(device)
    optimizer = build_optimizer(args.optimizer, model.parameters(), args.lr, args.weight_decay)
    scheduler = C.make_scheduler(args.scheduler, optimizer, args.epochs, len(train_loader),
                                 args.lr)
    # The 1cycle policy raises the learning rate for its first 30% of steps, and the validation
    # loss is noisy there: early stopping only watches once the learning rate decreases.
    es_start = args.es_start
    if es_start is None:
        es_start = round(0.3 * args.epochs) if args.scheduler == "onecycle" else 0
    stopper = train.EarlyStopping(mode="min", patience=args.patience,
                                  restore_best_weights=True, start_from_epoch=es_start,
                                  monitor="val_loss")
    print(f"{type(optimizer).__name__}(lr={args.lr:g}), scheduler {args.scheduler}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")

    history = train.fit(model, nn.CrossEntropyLoss(), optimizer, train_loader,
                        epochs=args.epochs, val_loader=val_loader, scheduler=scheduler,
                        callbacks=[stopper], progress=not args.no_progress)
    train_seconds = sum(history["time"])
    # when patience never ran out, put the best epoch's weights back ourselves (a no-op after
    # an early stop, which has restored them already)
    stopper.restore(model)

    test = train.evaluate(model, nn.CrossEntropyLoss(), test_loader)
    best_epoch = stopper.best_epoch + 1 if stopper.best_epoch is not None else len(history)
    if history.stopped_early:
        print(f"early stopping after epoch {history.epochs[-1]}; best val_loss "
              f"{stopper.best:.4f} at epoch {best_epoch} (weights restored)")
    else:
        print(f"trained {len(history)} epochs; best val_loss {stopper.best:.4f} at epoch "
              f"{best_epoch} (weights restored)")
    print(f"final train loss {history['loss'][-1]:.4f}, val accuracy "
          f"{history['val_accuracy'][best_epoch - 1]:.4f}")
    print(f"test loss {test['loss']:.4f}")
    print(f"test accuracy {test['accuracy']:.4f}")

    curves = os.path.join(args.out_dir, "curves.png")
    history.plot(curves)
    checkpoint = os.path.join(args.out_dir, "checkpoint.npz")
    minigrad.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "history": history.state_dict(), "args": vars(args),
            "test_accuracy": test["accuracy"]}, checkpoint)
    total = time.perf_counter() - t_start
    print(f"saved {curves} and {checkpoint}")
    print(f"time: {train_seconds:.1f} s training, {total:.1f} s in all")
    return {"test_accuracy": test["accuracy"], "test_loss": test["loss"],
            "epochs": len(history), "best_epoch": best_epoch, "stopped_early":
            history.stopped_early, "curves": curves, "checkpoint": checkpoint,
            "seconds": total, "history": history, "model": model}


if __name__ == "__main__":
    main()
