"""Throughput against writer threads, beside references that show what the machine allows.

Each writer thread writes invocations of its own. Two levels:

- the **store**: an upsert, four history records stamped with the clock (the last
  final), a result, a read, with ids and rows made before the clock starts;
- the **adapter**: what a pynenc runner sends a state backend for an invocation, with
  the pynenc objects made by the writer as pynenc makes them: an ``(InvocationDTO,
  CallDTO)`` upsert, two ``InvocationHistory`` records, a result, through
  ``_upsert_invocations``, ``_add_histories`` and ``_set_result``. MemStateBackend runs
  it beside FastMemStateBackend.

The references, which run the store-level writer's loop:

- ``ref-striped-dicts``: the store's data in 16 plain dicts chosen by the id's hash, no
  lock: the shape that lets writers scale on free-threaded Python, and so the bar for
  the store's scaling;
- ``ref-cpu-loop``: the same calls doing arithmetic on no shared data at all: what two
  threads of pure Python reach on this machine;
- ``ref-shared-dict``: every writer writing one set of dicts, MemStateBackend's shape,
  kept as **what not to do**: on free-threaded Python every write locks the dict, so it
  cannot scale and is no reference for scaling.

This machine's speed drifts by up to 2x within seconds, so configurations measured
apart do not compare. Each round therefore runs, back to back, one writer, the
configuration's writers, and with a reader the same writers again beside it; the one
writer writes as many invocations as the writers together, so both runs do the same
work and end with a store of the same size (a store twice the size costs the compiled
store's dict lookups more cache misses: 1.2x the CPU per invocation under the GIL). The
figures are medians over the rounds of their ratios:

- ``scaling``: writes per second against the one-writer run of the round;
- ``cpu_per_invocation``: the writers' CPU time per invocation against that run's, which
  is what contention costs whether or not a core was free to run a thread;
- ``reader_kept``: with a reader, the writers' rate against the same writers without it.

The reader reads the last millisecond of history, as a monitor does: in a loop that never
pauses (with two writers, three busy threads on this 2-core machine, so the writers can keep
no more than about 2/3 of their rate), or once a millisecond, a monitor polling hard. The
garbage of one run is collected before the next starts. After each run, every
invocation's records are counted: ``lost_invocations`` must be 0 for our stores.
``FASTMEM_BENCH_SCALING_INVOCATIONS`` sets invocations per writer (the adapter writes a
quarter as many: runs of about 50 ms or more, as shorter ones drift too much),
``FASTMEM_BENCH_SCALING_ROUNDS`` the rounds.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pynenc.identifiers.call_id import CallId
from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord
from pynenc.models.call_dto import CallDTO
from pynenc.models.invocation_dto import InvocationDTO
from pynenc.state_backend.base_state_backend import InvocationHistory

from pynenc_fastmem import _store_py

from .conftest import TASK, make_backend, ratio_info

PER_WRITER = int(os.environ.get("FASTMEM_BENCH_SCALING_INVOCATIONS", 20_000))
ROUNDS = int(os.environ.get("FASTMEM_BENCH_SCALING_ROUNDS", 11))
STATUSES = ("registered", "pending", "running", "success")
STRIPES = 16


class SharedDictStore:
    """The store interface the benchmark uses, on one set of plain dicts as MemStateBackend keeps them."""

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

    def get_history(self, invocation_id: str) -> list[Any]:
        return [record for _, record in self.histories.get(invocation_id, ())]

    def history_in_range(self, start: int, end: int, batch_size: int = 100) -> list[list[Any]]:
        histories = list(self.histories.values())
        found = [(at, record) for history in histories for at, record in history if start <= at <= end]
        return [[record for _, record in sorted(found)]]


class StripedDictStore:
    """The same, in ``STRIPES`` sets of dicts chosen by the id's hash, with no lock at all."""

    def __init__(self) -> None:
        self.stripes = [SharedDictStore() for _ in range(STRIPES)]

    def _stripe(self, invocation_id: str) -> SharedDictStore:
        return self.stripes[hash(invocation_id) % STRIPES]

    def upsert_invocations(self, rows: list[tuple[Any, ...]]) -> None:
        for row in rows:
            self._stripe(row[0]).invocations[row[0]] = row

    def add_histories(self, ids: list[str], timestamp: int, record: Any, final: bool = False) -> None:
        for invocation_id in ids:
            self._stripe(invocation_id).histories.setdefault(invocation_id, []).append((timestamp, record))

    def set_result(self, invocation_id: str, value: Any) -> None:
        self._stripe(invocation_id).results[invocation_id] = value

    def get_invocation(self, invocation_id: str) -> Any:
        return self._stripe(invocation_id).get_invocation(invocation_id)

    def get_history(self, invocation_id: str) -> list[Any]:
        return self._stripe(invocation_id).get_history(invocation_id)

    def history_in_range(self, start: int, end: int, batch_size: int = 100) -> list[list[Any]]:
        found = [
            record
            for stripe in self.stripes
            for batch in stripe.history_in_range(start, end)
            for record in batch
        ]
        return [found]


class CpuLoop:
    """The store interface doing a little arithmetic per call and keeping nothing."""

    @staticmethod
    def _work(*arguments: Any) -> int:
        total = 0
        for number in range(40):
            total += number * number
        return total

    upsert_invocations = set_result = get_invocation = _work

    add_histories = _work

    def get_history(self, invocation_id: str) -> list[Any]:
        return list(STATUSES)

    def history_in_range(self, start: int, end: int, batch_size: int = 100) -> list[list[Any]]:
        return []


def compiled_store() -> Any:
    """The compiled store; fails the benchmark if it is not built."""
    try:
        from pynenc_fastmem import _store_c
    except ImportError as error:
        pytest.fail(f"the compiled store is not built: {error}")
    return _store_c.Store()


def _write_store(store: Any, writer: int, count: int) -> Iterator[None]:
    ids = [f"w{writer}-{number}" for number in range(count)]
    rows = [(invocation_id, ("dto", invocation_id), None, None, None, None) for invocation_id in ids]
    upsert, add, set_result, get = (
        store.upsert_invocations,
        store.add_histories,
        store.set_result,
        store.get_invocation,
    )
    yield  # the clock starts here
    for invocation_id, row in zip(ids, rows, strict=True):
        upsert([row])
        for step, status in enumerate(STATUSES):
            add([invocation_id], time.time_ns() // 1000, status, step == 3)
        set_result(invocation_id, "result")
        get(invocation_id)


def _read_store(store: Any) -> None:
    now = time.time_ns() // 1000
    for _ in store.history_in_range(now - 1000, now):
        pass


def _store_records(store: Any, invocation_id: str) -> int:
    return len(store.get_history(invocation_id))


def _write_adapter(backend: Any, writer: int, count: int) -> Iterator[None]:
    upsert, add, set_result = backend._upsert_invocations, backend._add_histories, backend._set_result
    registered, success = InvocationStatus.REGISTERED, InvocationStatus.SUCCESS
    yield
    for number in range(count):
        invocation_id = f"w{writer}-{number}"
        call_id = CallId(task_id=TASK, args_id=f"args-{writer}-{number}")
        upsert(
            [
                (
                    InvocationDTO(
                        invocation_id=invocation_id, call_id=call_id, workflow=None, parent_invocation_id=None
                    ),
                    CallDTO(call_id=call_id, serialized_arguments={"x": str(number)}),
                )
            ]
        )
        for status in (registered, success):
            record = InvocationStatusRecord(status=status)
            add([invocation_id], InvocationHistory(invocation_id, record, runner_context_id="bench-runner"))
        set_result(invocation_id, "result")


def _read_adapter(backend: Any) -> None:
    now = datetime.now(UTC)
    for _ in backend.iter_history_in_timerange(now - timedelta(milliseconds=1), now):
        pass


def _adapter_records(backend: Any, invocation_id: str) -> int:
    return len(backend._get_history(invocation_id))


class Workload:
    """What one benchmark's threads run: a target to write, its writer, reader and record count."""

    def __init__(
        self,
        make: Callable[[], Any],
        write: Callable[[Any, int, int], Iterator[None]],
        read: Callable[[Any], None],
        records: Callable[[Any, str], int],
        records_per_invocation: int,
        per_writer: int,
    ) -> None:
        self.make, self.write, self.read, self.records = make, write, read, records
        self.records_per_invocation, self.per_writer = records_per_invocation, per_writer


def _store_workload(make: Callable[[], Any]) -> Workload:
    return Workload(make, _write_store, _read_store, _store_records, 4, PER_WRITER)


def _adapter_workload(backend: str) -> Workload:
    return Workload(
        lambda: make_backend(backend), _write_adapter, _read_adapter, _adapter_records, 2, PER_WRITER // 4
    )


WORKLOADS: dict[str, Workload] = {
    "fastmem": _store_workload(compiled_store),
    "fastmem-python": _store_workload(_store_py.Store),
    "ref-striped-dicts": _store_workload(StripedDictStore),
    "ref-cpu-loop": _store_workload(CpuLoop),
    "ref-shared-dict (what not to do)": _store_workload(SharedDictStore),
    "adapter: mem": _adapter_workload("mem"),
    "adapter: fastmem": _adapter_workload("fastmem"),
    "adapter: fastmem-python": _adapter_workload("fastmem-python"),
}


def run(
    workload: Workload, writers: int, reader: float | None, per_writer: int = 0
) -> tuple[float, float, int, int]:
    """One run: (invocations per second, writers' CPU ns per invocation, reader errors, lost invocations).

    Each writer writes ``per_writer`` invocations, the workload's number if 0. With
    ``reader`` a number of seconds, a reader runs beside them, pausing that long between reads.
    """
    per_writer = per_writer or workload.per_writer
    gc.collect()  # the garbage of earlier runs is not this run's to collect
    target = workload.make()
    start = threading.Barrier(writers)
    spent: list[tuple[float, float]] = []
    errors: list[str] = []
    done = threading.Event()

    def write(writer: int) -> None:
        steps = workload.write(target, writer, per_writer)
        next(steps)  # ids and rows made
        start.wait()
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in steps:
            pass
        spent.append((time.perf_counter() - wall, time.thread_time() - cpu))

    def read() -> None:
        while not done.is_set():
            try:
                workload.read(target)
            except Exception as error:  # noqa: BLE001 - counted: the plain dict stores raise here
                errors.append(type(error).__name__)
            if reader:
                time.sleep(reader)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    watcher = threading.Thread(target=read)
    if reader is not None:
        watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    if reader is not None:
        watcher.join()
    invocations = writers * per_writer
    lost = sum(
        workload.records(target, f"w{w}-{n}") != workload.records_per_invocation
        for w in range(writers)
        for n in range(per_writer)
    )
    wall = max(seconds for seconds, _ in spent)
    cpu = sum(seconds for _, seconds in spent)
    return invocations / wall, cpu / invocations * 1e9, len(errors), lost


@pytest.mark.parametrize(
    "reader", [None, 0.0, 0.001], ids=["writers only", "with a range reader", "with a reader every 1 ms"]
)
@pytest.mark.parametrize("writers", [1, 2, 4])
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_writer_threads(benchmark: Any, name: str, writers: int, reader: float | None) -> None:
    if name == "ref-cpu-loop" and reader is not None:
        pytest.skip("the CPU loop keeps nothing to read")
    workload = WORKLOADS[name]
    level = "adapter" if name.startswith("adapter") else "store"
    benchmark.group = f"scaling ({level}): {writers} writer thread{'s' * (writers > 1)}" + (
        "" if reader is None else ", 1 range reader" + (f" every {reader * 1000:g} ms" if reader else "")
    )
    rounds: list[dict[str, float]] = []

    def paired_round() -> None:
        alone = run(workload, 1, None, per_writer=writers * workload.per_writer)
        measured = run(workload, writers, None)
        figures = {
            "rate": measured[0],
            "cpu_ns": measured[1],
            "scaling": measured[0] / alone[0],
            "cpu": measured[1] / alone[1],
            "errors": 0,
            "lost": alone[3] + measured[3],
        }
        if reader is not None:
            beside = run(workload, writers, reader)
            figures.update(
                rate=beside[0],
                cpu_ns=beside[1],
                scaling=beside[0] / alone[0],
                cpu=beside[1] / alone[1],
                kept=beside[0] / measured[0],
                errors=beside[2],
                lost=figures["lost"] + beside[3],
            )
        rounds.append(figures)

    run(workload, 1, None)  # warm-up: first allocations, specialisation
    benchmark.pedantic(paired_round, rounds=ROUNDS)
    extra: dict[str, Any] = {}
    if reader is not None:
        extra["reader_kept"] = statistics.median(r["kept"] for r in rounds)
    ratio_info(
        benchmark,
        name,
        level=level,
        writers=writers,
        reader=reader is not None,
        reader_pause_ms=None if reader is None else reader * 1000,
        invocations_per_second=statistics.median(r["rate"] for r in rounds),
        cpu_ns_per_invocation=statistics.median(r["cpu_ns"] for r in rounds),
        scaling=statistics.median(r["scaling"] for r in rounds),
        scaling_quartiles=statistics.quantiles([r["scaling"] for r in rounds], n=4)[::2],
        cpu_per_invocation=statistics.median(r["cpu"] for r in rounds),
        reader_errors=sum(r["errors"] for r in rounds),
        lost_invocations=sum(r["lost"] for r in rounds),
        gil_enabled=getattr(sys, "_is_gil_enabled", lambda: True)(),
        **extra,
    )
    if "fastmem" in name:
        assert benchmark.extra_info["reader_errors"] == 0
        assert benchmark.extra_info["lost_invocations"] == 0
