"""Layer modules: Linear, Identity, Flatten, BatchNorm1d/2d, LayerNorm (the kernels behind
them, embedding and dropout are tested in tests/ops/)."""

import copy
import math
import pickle

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.autograd import gradcheck
from tests.conftest import to_numpy
from tests.ops._check import f64

from ._ref import REF

# ---------------------------------------------------------------------------- Linear

def test_linear_mse_gradient_matches_hand_worked_example():
    """A worked example computed by hand: dL/dw = (-24.1878, -30.7642), dL/db = -38.7382."""
    lin = nn.Linear(2, 1)
    with mg.no_grad():
        lin.weight.copy_(mg.tensor([[0.5989, 0.361]]))
        lin.bias.copy_(mg.tensor([-0.3608]))
    x = mg.tensor([[0.69657858, 0.51114952], [0.859582, 0.56898564], [0.543156, 0.90834304]])
    y = mg.tensor([[7.0], [12.0], [40.0]])
    nn.MSELoss()(lin(x), y).backward()
    np.testing.assert_allclose(to_numpy(lin.weight.grad)[0], [-24.1878, -30.7642], atol=1e-4)
    np.testing.assert_allclose(to_numpy(lin.bias.grad), [-38.7382], atol=1e-4)


def test_linear_default_init_is_torch_uniform():
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = to_numpy(lin.weight), to_numpy(lin.bias)
    assert w.dtype == np.float32 and w.shape == (300, 400) and b.shape == (300,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-a, a): mean 0, std a / sqrt 3; 120,000 draws -> sampling sd of the std ~ 0.2%
    assert abs(w.mean()) < 5 * bound / math.sqrt(3) / math.sqrt(w.size)
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    assert np.abs(w).max() > 0.99 * bound


def test_linear_errors():
    lin = nn.Linear(784, 10)
    with pytest.raises(ValueError, match=r"Linear\(in_features=784\) got input of shape "
                                         r"\(32, 783\)"):
        lin(mg.zeros(32, 783))
    with pytest.raises(TypeError, match="dtype"):
        lin(mg.zeros(2, 784, dtype=mg.float64))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 3)
    lin.weight = nn.Parameter(mg.zeros(10, 5))  # a weight that no longer fits in_features
    with pytest.raises(ValueError, match=r"input of shape \(2, 784\) does not match weight "
                                         r"of shape \(10, 5\)"):
        lin(mg.zeros(2, 784))


def test_linear_layer_equals_functional_bit_for_bit():
    # the layer calls the op directly (Linear.forward); F.linear is the checked facade
    mg.manual_seed(0)
    lin, x = nn.Linear(7, 5), mg.randn(4, 7, requires_grad=True)
    for bias in (True, False):
        if not bias:
            lin.bias = None
        y, want = lin(x), nn.functional.linear(x, lin.weight, lin.bias)
        assert np.array_equal(to_numpy(y), to_numpy(want))
        y.sum().backward()
        g = to_numpy(x.grad)
        x.grad = None
        want.sum().backward()
        assert np.array_equal(g, to_numpy(x.grad))
        x.grad = None


def test_linear_seeded_init_repeatable():
    mg.manual_seed(3)
    a = nn.Linear(5, 4)
    mg.manual_seed(3)
    b = nn.Linear(5, 4)
    np.testing.assert_array_equal(to_numpy(a.weight), to_numpy(b.weight))


# ------------------------------------------------ Linear's weight stored column-major (issue 14)

def test_large_linear_weights_are_column_major_small_ones_row_major():
    """nn.linear.COLUMN_MAJOR_MIN_NUMEL (measured there): W1's first two layers column-major,
    its last and W3's row-major, as torch's; LazyLinear decides at its first call."""
    for (n_in, n_out), column_major in {(784, 256): True, (256, 128): True, (128, 128): True,
                                        (127, 128): False, (128, 10): False,
                                        (64, 64): False}.items():
        w = nn.Linear(n_in, n_out).weight.array
        assert w.shape == (n_out, n_in)
        assert (w.flags.f_contiguous, w.flags.c_contiguous) == (column_major, not column_major)
    for n_in, column_major in ((256, True), (8, False)):
        lazy = nn.LazyLinear(64)
        lazy(mg.zeros(2, n_in))
        assert lazy.weight.array.flags.f_contiguous == column_major


def test_linear_weight_is_column_major_with_torchs_shape_and_seeded_values(column_major_linear):
    """The weight is F-contiguous (its .T a C-contiguous (in, out) matrix) and holds exactly the
    values a C-ordered weight initialised from the same seed holds (init writes by index)."""
    mg.manual_seed(5)
    lin = nn.Linear(7, 4)
    w = lin.weight.array
    assert w.shape == (4, 7) and w.flags.f_contiguous and not w.flags.c_contiguous
    assert w.T.flags.c_contiguous and w.base is None  # it owns its memory
    mg.manual_seed(5)
    c_weight = mg.Parameter(np.zeros((4, 7), np.float32))
    nn.init.kaiming_uniform_(c_weight, a=math.sqrt(5))
    np.testing.assert_array_equal(w, c_weight.array)
    assert lin.weight.is_contiguous() is False  # the honest answer: docs/from_pytorch.md
    c = lin.weight.contiguous()  # torch's rule: a C-contiguous copy, in the graph
    assert c.is_contiguous() and c.requires_grad and c.array.base is None
    np.testing.assert_array_equal(c.array, w)
    assert lin.bias.contiguous() is lin.bias
    assert list(lin.state_dict()) == ["weight", "bias"]


def test_linear_weight_gradient_has_the_weights_layout_and_value(rng, column_major_linear,
                                                                 device):
    """dW = g^T x, computed as (x^T g)^T: F-contiguous like the weight (kept by the engine
    with no copy), the same numbers as the closed form; dx = g W."""
    lin = nn.Linear(6, 3, device=device)
    assert lin.weight.array.flags.f_contiguous and not lin.weight.array.flags.c_contiguous
    x_np = rng.normal(size=(5, 6)).astype(np.float32)
    x = mg.tensor(x_np, device=device, requires_grad=True)
    g = rng.normal(size=(5, 3)).astype(np.float32)
    (lin(x) * mg.tensor(g, device=device)).sum().backward()
    gw = lin.weight.grad.array
    assert gw.flags.f_contiguous and not gw.flags.c_contiguous
    w = to_numpy(lin.weight)
    np.testing.assert_allclose(to_numpy(gw), g.T @ x_np, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(to_numpy(x.grad), g @ w, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(to_numpy(lin.bias.grad), g.sum(0), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layout", ["F", "C"])
@pytest.mark.parametrize("x_shape", [(4, 5), (2, 3, 5)])
def test_linear_gradcheck_with_column_major_and_row_major_weights(layout, x_shape, rng):
    order = {"F": np.asfortranarray, "C": np.ascontiguousarray}[layout]
    w = mg.Parameter(order(rng.normal(size=(3, 5))), dtype=mg.float64)
    assert w.array.flags.f_contiguous == (layout == "F")
    b = mg.Parameter(rng.normal(size=3), dtype=mg.float64)
    x = mg.tensor(rng.normal(size=x_shape), dtype=mg.float64, requires_grad=True)
    assert gradcheck(lambda x_, w_, b_: nn.functional.linear(x_, w_, b_), [x, w, b])
    if layout == "C":  # a C weight keeps getting a C gradient
        nn.functional.linear(x, w, b).sum().backward()
        assert w.grad.array.flags.c_contiguous


def test_lazy_linear_weight_is_column_major_after_its_first_call(column_major_linear):
    lazy = nn.LazyLinear(3)
    lazy(mg.zeros(2, 5))
    assert lazy.weight.shape == (3, 5) and lazy.weight.array.flags.f_contiguous
    assert not lazy.weight.array.flags.c_contiguous


def test_a_row_major_state_dict_loads_into_the_column_major_weight(rng, column_major_linear):
    """A state dict saved before weights were stored column-major (C-ordered arrays) loads
    with every value in place: the weight keeps its array and its layout."""
    lin = nn.Linear(5, 4)
    array = lin.weight.array
    old = {"weight": np.ascontiguousarray(rng.normal(size=(4, 5)).astype(np.float32)),
           "bias": rng.normal(size=4).astype(np.float32)}
    lin.load_state_dict(old)
    assert lin.weight.array is array and array.flags.f_contiguous
    np.testing.assert_array_equal(lin.weight.array, old["weight"])
    np.testing.assert_array_equal(lin.bias.array, old["bias"])
    with mg.no_grad():
        lin.weight.copy_(mg.tensor(old["weight"][::-1].copy()))
    assert lin.weight.array is array
    np.testing.assert_array_equal(array, old["weight"][::-1])


def test_casts_and_checkpoints_keep_the_weights_values_and_layout(tmp_path, column_major_linear):
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    values = {k: v.array.copy() for k, v in model.state_dict().items()}
    model.double()
    assert model[0].weight.array.dtype == np.float64 and model[0].weight.array.flags.f_contiguous
    model.float()
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.array, values[k])
    assert model[0].weight.array.flags.f_contiguous
    mg.save(model.state_dict(), tmp_path / "sd.npz")
    fresh = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh.load_state_dict(mg.load(tmp_path / "sd.npz"))
    for k, v in fresh.state_dict().items():
        np.testing.assert_array_equal(v.array, values[k])
    assert fresh[2].weight.array.flags.f_contiguous


def test_a_training_checkpoint_resumes_bit_identically(tmp_path, rng, column_major_linear):
    """Adam over column-major weights (laid out flat with their layout), saved midway with
    save_checkpoint and resumed in a fresh model: the same parameters as the run that went on."""
    from minigrad.train import load_checkpoint, save_checkpoint

    def make():
        mg.manual_seed(11)
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
        return model, mg.optim.Adam(model.parameters(), lr=1e-2)

    data = [(mg.tensor(rng.normal(size=(4, 6)).astype(np.float32)),
             mg.tensor(rng.integers(0, 3, size=4))) for _ in range(5)]

    def train(model, opt, batches):
        for x, y in batches:
            opt.zero_grad()
            nn.CrossEntropyLoss()(model(x), y).backward()
            opt.step()

    model, opt = make()
    train(model, opt, data[:3])
    save_checkpoint(tmp_path / "ck.npz", model=model, optimizer=opt)
    train(model, opt, data[3:])
    resumed, opt2 = make()
    load_checkpoint(tmp_path / "ck.npz", model=resumed, optimizer=opt2)
    train(resumed, opt2, data[3:])
    for p, q in zip(model.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p.array, q.array)
    assert resumed[0].weight.array.flags.f_contiguous



# ------------------------------------------------------------------ Linear + ReLU as one node

def _mlp(device="cpu"):
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 5, device=device), nn.ReLU(), nn.Linear(5, 4, device=device),
                         nn.ReLU(), nn.Linear(4, 3, device=device), nn.ReLU())


def _one_by_one(model, x):
    """The modules called one at a time: Linear and ReLU as two nodes."""
    for m in model:
        x = m(x)
    return x


@pytest.mark.parametrize("layout", ["row-major", "column-major"])
def test_sequential_linear_relu_node_is_bit_identical_to_two_nodes(layout, rng, device,
                                                                    monkeypatch):
    """nn.Sequential runs each Linear + ReLU pair as one LinearReLU node: the same output
    and the same gradients, bit for bit, as the two modules called one by one."""
    if layout == "column-major":
        monkeypatch.setattr(nn.linear, "COLUMN_MAJOR_MIN_NUMEL", 0)
    model = _mlp(device)
    x_np = rng.normal(size=(7, 6)).astype(np.float32)
    x_np[0, :] = 0.0  # rows of exact zeros before a ReLU too
    g = mg.tensor(rng.normal(size=(7, 3)).astype(np.float32), device=device)
    results = []
    for run in (model, lambda x_: _one_by_one(model, x_)):
        x = mg.tensor(x_np, device=device, requires_grad=True)
        out = run(x)
        (out * g).sum().backward()
        results.append([to_numpy(out), to_numpy(x.grad)]
                       + [to_numpy(p.grad) for p in model.parameters()])
        model.zero_grad()
    assert type(model(x).grad_fn).__name__ == "LinearReLU"
    for fused, plain in zip(*results):
        np.testing.assert_array_equal(fused, plain)
    assert (results[0][0] == 0).any() and (results[0][0] > 0).any()  # the mask matters


@pytest.mark.parametrize("x_shape", [(4, 5), (2, 3, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_relu_op_gradcheck_and_double_backward(bias, x_shape, rng):
    lin = nn.Linear(5, 3, bias=bias, dtype=mg.float64)
    x = f64(rng.normal(size=x_shape))
    params = [x, lin.weight] + ([lin.bias] if bias else [])
    assert gradcheck(lambda *_: lin.forward_relu(x), params)
    # second order through the fused node: d/dx of sum((dL/dx)^2) equals the two nodes'
    gx_pairs = []
    for f in (lin.forward_relu, lambda x_: nn.functional.relu(lin(x_))):
        (gx,) = mg.autograd.grad((f(x) ** 2).sum(), [x], create_graph=True)
        (ggx,) = mg.autograd.grad((gx ** 2).sum(), [x])
        gx_pairs.append((to_numpy(gx), to_numpy(ggx)))
    for fused, plain in zip(*gx_pairs):
        np.testing.assert_array_equal(fused, plain)


class _Shifted(nn.Linear):
    def forward(self, input):
        return super().forward(input) + 1.0


def test_sequential_plans_again_when_its_modules_or_forwards_change(rng):
    x = mg.tensor(rng.normal(size=(3, 6)).astype(np.float32))
    model = _mlp()
    assert type(model(x).grad_fn).__name__ == "LinearReLU"
    model[5] = nn.Tanh()  # the last pair is no longer Linear + ReLU
    out = model(x)
    assert type(out.grad_fn).__name__ == "Tanh"
    np.testing.assert_array_equal(to_numpy(out), to_numpy(_one_by_one(model, x)))
    doubled = nn.ReLU()
    model[5] = doubled
    model(x)
    doubled.forward = lambda t: 2 * nn.functional.relu(t)  # patched on the instance: honoured
    out = model(x)
    np.testing.assert_array_equal(to_numpy(out), 2 * np.maximum(to_numpy(model[:5](x)), 0))
    del doubled.forward
    assert type(model(x).grad_fn).__name__ == "LinearReLU"
    doubled.__dict__["forward"] = lambda t: 3 * nn.functional.relu(t)  # written directly
    np.testing.assert_array_equal(to_numpy(model(x)), 3 * np.maximum(to_numpy(model[:5](x)), 0))
    del doubled.__dict__["forward"]
    original = nn.ReLU.forward  # the class's forward replaced: honoured too
    try:
        nn.ReLU.forward = lambda self, t: nn.functional.relu(t) + 1.0
        assert type(model(x).grad_fn).__name__ == "Add"
    finally:
        nn.ReLU.forward = original
    assert type(model(x).grad_fn).__name__ == "LinearReLU"
    model[4] = _Shifted(4, 3)  # a Linear with a forward of its own is never fused
    np.testing.assert_array_equal(to_numpy(model(x)), to_numpy(_one_by_one(model, x)))
    assert type(model(x).grad_fn).__name__ == "ReLU"



def test_an_inplace_relu_after_a_linear_trains_in_a_sequential(rng):
    """torch's ``nn.ReLU(inplace=True)`` after a Linear overwrites the Linear's output, which
    nothing else sees: in a Sequential it is the fused node (alone, on a tensor that
    requires grad, minigrad refuses it: it records out-of-place ops only)."""
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(inplace=True))
    x = mg.tensor(rng.normal(size=(5, 4)).astype(np.float32))
    out = model(x)
    out.sum().backward()
    with mg.no_grad():
        expected = np.maximum(to_numpy(model[0](x)), 0)
    np.testing.assert_array_equal(to_numpy(out), expected)
    np.testing.assert_array_equal(to_numpy(model[0].bias.grad), (expected > 0).sum(0))
    with pytest.raises(RuntimeError, match="inplace=True"):
        model[1](model[0](x))

def test_a_pickled_or_copied_sequential_runs_its_own_modules(rng):
    x = mg.tensor(rng.normal(size=(3, 6)).astype(np.float32))
    model = _mlp()
    model(x)  # planned
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        with mg.no_grad():
            for p in clone.parameters():
                p.mul_(2.0)
        np.testing.assert_array_equal(to_numpy(clone(x)), to_numpy(_one_by_one(clone, x)))
        assert not np.array_equal(to_numpy(clone(x)), to_numpy(model(x)))


def test_identity_flatten_unflatten(rng):
    x = f64(rng.standard_normal((2, 3, 4)))
    assert nn.Identity(5, k=1)(x) is x
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0)(x).shape == (24,)
    assert nn.Flatten(1, 1)(x).shape == (2, 3, 4)
    assert nn.Unflatten(1, (3, 1))(x).shape == (2, 3, 1, 4)
    assert gradcheck(lambda t: nn.Flatten()(t) * 2, [x])


# ---------------------------------------------------------------------------- BatchNorm

def _np_bn_reference(xs, momentum, axes, eps=1e-5):
    """Plain-NumPy transcription of torch's documented running-statistics update."""
    c = xs[0].shape[1]
    rm, rv = np.zeros(c), np.ones(c)
    out = []
    for k, x in enumerate(xs, start=1):
        m = x.size // c
        mean = x.mean(axis=axes)
        var_biased = x.var(axis=axes)
        f = 1.0 / k if momentum is None else momentum
        rm = (1 - f) * rm + f * mean
        rv = (1 - f) * rv + f * var_biased * m / (m - 1)
        out.append((rm.copy(), rv.copy()))
    return out


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("shape,cls", [((6, 3), nn.BatchNorm1d), ((4, 3, 5), nn.BatchNorm1d),
                                       ((2, 3, 4, 2), nn.BatchNorm2d)])
def test_batchnorm_running_stats_over_steps(momentum, shape, cls, rng, device):
    axes = (0,) + tuple(range(2, len(shape)))
    xs = [rng.standard_normal(shape) * (k + 1) + k for k in range(4)]
    bn = cls(3, momentum=momentum).double().to(device)
    for k, (x, (rm, rv)) in enumerate(zip(xs, _np_bn_reference(xs, momentum, axes))):
        y = bn(f64(x, device, grad=False))
        np.testing.assert_allclose(to_numpy(bn.running_mean), rm, rtol=1e-12)
        np.testing.assert_allclose(to_numpy(bn.running_var), rv, rtol=1e-12)
        assert int(to_numpy(bn.num_batches_tracked)) == k + 1
        # training output uses the batch's biased variance
        mean = x.mean(axis=axes, keepdims=True)
        want = (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
        np.testing.assert_allclose(to_numpy(y), want, rtol=1e-10, atol=1e-12)
    bn.eval()
    x = xs[0]
    pshape = (1, 3) + (1,) * (len(shape) - 2)
    want = (x - rm.reshape(pshape)) / np.sqrt(rv.reshape(pshape) + 1e-5)
    np.testing.assert_allclose(to_numpy(bn(f64(x, device, grad=False))), want, rtol=1e-10)
    assert int(to_numpy(bn.num_batches_tracked)) == 4  # eval does not count


def test_batchnorm2d_matches_torch_over_steps():
    bn = nn.BatchNorm2d(3, momentum=0.3).double()
    bn.load_state_dict({**bn.state_dict(), "weight": REF["bn2d/weight"],
                        "bias": REF["bn2d/bias"]})
    for step in range(5):
        x = f64(REF["bn2d/x"][step])
        y = bn(x)
        np.testing.assert_allclose(to_numpy(y), REF[f"bn2d/y{step}"], rtol=1e-10, atol=1e-12)
        y.backward(mg.tensor(REF[f"bn2d/w{step}"], dtype=mg.float64))
        np.testing.assert_allclose(to_numpy(x.grad), REF[f"bn2d/dx{step}"], rtol=1e-9,
                                   atol=1e-12)
        np.testing.assert_allclose(to_numpy(bn.running_mean), REF[f"bn2d/running_mean{step}"],
                                   rtol=1e-12)
        np.testing.assert_allclose(to_numpy(bn.running_var), REF[f"bn2d/running_var{step}"],
                                   rtol=1e-12)
    bn.eval()
    np.testing.assert_allclose(to_numpy(bn(f64(REF["bn2d/x"][0], grad=False))),
                               REF["bn2d/eval_y"], rtol=1e-10, atol=1e-12)


def test_batchnorm_without_affine_or_tracking(rng):
    x = f64(rng.standard_normal((6, 4)))
    bn = nn.BatchNorm1d(4, affine=False, track_running_stats=False).double()
    assert list(bn.parameters()) == [] and list(bn.state_dict()) == []
    bn.eval()  # no running stats: batch statistics even in eval
    want = (to_numpy(x) - to_numpy(x).mean(0)) / np.sqrt(to_numpy(x).var(0) + 1e-5)
    np.testing.assert_allclose(to_numpy(bn(x)), want, rtol=1e-10)
    assert gradcheck(bn, [x])


def test_batchnorm_one_value_per_channel_is_an_error():
    bn = nn.BatchNorm1d(3)
    before = to_numpy(bn.running_mean).copy()
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        bn(mg.randn(1, 3))
    np.testing.assert_array_equal(to_numpy(bn.running_mean), before)
    assert int(to_numpy(bn.num_batches_tracked)) == 0
    bn.eval()
    assert bn(mg.randn(1, 3)).shape == (1, 3)  # eval uses running stats: fine


def test_batchnorm_shape_errors():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(num_features=3\).*got shape \(4, 5\)"):
        nn.BatchNorm1d(3)(mg.randn(4, 5))
    with pytest.raises(ValueError, match="4-D"):
        nn.BatchNorm2d(3)(mg.randn(4, 3))


def test_batchnorm_float32_stays_float32(rng):
    bn = nn.BatchNorm1d(4)
    x = mg.tensor(rng.standard_normal((8, 4)).astype(np.float32), requires_grad=True)
    y = bn(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == bn.running_var.dtype == np.float32


# ---------------------------------------------------------------------------- LayerNorm
