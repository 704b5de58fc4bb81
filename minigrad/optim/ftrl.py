"""FTRL-Proximal: Follow The (Proximally) Regularized Leader, as Keras defines it.

McMahan et al., "Ad Click Prediction: a View from the Trenches", KDD 2013, Algorithm 1
(per-coordinate FTRL-Proximal with L1 and L2 regularization), in the generalised form of
``keras.optimizers.Ftrl`` (keras/src/optimizers/ftrl.py, ``update_step``), which this transcribes
exactly. With learning rate alpha, c = -learning_rate_power (0.5 gives the paper's
sqrt-schedule), lambda_1 = l1_regularization_strength, lambda_2 = l2_regularization_strength,
lambda_s = l2_shrinkage_regularization_strength, element-wise::

    n_0 = initial_accumulator_value,  z_0 = 0
    g~_t    = g_t + 2 lambda_s w_{t-1}                        (shrinkage-type L2 in the loss)
    n_t     = n_{t-1} + g_t^2                                 (the raw gradient accumulates)
    sigma_t = (n_t^c - n_{t-1}^c) / alpha
    z_t     = z_{t-1} + g~_t - sigma_t w_{t-1}
    w_t     = (clip(z_t, -lambda_1, lambda_1) - z_t) / ((beta + n_t^c) / alpha + 2 lambda_2)

The last line is the paper's closed form: w = 0 when |z| <= lambda_1, otherwise
-(z - sign(z) lambda_1) / ((beta + sqrt(n)) / alpha + 2 lambda_2). The clip makes the zeros
exact (``z - z``), so with lambda_1 > 0 FTRL produces exactly sparse weights.

Differences from the paper's Algorithm 1, all Keras's:

* n starts at ``initial_accumulator_value`` (0.1), not 0;
* the per-coordinate rate is n^c / alpha with a free power c, not sqrt(n) / alpha;
* the L2 term in the denominator is 2 lambda_2 (Keras's L2 penalty is lambda_2 ||w||^2), where the
  paper writes lambda_2;
* ``l2_shrinkage_regularization_strength`` adds 2 lambda_s w to the gradient used in z (not in
  n), a magnitude penalty; Keras has no coupled ``weight_decay`` beyond it, nor does this class.

The learning rate is read at every step (Keras reads its schedule the same way). With
``initial_accumulator_value = 0``, ``beta = 0`` and ``l2 = 0`` a coordinate whose first gradient is
exactly 0 divides 0 by 0, as in Keras.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import Array, get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, zeros_like

__all__ = ["FTRL"]


class FTRL(Optimizer):
    """FTRL-Proximal (McMahan et al., 2013) with Keras's arguments and update.

    Args:
        params: parameters or parameter groups.
        lr: learning rate alpha (> 0; Keras's ``learning_rate``, default 0.001).
        learning_rate_power: -c, <= 0; -0.5 is the paper's schedule, 0 a fixed rate.
        initial_accumulator_value: n_0 >= 0.
        l1_regularization_strength: lambda_1 >= 0; > 0 gives exact zeros.
        l2_regularization_strength: lambda_2 >= 0 (stabilising L2 in the proximal term).
        l2_shrinkage_regularization_strength: lambda_s >= 0 (L2 penalty added to the loss).
        beta: the paper's beta >= 0 in (beta + sqrt(n)) / alpha.
        maximize: ascend instead of descend.
        clipnorm, clipvalue, global_clipnorm: Keras-style gradient clipping (see the base).

    References:
        H. B. McMahan et al. Ad Click Prediction: a View from the Trenches. KDD 2013.
        Keras 3, ``keras.optimizers.Ftrl``.
    """

    def __init__(self, params: Iterable, lr: float = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0,
                 l2_shrinkage_regularization_strength: float = 0.0, beta: float = 0.0, *,
                 maximize: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None):
        defaults = dict(lr=lr, learning_rate_power=learning_rate_power,
                        initial_accumulator_value=initial_accumulator_value,
                        l1_regularization_strength=l1_regularization_strength,
                        l2_regularization_strength=l2_regularization_strength,
                        l2_shrinkage_regularization_strength=l2_shrinkage_regularization_strength,
                        beta=beta, maximize=maximize)
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm)

    def validate(self, hp: dict) -> None:
        self.check_positive("lr", hp["lr"])
        self.check(self._number("learning_rate_power", hp["learning_rate_power"]) <= 0,
                   "learning_rate_power", "<= 0", hp["learning_rate_power"])
        for arg in ("initial_accumulator_value", "l1_regularization_strength",
                    "l2_regularization_strength", "l2_shrinkage_regularization_strength", "beta"):
            self.check_nonnegative(arg, hp[arg])

    def init_state(self, p: Tensor, group: dict) -> dict:
        xp = get_array_module(p.array)
        return {"accumulator": xp.full_like(p.array, group["initial_accumulator_value"]),
                "linear": zeros_like(p)}

    def update(self, p: Tensor, grad: Array, state: dict, group: dict) -> None:
        xp = get_array_module(grad)
        lr, c = group["lr"], -group["learning_rate_power"]
        l1, l2 = group["l1_regularization_strength"], group["l2_regularization_strength"]
        shrinkage = group["l2_shrinkage_regularization_strength"]
        n, z, w = state["accumulator"], state["linear"], p.array
        # built in place, each buffer renamed when it starts to hold the next quantity (every
        # temporary here is parameter-sized; fewer of them is most of FTRL's speed)
        n_prev_pow = n**c                                        # n_{t-1}^c
        n += grad * grad                                         # n_t = n_{t-1} + g_t^2
        n_pow = n**c                                             # n_t^c
        sigma = xp.subtract(n_pow, n_prev_pow, out=n_prev_pow)
        sigma *= 1.0 / lr                                        # sigma_t = (n_t^c - n_{t-1}^c)/a
        z += grad
        if shrinkage != 0:
            z += (2.0 * shrinkage) * w                           # g~_t = g_t + 2 lambda_s w
        sigma_w = xp.multiply(sigma, w, out=sigma)
        z -= sigma_w                                             # z_t = z + g~_t - sigma_t w
        denominator = xp.add(n_pow, group["beta"], out=n_pow)
        denominator *= 1.0 / lr
        denominator += 2.0 * l2                                  # (beta + n_t^c)/a + 2 lambda_2
        xp.clip(z, -l1, l1, out=w)
        w -= z
        w /= denominator                                         # w_t = (clip(z_t) - z_t) / ...
