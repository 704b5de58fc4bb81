"""What fresh temporaries cost: the ceiling of a caching allocator, and batch norm / dropout.

    python3 benchmarks/bench_temporaries.py            # minigrad from this checkout
    PYTHONPATH=/tmp/base python3 benchmarks/bench_temporaries.py   # another checkout

1. Pure NumPy, W1's network (784-256-128-10, batch 128): forward and backward with a fresh
   array for every large result, against the same calls writing into buffers reused from
   call to call (``out=``). The second is what a caching allocator for NumPy arrays could at
   best achieve (no bookkeeping counted), so its gain bounds the gain of one.
2. minigrad's BatchNorm1d and Dropout(0.2), forward + backward on W2's (128, 512) and
   (128, 256) activations (an input that requires grad, gradients accumulated), with the
   minor page faults per call.

Least of 15 repeats (9 for part 1), microseconds per call, 1 BLAS thread.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import resource  # noqa: E402
import sys  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def best_us(f, number: int, repeat: int) -> float:
    return min(timeit.repeat(f, number=number, repeat=repeat)) / number * 1e6


def numpy_w1(reuse: bool, arrays: dict, bufs: dict):
    """One forward + backward of W1's MLP in NumPy; ``reuse``: large results into buffers."""
    x, w1, b1, w2, b2, w3, b3 = (arrays[k] for k in ("x", "w1", "b1", "w2", "b2", "w3", "b3"))

    def out(name, shape):
        if not reuse:
            return None
        if name not in bufs:
            bufs[name] = np.empty(shape, np.float32)
        return bufs[name]

    n = x.shape[0]
    y1 = np.matmul(x, w1.T, out=out("y1", (n, 256)))
    y1 += b1
    h1 = np.maximum(y1, 0, out=out("h1", (n, 256)))
    y2 = np.matmul(h1, w2.T, out=out("y2", (n, 128)))
    y2 += b2
    h2 = np.maximum(y2, 0, out=out("h2", (n, 128)))
    g3 = h2 @ w3.T + b3  # stands in for the loss gradient (small)
    gw3, gb3 = g3.T @ h2, g3.sum(0)
    gh2 = np.matmul(g3, w3, out=out("gh2", (n, 128)))
    g2 = np.multiply(gh2, h2 > 0, out=out("g2", (n, 128)))
    gw2, gb2 = np.matmul(g2.T, h1, out=out("gw2", (128, 256))), g2.sum(0)
    gh1 = np.matmul(g2, w2, out=out("gh1", (n, 256)))
    g1 = np.multiply(gh1, h1 > 0, out=out("g1", (n, 256)))
    gw1, gb1 = np.matmul(g1.T, x, out=out("gw1", (256, 784))), g1.sum(0)
    return gw1, gb1, gw2, gb2, gw3, gb3


def faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main() -> None:
    rng = np.random.default_rng(0)
    shapes = {"x": (128, 784), "w1": (256, 784), "b1": (256,), "w2": (128, 256),
              "b2": (128,), "w3": (10, 128), "b3": (10,)}
    arrays = {k: rng.standard_normal(s).astype(np.float32) * 0.05 for k, s in shapes.items()}
    bufs: dict = {}
    print("1. NumPy W1 forward + backward, us per call (3 alternations):")
    for _ in range(3):
        fresh = best_us(lambda: numpy_w1(False, arrays, bufs), 100, 9)
        reused = best_us(lambda: numpy_w1(True, arrays, bufs), 100, 9)
        print(f"   fresh temporaries {fresh:8.1f}   reused buffers {reused:8.1f}   "
              f"reused / fresh {reused / fresh:.3f}")

    import minigrad as mg
    from minigrad import nn

    print(f"2. minigrad ({os.path.dirname(mg.__file__)}), forward + backward, us per call:")
    mg.manual_seed(0)
    for c in (512, 256):
        h = mg.tensor(rng.standard_normal((128, c)).astype(np.float32), requires_grad=True)
        g = mg.tensor(rng.standard_normal((128, c)).astype(np.float32))
        for name, layer in (("BatchNorm1d", nn.BatchNorm1d(c)), ("Dropout(0.2)", nn.Dropout(0.2))):
            f0 = faults()
            t = best_us(lambda layer=layer, h=h, g=g: layer(h).backward(g), 300, 15)
            calls = 300 * 15
            print(f"   {name:<13} (128, {c}) {t:7.1f}   page faults per call "
                  f"{(faults() - f0) / calls:.2f}")


if __name__ == "__main__":
    main()
