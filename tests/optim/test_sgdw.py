"""SGDW: Algorithm 1 of Loshchilov & Hutter, SGD without decay, the decoupled decay alone,
bad hyperparameters."""


import numpy as np
import pytest

import minigrad
from minigrad.optim.sgdw import SGDW

from ..conftest import to_numpy
from .paper_reference import assert_matches_paper, cases_for
from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids


@pytest.mark.parametrize("name", [case[0] for case in cases_for(SGDW)])
def test_trajectory_matches_paper_float64(name):
    assert_matches_paper(name)


@pytest.mark.parametrize("name", [case[0] for case in cases_for(SGDW)])
def test_trajectory_matches_paper_float32(name, device):
    assert_matches_paper(name, np.float32, device)


BAD = bad_hyperparameters_of(SGDW)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


def test_without_decay_it_is_sgd_step_for_step():
    from minigrad.optim.sgd import SGD
    r = np.random.default_rng(3)
    grads = [r.normal(size=4) for _ in range(20)]
    kwargs = dict(lr=0.05, momentum=0.9, nesterov=True)
    np.testing.assert_array_equal(step_updates(SGDW, grads, weight_decay=0.0, **kwargs),
                                  step_updates(SGD, grads, **kwargs))


def test_zero_gradient_shrinks_the_weights_geometrically():
    # decoupled decay alone: theta_t = theta_0 (1 - lr wd)^t
    p = minigrad.Parameter(np.array([1.0, -3.0]), dtype=np.float64)
    opt = SGDW([p], lr=0.1, momentum=0.9, weight_decay=0.5)
    for _ in range(10):
        p.grad = minigrad.Tensor(np.zeros(2), dtype=np.float64)
        opt.step()
    np.testing.assert_allclose(to_numpy(p), np.array([1.0, -3.0]) * 0.95**10, rtol=1e-12)
