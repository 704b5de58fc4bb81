"""Check analytic gradients against float64 central differences.

    d f / d x_i  ~  (f(x + h e_i) - f(x - h e_i)) / (2 h)

Usable for your own ops: ``gradcheck(lambda a, b: (a * b).sum(), (a, b))``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..backend import get_array_module
from ..tensor import Tensor
from .api import grad as autograd_grad


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def _outputs(fn, inputs) -> list[Tensor]:
    out = fn(*inputs)
    return [out] if isinstance(out, Tensor) else list(out)


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Compare the gradients of ``fn`` at ``inputs`` with central differences.

    Every input that requires grad must be float64. Each output is contracted with a random
    upstream gradient (not a plain sum, which would hide transposition errors), so the check
    covers the whole Jacobian-vector product.

    Returns True when they agree; otherwise raises GradcheckError (or returns False).
    """
    inputs = list(inputs)
    diff = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    for t in diff:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 inputs, got {t.dtype}")
    rng = np.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    weights = []
    for o in outs:
        xp = get_array_module(o.array)
        weights.append(xp.asarray(rng.standard_normal(o.shape)).astype(o.dtype))

    def objective() -> float:  # with grad enabled: gradgradcheck's fn takes a gradient itself
        vals = _outputs(fn, inputs)
        return float(sum((v.array * w).sum() for v, w in zip(vals, weights)))

    analytic = autograd_grad(
        [o for o in outs if o.requires_grad],
        diff,
        grad_outputs=[Tensor._wrap(w) for o, w in zip(outs, weights) if o.requires_grad],
        allow_unused=True,
    )
    for k, (t, g) in enumerate(zip(diff, analytic)):
        a = np.zeros(t.shape) if g is None else np.asarray(g.array.get() if hasattr(
            g.array, "get") else g.array, dtype=np.float64)
        num = _central_differences(objective, t, eps)
        if not np.allclose(a, num, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(a - num)), t.shape) if t.ndim else ()
            msg = (
                f"gradcheck: gradient of input {k} (shape {tuple(t.shape)}) is off: at index "
                f"{worst} analytic {a[worst]!r} vs numerical {num[worst]!r}"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def _central_differences(objective: Callable[[], float], t: Tensor, eps: float) -> np.ndarray:
    """(f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for every element i of ``t``, perturbing
    ``t`` in place and restoring it."""
    num = np.zeros(t.shape)
    array = t.array  # perturbed by index: reshape(-1) would copy a strided (F-order) array
    for i in np.ndindex(*t.shape):
        orig = float(array[i])
        array[i] = orig + eps
        up = objective()
        array[i] = orig - eps
        down = objective()
        array[i] = orig
        num[i] = (up - down) / (2 * eps)
    return num


def gradgradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check second derivatives: gradcheck of the (create_graph) gradient of ``fn``."""
    inputs = list(inputs)
    rng = np.random.default_rng(seed + 1)
    outs = _outputs(fn, inputs)
    weights = [Tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=o.device)
               for o in outs]

    def first_grads(*xs):
        ys = _outputs(fn, xs)
        gs = autograd_grad(ys, [x for x in xs if isinstance(x, Tensor) and x.requires_grad],
                           grad_outputs=weights, create_graph=True, allow_unused=True)
        return [g for g in gs if g is not None and g.requires_grad]

    return gradcheck(first_grads, inputs, eps, atol, rtol, raise_exception, seed)
