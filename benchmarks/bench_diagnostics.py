"""What the Diagnostics callback costs: fit epochs on W1 with and without it, same run.

W1 of ../shared/PEERS.md (see workloads.py): MLP 784-256-128-10, ReLU, batch 128, 156 steps per
epoch, Adam. Variants (each its own model from the same initial weights, same batches):

  off        fit(..., callbacks=[])                    the baseline
  epoch      fit(..., callbacks=[Diagnostics()])       measures the first batch of each epoch
  every10    fit(..., callbacks=[Diagnostics(every=10)])
  every1     fit(..., callbacks=[Diagnostics(every=1)]) every step (the worst case)

Each round builds the variants, runs one untimed warm-up epoch of each, then alternates them
epoch by epoch; the ratio of each variant's epoch to the baseline's is taken per round and the
median over rounds is reported with the median epoch time.

    python benchmarks/bench_diagnostics.py                   # 5 rounds of 3 epochs
    python benchmarks/bench_diagnostics.py --rounds 3 --epochs 2
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import minigrad  # noqa: E402
from minigrad import nn, optim  # noqa: E402
from minigrad.train import Diagnostics, fit  # noqa: E402
from workloads import BETA1, BETA2, EPS, LR, WORKLOADS, init_weights, load_data  # noqa: E402

VARIANTS = {"off": None, "epoch": {}, "every10": {"every": 10}, "every1": {"every": 1}}


def build():
    sizes = WORKLOADS["W1"]["sizes"]
    layers = []
    for i, (w, b) in enumerate(init_weights("W1")):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        lin.weight.array[...] = w
        lin.bias.array[...] = b
        layers += [lin, nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    return model, optim.Adam(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS)


def batches():
    x, y = load_data("W1")
    bs = WORKLOADS["W1"]["batch"]
    steps = len(x) // bs
    return [(minigrad.tensor(x[i * bs:(i + 1) * bs]), minigrad.tensor(y[i * bs:(i + 1) * bs]))
            for i in range(steps)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per variant per round")
    args = p.parse_args()
    data = batches()
    loss_fn = nn.CrossEntropyLoss()
    times = {k: [] for k in VARIANTS}
    ratios = {k: [] for k in VARIANTS}
    for _ in range(args.rounds):
        runs = {}
        for name, kw in VARIANTS.items():
            model, opt = build()
            cbs = [] if kw is None else [Diagnostics(**kw)]
            runs[name] = (model, opt, cbs)
            fit(model, loss_fn, opt, data, epochs=1, callbacks=cbs, progress=False)  # warm-up
        per = {k: [] for k in VARIANTS}
        for _ in range(args.epochs):
            for name, (model, opt, cbs) in runs.items():
                h = fit(model, loss_fn, opt, data, epochs=1, callbacks=cbs, progress=False)
                per[name].append(h["time"][0])
        base = statistics.median(per["off"])
        for name in VARIANTS:
            t = statistics.median(per[name])
            times[name].append(t)
            ratios[name].append(t / base)
    print(f"W1, {len(data)} steps per epoch, {args.rounds} rounds x {args.epochs} epochs")
    print("| variant | median s/epoch | ratio to off (median of rounds) | per-round ratios |")
    print("| --- | --- | --- | --- |")
    for name in VARIANTS:
        rr = ", ".join(f"{r:.3f}" for r in ratios[name])
        print(f"| {name} | {statistics.median(times[name]):.3f} | "
              f"{statistics.median(ratios[name]):.3f} | {rr} |")


if __name__ == "__main__":
    main()
