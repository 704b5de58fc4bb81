"""Datasets, samplers, the DataLoader and default_collate."""

from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad
from minigrad.backend import Generator
from minigrad.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    random_split,
)
from tests.conftest import to_numpy


def _epoch_indices(loader):
    """The first column of every batch (the dataset holds its own indices there)."""
    return [to_numpy(b[0]).reshape(-1) for b in loader]


def _index_dataset(n, device="cpu"):
    return TensorDataset(np.arange(n, dtype=np.int64), np.arange(n, dtype=np.float32) * 2,
                         device=device)


# --------------------------------------------------------------------------- samplers


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 50), bs=st.integers(1, 12), drop_last=st.booleans(),
       shuffle=st.booleans())
def test_every_index_once_per_epoch_and_len(n, bs, drop_last, shuffle):
    loader = DataLoader(_index_dataset(n), batch_size=bs, shuffle=shuffle, drop_last=drop_last)
    expected_len = n // bs if drop_last else -(-n // bs)
    assert len(loader) == expected_len
    for _ in range(2):
        batches = _epoch_indices(loader)
        assert len(batches) == expected_len
        assert all(len(b) == bs for b in batches[: n // bs])
        seen = np.concatenate(batches) if batches else np.array([], dtype=np.int64)
        if drop_last:
            assert len(seen) == (n // bs) * bs
            assert len(np.unique(seen)) == len(seen)
        else:
            np.testing.assert_array_equal(np.sort(seen), np.arange(n))
        if not shuffle:
            np.testing.assert_array_equal(seen, np.arange(len(seen)))


def test_shuffle_is_seeded_and_differs_between_epochs():
    ds = _index_dataset(100)

    def two_epochs():
        loader = DataLoader(ds, batch_size=10, shuffle=True)
        return np.concatenate(_epoch_indices(loader)), np.concatenate(_epoch_indices(loader))

    minigrad.manual_seed(7)
    a1, a2 = two_epochs()
    minigrad.manual_seed(7)
    b1, b2 = two_epochs()
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)
    assert not np.array_equal(a1, np.arange(100))
    minigrad.manual_seed(8)
    c1, _ = two_epochs()
    assert not np.array_equal(a1, c1)


def test_shuffle_order_is_the_generators_permutation():
    """The epoch order is exactly the generator's next permutation, drawn at iter()."""
    gen = Generator(5)
    ref = Generator(5)
    loader = DataLoader(_index_dataset(37), batch_size=8, shuffle=True, generator=gen)
    for _ in range(3):
        np.testing.assert_array_equal(np.concatenate(_epoch_indices(loader)),
                                      ref.permutation(37))


def test_order_is_drawn_at_iter_not_at_first_batch():
    loader = DataLoader(_index_dataset(30), batch_size=5, shuffle=True)
    minigrad.manual_seed(2)
    it = iter(loader)
    minigrad.rand(10)  # a draw between iter() and next() (e.g. a dropout mask elsewhere)
    got = np.concatenate([to_numpy(b[0]) for b in it])
    np.testing.assert_array_equal(got, Generator(2).permutation(30))


def test_own_generator_is_independent_of_framework_seed():
    runs = []
    for seed in (0, 1):
        minigrad.manual_seed(seed)
        loader = DataLoader(_index_dataset(50), batch_size=7, shuffle=True,
                            generator=Generator(3))
        runs.append(np.concatenate(_epoch_indices(loader)))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_loader_state_dict_resumes_own_generator():
    loader = DataLoader(_index_dataset(30), batch_size=4, shuffle=True, generator=Generator(9))
    _epoch_indices(loader)
    state = loader.state_dict()
    expected = np.concatenate(_epoch_indices(loader))
    fresh = DataLoader(_index_dataset(30), batch_size=4, shuffle=True, generator=Generator(0))
    fresh.load_state_dict(state)
    assert fresh.epoch == 1
    np.testing.assert_array_equal(np.concatenate(_epoch_indices(fresh)), expected)
    with pytest.raises(ValueError, match="without its own generator"):
        DataLoader(_index_dataset(30), batch_size=4, shuffle=True,
                   generator=Generator(0)).load_state_dict({"epoch": 1, "generator": None})


def test_framework_rng_state_replays_the_shuffle():
    loader = DataLoader(_index_dataset(40), batch_size=8, shuffle=True)
    state = minigrad.get_rng_state()
    first = np.concatenate(_epoch_indices(loader))
    minigrad.manual_seed(123)
    minigrad.set_rng_state(state)
    np.testing.assert_array_equal(np.concatenate(_epoch_indices(loader)), first)


def test_samplers_directly():
    ds = list(range(10))
    assert list(SequentialSampler(ds)) == list(range(10))
    rs = RandomSampler(ds, generator=Generator(1))
    assert sorted(rs) == list(range(10)) and len(rs) == 10
    rr = RandomSampler(ds, replacement=True, num_samples=25, generator=Generator(1))
    draws = list(rr)
    assert len(draws) == 25 == len(rr) and all(0 <= i < 10 for i in draws)
    sr = SubsetRandomSampler([3, 5, 7], generator=Generator(2))
    assert sorted(sr) == [3, 5, 7] and len(sr) == 3
    bs = BatchSampler(SequentialSampler(ds), 4, drop_last=False)
    assert [b.tolist() for b in bs] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(bs) == 3
    bsd = BatchSampler(range(10), 4, drop_last=True)  # any iterable of ints
    assert [b.tolist() for b in bsd] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(bsd) == 2


def test_custom_sampler_and_batch_sampler():
    ds = _index_dataset(10)
    loader = DataLoader(ds, batch_size=3, sampler=[9, 8, 7, 6, 5])
    assert [b.tolist() for b in _epoch_indices(loader)] == [[9, 8, 7], [6, 5]]
    loader = DataLoader(ds, batch_sampler=[[0, 2], [4], [6, 8, 9]])
    assert [b.tolist() for b in _epoch_indices(loader)] == [[0, 2], [4], [6, 8, 9]]
    assert len(loader) == 3
    with pytest.raises(IndexError, match="index 10 is out of range for a dataset of length 10"):
        list(DataLoader(ds, batch_size=2, sampler=[1, 10]))
    with pytest.raises(IndexError, match="index 12"):
        list(DataLoader(ds, batch_sampler=[[0, 12]]))


# --------------------------------------------------------------------------- datasets


def test_tensor_dataset_dtypes_and_items():
    x64 = np.random.default_rng(0).standard_normal((6, 3))  # float64
    y = np.arange(6)  # int64
    ds = TensorDataset(x64, y)
    assert ds.arrays[0].dtype == np.float32 and ds.arrays[1].dtype == np.int64
    np.testing.assert_array_equal(ds.arrays[0], x64.astype(np.float32))
    xi, yi = ds[-1]
    assert isinstance(xi, minigrad.Tensor) and xi.shape == (3,)
    np.testing.assert_array_equal(to_numpy(xi), x64[5].astype(np.float32))
    assert int(yi.item()) == 5
    assert len(ds) == 6
    t = minigrad.tensor(np.ones((6, 2)), dtype=minigrad.float64)  # a Tensor keeps its dtype
    assert TensorDataset(t).arrays[0].dtype == np.float64
    assert TensorDataset([[1.0, 2.0], [3.0, 4.0]]).arrays[0].dtype == np.float32
    tens = ds.tensors
    assert len(tens) == 2 and tens[0].shape == (6, 3)


def test_tensor_dataset_does_not_copy_float32(rng):
    x = rng.standard_normal((5, 2)).astype(np.float32)
    ds = TensorDataset(x)
    assert np.shares_memory(ds.arrays[0], x)


def test_batches_come_out_as_float32_and_int64_tensors(device):
    x = np.random.default_rng(0).standard_normal((10, 4))
    y = np.arange(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, device=device)
    xb, yb = next(iter(loader))
    assert isinstance(xb, minigrad.Tensor) and xb.dtype == np.float32 and yb.dtype == np.int64
    assert xb.device == device and yb.device == device
    np.testing.assert_array_equal(to_numpy(xb), x[:4].astype(np.float32))


def test_dataset_on_device_is_indexed_there(device):
    ds = _index_dataset(20, device=device)
    assert ds.device == device
    loader = DataLoader(ds, batch_size=6, shuffle=True, device=device)
    batches = list(loader)
    assert all(b[0].device == device for b in batches)
    np.testing.assert_array_equal(np.sort(np.concatenate([to_numpy(b[0]) for b in batches])),
                                  np.arange(20))
    sub = Subset(ds, [19, 0, 5])
    got = np.concatenate([to_numpy(b[1]) for b in DataLoader(sub, batch_size=2)])
    np.testing.assert_array_equal(got, [38.0, 0.0, 10.0])


def test_subset_and_negative_indices():
    ds = _index_dataset(10)
    sub = Subset(ds, [9, -10, 4])
    assert len(sub) == 3
    assert [int(sub[i][0].item()) for i in range(3)] == [9, 0, 4]
    assert int(sub[-1][0].item()) == 4
    with pytest.raises(IndexError, match="Subset index 3 is out of range.*length 3"):
        sub[3]
    with pytest.raises(IndexError, match="Subset index 10 is out of range.*length 10"):
        Subset(ds, [1, 10])


def test_random_split_integer_and_fraction_lengths():
    ds = _index_dataset(10)
    parts = random_split(ds, [3, 7], generator=Generator(4))
    assert [len(p) for p in parts] == [3, 7]
    ids = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(ids, Generator(4).permutation(10))
    # torch's rule: floor(10 * f) = [3, 3, 3], the remainder 1 goes to the first subset
    assert [len(p) for p in random_split(ds, [0.34, 0.33, 0.33])] == [4, 3, 3]
    # floor(11 * f) = [2, 2, 2, 2, 2] (sum 10), one extra to the first
    assert [len(p) for p in random_split(_index_dataset(11), [0.2] * 5)] == [3, 2, 2, 2, 2]
    minigrad.manual_seed(3)
    a = random_split(ds, [5, 5])[0].indices
    minigrad.manual_seed(3)
    np.testing.assert_array_equal(random_split(ds, [5, 5])[0].indices, a)
    got = sorted(int(p[i][0].item()) for p in parts for i in range(len(p)))
    assert got == list(range(10))


def test_generic_dataset_with_collate():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full(2, i, dtype=np.float64), "y": i * i, "name": f"s{i}"}

    batches = list(DataLoader(Squares(), batch_size=2))
    assert len(batches) == 3
    b = batches[1]
    assert b["x"].dtype == np.float32 and b["x"].shape == (2, 2)
    np.testing.assert_array_equal(to_numpy(b["y"]), [4, 9])
    assert b["y"].dtype == np.int64 and b["name"] == ["s2", "s3"]
    custom = DataLoader(Squares(), batch_size=5, collate_fn=lambda s: len(s))
    assert list(custom) == [5]


# --------------------------------------------------------------------------- collate


def test_default_collate_nested_structures():
    Pair = namedtuple("Pair", "a b")
    samples = [
        {"img": np.full((2, 2), i, dtype=np.float64), "meta": (i, float(i) / 2, True, None),
         "pair": Pair(minigrad.tensor([i, i + 1]), [np.float32(i), "t"]),
         "nested": {"deep": [minigrad.tensor(float(i))]}}
        for i in range(3)
    ]
    out = default_collate(samples)
    assert out["img"].shape == (3, 2, 2) and out["img"].dtype == np.float32
    ints, floats, bools, nones = out["meta"]
    assert ints.dtype == np.int64 and to_numpy(ints).tolist() == [0, 1, 2]
    assert floats.dtype == np.float32 and to_numpy(floats).tolist() == [0.0, 0.5, 1.0]
    assert bools.dtype == np.bool_ and to_numpy(bools).tolist() == [True] * 3
    assert nones == [None, None, None]
    assert isinstance(out["pair"], Pair)
    np.testing.assert_array_equal(to_numpy(out["pair"].a), [[0, 1], [1, 2], [2, 3]])
    assert isinstance(out["pair"].b, list) and out["pair"].b[1] == ["t", "t", "t"]
    assert out["pair"].b[0].dtype == np.float32
    np.testing.assert_array_equal(to_numpy(out["nested"]["deep"][0]), [0.0, 1.0, 2.0])


def test_default_collate_bad_inputs():
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="different keys"):
        default_collate([{"a": 1}, {"b": 1}])
    with pytest.raises(ValueError, match="different lengths: 2 vs 3"):
        default_collate([(1, 2), (1, 2, 3)])
    with pytest.raises(TypeError, match="cannot batch samples of type object"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="non-empty list"):
        default_collate([])


# --------------------------------------------------------------------------- bad input


def test_loader_bad_arguments():
    ds = _index_dataset(10)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match=f"batch_size must be a positive integer, got {bad}"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(ValueError, match="shuffle=True cannot be combined with a sampler"):
        DataLoader(ds, shuffle=True, sampler=SequentialSampler(ds))
    with pytest.raises(ValueError, match="sampler cannot be combined with batch_sampler"):
        DataLoader(ds, sampler=SequentialSampler(ds), batch_sampler=[[0]])
    with pytest.raises(ValueError, match="batch_sampler cannot be combined.*batch_size=4"):
        DataLoader(ds, batch_size=4, batch_sampler=[[0]])
    with pytest.raises(TypeError, match="map-style dataset"):
        DataLoader(iter(range(3)))
    with pytest.raises(TypeError, match="generator must be a minigrad.backend.Generator"):
        DataLoader(ds, shuffle=True, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        BatchSampler(SequentialSampler(ds), 0)
    with pytest.raises(ValueError, match="num_samples must be a positive integer, got 0"):
        RandomSampler(ds, replacement=True, num_samples=0)


def test_dataset_bad_arguments():
    with pytest.raises(ValueError, match=r"same length.*\[3, 4\]"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    with pytest.raises(TypeError, match="leading sample dimension"):
        TensorDataset(3.0)
    ds = _index_dataset(5)
    with pytest.raises(IndexError, match="TensorDataset index 5 is out of range.*length 5"):
        ds[5]
    with pytest.raises(IndexError, match="index -6"):
        ds[-6]
    with pytest.raises(TypeError, match="indices must be integers"):
        ds[1.5]
    with pytest.raises(ValueError, match=r"lengths \[3, 3\] add up to 6.*has 5 samples"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="add up to 1"):
        random_split(ds, [0.5, 0.6])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(ds, [6, -1])
    with pytest.raises(TypeError, match="non-empty sequence"):
        random_split(ds, 5)
