"""diffGrad: the paper's update and the authors' code, the friction on an unchanging
gradient, bad hyperparameters."""

import math

import numpy as np
import pytest

import minigrad
from minigrad.optim.diffgrad import DiffGrad

from .paper_reference import AUTHORS, assert_matches_authors_code, assert_matches_paper, cases_for
from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids


@pytest.mark.parametrize("name", [case[0] for case in cases_for(DiffGrad)])
def test_trajectory_matches_paper_float64(name):
    assert_matches_paper(name)


@pytest.mark.parametrize("name", [case[0] for case in cases_for(DiffGrad)])
def test_trajectory_matches_paper_float32(name, device):
    assert_matches_paper(name, np.float32, device)


@pytest.mark.parametrize("name", [a[0] for a in AUTHORS if a[1] is DiffGrad])
def test_trajectory_matches_authors_code(name, device):
    assert_matches_authors_code(name, device)


BAD = bad_hyperparameters_of(DiffGrad)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


def test_paper_defaults():
    p = [minigrad.Parameter(np.zeros(1, np.float32))]
    assert math.isclose(DiffGrad(p).defaults["eps"], 1e-8)


G = np.array([0.5, -2.0, 0.03])          # a constant gradient


def test_unchanging_gradient_halves_adams_step():
    # Dubey et al.: xi_t = AbsSig(g_{t-1} - g_t) = 1/2 when the gradient does not change, and
    # xi_1 = sigmoid(|g_1|) (g_0 = 0): the step is xi_t times Adam's
    from minigrad.optim.adam import Adam
    diff = step_updates(DiffGrad, [G] * 10, lr=0.01)
    adam = step_updates(Adam, [G] * 10, lr=0.01)
    np.testing.assert_allclose(diff[0], adam[0] / (1 + np.exp(-np.abs(G))), rtol=1e-12)
    np.testing.assert_allclose(diff[1:], 0.5 * adam[1:], rtol=1e-12)
