"""Shared helpers for tests/nn: torch reference numbers (precomputed, no torch import)."""

from pathlib import Path

import numpy as np

import minigrad as mg

REF = dict(np.load(Path(__file__).with_name("fixtures") / "torch_reference.npz"))


def t64(a, grad=True, device="cpu"):
    """A float64 (or integer) tensor from a NumPy array."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return mg.tensor(a, dtype=mg.float64, device=device, requires_grad=grad)
    return mg.tensor(a, device=device)


def check_against_reference(name, fn, device="cpu", rtol=1e-10, atol=1e-12):
    """Run fn on the stored inputs; compare the output and the gradients of sum(out * w)."""
    ins = []
    i = 0
    while f"{name}/in{i}" in REF:
        ins.append(t64(REF[f"{name}/in{i}"], device=device))
        i += 1
    y = fn(*ins)
    np.testing.assert_allclose(_np(y), REF[f"{name}/out"], rtol=rtol, atol=atol)
    y.backward(mg.tensor(REF[f"{name}/w"], dtype=mg.float64, device=device))
    for k, x in enumerate(ins):
        if f"{name}/grad{k}" in REF:
            np.testing.assert_allclose(_np(x.grad), REF[f"{name}/grad{k}"], rtol=rtol, atol=atol)
    return ins, y


def _np(x):
    x = x.detach().array
    return x.get() if hasattr(x, "get") else np.asarray(x)
