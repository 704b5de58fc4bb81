"""GPU benchmark: an optimizer step with the fused kernels (minigrad/optim/fused.py) against the
same step without them (the update's ~10 CuPy ufunc launches per flat group), on CuPy.

Models (float32 parameters on the GPU, a fixed random gradient each, every optimizer with the
options that use all of its state):
  small  50 Linear(32, 32) layers: 100 tensors, 52,800 numbers, laid out in one flat group
  w3     the 64-64-64-10 MLP of W3 (6 tensors, one flat group)
  mlp    bench_optim.py's model (784-256-128-10 + a 1024 x 1024 layer): only its small tensors
         are laid out flat (flat.py's FLAT_MEAN_NUMEL), the large ones go per tensor, unfused

Timing: two optimizers over two copies of the parameters, one with ``fused.ENABLED`` on and
one off; rounds alternate them; in each round ``--steps`` steps are timed with CUDA events
after a synchronize; reported are the median ms per step of each and their same-run ratio.
After the rounds both have taken the same steps on the same gradients: the largest relative
difference of their parameters is printed too (the fused kernels compute the update's numbers
to float32 round-off; docs/gpu.md).

    PYTHONPATH=. python3 benchmarks/bench_fused_optim.py                # needs CuPy and a GPU
    PYTHONPATH=. python3 benchmarks/bench_fused_optim.py --model w3 --only Adam SGD
    PYTHONPATH=. python3 benchmarks/bench_fused_optim.py --json fused.json
    PYTHONPATH=. python3 benchmarks/bench_fused_optim.py --dry-run      # CPU: checks the script

``--dry-run`` runs on the CPU with the kernels' NumPy form standing in for the GPU (the test
hook ``fused.HOST_RUNNER``): it checks that every path of this script works and that the two
sides agree; its timings mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import minigrad  # noqa: E402
from minigrad import optim  # noqa: E402
from minigrad.optim import fused  # noqa: E402

MODELS = {
    "small": [(32, 32), (32,)] * 50,
    "w3": [(64, 64), (64,), (64, 64), (64,), (10, 64), (10,)],
    "mlp": [(256, 784), (256,), (128, 256), (128,), (10, 128), (10,), (1024, 1024), (1024,)],
}

# every optimizer with a fused kernel, with the options that use all of its state
OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True),
    "SGDW": lambda ps: optim.SGDW(ps, lr=0.01, momentum=0.9, weight_decay=0.1),
    "Adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.01),
    "Adadelta": lambda ps: optim.Adadelta(ps, lr=1.0, weight_decay=0.01),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=1e-3, centered=True, momentum=0.9),
    "Adam": lambda ps: optim.Adam(ps, lr=1e-3),
    "AdamW": lambda ps: optim.AdamW(ps, lr=1e-3, amsgrad=True),
    "Adamax": lambda ps: optim.Adamax(ps, lr=1e-3),
    "NAdam": lambda ps: optim.NAdam(ps, lr=1e-3),
    "RAdam": lambda ps: optim.RAdam(ps, lr=1e-3),
    "AdaBelief": lambda ps: optim.AdaBelief(ps, lr=1e-3, amsgrad=True, weight_decay=0.01),
    "DiffGrad": lambda ps: optim.DiffGrad(ps, lr=1e-3),
    "AdaInject": lambda ps: optim.AdaInject(ps, lr=1e-3),
    "AngularGrad": lambda ps: optim.AngularGrad(ps, lr=1e-3),
    "Lion": lambda ps: optim.Lion(ps, lr=1e-4, weight_decay=0.1),
    "FTRL": lambda ps: optim.FTRL(ps, lr=0.5, l1_regularization_strength=0.01),
}


class Side:
    """One optimizer over its own copy of the parameters, fused or not."""

    def __init__(self, make, shapes, device, fused_on, seed=0):
        rng = np.random.default_rng(seed)
        self.params = [minigrad.Parameter(rng.normal(size=s).astype(np.float32) * 0.1,
                                          device=device) for s in shapes]
        for p, s in zip(self.params, shapes):
            p.grad = minigrad.Tensor(rng.normal(size=s).astype(np.float32), device=device)
        self.opt = make(self.params)
        self.fused_on = fused_on

    def steps(self, n):
        fused.ENABLED = self.fused_on
        for _ in range(n):
            self.opt.step()


def _timer(device):
    """``time(fn) -> seconds``: CUDA events on the GPU, perf_counter on the CPU."""
    if device == "cpu":
        def cpu_time(fn):
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start
        return cpu_time
    import cupy  # noqa: PLC0415

    def gpu_time(fn):
        cupy.cuda.Device().synchronize()
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        return cupy.cuda.get_elapsed_time(start, end) / 1e3
    return gpu_time


def _max_rel_diff(a_params, b_params):
    worst = 0.0
    for a, b in zip(a_params, b_params):
        x, y = (np.asarray(t.array.get() if hasattr(t.array, "get") else t.array)
                for t in (a, b))
        worst = max(worst, float(np.max(np.abs(x - y) / (np.abs(y) + 1e-30))))
    return worst


def bench(name, shapes, device, rounds, steps, warmup):
    make = OPTIMIZERS[name]
    sides = {"fused": Side(make, shapes, device, True), "unfused": Side(make, shapes, device,
                                                                       False)}
    for side in sides.values():
        side.steps(warmup)  # the state is created, the kernels compiled
    time_it = _timer(device)
    times = {k: [] for k in sides}
    for _ in range(rounds):
        for key, side in sides.items():
            times[key].append(time_it(lambda side=side: side.steps(steps)) / steps * 1e3)
    fused.ENABLED = True
    fused_ms, unfused_ms = (statistics.median(times[k]) for k in ("fused", "unfused"))
    return dict(optimizer=name, fused_ms=fused_ms, unfused_ms=unfused_ms,
                ratio=fused_ms / unfused_ms,
                max_rel_diff=_max_rel_diff(sides["fused"].params, sides["unfused"].params))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="small", choices=sorted(MODELS))
    ap.add_argument("--only", nargs="*", help="optimizer names (default: all fused ones)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=50, help="steps timed per round")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--dry-run", action="store_true",
                    help="CPU, kernels' NumPy form: checks the script, timings mean nothing")
    ap.add_argument("--json", help="write the results to this JSON file")
    args = ap.parse_args(argv)
    device = "cpu" if args.dry_run else "cuda"
    if args.dry_run:
        fused.HOST_RUNNER = lambda kernel, arrays, scalars: kernel.run_numpy(arrays, scalars)
    elif not minigrad.cuda_is_available():
        print("needs CuPy and a GPU (or --dry-run on the CPU)", file=sys.stderr)
        return 2
    names = args.only or list(OPTIMIZERS)
    shapes = MODELS[args.model]
    print(f"# {args.model}: {len(shapes)} tensors, {sum(int(np.prod(s)) for s in shapes):,} "
          f"numbers; {device}{' (DRY RUN: timings mean nothing)' if args.dry_run else ''}; "
          f"median of {args.rounds} rounds x {args.steps} steps")
    print(f"{'optimizer':12s} {'fused ms':>9s} {'unfused ms':>11s} {'ratio':>6s} "
          f"{'max rel diff':>13s}")
    results = []
    for name in names:
        r = bench(name, shapes, device, args.rounds, args.steps, args.warmup)
        results.append(r)
        print(f"{name:12s} {r['fused_ms']:9.4f} {r['unfused_ms']:11.4f} {r['ratio']:6.2f} "
              f"{r['max_rel_diff']:13.2e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(model=args.model, device=device, dry_run=args.dry_run,
                           machine=platform.platform(), results=results), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
