"""The deep-chain benchmark: forward + backward through a chain of 100,000 ops.

Shows that backward is iterative (no RecursionError) and linear in the chain's length: the time
per op stays flat as the chain grows. Peak memory is the process's peak RSS (each chain length
runs in its own process) minus the RSS after importing minigrad.

    python benchmarks/bench_chain.py --lengths 10000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_one(n: int, repeat: int) -> dict:
    import minigrad as mg

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fwd, bwd = [], []
    for _ in range(repeat):
        x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
        t0 = time.perf_counter()
        y = x
        for _ in range(n // 2):  # two ops per round: n ops in all
            y = (y * 1.0001).tanh()
        loss = y.sum()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
        del y, loss, x
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"n": n, "forward_s": statistics.median(fwd), "backward_s": statistics.median(bwd),
            "peak_extra_mib": peak - base_rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lengths", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--run-one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run_one:
        print(json.dumps(run_one(args.run_one, args.repeat)))
        return
    print(f"{'ops':>8} {'forward s':>10} {'backward s':>11} {'us/op (f+b)':>12} {'peak MiB':>9}")
    for n in args.lengths:
        out = subprocess.run([sys.executable, __file__, "--run-one", str(n), "--repeat",
                              str(args.repeat)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        per_op = 1e6 * (r["forward_s"] + r["backward_s"]) / n
        print(f"{n:>8} {r['forward_s']:>10.3f} {r['backward_s']:>11.3f} {per_op:>12.2f} "
              f"{r['peak_extra_mib']:>9.1f}")


if __name__ == "__main__":
    main()
