"""Where one training step's time goes: minigrad's public API on W1 or W3, split into phases.

    python benchmarks/profile_step.py --workload W1 [--steps 300] [--cprofile] [--no-step]

Phases, each timed around the same calls a user writes (medians over steps, microseconds):
forward (``model(x)`` and the loss: graph building and the NumPy kernels), backward
(``loss.backward()``: engine bookkeeping and kernels), ``opt.step()`` and ``opt.zero_grad()``.
Also reported: minor page faults per step (``resource.getrusage``), which count the fresh pages
that the step's large temporaries touch. ``--cprofile`` prints the 25 most expensive functions
by own time (tottime), to split graph building and bookkeeping from the kernels.
``--no-step`` leaves ``opt.step()`` out (the parameters stay as they are): what the rest of the
step costs when the optimizer's sweep over its buffers has not just evicted it from the caches.
``--sweep K`` replaces ``opt.step()`` by the floor's Adam (numpy_hand's 13 ufunc calls) over K
private buffers of the model's size, reused cyclically: the same sweep with no minigrad object
touched, to tell the cost of the sweep itself from that of the objects the step visits.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_training import build_minigrad_model  # noqa: E402
from workloads import BETA1, BETA2, EPS, LR, batch_order, load_data  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", default="W1", choices=["W1", "W2", "W3"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--dump", help="with --cprofile: also write the pstats file here")
    parser.add_argument("--no-step", action="store_true", help="leave opt.step() out")
    parser.add_argument("--sweep", type=int, default=0, metavar="K",
                        help="instead of opt.step(), the floor's 13-ufunc Adam over K private "
                             "buffers of the model's size (5: the floor's g, m, v, tmp, "
                             "params), minigrad's parameters untouched")
    args = parser.parse_args()

    import minigrad as mg
    from minigrad import nn

    x, y = load_data(args.workload)
    batches = [b for epoch in batch_order(args.workload, 10, len(x)) for b in epoch]
    model = build_minigrad_model(args.workload)
    loss_fn = nn.CrossEntropyLoss()
    opt = mg.optim.Adam(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS)
    clock = time.perf_counter
    sweep = _floor_adam(sum(p.numel() for p in model.parameters()), args.sweep) \
        if args.sweep else None

    def step(idx, times=None):
        t0 = clock()
        loss = loss_fn(model(mg.tensor(x[idx])), mg.tensor(y[idx]))
        t1 = clock()
        loss.backward()
        t2 = clock()
        if sweep is not None:
            sweep()
        elif not args.no_step:
            opt.step()
        t3 = clock()
        opt.zero_grad()
        t4 = clock()
        loss.item()
        if times is not None:
            times.append((t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0))

    for idx in batches[:50]:
        step(idx)
    if args.cprofile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for idx in batches[50:50 + args.steps]:
            step(idx)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        if args.dump:
            prof.dump_stats(args.dump)
        return
    times: list = []
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for idx in batches[50:50 + args.steps]:
        step(idx, times)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / args.steps
    names = ("forward+loss", "backward", "opt.step", "zero_grad", "whole step")
    print(f"{args.workload}: medians over {args.steps} steps, microseconds")
    for i, name in enumerate(names):
        print(f"  {name:13s} {statistics.median(t[i] for t in times) * 1e6:9.1f}")
    print(f"  minor page faults per step: {faults:.1f}")


def _floor_adam(n: int, k: int):
    """The floor's flat Adam (../shared/floor/frameworks/numpy_hand.py, ``_adam``) as a
    closure over ``k`` private float32 buffers of ``n`` numbers: g, m, v, tmp and params (in
    turn, ``k`` < 5 makes some of them one buffer); each buffer past the fifth gets a copy of g
    first (as minigrad's gather and its second scratch array touch two more)."""
    import numpy as np

    bufs = [np.full(n, 0.5, np.float32) for _ in range(max(k, 1))]
    g, m, v, tmp, flat = (bufs[i % len(bufs)] for i in range(5))
    extra = bufs[5:]
    b1, b2, eps = BETA1, BETA2, EPS

    def adam():
        for e in extra:
            np.copyto(e, g)
        np.subtract(g, m, out=tmp)
        np.multiply(tmp, 1.0 - b1, out=tmp)
        np.add(m, tmp, out=m)
        np.multiply(g, g, out=tmp)
        np.subtract(tmp, v, out=tmp)
        np.multiply(tmp, 1.0 - b2, out=tmp)
        np.add(v, tmp, out=v)
        np.sqrt(v, out=tmp)
        np.multiply(tmp, 1.0 / 0.5, out=tmp)
        np.add(tmp, eps, out=tmp)
        np.divide(m, tmp, out=tmp)
        np.multiply(tmp, 0.0, out=tmp)  # lr / bc1 in the floor; 0 keeps the buffers finite
        np.subtract(flat, tmp, out=flat)

    return adam


if __name__ == "__main__":
    main()
