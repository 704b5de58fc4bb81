"""The Optimizer base contract: groups, lazy state, skipping, versions, validation, clipping,
state_dict / load_state_dict, for every torch-named optimizer."""

import math

import numpy as np
import pytest

import minigrad
from minigrad.optim.adadelta import Adadelta
from minigrad.optim.adagrad import Adagrad
from minigrad.optim.adam import Adam, AMSGrad
from minigrad.optim.adamax import Adamax
from minigrad.optim.adamw import AdamW
from minigrad.optim.nadam import NAdam
from minigrad.optim.optimizer import Optimizer, decoupled_decay, l2_penalty
from minigrad.optim.radam import RAdam
from minigrad.optim.rmsprop import RMSprop
from minigrad.optim.sgd import SGD

from ..conftest import to_numpy
from .problems import resume_matches

# a configuration of each optimizer that uses all of its state
FACTORIES = {
    "SGD": lambda ps, **kw: SGD(ps, lr=0.01, momentum=0.9, nesterov=True, **kw),
    "SGD-dampening": lambda ps, **kw: SGD(ps, lr=0.01, momentum=0.9, dampening=0.3, **kw),
    "Adagrad": lambda ps, **kw: Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.01, **kw),
    "Adadelta": lambda ps, **kw: Adadelta(ps, lr=1.0, weight_decay=0.01, **kw),
    "RMSprop": lambda ps, **kw: RMSprop(ps, lr=1e-3, centered=True, momentum=0.9, **kw),
    "Adam": lambda ps, **kw: Adam(ps, lr=1e-2, weight_decay=0.01, **kw),
    "AMSGrad": lambda ps, **kw: AMSGrad(ps, lr=1e-2, **kw),
    "AdamW": lambda ps, **kw: AdamW(ps, lr=1e-2, amsgrad=True, **kw),
    "Adamax": lambda ps, **kw: Adamax(ps, lr=1e-2, **kw),
    "NAdam": lambda ps, **kw: NAdam(ps, lr=1e-2, **kw),
    "RAdam": lambda ps, **kw: RAdam(ps, lr=1e-2, **kw),
}
CLASSES = [SGD, Adagrad, Adadelta, RMSprop, Adam, AMSGrad, AdamW, Adamax, NAdam, RAdam]


def _params(rng, device="cpu", shapes=((3, 4), (4,))):
    return [minigrad.Parameter(rng.normal(size=s).astype(np.float32), device=device)
            for s in shapes]


def _set_grads(params, rng):
    for p in params:
        p.grad = minigrad.Tensor(rng.normal(size=p.shape).astype(np.float32), device=p.device)


# ----------------------------------------------------------------------------- stepping
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_step_updates_in_place_bumps_version_and_counts_steps(name, rng, device):
    params = _params(rng, device)
    opt = FACTORIES[name](params)
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


@pytest.mark.parametrize("cls", CLASSES)
def test_params_without_grad_are_skipped(cls, rng):
    params = _params(rng)
    opt = cls(params, lr=0.1)
    params[0].grad = minigrad.Tensor(np.ones((3, 4), np.float32))
    frozen = params[1].array.copy()
    opt.step()
    assert params[1] not in opt.state and params[1]._version == 0
    np.testing.assert_array_equal(params[1].array, frozen)
    assert params[0] in opt.state


@pytest.mark.parametrize("cls", CLASSES)
def test_float64_parameters_stay_float64(cls, rng):
    p = minigrad.Parameter(rng.normal(size=5), dtype=np.float64)
    assert p.dtype == np.float64
    opt = cls([p], lr=0.1)
    for _ in range(2):
        p.grad = minigrad.Tensor(rng.normal(size=5), dtype=np.float64)
        opt.step()
    assert p.dtype == np.float64
    assert all(v.dtype == np.float64 for v in opt.state[p].values() if hasattr(v, "dtype"))


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


def test_zero_grad(rng):
    params = _params(rng)
    opt = SGD(params, lr=0.1)
    _set_grads(params, rng)
    g = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is g and not np.any(g.array)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


# ----------------------------------------------------------------------------- groups
def test_groups_fill_defaults_and_keep_overrides(rng):
    a, b = _params(rng)
    opt = Adam([{"params": [a]}, {"params": b, "lr": 0.5, "betas": (0.5, 0.6)}], lr=0.1)
    g0, g1 = opt.param_groups
    assert g0["lr"] == 0.1 and g0["betas"] == (0.9, 0.999) and g0["params"] == [a]
    assert g1["lr"] == 0.5 and g1["betas"] == (0.5, 0.6) and g1["eps"] == 1e-8
    assert g1["params"][0] is b
    assert opt.defaults["lr"] == 0.1


@pytest.mark.parametrize("cls", CLASSES)
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
BAD = [
    (SGD, dict(lr=-0.1), "SGD: lr must be >= 0, got -0.1"),
    (SGD, dict(momentum=-0.5), "SGD: momentum must be >= 0, got -0.5"),
    (SGD, dict(weight_decay=-1e-4), "SGD: weight_decay must be >= 0, got -0.0001"),
    (SGD, dict(dampening=-1), "SGD: dampening must be >= 0, got -1"),
    (SGD, dict(nesterov=True), "SGD: momentum must be > 0 when nesterov=True, got 0.0"),
    (SGD, dict(nesterov=True, momentum=0.9, dampening=0.1),
     "SGD: dampening must be 0 when nesterov=True, got 0.1"),
    (Adagrad, dict(lr=-1), "Adagrad: lr must be >= 0, got -1"),
    (Adagrad, dict(lr_decay=-1), "Adagrad: lr_decay must be >= 0, got -1"),
    (Adagrad, dict(initial_accumulator_value=-1),
     "Adagrad: initial_accumulator_value must be >= 0, got -1"),
    (Adagrad, dict(eps=0.0), "Adagrad: eps must be > 0, got 0.0"),
    (Adagrad, dict(weight_decay=-1), "Adagrad: weight_decay must be >= 0, got -1"),
    (Adadelta, dict(lr=-1), "Adadelta: lr must be >= 0, got -1"),
    (Adadelta, dict(rho=1.1), r"Adadelta: rho must be in \[0, 1\], got 1.1"),
    (Adadelta, dict(eps=-1e-6), "Adadelta: eps must be > 0, got -1e-06"),
    (Adadelta, dict(weight_decay=-1), "Adadelta: weight_decay must be >= 0, got -1"),
    (RMSprop, dict(lr=-1), "RMSprop: lr must be >= 0, got -1"),
    (RMSprop, dict(alpha=-0.1), r"RMSprop: alpha must be in \[0, 1\], got -0.1"),
    (RMSprop, dict(eps=0), "RMSprop: eps must be > 0, got 0"),
    (RMSprop, dict(momentum=-0.9), "RMSprop: momentum must be >= 0, got -0.9"),
    (RMSprop, dict(weight_decay=-1), "RMSprop: weight_decay must be >= 0, got -1"),
    (Adam, dict(lr=-1e-3), "Adam: lr must be >= 0, got -0.001"),
    (Adam, dict(betas=(0.9, 1.5)), r"Adam: beta2 must be in \[0, 1\), got 1.5"),
    (Adam, dict(betas=(1.0, 0.999)), r"Adam: beta1 must be in \[0, 1\), got 1.0"),
    (Adam, dict(betas=(-0.1, 0.999)), r"Adam: beta1 must be in \[0, 1\), got -0.1"),
    (Adam, dict(betas=(0.9,)), r"Adam: betas must be a pair \(beta1, beta2\), got \(0.9,\)"),
    (Adam, dict(eps=0.0), "Adam: eps must be > 0, got 0.0"),
    (Adam, dict(weight_decay=-0.1), "Adam: weight_decay must be >= 0, got -0.1"),
    (AMSGrad, dict(betas=(0.9, 1.0)), r"AMSGrad: beta2 must be in \[0, 1\), got 1.0"),
    (AdamW, dict(lr=-1), "AdamW: lr must be >= 0, got -1"),
    (AdamW, dict(betas=(0.9, 2)), r"AdamW: beta2 must be in \[0, 1\), got 2"),
    (AdamW, dict(eps=-1.0), "AdamW: eps must be > 0, got -1.0"),
    (AdamW, dict(weight_decay=-0.01), "AdamW: weight_decay must be >= 0, got -0.01"),
    (Adamax, dict(lr=-1), "Adamax: lr must be >= 0, got -1"),
    (Adamax, dict(betas=(0.9, -0.5)), r"Adamax: beta2 must be in \[0, 1\), got -0.5"),
    (Adamax, dict(eps=0), "Adamax: eps must be > 0, got 0"),
    (Adamax, dict(weight_decay=-1), "Adamax: weight_decay must be >= 0, got -1"),
    (NAdam, dict(lr=-1), "NAdam: lr must be >= 0, got -1"),
    (NAdam, dict(betas=(1.5, 0.9)), r"NAdam: beta1 must be in \[0, 1\), got 1.5"),
    (NAdam, dict(eps=0), "NAdam: eps must be > 0, got 0"),
    (NAdam, dict(momentum_decay=-1), "NAdam: momentum_decay must be >= 0, got -1"),
    (NAdam, dict(weight_decay=-1), "NAdam: weight_decay must be >= 0, got -1"),
    (RAdam, dict(lr=-1), "RAdam: lr must be >= 0, got -1"),
    (RAdam, dict(betas=(0.9, 1.0)), r"RAdam: beta2 must be in \[0, 1\), got 1.0"),
    (RAdam, dict(eps=0), "RAdam: eps must be > 0, got 0"),
    (RAdam, dict(weight_decay=-1), "RAdam: weight_decay must be >= 0, got -1"),
]


@pytest.mark.parametrize(("cls", "kwargs", "message"), BAD,
                         ids=[f"{c.__name__}-{'-'.join(k)}" for c, k, _ in BAD])
def test_bad_hyperparameter_raises(cls, kwargs, message):
    p = minigrad.Parameter(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=f"^{message}$"):
        cls([p], **kwargs)
    with pytest.raises(ValueError, match=f"^{message}$"):  # also as a per-group override
        cls([{"params": [p], **kwargs}])


@pytest.mark.parametrize("cls", CLASSES)
def test_non_number_hyperparameter_raises_type_error(cls):
    with pytest.raises(TypeError, match=f"{cls.__name__}: lr must be a number, got '0.1'"):
        cls([minigrad.Parameter(np.zeros(2, np.float32))], lr="0.1")


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


def test_adamw_first_step_closed_form():
    # t = 1: m_hat = g, v_hat = g^2, so theta_1 = theta_0 (1 - lr wd) - lr g / (|g| + eps)
    theta0 = np.array([1.0, -2.0, 0.5], np.float32)
    g = np.array([0.3, -4.0, 0.0], np.float32)
    p = minigrad.Parameter(theta0.copy())
    p.grad = minigrad.Tensor(g)
    AdamW([p], lr=0.1, weight_decay=0.5).step()
    expected = theta0 * (1 - 0.1 * 0.5) - 0.1 * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(p.array, expected, rtol=1e-6)


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
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_state_dict_resume_gives_identical_next_steps(name):
    a, b = resume_matches(FACTORIES[name])
    assert not np.array_equal(a[0], a[-1])
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_state_dict_layout_copies_and_npz_compatible(name, rng, tmp_path):
    params = _params(rng)
    opt = FACTORIES[name](params)
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
    fresh = FACTORIES[name](_params(rng))
    fresh.load_state_dict(restored)
    for i, p in enumerate(fresh.param_groups[0]["params"]):
        for k, v in sd["state"][i].items():
            np.testing.assert_array_equal(fresh.state[p][k], v)
            assert type(fresh.state[p][k]) is type(v)


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
