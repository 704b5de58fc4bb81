"""minigrad.jit against the eager step and a hand-written NumPy step, in the same run.

Workloads W3 (MLP 64-64-64-10, batch 16, the digits) and W1 (MLP 784-256-128-10, batch 128)
of ../shared/PEERS.md (see workloads.py), Adam, mean cross-entropy, one BLAS thread.

Variants, each from the same weights on the same batches:
  hand    hand-written NumPy as fast as the floor of ../shared/floor/frameworks/numpy_hand.py:
          parameters and gradients as views of one flat buffer (Adam is 13 whole-buffer
          in-place ufunc calls), activations in reused buffers (``out=``), fused
          log-softmax + cross-entropy, no input gradient for the first layer
  eager   nn.Sequential + F.cross_entropy + optim.Adam, the usual step
  jit-op  the same step through minigrad.jit(lower=False): kernels replayed op-level
  jit     the same step through minigrad.jit (the first call records, the rest replay the
          lowered program: NumPy calls into preallocated buffers)
  hand-fb, jit-fb  hand and jit without their optimizer step (on the CPU): the split of the
          step into forward + backward + the rest, and the optimizer step (by difference)

Each round runs one epoch of each variant in turn (hand, eager, jit-op, jit), after one untimed
warm-up epoch each; the ratio to hand is taken per round and the median over rounds is
reported, with the median epoch time. Also reported: the recording call's time (and the
first replay's) against the median replayed step and the median eager step. glibc's malloc
thresholds are raised (as in bench_training.py) so that large temporaries are not served from
fresh pages at random.

    python3 benchmarks/bench_jit.py                       # W3 and W1, 5 rounds
    python3 benchmarks/bench_jit.py --workloads W3 --rounds 9
    python3 benchmarks/bench_jit.py --workloads W1 --batch 16   # W1's MLP at batch 16
    python3 benchmarks/bench_jit.py --workloads W3 --kernels    # the replay kernel by kernel
    python3 benchmarks/bench_jit.py --device cuda --torch # on a GPU: CuPy (the jit launches
                                                          # CUDA graphs), the hand step in
                                                          # CuPy, and PyTorch CUDA eager

Losses are summed on the device and read once per epoch, after a device sync, so a GPU epoch
is not timed one host round trip per step.
"""

from __future__ import annotations

import os
import sys

if "MALLOC_MMAP_THRESHOLD_" not in os.environ:  # re-run with pinned malloc thresholds
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(2**30), MALLOC_TRIM_THRESHOLD_=str(2**30))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

import argparse  # noqa: E402
import statistics  # noqa: E402
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
    batch_order,
    init_weights,
    load_data,
)

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad import nn, optim  # noqa: E402


class HandStep:
    """Forward, backward and Adam of an MLP in hand-written NumPy (see the module doc)."""

    def __init__(self, layers, batch, xp=np):
        self.xp = xp
        sizes = [w.size + b.size for w, b in layers]
        self.flat = xp.empty(sum(sizes), xp.float32)
        self.gflat = xp.zeros_like(self.flat)
        self.m, self.v = xp.zeros_like(self.flat), xp.zeros_like(self.flat)
        self.tmp = xp.empty_like(self.flat)
        self.w, self.b, self.gw, self.gb, off = [], [], [], [], 0
        for w, b in layers:  # W stored (in, out): x @ W without a transpose
            for arr, params, grads in ((w.T, self.w, self.gw), (b, self.b, self.gb)):
                view = self.flat[off:off + arr.size].reshape(arr.shape)
                view[...] = xp.asarray(arr)
                params.append(view)
                grads.append(self.gflat[off:off + arr.size].reshape(arr.shape))
                off += arr.size
        self.h = [xp.empty((batch, w.shape[1]), xp.float32) for w in self.w]
        self.mask = [xp.empty(h.shape, xp.bool_) for h in self.h[:-1]]
        self.dx = [xp.empty((batch, w.shape[0]), xp.float32) for w in self.w]
        self.rows = xp.arange(batch)
        self.t = 0

    def __call__(self, x, y):
        xp = self.xp
        inputs, a = [], x
        for i, (w, b, h) in enumerate(zip(self.w, self.b, self.h)):
            inputs.append(a)
            xp.matmul(a, w, out=h)
            h += b
            if i < len(self.mask):
                xp.greater(h, 0, out=self.mask[i])
                xp.multiply(h, self.mask[i], out=h)
            a = h
        z, n = a, a.shape[0]  # fused log-softmax + cross-entropy; z becomes d loss / d z
        z -= z.max(axis=1, keepdims=True)
        picked = z[self.rows, y]
        xp.exp(z, out=z)
        s = z.sum(axis=1, keepdims=True)
        loss = xp.mean(xp.log(s[:, 0]) - picked)
        z *= 1.0 / s
        z[self.rows, y] -= 1.0
        z *= 1.0 / n
        d = z
        for i in reversed(range(len(self.w))):
            xp.matmul(inputs[i].T, d, out=self.gw[i])
            xp.sum(d, axis=0, out=self.gb[i])
            if i:
                xp.matmul(d, self.w[i].T, out=self.dx[i])
                d = self.dx[i]
                xp.multiply(d, self.mask[i - 1], out=d)
        self._adam()
        return loss

    def _adam(self):
        xp = self.xp
        self.t += 1
        g, m, v, tmp = self.gflat, self.m, self.v, self.tmp
        bc1, bc2 = 1.0 - BETA1**self.t, 1.0 - BETA2**self.t
        xp.subtract(g, m, out=tmp)
        tmp *= 1.0 - BETA1
        m += tmp
        xp.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= 1.0 - BETA2
        v += tmp
        xp.sqrt(v, out=tmp)
        tmp *= 1.0 / bc2**0.5
        tmp += EPS
        xp.divide(m, tmp, out=tmp)
        tmp *= LR / bc1
        self.flat -= tmp


def minigrad_step(layers, device="cpu"):
    """The eager step: nn.Sequential + cross-entropy + Adam, from the same weights."""
    mods = []
    for i, (w, b) in enumerate(layers):
        lin = nn.Linear(w.shape[1], w.shape[0])
        lin.weight.array[...] = w
        lin.bias.array[...] = b
        mods += [lin] + ([nn.ReLU()] if i < len(layers) - 1 else [])
    model = nn.Sequential(*mods).to(device)
    opt = optim.Adam(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS)

    def train_step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return train_step


def torch_step(layers, device):
    """PyTorch eager (CPU or CUDA) from the same weights, for a side-by-side figure."""
    import torch  # noqa: PLC0415  (optional: only with --torch)
    mods = []
    for i, (w, b) in enumerate(layers):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        mods += [lin] + ([torch.nn.ReLU()] if i < len(layers) - 1 else [])
    model = torch.nn.Sequential(*mods).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS)

    def train_step(x, y):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()
    return train_step


def without_optimizer_step(program) -> None:
    """Take ``optimizer.step()`` out of a recorded program's replay (for the split of a step
    into forward + backward + the rest, and the optimizer)."""
    jit_module = sys.modules["minigrad.jit"]
    program.replay = [k for k in program.replay if not (
        getattr(k[0], "func", None) is jit_module._call
        and k[0].args[0].__name__ in ("step", "_replay_step"))]


def epoch(step, batches, sync) -> tuple[float, float]:
    """One epoch's wall time and mean loss; losses are summed on the device and read once
    (``sync`` waits for the device before the clock stops)."""
    t0 = time.perf_counter()
    total = 0
    for x, y in batches:
        loss = step(x, y)
        total = total + (loss.array if isinstance(loss, mg.Tensor) else loss)
    sync()
    elapsed = time.perf_counter() - t0
    return elapsed, float(total) / len(batches)


def variants_for(name: str, device: str, with_torch: bool):
    """``{variant: (step, batches)}``, every step already taken once on the first batch (the
    recording call of the jit: its time is returned too), and the device's sync function."""
    x, y = load_data(name)
    layers = init_weights(name)
    order = batch_order(name, 1, len(x))[0]
    np_batches = [(x[i], y[i]) for i in order]
    mg_batches = [(mg.tensor(a).to(device), mg.tensor(b).to(device)) for a, b in np_batches]
    xp, sync = np, (lambda: None)
    if device != "cpu":
        xp = mg.backend._import_cupy()
        sync = mg.cuda.synchronize
    hand = HandStep(layers, len(order[0]), xp)
    hand_batches = [(xp.asarray(a), xp.asarray(b)) for a, b in np_batches]
    eager = minigrad_step(layers, device)
    jitted = mg.jit(minigrad_step(layers, device))
    op_level = mg.jit(minigrad_step(layers, device), lower=False)
    # two untimed steps of every variant (the jit's record and first replay), so that all
    # start the warm-up epoch from the same weights and report the same warm-up loss
    for step, batches in ((hand, hand_batches), (eager, mg_batches), (op_level, mg_batches)):
        for batch in batches[:2]:
            step(*batch)
    sync()
    record = []  # the first call records, the second is the first replay
    for batch in mg_batches[:2]:
        t0 = time.perf_counter()
        jitted(*batch)
        sync()
        record.append(time.perf_counter() - t0)
    variants = {"hand": (hand, hand_batches), "eager": (eager, mg_batches),
                "jit-op": (op_level, mg_batches), "jit": (jitted, mg_batches)}
    if device == "cpu":  # the same two without their optimizer step (the split of the step)
        hand_fb = HandStep(layers, len(order[0]), xp)
        hand_fb._adam = lambda: None
        jit_fb = mg.jit(minigrad_step(layers, device))
        for batch in mg_batches[:2]:  # a second recording when the first relaid the optimizer
            jit_fb(*batch)
        without_optimizer_step(jit_fb.program)
        variants.update({"hand-fb": (hand_fb, hand_batches), "jit-fb": (jit_fb, mg_batches)})
    if with_torch:
        import torch  # noqa: PLC0415
        dev = "cuda" if device != "cpu" else "cpu"
        t_batches = [(torch.from_numpy(a).to(dev), torch.from_numpy(b).to(dev))
                     for a, b in np_batches]
        t_step = torch_step(layers, dev)
        t_step(*t_batches[0])
        variants["torch"] = (t_step, t_batches)
        if dev == "cuda":
            cuda_sync = sync
            sync = lambda: (cuda_sync(), torch.cuda.synchronize())  # noqa: E731
    return variants, record, sync, len(order), len(order[0])


def run(name: str, rounds: int, device: str, with_torch: bool) -> None:
    variants, record, sync, steps, batch = variants_for(name, device, with_torch)
    losses = {k: epoch(step, b, sync)[1] for k, (step, b) in variants.items()}  # warm-up
    times = {k: [] for k in variants}
    for _ in range(rounds):
        for k, (step, b) in variants.items():
            times[k].append(epoch(step, b, sync)[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{name} on {device}: {steps} steps/epoch, batch {batch}, {rounds} rounds, "
          "median epoch")
    for k in variants:
        ratios = [t / h for t, h in zip(times[k], times["hand"])]
        print(f"  {k:6s} {med[k] * 1e3:8.1f} ms/epoch  {med[k] / steps * 1e6:7.1f} us/step  "
              f"x hand {statistics.median(ratios):.3f}  (warm-up epoch loss {losses[k]:.5f})")
    if "jit-fb" in med:
        fb = statistics.median(j / h for j, h in zip(times["jit-fb"], times["hand-fb"]))
        adam_jit = (med["jit"] - med["jit-fb"]) / steps * 1e6
        adam_hand = (med["hand"] - med["hand-fb"]) / steps * 1e6
        print(f"  without the optimizer step: jit {med['jit-fb'] / steps * 1e6:.1f} us vs hand "
              f"{med['hand-fb'] / steps * 1e6:.1f} us (x {fb:.3f}); the optimizer step: jit "
              f"{adam_jit:.1f} us (Adam.step as the replay runs it), hand {adam_hand:.1f} us")
    replay, eager = med["jit"] / steps, med["eager"] / steps
    print(f"  recording call {record[0] * 1e3:.2f} ms = {record[0] / replay:.1f} replayed "
          f"steps = {record[0] / eager:.1f} eager steps (second call {record[1] * 1e3:.2f} ms: "
          "the first replay, or a second recording after an optimizer was laid out whole);"
          " jit vs eager "
          f"{statistics.median(j / e for j, e in zip(times['jit'], times['eager'])):.3f}")


def kernel_profile(name: str, steps: int) -> None:
    """The replay of ``name``'s jitted step, kernel by kernel: median CPU time of each entry
    of ``program.replay`` over ``steps`` replays (a generated run of lowered kernels is one
    entry: its instruction count is shown), and the op-level replay's the same way."""
    jit_module = sys.modules["minigrad.jit"]
    x, y = load_data(name)
    order = batch_order(name, 1, len(x))[0]
    batches = [(mg.tensor(x[i]), mg.tensor(y[i])) for i in order]
    for lower in (False, True):
        step = mg.jit(minigrad_step(init_weights(name)), lower=lower)
        for batch in batches[:3]:
            step(*batch)
        program = step.program
        env = program.env if program.env is not None else list(program.template)
        times = [[] for _ in program.replay]
        for n in range(steps):
            xb, yb = batches[n % len(batches)]
            env[:program.n_inputs] = [xb.array, yb.array]
            for s, t in program.live:
                env[s] = t.array
            for k, kernel in enumerate(program.replay):
                t0 = time.process_time()
                jit_module._run_kernels([kernel], env, program.live)
                times[k].append(time.process_time() - t0)
        print(f"{name} replay, {'lowered' if lower else 'op-level'}: CPU time per kernel "
              f"(median of {steps})")
        for kernel, ts in zip(program.replay, times):
            func = kernel[0]
            label = getattr(func, "__name__", None) or func.func.__name__
            if label == "_call":
                label = f"{type(func.args[1]).__name__}.{func.args[0].__name__}() whole"
            elif label in ("forward", "backward"):
                label = f"{type(func.__self__).__name__}.{label}"
            elif label == "run":
                label = f"lowered run ({func.instructions} instructions)"
            print(f"  {statistics.median(ts) * 1e6:7.1f} us  {label}")
        print(f"  {sum(statistics.median(ts) for ts in times) * 1e6:7.1f} us  in all")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", nargs="+", default=["W3", "W1"])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--device", default="cpu", help="cpu, or cuda (CuPy; the jit uses CUDA graphs)")
    p.add_argument("--torch", action="store_true", help="add PyTorch eager on the same device")
    p.add_argument("--batch", type=int, help="override the workloads' batch size")
    p.add_argument("--kernels", action="store_true",
                   help="instead: the replay's CPU time kernel by kernel, op-level and lowered")
    args = p.parse_args()
    if args.batch:
        for name in args.workloads:
            WORKLOADS[name]["batch"] = args.batch
    print(f"# numpy {np.__version__}, python {sys.version.split()[0]}, {time.strftime('%F %H:%M')}")
    if args.kernels:
        for name in args.workloads:
            kernel_profile(name, 300 if name == "W3" else 30)
        return
    for name in args.workloads:
        run(name, args.rounds, args.device, args.torch)


if __name__ == "__main__":
    main()
