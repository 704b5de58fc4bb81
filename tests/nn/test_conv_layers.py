"""Conv and pooling layers compose with the rest of nn: Conv2d -> ReLU -> MaxPool2d ->
Flatten -> Linear builds, trains, saves and reloads; a Conv1d stack likewise."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import backend, optim
from tests.conftest import CUDA, to_numpy


def _lenet_like():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding="same"), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 2),
    )


def test_conv_relu_maxpool_flatten_linear_composes_and_learns(rng, device):
    """A bright blob in the left or the right half: 2 classes a ConvNet separates quickly."""
    mg.manual_seed(0)
    n = 64
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32) * 0.3
    for i in range(n):
        x[i, 0, 2:6, (1 if y[i] == 0 else 5):(3 if y[i] == 0 else 7)] += 2.0
    xt, yt = mg.tensor(x, device=device), mg.tensor(y, device=device)
    model = _lenet_like().to(device)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < 0.3 * losses[0]
    model.eval()
    acc = (to_numpy(model(xt)).argmax(1) == y).mean()
    assert acc > 0.95
    for p in model.parameters():
        assert p.dtype == mg.float32 and p.grad.dtype == mg.float32


def test_state_dict_round_trip_and_parameter_shapes():
    mg.manual_seed(0)
    a, b = _lenet_like(), _lenet_like()
    names = {k: tuple(v.shape) for k, v in a.state_dict().items()}
    assert names["0.weight"] == (4, 1, 3, 3) and names["0.bias"] == (4,)
    assert names["3.weight"] == (8, 4, 3, 3)
    b.load_state_dict(a.state_dict())
    a.eval()
    b.eval()
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 1, 8, 8)), dtype=mg.float32)
    np.testing.assert_array_equal(to_numpy(a(x)), to_numpy(b(x)))


def test_conv1d_stack_and_reprs():
    model = nn.Sequential(nn.Conv1d(1, 5, 5, stride=2, padding=1), nn.ReLU(),
                          nn.Conv1d(5, 5, 3, stride=2, padding=1, groups=5, bias=False),
                          nn.AvgPool1d(2), nn.Flatten(), nn.Linear(25, 3))
    y = model(mg.zeros((4, 1, 40)))
    assert y.shape == (4, 3)
    assert repr(model[0]) == "Conv1d(1, 5, kernel_size=(5,), stride=(2,), padding=(1,))"
    assert "groups=5, bias=False" in repr(model[2])
    assert repr(nn.Conv2d(2, 4, 3, padding="same")) == (
        "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding='same')")


def test_dtype_and_device_keywords(device):
    conv = nn.Conv2d(2, 3, 3, dtype=mg.float64, device=device)
    assert conv.weight.dtype == mg.float64 and conv.bias.dtype == mg.float64
    y = conv(mg.zeros((1, 2, 5, 5), dtype=mg.float64, device=device))
    assert y.dtype == mg.float64 and y.shape == (1, 3, 3, 3)


@pytest.mark.skipif(not CUDA or backend._device_count() < 2,
                    reason="needs two usable GPUs (cuda:1)")
def test_second_gpu_convnet_computes_there():
    """Every buffer the conv and pooling kernels allocate lives on the input's GPU."""
    model = _lenet_like().to("cuda:1")
    x = mg.randn(4, 1, 8, 8, device="cuda:1", requires_grad=True)
    y, idx = F.max_pool2d(model[0](x), 2, return_indices=True)
    F.cross_entropy(model(x), mg.tensor([0, 1, 1, 0], device="cuda:1")).backward()
    assert y.array.device.id == 1 and idx.array.device.id == 1
    assert x.grad.array.device.id == 1
    for p in model.parameters():
        assert p.grad.array.device.id == 1
    z = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
    w = F.adaptive_avg_pool2d(x, 3)
    assert z.array.device.id == 1 and w.array.device.id == 1
