"""Gradients written straight into the optimizer's flat gradient buffer.

``optimizer.zero_grad()`` offers each parameter of a group laid out flat its view of the
group's gradient buffer (``FlatGroup.offer_grad_homes``); ``nn.Linear``'s backward writes the
weight's and the bias's gradients there (``tensor.take_grad_home``), and the next step finds
them in place. A group laid out in part (large tensors) is laid out whole on trial and stays
so when every gradient came back in its view (``Optimizer._grad_homes``). None of it may
change a number: every test compares against the same training with the offers bypassed
(the gradients set to None by hand, as ``model.zero_grad()`` does), bit for bit.
"""

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.optim import SGD, Adam
from tests.conftest import to_numpy


def _mlp(sizes, seed=0, norm=None):
    minigrad.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            if norm is not None:
                layers.append(nn.BatchNorm1d(b) if norm == "batch" else nn.LayerNorm(b))
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _train(sizes, make_opt, offers, steps=6, norm=None, seed=0, between=None):
    model = _mlp(sizes, seed, norm)
    opt = make_opt(model.parameters())
    rng = np.random.default_rng(seed)
    for i in range(steps):
        x = minigrad.tensor(rng.normal(size=(8, sizes[0])).astype(np.float32))
        y = minigrad.tensor(rng.integers(0, sizes[-1], 8))
        if offers:
            opt.zero_grad()
        else:
            for p in model.parameters():
                p.grad = None
        nn.CrossEntropyLoss()(model(x), y).backward()
        if between is not None:
            between(i, model, opt)
        opt.step()
    return model, opt


def _same(run_a, run_b):
    (model_a, opt_a), (model_b, opt_b) = run_a, run_b
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_array_equal(to_numpy(pa), to_numpy(pb))
        np.testing.assert_array_equal(to_numpy(pa.grad), to_numpy(pb.grad))
        for key, value in opt_a.state[pa].items():
            if hasattr(value, "shape"):
                np.testing.assert_array_equal(to_numpy(value), to_numpy(opt_b.state[pb][key]))


@pytest.mark.parametrize("make_opt", [lambda p: Adam(p, lr=1e-2),
                                      lambda p: SGD(p, lr=0.1, momentum=0.9)])
def test_small_layers_gradients_land_in_the_buffer_bit_identically(make_opt):
    sizes = (12, 16, 16, 5)
    homes = _train(sizes, make_opt, offers=True)
    _same(homes, _train(sizes, make_opt, offers=False))
    model, opt = homes
    flat = opt._flat[0]
    assert flat.others == [] and flat.homes_taken
    for p, view in zip(model.parameters(), flat.grad_views):
        assert p.grad.array is view  # written there by Linear's backward, nothing copied


def test_column_major_weights_take_their_homes_too(column_major_linear):
    sizes = (12, 16, 5)
    homes = _train(sizes, lambda p: Adam(p, lr=1e-2), offers=True)
    _same(homes, _train(sizes, lambda p: Adam(p, lr=1e-2), offers=False))
    model, opt = homes
    weight = model[0].weight
    assert weight.array.flags.f_contiguous and not weight.array.flags.c_contiguous
    assert weight.grad.array is opt._flat[0].grad_views[0]


def test_a_group_with_large_weights_is_laid_out_whole_after_a_successful_trial():
    sizes = (300, 128, 10)  # the 300 x 128 weight is stepped per tensor at first
    homes = _train(sizes, lambda p: Adam(p, lr=1e-3), offers=True)
    _same(homes, _train(sizes, lambda p: Adam(p, lr=1e-3), offers=False))
    model, opt = homes
    assert opt._homes_tried and opt._flat[0].others == []
    assert all(np.shares_memory(p.array, opt._flat[0].param) for p in model.parameters())
    assert _train(sizes, lambda p: Adam(p, lr=1e-3), offers=False)[1]._flat[0].others == [0]


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_a_trial_keeps_the_whole_layout_only_when_every_gradient_took_its_home(norm):
    """BatchNorm's backward writes dgamma and dbeta into their homes: the group laid out
    whole on trial stays whole. LayerNorm's does not: the group goes back to its layout in
    part, for good. Either way the numbers are those without offers."""
    sizes = (400, 256, 10)  # the 400 x 256 weight is stepped per tensor at first
    make = lambda p: Adam(p, lr=1e-3)  # noqa: E731
    homes = _train(sizes, make, offers=True, norm=norm, steps=8)
    _same(homes, _train(sizes, make, offers=False, norm=norm, steps=8))
    opt = homes[1]
    assert opt._homes_tried and opt._homes_trial is None
    assert opt._flat[0].others == ([] if norm == "batch" else [0])
    if norm == "layer":  # stepped per tensor again, with a plain state dict
        assert type(opt.state[homes[0][0].weight]) is dict


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_a_flat_group_with_normalization_layers_is_exact(norm):
    """A group laid out whole from the start, with BatchNorm (its gradients take their
    homes) or LayerNorm (they do not: the gather copies them, and the homes written beside
    them, as before)."""
    sizes = (12, 16, 5)
    make = lambda p: Adam(p, lr=1e-2)  # noqa: E731
    homes = _train(sizes, make, offers=True, norm=norm, steps=8)
    _same(homes, _train(sizes, make, offers=False, norm=norm, steps=8))
    assert homes[1]._flat[0].homes_taken == (norm == "batch")


def test_a_weight_used_twice_gets_the_sum_of_its_gradients():
    minigrad.manual_seed(0)
    lin = nn.Linear(6, 6)
    other = nn.Linear(6, 2)
    opt = Adam(list(lin.parameters()) + list(other.parameters()), lr=1e-2)
    x = minigrad.tensor(np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32))
    ref_lin, ref_other = nn.Linear(6, 6), nn.Linear(6, 2)  # in no optimizer: no offers
    for _ in range(3):
        with minigrad.no_grad():
            for ref, p in zip((*ref_lin.parameters(), *ref_other.parameters()),
                              (*lin.parameters(), *other.parameters())):
                ref.copy_(p)
        opt.zero_grad()
        other(lin(lin(x))).sum().backward()  # lin's weight: two contributions
        ref_other(ref_lin(ref_lin(x))).sum().backward()  # the engine's own sum
        for p, ref in zip(lin.parameters(), ref_lin.parameters()):
            np.testing.assert_array_equal(to_numpy(p.grad), to_numpy(ref.grad))
            ref.grad = None
        opt.step()
    assert opt._flat[0].homes_taken is False  # (lin's two uses: its weight took one home)


def test_gradients_kept_from_an_earlier_step_keep_their_values():
    sizes = (12, 16, 5)
    kept = {}

    def keep(i, model, opt):
        if i == 3:
            w = model[0].weight.grad
            kept["tensor"], kept["slice"] = w, w[0]
            kept["values"] = to_numpy(w).copy()

    model, opt = _train(sizes, lambda p: Adam(p, lr=1e-2), offers=True, between=keep)
    np.testing.assert_array_equal(to_numpy(kept["tensor"]), kept["values"])
    np.testing.assert_array_equal(to_numpy(kept["slice"]), kept["values"][0])
    assert not np.array_equal(to_numpy(model[0].weight.grad), kept["values"])


def test_two_backwards_without_zero_grad_accumulate():
    minigrad.manual_seed(0)
    model = _mlp((6, 8, 3))
    opt = SGD(model.parameters(), lr=0.1)
    x = minigrad.tensor(np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32))
    opt.zero_grad()
    model(x).sum().backward()
    opt.step()
    opt.zero_grad()
    model(x).sum().backward()
    once = [to_numpy(p.grad).copy() for p in model.parameters()]
    model(x).sum().backward()
    for g, p in zip(once, model.parameters()):
        np.testing.assert_allclose(to_numpy(p.grad), 2 * g, rtol=1e-6)


def test_autograd_grad_with_homes_offered_returns_the_gradients():
    model, opt = _train((6, 8, 3), lambda p: Adam(p, lr=1e-2), offers=True, steps=2)
    x = minigrad.tensor(np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32))
    opt.zero_grad()
    params = list(model.parameters())
    grads = minigrad.autograd.grad(model(x).sum(), params)
    for p in params:
        p.grad = None
    model(x).sum().backward()
    for g, p in zip(grads, params):
        np.testing.assert_array_equal(to_numpy(g), to_numpy(p.grad))
