"""Module system: registration, traversal, modes, zero_grad, to(), state_dict round trips,
all-or-nothing load_state_dict, repr, containers."""

from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.backend import DeviceError
from tests.conftest import CUDA, to_numpy


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.act = nn.ReLU()
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(4, 2))
        self.scale = nn.Parameter(mg.ones(1))
        self.register_buffer("steps", mg.zeros(1))
        self.register_buffer("scratch", mg.zeros(2), persistent=False)
        self.note = "not registered"

    def forward(self, x):
        return self.head(self.act(self.bn(self.fc1(x)))) * self.scale


def test_parameter_is_the_core_parameter():
    assert nn.Parameter is mg.Parameter
    p = nn.Parameter(mg.zeros(2))
    assert p.requires_grad and isinstance(p, mg.Tensor)


def test_registration_and_traversal_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias",
                     "head.1.weight", "head.1.bias"]
    assert len(list(net.parameters())) == 7
    assert [n for n, _ in net.named_buffers()] == [
        "steps", "scratch", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "act", "head"]
    assert list(net.children())[0] is net.fc1
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "bn", "act", "head", "head.0",
                                                   "head.1"]
    assert len(list(net.modules())) == 7
    assert net.get_submodule("head.1") is net.head[1]
    assert "note" not in dict(net.named_parameters())


def test_shared_parameters_appear_once():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(seq.parameters())) == 2
    # state_dict lists a shared module under each of its names, as torch does
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    seq.load_state_dict(seq.state_dict())


def test_reassign_and_delete_keep_registry_in_sync():
    net = Net()
    net.fc1 = nn.Linear(3, 4, bias=False)
    assert "fc1.bias" not in dict(net.named_parameters())
    net.scale = None
    assert "scale" not in dict(net.named_parameters())
    with pytest.raises(TypeError, match="expected a minigrad.nn.Parameter"):
        net.scale = mg.ones(1)
    del net.fc1
    assert "fc1" not in dict(net.named_children())
    net.steps = mg.ones(1)  # assigning a tensor to a buffer name updates the buffer
    assert to_numpy(dict(net.named_buffers())["steps"])[0] == 1



def test_reassigning_a_registered_name_keeps_its_place():
    """As torch: replacing a module, a parameter or a buffer by name changes no order (the
    order of parameters() is the optimizer's and the state_dict's)."""
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    seq[1] = nn.Tanh()
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear"]
    x = mg.tensor([[1.0, -2.0]])
    np.testing.assert_array_equal(seq(x).array, seq[2](seq[1](seq[0](x))).array)
    seq.add_module("0", nn.Linear(2, 3))
    assert list(seq._modules) == ["0", "1", "2"]
    lin = nn.Linear(2, 3)
    lin.weight = nn.Parameter(mg.zeros(3, 2))
    lin.register_parameter("weight", nn.Parameter(mg.ones(3, 2)))
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    bn = nn.BatchNorm1d(3)
    bn.register_buffer("running_mean", mg.ones(3))
    assert [n for n, _ in bn.named_buffers()][:2] == ["running_mean", "running_var"]


def test_assign_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(mg.ones(1))

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_train_eval_propagates():
    net = Net()
    assert net.training and net.head[0].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(TypeError):
        net.train("no")


def test_zero_grad(rng):
    net = Net()
    net(mg.tensor(rng.standard_normal((5, 3)).astype(np.float32))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(np.all(to_numpy(p.grad) == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_dtype_keeps_parameter_objects():
    net = Net()
    params = list(net.parameters())
    assert net.double() is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.bn.running_mean.dtype == np.float64
    assert net.bn.num_batches_tracked.dtype == np.int64  # integers are not cast
    out = net(mg.randn(4, 3, dtype=mg.float64))
    assert out.dtype == np.float64


def test_to_unavailable_device_changes_nothing():
    if CUDA:
        pytest.skip("a GPU is present")
    net = Net()
    before = {k: to_numpy(v).copy() for k, v in net.state_dict().items()}
    with pytest.raises(DeviceError):
        net.to("cuda")
    assert all(p.device == "cpu" for p in net.parameters())
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(to_numpy(v), before[k])


def test_to_device_in_place_and_state_dict_round_trip(device):
    net = Net()
    params = list(net.parameters())
    ref = {k: to_numpy(v).copy() for k, v in net.state_dict().items()}
    net.to(device)
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.device == device for p in net.parameters())
    assert all(b.device == device for b in net.buffers())
    sd = net.state_dict()
    for k, v in sd.items():
        np.testing.assert_array_equal(to_numpy(v), ref[k])
    other = Net().to("cpu")
    other.load_state_dict(sd)  # from the device onto the CPU module
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(to_numpy(v), ref[k])
        assert v.device == "cpu"
    net.load_state_dict({k: v.numpy() for k, v in other.state_dict().items()})  # numpy in
    assert all(p.device == device for p in net.parameters())


def test_state_dict_contents_and_detachment():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["scale", "steps", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias",
                        "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
                        "head.1.weight", "head.1.bias"]
    assert "scratch" not in sd  # non-persistent buffer
    assert not any(v.requires_grad for v in sd.values())
    assert sd["bn.num_batches_tracked"].dtype == np.int64


def test_state_dict_round_trip_restores_values(rng):
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    x = mg.tensor(rng.standard_normal((6, 3)).astype(np.float32))
    a.eval(), b.eval()
    np.testing.assert_array_equal(to_numpy(a(x)), to_numpy(b(x)))
    # values are copied in: changing a afterwards does not change b
    with mg.no_grad():
        a.fc1.weight.add_(1.0)
    assert not np.array_equal(to_numpy(a.fc1.weight), to_numpy(b.fc1.weight))


def test_load_state_dict_is_all_or_nothing():
    net = Net()
    before = {k: to_numpy(v).copy() for k, v in net.state_dict().items()}
    sd = {k: v.numpy().copy() + 1 for k, v in Net().state_dict().items()}
    del sd["fc1.bias"]
    sd["extra.weight"] = np.zeros(3, dtype=np.float32)
    sd["head.1.weight"] = np.zeros((3, 3), dtype=np.float32)
    sd["bn.running_var"] = sd["bn.running_var"].astype(np.float64)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(sd)
    msg = str(err.value)
    assert "missing keys: 'fc1.bias'" in msg
    assert "unexpected keys: 'extra.weight'" in msg
    assert "'head.1.weight': shape mismatch: expected (2, 4), got (3, 3)" in msg
    assert "'bn.running_var': dtype mismatch: expected float32, got float64" in msg
    for k, v in net.state_dict().items():  # nothing changed, not even the valid entries
        np.testing.assert_array_equal(to_numpy(v), before[k])


def test_load_state_dict_non_strict():
    net = Net()
    sd = Net().state_dict()
    del sd["scale"]
    sd["bogus"] = mg.zeros(1)
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["scale"] and res.unexpected_keys == ["bogus"]
    np.testing.assert_array_equal(to_numpy(net.fc1.weight), to_numpy(sd["fc1.weight"]))
    sd["fc1.weight"] = mg.zeros(1, 1)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        net.load_state_dict(sd, strict=False)
    with pytest.raises(TypeError, match="mapping"):
        net.load_state_dict([1, 2])


def test_load_bumps_version_so_stale_graphs_fail():
    lin = nn.Linear(2, 2)
    x = mg.ones(1, 2, requires_grad=True)
    y = lin(x).sum()
    lin.load_state_dict(nn.Linear(2, 2).state_dict())
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_repr_tree():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Dropout(0.5)))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.5, inplace=False)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.BatchNorm1d(4)) == (
        "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)")


def test_sequential_container(rng):
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b)
    seq.append(c)
    assert len(seq) == 3 and list(seq) == [a, b, c]
    assert seq[0] is a and seq[-1] is c
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    x = mg.tensor(rng.standard_normal((4, 2)).astype(np.float32))
    np.testing.assert_array_equal(to_numpy(seq(x)), to_numpy(c(b(a(x)))))
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    named = nn.Sequential(OrderedDict(fc=a, act=b))
    assert named.fc is a and [n for n, _ in named.named_children()] == ["fc", "act"]
    del seq[0]
    assert list(seq) == [b, c] and [n for n, _ in seq.named_children()] == ["0", "1"]
    with pytest.raises(TypeError, match="expected a Module"):
        nn.Sequential(a, "relu")


def test_sequential_calls_a_module_with_its_own_call_through_it(rng):
    # Sequential.forward calls a child's forward directly unless its class defines __call__
    calls = []

    class Logged(nn.Module):
        def __call__(self, x):
            calls.append("call")
            return super().__call__(x)

        def forward(self, x):
            calls.append("forward")
            return x * 2

    seq = nn.Sequential(nn.Identity(), Logged(), nn.Identity())
    x = mg.tensor(rng.standard_normal(3).astype(np.float32))
    np.testing.assert_array_equal(to_numpy(seq(x)), to_numpy(x) * 2)
    assert calls == ["call", "forward"]


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and isinstance(layers[-1], nn.ReLU)
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2", "3", "4"]
    d = nn.ModuleDict({"a": nn.Linear(1, 1)})
    d["b"] = nn.Linear(1, 2)
    assert "b" in d and len(list(d.parameters())) == 4

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = layers

    assert len(list(Holder().parameters())) == 6


def test_apply_and_requires_grad():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and "Linear" in seen
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_forward_missing_is_clear():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)
