"""FTRL-Proximal: Keras's update in the paper's closed form, exact zeros with L1, the first
step, bad hyperparameters."""


import numpy as np
import pytest

import minigrad
from minigrad.optim.ftrl import FTRL

from ..conftest import to_numpy
from .paper_reference import assert_matches_paper, cases_for
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids


@pytest.mark.parametrize("name", [case[0] for case in cases_for(FTRL)])
def test_trajectory_matches_paper_float64(name):
    assert_matches_paper(name)


@pytest.mark.parametrize("name", [case[0] for case in cases_for(FTRL)])
def test_trajectory_matches_paper_float32(name, device):
    assert_matches_paper(name, np.float32, device)


BAD = bad_hyperparameters_of(FTRL)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


def test_paper_defaults():
    p = [minigrad.Parameter(np.zeros(1, np.float32))]
    f = FTRL(p).defaults
    assert (f["lr"], f["learning_rate_power"], f["initial_accumulator_value"]) == (
        0.001, -0.5, 0.1)


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

