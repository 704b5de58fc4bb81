"""Checkpoint files under abuse: crafted and corrupted files raise CheckpointError (never
RecursionError or anything else), dtypes a tensor cannot have are refused, a writer killed
mid-save leaves a temporary that the next save removes, files get the umask's mode, and the
errors say what is actually wrong."""

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minigrad
from minigrad.serialization import MAX_DEPTH, CheckpointError, load, save

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _craft(path, tree, **arrays):
    meta = json.dumps({"format": "minigrad.checkpoint", "version": 1, "tree": tree})
    arrays["__minigrad__"] = np.frombuffer(meta.encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _craft_text(path, tree_text):
    """A file whose header holds ``tree_text`` verbatim (json.dumps cannot nest this deep)."""
    meta = '{"format":"minigrad.checkpoint","version":1,"tree":' + tree_text + "}"
    with open(path, "wb") as f:
        np.savez(f, __minigrad__=np.frombuffer(meta.encode(), np.uint8))
    return path


def _nested(depth):
    node = 1
    for _ in range(depth):
        node = [node]
    return node


@pytest.mark.parametrize("depth", [600, 5000, 100_000])
def test_deeply_nested_header_raises_checkpoint_error(tmp_path, depth):
    path = _craft_text(tmp_path / "deep.npz", "[" * depth + "1" + "]" * depth)
    with pytest.raises(CheckpointError, match="deep.npz.*nested"):
        load(path)


def test_deeply_nested_dicts_and_tuples_raise_checkpoint_error(tmp_path):
    node = "1"
    for i in range(600):
        node = ('{"$":"dict","items":[["k",' + node + "]]}" if i % 2
                else '{"$":"tuple","v":[' + node + "]}")
    with pytest.raises(CheckpointError, match="nested"):
        load(_craft_text(tmp_path / "deep.npz", node))


def test_nesting_depth_is_symmetric(tmp_path):
    ok = _nested(MAX_DEPTH - 1)
    save(ok, tmp_path / "ok.npz")
    assert load(tmp_path / "ok.npz") == ok
    with pytest.raises(ValueError, match=f"more than {MAX_DEPTH} levels"):
        save(_nested(MAX_DEPTH + 1), tmp_path / "deep.npz")
    assert not os.path.exists(tmp_path / "deep.npz")


@pytest.mark.parametrize("dtype,kind", [("U3", "tensor"), ("S3", "tensor"), ("U3", "cupy"),
                                        ("c8", "tensor"), ("U2", "bytes"), ("f4", "bytes")])
def test_refuses_dtypes_a_tensor_cannot_have(tmp_path, dtype, kind):
    arr = np.array(["ab", "cd"], dtype=dtype) if dtype[0] in "US" else np.zeros(2, dtype)
    path = _craft(tmp_path / "x.npz", {"$": kind, "k": "a0", "dev": "cpu"}, a0=arr)
    with pytest.raises(CheckpointError, match=f"dtype {np.dtype(dtype)}"):
        load(path)


def test_refuses_object_arrays_without_unpickling(tmp_path):
    path = _craft(tmp_path / "o.npz", {"$": "tensor", "k": "a0"},
                  a0=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(CheckpointError, match="o.npz"):
        load(path)


def test_string_ndarrays_still_round_trip(tmp_path):
    obj = {"names": np.array(["a", "bc"]), "t": minigrad.tensor([1, 2])}
    save(obj, tmp_path / "s.npz")
    out = load(tmp_path / "s.npz")
    assert out["names"].tolist() == ["a", "bc"] and out["t"].tolist() == [1, 2]


def test_header_of_the_wrong_dtype_raises(tmp_path):
    path = tmp_path / "h.npz"
    with open(path, "wb") as f:
        np.savez(f, __minigrad__=np.zeros(3, np.float64))
    with pytest.raises(CheckpointError, match="h.npz: corrupted checkpoint header"):
        load(path)


CRAFTED_TREES = [
    {"$": "float", "v": "not a number"}, {"$": "float"}, {"$": "dict", "items": 3},
    {"$": "dict", "items": [[[1], 2]]}, {"$": "dict", "items": [[1, 2, 3]]},
    {"$": "tuple", "v": None}, {"$": "tensor", "k": "a9"}, {"$": "tensor", "k": ["a0"]},
    {"$": "tensor", "k": "a0", "dev": "nowhere"}, {"$": "tensor", "k": "a0", "dev": 7},
    {"$": "dtype", "v": "not-a-dtype"}, {"$": "dtype", "v": ["f4"]}, {"$": "npscalar"},
    {"$": "mystery"}, {"$": None}, {"no": "kind"}, {"$": "bytes", "k": "a1"},
    {"$": "npscalar", "k": "a0"}, {"$": "ndarray", "k": 5}, {"$": "cupy", "k": "a0",
                                                            "dev": "cpu:3"},
]


@pytest.mark.parametrize("i", range(len(CRAFTED_TREES)))
def test_crafted_headers_raise_checkpoint_error(tmp_path, i):
    path = _craft(tmp_path / "c.npz", CRAFTED_TREES[i], a0=np.zeros(3, np.float32),
                  a1=np.zeros((2, 2), np.int64))
    try:
        load(path)
    except CheckpointError as err:
        assert "c.npz" in str(err)


def test_random_corruptions_raise_only_checkpoint_errors(tmp_path):
    save({"w": minigrad.randn(20, 10), "step": 3, "names": ("a", "b"), "x": [1.5, None]},
         tmp_path / "good.npz")
    good = (tmp_path / "good.npz").read_bytes()
    rng = np.random.default_rng(0)
    bad = tmp_path / "bad.npz"
    for trial in range(200):
        data = bytearray(good)
        if trial % 4 == 0:
            data = data[: rng.integers(0, len(data))]
        else:
            for pos in rng.integers(0, len(data), size=rng.integers(1, 8)):
                data[pos] = rng.integers(0, 256)
        bad.write_bytes(bytes(data))
        try:
            load(bad)
        except CheckpointError:
            pass  # anything else propagates and fails the test


@pytest.mark.skipif(minigrad.cuda_is_available(), reason="needs a machine without CUDA")
def test_a_gpu_checkpoint_on_a_cpu_machine_is_a_checkpoint_error_too(tmp_path):
    path = _craft(tmp_path / "g.npz", {"$": "tensor", "k": "a0", "dev": "cuda:0"},
                  a0=np.zeros(2, np.float32))
    with pytest.raises(CheckpointError, match="map_location='cpu'") as info:
        load(path)
    assert isinstance(info.value, minigrad.DeviceError)
    assert load(path, map_location="cpu").tolist() == [0.0, 0.0]


def test_plain_text_file_says_it_is_text(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("epoch 3: loss 0.12\n")
    with pytest.raises(CheckpointError, match="notes.txt.*text file.*epoch 3") as info:
        load(path)
    assert "pickle" not in str(info.value)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load(tmp_path / "empty.npz")
    (tmp_path / "junk.bin").write_bytes(bytes(range(200, 256)) * 4)
    with pytest.raises(CheckpointError, match="zip signature"):
        load(tmp_path / "junk.bin")


def test_saved_file_has_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        save({"a": 1}, tmp_path / "m.npz")
        os.umask(0o077)
        save({"a": 1}, tmp_path / "private.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.npz").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "private.npz").st_mode) == 0o600


def test_saving_into_a_missing_directory_names_the_target(tmp_path):
    target = tmp_path / "nope" / "ckpt.npz"
    with pytest.raises(FileNotFoundError, match=r"ckpt.npz.*nope.* does not exist") as info:
        save({"a": 1}, target)
    assert ".tmp" not in str(info.value)


_KILLED_WRITER = textwrap.dedent("""
    import os, sys
    import numpy as np
    import minigrad
    from minigrad import serialization

    def stall(fd):  # the data is written: announce it, then wait to be killed
        sys.stdout.write("writing\\n"); sys.stdout.flush()
        sys.stdin.readline()
    serialization.os.fsync = stall
    minigrad.save({"w": np.zeros(100_000, np.float32)}, sys.argv[1])
""")


def _start_writer(target):
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.stdout.readline() == "writing\n"  # an event, not a sleep
    return proc


def _temporaries(directory, name):
    return sorted(n for n in os.listdir(directory) if n.startswith(f".{name}.tmp"))


def test_next_save_removes_temporaries_of_killed_writers(tmp_path):
    target = tmp_path / "ckpt.npz"
    for _ in range(2):
        proc = _start_writer(target)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    assert len(_temporaries(tmp_path, "ckpt.npz")) == 2
    (tmp_path / ".other.npz.tmp-1-ab").write_bytes(b"x")  # another target's: not ours
    save({"a": 1}, target)
    assert _temporaries(tmp_path, "ckpt.npz") == []
    assert os.path.exists(tmp_path / ".other.npz.tmp-1-ab")
    assert load(target) == {"a": 1}


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    target = tmp_path / "ckpt.npz"
    proc = _start_writer(target)
    try:
        live = _temporaries(tmp_path, "ckpt.npz")
        assert len(live) == 1
        save({"a": 2}, target)
        assert _temporaries(tmp_path, "ckpt.npz") == live
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    save({"a": 3}, target)
    assert _temporaries(tmp_path, "ckpt.npz") == []
