"""fit's NaN guard leaves the model exactly as before the offending batch: parameters and
buffers (BatchNorm's running mean, variance and batch count), so eval mode still predicts."""

import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.data import DataLoader, TensorDataset
from minigrad.optim.sgd import SGD
from minigrad.train import LambdaCallback, fit


def _state(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def _bn_model():
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _poisoned_loader(bad_batch: int, batch=8, n=48):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = rng.integers(0, 3, n)
    x[bad_batch * batch + 2, 1] = np.inf  # one bad value: the batch's loss and BN stats blow up
    return DataLoader(TensorDataset(x, y), batch_size=batch), x


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("policy", ["raise", "stop"])
def test_nonfinite_loss_restores_batchnorm_buffers(policy):
    model = _bn_model()
    loader, x = _poisoned_loader(bad_batch=3)
    snaps = []
    cb = LambdaCallback(on_batch_end=lambda s, b, v: snaps.append(_state(s.model)))
    opt = SGD(model.parameters(), lr=0.1)
    if policy == "raise":
        with pytest.raises(FloatingPointError, match="parameters and buffers as they were"):
            fit(model, nn.CrossEntropyLoss(), opt, loader, 2, callbacks=[cb], progress=False)
    else:
        with pytest.warns(RuntimeWarning, match="parameters and buffers as they were"):
            fit(model, nn.CrossEntropyLoss(), opt, loader, 2, callbacks=[cb],
                progress=False, nan_policy="stop")
    assert len(snaps) == 3  # batches 1..3 updated; batch 4 was refused
    after = _state(model)
    assert set(after) >= {"1.running_mean", "1.running_var", "1.num_batches_tracked"}
    for k, v in snaps[-1].items():
        np.testing.assert_array_equal(after[k], v, err_msg=k)
    assert int(after["1.num_batches_tracked"]) == 3
    model.eval()
    with mg.no_grad():
        clean = np.delete(x, 3 * 8 + 2, axis=0)
        assert np.isfinite(model(mg.tensor(clean)).numpy()).all()


def test_restore_undoes_a_rebound_buffer():
    """A forward that replaces a buffer (rather than writing it in place) is undone too."""

    class Rebinds(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.register_buffer("seen", mg.zeros(2))

        def forward(self, x):
            self.seen = self.seen + x.detach().sum(0)  # a new tensor each call
            return self.lin(x)

    model = Rebinds()
    x = np.ones((4, 2), np.float32)
    x[3, 0] = np.nan
    y = np.zeros(4, np.int64)
    loader = DataLoader(TensorDataset(x, y), batch_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.0), loader, 1,
            progress=False, nan_policy="stop", metrics=())
    np.testing.assert_array_equal(model.seen.numpy(), [2.0, 2.0])  # batch 1 only


def test_ignore_policy_keeps_what_the_forward_wrote():
    model = _bn_model()
    loader, _ = _poisoned_loader(bad_batch=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), loader, 1,
            progress=False, nan_policy="ignore")
    assert not np.isfinite(model[1].running_var.numpy()).all()  # as documented: garbage in
