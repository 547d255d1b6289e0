"""Store-level throughput against writer threads: does the lock-striped core scale across cores?

Each writer thread writes invocations of its own, shaped like pynenc's: an upsert, four
history records stamped with the clock (the last final), a result, a read. With a reader,
one more thread reads the last millisecond of history in a loop, as a monitor does.

This machine's speed drifts by up to 2x within seconds, so configurations measured
apart do not compare. Each round therefore runs the configuration and, next to it, the
same store with one writer and no reader, and takes their ratio; the figures are
medians over the rounds:

- ``scaling``: writes per second against the one-writer run next to it;
- ``cpu_per_invocation``: the writers' CPU time per invocation against that run's, which
  is what contention costs whether or not a core was free to run a thread.

``dict`` is a store of plain dicts shaped like MemStateBackend, with no lock at all (its
reader scans and sorts, and counts the errors it meets), to show what the interpreter
allows on this machine. ``FASTMEM_BENCH_SCALING_INVOCATIONS`` sets invocations per writer.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from pynenc_fastmem import _store_py

from .conftest import ratio_info

PER_WRITER = int(os.environ.get("FASTMEM_BENCH_SCALING_INVOCATIONS", 5_000))
ROUNDS = int(os.environ.get("FASTMEM_BENCH_SCALING_ROUNDS", 11))
STATUSES = ("registered", "pending", "running", "success")


class DictStore:
    """The store interface the benchmark uses, on plain dicts as MemStateBackend keeps them."""

    def __init__(self) -> None:
        self.invocations: dict[str, Any] = {}
        self.histories: dict[str, list[tuple[int, Any]]] = {}
        self.results: dict[str, Any] = {}

    def upsert_invocations(self, rows: list[tuple[Any, ...]]) -> None:
        for row in rows:
            self.invocations[row[0]] = row

    def add_histories(self, ids: list[str], timestamp: int, record: Any, final: bool = False) -> None:
        for invocation_id in ids:
            self.histories.setdefault(invocation_id, []).append((timestamp, record))

    def set_result(self, invocation_id: str, value: Any) -> None:
        self.results[invocation_id] = value

    def get_invocation(self, invocation_id: str) -> Any:
        row = self.invocations.get(invocation_id)
        return None if row is None else row[1]

    def history_in_range(self, start: int, end: int, batch_size: int = 100) -> list[list[Any]]:
        histories = list(self.histories.values())
        found = [(at, record) for history in histories for at, record in history if start <= at <= end]
        return [[record for _, record in sorted(found)]]


def compiled_store() -> Any:
    """The compiled store; fails the benchmark if it is not built."""
    try:
        from pynenc_fastmem import _store_c
    except ImportError as error:
        pytest.fail(f"the compiled store is not built: {error}")
    return _store_c.Store()


STORES: dict[str, Callable[[], Any]] = {
    "fastmem": compiled_store,
    "fastmem-python": _store_py.Store,
    "dict": DictStore,
}


def _write(store: Any, writer: int, start: threading.Barrier, spent: list[tuple[float, float]]) -> None:
    ids = [f"w{writer}-{number}" for number in range(PER_WRITER)]
    rows = [(invocation_id, ("dto", invocation_id), None, None, None, None) for invocation_id in ids]
    upsert, add, set_result, get = (
        store.upsert_invocations,
        store.add_histories,
        store.set_result,
        store.get_invocation,
    )
    start.wait()
    wall, cpu = time.perf_counter(), time.thread_time()
    for invocation_id, row in zip(ids, rows, strict=True):
        upsert([row])
        for step, status in enumerate(STATUSES):
            add([invocation_id], time.time_ns() // 1000, status, step == 3)
        set_result(invocation_id, "result")
        get(invocation_id)
    spent.append((time.perf_counter() - wall, time.thread_time() - cpu))


def _read(store: Any, done: threading.Event, errors: list[str]) -> None:
    while not done.is_set():
        now = time.time_ns() // 1000
        try:
            for _ in store.history_in_range(now - 1000, now):
                pass
        except Exception as error:  # noqa: BLE001 - counted: the plain dict store raises here
            errors.append(type(error).__name__)


def run(name: str, writers: int, reader: bool) -> tuple[float, float, int]:
    """One run: (invocations per second, writers' CPU ns per invocation, reader errors)."""
    store = STORES[name]()
    start = threading.Barrier(writers)
    spent: list[tuple[float, float]] = []
    errors: list[str] = []
    done = threading.Event()
    threads = [threading.Thread(target=_write, args=(store, w, start, spent)) for w in range(writers)]
    watcher = threading.Thread(target=_read, args=(store, done, errors))
    if reader:
        watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    if reader:
        watcher.join()
    invocations = writers * PER_WRITER
    wall = max(seconds for seconds, _ in spent)
    cpu = sum(seconds for _, seconds in spent)
    return invocations / wall, cpu / invocations * 1e9, len(errors)


@pytest.mark.parametrize("reader", [False, True], ids=["writers only", "with a range reader"])
@pytest.mark.parametrize("writers", [1, 2, 4])
@pytest.mark.parametrize("name", sorted(STORES))
def test_writer_threads(benchmark: Any, name: str, writers: int, reader: bool) -> None:
    benchmark.group = f"scaling: {writers} writer thread{'s' * (writers > 1)}" + (
        ", 1 range reader" if reader else ""
    )
    rounds: list[tuple[float, float, float, float, int]] = []

    def paired_round() -> None:
        alone = run(name, 1, False)
        measured = run(name, writers, reader)
        rounds.append((measured[0], measured[1], measured[0] / alone[0], measured[1] / alone[1], measured[2]))

    run(name, 1, False)  # warm-up: first allocations, specialisation
    benchmark.pedantic(paired_round, rounds=ROUNDS)
    ratio_info(
        benchmark,
        name,
        writers=writers,
        reader=reader,
        invocations_per_second=statistics.median(r[0] for r in rounds),
        cpu_ns_per_invocation=statistics.median(r[1] for r in rounds),
        scaling=statistics.median(r[2] for r in rounds),
        scaling_quartiles=statistics.quantiles([r[2] for r in rounds], n=4)[::2],
        cpu_per_invocation=statistics.median(r[3] for r in rounds),
        reader_errors=sum(r[4] for r in rounds),
        gil_enabled=getattr(sys, "_is_gil_enabled", lambda: True)(),
    )
