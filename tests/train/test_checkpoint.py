"""minigrad.serialization (save / load) and the training-checkpoint helpers."""

import json
import math
import os
import zipfile

import numpy as np
import pytest

import minigrad
from minigrad import serialization
from minigrad.serialization import CheckpointError, load, save
from minigrad.train import History, load_checkpoint, save_checkpoint
from tests.conftest import to_numpy


def _assert_same(a, b):
    """Deep equality including types and dtypes (nan == nan)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, minigrad.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.device == b.device
        assert a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and (a == b or (np.isnan(a) and np.isnan(b)))
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            assert type(k) in {type(kb) for kb in b}
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def _nested(rng):
    return {
        "model": {"w": minigrad.Parameter(rng.standard_normal((3, 4)).astype(np.float32)),
                  "b": minigrad.tensor(np.arange(4), dtype=minigrad.float64)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": rng.standard_normal(5)},
                                1: {"step": np.int64(7), "flag": np.bool_(True)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                        "amsgrad": False, "name": None}]},
        "scalars": [1, 2.5, -0.0, float("inf"), float("-inf"), float("nan"), True, None, "s",
                    np.float32(1.5), np.float64(0.1), 2**62],
        ("tuple", 1): (np.zeros((0, 3), dtype=np.int32), np.array(["ab", "c"]), b"\x00\x01"),
        1.5: np.dtype("float16"),
        "empty": {}, "empty_list": [], "empty_tuple": (),
        "dtypes": [np.arange(3).astype(dt) for dt in
                   (np.int8, np.uint16, np.int32, np.float16, np.complex64, np.bool_)],
        "rng": minigrad.get_rng_state(),
    }


def test_round_trip_nested_structures_and_dtypes(tmp_path, rng):
    obj = _nested(rng)
    path = tmp_path / "ckpt.npz"
    save(obj, path)
    back = load(path)
    _assert_same(obj, back)
    assert isinstance(back["model"]["w"], minigrad.Parameter)
    assert back["model"]["w"].requires_grad and not back["model"]["b"].requires_grad
    # the file is a plain npz readable without pickle
    with np.load(path, allow_pickle=False) as z:
        assert "__minigrad__" in z.files
    assert not [p for p in os.listdir(tmp_path) if p != "ckpt.npz"]  # no temp files


def test_tensors_round_trip_between_devices(tmp_path, device):
    t = minigrad.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, requires_grad=True)
    path = tmp_path / "t.npz"
    save({"t": t, "raw": t.array}, path)
    on_cpu = load(path, map_location="cpu")
    assert on_cpu["t"].device == "cpu" and isinstance(on_cpu["raw"], np.ndarray)
    np.testing.assert_array_equal(to_numpy(on_cpu["t"]), to_numpy(t))
    same = load(path)
    assert same["t"].device == device
    moved = load(path, map_location=device)
    assert moved["t"].device == device and moved["t"].requires_grad


def test_unsavable_objects_raise_naming_where(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match=r"obj\['a'\]\[1\] is a object"):
        save({"a": [1, object()]}, path)
    with pytest.raises(TypeError, match="dtype object"):
        save({"a": np.array([1, "x", None], dtype=object)}, path)
    with pytest.raises(TypeError, match="has a key of type frozenset"):
        save({frozenset(): 1}, path)
    assert not os.listdir(tmp_path)


def test_crash_mid_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save({"v": np.arange(3)}, path)
    before = path.read_bytes()
    calls = {"n": 0}
    real_write_array = np.lib.format.write_array

    def crash_after_first_array(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("simulated crash: disk full")
        return real_write_array(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", crash_after_first_array)
    with pytest.raises(OSError, match="simulated crash"):
        save({"v": np.arange(5), "w": np.ones(1000)}, path)
    assert calls["n"] == 2  # the crash happened mid-way through the write
    monkeypatch.undo()
    assert path.read_bytes() == before
    np.testing.assert_array_equal(load(path)["v"], np.arange(3))
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_crash_at_fsync_or_interrupt_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save({"v": 1}, path)

    def boom(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization.os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        save({"v": 2}, path)
    monkeypatch.undo()
    assert load(path) == {"v": 1}
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_truncated_file_raises_naming_it(tmp_path, rng):
    path = tmp_path / "ckpt.npz"
    save({"w": rng.standard_normal(2000)}, path)
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=f"cut{cut}.npz"):
            load(bad)
    assert issubclass(CheckpointError, ValueError)


def test_corrupted_bytes_raise(tmp_path, rng):
    path = tmp_path / "ckpt.npz"
    save({"w": rng.standard_normal(4000)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the array's bytes: the zip CRC catches it
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="ckpt.npz"):
        load(path)


def test_foreign_files_raise(tmp_path):
    npz = tmp_path / "plain.npz"
    np.savez(npz, x=np.arange(3))
    with pytest.raises(CheckpointError, match=r"plain.npz: not a minigrad checkpoint"):
        load(npz)
    npy = tmp_path / "bare.npy"
    np.save(npy, np.arange(3))
    with pytest.raises(CheckpointError, match="bare.npy"):
        load(npy)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.txt"):
        load(text)
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError, match="obj.npy"):
        load(pickled)
    header = tmp_path / "hdr.npz"  # a well-formed zip whose header is someone else's
    meta = json.dumps({"format": "other", "tree": {}}).encode()
    np.savez(header, __minigrad__=np.frombuffer(meta, dtype=np.uint8))
    with pytest.raises(CheckpointError, match="hdr.npz: not a minigrad checkpoint"):
        load(header)
    dangling = tmp_path / "dangling.npz"  # references an array entry that is missing
    meta = json.dumps({"format": "minigrad.checkpoint", "version": 1,
                       "tree": {"$": "ndarray", "k": "a9"}}).encode()
    np.savez(dangling, __minigrad__=np.frombuffer(meta, dtype=np.uint8))
    with pytest.raises(CheckpointError, match="missing array entry 'a9'"):
        load(dangling)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")
    assert zipfile.is_zipfile(header)


class _Stateful:
    def __init__(self, value):
        self.value = value

    def state_dict(self):
        return {"value": self.value}

    def load_state_dict(self, state):
        self.value = state["value"]


def test_save_and_load_checkpoint_helpers(tmp_path):
    model, opt = _Stateful(np.arange(3.0)), _Stateful({0: {"step": 4}})
    hist = History()
    hist.append(1, {"loss": 0.5, "lr": 0.1})
    minigrad.manual_seed(11)
    rng_state = minigrad.get_rng_state()
    path = tmp_path / "train.npz"
    save_checkpoint(path, model=model, optimizer=opt, history=hist, epoch=1, extra={"note": "x"})
    expected = minigrad.rand(3)
    model2, opt2, hist2 = _Stateful(None), _Stateful(None), History()
    minigrad.manual_seed(99)
    ck = load_checkpoint(path, model=model2, optimizer=opt2, history=hist2)
    assert ck["epoch"] == 1 and ck["extra"] == {"note": "x"}
    np.testing.assert_array_equal(model2.value, np.arange(3.0))
    assert opt2.value == {0: {"step": 4}}
    assert hist2.epochs == [1] and hist2["loss"] == [0.5]
    np.testing.assert_array_equal(to_numpy(minigrad.rand(3)), to_numpy(expected))
    assert minigrad.get_rng_state() != rng_state
    # a component the file lacks: an error before anything is restored
    untouched = _Stateful("keep")
    with pytest.raises(CheckpointError, match="no scheduler state"):
        load_checkpoint(path, model=untouched, scheduler=_Stateful(None))
    assert untouched.value == "keep"
    # a component that rejects its state: the ones restored before it are rolled back
    class Rejecting(_Stateful):
        def load_state_dict(self, state):
            raise RuntimeError("optimizer mismatch")

    keep_model = _Stateful(np.zeros(3))
    with pytest.raises(RuntimeError, match="optimizer mismatch"):
        load_checkpoint(path, model=keep_model, optimizer=Rejecting(None))
    np.testing.assert_array_equal(keep_model.value, np.zeros(3))
    plain = tmp_path / "plain.npz"
    save({"a": 1}, plain)
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        load_checkpoint(plain)
