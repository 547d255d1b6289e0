"""The ratios the CI gate watches: ``make bench-quick`` runs these and compares them with
``benchmarks/baseline.json`` (``benchmarks/gate.py``), failing on any ratio 25% worse.

Each figure is FastMemStateBackend's time over MemStateBackend's for the same work, so
below 1 is better everywhere. The two are measured in pairs, round by round (ours, then
MemStateBackend's, alternately), and the figure is the median of the rounds' ratios:
a runner slower or faster than the one that made the baseline moves both alike, and so
does this machine's drift within a run.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from .conftest import DAY_START, STATUSES, history_record, invocation_pair, make_backend, ratio_info
from .test_end_to_end import run_tasks
from .test_replay import trace_path
from .traces.recording import SHAPES, Trace, replay

ROUNDS = 5


def paired(benchmark: Any, name: str, ours: Callable[[], float], theirs: Callable[[], float]) -> None:
    """Record the median of ``ours() / theirs()`` over paired rounds; each returns seconds spent."""
    ratios: list[float] = []
    benchmark.group = f"gate: {name}"
    benchmark.pedantic(lambda: ratios.append(ours() / theirs()), rounds=ROUNDS)
    ratio_info(benchmark, "fastmem", gate_ratio=statistics.median(ratios), gate_rounds=ratios)


def timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


@pytest.mark.parametrize("mode", ["fastmem", "fastmem-live"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_replay(benchmark: Any, shape: str, mode: str) -> None:
    def run(name: str) -> float:
        trace, backend = Trace.load(trace_path(shape)), make_backend(name)
        return replay(trace, backend).total

    paired(benchmark, f"replay {shape}, {mode}", lambda: run(mode), lambda: run("mem"))


POINTS = 2_000


def _with_invocations(name: str) -> tuple[Any, list[str]]:
    backend = make_backend(name)
    pairs = [invocation_pair(index) for index in range(POINTS)]
    backend._upsert_invocations(pairs)
    for inv_dto, _ in pairs:
        backend.set_result(inv_dto.invocation_id, 7)
    return backend, [inv_dto.invocation_id for inv_dto, _ in pairs]


@pytest.mark.parametrize("operation", ["get_invocation", "_get_invocation", "get_result", "set_result"])
def test_point_operation(benchmark: Any, operation: str) -> None:
    prepared = {name: _with_invocations(name) for name in ("fastmem", "mem")}

    def run(name: str) -> float:
        backend, ids = prepared[name]
        method = getattr(backend, operation)
        if operation == "set_result":
            return timed(lambda: [method(invocation_id, 7) for invocation_id in ids])
        return timed(lambda: [method(invocation_id) for invocation_id in ids])

    paired(benchmark, operation, lambda: run("fastmem"), lambda: run("mem"))


@pytest.mark.parametrize("batch", [1, 100])
def test_upsert_new_invocations(benchmark: Any, batch: int) -> None:
    """Fresh uuid4 ids, DTO pairs as pynenc makes them, in batches."""

    def run(name: str) -> float:
        backend = make_backend(name)
        pairs = [invocation_pair(index) for index in range(POINTS)]
        pairs = [
            (pair[0].__class__(**{**vars(pair[0]), "invocation_id": str(uuid.uuid4())}), pair[1])
            for pair in pairs
        ]
        batches = [pairs[start : start + batch] for start in range(0, len(pairs), batch)]
        return timed(lambda: [backend._upsert_invocations(chunk) for chunk in batches])

    paired(
        benchmark,
        f"_upsert_invocations of new ids, batch={batch}",
        lambda: run("fastmem"),
        lambda: run("mem"),
    )


def test_add_histories_to_growing_histories(benchmark: Any) -> None:
    """New record objects, monotonic timestamps, 200 invocations whose histories grow to 50."""

    def run(name: str) -> float:
        backend = make_backend(name)
        ids = [f"inv-{index:08d}" for index in range(200)]
        records = [
            history_record(ids[n % 200], DAY_START + timedelta(microseconds=n), STATUSES[n % 3])
            for n in range(10_000)
        ]
        add = backend._add_histories
        return timed(lambda: [add([record.invocation_id], record) for record in records])

    paired(benchmark, "_add_histories to growing histories", lambda: run("fastmem"), lambda: run("mem"))


def test_time_range(benchmark: Any) -> None:
    """1,000 records out of 100,000."""
    prepared = {}
    for name in ("fastmem", "mem"):
        backend = make_backend(name)
        for n in range(100_000):
            at = DAY_START + timedelta(microseconds=n)
            backend._add_histories(
                [f"inv-{n // 4:08d}"], history_record(f"inv-{n // 4:08d}", at, STATUSES[n % 4])
            )
        prepared[name] = backend

    def run(name: str) -> float:
        start = DAY_START + timedelta(microseconds=50_000)
        return timed(
            lambda: list(prepared[name].iter_history_in_timerange(start, start + timedelta(microseconds=999)))
        )

    paired(
        benchmark, "iter_history_in_timerange, 1,000 of 100,000", lambda: run("fastmem"), lambda: run("mem")
    )


@pytest.mark.parametrize("mode", ["fastmem", "fastmem-live"])
def test_end_to_end(benchmark: Any, mode: str) -> None:
    """500 tasks on a ThreadRunner, with pynenc's status cache off: the time to run them all.

    With the cache on (pynenc caches a non-final status for ``cached_status_time``, 0.1 s),
    the run takes one of two times: a thread waiting for a result that reads a status
    just before the task ends keeps reading it for 0.1 s. Which time a run takes is
    chance (500 tasks by default: 0.27 s or 0.38 s here), too coarse for a 25% gate;
    with the cache off each round takes what the runner and the backend take.
    """
    paired(
        benchmark,
        f"end to end, 500 tasks, {mode}",
        lambda: run_tasks(mode, 500, cached_status_time=0.0),
        lambda: run_tasks("mem", 500, cached_status_time=0.0),
    )
