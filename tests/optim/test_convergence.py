"""Convergence of the torch-named optimizers on a convex quadratic and on Rosenbrock, and the
online problem of Reddi et al. (2018) on which Adam fails and AMSGrad does not.

Step budgets and learning rates are chosen per optimizer (the smallest round budgets at which
each converges from the same start); tolerances are distances to the known minimiser.
"""

import math

import numpy as np
import pytest

import minigrad
from minigrad.optim.adadelta import Adadelta
from minigrad.optim.adagrad import Adagrad
from minigrad.optim.adam import Adam, AMSGrad
from minigrad.optim.adamax import Adamax
from minigrad.optim.adamw import AdamW
from minigrad.optim.nadam import NAdam
from minigrad.optim.radam import RAdam
from minigrad.optim.rmsprop import RMSprop
from minigrad.optim.sgd import SGD

from .problems import QUADRATIC, ROSENBROCK, minimize, minimize_autograd

# name: (quadratic factory, steps), (rosenbrock factory, steps, tolerance)
CASES = {
    "SGD": ((lambda ps: SGD(ps, lr=0.1), 200),
            (lambda ps: SGD(ps, lr=1e-3, momentum=0.9), 2000, 1e-2)),
    "SGD-nesterov": ((lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True), 200),
                     (lambda ps: SGD(ps, lr=1e-3, momentum=0.9, nesterov=True), 2000, 1e-2)),
    "Adagrad": ((lambda ps: Adagrad(ps, lr=1.0), 200),
                (lambda ps: Adagrad(ps, lr=1.0), 8000, 1e-2)),
    # Adadelta reaches Rosenbrock's valley floor but keeps wandering along it (its step size
    # does not shrink); torch's Adadelta does the same (our trajectories match it).
    "Adadelta": ((lambda ps: Adadelta(ps, lr=1.0, eps=1e-3), 300),
                 (lambda ps: Adadelta(ps, lr=0.05), 8000, 5e-2)),
    "RMSprop": ((lambda ps: RMSprop(ps, lr=0.01), 1000),
                (lambda ps: RMSprop(ps, lr=2e-3), 8000, 1e-2)),
    "RMSprop-centered-momentum": (
        (lambda ps: RMSprop(ps, lr=0.01, centered=True, momentum=0.5), 500),
        (lambda ps: RMSprop(ps, lr=1e-3, centered=True, momentum=0.5), 4000, 1e-2)),
    "Adam": ((lambda ps: Adam(ps, lr=0.1), 200),
             (lambda ps: Adam(ps, lr=0.02), 4000, 1e-2)),
    "AMSGrad": ((lambda ps: AMSGrad(ps, lr=0.1), 200),
                (lambda ps: AMSGrad(ps, lr=0.02), 8000, 1e-2)),
    "AdamW": ((lambda ps: AdamW(ps, lr=0.1, weight_decay=0.0), 200),
              (lambda ps: AdamW(ps, lr=0.02, weight_decay=0.0), 4000, 1e-2)),
    "Adamax": ((lambda ps: Adamax(ps, lr=0.1), 200),
               (lambda ps: Adamax(ps, lr=0.02), 8000, 1e-2)),
    "NAdam": ((lambda ps: NAdam(ps, lr=0.1), 200),
              (lambda ps: NAdam(ps, lr=0.01), 8000, 1e-2)),
    "RAdam": ((lambda ps: RAdam(ps, lr=0.1), 500),
              (lambda ps: RAdam(ps, lr=2e-3), 16000, 1e-2)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_converges_on_quadratic(name, device):
    make, steps = CASES[name][0]
    start = QUADRATIC.distance(QUADRATIC.x0)
    x = minimize(QUADRATIC, make, steps, device=device)
    assert x.dtype == np.float32 and x.device == device
    assert QUADRATIC.distance(x) < 1e-2 < start


@pytest.mark.parametrize("name", sorted(CASES))
def test_converges_on_rosenbrock(name):
    make, steps, tol = CASES[name][1]
    x = minimize(ROSENBROCK, make, steps)
    assert ROSENBROCK.distance(x) < tol


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop-centered-momentum"])
def test_converges_with_autograd_gradients(name, device):
    # the same budget as with closed-form gradients, but each gradient from backward()
    make, steps = CASES[name][0]
    x = minimize_autograd(QUADRATIC, make, steps, device=device)
    assert QUADRATIC.distance(x) < 1e-2


def test_adamw_converges_to_the_decayed_fixed_point():
    # decoupled decay: the fixed point solves a_i (x - c_i) / (sqrt(v_hat) + eps) = -wd x_i,
    # so x ends strictly between 0 and c (shrunk towards 0), unlike weight_decay=0
    x = minimize(QUADRATIC, lambda ps: AdamW(ps, lr=0.05, weight_decay=0.5), 2000).array
    c = QUADRATIC.minimizer
    assert np.all(np.abs(x) < np.abs(c) - 1e-3)
    assert np.all(np.sign(x) == np.sign(c))


def _reddi(cls, steps=20_000):
    """Reddi et al. (2018), section 3: f_t(x) = 1010 x if t mod 101 == 1 else -10 x on
    [-1, 1], betas (0.9, 0.99), alpha_t = 0.1 / sqrt(t); the optimum is x = -1."""
    p = minigrad.Parameter(np.zeros(1, np.float32))
    opt = cls([p], lr=0.1, betas=(0.9, 0.99))
    group = opt.param_groups[0]
    grad = minigrad.Tensor(np.zeros(1, np.float32))
    g, x = grad.array, p.array
    for t in range(1, steps + 1):
        g[0] = 1010.0 if t % 101 == 1 else -10.0
        p.grad = grad
        group["lr"] = 0.1 / math.sqrt(t)
        opt.step()
        np.clip(x, -1.0, 1.0, out=x)   # projection onto the feasible set
    return float(x[0])


def test_reddi_online_problem_adam_drifts_amsgrad_does_not():
    assert _reddi(Adam) > 0
    assert _reddi(AMSGrad) < 0
