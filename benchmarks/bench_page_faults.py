"""Minor page faults and wall time per training step: minigrad beside the hand-written floor.

    python3 benchmarks/bench_page_faults.py [--floor DIR] [--workload mlp-mnist]
    python3 benchmarks/bench_page_faults.py --workload mlp-bn-dropout --checkouts /tmp/base . \
        --rounds 3

Runs the floor harness's models (``<floor>/frameworks/numpy_hand.py`` and ``minigrad_fw.py``,
minigrad's public API) on the same batches, one process per framework, 1 BLAS thread, and
prints for each the median wall time of a step and the least CPU time per step of a block of
10 steps (each the least over ``--rounds`` processes, and its ratio to the floor's), and the
minor page faults per step
(``resource.getrusage(RUSAGE_SELF).ru_minflt``) after one warm-up epoch. A fresh temporary of
128 KiB or more that glibc serves from mmap faults on every step; one served from the heap
does not. minigrad is imported from this checkout.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

BLOCK = 10  # steps per CPU-time block: the least block is the figure least disturbed by others
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(floor: str, framework: str, workload: str, steps: int) -> dict:
    """One framework in this process: {'step_us': median, 'faults_per_step': mean}."""
    sys.path.insert(0, floor)
    import frameworks
    from common import SEED, WORKLOADS, batch_indices, init_params

    wl = WORKLOADS[workload]
    fw = frameworks.load(framework)
    fw.setup(1)
    data = wl.data()
    x, y = data.x_train, data.y_train
    model = fw.Model(wl.spec, init_params(wl.spec, SEED), wl.lr, SEED)
    for idx in batch_indices(len(y), wl.batch_size, 0, SEED):  # warm-up epoch
        model.train_step(x[idx], y[idx])
    batches = batch_indices(len(y), wl.batch_size, 1, SEED)[:steps]
    times, blocks = [], []
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for k in range(0, len(batches), BLOCK):
        c0 = time.process_time()
        for idx in batches[k:k + BLOCK]:
            t0 = time.perf_counter()
            model.train_step(x[idx], y[idx])
            times.append(time.perf_counter() - t0)
        blocks.append((time.process_time() - c0) / len(batches[k:k + BLOCK]))
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0
    return {"step_us": statistics.median(times) * 1e6, "cpu_min_us": min(blocks) * 1e6,
            "faults_per_step": faults / len(batches)}


def _default_floor() -> str:
    """``shared/floor`` in the checkout's parent folder or the one above (a worktree)."""
    for up in ("..", os.path.join("..", "..")):
        path = os.path.normpath(os.path.join(ROOT, up, "shared", "floor"))
        if os.path.isdir(path):
            return path
    return os.path.normpath(os.path.join(ROOT, "..", "shared", "floor"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--floor", default=_default_floor(),
                        help="the floor harness (default: shared/floor beside the checkout)")
    parser.add_argument("--workload", default="mlp-mnist",
                        choices=["mlp-mnist", "mlp-bn-dropout", "small-batch"])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--checkouts", nargs="+", default=[ROOT],
                        help="minigrad checkouts to time (default: this one)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one framework here
    args = parser.parse_args()
    floor = os.path.abspath(args.floor)
    if args.one:
        print(json.dumps(measure(floor, args.one, args.workload, args.steps)))
        return
    runs = [("numpy", ROOT)] + [("minigrad", os.path.abspath(c)) for c in args.checkouts]
    best: dict = {}
    for _ in range(args.rounds):
        for fw, checkout in runs:
            out = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--floor", floor, "--workload",
                 args.workload, "--steps", str(args.steps), "--one", fw],
                cwd=floor, env=dict(os.environ, PYTHONPATH=checkout), capture_output=True,
                text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            key = (fw, checkout)
            if key not in best:
                best[key] = r
            else:  # the least of each figure over rounds; faults: the most
                b = best[key]
                b["step_us"] = min(b["step_us"], r["step_us"])
                b["cpu_min_us"] = min(b["cpu_min_us"], r["cpu_min_us"])
                b["faults_per_step"] = max(b["faults_per_step"], r["faults_per_step"])
    f = best[runs[0]]
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {args.workload}, {args.rounds} round(s) of "
          f"{args.steps} steps: wall median, least CPU time of {BLOCK}-step blocks, x floor")
    for fw, checkout in runs:
        r = best[(fw, checkout)]
        name = "hand-NumPy floor" if fw == "numpy" else f"minigrad {checkout}"
        print(f"{name:<36} wall {r['step_us']:8.1f} us x {r['step_us'] / f['step_us']:.3f}  "
              f"cpu {r['cpu_min_us']:8.1f} us x {r['cpu_min_us'] / f['cpu_min_us']:.3f}  "
              f"page faults/step {r['faults_per_step']:.2f}")


if __name__ == "__main__":
    main()
