"""pynenc's pace in one process: the quick start's time, and what a waiting runner costs, per sleep time.

pynenc's ThreadRunner sleeps ``runner_loop_sleep_time_sec`` between looks for new
work, and a caller waiting for a result sleeps ``invocation_wait_results_sleep_time_sec``
between looks; both are 0.1 s by default, made for runners in other processes. In
one process they set the pace of everything. Each benchmark runs the README's quick
start (``.fast_memory().thread_runner()``) with both set to one value (``None``:
what ``fast_memory()`` gives), on ``tasks`` tasks; ``idle_cpu`` is the fraction of
one core the process uses while its runner has nothing to do. ``make bench`` runs
it; ``docs/performance.md`` says which value was chosen and why.
"""

from __future__ import annotations

import itertools
import threading
import time
import warnings
from typing import Any

import pytest
from pynenc import Pynenc, PynencBuilder

from pynenc_fastmem.builder import DEFAULT_PACE_SEC

PACES = [0.1, 0.01, 0.005, 0.002, 0.001, None]
IDLE_SECONDS = 3.0
_app_ids = itertools.count()


def _app(pace: float | None) -> Pynenc:
    builder = PynencBuilder().fast_memory().thread_runner().logging_level("error")
    if pace is not None:
        builder = builder.runner_tuning(
            runner_loop_sleep_time_sec=pace, invocation_wait_results_sleep_time_sec=pace
        )
    return builder.app_id(f"bench-pace-{next(_app_ids)}").build()


def _add(x: int, y: int) -> int:
    return x + y


def idle_cpu(app: Pynenc) -> float:
    """The fraction of a core this process uses over IDLE_SECONDS while ``app``'s runner waits."""
    time.sleep(0.5)  # the runner's start-up
    wall, cpu = time.perf_counter(), time.process_time()
    time.sleep(IDLE_SECONDS)
    return (time.process_time() - cpu) / (time.perf_counter() - wall)


@pytest.mark.parametrize("tasks", [200, 2000])
@pytest.mark.parametrize("pace", PACES, ids=lambda pace: f"pace={pace or 'fast_memory'}")
def test_quick_start(benchmark: Any, tasks: int, pace: float | None) -> None:
    if pace == 0.1 and tasks > 200:
        pytest.skip("0.1 s a task: 2,000 tasks would take over 3 minutes")
    app = _app(pace)
    add = app.task(_add)
    warnings.filterwarnings("ignore", "Running in a secondary thread")
    runner = threading.Thread(target=app.runner.run, daemon=True)
    runner.start()
    try:
        idle = idle_cpu(app)

        def run() -> None:
            invocations = [add(i, 10 * i) for i in range(tasks)]
            assert [invocation.result for invocation in invocations] == [11 * i for i in range(tasks)]

        benchmark.group = f"quick start, {tasks:,} tasks"
        benchmark.pedantic(run, rounds=1 if pace == 0.1 else 3, iterations=1)
    finally:
        app.runner.stop_runner_loop()
        runner.join(timeout=10)
    benchmark.extra_info.update(
        backend=f"pace {pace if pace is not None else DEFAULT_PACE_SEC} s"
        + (" (fast_memory)" if pace is None else ""),
        idle_cpu=round(idle, 4),
    )
