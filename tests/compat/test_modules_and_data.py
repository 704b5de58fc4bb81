"""Module dtype/device keywords, LazyLinear, DataLoader workers, TensorDataset slicing."""

import threading

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.data import DataLoader, Dataset, TensorDataset
from tests.conftest import to_numpy

# ----------------------------------------------------------------------------- modules


@pytest.mark.parametrize("make", [
    lambda **kw: nn.Linear(3, 2, **kw),
    lambda **kw: nn.BatchNorm1d(4, **kw),
    lambda **kw: nn.BatchNorm2d(4, **kw),
    lambda **kw: nn.LayerNorm((2, 3), **kw),
    lambda **kw: nn.Embedding(5, 3, **kw),
])
@pytest.mark.parametrize("dtype", [mg.float64, mg.float32])
def test_modules_create_parameters_and_buffers_in_the_given_dtype(make, dtype, device):
    m = make(dtype=dtype, device=device)
    tensors = list(m.parameters()) + [b for b in m.buffers() if b.dtype.kind == "f"]
    assert tensors and all(t.dtype == dtype and t.device == device for t in tensors)
    if isinstance(m, nn.Linear):
        x = mg.randn(4, 3, dtype=dtype, device=device)
        assert m(x).dtype == dtype


def test_modules_reject_integer_dtypes():
    with pytest.raises(TypeError, match="floating"):
        nn.Linear(2, 2, dtype=mg.int64)


def test_batchnorm_float64_statistics_match_numpy(rng):
    bn = nn.BatchNorm1d(3, dtype=mg.float64)
    a = rng.standard_normal((8, 3))
    y = bn(mg.tensor(a, dtype=mg.float64))
    want = (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-5)
    np.testing.assert_allclose(to_numpy(y), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_numpy(bn.running_var), 0.9 + 0.1 * a.var(0, ddof=1),
                               rtol=1e-12)


def test_lazy_linear_infers_in_features_at_the_first_call(rng):
    m = nn.LazyLinear(3, dtype=mg.float64)
    w, b = m.weight, m.bias
    assert w.numel() == 0 and "lazy" in repr(m)
    opt = mg.optim.SGD(m.parameters(), lr=0.1)  # made before the first call
    a = rng.standard_normal((5, 4))
    y = m(mg.tensor(a, dtype=mg.float64))
    assert type(m) is nn.Linear and m.in_features == 4
    assert m.weight is w and w.shape == (3, 4) and b.shape == (3,) and w.dtype == np.float64
    bound = 1 / np.sqrt(4)
    assert np.abs(to_numpy(w)).max() <= bound and np.abs(to_numpy(b)).max() <= bound
    np.testing.assert_allclose(to_numpy(y), a @ to_numpy(w).T + to_numpy(b), rtol=1e-12)
    y.sum().backward()
    before = to_numpy(w).copy()
    opt.step()  # the optimizer holds the materialised parameters
    # d sum(a W^T + b) / dW = ones(5, 3)^T a: every row is the column sums of a
    np.testing.assert_allclose(to_numpy(w), before - 0.1 * np.tile(a.sum(0), (3, 1)),
                               rtol=1e-12)
    m2 = nn.LazyLinear(2, bias=False)
    m2(mg.randn(1, 6))
    assert m2.bias is None and m2.weight.shape == (2, 6)


# ----------------------------------------------------------------------------- data


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return mg.tensor([float(i), float(i * i)]), i


def _batches(loader):
    return [tuple(to_numpy(t).copy() for t in b) for b in loader]


@pytest.mark.parametrize("dataset", [Squares(53), TensorDataset(np.arange(106.0).reshape(53, 2),
                                                                 np.arange(53))],
                         ids=["samples", "tensor-dataset"])
@pytest.mark.parametrize("kw", [{}, {"drop_last": True}, {"shuffle": False},
                                {"prefetch_factor": 1}, {"persistent_workers": True}])
def test_workers_give_the_batches_of_the_single_threaded_loader(dataset, kw):
    shuffle = kw.pop("shuffle", True)
    base = {k: v for k, v in kw.items() if k == "drop_last"}
    mg.manual_seed(5)
    want = [_batches(DataLoader(dataset, batch_size=6, shuffle=shuffle, **base))
            for _ in range(3)]
    mg.manual_seed(5)
    loader = DataLoader(dataset, batch_size=6, shuffle=shuffle, num_workers=3, **kw)
    got = [_batches(loader) for _ in range(3)]
    for epoch_want, epoch_got in zip(want, got):
        assert len(epoch_want) == len(epoch_got) == len(loader)
        for bw, bg in zip(epoch_want, epoch_got):
            assert all(np.array_equal(u, v) for u, v in zip(bw, bg))
    assert want[0][0][0].tolist() != want[1][0][0].tolist() or not shuffle  # fresh orders


def test_workers_run_in_background_threads_and_pass_errors_on():
    seen = set()

    class Where(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            seen.add(threading.current_thread().name)
            if i == 6:
                raise KeyError("sample 6 is broken")
            return mg.tensor([float(i)])

    loader = DataLoader(Where(), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it).tolist() == [[0.0], [1.0]]
    with pytest.raises(KeyError, match="sample 6"):
        list(it)
    assert seen and all(name.startswith("minigrad-DataLoader") for name in seen)


def test_worker_init_fn_is_called_per_worker():
    ids = []
    lock = threading.Lock()

    def init(worker_id):
        with lock:
            ids.append(worker_id)

    list(DataLoader(Squares(40), batch_size=1, num_workers=3, worker_init_fn=init))
    assert sorted(ids) == sorted(set(ids)) and set(ids) <= {0, 1, 2} and ids


def test_breaking_out_of_a_threaded_epoch_is_fine():
    loader = DataLoader(Squares(100), batch_size=5, num_workers=2)
    for i, _ in enumerate(loader):
        if i == 1:
            break
    assert len(_batches(loader)) == 20


@pytest.mark.parametrize("kw,match", [
    ({"num_workers": -1}, "num_workers"),
    ({"num_workers": 1.5}, "num_workers"),
    ({"prefetch_factor": 2}, "prefetch_factor"),
    ({"num_workers": 2, "prefetch_factor": 0}, "prefetch_factor"),
    ({"persistent_workers": True}, "persistent_workers"),
    ({"timeout": -1}, "timeout"),
    ({"worker_init_fn": 3}, "worker_init_fn"),
])
def test_worker_options_are_checked(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        DataLoader(Squares(4), **kw)


def test_pin_memory_is_accepted():
    a = _batches(DataLoader(Squares(7), batch_size=3, pin_memory=True))
    assert a[0][1].tolist() == [0, 1, 2]


def test_tensor_dataset_slicing_and_index_sequences():
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    ds = TensorDataset(x, y)
    xs, ys = ds[0:5]
    np.testing.assert_array_equal(to_numpy(xs), x[:5])
    np.testing.assert_array_equal(to_numpy(ys), y[:5])
    xs, ys = ds[::3]
    np.testing.assert_array_equal(to_numpy(ys), y[::3])
    for index in ([2, -1, 2], np.array([2, 9, 2]), mg.tensor([2, 9, 2])):
        xs, ys = ds[index]
        assert to_numpy(ys).tolist() == [2, 9, 2] and xs.shape == (3, 2)
    mask = np.zeros(10, bool)
    mask[[1, 4]] = True
    assert to_numpy(ds[mask][1]).tolist() == [1, 4]
    assert ds[3][1].item() == 3 and ds[3][0].shape == (2,)
    with pytest.raises(IndexError, match="out of range"):
        ds[[0, 10]]
    with pytest.raises(TypeError, match="integers"):
        ds[[0.5]]
