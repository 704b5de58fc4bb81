"""Tests of minigrad.optim, one file per thing to look for.

- ``test_<algorithm>.py`` (``test_adam.py``, ``test_sgd.py``, ...): one per optimizer: its
  reference trajectory (torch's numbers from ``torch_reference.py``, or the paper's algorithm
  transcribed in ``paper_reference.py``), a property from its paper, its bad hyperparameters.
- ``test_contract.py``: what every optimizer of ``registry.py`` keeps: an all-or-nothing step,
  in-place updates, zero_grad, parameter groups, state_dict round trips, convergence on a
  quadratic and on Rosenbrock (``problems.py``).
- ``test_optimizer.py``: the base class and the shared update helpers; ``test_clip.py``: the
  clipping functions; ``test_lr_scheduler.py``: the schedulers against torch's sequences.
"""
