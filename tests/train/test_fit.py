"""The training loop: fit, evaluate, History, callbacks, schedulers, early stopping, NaN guard,
progress bar."""

import io
import math
import os
import sys

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.data import DataLoader, TensorDataset
from minigrad.optim import lr_scheduler as sched
from minigrad.optim.sgd import SGD
from minigrad.train import (
    Accuracy,
    Callback,
    Checkpoint,
    History,
    LambdaCallback,
    ProgressBar,
    evaluate,
    fit,
    scheduler_kind,
    train_epoch,
)
from minigrad.train.early_stopping import EarlyStopping
from tests.conftest import to_numpy

N_FEAT, N_CLASS = 8, 3


def _data(n=96, seed=0, flip=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, N_FEAT)).astype(np.float32)
    teacher = np.random.default_rng(99).standard_normal((N_FEAT, N_CLASS))
    y = (x @ teacher).argmax(1).astype(np.int64)
    if flip:
        y = (y + 1) % N_CLASS
    return x, y


def _loaders(batch=16, val=True, flip_val=False):
    x, y = _data()
    train = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)
    if not val:
        return train, None
    xv, yv = _data(48, seed=1, flip=flip_val)
    return train, DataLoader(TensorDataset(xv, yv), batch_size=20)


def _mlp(dropout=0.0):
    layers = [nn.Linear(N_FEAT, 16), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(16, N_CLASS))


def _params(model):
    return [to_numpy(p).copy() for p in model.parameters()]


def _np_forward(params, x):
    w1, b1, w2, b2 = params
    h = np.maximum(x @ w1.T + b1, 0)
    return h @ w2.T + b2


def _np_ce(logits, y):
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


# --------------------------------------------------------------------------- fit basics


def test_history_values_match_an_independent_computation():
    """With lr = 0 nothing changes, so the epoch's mean loss and accuracy must equal NumPy's
    over the whole dataset (batch means weighted by batch size: 96 = 6 x 16)."""
    model = _mlp()
    train, val = _loaders()
    hist = fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.0), train, 2,
               val_loader=val, progress=False)
    params = [p.astype(np.float64) for p in _params(model)]
    for (x, y), prefix in ((_data(), ""), (_data(48, seed=1), "val_")):
        logits = _np_forward(params, x.astype(np.float64))
        for e in range(2):
            assert hist[prefix + "loss"][e] == pytest.approx(_np_ce(logits, y), rel=1e-5)
            assert hist[prefix + "accuracy"][e] == pytest.approx((logits.argmax(1) == y).mean())
    assert hist.epochs == [1, 2] and len(hist) == 2
    assert set(hist.keys()) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}
    assert hist["lr"] == [0.0, 0.0] and all(t > 0 for t in hist["time"])
    assert not hist.stopped_early


def test_fit_trains_and_evaluate_agrees():
    model = _mlp()
    train, val = _loaders()
    hist = fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.5), train, 8,
               val_loader=val, progress=False)
    assert hist["loss"][-1] < 0.6 * hist["loss"][0]
    assert hist["accuracy"][-1] > 0.8
    logs = evaluate(model, nn.CrossEntropyLoss(), val)
    assert logs["loss"] == pytest.approx(hist["val_loss"][-1], rel=1e-6)
    assert logs["accuracy"] == pytest.approx(hist["val_accuracy"][-1])
    assert hist.best("val_loss")[1] == min(hist["val_loss"])


def test_fit_on_device(device):
    x, y = _data()
    train = DataLoader(TensorDataset(x, y, device=device), batch_size=16, shuffle=True)
    model = _mlp().to(device)
    hist = fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.5), train, 4,
               val_loader=train, progress=False)
    assert all(p.device == device for p in model.parameters())
    assert hist["loss"][-1] < hist["loss"][0] and 0 <= hist["val_accuracy"][-1] <= 1


def test_train_and_eval_modes_and_no_grad_in_validation():
    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(N_FEAT, N_CLASS)

        def forward(self, x):
            seen.append((self.training, minigrad.is_grad_enabled()))
            return self.lin(x)

    model = Spy()
    model.eval()
    train, val = _loaders(batch=48)
    fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), train, 2,
        val_loader=val, progress=False)
    # per epoch: 2 training batches (train mode, grad on), 3 validation batches (eval, no grad)
    assert seen == ([(True, True)] * 2 + [(False, False)] * 3) * 2
    assert model.training is False  # the mode the model came in with is restored


def test_batch_callbacks_see_every_loss_and_metric_functions():
    losses = []
    model = _mlp()
    train, _ = _loaders(batch=32, val=False)

    def mean_abs_logit(outputs, targets):
        return float(np.abs(to_numpy(outputs)).mean())

    cb = LambdaCallback(on_batch_end=lambda s, b, loss: losses.append((s.epoch, b, loss)))
    hist = fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), train, 2,
               callbacks=[cb], metrics=("accuracy", mean_abs_logit), progress=False)
    assert [(e, b) for e, b, _ in losses] == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    for e in (1, 2):
        batch_losses = [v for ep, _, v in losses if ep == e]
        assert hist["loss"][e - 1] == pytest.approx(np.mean(batch_losses), rel=1e-12)
    assert "mean_abs_logit" in hist and hist["mean_abs_logit"][0] > 0


def test_regression_drops_default_accuracy_but_explicit_one_raises():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = (x.sum(1, keepdims=True)).astype(np.float32)
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    model = nn.Linear(4, 1)
    hist = fit(model, nn.MSELoss(), SGD(model.parameters(), lr=0.05), loader, 3, progress=False)
    assert set(hist.keys()) == {"loss", "lr", "time"}
    assert hist["loss"][-1] < hist["loss"][0]
    before = _params(model)
    with pytest.raises(ValueError, match=r"metric 'accuracy' needs outputs of shape \(N, C\)"):
        fit(model, nn.MSELoss(), SGD(model.parameters(), lr=0.05), loader, 1,
            metrics=["accuracy"], progress=False)
    for a, b in zip(before, _params(model)):
        np.testing.assert_array_equal(a, b)  # raised before any update


def test_fit_bad_arguments():
    model = _mlp()
    train, _ = _loaders(val=False)
    opt = SGD(model.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        fit(model, loss, opt, train, 0)
    with pytest.raises(ValueError, match="nan_policy must be one of.*got 'skip'"):
        fit(model, loss, opt, train, 1, nan_policy="skip")
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        fit(model, loss, opt, train, 1, metrics=("f1",))
    with pytest.raises(TypeError, match="callbacks must be Callback objects.*got int"):
        fit(model, loss, opt, train, 1, callbacks=[3])
    with pytest.raises(ValueError, match="initial_epoch must be an integer in"):
        fit(model, loss, opt, train, 2, initial_epoch=3)
    empty = DataLoader(TensorDataset(np.zeros((3, N_FEAT)), np.zeros(3, dtype=np.int64)),
                       batch_size=4, drop_last=True)
    with pytest.raises(ValueError, match="train_loader yields no batches"):
        fit(model, loss, opt, empty, 1)
    with pytest.raises(ValueError, match=r"batches of \(inputs, targets\)"):
        fit(model, loss, opt, [minigrad.zeros(2, N_FEAT)], 1, progress=False)


# --------------------------------------------------------------------------- schedulers


def test_scheduler_kinds():
    opt = SGD(_mlp().parameters(), lr=0.1)
    assert scheduler_kind(None) is None
    assert scheduler_kind(sched.StepLR(opt, step_size=1)) == "epoch"
    assert scheduler_kind(sched.OneCycleLR(opt, max_lr=0.1, total_steps=10)) == "batch"
    assert scheduler_kind(sched.CyclicLR(opt, base_lr=0.01, max_lr=0.1)) == "batch"
    assert scheduler_kind(sched.ReduceLROnPlateau(opt)) == "metric"


def test_per_epoch_scheduler():
    model = _mlp()
    opt = SGD(model.parameters(), lr=0.1)
    train, _ = _loaders(val=False)
    s = sched.StepLR(opt, step_size=2, gamma=0.5)
    hist = fit(model, nn.CrossEntropyLoss(), opt, train, 5, scheduler=s, progress=False)
    assert hist["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025], rel=1e-12)
    assert s.last_epoch == 5


def test_per_batch_scheduler_one_cycle():
    model = _mlp()
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    train, _ = _loaders(val=False)  # 6 batches per epoch
    s = sched.OneCycleLR(opt, max_lr=0.2, epochs=3, steps_per_epoch=len(train))
    lrs = []
    cb = LambdaCallback(on_batch_end=lambda st, b, v: lrs.append(opt.param_groups[0]["lr"]))
    hist = fit(model, nn.CrossEntropyLoss(), opt, train, 3, scheduler=s, callbacks=[cb],
               progress=False)
    assert s.last_epoch == 18  # stepped after every one of the 3 x 6 batches
    # the lr each epoch started with is the schedule's value after 6 e steps
    ref_opt = SGD(_mlp().parameters(), lr=0.1, momentum=0.9)
    ref = sched.OneCycleLR(ref_opt, max_lr=0.2, epochs=3, steps_per_epoch=6)
    ref_lrs = [ref_opt.param_groups[0]["lr"]]
    for _ in range(17):
        ref.step()
        ref_lrs.append(ref_opt.param_groups[0]["lr"])
    assert hist["lr"] == pytest.approx([ref_lrs[0], ref_lrs[6], ref_lrs[12]], rel=1e-12)
    assert lrs[:-1] == pytest.approx(ref_lrs[1:], rel=1e-12)


def test_cyclic_lr_is_stepped_per_batch():
    model = _mlp()
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    train, _ = _loaders(val=False)
    s = sched.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4)
    fit(model, nn.CrossEntropyLoss(), opt, train, 2, scheduler=s, progress=False)
    assert s.last_epoch == 12


def test_plateau_scheduler_gets_the_validation_loss():
    class Recording(sched.ReduceLROnPlateau):
        def step(self, metrics, *args, **kwargs):
            self.seen = [*getattr(self, "seen", []), metrics]
            return super().step(metrics, *args, **kwargs)

    model = _mlp()
    opt = SGD(model.parameters(), lr=1e-12)  # so small that the loss cannot improve
    train, val = _loaders()
    s = Recording(opt, mode="min", factor=0.1, patience=1)
    hist = fit(model, nn.CrossEntropyLoss(), opt, train, 4, val_loader=val, scheduler=s,
               progress=False)
    assert s.seen == hist["val_loss"]
    # epoch 1 sets the best; epochs 2, 3 do not improve: patience 1 exceeded after epoch 3
    assert hist["lr"] == pytest.approx([1e-12, 1e-12, 1e-12, 1e-13], rel=1e-9)
    # without a validation loader it steps on the training loss
    s2 = Recording(SGD(model.parameters(), lr=0.1), patience=5)
    hist2 = fit(model, nn.CrossEntropyLoss(), s2.optimizer, train, 2, scheduler=s2,
                progress=False)
    assert s2.seen == hist2["loss"]


# --------------------------------------------------------------------------- early stopping


def test_early_stopping_ends_the_loop_and_restores_best_weights():
    snapshots = {}

    class Snapshot(Callback):
        def on_epoch_end(self, state, logs):
            snapshots[state.epoch] = _params(state.model)

    model = _mlp()
    # validation labels disagree with training labels: val_loss rises as training proceeds
    train, val = _loaders(flip_val=True)
    stopper = EarlyStopping(mode="min", patience=2, restore_best_weights=True,
                            monitor="val_loss")
    hist = fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.5), train, 40,
               val_loader=val, callbacks=[Snapshot(), stopper], progress=False)
    best_epoch, _ = hist.best("val_loss")
    assert hist.stopped_early and "early stopping" in hist.stop_reason
    assert len(hist) == best_epoch + 2 < 40
    for a, b in zip(_params(model), snapshots[best_epoch]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(snapshots[len(hist)][0], snapshots[best_epoch][0])


def test_early_stopping_on_val_metric_without_val_loader_raises():
    model = _mlp()
    train, _ = _loaders(val=False)
    with pytest.raises(ValueError, match="monitors 'val_loss', but fit got no val_loader"):
        fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), train, 2,
            callbacks=[EarlyStopping(mode="min", patience=1, monitor="val_loss")],
            progress=False)


# --------------------------------------------------------------------------- NaN guard


class _PoisonAt:
    """A cross-entropy loss that turns nan at one (epoch, batch)."""

    def __init__(self, epoch, batch, nb):
        self.calls, self.at, self.ce = 0, (epoch - 1) * nb + batch, nn.CrossEntropyLoss()

    def __call__(self, out, y):
        self.calls += 1
        loss = self.ce(out, y)
        return loss * float("nan") if self.calls == self.at else loss


def test_nan_loss_raises_naming_epoch_and_batch_before_updating():
    model = _mlp()
    train, _ = _loaders(val=False)  # 6 batches per epoch
    snap = {}
    cb = LambdaCallback(on_batch_end=lambda s, b, v: snap.update(last=_params(s.model)))
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 2, batch 3 of 6"):
        fit(model, _PoisonAt(2, 3, 6), SGD(model.parameters(), lr=0.1), train, 3,
            callbacks=[cb], progress=False)
    for a, b in zip(_params(model), snap["last"]):  # the weights after batch 2: no nan step
        np.testing.assert_array_equal(a, b)
    assert all(np.isfinite(p).all() for p in _params(model))


def test_nan_policy_stop_warning_points_at_the_callers_line():
    # the warning names the line that called fit (or train_epoch), not a line of the loop
    model = _mlp()
    train, _ = _loaders(val=False)
    with pytest.warns(RuntimeWarning) as record:
        fit(model, _PoisonAt(1, 1, 6), SGD(model.parameters(), lr=0.1), train, 1,
            nan_policy="stop", progress=False)
    assert record[0].filename == __file__
    model.train()
    with pytest.warns(RuntimeWarning) as record:
        train_epoch(model, _PoisonAt(1, 1, 6), SGD(model.parameters(), lr=0.1), train,
                    nan_policy="stop")
    assert record[0].filename == __file__


def test_nan_policy_stop_and_ignore():
    model = _mlp()
    train, _ = _loaders(val=False)
    with pytest.warns(RuntimeWarning, match="epoch 2, batch 1 of 6"):
        hist = fit(model, _PoisonAt(2, 1, 6), SGD(model.parameters(), lr=0.1), train, 3,
                   nan_policy="stop", progress=False)
    assert len(hist) == 1 and hist.stopped_early and "non-finite" in hist.stop_reason
    hist = fit(model, _PoisonAt(1, 2, 6), SGD(model.parameters(), lr=0.1), train, 2,
               nan_policy="ignore", progress=False)
    assert len(hist) == 2 and not hist.stopped_early  # trained on, garbage and all
    assert math.isnan(hist["loss"][0])


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_callback_and_resume_from_in_process(tmp_path):
    def run(epochs, **kw):
        minigrad.manual_seed(5)
        model = _mlp(dropout=0.3)
        opt = SGD(model.parameters(), lr=0.2, momentum=0.9)
        s = sched.StepLR(opt, step_size=1, gamma=0.8)
        train, val = _loaders()
        hist = fit(model, nn.CrossEntropyLoss(), opt, train, epochs, val_loader=val,
                   scheduler=s, progress=False, **kw)
        return model, hist

    full, full_hist = run(4)
    path = tmp_path / "run.npz"
    ck = Checkpoint(path, every=2)
    run(2, callbacks=[ck])
    assert ck.saved == [str(path)]
    resumed, hist = run(4, resume_from=path)
    for a, b in zip(_params(full), _params(resumed)):
        np.testing.assert_array_equal(a, b)
    assert hist.epochs == [1, 2, 3, 4]
    assert hist["loss"] == full_hist["loss"] and hist["lr"] == full_hist["lr"]


def test_checkpoint_callback_monitor_saves_only_improvements(tmp_path):
    model = _mlp()
    train, val = _loaders(flip_val=True)
    ck = Checkpoint(tmp_path / "best-{epoch}.npz", monitor="val_loss")
    hist = fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.5), train, 6,
               val_loader=val, callbacks=[ck], progress=False)
    best, expected = math.inf, []
    for epoch, v in zip(hist.epochs, hist["val_loss"]):
        if v < best:
            best = v
            expected.append(str(tmp_path / f"best-{epoch}.npz"))
    assert ck.saved == expected and len(expected) < 6
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        os.path.basename(p) for p in expected)


def test_metric_objects_are_reset_between_training_and_validation():
    model = _mlp()
    train, val = _loaders()
    hist = fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.0), train, 1,
               val_loader=val, metrics=[Accuracy()], progress=False)
    params = [p.astype(np.float64) for p in _params(model)]
    xv, yv = _data(48, seed=1)
    expected = (_np_forward(params, xv.astype(np.float64)).argmax(1) == yv).mean()
    assert hist["val_accuracy"][0] == pytest.approx(expected)


# --------------------------------------------------------------------------- progress, plot


def test_progress_bar_fallback_and_tqdm_show_loss_metrics_lr():
    out = io.StringIO()
    bar = ProgressBar(3, desc="epoch 1/2", enabled=True, use_tqdm=False, stream=out,
                      min_interval=0.0)
    for _ in range(3):
        bar.update(1, lambda: {"loss": 0.5, "accuracy": 0.75, "lr": 0.001})
    bar.close({"loss": 0.25, "accuracy": 0.75, "lr": 0.001})
    text = out.getvalue()
    assert "epoch 1/2" in text and "3/3" in text and "loss=0.2500" in text
    assert "accuracy=0.7500" in text and "lr=0.001" in text and text.endswith("\n")
    pytest.importorskip("tqdm")
    out = io.StringIO()
    bar = ProgressBar(2, desc="epoch 2/2", enabled=True, stream=out, min_interval=0.0)
    bar.update(1, lambda: {"loss": 0.5})
    bar.update(1, lambda: {"loss": 0.5})
    bar.close({"loss": 0.125})
    assert "epoch 2/2" in out.getvalue() and "loss=0.1250" in out.getvalue()


def test_progress_is_silent_when_not_a_terminal(capsys):
    model = _mlp()
    train, _ = _loaders(val=False)
    fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), train, 1)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    off = ProgressBar(5, enabled=False, stream=io.StringIO())
    off.update(1, lambda: pytest.fail("postfix must not be computed when disabled"))


def test_history_plot_saves_png_and_missing_matplotlib(tmp_path, monkeypatch):
    hist = History()
    for e in range(1, 4):
        hist.append(e, {"loss": 1.0 / e, "val_loss": 1.2 / e, "accuracy": 0.5 + 0.1 * e,
                        "lr": 0.1 * 0.5 ** e, "time": 0.01})
    path = tmp_path / "curves.png"
    if "matplotlib" in sys.modules or _has_matplotlib():
        fig = hist.plot(path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy", "lr"]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"minigrad-tensor\[examples\]"):
        hist.plot(tmp_path / "x.png")


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_history_state_and_padding():
    h = History()
    h.append(1, {"loss": 1.0})
    h.append(2, {"loss": 0.5, "val_loss": 0.7})
    assert math.isnan(h["val_loss"][0]) and h["val_loss"][1] == 0.7
    h2 = History()
    h2.load_state_dict(h.state_dict())
    assert h2.epochs == [1, 2] and h2["loss"] == [1.0, 0.5]
    with pytest.raises(KeyError, match="History has no 'accuracy'"):
        h["accuracy"]
    assert h.best("loss") == (2, 0.5)
