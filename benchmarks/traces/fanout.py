"""Trace app: a flat fan-out of small tasks, each result read by the caller (a batch job)."""

from __future__ import annotations

from .apps import thread_app

app = thread_app("trace-fanout")


@app.task  # type: ignore[untyped-decorator]
def add(x: int, y: int) -> int:
    """Return ``x + y``."""
    return x + y


def drive(scale: int) -> None:
    """Run ``scale`` tasks, then read every result."""
    invocations = [add(number, number) for number in range(scale)]
    for number, invocation in enumerate(invocations):
        assert invocation.result == 2 * number
