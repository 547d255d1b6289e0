"""Orchestrator operations alone, on orchestrators holding ``INVOCATIONS`` invocations.

``mem`` is pynenc's MemOrchestrator, the reference; ``fastmem`` FastMemOrchestrator on the
compiled store, ``fastmem-python`` on the Python one. Each holds the same invocations of
two tasks, spread over four statuses, as a running app leaves them. Pages and counts are
what pynmon's list and home pages ask; registration, a status change and a status read are
what every task costs. ``FASTMEM_ORCHESTRATOR_INVOCATIONS`` sets the size (100,000).
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest
from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.invocation import DistributedInvocation, InvocationStatus
from pynenc.orchestrator import MemOrchestrator

from pynenc_fastmem import FastMemOrchestrator

from .conftest import FastMemPythonStoreOrchestrator, new_app, ratio_info

INVOCATIONS = int(os.environ.get("FASTMEM_ORCHESTRATOR_INVOCATIONS", 100_000))
ORCHESTRATORS = {
    "mem": MemOrchestrator,
    "fastmem": FastMemOrchestrator,
    "fastmem-python": FastMemPythonStoreOrchestrator,
}
FLOW = [InvocationStatus.PENDING, InvocationStatus.RUNNING, InvocationStatus.SUCCESS]
_filled: dict[str, Any] = {}
_fresh = itertools.count()


def _first(x: int) -> int:
    return x


def _second(x: int) -> int:
    return x


def _task_pair() -> tuple[Any, Any]:
    app = new_app()
    return app.task(_first), app.task(_second)


def _invocation(task: Any, index: int) -> DistributedInvocation:
    return DistributedInvocation.isolated(Call(task, Arguments({"x": index})))


def _filled_orchestrator(name: str) -> tuple[Any, list[Any], Any]:
    """An orchestrator of kind ``name`` holding ``INVOCATIONS`` invocations; made once per kind."""
    if name not in _filled:
        _filled.clear()  # one big orchestrator at a time
        tasks = _task_pair()
        orchestrator = ORCHESTRATORS[name](tasks[0].app)
        invocations = [_invocation(tasks[index % 2], index) for index in range(INVOCATIONS)]
        for first in range(0, INVOCATIONS, 1000):
            orchestrator._register_new_invocations(invocations[first : first + 1000])
        for index, invocation in enumerate(invocations):
            for status in FLOW[: index % 4]:
                orchestrator._atomic_status_transition(invocation.invocation_id, status, "runner")
        _filled[name] = (orchestrator, invocations, tasks)
    return _filled[name]


def _label(benchmark: Any, name: str, operation: str) -> None:
    benchmark.group = f"orchestrator: {operation}, {INVOCATIONS:,} invocations"
    ratio_info(benchmark, name, invocations=INVOCATIONS)


@pytest.mark.parametrize("name", list(ORCHESTRATORS))
def test_first_page(benchmark: Any, name: str) -> None:
    orchestrator, _, _ = _filled_orchestrator(name)
    _label(benchmark, name, "a page of 100, newest first")
    page = benchmark(orchestrator.get_invocation_ids_paginated, None, None, 100, 0)
    assert len(page) == 100


@pytest.mark.parametrize("name", list(ORCHESTRATORS))
def test_page_by_task_and_statuses(benchmark: Any, name: str) -> None:
    orchestrator, _, tasks = _filled_orchestrator(name)
    _label(benchmark, name, "a page of 100 by task and two statuses")
    statuses = [InvocationStatus.RUNNING, InvocationStatus.SUCCESS]
    page = benchmark(orchestrator.get_invocation_ids_paginated, tasks[0].task_id, statuses, 100, 0)
    assert len(page) == 100


@pytest.mark.parametrize("name", list(ORCHESTRATORS))
def test_count_all(benchmark: Any, name: str) -> None:
    orchestrator, _, _ = _filled_orchestrator(name)
    _label(benchmark, name, "count every invocation")
    assert benchmark(orchestrator.count_invocations) == INVOCATIONS


@pytest.mark.parametrize("name", list(ORCHESTRATORS))
def test_count_by_task_and_status(benchmark: Any, name: str) -> None:
    orchestrator, _, tasks = _filled_orchestrator(name)
    _label(benchmark, name, "count by task and status")
    count = benchmark(orchestrator.count_invocations, tasks[1].task_id, [InvocationStatus.SUCCESS])
    assert count == INVOCATIONS // 4


@pytest.mark.parametrize("name", list(ORCHESTRATORS))
def test_status_read(benchmark: Any, name: str) -> None:
    orchestrator, invocations, _ = _filled_orchestrator(name)
    _label(benchmark, name, "read a status")
    invocation_id = invocations[INVOCATIONS // 2].invocation_id
    assert benchmark(orchestrator.get_invocation_status, invocation_id) == InvocationStatus.REGISTERED


@pytest.mark.parametrize("name", list(ORCHESTRATORS))
def test_register_and_run_through(benchmark: Any, name: str) -> None:
    """One new invocation registered, then PENDING, RUNNING and SUCCESS: what each task costs."""
    orchestrator, _, tasks = _filled_orchestrator(name)
    _label(benchmark, name, "register one and change its status three times")

    def register_and_run() -> None:
        invocation = _invocation(tasks[0], next(_fresh) + INVOCATIONS)
        orchestrator._register_new_invocations([invocation])
        for status in FLOW:
            orchestrator._atomic_status_transition(invocation.invocation_id, status, "runner")

    benchmark.pedantic(register_and_run, rounds=2000, iterations=1, warmup_rounds=50)
