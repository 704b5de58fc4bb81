"""A per-epoch progress bar: tqdm when installed, a plain one-line fallback otherwise.

Shown only when stderr is a terminal (never in logs, CI or captured output) and not disabled.
The postfix (loss, metrics, lr) is refreshed at most every ``min_interval`` seconds, so a bar
costs next to nothing per batch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _fmt(logs: dict[str, float]) -> str:
    parts = []
    for k, v in logs.items():
        parts.append(f"{k}={v:.3g}" if k == "lr" else f"{k}={v:.4f}")
    return " ".join(parts)


class ProgressBar:
    """One epoch's bar over ``total`` batches.

    Args:
        total: batches in the epoch.
        desc: the label, e.g. ``"epoch 3/10"``.
        enabled: False makes every method a no-op; None means "when stderr is a terminal".
        min_interval: seconds between redraws.
        use_tqdm: use tqdm if it imports (None: yes when installed).
    """

    def __init__(self, total: int, desc: str = "", enabled: bool | None = None,
                 min_interval: float = 0.1, use_tqdm: bool | None = None, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = stderr_is_tty() if enabled is None else bool(enabled)
        self.total, self.desc, self.min_interval = total, desc, min_interval
        self.n = 0
        self._last = 0.0
        self._t0 = time.perf_counter()
        self._tqdm = None
        if not self.enabled:
            return
        if use_tqdm is not False:
            try:
                from tqdm.auto import tqdm  # noqa: PLC0415  (optional dependency)
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._tqdm = tqdm(total=total, desc=desc, leave=True, file=self.stream,
                                  mininterval=min_interval, dynamic_ncols=True)

    def update(self, n: int = 1, postfix: Callable[[], dict[str, float]] | None = None) -> None:
        """Advance by ``n`` batches; ``postfix()`` is called only when the bar redraws."""
        if not self.enabled:
            return
        self.n += n
        now = time.perf_counter()
        if now - self._last < self.min_interval and self.n < self.total:
            if self._tqdm is not None:
                self._tqdm.update(n)
            return
        self._last = now
        logs = postfix() if postfix is not None else {}
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(_fmt(logs), refresh=False)
            self._tqdm.update(n)
        else:
            self._draw(logs, now)

    def _draw(self, logs: dict[str, float], now: float) -> None:
        width = 24
        filled = int(width * self.n / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        line = (f"\r{self.desc} [{bar}] {self.n}/{self.total} "
                f"{now - self._t0:.1f}s {_fmt(logs)}")
        self.stream.write(line.ljust(getattr(self, "_width", 0)))
        self._width = len(line)
        self.stream.flush()

    def close(self, logs: dict[str, float] | None = None) -> None:
        """Finish the bar, showing the epoch's final ``logs``."""
        if not self.enabled:
            return
        logs = logs or {}
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(_fmt(logs), refresh=True)
            self._tqdm.close()
        else:
            self._draw(logs, time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
        self.enabled = False
