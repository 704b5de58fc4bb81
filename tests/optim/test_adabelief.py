"""AdaBelief: Algorithm 2 and the authors' package, a larger step when the gradient
matches its prediction, bad hyperparameters."""


import numpy as np
import pytest

import minigrad
from minigrad.optim.adabelief import AdaBelief

from .paper_reference import AUTHORS, assert_matches_authors_code, assert_matches_paper, cases_for
from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids


@pytest.mark.parametrize("name", [case[0] for case in cases_for(AdaBelief)])
def test_trajectory_matches_paper_float64(name):
    assert_matches_paper(name)


@pytest.mark.parametrize("name", [case[0] for case in cases_for(AdaBelief)])
def test_trajectory_matches_paper_float32(name, device):
    assert_matches_paper(name, np.float32, device)


@pytest.mark.parametrize("name", [a[0] for a in AUTHORS if a[1] is AdaBelief])
def test_trajectory_matches_authors_code(name, device):
    assert_matches_authors_code(name, device)


BAD = bad_hyperparameters_of(AdaBelief)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


def test_paper_defaults():
    p = [minigrad.Parameter(np.zeros(1, np.float32))]
    assert AdaBelief(p).defaults["eps"] == 1e-16
    assert AdaBelief(p).defaults["weight_decouple"] is True
    assert AdaBelief(p).defaults["rectify"] is False


G = np.array([0.5, -2.0, 0.03])          # a constant gradient


def test_step_exceeds_adams_when_the_gradient_matches_its_prediction():
    # Zhuang et al. (2020), section 2.2: s_t tracks (g_t - m_t)^2, which is small when the
    # observed gradient agrees with the belief m_t: a constant gradient gets a larger step
    # than Adam's (whose step is lr sign(g) here)
    from minigrad.optim.adam import Adam
    belief = step_updates(AdaBelief, [G] * 20, lr=0.01)
    adam = step_updates(Adam, [G] * 20, lr=0.01)
    assert np.all(np.abs(belief) > np.abs(adam))
