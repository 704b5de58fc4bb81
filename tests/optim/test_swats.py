"""SWATS: Algorithm 1 (switch from Adam to SGD), the switch criterion, per-layer switching,
the SGD phase, bad hyperparameters."""


import numpy as np
import pytest

import minigrad
from minigrad.optim.swats import SWATS

from ..conftest import to_numpy
from .paper_reference import problem, ref_swats, run_minigrad, run_reference
from .registry import assert_bad_hyperparameter_raises, bad_hyperparameters_of, bad_ids

BAD = bad_hyperparameters_of(SWATS)


@pytest.mark.parametrize("cls,kwargs,pattern", BAD, ids=bad_ids(BAD))
def test_bad_hyperparameter_raises(cls, kwargs, pattern):
    assert_bad_hyperparameter_raises(cls, kwargs, pattern)


def test_paper_defaults():
    p = [minigrad.Parameter(np.zeros(1, np.float32))]
    assert SWATS(p).defaults["eps"] == 1e-9


def test_swats_switches_on_linear_objective_with_closed_form_rate():
    # f(x) = c^T x: the gradient is constant, so Adam's step is -alpha * c / (|c| + eps')
    # and gamma_k = alpha * n / sum|c| (up to eps) at every step: the estimate has settled
    # at k = 2, the first step the criterion may fire, and Lambda = gamma. (The tolerance is
    # the paper's absolute eps = 1e-9, so gamma must be small enough for float32 to resolve
    # it to 1e-9: a small lr.)
    c = np.array([0.5, -2.0, 4.0, 1.0])
    x = minigrad.Parameter(np.zeros(4, np.float32))
    lr = 0.01
    opt = SWATS([x], lr=lr)
    for _ in range(3):
        x.grad = minigrad.Tensor(c.astype(np.float32))
        opt.step()
    st = opt.state[x]
    assert st["phase"] == "sgd"
    assert st["switch_step"] == 2
    assert st["sgd_lr"] == pytest.approx(lr * c.size / np.abs(c).sum(), rel=1e-5)



def test_swats_does_not_switch_on_noisy_gradients():
    r = np.random.default_rng(3)
    x = minigrad.Parameter(np.zeros(5, np.float32))
    opt = SWATS([x], lr=0.01)
    for _ in range(300):
        x.grad = minigrad.Tensor(r.normal(size=5).astype(np.float32))
        opt.step()
    assert opt.state[x]["phase"] == "adam"
    assert opt.state[x]["switch_step"] is None and opt.state[x]["sgd_lr"] is None



def test_swats_after_switch_is_sgd_momentum_at_the_estimated_rate():
    c = np.array([1.0, -3.0, 2.0])
    x = minigrad.Parameter(np.zeros(3, np.float32))
    beta1 = 0.8
    opt = SWATS([x], lr=0.002, betas=(beta1, 0.99))
    for _ in range(2):
        x.grad = minigrad.Tensor(c.astype(np.float32))
        opt.step()
    st = opt.state[x]
    assert st["phase"] == "sgd" and st["switch_step"] == 2
    rate = (1 - beta1) * st["sgd_lr"]          # torch SGD(momentum=beta1) learning rate
    r = np.random.default_rng(0)
    xs = to_numpy(x).astype(np.float64)
    buf = np.zeros(3)                          # v_k = 0 at the switch
    for _ in range(30):
        g = r.normal(size=3).astype(np.float32)
        x.grad = minigrad.Tensor(g)
        opt.step()
        buf = beta1 * buf + g
        xs = xs - rate * buf
        np.testing.assert_allclose(to_numpy(x), xs, rtol=1e-5, atol=1e-6)
    assert opt.state[x]["switch_step"] == 2   # the switch happens once



def test_swats_layers_switch_independently():
    a = minigrad.Parameter(np.zeros(3, np.float32))
    b = minigrad.Parameter(np.zeros(3, np.float32))
    opt = SWATS([a, b], lr=0.01)
    r = np.random.default_rng(1)
    for _ in range(20):
        a.grad = minigrad.Tensor(np.array([1.0, 2.0, -1.0], np.float32))   # settles: switches
        b.grad = minigrad.Tensor(r.normal(size=3).astype(np.float32))      # never settles
        opt.step()
    assert opt.state[a]["phase"] == "sgd" and opt.state[a]["switch_step"] == 2
    assert opt.state[b]["phase"] == "adam"



def test_swats_trajectory_with_mid_run_switch_matches_algorithm_1():
    # with these numbers the second tensor switches at k = 75 and the first never does
    prob = problem(seed=1, noise=0.0, steps=200)
    hp = dict(betas=(0.9, 0.99), eps=1e-5)
    lrs = (0.01, 0.01)
    got, opt, params = run_minigrad(SWATS, hp, lrs, prob, steps=200, dtype=np.float64)
    want, ref_states = run_reference(ref_swats, hp, lrs, prob, steps=200)
    switches = [opt.state[p]["switch_step"] for p in params]
    assert switches == [s["k_switch"] for s in ref_states]
    assert any(k is not None and 2 < k < 150 for k in switches), switches
    for p, s in zip(params, ref_states):
        if s["Lam"] is not None:
            assert opt.state[p]["sgd_lr"] == pytest.approx(s["Lam"], rel=1e-9)
    for t, (xs, ys) in enumerate(zip(got, want)):
        for x, y in zip(xs, ys):
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12, err_msg=f"step {t + 1}")



def test_swats_sgd_rate_follows_the_group_lr_schedule():
    x = minigrad.Parameter(np.zeros(2, np.float32))
    opt = SWATS([x], lr=0.002, betas=(0.5, 0.99))
    for _ in range(2):
        x.grad = minigrad.Tensor(np.array([1.0, 1.0], np.float32))
        opt.step()
    lam = opt.state[x]["sgd_lr"]
    opt.param_groups[0]["lr"] = 0.0002          # a scheduler divides the rate by 10
    before = to_numpy(x).copy()
    x.grad = minigrad.Tensor(np.array([1.0, 1.0], np.float32))
    opt.step()
    # v = 0.5 * 0 + g = g; step = (1 - beta1) * Lambda * 0.1 * g
    np.testing.assert_allclose(before - to_numpy(x), 0.5 * lam * 0.1 * np.ones(2), rtol=1e-5)



# ----------------------------------------------------------------------------- the flat step
# A group of small tensors steps flat (one update over the group's buffers, optim/flat.py)
# while each tensor keeps its own gamma, lambda, phase and Lambda. The reference is the
# per-tensor path (each parameter a group of its own). Parameters and moments agree to float
# round-off (the per-tensor dot products are summed in another order), and every switch
# happens at the same step.

SHAPES = [(8, 5), (5,), (3, 2, 2), (1,), (6,), (4, 4)]
# weights and biases alternating, as in an MLP: the per-tensor dot products are summed by runs
# of equal spans at equal strides (flat.Segments.dots), not span by span
LINEAR_SHAPES = [(5, 4), (5,), (5, 4), (5,), (5, 4), (5,)]
HP = dict(lr=1e-3, betas=(0.9, 0.9), eps=1e-6)


def _switching_problem(seed, shapes=SHAPES):
    """Initial values, and gradients ``c_i + d_i^k N(0, 1)`` per tensor: constant directions
    whose noise dies out at a rate of each tensor's own, so that the tensors switch at
    different steps (one never: d = 1)."""
    rng = np.random.default_rng(seed)
    c = [rng.uniform(0.5, 2.0, s) * rng.choice([-1.0, 1.0], s) for s in shapes]
    decay = rng.uniform(0.5, 0.9, len(shapes))
    decay[rng.integers(len(shapes))] = 1.0
    x0 = [rng.normal(size=s) for s in shapes]
    noise = np.random.default_rng(seed + 1)
    grads = [[ci + d**k * noise.normal(size=ci.shape) for ci, d in zip(c, decay)]
             for k in range(1, 61)]
    return x0, grads


def _pair(x0, dtype=np.float32, device="cpu", **hp):
    """The same parameters twice: one flat group, and one group per parameter."""
    flat_params = [minigrad.Parameter(x.astype(dtype), device=device) for x in x0]
    ref_params = [minigrad.Parameter(x.astype(dtype), device=device) for x in x0]
    hp = {**HP, **hp}
    return (flat_params, SWATS(flat_params, **hp), ref_params,
            SWATS([{"params": [p]} for p in ref_params], **hp))


def _step(opt, params, grads, skip=()):
    for i, (p, g) in enumerate(zip(params, grads)):
        p.grad = None if i in skip else minigrad.Tensor(g.astype(p.dtype), device=p.device)
    opt.step()


def _assert_close(flat_params, flat, ref_params, ref, step):
    for i, (p, q) in enumerate(zip(flat_params, ref_params)):
        msg = f"step {step}, parameter {i}"
        np.testing.assert_allclose(to_numpy(p), to_numpy(q), rtol=1e-6, atol=1e-7, err_msg=msg)
        st, rt = flat.state[p], ref.state[q]
        assert st.keys() == rt.keys(), msg
        for key in ("phase", "switch_step", "switch_lr", "step"):
            assert st[key] == rt[key], (msg, key)
        for key in ("lambda", "sgd_lr"):
            if rt[key] is None:
                assert st[key] is None, (msg, key)
            else:
                assert isinstance(st[key], float), (msg, key)
                assert st[key] == pytest.approx(rt[key], rel=1e-5, abs=0.0), (msg, key)
        for key in ("exp_avg", "exp_avg_sq", "momentum_buffer"):
            assert st[key].shape == p.shape, (msg, key)
            np.testing.assert_allclose(to_numpy(st[key]), to_numpy(rt[key]), rtol=1e-5,
                                       atol=1e-7, err_msg=f"{msg}, {key}")


def _is_flat(opt, params):
    """The parameters, and each state array, are views of one buffer each: the flat step."""
    arrays = [[p.array for p in params]] + [[opt.state[p][key] for p in params]
                                            for key in ("exp_avg", "exp_avg_sq",
                                                        "momentum_buffer")]
    return all(a[0].base is not None and all(x.base is a[0].base for x in a) for a in arrays)


@pytest.mark.parametrize("seed,weight_decay,shapes", [
    (0, 0.0, SHAPES), (4, 0.0, SHAPES), (4, 0.01, SHAPES), (0, 0.0, LINEAR_SHAPES),
    (4, 0.01, LINEAR_SHAPES)])
def test_flat_group_matches_per_tensor_through_staggered_switches(seed, weight_decay, shapes,
                                                                   device):
    x0, grads = _switching_problem(seed, shapes)
    flat_params, flat, ref_params, ref = _pair(x0, device=device, weight_decay=weight_decay)
    for k, g in enumerate(grads, 1):
        _step(flat, flat_params, g)
        _step(ref, ref_params, g)
        _assert_close(flat_params, flat, ref_params, ref, k)
        assert _is_flat(flat, flat_params), k
    switches = [ref.state[p]["switch_step"] for p in ref_params]
    assert None in switches and len(set(switches) - {None}) >= 3, switches  # mixed phases


def test_flat_group_in_float64_matches_per_tensor():
    x0, grads = _switching_problem(1)
    flat_params, flat, ref_params, ref = _pair(x0, np.float64)
    for k, g in enumerate(grads, 1):
        _step(flat, flat_params, g)
        _step(ref, ref_params, g)
        _assert_close(flat_params, flat, ref_params, ref, k)
    assert len({ref.state[p]["switch_step"] for p in ref_params} - {None}) >= 3


def test_flat_group_follows_a_changed_lr_after_switches():
    x0, grads = _switching_problem(0)
    flat_params, flat, ref_params, ref = _pair(x0)
    for k, g in enumerate(grads, 1):
        if k in (10, 30):  # as a scheduler would: the SGD rates follow, the Adam steps too
            for opt in (flat, ref):
                for group in opt.param_groups:
                    group["lr"] *= 0.5
        _step(flat, flat_params, g)
        _step(ref, ref_params, g)
        _assert_close(flat_params, flat, ref_params, ref, k)
    switches = [flat.state[p]["switch_step"] for p in flat_params]
    assert None in switches and any(k is not None and k < 10 for k in switches), switches


def test_parameter_without_gradient_in_a_flat_group():
    x0, grads = _switching_problem(4)
    flat_params, flat, ref_params, ref = _pair(x0)
    for k, g in enumerate(grads, 1):
        skip = (1,) if k in (5, 30) else ()
        _step(flat, flat_params, g, skip)
        _step(ref, ref_params, g, skip)
        _assert_close(flat_params, flat, ref_params, ref, k)
    assert flat.state[flat_params[1]]["step"] == len(grads) - 2


def test_state_dict_round_trip_mid_run_of_a_flat_group(tmp_path):
    x0, grads = _switching_problem(0)
    params = [minigrad.Parameter(x.astype(np.float32)) for x in x0]
    opt = SWATS(params, **HP)
    for g in grads[:25]:
        _step(opt, params, g)
    phases = {opt.state[p]["phase"] for p in params}
    assert phases == {"adam", "sgd"}  # saved with tensors in both phases
    saved = opt.state_dict()
    path = tmp_path / "swats.npz"
    np.savez(path, **{f"{i}/{k}": v for i, st in saved["state"].items() for k, v in st.items()
                      if v is not None})
    resumed_params = [minigrad.Parameter(to_numpy(p).copy()) for p in params]
    resumed = SWATS(resumed_params, **HP)
    with np.load(path) as data:
        state = {i: {k: (data[f"{i}/{k}"] if f"{i}/{k}" in data else None) for k in st}
                 for i, st in saved["state"].items()}
    resumed.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
    for g in grads[25:]:
        _step(opt, params, g)
        _step(resumed, resumed_params, g)
    assert _is_flat(resumed, resumed_params)
    for p, q in zip(params, resumed_params):  # the same flat steps: the same numbers
        np.testing.assert_array_equal(to_numpy(p), to_numpy(q))
        for key, value in opt.state[p].items():
            if hasattr(value, "shape"):
                np.testing.assert_array_equal(to_numpy(value), to_numpy(resumed.state[q][key]))
            else:
                assert resumed.state[q][key] == value, key


def test_per_tensor_state_loads_into_a_flat_group_and_back():
    x0, grads = _switching_problem(4)
    flat_params, flat, ref_params, ref = _pair(x0)
    for g in grads[:15]:
        _step(ref, ref_params, g)
    assert {ref.state[p]["phase"] for p in ref_params} == {"adam", "sgd"}
    into_flat = flat.state_dict()
    into_flat["state"] = ref.state_dict()["state"]  # each tensor's own lambda, phase, ...
    flat.load_state_dict(into_flat)
    for p, q in zip(flat_params, ref_params):
        p.array[...] = q.array
    for k, g in enumerate(grads[15:40], 16):
        _step(flat, flat_params, g)
        _step(ref, ref_params, g)
        _assert_close(flat_params, flat, ref_params, ref, k)
    assert _is_flat(flat, flat_params)
    back = ref.state_dict()
    back["state"] = flat.state_dict()["state"]
    ref.load_state_dict(back)
    for k, g in enumerate(grads[40:], 41):
        _step(flat, flat_params, g)
        _step(ref, ref_params, g)
        _assert_close(flat_params, flat, ref_params, ref, k)


def test_flat_group_under_a_scheduler_matches_per_tensor():
    """A scheduler's new ``lr`` (every 15 steps) rescales the rates of the tensors already in
    the SGD phase, flat as per tensor."""
    from minigrad.optim.lr_scheduler import StepLR

    x0, grads = _switching_problem(4)
    flat_params, flat, ref_params, ref = _pair(x0)
    schedulers = [StepLR(flat, step_size=15, gamma=0.5), StepLR(ref, step_size=15, gamma=0.5)]
    for k, g in enumerate(grads, 1):
        _step(flat, flat_params, g)
        _step(ref, ref_params, g)
        _assert_close(flat_params, flat, ref_params, ref, k)
        for scheduler in schedulers:
            scheduler.step()
    switches = [flat.state[p]["switch_step"] for p in flat_params]
    assert sum(k is not None and k < 15 for k in switches) >= 2, switches
    assert flat.param_groups[0]["lr"] == HP["lr"] * 0.5**4


@pytest.mark.parametrize("shapes,runs", [(SHAPES, None), (LINEAR_SHAPES, 2),
                                         ([(3,), (2, 2), (3,), (2, 2), (3,)], 2),
                                         ([(4,), (4,), (4,), (2,), (2,)], 2),
                                         ([(4,), (4,), (3,)], None)])
def test_segment_dots_are_each_tensors_dot_products(shapes, runs, rng, device):
    """``Segments.dots`` against the definition, a float64 dot product per tensor; by runs
    of equal spans at equal strides where the layout has them, span by span otherwise."""
    from minigrad.backend import Device, to_device
    from minigrad.optim.flat import Segments

    device = Device(device)
    sizes = [int(np.prod(s)) for s in shapes]
    starts = np.cumsum([0] + sizes[:-1]).tolist()
    spans = [(a, a + n, s, False) for a, n, s in zip(starts, sizes, shapes)]
    p = rng.normal(size=sum(sizes)).astype(np.float32)
    g = rng.normal(size=sum(sizes)).astype(np.float32)
    segments = Segments(spans, to_device(p, device))
    assert (None if segments._runs is None else len(segments._runs)) == runs
    for _ in range(2):
        dots = to_numpy(segments.dots(to_device(p, device), to_device(g, device)))
        assert dots.shape == (2, len(shapes)) and dots.dtype == np.float32
        for i, (a, n) in enumerate(zip(starts, sizes)):
            x, y = p[a:a + n].astype(np.float64), g[a:a + n].astype(np.float64)
            assert dots[0, i] == pytest.approx(x @ y, rel=1e-5, abs=1e-6)
            assert dots[1, i] == pytest.approx(x @ x, rel=1e-5, abs=1e-6)


def test_row_dots_without_vecdot_are_each_rows_dot_product(rng):
    """The fallback of ``Segments.dots`` for an array module without ``vecdot``."""
    from minigrad.optim.flat import _row_dots

    x = rng.normal(size=(4, 16))[:, :7]
    y = rng.normal(size=(4, 16))[:, :7]
    np.testing.assert_allclose(_row_dots(x, y), [a @ b for a, b in zip(x, y)], rtol=1e-12)
