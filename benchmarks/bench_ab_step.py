"""A/B of one W3-shaped training step between two checkouts of minigrad, same run.

W3's network (MLP 64-64-64-10, ReLU, batch 16, Adam, cross-entropy) on random data: the step
that exposes per-op framework overhead. Each pair runs checkout A, then checkout B, in fresh
processes (1 thread), each timing 7 x 200 steps after 50 warm-up steps and keeping the fastest
repeat; the ratio B / A is taken per pair and the median over pairs is reported, so that a drift
of the machine's speed between pairs cancels.

    git worktree add /tmp/base <commit>        # or: git archive <commit> | tar -x -C /tmp/base
    python benchmarks/bench_ab_step.py /tmp/base . --pairs 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

STEP = r"""
import time
import numpy as np
import minigrad as mg
from minigrad import nn
mg.manual_seed(0)
x = mg.randn(16, 64)
y = mg.tensor(np.arange(16) % 10)
model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                      nn.Linear(64, 10))
opt = mg.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

def run(n):
    for _ in range(n):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

run(50)
times = []
for _ in range(7):
    t = time.perf_counter()
    run(200)
    times.append((time.perf_counter() - t) / 200 * 1e6)
print(min(times))
"""


def step_us(checkout: str) -> float:
    env = {**os.environ, "PYTHONPATH": os.path.abspath(checkout), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", STEP], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="checkout A (the baseline)")
    ap.add_argument("b", help="checkout B")
    ap.add_argument("--pairs", type=int, default=8)
    args = ap.parse_args()
    ratios = []
    print("pair   A us/step   B us/step   B / A")
    for i in range(args.pairs):
        a, b = step_us(args.a), step_us(args.b)
        ratios.append(b / a)
        print(f"{i + 1:4d}   {a:9.1f}   {b:9.1f}   {b / a:.3f}")
    print(f"median B / A over {args.pairs} pairs: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
