"""Checkpoints: ``minigrad.save(obj, path)`` / ``minigrad.load(path, map_location=None)``.

The format is one ``.npz`` (a zip of ``.npy`` files) that is read with ``allow_pickle=False``,
so loading a file never executes code:

- entry ``__minigrad__``: the structure as UTF-8 JSON (a uint8 array), with a format marker
  and version; every array in the structure is a reference to an entry;
- entries ``a0, a1, ...``: the arrays (Tensors' data, NumPy/CuPy arrays, NumPy scalars).

Savable: nested dicts (any keys among str, int, float, bool, None and tuples of them), lists,
tuples, Tensors (``requires_grad`` and Parameter-ness kept), NumPy and CuPy arrays of numeric
or string dtype, NumPy scalars, NumPy dtypes, Python ints, floats (nan/inf included), bools,
strings, bytes and None. Anything else raises ``TypeError`` naming where it sits.

Writes are atomic: the file is written beside the target under a temporary name, flushed,
``fsync``-ed and renamed over the target with ``os.replace``, so a crash mid-write leaves the
previous file intact. Loading reads and checks every entry (the zip CRCs included) before it
returns anything; a truncated, corrupted or foreign file raises :class:`CheckpointError`
naming the file.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from typing import Any

import numpy as np

from . import backend
from .backend import Device, DeviceLike, device_of
from .tensor import Parameter, Tensor

FORMAT = "minigrad.checkpoint"
VERSION = 1
_META = "__minigrad__"


class CheckpointError(ValueError):
    """A file that is not a readable minigrad checkpoint (truncated, corrupted or foreign)."""


# --------------------------------------------------------------------------- encoding


class _Encoder:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def _store(self, array) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = backend.to_device(array, backend.CPU)
        return key

    def _check_dtype(self, array, where: str) -> None:
        if array.dtype.kind not in "biufcUS":
            raise TypeError(
                f"minigrad.save: {where} is an array of dtype {array.dtype}, which cannot be "
                "saved without pickle (numeric, bool or string arrays only)"
            )

    def encode(self, obj: Any, where: str):
        if isinstance(obj, np.generic):  # before float: np.float64 subclasses float
            self._check_dtype(np.asarray(obj), where)
            return {"$": "npscalar", "k": self._store(np.asarray(obj))}
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            # JSON has no nan/inf: those travel as their repr
            return float(obj) if np.isfinite(obj) else {"$": "float", "v": repr(obj)}
        if isinstance(obj, Tensor):
            self._check_dtype(obj.array, where)
            node = {"$": "tensor", "k": self._store(obj.array), "dev": str(obj.device),
                    "rg": bool(obj.requires_grad)}
            if isinstance(obj, Parameter):
                node["param"] = True
            return node
        if isinstance(obj, np.ndarray):
            self._check_dtype(obj, where)
            return {"$": "ndarray", "k": self._store(obj)}
        if backend.get_array_module(obj) is not np:  # a CuPy array
            self._check_dtype(obj, where)
            return {"$": "cupy", "k": self._store(obj), "dev": str(device_of(obj))}
        if isinstance(obj, np.dtype):
            return {"$": "dtype", "v": obj.str}
        if isinstance(obj, bytes):
            return {"$": "bytes", "k": self._store(np.frombuffer(obj, dtype=np.uint8))}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                items.append([self._key(k, where), self.encode(v, f"{where}[{k!r}]")])
            return {"$": "dict", "items": items}
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, tuple):
            return {"$": "tuple", "v": [self.encode(v, f"{where}[{i}]")
                                        for i, v in enumerate(obj)]}
        raise TypeError(
            f"minigrad.save: {where} is a {type(obj).__name__}, which cannot be saved; expected "
            "Tensors, arrays, numbers, strings, None, or dicts/lists/tuples of them"
        )

    def _key(self, key, where: str):
        if isinstance(key, np.generic) and key.dtype.kind in "biuf":
            key = key.item()
        if key is None or isinstance(key, (bool, str, int, float)):
            return self.encode(key, where)
        if isinstance(key, tuple):
            return {"$": "tuple", "v": [self._key(k, where) for k in key]}
        raise TypeError(
            f"minigrad.save: {where} has a key of type {type(key).__name__} ({key!r}); dict keys "
            "must be str, int, float, bool, None or tuples of them"
        )


# --------------------------------------------------------------------------- decoding


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], map_location: Device | None, path: str):
        self.arrays = arrays
        self.map_location = map_location
        self.path = path

    def _fail(self, why: str):
        raise CheckpointError(f"{self.path}: not a valid minigrad checkpoint ({why})")

    def _array(self, node: dict):
        key = node.get("k")
        if key not in self.arrays:
            self._fail(f"missing array entry {key!r}")
        return self.arrays[key]

    def _place(self, array, saved_device: str):
        dev = self.map_location if self.map_location is not None else Device(saved_device)
        if dev.type == "cpu":
            return array
        try:
            return backend.to_device(array, dev)
        except backend.DeviceError as err:
            raise backend.DeviceError(
                f"{self.path}: holds arrays saved on {saved_device}, which is not available "
                f"here ({err}); pass map_location='cpu'"
            ) from err

    def decode(self, node):
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or "$" not in node:
            self._fail(f"unexpected node {str(node)[:80]!r}")
        kind = node["$"]
        if kind == "float":
            return float(str(node["v"]))
        if kind == "dict":
            return {self._decode_key(k): self.decode(v) for k, v in node["items"]}
        if kind == "tuple":
            return tuple(self.decode(v) for v in node["v"])
        if kind == "tensor":
            array = self._place(self._array(node), node.get("dev", "cpu"))
            cls = Parameter if node.get("param") else Tensor
            t = cls._wrap(array)
            t.requires_grad = bool(node.get("rg", False))
            return t
        if kind == "ndarray":
            return self._array(node)
        if kind == "cupy":
            return self._place(self._array(node), node.get("dev", "cuda:0"))
        if kind == "npscalar":
            return self._array(node)[()]
        if kind == "dtype":
            return np.dtype(node["v"])
        if kind == "bytes":
            return self._array(node).tobytes()
        self._fail(f"unknown node kind {kind!r}")

    def _decode_key(self, node):
        return self.decode(node)


# --------------------------------------------------------------------------- save / load


def save(obj: Any, path: str | os.PathLike) -> None:
    """Save ``obj`` (nested dicts/lists/tuples of Tensors, arrays, numbers, strings, None) to
    ``path`` as one ``.npz`` file, atomically.

    The file is written exactly at ``path`` (no suffix is added). A crash or an error while
    writing leaves a previous file at ``path`` untouched and no temporary file behind.

    Raises:
        TypeError: ``obj`` holds something that cannot be saved without pickle.
    """
    path = os.fspath(path)
    enc = _Encoder()
    tree = enc.encode(obj, "obj")
    meta = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree},
                      allow_nan=False, separators=(",", ":"))
    entries = dict(enc.arrays)
    entries[_META] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **entries)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    """Make the rename itself durable (POSIX); not possible on every platform."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def load(path: str | os.PathLike, map_location: DeviceLike = None) -> Any:
    """Load what :func:`save` wrote.

    Args:
        path: the file.
        map_location: the device every Tensor and CuPy array is put on (e.g. ``'cpu'`` for a
            checkpoint saved on a GPU, or ``'cuda'``); by default each goes back where it was
            saved. NumPy arrays stay NumPy arrays.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: (a ``ValueError``) the file is truncated, corrupted or not a minigrad
            checkpoint; nothing is returned half-loaded.
    """
    path = os.fspath(path)
    dev = Device(map_location) if map_location is not None else None
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{path}: not a minigrad checkpoint (a bare .npy array)")
        with loaded as z:
            if _META not in z.files:
                raise CheckpointError(
                    f"{path}: not a minigrad checkpoint (an .npz without the {_META!r} entry)"
                )
            arrays = {name: z[name] for name in z.files}  # reads every entry, checking CRCs
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
            UnicodeDecodeError, RuntimeError) as err:
        raise CheckpointError(
            f"{path}: not a readable minigrad checkpoint, truncated or corrupted "
            f"({type(err).__name__}: {err})"
        ) from err
    meta_arr = arrays.pop(_META)
    try:
        meta = json.loads(meta_arr.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: corrupted checkpoint header ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "tree" not in meta:
        raise CheckpointError(f"{path}: not a minigrad checkpoint (unknown header)")
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {meta.get('version')!r} is newer than this "
            f"minigrad reads ({VERSION})"
        )
    try:
        return _Decoder(arrays, dev, path).decode(meta["tree"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        raise CheckpointError(f"{path}: corrupted checkpoint structure ({err!r})") from err
