"""Module: the base of every layer, and the containers Sequential and ModuleList.

As in ``torch.nn``, assigning a :class:`Parameter`, a :class:`Module` or (through
:meth:`Module.register_buffer`) a buffer Tensor as an attribute registers it, so that
``parameters()``, ``state_dict()``, ``to()`` and ``train()``/``eval()`` reach it.

Registered objects are also kept in the instance ``__dict__``: reading ``self.weight`` in
``forward`` is a plain attribute lookup (torch resolves it through ``__getattr__``, which costs
a Python call per access; that matters for small networks).
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np

from .. import backend
from ..backend import Device
from ..grad_mode import no_grad
from ..recording import recorder, replayed_whole
from ..tensor import Parameter, Tensor, parse_to_args


class _IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` returns (as torch): keys it skipped under
    ``strict=False``."""

    missing_keys: list[str]
    unexpected_keys: list[str]


# A name registered as a parameter, buffer or submodule may be set to None, a buffer also to a
# Tensor; a Parameter or Module value is registered before this table is consulted.
_REGISTRIES = (
    ("_parameters", "parameter", lambda v: False, "a minigrad.nn.Parameter"),
    ("_buffers", "buffer", lambda v: isinstance(v, Tensor), "a Tensor"),
    ("_modules", "submodule", lambda v: False, "a Module"),
)

class Module:
    """Base class of all layers and models.

    Subclasses set their parameters and submodules as attributes in ``__init__`` (after calling
    ``super().__init__()``) and define ``forward``. Calling the module calls ``forward``.
    """

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__} has no forward(): subclasses of Module must define it"
        )

    def _fused_forward(self, next_module: Module) -> Callable | None:
        """A callable that runs this module and then ``next_module`` (as one autograd node,
        when it can), or None (the default): ``nn.Sequential`` uses it (``Sequential._plan``).
        """
        return None

    def __call__(self, *args, **kwargs):
        # Sequential.forward skips this when the recorder is off: anything added here must be
        # added there too
        if recorder[0] is not None:  # minigrad.jit is capturing a step: guard this module
            recorder[0].saw_module(self)
        return self.forward(*args, **kwargs)

    # ----------------------------------------------------------------- registration
    def _check_init(self) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign parameters or submodules to {type(self).__name__} before "
                "Module.__init__() is called: call super().__init__() first"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            self._check_init()
            self._forget(name, keep="_parameters")
            d["_parameters"][name] = value
        elif isinstance(value, Module):
            self._check_init()
            self._forget(name, keep="_modules")
            d["_modules"][name] = value
        else:  # a registered name set to None (or a buffer to another Tensor), or refused
            for registry, what, accepts, expected in _REGISTRIES:
                if registry in d and name in d[registry]:
                    if value is not None and not accepts(value):
                        raise TypeError(
                            f"cannot assign {type(value).__name__} as {what} '{name}' of "
                            f"{type(self).__name__}: expected {expected} or None"
                        )
                    d[registry][name] = value
                    break
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._forget(name)
        object.__delattr__(self, name)

    def _forget(self, name: str, keep: str | None = None) -> None:
        """Unregister ``name`` everywhere but in the registry ``keep``, where it is about to
        be set again and so keeps its place (as torch: ``model[1] = ...`` or
        ``layer.weight = Parameter(...)`` changes no order)."""
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and registry != keep:
                d[registry].pop(name, None)
        if "_non_persistent_buffers" in d:
            d["_non_persistent_buffers"].discard(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None: a declared but absent parameter) under ``name``."""
        self._check_init()
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter('{name}'): expected a Parameter or None, "
                f"got {type(param).__name__}"
            )
        self._check_name(name)
        self._forget(name, keep="_parameters")
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a Tensor that is state but not a parameter (BatchNorm's running mean).

        Buffers move with :meth:`to` and, when ``persistent``, appear in :meth:`state_dict`.
        """
        self._check_init()
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer('{name}'): expected a Tensor or None, got {type(tensor).__name__}"
            )
        if isinstance(tensor, Parameter):
            raise TypeError(f"register_buffer('{name}'): a Parameter cannot be a buffer")
        self._check_name(name)
        self._forget(name, keep="_buffers")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child under ``name``."""
        self._check_init()
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module('{name}'): expected a Module, got {type(module).__name__}")
        self._check_name(name)
        self._forget(name, keep="_modules")
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"attribute names must be strings, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"invalid attribute name {name!r}: must be non-empty without '.'")

    # ----------------------------------------------------------------- traversal
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(name, module) for this module and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is None:
                continue
            sub = f"{prefix}.{name}" if prefix else name
            yield from child.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, value in getattr(mod, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs; a parameter shared by two modules appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` ('' is this module)."""
        mod = self
        for part in target.split(".") if target else []:
            child = mod._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule '{part}' ({target})")
            mod = child
        return mod

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and on this module; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ----------------------------------------------------------------- modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout drops, BatchNorm uses batch statistics); returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        """Set evaluation mode: same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    @replayed_whole
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default, as torch), or to zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.array[...] = 0
                p.grad._bump_version()

    # ----------------------------------------------------------------- devices and dtypes
    def to(self, *args, **kwargs) -> Module:
        """Move (and/or cast) parameters and buffers IN PLACE; returns self.

        ``to('cuda')``, ``to(minigrad.float64)``, ``to('cpu', minigrad.float32)``. The Parameter
        objects stay the same (their ``data`` is replaced), so an optimizer built before the
        move keeps working. Casting applies to floating-point tensors only, as in torch.
        """
        device, dtype = parse_to_args("Module.to", args, kwargs)
        dev = Device(device) if device is not None else None
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to() casts to floating dtypes only, got {dtype}")
        if dev is not None:
            dev.xp  # noqa: B018 - raises DeviceError now, before anything has moved

        def convert(arr):
            if dtype is not None and arr.dtype.kind == "f" and arr.dtype != dtype:
                arr = arr.astype(dtype)
            if dev is not None:
                arr = backend.to_device(arr, dev)
            return arr

        for t in list(self.parameters()) + list(self.buffers()):
            new = convert(t.array)
            if new is not t.array:
                t.array = new
                t._bump_version()
            if t.grad is not None:
                t.grad.array = convert(t.grad.array)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: int | None = None) -> Module:
        return self.to("cuda" if device is None else f"cuda:{device}")

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # ----------------------------------------------------------------- state
    def state_dict(self, destination: OrderedDict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """An ordered dict ``name -> Tensor`` of every parameter and persistent buffer.

        Values are detached and share memory with the module (as torch); copy them to
        snapshot. Names are dotted paths (``'0.weight'``, ``'bn.running_mean'``).
        """
        out = OrderedDict() if destination is None else destination
        # a module registered under two names appears under both, as in torch
        for mod_prefix, mod in self.named_modules(prefix=prefix.rstrip("."),
                                                  remove_duplicate=False):
            pre = f"{mod_prefix}." if mod_prefix else ""
            for name, p in mod._parameters.items():
                if p is not None:
                    out[pre + name] = p if keep_vars else p.detach()
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent_buffers:
                    out[pre + name] = b if keep_vars else b.detach()
        return out

    def _state_targets(self) -> OrderedDict[str, Tensor]:
        return self.state_dict(keep_vars=True)

    def load_state_dict(self, state_dict, strict: bool = True) -> _IncompatibleKeys:
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        All or nothing: every key, shape and dtype is checked first; if anything is wrong, one
        RuntimeError lists all missing, unexpected and mismatched entries and nothing changes.
        Values may be Tensors or NumPy/CuPy arrays; they are copied onto the module's device
        into the existing arrays (Parameter objects stay the same). With ``strict=False``,
        missing and unexpected keys are allowed (and returned), mismatches still raise.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(
                f"load_state_dict expects a mapping of names to tensors, got "
                f"{type(state_dict).__name__}"
            )
        targets = self._state_targets()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in targets]
        problems: list[str] = []
        values = {}
        for k, t in targets.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v.array if isinstance(v, Tensor) else v
            if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
                problems.append(f"'{k}': expected a Tensor or array, got {type(v).__name__}")
                continue
            if tuple(arr.shape) != tuple(t.shape):
                problems.append(
                    f"'{k}': shape mismatch: expected {tuple(t.shape)}, got {tuple(arr.shape)}"
                )
            elif np.dtype(arr.dtype) != t.dtype:
                problems.append(f"'{k}': dtype mismatch: expected {t.dtype}, got {arr.dtype}")
            else:
                values[k] = arr
        if problems or (strict and (missing or unexpected)):
            lines = [f"Error(s) in loading state_dict for {type(self).__name__} "
                     "(nothing was changed):"]
            if missing and strict:
                lines.append("  missing keys: " + ", ".join(f"'{k}'" for k in missing))
            if unexpected and strict:
                lines.append("  unexpected keys: " + ", ".join(f"'{k}'" for k in unexpected))
            if problems:
                lines.append("  mismatched entries: " + "; ".join(problems))
            raise RuntimeError("\n".join(lines))
        moved = {k: backend.to_device(arr, targets[k].device) for k, arr in values.items()}
        with no_grad():
            for k, arr in moved.items():
                t = targets[k]
                t.array[...] = arr
                t._bump_version()
        return _IncompatibleKeys(missing, unexpected)

    # ----------------------------------------------------------------- representation
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (override in subclasses)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        children = [(n, m) for n, m in self._modules.items() if m is not None]
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = extra.split("\n") if extra else []
        for name, child in children:
            lines.append(f"({name}): " + _indent(repr(child)))
        body = "\n  ".join(lines)
        return f"{type(self).__name__}(\n  {body}\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()))

    def __getstate__(self):
        return self.__dict__.copy()

    def __setstate__(self, state):
        self.__dict__.update(state)


_module_call = Module.__call__  # for Sequential.forward's check


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: modules kept under the keys '0', '1', ..."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def _index(self, idx) -> int:
        n = len(self._modules)
        i = operator.index(idx)
        if not -n <= i < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of length {n}")
        return i % n

    def _renumber(self, modules: list[Module]) -> None:
        """Re-register ``modules`` under '0', '1', ... as torch does, so indices stay contiguous."""
        for k in list(self._modules):
            delattr(self, k)
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def __delitem__(self, idx) -> None:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[self._index(idx)]
        self._renumber(mods)

    def append(self, module: Module):
        self.add_module(str(len(self._modules)), _as_module(module, len(self._modules)))
        return self

    def extend(self, modules: Iterable[Module]):
        for m in modules:
            self.append(m)
        return self


class Sequential(_ModuleSequence):
    """Modules called in order, each on the previous one's output.

    ``Sequential(Linear(2, 3), ReLU())`` or ``Sequential(OrderedDict(fc=Linear(2, 3)))``;
    supports indexing (a slice gives a Sequential), ``len``, iteration and ``append``.
    """

    def __init__(self, *args: Module) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for name, m in args[0].items():
                self.add_module(name, _as_module(m, name))
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), _as_module(m, i))

    def forward(self, x):
        if recorder[0] is not None:  # minigrad.jit is capturing a step: it sees each module
            for m in self._modules.values():
                x = m(x)
            return x
        for m, fused in self._plan():
            if fused is not None:  # m and the module after it as one node
                x = fused(x)
            # Module.__call__ only reports to the recorder, which is off here: calling forward
            # directly saves a call per module (0.37 us each, ~1.5 us of a W3 step). A module
            # whose class has a __call__ of its own is still called through it.
            elif type(m).__call__ is _module_call:
                x = m.forward(x)
            else:
                x = m(x)
        return x

    def _plan(self) -> list[tuple[Module, Callable | None]]:
        """``(module, fused)`` for the modules in order, where ``fused`` runs the module and
        the one after it (``module._fused_forward(next)``: an ``nn.Linear`` and the
        ``nn.ReLU`` after it, as one autograd node), which the plan then skips; None runs the
        module alone. Kept until the modules change. Why: the cost of a node on a small
        network is its Python, not its arithmetic (``ops.linalg.LinearReLU``)."""
        modules = tuple(self._modules.values())
        plan = self.__dict__.get("_fusion_plan")
        if plan is not None and plan[0] == modules:
            return plan[1]
        steps, i = [], 0
        while i < len(modules):
            m = modules[i]
            fused = m._fused_forward(modules[i + 1]) if i + 1 < len(modules) else None
            steps.append((m, fused))
            i += 2 if fused is not None else 1
        self.__dict__["_fusion_plan"] = (modules, steps)
        return steps

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_fusion_plan", None)  # bound methods of the modules: rebuilt on first use
        return state

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[self._index(idx)]

    def __setitem__(self, idx, module: Module) -> None:
        key = list(self._modules)[self._index(idx)]
        self.add_module(key, _as_module(module, key))


class ModuleList(_ModuleSequence):
    """A list of modules, registered so that their parameters are found; no forward."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(self._index(idx))]

    def __setitem__(self, idx, module: Module) -> None:
        self.add_module(str(self._index(idx)), _as_module(module, idx))

    def insert(self, index: int, module: Module) -> None:
        mods = list(self._modules.values())
        mods.insert(index, _as_module(module, index))
        self._renumber(mods)

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            "ModuleList has no forward(): iterate over it in your own forward"
        )


class ModuleDict(Module):
    """A dict of modules, registered so that their parameters are found."""

    def __init__(self, modules: dict[str, Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            for k, m in modules.items():
                self[k] = m

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, _as_module(module, key))

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


def _as_module(m, where) -> Module:
    if not isinstance(m, Module):
        raise TypeError(f"entry {where!r}: expected a Module, got {type(m).__name__}")
    return m
