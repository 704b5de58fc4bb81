"""ops/sparse.py: embedding lookup and its scatter-add gradient."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck
from tests.conftest import to_numpy
from tests.ops._check import f64


def test_embedding_lookup_and_scatter_add(device):
    emb = nn.Embedding(5, 3, padding_idx=0).to(device)
    np.testing.assert_array_equal(to_numpy(emb.weight)[0], 0)
    idx = mg.tensor([[1, 3, 1], [0, 4, 1]], device=device)
    out = emb(idx)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(to_numpy(out), to_numpy(emb.weight)[to_numpy(idx)])
    g = np.arange(18, dtype=np.float32).reshape(2, 3, 3)
    out.backward(mg.tensor(g, device=device))
    want = np.zeros((5, 3), dtype=np.float32)
    for i, row in zip(to_numpy(idx).ravel(), g.reshape(-1, 3)):
        want[i] += row
    want[0] = 0  # padding row gets no gradient
    np.testing.assert_array_equal(to_numpy(emb.weight.grad), want)


def test_embedding_gradcheck_and_errors(rng):
    w = f64(rng.standard_normal((4, 2)))
    idx = mg.tensor([3, 0, 3, 2])
    assert gradcheck(lambda t: F.embedding(idx, t), [w])
    with pytest.raises(IndexError, match=r"index 4 is out of range.*\[0, 4\)"):
        F.embedding(mg.tensor([4]), w)
    with pytest.raises(TypeError, match="integer"):
        F.embedding(mg.tensor([1.0]), w)
