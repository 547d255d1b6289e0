"""Retention over a long run: resident memory with and without it, its cost, and eviction cost.

Two long runs, each backend in a process of its own (``retention_workload.py``), so their
memory figures start from the same place: raw backend writes
(``FASTMEM_RETENTION_INVOCATIONS``, default 1,000,000 invocations) and a real ThreadRunner
app (``FASTMEM_RETENTION_TASKS``, default 200,000 tasks), whose whole resident memory
retention must bound, pynenc's orchestrator included. ``benchmarks/plot_retention.py``
draws the resident memory over time from the results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pynenc_fastmem import _store_py

from .conftest import ratio_info

INVOCATIONS = int(os.environ.get("FASTMEM_RETENTION_INVOCATIONS", 1_000_000))
TASKS = int(os.environ.get("FASTMEM_RETENTION_TASKS", 200_000))
KEEP = 10_000
ROOT = Path(__file__).parents[1]  # where `python -m benchmarks.retention_workload` runs


def _long_run(workload: str, backend: str, count: int, max_finished: int) -> dict[str, Any]:
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.retention_workload",
            workload,
            backend,
            str(count),
            str(max_finished),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("name", "max_finished"), [("mem", 0), ("fastmem", 0), ("fastmem-retention", KEEP)])
def test_long_run_resident_memory(benchmark: Any, name: str, max_finished: int) -> None:
    benchmark.group = f"long run: {INVOCATIONS:,} invocations, 6 records each (retention keeps {KEEP:,})"
    backend = "mem" if name == "mem" else "fastmem"

    arguments = ("raw", backend, INVOCATIONS, max_finished)
    result = benchmark.pedantic(_long_run, args=arguments, rounds=1, iterations=1)
    samples = result["samples"]
    ratio_info(
        benchmark,
        name,
        samples=samples,
        invocations_per_second=INVOCATIONS / result["seconds"],
        final_rss_mib=samples[-1][1] / 2**20,
        stats=result["stats"],
    )
    if max_finished:
        assert result["stats"]["invocations"] == KEEP
        assert result["stats"]["evictions"] == INVOCATIONS - KEEP


@pytest.mark.parametrize(("name", "max_finished"), [("mem", 0), ("fastmem", 0), ("fastmem-retention", KEEP)])
def test_app_long_run_resident_memory(benchmark: Any, name: str, max_finished: int) -> None:
    """The issue's target: RSS at the end within 10% of RSS after the first tenth, throughput within 10%."""
    benchmark.group = f"app long run: {TASKS:,} ThreadRunner tasks (retention keeps {KEEP:,})"
    backend = "mem" if name == "mem" else "fastmem"
    result = benchmark.pedantic(_long_run, args=("app", backend, TASKS, max_finished), rounds=1, iterations=1)
    samples = result["samples"]
    tenth = min(samples, key=lambda sample: abs(sample[0] - TASKS // 10))
    ratio_info(
        benchmark,
        name,
        samples=samples,
        invocations_per_second=TASKS / result["seconds"],
        final_rss_mib=samples[-1][1] / 2**20,
        rss_after_first_tenth_mib=tenth[1] / 2**20,
        orchestrator_invocations=result["orchestrator_invocations"],
        stats=result["stats"],
    )
    if max_finished:
        assert result["stats"]["invocations"] <= KEEP
        assert result["orchestrator_invocations"] <= KEEP


BACKEND_OF = {"cython": "fastmem", "python": "fastmem-python"}


def _store_cls(implementation: str) -> Any:
    if implementation == "cython":
        return pytest.importorskip("pynenc_fastmem._store_c").Store
    return _store_py.Store


@pytest.mark.parametrize("implementation", ["cython", "python"])
@pytest.mark.parametrize("invocations", [10_000, 100_000, 1_000_000])
def test_eviction_cost_per_invocation(benchmark: Any, implementation: str, invocations: int) -> None:
    """Evicting 1,000 invocations (6 records each) from stores of growing size."""
    store_cls = _store_cls(implementation)
    benchmark.group = f"evict 1,000 of {invocations:,} finished invocations (6 records each)"
    now = [0]
    store = store_cls(retention=1, clock=lambda: now[0])
    record = object()
    for index in range(invocations):
        inv_id = f"inv-{index:08d}"
        store.upsert_invocations([(inv_id, record, None, None, inv_id, "T")])
        for step in range(6):
            store.add_histories([inv_id], index * 6 + step, record, step == 5)
    now[0] = invocations * 6 + 10
    evicted = benchmark.pedantic(store.evict, args=(1000,), rounds=5, iterations=1)
    assert evicted == 1000
    ratio_info(benchmark, BACKEND_OF[implementation])


@pytest.mark.parametrize("implementation", ["cython", "python"])
@pytest.mark.parametrize("invocations", [10_000, 1_000_000])
def test_stats_cost(benchmark: Any, implementation: str, invocations: int) -> None:
    """``stats()`` on stores of growing size: its cost must not follow the size."""
    store_cls = _store_cls(implementation)
    benchmark.group = f"stats() of a store of {invocations:,} invocations"
    store = store_cls()
    record = object()
    for index in range(invocations):
        inv_id = f"inv-{index:08d}"
        store.upsert_invocations([(inv_id, record, None, None, None, None)])
        store.add_histories([inv_id], index, record, True)
    benchmark(store.stats)
    ratio_info(benchmark, BACKEND_OF[implementation])
