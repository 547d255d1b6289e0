"""A real pynenc app on FastMemStateBackend: ``python -m pynenc_fastmem demo``.

Runs a few thousand tasks and a small workflow on a ThreadRunner, shows progress,
then prints what the store holds, one invocation's history and a time-range query.
"""

from __future__ import annotations

import threading
import time
import warnings
from datetime import UTC, datetime, timedelta

from pynenc import PynencBuilder

from ._store import IMPLEMENTATION
from .progress import show_progress
from .state_backend import FastMemStateBackend

app = (
    PynencBuilder()
    .fast_memory()
    .thread_runner(min_threads=4, max_threads=16)
    .runner_tuning(runner_loop_sleep_time_sec=0.001, invocation_wait_results_sleep_time_sec=0.001)
    .logging_level("error")
    .app_id("pynenc-fastmem-demo")
    .build()
)


@app.task  # type: ignore[untyped-decorator]  # pynenc's overloads leave the decorator untyped
def square(x: int) -> int:
    """Return ``x`` squared."""
    return x * x


@app.workflow  # type: ignore[untyped-decorator]
def sum_of_squares(n: int) -> int:
    """A small workflow: square ``0 .. n-1`` in sub-tasks and add the results."""
    invocations = [square(i) for i in range(n)]
    return sum(invocation.result for invocation in invocations)


def run(tasks: int = 3000) -> None:
    """Run the demo with ``tasks`` independent tasks and print what the store holds."""
    backend = app.state_backend
    assert isinstance(backend, FastMemStateBackend)
    print(f"pynenc-fastmem demo: {type(backend).__name__} on the {IMPLEMENTATION} store")
    # The runner warns that a secondary thread cannot install signal handlers; expected here.
    warnings.filterwarnings("ignore", "Running in a secondary thread", UserWarning)
    runner = threading.Thread(target=app.runner.run, daemon=True)
    runner.start()
    began = datetime.now(UTC)
    try:
        print(f"Running {tasks} tasks on a ThreadRunner:")
        started = time.perf_counter()
        invocations = [square(i) for i in range(tasks)]
        for done, invocation in enumerate(invocations, start=1):
            assert invocation.result == invocation.call.arguments.kwargs["x"] ** 2
            if done % 100 == 0 or done == tasks:
                show_progress("  tasks", done, tasks, started)
        workflow = sum_of_squares(20)
        print(f"Workflow sum_of_squares(20) = {workflow.result} (expected {sum(i * i for i in range(20))})")
    finally:
        app.runner.stop_runner_loop()
        runner.join(timeout=5)

    store = backend._store
    print("\nWhat the store holds:")
    ended = datetime.now(UTC)
    histories = [h for batch in backend.iter_history_in_timerange(began, ended) for h in batch]
    invocation_ids = [i for batch in backend.iter_invocations_in_timerange(began, ended) for i in batch]
    print(f"  invocations:              {len(invocation_ids)}")
    print(f"  invocations in workflows: {len(list(backend.get_invocation_ids_by_workflow()))}")
    print(f"  history records:          {len(histories)}")
    print(f"  workflow types:           {[t.key for t in backend.get_all_workflow_types()]}")
    print(f"  workflow sub-invocations: {len(store.sub_invocation_ids(workflow.invocation_id))}")
    print(f"  runner contexts:          {len(list(backend.get_matching_runner_contexts('')))}")

    first = invocations[0]
    print(f"\nHistory of {first.invocation_id} (square(0)):")
    for record in backend.get_history(first.invocation_id):
        print(f"  {record.timestamp.isoformat()}  {record.status_record.status.value}")

    middle = histories[len(histories) // 2].timestamp
    window = (middle, middle + timedelta(milliseconds=5))
    in_window = [inv_id for batch in backend.iter_invocations_in_timerange(*window) for inv_id in batch]
    print(f"\nInvocations with history in the 5 ms from {middle.time()}: {len(in_window)}")
    print(f"  first few: {in_window[:3]}")
