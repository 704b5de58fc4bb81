"""The optimizer base class: parameter groups, lazy per-parameter state, clipping, checkpoints.

The base owns every loop; an algorithm is a subclass that writes two small methods.

Contract for subclasses (kept stable; other optimizers and the schedulers rely on it):

* ``__init__`` builds ``defaults`` (a dict of hyperparameters) and calls
  ``super().__init__(params, defaults, clipnorm=..., clipvalue=..., global_clipnorm=...)``.
* ``validate(self, hp: dict) -> None`` (optional): raise ``ValueError`` for a bad
  hyperparameter. The base calls it on ``defaults`` at construction, on every parameter group
  (defaults filled in) in ``add_param_group``, and on every group at every ``step`` (values set
  by hand in ``param_groups`` are checked too). Use the
  checkers ``self.check(ok, arg, expected, value)``, ``check_nonnegative``, ``check_positive``,
  ``check_unit_interval`` and ``check_betas``; they produce messages like
  ``"Adam: beta2 must be in [0, 1), got 1.5"``.
* ``init_state(self, p, group) -> dict``: the per-parameter state, created lazily at the
  parameter's first step, on the parameter's own device
  (``xp.zeros_like(p.array)`` with ``xp = get_array_module(p.array)``, or :func:`zeros_like`).
  The base adds ``state['step'] = 0``. Every key the update uses is created here (a buffer of
  an option that is off may be None); the update creates no keys. Keep it free of side
  effects: ``step`` also calls it on an empty view of a parameter to learn the keys the
  group's current hyperparameters need. Shared update lines are
  helpers here: :func:`ema_`, :func:`ema_of_square_`, :func:`adam_denominator`,
  :func:`sma_length`, :func:`rectification`.
* ``self.scratch(like, index)`` gives an update a temporary array shaped as ``like`` that the
  optimizer keeps between steps (not state: garbage at every call, never kept by the update).
* ``update(self, p, grad, state, group) -> None``: update ONE parameter's raw array ``p.array``
  IN PLACE. ``grad`` is the raw gradient array, already negated when ``group['maximize']`` is
  true and already clipped when the optimizer has ``clipvalue`` / ``clipnorm`` /
  ``global_clipnorm``; it may be the array of ``p.grad`` itself, so never modify it in place.
  The base may call ``update`` once for a whole parameter group, with ``p``, ``grad`` and the
  state's arrays flat views of every parameter of the group (the fast path of
  :mod:`minigrad.optim.flat`); so an update is elementwise, or its class sets
  ``flat_update = False``. A 0-d parameter reaches ``update`` as shape-(1,) views of its
  array, gradient and state arrays (NumPy's arithmetic on 0-d arrays returns scalars).
  ``state['step']`` has already been incremented: it is t = 1 at the first update. Coupled L2
  decay is applied by the subclass with :func:`l2_penalty` and decoupled decay with
  :func:`decoupled_decay`, so that every update rule shows which one it uses. Read
  hyperparameters from ``group`` at every call (schedulers change ``group['lr']``,
  ``group['momentum']``, ``group['betas']`` between steps).

Base API (torch semantics): ``param_groups`` (list of dicts: ``'params'`` and every key of
``defaults``; group keys override defaults), ``state`` (dict keyed by parameter Tensor),
``defaults``, ``step(closure=None)``, ``zero_grad(set_to_none=True)``, ``add_param_group``,
``state_dict()`` / ``load_state_dict()`` (by parameter index, all-or-nothing).

``step`` first checks everything it will use, so that a bad value raises before any parameter
or state changes (an optimizer whose groups are all laid out flat and unchanged since its last
step checks the same things group-wide: ``_steady_step``; ``minigrad.jit`` replays a recorded
step as ``_replay_step``, which checks them too, less the gradients, which the recorded
program computes into buffers of its own): every group's hyperparameters
(``validate``, also for values set by hand since), every gradient's type, shape, dtype and
device, and every existing state's keys against what ``init_state`` gives the group now.
Then, under ``no_grad``, for each parameter with a gradient, in group order: negate
(maximize), clip (Keras order: ``clipvalue``, then ``clipnorm`` per parameter, then the global
scale of ``global_clipnorm`` computed over all gradients before any update), ``update``, then
``p._bump_version()``.

References:
    PyTorch ``torch.optim.Optimizer`` (data model, ``state_dict`` layout);
    Keras ``keras.optimizers.Optimizer`` (``clipnorm``, ``clipvalue``, ``global_clipnorm``).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable
from itertools import repeat
from typing import Any

import numpy as np

from ..autograd import enable_grad, no_grad
from ..backend import Array, device_of, get_array_module, on_device_of, to_device
from ..recording import recorder, replay_overrides_whole, replayed_whole
from ..tensor import Parameter, Tensor
from .clip import clip_by_norm, clip_by_value, global_norm
from .flat import FlatGroup, adopt_state, relocate
from .fused import fused_update  # CuPy's fused kernels: _flat_step and _tensor_step

__all__ = ["Optimizer", "l2_penalty", "decoupled_decay", "ema_", "ema_of_square_",
           "adam_denominator", "sma_length", "rectification", "zeros_like"]


# --------------------------------------------------------------------------- update helpers

def l2_penalty(grad: Array, theta: Array, weight_decay: float) -> Array:
    """Coupled L2 regularisation: ``g <- g + wd * theta``.

    The penalty ``wd/2 * ||theta||^2`` is added to the loss, so its gradient joins ``g`` and goes
    through the adaptive scaling of the algorithm (torch's ``weight_decay`` everywhere but AdamW).

    Args:
        grad: the gradient array (not modified).
        theta: the parameter array.
        weight_decay: the coefficient ``wd``.

    Returns:
        ``grad`` itself when ``wd == 0``, else a new array ``grad + wd * theta``.
    """
    if weight_decay == 0:
        return grad
    return grad + weight_decay * theta


def decoupled_decay(theta: Array, lr: float, weight_decay: float) -> None:
    """Decoupled weight decay, in place: ``theta <- theta - lr * wd * theta``.

    Applied to the parameter directly, outside the gradient-based step, so the decay is not
    rescaled by adaptive denominators (AdamW, SGDW).

    References:
        Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """
    if weight_decay != 0:
        theta *= 1.0 - lr * weight_decay


def ema_(average: Array, x: Array, beta: float, scratch: Array | None = None) -> None:
    """Exponential moving average, in place: ``a <- beta a + (1 - beta) x``.

    Chainer writes this line as one step towards ``x``, ``a += (1 - beta) (x - a)`` (torch as
    ``lerp_``); it is the same average, equal to round-off (checked against torch's
    trajectories). Here it is computed as ``a *= beta; a += (1 - beta) x``, which reads and
    writes one parameter-sized array fewer: measured 12% faster on this line, 5-8% on a
    whole Adamax or Lion step (BENCHMARKS.md, "optimizers as their equations").

    Args:
        average: the running average ``a``, updated in place.
        x: the new observation (not modified).
        beta: the decay rate, in ``[0, 1]``.
        scratch: optional array shaped as ``x`` to hold ``(1 - beta) x`` instead of a new
            temporary (same numbers; see :meth:`Adam.update <minigrad.optim.Adam.update>`).
    """
    average *= beta
    if scratch is None:
        average += (1.0 - beta) * x
    else:
        average += get_array_module(x).multiply(1.0 - beta, x, out=scratch)


def ema_of_square_(average: Array, x: Array, beta: float,
                   scratch: Array | None = None) -> None:
    """``a <- beta a + (1 - beta) x^2`` in place: the second-moment line of Adam.

    Chainer's form ``a += (1 - beta) (x^2 - a)``, computed with the square as the only
    temporary (the same number of array passes as ``a *= beta; a += (1 - beta) x x``),
    which goes into ``scratch`` when one is given (same numbers, one allocation fewer).
    """
    step = x * x if scratch is None else get_array_module(x).multiply(x, x, out=scratch)
    step -= average
    step *= 1.0 - beta
    average += step


def adam_denominator(v: Array, beta2: float, t: int, eps: float,
                     out: Array | None = None) -> Array:
    """The bias-corrected Adam denominator ``sqrt(v_t / (1 - beta2^t)) + eps``, a new array
    (or ``out``, shaped as ``v``: the same numbers).

    Kingma & Ba (2015), Algorithm 1: ``v^_t = v_t / (1 - beta2^t)``; the step divides by
    ``sqrt(v^_t) + eps``.
    """
    denominator = get_array_module(v).sqrt(v, out=out)
    denominator *= 1.0 / math.sqrt(1.0 - beta2**t)
    denominator += eps
    return denominator


def sma_length(beta2: float, t: int) -> tuple[float, float]:
    """RAdam's ``(rho_inf, rho_t)``: the length of the simple moving average that the EMA of
    ``g^2`` approximates, at infinity and at step ``t``.

    ``rho_inf = 2 / (1 - beta2) - 1`` and ``rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)``
    (Liu et al., ICLR 2020, eq. 4 and Algorithm 2).
    """
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    return rho_inf, rho_inf - 2.0 * t * beta2**t / (1.0 - beta2**t)


def rectification(rho_inf: float, rho_t: float) -> float:
    """RAdam's variance rectification term (Liu et al., ICLR 2020, Algorithm 2), for rho_t > 4:

    ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``.
    """
    return math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                     / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))


def zeros_like(p: Tensor) -> Array:
    """A zero array with the shape, dtype and device of parameter ``p`` (for ``init_state``)."""
    return get_array_module(p.array).zeros_like(p.array)


def _first_array(param_groups: list[dict]) -> Array | None:
    """The first parameter's array: CuPy launches the update kernels on its GPU."""
    for group in param_groups:
        for p in group["params"]:
            return p.array
    return None


# --------------------------------------------------------------------------- base class

_CLIP_KEYS = ("clipnorm", "clipvalue", "global_clipnorm")
_ARRAY = operator.attrgetter("array")
_SHAPE = operator.attrgetter("shape")
_DTYPE = operator.attrgetter("dtype")


def _frozen(v: Any) -> bool:
    """An immutable hyperparameter value: a number, bool, string, None or a tuple of them."""
    if type(v) is tuple:
        return all(type(x) in _SCALARS for x in v)
    return type(v) in _SCALARS


_SCALARS = {bool, int, float, str, type(None), np.float32, np.float64, np.bool_, np.int64}


def _unchanged(group: dict, values: list) -> bool:
    """Every value of ``group`` is the very object of ``values`` (a snapshot of it)."""
    return len(group) == len(values) and all(map(operator.is_, group.values(), values))


class _Scratch(dict):
    """The scratch buffers of :meth:`Optimizer.scratch`, by (index, shape, dtype, array type,
    device); a copy of the optimizer (``copy.deepcopy``, pickle) starts without them.

    ``last``: for each index, the array asked for last and its buffer: a flat group's update
    asks with the same flat parameter at every step, and an identity test is cheaper than
    the key (0.5 -> 0.15 us a call)."""

    def __init__(self):
        super().__init__()
        self.last: dict[int, tuple] = {}

    def __deepcopy__(self, memo: dict) -> _Scratch:
        return _Scratch()

    def __reduce__(self):
        return _Scratch, ()


def _is_scalar_or_seq(v: Any) -> bool:
    if isinstance(v, (bool, int, float, str, type(None), np.generic)):
        return True
    if isinstance(v, (tuple, list)):
        return all(_is_scalar_or_seq(x) for x in v)
    return False


def _is_array(v: Any) -> bool:
    return isinstance(v, np.ndarray) or type(v).__module__.startswith("cupy")


def _update_0d(update: Callable, p: Tensor, grad: Array, state: dict, group: dict) -> None:
    """``update`` of a 0-d parameter, run on shape-(1,) views of it, its gradient and its state.

    Why: NumPy returns a scalar (``np.float32``), not a 0-d array, from arithmetic and ufuncs
    on 0-d arrays (``-g``, ``g * c``, ``np.sqrt(v)``), so an update rule written for arrays
    breaks on 0-d parameters: a buffer built from such a result stops updating in place
    (``b = g.copy(); b *= mu`` rebinds a scalar) and ``out=`` a scalar raises. The views
    share memory with the parameter and its state, so the rule updates them in place as for
    any other shape; an array the rule puts in the state anew (SGD's first momentum buffer)
    is stored back with the parameter's shape ``()``.
    """
    vector = Tensor._wrap(p.array.reshape(1))
    views = {key: value.reshape(1) if _is_array(value) and value.ndim == 0 else value
             for key, value in state.items()}
    given = dict(views)
    update(vector, grad.reshape(1), views, group)
    for key, value in views.items():
        if value is not given.get(key):
            state[key] = value.reshape(()) if _is_array(value) and value.shape == (1,) else value


class Optimizer:
    """Base class of all optimizers (see the module docstring for the subclass contract).

    Args:
        params: an iterable of Tensors, or of dicts (parameter groups) each with a ``'params'``
            entry and optional per-group hyperparameters.
        defaults: default hyperparameters of every group.
        clipnorm: if set, each parameter's gradient is rescaled to L2 norm at most ``clipnorm``.
        clipvalue: if set, each gradient element is clipped to ``[-clipvalue, clipvalue]``.
        global_clipnorm: if set, all gradients are rescaled together so that their global L2
            norm is at most ``global_clipnorm``.

    Attributes:
        flat_update: True when ``update`` is elementwise (no reduction over a parameter, no
            use of its shape), so that the base may call it once over a whole group laid out
            flat (:mod:`minigrad.optim.flat`); an algorithm with per-tensor reductions
            sets it False, or names its per-tensor numbers in ``per_tensor_state``.
        per_tensor_state: state keys whose numbers each parameter keeps its own value of
            (SWATS's rate estimate and phase). When a group steps flat, ``update`` finds each
            as a list (one value per parameter, in the group's order) and the layout as
            ``state['segments']`` (:class:`.flat.Segments`: per-tensor sums, per-tensor
            values spread to the elements); stepped per tensor, the numbers themselves.
        flat_in_part: whether a group of large tensors may lay out its small ones flat and
            step the large ones per tensor (:func:`.flat.relocate`); False: such a group goes
            wholly per tensor (SWATS, whose flat step pays per-tensor sums that cost more
            than they save beside large tensors).
    """

    flat_update = True
    per_tensor_state: tuple[str, ...] = ()  # (issue 14: SWATS's flat step)
    flat_in_part = True

    def __init_subclass__(cls, **kwargs):
        # minigrad.jit replays a subclass's own step / zero_grad whole (see recording.py)
        super().__init_subclass__(**kwargs)
        replay_overrides_whole(cls, ("step", "zero_grad"))

    def __init__(self, params: Iterable, defaults: dict, *, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None):
        name = type(self).__name__
        self.defaults = dict(defaults)
        for key, value in zip(_CLIP_KEYS, (clipnorm, clipvalue, global_clipnorm)):
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name}: {key} must be a number > 0 or None, got {value!r}")
        if (clipnorm is not None) + (clipvalue is not None) + (global_clipnorm is not None) > 1:
            raise ValueError(
                f"{name}: only one of clipnorm, clipvalue and global_clipnorm can be set, got "
                f"clipnorm={clipnorm!r}, clipvalue={clipvalue!r}, "
                f"global_clipnorm={global_clipnorm!r}"
            )
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.validate(self.defaults)

        if isinstance(params, (Tensor, dict)):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts (parameter groups), "
                f"got a single {type(params).__name__}; wrap it in a list"
            )
        try:
            params = list(params)
        except TypeError:
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, "
                f"got {type(params).__name__}"
            ) from None
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]

        self.param_groups: list[dict] = []
        self.state: dict[Tensor, dict] = {}
        self._flat: dict[int, FlatGroup] = {}  # group index -> its flat layout (see .flat)
        self._flat_whole = False  # lay groups out whole, large tensors too (_lay_out_whole)
        self._homes_trial: list[int] | None = None  # groups laid out whole on trial
        self._homes_tried = False  # (_grad_homes)
        self._jit_seen = False  # minigrad.jit replays this optimizer's step (_replay_layout)
        self._checked: dict[int, list] = {}  # id(group) -> [group, values, state layout]
        self._scratch = _Scratch()
        for group in groups:
            self.add_param_group(group)

    def scratch(self, like: Array, index: int = 0) -> Array:
        """A temporary array shaped as ``like`` (its dtype and device) for an update's
        intermediate results, kept by the optimizer between steps: one per index, shape, dtype
        and device (parameters of one shape share it).

        Its contents are garbage at every call and it is not state (not in ``state_dict``, not
        copied with the optimizer); two arrays live at once need two indices. Why: a large
        temporary allocated afresh at every step can come back as new pages from the system
        each time (glibc returns freed memory at the top of its heap, depending on what the
        process did before): Adam's step over 52,800 numbers took 71 minor page faults and
        300 us per step in one process, 0 faults and 110 us with its two temporaries kept
        (BENCHMARKS.md, "Issue 14: the steady flat step (h14opt)"). Slices of one buffer per
        index, the largest asked for, would hold less memory but made W1's step 3% slower.
        """
        last = self._scratch.last.get(index)
        if last is not None and last[0] is like:  # the same array as at the last call
            return last[1]
        device = None if type(like) is np.ndarray else like.device.id
        key = (index, like.shape, like.dtype, type(like), device)
        buffer = self._scratch.get(key)
        if buffer is None:
            with on_device_of(like):
                buffer = self._scratch[key] = get_array_module(like).empty_like(like)
        self._scratch.last[index] = (like, buffer)
        return buffer

    # ----------------------------------------------------------------- validation helpers
    def validate(self, hp: dict) -> None:
        """Raise ValueError for a bad hyperparameter in ``hp`` (subclasses override)."""

    def check(self, ok: bool, arg: str, expected: str, value: Any) -> None:
        """Raise ``ValueError("<Optimizer>: <arg> must be <expected>, got <value>")`` unless ok."""
        if not ok:
            raise ValueError(f"{type(self).__name__}: {arg} must be {expected}, got {value!r}")

    def _number(self, arg: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"{type(self).__name__}: {arg} must be a number, got {value!r}")
        return float(value)

    def check_nonnegative(self, arg: str, value: Any) -> None:
        """``value >= 0`` (lr, momentum, weight_decay, ...)."""
        self.check(self._number(arg, value) >= 0, arg, ">= 0", value)

    def check_positive(self, arg: str, value: Any) -> None:
        """``value > 0`` (eps, ...)."""
        self.check(self._number(arg, value) > 0, arg, "> 0", value)

    def check_unit_interval(self, arg: str, value: Any, closed: bool = False) -> None:
        """``value`` in ``[0, 1)``, or in ``[0, 1]`` when ``closed``."""
        v = self._number(arg, value)
        if closed:
            self.check(0 <= v <= 1, arg, "in [0, 1]", value)
        else:
            self.check(0 <= v < 1, arg, "in [0, 1)", value)

    def check_betas(self, betas: Any) -> None:
        """``betas`` is a pair ``(beta1, beta2)``, each in ``[0, 1)``."""
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(
                f"{type(self).__name__}: betas must be a pair (beta1, beta2), got {betas!r}"
            )
        self.check_unit_interval("beta1", betas[0])
        self.check_unit_interval("beta2", betas[1])

    # ----------------------------------------------------------------- groups
    def check_adam_hyperparameters(self, hp: dict) -> None:
        """The checks of the Adam family: lr >= 0, betas in [0, 1), eps > 0, weight_decay >= 0."""
        self.check_nonnegative("lr", hp["lr"])
        self.check_betas(hp["betas"])
        self.check_positive("eps", hp["eps"])
        self.check_nonnegative("weight_decay", hp["weight_decay"])

    def add_param_group(self, param_group: dict) -> None:
        """Add a parameter group (a dict with ``'params'`` and optional hyperparameters).

        Missing hyperparameters are filled from ``defaults``. Raises TypeError for a non-Tensor
        and ValueError for an empty group, a non-leaf tensor, a duplicated parameter or one that
        is already in another group, or a bad hyperparameter; nothing changes on error.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry, got keys "
                             f"{sorted(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: parameters must be an ordered sequence, got a set "
                            "(its order changes between runs, which breaks state_dict)")
        else:
            params = list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        seen: set[int] = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but parameter {i} is a "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (parameter {i}, "
                                 f"shape {p.shape}, made by {type(p.grad_fn).__name__})")
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) appears twice in "
                                 "the parameter list")
            seen.add(id(p))
        for j, other in enumerate(self.param_groups):
            for q in other["params"]:
                if id(q) in seen:
                    raise ValueError(f"{name}: a parameter of shape {q.shape} is already in "
                                     f"parameter group {j}")
        group = {k: v for k, v in param_group.items() if k != "params"}
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.validate(group)
        group["params"] = params
        self.param_groups.append(group)
        if self.flat_update and self.clipnorm is None and len(params) > 1:
            flat = relocate(params, self._flat_whole, self.flat_in_part)  # views of one buffer
            if flat is not None:
                self._flat[len(self.param_groups) - 1] = flat

    @replayed_whole
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: ``p.grad = None`` (default) or fill them with zeros in place."""
        for group in self.param_groups:
            if set_to_none:  # what ``p.grad = None`` does, without the property (1-2 us)
                for p in group["params"]:
                    p._grad = None
                continue
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.array.fill(0)
        if set_to_none and self._flat and recorder[0] is None:
            self._grad_homes()

    def _grad_homes(self) -> None:
        """Offer each flat group's parameters their views of the group's gradient buffer as
        the place of their next gradients (:meth:`.flat.FlatGroup.offer_grad_homes`).

        A group laid out in part (its large tensors stepped per tensor: gathering their fresh
        gradients would cost more than one update pass saves) is laid out whole once, on
        trial: when at the step after, every gradient came back in its view (its layers are
        ``nn.Linear`` and BatchNorm), the group stays whole, one pass and no gather (W1's
        Adam step in training 418 -> 381 us); else it goes back to its layout in part, for
        good. Not with ``minigrad.jit``, which lays groups out itself
        (:meth:`_lay_out_whole`).
        """
        if self._jit_seen:
            self._homes_trial = None
        elif self._homes_trial is not None:
            trial, self._homes_trial = self._homes_trial, None
            if not all(self._flat[i].homes_taken for i in trial):
                self._relayout(trial, whole=False)
        elif not self._homes_tried and not self._flat_whole and self.flat_in_part:
            trial = [i for i, flat in self._flat.items() if flat.others
                     and type(flat.param) is np.ndarray
                     and all(isinstance(p, Parameter) and p in self.state
                             for p in flat.group_params)]  # (stepped once: a state to move)
            if trial:
                self._homes_tried = True
                if self._relayout(trial, whole=True):
                    self._homes_trial = trial
        for flat in self._flat.values():
            flat.offer_grad_homes()

    # ----------------------------------------------------------------- the step
    def init_state(self, p: Tensor, group: dict) -> dict:
        """The per-parameter state at the first step (subclasses override)."""
        return {}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        """Update ``p.array`` in place from ``grad`` (subclasses override)."""
        raise NotImplementedError(f"{type(self).__name__} does not define update()")

    @replayed_whole
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One optimization step over every parameter that has a gradient.

        All-or-nothing: every gradient (type, shape, dtype, device) and every group's
        hyperparameters (including values changed by hand since construction) are checked
        before any parameter or any state changes.

        Args:
            closure: optional callable that re-evaluates the model (zero_grad, forward,
                backward) and returns the loss; it runs with grad enabled before the update.

        Returns:
            The closure's return value, or None.

        Raises:
            TypeError: a gradient that is not a Tensor, of another dtype than its parameter,
                or a hyperparameter that is not a number.
            ValueError: a gradient of another shape or device than its parameter, or a bad
                hyperparameter value.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        if self._flat and self._steady_step():
            return loss
        work = self._checked_work()
        clip = self.clipvalue is not None or self.clipnorm is not None
        scale = self._global_scale(work) if self.global_clipnorm is not None else None
        with no_grad(), on_device_of(_first_array(self.param_groups)):  # CuPy: cuda:N
            for index, (group, items) in enumerate(work):
                flat = self._flat_group(index, group, items)
                if flat is not None:  # then the rest (a group's large tensors) per tensor
                    self._flat_step(flat, group, [items[i][1] for i in flat.members], scale)
                    items = [items[i] for i in flat.others]
                for p, grad, state in items:
                    self._tensor_step(p, grad, state, group, clip, scale)
        return loss

    def _tensor_step(self, p: Tensor, grad: Array, state: dict | None, group: dict,
                     clip: bool, scale: float | None) -> None:
        """The step of one parameter stepped per tensor: negate (maximize), clip or scale,
        create the state at the first step, count the step, ``update``, bump the version."""
        if group.get("maximize", False):
            grad = -grad
        if clip:
            grad = self._clip(grad)
        elif scale is not None and scale != 1.0:
            grad = grad * scale
        if state is None:
            state = self.init_state(p, group)
            state["step"] = 0
            self.state[p] = state
        state["step"] += 1
        if not grad.ndim:
            _update_0d(self.update, p, grad, state, group)
        elif not fused_update(self, p, grad, state, group):  # on CuPy: one fused kernel
            self.update(p, grad, state, group)
        p._bump_version()

    # ----------------------------------------------------------------- the flat fast path
    def _steady_step(self) -> bool:
        """The step of an optimizer whose groups are all laid out flat and unchanged since the
        last step: the flat steps of :meth:`step` without its per-parameter loop. False, with
        nothing changed, unless every group qualifies; then :meth:`step` checks and steps as
        usual.

        A group qualifies when its hyperparameters are the very immutable objects that the
        last step validated (:meth:`_check_group`; any value set by hand since, even an equal
        one, sends the step through the checks), its state layout is known, and its flat
        layout, states and gradients pass :meth:`.flat.FlatGroup.steady_gradients` (one
        C-level ``map`` per test over the group, instead of the checked path's per-parameter
        work). ``global_clipnorm`` takes the checked path (its norm is summed per gradient).

        Why: on W3 (six tensors, 8,970 numbers) the checks and bookkeeping around Adam's
        update cost about 17 us of a 37 us step. Measured (BENCHMARKS.md, "Issue 14: the
        steady flat step (h14opt)"), CPU time, with the lent gradient views of
        :meth:`.flat.FlatGroup.gather`: W3's ``opt.step`` in training 46-48 -> 40-42 us, alone
        with fixed gradients 36-38 -> 26-27 us (the floor's 13 ufuncs: 18 us); SGD over 100
        small tensors 6.3x -> 2.1x the same step over one tensor.
        """
        if self.global_clipnorm is not None or len(self._flat) != len(self.param_groups):
            return False
        ready = []
        checked, flats, state = self._checked, self._flat, self.state
        for index, group in enumerate(self.param_groups):
            seen = checked.get(id(group))
            flat = flats.get(index)
            if (flat is None or seen is None or seen[0] is not group or seen[2] is None
                    or len(group) != len(seen[1])  # (_unchanged, inline)
                    or not all(map(operator.is_, group.values(), seen[1]))):
                return False
            grads = flat.steady_gradients(group["params"], state)
            if grads is None:
                return False
            ready.append((flat, group, grads))
        # no no_grad() needed (1-2 us): the flat update reads raw arrays and a flat Tensor
        # that requires no grad, so nothing can be recorded
        if type(ready[0][0].param) is np.ndarray:
            for flat, group, grads in ready:
                self._flat_step(flat, group, grads, None, lend=True)
            return True
        with on_device_of(ready[0][0].param):  # CuPy launches on its current device
            for flat, group, grads in ready:
                self._flat_step(flat, group, grads, None, lend=True)
        return True

    # ----------------------------------------------------------------- minigrad.jit's replay
    def _replay_layout(self) -> list[FlatGroup] | None:
        """The flat layout of each parameter group when :meth:`_replay_step` can replay this
        optimizer's step, else None: every group laid out flat (wholly, or its small
        parameters, the others stepped per tensor: see :func:`.flat.relocate`) and steady
        (its last step was flat and nothing broke the layout since), its hyperparameters
        checked, every parameter's state holding what they need; no ``global_clipnorm``.
        minigrad.jit asks this after recording a step (docs/jit.md, "The optimizer's
        step")."""
        self._jit_seen = True
        if self.global_clipnorm is not None or len(self._flat) != len(self.param_groups):
            return None
        flats = []
        for index, group in enumerate(self.param_groups):
            seen = self._checked.get(id(group))
            flat = self._flat.get(index)
            if (flat is None or seen is None or seen[0] is not group
                    or not flat.steady(group["params"], self.state, others=True)
                    or not self._states_fit(flat, group)):
                return None
            flats.append(flat)
        return flats

    def _lay_out_whole(self) -> bool:
        """Lay out whole, from now on, each group laid out flat in part (its large tensors
        stepped per tensor, :func:`.flat.relocate`), with its state; True when a parameter
        got a new array. minigrad.jit asks this when it replays the step lean
        (docs/jit.md, "The optimizer's step"): the program's backward writes the gradients
        straight into a flat buffer, so the gather that makes large tensors cheaper per
        tensor in eager steps is free there, and one update pass over the group costs less
        than a flat pass plus a pass per large tensor (W1's Adam: three passes become one).
        Eager steps stay exact: the update is elementwise, flat or per tensor alike.

        A group whose state cannot be laid out (its parameters' states differ) keeps its new
        layout, stale: its next step is per tensor and the step after adopts the state."""
        self._flat_whole = True
        return self._relayout([i for i, flat in self._flat.items() if flat.others], whole=True)

    def _relayout(self, indices: list[int], whole: bool) -> bool:
        """Lay the groups ``indices`` out again, whole or in part (:func:`.flat.relocate`),
        with their state; True when a parameter got a new array."""
        moved = False
        for index in indices:
            params = self.param_groups[index]["params"]
            if any(self.state.get(p) is None for p in params):  # its next step lays it out
                continue
            flat = relocate(params, whole=whole, in_part=self.flat_in_part)
            if flat is None:
                continue
            self._flat[index].unshare_versions()
            self._flat[index] = flat
            moved = True
            if adopt_state(flat, [self.state[p] for p in flat.params], None,
                           self.per_tensor_state):
                for p, state in zip(flat.params, flat.states):
                    self.state[p] = state
            for i in flat.others:  # stepped per tensor now: a plain dict (no tie to the
                p = params[i]     # group it left, whose buffers could then be freed)
                self.state[p] = dict(self.state[p])
        if moved:  # the updates' temporaries now have other shapes: drop the old ones
            self._scratch = _Scratch()
        return moved

    def _states_fit(self, flat: FlatGroup, group: dict) -> bool:
        """The flat state and the state of each parameter stepped per tensor hold the keys
        that the group's hyperparameters need (:meth:`_layout_of`)."""
        params = group["params"]
        layout = self._layout_of(params[0], group)
        others = [self.state.get(params[i]) for i in flat.others]
        return layout.issubset(flat.states[0]) and all(
            st is not None and layout.issubset(st) for st in others)

    def _replay_step(self, flats: list[FlatGroup], grads: list[Array],
                     other_grads: list[list[Array]]) -> None:
        """``step()`` as minigrad.jit replays it when the recorded program computes every
        gradient straight into a buffer of its own: each group's flat parameters' into one
        flat buffer (``grads[i]``, laid out as ``flats[i]``, the layout
        :meth:`_replay_layout` gave at recording), each of its parameters stepped per
        tensor into one array (``other_grads[i]``, in the order of ``flats[i].others``);
        each ``p.grad`` is a Tensor on its part.

        The same checks as :meth:`_steady_step`, less those the program guarantees (the
        gradients' types, shapes, dtypes and devices; no gather: the gradient is already
        flat): each group's hyperparameters (:meth:`_check_group`: any value set since,
        by a scheduler or by hand, is validated, and a bad one raises before anything
        changes), the state's keys, and the flat layout and states
        (:meth:`.flat.FlatGroup.steady`). Anything else (a group or its layout changed,
        state loaded or replaced, a hyperparameter that is not immutable,
        ``global_clipnorm`` set) takes the full :meth:`step`, which reads the gradients
        from ``.grad``.

        Why: on W3 the replayed ``step()`` cost 37 us (kernel by kernel, CPU time), its
        update 21: the gradient checks and the gather of fresh gradients go, and the step
        costs 28-29 us; the whole replayed W3 step went from 1.36x to 1.13x the
        hand-written one, W1's from 1.08-1.11x to 1.07x (BENCHMARKS.md, "Issue 15: the
        replayed optimizer step (h15b)").
        """
        groups = self.param_groups
        ready = len(flats) == len(groups) and self.global_clipnorm is None
        for index, (flat, group) in enumerate(zip(flats, groups) if ready else ()):
            params = group["params"]
            if (self._flat.get(index) is not flat
                    or not flat.steady(params, self.state, others=True)
                    or not self._check_group(group)  # (a bad value raises here)
                    and (id(group) not in self._checked  # a mutable value: the full step
                         or not self._states_fit(flat, group))
                    or flat.others and not self._states_fit(flat, group)):
                ready = False  # (unchanged values need the keys they had: not checked)
                break
        if not ready:
            self.step()
        elif type(flats[0].param) is np.ndarray:
            self._replay_updates(flats, grads, other_grads)
        else:
            with on_device_of(flats[0].param):
                self._replay_updates(flats, grads, other_grads)

    def _replay_updates(self, flats: list[FlatGroup], grads: list[Array],
                        other_grads: list[list[Array]]) -> None:
        """The updates of :meth:`_replay_step`, in :meth:`step`'s order."""
        clip = self.clipvalue is not None
        for flat, group, grad, others in zip(flats, self.param_groups, grads, other_grads):
            self._flat_step(flat, group, None, None, grad=grad)
            params = group["params"]
            for i, g in zip(flat.others, others):
                self._tensor_step(params[i], g, self.state[params[i]], group, clip, None)

    def _flat_group(self, index: int, group: dict, items: list[tuple]) -> FlatGroup | None:
        """Group ``index`` laid out flat for this step (see :mod:`.flat`), or None when it
        goes per tensor: an algorithm that is not elementwise (``flat_update = False``),
        per-parameter ``clipnorm``, a single parameter, a parameter without a gradient, or
        a group that did not qualify when it was added (parameters of several dtypes or
        devices, or large ones: see :func:`.flat.relocate`; it is not tried again at every
        step, which would cost a pass over its parameters)."""
        params = group["params"]
        previous = self._flat.get(index)
        if previous is None or len(items) != len(params) or self.clipnorm is not None:
            if previous is not None:
                previous.stale = True  # per-tensor steps: the flat state's numbers fall behind
                previous.unshare_versions()  # and each one writes its own parameter
            return None
        if previous is not None and previous.is_current(params, self.state):
            return previous
        flat = previous if previous is not None and previous.holds(params) else None
        if flat is None:
            if previous is not None:
                previous.unshare_versions()
            flat = relocate(params, self._flat_whole, self.flat_in_part)  # p.array replaced
            if flat is None:
                return None
            self._flat[index] = flat
        states = [self.state.get(p) for p in flat.params]
        fresh = None
        if all(st is None for st in states):
            fresh = self.init_state(flat.tensor, group)
            fresh["step"] = 0
        if not adopt_state(flat, states, fresh, self.per_tensor_state):
            flat.unshare_versions()  # stepped per tensor
            return None
        for p, state in zip(flat.params, flat.states):
            self.state[p] = state
        return flat

    def _flat_step(self, flat: FlatGroup, group: dict, grads: list[Array] | None,
                   scale: float | None, lend: bool = False, grad: Array | None = None) -> None:
        """The step of a flat group: the same transforms as the per-tensor loop, then ONE call
        of ``update`` over the whole group. ``lend``: see :meth:`.flat.FlatGroup.gather` (the
        checked path holds the gradients in its own lists, so it could lend none). ``grad``:
        the group's gradient already laid out flat (:meth:`_replay_step`), else ``grads`` are
        gathered."""
        if grad is None:  # may be the gradients' own memory: never written here
            grad = flat.gather(grads, lend)
        if group.get("maximize", False):
            grad = -grad
        if self.clipvalue is not None:
            grad = clip_by_value(grad, self.clipvalue)
        elif scale is not None and scale != 1.0:
            grad = grad * scale
        flat.state["step"] += 1
        # on CuPy, one fused kernel does the whole update (optim/fused.py); False
        # (NumPy, a rule or option without a kernel): nothing done, the plain update runs
        if not fused_update(self, flat.tensor, grad, flat.state, group):
            self.update(flat.tensor, grad, flat.state, group)
        flat.scatter_state()
        flat.bump_versions()  # one bump: the laid-out parameters share a version counter

    def _checked_work(self) -> list[tuple[dict, list[tuple[Tensor, Array, dict | None]]]]:
        """``(group, [(parameter, raw gradient, state or None), ...])`` for every group, with
        every parameter of it that has a gradient, in order, after checking every group's
        hyperparameters, every gradient against its parameter and every existing state against
        what the group now needs (so that :meth:`step` fails before it changes anything)."""
        work = []
        index = -1
        for group in self.param_groups:
            self._check_group(group)
            items = self._quick_items(group)
            if items is not None:
                index += len(group["params"])
                work.append((group, items))
                continue
            layout = None
            items = []
            for p in group["params"]:
                index += 1
                g = p.grad
                if g is None:
                    continue
                state = self.state.get(p)
                if state is not None:
                    if layout is None:
                        layout = self._layout_of(p, group)
                    if not layout <= state.keys():
                        self._reject_state(index, state, layout)
                if not isinstance(g, Tensor):
                    raise TypeError(f"{type(self).__name__}: the gradient of parameter {index} "
                                    f"must be a Tensor, got {type(g).__name__}")
                grad, theta = g.array, p.array
                if (grad.shape != theta.shape or grad.dtype != theta.dtype
                        or type(grad) is not type(theta)
                        or (type(theta) is not np.ndarray and grad.device != theta.device)):
                    self._reject_gradient(index, grad, theta)
                items.append((p, grad, state))
            work.append((group, items))
        return work

    def _check_group(self, group: dict) -> bool:
        """``validate`` the group and check ``maximize``, unless every value of the group is
        the very object it was at the last check and an immutable one (a number, a string, a
        tuple of them): then nothing can have changed, and True is returned. Why: the checks
        cost about 5 us per group per step, a tenth of an Adam step on W3."""
        seen = self._checked.get(id(group))
        if seen is not None and seen[0] is group and _unchanged(group, seen[1]):
            return True
        self._checked.pop(id(group), None)
        self.validate(group)
        maximize = group.get("maximize", False)
        if maximize is not False and maximize is not True:
            self.check(isinstance(maximize, np.bool_), "maximize", "a bool", maximize)
        if all(_frozen(v) for k, v in group.items() if k != "params"):
            self._checked[id(group)] = [group, list(group.values()), None]  # layout once known
        return False

    def _layout_of(self, p: Tensor, group: dict) -> set[str]:
        """:meth:`_state_layout`, remembered while the group's values stay checked."""
        seen = self._checked.get(id(group))
        if seen is not None and seen[0] is group and seen[2] is not None:
            return seen[2]
        layout = self._state_layout(p, group)
        if seen is not None and seen[0] is group:
            seen[2] = layout
        return layout

    def _quick_items(self, group: dict) -> list[tuple[Tensor, Array, dict | None]] | None:
        """The common case of :meth:`_checked_work`, checked a whole group at a time with
        C-level ``map`` calls: every parameter has a Tensor gradient, a NumPy array of the
        parameter's shape and dtype, and every existing state holds the keys the group needs.
        None when anything differs, and the per-parameter loop then finds and reports it.

        Why: the per-parameter loop costs about 1 us per parameter, most of a step over 100
        small tensors laid out flat (BENCHMARKS.md, "Flat optimizer steps").
        """
        params = group["params"]
        grads = [p._grad for p in params]
        if not all(map(isinstance, grads, repeat(Tensor))):
            return None
        arrays, thetas = list(map(_ARRAY, grads)), list(map(_ARRAY, params))
        if (not all(map(operator.is_, map(type, arrays), repeat(np.ndarray)))
                or not all(map(operator.is_, map(type, thetas), repeat(np.ndarray)))
                or list(map(_SHAPE, arrays)) != list(map(_SHAPE, thetas))
                or list(map(_DTYPE, arrays)) != list(map(_DTYPE, thetas))):
            return None
        states = list(map(self.state.get, params))
        present = [st for st in states if st is not None]
        if present and not all(map(self._layout_of(params[0], group).issubset, present)):
            return None
        return list(zip(params, arrays, states))

    def _state_layout(self, p: Tensor, group: dict) -> set[str]:
        """The state keys ``init_state`` gives a parameter of ``group`` now (computed on an
        empty view of ``p``, so no state-sized array is made)."""
        return set(self.init_state(Tensor._wrap(p.array[None][:0]), group)) | {"step"}

    def _reject_state(self, index: int, state: dict, layout: set[str]) -> None:
        """A hyperparameter that shapes the state (e.g. ``amsgrad``) changed after the first
        step: the update would need state the parameter does not have."""
        missing = sorted(layout - state.keys())
        raise ValueError(f"{type(self).__name__}: the state of parameter {index} lacks "
                         f"{missing}, which its group's current hyperparameters need (was a "
                         "hyperparameter such as amsgrad changed after the first step?)")

    def _reject_gradient(self, index: int, grad: Array, theta: Array) -> None:
        """Raise the error that says how gradient ``index`` differs from its parameter."""
        name = f"{type(self).__name__}: the gradient of parameter {index}"
        if grad.shape != theta.shape:
            raise ValueError(f"{name} has shape {grad.shape}, the parameter has shape "
                             f"{theta.shape}")
        if grad.dtype != theta.dtype:
            raise TypeError(f"{name} has dtype {grad.dtype}, the parameter has dtype "
                            f"{theta.dtype}")
        raise ValueError(f"{name} is on {device_of(grad)}, the parameter on {device_of(theta)}")

    def _clip(self, grad: Array) -> Array:
        if self.clipvalue is not None:
            return clip_by_value(grad, self.clipvalue)
        return clip_by_norm(grad, self.clipnorm)

    def _global_scale(self, work: list[tuple]) -> float:
        """``c / max(||g||, c)`` with ``||g||`` the L2 norm over every gradient (TF's
        ``clip_by_global_norm``)."""
        grads = [item[1] for _, items in work for item in items]
        if not grads:
            return 1.0
        total = global_norm(grads)
        c = self.global_clipnorm
        if not math.isfinite(total):
            return math.nan  # as TF: a non-finite norm poisons every gradient
        return c / max(total, c)

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """The optimizer's state by parameter index, as torch lays it out.

        Returns:
            ``{'state': {index: {key: value}}, 'param_groups': [{..., 'params': [index, ...]}]}``
            where indices count parameters across groups in order; arrays are copies (on the
            parameter's device), other values are Python scalars or tuples of them.
        """
        index = 0
        groups, state = [], {}
        for group in self.param_groups:
            packed = {k: (list(v) if isinstance(v, list) else v)
                      for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                if p in self.state:
                    state[index] = {k: (v.copy() if _is_array(v) else v)
                                    for k, v in self.state[p].items()}
                ids.append(index)
                index += 1
            packed["params"] = ids
            groups.append(packed)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state made by :meth:`state_dict` (of an optimizer of the same parameters).

        All-or-nothing: the number of groups, the number of parameters per group and the shape of
        every state array are checked before anything changes. Arrays are copied onto each
        parameter's device; floating arrays take the parameter's dtype; 0-d arrays where the
        optimizer keeps a number (``step``, NAdam's ``mu_product``) become Python numbers, so a
        state saved to ``.npz`` loads back.

        Raises:
            ValueError: on any mismatch.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(f"{name}: load_state_dict expects a dict with 'state' and "
                             f"'param_groups', got {type(state_dict).__name__}")
        saved_groups = state_dict["param_groups"]
        owner = self._index_owners(saved_groups)
        new_state: dict[Tensor, dict] = {}
        for idx, entry in state_dict["state"].items():
            idx = int(idx)
            if idx not in owner:
                raise ValueError(f"{name}: loaded state refers to parameter {idx}, which no "
                                 "parameter group lists")
            p, group = owner[idx]
            new_state[p] = self._loaded_entry(idx, entry, p, group)
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            g = {k: (tuple(v) if isinstance(v, list) and isinstance(group.get(k), tuple) else v)
                 for k, v in saved.items() if k != "params"}
            g["params"] = group["params"]
            self.validate(g)
            new_groups.append(g)
        self.state = new_state
        self.param_groups[:] = new_groups
        self._checked.clear()

    def _index_owners(self, saved_groups: list[dict]) -> dict[int, tuple[Tensor, dict]]:
        """``{saved index: (parameter, group)}``, after checking that the saved groups have the
        optimizer's shape (as many groups, as many parameters in each)."""
        name = type(self).__name__
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: loaded state has {len(saved_groups)} parameter groups, "
                             f"the optimizer has {len(self.param_groups)}")
        owner: dict[int, tuple[Tensor, dict]] = {}
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}: loaded parameter group {gi} has "
                                 f"{len(saved['params'])} parameters, the optimizer's has "
                                 f"{len(group['params'])}")
            for idx, p in zip(saved["params"], group["params"]):
                owner[int(idx)] = (p, group)
        return owner

    def _loaded_entry(self, idx: int, entry: dict, p: Tensor, group: dict) -> dict:
        """Parameter ``idx``'s saved state, checked against ``init_state`` and moved onto the
        parameter's device and dtype (nothing is changed here)."""
        name = type(self).__name__
        template = self.init_state(p, group)
        for key, ref in template.items():
            if key not in entry:
                raise ValueError(f"{name}: loaded state of parameter {idx} lacks {key!r} "
                                 f"(has {sorted(entry)})")
            if _is_array(ref) and (not hasattr(entry[key], "shape")
                                   or tuple(entry[key].shape) != tuple(ref.shape)):
                got = getattr(entry[key], "shape", type(entry[key]).__name__)
                raise ValueError(f"{name}: loaded state {key!r} of parameter {idx} has "
                                 f"shape {got}, expected {tuple(ref.shape)}")
        moved = {}
        for key, value in entry.items():
            if _is_array(value) and value.ndim == 0 and not _is_array(template.get(key)):
                value = value.item()  # a scalar that went through an .npz checkpoint
            if _is_array(value):
                arr = to_device(value, p.device)
                if arr.dtype.kind == "f" and arr.dtype != p.dtype:
                    arr = arr.astype(p.dtype)
                elif arr is value:
                    arr = arr.copy()
                moved[key] = arr
            elif _is_scalar_or_seq(value):
                moved[key] = value.item() if isinstance(value, np.generic) else value
            else:
                raise ValueError(f"{name}: loaded state {key!r} of parameter {idx} is a "
                                 f"{type(value).__name__}; expected an array, a number or "
                                 "a tuple of numbers")
        if "step" in moved:
            moved["step"] = int(moved["step"])
        return moved

    # ----------------------------------------------------------------- display
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        for key in _CLIP_KEYS:
            if getattr(self, key) is not None:
                lines.append(f"{key}: {getattr(self, key)}")
        lines.append(")")
        return "\n".join(lines)
