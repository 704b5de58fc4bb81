"""How much of a W3 step is the framework around the ops: graph building and engine bookkeeping.

    python3 benchmarks/overhead_step.py [--checkout DIR]

Three measurements of a W3-shaped step (MLP 64-64-64-10, ReLU, batch 16, cross-entropy; the
public API as a user writes it: ``nn.Sequential``, ``nn.CrossEntropyLoss``, ``loss.backward()``):

1. Forward and backward through the API against the same op bodies (``Linear``, ``ReLU``,
   ``CrossEntropy`` ``forward``/``backward``, the class-index check) called directly on raw
   arrays, in the same order, with the gradients kept as ``.grad`` would keep them. The
   difference is the framework's per-node work: ``Module.__call__``, argument checks,
   ``minigrad.tensor`` copies, ``Function.apply``, Tensor construction (forward); the engine's
   ordering, routing, ownership checks and leaf finishing, and freeing the graph (backward).
   CPU time, minimum over blocks (the machine is shared).
2. Python-level calls per phase (``sys.setprofile``: Python functions and C functions called
   from Python), the count the issue asks to reduce.
3. The step with the cyclic garbage collector on and off, and gen-0 collections per step: the
   graph holds no reference cycles, so the collector should cost nothing.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import collections  # noqa: E402
import gc  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

_ROOT = (sys.argv[sys.argv.index("--checkout") + 1] if "--checkout" in sys.argv
         else os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.abspath(_ROOT))

import minigrad as mg  # noqa: E402
from minigrad import nn  # noqa: E402
from minigrad.nn.functional import _check_classes  # noqa: E402
from minigrad.ops.activation import ReLU  # noqa: E402
from minigrad.ops.linalg import Linear  # noqa: E402
from minigrad.ops.loss import CrossEntropy  # noqa: E402

_new = object.__new__


def setup():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 64)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    mg.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                        nn.Linear(64, 10))
    return x, y, net, nn.CrossEntropyLoss(), list(net.parameters())


def bodies_forward(x, y, arrays):
    """The op bodies of the forward pass on raw arrays (what Function.apply would call)."""
    fns, h = [], np.array(x)
    for i in range(3):
        f = _new(Linear)
        f.needs_input_grad = (i > 0, True, True)
        h = f.forward(h, arrays[2 * i], arrays[2 * i + 1])
        fns.append(f)
        if i < 2:
            r = _new(ReLU)
            r.needs_input_grad = (True,)
            h = r.forward(h)
            fns.append(r)
    safe, valid = _check_classes(np.array(y), 10, -100)
    ce = _new(CrossEntropy)
    ce.needs_input_grad = (True,)
    ce.forward(h, safe, valid, None, "mean", 0.0)
    return fns, ce


def bodies_backward(fns, ce, grads):
    """The op bodies of the backward pass; parameter gradients kept as the new ``.grad``."""
    (g,) = ce.backward(np.ones((), np.float32), *ce.saved)
    k = len(grads) - 1
    for f in reversed(fns):
        out = f.backward(g, *f.saved)
        if len(out) == 3:
            g, grads[k - 1], grads[k] = out
            k -= 2
        else:
            (g,) = out


def best_time(fn, steps: int = 200, blocks: int = 30) -> float:
    best = float("inf")
    for _ in range(blocks):
        t0 = time.process_time()
        for _ in range(steps):
            fn()
        best = min(best, (time.process_time() - t0) / steps)
    return best * 1e6


def overhead() -> None:
    x, y, net, loss_fn, params = setup()
    arrays = [p.array for p in params]
    grads = [None] * len(arrays)

    def api_forward():
        loss_fn(net(mg.tensor(x)), mg.tensor(y))

    def api_both():
        loss_fn(net(mg.tensor(x)), mg.tensor(y)).backward()
        for p in params:
            p._grad = None  # what zero_grad() does, without the optimizer's loop

    def raw_forward():
        bodies_forward(x, y, arrays)

    def raw_both():
        bodies_backward(*bodies_forward(x, y, arrays), grads)

    best = dict.fromkeys(("af", "ab", "rf", "rb"), float("inf"))
    for _ in range(3):  # alternate, keep each one's minimum
        for key, fn in (("af", api_forward), ("ab", api_both), ("rf", raw_forward),
                        ("rb", raw_both)):
            best[key] = min(best[key], best_time(fn))
    api_b, raw_b = best["ab"] - best["af"], best["rb"] - best["rf"]
    print("us per step (CPU time, minimum)      forward  backward")
    print(f"  through the public API             {best['af']:7.1f}  {api_b:8.1f}")
    print(f"  op bodies alone, raw arrays        {best['rf']:7.1f}  {raw_b:8.1f}")
    print(f"  framework (difference)             {best['af'] - best['rf']:7.1f}  "
          f"{api_b - raw_b:8.1f}")


def call_counts() -> None:
    x, y, net, loss_fn, params = setup()
    opt = mg.optim.Adam(params, lr=1e-3)

    def phases():
        opt.zero_grad()
        yield "zero_grad"
        loss = loss_fn(net(mg.tensor(x)), mg.tensor(y))
        yield "forward"
        loss.backward()
        yield "backward"
        opt.step()
        yield "opt.step"
        loss.item()
        yield "item"

    for _ in range(20):
        for _ in phases():
            pass
    counts: collections.Counter = collections.Counter()
    phase = [""]

    def profiler(frame, event, arg):
        if event in ("call", "c_call"):
            counts[phase[0]] += 1

    steps = phases()
    for name in ("zero_grad", "forward", "backward", "opt.step", "item"):
        phase[0] = name
        sys.setprofile(profiler)
        next(steps)
        sys.setprofile(None)
    counts = {k: v - 1 for k, v in counts.items()}  # less the generator's resumption
    print("Python-level calls per step: " + ", ".join(f"{k} {v}" for k, v in counts.items())
          + f"; total {sum(counts.values())}")


def collector() -> None:
    x, y, net, loss_fn, params = setup()
    opt = mg.optim.Adam(params, lr=1e-3)
    xt, yt = mg.tensor(x), mg.tensor(y)

    def step():
        opt.zero_grad()
        loss_fn(net(xt), yt).backward()
        opt.step()

    for _ in range(200):
        step()
    gc.enable()
    before = gc.get_stats()[0]["collections"]
    on = best_time(step, blocks=10)
    per_step = (gc.get_stats()[0]["collections"] - before) / 2000
    gc.disable()
    off = best_time(step, blocks=10)
    gc.enable()
    print(f"whole step: gc on {on:.1f} us ({per_step:.3f} gen-0 collections a step), "
          f"gc off {off:.1f} us")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkout", help="import minigrad from this directory")
    ap.parse_args()
    overhead()
    call_counts()
    collector()


if __name__ == "__main__":
    main()
