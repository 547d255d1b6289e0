"""A reader beside a running app: does listing, counting and filtering through the orchestrator fail?

Usage: ``python -m benchmarks.reader_probe {mem,fastmem} [TASKS]`` (from the repository root).
A ThreadRunner app (``mem``: MemStateBackend and MemOrchestrator; ``fastmem``: the FastMem
stack) runs TASKS tasks (3,000) while one thread lists, counts and filters through
``app.orchestrator`` the whole time. It prints, as JSON, how many reads were made, how many
raised and what, and how many of the tasks a final listing misses. Not a timed benchmark: on
free-threaded Python, MemOrchestrator's readers iterate sets other threads change.
"""

from __future__ import annotations

import collections
import json
import sys
import threading
import warnings

from pynenc import PynencBuilder
from pynenc.invocation.status import InvocationStatus

from benchmarks.conftest import new_app
from benchmarks.test_end_to_end import _double  # a task must live in an importable module


def probe(stack: str, tasks: int) -> dict[str, object]:
    """Run the app and the reader; return the counts."""
    builder = PynencBuilder().memory().thread_runner(min_threads=4, max_threads=16)
    builder = builder.runner_tuning(
        runner_loop_sleep_time_sec=0.001, invocation_wait_results_sleep_time_sec=0.001
    )
    builder = builder.logging_level("error").app_id(new_app().app_id)
    if stack == "fastmem":
        builder = builder.fast_memory()
    app = builder.build()
    task = app.task(_double)
    orchestrator = app.orchestrator
    errors: collections.Counter[str] = collections.Counter()
    reads = 0
    stop = threading.Event()

    def read() -> None:
        nonlocal reads
        calls = [
            lambda: list(orchestrator.get_task_invocation_ids(task.task_id)),
            lambda: orchestrator.get_invocation_ids_paginated(limit=50),
            lambda: orchestrator.get_invocation_ids_paginated(task.task_id, [InvocationStatus.SUCCESS], 50),
            lambda: orchestrator.count_invocations(),
            lambda: orchestrator.count_invocations(task.task_id, [InvocationStatus.RUNNING]),
            lambda: list(orchestrator.get_existing_invocations(task, None, [InvocationStatus.PENDING])),
        ]
        while not stop.is_set():
            for call in calls:
                reads += 1
                try:
                    call()
                except Exception as error:  # noqa: BLE001 - counted and reported
                    errors[f"{type(error).__name__}: {error}"] += 1

    warnings.filterwarnings("ignore", "Running in a secondary thread", UserWarning)
    runner = threading.Thread(target=app.runner.run, daemon=True)
    reader = threading.Thread(target=read)
    runner.start()
    reader.start()
    try:
        invocations = [task(x) for x in range(tasks)]
        assert [invocation.result for invocation in invocations] == [2 * x for x in range(tasks)]
    finally:
        stop.set()
        reader.join()
        app.runner.stop_runner_loop()
        runner.join(timeout=10)
    listed = set(orchestrator.get_task_invocation_ids(task.task_id))
    missing = sum(invocation.invocation_id not in listed for invocation in invocations)
    return {
        "stack": stack,
        "python": sys.version.split()[0]
        + ("t" if not getattr(sys, "_is_gil_enabled", lambda: True)() else ""),
        "tasks": tasks,
        "reads": reads,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "missing_from_final_listing": missing,
    }


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3_000)))
