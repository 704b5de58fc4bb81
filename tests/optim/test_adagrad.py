"""Adagrad: torch's trajectories, the 1/sqrt(t) step on a constant gradient, bad
hyperparameters."""


import numpy as np
import pytest

from minigrad.optim.adagrad import Adagrad

from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids
from .torch_reference import assert_matches_torch, assert_torch_defaults, configs_for


@pytest.mark.parametrize("name", configs_for("Adagrad"))
def test_matches_torch_trajectory(name):
    assert_matches_torch(name)


def test_defaults_match_torch_signature():
    assert_torch_defaults(Adagrad)


BAD = bad_hyperparameters_of(Adagrad)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


G = np.array([0.5, -2.0, 0.03])          # a constant gradient


def test_constant_gradient_steps_shrink_as_one_over_sqrt_t():
    # Duchi et al.: G_t = t g^2, so step t is lr g / (sqrt(t) |g| + eps) = lr sign(g) / sqrt(t)
    lr, steps = 0.5, 40
    got = step_updates(Adagrad, [G] * steps, lr=lr)
    t = np.arange(1, steps + 1)[:, None]
    np.testing.assert_allclose(got, lr * np.sign(G) / np.sqrt(t), rtol=1e-8)
