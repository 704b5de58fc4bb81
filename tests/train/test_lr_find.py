"""lr_find: state restored bit for bit, the divergence stop, suggestions on a problem whose good
range is known."""

import math

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.data import DataLoader, TensorDataset
from minigrad.optim import SGD, Adam
from minigrad.train import LRFinderResult, lr_find
from minigrad.train.lr_find import lr_schedule, suggest
from tests.conftest import to_numpy


def _classifier_setup(seed, device="cpu"):
    """A model with BatchNorm (buffers) and Dropout (random draws), Adam with state, and a
    shuffling loader, after two training steps."""
    minigrad.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = minigrad.tensor(rng.standard_normal((64, 6)).astype(np.float32), device=device)
    y = minigrad.tensor(rng.integers(0, 3, 64), device=device)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(16, 3)).to(device)
    opt = Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    loss_fn = nn.CrossEntropyLoss()
    _train(model, loss_fn, opt, loader, 2)
    return model, loss_fn, opt, loader


def _train(model, loss_fn, opt, loader, steps):
    done = 0
    while done < steps:
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
            done += 1
            if done == steps:
                return


def _everything(model, opt):
    arrays = [to_numpy(t.array).copy() for t in (*model.parameters(), *model.buffers())]
    grads = [None if p.grad is None else to_numpy(p.grad.array).copy()
             for p in model.parameters()]
    sd = opt.state_dict()
    state = [(i, k, to_numpy(v).copy()) for i, st in sorted(sd["state"].items())
             for k, v in sorted(st.items())]
    return arrays, grads, state, sd["param_groups"], minigrad.get_rng_state()


def _assert_same(a, b):
    arrays_a, grads_a, state_a, groups_a, rng_a = a
    arrays_b, grads_b, state_b, groups_b, rng_b = b
    for u, v in zip(arrays_a, arrays_b, strict=True):
        assert u.tobytes() == v.tobytes()
    for u, v in zip(grads_a, grads_b, strict=True):
        assert (u is None) == (v is None) and (u is None or u.tobytes() == v.tobytes())
    for (i, k, u), (j, m, v) in zip(state_a, state_b, strict=True):
        assert (i, k) == (j, m) and u.tobytes() == v.tobytes()
    assert groups_a == groups_b
    assert rng_a == rng_b


def test_state_restored_bit_for_bit(device):
    model, loss_fn, opt, loader = _classifier_setup(0, device)
    model.eval()  # lr_find trains in train mode; the eval flag must come back
    groups = opt.param_groups
    group0 = groups[0]
    before = _everything(model, opt)
    loader_state = loader.state_dict()
    result = lr_find(model, loss_fn, opt, loader, start_lr=1e-5, end_lr=10, num_iter=30)
    assert len(result.lrs) >= 5 and result.lrs[0] == pytest.approx(1e-5)
    _assert_same(before, _everything(model, opt))
    assert loader.state_dict() == loader_state
    assert not any(m.training for m in model.modules())
    assert opt.param_groups is groups and opt.param_groups[0] is group0  # schedulers hold them

    # and training goes on exactly as in a twin that never ran the test
    rng = minigrad.get_rng_state()
    twin, _, twin_opt, twin_loader = _classifier_setup(0, device)  # reseeds the shared generator
    assert minigrad.get_rng_state() == rng
    model.train()
    _train(model, loss_fn, opt, loader, 6)
    minigrad.set_rng_state(rng)  # the twin's run draws the same numbers
    _train(twin, loss_fn, twin_opt, twin_loader, 6)
    _assert_same(_everything(model, opt), _everything(twin, twin_opt))


def test_restored_when_the_model_raises():
    model, loss_fn, opt, loader = _classifier_setup(1)
    before = _everything(model, opt)
    calls = []

    def bad_loss(out, y):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return loss_fn(out, y)

    with pytest.raises(RuntimeError, match="boom"):
        lr_find(model, bad_loss, opt, loader, num_iter=10)
    _assert_same(before, _everything(model, opt))


def _least_squares(curvature=1.0, noise=0.1, n=64, d=4, seed=0, device="cpu"):
    """MSE linear regression with X^T X / n = c I: the loss's Hessian is 2 c I, so (full-batch)
    gradient descent converges for lr < 1 / c (fastest at 0.5 / c, in one step) and diverges
    for lr > 1 / c."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, d)))
    x = (q * math.sqrt(n * curvature)).astype(np.float32)
    w = rng.standard_normal((d, 1))
    y = (x @ w + noise * rng.standard_normal((n, 1))).astype(np.float32)
    minigrad.manual_seed(seed)
    model = nn.Linear(d, 1, bias=False).to(device)
    loader = DataLoader(TensorDataset(minigrad.tensor(x, device=device),
                                      minigrad.tensor(y, device=device)), batch_size=n)
    return model, nn.MSELoss(), SGD(model.parameters(), lr=0.1), loader


def test_divergence_stop_on_a_known_problem(device):
    model, loss_fn, opt, loader = _least_squares(device=device)
    result = lr_find(model, loss_fn, opt, loader, start_lr=1e-4, end_lr=100, num_iter=100)
    assert isinstance(result, LRFinderResult)
    assert result.diverged
    assert len(result.lrs) < 100
    # gradient descent is stable below lr = 1: the stop can only come after it
    assert result.lrs[-1] > 1
    assert result.losses[-1] > 5 * min(result.losses)
    assert all(s <= 5 * min(result.losses[: i + 1])
               for i, s in enumerate(result.losses[:-1]))
    # the smoothing rule, recomputed from the raw losses
    s = result.raw_losses[0]
    for raw, smoothed in zip(result.raw_losses[1:], result.losses[1:]):
        s = 0.05 * raw + 0.95 * s
        assert smoothed == pytest.approx(s, rel=1e-12)


@pytest.mark.parametrize("curvature", [100.0, 1.0, 0.1])
def test_suggestions_lie_in_the_known_good_range(curvature):
    """Gradient descent on this problem is stable for lr < 1 / c and best at 0.5 / c: both
    suggestions must lie in the stable range, within a factor 100 of its edge, and move with
    it as the curvature changes by 1000 times (the rates tried stay the same)."""
    model, loss_fn, opt, loader = _least_squares(curvature)
    result = lr_find(model, loss_fn, opt, loader, start_lr=1e-5, end_lr=1000, num_iter=100)
    edge = 1 / curvature
    assert result.diverged and result.lrs[-1] > edge
    assert 0.01 * edge < result.lr_steep < edge
    assert 0.01 * edge < result.lr_min < edge
    assert result.suggestions == {"steepest": result.lr_steep, "minimum/10": result.lr_min}


def test_non_finite_loss_stops():
    model, loss_fn, opt, loader = _least_squares()

    def nan_after_5(out, y, calls=[]):  # noqa: B006 - counts calls
        calls.append(1)
        loss = loss_fn(out, y)
        return loss * float("nan") if len(calls) > 5 else loss

    result = lr_find(model, nan_after_5, opt, loader, num_iter=50)
    assert result.diverged and len(result.lrs) == 5


def test_schedule_and_suggest_by_definition():
    np.testing.assert_allclose(lr_schedule(1e-3, 10, 5, "exp"),
                               [1e-3, 1e-2, 1e-1, 1, 10], rtol=1e-12)
    np.testing.assert_allclose(lr_schedule(1, 3, 5, "linear"), [1, 1.5, 2, 2.5, 3])
    lrs = [1e-3, 1e-2, 1e-1, 1, 10]
    steep, low = suggest(lrs, [5.0, 4.9, 3.0, 1.0, 8.0])
    # slopes against log(lr), in units of 1 / ln 10: -0.1 (one-sided), -1.0 and -1.95 (central
    # differences), then +2.5 at the minimum: the steepest fall is at lr 0.1
    assert steep == 1e-1
    assert low == pytest.approx(0.1)


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    model, loss_fn, opt, loader = _least_squares()
    result = lr_find(model, loss_fn, opt, loader, start_lr=1e-4, end_lr=100, num_iter=40)
    path = tmp_path / "lr.png"
    result.plot(path)
    assert path.stat().st_size > 0


@pytest.mark.parametrize("kwargs, match", [
    ({"start_lr": 0}, "start_lr"), ({"end_lr": 1e-9}, "end_lr must exceed"),
    ({"num_iter": 1}, "num_iter"), ({"step_mode": "cos"}, "step_mode"),
    ({"smooth": 1.0}, "smooth"), ({"diverge_th": 1}, "diverge_th"),
])
def test_bad_arguments(kwargs, match):
    model, loss_fn, opt, loader = _least_squares()
    before = model.weight.array.copy()
    with pytest.raises(ValueError, match=match):
        lr_find(model, loss_fn, opt, loader, **kwargs)
    assert model.weight.array.tobytes() == before.tobytes()


def test_groups_and_a_scheduler_are_untouched():
    """Each group's own rate comes back, and a scheduler built before the test goes on as if
    nothing happened (it holds the same group dicts)."""
    from minigrad.optim import lr_scheduler

    model, loss_fn, _, loader = _least_squares()
    extra = nn.Linear(4, 1, bias=False)
    opt = SGD([{"params": model.parameters(), "lr": 0.1},
               {"params": extra.parameters(), "lr": 0.01}], momentum=0.9)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    sched.step()
    lr_find(model, loss_fn, opt, loader, start_lr=1e-4, end_lr=100, num_iter=30)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.005]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.01]
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == [0.025, 0.0025]
