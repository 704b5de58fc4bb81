"""Gradients at edge points, as torch defines them (torch/csrc/autograd/FunctionsManual.cpp):
where the textbook formula is 0 * inf, torch takes a limit or a subgradient, and so does
minigrad. Expected values are closed forms, never minigrad's own output."""

import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import gradcheck, gradgradcheck
from tests.conftest import to_numpy


def _grad(fn, values, device="cpu"):
    x = mg.tensor(values, requires_grad=True, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's 1/0 notes, as torch's silence
        fn(x).sum().backward()
    return to_numpy(x.grad)


def test_pow_zero_has_zero_gradient_everywhere(device):
    # torch pow_backward: exponent == 0 -> zeros (x^0 is the constant 1), not 0 * 0^-1 = nan
    np.testing.assert_array_equal(_grad(lambda x: x**0, [0.0, 1.5, -2.0], device), [0, 0, 0])
    np.testing.assert_array_equal(_grad(lambda x: x**0.0, [0.0], device), [0])


def test_pow_tensor_exponent_edges_follow_torch(device):
    # pow_backward_self: where(y == 0, 0, y x^(y-1));
    # pow_backward_exponent: where(x == 0 & y >= 0, 0, x^y ln x)
    x = mg.tensor([0.0, 0.0, -2.0, 0.0, 2.0], requires_grad=True, device=device)
    y = mg.tensor([0.0, 2.0, 3.0, 0.5, 0.0], requires_grad=True, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        (x**y).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [0.0, 0.0, 12.0, np.inf, 0.0])
    gy = to_numpy(y.grad)
    np.testing.assert_array_equal(gy[[0, 1, 3]], [0.0, 0.0, 0.0])
    assert np.isnan(gy[2])  # ln of a negative base: not real, nan as in torch
    assert gy[4] == pytest.approx(np.log(2.0))


def test_pow_tensor_exponent_gradcheck_away_from_edges():
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.uniform(0.5, 2.0, (3, 2)), dtype=np.float64, requires_grad=True)
    y = mg.tensor(rng.uniform(-1.0, 2.0, (2,)), dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda a, b: a**b, (x, y))
    assert gradgradcheck(lambda a, b: a**b, (x, y))


def test_square_abs_and_sqrt_at_zero(device):
    np.testing.assert_array_equal(_grad(lambda x: x**2, [0.0], device), [0.0])
    # torch: abs' = sgn(x), sgn(0) = 0
    np.testing.assert_array_equal(_grad(lambda x: x.abs(), [0.0, -3.0, 2.0], device),
                                  [0.0, -1.0, 1.0])
    # torch: sqrt' = 1 / (2 sqrt(x)) = inf at 0
    np.testing.assert_array_equal(_grad(lambda x: x.sqrt(), [0.0], device), [np.inf])


@pytest.mark.parametrize("correction", [0, 1])
def test_std_of_a_constant_has_zero_gradient(device, correction):
    # torch std_backward: (grad / (2 std)).masked_fill_(std == 0, 0), then var_backward
    np.testing.assert_array_equal(
        _grad(lambda x: x.std(correction=correction), [3.0, 3.0, 3.0], device), [0, 0, 0])
    g = _grad(lambda x: x.std(dim=1, correction=correction), [[2.0, 2.0], [1.0, 3.0]], device)
    n = 2 - correction
    np.testing.assert_allclose(g[1], np.array([-1.0, 1.0]) / (n * np.std([1, 3], ddof=correction)))
    np.testing.assert_array_equal(g[0], [0.0, 0.0])


def test_var_of_a_constant_has_zero_gradient(device):
    # torch var_backward: 2 / (n - correction) * grad * (x - mean) = 0 for a constant
    np.testing.assert_array_equal(_grad(lambda x: x.var(), [3.0, 3.0, 3.0], device), [0, 0, 0])


def test_std_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    x = mg.tensor(rng.standard_normal((3, 4)), dtype=np.float64, requires_grad=True)
    for fn in (lambda t: t.std(), lambda t: t.std(1), lambda t: t.std(0, keepdim=True,
                                                                      correction=0)):
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))


def test_std_double_backward_of_a_constant_is_finite():
    x = mg.tensor([1.0, 1.0, 1.0], dtype=np.float64, requires_grad=True)
    (g,) = mg.autograd.grad(x.std(), [x], create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), [0.0, 0.0, 0.0])
    g.sum().backward()
    assert np.all(np.isfinite(to_numpy(x.grad)))


def test_clip_passes_the_gradient_at_its_bounds(device):
    # torch clamp_backward: grad * ((x >= min) & (x <= max))
    g = _grad(lambda x: x.clip(-1.0, 1.0), [-1.0, 1.0, 0.0, -1.5, 1.5], device)
    np.testing.assert_array_equal(g, [1.0, 1.0, 1.0, 0.0, 0.0])


def test_max_with_ties_splits_the_gradient_evenly(device):
    # torch max() (all elements) and amax(dim): evenly_distribute / scale_grad_by_count
    np.testing.assert_allclose(_grad(lambda x: x.max(), [1.0, 3.0, 3.0, 3.0], device),
                               [0.0, 1 / 3, 1 / 3, 1 / 3])
    g = _grad(lambda x: x.amax(dim=1), [[2.0, 2.0, 1.0], [0.0, 5.0, 4.0]], device)
    np.testing.assert_allclose(g, [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])
    # torch max(dim) returns (values, indices) and sends the gradient to the returned index
    g = _grad(lambda x: x.max(dim=1).values, [[2.0, 2.0, 1.0], [0.0, 5.0, 4.0]], device)
    np.testing.assert_allclose(g, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    g = _grad(lambda x: x.min(), [4.0, 1.0, 1.0], device)
    np.testing.assert_allclose(g, [0.0, 0.5, 0.5])


def test_maximum_of_equal_inputs_splits_in_half(device):
    # torch maximum: where(x == y, grad / 2, grad).masked_fill_(x < y, 0)
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    y = mg.tensor([1.0, 1.0, 4.0], requires_grad=True, device=device)
    mg.maximum(x, y).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(to_numpy(y.grad), [0.5, 0.0, 1.0])


def test_norm_of_a_zero_vector_has_zero_subgradient(device):
    # torch norm_backward (p = 2): self * (grad / norm).masked_fill_(norm == 0, 0)
    np.testing.assert_array_equal(_grad(lambda x: x.norm(), [0.0, 0.0, 0.0], device), [0, 0, 0])
    # p = 1 and p = inf: sgn(self) * ..., so 0 at a zero vector as well
    np.testing.assert_array_equal(_grad(lambda x: x.norm(p=1), [0.0, 0.0], device), [0, 0])
    np.testing.assert_array_equal(_grad(lambda x: x.norm(p=float("inf")), [0.0, 0.0], device),
                                  [0, 0])


def test_norm_over_a_dim_masks_only_the_zero_rows(device):
    # row 0 is zero (subgradient 0); row 1 is (3, 4) with norm 5: x / ||x|| = (0.6, 0.8)
    g = _grad(lambda x: x.norm(dim=1), [[0.0, 0.0], [3.0, 4.0]], device)
    np.testing.assert_allclose(g, [[0.0, 0.0], [0.6, 0.8]], rtol=1e-6)


def test_relu_at_zero_has_zero_gradient(device):
    # torch threshold_backward: grad where x > 0, so 0 at x = 0
    np.testing.assert_array_equal(_grad(lambda x: x.relu(), [0.0, -1.0, 2.0], device),
                                  [0.0, 0.0, 1.0])


def test_fractional_power_at_zero_is_inf_as_torch(device):
    # torch pow_backward: p x^(p-1) = 0.5 * 0^-0.5 = inf
    np.testing.assert_array_equal(_grad(lambda x: x**0.5, [0.0, 4.0], device), [np.inf, 0.25])
