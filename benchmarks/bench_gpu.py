"""GPU training-step benchmark: minigrad on CuPy against hand-written CuPy and PyTorch CUDA.

Networks (float32, Adam lr 1e-3, mean softmax cross-entropy, random data resident on the GPU):
  wide   4096-4096-4096-10, batch 1024
  small  784-256-128-10, batch 128

Timing: CUDA events around `--steps` steps after `--warmup` steps, repeated `--repeat` times;
the median ms/step is reported with its ratio to hand-written CuPy from the same run.

Also: the embedding backward (50000 x 256 table, 16384 token ids drawn from a Zipf law, so
that ids repeat as in text) with minigrad's deterministic sort-and-sum scatter-add (the
default) against CuPy's atomic ``cupyx.scatter_add`` (``use_deterministic_algorithms(False)``),
and whether two runs of each give the same bits.

    PYTHONPATH=. python3 benchmarks/bench_gpu.py                 # needs CuPy and a GPU
    PYTHONPATH=. python3 benchmarks/bench_gpu.py --json gpu.json # PyTorch optional
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NETWORKS = {"wide": ([4096, 4096, 4096, 10], 1024), "small": ([784, 256, 128, 10], 128)}
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8


def make_data(cp, sizes, batch):
    rng = cp.random.RandomState(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=cp.float32)
    y = rng.randint(0, sizes[-1], size=batch).astype(cp.int64)
    weights = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        bound = 1 / fan_in**0.5
        weights.append((rng.uniform(-bound, bound, (fan_out, fan_in)).astype(cp.float32),
                        rng.uniform(-bound, bound, fan_out).astype(cp.float32)))
    return x, y, weights


def cupy_step_fn(cp, sizes, batch):
    """Hand-written CuPy forward, backward and in-place Adam."""
    x, y, weights = make_data(cp, sizes, batch)
    params = [a.copy() for wb in weights for a in wb]
    m = [cp.zeros_like(p) for p in params]
    v = [cp.zeros_like(p) for p in params]
    t = [0]
    rows = cp.arange(batch)

    def step():
        acts, masks = [x], []
        h = x
        n_layers = len(params) // 2
        for i in range(n_layers):
            z = h @ params[2 * i].T + params[2 * i + 1]
            if i < n_layers - 1:
                mask = z > 0
                h = z * mask
                masks.append(mask)
                acts.append(h)
        z = z - z.max(1, keepdims=True)
        e = cp.exp(z)
        p = e / e.sum(1, keepdims=True)
        p[rows, y] -= 1
        g = p / batch
        grads = [None] * len(params)
        for i in range(n_layers - 1, -1, -1):
            grads[2 * i] = g.T @ acts[i]
            grads[2 * i + 1] = g.sum(0)
            if i:
                g = (g @ params[2 * i]) * masks[i - 1]
        t[0] += 1
        bc1, bc2 = 1 - BETAS[0] ** t[0], 1 - BETAS[1] ** t[0]
        for pa, gr, mm, vv in zip(params, grads, m, v):
            mm *= BETAS[0]
            mm += (1 - BETAS[0]) * gr
            vv *= BETAS[1]
            vv += (1 - BETAS[1]) * gr * gr
            pa -= (LR / bc1) * mm / (cp.sqrt(vv / bc2) + EPS)

    return step


def minigrad_step_fn(cp, sizes, batch):
    import minigrad as mg
    from minigrad import nn, optim

    x, y, weights = make_data(cp, sizes, batch)
    layers = []
    for i, (w, b) in enumerate(weights):
        lin = nn.Linear(w.shape[1], w.shape[0]).to("cuda")
        with mg.no_grad():
            lin.weight.array[...] = w
            lin.bias.array[...] = b
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    xb, yb = mg.Tensor._wrap(x), mg.Tensor._wrap(y)

    def step():
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def torch_step_fn(cp, sizes, batch):
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    x, y, weights = make_data(cp, sizes, batch)
    xt, yt = torch.as_tensor(x, device="cuda"), torch.as_tensor(y, device="cuda")
    layers = []
    for i, (w, b) in enumerate(weights):
        lin = torch.nn.Linear(w.shape[1], w.shape[0]).cuda()
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(w, device="cuda"))
            lin.bias.copy_(torch.as_tensor(b, device="cuda"))
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)

    def step():
        loss = loss_fn(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def embedding_backward(cp, warmup: int, steps: int, repeat: int) -> dict:
    """ms per embedding forward+backward, deterministic vs atomic, and bit-reproducibility."""
    import minigrad as mg
    from minigrad.nn import functional as F

    rng = cp.random.RandomState(0)
    ids = mg.Tensor._wrap((rng.zipf(1.3, size=(32, 512)) % 50000).astype(cp.int64))
    grad = mg.Tensor._wrap(rng.standard_normal((32, 512, 256), dtype=cp.float32))
    weight = mg.Tensor._wrap(rng.standard_normal((50000, 256), dtype=cp.float32))
    weight.requires_grad_(True)

    def step():
        weight.grad = None
        F.embedding(ids, weight).backward(grad)

    out = {}
    for deterministic in (True, False):
        mg.use_deterministic_algorithms(deterministic)
        try:
            bits = []
            for _ in range(2):
                step()
                bits.append(weight.grad.array.copy())
            same = bool((bits[0] == bits[1]).all())
            ms = time_steps(cp, step, warmup, steps, repeat)
        finally:
            mg.use_deterministic_algorithms(True)
        out["deterministic" if deterministic else "atomic"] = {"ms": ms, "bit_identical": same}
    return out


def time_steps(cp, step, warmup: int, steps: int, repeat: int) -> float:
    for _ in range(warmup):
        step()
    cp.cuda.Device().synchronize()
    start, end = cp.cuda.Event(), cp.cuda.Event()
    samples = []
    for _ in range(repeat):
        start.record()
        for _ in range(steps):
            step()
        end.record()
        end.synchronize()
        samples.append(cp.cuda.get_elapsed_time(start, end) / steps)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--networks", nargs="+", default=list(NETWORKS))
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    import minigrad as mg

    if not mg.cuda_is_available():  # imports CuPy, runs a kernel and a cuRAND draw
        sys.exit("bench_gpu needs CuPy and a working GPU: minigrad.cuda_is_available() is "
                 "False (pip install 'minigrad[cuda12]', which brings the CUDA libraries)")
    import cupy as cp
    name = cp.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    print(f"# device: {name}, CuPy {cp.__version__}")
    results = {}
    for net in args.networks:
        sizes, batch = NETWORKS[net]
        base = None
        print(f"\n{net}: {'-'.join(map(str, sizes))}, batch {batch}")
        print(f"{'variant':<10} {'ms/step':>9} {'x cupy':>8}")
        results[net] = {}
        for variant, fn in (("cupy", cupy_step_fn), ("minigrad", minigrad_step_fn),
                            ("torch", torch_step_fn)):
            step = fn(cp, sizes, batch)
            if step is None:
                print(f"{variant:<10} skipped (PyTorch with CUDA not installed)")
                continue
            ms = time_steps(cp, step, args.warmup, args.steps, args.repeat)
            base = base or ms
            print(f"{variant:<10} {ms:9.3f} {ms / base:8.2f}")
            results[net][variant] = {"ms_per_step": ms, "ratio_to_cupy": ms / base}
    emb = embedding_backward(cp, args.warmup, args.steps, args.repeat)
    print("\nembedding backward, 50000 x 256, 16384 Zipf ids")
    for variant, r in emb.items():
        print(f"{variant:<14} {r['ms']:9.3f} ms  bit-identical over 2 runs: {r['bit_identical']}")
    results["embedding_backward"] = emb
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
