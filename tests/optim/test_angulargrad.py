"""AngularGrad: the paper's update (cos and tan), the angular coefficient in closed form on
a constant gradient, bad hyperparameters."""


import numpy as np
import pytest

import minigrad
from minigrad.optim.angulargrad import AngularGrad

from .paper_reference import assert_matches_paper, cases_for
from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids


@pytest.mark.parametrize("name", [case[0] for case in cases_for(AngularGrad)])
def test_trajectory_matches_paper_float64(name):
    assert_matches_paper(name)


@pytest.mark.parametrize("name", [case[0] for case in cases_for(AngularGrad)])
def test_trajectory_matches_paper_float32(name, device):
    assert_matches_paper(name, np.float32, device)


BAD = bad_hyperparameters_of(AngularGrad)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


def test_paper_defaults():
    p = [minigrad.Parameter(np.zeros(1, np.float32))]
    assert AngularGrad(p).defaults["method"] == "cos"


G = np.array([0.5, -2.0, 0.03])          # a constant gradient


@pytest.mark.parametrize("method", ["cos", "tan"])
def test_constant_gradient_scales_adams_step_by_the_angular_coefficient(method):
    # Roy et al. (2021): with g_0 = 0, A_1 = arctan|g|; an unchanging gradient then has angle
    # 0, so A_min = 0 and phi = tanh(|f(0)|) / 2 + 1/2: tanh(1)/2 + 1/2 (cos), 1/2 (tan)
    from minigrad.optim.adam import Adam
    angular = step_updates(AngularGrad, [G] * 6, lr=0.01, method=method)
    adam = step_updates(Adam, [G] * 6, lr=0.01)
    f = np.cos if method == "cos" else np.tan
    phi_1 = np.tanh(np.abs(f(np.arctan(np.abs(G))))) / 2 + 0.5
    phi = np.tanh(abs(f(0.0))) / 2 + 0.5
    np.testing.assert_allclose(angular[0], phi_1 * adam[0], rtol=1e-12)
    np.testing.assert_allclose(angular[1:], phi * adam[1:], rtol=1e-12)
