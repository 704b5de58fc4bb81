"""Optimizer step A/B in one process: the optimizers of another checkout against this one's.

The baseline's ``minigrad/optim`` is loaded as the package ``minigrad._optim_baseline`` (its
relative imports then resolve to this checkout's tensor, backend and autograd), so both sides
share every Tensor and the only difference is the optimizer code. The model is bench_optim's
(~1.3 M float32 parameters in 8 tensors, fixed gradients); steps of the two sides alternate, in
swapped order every round, so that machine noise hits both alike. Reported: median ms per step
of each side and their ratio (after / before), single-threaded BLAS.

    git archive 1892764 | tar -x -C /tmp/base
    python benchmarks/bench_optim_ab.py /tmp/base                  # every optimizer
    python benchmarks/bench_optim_ab.py /tmp/base --only SGD Adam --rounds 100
    python benchmarks/bench_optim_ab.py /tmp/base --only SWATS --kw eps=1e-30
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import minigrad  # noqa: E402
import minigrad.optim  # noqa: E402

SHAPES = [(256, 784), (256,), (128, 256), (128,), (10, 128), (10,), (1024, 1024), (1024,)]
NAMES = ["SGD", "SGDW", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "AMSGrad", "Adamax",
         "NAdam", "RAdam", "AdaBelief", "DiffGrad", "AdaInject", "AngularGrad", "Lion", "FTRL",
         "SWATS"]


def load_baseline(root: str):
    """``<root>/minigrad/optim`` as the package ``minigrad._optim_baseline``."""
    path = os.path.join(root, "minigrad", "optim")
    spec = importlib.util.spec_from_file_location(
        "minigrad._optim_baseline", os.path.join(path, "__init__.py"),
        submodule_search_locations=[path])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def make(package, name: str, init: list, grads: list, kwargs: dict | None = None):
    params = [minigrad.Parameter(a.copy()) for a in init]
    for p, g in zip(params, grads):
        p.grad = minigrad.Tensor(g)
    return getattr(package, name)(params, **(kwargs or {}))


def keyword(text: str) -> tuple[str, float]:
    """``--kw name=number``: a keyword argument of the optimizers built."""
    name, _, value = text.partition("=")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected name=number, got {text!r}") from None


def compare(before, after, rounds: int) -> tuple[float, float]:
    """Median ms per step of ``before`` and ``after``, stepped alternately."""
    for _ in range(3):
        before.step()
        after.step()
    times: dict[int, list[float]] = {0: [], 1: []}
    for i in range(rounds):
        order = ((0, before), (1, after)) if i % 2 == 0 else ((1, after), (0, before))
        for side, opt in order:
            t0 = time.perf_counter()
            opt.step()
            times[side].append(time.perf_counter() - t0)
    return float(np.median(times[0])) * 1e3, float(np.median(times[1])) * 1e3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("baseline", help="root of the baseline checkout (holds minigrad/optim)")
    ap.add_argument("--only", nargs="*", help="optimizer class names (default: all)")
    ap.add_argument("--rounds", type=int, default=60, help="timed steps per side")
    ap.add_argument("--kw", type=keyword, action="append", default=[],
                    help="name=number, passed to every optimizer (e.g. SWATS's eps=1e-30 "
                         "keeps it in its Adam phase: with the defaults it switches at step 2)")
    args = ap.parse_args(argv)
    kwargs = dict(args.kw)
    baseline = load_baseline(args.baseline)
    r = np.random.default_rng(0)
    init = [r.normal(size=s).astype(np.float32) * 0.05 for s in SHAPES]
    grads = [r.normal(size=s).astype(np.float32) for s in SHAPES]
    print(f"# optimizer step A/B, {sum(a.size for a in init):,} float32 parameters, "
          f"median of {args.rounds} alternating steps per side")
    print(f"{'optimizer':12s} {'before ms':>10s} {'after ms':>9s} {'after/before':>13s}")
    for name in args.only or NAMES:
        if not hasattr(baseline, name):
            print(f"{name:12s} (not in the baseline)")
            continue
        ms_before, ms_after = compare(make(baseline, name, init, grads, kwargs),
                                      make(minigrad.optim, name, init, grads, kwargs),
                                      args.rounds)
        print(f"{name:12s} {ms_before:10.3f} {ms_after:9.3f} {ms_after / ms_before:13.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
