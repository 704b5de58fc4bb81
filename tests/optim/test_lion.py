"""Lion: Algorithm 2 and lion-pytorch, the sign update's equal magnitude, bad
hyperparameters."""


import numpy as np
import pytest

import minigrad
from minigrad.optim.lion import Lion

from .paper_reference import AUTHORS, assert_matches_authors_code, assert_matches_paper, cases_for
from .problems import step_updates
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids


@pytest.mark.parametrize("name", [case[0] for case in cases_for(Lion)])
def test_trajectory_matches_paper_float64(name):
    assert_matches_paper(name)


@pytest.mark.parametrize("name", [case[0] for case in cases_for(Lion)])
def test_trajectory_matches_paper_float32(name, device):
    assert_matches_paper(name, np.float32, device)


@pytest.mark.parametrize("name", [a[0] for a in AUTHORS if a[1] is Lion])
def test_trajectory_matches_authors_code(name, device):
    assert_matches_authors_code(name, device)


BAD = bad_hyperparameters_of(Lion)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


def test_paper_defaults():
    p = [minigrad.Parameter(np.zeros(1, np.float32))]
    assert Lion(p).defaults["lr"] == 1e-4 and Lion(p).defaults["betas"] == (0.9, 0.99)


def test_every_coordinate_moves_by_exactly_lr():
    # Chen et al. (2023): the update is sign(c_t), the same magnitude for every coordinate
    r = np.random.default_rng(2)
    got = step_updates(Lion, [r.normal(size=6) for _ in range(20)], lr=1e-3)
    np.testing.assert_allclose(np.abs(got), 1e-3, rtol=1e-9)
