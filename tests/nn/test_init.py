"""Initializers: moments against their formulas within sampling tolerance, in place, dtype
and device kept, seeded, bad input."""

import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn import init
from tests.conftest import to_numpy

SHAPE = (400, 250, 3)  # fan_in = 750, fan_out = 1200, 300,000 draws
FAN_IN, FAN_OUT, N = 750, 1200, 300_000


def _moments_ok(t, mean, std):
    a = to_numpy(t).astype(np.float64)
    # sampling sd: of the mean std / sqrt(N); of the std about std / sqrt(2N)
    assert abs(a.mean() - mean) < 5 * std / math.sqrt(N) + 1e-12
    assert abs(a.std() - std) < 5 * std / math.sqrt(2 * N) + 1e-12


def test_calculate_gain_table():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("name,call,mean,std", [
    ("uniform", lambda t: init.uniform_(t, -2.0, 4.0), 1.0, 6 / math.sqrt(12)),
    ("normal", lambda t: init.normal_(t, 0.5, 2.0), 0.5, 2.0),
    ("xavier_uniform", lambda t: init.xavier_uniform_(t, gain=2.0), 0.0,
     2.0 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("xavier_normal", lambda t: init.xavier_normal_(t), 0.0, math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("kaiming_uniform", lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), 0.0,
     math.sqrt(2 / FAN_IN)),
    ("kaiming_uniform_fan_out", lambda t: init.kaiming_uniform_(t, a=0.3, mode="fan_out"), 0.0,
     math.sqrt(2 / 1.09 / FAN_OUT)),
    ("kaiming_normal", lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
     0.0, math.sqrt(2 / FAN_OUT)),
    ("kaiming_normal_tanh", lambda t: init.kaiming_normal_(t, nonlinearity="tanh"), 0.0,
     5 / 3 / math.sqrt(FAN_IN)),
    ("lecun_normal", init.lecun_normal_, 0.0, 1 / math.sqrt(FAN_IN)),
])
def test_initializer_moments(name, call, mean, std, device):
    t = mg.zeros(*SHAPE, device=device)
    out = call(t)
    assert out is t and t.dtype == np.float32 and t.device == device
    _moments_ok(t, mean, std)
    if "uniform" in name:  # support of U(-b, b): b = sqrt(3) std
        bound = mean + math.sqrt(3) * std
        assert to_numpy(t).max() <= bound * (1 + 1e-6)
        assert to_numpy(t).max() > bound * 0.999


def test_trunc_normal_moments_and_bounds(device):
    t = mg.zeros(N, device=device)
    init.trunc_normal_(t, mean=1.0, std=2.0, a=0.0, b=3.0)
    a = to_numpy(t).astype(np.float64)
    assert a.min() >= 0.0 and a.max() <= 3.0
    # truncated normal on standardised [alpha, beta] = [-0.5, 1]
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    al, be = -0.5, 1.0
    zmass = cdf(be) - cdf(al)
    m = (phi(al) - phi(be)) / zmass
    var = 1 + (al * phi(al) - be * phi(be)) / zmass - m * m
    _moments_ok(t, 1.0 + 2.0 * m, 2.0 * math.sqrt(var))


def test_orthogonal(device):
    for shape in [(30, 50), (50, 30), (8, 4, 3)]:
        t = mg.zeros(*shape, dtype=mg.float64, device=device)
        init.orthogonal_(t, gain=1.5)
        m = to_numpy(t).reshape(shape[0], -1)
        small = min(m.shape)
        gram = m @ m.T if m.shape[0] == small else m.T @ m
        np.testing.assert_allclose(gram, 2.25 * np.eye(small), atol=1e-12)
    t = mg.zeros(3, 3)
    init.orthogonal_(t)
    assert t.dtype == np.float32


def test_orthogonal_is_haar_sign_corrected():
    # without the sign correction the diagonal of Q has a biased sign; with it, the mean of
    # Q[0, 0] over many draws is ~0
    vals = []
    t = mg.zeros(4, 4, dtype=mg.float64)
    for _ in range(2000):
        init.orthogonal_(t)
        vals.append(to_numpy(t)[0, 0])
    assert abs(np.mean(vals)) < 0.05  # sd of Q00 is 1/2, sd of the mean ~ 0.011


def test_constants_and_in_place_under_grad():
    p = nn.Parameter(mg.zeros(3, 2))
    v = p._version
    init.constant_(p, 2.5)
    assert np.all(to_numpy(p) == 2.5) and p._version > v and p.requires_grad
    init.ones_(p)
    assert np.all(to_numpy(p) == 1)
    init.zeros_(p)
    assert np.all(to_numpy(p) == 0)
    init.eye_(p)
    np.testing.assert_array_equal(to_numpy(p), np.eye(3, 2))


def test_float64_tensors_keep_dtype():
    t = mg.zeros(10, 10, dtype=mg.float64)
    init.kaiming_normal_(t)
    assert t.dtype == np.float64


def test_initializers_are_seeded():
    a, b = mg.zeros(20, 20), mg.zeros(20, 20)
    mg.manual_seed(5)
    init.xavier_uniform_(a)
    init.trunc_normal_(a)
    mg.manual_seed(5)
    init.xavier_uniform_(b)
    init.trunc_normal_(b)
    np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def test_bad_inputs():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(mg.zeros(5))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(mg.zeros(3, 3), mode="fan_avg")
    with pytest.raises(TypeError, match="expected a Tensor"):
        init.normal_(np.zeros(3))
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(mg.zeros(3), a=2.0, b=1.0)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(mg.zeros(4))


@pytest.mark.parametrize("name", ["uniform_", "normal_", "constant_", "ones_", "zeros_", "eye_",
                                  "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                  "kaiming_normal_", "lecun_normal_", "trunc_normal_",
                                  "orthogonal_"])
def test_init_of_a_column_major_weight_writes_the_same_values_by_index(name):
    """nn.Linear's weight is stored F-contiguous: every initialiser writes by logical index,
    so from one seed it holds exactly what a C-ordered weight gets, and keeps its array."""
    fn = getattr(init, name)
    extra = (0.5,) if name == "constant_" else ()
    results = []
    for order in (np.ascontiguousarray, np.asfortranarray):
        mg.manual_seed(1)
        p = mg.Parameter(order(np.zeros((6, 9), np.float32)))
        array = p.array
        fn(p, *extra)
        assert p.array is array
        results.append(p.array)
    assert results[1].flags.f_contiguous
    np.testing.assert_array_equal(results[0], results[1])
