"""Every GPU-specific line, reached by a test that runs on CUDA when a GPU is present.

Tests take the ``device`` fixture (they run on the CPU and, with a GPU, on CUDA: the CPU run
checks the test itself) or are marked ``cuda`` / ``two_gpus`` (GPU only; they skip here with a
reason). The GPU-only checks compare CUDA against the CPU, which the rest of the suite checks
against finite differences and closed forms.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend, nn
from minigrad.data import (
    DataLoader,
    RandomSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
)
from minigrad.nn import functional as F
from minigrad.ops import indexing
from minigrad.train import EarlyStopping, load_checkpoint, save_checkpoint
from tests.conftest import CUDA, to_numpy

cuda = pytest.mark.skipif(not CUDA, reason="CUDA device not available (needs CuPy and a GPU)")
two_gpus = pytest.mark.skipif(
    not CUDA or backend._device_count() < 2, reason="needs two usable GPUs (cuda:1)")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cupy():
    return backend._import_cupy()


# ----------------------------------------------------------------------------- 1. host values


@pytest.mark.parametrize("value", [
    np.arange(6, dtype=np.float64).reshape(2, 3),
    [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]],
    "cpu_tensor",
])
def test_setitem_with_host_values(device, value):
    t = mg.zeros(2, 3, device=device)
    if isinstance(value, str):
        value = mg.tensor(np.arange(6.0).reshape(2, 3))
    t[...] = value
    assert t.device == device
    np.testing.assert_array_equal(to_numpy(t), np.arange(6.0).reshape(2, 3))
    t[1] = np.array([7.0, 8.0, 9.0])
    t[0, 1:] = mg.tensor([5.0, 6.0])
    t[np.array([0, 1]), np.array([0, 0])] = np.array([-1.0, -2.0])
    assert to_numpy(t).tolist() == [[-1, 5, 6], [-2, 8, 9]]


def test_inplace_methods_with_host_values(device):
    t = mg.ones(2, 2, device=device)
    t.add_(np.full((2, 2), 2.0))
    t.mul_(mg.tensor([1.0, 10.0]))
    t.sub_(np.ones(2), alpha=0.5)
    t.div_(mg.tensor(2.0))
    assert to_numpy(t).tolist() == [[1.25, 14.75], [1.25, 14.75]]
    t.fill_(np.float32(3.0))
    assert to_numpy(t).tolist() == [[3, 3], [3, 3]]
    t.fill_(mg.tensor(4.0))
    t.copy_(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert to_numpy(t).tolist() == [[1, 2], [3, 4]]
    t.copy_(mg.tensor([9.0, 8.0]))  # broadcast
    assert to_numpy(t).tolist() == [[9, 8], [9, 8]]
    t += np.ones((2, 2))
    assert to_numpy(t).tolist() == [[10, 9], [10, 9]]
    b = mg.tensor([True, False], device=device)
    assert to_numpy(b & np.array([True, True])).tolist() == [True, False]
    assert t.device == device


def test_vector_to_parameters_from_a_cpu_vector(device):
    model = nn.Linear(3, 2).to(device)
    vec = mg.arange(8, dtype=mg.float32)  # on the CPU
    nn.utils.vector_to_parameters(vec, model.parameters())
    assert model.weight.device == device
    assert to_numpy(model.weight.detach()).ravel().tolist() == list(range(6))
    assert to_numpy(model.bias.detach()).tolist() == [6, 7]


# ----------------------------------------------------------------------------- 2. recognition


@cuda
def test_a_cupy_array_made_before_minigrad_imported_cupy():
    """In a fresh process: CuPy imported and used first, then minigrad, which has not
    imported CuPy itself, must take the array (it used to treat it as NumPy and raise)."""
    code = (
        "import cupy, sys\n"
        "a = cupy.arange(6, dtype=cupy.float32).reshape(3, 2)\n"
        "import minigrad\n"
        "assert minigrad.backend._cupy is None\n"
        "t = minigrad.tensor(a)\n"
        "assert t.device == 'cuda:0' and t.numpy().tolist() == a.get().tolist()\n"
        "ds = minigrad.data.TensorDataset(a)\n"
        "assert ds[1][0].device == 'cuda:0'\n"
        "assert minigrad.backend.device_of(a) == 'cuda:0'\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@cuda
def test_numpy_scalars_are_on_the_cpu_with_cupy_imported():
    _cupy()
    assert backend.device_of(np.float32(1.0)) == "cpu"
    assert backend.device_of(_cupy().ones(1)) == "cuda:0"


@cuda
def test_repr_and_numpy_of_cuda_tensors():
    t = mg.tensor([1.5, -2.0], device="cuda")
    assert repr(t) == "tensor([ 1.5, -2. ], device='cuda:0')"
    out = t.numpy()
    assert type(out) is np.ndarray and out.tolist() == [1.5, -2.0]
    assert np.asarray(t).tolist() == [1.5, -2.0]
    assert t.tolist() == [1.5, -2.0] and t[0].item() == 1.5


# ----------------------------------------------------------------------------- 3. float16


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_random_factories_and_inplace_draws_keep_the_dtype(device, dtype):
    for t in (mg.rand(64, dtype=dtype, device=device), mg.randn(64, dtype=dtype, device=device),
              mg.empty(64, dtype=dtype, device=device).normal_(1.0, 2.0),
              mg.empty(64, dtype=dtype, device=device).uniform_(-1.0, 1.0)):
        assert t.dtype == dtype and t.device == device


@pytest.mark.parametrize("init", ["normal_", "uniform_", "xavier_uniform_", "xavier_normal_",
                                  "kaiming_uniform_", "kaiming_normal_", "trunc_normal_",
                                  "lecun_normal_", "orthogonal_"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_init_functions_draw_in_the_parameters_dtype(device, init, dtype):
    w = mg.empty(16, 8, dtype=dtype, device=device)
    getattr(nn.init, init)(w)
    assert w.dtype == dtype and w.device == device
    assert np.isfinite(to_numpy(w)).all() and float(to_numpy(w).std()) > 0


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_dropout_keeps_the_dtype(device, dtype):
    x = mg.ones(1000, dtype=dtype, device=device, requires_grad=True)
    y = nn.Dropout(0.25)(x)
    assert y.dtype == dtype
    kept = to_numpy(y.detach()) != 0
    assert set(np.unique(to_numpy(y.detach()))) <= {0.0, dtype(1 / 0.75)}
    y.sum().backward()
    assert x.grad.dtype == dtype
    np.testing.assert_array_equal(to_numpy(x.grad) != 0, kept)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_keeps_the_dtype(device, dtype, approximate):
    x64 = np.linspace(-4, 4, 33)
    x = mg.tensor(x64, dtype=dtype, device=device, requires_grad=True)
    y = F.gelu(x, approximate=approximate)
    assert y.dtype == dtype
    y.sum().backward()
    assert x.grad.dtype == dtype
    ref = F.gelu(mg.tensor(x64, dtype=np.float64), approximate=approximate).numpy()
    tol = 2e-3 if dtype == np.float16 else 1e-6
    np.testing.assert_allclose(to_numpy(y.detach()).astype(np.float64), ref, atol=tol * 4,
                               rtol=tol)


_OPS = {
    "exp": lambda x: x.exp(), "log": lambda x: (x * x + 1).log(), "sqrt": lambda x: x.abs().sqrt(),
    "tanh": lambda x: x.tanh(), "sigmoid": lambda x: x.sigmoid(), "relu": lambda x: x.relu(),
    "softplus": lambda x: x.softplus(), "scalar_ops": lambda x: (2.5 * x - 1) / 3 + x ** 2,
    "sum": lambda x: x.sum(1), "mean": lambda x: x.mean(), "var": lambda x: x.var(0),
    "max": lambda x: x.max(1).values, "amax": lambda x: x.amax(1),
    "softmax": lambda x: x.softmax(-1),
    "log_softmax": lambda x: x.log_softmax(-1), "logsumexp": lambda x: x.logsumexp(1),
    "matmul": lambda x: x @ x.T, "silu": F.silu, "elu": F.elu, "gelu": F.gelu,
    "leaky_relu": F.leaky_relu,
    "layer_norm": lambda x: F.layer_norm(x, (4,)),
    "mse": lambda x: F.mse_loss(x, x * 0.5),
    "huber": lambda x: F.huber_loss(x, x * 0.5),
    "bce": lambda x: F.binary_cross_entropy(x.sigmoid(), (x > 0).astype(x.dtype)),
    "bce_logits": lambda x: F.binary_cross_entropy_with_logits(x, (x > 0).astype(x.dtype)),
    "cross_entropy": lambda x: F.cross_entropy(x, mg.tensor([0, 3, 1], device=x.device)),
    "index": lambda x: x[mg.tensor([2, 0, 2], device=x.device)],
}


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("name", sorted(_OPS))
def test_every_op_keeps_its_output_dtype(device, dtype, name, rng):
    x = mg.tensor(rng.standard_normal((3, 4)), dtype=dtype, device=device, requires_grad=True)
    y = _OPS[name](x)
    assert y.dtype == dtype and y.device == device
    y.sum().backward()
    assert x.grad.dtype == dtype and x.grad.device == device


# ----------------------------------------------------------------------------- 4. resume


def _dropout_run(device, steps, path=None, resume_from=None):
    """A small model with Dropout trained with Adam on ``device``; checkpoints after step 2
    (``path``) or starts from one (``resume_from``). Returns the weights after ``steps``."""
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 1))
    model.to(device)
    opt = mg.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((32, 4)), device=device)
    y = mg.tensor(rng.standard_normal((32, 1)), device=device)
    start = 0
    if resume_from is not None:
        start = load_checkpoint(resume_from, model=model, optimizer=opt)["epoch"]
    for step in range(start, steps):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
        if path is not None and step == 1:
            save_checkpoint(path, model=model, optimizer=opt, epoch=step + 1)
    return [to_numpy(p.detach()) for p in model.parameters()]


def test_resume_with_dropout_is_bit_exact(device, tmp_path):
    path = tmp_path / "ck.npz"
    whole = _dropout_run(device, 5, path=path)
    mg.manual_seed(1234)  # a different stream in between: the checkpoint must restore it
    mg.rand(10, device=device)
    resumed = _dropout_run(device, 5, resume_from=path)
    for a, b in zip(whole, resumed):
        np.testing.assert_array_equal(a, b)


@cuda
def test_cuda_rng_state_round_trip():
    mg.manual_seed(5)
    mg.rand(3, device="cuda")
    state = mg.get_rng_state()
    assert state["cuda_draws"] == {"0": 1}
    a = mg.rand(7, device="cuda").numpy()
    mg.set_rng_state(state)
    np.testing.assert_array_equal(mg.rand(7, device="cuda").numpy(), a)


# ----------------------------------------------------------------------------- 5. cuda:N


@two_gpus
def test_second_gpu_allocates_draws_and_computes_there():
    for t in (mg.zeros(3, device="cuda:1"), mg.ones(2, device="cuda:1"),
              mg.full((2,), 3.0, device="cuda:1"), mg.arange(4, device="cuda:1"),
              mg.eye(2, device="cuda:1"), mg.rand(3, device="cuda:1"),
              mg.randn(3, device="cuda:1"), mg.randint(0, 5, (3,), device="cuda:1"),
              mg.tensor([1.0, 2.0]).to("cuda:1"), mg.tensor(mg.ones(2, device="cuda:1"))):
        assert t.device == "cuda:1" and t.array.device.id == 1
    x = mg.randn(4, 3, device="cuda:1", requires_grad=True)
    model = nn.Linear(3, 2).to("cuda:1")
    opt = mg.optim.Adam(model.parameters())
    loss = F.cross_entropy(model(x), mg.tensor([0, 1, 1, 0], device="cuda:1"))
    loss.backward()
    opt.step()
    for p in model.parameters():
        assert p.array.device.id == 1 and p.grad.array.device.id == 1
        assert all(v.device.id == 1 for v in opt.state[p].values() if hasattr(v, "device"))
    assert F.one_hot(mg.tensor([0, 2], device="cuda:1")).array.device.id == 1


# ----------------------------------------------------------------------------- 6. bounds


def test_out_of_range_indices_raise_on_every_device(device):
    t = mg.zeros(3, 2, device=device)
    idx = mg.tensor([0, 3], device=device)
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        t[idx]
    with pytest.raises(IndexError, match="index -5 is out of bounds for axis 1"):
        t[:, mg.tensor([-5], device=device)] = 1.0
    with pytest.raises(IndexError, match="out of range"):
        F.embedding(mg.tensor([1, 9], device=device), mg.zeros(4, 2, device=device))
    with pytest.raises(ValueError, match=r"one_hot: class values must be in \[0, 3\)"):
        F.one_hot(mg.tensor([0, 3], device=device), 3)
    with pytest.raises(ValueError, match="class index 7 is out of range"):
        F.cross_entropy(mg.zeros(2, 3, device=device), mg.tensor([0, 7], device=device))
    assert to_numpy(t).sum() == 0


@cuda
def test_out_of_range_cupy_batch_indices_raise():
    ds = TensorDataset(mg.arange(10.0), device="cuda")
    loader = DataLoader(ds, batch_sampler=[_cupy().asarray([1, 12])])
    with pytest.raises(IndexError, match="sampler index 12 is out of range"):
        next(iter(loader))


# ----------------------------------------------------------------------------- 7. scatter-add


def test_repeated_index_backward_is_bit_identical_across_runs(device, rng):
    idx = rng.integers(0, 5, 20000)
    g = rng.standard_normal((20000, 8)).astype(np.float32)
    grads = []
    for _ in range(2):
        w = mg.zeros(5, 8, device=device, requires_grad=True)
        F.embedding(mg.tensor(idx, device=device), w).backward(mg.tensor(g, device=device))
        x = mg.zeros(5, 8, device=device, requires_grad=True)
        x[mg.tensor(idx, device=device)].backward(mg.tensor(g, device=device))
        grads.append((to_numpy(w.grad), to_numpy(x.grad)))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])
    # CUDA sums in the fixed order of sorted_scatter_add: the same code on NumPy gives the
    # same bits (elementwise float32 additions are correctly rounded on both)
    expected = indexing.sorted_scatter_add(np.zeros((5, 8), np.float32), idx, g)
    if device != "cpu":
        np.testing.assert_array_equal(grads[0][0], expected)
    np.testing.assert_allclose(grads[0][0], expected, rtol=1e-5, atol=1e-4)


def test_atomic_scatter_add_when_determinism_is_off(device, rng):
    idx = rng.integers(0, 5, 300)
    g = rng.integers(-4, 4, (300, 2)).astype(np.float32)  # integers: exact in any order
    mg.use_deterministic_algorithms(False)
    try:
        w = mg.zeros(5, 2, device=device, requires_grad=True)
        F.embedding(mg.tensor(idx, device=device), w).backward(mg.tensor(g, device=device))
    finally:
        mg.use_deterministic_algorithms(True)
    expected = np.zeros((5, 2), np.float32)
    np.add.at(expected, idx, g)
    np.testing.assert_array_equal(to_numpy(w.grad), expected)


# ----------------------------------------------------------------------------- 8. the rest


@cuda
def test_subset_random_sampler_and_collate_of_cupy_data():
    cp = _cupy()
    sampler = SubsetRandomSampler(cp.asarray([3, 5, 8]))
    assert sorted(sampler) == [3, 5, 8]
    batch = default_collate([cp.ones(2, dtype=cp.float64), cp.zeros(2, dtype=cp.float64)])
    assert batch.device == "cuda:0" and batch.dtype == np.float32 and batch.shape == (2, 2)
    pairs = default_collate([(cp.ones(3), 1), (cp.zeros(3), 0)])
    assert pairs[0].device == "cuda:0" and pairs[1].tolist() == [1, 0]
    ds = TensorDataset(cp.arange(12.0).reshape(6, 2), cp.arange(6))
    loader = DataLoader(ds, batch_size=4, sampler=RandomSampler(ds))
    xs = [xb for xb, _ in loader]
    assert all(xb.device == "cuda:0" for xb in xs) and sum(len(xb) for xb in xs) == 6
    sub = Subset(ds, cp.asarray([5, -6]))  # CuPy indices are kept on the host
    assert sub.indices.tolist() == [5, 0] and sub[0][1].item() == 5


@cuda
def test_seeds_of_2_64_raise_before_any_cuda_draw():
    with pytest.raises(ValueError, match=r"\[0, 2\*\*64\)"):
        mg.manual_seed(2**64)
    mg.manual_seed(2**64 - 1)
    assert mg.rand(3, device="cuda").device == "cuda:0"


@cuda
def test_cuda_is_available_means_kernels_and_draws_run():
    assert mg.cuda_is_available()
    u = mg.rand(1001, device="cuda")
    assert 0 <= float(u.min()) and float(u.max()) < 1


def test_binary_cross_entropy_losses_match_the_cpu(device, rng):
    p = rng.uniform(0.05, 0.95, (4, 3))
    y = rng.integers(0, 2, (4, 3)).astype(np.float64)
    w = rng.uniform(0.5, 2.0, (3,))
    for fn, arg in ((F.binary_cross_entropy, p), (F.binary_cross_entropy_with_logits, p - 0.5)):
        results = []
        for dev in ("cpu", device):
            x = mg.tensor(arg, dtype=np.float64, device=dev, requires_grad=True)
            loss = fn(x, mg.tensor(y, dtype=np.float64, device=dev),
                      weight=mg.tensor(w, dtype=np.float64))  # a CPU weight: moved
            loss.backward()
            results.append((loss.item(), to_numpy(x.grad)))
        assert results[0][0] == pytest.approx(results[1][0], rel=1e-12)
        np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)
    logits = mg.tensor(p, dtype=np.float64, device=device)
    pw = mg.tensor([1.0, 2.0, 3.0], dtype=np.float64)  # on the CPU: moved to the input's device
    cpu = F.binary_cross_entropy_with_logits(mg.tensor(p, dtype=np.float64), mg.tensor(y),
                                             pos_weight=pw)
    dev = F.binary_cross_entropy_with_logits(logits, mg.tensor(y, device=device), pos_weight=pw)
    assert dev.item() == pytest.approx(cpu.item(), rel=1e-12)


def test_layer_norm_and_one_hot_match_the_cpu(device, rng):
    x64 = rng.standard_normal((3, 5))
    got = F.layer_norm(mg.tensor(x64, dtype=np.float64, device=device), (5,))
    mean, var = x64.mean(1, keepdims=True), x64.var(1, keepdims=True)
    np.testing.assert_allclose(to_numpy(got), (x64 - mean) / np.sqrt(var + 1e-5), rtol=1e-10)
    oh = F.one_hot(mg.tensor([2, 0, 1], device=device))
    assert oh.device == device and oh.dtype == np.int64
    assert to_numpy(oh).tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]


def test_early_stopping_snapshots_stay_on_the_device(device):
    model = nn.Linear(2, 1).to(device)
    stopper = EarlyStopping(patience=1, restore_best_weights=True)
    stopper.step(1.0, model)
    best = to_numpy(model.weight.detach()).copy()
    with mg.no_grad():
        model.weight.add_(1.0)
    snap = stopper.best_weights["weight"]
    assert backend.device_of(snap) == device  # a copy on the model's device, not a view
    assert not np.array_equal(to_numpy(snap), to_numpy(model.weight.detach()))
    stopper.step(2.0, model)
    assert stopper.step(3.0, model)  # patience ran out: the best weights are back
    np.testing.assert_array_equal(to_numpy(model.weight.detach()), best)
    assert model.weight.device == device
    portable = stopper.state_dict()["best_weights"]["weight"]
    assert type(portable) is np.ndarray


def test_optimizer_state_dict_of_device_state(device, tmp_path):
    model = nn.Linear(3, 2).to(device)
    opt = mg.optim.Adam(model.parameters(), lr=0.1)
    x = mg.ones(4, 3, device=device)
    for _ in range(2):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    mg.save(opt.state_dict(), tmp_path / "opt.npz")
    loaded = mg.load(tmp_path / "opt.npz", map_location="cpu")
    clone = nn.Linear(3, 2).to(device)
    clone.load_state_dict(model.state_dict())
    opt2 = mg.optim.Adam(clone.parameters(), lr=0.1)
    opt2.load_state_dict(loaded)
    for p in clone.parameters():
        for v in opt2.state[p].values():
            if hasattr(v, "shape") and v.ndim:
                assert backend.device_of(v) == device
    for o, m in ((opt, model), (opt2, clone)):
        o.zero_grad()
        m(x).sum().backward()
        o.step()
    for a, b in zip(model.parameters(), clone.parameters()):
        np.testing.assert_array_equal(to_numpy(a.detach()), to_numpy(b.detach()))


class _Samples(mg.data.Dataset):
    """A map-style dataset of (array, label) samples on ``device`` (no batch fast path)."""

    def __init__(self, device):
        self.where = device

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return mg.full((3,), float(i), device=self.where).array, i


def test_collate_and_move_of_device_samples(device):
    batches = list(DataLoader(_Samples(device), batch_size=2))
    assert [b[0].device for b in batches] == [device] * 3
    assert to_numpy(batches[2][0]).tolist() == [[4.0, 4.0, 4.0]]
    moved = next(iter(DataLoader(_Samples(device), batch_size=5, device="cpu")))
    assert moved[0].device == "cpu" and moved[1].tolist() == [0, 1, 2, 3, 4]
    up = next(iter(DataLoader(_Samples("cpu"), batch_size=2, device=device)))
    assert up[0].device == device and up[1].device == device
