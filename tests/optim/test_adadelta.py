"""Adadelta: torch's trajectories, Zeiler's first step in closed form, bad hyperparameters."""

import math

import numpy as np
import pytest

from minigrad.optim.adadelta import Adadelta

from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids
from .torch_reference import assert_matches_torch, assert_torch_defaults, configs_for


@pytest.mark.parametrize("name", configs_for("Adadelta"))
def test_matches_torch_trajectory(name):
    assert_matches_torch(name)


def test_defaults_match_torch_signature():
    assert_torch_defaults(Adadelta)


BAD = bad_hyperparameters_of(Adadelta)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


G = np.array([0.5, -2.0, 0.03])          # a constant gradient


def test_first_step_is_rms_of_nothing_over_rms_of_the_gradient():
    # Zeiler (2012), Alg. 1 at t = 1: E[dx^2]_0 = 0, E[g^2]_1 = (1 - rho) g^2, so
    # dx_1 = sqrt(eps) / sqrt((1 - rho) g^2 + eps) * g
    rho, eps = 0.9, 1e-6
    got = step_updates(Adadelta, [G], lr=1.0, rho=rho, eps=eps)[0]
    np.testing.assert_allclose(got, math.sqrt(eps) / np.sqrt((1 - rho) * G**2 + eps) * G,
                               rtol=1e-12)
