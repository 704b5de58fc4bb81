"""AdamW: torch's trajectories, the decoupled decay in closed form and at the fixed point,
bad hyperparameters."""


import numpy as np
import pytest

import minigrad
from minigrad.optim.adamw import AdamW

from .problems import QUADRATIC, minimize
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids
from .torch_reference import assert_matches_torch, assert_torch_defaults, configs_for


@pytest.mark.parametrize("name", configs_for("AdamW"))
def test_matches_torch_trajectory(name):
    assert_matches_torch(name)


def test_defaults_match_torch_signature():
    assert_torch_defaults(AdamW)


BAD = bad_hyperparameters_of(AdamW)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


def test_adamw_first_step_closed_form():
    # t = 1: m_hat = g, v_hat = g^2, so theta_1 = theta_0 (1 - lr wd) - lr g / (|g| + eps)
    theta0 = np.array([1.0, -2.0, 0.5], np.float32)
    g = np.array([0.3, -4.0, 0.0], np.float32)
    p = minigrad.Parameter(theta0.copy())
    p.grad = minigrad.Tensor(g)
    AdamW([p], lr=0.1, weight_decay=0.5).step()
    expected = theta0 * (1 - 0.1 * 0.5) - 0.1 * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(p.array, expected, rtol=1e-6)



def test_adamw_converges_to_the_decayed_fixed_point():
    # decoupled decay: the fixed point solves a_i (x - c_i) / (sqrt(v_hat) + eps) = -wd x_i,
    # so x ends strictly between 0 and c (shrunk towards 0), unlike weight_decay=0
    x = minimize(QUADRATIC, lambda ps: AdamW(ps, lr=0.05, weight_decay=0.5), 2000).array
    c = QUADRATIC.minimizer
    assert np.all(np.abs(x) < np.abs(c) - 1e-3)
    assert np.all(np.sign(x) == np.sign(c))

