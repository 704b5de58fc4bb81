"""The batch protocol: a dataset with ``get_batch(indices)`` is fetched one batch at a time."""

import numpy as np

import minigrad as mg
from minigrad.data import DataLoader, Dataset, Subset


class Squares(Dataset):
    """Sample i is i^2; counts how it is read."""

    def __init__(self, n):
        self.n, self.batch_calls, self.item_calls = n, [], 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.item_calls += 1
        return mg.tensor(float(i * i))

    def get_batch(self, indices):
        self.batch_calls.append(np.asarray(indices).tolist())
        return (mg.tensor(np.asarray(indices, dtype=np.float32) ** 2),)


def test_loader_uses_get_batch_once_per_batch():
    ds = Squares(7)
    batches = [b[0].numpy().tolist() for b in DataLoader(ds, batch_size=3)]
    assert ds.batch_calls == [[0, 1, 2], [3, 4, 5], [6]] and ds.item_calls == 0
    assert batches == [[0.0, 1.0, 4.0], [9.0, 16.0, 25.0], [36.0]]


def test_subset_forwards_get_batch_with_its_own_indices():
    ds = Squares(10)
    sub = Subset(ds, [9, 2, 5])
    (batch,) = next(iter(DataLoader(sub, batch_size=3)))
    assert batch.numpy().tolist() == [81.0, 4.0, 25.0] and ds.item_calls == 0
