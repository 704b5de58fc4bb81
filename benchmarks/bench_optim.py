"""Optimizer-step benchmark: every minigrad optimizer against a hand-written in-place NumPy Adam.

The model is ~1.3 M float32 parameters: the 784-256-128-10 MLP (weights and biases) plus a
1024 x 1024 layer with its bias, each with a fixed random gradient. Every subclass of
``minigrad.optim.optimizer.Optimizer`` found in the ``minigrad.optim`` submodules is discovered
at run time (so optimizers added later are included) and built with its default arguments.

Timing: single-threaded BLAS; the first steps (which allocate the state) are untimed warm-up;
then ``--repeat`` steps per optimizer are timed one by one, in rounds that alternate all the
variants so that machine noise hits them alike; reported is the median ms per step and the
ratio to the hand-written NumPy Adam measured in the same run. On CUDA each step is timed with
CUDA events after a synchronize.

Memory (CPU): ``tracemalloc`` (NumPy reports its array buffers to it) measures, for one step
after warm-up, the peak of memory allocated during the step above what was allocated before it:
the transient temporaries. It is reported in MB and in units of the largest parameter (4 MB,
the 1024 x 1024 weight): "tmp x" = how many largest-parameter-sized temporaries are alive at
once. "state x" = persistent optimizer state bytes / parameter bytes (Adam: 2.0).

    python benchmarks/bench_optim.py                    # CPU, all optimizers
    python benchmarks/bench_optim.py --repeat 50 --json optim.json
    python benchmarks/bench_optim.py --device cuda      # CuPy; adds a fused Adam kernel
    python benchmarks/bench_optim.py --model small      # 50 Linear(32, 32) vs one flat tensor

``--model small`` is the many-small-tensors case of issue 14: 50 Linear(32, 32) layers (100
tensors, 52,800 numbers), each optimizer timed on them and, in the same rounds, on ONE tensor
of the same total size ("<name> 1 tensor"); the column "x 1 tensor" is their ratio (the
target is <= 2: the per-tensor Python overhead of a step stays small).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import pkgutil  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from workloads import BETA1, BETA2, EPS, LR, SMALL_MODEL, HandAdam  # noqa: E402

import minigrad  # noqa: E402
import minigrad.optim  # noqa: E402
from minigrad.optim.optimizer import Optimizer  # noqa: E402

MODELS = {
    "mlp": [(256, 784), (256,), (128, 256), (128,), (10, 128), (10,), (1024, 1024), (1024,)],
    "small": SMALL_MODEL,
}
SHAPES = MODELS["mlp"]

SKIP_MODULES = {"optimizer", "clip", "lr_scheduler"}


def discover() -> list[type]:
    """Every Optimizer subclass defined in a minigrad.optim submodule, in name order."""
    found = {}
    for info in pkgutil.iter_modules(minigrad.optim.__path__):
        if info.name.startswith("_") or info.name in SKIP_MODULES:
            continue
        try:
            module = importlib.import_module(f"minigrad.optim.{info.name}")
        except Exception as err:  # a helper's half-written module must not stop the benchmark
            print(f"# skipped module minigrad.optim.{info.name}: {err!r}", file=sys.stderr)
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Optimizer) and cls is not Optimizer \
                    and cls.__module__ == module.__name__:
                found[cls.__name__] = cls
    return [found[k] for k in sorted(found, key=str.lower)]


# ----------------------------------------------------------------------------- baselines

def make_fused_adam(cp):
    """Adam as one CUDA kernel per parameter, two ways: ``cupy.fuse`` over the same equations,
    and an ``ElementwiseKernel``. Returns {name: step(params, grads, m, v, t)}."""
    kernel = cp.ElementwiseKernel(
        "T g, float32 beta1, float32 beta2, float32 step_size, float32 bc2_sqrt, float32 eps",
        "T p, T m, T v",
        """
        m = beta1 * m + (1 - beta1) * g;
        v = beta2 * v + (1 - beta2) * g * g;
        p -= step_size * m / (sqrt(v) / bc2_sqrt + eps);
        """,
        "minigrad_adam_step",
    )

    @cp.fuse()
    def fused(p, g, m, v, beta1, beta2, step_size, bc2_sqrt, eps):
        m1 = beta1 * m + (1 - beta1) * g
        v1 = beta2 * v + (1 - beta2) * g * g
        p1 = p - step_size * m1 / (cp.sqrt(v1) / bc2_sqrt + eps)
        return p1, m1, v1

    f32 = np.float32

    def scalars(t):
        return (f32(BETA1), f32(BETA2), f32(LR / (1 - BETA1**t)),
                f32(math.sqrt(1 - BETA2**t)), f32(EPS))

    def step_kernel(params, grads, ms, vs, t):
        b1, b2, ss, bc, eps = scalars(t)
        for p, g, m, v in zip(params, grads, ms, vs):
            kernel(g, b1, b2, ss, bc, eps, p, m, v)

    def step_fuse(params, grads, ms, vs, t):
        b1, b2, ss, bc, eps = scalars(t)
        for p, g, m, v in zip(params, grads, ms, vs):
            p1, m1, v1 = fused(p, g, m, v, b1, b2, ss, bc, eps)
            p[...], m[...], v[...] = p1, m1, v1   # fuse returns new arrays: copy back

    return {"cupy.ElementwiseKernel Adam": step_kernel, "cupy.fuse Adam": step_fuse}


# ----------------------------------------------------------------------------- variants

class Variant:
    """Something that can take one optimizer step over the benchmark model."""

    def __init__(self, name, step, state_bytes=None):
        self.name, self.step, self.state_bytes = name, step, state_bytes
        self.times: list[float] = []
        self.peak_extra = None


def build_variants(device: str, only: list[str] | None, shapes=None):
    shapes = SHAPES if shapes is None else shapes
    one_tensor = shapes is not SHAPES
    rng = np.random.default_rng(0)
    xp = minigrad.backend.Device(device).xp
    init = [rng.normal(0, 0.05, s).astype(np.float32) for s in shapes]
    grads = [rng.normal(0, 1e-3, s).astype(np.float32) for s in shapes]
    variants = []

    raw_p = [xp.asarray(a.copy()) for a in init]
    raw_g = [xp.asarray(g) for g in grads]
    hand = HandAdam(raw_p, xp)
    variants.append(Variant("hand-written Adam", lambda: hand.step(raw_g), hand.state_bytes))

    if device != "cpu":
        ms = [xp.zeros_like(p) for p in raw_p]
        vs = [xp.zeros_like(p) for p in raw_p]
        fp = [xp.asarray(a.copy()) for a in init]
        counter = [0]
        for name, fn in make_fused_adam(xp).items():
            def fused_step(fn=fn):
                counter[0] += 1
                fn(fp, raw_g, ms, vs, counter[0])
            variants.append(Variant(name, fused_step, lambda: 2 * sum(p.nbytes for p in fp)))

    for cls in discover():
        if only and cls.__name__ not in only:
            continue
        layouts = [(cls.__name__, init, grads)]
        if one_tensor:
            layouts.append((cls.__name__ + " 1 tensor", [np.concatenate([a.ravel() for a in init])],
                            [np.concatenate([g.ravel() for g in grads])]))
        for name, values, gradients in layouts:
            params = [minigrad.Parameter(a.copy(), device=device) for a in values]
            for p, g in zip(params, gradients):
                p.grad = minigrad.Tensor(g, device=device)
            try:
                opt = cls(params)
            except TypeError:
                opt = cls(params, lr=LR)
            variants.append(Variant(name, opt.step, lambda opt=opt: sum(
                v.nbytes for s in opt.state.values() for v in s.values()
                if hasattr(v, "nbytes"))))
    return variants


def measure(variants, repeat: int, warmup: int, device: str):
    sync, timer = (lambda: None), None
    if device != "cpu":
        cp = minigrad.backend.Device(device).xp
        sync = cp.cuda.Device().synchronize
        start, end = cp.cuda.Event(), cp.cuda.Event()

        def timer(fn):
            start.record()
            fn()
            end.record()
            end.synchronize()
            return cp.cuda.get_elapsed_time(start, end) / 1e3

    for v in variants:
        for _ in range(warmup):
            v.step()
    sync()
    rounds = max(1, min(repeat, 10))
    per_round = math.ceil(repeat / rounds)
    for _ in range(rounds):
        for v in variants:
            for _ in range(per_round):
                if timer is None:
                    t0 = time.perf_counter()
                    v.step()
                    v.times.append(time.perf_counter() - t0)
                else:
                    v.times.append(timer(v.step))
    if device == "cpu":
        for v in variants:
            tracemalloc.start()
            tracemalloc.reset_peak()
            before, _ = tracemalloc.get_traced_memory()
            v.step()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            v.peak_extra = peak - before


def print_one_tensor_ratios(variants) -> None:
    """Each optimizer on the many small tensors against itself on one tensor of the same size."""
    med = {v.name: statistics.median(v.times) for v in variants}
    print(f"# optimizer step over {len(MODELS['small'])} small tensors vs 1 tensor of the same "
          f"size, median of {len(variants[0].times)} steps (numpy {np.__version__}, "
          f"python {platform.python_version()})")
    print(f"{'optimizer':<14} {'ms/step':>9} {'1 tensor':>9} {'x 1 tensor':>10}")
    for name, t in med.items():
        if name.endswith(" 1 tensor") or name + " 1 tensor" not in med:
            continue
        one = med[name + " 1 tensor"]
        print(f"{name:<14} {t * 1e3:>9.3f} {one * 1e3:>9.3f} {t / one:>10.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=30, help="timed steps per optimizer")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--device", default="cpu", help="'cpu' or 'cuda' (needs CuPy and a GPU)")
    ap.add_argument("--only", nargs="*", help="optimizer class names to run (default: all)")
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--model", default="mlp", choices=sorted(MODELS),
                    help="mlp: the 1.3 M-parameter model; small: 50 Linear(32, 32)")
    args = ap.parse_args(argv)

    shapes = MODELS[args.model] if args.model != "mlp" else SHAPES
    variants = build_variants(args.device, args.only, shapes)
    measure(variants, args.repeat, args.warmup, args.device)
    n_params = sum(int(np.prod(s)) for s in shapes)
    param_bytes = 4 * n_params
    largest = 4 * max(int(np.prod(s)) for s in shapes)
    base = statistics.median(variants[0].times)
    rows = []
    for v in variants:
        med = statistics.median(v.times)
        rows.append({
            "optimizer": v.name, "median_ms": med * 1e3, "ratio_to_hand_adam": med / base,
            "peak_extra_mb": None if v.peak_extra is None else v.peak_extra / 2**20,
            "tmp_x_largest_param": None if v.peak_extra is None else v.peak_extra / largest,
            "state_x_params": v.state_bytes() / param_bytes if v.state_bytes else None,
        })

    if args.model != "mlp":
        print_one_tensor_ratios(variants)
        return 0
    print(f"# optimizer step, {n_params:,} float32 parameters in {len(shapes)} tensors, "
          f"device {args.device}, median of {len(variants[0].times)} steps "
          f"({platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"python {platform.python_version()})")
    print(f"{'optimizer':<28} {'ms/step':>9} {'x hand':>7} {'peak MB':>8} {'tmp x':>6} "
          f"{'state x':>8}")
    for r in rows:
        mb = "" if r["peak_extra_mb"] is None else f"{r['peak_extra_mb']:.1f}"
        tx = "" if r["tmp_x_largest_param"] is None else f"{r['tmp_x_largest_param']:.1f}"
        sx = "" if r["state_x_params"] is None else f"{r['state_x_params']:.1f}"
        print(f"{r['optimizer']:<28} {r['median_ms']:>9.3f} {r['ratio_to_hand_adam']:>7.2f} "
              f"{mb:>8} {tx:>6} {sx:>8}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": args.device, "n_params": n_params, "repeat": args.repeat,
                       "numpy": np.__version__, "python": platform.python_version(),
                       "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
