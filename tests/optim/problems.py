"""Shared test problems for optimizer tests: a convex quadratic and the Rosenbrock function.

Usage (any optimizer class that follows the minigrad.optim.optimizer contract)::

    from tests.optim.problems import QUADRATIC, ROSENBROCK, minimize
    x = minimize(QUADRATIC, lambda params: Adam(params, lr=0.1), steps=500)
    assert QUADRATIC.distance(x) < 1e-2

Gradients are closed forms written with the array module of the data (so the same problem runs
on NumPy and CuPy); :func:`minimize_autograd` computes them with minigrad's backward instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import minigrad
from minigrad.backend import get_array_module


@dataclass(frozen=True)
class Problem:
    """A smooth test function with a known minimiser."""

    name: str
    x0: np.ndarray                      # float32 start
    minimizer: np.ndarray               # float64 argmin
    value: Callable                     # array -> scalar array
    grad: Callable                      # array -> array (same xp, same dtype)
    loss: Callable                      # Tensor -> 0-d Tensor (minigrad ops)

    def distance(self, x) -> float:
        """Euclidean distance from x (array or Tensor, any device) to the minimiser."""
        x = x.array if isinstance(x, minigrad.Tensor) else x
        x = x.get() if hasattr(x, "get") else np.asarray(x)
        return float(np.linalg.norm(x.astype(np.float64) - self.minimizer))


# f(x) = 1/2 sum_i a_i (x_i - c_i)^2 with curvatures a_i from 1 to 10 (condition number 10).
_A = np.linspace(1.0, 10.0, 8).astype(np.float32)
_C = np.linspace(-1.0, 1.0, 8).astype(np.float32)


def _quad_value(x):
    d = x - get_array_module(x).asarray(_C)
    return 0.5 * (get_array_module(x).asarray(_A) * d * d).sum()


def _quad_grad(x):
    xp = get_array_module(x)
    return xp.asarray(_A) * (x - xp.asarray(_C))


def _quad_loss(x):
    a = minigrad.Tensor(_A, device=x.device)
    c = minigrad.Tensor(_C, device=x.device)
    d = x - c
    return 0.5 * (a * d * d).sum()


QUADRATIC = Problem("quadratic", np.full(8, 3.0, np.float32), _C.astype(np.float64),
                    _quad_value, _quad_grad, _quad_loss)


# f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum at (1, 1); the classic start (-1.2, 1).
def _rosen_value(z):
    x, y = z[0], z[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def _rosen_grad(z):
    x, y = z[0:1], z[1:2]
    r = y - x * x
    return get_array_module(z).concatenate([-2 * (1 - x) - 400 * x * r, 200 * r])


def _rosen_loss(z):
    x, y = z[0], z[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


ROSENBROCK = Problem("rosenbrock", np.array([-1.2, 1.0], np.float32), np.ones(2),
                     _rosen_value, _rosen_grad, _rosen_loss)


def minimize(problem: Problem, make_optimizer: Callable, steps: int,
             device: str = "cpu") -> minigrad.Tensor:
    """Run ``steps`` optimizer steps from ``problem.x0`` with closed-form gradients.

    Args:
        problem: QUADRATIC, ROSENBROCK or another Problem.
        make_optimizer: ``params -> optimizer`` (e.g. ``lambda ps: Adam(ps, lr=0.01)``).
        steps: number of steps.
        device: 'cpu' or 'cuda'.

    Returns:
        The parameter (a float32 Parameter on ``device``) after the last step.
    """
    p = minigrad.Parameter(problem.x0.copy(), device=device)
    opt = make_optimizer([p])
    grad = minigrad.Tensor._wrap(problem.grad(p.array))
    for _ in range(steps):
        grad.array = problem.grad(p.array)
        p.grad = grad
        opt.step()
    return p


def minimize_autograd(problem: Problem, make_optimizer: Callable, steps: int,
                      device: str = "cpu") -> minigrad.Tensor:
    """As :func:`minimize`, but each gradient comes from ``problem.loss(p).backward()``."""
    p = minigrad.Parameter(problem.x0.copy(), device=device)
    opt = make_optimizer([p])

    def closure():
        opt.zero_grad()
        loss = problem.loss(p)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return p


def resume_matches(make_optimizer: Callable, problem: Problem = QUADRATIC,
                   steps_before: int = 7, steps_after: int = 5) -> tuple:
    """Run ``steps_before`` steps, save ``state_dict``, then continue the run in two ways: the
    original optimizer, and a fresh optimizer on a copy of the parameter that loads the saved
    state. Returns the two ``steps_after``-step trajectories (float32 arrays), which a correct
    ``state_dict`` / ``load_state_dict`` makes identical.
    """
    p = minigrad.Parameter(problem.x0.copy())
    opt = make_optimizer([p])
    for _ in range(steps_before):
        p.grad = minigrad.Tensor._wrap(problem.grad(p.array))
        opt.step()
    saved = opt.state_dict()
    q = minigrad.Parameter(p.array.copy())
    fresh = make_optimizer([q])
    fresh.load_state_dict(saved)
    a, b = [], []
    for param, o, out in ((p, opt, a), (q, fresh, b)):
        for _ in range(steps_after):
            param.grad = minigrad.Tensor._wrap(problem.grad(param.array))
            o.step()
            out.append(param.array.copy())
    return np.array(a), np.array(b)


# Two-dimensional problems with closed-form float64 gradients, for :func:`minimize_2d`:
# an ill-conditioned quadratic (curvatures 1 and 10) with minimum (1, -2), and Rosenbrock.
QUADRATIC_2D_MINIMIZER = [1.0, -2.0]
ROSENBROCK_2D_MINIMIZER = [1.0, 1.0]


def quadratic_2d_grad(x):
    h = np.array([1.0, 10.0])
    return h * (x - np.array([1.0, -2.0]))


def rosenbrock_2d_grad(x):
    a, b = 1.0, 100.0
    return np.array([-2 * (a - x[0]) - 4 * b * x[0] * (x[1] - x[0] ** 2),
                     2 * b * (x[1] - x[0] ** 2)])


def minimize_2d(cls, kwargs: dict, grad_fn: Callable, x0, steps: int) -> np.ndarray:
    """``steps`` steps of ``cls(**kwargs)`` on a float32 parameter from ``x0``, the gradient
    computed in float64 by ``grad_fn``; returns the final point as float64."""
    x = minigrad.Parameter(np.array(x0, np.float32))
    opt = cls([x], **kwargs)
    for _ in range(steps):
        x.grad = minigrad.Tensor(grad_fn(_to_numpy(x).astype(np.float64)).astype(np.float32))
        opt.step()
    return _to_numpy(x).astype(np.float64)


def _to_numpy(x):
    x = x.detach().array
    return x.get() if hasattr(x, "get") else np.asarray(x)


def step_updates(cls, grads, **kwargs) -> np.ndarray:
    """The updates ``theta_{t-1} - theta_t`` of ``cls(**kwargs)`` on one float64 parameter
    starting at 0 and fed the gradients ``grads`` in turn; one row per step."""
    p = minigrad.Parameter(np.zeros_like(grads[0]), dtype=np.float64)
    opt = cls([p], **kwargs)
    out = []
    for g in grads:
        before = _to_numpy(p).copy()
        p.grad = minigrad.Tensor(g, dtype=np.float64)
        opt.step()
        out.append(before - _to_numpy(p))
    return np.array(out)


def random_params(rng, device: str = "cpu", shapes=((3, 4), (4,))) -> list:
    """float32 Parameters of the given shapes with standard normal values from ``rng``."""
    return [minigrad.Parameter(rng.normal(size=s).astype(np.float32), device=device)
            for s in shapes]


def set_random_grads(params, rng) -> None:
    """Give every parameter a standard normal float32 gradient from ``rng``."""
    for p in params:
        p.grad = minigrad.Tensor(rng.normal(size=p.shape).astype(np.float32), device=p.device)
