"""CPU time of one W3-shaped training step: the engine's fast path on and off, or two checkouts.

The backward engine skips a node's in-place version checks when the write clock shows that
nothing was written in place since the node was recorded (``minigrad/write_clock.py``). This
script times one W3-shaped step (MLP 64-64-64-10, ReLU, batch 16, cross-entropy, Adam) with
the skip (the default) and with every node checked (the engine's clock replaced by a value no
node recorded), alternating the two block by block in one process, and reports the minimum
and the median CPU time per step of each and their ratio. CPU time (``time.process_time``)
rather than wall time: on a shared machine it does not count the time the process waits for
a core.

With ``--compare DIR [DIR ...]`` it times the same step in other checkouts of minigrad
instead (one process per checkout and round, alternating, the minimum over rounds), for a
before/after comparison of a change.

    python3 benchmarks/bench_step.py                 # 40 blocks of 100 steps per variant
    python3 benchmarks/bench_step.py --blocks 10 --steps 50
    python3 benchmarks/bench_step.py --compare /tmp/before . --rounds 4
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

# --checkout DIR (used by --compare) imports minigrad from DIR instead of this checkout
_ROOT = (sys.argv[sys.argv.index("--checkout") + 1] if "--checkout" in sys.argv
         else os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.abspath(_ROOT))

import minigrad as mg  # noqa: E402
from minigrad import nn, optim  # noqa: E402
from minigrad.autograd import engine  # noqa: E402

NEVER_RECORDED = [None]  # a clock value no node holds: every node's versions get checked


def make_step():
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((16, 64)).astype(np.float32))
    y = mg.tensor(rng.integers(0, 10, 16))
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return step


def time_block(step, steps: int, check_always: bool) -> float:
    if not check_always:
        t0 = time.process_time()
        for _ in range(steps):
            step()
        return (time.process_time() - t0) / steps
    clock = engine.writes
    engine.writes = NEVER_RECORDED
    try:
        return time_block(step, steps, False)
    finally:
        engine.writes = clock


def compare(dirs, rounds: int, blocks: int, steps: int) -> None:
    """Each checkout's minimum CPU time per step, over rounds of one process per checkout."""
    best = {d: float("inf") for d in dirs}
    for _ in range(rounds):
        for d in dirs:
            out = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--checkout", d, "--single",
                 "--blocks", str(blocks), "--steps", str(steps)],
                capture_output=True, text=True, check=True).stdout
            best[d] = min(best[d], float(out))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {rounds} rounds x {blocks} blocks x {steps} "
          "steps, minimum CPU time per step")
    for d in dirs:
        print(f"{d:40s} {best[d] * 1e6:7.1f} us   x {best[d] / best[dirs[0]]:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blocks", type=int, default=40)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--compare", nargs="+", metavar="DIR")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--checkout", help=argparse.SUPPRESS)
    ap.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.compare:
        compare(args.compare, args.rounds, args.blocks, args.steps)
        return
    step = make_step()
    for _ in range(200):  # warm-up
        step()
    if args.single:  # one checkout's minimum, for --compare
        print(min(time_block(step, args.steps, False) for _ in range(args.blocks)))
        return
    times = {False: [], True: []}
    for _ in range(args.blocks):
        for check_always in (False, True):
            times[check_always].append(time_block(step, args.steps, check_always))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {args.blocks} blocks x {args.steps} steps, "
          "CPU time per step")
    for check_always, label in ((False, "write-clock skip (default)"),
                                (True, "every node checked")):
        t = times[check_always]
        med = statistics.median(t)
        print(f"{label:28s} min {min(t) * 1e6:7.1f} us   median {med * 1e6:7.1f} us")
    print(f"checked / skip: min {min(times[True]) / min(times[False]):.3f}, "
          f"median {statistics.median(times[True]) / statistics.median(times[False]):.3f}")


if __name__ == "__main__":
    main()
