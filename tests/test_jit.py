"""minigrad.jit: replayed steps are bit-identical to eager steps, and what cannot be replayed
is refused.

Every test runs the same training twice from the same seed, once eagerly and once through
``minigrad.jit`` (the first call records, the later ones replay), and compares losses,
parameters, buffers and optimizer state with ``np.array_equal``: the replay calls the same
NumPy functions on the same values in the same order, so equality is exact.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn, optim
from minigrad.autograd.function import Function
from minigrad.jit import JitFallbackWarning
from minigrad.optim import lr_scheduler
from minigrad.recording import replayed_whole

STEPS = 5


def w1(seed=0):  # W1's shape, small: MLP with ReLU
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(),
                         nn.Linear(8, 4))


def w2(seed=0):  # W2's shape, small: BatchNorm1d and Dropout
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(16, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(8, 4))


def w3(seed=0):  # W3's shape: 64-64-64-10 at batch 16
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, 10))


def batches(n_in, n_out, batch=6, count=STEPS, seed=1):
    rng = np.random.default_rng(seed)
    return [(mg.tensor(rng.standard_normal((batch, n_in)).astype(np.float32)),
             mg.tensor(rng.integers(0, n_out, batch))) for _ in range(count)]


def make_step(model, opt, sched=None):
    def train_step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        return loss
    return train_step


def host(a):
    return mg.backend.to_device(a, mg.backend.CPU).copy()


def snapshot(model, opt):
    """Every number the training owns: parameters, buffers, optimizer state, the generator."""
    arrays = [host(t.array) for t in model.state_dict().values()]
    state = opt.state_dict()
    for entry in state["state"].values():
        for k in sorted(entry):
            v = entry[k]
            arrays.append(host(v) if hasattr(v, "shape") else np.asarray(v))
    lrs = [g["lr"] for g in opt.param_groups]
    return arrays, lrs, mg.get_rng_state()


def assert_same(a, b):
    (xa, la, ra), (xb, lb, rb) = a, b
    assert len(xa) == len(xb)
    for u, v in zip(xa, xb):
        assert u.shape == v.shape and np.array_equal(u, v)
    assert la == lb and ra == rb


def train(build, make_opt, data, jitted, sched=None, between=None, device="cpu",
          make=make_step):
    model = build().to(device)
    data = [(x.to(device), y.to(device)) for x, y in data]
    opt = make_opt(model.parameters())
    s = sched(opt) if sched else None
    step = make(model, opt, s)
    if jitted:
        step = mg.jit(step)
    mg.manual_seed(7)  # the dropout masks' stream
    losses = []
    for i, (x, y) in enumerate(data):
        losses.append(host(step(x, y).array))
        if between is not None:
            between(i, model, opt)
    return losses, snapshot(model, opt), step


def check_identical(build, make_opt, data, sched=None, between=None, device="cpu",
                    make=make_step):
    eager = train(build, make_opt, data, False, sched, between, device, make)
    replay = train(build, make_opt, data, True, sched, between, device, make)
    for u, v in zip(eager[0], replay[0]):
        assert np.array_equal(u, v)
    assert_same(eager[1], replay[1])
    assert replay[2].program is not None  # the later calls replayed a program
    return replay[2]


OPTIMIZERS = {
    "SGD-momentum": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "Adam": lambda p: optim.Adam(p, lr=1e-2),
    "AdamW": lambda p: optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    "AMSGrad": lambda p: optim.AMSGrad(p, lr=1e-2),
    "Adagrad": lambda p: optim.Adagrad(p, lr=0.05),
    "Adadelta": lambda p: optim.Adadelta(p),
    "RMSprop": lambda p: optim.RMSprop(p, lr=1e-2, momentum=0.5),
    "Adamax": lambda p: optim.Adamax(p, lr=1e-2),
    "NAdam": lambda p: optim.NAdam(p, lr=1e-2),
    "RAdam": lambda p: optim.RAdam(p, lr=1e-2),
    "AdaBelief": lambda p: optim.AdaBelief(p, lr=1e-2),
    "DiffGrad": lambda p: optim.DiffGrad(p, lr=1e-2),
    "SWATS": lambda p: optim.SWATS(p, lr=1e-2),
    "FTRL": lambda p: optim.FTRL(p, lr=0.1),
    "Lion": lambda p: optim.Lion(p, lr=1e-3),
    "AngularGrad": lambda p: optim.AngularGrad(p, lr=1e-2),
    "AdaInject": lambda p: optim.AdaInject(p, lr=1e-2),
    "SGDW": lambda p: optim.SGDW(p, lr=0.05, momentum=0.9, weight_decay=0.01),
    "Adam-clipnorm": lambda p: optim.Adam(p, lr=1e-2, global_clipnorm=0.5),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_replays_bit_identically_on_w1(name):
    check_identical(w1, OPTIMIZERS[name], batches(12, 4))


@pytest.mark.parametrize("name", ["SGD-momentum", "Adam", "AdamW"])
def test_w2_batchnorm_and_dropout_replay_bit_identically(name):
    step = check_identical(w2, OPTIMIZERS[name], batches(12, 4))
    text = str(step.program)
    assert "Dropout.forward" in text and "batch_norm_statistics" in text


def test_w3_shapes_replay_bit_identically():
    check_identical(w3, OPTIMIZERS["Adam"], batches(64, 10, batch=16))


@pytest.mark.parametrize("sched", [
    lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
    lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=3),
    lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=STEPS + 1),
])
def test_a_scheduler_stepped_inside_the_step_changes_lr_between_replays(sched):
    check_identical(w1, OPTIMIZERS["Adam"], batches(12, 4), sched=sched)


def test_lr_changed_by_hand_between_replays_is_seen():
    def between(i, model, opt):
        opt.param_groups[0]["lr"] *= 0.5
    check_identical(w1, OPTIMIZERS["SGD-momentum"], batches(12, 4), between=between)


def test_a_new_batch_shape_records_a_new_program():
    data = batches(12, 4, batch=6) + batches(12, 4, batch=3, count=2) + batches(12, 4, count=2)
    step = check_identical(w1, OPTIMIZERS["Adam"], data)
    assert len(step.programs) == 2


def test_load_state_dict_between_replays_is_seen_by_the_next_replay():
    other = w1(seed=3)
    weights = {k: v.array.copy() for k, v in other.state_dict().items()}

    def between(i, model, opt):
        if i == 2:
            model.load_state_dict(weights)
            opt.load_state_dict(opt.state_dict())  # a checkpoint round trip of the optimizer
    check_identical(w1, OPTIMIZERS["Adam"], batches(12, 4), between=between)


def test_checkpoint_saved_between_replays_resumes_eagerly_to_the_same_numbers(tmp_path):
    data = batches(12, 4)
    eager = train(w2, OPTIMIZERS["AdamW"], data, False)
    model, opt = w2(), None
    opt = OPTIMIZERS["AdamW"](model.parameters())
    step = mg.jit(make_step(model, opt))
    mg.manual_seed(7)
    for x, y in data[:3]:
        step(x, y)
    path = tmp_path / "ck.npz"
    mg.save({"model": model.state_dict(), "opt": opt.state_dict(), "rng": mg.get_rng_state()},
            path)
    model2 = w2(seed=5)
    opt2 = OPTIMIZERS["AdamW"](model2.parameters())
    ck = mg.load(path)
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["opt"])
    mg.set_rng_state(ck["rng"])
    eager_step = make_step(model2, opt2)
    for x, y in data[3:]:
        eager_step(x, y)
    assert_same(eager[1], snapshot(model2, opt2))


def test_program_lists_forward_backward_and_update():
    model = w1()
    opt = optim.Adam(model.parameters())
    step = mg.jit(make_step(model, opt))
    (x, y), = batches(12, 4, count=1)
    step(x, y)
    lines = str(step.program).splitlines()
    assert lines[0].startswith("Adam.zero_grad()")
    assert lines[-1].startswith("Adam.step()")
    assert sum("Linear.forward" in line for line in lines) == 3
    assert sum("Linear.backward" in line for line in lines) == 3
    assert sum(".grad +=" in line for line in lines) == 6


def test_decorator_and_returned_structure():
    model = w1()
    opt = optim.SGD(model.parameters(), lr=0.1)

    @mg.jit
    def step(x, y):
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        return {"loss": loss, "logits": out, "n": 3}

    for x, y in batches(12, 4, count=3):
        res = step(x, y)
    assert set(res) == {"loss", "logits", "n"} and res["n"] == 3
    assert res["logits"].shape == (6, 4) and not res["loss"].requires_grad


# ---------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("read", [lambda t: t.item(), lambda t: float(t), lambda t: bool(t > 0),
                                  lambda t: t.detach().numpy(), lambda t: t.tolist()])
def test_reading_a_value_in_the_step_falls_back_to_eager_with_a_warning(read):
    def make_step(model, opt):
        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            if read(loss):  # value-dependent Python: cannot be replayed
                loss = loss * 1.0
            loss.backward()
            opt.step()
            return loss
        return step

    _assert_falls_back_to_eager(lambda params: optim.Adam(params, lr=1e-2), make_step,
                                "reads a value to Python")


@pytest.mark.parametrize("target", [
    lambda y: F.one_hot(y, 4).float(),  # one_hot, then the float cast op
    lambda y: F.one_hot(y, 4),  # int64: mse_loss casts it to the input's dtype (a kernel)
])
def test_one_hot_targets_are_kernels_of_the_step_and_replay_bit_identically(target):
    # the targets change at every step: a replay must encode each new batch's labels
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitFallbackWarning)
        step = check_identical(w1, lambda p: optim.Adam(p, lr=1e-2), batches(12, 4),
                               make=_mse_step_to(target))
    assert "one_hot_array" in str(step.program)


@pytest.mark.parametrize("target", [
    lambda y: mg.Tensor._wrap(np.eye(4, dtype=np.float32)[y.array]),  # raw NumPy, no op
])
def test_a_tensor_computed_outside_any_kernel_falls_back_instead_of_freezing(target):
    # the target changes at every step: bound as a constant, a replay would read the first
    _assert_falls_back_to_eager(lambda params: optim.Adam(params, lr=1e-2),
                                _mse_step_to(target), "no recorded kernel made")


def _mse_step_to(target):
    """A step maker (``make(model, opt, sched=None)``) whose loss is the MSE between the
    model's softmax and ``target(y)``."""
    def make(model, opt, sched=None):
        def step(x, y):
            opt.zero_grad()
            loss = F.mse_loss(model(x).softmax(-1), target(y))
            loss.backward()
            opt.step()
            return loss
        return step
    return make


def _assert_falls_back_to_eager(make_optimizer, make_step, match: str) -> None:
    """Three steps eagerly and under jit: the jitted step warns (``match``), keeps no program,
    and gives bit-identical losses, parameters and optimizer state."""
    data = batches(12, 4)

    def run(jitted):
        model = w1()
        opt = make_optimizer(model.parameters())
        step = make_step(model, opt)
        s = mg.jit(step) if jitted else step
        return [s(x, y).array.copy() for x, y in data], snapshot(model, opt), s

    eager = run(False)
    with pytest.warns(JitFallbackWarning, match=match):
        replay = run(True)
    assert replay[2].program is None
    assert all(np.array_equal(u, v) for u, v in zip(eager[0], replay[0]))
    assert_same(eager[1], replay[1])


def _recorded_w2():
    model = w2()
    opt = optim.Adam(model.parameters())
    step = mg.jit(make_step(model, opt))
    (x, y), = batches(12, 4, count=1)
    step(x, y)
    return model, opt, step, x, y


def test_switching_train_and_eval_after_capture_is_refused():
    model, opt, step, x, y = _recorded_w2()
    model.eval()
    with pytest.raises(RuntimeError, match="recorded in train mode and is now in eval mode"):
        step(x, y)
    model.train()
    step(x, y)


def test_replacing_a_parameter_after_capture_is_refused():
    model, opt, step, x, y = _recorded_w2()
    model[0].weight = nn.Parameter(mg.zeros(16, 12))
    with pytest.raises(RuntimeError, match="added, removed or replaced"):
        step(x, y)


def test_a_parameter_given_a_new_array_is_read_by_the_next_replay():
    # as an optimizer that lays parameters out in one flat buffer does (p.array becomes a view)
    def between(i, model, opt):
        if i in (0, 2):
            for q in model.parameters():
                q.array = q.array.copy()
    check_identical(w2, OPTIMIZERS["Adam"], batches(12, 4), between=between)


def test_a_buffer_given_a_new_array_is_refused():
    model, opt, step, x, y = _recorded_w2()
    model[1].running_mean.array = model[1].running_mean.array.copy()
    with pytest.raises(RuntimeError, match="buffer of shape .16,. got a new array"):
        step(x, y)


def test_changing_the_optimizer_param_groups_is_refused():
    model, opt, step, x, y = _recorded_w2()
    opt.add_param_group({"params": [nn.Parameter(mg.zeros(3))]})
    with pytest.raises(RuntimeError, match="parameter groups of Adam changed"):
        step(x, y)
    step.reset()
    step(x, y)  # records again


def test_a_closure_or_backward_options_fall_back_to_eager():
    model = w1()
    opt = optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            return loss
        return opt.step(closure)

    s = mg.jit(step)
    (x, y), = batches(12, 4, count=1)
    with pytest.warns(JitFallbackWarning, match="closure"):
        s(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s(x, y)  # the signature stays eager: no second warning
    assert s.program is None


def test_input_that_requires_grad_falls_back():
    model = w1()
    s = mg.jit(lambda x: model(x).sum())
    x = mg.randn(3, 12, requires_grad=True)
    with pytest.warns(JitFallbackWarning, match="requires grad"):
        s(x)


def test_jit_rejects_a_non_callable_and_unhashable_constants():
    with pytest.raises(TypeError, match="expects a function"):
        mg.jit(3)
    s = mg.jit(lambda x, opts: x)
    with pytest.raises(TypeError, match="hashable"):
        s(mg.zeros(2), [1, 2])


def test_a_replay_builds_no_graph_and_runs_no_engine(monkeypatch):
    from minigrad.autograd import engine
    from minigrad.autograd.function import Function
    model = w2()
    opt = optim.Adam(model.parameters())
    step = mg.jit(make_step(model, opt))
    data = batches(12, 4, count=3)
    step(*data[0])

    def boom(*args, **kwargs):
        raise AssertionError("the replay built a graph node or ran the engine")
    monkeypatch.setattr(Function, "apply", classmethod(boom))
    monkeypatch.setattr(engine, "run_backward", boom)
    for x, y in data[1:]:
        loss = step(x, y)
    assert loss.grad_fn is None and np.isfinite(loss.array)


# ---------------------------------------------------------------------------- CUDA graphs

def test_segments_split_device_kernels_from_host_kernels():
    from minigrad.jit import _segments
    assert _segments([]) == []
    assert _segments([True, False, False, True, True, False]) == [
        (False, 0, 1), (True, 1, 3), (False, 3, 5), (True, 5, 6)]


def test_host_kernels_are_the_ones_a_cuda_graph_cannot_hold():
    model, opt, step, x, y = _recorded_w2()
    program = step.program
    host = {line.split("(")[0].split("= ")[-1]: h for line, h in zip(program.lines, program.host)}
    assert host["Dropout.forward"] and host["Adam.step"] and host["Adam.zero_grad"]
    assert host["Dropout.backward"]  # it reads the mask its forward drew from Python
    assert host["batch_norm_statistics"] and host["check_classes"]
    assert not host["Linear.forward"] and not host["Linear.backward"]
    assert not host["BatchNorm.backward"] and not host["CrossEntropy.forward"]
    assert all(h for line, h in zip(program.lines, program.host) if ".grad +=" in line)


@pytest.mark.parametrize("build", [w1, w2])
@pytest.mark.parametrize("name", ["SGD-momentum", "Adam"])
def test_replay_is_bit_identical_on_every_device(device, build, name):
    step = check_identical(build, OPTIMIZERS[name], batches(12, 4), device=device)
    if device == "cuda":  # the device segments were captured into CUDA graphs and launched
        graphs = step.program.cuda_graphs
        assert graphs is not None and graphs.usable and graphs.graphs is not None
        assert any(g is not None for g in graphs.graphs)


def test_other_threads_are_not_recorded_into_the_step():
    import threading
    model = w1()
    opt = optim.SGD(model.parameters(), lr=0.1)
    other = w1(seed=2)
    xo = mg.randn(4, 12)
    box = {}

    def elsewhere():  # eager work of another thread, in the middle of the capture
        loss = other(xo).sum()
        loss.backward()
        box["item"] = loss.item()

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        t = threading.Thread(target=elsewhere)
        t.start()
        t.join()
        loss.backward()
        opt.step()
        return loss

    s = mg.jit(step)
    data = batches(12, 4, count=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s(*data[0])
    assert "item" in box and other[0].weight.grad is not None
    text = str(s.program)
    assert text.count("Linear.forward") == 3 and "sum" not in text.lower()
    s(*data[1])


@pytest.mark.parametrize("write", [
    lambda model: nn.utils.clip_grad_norm_(model.parameters(), 0.1),
    lambda model: model[0].weight.grad.mul_(0.5),
])
def test_in_place_writes_outside_ops_fall_back_to_eager(write):
    def make_step(model, opt):
        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            write(model)  # not an op: a replay would skip it
            opt.step()
            return loss
        return step

    _assert_falls_back_to_eager(lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
                                make_step, "in-place write|returned a value")


def test_a_hand_written_update_falls_back_to_eager():
    model = w1()

    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        with mg.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
                p.grad = None
        return loss
    s = mg.jit(step)
    (x, y), = batches(12, 4, count=1)
    with pytest.warns(JitFallbackWarning, match="in-place write"):
        s(x, y)


@pytest.mark.filterwarnings("error::minigrad.jit.JitFallbackWarning")
def test_an_eval_step_and_grads_kept_between_steps_replay_identically():
    data = batches(12, 4)

    def run(jitted):
        model = w2()
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

        def train_step(x, y):  # no set_to_none: gradients accumulate into the same arrays
            opt.zero_grad(set_to_none=False)
            loss = F.cross_entropy(model(x), y) + F.cross_entropy(model(x * 0.5), y)
            loss.backward()
            opt.step()
            return loss

        def eval_step(x):
            return model(x).argmax(1)

        t, e = (mg.jit(train_step), mg.jit(eval_step)) if jitted else (train_step, eval_step)
        mg.manual_seed(7)
        out = []
        for x, y in data:
            model.train()
            out.append(t(x, y).array.copy())
            model.eval()
            out.append(e(x).array.copy())
        return out, snapshot(model, opt)

    eager, replay = run(False), run(True)
    assert all(np.array_equal(u, v) for u, v in zip(eager[0], replay[0]))
    assert_same(eager[1], replay[1])


def test_an_error_in_the_recording_call_leaves_no_program_and_no_recorder():
    from minigrad import recording
    model = w1()
    opt = optim.SGD(model.parameters(), lr=0.1)
    fail = [True]

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        if fail[0]:
            raise KeyError("boom")
        loss.backward()
        opt.step()
        return loss

    s = mg.jit(step)
    (x, y), = batches(12, 4, count=1)
    with pytest.raises(KeyError):
        s(x, y)
    assert recording.recorder[0] is None and not s.programs
    fail[0] = False
    s(x, y)
    s(x, y)
    assert s.program is not None


def test_jit_as_a_method_decorator_records_one_program_per_instance():
    class Trainer:
        def __init__(self, seed):
            self.model = w1(seed)
            self.opt = optim.SGD(self.model.parameters(), lr=0.1)

        @mg.jit
        def step(self, x, y):
            self.opt.zero_grad()
            loss = F.cross_entropy(self.model(x), y)
            loss.backward()
            self.opt.step()
            return loss

    a, b = Trainer(0), Trainer(1)
    data = batches(12, 4, count=3)
    for x, y in data:
        a.step(x, y)
        lb = b.step(x, y)
    assert len(Trainer.step.programs) == 2
    ref = w1(1)
    opt = optim.SGD(ref.parameters(), lr=0.1)
    for x, y in data:
        lr_ = make_step(ref, opt)(x, y)
    assert np.array_equal(lr_.array, lb.array)
    assert all(np.array_equal(p.array, q.array) for p, q in zip(ref.parameters(),
                                                                 b.model.parameters()))


# ---------------------------------------------------------------------------- lowering
# The replay runs each kernel as NumPy calls into buffers (minigrad/lowering.py). A lowered
# kernel must compute what its op computes on *any* input, not only on the recorded one.

LOWERED_OPS = [
    ("ReLU", [(5, 4)], {}), ("Tanh", [(5, 4)], {}), ("Sigmoid", [(5, 4)], {}),
    ("LeakyReLU", [(5, 4)], {"slope": 0.1}), ("ELU", [(5, 4)], {"alpha": 1.0}),
    ("GELU", [(5, 4)], {"approximate": "tanh"}), ("SiLU", [(5, 4)], {}),
    ("Softplus", [(5, 4)], {"beta": 1.0, "threshold": 2.0}),
    ("Softmax", [(5, 4)], {"axis": 1}), ("LogSoftmax", [(5, 4)], {"axis": 1}),
    ("Linear", [(5, 4), (3, 4), (3,)], {}), ("MatMul", [(5, 4), (4, 3)], {}),
    ("Mul", [(5, 4), (4,)], {}), ("Div", [(5, 4), (5, 4)], {}), ("Exp", [(5, 4)], {}),
    ("Abs", [(5, 4)], {}), ("Maximum", [(5, 4), (5, 4)], {}),
    ("Max", [(5, 4)], {"axis": (1,), "keepdims": False}),
    ("Var", [(5, 4)], {"axis": (1,), "keepdims": True, "correction": 1}),
]


def _op_class(name):
    from minigrad import ops
    for family in ("activation", "elementwise", "reduce", "linalg"):
        op = getattr(getattr(ops, family), name, None)
        if op is not None:
            return op
    raise LookupError(name)


def _lower_op(op, arrays, params):
    """Lower ``op``'s forward, then its backward, on copies of ``arrays`` (slots 0..n-1 of
    ``env``; the upstream gradient is slot n)."""
    from minigrad.lowering import Lowerer
    low = Lowerer()
    env = list(arrays)
    low.begin()
    traced = [low.copy_in(a, env, i) for i, a in enumerate(arrays)]
    shadow = op.__new__(op)
    lowered = low.lower(shadow.forward, traced, params)
    assert lowered is not None, low.why
    forward, y = lowered
    env.append(np.ones(np.shape(y), np.float32))
    low.begin()
    grad = low.copy_in(env[-1], env, len(arrays))
    shadow.needs_input_grad = (True,) * len(arrays)
    lowered = low.lower(lambda g: shadow.backward(g, *shadow.saved), [grad], {})
    assert lowered is not None, low.why
    backward, grads = lowered
    return env, forward + backward, y, grads


def test_an_op_whose_result_a_traced_call_did_not_write_is_not_lowered():
    # Sum.backward broadcasts with plain[...] = grad: a write the lowering cannot see, so
    # lowered, the gradient would stay the recorded one forever
    from minigrad.lowering import Lowerer
    op = _op_class("Sum")
    low = Lowerer()
    env = [np.ones((5, 4), np.float32), np.ones(5, np.float32)]
    low.begin()
    shadow = op.__new__(op)
    assert low.lower(shadow.forward, [low.copy_in(env[0], env, 0)],
                     {"axis": (1,), "keepdims": False}) is not None
    low.begin()
    shadow.needs_input_grad = (True,)
    assert low.lower(shadow.backward, [low.copy_in(env[1], env, 1)], {}) is None
    assert "no traced call wrote" in low.why


@pytest.mark.parametrize("name, shapes, params", LOWERED_OPS, ids=[c[0] for c in LOWERED_OPS])
def test_a_lowered_op_equals_the_op_on_new_inputs(name, shapes, params):
    op = _op_class(name)
    rng = np.random.default_rng(3)

    def draw(shape):
        return (rng.standard_normal(shape) * rng.choice([0.1, 1.0, 5.0])).astype(np.float32)

    env, code, y, grads = _lower_op(op, [draw(s) for s in shapes], params)
    for _ in range(4):  # new values in the same slots: the instructions run on them
        env[:] = [draw(s) for s in shapes] + [draw(np.shape(y))]
        for func, args, kwargs in code:
            func(*args, **kwargs)
        fn = op.__new__(op)  # the op itself, on the same values
        want = fn.forward(*env[:-1], **params)
        fn.needs_input_grad = (True,) * len(shapes)
        want_grads = fn.backward(env[-1], *fn.saved)
        assert np.array_equal(np.asarray(y), np.asarray(want))
        for g, w in zip(grads, want_grads):
            assert (g is None) == (w is None)
            assert g is None or np.array_equal(np.asarray(g), np.asarray(w))


class _ScaleByMax(Function):
    """y = x / s with s = max(1, max |x|) read to Python: a branch on a value."""

    def forward(self, x):
        self.s = x.dtype.type(max(1.0, float(np.abs(x).max())))
        return x / self.s

    def backward(self, grad):
        return (grad / self.s,)


class _Leaky(Function):
    """y = x where x > 0, else x / 10 (np.where, astype, a mask kept for backward)."""

    def forward(self, x):
        self.mask = (x > 0).astype(x.dtype)
        return np.where(x > 0, x, x * x.dtype.type(0.1))

    def backward(self, grad):
        return (grad * (self.mask + (1 - self.mask) * grad.dtype.type(0.1)),)


def _custom_op_step(op):
    def build():
        return w1()

    def step_of(model, opt):
        def train_step(x, y):
            opt.zero_grad()
            h = model[0](x)
            z = op.apply(h)
            extra = None
            if z.shape != h.shape:  # a penalty beside the loss, through Mean too
                z, extra = h, z.mean() * 0.01
            loss = F.cross_entropy(model[4](model[3](model[2](model[1](z)))), y)
            if extra is not None:
                loss = loss + extra
            loss.backward()
            opt.step()
            return loss
        return train_step

    def run(jitted):
        model = build()
        opt = optim.Adam(model.parameters(), lr=1e-2)
        step = mg.jit(step_of(model, opt)) if jitted else step_of(model, opt)
        scales = [1.0, 30.0, 0.01, 300.0, 1.0]  # max |h| crosses 1 back and forth
        losses = [step(x * scale, y).array.copy()
                  for (x, y), scale in zip(batches(12, 4), scales)]
        return losses, snapshot(model, opt), step
    return run


class _MeanOfSquares(Function):
    """y = mean(x^2) over rows, keeps 2x for backward; backward broadcasts with a plain write
    (not lowered) while the forward is lowered."""

    def forward(self, x):
        self.twice = x * x.dtype.type(2)
        return (x * x).mean(axis=1)

    def backward(self, grad):
        out = np.empty(self.twice.shape, self.twice.dtype)
        out[...] = grad[:, None]
        return (out * self.twice * grad.dtype.type(1 / self.twice.shape[1]),)


@pytest.mark.parametrize("op, lowered", [(_ScaleByMax, False), (_Leaky, True),
                                         (_MeanOfSquares, None)])
def test_a_kernel_whose_result_depends_on_input_values_is_not_frozen(op, lowered):
    run = _custom_op_step(op)
    eager, replay = run(False), run(True)
    assert all(np.array_equal(u, v) for u, v in zip(eager[0], replay[0]))
    assert_same(eager[1], replay[1])
    program = replay[2].program
    why = dict(program.not_lowered)
    if lowered:
        assert f"{op.__name__}.forward" not in why and f"{op.__name__}.backward" not in why
    elif lowered is None:  # forward lowered, backward op-level on the forward's buffers
        assert f"{op.__name__}.forward" not in why
        assert "no traced call" in why[f"{op.__name__}.backward"]
    else:  # it reads a value to Python: it stays an op-level kernel, and so does backward
        assert "reads a value to Python" in why[f"{op.__name__}.forward"]
        assert "Linear.forward" not in why and program.lowering_off is None


def test_a_w3_step_is_lowered_whole_and_listed():
    model = w3()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    step = mg.jit(make_step(model, opt))
    for x, y in batches(64, 10, batch=16, count=3):
        step(x, y)
    program = step.program
    assert program.not_lowered == [] and program.lowering_off is None
    # what stays in Python: the calls replayed whole, the target check, the .grad sinks
    # (one kernel: the gradients are written into the flat buffer, docs/jit.md)
    kept = {getattr(k[0], "__name__", None) or k[0].func.__name__ for k in program.replay}
    assert kept == {"_call", "run", "_check_classes", "_put_grads"}
    lines = program.instructions.splitlines()
    assert len(lines) == len(program.code)
    assert "matmul(in0(16, 64), Sequential.0.weight.T, out=%" in lines[1]
    # the gradients are computed into the optimizer's flat layout (docs/jit.md)
    assert sum(" in grad(Adam))" in line for line in lines) == 6


def test_w3_replays_bit_identically_with_and_without_lowering():
    data = batches(64, 10, batch=16)
    for name in ("Adam", "SGD-momentum", "Lion"):
        check_identical(w3, OPTIMIZERS[name], data)


def lean_kernel(program):
    """The replayed kernel of ``Optimizer._replay_step``, or None."""
    for k in program.replay:
        if getattr(k[0], "args", None) and getattr(k[0].args[0], "__name__", "") == "_replay_step":
            return k
    return None


def test_results_are_copies_and_grads_live_in_the_flat_gradient_buffer_until_the_next_replay():
    model, eager_model = w3(), w3()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    eager_opt = optim.Adam(eager_model.parameters(), lr=1e-2)
    step, eager = mg.jit(make_step(model, opt)), make_step(eager_model, eager_opt)
    losses, grads, kept = [], [], []
    for x, y in batches(64, 10, batch=16, count=5):
        loss = step(x, y)
        eager(x, y)
        losses.append((loss, loss.array.copy()))
        grads.append([p.grad for p in model.parameters()])
        kept.append([p.grad.clone() for p in model.parameters()])
        for p, q in zip(model.parameters(), eager_model.parameters()):  # eager's gradients
            assert np.array_equal(p.grad.array, q.grad.array)
    for loss, value in losses:  # the loss tensors handed back keep their values
        assert np.array_equal(loss.array, value)
    _, _, (flats, buffers, _), _ = lean_kernel(step.program)[0].args
    for i, (a, b) in enumerate(zip(grads[-1], grads[-2])):
        # the rule (docs/jit.md, "Aliasing"): each .grad is the same Tensor at every replay,
        # on its view of the program's flat gradient buffer, which the next replay rewrites
        assert a is b and np.shares_memory(a.array, buffers[0])
        assert np.array_equal(a.array, kept[-1][i].array)
        assert not np.array_equal(a.array, kept[-2][i].array)  # clone() kept step 4's


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_step_is_replayed_lean_when_its_groups_are_flat(name):
    step = check_identical(w3, OPTIMIZERS[name], batches(64, 10, batch=16))
    flat = name != "Adam-clipnorm"  # a global norm: summed per gradient, never lean
    assert (lean_kernel(step.program) is not None) == flat
    assert ("._replay_step, on the gradients" in str(step.program)) == flat


def test_gradients_of_op_level_kernels_are_copied_into_the_flat_layout():
    step = check_identical(w2, OPTIMIZERS["Adam"], batches(12, 4))  # BatchNorm: op-level
    copies = [k for k in step.program.replay if getattr(k[0], "func", None) is np.copyto]
    assert lean_kernel(step.program) is not None and copies
    _, _, (flats, buffers, _), _ = lean_kernel(step.program)[0].args
    for k in copies:
        assert np.shares_memory(k[0].args[0], buffers[0])


def test_eager_steps_between_replays_see_and_leave_the_same_numbers():
    data = batches(64, 10, batch=16, count=8)

    def run(jitted):
        model = w3()
        opt = optim.Adam(model.parameters(), lr=1e-2)
        eager = make_step(model, opt)
        step = mg.jit(eager) if jitted else eager
        losses = []
        for i, (x, y) in enumerate(data):  # every third step eager, the others replayed
            losses.append((eager if i % 3 == 2 else step)(x, y).array.copy())
            losses.append(np.concatenate([p.grad.array.ravel() for p in model.parameters()]))
        return losses, snapshot(model, opt), step

    eager, replay = run(False), run(True)
    assert all(np.array_equal(u, v) for u, v in zip(eager[0], replay[0]))
    assert_same(eager[1], replay[1])
    assert lean_kernel(replay[2].program) is not None


def test_an_optimizer_that_overrides_step_is_replayed_whole():
    class Counting(optim.Adam):
        calls = 0

        @replayed_whole  # (an override that is not decorated is not replayed at all)
        def step(self, closure=None):
            Counting.calls += 1
            return super().step(closure)

    step = check_identical(w3, lambda p: Counting(p, lr=1e-2), batches(64, 10, batch=16))
    assert lean_kernel(step.program) is None and Counting.calls == 2 * STEPS


def test_a_group_with_large_parameters_is_laid_out_whole_and_replayed_lean():
    def build(seed=0):  # mean size above FLAT_MEAN_NUMEL: the 300x128 weight per tensor
        mg.manual_seed(seed)
        return nn.Sequential(nn.Linear(300, 128), nn.ReLU(), nn.Linear(128, 10))

    data = batches(300, 10, batch=8)
    extra = batches(300, 10, batch=8, count=1)[0]

    def between(i, model, opt):
        if i == 2:
            opt.load_state_dict(opt.state_dict())  # the next replay takes the full step
        if i == 3:  # an eager step on the whole layout, between replays
            opt.zero_grad()
            F.cross_entropy(model(extra[0]), extra[1]).backward()
            opt.step()

    for name in ("Adam", "SGD-momentum", "NAdam", "AdamW"):
        for hook in (None, between):
            seen = []
            train(build, OPTIMIZERS[name], data, False, between=lambda i, m, o, s=seen: s.append(o))
            # eager: the large weight stepped per tensor at first, then (nn.Linear writes
            # every gradient into its home: Optimizer._grad_homes) laid out whole too
            assert seen[0]._flat[0].others == [] and seen[0]._homes_tried
            step = check_identical(build, OPTIMIZERS[name], data, between=hook)
            _, opt, (flats, grads, other_grads), _ = lean_kernel(step.program)[0].args
            assert flats[0].others == [] and other_grads == [[]]  # one flat pass
            assert len(flats[0].params) == 4 and flats[0] is opt._flat[0]
            weight = opt.param_groups[0]["params"][0]
            assert np.shares_memory(weight.array, flats[0].param)
            assert np.shares_memory(weight.grad.array, grads[0])
            assert not step.moved  # the layout the recording asked for is not counted
            # laid out whole, the large weight keeps its column-major layout (nn.Linear)
            assert weight.array.flags.f_contiguous and not weight.array.flags.c_contiguous
            assert weight.grad.array.strides == weight.array.strides


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_linear_weight_gradients_are_written_by_blas_into_their_column_major_views(
        name, column_major_linear):
    """nn.Linear weights stored F-contiguous: the lowered backward computes each weight's
    gradient as matmul(x.T, g) straight into the transpose of its F-contiguous view of the
    optimizer's flat gradient buffer (a C-contiguous out=, so BLAS writes it), with no copy
    kernel; replays stay bit-identical to eager steps (check_identical), for every optimizer
    (a global norm is not replayed lean: bit-identity only)."""
    step = check_identical(w3, OPTIMIZERS[name], batches(64, 10, batch=16, count=6))
    program = step.program
    lean = lean_kernel(program)
    assert (lean is not None) == (name != "Adam-clipnorm")
    if lean is None:
        return
    _, opt, (flats, grads, _), _ = lean[0].args
    lines = program.instructions.splitlines()
    written = [line for line in lines if f".T in grad({type(opt).__name__}))" in line]
    assert len(written) == 3 and all(line.startswith("matmul(") for line in written)
    assert not any(getattr(k[0], "func", None) is np.copyto for k in program.replay)
    for p in opt.param_groups[0]["params"]:
        assert p.grad.array.base is grads[0] and p.grad.array.strides == p.array.strides
        if p.ndim == 2:
            assert p.array.flags.f_contiguous and not p.array.flags.c_contiguous


def test_a_large_parameter_that_cannot_move_is_stepped_per_tensor_in_the_lean_step():
    def build(seed=0):  # the weight a view of another array: no flat buffer may take it
        mg.manual_seed(seed)
        model = nn.Sequential(nn.Linear(300, 128), nn.ReLU(), nn.Linear(128, 10))
        model[0].weight.array = model[0].weight.array.copy().reshape(-1).reshape(128, 300)
        return model

    def between(i, model, opt):
        if i == 2:
            opt.load_state_dict(opt.state_dict())  # the next replay takes the full step

    data = batches(300, 10, batch=8)
    for name in ("Adam", "SGD-momentum"):
        for hook in (None, between):
            step = check_identical(build, OPTIMIZERS[name], data, between=hook)
            _, opt, (flats, _, other_grads), _ = lean_kernel(step.program)[0].args
            assert flats[0].others == [0] and [g.shape for g in other_grads[0]] == [(128, 300)]
            weight = opt.param_groups[0]["params"][0]
            assert weight.grad.array is other_grads[0][0]


def test_a_bad_value_set_by_hand_is_refused_by_the_lean_step_before_anything_changes():
    model = w3()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    step = mg.jit(make_step(model, opt))
    data = batches(64, 10, batch=16)
    for x, y in data[:3]:
        step(x, y)
    assert lean_kernel(step.program) is not None
    before = snapshot(model, opt)
    opt.param_groups[0]["betas"] = (0.9, 1.5)
    with pytest.raises(ValueError, match="beta2 must be in"):
        step(*data[3])
    assert_same(before, snapshot(model, opt))
    opt.param_groups[0]["betas"] = (0.9, 0.999)  # an equal value, another object: checked
    step(*data[3])
    assert not np.array_equal(before[0][0], snapshot(model, opt)[0][0])


def test_the_lean_step_falls_back_to_the_full_step_when_the_layout_changed():
    def between(i, model, opt):
        if i == 2:  # the state replaced: the next replay takes the full step, then lean again
            opt.load_state_dict(opt.state_dict())
        if i == 3:  # a per-tensor step in between (a parameter without a gradient)
            model[0].bias.grad = None
            opt.step()

    data = batches(64, 10, batch=16, count=6)
    for name in ("Adam", "NAdam", "SGD-momentum"):
        step = check_identical(w3, OPTIMIZERS[name], data, between=between)
        assert lean_kernel(step.program) is not None


def test_gradients_accumulate_across_replays_without_zero_grad():
    def make(model, opt, sched=None):
        def train_step(x, y):  # no zero_grad: .grad accumulates, in place after step 1
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        return train_step

    def run(jitted):
        model = w3()
        opt = optim.SGD(model.parameters(), lr=1e-3)
        step = mg.jit(make(model, opt)) if jitted else make(model, opt)
        losses = [step(x, y).array.copy() for x, y in batches(64, 10, batch=16)]
        return losses, snapshot(model, opt), [p.grad.array.copy() for p in model.parameters()]

    eager, replay = run(False), run(True)
    assert all(np.array_equal(u, v) for u, v in zip(eager[0], replay[0]))
    assert_same(eager[1], replay[1])
    assert all(np.array_equal(u, v) for u, v in zip(eager[2], replay[2]))


def test_parameters_given_new_arrays_make_the_lowered_step_record_again():
    def between(i, model, opt):
        if i in (0, 2):
            for q in model.parameters():
                q.array = q.array.copy()
    step = check_identical(w3, OPTIMIZERS["Adam"], batches(64, 10, batch=16), between=between)
    assert sum(step.moved.values()) == 2  # recorded at call 0, again at calls 1 and 3


def test_lower_false_replays_op_level():
    model = w3()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    step = mg.jit(make_step(model, opt), lower=False)
    for x, y in batches(64, 10, batch=16, count=2):
        step(x, y)
    assert step.program.code == [] and step.program.instructions == ""
    assert step.program.lowering_off == "minigrad.jit(lower=False)"


def test_a_value_whose_shape_changes_between_replays_is_refused():
    from minigrad import recording

    def positive(a):
        return a[a > 0]  # a result whose shape depends on the values

    def step(x):
        pos = mg.Tensor._wrap(recording.kernel(positive, x.array))
        return (pos * 2.0).sum()

    s = mg.jit(step)
    x1 = mg.tensor(np.array([1.0, -1.0, 2.0], np.float32))
    x2 = mg.tensor(np.array([1.0, 2.0, 3.0], np.float32))
    assert s(x1).item() == 6.0 and s(x1).item() == 6.0  # recorded, then replayed
    assert "Mul.forward" not in dict(s.program.not_lowered)
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*\(2,\) and float32 when it was"):
        s(x2)


def test_a_convnet_step_mixing_lowered_and_op_level_kernels_replays_bit_identically():
    # convolutions, pooling, LayerNorm, exact GELU (op-level: it reads a value), label
    # smoothing (its backward stays op-level, on its lowered forward's buffers), a second loss
    def build():
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(4, 6, 3), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                             nn.Linear(6, 5), nn.LayerNorm(5), nn.GELU(), nn.Linear(5, 3))

    def run(jitted):
        mg.manual_seed(0)
        model = build()
        opt = optim.AdamW(model.parameters(), lr=1e-2)

        def step(x, y):
            opt.zero_grad()
            out = model(x)
            loss = (F.cross_entropy(out, y, label_smoothing=0.1)
                    + F.mse_loss(out.softmax(-1), out.detach() * 0.1) * 0.5)
            loss.backward()
            opt.step()
            return loss
        s = mg.jit(step) if jitted else step
        rng = np.random.default_rng(1)
        losses = []
        for i in range(4):
            x = mg.tensor((rng.standard_normal((4, 1, 8, 8)) * (1 + i)).astype(np.float32))
            losses.append(s(x, mg.tensor(rng.integers(0, 3, 4))).array.copy())
        return losses, snapshot(model, opt), s

    eager, replay = run(False), run(True)
    assert all(np.array_equal(u, v) for u, v in zip(eager[0], replay[0]))
    assert_same(eager[1], replay[1])
    program = replay[2].program
    why = dict(program.not_lowered)
    assert "reads a value" in why["GELU.forward"]
    assert "CrossEntropy.forward" not in why and "CrossEntropy.backward" in why
    assert "Linear.backward" not in why and len(program.code) > 40


def test_an_op_writing_into_a_parameter_is_not_lowered_and_writes_once():
    class AddOneToWeight(Function):  # writes into its input: bad style, but must stay exact
        def forward(self, x, w):
            w += w.dtype.type(1)
            return x * w

        def backward(self, grad):
            return grad, None

    w = nn.Parameter(mg.zeros(3))
    step = mg.jit(lambda x: AddOneToWeight.apply(x, w))
    step(mg.ones(3))  # records: the eager forward writes once, the traced one not at all
    assert np.array_equal(w.array, np.ones(3, np.float32))
    assert "writes into an array" in dict(step.program.not_lowered)["AddOneToWeight.forward"]
    step(mg.ones(3))  # the op-level replay writes again, as eagerly
    assert np.array_equal(w.array, np.full(3, 2, np.float32))


def test_a_failure_of_the_lowering_itself_leaves_an_op_level_program(monkeypatch):
    from minigrad import lowering

    def broken(*args, **kwargs):
        raise ValueError("a bug in a pass")

    monkeypatch.setattr(lowering, "tidy", broken)
    data = batches(64, 10, batch=16)
    step = check_identical(w3, OPTIMIZERS["Adam"], data)  # the same numbers, op-level
    assert "a bug in a pass" in step.program.lowering_off and step.program.code == []


def test_an_op_writing_into_an_array_it_was_given_stays_op_level():
    class DoubleInPlace(Function):  # writes into its input (the caller's array), as eagerly
        def forward(self, x):
            x *= x.dtype.type(2)
            return x + x.dtype.type(1)

    step = mg.jit(lambda x: DoubleInPlace.apply(x))
    xs = [mg.ones(3) for _ in range(3)]
    outs = [step(x).array.copy() for x in xs]
    for x, out in zip(xs, outs):  # every call doubled its own input, replays included
        assert np.array_equal(x.array, np.full(3, 2, np.float32))
        assert np.array_equal(out, np.full(3, 3, np.float32))
    assert "writes into an array it was given" in dict(step.program.not_lowered)[
        "DoubleInPlace.forward"]


MIXES = {  # (activation, loss, BatchNorm, LayerNorm, Dropout, optimizer)
    "sigmoid-mse-adam": (nn.Sigmoid, "mse", False, False, False, "Adam"),
    "silu-nll-bn-sgd": (nn.SiLU, "nll", True, False, False, "SGD-momentum"),
    "elu-sum-bn-dropout": (nn.ELU, "sum", True, False, True, "RMSprop"),
    "softplus-smoothing-ln": (nn.Softplus, "smoothing", False, True, False, "Adam"),
    "leaky-ce-ln-dropout": (lambda: nn.LeakyReLU(0.1), "ce", False, True, True, "AdamW"),
    "gelu-tanh-mse-bn-ln": (lambda: nn.GELU(approximate="tanh"), "mse", True, True, False,
                            "NAdam"),
}
MIX_LOSSES = {
    "ce": lambda o, y: F.cross_entropy(o, y),
    "smoothing": lambda o, y: F.cross_entropy(o, y, label_smoothing=0.2),
    "nll": lambda o, y: F.nll_loss(F.log_softmax(o, dim=-1), y),
    "mse": lambda o, y: F.mse_loss(o.softmax(-1), o.detach().tanh()),
    "sum": lambda o, y: (o * o).mean() + F.cross_entropy(o, y, reduction="sum") * 0.1,
}


@pytest.mark.parametrize("mix", sorted(MIXES))
def test_mixed_models_replay_bit_identically_on_inputs_of_changing_scale(mix):
    act, loss_name, bn, ln, dropout, opt_name = MIXES[mix]

    def build():
        mg.manual_seed(1)
        layers = [nn.Linear(7, 9)] + ([nn.BatchNorm1d(9)] if bn else [])
        layers += ([nn.LayerNorm(9)] if ln else []) + [act()]
        layers += ([nn.Dropout(0.3)] if dropout else []) + [nn.Linear(9, 4)]
        return nn.Sequential(*layers)

    def run(jitted):
        model = build()
        opt = OPTIMIZERS[opt_name](model.parameters())

        def step(x, y):
            opt.zero_grad()
            loss = MIX_LOSSES[loss_name](model(x), y)
            loss.backward()
            opt.step()
            return loss
        s = mg.jit(step) if jitted else step
        mg.manual_seed(5)
        rng = np.random.default_rng(2)
        losses = []
        for i in range(5):
            x = mg.tensor((rng.standard_normal((6, 7)) * (1 + 3 * i)).astype(np.float32))
            losses.append(s(x, mg.tensor(rng.integers(0, 4, 6))).array.copy())
        return losses, snapshot(model, opt), s

    eager, replay = run(False), run(True)
    assert all(np.array_equal(u, v) for u, v in zip(eager[0], replay[0]))
    assert_same(eager[1], replay[1])
    assert replay[2].program.code  # something was lowered


class _DecayingAdam(optim.Adam):
    """A user's optimizer: its own step sets the learning rate in Python, then the base's."""

    def step(self, closure=None):
        for group in self.param_groups:
            group["lr"] *= 0.5
        return super().step(closure)


class _HalvingSchedule(lr_scheduler.StepLR):
    """A user's scheduler whose own step counts its calls in Python."""

    calls = 0

    def step(self, epoch=None):
        self.calls += 1
        super().step(epoch)


def test_a_subclass_step_override_is_replayed_whole_not_only_the_base_step():
    # without it, only the base step inside the override would be recorded: the lr would
    # stay at its recorded value and the replay would drift from the eager run
    step = check_identical(w1, lambda p: _DecayingAdam(p, lr=1e-2), batches(12, 4))
    assert "_DecayingAdam.step()" in str(step.program)
    sched = {}

    def make(opt):
        sched["s"] = _HalvingSchedule(opt, step_size=2, gamma=0.5)
        return sched["s"]

    check_identical(w1, lambda p: optim.Adam(p, lr=1e-2), batches(12, 4), sched=make)
    assert sched["s"].calls == STEPS + 1  # its constructor steps once, as torch's
