"""Long-running checks, sized by environment variables (CI runs them for a few seconds).

- ``FASTMEM_SOAK_SECONDS`` (default 2): how long 8 threads mix reads and writes.
- ``FASTMEM_LEAK_OPERATIONS`` (default 40000): store calls, in four purged cycles,
  after which reference counts and traced memory are checked.
"""

import functools
import gc
import os
import sys
import time
import tracemalloc
from typing import Any

import pytest

from pynenc_fastmem._store_py import Store

from ..support import run_threads

SOAK_SECONDS = float(os.environ.get("FASTMEM_SOAK_SECONDS", 2))
LEAK_OPERATIONS = int(os.environ.get("FASTMEM_LEAK_OPERATIONS", 40_000))


def test_eight_threads_mixing_reads_and_writes(store: Store) -> None:
    threads, written = 8, [0] * 8
    deadline = time.monotonic() + SOAK_SECONDS

    def work(number: int) -> None:
        count = 0
        while time.monotonic() < deadline:
            inv_id = f"t{number}-{count}"
            store.upsert_invocations([(inv_id, count, f"p{count % 5}", None, f"w{number}", "T")])
            store.add_histories([inv_id], (count * 7919) % 997, ("a", inv_id))
            store.add_histories([inv_id], (count * 7919) % 997 - 1, ("b", inv_id))
            store.set_result(inv_id, count)
            if count % 3 == 0:
                store.upsert_invocations([(inv_id, -count, f"p{count % 5}", None, f"w{number}", "T")])
            store.child_ids(f"p{count % 5}")
            store.get_history(f"t{(number + 1) % threads}-{count // 2}")
            for batch in store.history_in_range(100, 200, batch_size=7):
                assert all(type(record) is tuple for record in batch)
            list(store.invocations_in_range(0, 50, batch_size=5))
            store.ids_by_workflow(workflow_type="T")
            count += 1
        written[number] = count

    assert run_threads(functools.partial(work, number) for number in range(threads)) == []
    assert all(written), written
    store._check()
    for number in range(threads):
        ids = [f"t{number}-{count}" for count in range(written[number])]
        assert store.ids_by_workflow(f"w{number}") == ids
        for count, inv_id in enumerate(ids):
            assert store.get_history(inv_id) == [("b", inv_id), ("a", inv_id)]
            assert store.get_result(inv_id) == count
            assert store.get_invocation(inv_id) == (-count if count % 3 == 0 else count)
    total = sum(written)
    assert sum(len(b) for b in store.history_in_range(-(2**63), 2**63 - 1)) == 2 * total


class Sentinel:
    """A stored object whose reference count the leak test watches."""


def _cycle(store: Store, values: list[Sentinel], operations: int) -> None:
    """``operations`` store calls storing, replacing and reading ``values``, then a purge."""
    size = len(values)
    done = 0
    while done < operations:
        for n in range(size):
            value = values[n]
            inv_id = f"i{n % 50}"
            store.upsert_invocations([(inv_id, value, f"p{n % 7}", f"e{n % 3}", f"w{n % 4}", f"T{n % 2}")])
            store.add_histories([inv_id, f"j{n % 11}"], (n * 31) % 101, value)
            store.set_result(inv_id, value)
            store.set_exception(inv_id, value)
            store.set_workflow_data(f"w{n % 4}", f"k{n % 5}", value)
            store.add_workflow_run(f"T{n % 2}", value, f"w{n % 4}", value)
            store.add_sub_invocation(f"w{n % 4}", inv_id)
            store.set_runner_context(f"r{n % 6}", value)
            store.get_invocation(inv_id)
            store.get_history(inv_id)
            # One lazy batch each, so the work per call stays flat as the histories grow.
            next(iter(store.history_in_range(10, 60, batch_size=9)), None)
            next(iter(store.invocations_in_range(10, 60, batch_size=9)), None)
            store.get_runner_contexts([f"r{n % 6}", "missing"])
            with pytest.raises(TypeError):
                store.upsert_invocations([(inv_id, value, None, None, None, None), (inv_id, value, 1)])
            with pytest.raises(TypeError):
                store.add_histories([inv_id, 7], 1, value)
            done += 16
    store.purge()


def test_reference_counts_and_memory_return_after_purge(store: Store) -> None:
    values = [Sentinel() for _ in range(97)]
    before = [sys.getrefcount(value) for value in values]
    cycles = 4
    per_cycle = max(LEAK_OPERATIONS // cycles, 1000)
    _cycle(store, values, per_cycle)  # warm-up: interned strings, allocator pools, caches
    gc.collect()
    assert [sys.getrefcount(value) for value in values] == before
    tracemalloc.start()
    try:
        _cycle(store, values, per_cycle)
        gc.collect()
        settled = tracemalloc.get_traced_memory()[0]
        for _ in range(cycles - 1):
            _cycle(store, values, per_cycle)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - settled
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(value) for value in values] == before
    assert grown < 64 * 1024, f"traced memory grew by {grown} bytes over {cycles - 1} purged cycles"
    store._check()


def test_a_store_that_is_dropped_releases_what_it_held(store_module: Any) -> None:
    values = [Sentinel() for _ in range(20)]
    before = [sys.getrefcount(value) for value in values]
    store = store_module.Store()
    _cycle(store, values, 2000)
    for n in range(len(values)):
        store.upsert_invocations([(f"keep{n}", values[n], None, None, None, None)])
        store.add_histories([f"keep{n}"], n, values[n])
    del store
    gc.collect()
    assert [sys.getrefcount(value) for value in values] == before
