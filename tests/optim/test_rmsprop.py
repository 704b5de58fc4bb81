"""RMSprop: torch's trajectories, the normalised step on a constant gradient, bad
hyperparameters."""


import numpy as np
import pytest

from minigrad.optim.rmsprop import RMSprop

from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids
from .torch_reference import assert_matches_torch, assert_torch_defaults, configs_for


@pytest.mark.parametrize("name", configs_for("RMSprop"))
def test_matches_torch_trajectory(name):
    assert_matches_torch(name)


def test_defaults_match_torch_signature():
    assert_torch_defaults(RMSprop)


BAD = bad_hyperparameters_of(RMSprop)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


G = np.array([0.5, -2.0, 0.03])          # a constant gradient


def test_constant_gradient_step_tends_to_lr_times_sign():
    # v_t = (1 - alpha^t) g^2 on a constant gradient: step t = lr g / (sqrt(1 - alpha^t) |g| + eps)
    lr, alpha, steps = 0.01, 0.9, 50
    got = step_updates(RMSprop, [G] * steps, lr=lr, alpha=alpha, eps=1e-12)
    t = np.arange(1, steps + 1)[:, None]
    np.testing.assert_allclose(got, lr * np.sign(G) / np.sqrt(1 - alpha**t), rtol=1e-8)
