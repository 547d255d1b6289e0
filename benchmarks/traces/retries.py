"""Trace app: tasks that fail and are retried, and some that fail for good."""

from __future__ import annotations

import threading

from .apps import thread_app

app = thread_app("trace-retries")

_attempts: dict[int, int] = {}
_attempts_lock = threading.Lock()


@app.task(retry_for=(ConnectionError,), max_retries=2)  # type: ignore[untyped-decorator]
def fetch(x: int) -> int:
    """Fail its first attempt for one x in three, and every attempt for one in ten."""
    with _attempts_lock:
        attempt = _attempts[x] = _attempts.get(x, 0) + 1
    if x % 10 == 0:
        raise ConnectionError(f"{x} is unreachable")
    if x % 3 == 0 and attempt == 1:
        raise ConnectionError(f"{x} timed out, try again")
    return x


def drive(scale: int) -> None:
    """Run ``scale`` tasks; read every result, the failed ones raising."""
    invocations = [fetch(number) for number in range(scale)]
    for number, invocation in enumerate(invocations):
        try:
            assert invocation.result == number
        except ConnectionError:
            assert number % 10 == 0
