"""CPU time of ``optimizer.step()`` on W1/W3, and of the 100-small-tensors step, for A/B runs.

    python benchmarks/bench_optim_step.py --workload W3            # Adam on W3
    python benchmarks/bench_optim_step.py --small SGD SGDW Adam    # 100 tensors vs 1 tensor

``--workload``: the W1 or W3 MLP of ``workloads.py`` with ``optim.Adam`` (the user's API),
timed three ways, in microseconds of this thread's CPU time (``time.thread_time``, which does
not count waiting for a core on a shared machine):

* ``in training``: ``opt.step()`` inside training steps (forward, ``loss.backward()``,
  ``opt.step()``, ``opt.zero_grad()``), fresh gradients every step; median over steps after 50
  warm-up steps. Also the whole step's median.
* ``alone``: ``opt.step()`` repeated with the gradients of one backward kept (minimum over
  blocks of the per-step mean).
* ``floor``: the hand-written floor's Adam, 13 in-place ufuncs over one flat buffer of the
  model's size with a persistent temporary, timed as ``alone``.

``--small``: each named optimizer over 50 Linear(32, 32) layers (100 tensors, 52,800 numbers)
with fixed gradients, and over one tensor of the same size (the issue's target: within 2x);
minimum over blocks, and minor page faults per step (``ru_minflt``: a temporary that glibc
hands back to the system at every step faults its pages in again at the next).
``bench_optim.py --model small`` measures the same in wall time.

For an A/B, run it on two checkouts in alternating processes:
``for i in 1 2 3; do for d in /tmp/base .; do PYTHONPATH=$d python3 $d/benchmarks/...; done;
done``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_training import build_minigrad_model  # noqa: E402
from workloads import BETA1, BETA2, EPS, LR, batch_order, load_data  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad import nn, optim  # noqa: E402

CLOCK = time.thread_time


def per_call(fn, calls: int, blocks: int = 9) -> tuple[float, float]:
    """Minimum over ``blocks`` of the mean CPU time of ``fn()`` in microseconds, and the minor
    page faults per call over all blocks."""
    for _ in range(max(calls // 10, 5)):
        fn()
    best = math.inf
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(blocks):
        t0 = CLOCK()
        for _ in range(calls):
            fn()
        best = min(best, (CLOCK() - t0) / calls)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return best * 1e6, faults / (blocks * calls)


def floor_adam(n: int):
    """The floor's Adam step over ``n`` float32 numbers: 13 ufuncs, persistent temporary."""
    rng = np.random.default_rng(0)
    p, g = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
    m, v, tmp = np.zeros_like(p), np.zeros_like(p), np.empty_like(p)
    t = [0]

    def step():
        t[0] += 1
        np.multiply(m, BETA1, out=m)
        np.multiply(g, 1 - BETA1, out=tmp)
        np.add(m, tmp, out=m)
        np.multiply(v, BETA2, out=v)
        np.multiply(g, g, out=tmp)
        np.multiply(tmp, 1 - BETA2, out=tmp)
        np.add(v, tmp, out=v)
        np.sqrt(v, out=tmp)
        np.multiply(tmp, 1 / math.sqrt(1 - BETA2 ** t[0]), out=tmp)
        np.add(tmp, EPS, out=tmp)
        np.divide(m, tmp, out=tmp)
        np.multiply(tmp, LR / (1 - BETA1 ** t[0]), out=tmp)
        np.subtract(p, tmp, out=p)

    return step


def workload(name: str, steps: int) -> None:
    x, y = load_data(name)
    batches = [b for epoch in batch_order(name, 10, len(x)) for b in epoch][:50 + steps]
    model = build_minigrad_model(name)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS)
    in_step, whole = [], []
    for i, idx in enumerate(batches):
        t0 = CLOCK()
        loss_fn(model(mg.tensor(x[idx])), mg.tensor(y[idx])).backward()
        t1 = CLOCK()
        opt.step()
        t2 = CLOCK()
        opt.zero_grad()
        if i >= 50:
            in_step.append((t2 - t1) * 1e6)
            whole.append((CLOCK() - t0) * 1e6)
    loss_fn(model(mg.tensor(x[batches[0]])), mg.tensor(y[batches[0]])).backward()
    calls = 2000 if name == "W3" else 100
    alone, faults = per_call(opt.step, calls)
    n = sum(p.numel() for p in model.parameters())
    floor, _ = per_call(floor_adam(n), calls)
    print(f"{name} Adam.step: in training {statistics.median(in_step):.1f} us (whole step "
          f"{statistics.median(whole):.1f}), alone {alone:.1f} us ({faults:.1f} page faults), "
          f"floor's 13 ufuncs over {n:,} numbers {floor:.1f} us")


def small(names: list[str]) -> None:
    rng = np.random.default_rng(0)
    shapes = [(32, 32), (32,)] * 50
    values = [rng.normal(0, 0.05, s).astype(np.float32) for s in shapes]
    grads = [rng.normal(0, 1e-3, s).astype(np.float32) for s in shapes]
    one = ([np.concatenate([v.ravel() for v in values])],
           [np.concatenate([g.ravel() for g in grads])])
    for name in names:
        times = []
        for vals, grs in ((values, grads), one):
            params = [mg.Parameter(v.copy()) for v in vals]
            for p, g in zip(params, grs):
                p.grad = mg.Tensor(g)
            opt = getattr(optim, name)(params, lr=LR)
            times.extend(per_call(opt.step, 300))
        print(f"{name}: 100 tensors {times[0]:.1f} us ({times[1]:.1f} page faults), 1 tensor "
              f"{times[2]:.1f} us ({times[3]:.1f}), x {times[0] / times[2]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=["W1", "W3"])
    ap.add_argument("--steps", type=int, default=300, help="timed training steps")
    ap.add_argument("--small", nargs="*", help="optimizer class names (100 small tensors)")
    args = ap.parse_args()
    if args.workload:
        workload(args.workload, args.steps)
    if args.small:
        small(args.small)


if __name__ == "__main__":
    main()
