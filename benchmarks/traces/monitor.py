"""Trace app: a fan-out of tasks while a monitor polls what they do, as pynmon's pages do.

Every 20 ms the monitor reads the timeline of the last five seconds (history in batches
of 2,000, each new invocation looked up once, with its runner context) and an invocation
page (the ids with history in that window, 50 of them with their invocation and history).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from .apps import thread_app

app = thread_app("trace-monitor")


@app.task  # type: ignore[untyped-decorator]
def square(x: int) -> int:
    """Return ``x`` squared."""
    return x * x


def poll(stop: threading.Event) -> None:
    """Read the monitor's pages until ``stop`` is set."""
    backend = app.state_backend
    seen: set[str] = set()
    while not stop.wait(0.02):
        now = datetime.now(UTC)
        window = (now - timedelta(seconds=5), now)
        for batch in backend.iter_history_in_timerange(*window, batch_size=2000):
            new = {str(record.invocation_id) for record in batch} - seen
            for invocation_id in new:
                backend.get_invocation(invocation_id)
            seen |= new
            backend.get_runner_contexts(list({record.runner_context_id for record in batch}))
        page = next(iter(backend.iter_invocations_in_timerange(*window, batch_size=50)), [])
        for invocation_id in page:
            backend.get_invocation(invocation_id)
            backend.get_history(invocation_id)


def drive(scale: int) -> None:
    """Run ``scale`` tasks while the monitor polls, then read every result."""
    stop = threading.Event()
    monitor = threading.Thread(target=poll, args=(stop,), daemon=True)
    monitor.start()
    try:
        invocations = [square(number) for number in range(scale)]
        for number, invocation in enumerate(invocations):
            assert invocation.result == number * number
    finally:
        stop.set()
        monitor.join()
