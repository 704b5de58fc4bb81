"""Diagnostics: per-layer statistics against hand-computed values on a one-layer model."""

import math

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.data import DataLoader, TensorDataset
from minigrad.optim import SGD, Adam
from minigrad.train import Diagnostics, fit, plot_diagnostics

W0 = np.array([[0.5, -0.2, 0.1, 0.3], [-0.4, 0.6, 0.2, -0.1], [0.2, 0.1, -0.3, 0.4]])
B0 = np.array([0.1, -100.0, 0.05])  # unit 1 can never fire: a dead ReLU


def _data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.standard_normal((n, 3))


def _one_layer(activation, device="cpu"):
    model = nn.Sequential(nn.Linear(4, 3), activation)
    model[0].weight.array[...] = W0
    model[0].bias.array[...] = B0
    return model.to(device)


def _fit(model, optimizer, x, y, epochs=1, batch=None, device="cpu", **kw):
    diag = Diagnostics(**kw)
    ds = TensorDataset(minigrad.tensor(x.astype(np.float32), device=device),
                       minigrad.tensor(y.astype(np.float32), device=device))
    loader = DataLoader(ds, batch_size=batch or len(x))
    history = fit(model, nn.MSELoss(), optimizer, loader, epochs=epochs, callbacks=[diag],
                  metrics=(), progress=False)
    return diag, history


def _hand_relu_grads(x, y):
    """Forward and backward of mean((relu(x W^T + b) - y)^2) by hand, in float64."""
    z = x @ W0.T + B0
    r = np.maximum(z, 0)
    d = 2 * (r - y) / r.size * (z > 0)
    return z, r, d.T @ x, d.sum(0)


def test_sgd_ratios_and_relu_stats_by_hand(device):
    x, y = _data()
    model = _one_layer(nn.ReLU(), device)
    lr = 0.1
    diag, history = _fit(model, SGD(model.parameters(), lr=lr), x, y, device=device)
    z, r, gw, gb = _hand_relu_grads(x, y)
    rec = {k: v[0] for k, v in diag.records.items()}
    for name, g, p in (("0.weight", gw, W0), ("0.bias", gb, B0)):
        assert rec[f"diag/{name}/grad_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-5)
        assert rec[f"diag/{name}/param_norm"] == pytest.approx(np.linalg.norm(p), rel=1e-6)
        # SGD's update is lr * g: ||lr g|| / ||p||
        assert rec[f"diag/{name}/update_ratio"] == pytest.approx(
            lr * np.linalg.norm(g) / np.linalg.norm(p), rel=1e-4)
    assert rec["diag/0/act_mean"] == pytest.approx(z.mean(), rel=1e-5)
    assert rec["diag/0/act_std"] == pytest.approx(z.std(), rel=1e-5)
    assert rec["diag/1/act_mean"] == pytest.approx(r.mean(), rel=1e-5)
    assert rec["diag/1/act_std"] == pytest.approx(r.std(), rel=1e-5)
    dead = np.mean([not (z[:, j] > 0).any() for j in range(3)])
    assert dead == pytest.approx(1 / 3)
    assert rec["diag/1/dead_frac"] == pytest.approx(dead)
    assert diag.records["step"] == [0] and diag.records["epoch"] == [1]
    # the History holds the same values, one per epoch
    assert history["diag/1/dead_frac"] == [pytest.approx(dead)]
    assert history["diag/0.weight/update_ratio"][0] == rec["diag/0.weight/update_ratio"]
    assert all("forward" not in m.__dict__ for m in model.modules())


def test_adam_first_step_ratio_by_hand(device):
    """Adam's first step is lr * g / (|g| + eps) elementwise (the bias corrections cancel):
    lr times the sign of g, so ||update|| = lr * sqrt(#nonzero g)."""
    x, y = _data()
    model = _one_layer(nn.ReLU(), device)
    lr = 1e-3
    diag, _ = _fit(model, Adam(model.parameters(), lr=lr, eps=1e-12), x, y, device=device)
    _, _, gw, gb = _hand_relu_grads(x, y)
    for name, g, p in (("0.weight", gw, W0), ("0.bias", gb, B0)):
        expected = lr * math.sqrt(np.count_nonzero(g)) / np.linalg.norm(p)
        assert diag.records[f"diag/{name}/update_ratio"][0] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("act, fn", [(nn.Tanh(), np.tanh),
                                     (nn.Sigmoid(), lambda z: 1 / (1 + np.exp(-z)))])
def test_saturation_by_hand(act, fn):
    x, y = _data(n=16, seed=1)
    x = 8 * x  # large inputs: many units saturate
    model = _one_layer(act)
    diag, _ = _fit(model, SGD(model.parameters(), lr=0.01), x, y, saturation=0.99)
    a = fn(x @ W0.T + B0)
    centred = a if act.__class__.__name__ == "Tanh" else 2 * a - 1
    expected = np.mean(np.abs(centred) > 0.99)
    assert 0 < expected < 1
    assert diag.records["diag/1/saturated_frac"][0] == pytest.approx(expected)
    assert "diag/1/dead_frac" not in diag.records


def test_every_k_steps_and_history_per_epoch():
    x, y = _data(n=32)
    model = _one_layer(nn.ReLU())
    before = {}

    class Spy(minigrad.train.Callback):  # the weights before each step, to check the ratio
        def on_batch_end(self, state, batch, loss):
            before[len(before)] = model[0].weight.array.astype(np.float64).copy()

    before[0] = W0.astype(np.float32).astype(np.float64)
    diag = Diagnostics(every=3)
    ds = TensorDataset(minigrad.tensor(x.astype(np.float32)),
                       minigrad.tensor(y.astype(np.float32)))
    history = fit(model, nn.MSELoss(), SGD(model.parameters(), lr=0.1),
                  DataLoader(ds, batch_size=8), epochs=2, callbacks=[diag, Spy()], metrics=(),
                  progress=False)
    assert diag.records["step"] == [0, 3, 6]
    assert diag.records["epoch"] == [1, 1, 2]
    for i, step in enumerate(diag.records["step"]):
        p0, p1 = before[step], before[step + 1]
        assert diag.records["diag/0.weight/update_ratio"][i] == pytest.approx(
            np.linalg.norm(p1 - p0) / np.linalg.norm(p0), rel=1e-4)
    # the History keeps each epoch's last measurement
    col = history["diag/0.weight/update_ratio"]
    assert col == [diag.records["diag/0.weight/update_ratio"][1],
                   diag.records["diag/0.weight/update_ratio"][2]]



def test_activations_measured_at_every_measured_step_of_a_fused_pair():
    """nn.Sequential runs Linear + ReLU as one node; a measured step still sees each module's
    own output (the wrapped forwards make it plan the two modules apart), and the steps in
    between run fused again."""
    x, y = _data(n=32)
    model = _one_layer(nn.ReLU())
    assert type(model(minigrad.tensor(x.astype(np.float32))).grad_fn).__name__ == "LinearReLU"
    diag, _ = _fit(model, SGD(model.parameters(), lr=0.1), x, y, epochs=2, batch=8, every=3)
    assert diag.records["step"] == [0, 3, 6]
    for key in ("diag/0/act_mean", "diag/1/act_mean", "diag/1/dead_frac"):
        assert len(diag.records[key]) == 3 and all(math.isfinite(v) for v in diag.records[key])
    assert diag.records["diag/1/dead_frac"][0] == pytest.approx(1 / 3)
    assert type(model(minigrad.tensor(x.astype(np.float32))).grad_fn).__name__ == "LinearReLU"

def test_plots(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = _data(n=32)
    model = _one_layer(nn.ReLU())
    diag, history = _fit(model, SGD(model.parameters(), lr=0.1), x, y, epochs=3, batch=8)
    diag.plot(tmp_path / "diag.png")
    assert (tmp_path / "diag.png").stat().st_size > 0
    history.plot(tmp_path / "curves.png")  # the diag columns do not become History panels
    assert (tmp_path / "curves.png").stat().st_size > 0
    fig = plot_diagnostics(history.history, tmp_path / "per_epoch.png", x="epoch")
    assert (tmp_path / "per_epoch.png").stat().st_size > 0
    assert len(fig.axes[0].lines[0].get_xdata()) == 3  # one point per epoch
    with pytest.raises(ValueError, match="saturated_frac"):
        diag.plot(stats=["saturated_frac"])


def test_bad_arguments():
    with pytest.raises(ValueError, match="every"):
        Diagnostics(every=0)
    with pytest.raises(ValueError, match="saturation"):
        Diagnostics(saturation=1.5)
