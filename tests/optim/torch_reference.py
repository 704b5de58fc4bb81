"""torch.optim's reference trajectories, replayed by each torch-named optimizer's test file.

The references come from torch 2.13 (CPU, float32, foreach=False), generated once by
fixtures/make_torch_trajectories.py and stored in fixtures/torch_trajectories.npz; torch is not
imported here. Each config runs 120 steps on two float32 parameters with the gradient
grad_t = G_t + 0.1 * theta^3 (G_t stored in the file; :func:`gradient` is the script's own
NumPy code), covering defaults, weight decay, momentum / Nesterov / dampening, centered
RMSprop, AMSGrad, decoupled decay, maximize, two parameter groups with different
hyperparameters, and an lr changed by hand before step 51.

Tolerance: rtol = 1e-5 and atol = 1e-6 on every step. Both implementations work in float32
but may order the float32 operations differently (torch's lerp_ versus the textbook
beta * m + (1 - beta) * g, fused addcdiv_ versus separate products), so each step can differ
by a few float32 ulps (~6e-8 relative); over 120 steps with contracting dynamics this stays
below 1e-5 relative. The absolute part covers coordinates passing through zero; parameters
are O(1) here, so 1e-6 is ~10 ulps of their scale.
"""

import json
from pathlib import Path

import numpy as np

import minigrad
from minigrad.optim.adadelta import Adadelta
from minigrad.optim.adagrad import Adagrad
from minigrad.optim.adam import Adam
from minigrad.optim.adamax import Adamax
from minigrad.optim.adamw import AdamW
from minigrad.optim.nadam import NAdam
from minigrad.optim.radam import RAdam
from minigrad.optim.rmsprop import RMSprop
from minigrad.optim.sgd import SGD

RTOL, ATOL = 1e-5, 1e-6

FIXTURE = np.load(Path(__file__).parent / "fixtures" / "torch_trajectories.npz")

CONFIGS = {k[4:]: json.loads(str(FIXTURE[k])) for k in FIXTURE.files if k.startswith("cfg/")}

CLASSES = {c.__name__: c for c in (SGD, Adagrad, Adadelta, RMSprop, Adam, AdamW, Adamax,
                                   NAdam, RAdam)}



def gradient(flat_theta, G_t):
    """grad_t = G_t + 0.1 * theta^3 in float32 (verbatim from the fixture script)."""
    return G_t + np.float32(0.1) * (flat_theta * flat_theta * flat_theta)


def replay(cfg: dict, cls=None) -> np.ndarray:
    theta0 = [FIXTURE["theta0_0"], FIXTURE["theta0_1"]]
    G = FIXTURE["G"]
    params = [minigrad.Parameter(a.copy()) for a in theta0]
    kwargs = dict(cfg["kwargs"])
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    if cfg["group1"] is None:
        spec = params
    else:
        group1 = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg["group1"].items()}
        spec = [{"params": [params[0]]}, {"params": [params[1]], **group1}]
    cls = cls or CLASSES[cfg["optimizer"]]
    opt = cls(spec, **kwargs)
    T = G.shape[0]
    traj = np.empty((T + 1, G.shape[1]), np.float32)
    traj[0] = np.concatenate([p.array.ravel() for p in params])
    for t in range(1, T + 1):
        change = cfg["lr_change"]
        if change is not None and t == change["step"]:
            for group in opt.param_groups:
                group["lr"] = group["lr"] * change["factor"]
        grad = gradient(traj[t - 1], G[t - 1])
        if kwargs.get("maximize"):
            grad = -grad
        offset = 0
        for p in params:
            p.grad = minigrad.Tensor(grad[offset:offset + p.numel()].reshape(p.shape))
            offset += p.numel()
        opt.step()
        traj[t] = np.concatenate([p.array.ravel() for p in params])
    assert all(p.dtype == np.float32 for p in params)  # never silently upcast
    return traj


def configs_for(optimizer: str) -> list[str]:
    """The names of the stored configurations of torch's optimizer ``optimizer``."""
    return sorted(k for k, cfg in CONFIGS.items() if cfg["optimizer"] == optimizer)


def assert_matches_torch(name: str) -> None:
    """Replay configuration ``name`` and compare every step with torch's."""
    expected = FIXTURE[f"traj/{name}"]
    got = replay(CONFIGS[name])
    assert not np.array_equal(expected[0], expected[-1])  # the reference really moves
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


# torch 2.13's documented defaults (torch.optim.<name>.__init__)
TORCH_DEFAULTS = {
    "SGD": dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False),
    "Adagrad": dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                    eps=1e-10),
    "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0),
    "RMSprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                    centered=False),
    "Adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False),
    "AdamW": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                  amsgrad=False),
    "Adamax": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0),
    "NAdam": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                  momentum_decay=4e-3, decoupled_weight_decay=False),
    "RAdam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                  decoupled_weight_decay=False),
}


def assert_torch_defaults(cls) -> None:
    """``cls``'s defaults are torch's documented ones (and maximize is False)."""
    expected = TORCH_DEFAULTS[cls.__name__]
    opt = cls([minigrad.Parameter(np.zeros(2, np.float32))])
    group = opt.param_groups[0]
    for key, value in expected.items():
        assert group[key] == value, key
    assert group["maximize"] is False
