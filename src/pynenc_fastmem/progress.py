"""A one-line progress bar on a text stream, for the demo and for exports."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def show_progress(label: str, done: int, total: int, started: float, stream: TextIO | None = None) -> None:
    """Redraw ``label [####....] done/total (rate/s)`` on ``stream`` (stdout by default).

    :param float started: ``time.perf_counter()`` when the work began, for the rate
    """
    stream = sys.stdout if stream is None else stream
    width = 40
    filled = width * done // max(total, 1)
    rate = done / max(time.perf_counter() - started, 1e-9)
    stream.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:,.0f}/s)")
    if done >= total:
        stream.write("\n")
    stream.flush()
