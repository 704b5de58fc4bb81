"""Adam and AMSGrad: torch's trajectories, scale invariance, Reddi et al.'s online problem,
bad hyperparameters."""

import math

import numpy as np
import pytest

import minigrad
from minigrad.optim.adam import Adam, AMSGrad
from tests.optim.torch_reference import ATOL, CONFIGS, FIXTURE, RTOL, replay

from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids
from .torch_reference import assert_matches_torch, assert_torch_defaults, configs_for


@pytest.mark.parametrize("name", configs_for("Adam"))
def test_matches_torch_trajectory(name):
    assert_matches_torch(name)


def test_defaults_match_torch_signature():
    assert_torch_defaults(Adam)


BAD = bad_hyperparameters_of(Adam, AMSGrad)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


@pytest.mark.parametrize("name", ["Adam-amsgrad", "Adam-amsgrad-wd"])
def test_amsgrad_alias_matches_torch_adam_amsgrad(name):
    cfg = dict(CONFIGS[name], kwargs={k: v for k, v in CONFIGS[name]["kwargs"].items()
                                      if k != "amsgrad"})
    np.testing.assert_allclose(replay(cfg, AMSGrad), FIXTURE[f"traj/{name}"],
                               rtol=RTOL, atol=ATOL)


def test_amsgrad_differs_from_adam_on_this_problem():
    # otherwise the amsgrad configs would not test the running maximum at all
    assert not np.allclose(FIXTURE["traj/Adam-amsgrad"], FIXTURE["traj/Adam-default"],
                           rtol=RTOL, atol=ATOL)


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


def test_update_is_invariant_to_the_scale_of_the_gradient():
    # Kingma & Ba (2015), section 2.1: the step is invariant to rescaling the gradients
    # (exactly so as eps -> 0)
    r = np.random.default_rng(0)
    grads = [r.normal(size=4) for _ in range(30)]
    small = step_updates(Adam, grads, lr=0.01, eps=1e-30)
    large = step_updates(Adam, [1e3 * g for g in grads], lr=0.01, eps=1e-30)
    np.testing.assert_allclose(large, small, rtol=1e-10)
