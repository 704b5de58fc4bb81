"""The training runs of test_distributed.py, importable (for the one-process references) and
runnable under mpiexec:

    mpiexec -n N python -m tests.distributed.mpi_worker TASK[,TASK...] OUT_DIR

Tasks (each rank writes OUT_DIR/<task>_<world>_<rank>.npz):
  collectives  all_reduce (SUM/AVG/MAX/MIN) and broadcast on rank-dependent values
  equiv        manual loops with DDP + DistributedSampler (SGD momentum, Adam; SyncBatchNorm)
  accumulate   no_sync gradient accumulation and parameters unused on some ranks, checked here
  fit_first    fit under DDP for epochs 1-2 of 4, checkpointing to OUT_DIR/fit.npz
  fit_resume   fit under DDP resuming from OUT_DIR/fit.npz up to epoch 4
  raise        rank 1 raises while rank 0 waits in a collective (the test expects an abort)
  cuda         (backend nccl) CuPy collectives over NCCL and over MPI (host-staged), and DDP
               gradients on the GPU against the module's own; one GPU per process
The global batch is GLOBAL_BATCH samples, split evenly over the N processes.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

import minigrad
import minigrad.distributed as dist
from minigrad import nn, optim
from minigrad.data import DataLoader, DistributedSampler, TensorDataset
from minigrad.nn.parallel import DistributedDataParallel
from minigrad.optim.lr_scheduler import StepLR
from minigrad.train import Checkpoint, fit
from minigrad.train.early_stopping import EarlyStopping

N_TRAIN, N_VAL, GLOBAL_BATCH, EPOCHS = 48, 24, 12, 3
FIT_EPOCHS = 4
RUNS = (("mlp", "sgd"), ("mlp", "adam"), ("bn", "sgd"), ("bn", "adam"), ("bnlocal", "sgd"))
TINY_BUCKETS_MB = 200 / 2**20  # a few buckets even for these small models


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N_TRAIN + N_VAL, 6)).astype(np.float32)
    y = (x @ rng.standard_normal((6, 3))).argmax(1).astype(np.int64)
    return x, y


def make_model(kind: str, seed: int):
    minigrad.manual_seed(seed)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    # no bias before BatchNorm: its true gradient is 0, and Adam would amplify the round-off
    return nn.Sequential(nn.Linear(6, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU(),
                         nn.Linear(16, 3))


def make_optimizer(name: str, params):
    if name == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9)
    return optim.Adam(params, lr=0.01)


def train_manual(kind: str, opt_name: str, world: int, rank: int, use_ddp: bool) -> dict:
    """EPOCHS epochs of a hand-written loop; returns the bare model's state (arrays).

    With ``use_ddp`` each rank starts from different weights (seed 100 + rank): DDP must
    broadcast rank 0's. BatchNorm becomes SyncBatchNorm under DDP for kind 'bn'; 'bnlocal'
    keeps BatchNorm's per-process statistics.
    """
    x, y = data()
    ds = TensorDataset(x[:N_TRAIN], y[:N_TRAIN])
    model = make_model(kind, 100 + rank if use_ddp else 100)
    net = model
    if use_ddp:
        if kind == "bn":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        net = DistributedDataParallel(model, bucket_cap_mb=TINY_BUCKETS_MB)
    opt = make_optimizer(opt_name, net.parameters())
    sampler = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=True, seed=7)
    loader = DataLoader(ds, batch_size=GLOBAL_BATCH // world, sampler=sampler)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(net(xb), yb).backward()
            opt.step()
    return {k: v.array.copy() for k, v in model.state_dict().items()}


def fit_setup(world: int, rank: int, use_ddp: bool, group=None):
    """Model, loaders, optimizer, scheduler and early stopping of the fit runs."""
    x, y = data()
    train = TensorDataset(x[:N_TRAIN], y[:N_TRAIN])
    val = TensorDataset(x[N_TRAIN:], y[N_TRAIN:])
    model = make_model("mlp", 100 + rank)
    if use_ddp:
        model = DistributedDataParallel(model, process_group=group)
    tr_sampler = DistributedSampler(train, num_replicas=world, rank=rank, seed=3)
    va_sampler = DistributedSampler(val, num_replicas=world, rank=rank, shuffle=False)
    train_loader = DataLoader(train, batch_size=GLOBAL_BATCH // world, sampler=tr_sampler)
    val_loader = DataLoader(val, batch_size=GLOBAL_BATCH // world, sampler=va_sampler)
    opt = optim.Adam(model.parameters(), lr=0.02)
    sched = StepLR(opt, step_size=1, gamma=0.7)
    stopper = EarlyStopping(mode="min", patience=100, monitor="val_loss")
    return model, train_loader, val_loader, opt, sched, stopper


def run_fit(world: int, rank: int, mode: str, ckpt: str, use_ddp: bool = True, group=None):
    """mode 'full' (epochs 1-4), 'first' (1-2, checkpointing) or 'resume' (3-4)."""
    model, train_loader, val_loader, opt, sched, stopper = fit_setup(world, rank, use_ddp, group)
    callbacks: list = [stopper]
    epochs = FIT_EPOCHS
    if mode == "first":
        epochs = 2
        callbacks.append(Checkpoint(ckpt))
    hist = fit(model, nn.CrossEntropyLoss(), opt, train_loader, epochs, val_loader=val_loader,
               scheduler=sched, callbacks=callbacks, progress=False,
               resume_from=ckpt if mode == "resume" else None)
    bare = model.module if use_ddp else model
    out = {f"param:{k}": v.array.copy() for k, v in bare.state_dict().items()}
    for key in ("loss", "val_loss", "accuracy", "val_accuracy", "lr"):
        out[f"hist:{key}"] = np.asarray(hist[key], dtype=np.float64)
    return out


# ----------------------------------------------------------------------------- tasks


def task_collectives(rank: int, world: int) -> dict:
    out = {}
    for op in ("SUM", "AVG", "MAX", "MIN"):
        t = minigrad.tensor(np.arange(5, dtype=np.float32) * (rank + 1) - rank)
        dist.all_reduce(t, getattr(dist.ReduceOp, op))
        out[op] = t.array
    t = minigrad.tensor(np.full((2, 3), rank, dtype=np.float32))
    dist.broadcast(t, src=world - 1)
    out["broadcast"] = t.array
    # layouts that differ between ranks (a column-major nn.Linear weight here, a C-ordered
    # array there): the collectives pair the values by index
    a = np.arange(12, dtype=np.float32).reshape(3, 4) * (rank + 1)
    t = minigrad.tensor(np.asfortranarray(a) if rank % 2 == 0 else a)
    dist.all_reduce(t)
    out["SUM_layouts"], out["SUM_layouts_f"] = t.array, t.array.flags.f_contiguous
    minigrad.manual_seed(100 + rank)
    lin = nn.Linear(4, 3)
    if rank != 1:  # column-major (a large nn.Linear weight's layout); C-ordered on rank 1
        lin.weight.array = np.asfortranarray(lin.weight.array)
    DistributedDataParallel(lin)  # rank 0's parameters on every rank
    out["ddp_weight"], out["ddp_bias"] = lin.weight.array, lin.bias.array
    dist.barrier()
    return out


def task_equiv(rank: int, world: int) -> dict:
    out = {}
    for kind, opt_name in RUNS:
        for k, v in train_manual(kind, opt_name, world, rank, use_ddp=True).items():
            out[f"{kind}-{opt_name}:{k}"] = v
    return out


class _TwoHeads(nn.Module):
    """A trunk and two heads; ``head_b`` is used only when asked (unused on some ranks)."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(6, 8)
        self.head_a = nn.Linear(8, 3)
        self.head_b = nn.Linear(8, 3)

    def forward(self, x, use_b: bool):
        h = self.trunk(x).tanh()
        out = self.head_a(h)
        return out + self.head_b(h) if use_b else out


def task_accumulate(rank: int, world: int) -> dict:
    """no_sync accumulation and rank-dependent unused parameters, against the same gradients
    computed in one process on every rank's data (asserted here; the max errors are saved)."""
    x, y = data()
    loss_fn = nn.CrossEntropyLoss()
    minigrad.manual_seed(5)
    model = _TwoHeads()
    ddp = DistributedDataParallel(model, bucket_cap_mb=TINY_BUCKETS_MB)
    calls = []
    group = ddp._group
    real = group.iallreduce
    group.iallreduce = lambda a, op: calls.append(1) or real(a, op)

    def shard(r, micro):  # rank r's micro-batch `micro` (4 samples)
        s = slice(8 * r + 4 * micro, 8 * r + 4 * micro + 4)
        return minigrad.tensor(x[s]), minigrad.tensor(y[s])

    def uses_b(r, micro):  # head_b: used by rank 0 only, and only in its second micro-batch
        return r == 0 and micro == 1

    with ddp.no_sync():
        xb, yb = shard(rank, 0)
        loss_fn(ddp(xb, uses_b(rank, 0)), yb).backward()
    no_sync_calls = len(calls)
    xb, yb = shard(rank, 1)
    loss_fn(ddp(xb, uses_b(rank, 1)), yb).backward()
    got = {n: p.grad.array.copy() for n, p in model.named_parameters()}
    # the reference: d/dtheta of (1/N) sum_r (loss_r0 + loss_r1), in one process
    for p in model.parameters():
        p.grad = None
    total = None
    for r in range(world):
        for micro in range(2):
            xb, yb = shard(r, micro)
            term = loss_fn(model(xb, uses_b(r, micro)), yb)
            total = term if total is None else total + term
    (total * (1.0 / world)).backward()
    err = max(float(np.abs(got[n] - p.grad.array).max()) for n, p in model.named_parameters())
    assert no_sync_calls == 0, f"no_sync communicated {no_sync_calls} times"
    assert len(calls) == ddp.num_buckets, (len(calls), ddp.num_buckets)
    return {"max_err": np.float64(err), "head_b_grad": got["head_b.weight"],
            "buckets": np.int64(ddp.num_buckets)}


def task_cuda(rank: int, world: int) -> dict:
    from minigrad.distributed.group import MPIGroup

    out = {}
    for name, group in (("nccl", dist.default_group_or_none()), ("mpi", MPIGroup())):
        t = minigrad.tensor(np.arange(4, dtype=np.float32) + rank, device="cuda")
        group.allreduce(t.array, dist.ReduceOp.AVG)
        out[f"{name}_avg"] = t.array.get()
        b = minigrad.tensor(np.full(3, rank, dtype=np.float32), device="cuda")
        group.broadcast(b.array, world - 1)
        out[f"{name}_bcast"] = b.array.get()
        x, y = data()
        xb = minigrad.tensor(x[:8], device="cuda")
        yb = minigrad.tensor(y[:8], device="cuda")
        model = make_model("mlp", 100).to("cuda")
        ddp = DistributedDataParallel(model, bucket_cap_mb=TINY_BUCKETS_MB, process_group=group)
        nn.CrossEntropyLoss()(ddp(xb), yb).backward()
        got = [p.grad.array.get() for p in model.parameters()]
        model.zero_grad()
        nn.CrossEntropyLoss()(model(xb), yb).backward()  # every rank has the same batch
        out[f"{name}_err"] = np.float64(max(
            float(np.abs(g - p.grad.array.get()).max()) for g, p in zip(got, model.parameters())))
    return out


def task_nan_stop(rank: int, world: int) -> dict:
    """fit with nan_policy='stop' where only the last rank's loss turns nan, at its 2nd batch."""
    model, train_loader, _, opt, _, _ = fit_setup(world, rank, use_ddp=True)
    calls = []
    base_loss = nn.CrossEntropyLoss()

    def loss_fn(out, target):
        calls.append(1)
        loss = base_loss(out, target)
        return loss * float("nan") if rank == world - 1 and len(calls) == 2 else loss

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit(model, loss_fn, opt, train_loader, 3, nan_policy="stop", progress=False)
    out = {f"param:{k}": v.array.copy() for k, v in model.module.state_dict().items()}
    out["batches"] = np.int64(len(calls))
    return out


def task_raise(rank: int, world: int) -> dict:
    if rank == 1:
        raise ValueError("boom from rank 1")
    dist.barrier()  # never completes: rank 1 is gone; the abort must end this rank too
    return {}


def main(argv) -> None:
    tasks, out_dir = argv[0].split(","), argv[1]
    dist.init_process_group("nccl" if tasks == ["cuda"] else "mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    ckpt = os.path.join(out_dir, "fit.npz")
    for task in tasks:
        if task == "fit_first":
            result = run_fit(world, rank, "first", ckpt)
        elif task == "fit_resume":
            result = run_fit(world, rank, "resume", ckpt)
        else:
            result = globals()[f"task_{task}"](rank, world)
        np.savez(os.path.join(out_dir, f"{task}_{world}_{rank}.npz"), **result)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1:])
