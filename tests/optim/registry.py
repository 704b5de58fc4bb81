"""Every optimizer of minigrad.optim, each in a configuration that uses all of its state.

The contract suite (test_contract.py) runs over ``FULL_STATE``; per-algorithm files import
their classes directly.
"""

from __future__ import annotations

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
