"""SWATS: switch from Adam to SGD once the projected SGD learning rate has settled.

Keskar & Socher, "Improving Generalization Performance by Switching from Adam to SGD",
arXiv:1712.07628, 2017, Algorithm 1. In the paper's symbols (step k, learning rate alpha)::

    phase Adam:
        m_k = beta_1 m_{k-1} + (1 - beta_1) g_k
        a_k = beta_2 a_{k-1} + (1 - beta_2) g_k^2
        p_k = -alpha sqrt(1 - beta_2^k) / (1 - beta_1^k) * m_k / (sqrt(a_k) + eps)
        x_k = x_{k-1} + p_k
        if p_k^T g_k != 0:
            gamma_k  = p_k^T p_k / (-p_k^T g_k)          (the SGD rate whose step projects onto p_k)
            lambda_k = beta_2 lambda_{k-1} + (1 - beta_2) gamma_k
            if k > 1 and |lambda_k / (1 - beta_2^k) - gamma_k| < eps:
                phase = SGD;  v_k = 0;  Lambda = lambda_k / (1 - beta_2^k)
        else:
            lambda_k = lambda_{k-1}
    phase SGD:
        v_k = beta_1 v_{k-1} + g_k
        x_k = x_{k-1} - (1 - beta_1) Lambda v_k

The SGD phase is heavy-ball SGD with momentum beta_1, i.e. torch's ``SGD(momentum=beta_1)`` at
learning rate ``(1 - beta_1) Lambda``. Defaults are the paper's: alpha = 1e-3,
betas (0.9, 0.999), eps = 1e-9 (used both in the Adam denominator and as the switch tolerance).

Decisions (documented because the paper leaves them open or the code differs):

* Per parameter tensor ("per layer"): every parameter has its own gamma, lambda, phase and
  Lambda, kept in ``optimizer.state[p]``: ``'phase'`` (``'adam'`` or ``'sgd'``), ``'sgd_lr'``
  (Lambda, None before the switch), ``'switch_step'`` (k at which the switch happened, None
  before) and ``'lambda'`` (lambda_k). So layers switch independently, each at its own rate.
  torch-optimizer's SWATS instead switches the whole parameter group (and overwrites the group's
  ``lr``) as soon as any one tensor meets the criterion; put all parameters in one tensor to get
  a single global decision.
* The switch also requires Lambda > 0 (as in torch-optimizer): a non-positive rate would ascend.
  The tolerance is absolute, ``|Lambda - gamma_k| < eps``, as in Algorithm 1 (torch-optimizer
  uses a relative ``allclose(rtol=1e-6)``).
* After the switch the SGD rate is ``Lambda * lr_t / lr_switch``: a scheduler that scales the
  group's ``lr`` after the switch scales the SGD rate by the same factor (lr_switch, the group's
  rate at the switch, is kept in ``state['switch_lr']``).
* gamma_k's dot products are taken in the parameter's dtype and read back as Python floats (one
  device synchronisation per Adam-phase step: per parameter, or per group laid out flat; none
  after the switch). With float32 parameters gamma_k carries a relative round-off of about
  1e-7, so the paper's absolute tolerance eps = 1e-9 can only be met while gamma_k is below
  about 1e-2 (true for the paper's alpha = 1e-3 on typical gradients); with a larger alpha,
  raise ``eps``.
* A group of small tensors steps flat (``minigrad.optim.flat``: one update over the group's
  buffers), each tensor still its own gamma, lambda, phase and Lambda (``per_tensor_state``):
  the dot products are per-tensor sums over the flat buffer (``Segments.dots``: row-wise
  dot products of strided views when the tensors fall into runs of equal sizes, as an MLP's
  weights and biases do, else each tensor summed in order; where one tensor's are BLAS dots:
  the same numbers to float round-off),
  and when a group's tensors are in both phases each phase's lines run over the whole buffer
  with per-element factors that leave the other phase's elements as they are (a decay of 1
  and a weight of 0: exact while the gradient is finite; ``0 * inf`` would make the idle
  moments NaN). 50 Linear(32, 32) layers: 11-12x the step over one tensor before, 1.9-2.1x
  after h16small, 1.55-1.7x now (BENCHMARKS.md, "Issue 14: many small tensors (h16small)"
  and "Issue 14: small tensors (h17small)").
* ``weight_decay`` is coupled L2 (``g <- g + wd * x``) in both phases.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..backend import CPU, Array, get_array_module, to_device
from ..tensor import Tensor
from .flat import SEGMENTS, Segments
from .optimizer import Optimizer, ema_, ema_of_square_, l2_penalty, zeros_like

__all__ = ["SWATS"]

# the numbers each parameter keeps its own value of, flat group or not
PER_TENSOR = ("lambda", "phase", "sgd_lr", "switch_step", "switch_lr")


class SWATS(Optimizer):
    """SWATS (Keskar & Socher, 2017): Adam, then SGD with momentum at the rate Adam implied.

    Args:
        params: parameters or parameter groups.
        lr: Adam learning rate alpha.
        betas: (beta_1, beta_2): Adam's moment decays; beta_1 is also the SGD momentum and
            beta_2 the decay of the rate estimate lambda.
        eps: Adam's denominator term and the switch tolerance (paper: 1e-9).
        weight_decay: coupled L2 coefficient (``g <- g + wd * x``).
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see the base).

    References:
        N. S. Keskar, R. Socher. Improving Generalization Performance by Switching from Adam to
        SGD. arXiv:1712.07628, 2017.
    """

    per_tensor_state = PER_TENSOR  # a flat group's update sees them as lists, one per tensor
    # A group of large tensors steps wholly per tensor: its small ones laid out flat beside
    # them cost more than per tensor (the per-tensor sums and the vector rate estimate are
    # some twenty small NumPy calls, slow with the caches just swept by the large tensors:
    # 163 us a step against 140 for five small tensors of the 1.3 M model; BENCHMARKS.md,
    # "Current figures").
    flat_in_part = False

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-9,
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_adam_hyperparameters(hp)

    def init_state(self, p: Tensor, group: dict) -> dict:
        # the SGD buffer v exists from the start so the state has a fixed layout (checkpoints)
        return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p),
                "momentum_buffer": zeros_like(p), "lambda": 0.0, "phase": "adam",
                "sgd_lr": None, "switch_step": None, "switch_lr": None}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        """One parameter's step, or a flat group's (``state[SEGMENTS]`` then says where each
        tensor lies, and each key of :data:`PER_TENSOR` holds a list, one value per tensor):
        each tensor takes the step of the phase it is in when the step begins."""
        segments = state.get(SEGMENTS)
        if segments is None:  # one tensor: its numbers as lists of one
            numbers = {key: [state[key]] for key in PER_TENSOR}
        else:
            numbers = {key: state[key] for key in PER_TENSOR}
        beta1, beta2 = group["betas"]
        theta = p.array
        g = l2_penalty(grad, theta, group["weight_decay"])      # g <- g + wd * x
        phases = numbers["phase"]
        n_adam = phases.count("adam")  # tensors in the Adam phase when the step begins
        both = None  # a flat group whose tensors are in both phases: per-element factors
        if 0 < n_adam < len(phases):
            both = segments.memo("phases", (phases, beta1, beta2),
                                 lambda: _BothPhases(segments, phases, beta1, beta2))
        rates = None if n_adam == len(phases) else self._sgd_rates(numbers, group["lr"],
                                                                   beta1, segments)
        if n_adam:
            self._adam_phase(theta, g, state, group, numbers, segments, both)
        if rates is not None:
            self._sgd_phase(theta, g, state, beta1, rates, both)
        for key in PER_TENSOR:
            values = numbers[key]
            if values is not state[key]:
                state[key] = values[0] if segments is None else values

    @staticmethod
    def _sgd_rates(numbers: dict, lr: float, beta1: float,
                   segments: Segments | None) -> float | Array:
        """Each tensor's SGD-phase rate (:func:`_sgd_rates`): a number for one tensor, else
        spread over the flat group's elements (made again when a number changes)."""
        if segments is None:
            return _sgd_rates(numbers, lr, beta1)[0]
        return segments.memo("rates", (numbers["sgd_lr"], numbers["switch_lr"], lr, beta1),
                             lambda: segments.spread(_sgd_rates(numbers, lr, beta1)))

    def _sgd_phase(self, theta: Array, g: Array, state: dict, beta1: float,
                   rates: float | Array, both: _BothPhases | None) -> None:
        """Heavy-ball SGD at each tensor's rate (0 for a tensor in the Adam phase, whose
        ``v`` stays as it is: decay 1 and weight 0 on its elements)."""
        xp = get_array_module(theta)
        v = state["momentum_buffer"]
        if both is None:
            v *= beta1
            v += g                                               # v_k = beta1 v_{k-1} + g_k
        else:
            v *= both.v_decay
            v += xp.multiply(both.sgd, g, out=self.scratch(v, 1))  # v_k = beta1 v_{k-1} + g_k
        if type(rates) is float:
            theta -= rates * v                                   # x_k = x - (1-beta1) Lambda v
        else:
            theta -= xp.multiply(rates, v, out=self.scratch(v, 1))    # (per tensor)

    def _adam_phase(self, theta: Array, g: Array, state: dict, group: dict, numbers: dict,
                    segments: Segments | None, both: _BothPhases | None) -> None:
        """Adam on the tensors in the Adam phase (a tensor in the SGD phase keeps its
        moments and its value: decay 1, weight 0 and step 0 on its elements), then each
        one's rate estimate and switch test (:meth:`_estimate_rate`)."""
        xp = get_array_module(theta)
        k, lr, eps = state["step"], group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        m, a = state["exp_avg"], state["exp_avg_sq"]
        if both is None:
            ema_(m, g, beta1)                                    # m_k
            ema_of_square_(a, g, beta2)                          # a_k
        else:  # the same lines, with per-element factors
            m *= both.m_decay
            m += xp.multiply(both.m_weight, g, out=self.scratch(m, 1))     # m_k
            step = xp.multiply(g, g, out=self.scratch(a, 1))
            step -= a
            step *= both.a_weight
            a += step                                            # a_k
        bias2 = 1.0 - beta2**k
        denom = xp.sqrt(a)  # (a new array: on 1 M numbers, faster than a kept scratch)
        denom += eps                                             # sqrt(a_k) + eps
        p_k = xp.divide(m, denom, out=denom)
        p_k *= -lr * math.sqrt(bias2) / (1.0 - beta1**k)         # p_k
        if both is not None:
            p_k *= both.adam
        theta += p_k                                             # x_k = x_{k-1} + p_k
        if segments is None:
            _estimate_rate_of_one(p_k, g, bias2, state, group, numbers)
            return
        p_dot_g, p_dot_p = self._dots(p_k, g, segments)
        in_adam = None if both is None else both.in_adam
        self._estimate_rate(p_dot_g, p_dot_p, bias2, state, group, numbers, in_adam, segments)

    def _dots(self, p_k: Array, g: Array, segments: Segments) -> tuple[Array, Array]:
        """``p_k . g_k`` and ``p_k . p_k`` of each tensor of a flat group, as float64 host
        vectors (:meth:`.flat.Segments.dots`)."""
        products = self.scratch(g, 1)  # (g: the same array at every steady step)
        host = to_device(segments.dots(p_k, g, products), CPU).astype(np.float64)
        return host[0], host[1]

    @staticmethod
    def _estimate_rate(p_dot_g: np.ndarray, p_dot_p: np.ndarray, bias2: float, state: dict,
                       group: dict, numbers: dict, in_adam: np.ndarray | None,
                       segments: Segments) -> None:
        """Algorithm 1's projected SGD rate, for each tensor of a flat group in the Adam phase
        (host vectors, one entry per tensor; ``in_adam``: which ones, None for all), and the
        switch of each one whose estimate has settled. A parameter stepped alone:
        :func:`_estimate_rate_of_one`."""
        k, beta2, eps = state["step"], group["betas"][1], group["eps"]
        moving = p_dot_g != 0.0
        if in_adam is not None:
            moving &= in_adam
        if not moving.any():
            return                                               # lambda_k = lambda_{k-1}
        lam = np.array(numbers["lambda"], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):  # (where nothing moves, or NaN)
            gamma = p_dot_p / -p_dot_g                           # gamma_k
            lam = np.where(moving, beta2 * lam + (1.0 - beta2) * gamma, lam)    # lambda_k
            rate = lam / bias2                                   # Lambda = lambda_k / (1 - b2^k)
            switch = moving & (rate > 0.0) & (np.abs(rate - gamma) < eps)
        numbers["lambda"] = lam.tolist()
        if k == 1 or not switch.any():
            return
        for key in ("phase", "sgd_lr", "switch_step", "switch_lr"):
            numbers[key] = list(numbers[key])  # new lists: a flat group hands them back
        v = state["momentum_buffer"]
        for i in np.flatnonzero(switch).tolist():
            numbers["phase"][i] = "sgd"
            numbers["sgd_lr"][i] = float(rate[i])
            numbers["switch_step"][i] = k
            numbers["switch_lr"][i] = group["lr"]
            start = sum(segments.sizes[:i])
            v[start:start + segments.sizes[i]] = 0               # v_k = 0


def _estimate_rate_of_one(p_k: Array, g: Array, bias2: float, state: dict, group: dict,
                          numbers: dict) -> None:
    """:meth:`SWATS._estimate_rate` for a parameter stepped alone: Algorithm 1's lines on
    Python floats (``numbers``: that parameter's numbers as lists of one). The vector form on
    one-element arrays costs ~11 us more a step per tensor (the 1.3 M-parameter model of
    ``bench_optim.py`` in its Adam phase: 4.5% slower; BENCHMARKS.md, "Current figures");
    the two forms are held equal by tests/optim/test_swats.py's flat-against-per-tensor
    trajectories through switches."""
    xp = get_array_module(p_k)
    k, beta2, eps = state["step"], group["betas"][1], group["eps"]
    p_flat = p_k.ravel()
    p_dot_g = float(xp.dot(p_flat, g.ravel()))
    if p_dot_g == 0.0:
        return                                                   # lambda_k = lambda_{k-1}
    gamma = float(xp.dot(p_flat, p_flat)) / -p_dot_g             # gamma_k
    lam = beta2 * numbers["lambda"][0] + (1.0 - beta2) * gamma   # lambda_k
    numbers["lambda"] = [lam]
    rate = lam / bias2                                           # Lambda = lambda_k / (1 - b2^k)
    if k > 1 and rate > 0.0 and abs(rate - gamma) < eps:
        numbers.update(phase=["sgd"], sgd_lr=[rate], switch_step=[k], switch_lr=[group["lr"]])
        state["momentum_buffer"].fill(0)                         # v_k = 0


def _sgd_rates(numbers: dict, lr: float, beta1: float) -> list[float]:
    """``(1 - beta_1) Lambda lr_t / lr_switch`` of each tensor in the SGD phase (the rate of
    torch's ``SGD(momentum=beta_1)``, following the group's schedule), 0 in the Adam phase."""
    rates = []
    for rate, lr_switch in zip(numbers["sgd_lr"], numbers["switch_lr"]):
        if rate is None:  # a tensor in the Adam phase
            rates.append(0.0)
            continue
        if lr_switch:
            rate *= lr / lr_switch                               # follow the group's schedule
        rates.append((1.0 - beta1) * rate)
    return rates


class _BothPhases:
    """The per-element factors of a flat group whose tensors are in both phases: each
    phase's lines run over the whole buffer, and leave the other phase's elements as they
    are (a decay of 1, a weight of 0). Two more multiplications per phase instead of a
    step per tensor (kept until a tensor switches: ``Segments.memo``). Exact on the
    elements that a phase updates; those it leaves keep their values as long as ``g`` is
    finite (``0 * inf`` is NaN)."""

    def __init__(self, segments: Segments, phases: list[str], beta1: float, beta2: float):
        self.in_adam = np.array([phase == "adam" for phase in phases])  # per tensor, host

        def spread(in_adam_value: float, in_sgd_value: float) -> Array:
            return segments.spread(np.where(self.in_adam, in_adam_value, in_sgd_value))

        self.adam = spread(1.0, 0.0)                    # p_k on the Adam phase's elements
        self.m_decay, self.m_weight = spread(beta1, 1.0), spread(1.0 - beta1, 0.0)
        self.a_weight = spread(1.0 - beta2, 0.0)
        self.v_decay, self.sgd = spread(1.0, beta1), spread(0.0, 1.0)
