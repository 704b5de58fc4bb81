"""minigrad.train: the training loop, its History, callbacks, progress bar and checkpoints.

    history = fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, epochs=10,
                  val_loader=val_loader, scheduler=scheduler,
                  callbacks=[EarlyStopping(...), Checkpoint("run.npz")])
    history.plot("curves.png")
    fit(..., epochs=20, resume_from="run.npz")      # continues exactly where it stopped
"""

from .callbacks import (
    Callback,
    Checkpoint,
    EarlyStoppingCallback,
    LambdaCallback,
    TrainState,
)
from .checkpoint import load_checkpoint, save_checkpoint
from .diagnostics import Diagnostics, plot_diagnostics
from .early_stopping import EarlyStopping
from .fit import (
    Accuracy,
    BinaryAccuracy,
    FunctionMetric,
    Metric,
    evaluate,
    fit,
    scheduler_kind,
    train_epoch,
)
from .history import History
from .lr_find import LRFinderResult, lr_find
from .progress import ProgressBar
