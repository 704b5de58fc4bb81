"""The contract every optimizer keeps, run over all of them (tests/optim/registry.py)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad

from ..conftest import to_numpy
from .registry import FULL_STATE


def _params(rng, device="cpu", shapes=((3, 4), (4,))):
    return [minigrad.Parameter(rng.normal(size=s).astype(np.float32), device=device)
            for s in shapes]


def _set_grads(params, rng):
    for p in params:
        p.grad = minigrad.Tensor(rng.normal(size=p.shape).astype(np.float32), device=p.device)


def _snapshot(opt, params):
    """Every parameter value and every state entry, as copies."""
    state = {i: {k: (to_numpy(v).copy() if hasattr(v, "shape") else v)
                 for k, v in opt.state[p].items()}
             for i, p in enumerate(params) if p in opt.state}
    return [to_numpy(p).copy() for p in params], state


def _assert_unchanged(before, after):
    (values0, state0), (values1, state1) = before, after
    for v0, v1 in zip(values0, values1):
        np.testing.assert_array_equal(v0, v1)
    assert sorted(state0) == sorted(state1)
    for i in state0:
        assert sorted(state0[i]) == sorted(state1[i])
        for key, v0 in state0[i].items():
            if isinstance(v0, np.ndarray):
                np.testing.assert_array_equal(v0, state1[i][key])
            else:
                assert v0 == state1[i][key], key


def _replace_grad_array(p, array):
    """A gradient whose array no longer fits its parameter (as a buggy hook could leave it);
    set through the array so that no check at ``.grad`` assignment can intercept it."""
    p.grad = minigrad.Tensor(np.zeros(p.shape, np.float32), device=p.device)
    p.grad.array = array


# ----------------------------------------------------------------------------- all-or-nothing
BAD_SECOND_GRADIENT = [
    (np.zeros(7, np.float32), ValueError, r"parameter 1 has shape \(7,\), the parameter has "
                                          r"shape \(4,\)"),
    (np.zeros((4, 1), np.float32), ValueError, r"shape \(4, 1\), the parameter has shape"),
    (np.zeros(4, np.float64), TypeError, "dtype float64, the parameter has dtype float32"),
]


@pytest.mark.parametrize("name", sorted(FULL_STATE))
@pytest.mark.parametrize("bad,exc,match", BAD_SECOND_GRADIENT, ids=["size", "shape", "dtype"])
def test_bad_second_gradient_changes_nothing(name, bad, exc, match, rng):
    params = _params(rng)
    opt = FULL_STATE[name](params)
    for _ in range(2):
        _set_grads(params, rng)
        opt.step()
    _set_grads(params, rng)
    _replace_grad_array(params[1], bad)
    before = _snapshot(opt, params)
    with pytest.raises(exc, match=match):
        opt.step()
    _assert_unchanged(before, _snapshot(opt, params))
    assert all(opt.state[p]["step"] == 2 for p in params)


@pytest.mark.parametrize("name", sorted(FULL_STATE))
@pytest.mark.parametrize("value,exc,match", [("x", TypeError, "lr must be a number, got 'x'"),
                                              (-0.5, ValueError, "lr must be .*, got -0.5")],
                         ids=["string", "negative"])
def test_bad_lr_set_by_hand_changes_nothing(name, value, exc, match, rng):
    params = _params(rng)
    opt = FULL_STATE[name]([{"params": [params[0]]}, {"params": [params[1]]}])
    _set_grads(params, rng)
    opt.step()
    _set_grads(params, rng)
    opt.param_groups[1]["lr"] = value           # the second group: the first must not move
    before = _snapshot(opt, params)
    with pytest.raises(exc, match=f"{type(opt).__name__}: {match}"):
        opt.step()
    _assert_unchanged(before, _snapshot(opt, params))


def test_fresh_state_is_not_created_by_a_failing_step(rng):
    params = _params(rng)
    opt = FULL_STATE["Adam"](params)
    _set_grads(params, rng)
    _replace_grad_array(params[1], np.zeros(7, np.float32))
    with pytest.raises(ValueError):
        opt.step()
    assert opt.state == {}


def test_bad_hyperparameter_changed_by_hand_other_than_lr(rng):
    params = _params(rng)
    opt = FULL_STATE["Adam"](params)
    _set_grads(params, rng)
    opt.param_groups[0]["betas"] = (0.9, 1.5)
    with pytest.raises(ValueError, match=r"Adam: beta2 must be in \[0, 1\), got 1.5"):
        opt.step()
    opt.param_groups[0]["betas"] = (0.9, 0.999)
    opt.param_groups[0]["maximize"] = "yes"
    with pytest.raises(ValueError, match="Adam: maximize must be a bool, got 'yes'"):
        opt.step()
    assert opt.state == {}


def test_gradient_that_is_not_a_tensor_raises_type_error(rng):
    params = _params(rng)
    opt = FULL_STATE["SGD"](params)
    _set_grads(params, rng)
    object.__setattr__(params[1], "grad", np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="gradient of parameter 1 must be a Tensor, got ndarray"):
        opt.step()
    assert opt.state == {}
