"""The hook points of :mod:`minigrad.jit`: while a step is being captured, they report to it.

A leaf module (it imports nothing of minigrad), like ``write_clock``. ``recorder[0]`` is the
recorder of the training step being captured, or None, which is always the case outside
``minigrad.jit``: every hook below is then one list read and one comparison.

- :func:`kernel` runs a function on raw arrays that is not a ``Function.forward`` (the batch
  statistics of batch norm, the checked class targets of cross-entropy): captured, it is
  recorded as one kernel of the step's program.
- :func:`replayed_whole` marks a method whose effect is on Python state (``Optimizer.step``,
  ``zero_grad``, a scheduler's ``step``): captured, the call is recorded as it is and called
  again, whole, at every replay, so it reads learning rates and step counts afresh.
- ``Function.apply``, ``run_backward``, ``Module.__call__``, the Tensor methods that read
  values to the host (``item``, ``numpy``, ...) and ``Tensor._bump_version`` (every in-place
  write) report to ``recorder[0]``.
"""

from __future__ import annotations

import functools

recorder: list = [None]  # the active jit recorder, or None (a list: importers share the cell)


def kernel(func, *args, **kwargs):
    """``func(*args, **kwargs)``, a function of raw arrays returning an array or a tuple of
    arrays (or None); recorded as one kernel while a step is captured."""
    rec = recorder[0]
    if rec is None:
        return func(*args, **kwargs)
    return rec.call_kernel(func, args, kwargs)


def replayed_whole(method):
    """Decorate a method so that, in a captured step, the call is replayed as it is."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        rec = recorder[0]
        if rec is None:
            return method(self, *args, **kwargs)
        return rec.call_whole(method, self, args, kwargs)

    wrapper.replayed_whole = True
    return wrapper


def replay_overrides_whole(cls, names: tuple[str, ...]) -> None:
    """Make each method of ``names`` that class ``cls`` defines itself ``@replayed_whole``
    (called from ``__init_subclass__``): a subclass's ``step`` that sets a learning rate or
    counts calls in Python before calling ``super().step()`` is then replayed as it is, not
    only the base's ``step`` inside it."""
    for name in names:
        method = cls.__dict__.get(name)
        if callable(method) and not getattr(method, "replayed_whole", False):
            setattr(cls, name, replayed_whole(method))


def inplace_write(t) -> None:
    """Called by ``Tensor._bump_version``: an in-place write made outside any recorded kernel
    (``x.add_(...)``, ``clip_grad_norm_``, a hand-written update) would not be replayed."""
    rec = recorder[0]
    if rec is not None:
        rec.inplace_write(t)


def host_read(what: str) -> None:
    """Called by the Tensor methods that read a value to Python (``item``, ``numpy``, ...)."""
    rec = recorder[0]
    if rec is not None:
        rec.host_read(what)
