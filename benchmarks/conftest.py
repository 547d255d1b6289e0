"""Backends and data for the benchmarks; every figure is reported as a ratio to MemStateBackend.

The backends of one benchmark run side by side in one session:

- ``dict``: a bare ``dict`` doing the same point operation, the floor;
- ``mem``: pynenc's ``MemStateBackend``, the reference every ratio is taken to;
- ``fastmem``: FastMemStateBackend on the compiled store;
- ``fastmem-live``: the same with ``live_invocations`` on (public methods only);
- ``fastmem-python``: FastMemStateBackend on the pure-Python store;
- ``sqlite``: pynenc's ``SQLiteStateBackend`` on a temporary file;
- ``rustvello``: pynenc-rustvello's ``RustMemStateBackend`` where it can be constructed;
- ``fastmem-before``: FastMemStateBackend as it was at another commit, when
  ``FASTMEM_BENCH_BEFORE`` is set and ``pynenc_fastmem_before`` is importable
  (``make bench-compare BEFORE=<commit>`` builds it and sets both).

A backend that cannot run a benchmark is skipped with the reason, and the report
prints that reason in its table.
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pynenc import Pynenc
from pynenc.identifiers.call_id import CallId
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord
from pynenc.models.call_dto import CallDTO
from pynenc.models.invocation_dto import InvocationDTO
from pynenc.state_backend import MemStateBackend, SQLiteStateBackend
from pynenc.state_backend.base_state_backend import BaseStateBackend, InvocationHistory
from pynenc.workflow import WorkflowIdentity

from pynenc_fastmem import FastMemOrchestrator, FastMemStateBackend, _store_py

BEFORE = ["fastmem-before"] if os.environ.get("FASTMEM_BENCH_BEFORE") else []
BACKENDS = ["mem", "fastmem", *BEFORE, "fastmem-python", "sqlite", "rustvello"]
# Live mode changes only what the public methods do, so only they measure it.
PUBLIC_BACKENDS = ["mem", "fastmem", *BEFORE, "fastmem-live", "fastmem-python", "sqlite", "rustvello"]
WITH_FLOOR = ["dict", *BACKENDS]
DAY_START = datetime(2026, 1, 1, tzinfo=UTC)
# A real task, so that rebuilding an invocation from its DTOs can import it.
TASK = TaskId("pynenc_fastmem.demo", "square")
WORKFLOW_TASK = TaskId("pynenc_fastmem.demo", "sum_of_squares")

_app_ids = itertools.count()


def new_app(**config: Any) -> Pynenc:
    """A fresh app (the backends read their configuration from it)."""
    return Pynenc(config_values={"app_id": f"bench-{next(_app_ids)}", **config})


class FastMemPythonStoreBackend(FastMemStateBackend):
    """FastMemStateBackend on the pure-Python store, whatever store the build selected."""

    store_cls = _store_py.Store


class FastMemPythonStoreOrchestrator(FastMemOrchestrator):
    """FastMemOrchestrator on the pure-Python store, beside ``FastMemPythonStoreBackend``."""

    store_cls = _store_py.Store


def make_backend(name: str) -> BaseStateBackend:
    """A new, empty backend of kind ``name``; skips the benchmark if it cannot be built."""
    if name == "mem":
        return MemStateBackend(new_app())
    if name == "fastmem":
        backend = FastMemStateBackend(new_app())
        if not type(backend._store).__module__.endswith("_store_c"):
            pytest.fail("the compiled store is not loaded: build it (make bench does)")
        return backend
    if name == "fastmem-python":
        return FastMemPythonStoreBackend(new_app())
    if name == "fastmem-before":
        try:
            from pynenc_fastmem_before.state_backend import FastMemStateBackend as Before
        except ImportError as error:
            pytest.skip(f"pynenc_fastmem_before is not built: {error}")
        return Before(new_app())  # type: ignore[no-any-return]
    if name == "fastmem-live":
        return FastMemStateBackend(new_app(live_invocations=True))
    if name == "sqlite":
        if not getattr(sys, "_is_gil_enabled", lambda: True)():
            # Measured: 3,600 descriptors left open by 900 invocations written from threads.
            pytest.skip(
                "on free-threaded builds pynenc's SQLiteStateBackend leaves a connection open "
                "per call until the GC runs, and exhausts the file descriptors"
            )
        handle, path = tempfile.mkstemp(suffix=".db", prefix="fastmem-bench-")
        os.close(handle)
        return SQLiteStateBackend(new_app(sqlite_db_path=path))
    if name == "rustvello":
        try:
            from pynenc_rustvello.state_backend import RustMemStateBackend
        except ImportError as error:
            pytest.skip(f"pynenc-rustvello is not installed: {error}")
        try:
            return RustMemStateBackend(new_app())  # type: ignore[no-any-return]
        except TypeError as error:
            pytest.skip(f"not constructible on this pynenc: {error}")
    raise ValueError(name)


def invocation_pair(
    index: int,
    parent: str | None = None,
    event: str | None = None,
    workflow: WorkflowIdentity | None = None,
) -> tuple[InvocationDTO, CallDTO]:
    """A DTO pair like pynenc's, with one serialized argument."""
    call_id = CallId(task_id=TASK, args_id=f"args-{index}")
    return (
        InvocationDTO(
            invocation_id=f"inv-{index:08d}",
            call_id=call_id,
            workflow=workflow,
            parent_invocation_id=parent,
            parent_event_id=event,
        ),
        CallDTO(call_id=call_id, serialized_arguments={"x": str(index)}),
    )


STATUSES = [
    InvocationStatus.REGISTERED,
    InvocationStatus.PENDING,
    InvocationStatus.RUNNING,
    InvocationStatus.SUCCESS,
]


def history_record(invocation_id: str, at: datetime, status: InvocationStatus) -> InvocationHistory:
    """A history record stamped ``at``."""
    record = InvocationHistory(
        invocation_id=invocation_id,
        status_record=InvocationStatusRecord(status=status),
        runner_context_id="bench-runner",
    )
    record._timestamp = at
    return record


def day_of_records(count: int) -> list[InvocationHistory]:
    """``count`` records spread evenly over one day, four per invocation, in time order."""
    step = timedelta(days=1) / count
    return [
        history_record(f"inv-{index // 4:08d}", DAY_START + step * index, STATUSES[index % 4])
        for index in range(count)
    ]


def fill_histories(backend: BaseStateBackend, records: list[InvocationHistory]) -> None:
    """Write ``records`` through the backend's raw history method."""
    add = backend._add_histories
    for record in records:
        add([record.invocation_id], record)


def ratio_info(benchmark: Any, backend: str, **extra: Any) -> None:
    """Label a benchmark with its backend (the report groups on it) and extra figures."""
    benchmark.extra_info["backend"] = backend
    benchmark.extra_info.update(extra)


Factory = Callable[[str], BaseStateBackend]
