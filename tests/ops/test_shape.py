"""ops/shape.py: reshape, permute, squeeze/unsqueeze, expand, indexing, concat, stack."""

import numpy as np
import pytest

import minigrad as mg
from tests.ops._check import check_op


@pytest.mark.parametrize(
    "fn,np_fn",
    [
        (lambda x: x.reshape(4, 6), lambda a: a.reshape(4, 6)),
        (lambda x: x.reshape(-1), lambda a: a.reshape(-1)),
        (lambda x: x.transpose(0, 2), lambda a: a.swapaxes(0, 2)),
        (lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
        (lambda x: x.T, lambda a: a.T),
        (lambda x: x.unsqueeze(1).squeeze(1), lambda a: a),
        (lambda x: x[:, 1:3].unsqueeze(0), lambda a: a[None, :, 1:3]),
        (lambda x: x.flatten(1), lambda a: a.reshape(2, 12)),
        (lambda x: x[1], lambda a: a[1]),
        (lambda x: x[..., ::2], lambda a: a[..., ::2]),
        (lambda x: x[:, [0, 2, 2]], lambda a: a[:, [0, 2, 2]]),  # repeated index accumulates
        (lambda x: x[x > 0], lambda a: a[a > 0]),
        (lambda x: x[mg.arange(2), mg.tensor([1, 2])], lambda a: a[np.arange(2), [1, 2]]),
        (lambda x: x[:, :1].expand(2, 3, 4), lambda a: np.broadcast_to(a[:, :1], (2, 3, 4))),
    ],
)
def test_shape_ops(fn, np_fn, device, rng):
    check_op(fn, np_fn, [rng.standard_normal((2, 3, 4))], device)


def test_concat_and_stack(device, rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    check_op(lambda x, y: mg.concat([x, y], 0), lambda x, y: np.concatenate([x, y]), [a, b],
             device)
    c, d = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    check_op(lambda x, y: mg.stack([x, y], 1), lambda x, y: np.stack([x, y], 1), [c, d], device)
