"""Data-parallel training over MPI: the digits MLP trained by N processes at once.

Every process runs this same script. ``mpiexec`` starts them, MPI connects them, each one
trains on its own shard of every batch, and DistributedDataParallel averages the gradients
before each step, so all processes hold the same model::

    mpiexec -n 4 python3 examples/train_digits_ddp.py      # 4 processes
    python3 examples/train_digits_ddp.py                   # the same script as one process
    mpiexec -n 2 python3 examples/train_digits_ddp.py --stop-after 5          # then resume
    python3 examples/train_digits_ddp.py --resume runs/digits_ddp/checkpoint.npz

``--batch-size`` is the *global* batch (default 64): each of N processes takes 64 / N samples
per step, and with SyncBatchNorm (BatchNorm layers whose statistics are all-reduced) every
step is, up to float32 round-off, the step one process takes on the same 64 samples. (Runs
with different N still differ a little: when N does not divide the training set,
DistributedSampler pads each epoch with a few repeated samples, as torch's does.) A
checkpoint written by rank 0 after every epoch resumes the run with the same or another
number of processes. Needs
``pip install 'minigrad-tensor[mpi,examples]'`` (mpi4py and the mpich wheel, which brings mpiexec);
without mpi4py it still runs as one process.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402  (puts the checkout on the path)

import minigrad  # noqa: E402
import minigrad.distributed as dist  # noqa: E402
from minigrad import nn, optim, train  # noqa: E402
from minigrad.data import DataLoader, DistributedSampler, TensorDataset  # noqa: E402
from minigrad.nn.parallel import DistributedDataParallel  # noqa: E402
from minigrad.optim.lr_scheduler import OneCycleLR  # noqa: E402
from minigrad.train.ddp import average_logs, is_main_process  # noqa: E402


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64,
                   help="the global batch, split evenly over the processes")
    p.add_argument("--lr", type=float, default=1e-2, help="OneCycleLR's peak")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", default=os.path.join("runs", "digits_ddp"))
    p.add_argument("--resume", default=None, help="a checkpoint to continue from")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop after this epoch (to try --resume); the schedule still spans "
                        "--epochs")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def sharded_loader(split, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    """This rank's shard of ``split`` (equal shard sizes: DistributedSampler pads)."""
    ds = TensorDataset(*split)
    sampler = DistributedSampler(ds, shuffle=shuffle, seed=seed)
    return DataLoader(ds, batch_size=batch_size, sampler=sampler)


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    dist.init_process_group("mpi")             # a world of one without mpiexec
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} is not divisible by the "
                         f"{world} processes")
    log = print if is_main_process() else (lambda *a, **k: None)
    minigrad.manual_seed(args.seed)             # DDP broadcasts rank 0's weights anyway
    os.makedirs(args.out_dir, exist_ok=True)

    data = C.digits_splits(seed=args.seed, val_size=0.15)   # identical on every rank
    per_rank = args.batch_size // world
    train_loader = sharded_loader(data["train"], per_rank, True, args.seed)
    val_loader = sharded_loader(data["val"], 256, False, args.seed)
    test_loader = sharded_loader(data["test"], 256, False, args.seed)

    model = nn.SyncBatchNorm.convert_sync_batchnorm(
        C.mlp([64, args.hidden, args.hidden, 10], batchnorm=True))
    model = DistributedDataParallel(model)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                           steps_per_epoch=len(train_loader))
    checkpoint = os.path.join(args.out_dir, "checkpoint.npz")
    log(f"{world} processes [{dist.get_backend()}], global batch {args.batch_size} "
        f"({per_rank} per process), {len(train_loader)} steps per epoch")

    t0 = time.perf_counter()
    history = train.fit(model, nn.CrossEntropyLoss(), optimizer, train_loader,
                        epochs=args.stop_after or args.epochs, val_loader=val_loader,
                        scheduler=scheduler,
                        callbacks=[train.Checkpoint(checkpoint)],
                        progress=not args.no_progress, resume_from=args.resume)
    seconds = time.perf_counter() - t0
    test = average_logs(train.evaluate(model, nn.CrossEntropyLoss(), test_loader))
    log(f"epochs {history.epochs[0]}-{history.epochs[-1]}: final train loss "
        f"{history['loss'][-1]:.4f}, val accuracy {history['val_accuracy'][-1]:.4f}")
    log(f"test loss {test['loss']:.4f}, test accuracy {test['accuracy']:.4f}")
    log(f"{seconds:.1f} s training; checkpoint {checkpoint} (rank 0 wrote it)")
    dist.destroy_process_group()
    return {"rank": rank, "world": world, "test_accuracy": test["accuracy"],
            "test_loss": test["loss"], "history": history, "checkpoint": checkpoint}


if __name__ == "__main__":
    main()
