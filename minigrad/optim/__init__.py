"""minigrad.optim: every optimizer on the lecture slides, one file each, on a common base.

The base (:mod:`.optimizer`) owns the loops, parameter groups, state and checkpoints; each
algorithm writes ``init_state`` and the update of one parameter, in its paper's symbols.
``weight_decay`` is coupled L2 (g <- g + wd * theta) everywhere except the decoupled
optimizers (AdamW, SGDW, AdaBelief, Lion), as in torch. Every optimizer also takes Keras-style
``clipnorm``, ``clipvalue`` and ``global_clipnorm``. Schedulers live in :mod:`.lr_scheduler`.
"""

from . import lr_scheduler
from .adabelief import AdaBelief
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adainject import AdaInject
from .adam import Adam, AMSGrad
from .adamax import Adamax
from .adamw import AdamW
from .angulargrad import AngularGrad
from .clip import clip_grad_norm_, clip_grad_value_
from .diffgrad import DiffGrad
from .ftrl import FTRL
from .lion import Lion
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD
from .sgdw import SGDW
from .swats import SWATS

diffGrad = DiffGrad  # the paper's spelling

__all__ = [
    "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AMSGrad", "AdamW", "Adamax", "NAdam",
    "RAdam", "AdaBelief", "DiffGrad", "SWATS", "FTRL", "Lion", "AngularGrad", "AdaInject",
    "SGDW", "Optimizer", "clip_grad_norm_", "clip_grad_value_", "lr_scheduler",
]
