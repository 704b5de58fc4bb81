"""NAdam: torch's trajectories, scale invariance, bad hyperparameters."""


import numpy as np
import pytest

from minigrad.optim.nadam import NAdam

from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids
from .torch_reference import assert_matches_torch, assert_torch_defaults, configs_for


@pytest.mark.parametrize("name", configs_for("NAdam"))
def test_matches_torch_trajectory(name):
    assert_matches_torch(name)


def test_defaults_match_torch_signature():
    assert_torch_defaults(NAdam)


BAD = bad_hyperparameters_of(NAdam)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


def test_update_is_invariant_to_the_scale_of_the_gradient():
    # as Adam's (Dozat 2016 keeps Adam's normalisation by sqrt(v_hat))
    r = np.random.default_rng(1)
    grads = [r.normal(size=4) for _ in range(30)]
    small = step_updates(NAdam, grads, lr=0.01, eps=1e-30)
    large = step_updates(NAdam, [1e3 * g for g in grads], lr=0.01, eps=1e-30)
    np.testing.assert_allclose(large, small, rtol=1e-10)
