"""The benchmark workloads of ../shared/PEERS.md, shared by the benchmark scripts.

- W1: MLP 784-256-128-10, ReLU, batch 128, 20,000 synthetic MNIST-shaped rows (10 classes from a
  fixed random linear teacher); 156 steps per epoch.
- W2: 784-512-BN-ReLU-Dropout(0.2)-256-BN-ReLU-Dropout(0.2)-10, otherwise as W1.
- W3: MLP 64-64-64-10, ReLU, batch 16, scikit-learn's digits (1,797 x 64, standardised); 112 steps
  per epoch (a synthetic stand-in of the same shape is used if scikit-learn is missing).

Every variant trains from the same float32 initial weights on the same data in the same batch
order, with Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8) and mean softmax cross-entropy.
"""

from __future__ import annotations

import math

import numpy as np

LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-8  # Adam's settings in every benchmark

WORKLOADS = {
    "W1": {"sizes": [784, 256, 128, 10], "batch": 128, "rows": 20_000, "bn": False},
    "W2": {"sizes": [784, 512, 256, 10], "batch": 128, "rows": 20_000, "bn": True},
    "W3": {"sizes": [64, 64, 64, 10], "batch": 16, "rows": None, "bn": False},
}


SMALL_MODEL = [(32, 32), (32,)] * 50  # issue 14's "100 small tensors": 50 Linear(32, 32)


def small_model_arrays(one_tensor: bool = False) -> tuple[list, list]:
    """Seeded float32 values and gradients of :data:`SMALL_MODEL`'s 100 tensors, or of ONE
    tensor of the same total size (the same numbers, concatenated): the two sides of
    ``bench_optim.py --model small``'s comparison."""
    rng = np.random.default_rng(0)
    values = [rng.normal(0, 0.05, s).astype(np.float32) for s in SMALL_MODEL]
    grads = [rng.normal(0, 1e-3, s).astype(np.float32) for s in SMALL_MODEL]
    if one_tensor:
        values = [np.concatenate([v.ravel() for v in values])]
        grads = [np.concatenate([g.ravel() for g in grads])]
    return values, grads


def small_model_params(one_tensor: bool = False) -> list:
    """:func:`small_model_arrays` as minigrad Parameters, each with its gradient set (the
    optimizer benchmarks' starting point; minigrad is imported here, as the caller put it on
    the path)."""
    import minigrad

    values, grads = small_model_arrays(one_tensor)
    params = [minigrad.Parameter(v) for v in values]
    for p, g in zip(params, grads):
        p.grad = minigrad.Tensor(g)
    return params


def load_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features (float32) and int64 labels for a workload."""
    rng = np.random.default_rng(0)
    if name == "W3":
        try:
            from sklearn.datasets import load_digits

            x, y = load_digits(return_X_y=True)
        except ImportError:  # same shape, synthetic
            x = rng.standard_normal((1797, 64))
            y = rng.integers(0, 10, 1797)
        x = (x - x.mean(0)) / (x.std(0) + 1e-8)
        return x.astype(np.float32), y.astype(np.int64)
    rows = WORKLOADS[name]["rows"]
    x = rng.standard_normal((rows, 784), dtype=np.float32)
    teacher = rng.standard_normal((784, 10), dtype=np.float32)
    y = (x @ teacher).argmax(1).astype(np.int64)
    return x, y


def init_weights(name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) per Linear layer, W of shape (out, in) as torch stores it, float32."""
    rng = np.random.default_rng(1)
    sizes = WORKLOADS[name]["sizes"]
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, fan_out).astype(np.float32)
        layers.append((w, b))
    return layers


def batch_order(name: str, epochs: int, n: int) -> list[np.ndarray]:
    """The index arrays of every batch of every epoch (drop_last), the same for all variants."""
    batch = WORKLOADS[name]["batch"]
    rng = np.random.default_rng(2)
    steps = n // batch
    out = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        out.append([perm[i * batch:(i + 1) * batch] for i in range(steps)])
    return out


class HandAdam:
    """In-place Adam on raw arrays, the way a careful hand-written loop does it: the baseline
    of every benchmark. ``xp`` is numpy or cupy."""

    def __init__(self, params, xp=np):
        self.params, self.xp = params, xp
        self.m = [xp.zeros_like(p) for p in params]
        self.v = [xp.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        bc1, bc2 = 1 - BETA1**self.t, 1 - BETA2**self.t
        step_size = LR / bc1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= BETA1
            m += (1 - BETA1) * g
            v *= BETA2
            v += (1 - BETA2) * (g * g)
            denom = self.xp.sqrt(v)
            denom /= math.sqrt(bc2)  # a Python float: np.sqrt would give a float64 scalar
            denom += EPS
            p -= step_size * (m / denom)

    def state_bytes(self):
        return sum(a.nbytes for a in self.m + self.v)
