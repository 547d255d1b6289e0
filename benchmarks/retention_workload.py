"""One long workload in a process of its own, printing resident memory over time as JSON.

Usage: ``python -m benchmarks.retention_workload {raw,app} BACKEND INVOCATIONS [MAX_FINISHED]``
(from the repository root),
where BACKEND is ``mem`` or ``fastmem``. ``raw``: each invocation gets its DTOs, six history
records (the last one final) and a result, through the backend's raw methods. ``app``: a real
pynenc app (memory broker, ThreadRunner in a thread of this process; ``mem``: MemStateBackend and
MemOrchestrator, ``fastmem``: ``.fast_memory()``'s FastMemStateBackend and FastMemOrchestrator) runs
INVOCATIONS tasks, submitted and awaited in batches. A process of its own gives each run the
same starting memory, which the benchmark compares.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import warnings
from datetime import timedelta

from pynenc import PynencBuilder
from pynenc.invocation.status import InvocationStatus
from pynenc.state_backend import MemStateBackend

from benchmarks.conftest import DAY_START, history_record, invocation_pair, new_app
from benchmarks.test_end_to_end import _double  # a task must live in an importable module
from pynenc_fastmem import FastMemStateBackend

LIFECYCLE = [
    InvocationStatus.REGISTERED,
    InvocationStatus.PENDING,
    InvocationStatus.RUNNING,
    InvocationStatus.RETRY,
    InvocationStatus.RUNNING,
    InvocationStatus.SUCCESS,
]
SAMPLES = 100


def resident_bytes() -> int:
    """This process's resident set size now (Linux ``/proc``)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def raw_run(backend_name: str, invocations: int, max_finished: int) -> dict[str, object]:
    """The raw-method workload: ``{"samples": [[done, rss, seconds], ...], "seconds": ..., "stats": ...}``."""
    if backend_name == "mem":
        backend = MemStateBackend(new_app())
    else:
        backend = FastMemStateBackend(new_app(max_finished_invocations=max_finished))
    every = max(invocations // SAMPLES, 1)
    samples = [[0, resident_bytes(), 0.0]]
    started = time.perf_counter()
    for index in range(invocations):
        pair = invocation_pair(index)
        invocation_id = pair[0].invocation_id
        backend._upsert_invocations([pair])
        for step, status in enumerate(LIFECYCLE):
            at = DAY_START + timedelta(microseconds=index * 6 + step)
            backend._add_histories([invocation_id], history_record(invocation_id, at, status))
            if status is InvocationStatus.RUNNING:
                backend._set_result(invocation_id, f'{{"value": {index}}}')
        if (index + 1) % every == 0:
            samples.append([index + 1, resident_bytes(), time.perf_counter() - started])
    seconds = time.perf_counter() - started
    stats = backend.stats() if isinstance(backend, FastMemStateBackend) else {}
    return {"samples": samples, "seconds": seconds, "stats": stats}


APP_BATCH = 1_000  # tasks submitted, then awaited, at a time: what a busy producer keeps in flight


def app_run(backend_name: str, tasks: int, max_finished: int) -> dict[str, object]:
    """The app workload, as ``raw_run`` reports it, plus how many invocations the orchestrator counts."""
    builder = PynencBuilder().memory().thread_runner(min_threads=4, max_threads=16)
    builder = builder.runner_tuning(
        runner_loop_sleep_time_sec=0.001, invocation_wait_results_sleep_time_sec=0.001
    )
    builder = builder.logging_level("error").app_id(new_app().app_id)
    if backend_name == "fastmem":
        builder = builder.fast_memory(max_finished_invocations=max_finished or None)
    app = builder.build()
    task = app.task(_double)
    warnings.filterwarnings("ignore", "Running in a secondary thread", UserWarning)
    runner = threading.Thread(target=app.runner.run, daemon=True)
    runner.start()
    samples = [[0, resident_bytes(), 0.0]]
    started = time.perf_counter()
    try:
        for first in range(0, tasks, APP_BATCH):
            batch = [task(x) for x in range(first, min(first + APP_BATCH, tasks))]
            for invocation in batch:
                invocation.result  # noqa: B018 - waits for it
            samples.append([first + len(batch), resident_bytes(), time.perf_counter() - started])
    finally:
        app.runner.stop_runner_loop()
        runner.join(timeout=10)
    seconds = samples[-1][2]
    backend = app.state_backend
    stats = {}
    if isinstance(backend, FastMemStateBackend):
        # The last second's tasks are within the eviction grace: evict them as later writes would.
        time.sleep(backend.conf.eviction_grace_seconds)
        while backend.evict(1000):
            pass
        stats = backend.stats()
    tracked = app.orchestrator.count_invocations()  # through the public API: no component's internals
    return {"samples": samples, "seconds": seconds, "stats": stats, "orchestrator_invocations": tracked}


if __name__ == "__main__":
    workload = {"raw": raw_run, "app": app_run}[sys.argv[1]]
    result = workload(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    print(json.dumps(result))
