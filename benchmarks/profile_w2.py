"""W2's op bodies, one by one: minigrad's forward and backward against the floor's lines.

    PYTHONPATH=$PWD python3 benchmarks/profile_w2.py [--cold]   # this checkout
    PYTHONPATH=/tmp/base python3 benchmarks/profile_w2.py       # another checkout

W2 = 784-512-BatchNorm1d-ReLU-Dropout(0.2)-256-BatchNorm1d-ReLU-Dropout(0.2)-10, batch 128.
For each of batch norm (statistics + normalisation), ReLU and dropout at W2's (128, 512) and
(128, 256) activations, the time of minigrad's op body (the ``Function``'s ``forward`` or
``backward`` on raw arrays, as ``apply`` and the engine call it: fresh results, no framework
bookkeeping) and of the same operation as ``../shared/floor/frameworks/numpy_hand.py`` writes
it (buffers reused with ``out=``, results written over the input), on the same arrays in the
same process. Medians of 300 single calls, microseconds, 1 BLAS thread; ``--cold`` evicts the
caches before each call (as in a training step, where each op's input was written by a GEMM
or another op long enough before), else the arrays are warm from the previous call. glibc is
told to serve these arrays from the heap and not to trim it (``mallopt``), as it does in a W2
training step after the first (0 minor page faults per step, BENCHMARKS.md h14ops); a bare
loop of fresh 256 KiB results would otherwise fault on every call, which a step does not. The
floor overwrites its input, so its lines run on a copy refreshed, untimed, before each call.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import ctypes  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from minigrad import backend  # noqa: E402
from minigrad.ops import activation, normalization  # noqa: E402
from minigrad.ops.dropout import Dropout  # noqa: E402

F32 = np.float32
EPS, MOMENTUM, P = 1e-5, 0.1, 0.2


def _heap_like_a_step() -> None:
    """mallopt(M_MMAP_THRESHOLD, 64 MiB) and mallopt(M_TRIM_THRESHOLD, 256 MiB) on glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-3, 64 << 20)
    libc.mallopt(-1, 256 << 20)


def _fn(cls, n_inputs: int):
    fn = cls.__new__(cls)
    fn.needs_input_grad = (True,) * n_inputs
    return fn


def minigrad_ops(x, g):
    """name -> callable running minigrad's op body on (x, grad)."""
    c = x.shape[1]
    gamma, beta = np.ones(c, F32), np.zeros(c, F32)
    rm, rv = np.zeros(c, F32), np.ones(c, F32)
    kw = dict(axes=(0,), pshape=(1, c))

    def bn_forward():
        mean, invstd, centered = normalization._batch_norm_statistics(
            x, rm, rv, None, use_batch=True, update=True, momentum=MOMENTUM, eps=EPS, **kw)
        fn = _fn(normalization.BatchNorm, 3)
        fn.forward(x, gamma, beta, mean=mean, invstd=invstd, batch_stats=True,
                   centered=centered, **kw)
        return fn

    bn = bn_forward()
    relu = _fn(activation.ReLU, 1)
    relu.forward(x)
    drop = _fn(Dropout, 1)
    drop.forward(x, P)
    return {
        "batch_norm forward": bn_forward,
        "batch_norm backward": lambda: bn.backward(g),
        "relu forward": lambda: relu.forward(x),
        "relu backward": lambda: relu.backward(g, *relu.saved),
        "dropout forward": lambda: drop.forward(x, P),
        "dropout backward": lambda: drop.backward(g),
    }


def floor_ops(x, g, work):
    """name -> callable running the floor's lines; ``work`` is the input they overwrite (the
    caller refreshes it from x or g before each call, untimed)."""
    n, c = x.shape
    gamma, beta = np.ones(c, F32), np.zeros(c, F32)
    ggamma, gbeta = np.empty(c, F32), np.empty(c, F32)
    rm, rv = np.zeros(c, F32), np.ones(c, F32)
    xhat, tmp = np.empty_like(x), np.empty_like(x)
    mask, keep, u = np.empty(x.shape, np.bool_), np.empty(x.shape, np.bool_), np.empty_like(x)
    rng, scale = np.random.default_rng(0), 1.0 / (1.0 - P)
    state = {}

    def bn_forward():
        mean = work.mean(axis=0)
        np.subtract(work, mean, out=xhat)
        np.multiply(xhat, xhat, out=tmp)
        var = tmp.mean(axis=0)
        state["inv"] = inv = 1.0 / np.sqrt(var + EPS)
        xhat.__imul__(inv)
        rm.__imul__(1.0 - MOMENTUM)
        rm.__iadd__(MOMENTUM * mean)
        rv.__imul__(1.0 - MOMENTUM)
        rv.__iadd__((MOMENTUM * n / (n - 1)) * var)
        np.multiply(xhat, gamma, out=work)
        work.__iadd__(beta)

    def bn_backward():
        np.sum(work, axis=0, out=gbeta)
        np.multiply(work, xhat, out=tmp)
        np.sum(tmp, axis=0, out=ggamma)
        np.multiply(xhat, ggamma * gamma * (1.0 / n), out=tmp)
        work.__imul__(gamma)
        work.__isub__(gbeta * gamma * (1.0 / n))
        work.__isub__(tmp)
        work.__imul__(state["inv"])

    def relu_forward():
        np.greater(work, 0, out=mask)
        np.multiply(work, mask, out=work)

    def relu_backward():
        np.multiply(work, mask, out=work)

    def dropout_forward():
        rng.random(out=u, dtype=F32)
        np.greater_equal(u, P, out=keep)
        np.multiply(work, keep, out=work)
        work.__imul__(scale)

    def dropout_backward():
        np.multiply(work, keep, out=work)
        work.__imul__(scale)

    work[...] = x
    bn_forward()
    work[...] = x
    relu_forward()
    work[...] = x
    dropout_forward()
    return {"batch_norm forward": bn_forward, "batch_norm backward": bn_backward,
            "relu forward": relu_forward, "relu backward": relu_backward,
            "dropout forward": dropout_forward, "dropout backward": dropout_backward}


def median_us(call, prep=None, evict=None, calls: int = 300) -> float:
    """Median over ``calls`` single calls, microseconds; ``prep`` and ``evict`` run untimed
    before each."""
    times, clock = [], time.perf_counter
    for _ in range(calls):
        if prep is not None:
            prep()
        if evict is not None:
            evict()
        t = clock()
        call()
        times.append(clock() - t)
    return statistics.median(times) * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cold", action="store_true",
                   help="evict the caches (write a 32 MiB buffer) before each call")
    args = p.parse_args()
    _heap_like_a_step()
    backend.default_generator.manual_seed(0)
    rng = np.random.default_rng(1)
    big = np.zeros(8 << 20, F32)
    evict = (lambda: big.__iadd__(1.0)) if args.cold else None
    print(f"median us per call, 1 BLAS thread, caches {'cold' if args.cold else 'warm'}")
    print(f"{'shape':>10}  {'op':<20} {'minigrad':>9} {'floor':>9} {'ratio':>6}")
    total_m = total_f = 0.0
    for shape in ((128, 512), (128, 256)):
        x = rng.standard_normal(shape, dtype=F32)
        g = rng.standard_normal(shape, dtype=F32)
        work = np.empty_like(x)
        mine, floor = minigrad_ops(x, g), floor_ops(x, g, work)
        for name in mine:
            src = g if "backward" in name else x
            t_m = median_us(mine[name], None, evict)
            t_f = median_us(floor[name], lambda w=work, a=src: w.__setitem__(Ellipsis, a), evict)
            total_m, total_f = total_m + t_m, total_f + t_f
            print(f"{str(shape):>10}  {name:<20} {t_m:9.1f} {t_f:9.1f} {t_m / t_f:6.2f}")
    print(f"{'':>10}  {'sum':<20} {total_m:9.1f} {total_f:9.1f} {total_m / total_f:6.2f}")

if __name__ == "__main__":
    main()
