"""Whether operations record a graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

A leaf module (it imports nothing of minigrad), so that ``tensor.py`` and the autograd core can
both read the mode without importing each other.

The mode is per thread, as in torch: every thread starts with recording on, and switching it
(with these context managers, or in the backward engine) changes the calling thread's mode
only. One thread evaluating under ``no_grad`` never stops another thread's training.
"""

from __future__ import annotations

import functools
import threading


class _ThreadMode(threading.local):
    """``enabled`` is this thread's own value; the class attribute is every new thread's start."""

    enabled = True


thread_state = _ThreadMode()  # ``thread_state.enabled``: set by the managers below and the engine


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad are recorded for backward (in the
    calling thread)."""
    return thread_state.enabled


class set_grad_enabled:
    """Context manager (and decorator) that sets grad recording on or off inside it."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = thread_state.enabled
        thread_state.enabled = self.mode  # like torch: also works as a plain function call

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        thread_state.enabled = self.prev
        return False

    def __call__(self, fn):
        """Use as a decorator: the mode applies inside ``fn`` only."""
        if type(self) is set_grad_enabled:
            thread_state.enabled = self.prev  # __init__ already switched it: undo, as torch does
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class _NoArgDecorator:
    """Lets ``@no_grad`` (without parentheses) decorate as ``@no_grad()`` does, as in torch."""

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if fn is None:
            return self
        self.__init__()
        return self(fn)


class no_grad(_NoArgDecorator, set_grad_enabled):
    """Record no graph inside: ``with minigrad.no_grad(): ...``, ``@minigrad.no_grad()`` or
    ``@minigrad.no_grad``."""

    def __init__(self, fn=None):
        self.mode = False

    def __enter__(self):
        self.prev = thread_state.enabled
        thread_state.enabled = False
        return self


class enable_grad(_NoArgDecorator, set_grad_enabled):
    """Record the graph inside, even within ``no_grad`` (also ``@enable_grad``)."""

    def __init__(self, fn=None):
        self.mode = True

    def __enter__(self):
        self.prev = thread_state.enabled
        thread_state.enabled = True
        return self
