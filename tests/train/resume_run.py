"""The training run of test_resume.py, importable and runnable as a script in a fresh process:

    python -m tests.train.resume_run {full|first|resume} CHECKPOINT OUT.npz

An MLP with Dropout, a shuffled DataLoader on the framework generator, Adam with OneCycleLR
(stepped per batch, cycling beta1), early stopping (which never triggers here); 6 epochs.
``first`` trains 3 epochs and checkpoints; ``resume`` starts from a different seed, loads the
checkpoint and trains epochs 4-6. OUT receives the parameters and the loss history.
"""

from __future__ import annotations

import sys

import numpy as np

import minigrad
from minigrad import nn
from minigrad.data import DataLoader, TensorDataset
from minigrad.optim.adam import Adam
from minigrad.optim.lr_scheduler import OneCycleLR
from minigrad.train import Checkpoint, fit
from minigrad.train.early_stopping import EarlyStopping

EPOCHS = 6


def build(seed: int):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 10)).astype(np.float32)
    y = (x @ rng.standard_normal((10, 4))).argmax(1).astype(np.int64)
    minigrad.manual_seed(seed)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 4))
    train = DataLoader(TensorDataset(x[:96], y[:96]), batch_size=16, shuffle=True)
    val = DataLoader(TensorDataset(x[96:], y[96:]), batch_size=16)
    opt = Adam(model.parameters(), lr=1e-2)
    sched = OneCycleLR(opt, max_lr=3e-2, epochs=EPOCHS, steps_per_epoch=len(train))
    stopper = EarlyStopping(mode="min", patience=100, restore_best_weights=True,
                            monitor="val_loss")
    return model, train, val, opt, sched, stopper


def run(mode: str, checkpoint: str) -> tuple[list[np.ndarray], list[float]]:
    model, train, val, opt, sched, stopper = build(seed=0 if mode != "resume" else 1234)
    callbacks: list = [stopper]
    kw: dict = {}
    epochs = EPOCHS
    if mode == "first":
        epochs = 3
        callbacks.append(Checkpoint(checkpoint))
    elif mode == "resume":
        kw["resume_from"] = checkpoint
    hist = fit(model, nn.CrossEntropyLoss(), opt, train, epochs, val_loader=val,
               scheduler=sched, callbacks=callbacks, progress=False, **kw)
    return [p.array.copy() for p in model.parameters()], list(hist["loss"])


if __name__ == "__main__":
    mode, checkpoint, out = sys.argv[1:4]
    params, losses = run(mode, checkpoint)
    np.savez(out, losses=np.array(losses), **{f"p{i}": p for i, p in enumerate(params)})
