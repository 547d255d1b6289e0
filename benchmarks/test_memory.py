"""Memory held per invocation: its DTOs, 6 history records and a result, at 100k invocations.

Traced with ``tracemalloc``: everything the backend keeps alive, records included, since a
process holds them only because the backend does. ``FASTMEM_BENCH_INVOCATIONS`` scales it down.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
from datetime import timedelta
from typing import Any

import pytest

from .conftest import DAY_START, STATUSES, history_record, invocation_pair, make_backend, ratio_info

INVOCATIONS = int(os.environ.get("FASTMEM_BENCH_INVOCATIONS", 100_000))


def _fill(backend: Any, count: int) -> None:
    for start in range(0, count, 100):
        pairs = [invocation_pair(i) for i in range(start, min(start + 100, count))]
        backend._upsert_invocations(pairs)
        for index, pair in enumerate(pairs, start):
            invocation_id = pair[0].invocation_id
            for step in range(6):
                at = DAY_START + timedelta(microseconds=index * 6 + step)
                backend._add_histories([invocation_id], history_record(invocation_id, at, STATUSES[step % 4]))
            backend._set_result(invocation_id, f'{{"value": {index}}}')


@pytest.mark.parametrize("name", ["mem", "fastmem", "fastmem-python", "rustvello"])
def test_memory_per_invocation(benchmark: Any, name: str) -> None:
    benchmark.group = f"memory per invocation ({INVOCATIONS:,} invocations, 6 records, a result)"
    make_backend(name)  # skips here, before tracing, if the backend cannot be built
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        backend = benchmark.pedantic(lambda: make_backend(name), rounds=1, iterations=1)
        _fill(backend, INVOCATIONS)
        list(backend.iter_history_in_timerange(DAY_START, DAY_START))  # settle any pending index work
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    ratio_info(benchmark, name, bytes_per_invocation=held / INVOCATIONS)
    assert backend.get_history(invocation_pair(INVOCATIONS - 1)[0].invocation_id)
