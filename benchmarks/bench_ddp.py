"""Data-parallel training benchmark: W1 with 1 and 2 MPI processes, one BLAS thread each.

W1 (../shared/PEERS.md, workloads.py): MLP 784-256-128-10, ReLU, Adam, 20,000 synthetic rows.
Two batch modes, both reported:
  global        batch 128 in all, 128 / N per process (strong scaling: the same training
                math as one process with batch 128)
  per-process   batch 128 per process, 128 N in all (weak scaling: what a cluster does)

Each configuration is one ``mpiexec -n N`` job running DistributedDataParallel + a
DistributedSampler: 20 untimed warm-up steps, then every step timed on each rank, and the
time spent finishing the gradient all-reduce (DistributedDataParallel's end-of-backward wait,
average and write-back) timed inside the step; after each step the same step is timed again
inside ``no_sync()`` (no communication at all). Reported: the median step (rank 0), samples
per second (global samples / median step), the all-reduce wait's share of the step (which
includes waiting for the slower rank) and the step without communication. The jobs
alternate over ``--rounds`` rounds and the medians over rounds are printed.

The job also times a blocking MPI_Allreduce of the whole W1 gradient (235,146 float32 =
0.94 MB) and of 8 bytes, which give the latency and bandwidth of the alpha-beta model of
BENCHMARKS.md (ring all-reduce: 2 (N - 1) messages of S / N bytes per process).

    python benchmarks/bench_ddp.py                 # 1 and 2 processes, both batch modes
    python benchmarks/bench_ddp.py --rounds 5 --steps 100
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from workloads import LR, WORKLOADS, load_data  # noqa: E402

import minigrad  # noqa: E402
import minigrad.distributed as dist  # noqa: E402
from minigrad import nn, optim  # noqa: E402
from minigrad.data import DataLoader, DistributedSampler, TensorDataset  # noqa: E402
from minigrad.nn.parallel import DistributedDataParallel  # noqa: E402

WARMUP = 20


def _time_allreduce(group, nbytes: int, reps: int) -> tuple[float, float]:
    """(median, minimum) seconds of a blocking all-reduce of ``nbytes`` of float32, each after
    a barrier. On a shared machine the minimum is the cost when both ranks are on a core; the
    median includes the times one was descheduled."""
    buf = np.ones(max(1, nbytes // 4), dtype=np.float32)
    times = []
    for _ in range(reps):
        group.barrier()
        t0 = time.perf_counter()
        group.allreduce(buf)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def _w1(per_process: int, bucket_cap_mb: float):
    """W1's sharded loader and DDP-wrapped MLP."""
    x, y = load_data("W1")
    ds = TensorDataset(x, y)
    loader = DataLoader(ds, batch_size=per_process, sampler=DistributedSampler(ds, seed=0),
                        drop_last=True)
    minigrad.manual_seed(0)
    sizes = WORKLOADS["W1"]["sizes"]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = DistributedDataParallel(nn.Sequential(*layers[:-1]), bucket_cap_mb=bucket_cap_mb)
    return loader, model


def worker(mode: str, steps: int, bucket_cap_mb: float) -> None:
    """One mpiexec job: prints a JSON line (rank 0)."""
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    spec = WORKLOADS["W1"]
    per = spec["batch"] // world if mode == "global" else spec["batch"]
    loader, model = _w1(per, bucket_cap_mb)
    opt = optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    finish_time = [0.0]
    finish = model._finish

    def timed_finish():
        t0 = time.perf_counter()
        finish()
        finish_time[0] += time.perf_counter() - t0

    model._finish = timed_finish  # the bound method queue_callback receives
    step_times, comm_times, local_times, done, epoch = [], [], [], 0, 0
    while done < WARMUP + steps:
        loader.sampler.set_epoch(epoch)
        epoch += 1
        for xb, yb in loader:
            finish_time[0] = 0.0
            t0 = time.perf_counter()
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
            elapsed = time.perf_counter() - t0
            # the same step without communicating (timing only: the replicas drift apart)
            t1 = time.perf_counter()
            with model.no_sync():
                opt.zero_grad()
                loss_fn(model(xb), yb).backward()
            opt.step()
            local = time.perf_counter() - t1
            done += 1
            if done > WARMUP:
                step_times.append(elapsed)
                comm_times.append(finish_time[0])
                local_times.append(local)
            if done == WARMUP + steps:
                break
    group = dist.default_group_or_none()
    grad_bytes = sum(p.array.nbytes for p in model.parameters())
    big = _time_allreduce(group, grad_bytes, 30) if world > 1 else (0.0, 0.0)
    small = _time_allreduce(group, 8, 200) if world > 1 else (0.0, 0.0)
    if rank == 0:
        step = statistics.median(step_times)
        print(json.dumps({"world": world, "mode": mode, "per_process": per,
                          "step_s": step, "samples_per_s": per * world / step,
                          "comm_share": statistics.median(comm_times) / step,
                          "local_step_s": statistics.median(local_times),
                          "allreduce_grad_s": big, "allreduce_8B_s": small,
                          "grad_bytes": grad_bytes}), flush=True)
    dist.destroy_process_group()


def _mpiexec() -> str:
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else "mpiexec"


def driver(rounds: int, steps: int, bucket_cap_mb: float) -> None:
    results: dict[tuple, list[dict]] = {}
    for _ in range(rounds):
        for mode in ("global", "per-process"):
            for world in (1, 2):
                cmd = [_mpiexec(), "-n", str(world), sys.executable, __file__, "--worker",
                       mode, "--steps", str(steps), "--bucket-cap-mb", str(bucket_cap_mb)]
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                                     check=True).stdout
                res = json.loads(out.strip().splitlines()[-1])
                results.setdefault((mode, world), []).append(res)
    print(f"W1, Adam, one BLAS thread per process, {steps} timed steps, median of {rounds} "
          f"rounds, bucket_cap_mb={bucket_cap_mb:g}")
    print("| batch | processes | per process | step ms | samples/s | x 1 process | "
          "all-reduce wait share | step without sync ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mode in ("global", "per-process"):
        base = statistics.median(r["samples_per_s"] for r in results[(mode, 1)])
        for world in (1, 2):
            rs = results[(mode, world)]
            med = {k: statistics.median(r[k] for r in rs)
                   for k in ("step_s", "samples_per_s", "comm_share", "local_step_s")}
            print(f"| {mode} | {world} | {rs[0]['per_process']} | {1e3 * med['step_s']:.2f} | "
                  f"{med['samples_per_s']:,.0f} | {med['samples_per_s'] / base:.2f} | "
                  f"{100 * med['comm_share']:.1f}% | {1e3 * med['local_step_s']:.2f} |")
    pairs = results[("per-process", 2)] + results[("global", 2)]
    nbytes = pairs[0]["grad_bytes"]
    big_med, small_med = (statistics.median(r[k][0] for r in pairs)
                          for k in ("allreduce_grad_s", "allreduce_8B_s"))
    big, small = (min(r[k][1] for r in pairs) for k in ("allreduce_grad_s", "allreduce_8B_s"))
    # 2 processes: 2 (N - 1) = 2 messages; ring volume 2 (N - 1) / N S = S
    alpha = small / 2
    beta = nbytes / max(big - 2 * alpha, 1e-12)
    print(f"\nblocking MPI_Allreduce, 2 processes, median (minimum): {nbytes:,} B gradient "
          f"{1e3 * big_med:.3f} ({1e3 * big:.3f}) ms, 8 B {1e6 * small_med:.1f} "
          f"({1e6 * small:.1f}) us -> from the minima alpha = {1e6 * alpha:.1f} us per "
          f"message, beta = {beta / 1e9:.2f} GB/s")
    compute = statistics.median(r["local_step_s"] for r in results[("per-process", 1)])
    print(f"compute per step (batch 128, one process, no communication): "
          f"{1e3 * compute:.2f} ms")
    for name, a, b in (("this machine's shared memory", alpha, beta),
                       ("100 Gb/s InfiniBand (2 us, 12 GB/s)", 2e-6, 12e9),
                       ("10 Gb/s Ethernet (20 us, 1.2 GB/s)", 20e-6, 1.2e9)):
        row = []
        for n in (8, 64, 512):
            t = 2 * (n - 1) * a + 2 * (n - 1) / n * nbytes / b
            row.append(f"N={n}: all-reduce {1e3 * t:.2f} ms, step {1e3 * (compute + t):.2f} ms")
        print(f"{name}: " + "; ".join(row))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", choices=("global", "per-process"), default=None)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--bucket-cap-mb", type=float, default=25.0,
                   help="DDP's bucket size (25: W1's 0.94 MB gradient in one bucket)")
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.steps, args.bucket_cap_mb)
    else:
        driver(args.rounds, args.steps, args.bucket_cap_mb)


if __name__ == "__main__":
    main()
