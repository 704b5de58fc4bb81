"""What the Diagnostics callback costs: fit epochs on W1 with and without it, same run.

W1 of ../shared/PEERS.md (see workloads.py): MLP 784-256-128-10, ReLU, batch 128, 156 steps per
epoch, Adam. Variants (each its own model from the same initial weights, same batches):

  off        fit(..., callbacks=[])                    the baseline
  epoch      fit(..., callbacks=[Diagnostics()])       measures the first batch of each epoch
  every10    fit(..., callbacks=[Diagnostics(every=10)])
  every1     fit(..., callbacks=[Diagnostics(every=1)]) every step (the worst case)

The machine is shared and a whole epoch's time drifts by tens of percent between epochs, so
each round builds the variants, runs one untimed warm-up of each, then alternates them on short
chunks of W1's batches (``--chunk`` steps, one fit epoch each); the ratio of each variant's
chunk to the baseline's chunk of the same round is taken per round and the median over rounds
is reported, with the median time per step. From ``every1`` (every step measured) the cost of
one measurement follows, and from it the overhead of the default (one measured batch per
156-step W1 epoch): ``(t_every1 - t_off) / (156 * t_off)`` per step.

    python benchmarks/bench_diagnostics.py                   # 15 rounds of 26-step chunks
    python benchmarks/bench_diagnostics.py --rounds 5 --chunk 20

It also times W1's forward and loss alone, plainly and inside ``minigrad.viz.trace_modules``
(what ``make_dot(..., group_by_module=...)`` needs), alternated 200 times: the traced cost.
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

from workloads import BETA1, BETA2, EPS, LR, WORKLOADS, init_weights, load_data  # noqa: E402

import minigrad  # noqa: E402
from minigrad import nn, optim  # noqa: E402
from minigrad.train import Diagnostics, fit  # noqa: E402

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
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--chunk", type=int, default=26, help="steps per timed chunk")
    args = p.parse_args()
    data = batches()
    steps_per_epoch = len(data)
    loss_fn = nn.CrossEntropyLoss()
    per_step = {k: [] for k in VARIANTS}
    ratios = {k: [] for k in VARIANTS}
    runs = {}
    for name, kw in VARIANTS.items():
        model, opt = build()
        cbs = [] if kw is None else [Diagnostics(**kw)]
        runs[name] = (model, opt, cbs)
        fit(model, loss_fn, opt, data[:args.chunk], epochs=1, callbacks=cbs,
            progress=False)  # warm-up
    for r in range(args.rounds):
        start = (r * args.chunk) % (steps_per_epoch - args.chunk)
        chunk = data[start:start + args.chunk]
        t = {}
        for name, (model, opt, cbs) in runs.items():
            h = fit(model, loss_fn, opt, chunk, epochs=1, callbacks=cbs, progress=False)
            t[name] = h["time"][0] / args.chunk
        for name in VARIANTS:
            per_step[name].append(t[name])
            ratios[name].append(t[name] / t["off"])
    med = {k: statistics.median(v) for k, v in per_step.items()}
    ratio = {k: statistics.median(v) for k, v in ratios.items()}
    print(f"W1 (784-256-128-10, batch 128, Adam), {args.rounds} rounds of {args.chunk}-step "
          "chunks, variants alternated")
    print("| variant | median ms/step | ratio to off (median of rounds) |")
    print("| --- | --- | --- |")
    for name in VARIANTS:
        print(f"| {name} | {1e3 * med[name]:.2f} | {ratio[name]:.3f} |")
    cost = (ratio["every1"] - 1) * med["off"]
    share = cost / (steps_per_epoch * med["off"])
    print(f"one measurement costs about {1e3 * cost:.2f} ms ({ratio['every1'] - 1:.2f} training "
          f"steps); one per {steps_per_epoch}-step W1 epoch (the default, Diagnostics()) adds "
          f"{100 * share:.2f}% to the epoch ('epoch' above measures once per {args.chunk}-step "
          "chunk, since each chunk is one fit epoch)")
    traced_forward(data)


def traced_forward(data, repeats: int = 200) -> None:
    """Median forward + loss time of W1, plain and inside trace_modules, alternated."""
    import time  # noqa: PLC0415

    from minigrad.viz import trace_modules  # noqa: PLC0415

    model, _ = build()
    loss_fn = nn.CrossEntropyLoss()
    x, y = data[0]
    plain, traced = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        loss_fn(model(x), y)
        t1 = time.perf_counter()
        with trace_modules(model):
            loss_fn(model(x), y)
        t2 = time.perf_counter()
        plain.append(t1 - t0)
        traced.append(t2 - t1)
    ratio = statistics.median(t / p for p, t in zip(plain, traced))
    print(f"forward + loss, batch 128: plain {1e3 * statistics.median(plain):.2f} ms, inside "
          f"trace_modules {1e3 * statistics.median(traced):.2f} ms (x{ratio:.2f}, median of "
          f"{repeats} alternated pairs)")


if __name__ == "__main__":
    main()
