"""References for the optimizers beyond torch: each paper's algorithm, transcribed.

Reference numbers come from plain-NumPy, float64, one-equation-per-line transcriptions of each
paper's algorithm written below (``ref_*``), independently of minigrad's in-place code: the paper's
formulas (AdaBelief Alg. 2 / adabelief-pytorch 0.2.1 options, diffGrad, AdamInject, AngularGrad,
Lion Alg. 2, SWATS Alg. 1, SGDW Alg. 1) and, for FTRL, Keras 3's ``Ftrl.update_step`` written in
the paper's closed form (``w = 0 if |z| <= l1 else -(z - sign(z) l1) / (...)``, no clip).

Tolerances: minigrad run in float64 must match the float64 reference to 1e-10 (relative; only
operation order differs); run in float32 (the default) it must match to float32 round-off
accumulated over the trajectory: |x - x_ref| <= 2e-5 + 2e-5 |x_ref| (about 170 float32 ulps at
the parameters' scale) after every one of >= 100 steps.
"""

from __future__ import annotations

import pathlib

import numpy as np

import minigrad
from minigrad.optim.adabelief import AdaBelief
from minigrad.optim.adainject import AdaInject
from minigrad.optim.angulargrad import AngularGrad
from minigrad.optim.diffgrad import DiffGrad
from minigrad.optim.ftrl import FTRL
from minigrad.optim.lion import Lion
from minigrad.optim.sgdw import SGDW
from tests.conftest import to_numpy

# --------------------------------------------------------------------------- problems
# Two parameters (a vector and a matrix) in two groups; the gradient of each is
# H * (x - c) + noise_t (a separable quadratic with a fixed, pre-drawn noise sequence), so the
# reference and minigrad see the same function of their own iterates.

_SHAPES = [(3,), (2, 2)]

_STEPS = 120



def problem(seed: int = 7, noise: float = 0.1, steps: int = _STEPS):
    r = np.random.default_rng(seed)
    x0 = [r.normal(size=s) for s in _SHAPES]
    h = [r.uniform(0.5, 4.0, size=s) for s in _SHAPES]
    c = [r.normal(size=s) for s in _SHAPES]
    eps = [noise * r.normal(size=(steps,) + s) for s in _SHAPES]
    return x0, h, c, eps


def gradient(i, x, t, prob):
    _, h, c, eps = prob
    return h[i] * (x - c[i]) + eps[i][t]



def run_minigrad(cls, kwargs, group_lrs, prob, steps=_STEPS, dtype=np.float32, device="cpu"):
    """Trajectory of minigrad's optimizer: list over steps of [x_0, x_1] as float64 arrays."""
    x0 = prob[0]
    params = [minigrad.Parameter(x.astype(dtype), dtype=dtype, device=device) for x in x0]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, group_lrs)]
    opt = cls(groups, **kwargs)
    traj = []
    for t in range(steps):
        for i, p in enumerate(params):
            g = gradient(i, to_numpy(p).astype(np.float64), t, prob).astype(dtype)
            p.grad = minigrad.Tensor(g, dtype=dtype, device=device)
        opt.step()
        traj.append([to_numpy(p).astype(np.float64) for p in params])
    return traj, opt, params



def run_reference(ref_step, hp, group_lrs, prob, steps=_STEPS):
    xs = [x.copy() for x in prob[0]]
    states = [{} for _ in xs]
    traj = []
    for t in range(steps):
        for i in range(len(xs)):
            g = gradient(i, xs[i], t, prob)
            xs[i] = ref_step(xs[i], g, t + 1, states[i], dict(hp, lr=group_lrs[i]))
        traj.append([x.copy() for x in xs])
    return traj, states



# --------------------------------------------------------------------------- references

def ref_adabelief(x, g, t, s, hp):
    b1, b2 = hp["betas"]
    lr, eps, wd = hp["lr"], hp["eps"], hp.get("weight_decay", 0.0)
    if not s:
        s.update(m=np.zeros_like(x), s=np.zeros_like(x), smax=np.zeros_like(x))
    if hp.get("weight_decouple", True):
        x = x * (1 - (wd if hp.get("fixed_decay", False) else lr * wd))
    else:
        g = g + wd * x
    s["m"] = b1 * s["m"] + (1 - b1) * g
    s["s"] = b2 * s["s"] + (1 - b2) * (g - s["m"]) ** 2 + eps
    s["smax"] = np.maximum(s["smax"], s["s"])
    sv = s["smax"] if hp.get("amsgrad", False) else s["s"]
    m_hat = s["m"] / (1 - b1**t)
    s_hat = sv / (1 - b2**t)
    if not hp.get("rectify", False):
        return x - lr * m_hat / (np.sqrt(s_hat) + eps)
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
    if rho >= 5:
        r = np.sqrt((1 - b2**t) * (rho - 4) * (rho - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho))
        return x - lr * r * m_hat / (np.sqrt(sv) + eps)
    return x - lr * m_hat



def ref_diffgrad(x, g, t, s, hp):
    b1, b2 = hp["betas"]
    lr, eps = hp["lr"], hp["eps"]
    g = g + hp.get("weight_decay", 0.0) * x
    if not s:
        s.update(m=np.zeros_like(x), v=np.zeros_like(x), g_prev=np.zeros_like(x))
    s["m"] = b1 * s["m"] + (1 - b1) * g
    s["v"] = b2 * s["v"] + (1 - b2) * g**2
    xi = 1 / (1 + np.exp(-np.abs(s["g_prev"] - g)))
    s["g_prev"] = g
    m_hat, v_hat = s["m"] / (1 - b1**t), s["v"] / (1 - b2**t)
    return x - lr * xi * m_hat / (np.sqrt(v_hat) + eps)



def ref_adainject(x, g, t, s, hp):
    b1, b2 = hp["betas"]
    lr, eps, k = hp["lr"], hp["eps"], hp.get("k", 2.0)
    g = g + hp.get("weight_decay", 0.0) * x
    if not s:
        s.update(m=np.zeros_like(x), v=np.zeros_like(x), x_prev=None)
    if t == 1:
        s["m"] = b1 * s["m"] + (1 - b1) * g
    else:
        delta = s["x_prev"] - x
        s["m"] = b1 * s["m"] + (1 - b1) * (g + delta * g**2) / k
    s["v"] = b2 * s["v"] + (1 - b2) * g**2
    s["x_prev"] = x.copy()
    m_hat, v_hat = s["m"] / (1 - b1**t), s["v"] / (1 - b2**t)
    return x - lr * m_hat / (np.sqrt(v_hat) + eps)



def ref_angulargrad(x, g, t, s, hp):
    b1, b2 = hp["betas"]
    lr, eps = hp["lr"], hp["eps"]
    g = g + hp.get("weight_decay", 0.0) * x
    if not s:
        s.update(m=np.zeros_like(x), v=np.zeros_like(x), g_prev=np.zeros_like(x), a_min=None)
    s["m"] = b1 * s["m"] + (1 - b1) * g
    s["v"] = b2 * s["v"] + (1 - b2) * g**2
    a_t = np.arctan(np.abs((s["g_prev"] - g) / (1 + s["g_prev"] * g)))
    s["a_min"] = a_t if s["a_min"] is None else np.minimum(s["a_min"], a_t)
    s["g_prev"] = g
    f = np.cos if hp.get("method", "cos") == "cos" else np.tan
    phi = np.tanh(np.abs(f(s["a_min"]))) * 0.5 + 0.5
    m_hat, v_hat = s["m"] / (1 - b1**t), s["v"] / (1 - b2**t)
    return x - lr * phi * m_hat / (np.sqrt(v_hat) + eps)



def ref_lion(x, g, t, s, hp):
    b1, b2 = hp["betas"]
    lr, wd = hp["lr"], hp.get("weight_decay", 0.0)
    if not s:
        s["m"] = np.zeros_like(x)
    c = b1 * s["m"] + (1 - b1) * g
    x = x - lr * (np.sign(c) + wd * x)
    s["m"] = b2 * s["m"] + (1 - b2) * g
    return x



def ref_sgdw(x, g, t, s, hp):
    """Loshchilov & Hutter Alg. 1 with eta_t = 1: m = mu m + lr g; x = x - m - lr wd x."""
    mu, lr, wd = hp["momentum"], hp["lr"], hp.get("weight_decay", 0.0)
    if not s:
        s["m"] = np.zeros_like(x)
    s["m"] = mu * s["m"] + lr * g
    return x - s["m"] - lr * wd * x



def ref_ftrl(x, g, t, s, hp):
    """Keras Ftrl.update_step, with the weight in the paper's closed form (no clip)."""
    lr, p = hp["lr"], hp.get("learning_rate_power", -0.5)
    l1 = hp.get("l1_regularization_strength", 0.0)
    l2 = hp.get("l2_regularization_strength", 0.0)
    ls = hp.get("l2_shrinkage_regularization_strength", 0.0)
    beta = hp.get("beta", 0.0)
    if not s:
        s.update(n=np.full_like(x, hp.get("initial_accumulator_value", 0.1)), z=np.zeros_like(x))
    g_shrunk = g + 2 * ls * x
    n_new = s["n"] + g**2
    sigma = (n_new ** (-p) - s["n"] ** (-p)) / lr
    s["z"] = s["z"] + g_shrunk - sigma * x
    s["n"] = n_new
    z = s["z"]
    quad = (beta + n_new ** (-p)) / lr + 2 * l2
    return np.where(np.abs(z) <= l1, 0.0, -(z - np.sign(z) * l1) / quad)



def ref_swats(x, g, k, s, hp):
    """Keskar & Socher Algorithm 1, per parameter tensor (Lambda > 0 required to switch)."""
    b1, b2 = hp["betas"]
    lr, eps = hp["lr"], hp["eps"]
    if not s:
        s.update(m=np.zeros_like(x), a=np.zeros_like(x), lam=0.0, phase="adam", Lam=None,
                 k_switch=None, v=None)
    if s["phase"] == "sgd":
        s["v"] = b1 * s["v"] + g
        return x - (1 - b1) * s["Lam"] * s["v"]
    s["m"] = b1 * s["m"] + (1 - b1) * g
    s["a"] = b2 * s["a"] + (1 - b2) * g**2
    p = -lr * np.sqrt(1 - b2**k) / (1 - b1**k) * s["m"] / (np.sqrt(s["a"]) + eps)
    x = x + p
    ptg = np.sum(p * g)
    if ptg != 0:
        gamma = np.sum(p * p) / -ptg
        s["lam"] = b2 * s["lam"] + (1 - b2) * gamma
        Lam = s["lam"] / (1 - b2**k)
        if k > 1 and Lam > 0 and abs(Lam - gamma) < eps:
            s.update(phase="sgd", Lam=Lam, k_switch=k, v=np.zeros_like(x))
    return x



# --------------------------------------------------------------------------- trajectories

CASES = [
    ("adabelief", AdaBelief, ref_adabelief, dict(betas=(0.9, 0.999), eps=1e-16)),
    ("adabelief_wd", AdaBelief, ref_adabelief,
     dict(betas=(0.8, 0.99), eps=1e-12, weight_decay=0.1)),
    ("adabelief_fixed_decay", AdaBelief, ref_adabelief,
     dict(betas=(0.9, 0.999), eps=1e-16, weight_decay=0.01, fixed_decay=True)),
    ("adabelief_l2_amsgrad", AdaBelief, ref_adabelief,
     dict(betas=(0.9, 0.99), eps=1e-10, weight_decay=0.1, weight_decouple=False,
          amsgrad=True)),
    ("adabelief_rectify", AdaBelief, ref_adabelief,
     dict(betas=(0.9, 0.9), eps=1e-16, rectify=True)),
    ("diffgrad", DiffGrad, ref_diffgrad, dict(betas=(0.9, 0.999), eps=1e-8)),
    ("diffgrad_wd", DiffGrad, ref_diffgrad, dict(betas=(0.8, 0.99), eps=1e-8, weight_decay=0.1)),
    ("adainject", AdaInject, ref_adainject, dict(betas=(0.9, 0.999), eps=1e-8)),
    ("adainject_wd_k3", AdaInject, ref_adainject,
     dict(betas=(0.9, 0.99), eps=1e-8, weight_decay=0.05, k=3.0)),
    ("angulargrad_cos", AngularGrad, ref_angulargrad, dict(betas=(0.9, 0.999), eps=1e-8)),
    ("angulargrad_tan", AngularGrad, ref_angulargrad,
     dict(betas=(0.9, 0.999), eps=1e-8, method="tan", weight_decay=0.05)),
    ("lion", Lion, ref_lion, dict(betas=(0.9, 0.99))),
    ("lion_wd", Lion, ref_lion, dict(betas=(0.95, 0.98), weight_decay=0.5)),
    ("sgdw", SGDW, ref_sgdw, dict(momentum=0.9, weight_decay=0.1)),
    ("sgdw_nomomentum", SGDW, ref_sgdw, dict(momentum=0.0, weight_decay=0.3)),
    ("ftrl", FTRL, ref_ftrl, dict()),
    ("ftrl_all", FTRL, ref_ftrl,
     dict(learning_rate_power=-0.7, initial_accumulator_value=0.3,
          l1_regularization_strength=0.05, l2_regularization_strength=0.2,
          l2_shrinkage_regularization_strength=0.1, beta=0.5)),
]


# learning rates per group (two groups: per-group hyperparameters are exercised too)
LRS = {Lion: (0.01, 0.004), SGDW: (0.05, 0.02), FTRL: (0.5, 0.2)}



def cases_for(cls) -> list[tuple]:
    """The rows of :data:`CASES` for optimizer class ``cls``."""
    return [case for case in CASES if case[1] is cls]


def assert_matches_paper(name: str, dtype=np.float64, device: str = "cpu") -> None:
    """Run case ``name`` with minigrad and with the reference; compare every step.

    float64: to 1e-10 relative (only operation order differs); float32: to float32 round-off
    accumulated over the trajectory, |x - x_ref| <= 2e-5 + 2e-5 |x_ref|.
    """
    _, cls, ref, hp = next(case for case in CASES if case[0] == name)
    lrs = LRS.get(cls, (0.05, 0.02))
    prob = problem()
    got, _, params = run_minigrad(cls, hp, lrs, prob, dtype=dtype, device=device)
    assert all(p.dtype == dtype for p in params)
    want, _ = run_reference(ref, hp, lrs, prob)
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (2e-5, 2e-5)
    for t, (xs, ys) in enumerate(zip(got, want)):
        for x, y in zip(xs, ys):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"step {t + 1}")


# --------------------------------------------------------------------------- authors' code

AUTHORS_FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "paper_reference_trajectories.npz"


# numbers made by fixtures/paper_make_fixtures.py with the authors' torch packages (float64):
# adabelief-pytorch 0.2.1, torch-optimizer 0.3.0 (diffGrad's released code), lion-pytorch 0.2.5
AUTHORS = [
    ("adabelief", AdaBelief, dict(lr=0.05, betas=(0.9, 0.999), eps=1e-16, weight_decay=0.1)),
    ("adabelief_rectify", AdaBelief, dict(lr=0.05, betas=(0.9, 0.9), eps=1e-16, rectify=True)),
    # diffGrad's code puts eps before the bias correction; with eps = 1e-8 that is far below
    # float32 round-off here, so the paper form must still agree to float32 tolerance
    ("diffgrad", DiffGrad, dict(lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)),
    ("lion", Lion, dict(lr=0.01, betas=(0.9, 0.99), weight_decay=0.5)),
]



def assert_matches_authors_code(name: str, device: str = "cpu") -> None:
    """Case ``name`` of :data:`AUTHORS` against the authors' package, step by step."""
    _, cls, kwargs = next(a for a in AUTHORS if a[0] == name)
    ref = np.load(AUTHORS_FIXTURE)
    x = minigrad.Parameter(ref["x0"].astype(np.float32), device=device)
    opt = cls([x], **kwargs)
    for t, want in enumerate(ref[name]):
        g = ref["h"] * (to_numpy(x).astype(np.float64) - ref["c"]) + ref["noise"][t]
        x.grad = minigrad.Tensor(g.astype(np.float32), device=device)
        opt.step()
        np.testing.assert_allclose(to_numpy(x), want, rtol=2e-5, atol=2e-5,
                                   err_msg=f"step {t + 1}")
