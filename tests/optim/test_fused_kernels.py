"""The fused optimizer kernels (minigrad/optim/fused.py) against each optimizer's own update.

For every optimizer whose update has a fused kernel, and each of its option combinations, a
flat float32 parameter takes ``STEPS`` steps with the learning rate, betas and momentum changed
between steps (as a scheduler does); the reference is the optimizer's own ``update`` on a copy.
The fused side goes through :func:`fused.fused_update` with the kernel run on the CPU:

* its NumPy form (the body run with NumPy's ufuncs, statement by statement): the same
  operations in the same order as the update, so the result must be the same bits;
* its C++ operation (the very string a ``cupy.ElementwiseKernel`` compiles), compiled with the
  system C compiler (tests/optim/fused_c.py): the same IEEE float32 operations for
  ``+ - * /`` and ``sqrt``, but the C library's ``exp``, ``atan2``, ``tanh``, ``cos``, ``tan``
  and ``pow`` where the update has NumPy's (both within a few ulp of the exact value, not the
  same bits). So these compare with ``rtol = 1e-6`` (about 8 float32 ulp) and an absolute
  floor of ``1e-6`` times the array's largest magnitude, for elements that cancel to near 0.

Through a stand-in ``cupy`` module (fused_c.py), whose ElementwiseKernel compiles the
operation as C++ the way CuPy lays it out, the launch code runs as on a GPU: the parameter
strings, the argument order, the keywords; same tolerance.

On a GPU (skipped without one) the real ``cupy.ElementwiseKernel`` runs against the update on
the same data, with the same tolerance (CUDA's ``sqrt`` and ``/`` are IEEE-rounded; its
transcendental functions are within 1-4 ulp).
"""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest

import minigrad
from minigrad.optim import fused
from minigrad.optim.adabelief import AdaBelief
from minigrad.optim.adadelta import Adadelta
from minigrad.optim.adagrad import Adagrad
from minigrad.optim.adainject import AdaInject
from minigrad.optim.adam import Adam, AMSGrad
from minigrad.optim.adamax import Adamax
from minigrad.optim.adamw import AdamW
from minigrad.optim.angulargrad import AngularGrad
from minigrad.optim.diffgrad import DiffGrad
from minigrad.optim.ftrl import FTRL
from minigrad.optim.lion import Lion
from minigrad.optim.nadam import NAdam
from minigrad.optim.radam import RAdam
from minigrad.optim.rmsprop import RMSprop
from minigrad.optim.sgd import SGD
from minigrad.optim.sgdw import SGDW
from minigrad.optim.swats import SWATS
from minigrad.tensor import Tensor

from ..conftest import CUDA
from .fused_c import COMPILER, CXX, run_c, run_numpy, stand_in_cupy

STEPS = 8  # RAdam's and AdaBelief's rectified step starts at step 6 (beta2 = 0.999)
SIZE = 301
RTOL = 1e-6

# (class, options): every option combination that selects another kernel body
CASES = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.1, weight_decay=0.01)),
    (SGD, dict(lr=0.1, momentum=0.9)),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (SGDW, dict(lr=0.1, weight_decay=0.1)),
    (SGDW, dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    (SGDW, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (Adagrad, dict(lr=0.1)),
    (Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    (Adadelta, dict(lr=1.0)),
    (Adadelta, dict(lr=1.0, rho=0.8, weight_decay=0.01)),
    (RMSprop, dict(lr=1e-2)),
    (RMSprop, dict(lr=1e-2, centered=True)),
    (RMSprop, dict(lr=1e-2, momentum=0.9)),
    (RMSprop, dict(lr=1e-2, centered=True, momentum=0.9, weight_decay=0.01)),
    (Adam, dict(lr=1e-2)),
    (Adam, dict(lr=1e-2, weight_decay=0.01)),
    (Adam, dict(lr=1e-2, amsgrad=True, weight_decay=0.01)),
    (AMSGrad, dict(lr=1e-2)),
    (AdamW, dict(lr=1e-2)),
    (AdamW, dict(lr=1e-2, amsgrad=True)),
    (Adamax, dict(lr=1e-2)),
    (Adamax, dict(lr=1e-2, weight_decay=0.01)),
    (NAdam, dict(lr=1e-2)),
    (NAdam, dict(lr=1e-2, weight_decay=0.01)),
    (NAdam, dict(lr=1e-2, weight_decay=0.01, decoupled_weight_decay=True)),
    (RAdam, dict(lr=1e-2)),
    (RAdam, dict(lr=1e-2, weight_decay=0.01)),
    (RAdam, dict(lr=1e-2, weight_decay=0.01, decoupled_weight_decay=True)),
    (AdaBelief, dict(lr=1e-2)),
    (AdaBelief, dict(lr=1e-2, weight_decay=0.01, amsgrad=True)),
    (AdaBelief, dict(lr=1e-2, weight_decay=0.01, weight_decouple=False)),
    (AdaBelief, dict(lr=1e-2, weight_decay=0.01, fixed_decay=True)),
    (AdaBelief, dict(lr=1e-2, rectify=True)),
    (AdaBelief, dict(lr=1e-2, rectify=True, degenerated_to_sgd=False, amsgrad=True)),
    (DiffGrad, dict(lr=1e-2)),
    (DiffGrad, dict(lr=1e-2, weight_decay=0.01)),
    (Lion, dict(lr=1e-3)),
    (Lion, dict(lr=1e-3, weight_decay=0.1)),
    (FTRL, dict(lr=0.5)),
    (FTRL, dict(lr=0.5, l1_regularization_strength=0.01, l2_regularization_strength=0.1,
                l2_shrinkage_regularization_strength=0.05, beta=0.5)),
    (FTRL, dict(lr=0.5, learning_rate_power=-0.7, initial_accumulator_value=0.5)),
    (FTRL, dict(lr=0.5, learning_rate_power=0.0)),
    (AdaInject, dict(lr=1e-2)),
    (AdaInject, dict(lr=1e-2, weight_decay=0.01, k=3.0)),
    (AngularGrad, dict(lr=1e-2)),
    (AngularGrad, dict(lr=1e-2, method="tan", weight_decay=0.01)),
]


def _case_id(case):
    cls, options = case
    return cls.__name__ + "".join(f"-{k}={v}" for k, v in options.items() if k != "lr")


def _schedule(group: dict, step: int) -> None:
    """What a scheduler does between steps: new lr, betas and momentum (not switched on/off)."""
    group["lr"] *= 0.8 if step % 2 else 1.1
    if "betas" in group:
        beta1, beta2 = group["betas"]
        group["betas"] = (beta1 - 0.01, beta2 - 1e-4)
    if group.get("momentum", 0) > 0:
        group["momentum"] = 0.9 - 0.05 * (step % 3)


class _Run:
    """One optimizer's update run on a flat parameter, through the fused path or not."""

    def __init__(self, cls, options, dtype=np.float32, seed=0):
        rng = np.random.default_rng(seed)
        self.theta = rng.normal(size=SIZE).astype(dtype)
        self.grads = [rng.normal(size=SIZE).astype(dtype) for _ in range(STEPS)]
        self.opt = cls([minigrad.Parameter(self.theta.copy())], **options)

    def run(self, runner=None, monkeypatch=None):
        """The parameter and state after every step; ``runner``: the fused path's kernel runner
        (None: the optimizer's own update). Returns (trajectory, steps fused)."""
        group = copy.deepcopy({k: v for k, v in self.opt.param_groups[0].items()
                               if k != "params"})
        p = Tensor._wrap(self.theta.copy())
        state = self.opt.init_state(p, group)
        state["step"] = 0
        trajectory, fused_steps = [], 0
        if runner is not None:
            monkeypatch.setattr(fused, "HOST_RUNNER", runner)
        for step, grad in enumerate(self.grads):
            if step:
                _schedule(group, step)
            state["step"] += 1
            if runner is not None and fused.fused_update(self.opt, p, grad, state, group):
                fused_steps += 1
            else:
                self.opt.update(p, grad, state, group)
            trajectory.append(_snapshot(p.array, state))
        return trajectory, fused_steps


    def run_on(self, to_device):
        """The fused path on arrays made by ``to_device`` (CuPy's, or a stand-in's); the
        trajectory on the host."""
        group = copy.deepcopy({k: v for k, v in self.opt.param_groups[0].items()
                               if k != "params"})
        p = Tensor._wrap(to_device(self.theta.copy()))
        state = self.opt.init_state(p, group)
        state["step"] = 0
        trajectory = []
        for step, grad in enumerate(self.grads):
            if step:
                _schedule(group, step)
            state["step"] += 1
            grad = to_device(grad)
            if not fused.fused_update(self.opt, p, grad, state, group):
                self.opt.update(p, grad, state, group)
            trajectory.append({k: _host(v) for k, v in _snapshot(p.array, state).items()})
        return trajectory


def _host(value):
    if hasattr(value, "get"):
        return value.get()
    return np.asarray(value).copy() if isinstance(value, np.ndarray) else value


def _snapshot(theta, state):
    return {"theta": theta.copy(), **{k: (v.copy() if hasattr(v, "copy") else v)
                                      for k, v in state.items()}}


def _assert_close(actual, expected, exact):
    for step, (a, e) in enumerate(zip(actual, expected), 1):
        assert a.keys() == e.keys()
        for key in e:
            if not isinstance(e[key], np.ndarray):
                if isinstance(e[key], (float, np.floating)):
                    assert a[key] == pytest.approx(e[key], rel=1e-12), (step, key)
                else:  # a step count, or None (a buffer an option leaves out)
                    assert a[key] == e[key], (step, key)
            elif exact:
                np.testing.assert_array_equal(a[key], e[key], err_msg=f"step {step}, {key}")
            else:
                floor = RTOL * float(np.max(np.abs(e[key])))
                np.testing.assert_allclose(a[key], e[key], rtol=RTOL, atol=floor,
                                           err_msg=f"step {step}, {key}")


def _expected_fused_steps(cls, options):
    # SGD's first momentum step creates the buffer (b_1 = g_1) in update: not fused
    return STEPS - 1 if cls in (SGD, SGDW) and options.get("momentum", 0) else STEPS


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_numpy_form_is_the_update(case, monkeypatch):
    """The body's NumPy form: the same operations in the same order as the update, the same
    bits at every step, with hyperparameters changed between steps."""
    cls, options = case
    run = _Run(cls, options)
    expected, _ = run.run()
    actual, fused_steps = run.run(run_numpy, monkeypatch)
    assert fused_steps == _expected_fused_steps(cls, options)
    _assert_close(actual, expected, exact=True)


@pytest.mark.skipif(COMPILER is None, reason="no C compiler (gcc or cc) on this machine")
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_compiled_c_is_the_update(case, monkeypatch):
    """The rendered C++ operation, compiled on the CPU, to float32 round-off (module doc)."""
    cls, options = case
    run = _Run(cls, options)
    expected, _ = run.run()
    actual, fused_steps = run.run(run_c, monkeypatch)
    assert fused_steps == _expected_fused_steps(cls, options)
    _assert_close(actual, expected, exact=False)


@pytest.mark.skipif(COMPILER is None, reason="no C compiler (gcc or cc) on this machine")
@pytest.mark.parametrize("cls, options", [(Adam, dict(lr=1e-2, amsgrad=True, weight_decay=0.01)),
                                          (RMSprop, dict(lr=1e-2, centered=True, momentum=0.9)),
                                          (AngularGrad, dict(lr=1e-2))])
def test_compiled_c_float64(cls, options, monkeypatch):
    """The same kernels with ``T = double``: CuPy compiles one per dtype."""
    run = _Run(cls, options, dtype=np.float64)
    expected, _ = run.run()
    actual, _ = run.run(run_c, monkeypatch)
    assert actual[-1]["theta"].dtype == np.float64
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a["theta"], e["theta"], rtol=1e-13, atol=1e-15)


def test_every_elementwise_optimizer_has_a_kernel():
    """Every optimizer class whose update is elementwise (``flat_update`` and no per-tensor
    numbers: SWATS steps flat, but its per-tensor dot products are no kernel of one rule) is
    fused, and the cases above reach each of them."""
    classes = {SGD, SGDW, Adagrad, Adadelta, RMSprop, Adam, AMSGrad, AdamW, Adamax, NAdam, RAdam,
               AdaBelief, DiffGrad, AdaInject, AngularGrad, Lion, FTRL, SWATS}
    for cls in classes:
        elementwise = cls.flat_update and not cls.per_tensor_state
        assert (fused.plan(cls) is not None) == elementwise, cls.__name__
    assert {cls for cls, _ in CASES} == {
        cls for cls in classes if cls.flat_update and not cls.per_tensor_state}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_new_hyperparameters_are_arguments_not_new_kernels(case):
    """A schedule's new lr, betas or momentum and a new step count change the scalars, never
    the kernel (CuPy compiles a kernel once per dtype): at most the rules that depend on the
    step (RAdam and AdaBelief's rectification, AdaInject's first step) take a second one."""
    cls, options = case
    opt = cls([minigrad.Parameter(np.ones(3, np.float32))], **options)
    group = {k: v for k, v in opt.param_groups[0].items() if k != "params"}
    state = {**opt.init_state(Tensor._wrap(np.ones(3, np.float32)), group), "step": 0}
    if state.get("momentum_buffer", 0) is None:
        state["momentum_buffer"] = np.zeros(3, np.float32)
    kernels, scalars = set(), []
    for step in range(STEPS):
        if step:
            _schedule(group, step)
        state["step"] += 1
        launch = fused.plan(cls)(group, state)
        kernels.add(launch.kernel)
        scalars.append(launch.scalars)
    assert len(kernels) <= (2 if cls in (RAdam, AdaBelief, AdaInject) else 1)
    assert scalars[0] != scalars[-1]


def test_a_subclass_with_its_own_update_is_not_fused(monkeypatch):
    class Mine(Adam):
        def update(self, p, grad, state, group):
            super().update(p, grad, state, group)

    monkeypatch.setattr(fused, "HOST_RUNNER", run_numpy)
    opt = Mine([minigrad.Parameter(np.ones(3, np.float32))])
    p = Tensor._wrap(np.ones(3, np.float32))
    state = {**opt.init_state(p, opt.param_groups[0]), "step": 1}
    assert fused.plan(Mine) is None
    assert not fused.fused_update(opt, p, np.ones(3, np.float32), state, opt.param_groups[0])
    np.testing.assert_array_equal(p.array, np.ones(3, np.float32))  # nothing changed


def test_not_fused_without_a_runner_or_when_disabled(monkeypatch):
    """NumPy arrays take the fused path only in these tests (HOST_RUNNER); ENABLED = False
    turns it off everywhere; other dtypes are not fused."""
    opt = Adam([minigrad.Parameter(np.ones(3, np.float32))])
    group = opt.param_groups[0]
    p = Tensor._wrap(np.ones(3, np.float32))
    state = {**opt.init_state(p, group), "step": 1}
    grad = np.ones(3, np.float32)
    assert not fused.fused_update(opt, p, grad, state, group)
    monkeypatch.setattr(fused, "HOST_RUNNER", run_numpy)
    monkeypatch.setattr(fused, "ENABLED", False)
    assert not fused.fused_update(opt, p, grad, state, group)
    monkeypatch.setattr(fused, "ENABLED", True)
    p16 = Tensor._wrap(np.ones(3, np.float16))
    state16 = {**opt.init_state(p16, group), "step": 1}
    assert not fused.fused_update(opt, p16, grad.astype(np.float16), state16, group)
    np.testing.assert_array_equal(p.array, np.ones(3, np.float32))
    assert fused.fused_update(opt, p, grad, state, group)
    assert not np.array_equal(p.array, np.ones(3, np.float32))


# ------------------------------------------------------------------ through a CuPy stand-in
class _DeviceArray(np.ndarray):
    """Not exactly a numpy.ndarray, so ``fused_update`` takes the launch path (CuPy's)."""


@pytest.mark.skipif(CXX is None, reason="no C++ compiler (g++ or c++) on this machine")
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_launch_through_a_cupy_stand_in(case, monkeypatch):
    """``FusedKernel.launch`` and ``cupy_kernel`` with a stand-in ``cupy`` module whose
    ElementwiseKernel compiles the operation as C++ laid out as CuPy lays it out (fused_c.py):
    the parameter strings, the argument order and the keywords CuPy gets, to float32
    round-off against the update (module doc)."""
    stand_in = stand_in_cupy()
    monkeypatch.setitem(sys.modules, "cupy", stand_in)
    cls, options = case
    run = _Run(cls, options)
    expected, _ = run.run()
    actual = run.run_on(lambda a: np.ascontiguousarray(a).view(_DeviceArray))
    _assert_close(actual, expected, exact=False)
    assert sum(k.launches for k in stand_in.kernels) == _expected_fused_steps(cls, options)
    for k in stand_in.kernels:
        assert k.kwargs == {"options": ("--fmad=false",)} and k.no_return
        assert k.preamble == fused.PREAMBLE


# ----------------------------------------------------------------------------- on the GPU
@pytest.mark.skipif(not CUDA, reason="CUDA device not available (needs CuPy and a GPU): the "
                    "cupy.ElementwiseKernel path is checked when a GPU is lent")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_cupy_kernel_is_the_numpy_form(case, dtype):
    """The real ``cupy.ElementwiseKernel`` against the NumPy form, step by step on the same
    state: the flat path's fused update on a GPU."""
    import cupy  # noqa: PLC0415

    cls, options = case
    run = _Run(cls, options, dtype=dtype)
    expected, _ = run.run()
    actual = run.run_on(cupy.asarray)
    _assert_close(actual, expected, exact=False)
