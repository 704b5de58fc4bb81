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

Writes are atomic: the file is written beside the target under a temporary name
(``.<name>.tmp-<pid>-<random>``), flushed, ``fsync``-ed and renamed over the target with
``os.replace``, so a crash mid-write leaves the previous file intact. A process killed while
saving leaves its temporary behind; the next successful save of the same target removes the
temporaries whose writer is no longer running. Files get the mode ``open()`` would give them
(0666 less the umask). Loading reads and checks every entry (the zip CRCs included) before it
returns anything; whatever is wrong with a file (truncated, corrupted, crafted, foreign, or not
a zip at all) raises :class:`CheckpointError` naming the file and saying what is wrong, and a
tensor entry of a dtype a Tensor cannot hold (strings, say) is refused.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from typing import Any

import numpy as np

from . import backend
from .backend import Device, DeviceLike, device_of
from .tensor import Parameter, Tensor

FORMAT = "minigrad.checkpoint"
_TENSOR_KINDS = "biuf"  # what a Tensor (or a CuPy array) can hold: bool, integers, floats
VERSION = 1
_META = "__minigrad__"


class CheckpointError(ValueError):
    """A file that is not a readable minigrad checkpoint (truncated, corrupted or foreign)."""


class CheckpointDeviceError(CheckpointError, backend.DeviceError):
    """A checkpoint that holds arrays saved on a device not available here (load it with
    ``map_location='cpu'``). Both a :class:`CheckpointError`, so that one ``except`` catches
    every file that cannot be loaded, and a :class:`~minigrad.backend.DeviceError`."""


# --------------------------------------------------------------------------- encoding


# Containers nest at most this deep. The header is JSON and both directions recurse once per
# level: a bound keeps a crafted header from raising RecursionError, and save refuses what
# load would refuse.
MAX_DEPTH = 100


class _Encoder:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.depth = 0

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
        if isinstance(obj, (dict, list, tuple)):
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    raise ValueError(
                        f"minigrad.save: {where[:200]} nests containers more than {MAX_DEPTH} "
                        "levels deep"
                    )
                return self._encode(obj, where)
            finally:
                self.depth -= 1
        return self._encode(obj, where)

    def _encode(self, obj: Any, where: str):
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
            raise CheckpointDeviceError(
                f"{self.path}: holds arrays saved on {saved_device}, which is not available "
                f"here ({err}); pass map_location='cpu'"
            ) from err

    def _array_of(self, node: dict, kinds: str, what: str):
        """The node's array, refused unless its dtype kind is one of ``kinds``."""
        array = self._array(node)
        if array.dtype.kind not in kinds:
            self._fail(f"{what} entry {node.get('k')!r} has dtype {array.dtype}, which a "
                       f"{what} cannot have")
        return array

    def decode(self, node, depth: int = 0):
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if depth >= MAX_DEPTH:
            self._fail(f"containers nested more than {MAX_DEPTH} levels deep")
        depth += 1
        if isinstance(node, list):
            return [self.decode(v, depth) for v in node]
        if not isinstance(node, dict) or "$" not in node:
            self._fail(f"unexpected node {str(node)[:80]!r}")
        kind = node["$"]
        if kind == "float":
            return float(str(node["v"]))
        if kind == "dict":
            return {self.decode(k, depth): self.decode(v, depth) for k, v in node["items"]}
        if kind == "tuple":
            return tuple([self.decode(v, depth) for v in node["v"]])
        if kind == "tensor":
            array = self._array_of(node, _TENSOR_KINDS, "tensor")
            array = self._place(array, node.get("dev", "cpu"))
            cls = Parameter if node.get("param") else Tensor
            t = cls._wrap(array)
            t.requires_grad = bool(node.get("rg", False))
            return t
        if kind == "ndarray":
            return self._array(node)
        if kind == "cupy":
            return self._place(self._array_of(node, _TENSOR_KINDS, "CuPy array"),
                               node.get("dev", "cuda:0"))
        if kind == "npscalar":
            return self._array(node)[()]
        if kind == "dtype":
            return np.dtype(node["v"])
        if kind == "bytes":
            return self._array_of(node, "u", "bytes").tobytes()
        self._fail(f"unknown node kind {kind!r}")


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
    fd, tmp = _create_temporary(path, directory)
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
    _remove_stale_temporaries(path, directory)


def _temporary_prefix(path: str) -> str:
    return f".{os.path.basename(path)}.tmp-"


def _create_temporary(path: str, directory: str) -> tuple[int, str]:
    """Create ``.<name>.tmp-<pid>-<random>`` beside ``path``, with the mode ``open()`` gives.

    ``tempfile.mkstemp`` would make it 0600; ``os.open(..., 0o666)`` lets the umask decide, so
    the checkpoint ends up with the same mode as any file the user writes. The writer's pid in
    the name lets a later save tell a dead writer's leftover from a live one's file.
    """
    prefix = os.path.join(directory, _temporary_prefix(path)) + f"{os.getpid()}-"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = prefix + os.urandom(4).hex()
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise FileNotFoundError(
                f"minigrad.save: cannot save to {path}: the directory {directory} does not exist"
            ) from None
        except NotADirectoryError:
            raise NotADirectoryError(
                f"minigrad.save: cannot save to {path}: {directory} is not a directory"
            ) from None
    raise FileExistsError(f"minigrad.save: no free temporary name beside {path}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or cannot tell: keep its file
    return True


def _remove_stale_temporaries(path: str, directory: str) -> None:
    """Remove temporaries of ``path`` left by writers that died mid-save (killed, out of
    power). A temporary whose writer is still running (another process saving the same
    target right now) is left alone; so are this process's own. Best effort: errors are
    ignored, the save itself has already succeeded."""
    prefix = _temporary_prefix(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit() or _pid_alive(int(pid)):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


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


_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry; an empty zip


def _check_signature(path: str) -> None:
    """Refuse a file that is not a zip at all, saying what it looks like instead (NumPy would
    report anything unrecognised as "pickled data")."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except IsADirectoryError:
        raise IsADirectoryError(f"{path} is a directory, not a checkpoint file") from None
    if head.startswith(_ZIP_SIGNATURES):
        return
    if not head:
        why = "the file is empty"
    elif head.startswith(b"\x93NUMPY"):
        why = "a bare .npy array, not the .npz that minigrad.save writes"
    elif head.startswith((b"\x80", b"(")) and b"torch" in head:
        why = "it looks like a pickle (torch.save?), which minigrad never loads"
    elif _looks_like_text(head):
        why = f"it is a text file, starting {head[:40].decode('utf-8', 'replace')!r}"
    else:
        why = f"it does not start with the zip signature (first bytes {head[:8]!r})"
    raise CheckpointError(f"{path}: not a minigrad checkpoint ({why})")


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\t\r\n" for c in text)


def _read_entries(path: str) -> dict[str, np.ndarray]:
    """Every array of the .npz at ``path`` by name, each entry's CRC checked, the header
    entry among them; any failure to read is a :class:`CheckpointError`."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{path}: not a minigrad checkpoint (a bare .npy array)")
        with loaded as z:
            if _META not in z.files:
                raise CheckpointError(
                    f"{path}: not a minigrad checkpoint (an .npz without the {_META!r} entry)"
                )
            return {name: z[name] for name in z.files}  # reads every entry, checking CRCs
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
            UnicodeDecodeError, RuntimeError) as err:
        raise CheckpointError(
            f"{path}: not a readable minigrad checkpoint, truncated or corrupted "
            f"({type(err).__name__}: {err})"
        ) from err


def _read_header(path: str, meta_arr: np.ndarray) -> dict:
    """The JSON header (format, version, the tree of the saved object), checked."""
    if meta_arr.dtype != np.uint8 or meta_arr.ndim != 1:
        raise CheckpointError(f"{path}: corrupted checkpoint header (an array of dtype "
                              f"{meta_arr.dtype} and shape {meta_arr.shape}, not UTF-8 bytes)")
    try:
        meta = json.loads(meta_arr.tobytes().decode("utf-8"))
    except RecursionError:
        raise CheckpointError(f"{path}: corrupted checkpoint header (nested too deep)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: corrupted checkpoint header ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "tree" not in meta:
        raise CheckpointError(f"{path}: not a minigrad checkpoint (unknown header)")
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {meta.get('version')!r} is newer than this "
            f"minigrad reads ({VERSION})"
        )
    return meta


def load(path: str | os.PathLike, map_location: DeviceLike = None) -> Any:
    """Load what :func:`save` wrote.

    Args:
        path: the file.
        map_location: the device every Tensor and CuPy array is put on (e.g. ``'cpu'`` for a
            checkpoint saved on a GPU, or ``'cuda'``); by default each goes back where it was
            saved. NumPy arrays stay NumPy arrays.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: (a ``ValueError``) the file is truncated, corrupted, crafted or not a
            minigrad checkpoint, or (:class:`CheckpointDeviceError`) it holds arrays saved on a
            device that is not available here; nothing is returned half-loaded.
    """
    path = os.fspath(path)
    dev = Device(map_location) if map_location is not None else None
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    _check_signature(path)
    arrays = _read_entries(path)
    meta = _read_header(path, arrays.pop(_META))
    try:
        return _Decoder(arrays, dev, path).decode(meta["tree"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        raise CheckpointError(f"{path}: corrupted checkpoint structure ({err!r})") from err
