"""DataLoader overhead: one shuffled epoch over 60,000 x 784 float32 rows at batch 128.

Compares, in the same run and interleaved epoch by epoch,

- raw NumPy: ``perm = rng.permutation(n)`` then ``X[perm[i:i+128]]``, ``y[perm[i:i+128]]``;
- ``DataLoader(TensorDataset(X, y), batch_size=128, shuffle=True)`` yielding Tensors;

and reports the median epoch time of each and their ratio (target <= 1.1x). With
``--device cuda`` both run on CuPy arrays already on the GPU (synchronised per epoch).

    python benchmarks/bench_data.py [--epochs 9] [--device cpu|cuda] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import minigrad  # noqa: E402
from minigrad.data import DataLoader, TensorDataset  # noqa: E402

ROWS, FEATURES, BATCH = 60_000, 784, 128


def _sync(xp):
    if xp is not np:
        xp.cuda.Stream.null.synchronize()


def raw_epoch(x, y, rng, xp) -> float:
    t0 = time.perf_counter()
    perm = rng.permutation(len(x))
    if xp is not np:
        perm = xp.asarray(perm)
    for i in range(0, len(x), BATCH):
        idx = perm[i:i + BATCH]
        xb = x[idx]
        yb = y[idx]
    del xb, yb
    _sync(xp)
    return time.perf_counter() - t0


def loader_epoch(loader, xp) -> float:
    t0 = time.perf_counter()
    for batch in loader:
        xb, yb = batch  # unpacked, as a training loop does
    del xb, yb
    _sync(xp)
    return time.perf_counter() - t0


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=9, help="timed epochs of each (median)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)

    device = minigrad.Device(args.device)
    xp = device.xp
    rng = np.random.default_rng(0)
    x = rng.standard_normal((ROWS, FEATURES), dtype=np.float32)
    y = rng.integers(0, 10, ROWS).astype(np.int64)
    dataset = TensorDataset(x, y, device=device)
    x_dev, y_dev = dataset.arrays  # the same arrays the loader indexes
    minigrad.manual_seed(0)
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True)
    perm_rng = np.random.default_rng(1)

    raw_epoch(x_dev, y_dev, perm_rng, xp)  # warm-up
    loader_epoch(loader, xp)
    raw, ours = [], []
    for _ in range(args.epochs):  # interleaved, so drift hits both alike
        raw.append(raw_epoch(x_dev, y_dev, perm_rng, xp))
        ours.append(loader_epoch(loader, xp))
    result = {
        "workload": f"{ROWS} x {FEATURES} float32, batch {BATCH}, shuffle, {len(loader)} batches",
        "device": str(device),
        "epochs": args.epochs,
        "raw_numpy_s": statistics.median(raw),
        "dataloader_s": statistics.median(ours),
    }
    result["ratio"] = result["dataloader_s"] / result["raw_numpy_s"]
    # the loader's own per-batch cost, isolated from memory bandwidth: the same loops over
    # 60,000 x 1 rows, where indexing is nearly free
    tiny = TensorDataset(x[:, :1].copy(), y, device=device)
    tiny_loader = DataLoader(tiny, batch_size=BATCH, shuffle=True)
    raw_t, ours_t = [], []
    for _ in range(args.epochs):
        raw_t.append(raw_epoch(tiny.arrays[0], tiny.arrays[1], perm_rng, xp))
        ours_t.append(loader_epoch(tiny_loader, xp))
    result["overhead_us_per_batch"] = (
        1e6 * (statistics.median(ours_t) - statistics.median(raw_t)) / len(loader)
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['workload']} on {result['device']}, median of {args.epochs} epochs")
        print("| loop | s / epoch | us / batch | x raw |")
        print("| --- | ---: | ---: | ---: |")
        for name, key in (("raw permutation + index", "raw_numpy_s"),
                          ("DataLoader(TensorDataset)", "dataloader_s")):
            t = result[key]
            print(f"| {name} | {t:.4f} | {1e6 * t / len(loader):.1f} | "
                  f"{t / result['raw_numpy_s']:.3f} |")
        print(f"target <= 1.10x: {'met' if result['ratio'] <= 1.10 else 'NOT met'}; "
              f"the loader's own overhead (60,000 x 1 rows): "
              f"{result['overhead_us_per_batch']:.1f} us / batch")
    return result


if __name__ == "__main__":
    main()
