"""Every optimizer of minigrad.optim, each in a configuration that uses all of its state.

The contract suite (test_contract.py) runs over ``FULL_STATE``; per-algorithm files import
their classes directly.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad
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

# name -> params -> optimizer, with every state buffer in use
FULL_STATE = {
    "SGD": lambda ps, **kw: SGD(ps, lr=0.01, momentum=0.9, nesterov=True, **kw),
    "SGD-dampening": lambda ps, **kw: SGD(ps, lr=0.01, momentum=0.9, dampening=0.3, **kw),
    "SGDW": lambda ps, **kw: SGDW(ps, lr=0.01, momentum=0.9, weight_decay=0.1, **kw),
    "Adagrad": lambda ps, **kw: Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.01, **kw),
    "Adadelta": lambda ps, **kw: Adadelta(ps, lr=1.0, weight_decay=0.01, **kw),
    "RMSprop": lambda ps, **kw: RMSprop(ps, lr=1e-3, centered=True, momentum=0.9, **kw),
    "Adam": lambda ps, **kw: Adam(ps, lr=1e-2, weight_decay=0.01, **kw),
    "AMSGrad": lambda ps, **kw: AMSGrad(ps, lr=1e-2, **kw),
    "AdamW": lambda ps, **kw: AdamW(ps, lr=1e-2, amsgrad=True, **kw),
    "Adamax": lambda ps, **kw: Adamax(ps, lr=1e-2, **kw),
    "NAdam": lambda ps, **kw: NAdam(ps, lr=1e-2, **kw),
    "RAdam": lambda ps, **kw: RAdam(ps, lr=1e-2, **kw),
    "AdaBelief": lambda ps, **kw: AdaBelief(ps, lr=1e-2, amsgrad=True, weight_decay=0.01, **kw),
    "DiffGrad": lambda ps, **kw: DiffGrad(ps, lr=1e-2, **kw),
    "AdaInject": lambda ps, **kw: AdaInject(ps, lr=1e-2, **kw),
    "AngularGrad": lambda ps, **kw: AngularGrad(ps, lr=1e-2, method="tan", **kw),
    "Lion": lambda ps, **kw: Lion(ps, lr=1e-3, weight_decay=0.1, **kw),
    "FTRL": lambda ps, **kw: FTRL(ps, lr=0.5, l1_regularization_strength=0.01, **kw),
    "SWATS": lambda ps, **kw: SWATS(ps, lr=1e-2, eps=1e-6, **kw),
}

ALL_CLASSES = [SGD, SGDW, Adagrad, Adadelta, RMSprop, Adam, AMSGrad, AdamW, Adamax, NAdam, RAdam,
               AdaBelief, DiffGrad, AdaInject, AngularGrad, Lion, FTRL, SWATS]


# --------------------------------------------------------------------------- bad hyperparameters
# (class, kwargs, pattern the ValueError must match); the torch-named optimizers' rows match the
# whole message, the others' a part of it
# ----------------------------------------------------------------------------- validation
_BAD_FULL_MESSAGE = [
    (SGD, dict(lr=-0.1), "SGD: lr must be >= 0, got -0.1"),
    (SGD, dict(momentum=-0.5), "SGD: momentum must be >= 0, got -0.5"),
    (SGD, dict(weight_decay=-1e-4), "SGD: weight_decay must be >= 0, got -0.0001"),
    (SGD, dict(dampening=-1), "SGD: dampening must be >= 0, got -1"),
    (SGD, dict(nesterov=True), "SGD: momentum must be > 0 when nesterov=True, got 0.0"),
    (SGD, dict(nesterov=True, momentum=0.9, dampening=0.1),
     "SGD: dampening must be 0 when nesterov=True, got 0.1"),
    (Adagrad, dict(lr=-1), "Adagrad: lr must be >= 0, got -1"),
    (Adagrad, dict(lr_decay=-1), "Adagrad: lr_decay must be >= 0, got -1"),
    (Adagrad, dict(initial_accumulator_value=-1),
     "Adagrad: initial_accumulator_value must be >= 0, got -1"),
    (Adagrad, dict(eps=0.0), "Adagrad: eps must be > 0, got 0.0"),
    (Adagrad, dict(weight_decay=-1), "Adagrad: weight_decay must be >= 0, got -1"),
    (Adadelta, dict(lr=-1), "Adadelta: lr must be >= 0, got -1"),
    (Adadelta, dict(rho=1.1), r"Adadelta: rho must be in \[0, 1\], got 1.1"),
    (Adadelta, dict(eps=-1e-6), "Adadelta: eps must be > 0, got -1e-06"),
    (Adadelta, dict(weight_decay=-1), "Adadelta: weight_decay must be >= 0, got -1"),
    (RMSprop, dict(lr=-1), "RMSprop: lr must be >= 0, got -1"),
    (RMSprop, dict(alpha=-0.1), r"RMSprop: alpha must be in \[0, 1\], got -0.1"),
    (RMSprop, dict(eps=0), "RMSprop: eps must be > 0, got 0"),
    (RMSprop, dict(momentum=-0.9), "RMSprop: momentum must be >= 0, got -0.9"),
    (RMSprop, dict(weight_decay=-1), "RMSprop: weight_decay must be >= 0, got -1"),
    (Adam, dict(lr=-1e-3), "Adam: lr must be >= 0, got -0.001"),
    (Adam, dict(betas=(0.9, 1.5)), r"Adam: beta2 must be in \[0, 1\), got 1.5"),
    (Adam, dict(betas=(1.0, 0.999)), r"Adam: beta1 must be in \[0, 1\), got 1.0"),
    (Adam, dict(betas=(-0.1, 0.999)), r"Adam: beta1 must be in \[0, 1\), got -0.1"),
    (Adam, dict(betas=(0.9,)), r"Adam: betas must be a pair \(beta1, beta2\), got \(0.9,\)"),
    (Adam, dict(eps=0.0), "Adam: eps must be > 0, got 0.0"),
    (Adam, dict(weight_decay=-0.1), "Adam: weight_decay must be >= 0, got -0.1"),
    (AMSGrad, dict(betas=(0.9, 1.0)), r"AMSGrad: beta2 must be in \[0, 1\), got 1.0"),
    (AdamW, dict(lr=-1), "AdamW: lr must be >= 0, got -1"),
    (AdamW, dict(betas=(0.9, 2)), r"AdamW: beta2 must be in \[0, 1\), got 2"),
    (AdamW, dict(eps=-1.0), "AdamW: eps must be > 0, got -1.0"),
    (AdamW, dict(weight_decay=-0.01), "AdamW: weight_decay must be >= 0, got -0.01"),
    (Adamax, dict(lr=-1), "Adamax: lr must be >= 0, got -1"),
    (Adamax, dict(betas=(0.9, -0.5)), r"Adamax: beta2 must be in \[0, 1\), got -0.5"),
    (Adamax, dict(eps=0), "Adamax: eps must be > 0, got 0"),
    (Adamax, dict(weight_decay=-1), "Adamax: weight_decay must be >= 0, got -1"),
    (NAdam, dict(lr=-1), "NAdam: lr must be >= 0, got -1"),
    (NAdam, dict(betas=(1.5, 0.9)), r"NAdam: beta1 must be in \[0, 1\), got 1.5"),
    (NAdam, dict(eps=0), "NAdam: eps must be > 0, got 0"),
    (NAdam, dict(momentum_decay=-1), "NAdam: momentum_decay must be >= 0, got -1"),
    (NAdam, dict(weight_decay=-1), "NAdam: weight_decay must be >= 0, got -1"),
    (RAdam, dict(lr=-1), "RAdam: lr must be >= 0, got -1"),
    (RAdam, dict(betas=(0.9, 1.0)), r"RAdam: beta2 must be in \[0, 1\), got 1.0"),
    (RAdam, dict(eps=0), "RAdam: eps must be > 0, got 0"),
    (RAdam, dict(weight_decay=-1), "RAdam: weight_decay must be >= 0, got -1"),
]

_BAD_MESSAGE_PART = [
    (AdaBelief, dict(lr=-1.0), "AdaBelief: lr must be >= 0, got -1.0"),
    (AdaBelief, dict(betas=(1.0, 0.9)), "AdaBelief: beta1 must be in [0, 1), got 1.0"),
    (AdaBelief, dict(betas=(0.9, -0.1)), "AdaBelief: beta2 must be in [0, 1), got -0.1"),
    (AdaBelief, dict(betas=(0.9,)), "AdaBelief: betas must be a pair"),
    (AdaBelief, dict(eps=0.0), "AdaBelief: eps must be > 0, got 0.0"),
    (AdaBelief, dict(weight_decay=-0.1), "AdaBelief: weight_decay must be >= 0, got -0.1"),
    (AdaBelief, dict(rectify="yes"), "AdaBelief: rectify must be a bool, got 'yes'"),
    (DiffGrad, dict(lr=-0.1), "DiffGrad: lr must be >= 0, got -0.1"),
    (DiffGrad, dict(betas=(0.9, 1.5)), "DiffGrad: beta2 must be in [0, 1), got 1.5"),
    (DiffGrad, dict(eps=-1e-8), "DiffGrad: eps must be > 0, got -1e-08"),
    (DiffGrad, dict(weight_decay=-1.0), "DiffGrad: weight_decay must be >= 0, got -1.0"),
    (AdaInject, dict(lr=-0.1), "AdaInject: lr must be >= 0, got -0.1"),
    (AdaInject, dict(betas=(1.2, 0.9)), "AdaInject: beta1 must be in [0, 1), got 1.2"),
    (AdaInject, dict(eps=0.0), "AdaInject: eps must be > 0, got 0.0"),
    (AdaInject, dict(k=0.0), "AdaInject: k must be > 0, got 0.0"),
    (AdaInject, dict(weight_decay=-1.0), "AdaInject: weight_decay must be >= 0, got -1.0"),
    (AngularGrad, dict(method="sin"), "AngularGrad: method must be 'cos' or 'tan', got 'sin'"),
    (AngularGrad, dict(lr=-1.0), "AngularGrad: lr must be >= 0, got -1.0"),
    (AngularGrad, dict(betas=(0.9, 1.0)), "AngularGrad: beta2 must be in [0, 1), got 1.0"),
    (AngularGrad, dict(eps=0.0), "AngularGrad: eps must be > 0, got 0.0"),
    (AngularGrad, dict(weight_decay=-1.0), "AngularGrad: weight_decay must be >= 0, got -1.0"),
    (Lion, dict(lr=-1e-4), "Lion: lr must be >= 0, got -0.0001"),
    (Lion, dict(betas=(1.2, 0.99)), "Lion: beta1 must be in [0, 1), got 1.2"),
    (Lion, dict(betas=(0.9, 1.0)), "Lion: beta2 must be in [0, 1), got 1.0"),
    (Lion, dict(weight_decay=-0.1), "Lion: weight_decay must be >= 0, got -0.1"),
    (SGDW, dict(lr=-0.1), "SGDW: lr must be >= 0, got -0.1"),
    (SGDW, dict(momentum=-0.5), "SGDW: momentum must be >= 0, got -0.5"),
    (SGDW, dict(dampening=-0.5), "SGDW: dampening must be >= 0, got -0.5"),
    (SGDW, dict(weight_decay=-0.1), "SGDW: weight_decay must be >= 0, got -0.1"),
    (SGDW, dict(nesterov=True), "SGDW: momentum must be > 0 when nesterov=True, got 0.0"),
    (SGDW, dict(nesterov=True, momentum=0.9, dampening=0.1),
     "SGDW: dampening must be 0 when nesterov=True"),
    (FTRL, dict(lr=0.0), "FTRL: lr must be > 0, got 0.0"),
    (FTRL, dict(learning_rate_power=0.5), "FTRL: learning_rate_power must be <= 0, got 0.5"),
    (FTRL, dict(initial_accumulator_value=-0.1),
     "FTRL: initial_accumulator_value must be >= 0, got -0.1"),
    (FTRL, dict(l1_regularization_strength=-1.0),
     "FTRL: l1_regularization_strength must be >= 0, got -1.0"),
    (FTRL, dict(l2_regularization_strength=-1.0),
     "FTRL: l2_regularization_strength must be >= 0, got -1.0"),
    (FTRL, dict(l2_shrinkage_regularization_strength=-1.0),
     "FTRL: l2_shrinkage_regularization_strength must be >= 0, got -1.0"),
    (FTRL, dict(beta=-1.0), "FTRL: beta must be >= 0, got -1.0"),
    (SWATS, dict(lr=-1.0), "SWATS: lr must be >= 0, got -1.0"),
    (SWATS, dict(betas=(0.9, 1.0)), "SWATS: beta2 must be in [0, 1), got 1.0"),
    (SWATS, dict(eps=0.0), "SWATS: eps must be > 0, got 0.0"),
    (SWATS, dict(weight_decay=-1.0), "SWATS: weight_decay must be >= 0, got -1.0"),
]

BAD_HYPERPARAMETERS = ([(cls, kw, f"^{pattern}$") for cls, kw, pattern in _BAD_FULL_MESSAGE]
                       + [(cls, kw, re.escape(part)) for cls, kw, part in _BAD_MESSAGE_PART])


def bad_hyperparameters_of(*classes) -> list[tuple]:
    """``(cls, kwargs, pattern)`` of every bad-hyperparameter row of the given classes."""
    return [row for row in BAD_HYPERPARAMETERS if row[0] in classes]


def bad_ids(rows) -> list[str]:
    return [f"{cls.__name__}-{'-'.join(kw)}" for cls, kw, _ in rows]


def assert_bad_hyperparameter_raises(cls, kwargs: dict, pattern: str) -> None:
    """A bad value raises ValueError at construction, as a per-group override, and in
    ``add_param_group`` (which then adds nothing)."""
    p = minigrad.Parameter(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=pattern):
        cls([p], **kwargs)
    with pytest.raises(ValueError, match=pattern):
        cls([{"params": [p], **kwargs}])
    opt = cls([p])
    with pytest.raises(ValueError, match=pattern):
        opt.add_param_group({"params": [minigrad.Parameter(np.zeros(2, np.float32))], **kwargs})
    assert len(opt.param_groups) == 1


# --------------------------------------------------------------------------- convergence
# budgets and learning rates per optimizer (the smallest round budgets at which each converges
# from the same start); tolerances are distances to the known minimiser.
# name: (quadratic factory, steps), (rosenbrock factory, steps, tolerance), on
# problems.QUADRATIC and problems.ROSENBROCK
# name: (quadratic factory, steps), (rosenbrock factory, steps, tolerance)
CONVERGENCE = {
    "SGD": ((lambda ps: SGD(ps, lr=0.1), 200),
            (lambda ps: SGD(ps, lr=1e-3, momentum=0.9), 2000, 1e-2)),
    "SGD-nesterov": ((lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True), 200),
                     (lambda ps: SGD(ps, lr=1e-3, momentum=0.9, nesterov=True), 2000, 1e-2)),
    "Adagrad": ((lambda ps: Adagrad(ps, lr=1.0), 200),
                (lambda ps: Adagrad(ps, lr=1.0), 8000, 1e-2)),
    # Adadelta reaches Rosenbrock's valley floor but keeps wandering along it (its step size
    # does not shrink); torch's Adadelta does the same (our trajectories match it).
    "Adadelta": ((lambda ps: Adadelta(ps, lr=1.0, eps=1e-3), 300),
                 (lambda ps: Adadelta(ps, lr=0.05), 8000, 5e-2)),
    "RMSprop": ((lambda ps: RMSprop(ps, lr=0.01), 1000),
                (lambda ps: RMSprop(ps, lr=2e-3), 8000, 1e-2)),
    "RMSprop-centered-momentum": (
        (lambda ps: RMSprop(ps, lr=0.01, centered=True, momentum=0.5), 500),
        (lambda ps: RMSprop(ps, lr=1e-3, centered=True, momentum=0.5), 4000, 1e-2)),
    "Adam": ((lambda ps: Adam(ps, lr=0.1), 200),
             (lambda ps: Adam(ps, lr=0.02), 4000, 1e-2)),
    "AMSGrad": ((lambda ps: AMSGrad(ps, lr=0.1), 200),
                (lambda ps: AMSGrad(ps, lr=0.02), 8000, 1e-2)),
    "AdamW": ((lambda ps: AdamW(ps, lr=0.1, weight_decay=0.0), 200),
              (lambda ps: AdamW(ps, lr=0.02, weight_decay=0.0), 4000, 1e-2)),
    "Adamax": ((lambda ps: Adamax(ps, lr=0.1), 200),
               (lambda ps: Adamax(ps, lr=0.02), 8000, 1e-2)),
    "NAdam": ((lambda ps: NAdam(ps, lr=0.1), 200),
              (lambda ps: NAdam(ps, lr=0.01), 8000, 1e-2)),
    "RAdam": ((lambda ps: RAdam(ps, lr=0.1), 500),
              (lambda ps: RAdam(ps, lr=2e-3), 16000, 1e-2)),
}


# (class, kwargs, steps) on problems.QUADRATIC_2D / ROSENBROCK_2D, per optimizer
QUADRATIC_2D_CASES = [
    (AdaBelief, dict(lr=0.1), 500),
    (AdaBelief, dict(lr=0.1, rectify=True), 500),
    (DiffGrad, dict(lr=0.1), 500),
    (AdaInject, dict(lr=0.03), 1500),
    (AngularGrad, dict(lr=0.1), 500),
    (AngularGrad, dict(lr=0.1, method="tan"), 500),
    (Lion, dict(lr=0.005), 1500),
    (SGDW, dict(lr=0.05, momentum=0.9), 300),
    (FTRL, dict(lr=2.0), 300),
    (SWATS, dict(lr=0.05), 500),
]

ROSENBROCK_2D_CASES = [
    (AdaBelief, dict(lr=0.02), 3000),
    (DiffGrad, dict(lr=0.02), 6000),
    (AdaInject, dict(lr=0.01), 5000),
    (AngularGrad, dict(lr=0.02), 3000),
    (AngularGrad, dict(lr=0.02, method="tan"), 6000),
    (Lion, dict(lr=0.001), 6000),
    (SGDW, dict(lr=1e-3, momentum=0.9), 3000),
    (FTRL, dict(lr=0.3), 10000),
    (SWATS, dict(lr=0.02), 3000),
]


# optimizer configurations whose state_dict round trip is checked on the paper problem
ROUND_TRIP = [
    (AdaBelief, dict(lr=0.05, amsgrad=True, weight_decay=0.01)),
    (DiffGrad, dict(lr=0.05)),
    (AdaInject, dict(lr=0.05)),
    (AngularGrad, dict(lr=0.05, method="tan")),
    (Lion, dict(lr=0.01, weight_decay=0.1)),
    (SGDW, dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    (FTRL, dict(lr=0.5, l1_regularization_strength=0.01)),
    (SWATS, dict(lr=0.01, eps=1e-6)),
]

