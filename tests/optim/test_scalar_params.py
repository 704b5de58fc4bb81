"""Every optimizer on a 0-d (scalar) parameter steps exactly as on a shape-(1,) one.

NumPy returns scalars, not 0-d arrays, from arithmetic on 0-d arrays; the base class hands
``update`` shape-(1,) views of a 0-d parameter and its state (``optimizer._update_0d``). The
reference is the same optimizer on a shape-(1,) parameter of the same value with the same
gradients: the values and the state must match bit for bit at every step, and the 0-d
parameter's state must stay arrays of shape () (a NumPy scalar in the state would stop
updating in place).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad

from ..conftest import to_numpy
from .registry import FULL_STATE

STEPS = 8

# the transforms of the per-tensor path that come before ``update``
OPTIONS = {
    "plain": {},
    "maximize": {"maximize": True},
    "clipnorm": {"clipnorm": 0.2},
    "clipvalue-maximize": {"clipvalue": 0.2, "maximize": True},
    "global_clipnorm": {"global_clipnorm": 0.3},
}


def _param(value, device):
    return minigrad.Tensor(value, requires_grad=True, device=device)


def _assert_state_matches(scalar_state, vector_state, device):
    assert sorted(scalar_state) == sorted(vector_state)
    for key, value in scalar_state.items():
        reference = vector_state[key]
        if hasattr(reference, "shape"):
            assert not isinstance(value, np.generic), f"{key} became a NumPy scalar"
            assert value.shape == () and value.dtype == reference.dtype, key
            assert minigrad.backend.device_of(value) == device, key
            np.testing.assert_array_equal(to_numpy(value).reshape(1), to_numpy(reference),
                                          err_msg=key)
        else:
            assert value == reference, key


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("layout", ["alone", "with-other"])
@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_0d_parameter_steps_like_shape_1(name, layout, option, device):
    """'alone': a single parameter (the per-tensor path); 'with-other': beside a (3,)
    parameter (the flat path for elementwise algorithms, per tensor for the others)."""
    gen = np.random.default_rng(7)
    value = np.float32(gen.uniform(-1, 1))
    other = gen.uniform(-1, 1, 3).astype(np.float32)
    scalar, vector = _param(np.array(value), device), _param(np.array([value]), device)
    scalar_params, vector_params = [scalar], [vector]
    if layout == "with-other":
        scalar_params.append(_param(other.copy(), device))
        vector_params.append(_param(other.copy(), device))
    scalar_opt = FULL_STATE[name](scalar_params, **OPTIONS[option])
    vector_opt = FULL_STATE[name](vector_params, **OPTIONS[option])
    array = scalar.array
    for t in range(STEPS):
        g = np.float32(gen.uniform(0.05, 0.5) * (-1) ** t)   # sign changes: clipping bites
        g_other = gen.normal(size=3).astype(np.float32)
        scalar.grad = minigrad.Tensor(np.array(g), device=device)
        vector.grad = minigrad.Tensor(np.array([g]), device=device)
        for params in (scalar_params, vector_params):
            if layout == "with-other":
                params[1].grad = minigrad.Tensor(g_other.copy(), device=device)
        scalar_opt.step()
        vector_opt.step()
        assert scalar.shape == () and scalar.array is array, f"step {t + 1}"
        np.testing.assert_array_equal(to_numpy(scalar).reshape(1), to_numpy(vector),
                                      err_msg=f"step {t + 1}")
        for p, q in zip(scalar_params[1:], vector_params[1:]):
            np.testing.assert_array_equal(to_numpy(p), to_numpy(q), err_msg=f"step {t + 1}")
        _assert_state_matches(scalar_opt.state[scalar], vector_opt.state[vector], device)
    assert not np.array_equal(to_numpy(scalar), np.array(value))
