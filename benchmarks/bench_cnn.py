"""W4: LeNet-5 training epochs, minigrad against a hand-written NumPy im2col floor, same run.

LeNet-5 as in issue 10: Conv2d(1,6,5,padding=2)-ReLU-MaxPool2d(2)-Conv2d(6,16,5)-ReLU-
MaxPool2d(2)-Flatten-Linear(400,120)-ReLU-Linear(120,84)-ReLU-Linear(84,10), on 28x28
synthetic inputs (4,096 rows, 10 classes from a fixed random linear teacher), batch 64 (64 steps
per epoch), Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), mean softmax cross-entropy, float32,
one BLAS thread. Every variant starts from the same weights and sees the same batches.

Variants:
  numpy     hand-written im2col LeNet: float32 throughout, activations kept channel-major
            (C, N, H, W) so that no conv needs a transpose, im2col by one copy of a strided
            view into a preallocated buffer, GEMMs written into preallocated outputs,
            col2im as one strided add per kernel offset into a preallocated buffer, max
            pooling by three in-place maxima of strided slices, in-place Adam (the floor)
  minigrad  nn.Sequential of the layers above + nn.CrossEntropyLoss + optim.Adam
  torch     PyTorch eager on the CPU (skipped with a note when torch is not installed)

Timing as in bench_training.py: each round is one process that builds every variant, runs one
untimed warm-up epoch of each, then alternates them epoch by epoch; the ratio to the NumPy
floor is taken per round and the median over rounds is reported. Peak RSS comes from one
process per variant. The im2col memory bound is printed: the largest column buffer (conv1:
C_in k^2 x N H_out W_out floats) and all columns kept for the backward pass.

    python benchmarks/bench_cnn.py                   # 3 rounds x 3 timed epochs
    python benchmarks/bench_cnn.py --rounds 5 --epochs 5
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import as_strided  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from workloads import BETA1, BETA2, EPS, LR, HandAdam  # noqa: E402

ROWS, BATCH, SIDE, CLASSES = 4096, 64, 28, 10
# (kind, shape) of every parameter, in LeNet-5's order
PARAM_SHAPES = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,),
                (10, 84), (10,)]


def load_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((ROWS, 1, SIDE, SIDE), dtype=np.float32)
    teacher = rng.standard_normal((SIDE * SIDE, CLASSES), dtype=np.float32)
    y = (x.reshape(ROWS, -1) @ teacher).argmax(1).astype(np.int64)
    return x, y


def init_weights():
    """torch's default init (U(+-1/sqrt(fan_in)) for weights and biases), float32."""
    rng = np.random.default_rng(1)
    out = []
    for i in range(0, len(PARAM_SHAPES), 2):
        w_shape = PARAM_SHAPES[i]
        bound = 1 / np.sqrt(np.prod(w_shape[1:]))
        out.append(rng.uniform(-bound, bound, w_shape).astype(np.float32))
        out.append(rng.uniform(-bound, bound, PARAM_SHAPES[i + 1]).astype(np.float32))
    return out


def batch_order(epochs):
    rng = np.random.default_rng(2)
    steps = ROWS // BATCH
    return [[p[i * BATCH:(i + 1) * BATCH] for i in range(steps)]
            for p in (rng.permutation(ROWS) for _ in range(epochs))]


# ----------------------------------------------------------------------------- hand NumPy


class HandConv:
    """A stride-1 conv on channel-major (C, N, H, W) activations with preallocated buffers."""

    def __init__(self, c_in, c_out, k, pad, n, side):
        self.k, self.pad, self.c_in, self.c_out = k, pad, c_in, c_out
        self.side_p = side + 2 * pad
        self.out = self.side_p - k + 1
        f32 = np.float32
        self.xpad = np.zeros((c_in, n, self.side_p, self.side_p), f32)
        self.cols = np.empty((c_in, k, k, n, self.out, self.out), f32)
        self.cols2 = self.cols.reshape(c_in * k * k, -1)
        self.y = np.empty((c_out, n * self.out * self.out), f32)
        self.dw = np.empty((c_out, c_in * k * k), f32)
        self.dcols = np.empty_like(self.cols2)
        self.dx = np.empty_like(self.xpad)

    def forward(self, x, w, b):
        p, s = self.pad, self.side_p
        if p:
            self.xpad[:, :, p:s - p, p:s - p] = x
            src = self.xpad
        else:
            src = x
        st = src.strides
        o = self.out
        view = as_strided(src, (self.c_in, self.k, self.k, src.shape[1], o, o),
                          (st[0], st[2], st[3], st[1], st[2], st[3]))
        np.copyto(self.cols, view)
        np.matmul(w.reshape(self.c_out, -1), self.cols2, out=self.y)
        self.y += b[:, None]
        return self.y.reshape(self.c_out, src.shape[1], o, o)

    def backward(self, gy, w, need_dx):
        g2 = gy.reshape(self.c_out, -1)
        np.matmul(g2, self.cols2.T, out=self.dw)
        db = g2.sum(1)
        if not need_dx:
            return self.dw.reshape(w.shape), db, None
        np.matmul(w.reshape(self.c_out, -1).T, g2, out=self.dcols)
        d = self.dcols.reshape(self.cols.shape)
        self.dx[...] = 0
        o = self.out
        for i in range(self.k):
            for j in range(self.k):
                self.dx[:, :, i:i + o, j:j + o] += d[:, i, j]
        p, s = self.pad, self.side_p
        dx = self.dx[:, :, p:s - p, p:s - p] if p else self.dx
        return self.dw.reshape(w.shape), db, dx


class HandPool:
    """2x2 stride-2 max pooling on (C, N, H, W), the gradient routed by equality masks."""

    def __init__(self, c, n, side):
        self.y = np.empty((c, n, side // 2, side // 2), np.float32)
        self.dx = np.empty((c, n, side, side), np.float32)

    def forward(self, x):
        self.x = x
        np.maximum(x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2], out=self.y)
        np.maximum(self.y, x[:, :, 1::2, 0::2], out=self.y)
        np.maximum(self.y, x[:, :, 1::2, 1::2], out=self.y)
        return self.y

    def backward(self, g):
        x, y = self.x, self.y
        for i in (0, 1):
            for j in (0, 1):
                np.multiply(x[:, :, i::2, j::2] == y, g, out=self.dx[:, :, i::2, j::2])
        return self.dx


def numpy_epoch_fn(x, y):
    params = init_weights()
    opt = HandAdam(params)
    conv1, conv2 = HandConv(1, 6, 5, 2, BATCH, 28), HandConv(6, 16, 5, 0, BATCH, 14)
    pool1, pool2 = HandPool(6, BATCH, 28), HandPool(16, BATCH, 10)
    rows = np.arange(BATCH)

    def train_step(xb, yb):
        w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = params
        a1 = conv1.forward(xb.transpose(1, 0, 2, 3), w1, b1)
        np.maximum(a1, 0, out=a1)
        p1 = pool1.forward(a1)
        a2 = conv2.forward(p1, w2, b2)
        np.maximum(a2, 0, out=a2)
        p2 = pool2.forward(a2)
        f = np.ascontiguousarray(p2.transpose(1, 0, 2, 3)).reshape(BATCH, 400)
        h3 = f @ w3.T
        h3 += b3
        np.maximum(h3, 0, out=h3)
        h4 = h3 @ w4.T
        h4 += b4
        np.maximum(h4, 0, out=h4)
        z = h4 @ w5.T
        z += b5
        z -= z.max(1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(1, keepdims=True)
        loss = -np.log(z[rows, yb]).mean()
        z[rows, yb] -= 1
        z *= 1.0 / BATCH
        g5w, g5b = z.T @ h4, z.sum(0)
        g = z @ w5
        g *= h4 > 0
        g4w, g4b = g.T @ h3, g.sum(0)
        g = g @ w4
        g *= h3 > 0
        g3w, g3b = g.T @ f, g.sum(0)
        g = (g @ w3).reshape(BATCH, 16, 5, 5).transpose(1, 0, 2, 3)
        g = pool2.backward(g)
        g *= a2 > 0
        g2w, g2b, g = conv2.backward(g, w2, True)
        g = pool1.backward(g)
        g *= a1 > 0
        g1w, g1b, _ = conv1.backward(g, w1, False)
        opt.step([g1w, g1b, g2w, g2b, g3w, g3b, g4w, g4b, g5w, g5b])
        return loss

    def epoch(batches):
        for idx in batches:
            train_step(x[idx], y[idx])

    epoch.step = train_step
    epoch.bound = {"conv1 columns (floats)": conv1.cols.size,
                   "conv2 columns (floats)": conv2.cols.size}
    return epoch


# ----------------------------------------------------------------------------- minigrad


def build_minigrad_model():
    import minigrad as mg
    from minigrad import nn

    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    with mg.no_grad():
        for p, w in zip(model.parameters(), init_weights()):
            p.array[...] = w
    return model


def minigrad_epoch_fn(x, y):
    import minigrad as mg
    from minigrad import nn, optim

    model = build_minigrad_model()
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS)

    def epoch(batches):
        for idx in batches:
            loss = loss_fn(model(mg.from_numpy(x[idx])), mg.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()

    return epoch


def torch_epoch_fn(x, y):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    with torch.no_grad():
        for p, w in zip(model.parameters(), init_weights()):
            p.copy_(torch.from_numpy(w))
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS)

    def epoch(batches):
        for idx in batches:
            loss = loss_fn(model(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()

    return epoch


VARIANTS = {"numpy": numpy_epoch_fn, "minigrad": minigrad_epoch_fn, "torch": torch_epoch_fn}


def check_same_trajectory(steps: int = 5) -> float:
    """Largest relative difference of the losses of the NumPy floor and minigrad over the first
    steps (both must compute the same network, or the timing compares different work)."""
    import minigrad as mg
    from minigrad import nn, optim

    x, y = load_data()
    batches = batch_order(1)[0][:steps]
    floor = numpy_epoch_fn(x, y)
    model = build_minigrad_model()
    opt = optim.Adam(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS)
    worst = 0.0
    for idx in batches:
        ref = floor.step(x[idx], y[idx])
        loss = nn.CrossEntropyLoss()(model(mg.from_numpy(x[idx])), mg.from_numpy(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        worst = max(worst, abs(float(loss.item()) - float(ref)) / abs(float(ref)))
    return worst


def run_one(variant: str, epochs: int) -> dict:
    import resource

    x, y = load_data()
    batches = batch_order(epochs + 1)
    epoch = VARIANTS[variant](x, y)
    if epoch is None:
        return {"skipped": True}
    epoch(batches[0])
    times = []
    for b in batches[1:]:
        t0 = time.perf_counter()
        epoch(b)
        times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"times": times, "rss_mib": rss}


def run_interleaved(variants: list[str], epochs: int) -> dict:
    x, y = load_data()
    batches = batch_order(epochs + 1)
    fns = {v: VARIANTS[v](x, y) for v in variants}
    fns = {v: f for v, f in fns.items() if f is not None}
    for f in fns.values():
        f(batches[0])
    times: dict[str, list[float]] = {v: [] for v in fns}
    for b in batches[1:]:
        for v, f in fns.items():
            t0 = time.perf_counter()
            f(b)
            times[v].append(time.perf_counter() - t0)
    return {"times": times, "steps": len(batches[0]), "bound": fns["numpy"].bound}


def _subprocess(args: list[str], env: dict) -> dict | None:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         env=env)
    if out.returncode != 0:
        print(f"failed: {' '.join(args)}\n{out.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--rounds", type=int, default=3, help="processes, each timing every variant")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per variant per round")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--no-rss", action="store_true", help="skip the peak-RSS processes")
    ap.add_argument("--run-one", metavar="VARIANT", help=argparse.SUPPRESS)
    ap.add_argument("--run-interleaved", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run_one:
        print(json.dumps(run_one(args.run_one, args.epochs)))
        return
    if args.run_interleaved:
        print(json.dumps(run_interleaved(args.variants, args.epochs)))
        return
    if "numpy" not in args.variants:
        args.variants.insert(0, "numpy")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {platform.processor() or platform.machine()}  "
          f"{os.cpu_count()} cores  python {platform.python_version()}  numpy {np.__version__}  "
          f"BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"# same network check: max relative loss difference, NumPy floor vs minigrad, first "
          f"5 steps: {check_same_trajectory():.1e}")
    env = dict(os.environ)
    env.update(MALLOC_MMAP_THRESHOLD_=str(2**30), MALLOC_TRIM_THRESHOLD_=str(2**30))
    times: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    steps = bound = None
    for _ in range(args.rounds):
        res = _subprocess(["--run-interleaved", "--epochs", str(args.epochs),
                           "--variants", *args.variants], env)
        if res is None:
            continue
        steps, bound = res["steps"], res["bound"]
        base = statistics.median(res["times"]["numpy"])
        for v, ts in res["times"].items():
            times.setdefault(v, []).extend(ts)
            ratios.setdefault(v, []).append(statistics.median(ts) / base)
    rss = {}
    if not args.no_rss:
        for v in times:
            r = _subprocess(["--run-one", v, "--epochs", "1"], env)
            rss[v] = r["rss_mib"] if r else float("nan")
    results = report(args, times, ratios, rss, steps, bound)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def report(args, times, ratios, rss, steps, bound) -> dict:
    """Print the table (median epoch, ratios to NumPy and torch, peak RSS); return it."""
    print(f"\nW4 LeNet-5 (batch {BATCH}, {steps} steps/epoch; {args.rounds} rounds x "
          f"{args.epochs} timed epochs)")
    mib = {k: 4 * v / 2**20 for k, v in bound.items()}
    print("im2col bound: " + ", ".join(f"{k} {v:,} = {mib[k]:.1f} MiB"
                                       for k, v in bound.items()))
    print(f"{'variant':<10} {'s/epoch':>9} {'ms/step':>8} {'x numpy':>8} {'x torch':>8} "
          f"{'peak RSS MiB':>13}")
    torch_ratio = statistics.median(ratios["torch"]) if "torch" in ratios else None
    results = {}
    for v in args.variants:
        if v not in times:
            note = "torch not installed" if v == "torch" else "not available"
            print(f"{v:<10} skipped ({note})")
            continue
        med, ratio = statistics.median(times[v]), statistics.median(ratios[v])
        vs_torch = ratio / torch_ratio if torch_ratio else float("nan")
        print(f"{v:<10} {med:9.4f} {1e3 * med / steps:8.3f} {ratio:8.2f} {vs_torch:8.2f} "
              f"{rss.get(v, float('nan')):13.0f}")
        results[v] = {"median_s": med, "ratio": ratio, "ratio_to_torch": vs_torch,
                      "ratios_per_round": ratios[v], "rss_mib": rss.get(v)}
    return results


if __name__ == "__main__":
    main()
