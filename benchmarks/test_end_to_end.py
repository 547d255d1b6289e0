"""A pynenc app on a ThreadRunner with the memory broker: tasks per second, each stack side by side.

``mem`` is pynenc's MemStateBackend with MemOrchestrator; every ``fastmem`` name is the
FastMem stack (FastMemStateBackend with FastMemOrchestrator over one store), but
``fastmem-memorchestrator``, FastMemStateBackend beside pynenc's MemOrchestrator, which
shows what the orchestrator adds. The others pair their backend with MemOrchestrator.
"""

from __future__ import annotations

import functools
import gc
import os
import statistics
import threading
import time
import warnings
from typing import Any

import pytest
from pynenc import Pynenc, PynencBuilder

from .conftest import PUBLIC_BACKENDS, make_backend, new_app, ratio_info

TASKS = int(os.environ.get("FASTMEM_BENCH_TASKS", 2_000))


def _app(name: str, threads: tuple[int, int] = (4, 16), **config: Any) -> Pynenc:
    gc.collect()  # the rounds before left cyclic garbage: collected here, untimed, not in this round
    builder = PynencBuilder().memory().thread_runner(min_threads=threads[0], max_threads=threads[1])
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
    if name.startswith("fastmem") and name != "fastmem-memorchestrator":
        python = name == "fastmem-python"
        builder._config["orchestrator_cls"] = (
            "FastMemPythonStoreOrchestrator" if python else "FastMemOrchestrator"
        )
    if name == "fastmem-live":
        builder._config["live_invocations"] = True
    if name == "sqlite":
        builder._config["sqlite_db_path"] = make_backend("sqlite").conf.sqlite_db_path
    builder._config.update(config)
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


def run_tasks(name: str, tasks: int, **config: Any) -> float:
    """Seconds a fresh app on backend ``name`` takes to run ``tasks`` tasks and read their results.

    ``config`` adds pynenc settings to the app's.
    """
    app = _app(name, **config)
    started = time.perf_counter()
    _run(app, tasks)
    return time.perf_counter() - started


def _time_runs(benchmark: Any, name: str, group: str, rounds: int = 7, **config: Any) -> None:
    """Time whole runs of ``TASKS`` tasks on fresh apps of backend ``name`` with ``config``."""
    benchmark.group = group
    ratio_info(benchmark, name, tasks=TASKS)
    make_backend(name.removesuffix("-memorchestrator"))  # skips here, not in the timed rounds, if unbuildable
    # runs vary by ~1.3x
    benchmark.pedantic(_run, setup=lambda: ((_app(name, **config),), {}), rounds=rounds)
    benchmark.extra_info["tasks_per_second"] = TASKS / benchmark.stats.stats.median


STACKS = [*PUBLIC_BACKENDS, "fastmem-memorchestrator"]


@pytest.mark.parametrize("name", STACKS)
def test_end_to_end_tasks(benchmark: Any, name: str) -> None:
    _time_runs(benchmark, name, f"end to end: {TASKS:,} tasks on a ThreadRunner")


@pytest.mark.parametrize("name", STACKS)
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_end_to_end_runner_threads(benchmark: Any, name: str, threads: int) -> None:
    """The same run on a ThreadRunner of exactly ``threads`` threads: what runner threads gain.

    On free-threaded Python the threads run tasks, and write the backend and the
    orchestrator, at once; under the GIL they take turns.
    """
    group = f"end to end: {TASKS:,} tasks on a ThreadRunner of {threads} thread{'s' * (threads > 1)}"
    _time_runs(benchmark, name, group, rounds=5, threads=(threads, threads))


@pytest.mark.parametrize("name", ["mem", "fastmem", "fastmem-live", "fastmem-memorchestrator"])
def test_end_to_end_tasks_without_the_status_cache(benchmark: Any, name: str) -> None:
    """The same run with pynenc's status cache off (``cached_status_time=0``).

    pynenc caches a non-final status on the invocation object that read it, for 0.1 s: the
    main thread waiting for a result keeps reading a stale status that long after the task
    ended, unless, in live mode, the runner updated that very object. Whether a run meets
    that wait is chance, so with the cache on run times cluster at two values; with it off
    this measures what the runner and the backend take.
    """
    group = f"end to end: {TASKS:,} tasks on a ThreadRunner, pynenc's status cache off"
    _time_runs(benchmark, name, group, cached_status_time=0.0)


def _backend_cpu_share(name: str) -> tuple[float, float]:
    """CPU seconds spent inside the backend's public methods, and by the whole process, in one run.

    Each public method pynenc calls is wrapped to add up the calling thread's CPU time
    (``time.thread_time``: time waiting for the GIL is not counted); calls the backend makes
    to itself are counted once, in the outer call.
    """
    from .traces.recording import RECORDED

    app = _app(name)
    backend = app.state_backend
    spent: list[float] = []
    inside = threading.local()

    def timed_call(method: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(inside, "depth", 0):
            return method(*args, **kwargs)
        inside.depth, started = 1, time.thread_time()
        try:
            return method(*args, **kwargs)
        finally:
            spent.append(time.thread_time() - started)
            inside.depth = 0

    for name_of_method in RECORDED:
        if hasattr(backend, name_of_method):
            setattr(backend, name_of_method, functools.partial(timed_call, getattr(backend, name_of_method)))
    started = time.process_time()
    _run(app)
    return sum(spent), time.process_time() - started


@pytest.mark.parametrize("name", ["mem", "fastmem", "fastmem-live"])
def test_backend_share_of_end_to_end(benchmark: Any, name: str) -> None:
    """How much of an end-to-end run the backend is: the most any backend could speed the run up.

    A backend that took no time at all would make the run at most ``1 / (1 - share)`` times
    faster, ``share`` being MemStateBackend's part of the process's CPU time.
    """
    benchmark.group = f"end to end, the backend's share of CPU time: {TASKS:,} tasks"
    make_backend(name)
    runs: list[tuple[float, float]] = []
    benchmark.pedantic(lambda: runs.append(_backend_cpu_share(name)), rounds=3)
    shares = [backend / total for backend, total in runs]
    ratio_info(
        benchmark,
        name,
        backend_cpu_seconds=statistics.median(backend for backend, _ in runs),
        process_cpu_seconds=statistics.median(total for _, total in runs),
        backend_share=statistics.median(shares),
        ceiling_if_the_backend_took_no_time=1 / (1 - statistics.median(shares)),
    )
