"""A real pynenc app on FastMemStateBackend: ``python -m pynenc_fastmem demo``.

Runs tasks and a small workflow on a ThreadRunner, prints what the store holds,
then times the queries a monitor makes (a time range over the run, a workflow's
invocations, an invocation's history) on FastMemStateBackend and on a
MemStateBackend loaded with the same records, side by side. With ``monitor``,
it then serves pynenc's monitor for the app until interrupted.
"""

from __future__ import annotations

import sys
import threading
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from pynenc import PynencBuilder
from pynenc.state_backend import MemStateBackend

from ._store import IMPLEMENTATION
from .progress import Progress
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

DEFAULT_TASKS = 3000


@app.task  # type: ignore[untyped-decorator]  # pynenc's overloads leave the decorator untyped
def square(x: int) -> int:
    """Return ``x`` squared."""
    return x * x


@app.workflow  # type: ignore[untyped-decorator]
def sum_of_squares(n: int) -> int:
    """A small workflow: square ``0 .. n-1`` in sub-tasks and add the results."""
    invocations = [square(i) for i in range(n)]
    return sum(invocation.result for invocation in invocations)


def run(
    tasks: int = DEFAULT_TASKS,
    monitor: bool = False,
    port: int = 0,
    out: TextIO | None = None,
    progress: bool | None = None,
) -> None:
    """Run ``tasks`` tasks and a workflow, print what the store holds and the query timings.

    :param monitor: then serve pynenc's monitor for the app until Ctrl-C
    :param port: the monitor's port; 0 picks a free one
    :param progress: draw a progress bar; by default only when ``out`` is a terminal
    """
    out = sys.stdout if out is None else out
    backend = app.state_backend
    assert isinstance(backend, FastMemStateBackend)
    print(f"pynenc-fastmem demo: {type(backend).__name__} on the {IMPLEMENTATION} store", file=out)
    # The runner warns that a secondary thread cannot install signal handlers; expected here.
    warnings.filterwarnings("ignore", "Running in a secondary thread", UserWarning)
    runner = threading.Thread(target=app.runner.run, daemon=True)
    runner.start()
    began = datetime.now(UTC)
    try:
        started = time.perf_counter()
        bar = Progress("  tasks", tasks, out, progress)
        invocations = [square(i) for i in range(tasks)]
        for done, invocation in enumerate(invocations, start=1):
            assert invocation.result == invocation.call.arguments.kwargs["x"] ** 2
            bar.update(done)
        elapsed = time.perf_counter() - started
        print(
            f"Ran {tasks:,} tasks on a ThreadRunner in {elapsed:.2f} s ({tasks / elapsed:,.0f} tasks/s)",
            file=out,
        )
        workflow = sum_of_squares(20)
        expected = sum(i * i for i in range(20))
        print(f"Workflow sum_of_squares(20) = {workflow.result} (expected {expected})", file=out)
        ended = datetime.now(UTC)
        _show_store(backend, workflow.invocation_id, out)
        _compare_queries(backend, began, ended, workflow, invocations[0].invocation_id, out)
        if monitor:
            _serve_until_interrupted(port, out)
    finally:
        app.runner.stop_runner_loop()
        runner.join(timeout=5)


def _show_store(backend: FastMemStateBackend[Any, Any], workflow_id: str, out: TextIO) -> None:
    stats = backend.stats()
    print("\nWhat the store holds:", file=out)
    print(f"  invocations:              {stats['invocations']:,}", file=out)
    print(f"  history records:          {stats['history_records']:,}", file=out)
    print(f"  results:                  {stats['results']:,}", file=out)
    print(f"  workflow sub-invocations: {len(backend._store.sub_invocation_ids(workflow_id))}", file=out)
    print(f"  estimated bytes:          {stats['bytes']:,}", file=out)


def _compare_queries(
    backend: FastMemStateBackend[Any, Any],
    began: datetime,
    ended: datetime,
    workflow: Any,
    first_id: str,
    out: TextIO,
) -> None:
    """Time the monitor's queries here and on a MemStateBackend loaded with the same records."""
    reference: MemStateBackend[Any, Any] = MemStateBackend(app)
    backend.export_to(reference, progress=False)
    queries: dict[str, Callable[[Any], object]] = {
        "every history record of the run (time range)": lambda b: [
            h for batch in b.iter_history_in_timerange(began, ended) for h in batch
        ],
        "the invocations of one workflow": lambda b: list(
            b.get_invocation_ids_by_workflow(workflow_id=workflow.workflow.workflow_id)
        ),
        "one invocation's history": lambda b: b.get_history(first_id),
    }
    print("\nThe same queries (MemStateBackend loaded with the same records), time per call:", file=out)
    print(f"  {'query':<46} {'FastMem':>10} {'Mem':>10}  FastMem is", file=out)
    for name, query in queries.items():
        assert _answer(query(backend)) == _answer(query(reference)), name
        fast, mem = _time_per_call(query, backend), _time_per_call(query, reference)
        print(f"  {name:<46} {_duration(fast):>10} {_duration(mem):>10}  {mem / fast:,.1f}x faster", file=out)
    records = backend.stats()["history_records"]
    print(
        f"\nThe gap grows with the store: MemStateBackend scans all {records:,} records for a time range\n"
        "and every invocation for a workflow, FastMemStateBackend reads only the answer. With\n"
        "1,000,000 records stored, a time range is about 3,000x faster (docs/performance.md).",
        file=out,
    )


def _answer(value: object) -> object:
    """A query's answer in a form both backends give alike (ids as sorted strings)."""
    if isinstance(value, list) and value and not isinstance(value[0], str):
        return sorted((str(item.invocation_id), item.timestamp) for item in value)
    return sorted(map(str, value)) if isinstance(value, list) else value


def _time_per_call(query: Callable[[Any], object], backend: Any) -> float:
    """Seconds per call of ``query``: the best of 5 rounds, each long enough for the clock to resolve."""
    calls = 1
    while True:  # as timeit does: double the calls until a round takes 20 ms
        started = time.perf_counter()
        for _ in range(calls):
            query(backend)
        if time.perf_counter() - started >= 0.02:
            break
        calls *= 2
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            query(backend)
        best = min(best, time.perf_counter() - started)
    return best / calls


def _duration(seconds: float) -> str:
    """``seconds`` in the unit that gives it three significant digits: ns, µs or ms."""
    for unit, scale in (("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _serve_until_interrupted(port: int, out: TextIO) -> None:
    from .monitor import serve_monitor

    handle = serve_monitor(app, port=port)
    print(
        f"\npynenc's monitor for this app: {handle.url}\n"
        f"(the store's figures: {handle.url_for('/fastmem')})\n"
        "Open the link: its token lets your browser in; purges and reruns are off.",
        file=out,
    )
    print("Press Ctrl-C to stop.", file=out, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nStopping.", file=out)
    finally:
        handle.stop()
