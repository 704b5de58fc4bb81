"""Learning-rate schedulers: sequences against torch-generated fixtures (see
fixtures/make_torch_schedules.py), closed forms for the schedules torch lacks, checkpoint round
trips, composition, ReduceLROnPlateau on scripted metrics, momentum / beta1 cycling, bad
arguments."""

import copy
import json
import math
import os
import pickle

import numpy as np
import pytest

import minigrad
from minigrad.optim import lr_scheduler as S
from minigrad.optim.optimizer import Optimizer
from tests.optim.fixtures.sched_specs import build

try:
    from minigrad.optim.adam import Adam
    from minigrad.optim.sgd import SGD
except ImportError:  # pragma: no cover - only while the optimizers are being written
    SGD = Adam = None

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
with open(os.path.join(FIX, "sched_torch.json")) as _f:
    CONFIG = json.load(_f)
REF = dict(np.load(os.path.join(FIX, "sched_torch.npz")))
STEPS = CONFIG["steps"]
BASE_LRS = CONFIG["base_lrs"]

# torch's recursive forms and our closed forms agree to round-off: relative 1e-12 is ~5000 ulp
# of accumulated products over 120 steps; absolute 1e-15 covers values that cross 0
RTOL, ATOL = 1e-12, 1e-15


class _LrOnly(Optimizer):
    """An optimizer with only a learning rate (no momentum, no betas)."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})

    def init_state(self, p, group):
        return {}

    def update(self, p, grad, state, group):
        p.array -= group["lr"] * grad


def make_optimizer(kind="sgd", lrs=BASE_LRS):
    p1 = minigrad.Parameter(np.zeros(3, dtype=np.float32))
    p2 = minigrad.Parameter(np.zeros(2, dtype=np.float32))
    groups = [{"params": [p1], "lr": lrs[0]}, {"params": [p2], "lr": lrs[1]}]
    if kind == "sgd":
        return SGD(groups, lr=0.1, momentum=0.9)
    if kind == "adam":
        return Adam(groups, lr=0.1, betas=(0.9, 0.999))
    return _LrOnly(groups)


pytestmark = pytest.mark.skipif(SGD is None, reason="minigrad.optim.sgd / adam not written yet")




def momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def run(spec, sched, opt, start, stop):
    """Step ``sched`` from step ``start`` to ``stop``; lrs and momenta after each step."""
    lrs, moms = [], []
    frac = spec.get("fractional")
    for k in range(start + 1, stop + 1):
        if frac:
            sched.step(k / frac)
        else:
            sched.step()
        lrs.append(sched.get_last_lr())
        moms.append(momenta(opt))
        assert [g["lr"] for g in opt.param_groups] == lrs[-1]
    return lrs, moms


CASES = CONFIG["cases"]


# --------------------------------------------------------------------------- against torch

@pytest.mark.parametrize("name", sorted(CASES))
def test_sequence_matches_torch(name):
    spec = CASES[name]
    opt = make_optimizer(spec.get("optimizer", "sgd"))
    sched = build(spec, opt, S)
    lrs, moms = run(spec, sched, opt, 0, STEPS)
    lrs = np.array(lrs, dtype=np.float64)
    ref_lr, ref_mom = REF[f"{name}/lr"], REF[f"{name}/momentum"]
    assert ref_lr.shape == (STEPS + 1, 2)
    np.testing.assert_allclose(lrs, ref_lr[1:], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(np.array(moms), ref_mom[1:], rtol=RTOL, atol=ATOL)
    # the two groups really differ, so a per-group mix-up would show
    assert not np.allclose(ref_lr[:, 0], ref_lr[:, 1])


@pytest.mark.parametrize("name", sorted(CASES))
def test_initial_step_matches_torch(name):
    spec = CASES[name]
    opt = make_optimizer(spec.get("optimizer", "sgd"))
    sched = build(spec, opt, S)
    np.testing.assert_allclose(sched.get_last_lr(), REF[f"{name}/lr"][0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(momenta(opt), REF[f"{name}/momentum"][0], rtol=RTOL, atol=ATOL)
    assert sched.last_epoch == 0
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()


@pytest.mark.parametrize("name", sorted(CONFIG["plateau"]))
def test_reduce_on_plateau_matches_torch(name):
    opt = make_optimizer()
    sched = S.ReduceLROnPlateau(opt, **CONFIG["plateau"][name])
    lrs = [sched.get_last_lr()]
    for m in REF["plateau/metrics"]:
        sched.step(float(m))
        lrs.append(sched.get_last_lr())
    ref = REF[f"{name}/lr"]
    np.testing.assert_allclose(np.array(lrs), ref, rtol=RTOL, atol=ATOL)
    assert len(np.unique(ref[:, 0])) >= 3  # the script really reduced, several times


# --------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_round_trip_continues_identically(name):
    spec = CASES[name]
    mid = 47
    opt = make_optimizer(spec.get("optimizer", "sgd"))
    sched = build(spec, opt, S)
    run(spec, sched, opt, 0, mid)
    saved_epoch = sched.last_epoch
    state = pickle.loads(pickle.dumps(sched.state_dict()))  # plain data, no functions
    expected = run(spec, sched, opt, mid, STEPS)

    opt2 = make_optimizer(spec.get("optimizer", "sgd"))
    sched2 = build(spec, opt2, S)
    sched2.step()  # state that must be overwritten
    sched2.load_state_dict(state)
    # the optimizer's lr (and momentum) are back at the saved step without its own state
    assert sched2.get_last_lr() == [g["lr"] for g in opt2.param_groups]
    assert sched2.last_epoch == saved_epoch
    assert run(spec, sched2, opt2, mid, STEPS) == expected


def test_state_dict_round_trip_reduce_on_plateau():
    metrics = [float(m) for m in REF["plateau/metrics"]]
    opt = make_optimizer()
    sched = S.ReduceLROnPlateau(opt, **CONFIG["plateau"]["plateau_min_rel"])
    for m in metrics[:50]:
        sched.step(m)
    state = pickle.loads(pickle.dumps(sched.state_dict()))
    expected = []
    for m in metrics[50:]:
        sched.step(m)
        expected.append(sched.get_last_lr())
    opt2 = make_optimizer()
    sched2 = S.ReduceLROnPlateau(opt2, **CONFIG["plateau"]["plateau_min_rel"])
    sched2.load_state_dict(state)
    got = []
    for m in metrics[50:]:
        sched2.step(m)
        got.append(sched2.get_last_lr())
    assert got == expected
    np.testing.assert_allclose(got, REF["plateau_min_rel/lr"][51:], rtol=RTOL)


def test_state_dict_keeps_callable_object_state():
    class Decay:
        def __init__(self):
            self.rate = 0.9

        def __call__(self, t):
            return self.rate ** t

    opt = make_optimizer()
    fn = Decay()
    sched = S.LambdaLR(opt, fn)
    fn.rate = 0.5
    state = sched.state_dict()
    fn2 = Decay()
    sched2 = S.LambdaLR(make_optimizer(), fn2)
    sched2.load_state_dict(state)
    assert fn2.rate == 0.5


def test_state_dict_does_not_alias():
    opt = make_optimizer()
    sched = S.MultiStepLR(opt, milestones=[3, 5])
    state = sched.state_dict()
    state["milestones"][100] = 1
    state["base_lrs"][0] = 123.0
    assert 100 not in sched.milestones and sched.base_lrs[0] == BASE_LRS[0]


STATE_CLASSES = [
    lambda o: S.StepLR(o, 3), lambda o: S.MultiStepLR(o, [2, 4]), lambda o: S.ExponentialLR(o, 0.9),
    lambda o: S.CosineAnnealingLR(o, 10), lambda o: S.ReduceLROnPlateau(o),
    lambda o: S.CyclicLR(o, 0.01, 0.1), lambda o: S.WarmupLR(S.StepLR(o, 3), 2),
    lambda o: S.SequentialLR(o, [S.ConstantLR(o), S.StepLR(o, 3)], [2]),
]


@pytest.mark.parametrize("i", range(len(STATE_CLASSES)))
@pytest.mark.parametrize("j", range(len(STATE_CLASSES)))
def test_state_dict_of_another_class_raises_and_changes_nothing(i, j):
    source = STATE_CLASSES[i](make_optimizer())
    opt = make_optimizer()
    target = STATE_CLASSES[j](opt)
    if type(source) is type(target):
        target.load_state_dict(source.state_dict())
        return
    before = (copy.deepcopy(target.state_dict()), copy.deepcopy(opt.param_groups))
    with pytest.raises(TypeError, match=f"{type(target).__name__}.load_state_dict: got the "
                                        f"state_dict of a {type(source).__name__}"):
        target.load_state_dict(source.state_dict())
    assert target.state_dict() == before[0]
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == \
        [{k: v for k, v in g.items() if k != "params"} for g in before[1]]


def test_state_dict_of_another_kind_without_class_name_raises():
    state = S.StepLR(make_optimizer(), 3).state_dict()
    del state["_class"]
    S.StepLR(make_optimizer(), 5).load_state_dict(state)         # same attributes: loads
    with pytest.raises(ValueError, match=r"ExponentialLR.load_state_dict: the state_dict is "
                                         r"not a ExponentialLR's: it lacks \['gamma'\]"):
        S.ExponentialLR(make_optimizer(), 0.9).load_state_dict(
            {k: v for k, v in state.items() if k != "gamma"})
    with pytest.raises(ValueError, match=r"has unexpected \['step_size'\]"):
        S.ExponentialLR(make_optimizer(), 0.9).load_state_dict(state)


def test_composite_with_a_wrong_part_raises_before_loading_any_part():
    opt = make_optimizer()
    parts = [S.ConstantLR(opt), S.StepLR(opt, 3)]
    seq = S.SequentialLR(opt, parts, [2])
    state = seq.state_dict()
    other = S.ExponentialLR(make_optimizer(), 0.9).state_dict()
    state["_schedulers"][1] = other
    state["last_epoch"] = 17
    state["_schedulers"][0]["last_epoch"] = 17
    with pytest.raises(TypeError, match="StepLR.load_state_dict: got the state_dict of a "
                                        "ExponentialLR"):
        seq.load_state_dict(state)
    assert seq.last_epoch == 0 and parts[0].last_epoch == 0


def test_plateau_and_chained_run_the_base_constructor():
    opt = make_optimizer()
    plateau = S.ReduceLROnPlateau(opt)
    assert plateau.base_lrs == BASE_LRS and plateau.last_epoch == 0
    assert [g["initial_lr"] for g in opt.param_groups] == BASE_LRS
    assert plateau.get_last_lr() == BASE_LRS and plateau.stepping == "metric"
    opt = make_optimizer()
    chained = S.ChainedScheduler([S.ExponentialLR(opt, 0.5), S.StepLR(opt, 2)])
    assert chained.base_lrs == BASE_LRS and chained.last_epoch == 0
    np.testing.assert_allclose(chained.get_last_lr(), BASE_LRS, rtol=1e-15)
    assert chained.stepping == "epoch"


def test_every_scheduler_class_says_how_it_is_stepped():
    for name in S.__all__:
        cls = getattr(S, name)
        if isinstance(cls, type) and issubclass(cls, S.LRScheduler) and cls is not S.LRScheduler:
            stepping = cls.stepping
            if isinstance(stepping, property):  # compositions: from their parts
                continue
            assert stepping in S.STEPPINGS, name
    assert S.StepLR.stepping == "epoch" and S.ReduceLROnPlateau.stepping == "metric"


def test_fit_steps_a_scheduler_as_its_stepping_attribute_says():
    from minigrad.train.fit import scheduler_kind

    class EveryBatch(S.StepLR):      # a name fit cannot know
        stepping = "batch"

    opt = make_optimizer()
    assert scheduler_kind(EveryBatch(opt, 3)) == "batch"
    assert scheduler_kind(S.StepLR(opt, 3)) == "epoch"
    assert scheduler_kind(S.ReduceLROnPlateau(opt)) == "metric"
    assert scheduler_kind(S.OneCycleLR(opt, 0.1, total_steps=10)) == "batch"
    assert scheduler_kind(S.WarmupLR(S.CyclicLR(opt, 0.01, 0.1), 3)) == "batch"

    class Odd(S.StepLR):
        stepping = "sometimes"
    with pytest.raises(ValueError, match="Odd.stepping must be 'batch', 'epoch' or 'metric', "
                                         "got 'sometimes'"):
        scheduler_kind(Odd(opt, 3))


def test_resume_with_last_epoch_matches_fresh_run():
    opt = make_optimizer()
    sched = S.CosineAnnealingLR(opt, T_max=20, eta_min=0.01)
    for _ in range(9):
        sched.step()
    expected = [sched.get_last_lr() for _ in range(5) if sched.step() is None]
    opt2 = make_optimizer()
    for g in opt2.param_groups:
        g["initial_lr"] = g["lr"]
    sched2 = S.CosineAnnealingLR(opt2, T_max=20, eta_min=0.01, last_epoch=9)
    assert sched2.last_epoch == 10
    assert sched2.get_last_lr() == expected[0]


def test_resume_without_initial_lr_raises():
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(make_optimizer(), step_size=3, last_epoch=4)


# --------------------------------------------------------------------------- closed forms

def _numpy_run(sched, steps=STEPS):
    out = [sched.get_last_lr()]
    for _ in range(steps):
        sched.step()
        out.append(sched.get_last_lr())
    return np.array(out)


def test_inverse_time_closed_form():
    t = np.arange(STEPS + 1, dtype=np.float64)[:, None]
    lr0 = np.array(BASE_LRS)[None, :]
    got = _numpy_run(S.InverseTimeLR(make_optimizer(), decay=0.3, power=1.7))
    np.testing.assert_allclose(got, lr0 / (1 + 0.3 * t) ** 1.7, rtol=1e-14)
    # power 0.5, decay 1: the Adagrad slide's eta / sqrt(t + 1)
    got = _numpy_run(S.InverseTimeLR(make_optimizer(), decay=1.0, power=0.5))
    np.testing.assert_allclose(got, lr0 / np.sqrt(t + 1), rtol=1e-14)


def test_exponential_decay_closed_form_and_exponential_lr():
    t = np.arange(STEPS + 1, dtype=np.float64)[:, None]
    lr0 = np.array(BASE_LRS)[None, :]
    k = 0.04
    got = _numpy_run(S.ExponentialDecay(make_optimizer(), k=k))
    np.testing.assert_allclose(got, lr0 * np.exp(-k * t), rtol=1e-14)
    same = _numpy_run(S.ExponentialLR(make_optimizer(), gamma=math.exp(-k)))
    np.testing.assert_allclose(same, got, rtol=1e-12)


def _warmup_factor(t, w, s, strategy):
    """The warm-up factor written independently of the implementation: the straight line
    through (0, s) and (W, 1), or the half-cosine through them as sin^2 (the half-angle
    identity (1 - cos x) / 2 = sin^2(x / 2)); 1 from W on."""
    if strategy == "linear":
        return np.interp(t, [0, w], [s, 1.0])
    return s + (1 - s) * np.sin(np.pi * np.minimum(t, w) / (2 * w)) ** 2


@pytest.mark.parametrize("strategy", ["linear", "cos"])
@pytest.mark.parametrize("start_factor", [0.0, 0.25])
def test_warmup_delays_inner_schedule_closed_form(strategy, start_factor):
    opt = make_optimizer()
    W, T = 10, 60
    sched = S.WarmupLR(S.CosineAnnealingLR(opt, T_max=T, eta_min=0.001), W,
                       start_factor=start_factor, strategy=strategy)
    got = _numpy_run(sched)
    t = np.arange(STEPS + 1, dtype=np.float64)[:, None]
    lr0 = np.array(BASE_LRS)[None, :]
    inner = 0.001 + (lr0 - 0.001) * (1 + np.cos(np.pi * np.maximum(t - W, 0) / T)) / 2
    np.testing.assert_allclose(got, _warmup_factor(t, W, start_factor, strategy) * inner,
                               rtol=1e-13, atol=1e-16)
    assert got[0, 0] == pytest.approx(start_factor * BASE_LRS[0], abs=1e-16)
    assert got[W].tolist() == pytest.approx(BASE_LRS)  # full lr exactly at the end of warm-up


def test_warmup_equals_sequential_and_chained_compositions():
    W, s = 8, 0.1
    a = _numpy_run(S.WarmupLR(S.ExponentialLR(make_optimizer(), 0.95), W, start_factor=s))
    opt = make_optimizer()
    b = _numpy_run(S.SequentialLR(opt, [S.LinearLR(opt, s, 1.0, W), S.ExponentialLR(opt, 0.95)],
                                  milestones=[W]))
    np.testing.assert_allclose(a, b, rtol=1e-13)
    c = _numpy_run(S.WarmupLR(S.ExponentialLR(make_optimizer(), 0.95), W, start_factor=s,
                              overlap=True))
    opt = make_optimizer()
    d = _numpy_run(S.ChainedScheduler([S.LinearLR(opt, s, 1.0, W), S.ExponentialLR(opt, 0.95)]))
    np.testing.assert_allclose(c, d, rtol=1e-13)


def test_warmup_of_optimizer_is_a_ramp_to_constant():
    got = _numpy_run(S.WarmupLR(make_optimizer(), 4), steps=10)
    t = np.arange(11, dtype=np.float64)[:, None]
    np.testing.assert_allclose(got, np.minimum(t / 4, 1) * np.array(BASE_LRS), rtol=1e-15)


def test_warmup_keeps_inner_momentum_cycling():
    opt = make_optimizer()
    inner = S.OneCycleLR(opt, max_lr=0.5, total_steps=100)
    sched = S.WarmupLR(inner, 5, overlap=True)
    assert sched.step_per_batch
    for _ in range(30):
        sched.step()
    assert momenta(opt) == [inner.momentum_at(30, i) for i in range(2)]
    assert sched.get_last_lr() == [inner.lr_at(30, b, i) for i, b in enumerate(inner.base_lrs)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_lr_at_is_the_sequence(name):
    """lr_at(t) is the one formula: it reproduces what step() wrote, at any t, in any order."""
    spec = CASES[name]
    frac = spec.get("fractional") or 1
    opt = make_optimizer(spec.get("optimizer", "sgd"))
    sched = build(spec, opt, S)
    ref = REF[f"{name}/lr"]
    for k in (100, 3, 57, 0, 120, 1):
        got = [sched.lr_at(k / frac, b, i) for i, b in enumerate(sched.base_lrs)]
        np.testing.assert_allclose(got, ref[k], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["step", "multistep", "cosine", "exponential", "polynomial",
                                  "linear", "lambda", "multiplicative", "cyclic_triangular2",
                                  "onecycle_cos", "cosine_restarts_mult", "sequential"])
def test_step_epoch_jump_equals_stepping(name):
    spec = CASES[name]
    opt = make_optimizer()
    sched = build(spec, opt, S)
    ref = REF[f"{name}/lr"]
    for t in (37, 5, 90):
        sched.step(t)
        assert sched.last_epoch == t
        np.testing.assert_allclose(sched.get_last_lr(), ref[t], rtol=RTOL, atol=ATOL)
    sched.step()
    np.testing.assert_allclose(sched.get_last_lr(), ref[91], rtol=RTOL, atol=ATOL)


def test_fractional_epochs_closed_form():
    """step(epoch) with fractional epochs: T_cur and T_i by hand for T_0=3, T_mult=2."""
    opt = make_optimizer()
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.001)
    # periods [0, 3), [3, 9), [9, 21), [21, 45)
    for epoch, t_cur, t_i in [(2.5, 2.5, 3), (3.0, 0.0, 6), (8.75, 5.75, 6), (9.2, 0.2, 12),
                              (20.999, 11.999, 12), (21.0, 0.0, 24), (44.5, 23.5, 24)]:
        sched.step(epoch)
        assert sched.last_epoch == math.floor(epoch)
        assert (sched.T_cur, sched.T_i) == (pytest.approx(t_cur, abs=1e-12), t_i)
        want = [0.001 + (b - 0.001) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
                for b in BASE_LRS]
        np.testing.assert_allclose(sched.get_last_lr(), want, rtol=1e-11)
    sched.step(2.25)
    sched.step()  # step() adds one to the fractional position, as torch
    assert sched.T_cur == pytest.approx(0.25) and sched.T_i == 6


# --------------------------------------------------------------------------- composition

def test_chained_is_product_of_factors():
    opt = make_optimizer()
    parts = [S.StepLR(opt, 10, 0.5), S.ExponentialLR(opt, 0.99), S.LinearLR(opt, 0.5, 1.0, 30)]
    got = _numpy_run(S.ChainedScheduler(parts), steps=80)
    t = np.arange(81, dtype=np.float64)[:, None]
    factor = 0.5 ** (t // 10) * 0.99 ** t * (0.5 + 0.5 * np.minimum(t, 30) / 30)
    np.testing.assert_allclose(got, factor * np.array(BASE_LRS), rtol=1e-13)


def test_sequential_nested_in_chained_and_step_per_batch():
    opt = make_optimizer()
    seq = S.SequentialLR(opt, [S.ConstantLR(opt, 0.5, 3), S.StepLR(opt, 4, 0.5)], [6])
    assert not seq.step_per_batch
    chain = S.ChainedScheduler([seq, S.ExponentialLR(opt, 0.9)])
    got = _numpy_run(chain, steps=20)
    t = np.arange(21, dtype=np.float64)
    seq_factor = np.where(t < 6, np.where(t < 3, 0.5, 1.0), 0.5 ** ((t - 6) // 4))
    np.testing.assert_allclose(got[:, 1], BASE_LRS[1] * seq_factor * 0.9 ** t, rtol=1e-13)
    opt = make_optimizer()
    seq = S.SequentialLR(opt, [S.LinearLR(opt, 0.5, 1.0, 3), S.CyclicLR(opt, 0.01, 0.1, 5)], [3])
    assert seq.step_per_batch and S.CyclicLR.stepping == "batch"
    assert S.OneCycleLR.stepping == "batch" and seq.stepping == "batch"


def test_sequential_and_chained_reject_bad_parts():
    opt, other = make_optimizer(), make_optimizer()
    a, b = S.StepLR(opt, 3), S.StepLR(other, 3)
    with pytest.raises(ValueError, match="different optimizer"):
        S.SequentialLR(opt, [a, b], [5])
    with pytest.raises(ValueError, match="different optimizer"):
        S.ChainedScheduler([a, b])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.ChainedScheduler([a, S.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.WarmupLR(S.ReduceLROnPlateau(opt), 3)
    with pytest.raises(ValueError, match="milestones"):
        S.SequentialLR(opt, [a, S.StepLR(opt, 3)], [5, 9])
    with pytest.raises(ValueError, match="at least one"):
        S.ChainedScheduler([])
    with pytest.raises(TypeError, match="LRScheduler.*got int"):
        S.SequentialLR(opt, [a, 3], [5])


# --------------------------------------------------------------------------- ReduceLROnPlateau

def _plateau_run(metrics, **kwargs):
    opt = make_optimizer(lrs=[1.0, 0.5])
    sched = S.ReduceLROnPlateau(opt, **kwargs)
    return [sched.get_last_lr()[0] for m in metrics if sched.step(m) is None]


def test_plateau_patience_and_cooldown_by_hand():
    # best 1.0 at epoch 1; bad epochs 2, 3, 4 (> patience 2) -> reduce at 4; cooldown 2 covers
    # epochs 5, 6 (bad epochs not counted); bad epochs 7, 8, 9 -> reduce at 9
    metrics = [1.0] + [1.0] * 8 + [0.1, 0.1]
    got = _plateau_run(metrics, patience=2, cooldown=2, factor=0.5)
    assert got == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]


@pytest.mark.parametrize("mode, threshold_mode, better, worse", [
    ("min", "rel", 0.989, 0.991),    # best * (1 - 0.01) = 0.99
    ("min", "abs", 0.989, 0.991),    # best - 0.01 = 0.99
    ("max", "rel", 1.011, 1.009),    # best * (1 + 0.01) = 1.01
    ("max", "abs", 1.011, 1.009),    # best + 0.01 = 1.01
])
def test_plateau_threshold_modes(mode, threshold_mode, better, worse):
    kw = dict(mode=mode, threshold_mode=threshold_mode, threshold=0.01, patience=0, factor=0.5)
    # patience 0: the second epoch reduces unless it beats the first by the threshold
    assert _plateau_run([1.0, better], **kw) == [1.0, 1.0]
    assert _plateau_run([1.0, worse], **kw) == [1.0, 0.5]


def test_plateau_min_lr_per_group_and_eps():
    opt = make_optimizer(lrs=[1.0, 0.5])
    sched = S.ReduceLROnPlateau(opt, patience=0, factor=0.1, min_lr=[0.05, 0.004])
    for m in [1.0, 2.0, 2.0, 2.0]:
        sched.step(m)
    assert sched.get_last_lr() == pytest.approx([0.05, 0.004])
    opt = make_optimizer(lrs=[1.0, 0.5])
    sched = S.ReduceLROnPlateau(opt, patience=0, factor=0.5, eps=0.3)
    sched.step(1.0)
    sched.step(2.0)  # group 0 changes by 0.5 > eps; group 1 by 0.25 <= eps: skipped
    assert sched.get_last_lr() == [0.5, 0.5]


def test_plateau_nan_is_a_bad_epoch():
    assert _plateau_run([1.0, math.nan], patience=0) == [1.0, pytest.approx(0.1)]


# --------------------------------------------------------------------------- momentum

def test_cyclic_momentum_on_sgd_and_beta1_on_adam():
    for kind in ("sgd", "adam"):
        opt = make_optimizer(kind)
        sched = S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4, base_momentum=0.8,
                           max_momentum=0.9)
        # at base_lr momentum is max; at the peak (t = 4) it is base
        assert momenta(opt) == [0.9, 0.9]
        for _ in range(4):
            sched.step()
        assert sched.get_last_lr() == pytest.approx([0.1, 0.1])
        assert momenta(opt) == pytest.approx([0.8, 0.8])
        assert sched.get_last_momentum() == momenta(opt)
        if kind == "adam":
            assert all(g["betas"][1] == 0.999 for g in opt.param_groups)


def test_onecycle_beta1_on_adam_and_phase_ends():
    opt = make_optimizer("adam")
    sched = S.OneCycleLR(opt, max_lr=[0.4, 0.2], total_steps=100, pct_start=0.3)
    assert sched.get_last_lr() == pytest.approx([0.4 / 25, 0.2 / 25])
    assert [g["betas"][0] for g in opt.param_groups] == [0.95, 0.95]
    sched.step(29)  # end of the rise: pct_start * total_steps - 1
    assert sched.get_last_lr() == pytest.approx([0.4, 0.2])
    assert [g["betas"][0] for g in opt.param_groups] == pytest.approx([0.85, 0.85])
    sched.step(99)
    assert sched.get_last_lr() == pytest.approx([0.4 / 25 / 1e4, 0.2 / 25 / 1e4])
    assert all(g["betas"][1] == 0.999 for g in opt.param_groups)


def test_onecycle_past_total_steps_raises():
    sched = S.OneCycleLR(make_optimizer(), max_lr=0.1, total_steps=5)
    for _ in range(5):
        sched.step()
    with pytest.raises(ValueError, match="total_steps=5"):
        sched.step()


def test_cycle_momentum_needs_momentum_or_betas():
    with pytest.raises(ValueError, match="momentum.*betas.*_LrOnly"):
        S.CyclicLR(make_optimizer("lr_only"), 0.01, 0.1)
    with pytest.raises(ValueError, match="momentum.*betas"):
        S.OneCycleLR(make_optimizer("lr_only"), 0.1, total_steps=10)
    sched = S.CyclicLR(make_optimizer("lr_only"), 0.01, 0.1, step_size_up=2,
                       cycle_momentum=False)
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.055, 0.055])


# --------------------------------------------------------------------------- bad arguments

def test_not_an_optimizer_raises_type_error_naming_the_type():
    class Fake:
        param_groups = [{"lr": 0.1}]

    for make in (lambda o: S.StepLR(o, 3), lambda o: S.LambdaLR(o, lambda t: 1.0),
                 lambda o: S.CyclicLR(o, 0.1, 1.0), lambda o: S.OneCycleLR(o, 0.1, 10),
                 lambda o: S.ReduceLROnPlateau(o), lambda o: S.SequentialLR(o, [], []),
                 lambda o: S.InverseTimeLR(o, 1.0), lambda o: S.WarmupLR(o, 3)):
        with pytest.raises(TypeError, match="Fake"):
            make(Fake())


BAD = [
    (lambda o: S.StepLR(o, step_size=-2), ValueError, "step_size.*-2"),
    (lambda o: S.StepLR(o, step_size=0), ValueError, "step_size"),
    (lambda o: S.StepLR(o, step_size=2.5), ValueError, "step_size"),
    (lambda o: S.StepLR(o, 3, gamma=0.0), ValueError, "gamma.*0.0"),
    (lambda o: S.MultiStepLR(o, [3, -1]), ValueError, "milestones.*-1"),
    (lambda o: S.MultiStepLR(o, [3], gamma=-0.5), ValueError, "gamma"),
    (lambda o: S.ExponentialLR(o, gamma=-0.1), ValueError, "gamma.*-0.1"),
    (lambda o: S.ExponentialLR(o, gamma=0), ValueError, "gamma"),
    (lambda o: S.ConstantLR(o, factor=1.5), ValueError, "factor.*1.5"),
    (lambda o: S.LinearLR(o, start_factor=0.0), ValueError, "start_factor"),
    (lambda o: S.LinearLR(o, end_factor=2.0), ValueError, "end_factor"),
    (lambda o: S.LinearLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: S.PolynomialLR(o, total_iters=-3), ValueError, "total_iters"),
    (lambda o: S.CosineAnnealingLR(o, T_max=0), ValueError, "T_max.*0"),
    (lambda o: S.CosineAnnealingLR(o, T_max=-5), ValueError, "T_max"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=0), ValueError, "T_mult"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=1.5), ValueError, "T_mult"),
    (lambda o: S.CyclicLR(o, 0.01, 0.1, mode="square"), ValueError, "mode.*square"),
    (lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=-1), ValueError, "step_size_up"),
    (lambda o: S.CyclicLR(o, 0.01, 0.1, scale_mode="epoch", scale_fn=abs), ValueError,
     "scale_mode"),
    (lambda o: S.CyclicLR(o, [0.01] * 3, 0.1), ValueError, "base_lr.*2.*3"),
    (lambda o: S.OneCycleLR(o, 0.1), ValueError, "total_steps"),
    (lambda o: S.OneCycleLR(o, 0.1, total_steps=0), ValueError, "total_steps"),
    (lambda o: S.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=-1), ValueError,
     "steps_per_epoch"),
    (lambda o: S.OneCycleLR(o, 0.1, 10, pct_start=1.5), ValueError, "pct_start"),
    (lambda o: S.OneCycleLR(o, 0.1, 10, anneal_strategy="exp"), ValueError,
     "anneal_strategy.*exp"),
    (lambda o: S.ReduceLROnPlateau(o, mode="lowest"), ValueError, "mode.*lowest"),
    (lambda o: S.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "threshold_mode"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
    (lambda o: S.ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "min_lr"),
    (lambda o: S.LambdaLR(o, [lambda t: 1.0]), ValueError, "lr_lambda"),
    (lambda o: S.LambdaLR(o, 0.5), TypeError, "lr_lambda.*float"),
    (lambda o: S.MultiplicativeLR(o, "x"), TypeError, "lr_lambda"),
    (lambda o: S.InverseTimeLR(o, decay=-1.0), ValueError, "decay"),
    (lambda o: S.InverseTimeLR(o, decay=1.0, power=-1), ValueError, "power"),
    (lambda o: S.ExponentialDecay(o, k=-0.1), ValueError, "k must"),
    (lambda o: S.WarmupLR(o, warmup_steps=0), ValueError, "warmup_steps"),
    (lambda o: S.WarmupLR(o, 5, start_factor=2.0), ValueError, "start_factor"),
    (lambda o: S.WarmupLR(o, 5, strategy="exp"), ValueError, "strategy"),
    (lambda o: S.StepLR(o, 3, last_epoch=-2), ValueError, "last_epoch"),
]


@pytest.mark.parametrize("make, exc, match", BAD)
def test_bad_arguments_raise_and_change_nothing(make, exc, match):
    opt = make_optimizer()
    before = [dict((k, v) for k, v in g.items() if k != "params") for g in opt.param_groups]
    with pytest.raises(exc, match=match):
        make(opt)
    assert [dict((k, v) for k, v in g.items() if k != "params")
            for g in opt.param_groups] == before
