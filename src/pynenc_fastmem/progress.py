"""A one-line progress bar, drawn only on a terminal: for the demo and for transfers.

Our own few lines rather than a library such as tqdm: a state backend should not
pull a dependency into every app for a bar that only the demo and one-off
transfers draw, and the one thing a library would add here, staying quiet when
the output is not a terminal, is the ``isatty`` check below.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``label [####....] done/total (rate/s)``, redrawn in place on ``stream``.

    :param enabled: draw it; by default only when ``stream`` is a terminal, so
        logs and pipes get no carriage-return bars
    """

    WIDTH = 40
    #: Redraw at most this often, in seconds (and always at the end).
    INTERVAL = 0.1

    def __init__(
        self, label: str, total: int, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self.label, self.total = label, total
        self.stream = sys.stderr if stream is None else stream
        self.enabled = _is_terminal(self.stream) if enabled is None else enabled
        self.started = time.perf_counter()
        self._drawn_at = 0.0
        self._finished = False

    def update(self, done: int) -> None:
        """Show ``done`` of the total; the bar ends its line once ``done`` reaches the total."""
        if not self.enabled or self._finished:
            return
        now = time.perf_counter()
        if done < self.total and now - self._drawn_at < self.INTERVAL:
            return
        self._drawn_at = now
        filled = self.WIDTH * min(done, self.total) // max(self.total, 1)
        rate = done / max(now - self.started, 1e-9)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done:,}/{self.total:,} ({rate:,.0f}/s)")
        if done >= self.total:
            self.stream.write("\n")
            self._finished = True
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
