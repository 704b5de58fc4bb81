"""Adamax: torch's trajectories, the infinity-norm step on a constant gradient, bad
hyperparameters."""


import numpy as np
import pytest

from minigrad.optim.adamax import Adamax

from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids
from .torch_reference import assert_matches_torch, assert_torch_defaults, configs_for


@pytest.mark.parametrize("name", configs_for("Adamax"))
def test_matches_torch_trajectory(name):
    assert_matches_torch(name)


def test_defaults_match_torch_signature():
    assert_torch_defaults(Adamax)


BAD = bad_hyperparameters_of(Adamax)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


G = np.array([0.5, -2.0, 0.03])          # a constant gradient


def test_constant_gradient_steps_are_exactly_lr():
    # Kingma & Ba (2015), section 7.1: m^_t = g and u_t = |g| + eps on a constant gradient,
    # so every step is lr g / (|g| + eps): the step size is bounded by lr
    got = step_updates(Adamax, [G] * 20, lr=0.01, eps=1e-30)
    np.testing.assert_allclose(got, 0.01 * np.sign(G) * np.ones((20, 1)), rtol=1e-12)
