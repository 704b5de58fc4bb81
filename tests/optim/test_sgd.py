"""SGD: torch's trajectories, Polyak's heavy-ball series, bad hyperparameters."""


import numpy as np
import pytest

from minigrad.optim.sgd import SGD

from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids
from .torch_reference import assert_matches_torch, assert_torch_defaults, configs_for


@pytest.mark.parametrize("name", configs_for("SGD"))
def test_matches_torch_trajectory(name):
    assert_matches_torch(name)


def test_defaults_match_torch_signature():
    assert_torch_defaults(SGD)


BAD = bad_hyperparameters_of(SGD)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


G = np.array([0.5, -2.0, 0.03])          # a constant gradient


def test_momentum_on_a_constant_gradient_is_a_geometric_series():
    # Polyak's heavy ball: b_t = g (1 - mu^t) / (1 - mu), so the steps tend to lr g / (1 - mu)
    lr, mu, steps = 0.1, 0.9, 60
    got = step_updates(SGD, [G] * steps, lr=lr, momentum=mu)
    k = np.arange(1, steps + 1)[:, None]
    np.testing.assert_allclose(got, lr * G * (1 - mu**k) / (1 - mu), rtol=1e-12)


def test_nesterov_looks_one_momentum_step_ahead():
    # Sutskever et al. (2013) as torch writes it: d_t = g_t + mu b_t
    lr, mu, steps = 0.1, 0.9, 10
    got = step_updates(SGD, [G] * steps, lr=lr, momentum=mu, nesterov=True)
    k = np.arange(1, steps + 1)[:, None]
    np.testing.assert_allclose(got, lr * G * (1 + mu * (1 - mu**k) / (1 - mu)), rtol=1e-12)
