"""ops/special.py: erf on arrays against math.erf."""

import math

import numpy as np

from minigrad.ops.special import erf


def test_erf_matches_math_erf_float64():
    x = np.concatenate([np.linspace(-7, 7, 40001), [0.0, 0.46875, -0.46875, 4.0, -4.0, 30.0]])
    want = np.array([math.erf(v) for v in x])
    got = erf(x)
    assert got.dtype == np.float64
    assert np.max(np.abs(got - want)) < 1e-15
    # relative accuracy in the tail, where erf is close to +-1 but 1 - erf is not tiny
    assert np.max(np.abs(got - want) / np.abs(want).clip(1e-300)) < 1e-14


def test_erf_float32_stays_float32_and_is_accurate():
    x = np.linspace(-6, 6, 20001, dtype=np.float32)
    want = np.array([math.erf(float(v)) for v in x])
    got = erf(x)
    assert got.dtype == np.float32
    assert np.max(np.abs(got - want)) < 1e-6


def test_erf_special_values():
    got = erf(np.array([0.0, -0.0, np.inf, -np.inf, np.nan]))
    assert got[0] == 0 and np.signbit(got[1])
    assert got[2] == 1 and got[3] == -1 and np.isnan(got[4])
