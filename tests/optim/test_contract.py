"""The contract every optimizer keeps, run over all of them (tests/optim/registry.py): a step
updates in place and only parameters with a gradient, keeps the dtype, and is all-or-nothing;
zero_grad; parameter groups; state_dict round trips; convergence on a quadratic and on
Rosenbrock."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad
from minigrad.optim.adabelief import AdaBelief
from minigrad.optim.adam import Adam
from minigrad.optim.swats import SWATS

from ..conftest import to_numpy
from .paper_reference import CASES, LRS, gradient, problem, run_minigrad
from .problems import (
    QUADRATIC,
    QUADRATIC_2D_MINIMIZER,
    ROSENBROCK,
    ROSENBROCK_2D_MINIMIZER,
    minimize,
    minimize_2d,
    minimize_autograd,
    quadratic_2d_grad,
    resume_matches,
    rosenbrock_2d_grad,
)
from .problems import random_params as _params
from .problems import set_random_grads as _set_grads
from .registry import (
    ALL_CLASSES,
    CONVERGENCE,
    FULL_STATE,
    QUADRATIC_2D_CASES,
    ROSENBROCK_2D_CASES,
    ROUND_TRIP,
)

# the torch-named optimizers, whose state holds only arrays, numbers and tuples
TORCH_NAMED = ["AMSGrad", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "RAdam",
               "RMSprop", "SGD", "SGD-dampening"]
# lr = 0 freezes a group (FTRL needs lr > 0)
ZERO_LR_ALLOWED = [cls for cls in ALL_CLASSES if cls.__name__ != "FTRL"]


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


@pytest.mark.parametrize("name", ["Adam", "AdaBelief"])
def test_amsgrad_switched_on_by_hand_changes_nothing(name, rng):
    params = _params(rng)
    opt = {"Adam": lambda ps: Adam(ps, lr=0.01),
           "AdaBelief": lambda ps: AdaBelief(ps, lr=0.01)}[name](params)
    _set_grads(params, rng)
    opt.step()
    _set_grads(params, rng)
    opt.param_groups[0]["amsgrad"] = True
    before = _snapshot(opt, params)
    with pytest.raises(ValueError, match=f"{name}: the state of parameter 0 lacks "
                                         r"\['max_exp_avg_(sq|var)'\]"):
        opt.step()
    _assert_unchanged(before, _snapshot(opt, params))


def test_gradient_that_is_not_a_tensor_raises_type_error(rng):
    params = _params(rng)
    opt = FULL_STATE["SGD"](params)
    _set_grads(params, rng)
    # .grad's setter refuses a non-Tensor; the step checks again for one set around it
    slot = "_grad" if isinstance(getattr(type(params[1]), "grad", None), property) else "grad"
    object.__setattr__(params[1], slot, np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="gradient of parameter 1 must be a Tensor, got ndarray"):
        opt.step()
    assert opt.state == {}


# ----------------------------------------------------------------------------- stepping
# ----------------------------------------------------------------------------- stepping
@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_step_updates_in_place_bumps_version_and_counts_steps(name, rng, device):
    params = _params(rng, device)
    opt = FULL_STATE[name](params)
    arrays = [p.array for p in params]
    before = [to_numpy(p).copy() for p in params]
    versions = [p._version for p in params]
    for _ in range(3):
        _set_grads(params, rng)
        grads = [to_numpy(p.grad).copy() for p in params]
        opt.step()
        for p, g in zip(params, grads):  # the optimizer never writes into .grad
            np.testing.assert_array_equal(to_numpy(p.grad), g)
    for p, a, b, v in zip(params, arrays, before, versions):
        assert p.array is a                       # in place: the same array object
        assert not np.array_equal(to_numpy(p), b)
        assert p._version == v + 3
        assert opt.state[p]["step"] == 3
        assert p.dtype == np.float32
        for value in opt.state[p].values():
            if hasattr(value, "shape"):
                assert value.shape == p.shape and value.dtype == np.float32
                assert minigrad.backend.device_of(value) == device



@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_params_without_grad_are_skipped(cls, rng):
    params = _params(rng)
    opt = cls(params, lr=0.1)
    params[0].grad = minigrad.Tensor(np.ones((3, 4), np.float32))
    frozen = params[1].array.copy()
    opt.step()
    assert params[1] not in opt.state and params[1]._version == 0
    np.testing.assert_array_equal(params[1].array, frozen)
    assert params[0] in opt.state



def test_paper_configurations_skip_parameters_without_gradient():
    for _, cls, _, hp in CASES:
        p = minigrad.Parameter(np.ones(3, np.float32))
        q = minigrad.Parameter(np.ones(3, np.float32))
        opt = cls([p, q], **hp)
        p.grad = minigrad.Tensor(np.ones(3, np.float32))
        opt.step()
        assert q not in opt.state
        np.testing.assert_array_equal(to_numpy(q), np.ones(3))



@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_float64_parameters_stay_float64(cls, rng):
    p = minigrad.Parameter(rng.normal(size=5), dtype=np.float64)
    assert p.dtype == np.float64
    opt = cls([p], lr=0.1)
    for _ in range(2):
        p.grad = minigrad.Tensor(rng.normal(size=5), dtype=np.float64)
        opt.step()
    assert p.dtype == np.float64
    assert all(v.dtype == np.float64 for v in opt.state[p].values() if hasattr(v, "dtype"))



def test_optimizer_state_stays_float32():
    prob = problem()
    for _, cls, _, hp in CASES:
        _, opt, params = run_minigrad(cls, hp, LRS.get(cls, (0.05, 0.02)), prob, steps=3)
        for p in params:
            for key, value in opt.state[p].items():
                if hasattr(value, "dtype"):
                    assert value.dtype == np.float32, (cls.__name__, key)



@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_zero_grad(name, rng):
    params = _params(rng)
    opt = FULL_STATE[name](params)
    _set_grads(params, rng)
    g = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is g and not np.any(g.array)
    opt.zero_grad()
    assert all(p.grad is None for p in params)



# ----------------------------------------------------------------------------- groups
@pytest.mark.parametrize("cls", ZERO_LR_ALLOWED, ids=lambda c: c.__name__)
def test_per_group_hyperparameters_apply_to_their_group_only(cls, rng):
    # the same parameter values and gradients in two groups: lr 0 freezes group 1 only, and
    # group 0 moves exactly as a single-group optimizer with the same settings
    a0 = rng.normal(size=4).astype(np.float32)
    grads = [rng.normal(size=4).astype(np.float32) for _ in range(3)]
    a, b, ref = (minigrad.Parameter(a0.copy()) for _ in range(3))
    opt = cls([{"params": [a]}, {"params": [b], "lr": 0.0}], lr=0.05)
    solo = cls([ref], lr=0.05)
    for g in grads:
        for p in (a, b, ref):
            p.grad = minigrad.Tensor(g)
        opt.step()
        solo.step()
    np.testing.assert_array_equal(b.array, a0)
    np.testing.assert_array_equal(a.array, ref.array)
    assert not np.array_equal(a.array, a0)



# ----------------------------------------------------------------------------- state_dict
# ----------------------------------------------------------------------------- state_dict
@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_state_dict_resume_gives_identical_next_steps(name):
    a, b = resume_matches(FULL_STATE[name])
    assert not np.array_equal(a[0], a[-1])
    np.testing.assert_array_equal(a, b)



@pytest.mark.parametrize("name", TORCH_NAMED)
def test_state_dict_layout_copies_and_npz_compatible(name, rng, tmp_path):
    params = _params(rng)
    opt = FULL_STATE[name](params)
    _set_grads(params, rng)
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert sorted(sd["state"]) == [0, 1] and sd["param_groups"][0]["params"] == [0, 1]
    for idx, entry in sd["state"].items():
        assert entry["step"] == 1 and isinstance(entry["step"], int)
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                assert value is not opt.state[params[idx]][key]   # a copy
                value += 1.0
                assert not np.array_equal(value, opt.state[params[idx]][key])
                value -= 1.0
            else:
                assert isinstance(value, (int, float, tuple))
    # everything fits an .npz: arrays plus scalars
    flat = {f"{i}/{k}": np.asarray(v) for i, e in sd["state"].items() for k, v in e.items()}
    np.savez(tmp_path / "opt.npz", **flat)
    loaded = np.load(tmp_path / "opt.npz")
    restored = {"state": {}, "param_groups": sd["param_groups"]}
    for key in loaded.files:
        i, k = key.split("/")
        v = loaded[key]
        restored["state"].setdefault(int(i), {})[k] = v      # scalars come back as 0-d arrays
    fresh = FULL_STATE[name](_params(rng))
    fresh.load_state_dict(restored)
    for i, p in enumerate(fresh.param_groups[0]["params"]):
        for k, v in sd["state"][i].items():
            np.testing.assert_array_equal(fresh.state[p][k], v)
            assert type(fresh.state[p][k]) is type(v)



@pytest.mark.parametrize("cls,kwargs", ROUND_TRIP, ids=[c.__name__ for c, _ in ROUND_TRIP])
def test_state_dict_round_trip_on_the_paper_problem(cls, kwargs):
    prob = problem(seed=3, noise=0.0 if cls is SWATS else 0.1)

    def make():
        ps = [minigrad.Parameter(x.astype(np.float32)) for x in prob[0]]
        return ps, cls(ps, **kwargs)

    def step(ps, opt, t):
        for i, p in enumerate(ps):
            p.grad = minigrad.Tensor(gradient(i, to_numpy(p).astype(np.float64), t, prob)
                                     .astype(np.float32))
        opt.step()

    ps, opt = make()
    for t in range(40):
        step(ps, opt, t)
    sd = opt.state_dict()
    ps2, opt2 = make()
    for p2, p in zip(ps2, ps):
        p2.array[...] = p.array
    opt2.load_state_dict(sd)
    for t in range(40, 100):
        step(ps, opt, t)
        step(ps2, opt2, t)
        for p, p2 in zip(ps, ps2):
            np.testing.assert_array_equal(to_numpy(p), to_numpy(p2))
    if cls is SWATS:
        assert [opt.state[p]["phase"] for p in ps] == [opt2.state[p]["phase"] for p in ps2]



# ----------------------------------------------------------------------------- convergence
@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_converges_on_quadratic(name, device):
    make, steps = CONVERGENCE[name][0]
    start = QUADRATIC.distance(QUADRATIC.x0)
    x = minimize(QUADRATIC, make, steps, device=device)
    assert x.dtype == np.float32 and x.device == device
    assert QUADRATIC.distance(x) < 1e-2 < start



@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_converges_on_rosenbrock(name):
    make, steps, tol = CONVERGENCE[name][1]
    x = minimize(ROSENBROCK, make, steps)
    assert ROSENBROCK.distance(x) < tol



@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop-centered-momentum"])
def test_converges_with_autograd_gradients(name, device):
    # the same budget as with closed-form gradients, but each gradient from backward()
    make, steps = CONVERGENCE[name][0]
    x = minimize_autograd(QUADRATIC, make, steps, device=device)
    assert QUADRATIC.distance(x) < 1e-2



@pytest.mark.parametrize("cls,kwargs,steps", QUADRATIC_2D_CASES,
                         ids=[f"{c.__name__}-{k}" for c, k, _ in QUADRATIC_2D_CASES])
def test_converges_on_2d_quadratic(cls, kwargs, steps):
    x = minimize_2d(cls, kwargs, quadratic_2d_grad, [-2.0, 3.0], steps)
    np.testing.assert_allclose(x, QUADRATIC_2D_MINIMIZER, atol=1e-2)



@pytest.mark.parametrize("cls,kwargs,steps", ROSENBROCK_2D_CASES,
                         ids=[f"{c.__name__}-{k}" for c, k, _ in ROSENBROCK_2D_CASES])
def test_converges_on_2d_rosenbrock(cls, kwargs, steps):
    x = minimize_2d(cls, kwargs, rosenbrock_2d_grad, [-1.0, 1.5], steps)
    np.testing.assert_allclose(x, ROSENBROCK_2D_MINIMIZER, atol=5e-2)

