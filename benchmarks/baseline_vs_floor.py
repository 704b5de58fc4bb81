"""Is bench_training.py's hand-written NumPy baseline as fast as the floor harness's?

    python benchmarks/baseline_vs_floor.py [--floor ../shared/floor] [--rounds 3 --epochs 5]

The floor (``../shared/floor/frameworks/numpy_hand.py``, a measuring instrument outside this
repository) and :class:`bench_training.HandMLP` train W1, W2 and W3 on the same data in the same
batch order, in one process per round, epoch by epoch alternately (one BLAS thread). Printed
per workload: the median epoch of each and the median over rounds of their same-round ratio
(HandMLP / floor; <= 1.00 means this benchmark's ratios divide by a baseline at least as fast
as the floor).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_training import HandMLP  # noqa: E402
from workloads import LR, batch_order, load_data  # noqa: E402

FLOOR_NAMES = {"W1": "mlp-mnist", "W2": "mlp-bn-dropout", "W3": "small-batch"}


def one_round(name: str, epochs: int) -> tuple[list[float], list[float]]:
    from common import WORKLOADS, init_params
    from frameworks import numpy_hand

    spec = WORKLOADS[FLOOR_NAMES[name]].spec
    x, y = load_data(name)
    batches = batch_order(name, epochs + 1, len(x))
    ours, floor = HandMLP(name), numpy_hand.Model(spec, init_params(spec), LR, 0)
    mine, theirs = [], []
    for i, epoch in enumerate(batches):
        pair = [(ours, mine), (floor, theirs)]
        for model, times in pair if i % 2 else pair[::-1]:  # who goes first alternates
            t0 = time.perf_counter()
            for idx in epoch:
                model.step(x[idx], y[idx]) if model is ours else model.train_step(x[idx], y[idx])
            if i:  # the first epoch is warm-up
                times.append(time.perf_counter() - t0)
    return mine, theirs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--floor", default=os.path.join(HERE, "..", "..", "shared", "floor"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--workloads", nargs="+", default=list(FLOOR_NAMES))
    args = ap.parse_args()
    if not os.path.isdir(args.floor):
        print(f"no floor harness at {args.floor}; pass --floor")
        return 1
    sys.path.insert(0, os.path.abspath(args.floor))
    for name in args.workloads:
        ratios, mine_all, floor_all = [], [], []
        for _ in range(args.rounds):
            mine, floor = one_round(name, args.epochs)
            ratios.append(statistics.median(mine) / statistics.median(floor))
            mine_all += mine
            floor_all += floor
        print(f"{name}: HandMLP {statistics.median(mine_all):.4f} s/epoch, floor "
              f"{statistics.median(floor_all):.4f} s/epoch, ratio {statistics.median(ratios):.3f} "
              f"(per round: {', '.join(f'{r:.3f}' for r in ratios)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
