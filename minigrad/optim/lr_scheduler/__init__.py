"""Learning-rate schedulers, one module per family.

=================  =================================================================
``base``           LRScheduler: the step counter, checkpoints, the ``stepping`` attribute
``decay``          LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, ExponentialLR,
                   ExponentialDecay, PolynomialLR, InverseTimeLR
``cosine``         CosineAnnealingLR, CosineAnnealingWarmRestarts
``cyclic``         CyclicLR, OneCycleLR (they also cycle the momentum)
``plateau``        ReduceLROnPlateau
``composition``    ConstantLR, LinearLR, WarmupLR, SequentialLR, ChainedScheduler
=================  =================================================================

The classes, arguments, defaults and learning-rate sequences follow ``torch.optim.lr_scheduler``
(the tests compare every scheduler with sequences torch generated), plus three schedules from
the lecture slides that torch lacks: :class:`InverseTimeLR`, :class:`ExponentialDecay` and
:class:`WarmupLR`.

**One formula per scheduler.** Each scheduler's formula is a pure function of the step count,
defined once beside its class with the formula in its docstring (``step_decay``,
``cosine_annealing``, ``warmup_factor``, ...); ``lr_at(t, base_lr, group)`` calls it and is the
learning rate of param group ``group`` after
``t`` calls of ``step()``, starting from ``base_lr`` (the group's ``initial_lr``). ``step()``
advances ``last_epoch`` and writes ``lr_at(last_epoch, ...)`` into every param group. Torch
computes several of these recursively (``lr *= gamma``); the closed forms give the same values
to float round-off, and make ``step(epoch)``, resuming and composition exact.

Usage (as torch)::

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train(...)              # optimizer.step() for every batch
        scheduler.step()        # once per epoch (per batch for CyclicLR / OneCycleLR)

Conventions shared by every scheduler:

* Constructing a scheduler performs the initial step: ``last_epoch`` becomes 0 and every group's
  ``lr`` becomes ``lr_at(0, base_lr)``; the group gets an ``initial_lr`` key (the ``base_lr``)
  if it has none. ``last_epoch=k`` resumes (the groups must then have ``initial_lr``).
* ``get_last_lr()`` returns the learning rates the last step wrote.
* ``stepping`` (a class attribute) says how the scheduler wants to be stepped: ``'batch'``
  (after every optimizer step: CyclicLR, OneCycleLR, and compositions holding one),
  ``'epoch'`` (the rest) or ``'metric'`` (ReduceLROnPlateau, once per epoch with a metric);
  :func:`minigrad.train.fit` reads it.
* ``state_dict()`` holds plain values (no optimizer, no functions) and the class name;
  loading it into a scheduler of another class raises;
  ``load_state_dict(sd)`` restores them *and* writes the saved learning rates (and cycled
  momenta) back into the optimizer, so a resumed run continues the identical sequence even if
  the optimizer's own state was not reloaded.
* Schedules compose explicitly, through :class:`ChainedScheduler` (factors multiply),
  :class:`SequentialLR` (one after another) or :class:`WarmupLR`. Unlike torch, two schedulers
  stepped side by side on one optimizer do *not* compose: the last one stepped sets the lr.

References:
    PyTorch, ``torch.optim.lr_scheduler`` (v2.x documentation and source).
    Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017.
    Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large
    Learning Rates", 2018.
    Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017 (warm-up).
"""

from __future__ import annotations

from .base import STEPPINGS, LRScheduler
from .composition import ChainedScheduler, ConstantLR, LinearLR, SequentialLR, WarmupLR
from .cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from .cyclic import CyclicLR, OneCycleLR
from .decay import (
    ExponentialDecay,
    ExponentialLR,
    InverseTimeLR,
    LambdaLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from .plateau import ReduceLROnPlateau

__all__ = [
    "LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
    "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR", "ReduceLROnPlateau",
    "SequentialLR", "ChainedScheduler", "InverseTimeLR", "ExponentialDecay", "WarmupLR",
    "STEPPINGS",
]
