"""A pynenc app on a ThreadRunner with the memory broker and orchestrator: tasks per second."""

from __future__ import annotations

import gc
import os
import threading
import time
import warnings
from typing import Any

import pytest
from pynenc import Pynenc, PynencBuilder

from .conftest import PUBLIC_BACKENDS, make_backend, new_app, ratio_info

TASKS = int(os.environ.get("FASTMEM_BENCH_TASKS", 2_000))


def _app(name: str) -> Pynenc:
    gc.collect()  # the rounds before left cyclic garbage: collected here, untimed, not in this round
    builder = PynencBuilder().memory().thread_runner(min_threads=4, max_threads=16)
    builder = builder.runner_tuning(
        runner_loop_sleep_time_sec=0.001, invocation_wait_results_sleep_time_sec=0.001
    )
    builder = builder.logging_level("error").app_id(new_app().app_id)
    backend_cls = {
        "mem": "MemStateBackend",
        "sqlite": "SQLiteStateBackend",
        "rustvello": "RustMemStateBackend",
        "fastmem-python": "FastMemPythonStoreBackend",
    }
    builder._config["state_backend_cls"] = backend_cls.get(name, "FastMemStateBackend")
    if name == "fastmem-live":
        builder._config["live_invocations"] = True
    if name == "sqlite":
        builder._config["sqlite_db_path"] = make_backend("sqlite").conf.sqlite_db_path
    return builder.build()


def _double(x: int) -> int:
    return 2 * x


def _run(app: Pynenc, tasks: int = TASKS) -> None:
    task = app.task(_double)
    warnings.filterwarnings("ignore", "Running in a secondary thread", UserWarning)
    runner = threading.Thread(target=app.runner.run, daemon=True)
    runner.start()
    try:
        invocations = [task(i) for i in range(tasks)]
        assert [invocation.result for invocation in invocations] == [2 * i for i in range(tasks)]
    finally:
        app.runner.stop_runner_loop()
        runner.join(timeout=10)


def run_tasks(name: str, tasks: int) -> float:
    """Seconds a fresh app on backend ``name`` takes to run ``tasks`` tasks and read their results."""
    app = _app(name)
    started = time.perf_counter()
    _run(app, tasks)
    return time.perf_counter() - started


@pytest.mark.parametrize("name", PUBLIC_BACKENDS)
def test_end_to_end_tasks(benchmark: Any, name: str) -> None:
    benchmark.group = f"end to end: {TASKS:,} tasks on a ThreadRunner"
    ratio_info(benchmark, name, tasks=TASKS)
    make_backend(name)  # skips here, not inside the timed rounds, if the backend cannot be built
    benchmark.pedantic(_run, setup=lambda: ((_app(name),), {}), rounds=7)  # whole runs vary by ~1.3x here
    benchmark.extra_info["tasks_per_second"] = TASKS / benchmark.stats.stats.median
