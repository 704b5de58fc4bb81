"""The beyond-torch optimizers of issue 4, each against its paper.

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

import math
import pathlib

import numpy as np
import pytest

import minigrad
from minigrad.optim.adabelief import AdaBelief
from minigrad.optim.adainject import AdaInject
from minigrad.optim.angulargrad import AngularGrad
from minigrad.optim.diffgrad import DiffGrad
from minigrad.optim.ftrl import FTRL
from minigrad.optim.lion import Lion
from minigrad.optim.sgdw import SGDW
from minigrad.optim.swats import SWATS
from tests.conftest import to_numpy

# --------------------------------------------------------------------------- problems
# Two parameters (a vector and a matrix) in two groups; the gradient of each is
# H * (x - c) + noise_t (a separable quadratic with a fixed, pre-drawn noise sequence), so the
# reference and minigrad see the same function of their own iterates.

_SHAPES = [(3,), (2, 2)]
_STEPS = 120


def _problem(seed: int = 7, noise: float = 0.1, steps: int = _STEPS):
    r = np.random.default_rng(seed)
    x0 = [r.normal(size=s) for s in _SHAPES]
    h = [r.uniform(0.5, 4.0, size=s) for s in _SHAPES]
    c = [r.normal(size=s) for s in _SHAPES]
    eps = [noise * r.normal(size=(steps,) + s) for s in _SHAPES]
    return x0, h, c, eps


def _grad(i, x, t, prob):
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
            g = _grad(i, to_numpy(p).astype(np.float64), t, prob).astype(dtype)
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
            g = _grad(i, xs[i], t, prob)
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


@pytest.mark.parametrize("name,cls,ref,hp", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_paper_float64(name, cls, ref, hp):
    lrs = LRS.get(cls, (0.05, 0.02))
    prob = _problem()
    got, _, _ = run_minigrad(cls, hp, lrs, prob, dtype=np.float64)
    want, _ = run_reference(ref, hp, lrs, prob)
    for t, (xs, ys) in enumerate(zip(got, want)):
        for x, y in zip(xs, ys):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12, err_msg=f"step {t + 1}")


@pytest.mark.parametrize("name,cls,ref,hp", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_paper_float32(name, cls, ref, hp, device):
    lrs = LRS.get(cls, (0.05, 0.02))
    prob = _problem()
    got, _, params = run_minigrad(cls, hp, lrs, prob, dtype=np.float32, device=device)
    assert all(p.dtype == np.float32 for p in params)
    want, _ = run_reference(ref, hp, lrs, prob)
    for t, (xs, ys) in enumerate(zip(got, want)):
        for x, y in zip(xs, ys):
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-5, err_msg=f"step {t + 1}")


def test_optimizer_state_stays_float32():
    prob = _problem()
    for _, cls, _, hp in CASES:
        _, opt, params = run_minigrad(cls, hp, LRS.get(cls, (0.05, 0.02)), prob, steps=3)
        for p in params:
            for key, value in opt.state[p].items():
                if hasattr(value, "dtype"):
                    assert value.dtype == np.float32, (cls.__name__, key)


# --------------------------------------------------------------------------- authors' code

_FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "paper_reference_trajectories.npz"

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


@pytest.mark.parametrize("name,cls,kwargs", AUTHORS, ids=[a[0] for a in AUTHORS])
def test_trajectory_matches_authors_code(name, cls, kwargs, device):
    ref = np.load(_FIXTURE)
    x = minigrad.Parameter(ref["x0"].astype(np.float32), device=device)
    opt = cls([x], **kwargs)
    for t, want in enumerate(ref[name]):
        g = ref["h"] * (to_numpy(x).astype(np.float64) - ref["c"]) + ref["noise"][t]
        x.grad = minigrad.Tensor(g.astype(np.float32), device=device)
        opt.step()
        np.testing.assert_allclose(to_numpy(x), want, rtol=2e-5, atol=2e-5,
                                   err_msg=f"step {t + 1}")


# --------------------------------------------------------------------------- SWATS

def test_swats_switches_on_linear_objective_with_closed_form_rate():
    # f(x) = c^T x: the gradient is constant, so Adam's step is -alpha * c / (|c| + eps')
    # and gamma_k = alpha * n / sum|c| (up to eps) at every step: the estimate has settled
    # at k = 2, the first step the criterion may fire, and Lambda = gamma. (The tolerance is
    # the paper's absolute eps = 1e-9, so gamma must be small enough for float32 to resolve
    # it to 1e-9: a small lr.)
    c = np.array([0.5, -2.0, 4.0, 1.0])
    x = minigrad.Parameter(np.zeros(4, np.float32))
    lr = 0.01
    opt = SWATS([x], lr=lr)
    for _ in range(3):
        x.grad = minigrad.Tensor(c.astype(np.float32))
        opt.step()
    st = opt.state[x]
    assert st["phase"] == "sgd"
    assert st["switch_step"] == 2
    assert st["sgd_lr"] == pytest.approx(lr * c.size / np.abs(c).sum(), rel=1e-5)


def test_swats_does_not_switch_on_noisy_gradients():
    r = np.random.default_rng(3)
    x = minigrad.Parameter(np.zeros(5, np.float32))
    opt = SWATS([x], lr=0.01)
    for _ in range(300):
        x.grad = minigrad.Tensor(r.normal(size=5).astype(np.float32))
        opt.step()
    assert opt.state[x]["phase"] == "adam"
    assert opt.state[x]["switch_step"] is None and opt.state[x]["sgd_lr"] is None


def test_swats_after_switch_is_sgd_momentum_at_the_estimated_rate():
    c = np.array([1.0, -3.0, 2.0])
    x = minigrad.Parameter(np.zeros(3, np.float32))
    beta1 = 0.8
    opt = SWATS([x], lr=0.002, betas=(beta1, 0.99))
    for _ in range(2):
        x.grad = minigrad.Tensor(c.astype(np.float32))
        opt.step()
    st = opt.state[x]
    assert st["phase"] == "sgd" and st["switch_step"] == 2
    rate = (1 - beta1) * st["sgd_lr"]          # torch SGD(momentum=beta1) learning rate
    r = np.random.default_rng(0)
    xs = to_numpy(x).astype(np.float64)
    buf = np.zeros(3)                          # v_k = 0 at the switch
    for _ in range(30):
        g = r.normal(size=3).astype(np.float32)
        x.grad = minigrad.Tensor(g)
        opt.step()
        buf = beta1 * buf + g
        xs = xs - rate * buf
        np.testing.assert_allclose(to_numpy(x), xs, rtol=1e-5, atol=1e-6)
    assert opt.state[x]["switch_step"] == 2   # the switch happens once


def test_swats_layers_switch_independently():
    a = minigrad.Parameter(np.zeros(3, np.float32))
    b = minigrad.Parameter(np.zeros(3, np.float32))
    opt = SWATS([a, b], lr=0.01)
    r = np.random.default_rng(1)
    for _ in range(20):
        a.grad = minigrad.Tensor(np.array([1.0, 2.0, -1.0], np.float32))   # settles: switches
        b.grad = minigrad.Tensor(r.normal(size=3).astype(np.float32))      # never settles
        opt.step()
    assert opt.state[a]["phase"] == "sgd" and opt.state[a]["switch_step"] == 2
    assert opt.state[b]["phase"] == "adam"


def test_swats_trajectory_with_mid_run_switch_matches_algorithm_1():
    # with these numbers the second tensor switches at k = 75 and the first never does
    prob = _problem(seed=1, noise=0.0, steps=200)
    hp = dict(betas=(0.9, 0.99), eps=1e-5)
    lrs = (0.01, 0.01)
    got, opt, params = run_minigrad(SWATS, hp, lrs, prob, steps=200, dtype=np.float64)
    want, ref_states = run_reference(ref_swats, hp, lrs, prob, steps=200)
    switches = [opt.state[p]["switch_step"] for p in params]
    assert switches == [s["k_switch"] for s in ref_states]
    assert any(k is not None and 2 < k < 150 for k in switches), switches
    for p, s in zip(params, ref_states):
        if s["Lam"] is not None:
            assert opt.state[p]["sgd_lr"] == pytest.approx(s["Lam"], rel=1e-9)
    for t, (xs, ys) in enumerate(zip(got, want)):
        for x, y in zip(xs, ys):
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12, err_msg=f"step {t + 1}")


def test_swats_sgd_rate_follows_the_group_lr_schedule():
    x = minigrad.Parameter(np.zeros(2, np.float32))
    opt = SWATS([x], lr=0.002, betas=(0.5, 0.99))
    for _ in range(2):
        x.grad = minigrad.Tensor(np.array([1.0, 1.0], np.float32))
        opt.step()
    lam = opt.state[x]["sgd_lr"]
    opt.param_groups[0]["lr"] = 0.0002          # a scheduler divides the rate by 10
    before = to_numpy(x).copy()
    x.grad = minigrad.Tensor(np.array([1.0, 1.0], np.float32))
    opt.step()
    # v = 0.5 * 0 + g = g; step = (1 - beta1) * Lambda * 0.1 * g
    np.testing.assert_allclose(before - to_numpy(x), 0.5 * lam * 0.1 * np.ones(2), rtol=1e-5)


# --------------------------------------------------------------------------- FTRL

def _ftrl_on_least_squares(l1):
    # f(w) = 0.5 ||w - target||^2 with half of the targets tiny: the L1-regularised optimum
    # is exactly 0 there, the unregularised one is not.
    r = np.random.default_rng(5)
    target = r.normal(size=40)
    target[:20] *= 0.001
    w = minigrad.Parameter(np.zeros(40, np.float32))
    opt = FTRL([w], lr=0.5, l1_regularization_strength=l1)
    for _ in range(200):
        w.grad = minigrad.Tensor((w.array - target).astype(np.float32))
        opt.step()
    return to_numpy(w), to_numpy(opt.state[w]["linear"])


def test_ftrl_l1_gives_exact_zeros():
    w, z = _ftrl_on_least_squares(l1=3.0)
    assert np.all(w[:20] == 0.0)                         # exact zeros, not tiny numbers
    np.testing.assert_array_equal(w == 0.0, np.abs(z) <= 3.0)
    assert np.count_nonzero(w[20:]) >= 15


def test_ftrl_without_l1_has_no_exact_zeros():
    w, _ = _ftrl_on_least_squares(l1=0.0)
    assert np.all(w != 0.0)


def test_ftrl_first_step_closed_form():
    # one step from w0 = 0 with n0 = 0.1: n1 = 0.1 + g^2, z1 = g (sigma * w0 = 0),
    # w1 = -z1 / (sqrt(n1) / lr) when |z1| > l1 = 0
    w = minigrad.Parameter(np.zeros(3), dtype=np.float64)
    g = np.array([0.5, -1.0, 2.0])
    opt = FTRL([w], lr=0.2)
    w.grad = minigrad.Tensor(g, dtype=np.float64)
    opt.step()
    np.testing.assert_allclose(to_numpy(w), -g * 0.2 / np.sqrt(0.1 + g**2), rtol=1e-12)


# --------------------------------------------------------------------------- convergence

def quadratic_grad(x):
    h = np.array([1.0, 10.0])
    return h * (x - np.array([1.0, -2.0]))


def rosenbrock_grad(x):
    a, b = 1.0, 100.0
    return np.array([-2 * (a - x[0]) - 4 * b * x[0] * (x[1] - x[0] ** 2),
                     2 * b * (x[1] - x[0] ** 2)])


def _minimise(cls, kwargs, grad_fn, x0, steps):
    x = minigrad.Parameter(np.array(x0, np.float32))
    opt = cls([x], **kwargs)
    for _ in range(steps):
        x.grad = minigrad.Tensor(grad_fn(to_numpy(x).astype(np.float64)).astype(np.float32))
        opt.step()
    return to_numpy(x).astype(np.float64)


# (class, kwargs, steps) per problem: budgets chosen per optimizer
QUADRATIC = [
    (AdaBelief, dict(lr=0.1), 500),
    (AdaBelief, dict(lr=0.1, rectify=True), 500),
    (DiffGrad, dict(lr=0.1), 500),
    (AdaInject, dict(lr=0.03), 1500),
    (AngularGrad, dict(lr=0.1), 500),
    (AngularGrad, dict(lr=0.1, method="tan"), 500),
    (Lion, dict(lr=0.005), 1500),
    (SGDW, dict(lr=0.05, momentum=0.9), 300),
    (FTRL, dict(lr=2.0), 300),
    (SWATS, dict(lr=0.05), 500),
]
ROSENBROCK = [
    (AdaBelief, dict(lr=0.02), 3000),
    (DiffGrad, dict(lr=0.02), 6000),
    (AdaInject, dict(lr=0.01), 5000),
    (AngularGrad, dict(lr=0.02), 3000),
    (AngularGrad, dict(lr=0.02, method="tan"), 6000),
    (Lion, dict(lr=0.001), 6000),
    (SGDW, dict(lr=1e-3, momentum=0.9), 3000),
    (FTRL, dict(lr=0.3), 10000),
    (SWATS, dict(lr=0.02), 3000),
]


@pytest.mark.parametrize("cls,kwargs,steps", QUADRATIC,
                         ids=[f"{c.__name__}-{k}" for c, k, _ in QUADRATIC])
def test_converges_on_quadratic(cls, kwargs, steps):
    x = _minimise(cls, kwargs, quadratic_grad, [-2.0, 3.0], steps)
    np.testing.assert_allclose(x, [1.0, -2.0], atol=1e-2)


@pytest.mark.parametrize("cls,kwargs,steps", ROSENBROCK,
                         ids=[f"{c.__name__}-{k}" for c, k, _ in ROSENBROCK])
def test_converges_on_rosenbrock(cls, kwargs, steps):
    x = _minimise(cls, kwargs, rosenbrock_grad, [-1.0, 1.5], steps)
    np.testing.assert_allclose(x, [1.0, 1.0], atol=5e-2)


# --------------------------------------------------------------------------- state_dict

ROUND_TRIP = [
    (AdaBelief, dict(lr=0.05, amsgrad=True, weight_decay=0.01)),
    (DiffGrad, dict(lr=0.05)),
    (AdaInject, dict(lr=0.05)),
    (AngularGrad, dict(lr=0.05, method="tan")),
    (Lion, dict(lr=0.01, weight_decay=0.1)),
    (SGDW, dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    (FTRL, dict(lr=0.5, l1_regularization_strength=0.01)),
    (SWATS, dict(lr=0.01, eps=1e-6)),
]


@pytest.mark.parametrize("cls,kwargs", ROUND_TRIP, ids=[c.__name__ for c, _ in ROUND_TRIP])
def test_state_dict_round_trip_gives_identical_next_steps(cls, kwargs):
    prob = _problem(seed=3, noise=0.0 if cls is SWATS else 0.1)

    def make():
        ps = [minigrad.Parameter(x.astype(np.float32)) for x in prob[0]]
        return ps, cls(ps, **kwargs)

    def step(ps, opt, t):
        for i, p in enumerate(ps):
            p.grad = minigrad.Tensor(_grad(i, to_numpy(p).astype(np.float64), t, prob)
                                     .astype(np.float32))
        opt.step()

    ps, opt = make()
    for t in range(40):
        step(ps, opt, t)
    sd = opt.state_dict()
    ps2, opt2 = make()
    for p2, p in zip(ps2, ps):
        p2.array[...] = p.array
    opt2.load_state_dict(sd)
    for t in range(40, 100):
        step(ps, opt, t)
        step(ps2, opt2, t)
        for p, p2 in zip(ps, ps2):
            np.testing.assert_array_equal(to_numpy(p), to_numpy(p2))
    if cls is SWATS:
        assert [opt.state[p]["phase"] for p in ps] == [opt2.state[p]["phase"] for p in ps2]


# --------------------------------------------------------------------------- validation

BAD = [
    (AdaBelief, dict(lr=-1.0), "AdaBelief: lr must be >= 0, got -1.0"),
    (AdaBelief, dict(betas=(1.0, 0.9)), "AdaBelief: beta1 must be in [0, 1), got 1.0"),
    (AdaBelief, dict(betas=(0.9, -0.1)), "AdaBelief: beta2 must be in [0, 1), got -0.1"),
    (AdaBelief, dict(betas=(0.9,)), "AdaBelief: betas must be a pair"),
    (AdaBelief, dict(eps=0.0), "AdaBelief: eps must be > 0, got 0.0"),
    (AdaBelief, dict(weight_decay=-0.1), "AdaBelief: weight_decay must be >= 0, got -0.1"),
    (AdaBelief, dict(rectify="yes"), "AdaBelief: rectify must be a bool, got 'yes'"),
    (DiffGrad, dict(lr=-0.1), "DiffGrad: lr must be >= 0, got -0.1"),
    (DiffGrad, dict(betas=(0.9, 1.5)), "DiffGrad: beta2 must be in [0, 1), got 1.5"),
    (DiffGrad, dict(eps=-1e-8), "DiffGrad: eps must be > 0, got -1e-08"),
    (DiffGrad, dict(weight_decay=-1.0), "DiffGrad: weight_decay must be >= 0, got -1.0"),
    (AdaInject, dict(lr=-0.1), "AdaInject: lr must be >= 0, got -0.1"),
    (AdaInject, dict(betas=(1.2, 0.9)), "AdaInject: beta1 must be in [0, 1), got 1.2"),
    (AdaInject, dict(eps=0.0), "AdaInject: eps must be > 0, got 0.0"),
    (AdaInject, dict(k=0.0), "AdaInject: k must be > 0, got 0.0"),
    (AdaInject, dict(weight_decay=-1.0), "AdaInject: weight_decay must be >= 0, got -1.0"),
    (AngularGrad, dict(method="sin"), "AngularGrad: method must be 'cos' or 'tan', got 'sin'"),
    (AngularGrad, dict(lr=-1.0), "AngularGrad: lr must be >= 0, got -1.0"),
    (AngularGrad, dict(betas=(0.9, 1.0)), "AngularGrad: beta2 must be in [0, 1), got 1.0"),
    (AngularGrad, dict(eps=0.0), "AngularGrad: eps must be > 0, got 0.0"),
    (AngularGrad, dict(weight_decay=-1.0), "AngularGrad: weight_decay must be >= 0, got -1.0"),
    (Lion, dict(lr=-1e-4), "Lion: lr must be >= 0, got -0.0001"),
    (Lion, dict(betas=(1.2, 0.99)), "Lion: beta1 must be in [0, 1), got 1.2"),
    (Lion, dict(betas=(0.9, 1.0)), "Lion: beta2 must be in [0, 1), got 1.0"),
    (Lion, dict(weight_decay=-0.1), "Lion: weight_decay must be >= 0, got -0.1"),
    (SGDW, dict(lr=-0.1), "SGDW: lr must be >= 0, got -0.1"),
    (SGDW, dict(momentum=-0.5), "SGDW: momentum must be >= 0, got -0.5"),
    (SGDW, dict(dampening=-0.5), "SGDW: dampening must be >= 0, got -0.5"),
    (SGDW, dict(weight_decay=-0.1), "SGDW: weight_decay must be >= 0, got -0.1"),
    (SGDW, dict(nesterov=True), "SGDW: momentum must be > 0 when nesterov=True, got 0.0"),
    (SGDW, dict(nesterov=True, momentum=0.9, dampening=0.1),
     "SGDW: dampening must be 0 when nesterov=True"),
    (FTRL, dict(lr=0.0), "FTRL: lr must be > 0, got 0.0"),
    (FTRL, dict(learning_rate_power=0.5), "FTRL: learning_rate_power must be <= 0, got 0.5"),
    (FTRL, dict(initial_accumulator_value=-0.1),
     "FTRL: initial_accumulator_value must be >= 0, got -0.1"),
    (FTRL, dict(l1_regularization_strength=-1.0),
     "FTRL: l1_regularization_strength must be >= 0, got -1.0"),
    (FTRL, dict(l2_regularization_strength=-1.0),
     "FTRL: l2_regularization_strength must be >= 0, got -1.0"),
    (FTRL, dict(l2_shrinkage_regularization_strength=-1.0),
     "FTRL: l2_shrinkage_regularization_strength must be >= 0, got -1.0"),
    (FTRL, dict(beta=-1.0), "FTRL: beta must be >= 0, got -1.0"),
    (SWATS, dict(lr=-1.0), "SWATS: lr must be >= 0, got -1.0"),
    (SWATS, dict(betas=(0.9, 1.0)), "SWATS: beta2 must be in [0, 1), got 1.0"),
    (SWATS, dict(eps=0.0), "SWATS: eps must be > 0, got 0.0"),
    (SWATS, dict(weight_decay=-1.0), "SWATS: weight_decay must be >= 0, got -1.0"),
]


@pytest.mark.parametrize("cls,kwargs,message", BAD,
                         ids=[f"{c.__name__}-{sorted(k)[0]}" for c, k, _ in BAD])
def test_bad_hyperparameter_raises(cls, kwargs, message):
    p = minigrad.Parameter(np.zeros(2, np.float32))
    with pytest.raises(ValueError) as info:
        cls([p], **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize("cls,kwargs,message", BAD[:5] + BAD[-4:],
                         ids=[f"{c.__name__}-{sorted(k)[0]}" for c, k, _ in BAD[:5] + BAD[-4:]])
def test_bad_per_group_hyperparameter_raises_and_changes_nothing(cls, kwargs, message):
    p = minigrad.Parameter(np.zeros(2, np.float32))
    q = minigrad.Parameter(np.zeros(2, np.float32))
    opt = cls([p])
    with pytest.raises(ValueError) as info:
        opt.add_param_group({"params": [q], **kwargs})
    assert message in str(info.value)
    assert len(opt.param_groups) == 1


def test_skips_parameters_without_gradient():
    for _, cls, _, hp in CASES:
        p = minigrad.Parameter(np.ones(3, np.float32))
        q = minigrad.Parameter(np.ones(3, np.float32))
        opt = cls([p, q], **hp)
        p.grad = minigrad.Tensor(np.ones(3, np.float32))
        opt.step()
        assert q not in opt.state
        np.testing.assert_array_equal(to_numpy(q), np.ones(3))


def test_paper_defaults():
    p = [minigrad.Parameter(np.zeros(1, np.float32))]
    assert AdaBelief(p).defaults["eps"] == 1e-16
    assert AdaBelief(p).defaults["weight_decouple"] is True
    assert AdaBelief(p).defaults["rectify"] is False
    assert Lion(p).defaults["lr"] == 1e-4 and Lion(p).defaults["betas"] == (0.9, 0.99)
    assert SWATS(p).defaults["eps"] == 1e-9
    f = FTRL(p).defaults
    assert (f["lr"], f["learning_rate_power"], f["initial_accumulator_value"]) == (
        0.001, -0.5, 0.1)
    assert AngularGrad(p).defaults["method"] == "cos"
    assert AdaInject(p).defaults["k"] == 2.0
    assert math.isclose(DiffGrad(p).defaults["eps"], 1e-8)
