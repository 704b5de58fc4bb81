"""The flat fast path (minigrad/optim/flat.py): one update over a whole group laid out flat.

The reference is the per-tensor path of the same optimizer, reached by giving each parameter a
group of its own (the base lays a group out flat only when it holds two parameters or more): the
flat path must give the same numbers bit for bit, and the same per-parameter state (SWATS's
per-tensor rate estimates to float round-off: their dot products are summed in another order).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad
from minigrad.optim.adam import Adam
from minigrad.optim.sgd import SGD

from ..conftest import to_numpy
from .registry import FULL_STATE

SHAPES = ((3, 4), (4,), (2, 3, 2), (1,), (5, 1))


def _twin_params(rng, device="cpu"):
    """Two lists of parameters with the same values: one for the flat run, one per tensor."""
    values = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    return ([minigrad.Parameter(v.copy(), device=device) for v in values],
            [minigrad.Parameter(v.copy(), device=device) for v in values])


def _per_tensor(make, params, **kw):
    return make([{"params": [p]} for p in params], **kw)


def _step(opt, params, grads, skip=()):
    for i, (p, g) in enumerate(zip(params, grads)):
        p.grad = None if i in skip else minigrad.Tensor(g.copy(), device=p.device)
    opt.step()


def _grads(rng):
    return [rng.normal(size=s).astype(np.float32) for s in SHAPES]


def _assert_same(params_a, opt_a, params_b, opt_b):
    for pa, pb in zip(params_a, params_b):
        np.testing.assert_array_equal(to_numpy(pa), to_numpy(pb))
        state_a, state_b = opt_a.state.get(pa), opt_b.state.get(pb)
        assert (state_a is None) == (state_b is None)
        if state_a is None:
            continue
        assert state_a.keys() == state_b.keys()
        for key, value in state_a.items():
            if hasattr(value, "shape"):
                assert value.shape == pa.shape
                np.testing.assert_array_equal(to_numpy(value), to_numpy(state_b[key]))
            elif key in opt_a.per_tensor_state and isinstance(value, float):
                # SWATS's rate estimate: its dot products are summed over the flat buffer
                # per tensor, per tensor by BLAS: the same to float round-off
                assert value == pytest.approx(state_b[key], rel=1e-5, abs=0.0), key
            else:
                assert value == state_b[key], key


@pytest.mark.parametrize("name", sorted(FULL_STATE))
@pytest.mark.parametrize("kw", [{}, {"maximize": True}, {"clipvalue": 0.5},
                                {"global_clipnorm": 1.0}], ids=["plain", "maximize", "clipvalue",
                                                               "global_clipnorm"])
def test_flat_step_equals_per_tensor_step(name, kw, rng, device):
    if "maximize" in kw and name == "FTRL":
        kw = {}  # FTRL has no maximize
    flat_params, ref_params = _twin_params(rng, device)
    flat = FULL_STATE[name](flat_params, **kw)
    ref = _per_tensor(FULL_STATE[name], ref_params, **kw)
    for _ in range(4):
        grads = _grads(rng)
        _step(flat, flat_params, grads)
        _step(ref, ref_params, grads)
        _assert_same(flat_params, flat, ref_params, ref)
    if flat.flat_update:  # the state really is one buffer per key
        for key, value in flat.state[flat_params[0]].items():
            if hasattr(value, "shape"):
                assert flat.state[flat_params[1]][key].base is value.base is not None


@pytest.mark.parametrize("make", [lambda ps: Adam(ps, lr=0.1),
                                  lambda ps: SGD(ps, lr=0.1, momentum=0.9)], ids=["Adam", "SGD"])
def test_parameter_without_gradient_is_skipped_then_rejoins(make, rng):
    flat_params, ref_params = _twin_params(rng)
    flat, ref = make(flat_params), _per_tensor(make, ref_params)
    for skip in [(), (1,), (0, 3), (), ()]:
        grads = _grads(rng)
        _step(flat, flat_params, grads, skip)
        _step(ref, ref_params, grads, skip)
        _assert_same(flat_params, flat, ref_params, ref)
    assert [flat.state[p]["step"] for p in flat_params] == [4, 4, 5, 4, 5]


def test_first_step_without_one_gradient(rng):
    flat_params, ref_params = _twin_params(rng)
    flat, ref = Adam(flat_params, lr=0.1), _per_tensor(lambda ps: Adam(ps, lr=0.1), ref_params)
    for skip in [(2,), (), ()]:
        grads = _grads(rng)
        _step(flat, flat_params, grads, skip)
        _step(ref, ref_params, grads, skip)
        _assert_same(flat_params, flat, ref_params, ref)


def test_load_state_dict_midway_continues_the_same_run(rng):
    flat_params, ref_params = _twin_params(rng)
    flat = Adam(flat_params, lr=0.1, amsgrad=True)
    ref = _per_tensor(lambda ps: Adam(ps, lr=0.1, amsgrad=True), ref_params)
    grads = [_grads(rng) for _ in range(4)]
    for g in grads[:2]:
        _step(flat, flat_params, g)
        _step(ref, ref_params, g)
    saved = flat.state_dict()
    for value in saved["state"][0].values():  # copies, not views of the live buffers
        if hasattr(value, "shape"):
            value[...] = 1e6
    saved = flat.state_dict()
    reloaded = Adam(flat_params, lr=0.5, amsgrad=True)
    reloaded.load_state_dict(saved)
    for g in grads[2:]:
        _step(reloaded, flat_params, g)
        _step(ref, ref_params, g)
        _assert_same(flat_params, reloaded, ref_params, ref)


def test_replaced_parameter_array_is_laid_out_again(rng):
    grads = [_grads(rng) for _ in range(3)]
    flat_params, ref_params = _twin_params(rng)
    flat, ref = Adam(flat_params, lr=0.1), _per_tensor(lambda ps: Adam(ps, lr=0.1), ref_params)
    _step(flat, flat_params, grads[0])
    _step(ref, ref_params, grads[0])
    new = rng.normal(size=SHAPES[2]).astype(np.float32)
    flat_params[2].data = minigrad.tensor(new.copy())
    ref_params[2].data = minigrad.tensor(new.copy())
    for g in grads[1:]:
        _step(flat, flat_params, g)
        _step(ref, ref_params, g)
        _assert_same(flat_params, flat, ref_params, ref)


def test_parameter_sharing_memory_is_not_moved(rng):
    storage = rng.normal(size=8).astype(np.float32)
    shared = minigrad.Parameter(np.zeros(4, np.float32))
    shared.array = storage[:4]  # a view of the user's own array
    other = minigrad.Parameter(rng.normal(size=3).astype(np.float32))
    opt = SGD([shared, other], lr=0.5)
    assert shared.array.base is storage
    shared.grad = minigrad.Tensor(np.ones(4, np.float32))
    other.grad = minigrad.Tensor(np.ones(3, np.float32))
    before = storage.copy()
    opt.step()
    np.testing.assert_array_equal(storage[:4], before[:4] - 0.5)  # updated where it lives
    np.testing.assert_array_equal(storage[4:], before[4:])


def test_parameters_keep_their_values_and_arrays_after_construction(rng):
    params, _ = _twin_params(rng)
    values = [p.array.copy() for p in params]
    Adam(params, lr=0.1)
    for p, v in zip(params, values):
        np.testing.assert_array_equal(p.array, v)
        assert p.array.shape == v.shape and p.array.flags.c_contiguous


def test_zero_dimensional_parameter_in_a_flat_group(rng):
    values = [rng.normal(size=s).astype(np.float32) for s in ((), (3,), ())]
    flat_params = [minigrad.Parameter(v.copy()) for v in values]
    ref_params = [minigrad.Parameter(v.copy()) for v in values]
    flat, ref = Adam(flat_params, lr=0.1), _per_tensor(lambda ps: Adam(ps, lr=0.1), ref_params)
    for _ in range(3):
        grads = [rng.normal(size=v.shape).astype(np.float32) for v in values]
        for params, opt in ((flat_params, flat), (ref_params, ref)):
            for p, g in zip(params, grads):
                p.grad = minigrad.Tensor(g.copy())
            opt.step()
        _assert_same(flat_params, flat, ref_params, ref)
    assert flat_params[0].shape == () and flat.state[flat_params[0]]["exp_avg"].shape == ()


def test_group_of_large_tensors_stays_per_tensor(rng):
    from minigrad.optim.flat import FLAT_MEAN_NUMEL

    side = int((2 * FLAT_MEAN_NUMEL) ** 0.5)
    params = [minigrad.Parameter(rng.normal(size=(side, side)).astype(np.float32)),
              minigrad.Parameter(rng.normal(size=(side + 2, side)).astype(np.float32)),
              minigrad.Parameter(rng.normal(size=(side,)).astype(np.float32))]
    opt = SGD(params, lr=0.1)
    assert all(p.array.base is None for p in params)  # mean numel above the limit
    assert opt._flat == {}
    opt = SGD(params[1:] + [minigrad.Parameter(np.zeros((side, 2), np.float32))], lr=0.1)
    assert opt._flat != {} and params[2].array.base is not None  # below it


def test_hyperparameters_changed_after_remembered_checks_are_checked_again(rng):
    params, _ = _twin_params(rng)
    opt = Adam([{"params": params[:2]}, {"params": params[2:], "betas": [0.9, 0.999]}], lr=0.1)
    for _ in range(2):  # the first group's checks are remembered from here on
        _step(opt, params, _grads(rng))
    before = [p.array.copy() for p in params]
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr must be >= 0, got -1.0"):
        _step(opt, params, _grads(rng))
    opt.param_groups[0]["lr"] = 0.1
    opt.param_groups[1]["betas"][1] = 1.5  # a list changed in place: never remembered
    with pytest.raises(ValueError, match="beta2 must be in \\[0, 1\\), got 1.5"):
        _step(opt, params, _grads(rng))
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.array, b)
    opt.param_groups[1]["betas"][1] = 0.999
    opt.param_groups[0]["amsgrad"] = True  # needs state the parameters don't have
    with pytest.raises(ValueError, match="lacks \\['max_exp_avg_sq'\\]"):
        _step(opt, params, _grads(rng))


def test_deep_copy_of_parameters_and_optimizer_updates_the_copy(rng):
    import copy

    params, ref_params = _twin_params(rng)
    opt = Adam(params, lr=0.1)
    ref = _per_tensor(lambda ps: Adam(ps, lr=0.1), ref_params)
    grads = [_grads(rng) for _ in range(4)]
    for g in grads[:2]:
        _step(opt, params, g)
        _step(ref, ref_params, g)
    params2, opt2 = copy.deepcopy((params, opt))
    for g in grads[2:]:
        _step(opt2, params2, g)
        _step(ref, ref_params, g)
        _assert_same(params2, opt2, ref_params, ref)


def test_pickled_parameters_and_optimizer_update_the_copy(rng):
    import pickle

    params, ref_params = _twin_params(rng)
    opt = SGD(params, lr=0.1, momentum=0.9)
    ref = _per_tensor(lambda ps: SGD(ps, lr=0.1, momentum=0.9), ref_params)
    grads = [_grads(rng) for _ in range(4)]
    for g in grads[:2]:
        _step(opt, params, g)
        _step(ref, ref_params, g)
    params2, opt2 = pickle.loads(pickle.dumps((params, opt)))
    for g in grads[2:]:
        _step(opt2, params2, g)
        _step(ref, ref_params, g)
        _assert_same(params2, opt2, ref_params, ref)


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_large_group_lays_out_its_small_tensors_only(name, rng):
    """A group too large on average to go flat lays out its small tensors (at most
    FLAT_MEAN_NUMEL numbers each) and steps the large ones per tensor, bit for bit as the
    per-tensor path, including a step where one parameter has no gradient; an optimizer with
    ``flat_in_part = False`` (SWATS) steps such a group wholly per tensor."""
    from minigrad.optim.flat import FLAT_MEAN_NUMEL

    shapes = [(4,), (FLAT_MEAN_NUMEL, 5), (3, 5), (2,)]  # mean numel above the limit
    values = [rng.normal(size=s).astype(np.float32) for s in shapes]
    flat_params = [minigrad.Parameter(v.copy()) for v in values]
    ref_params = [minigrad.Parameter(v.copy()) for v in values]
    flat = FULL_STATE[name](flat_params)
    ref = _per_tensor(FULL_STATE[name], ref_params)
    if flat.flat_update:
        assert flat_params[1].array.base is None  # the large one keeps its own memory
        if flat.flat_in_part:
            assert flat_params[0].array.base is flat_params[2].array.base is not None
        else:
            assert all(p.array.base is None for p in flat_params)
    for skip in ((), (), (2,), ()):
        grads = [rng.normal(size=s).astype(np.float32) for s in shapes]
        _step(flat, flat_params, grads, skip)
        _step(ref, ref_params, grads, skip)
        _assert_same(flat_params, flat, ref_params, ref)


# ----------------------------------------------------------------------------- the steady step
def _steady(make, rng, steps=2):
    """An optimizer of SHAPES after ``steps`` flat steps (from then on its steps are steady),
    its per-tensor twin, and their parameters."""
    flat_params, ref_params = _twin_params(rng)
    flat, ref = make(flat_params), _per_tensor(make, ref_params)
    for _ in range(steps):
        grads = _grads(rng)
        _step(flat, flat_params, grads)
        _step(ref, ref_params, grads)
    return flat, flat_params, ref, ref_params


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_steady_step_takes_no_per_parameter_checks_and_equals_per_tensor(name, rng,
                                                                         monkeypatch):
    """Once a flat optimizer's groups, states and hyperparameters are unchanged, ``step``
    skips the checked per-parameter work (``_checked_work``) and still gives the per-tensor
    numbers bit for bit."""
    flat, flat_params, ref, ref_params = _steady(FULL_STATE[name], rng)
    if flat.flat_update:
        def refuse():
            raise AssertionError("the steady step went through the checked path")
        monkeypatch.setattr(flat, "_checked_work", refuse)
    for _ in range(3):
        grads = _grads(rng)
        _step(flat, flat_params, grads)
        _step(ref, ref_params, grads)
        _assert_same(flat_params, flat, ref_params, ref)


def _changed_nothing(opt, params, before_params, before_states):
    for p, b in zip(params, before_params):
        np.testing.assert_array_equal(p.array, b)
    for p, st in zip(params, before_states):
        assert opt.state[p].keys() == st.keys()
        for key, value in st.items():
            if hasattr(value, "shape"):
                np.testing.assert_array_equal(opt.state[p][key], value)
            else:
                assert opt.state[p][key] == value


def _copies(opt, params):
    return ([p.array.copy() for p in params],
            [{k: (v.copy() if hasattr(v, "copy") else v) for k, v in opt.state[p].items()}
             for p in params])


@pytest.mark.parametrize("bad,exc,match", [
    (np.zeros((4, 3), np.float32), ValueError,
     r"Adam: the gradient of parameter 0 has shape \(4, 3\), the parameter has shape \(3, 4\)"),
    (np.zeros(12, np.float32), ValueError, r"has shape \(12,\), the parameter has shape"),
    (np.zeros((3, 4), np.float64), TypeError, "has dtype float64, the parameter has dtype"),
], ids=["transposed", "raveled", "float64"])
def test_steady_step_refuses_a_gradient_changed_around_the_setter(bad, exc, match, rng):
    """``p.grad.array = ...`` goes around the ``.grad`` setter's checks: a steady step still
    finds a gradient of the same size but another shape, or of another dtype, and changes
    nothing."""
    opt, params, _, _ = _steady(lambda ps: Adam(ps, lr=0.1), rng)
    for p, g in zip(params, _grads(rng)):
        p.grad = minigrad.Tensor(g)
    params[0].grad.array = bad
    before = _copies(opt, params)
    with pytest.raises(exc, match=match):
        opt.step()
    _changed_nothing(opt, params, *before)


def test_steady_step_refuses_a_gradient_that_is_not_a_tensor(rng):
    opt, params, _, _ = _steady(lambda ps: SGD(ps, lr=0.1, momentum=0.9), rng)
    for p, g in zip(params, _grads(rng)):
        p.grad = minigrad.Tensor(g)
    object.__setattr__(params[2], "_grad", np.zeros((2, 3, 2), np.float32))
    before = _copies(opt, params)
    with pytest.raises(TypeError, match="gradient of parameter 2 must be a Tensor"):
        opt.step()
    _changed_nothing(opt, params, *before)


def test_steady_step_refuses_a_state_key_deleted_by_hand(rng):
    opt, params, _, _ = _steady(lambda ps: Adam(ps, lr=0.1), rng)
    del opt.state[params[3]]["exp_avg_sq"]
    for p, g in zip(params, _grads(rng)):
        p.grad = minigrad.Tensor(g)
    before = _copies(opt, params)
    with pytest.raises(ValueError, match=r"state of parameter 3 lacks \['exp_avg_sq'\]"):
        opt.step()
    _changed_nothing(opt, params, *before)


def test_steady_step_checks_a_value_set_by_hand_even_when_equal(rng, monkeypatch):
    """A hyperparameter set by hand is validated at the next step even when it equals the old
    value (a new object): the remembered checks hold only for the very same objects."""
    opt, params, _, _ = _steady(lambda ps: Adam(ps, lr=0.1), rng)
    calls = []
    monkeypatch.setattr(opt, "validate", lambda hp: calls.append(hp["lr"]))
    _step(opt, params, _grads(rng))
    assert calls == []
    opt.param_groups[0]["lr"] = float("0.1")
    _step(opt, params, _grads(rng))
    assert calls == [0.1]


# ----------------------------------------------------------------------------- gradients in place
def _set_grads(params, grads):
    for p, g in zip(params, grads):
        p.grad = minigrad.Tensor(g.copy())


@pytest.mark.parametrize("kw", [{}, {"maximize": True}, {"clipvalue": 0.01}],
                         ids=["plain", "maximize", "clipvalue"])
def test_gradients_set_once_live_in_the_buffer_and_are_never_written(kw, rng):
    """Gradients that stay between steps become views of the group's gradient buffer (same
    numbers), so the next step copies nothing; the step never writes them (maximize and
    clipvalue work on copies), and the numbers equal the per-tensor path's bit for bit."""
    flat_params, ref_params = _twin_params(rng)
    flat = SGD(flat_params, lr=0.1, momentum=0.9, **kw)
    ref = _per_tensor(lambda ps, **k: SGD(ps, lr=0.1, momentum=0.9, **k), ref_params, **kw)
    grads = _grads(rng)
    _set_grads(flat_params, grads)
    _set_grads(ref_params, grads)
    for _ in range(4):
        flat.step()
        ref.step()
        _assert_same(flat_params, flat, ref_params, ref)
        for p, g in zip(flat_params, grads):
            np.testing.assert_array_equal(p.grad.array, g)
    buffer = flat._flat[0].grad
    assert all(p.grad.array.base is buffer for p in flat_params)


def test_gradient_array_held_elsewhere_is_not_moved(rng):
    """A gradient whose array someone else holds (``from_numpy``) keeps it: writes to that
    array between steps still reach the step."""
    flat_params, ref_params = _twin_params(rng)
    flat, ref = Adam(flat_params, lr=0.1), _per_tensor(lambda ps: Adam(ps, lr=0.1), ref_params)
    arrays = [g.copy() for g in _grads(rng)]
    for p, a in zip(flat_params, arrays):
        p.grad = minigrad.from_numpy(a)
    for _ in range(3):
        _set_grads(ref_params, arrays)
        flat.step()
        ref.step()
        _assert_same(flat_params, flat, ref_params, ref)
        assert all(p.grad.array is a for p, a in zip(flat_params, arrays))
        for a, g in zip(arrays, _grads(rng)):
            a[...] = g  # the user's own buffer, written in place


def test_gradient_tensors_kept_from_an_earlier_step_keep_their_values(rng):
    """A step gathers fresh gradients into a new buffer while an earlier step's gradient
    Tensors (views of the old one) are still held: their values do not change."""
    params, _ = _twin_params(rng)
    opt = Adam(params, lr=0.1)
    first = _grads(rng)
    _set_grads(params, first)
    for _ in range(3):  # the checked steps, then a steady one: the gradients move in
        opt.step()
    kept = [p.grad for p in params]
    assert all(k.array.base is opt._flat[0].grad for k in kept)
    for _ in range(2):
        opt.zero_grad()
        _set_grads(params, _grads(rng))
        opt.step()
    for k, g in zip(kept, first):
        np.testing.assert_array_equal(k.array, g)


def test_zero_grad_to_zeros_and_backward_accumulate_in_the_buffer(rng):
    """Training with ``zero_grad(set_to_none=False)``: backward adds into the gradients in
    place, which live in the flat buffer after the first step; every step equals the
    per-tensor path's bit for bit."""
    from minigrad import nn

    def model():
        minigrad.manual_seed(3)
        return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))

    flat_model, ref_model = model(), model()
    flat = Adam(flat_model.parameters(), lr=0.05)
    ref = _per_tensor(lambda ps: Adam(ps, lr=0.05), list(ref_model.parameters()))
    x = minigrad.tensor(rng.normal(size=(8, 5)).astype(np.float32))
    y = minigrad.tensor(rng.integers(0, 3, size=8))
    for _ in range(4):
        for m, opt in ((flat_model, flat), (ref_model, ref)):
            opt.zero_grad(set_to_none=False)
            nn.CrossEntropyLoss()(m(x), y).backward()
            opt.step()
        _assert_same(list(flat_model.parameters()), flat, list(ref_model.parameters()), ref)
    buffer = flat._flat[0].grad
    assert all(p.grad.array.base is buffer for p in flat_model.parameters())


def test_gather_copies_gradients_and_lends_views_to_unheld_ones(rng):
    """The gather copies each gradient into its view of the flat gradient buffer, exactly;
    gradients that stay between steps then get those views as their arrays (nothing copied at
    the next step), except one whose array someone else holds."""
    shapes = [(3, 4), (4,), (2, 3)]
    values = [rng.normal(size=s).astype(np.float32) for s in shapes]
    params = [minigrad.Parameter(v.copy()) for v in values]
    grads = [rng.normal(size=s).astype(np.float32) for s in shapes]
    for p, g in zip(params, grads):
        p.grad = minigrad.tensor(g.copy())
    held = params[0].grad.array  # a reference of the user's: this one must stay as it is
    opt = SGD(params, lr=0.5)
    for _ in range(3):
        opt.step()
    flat = opt._flat[0]
    assert np.array_equal(flat.grad, np.concatenate([g.ravel() for g in grads]))
    assert params[0].grad.array is held and not np.shares_memory(held, flat.grad)
    assert np.shares_memory(params[1].grad.array, flat.grad)
    assert np.shares_memory(params[2].grad.array, flat.grad)  # the last one too
    for p, g in zip(params, grads):
        assert np.array_equal(to_numpy(p.grad), g)
    want = [v.copy() for v in values]
    for _ in range(3):
        for w, g in zip(want, grads):
            w -= np.float32(0.5) * g
    for p, w in zip(params, want):
        assert np.array_equal(to_numpy(p), w)



@pytest.mark.parametrize("keep", ["slice of the Tensor", "slice of the array", "the Tensor"])
def test_a_kept_view_of_a_lent_gradient_keeps_its_values(rng, keep):
    """A gradient lent its view of the flat buffer, or any view of it that the user keeps
    (``p.grad[0]``), keeps its values when the next step's new gradients are gathered: they
    go into a new buffer (FlatGroup.grad_held)."""
    params = [minigrad.Parameter(rng.normal(size=(4, 4)).astype(np.float32)) for _ in range(3)]
    opt = SGD(params, lr=0.1)
    for p in params:
        p.grad = minigrad.tensor(np.ones((4, 4), np.float32))
    for _ in range(3):
        opt.step()
    assert np.shares_memory(params[0].grad.array, opt._flat[0].grad)  # lent
    kept = {"slice of the Tensor": lambda g: g[0], "slice of the array": lambda g: g.array[1:],
            "the Tensor": lambda g: g}[keep](params[0].grad)
    before = to_numpy(kept).copy()
    for p in params:
        p.grad = minigrad.tensor(np.full((4, 4), 5.0, np.float32))
    opt.step()
    np.testing.assert_array_equal(to_numpy(kept), before)
    np.testing.assert_array_equal(opt._flat[0].grad, 5.0)

# ------------------------------------------ parameters stored column-major (nn.Linear's weight)
MIXED = ((3, 4), (4,), (6, 5), (2, 3, 2), (5, 1), (4, 7))  # (6, 5), (4, 7): F-contiguous


def _mixed_twins(rng, device="cpu"):
    """Two lists of parameters with the same values, the 2-D ones of MIXED with both dims > 1
    but the first stored column-major (F-contiguous), as an ``nn.Linear`` weight is."""
    def layout(v, i):
        return np.asfortranarray(v) if i in (2, 5) else v

    values = [rng.normal(size=s).astype(np.float32) for s in MIXED]
    twins = tuple([minigrad.Parameter(layout(v.copy(), i), device=device)
                   for i, v in enumerate(values)] for _ in range(2))
    assert [p.array.flags.c_contiguous for p in twins[0]] == [1, 1, 0, 1, 1, 0]
    return twins


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_flat_step_over_column_major_parameters_equals_per_tensor_step(name, rng, device):
    """A group mixing C- and F-contiguous parameters goes flat with each parameter in its own
    layout (views of the buffer, state views alike) and gives the per-tensor numbers bit for
    bit, whether the gradients come in the parameter's layout or in the other one (copied),
    in the checked steps and the steady ones."""
    flat_params, ref_params = _mixed_twins(rng, device)
    flat = FULL_STATE[name](flat_params)
    ref = _per_tensor(FULL_STATE[name], ref_params)
    for step in range(6):
        grads = [rng.normal(size=s).astype(np.float32) for s in MIXED]
        if step % 2:  # the weights' gradients in their layout, as Linear's backward makes them
            grads = [np.asfortranarray(g) if p.array.flags.f_contiguous and g.ndim == 2 else g
                     for g, p in zip(grads, flat_params)]
        for params, opt in ((flat_params, flat), (ref_params, ref)):
            for p, g in zip(params, grads):
                p.grad = minigrad.Tensor(g.copy(order="K"), device=device)
            opt.step()
        _assert_same(flat_params, flat, ref_params, ref)
    assert [p.array.flags.c_contiguous for p in flat_params] == [1, 1, 0, 1, 1, 0]
    if flat.flat_update:
        buffer = flat._flat[0].param
        assert all(p.array.base is buffer for p in flat_params)
        for p in flat_params:
            for value in flat.state[p].values():
                if hasattr(value, "shape"):
                    assert value.strides == p.array.strides


def test_column_major_state_from_a_state_dict_is_adopted_in_memory_order(rng):
    """load_state_dict midway (states in either layout) sends the group through the
    per-tensor step, and the next flat step adopts the states again: the run goes on as the
    per-tensor one."""
    flat_params, ref_params = _mixed_twins(rng)
    flat, ref = Adam(flat_params, lr=0.1), _per_tensor(lambda ps: Adam(ps, lr=0.1), ref_params)
    for _ in range(2):
        grads = [rng.normal(size=s).astype(np.float32) for s in MIXED]
        _step(flat, flat_params, grads)
        _step(ref, ref_params, grads)
    saved = flat.state_dict()
    for st in saved["state"].values():  # C-ordered copies, as a checkpoint of old would hold
        for k, v in st.items():
            if hasattr(v, "shape"):
                st[k] = np.ascontiguousarray(v)
    flat.load_state_dict(saved)
    for _ in range(3):
        grads = [rng.normal(size=s).astype(np.float32) for s in MIXED]
        _step(flat, flat_params, grads)
        _step(ref, ref_params, grads)
        _assert_same(flat_params, flat, ref_params, ref)


def test_linear_weights_gradients_are_lent_their_column_major_views(rng, column_major_linear):
    """Gradients that stay between steps (zero_grad(set_to_none=False)): an nn.Linear
    weight's gradient, (x^T g)^T, the transpose of an array nobody else holds, is lent its
    F-contiguous view of the gradient buffer like any gradient that owns its memory."""
    from minigrad import nn

    minigrad.manual_seed(2)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3))
    opt = Adam(model.parameters(), lr=0.05)
    x = minigrad.tensor(rng.normal(size=(8, 5)).astype(np.float32))
    y = minigrad.tensor(rng.integers(0, 3, size=8))
    for _ in range(3):  # two checked steps, then the first steady one lends
        opt.zero_grad(set_to_none=False)
        nn.CrossEntropyLoss()(model(x), y).backward()
        opt.step()
    buffer = opt._flat[0].grad
    for weight in (model[0].weight, model[2].weight):
        assert weight.grad.array.base is buffer and weight.grad.array.flags.f_contiguous
        assert weight.grad.array.strides == weight.array.strides


def test_column_major_parameter_without_gradient_then_a_new_group(rng):
    """A column-major parameter without a gradient for a step sends the group per tensor and
    rejoins it; a group added later (add_param_group) with a column-major parameter goes flat
    in its layout; the per-tensor numbers throughout."""
    flat_params, ref_params = _mixed_twins(rng)
    flat, ref = Adam(flat_params[:4], lr=0.1), _per_tensor(lambda ps: Adam(ps, lr=0.1),
                                                            ref_params[:4])
    for step in range(5):
        grads = [rng.normal(size=s).astype(np.float32) for s in MIXED[:4]]
        skip = (2,) if step == 2 else ()
        _step(flat, flat_params[:4], grads, skip)
        _step(ref, ref_params[:4], grads, skip)
        _assert_same(flat_params[:4], flat, ref_params[:4], ref)
        if step == 3:
            flat.add_param_group({"params": flat_params[4:]})
            for p in ref_params[4:]:
                ref.add_param_group({"params": [p]})
    for _ in range(3):
        grads = [rng.normal(size=s).astype(np.float32) for s in MIXED]
        _step(flat, flat_params, grads)
        _step(ref, ref_params, grads)
        _assert_same(flat_params, flat, ref_params, ref)
    assert len(flat._flat) == 2 and flat_params[5].array.flags.f_contiguous
    assert flat_params[5].array.base is flat._flat[1].param


# ------------------------------------------ the version counter shared by a flat group (h17small)
def test_flat_step_bumps_one_counter_shared_by_the_group(rng):
    params, _ = _twin_params(rng)
    opt = SGD(params, lr=0.1)
    versions = [p._version for p in params]
    for _ in range(3):
        _step(opt, params, _grads(rng))
    assert all(p._vc is params[0]._vc for p in params)  # views of one buffer: one counter
    assert [p._version for p in params] == [v + 3 for v in versions]


def test_write_to_one_laid_out_parameter_marks_the_others_as_views_of_one_buffer(rng):
    """As torch's views of one buffer: a graph that saved another parameter refuses
    backward after an in-place write to this one (never a silently wrong gradient), where
    separate tensors (the same parameters stepped per tensor) do not."""
    for laid_out in (True, False):
        params, _ = _twin_params(rng)
        opt = SGD(params, lr=0.1) if laid_out else _per_tensor(SGD, params, lr=0.1)
        _step(opt, params, _grads(rng))
        x = minigrad.Tensor(rng.normal(size=(2, 3)).astype(np.float32), requires_grad=True)
        loss = (x @ params[0]).sum()  # saves params[0] for the gradient with respect to x
        with minigrad.no_grad():
            params[1].mul_(2.0)
        if laid_out:
            with pytest.raises(RuntimeError, match="modified in place"):
                loss.backward()
        else:
            loss.backward()
            assert params[0]._vc is not params[1]._vc


def test_parameter_leaving_the_layout_gets_its_own_counter_back(rng):
    params, _ = _twin_params(rng)
    opt = SGD(params, lr=0.1)
    _step(opt, params, _grads(rng))
    shared = params[0]._vc
    params[2].data = minigrad.Tensor(params[2].array.copy())  # leaves the buffer
    _step(opt, params, _grads(rng))  # the group laid out anew, with a new shared counter
    assert all(p._vc is not shared for p in params)
    assert all(p._vc is params[0]._vc for p in params)
    assert shared[0] == params[0]._version - 1  # left behind with the old layout
    _step(opt, params, _grads(rng), skip={1})  # per tensor: each a counter of its own
    assert len({id(p._vc) for p in params}) == len(params)
    versions = [p._version for p in params]
    _step(opt, params, _grads(rng), skip={1})
    assert [p._version for p in params] == [v + (i != 1) for i, v in enumerate(versions)]


def test_replayed_flat_step_bumps_the_shared_counter_once(rng):
    model = minigrad.nn.Sequential(minigrad.nn.Linear(4, 3), minigrad.nn.ReLU(),
                                   minigrad.nn.Linear(3, 2))
    opt = SGD(model.parameters(), lr=0.1)
    x = minigrad.Tensor(rng.normal(size=(5, 4)).astype(np.float32))

    @minigrad.jit
    def train_step(x):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()

    for _ in range(4):
        train_step(x)
    params = list(model.parameters())
    assert all(p._vc is params[0]._vc for p in params)
    version = params[0]._version
    train_step(x)
    assert all(p._version == version + 1 for p in params)


def test_steady_step_with_a_defaultdict_state_makes_no_entries(rng):
    """``opt.state`` replaced by torch's type, a defaultdict: the steady check must not make
    an entry for a parameter whose state was deleted (it takes its first step again)."""
    from collections import defaultdict

    params, twins = _twin_params(rng)
    opt, ref = SGD(params, lr=0.1, momentum=0.9), _per_tensor(SGD, twins, lr=0.1, momentum=0.9)
    for k in range(4):
        grads = _grads(rng)
        if k == 2:
            for o, ps in ((opt, params), (ref, twins)):
                o.state = defaultdict(dict, o.state)
                del o.state[ps[1]]
        _step(opt, params, grads)
        _step(ref, twins, grads)
        _assert_same(params, opt, twins, ref)


@pytest.mark.parametrize("how", ["setitem", "update", "ior"])
def test_state_entry_replaced_by_hand_between_steps_is_used(rng, how):
    """A state array replaced by hand (not written into) between steps is what the next
    step uses, as per tensor: the flat group lays its state out again (ParamState)."""
    params, twins = _twin_params(rng)
    opt, ref = Adam(params, lr=0.1), _per_tensor(Adam, twins, lr=0.1)
    for k in range(5):
        grads = _grads(rng)
        if k == 2:
            for o, ps in ((opt, params), (ref, twins)):
                new = {"exp_avg": np.full(SHAPES[1], 0.25, np.float32)}
                st = o.state[ps[1]]
                if how == "setitem":
                    st["exp_avg"] = new["exp_avg"]
                elif how == "update":
                    st.update(new)
                else:
                    st |= new
        _step(opt, params, grads)
        _step(ref, twins, grads)
        _assert_same(params, opt, twins, ref)


def test_a_flat_parameter_state_copies_and_pickles_as_a_plain_dict(rng):
    import copy
    import pickle

    params, _ = _twin_params(rng)
    opt = Adam(params, lr=0.1)
    _step(opt, params, _grads(rng))
    st = opt.state[params[0]]
    assert isinstance(st, dict)
    for clone in (copy.deepcopy(st), pickle.loads(pickle.dumps(st))):
        assert type(clone) is dict and clone.keys() == st.keys()
        np.testing.assert_array_equal(clone["exp_avg"], st["exp_avg"])
        clone["exp_avg"][...] = 7.0  # its own memory
    assert not (st["exp_avg"] == 7.0).any()
    assert all(type(v) is dict for v in opt.state_dict()["state"].values())
