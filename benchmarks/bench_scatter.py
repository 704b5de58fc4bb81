"""Scatter-add (the backward of embedding and advanced indexing): the backend's own against
minigrad's sorted pairwise sum (CuPy's deterministic path), same run.

Workloads: an embedding backward, 16384 ids into a (V, D) table, ids uniform or Zipf(1.3)
(text-like: a few ids repeat thousands of times). On NumPy: ``numpy.add.at`` (what minigrad
uses on the CPU) against ``sorted_scatter_add``; on CuPy (``--device cuda``):
``cupyx.scatter_add`` (atomic) against ``sorted_scatter_add`` (minigrad's default there).
Median of ``--repeat`` timings; the ratio is sorted / backend, per round, median.

    PYTHONPATH=. python3 benchmarks/bench_scatter.py
    PYTHONPATH=. python3 benchmarks/bench_scatter.py --device cuda
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from minigrad import backend  # noqa: E402
from minigrad.ops import indexing  # noqa: E402

CASES = [(law, 50000, w) for law in ("uniform", "zipf") for w in (1, 16, 256)]


def backend_scatter(xp, shape, idx, g):
    out = xp.zeros(shape, dtype=g.dtype)
    if xp is np:
        np.add.at(out, idx, g)
    else:
        import cupyx  # noqa: PLC0415

        cupyx.scatter_add(out, idx, g)
    return out


def sorted_scatter(xp, shape, idx, g):
    return indexing.sorted_scatter_add(xp.zeros(shape, dtype=g.dtype), idx, g)


def timed(xp, fn, *args) -> float:
    start = time.perf_counter()
    fn(xp, *args)
    if xp is not np:
        xp.cuda.Device().synchronize()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    dev = backend.Device(args.device)
    xp = dev.xp
    rng = np.random.default_rng(0)
    print(f"{'ids':<8} {'table':>12} {'backend ms':>11} {'sorted ms':>10} {'sorted/backend':>15}")
    for law, v, d in CASES:
        ids = rng.integers(0, v, 16384) if law == "uniform" else rng.zipf(1.3, 16384) % v
        idx = backend.to_device(ids.astype(np.int64), dev)
        g = backend.to_device(rng.standard_normal((16384, d)).astype(np.float32), dev)
        for fn in (backend_scatter, sorted_scatter):  # warm-up (and kernel compilation)
            fn(xp, (v, d), idx, g)
        base, mine, ratios = [], [], []
        for _ in range(args.repeat):
            b = timed(xp, backend_scatter, (v, d), idx, g)
            s = timed(xp, sorted_scatter, (v, d), idx, g)
            base.append(b)
            mine.append(s)
            ratios.append(s / b)
        print(f"{law:<8} {f'{v}x{d}':>12} {statistics.median(base) * 1e3:11.2f} "
              f"{statistics.median(mine) * 1e3:10.2f} {statistics.median(ratios):15.2f}")


if __name__ == "__main__":
    main()
