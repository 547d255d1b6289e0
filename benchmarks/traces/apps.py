"""What the trace apps share: an in-process pynenc app on a ThreadRunner, and running one."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable

from pynenc import Pynenc, PynencBuilder


def thread_app(app_id: str) -> Pynenc:
    """A pynenc app running its tasks on a ThreadRunner in this process, as users run one."""
    return (
        PynencBuilder()
        .fast_memory()
        .thread_runner(min_threads=4, max_threads=16)
        .runner_tuning(runner_loop_sleep_time_sec=0.001, invocation_wait_results_sleep_time_sec=0.001)
        .logging_level("error")
        .app_id(app_id)
        .build()
    )


def with_runner(app: Pynenc, drive: Callable[[], None]) -> None:
    """Run ``drive`` while the app's runner works in a thread of this process, then stop it."""
    warnings.filterwarnings("ignore", "Running in a secondary thread", UserWarning)
    runner = threading.Thread(target=app.runner.run, daemon=True)
    runner.start()
    try:
        drive()
    finally:
        app.runner.stop_runner_loop()
        runner.join(timeout=10)
