"""Both time-range queries against store size: a 0.1%-of-a-day window at 10k, 100k, 1M records.

``FASTMEM_BENCH_MAX_RECORDS`` caps the sizes (CI uses a small cap).
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cache
from typing import Any

import pytest
from pynenc.state_backend.base_state_backend import BaseStateBackend

from .conftest import BACKENDS, DAY_START, day_of_records, fill_histories, make_backend, ratio_info

MAX_RECORDS = int(os.environ.get("FASTMEM_BENCH_MAX_RECORDS", 1_000_000))
SIZES = [size for size in (10_000, 100_000, 1_000_000) if size <= MAX_RECORDS]
WINDOW_START = DAY_START + timedelta(hours=12)
WINDOW_END = WINDOW_START + timedelta(days=1) * 0.001
SQLITE_MAX_RECORDS = 100_000


@cache
def _records(size: int) -> list[Any]:
    return day_of_records(size)


_filled: dict[tuple[str, int], BaseStateBackend] = {}


def filled(name: str, size: int) -> BaseStateBackend:
    """A backend holding ``size`` records, built once per session and shared by both queries."""
    if name == "sqlite" and size > SQLITE_MAX_RECORDS:
        pytest.skip(f"filling SQLite with {size:,} records one by one takes too long for a run")
    if (name, size) not in _filled:
        for key in [key for key in _filled if key[1] != size]:
            del _filled[key]
        backend = make_backend(name)
        fill_histories(backend, _records(size))
        _filled[(name, size)] = backend
    return _filled[(name, size)]


def _slow(name: str, size: int) -> bool:
    return name in ("mem", "sqlite") and size >= 100_000


# Each query and the number of answers it gives for a window holding 0.1% of the records.
QUERIES = {
    "iter_history_in_timerange": 0.001,
    "iter_invocations_in_timerange": 0.001 / 4,
}


@pytest.mark.parametrize("query", sorted(QUERIES))
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", BACKENDS)
def test_timerange(benchmark: Any, name: str, size: int, query: str) -> None:
    benchmark.group = f"{query} ({size:,} records)"
    ratio_info(benchmark, name, records=size)
    iterate = getattr(filled(name, size), query)

    def run() -> int:
        return sum(len(batch) for batch in iterate(WINDOW_START, WINDOW_END))

    found = benchmark.pedantic(run, rounds=3) if _slow(name, size) else benchmark(run)
    assert found == pytest.approx(size * QUERIES[query], abs=2)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", ["mem", "fastmem", "fastmem-python"])
def test_history_in_timerange_fixed_answer(benchmark: Any, name: str, size: int) -> None:
    """A window holding 100 records at every size: the cost should barely grow with the store."""
    benchmark.group = f"iter_history_in_timerange, 100 records answered ({size:,} stored)"
    ratio_info(benchmark, name, records=size)
    backend = filled(name, size)
    window_end = WINDOW_START + timedelta(days=1) * (100 / size)

    def query() -> int:
        return sum(len(batch) for batch in backend.iter_history_in_timerange(WINDOW_START, window_end))

    found = benchmark.pedantic(query, rounds=3) if _slow(name, size) else benchmark(query)
    assert found == pytest.approx(100, abs=2)
