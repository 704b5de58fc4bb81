"""RAdam: torch's trajectories, the un-rectified first steps, bad hyperparameters."""


import numpy as np
import pytest

from minigrad.optim.radam import RAdam

from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids
from .torch_reference import assert_matches_torch, assert_torch_defaults, configs_for


@pytest.mark.parametrize("name", configs_for("RAdam"))
def test_matches_torch_trajectory(name):
    assert_matches_torch(name)


def test_defaults_match_torch_signature():
    assert_torch_defaults(RAdam)


BAD = bad_hyperparameters_of(RAdam)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


G = np.array([0.5, -2.0, 0.03])          # a constant gradient


def test_first_steps_are_momentum_sgd_until_the_variance_is_tractable():
    # Liu et al. (2020): with beta2 = 0.999, rho_t <= 5 for t <= 5, so those steps are
    # lr * m_hat_t, which is lr g on a constant gradient; from t = 6 on the adaptive,
    # rectified step (about lr r_t sign(g)) takes over
    got = step_updates(RAdam, [G] * 8, lr=0.01)
    np.testing.assert_allclose(got[:5], 0.01 * G * np.ones((5, 1)), rtol=1e-12)
    assert not np.allclose(got[5], 0.01 * G)
    assert np.all(np.abs(got[5]) < 0.01)        # r_t < 1: the rectification damps the step
