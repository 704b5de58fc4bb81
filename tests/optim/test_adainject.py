"""AdaInject: the paper's AdamInject update, Adam's first step, bad hyperparameters."""


import numpy as np
import pytest

import minigrad
from minigrad.optim.adainject import AdaInject

from .paper_reference import assert_matches_paper, cases_for
from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids


@pytest.mark.parametrize("name", [case[0] for case in cases_for(AdaInject)])
def test_trajectory_matches_paper_float64(name):
    assert_matches_paper(name)


@pytest.mark.parametrize("name", [case[0] for case in cases_for(AdaInject)])
def test_trajectory_matches_paper_float32(name, device):
    assert_matches_paper(name, np.float32, device)


BAD = bad_hyperparameters_of(AdaInject)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


def test_paper_defaults():
    p = [minigrad.Parameter(np.zeros(1, np.float32))]
    assert AdaInject(p).defaults["k"] == 2.0


G = np.array([0.5, -2.0, 0.03])          # a constant gradient


def test_first_step_is_adams_and_injection_changes_the_next():
    # Dubey et al. (2022): m_1 uses g_1 alone; from t = 2 the first moment takes
    # (g_t + Delta theta_t g_t^2) / k, so the steps part from Adam's
    from minigrad.optim.adam import Adam
    inject = step_updates(AdaInject, [G] * 3, lr=0.01)
    adam = step_updates(Adam, [G] * 3, lr=0.01)
    np.testing.assert_allclose(inject[0], adam[0], rtol=1e-12)
    assert not np.allclose(inject[1], adam[1])
