"""The Optimizer base class: the step's closure, groups, validation, Keras-style clipping,
load_state_dict, the shared update helpers, and the subclass contract."""

import math

import numpy as np
import pytest

import minigrad
from minigrad.optim.adam import Adam
from minigrad.optim.optimizer import (
    Optimizer,
    adam_denominator,
    decoupled_decay,
    ema_,
    ema_of_square_,
    l2_penalty,
    rectification,
    sma_length,
)
from minigrad.optim.sgd import SGD

from .problems import random_params as _params
from .problems import set_random_grads as _set_grads
from .registry import ALL_CLASSES


# ----------------------------------------------------------------------------- stepping
def test_step_runs_closure_with_grad_enabled_and_returns_its_loss():
    p = minigrad.Parameter(np.array([3.0], np.float32))
    opt = SGD([p], lr=0.25)

    def closure():
        assert minigrad.is_grad_enabled()
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with minigrad.no_grad():
        loss = opt.step(closure)
        assert not minigrad.is_grad_enabled()   # the caller's mode is restored
    assert minigrad.is_grad_enabled()
    assert float(loss.item()) == 9.0
    np.testing.assert_allclose(p.array, [3.0 - 0.25 * 6.0])  # theta - lr * 2 theta



def test_step_records_no_graph():
    p = minigrad.Parameter(np.ones(3, np.float32))
    opt = Adam([p], lr=0.1)
    p.grad = minigrad.Tensor(np.ones(3, np.float32))
    opt.step()
    assert p.is_leaf and p.grad_fn is None



# ----------------------------------------------------------------------------- groups
# ----------------------------------------------------------------------------- groups
def test_groups_fill_defaults_and_keep_overrides(rng):
    a, b = _params(rng)
    opt = Adam([{"params": [a]}, {"params": b, "lr": 0.5, "betas": (0.5, 0.6)}], lr=0.1)
    g0, g1 = opt.param_groups
    assert g0["lr"] == 0.1 and g0["betas"] == (0.9, 0.999) and g0["params"] == [a]
    assert g1["lr"] == 0.5 and g1["betas"] == (0.5, 0.6) and g1["eps"] == 1e-8
    assert g1["params"][0] is b
    assert opt.defaults["lr"] == 0.1



def test_add_param_group_validates_and_changes_nothing_on_error(rng):
    a, b = _params(rng)
    opt = SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="already in parameter group 0"):
        opt.add_param_group({"params": [b, a]})
    with pytest.raises(ValueError, match="SGD: lr must be >= 0, got -1"):
        opt.add_param_group({"params": [b], "lr": -1})
    with pytest.raises(ValueError, match="empty"):
        opt.add_param_group({"params": []})
    with pytest.raises(TypeError, match="dict"):
        opt.add_param_group([b])
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["params"] == [a]
    opt.add_param_group({"params": b, "momentum": 0.5})
    assert opt.param_groups[1]["params"][0] is b and opt.param_groups[1]["momentum"] == 0.5
    assert opt.param_groups[1]["lr"] == 0.1



def test_bad_parameter_lists_raise(rng):
    a, b = _params(rng)
    with pytest.raises(ValueError, match="empty"):
        Adam([])
    with pytest.raises(ValueError, match="appears twice"):
        Adam([a, b, a])
    with pytest.raises(TypeError, match="parameter 1 is a ndarray"):
        Adam([a, np.zeros(3)])
    with pytest.raises(TypeError, match="single Parameter"):
        Adam(a)
    with pytest.raises(TypeError, match="set"):
        Adam([{"params": {a, b}}])
    with pytest.raises(ValueError, match="non-leaf"):
        Adam([a * 2])
    with pytest.raises(ValueError, match="already in parameter group 0"):
        Adam([{"params": [a]}, {"params": [a]}])
    with pytest.raises(TypeError, match="iterable"):
        Adam(3)



# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_non_number_hyperparameter_raises_type_error(cls):
    with pytest.raises(TypeError, match=f"{cls.__name__}: lr must be a number, got '0.1'"):
        cls([minigrad.Parameter(np.zeros(2, np.float32))], lr="0.1")



# ----------------------------------------------------------------------------- helpers
# ----------------------------------------------------------------------------- helpers
def test_l2_penalty_and_decoupled_decay_closed_forms():
    g = np.array([1.0, -2.0], np.float32)
    theta = np.array([0.5, 4.0], np.float32)
    assert l2_penalty(g, theta, 0.0) is g
    out = l2_penalty(g, theta, 0.1)
    np.testing.assert_allclose(out, [1.05, -1.6], rtol=1e-6)
    np.testing.assert_array_equal(g, [1.0, -2.0])      # the gradient is not modified
    assert out.dtype == np.float32
    decoupled_decay(theta, 0.5, 0.2)                   # theta *= 1 - 0.5 * 0.2
    np.testing.assert_allclose(theta, [0.45, 3.6], rtol=1e-6)
    assert theta.dtype == np.float32



def test_ema_is_the_textbook_moving_average():
    # Chainer's in-place form a += (1 - beta)(x - a) is beta a + (1 - beta) x
    r = np.random.default_rng(0)
    a, x = r.normal(size=5), r.normal(size=5)
    expected = 0.9 * a + 0.1 * x
    ema_(a, x, 0.9)
    np.testing.assert_allclose(a, expected, rtol=1e-14)
    v = np.abs(r.normal(size=5))
    expected = 0.999 * v + 0.001 * x * x
    ema_of_square_(v, x, 0.999)
    np.testing.assert_allclose(v, expected, rtol=1e-14)
    a = np.ones(3, np.float32)
    ema_(a, np.zeros(3, np.float32), 0.5)
    assert a.dtype == np.float32 and np.all(a == 0.5)
    ema_(a, np.full(3, 7.0, np.float32), 1.0)            # beta = 1: the average stays
    assert np.all(a == 0.5)


def test_adam_denominator_closed_form():
    v = np.array([4.0, 0.0, 1e-4])
    t, beta2, eps = 3, 0.9, 1e-8
    np.testing.assert_allclose(adam_denominator(v, beta2, t, eps),
                               np.sqrt(v / (1 - 0.9**3)) + eps, rtol=1e-14)


def test_radam_sma_length_and_rectification():
    # Liu et al. (2020): rho_1 = 1 for every beta2 (one sample), rho_t -> rho_inf; the
    # rectification is 1 at rho_t = rho_inf and below 1 before
    for beta2 in (0.9, 0.99, 0.999):
        rho_inf, rho_1 = sma_length(beta2, 1)
        assert rho_inf == pytest.approx(2 / (1 - beta2) - 1)
        assert rho_1 == pytest.approx(1.0)
        assert sma_length(beta2, 100_000)[1] == pytest.approx(rho_inf)
        assert rectification(rho_inf, rho_inf) == pytest.approx(1.0)
        assert 0 < rectification(rho_inf, 5.0) < 1
    assert sma_length(0.999, 5)[1] <= 5 < sma_length(0.999, 6)[1]


# ----------------------------------------------------------------------------- clipping
# ----------------------------------------------------------------------------- clipping
def _one_sgd_step(grad, **clip):
    p = minigrad.Parameter(np.zeros_like(grad))
    p.grad = minigrad.Tensor(grad.copy())
    SGD([p], lr=1.0, **clip).step()
    np.testing.assert_array_equal(p.grad.array, grad)   # clipping leaves .grad alone
    return -p.array                                     # with lr = 1 the step is the gradient



def test_keras_clipvalue_clipnorm():
    g = np.array([3.0, -4.0, 0.5], np.float32)         # ||g|| = sqrt(25.25)
    np.testing.assert_array_equal(_one_sgd_step(g, clipvalue=1.0), [1.0, -1.0, 0.5])
    norm = math.sqrt(25.25)
    np.testing.assert_allclose(_one_sgd_step(g, clipnorm=2.0), g * 2.0 / norm, rtol=1e-6)
    np.testing.assert_array_equal(_one_sgd_step(g, clipnorm=10.0), g)   # under the limit



def test_keras_clipnorm_is_per_parameter_and_global_clipnorm_is_joint():
    a = np.array([3.0, 4.0], np.float32)               # ||a|| = 5
    b = np.array([0.0, 1.0], np.float32)               # ||b|| = 1
    for clip, scale_a, scale_b in [({"clipnorm": 2.0}, 2 / 5, 1.0),
                                   ({"global_clipnorm": 2.0}, 2 / math.sqrt(26),
                                    2 / math.sqrt(26))]:
        p, q = minigrad.Parameter(np.zeros(2, np.float32)), minigrad.Parameter(
            np.zeros(2, np.float32))
        p.grad, q.grad = minigrad.Tensor(a), minigrad.Tensor(b)
        SGD([p, q], lr=1.0, **clip).step()
        np.testing.assert_allclose(-p.array, a * scale_a, rtol=1e-6)
        np.testing.assert_allclose(-q.array, b * scale_b, rtol=1e-6)



def test_clip_arguments_validated():
    p = [minigrad.Parameter(np.zeros(2, np.float32))]
    with pytest.raises(ValueError, match="Adam: clipnorm must be a number > 0 or None, got -1"):
        Adam(p, clipnorm=-1)
    with pytest.raises(ValueError, match="Adam: only one of clipnorm, clipvalue"):
        Adam(p, clipnorm=1.0, clipvalue=1.0)



# ----------------------------------------------------------------------------- state_dict
def test_load_state_dict_restores_hyperparameters_and_moves_to_device(rng, device):
    src = _params(rng)
    opt = Adam(src, lr=0.1, amsgrad=True)
    _set_grads(src, rng)
    opt.step()
    opt.param_groups[0]["lr"] = 0.025
    sd = opt.state_dict()
    dst = _params(rng, device)
    fresh = Adam(dst, lr=0.5, amsgrad=True)
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["lr"] == 0.025
    assert fresh.param_groups[0]["params"][0] is dst[0]
    for p in dst:
        for v in fresh.state[p].values():
            if hasattr(v, "shape"):
                assert minigrad.backend.device_of(v) == device
    _set_grads(dst, rng)
    fresh.step()



def test_load_state_dict_is_all_or_nothing(rng):
    params = _params(rng)
    opt = Adam(params, lr=0.1)
    _set_grads(params, rng)
    opt.step()
    good = opt.state_dict()
    before = {k: v.copy() for k, v in opt.state[params[0]].items() if hasattr(v, "copy")}

    def broken(fn):
        sd = opt.state_dict()
        fn(sd)
        return sd

    cases = [
        (broken(lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0]))),
         "2 parameter groups, the optimizer has 1"),
        (broken(lambda sd: sd["param_groups"][0].update(params=[0])), "has 1 parameters"),
        # the second parameter's state is bad: the first must not have been loaded either
        (broken(lambda sd: sd["state"][1].update(exp_avg=np.zeros(7, np.float32))),
         r"'exp_avg' of parameter 1 has shape \(7,\), expected \(4,\)"),
        (broken(lambda sd: sd["state"][1].pop("exp_avg_sq")), "lacks 'exp_avg_sq'"),
        (broken(lambda sd: sd["state"].update({5: sd["state"][0]})), "parameter 5"),
        (broken(lambda sd: sd["param_groups"][0].update(lr=-1.0)),
         "Adam: lr must be >= 0, got -1.0"),
        (broken(lambda sd: sd["state"][1].update(step=object())), "is a object"),
    ]
    for sd in (c[0] for c in cases):
        sd["state"][0]["exp_avg"] = sd["state"][0]["exp_avg"] + 100.0
    for sd, message in cases:
        with pytest.raises(ValueError, match=message):
            opt.load_state_dict(sd)
        np.testing.assert_array_equal(opt.state[params[0]]["exp_avg"], before["exp_avg"])
        assert opt.param_groups[0]["lr"] == 0.1 and len(opt.param_groups) == 1
    opt.load_state_dict(good)



def test_state_dict_of_fresh_optimizer_has_no_state(rng):
    opt = SGD(_params(rng), lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    assert sd["state"] == {} and sd["param_groups"][0]["momentum"] == 0.9
    SGD(_params(rng), lr=0.2).load_state_dict(sd)



def test_subclass_contract_minimal_optimizer():
    # the documented contract is enough to write an optimizer: sign descent
    class SignSGD(Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        def validate(self, hp):
            self.check_nonnegative("lr", hp["lr"])

        def update(self, p, grad, state, group):
            p.array -= group["lr"] * np.sign(grad)

    p = minigrad.Parameter(np.array([1.0, -1.0, 0.0], np.float32))
    opt = SignSGD([p])
    p.grad = minigrad.Tensor(np.array([2.0, -3.0, 0.0], np.float32))
    opt.step()
    np.testing.assert_allclose(p.array, [0.9, -0.9, 0.0])
    assert opt.state[p] == {"step": 1}
    with pytest.raises(ValueError, match="SignSGD: lr must be >= 0, got -1"):
        SignSGD([p], lr=-1)
    assert "SignSGD (" in repr(opt) and "lr: 0.1" in repr(opt)


def test_adam_denominator_into_out_gives_the_same_numbers():
    v = np.abs(np.random.default_rng(0).normal(size=(3, 4))).astype(np.float32)
    out = np.empty_like(v)
    got = adam_denominator(v, 0.999, 7, 1e-8, out=out)
    assert got is out
    np.testing.assert_array_equal(got, adam_denominator(v, 0.999, 7, 1e-8))


def test_scratch_is_kept_between_calls_per_index_and_never_state(rng):
    """``Optimizer.scratch``: one buffer per index, shape and dtype, the same at every call;
    not in the state dict, and a copy of the optimizer has its own."""
    import copy

    p = minigrad.Parameter(np.zeros((3, 4), np.float32))
    opt = Adam([p], lr=0.1)
    a = opt.scratch(p.array)
    assert a.shape == (3, 4) and a.dtype == np.float32
    assert opt.scratch(np.ones((3, 4), np.float32)) is a           # same shape: the same
    b = opt.scratch(p.array, 1)
    assert not np.shares_memory(a, b)                                # another index
    assert not np.shares_memory(a, opt.scratch(p.array.astype(np.float64)))
    assert not np.shares_memory(a, opt.scratch(np.zeros(12, np.float32)))
    p.grad = minigrad.Tensor(np.ones((3, 4), np.float32))
    opt.step()
    assert set(opt.state_dict()["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    twin = copy.deepcopy(opt)
    assert not np.shares_memory(twin.scratch(p.array), opt.scratch(p.array))
