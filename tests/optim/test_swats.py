"""SWATS: Algorithm 1 (switch from Adam to SGD), the switch criterion, per-layer switching,
the SGD phase, bad hyperparameters."""


import numpy as np
import pytest

import minigrad
from minigrad.optim.swats import SWATS

from ..conftest import to_numpy
from .paper_reference import problem, ref_swats, run_minigrad, run_reference
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids

BAD = bad_hyperparameters_of(SWATS)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


def test_paper_defaults():
    p = [minigrad.Parameter(np.zeros(1, np.float32))]
    assert SWATS(p).defaults["eps"] == 1e-9


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
    prob = problem(seed=1, noise=0.0, steps=200)
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

