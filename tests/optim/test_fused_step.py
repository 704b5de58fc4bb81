"""The fused kernels in ``Optimizer.step``: the hook in ``_flat_step`` (optimizer.py).

On CuPy the hook runs a flat group's update as one kernel. Here ``fused.HOST_RUNNER`` runs the
kernels on NumPy arrays (their NumPy form, the same bits as the update: test_fused_kernels.py),
so the whole path runs on the CPU: the flat layout, the state handed back to each parameter
(NAdam's ``mu_product`` included), the fallbacks (SGD's first momentum step, a parameter
without a gradient, an option switched on after the first step), maximize, clipping and
schedulers. The reference is the same optimizer with the fused kernels off; results must be the
same bits.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad
from minigrad.optim import fused
from minigrad.optim.lr_scheduler import StepLR
from minigrad.optim.nadam import NAdam
from minigrad.optim.rmsprop import RMSprop
from minigrad.optim.sgd import SGD

from .fused_c import COMPILER, run_c, run_numpy
from .registry import FULL_STATE

SHAPES = ((3, 4), (4,), (2, 3, 2), (1,), (5, 1))
STEPS = 7


class _Counting:
    """A HOST_RUNNER that counts its launches."""

    def __init__(self, runner):
        self.runner, self.launches = runner, 0

    def __call__(self, kernel, arrays, scalars):
        self.launches += 1
        self.runner(kernel, arrays, scalars)


def _train(make, monkeypatch, runner, skip_at=None, shapes=SHAPES, before=None,
           column_major=False, **kw):
    """STEPS steps over parameters of ``shapes`` with a StepLR schedule (``before(step, opt)``
    called before each); returns parameters, the optimizer and the runner's launch count.
    ``column_major``: the 2-D parameters stored F-contiguous (as ``nn.Linear``'s weight),
    their gradients C-contiguous."""
    rng = np.random.default_rng(7)
    order = np.asfortranarray if column_major else np.asarray
    params = [minigrad.Parameter(order(rng.normal(size=s).astype(np.float32)))
              for s in shapes]
    counting = _Counting(runner) if runner is not None else None
    monkeypatch.setattr(fused, "HOST_RUNNER", counting)
    monkeypatch.setattr(fused, "ENABLED", runner is not None)
    opt = make(params, **kw)
    schedule = StepLR(opt, step_size=2, gamma=0.5)
    for step in range(STEPS):
        if before is not None:
            before(step, opt)
        for i, (p, s) in enumerate(zip(params, shapes)):
            g = rng.normal(size=s).astype(np.float32)
            p.grad = None if (step == skip_at and i == 1) else minigrad.Tensor(g)
        opt.step()
        schedule.step()
    return params, opt, (counting.launches if counting else 0)


def _assert_same(a, b):
    (params_a, opt_a, _), (params_b, opt_b, _) = a, b
    for pa, pb in zip(params_a, params_b):
        np.testing.assert_array_equal(pa.array, pb.array)
        sa, sb = opt_a.state[pa], opt_b.state[pb]
        assert sa.keys() == sb.keys()
        for key in sa:
            if hasattr(sa[key], "shape"):
                assert sa[key].shape == pa.shape
                np.testing.assert_array_equal(sa[key], sb[key], err_msg=key)
            else:
                assert sa[key] == sb[key], key


@pytest.mark.parametrize("name", sorted(FULL_STATE))
@pytest.mark.parametrize("kw", [{}, {"maximize": True}, {"clipvalue": 0.5},
                                {"global_clipnorm": 1.0}], ids=["plain", "maximize", "clipvalue",
                                                                "global_clipnorm"])
def test_step_with_fused_kernels_is_the_plain_step(name, kw, monkeypatch):
    make = FULL_STATE[name]
    fused_run = _train(make, monkeypatch, run_numpy, **kw)
    plain_run = _train(make, monkeypatch, None, **kw)
    _assert_same(fused_run, plain_run)
    launches = fused_run[2]
    if fused.plan(type(fused_run[1])) is None:  # SWATS: per-tensor numbers, no kernel
        assert launches == 0
    else:
        first_momentum = name.startswith("SGD")  # b_1 = g_1 is made by update
        assert launches == STEPS - first_momentum


def test_a_step_without_a_gradient_goes_per_tensor(monkeypatch):
    """A parameter without a gradient at step 3: that step and the next ones go per tensor
    (its step count then differs from the others', so the flat state can't be laid out again;
    flat.py), one kernel per tensor, and the numbers stay the plain step's."""
    make = FULL_STATE["Adam"]
    fused_run = _train(make, monkeypatch, run_numpy, skip_at=3)
    plain_run = _train(make, monkeypatch, None, skip_at=3)
    _assert_same(fused_run, plain_run)
    n = len(SHAPES)  # 3 flat steps, then step 3 without one gradient, then all per tensor
    assert fused_run[2] == 3 + (n - 1) + n * (STEPS - 4)


def test_a_large_parameter_stepped_per_tensor_gets_its_own_kernel(monkeypatch):
    """A group too large on average to go flat lays out its small tensor and steps the large
    one per tensor (flat.py): one kernel each per step, the plain step's bits."""
    shapes = ((128, 128), (4,))  # mean numel 8,194 > flat.FLAT_MEAN_NUMEL
    make = FULL_STATE["Adam"]
    fused_run = _train(make, monkeypatch, run_numpy, shapes=shapes)
    _assert_same(fused_run, _train(make, monkeypatch, None, shapes=shapes))
    assert fused_run[2] == 2 * STEPS


def test_nadam_hands_its_mu_product_to_every_parameter(monkeypatch):
    params, opt, launches = _train(lambda ps: NAdam(ps, lr=1e-2), monkeypatch, run_numpy)
    products = {opt.state[p]["mu_product"] for p in params}
    assert len(products) == 1 and launches == STEPS
    _assert_same((params, opt, 0), _train(lambda ps: NAdam(ps, lr=1e-2), monkeypatch, None))


def test_an_option_switched_on_later_falls_back_once(monkeypatch):
    """RMSprop's momentum buffer is None until momentum is switched on: that step runs the
    plain update (which creates it), the next ones the kernel with momentum."""
    def make(ps):
        return RMSprop(ps, lr=1e-2)

    def momentum_at_2(step, opt):
        if step == 2:
            opt.param_groups[0]["momentum"] = 0.9

    fused_run = _train(make, monkeypatch, run_numpy, before=momentum_at_2)
    _assert_same(fused_run, _train(make, monkeypatch, None, before=momentum_at_2))
    assert fused_run[2] == STEPS - 1


@pytest.mark.skipif(COMPILER is None, reason="no C compiler (gcc or cc) on this machine")
def test_step_with_compiled_c_kernels(monkeypatch):
    """The compiled C++ operations through the whole step, to float32 round-off."""
    make = FULL_STATE["AngularGrad"]
    params_c, _, launches = _train(make, monkeypatch, run_c)
    params, _, _ = _train(make, monkeypatch, None)
    assert launches == STEPS
    for pc, p in zip(params_c, params):
        np.testing.assert_allclose(pc.array, p.array, rtol=1e-6, atol=1e-6)


def test_sgd_without_momentum_is_one_launch_per_step(monkeypatch):
    _, _, launches = _train(lambda ps: SGD(ps, lr=0.1), monkeypatch, run_numpy)
    assert launches == STEPS


@pytest.mark.parametrize("runner", ["numpy", "c"])
@pytest.mark.parametrize("name", ["Adam", "NAdam", "RMSprop", "Lion"])
def test_column_major_parameters_with_row_major_gradients(name, runner, monkeypatch):
    """The kernels take the arrays as they come (flat buffers, or one parameter stepped per
    tensor): a column-major weight stepped per tensor with a C-ordered gradient and state
    that follows the weight's layout meets each element by its index (as CuPy's
    ElementwiseKernel does), and a small F-contiguous one laid out flat in its own layout;
    the plain step's numbers."""
    if runner == "c" and COMPILER is None:
        pytest.skip("no C compiler (gcc or cc) on this machine")
    shapes = ((200, 128), (3, 4), (4,))  # the first stepped per tensor, the others flat
    make = FULL_STATE[name]
    fused_run = _train(make, monkeypatch, run_numpy if runner == "numpy" else run_c,
                       shapes=shapes, column_major=True)
    plain_run = _train(make, monkeypatch, None, shapes=shapes, column_major=True)
    assert fused_run[0][0].array.flags.f_contiguous and fused_run[0][1].array.flags.f_contiguous
    assert fused_run[2] >= 2 * (STEPS - 1)  # the per-tensor one and the flat group
    if runner == "numpy":
        _assert_same(fused_run, plain_run)
    else:
        for pc, p in zip(fused_run[0], plain_run[0]):
            np.testing.assert_allclose(pc.array, p.array, rtol=1e-6, atol=1e-6)
