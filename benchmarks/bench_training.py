"""Training-epoch benchmark: minigrad against hand-written NumPy (and optional peers), same run.

Workloads W1, W2, W3 of ../shared/PEERS.md (see workloads.py), single-threaded BLAS.

Timing: each round is one process that builds every variant, runs 1 untimed warm-up epoch of
each, then alternates the variants epoch by epoch, so that each epoch of minigrad is timed on
the same core, moments away from the hand-written NumPy epoch it is compared with (on these
shared virtual machines a core's speed drifts by 30% or more between processes). The ratio of
each variant to NumPy is taken per round and the median over rounds is reported, with the
median epoch time. Peak RSS comes from separate processes, one per variant (1 warm-up and 1
timed epoch), so that each figure is the variant's own.

Every process runs with glibc's malloc thresholds raised (MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ at 1 GiB) unless --default-malloc is given: with the defaults, whether a
large temporary (an 800 KB gradient, say) is served from the heap or from fresh pages that fault
in again depends on the process's allocation history, and that alone moved the hand-written NumPy
W1 epoch between 0.47 s and 1.04 s on the same machine. Pinned, the hand-written NumPy figures
match those in ../shared/PEERS.md. Reported: the median epoch,
the ratio to hand-written NumPy measured in the same run, and peak RSS.

Variants:
  numpy          HandMLP: hand-written forward + backward + Adam on flat buffers, reused
                 activations, fused softmax-CE (the floor; baseline_vs_floor.py checks it
                 against ../shared/floor)
  minigrad_raw   minigrad tensors and ops (x @ W.T + b, relu, log_softmax, gather), in-place Adam
  minigrad_nn    nn.Sequential(Linear, ReLU, ...) + nn.CrossEntropyLoss + optim.Adam
  minigrad_nogc  minigrad_nn with gc disabled (shows whether the graph makes reference cycles)
  torch          PyTorch eager on the CPU (skipped with a note when torch is not installed)

    python benchmarks/bench_training.py                      # W1 W2 W3, all variants
    python benchmarks/bench_training.py --workloads W3 --rounds 5 --epochs 5
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from workloads import (  # noqa: E402
    BETA1,
    BETA2,
    EPS,
    LR,
    WORKLOADS,
    HandAdam,
    batch_order,
    init_weights,
    load_data,
)

P_DROP, BN_EPS, BN_MOMENTUM = 0.2, 1e-5, 0.1
F32 = np.float32


# ----------------------------------------------------------------------------- hand NumPy


class HandMLP:
    """Hand-written NumPy forward + backward + Adam for W1-W3, as fast as NumPy allows.

    The baseline that every ratio of this benchmark divides by, so it must be the floor (at
    least as fast as ../shared/floor/frameworks/numpy_hand.py, which measures it):

    * every parameter and its gradient is a view into one flat buffer, so Adam is 13
      whole-buffer in-place ufuncs per step, whatever the number of tensors;
    * activations, masks and gradients live in buffers kept from step to step and every
      matmul writes with ``out=`` (no allocation, no page faults);
    * ReLU, dropout and the batch-norm output overwrite their input (nothing reads it later);
    * log-softmax and cross-entropy are fused: the logits become ``(softmax - onehot) / n``;
    * the first layer never computes the gradient of its input.

    Weights are stored transposed, ``(in, out)``, so that the forward matmul reads both
    operands as stored: ``h @ W.T`` with torch's ``(out, in)`` layout was measured 12% slower
    on W1's first layer (OpenBLAS, one thread). The values, gradients and Adam steps are
    those of torch's layout, transposed.
    """

    def __init__(self, name: str):
        weights = init_weights(name)
        self.bn = WORKLOADS[name]["bn"]
        hidden = [w.shape[0] for w, _ in weights[:-1]]
        arrays = [a for w, b in weights for a in (np.ascontiguousarray(w.T), b)]
        if self.bn:  # gamma, beta of each hidden layer, after the Linear weights
            arrays += [a for n in hidden for a in (np.ones(n, F32), np.zeros(n, F32))]
        total = sum(a.size for a in arrays)
        self.theta, self.grad = np.empty(total, F32), np.empty(total, F32)
        self.m, self.v, self.tmp = np.zeros(total, F32), np.zeros(total, F32), np.empty(total, F32)
        views, grads, start = [], [], 0
        for a in arrays:
            views.append(self.theta[start:start + a.size].reshape(a.shape))
            grads.append(self.grad[start:start + a.size].reshape(a.shape))
            views[-1][...] = a
            start += a.size
        nl = len(weights)
        self.layers = [(views[2 * i], views[2 * i + 1], grads[2 * i], grads[2 * i + 1])
                       for i in range(nl)]
        self.norms = [(views[2 * nl + 2 * i], views[2 * nl + 2 * i + 1],
                       grads[2 * nl + 2 * i], grads[2 * nl + 2 * i + 1])
                      for i in range(nl - 1 if self.bn else 0)]
        self.running = [(np.zeros(n, F32), np.ones(n, F32)) for n in hidden]
        self.rng = np.random.default_rng(3)
        self.buffers: dict = {}
        self.t = 0

    def buf(self, key, shape, dtype=F32):
        """A scratch array kept between steps, one per (key, shape)."""
        array = self.buffers.get((key, shape))
        if array is None:
            array = self.buffers[(key, shape)] = np.empty(shape, dtype)
        return array

    def step(self, xb, yb) -> float:
        n = xb.shape[0]
        acts, caches = [xb], []
        h = xb
        for i, (w, b, _, _) in enumerate(self.layers):  # w: (in, out)
            z = self.buf(("z", i), (n, w.shape[1]))
            np.matmul(h, w, out=z)
            z += b
            if i == len(self.layers) - 1:
                break
            cache = {}
            if self.bn:
                cache["xhat"], cache["inv"] = self.batch_norm(i, z)
            cache["mask"] = mask = self.buf(("mask", i), z.shape, np.bool_)
            np.greater(z, 0, out=mask)
            np.multiply(z, mask, out=z)
            if self.bn:
                u = self.buf(("u", i), z.shape)
                self.rng.random(out=u, dtype=F32)
                cache["keep"] = keep = self.buf(("keep", i), z.shape, np.bool_)
                np.greater_equal(u, P_DROP, out=keep)
                np.multiply(z, keep, out=z)
                z *= 1 / (1 - P_DROP)
            caches.append(cache)
            acts.append(z)
            h = z
        loss = self.cross_entropy(z, yb)
        self.backward(z, acts, caches)
        self.adam()
        return loss

    def batch_norm(self, i, z):
        """Normalise z in place (training mode); returns (xhat, 1/sigma)."""
        gamma, beta = self.norms[i][:2]
        n = z.shape[0]
        mean = z.mean(0)
        xhat = self.buf(("xhat", i), z.shape)
        np.subtract(z, mean, out=xhat)
        sq = self.buf(("sq", i), z.shape)
        np.multiply(xhat, xhat, out=sq)
        var = sq.mean(0)
        inv = 1 / np.sqrt(var + BN_EPS)
        xhat *= inv
        rm, rv = self.running[i]
        rm *= 1 - BN_MOMENTUM
        rm += BN_MOMENTUM * mean
        rv *= 1 - BN_MOMENTUM
        rv += (BN_MOMENTUM * n / (n - 1)) * var
        np.multiply(xhat, gamma, out=z)
        z += beta
        return xhat, inv

    def cross_entropy(self, z, yb) -> float:
        """Mean softmax cross-entropy; z becomes d loss / d z = (softmax - onehot) / n."""
        n = z.shape[0]
        rows = np.arange(n)
        z -= z.max(1, keepdims=True)
        picked = z[rows, yb]
        np.exp(z, out=z)
        s = z.sum(1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - picked))
        z *= 1 / s
        z[rows, yb] -= 1
        z *= 1 / n
        return loss

    def backward(self, g, acts, caches) -> None:
        n = g.shape[0]
        for i in range(len(self.layers) - 1, -1, -1):
            w, _, gw, gb = self.layers[i]
            np.matmul(acts[i].T, g, out=gw)
            np.sum(g, axis=0, out=gb)
            if i == 0:
                break
            dx = self.buf(("dx", i), (n, w.shape[0]))
            np.matmul(g, w.T, out=dx)
            g, c = dx, caches[i - 1]
            if self.bn:
                np.multiply(g, c["keep"], out=g)
                g *= 1 / (1 - P_DROP)
            np.multiply(g, c["mask"], out=g)
            if self.bn:  # dx = gamma/sigma (g - mean(g) - xhat mean(g xhat))
                gamma, _, dgamma, dbeta = self.norms[i - 1]
                xhat, tmp = c["xhat"], self.buf(("sq", i - 1), g.shape)
                np.sum(g, axis=0, out=dbeta)
                np.multiply(g, xhat, out=tmp)
                np.sum(tmp, axis=0, out=dgamma)
                np.multiply(xhat, dgamma * (1 / n), out=tmp)
                g -= dbeta * (1 / n)
                g -= tmp
                g *= gamma * c["inv"]

    def adam(self) -> None:
        """Adam over the flat buffers: 13 in-place ufuncs."""
        self.t += 1
        g, m, v, tmp = self.grad, self.m, self.v, self.tmp
        np.multiply(g, 1 - BETA1, out=tmp)     # m = b1 m + (1 - b1) g
        m *= BETA1
        m += tmp
        np.multiply(g, g, out=tmp)             # v = b2 v + (1 - b2) g^2
        tmp *= 1 - BETA2
        v *= BETA2
        v += tmp
        np.sqrt(v, out=tmp)                    # theta -= lr/bc1 m / (sqrt(v / bc2) + eps)
        tmp *= 1 / math.sqrt(1 - BETA2**self.t)
        tmp += EPS
        np.divide(m, tmp, out=tmp)
        tmp *= LR / (1 - BETA1**self.t)
        self.theta -= tmp


def numpy_epoch_fn(name, x, y):
    model = HandMLP(name)

    def epoch(batches):
        for idx in batches:
            model.step(x[idx], y[idx])

    return epoch


# ----------------------------------------------------------------------------- minigrad


def minigrad_raw_epoch_fn(name, x, y):
    import minigrad as mg

    if WORKLOADS[name]["bn"]:
        return None
    params = []
    for w, b in init_weights(name):
        params += [mg.tensor(w, requires_grad=True), mg.tensor(b, requires_grad=True)]
    opt = HandAdam([p.array for p in params])
    layers = list(zip(params[::2], params[1::2]))

    def train_step(xb, yb):
        h = mg.from_numpy(xb)
        for i, (w, b) in enumerate(layers):
            h = h @ w.T + b
            if i < len(layers) - 1:
                h = h.relu()
        loss = -h.log_softmax(-1)[mg.arange(xb.shape[0]), yb].mean()
        for p in params:
            p.grad = None
        loss.backward()
        opt.step([p.grad.array for p in params])
        return loss.item()

    def epoch(batches):
        for idx in batches:
            train_step(x[idx], y[idx])

    return epoch


def build_minigrad_model(name):
    import minigrad as mg
    from minigrad import nn

    sizes, bn = WORKLOADS[name]["sizes"], WORKLOADS[name]["bn"]
    layers = []
    weights = init_weights(name)
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        lin = nn.Linear(fan_in, fan_out)
        with mg.no_grad():
            lin.weight.array[...] = weights[i][0]
            lin.bias.array[...] = weights[i][1]
        layers.append(lin)
        if i < len(sizes) - 2:
            if bn:
                layers.append(nn.BatchNorm1d(fan_out))
            layers.append(nn.ReLU())
            if bn:
                layers.append(nn.Dropout(P_DROP))
    return nn.Sequential(*layers)


def minigrad_nn_epoch_fn(name, x, y):
    import minigrad as mg
    from minigrad import nn

    try:
        from minigrad.optim.adam import Adam
    except ImportError:
        return None
    model = build_minigrad_model(name)
    loss_fn = nn.CrossEntropyLoss()
    opt = Adam(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS)
    model.train()

    def epoch(batches):
        for idx in batches:
            logits = model(mg.from_numpy(x[idx]))
            loss = loss_fn(logits, mg.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()

    return epoch


def torch_epoch_fn(name, x, y):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    sizes, bn = WORKLOADS[name]["sizes"], WORKLOADS[name]["bn"]
    layers = []
    weights = init_weights(name)
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        lin = torch.nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(weights[i][0]))
            lin.bias.copy_(torch.from_numpy(weights[i][1]))
        layers.append(lin)
        if i < len(sizes) - 2:
            if bn:
                layers.append(torch.nn.BatchNorm1d(fan_out))
            layers.append(torch.nn.ReLU())
            if bn:
                layers.append(torch.nn.Dropout(P_DROP))
    model = torch.nn.Sequential(*layers)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS)

    def epoch(batches):
        for idx in batches:
            loss = loss_fn(model(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()

    return epoch


VARIANTS = {
    "numpy": numpy_epoch_fn,
    "minigrad_raw": minigrad_raw_epoch_fn,
    "minigrad_nn": minigrad_nn_epoch_fn,
    "minigrad_nogc": minigrad_nn_epoch_fn,
    "torch": torch_epoch_fn,
}


def run_one(variant: str, name: str, epochs: int) -> dict:
    """Warm-up epoch, then ``epochs`` timed epochs of one variant, alone in this process."""
    import gc
    import resource

    x, y = load_data(name)
    batches = batch_order(name, epochs + 1, x.shape[0])
    epoch = VARIANTS[variant](name, x, y)
    if epoch is None:
        return {"skipped": True}
    if variant == "minigrad_nogc":
        gc.disable()
    epoch(batches[0])
    times = []
    for b in batches[1:]:
        t0 = time.perf_counter()
        epoch(b)
        times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"times": times, "rss_mib": rss, "steps": len(batches[0])}


def run_interleaved(variants: list[str], name: str, epochs: int) -> dict:
    """Every variant in this process, epochs alternating between them; per-variant times."""
    import gc

    x, y = load_data(name)
    batches = batch_order(name, epochs + 1, x.shape[0])
    fns = {v: VARIANTS[v](name, x, y) for v in variants}
    fns = {v: f for v, f in fns.items() if f is not None}
    for f in fns.values():
        f(batches[0])
    times: dict[str, list[float]] = {v: [] for v in fns}
    for b in batches[1:]:
        for v, f in fns.items():
            if v == "minigrad_nogc":
                gc.disable()
            t0 = time.perf_counter()
            f(b)
            times[v].append(time.perf_counter() - t0)
            gc.enable()
    return {"times": times, "steps": len(batches[0])}


def _subprocess(args: list[str], env: dict) -> dict | None:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         env=env)
    if out.returncode != 0:
        print(f"failed: {' '.join(args)}\n{out.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workloads", nargs="+", default=["W1", "W2", "W3"])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--rounds", type=int, default=5, help="processes, each timing every variant")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per variant per round")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--default-malloc", action="store_true",
                    help="leave glibc's malloc thresholds at their defaults")
    ap.add_argument("--no-rss", action="store_true", help="skip the peak-RSS processes")
    ap.add_argument("--run-one", nargs=2, metavar=("VARIANT", "WORKLOAD"), help=argparse.SUPPRESS)
    ap.add_argument("--run-interleaved", metavar="WORKLOAD", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run_one:
        print(json.dumps(run_one(args.run_one[0], args.run_one[1], args.epochs)))
        return
    if args.run_interleaved:
        print(json.dumps(run_interleaved(args.variants, args.run_interleaved, args.epochs)))
        return
    if "numpy" not in args.variants:
        args.variants.insert(0, "numpy")

    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {platform.processor() or platform.machine()}  "
          f"{os.cpu_count()} cores  python {platform.python_version()}  numpy {np.__version__}  "
          f"BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}")
    env = dict(os.environ)
    if not args.default_malloc:
        env.update(MALLOC_MMAP_THRESHOLD_=str(2**30), MALLOC_TRIM_THRESHOLD_=str(2**30))
    print(f"# malloc thresholds: {'default' if args.default_malloc else 'pinned at 1 GiB'}; "
          f"{args.rounds} rounds x {args.epochs} timed epochs per variant")
    results: dict = {}
    for name in args.workloads:
        times: dict[str, list[float]] = {}
        ratios: dict[str, list[float]] = {}
        steps = None
        for _ in range(args.rounds):
            res = _subprocess(["--run-interleaved", name, "--epochs", str(args.epochs),
                               "--variants", *args.variants], env)
            if res is None:
                continue
            steps = res["steps"]
            base = statistics.median(res["times"]["numpy"])
            for v, ts in res["times"].items():
                times.setdefault(v, []).extend(ts)
                ratios.setdefault(v, []).append(statistics.median(ts) / base)
        rss = {}
        if not args.no_rss:
            for v in times:
                r = _subprocess(["--run-one", v, name, "--epochs", "1"], env)
                rss[v] = r["rss_mib"] if r else float("nan")
        batch = WORKLOADS[name]["batch"]
        print(f"\n{name} (batch {batch}, {steps} steps/epoch)")
        print(f"{'variant':<15} {'s/epoch':>9} {'ms/step':>8} {'x numpy':>8} {'x torch':>8} "
              f"{'peak RSS MiB':>13}")
        results[name] = {}
        torch_ratio = statistics.median(ratios["torch"]) if "torch" in ratios else None
        for v in args.variants:
            if v not in times:
                note = "torch not installed" if v == "torch" else "not available"
                print(f"{v:<15} skipped ({note})")
                continue
            med = statistics.median(times[v])
            ratio = statistics.median(ratios[v])
            vs_torch = ratio / torch_ratio if torch_ratio else float("nan")
            print(f"{v:<15} {med:9.4f} {1e3 * med / steps:8.3f} {ratio:8.2f} {vs_torch:8.2f} "
                  f"{rss.get(v, float('nan')):13.0f}")
            results[name][v] = {"median_s": med, "ratio": ratio, "ratio_to_torch": vs_torch,
                                "ratios_per_round": ratios[v], "rss_mib": rss.get(v),
                                "ms_per_step": 1e3 * med / steps}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
