"""EarlyStopping on scripted metric sequences (Keras rules, explicit mode), weight restoring,
checkpoint round trips, NaN reporting, and the callback adapter."""

import copy
import math
import pickle
import warnings

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.train.early_stopping import EarlyStopping


def stop_epoch(metrics, **kwargs):
    """The 0-based epoch at which step() first returns True, or None; plus the stopper."""
    stopper = EarlyStopping(**kwargs)
    for epoch, m in enumerate(metrics):
        if stopper.step(m):
            assert stopper.stopped_epoch == epoch
            return epoch, stopper
    assert stopper.stopped_epoch is None
    return None, stopper


# --------------------------------------------------------------------------- the rule

def test_min_mode_patience():
    # best 0.5 at epoch 2; epochs 3, 4, 5 do not improve -> stop at 5 with patience 3
    metrics = [1.0, 0.8, 0.5, 0.6, 0.5, 0.7, 0.1]
    epoch, s = stop_epoch(metrics, mode="min", patience=3)
    assert epoch == 5
    assert (s.best, s.best_epoch, s.wait) == (0.5, 2, 3)
    assert stop_epoch(metrics, mode="min", patience=4)[0] is None


def test_patience_zero_stops_at_first_non_improvement_but_not_at_epoch_zero():
    assert stop_epoch([1.0, 0.9, 0.95, 0.5], mode="min", patience=0)[0] == 2
    assert stop_epoch([1.0, 0.9, 0.8], mode="min", patience=0)[0] is None
    # a NaN first epoch is no improvement, yet epoch 0 never stops (Keras)
    with pytest.warns(RuntimeWarning):
        assert stop_epoch([math.nan, 2.0, 3.0], mode="min", patience=0)[0] == 2


def test_max_mode():
    metrics = [0.5, 0.6, 0.7, 0.69, 0.71, 0.65, 0.71, 0.6]
    epoch, s = stop_epoch(metrics, mode="max", patience=2)
    assert epoch == 6 and s.best == 0.71 and s.best_epoch == 4
    # the same sequence in min mode: best is the first value, stop after 2 non-improvements
    assert stop_epoch(metrics, mode="min", patience=2)[0] == 2


def test_min_delta_is_strict_and_sign_free():
    # improvements of exactly 0.1 do not count with min_delta=0.1 (x + d < best is strict)
    metrics = [1.0, 0.9, 0.8, 0.7]
    assert stop_epoch(metrics, mode="min", patience=1, min_delta=0.1)[0] == 1
    assert stop_epoch(metrics, mode="min", patience=1, min_delta=0.09)[0] is None
    assert stop_epoch(metrics, mode="min", patience=1, min_delta=-0.09)[0] is None
    up = [0.0, 0.25, 0.5, 0.75]
    assert stop_epoch(up, mode="max", patience=1, min_delta=0.25)[0] == 1
    assert stop_epoch(up, mode="max", patience=1, min_delta=0.2)[0] is None


def test_sub_threshold_change_does_not_move_best():
    _, s = stop_epoch([1.0, 0.95, 0.93], mode="min", patience=5, min_delta=0.1)
    assert s.best == 1.0 and s.best_epoch == 0 and s.wait == 2


def test_baseline_must_be_beaten_to_reset_wait():
    # improving, but never below the baseline 0.5: wait counts every epoch since the start
    metrics = [0.9, 0.8, 0.85, 0.9, 0.4, 0.3]
    epoch, s = stop_epoch(metrics, mode="min", patience=3, baseline=0.5)
    assert epoch == 2 and s.best == 0.8 and s.wait == 3
    # once below the baseline, wait resets as usual
    epoch, s = stop_epoch([0.9, 0.45, 0.5, 0.5, 0.5], mode="min", patience=3, baseline=0.5)
    assert epoch == 4 and s.best_epoch == 1
    # max mode: must exceed the baseline
    assert stop_epoch([0.6, 0.7, 0.65], mode="max", patience=2, baseline=0.8)[0] == 2
    assert stop_epoch([0.6, 0.9, 0.65], mode="max", patience=2, baseline=0.8)[0] is None


def test_start_from_epoch_ignores_warmup_epochs():
    metrics = [5.0, 9.0, 9.0, 1.0, 2.0, 2.0]
    # epochs 0-2 ignored: best is 1.0 at epoch 3, stops at 5 with patience 2
    epoch, s = stop_epoch(metrics, mode="min", patience=2, start_from_epoch=3)
    assert epoch == 5 and s.best == 1.0 and s.best_epoch == 3
    assert stop_epoch(metrics, mode="min", patience=2)[0] == 2


def test_nan_counts_as_no_improvement_and_is_reported():
    stopper = EarlyStopping(mode="min", patience=2)
    assert not stopper.step(1.0)
    with pytest.warns(RuntimeWarning, match="NaN at epoch 1"):
        assert not stopper.step(float("nan"))
    assert stopper.best == 1.0 and stopper.wait == 1
    with pytest.warns(RuntimeWarning, match="NaN"):
        assert stopper.step(np.float32("nan"))
    assert stopper.best == 1.0 and stopper.stopped_epoch == 2


def test_after_stopping_step_keeps_returning_true():
    stopper = EarlyStopping(mode="min", patience=0)
    stopper.step(1.0)
    assert stopper.step(2.0)
    assert stopper.step(0.0) and stopper.stopped_epoch == 1 and stopper.best == 1.0


def test_accepts_tensors_and_arrays():
    stopper = EarlyStopping(mode="max", patience=0)
    stopper.step(minigrad.tensor(0.5))
    stopper.step(np.array(0.75))
    assert stopper.best == 0.75 and isinstance(stopper.best, float)


def test_reset():
    _, s = stop_epoch([1.0, 2.0], mode="min", patience=0)
    s.reset()
    assert (s.epoch, s.wait, s.best, s.best_epoch, s.stopped_epoch) == (0, 0, math.inf, None,
                                                                        None)


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "auto"}, "mode.*auto"),
    ({"mode": None}, "mode"),
    ({"patience": -1}, "patience.*-1"),
    ({"patience": 1.5}, "patience"),
    ({"min_delta": "x"}, "min_delta"),
    ({"min_delta": math.nan}, "min_delta"),
    ({"baseline": math.nan}, "baseline"),
    ({"start_from_epoch": -2}, "start_from_epoch"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**kwargs)


def test_restore_needs_a_model():
    with pytest.raises(ValueError, match="model"):
        EarlyStopping(restore_best_weights=True).step(1.0)


# --------------------------------------------------------------------------- weights

class TinyModule:
    """A stand-in with the Module state API, holding plain arrays."""

    def __init__(self):
        self.w = np.zeros((2, 3), dtype=np.float32)
        self.b = np.zeros(3, dtype=np.float32)

    def state_dict(self):
        return {"w": self.w, "b": self.b}  # shares memory, as Module.state_dict

    def load_state_dict(self, sd):
        self.w[...] = sd["w"]
        self.b[...] = sd["b"]


def _train_and_watch(model, params, metrics, rng, **kwargs):
    """Perturb the weights in place every epoch (as an optimizer would), then step."""
    stopper = EarlyStopping(restore_best_weights=True, **kwargs)
    snapshots = []
    for m in metrics:
        for p in params:
            p[...] += rng.standard_normal(p.shape).astype(p.dtype)
        snapshots.append([p.copy() for p in params])
        if stopper.step(m, model):
            break
    return stopper, snapshots


def test_restores_best_weights_exactly_stand_in(rng):
    model = TinyModule()
    metrics = [3.0, 2.0, 1.5, 1.7, 1.6, 1.8, 1.9]
    stopper, snaps = _train_and_watch(model, [model.w, model.b], metrics, rng, mode="min",
                                      patience=3)
    assert stopper.stopped_epoch == 5 and stopper.best_epoch == 2
    np.testing.assert_array_equal(model.w, snaps[2][0])
    np.testing.assert_array_equal(model.b, snaps[2][1])
    assert not np.array_equal(snaps[5][0], snaps[2][0])


def test_restores_best_weights_exactly_linear(rng):
    model = nn.Linear(4, 3)
    params = [model.weight.array, model.bias.array]
    metrics = [0.1, 0.3, 0.5, 0.4, 0.45, 0.2]
    stopper, snaps = _train_and_watch(model, params, metrics, rng, mode="max", patience=2)
    assert stopper.stopped_epoch == 4 and stopper.best_epoch == 2
    np.testing.assert_array_equal(model.weight.array, snaps[2][0])
    np.testing.assert_array_equal(model.bias.array, snaps[2][1])
    assert model.weight.dtype == np.float32


def test_restore_on_demand_and_first_epoch_fallback(rng):
    model = TinyModule()
    # never improves after epoch 0: the snapshot is epoch 0's weights
    stopper, snaps = _train_and_watch(model, [model.w, model.b], [1.0, 1.0, 1.0], rng,
                                      mode="min", patience=5)
    assert stopper.stopped_epoch is None and stopper.best_epoch == 0
    assert not np.array_equal(model.w, snaps[0][0])
    assert stopper.restore(model)
    np.testing.assert_array_equal(model.w, snaps[0][0])
    assert not EarlyStopping().restore(model)  # nothing kept: no change, False


def test_snapshot_is_a_copy_not_a_view(rng):
    model = nn.Linear(2, 2)
    stopper = EarlyStopping(mode="min", restore_best_weights=True, patience=3)
    stopper.step(1.0, model)
    kept = model.weight.array.copy()
    with minigrad.no_grad():
        model.weight.array[...] = 7.0
    np.testing.assert_array_equal(stopper.best_weights["weight"], kept)


# --------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("cut", [0, 1, 3, 4, 6])
def test_resumed_run_stops_where_uninterrupted_run_does(cut, rng):
    metrics = [2.0, 1.0, 1.2, 0.9, 0.95, 0.97, 0.99, 1.1, 0.5]
    kwargs = dict(mode="min", patience=3, min_delta=0.01, baseline=1.5, start_from_epoch=1)
    # the uninterrupted run
    model = TinyModule()
    stopper, snaps = _train_and_watch(model, [model.w, model.b], metrics,
                                      np.random.default_rng(5), **kwargs)
    assert stopper.stopped_epoch == 6 and stopper.best_epoch == 3
    # the same run, checkpointed after `cut` epochs and resumed in a fresh stopper
    model2 = TinyModule()
    r = np.random.default_rng(5)
    first = EarlyStopping(restore_best_weights=True, **kwargs)
    stop_at = None
    for epoch, m in enumerate(metrics):
        for p in (model2.w, model2.b):
            p[...] += r.standard_normal(p.shape).astype(p.dtype)
        if epoch == cut:
            state = pickle.loads(pickle.dumps(first.state_dict()))
            assert all(isinstance(v, np.ndarray) for v in (state["best_weights"] or {}).values())
            first = EarlyStopping(mode="max")  # settings come from the state too
            first.load_state_dict(state)
        if first.step(m, model2):
            stop_at = epoch
            break
    assert stop_at == 6
    assert (first.best, first.best_epoch, first.wait) == (stopper.best, stopper.best_epoch,
                                                          stopper.wait)
    np.testing.assert_array_equal(model2.w, model.w)
    np.testing.assert_array_equal(model2.w, snaps[3][0])


def test_load_state_dict_rejects_unknown_keys():
    with pytest.raises(KeyError, match="bogus"):
        EarlyStopping().load_state_dict({"bogus": 1})


def test_state_dict_is_independent_of_the_stopper():
    stopper = EarlyStopping(mode="min", restore_best_weights=True)
    model = TinyModule()
    stopper.step(1.0, model)
    state = stopper.state_dict()
    state["best_weights"]["w"][...] = 9.0
    assert not np.any(stopper.best_weights["w"] == 9.0)
    clone = copy.deepcopy(state)
    assert clone["best"] == 1.0


# --------------------------------------------------------------------------- callback use

class _State:
    def __init__(self, model):
        self.model = model
        self.stop_training = False


def test_on_epoch_end_adapter(rng):
    model = TinyModule()
    state = _State(model)
    stopper = EarlyStopping(mode="min", patience=1, monitor="val_loss")
    results = [stopper.on_epoch_end(state, {"loss": 0.0, "val_loss": v}) for v in (1.0, 0.5)]
    assert results == [False, False] and not state.stop_training
    assert stopper.on_epoch_end(state, {"val_loss": 0.7})
    assert state.stop_training
    # an epoch number instead of a state
    plain = EarlyStopping(mode="max", patience=0, monitor="val_accuracy")
    plain.on_epoch_end(0, {"val_accuracy": 0.5})
    assert plain.on_epoch_end(1, {"val_accuracy": 0.4})
    with pytest.raises(KeyError, match="val_accuracy"):
        plain.on_epoch_end(2, {"val_loss": 1.0})


def test_recognised_by_fit_callbacks():
    from minigrad.train.callbacks import is_early_stopping

    assert is_early_stopping(EarlyStopping())


def test_no_warning_for_finite_metrics():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stop_epoch([1.0, 2.0, 3.0], mode="min", patience=1)
