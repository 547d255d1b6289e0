"""FastMemOrchestrator through pynenc: what pynenc's suites do not check.

(pynenc's pending-status tests, which skip themselves for any orchestrator but MemOrchestrator,
run against ours from ``tests/conformance/orchestrator``.)

- The base class promises pages newest first; no upstream test checks the order.
- Readers listing, counting and filtering while a ThreadRunner runs tasks never fail and
  miss nothing (MemOrchestrator's readers raise "Set changed size" on 3.14t).
"""

import threading
from collections.abc import Iterator

import pytest
from pynenc import Pynenc
from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.invocation import DistributedInvocation, InvocationStatus

from pynenc_fastmem import FastMemOrchestrator

from ..support import fast_app
from ..support import running as running_app

app = fast_app("fastmem-orchestrator")


@app.task
def concat(arg0: str, arg1: str) -> str:
    return arg0 + arg1


@pytest.fixture
def fresh() -> Pynenc:
    app.purge()
    assert isinstance(app.orchestrator, FastMemOrchestrator)
    return app


def _registered(count: int) -> list[DistributedInvocation]:
    invocations = [
        DistributedInvocation.isolated(Call(concat, Arguments({"arg0": "a", "arg1": str(n)})))
        for n in range(count)
    ]
    app.orchestrator.register_new_invocations(invocations)
    return invocations


def test_pages_come_newest_status_change_first(fresh: Pynenc) -> None:
    invocations = _registered(6)
    ids = [invocation.invocation_id for invocation in invocations]
    orchestrator = fresh.orchestrator
    assert orchestrator.get_invocation_ids_paginated(limit=3) == ids[::-1][:3]
    orchestrator._atomic_status_transition(ids[1], InvocationStatus.PENDING, "r")
    orchestrator._atomic_status_transition(ids[3], InvocationStatus.PENDING, "r")
    orchestrator._atomic_status_transition(ids[1], InvocationStatus.RUNNING, "r")
    assert orchestrator.get_invocation_ids_paginated(limit=3) == [ids[1], ids[3], ids[5]]
    assert orchestrator.get_invocation_ids_paginated(limit=2, offset=2) == [ids[5], ids[4]]
    pending_or_running = [InvocationStatus.PENDING, InvocationStatus.RUNNING]
    assert orchestrator.get_invocation_ids_paginated(statuses=pending_or_running) == [ids[1], ids[3]]
    assert orchestrator.get_invocation_ids_paginated(concat.task_id, [InvocationStatus.REGISTERED], 10) == [
        ids[5],
        ids[4],
        ids[2],
        ids[0],
    ]
    records = [
        orchestrator.get_invocation_status_record(i) for i in orchestrator.get_invocation_ids_paginated()
    ]
    stamps = [record.timestamp for record in records]
    assert stamps == sorted(stamps, reverse=True), "newest first, as the base class promises"
    assert orchestrator.count_invocations() == 6
    assert orchestrator.count_invocations(concat.task_id, pending_or_running) == 2


@pytest.fixture
def running() -> Iterator[Pynenc]:
    with running_app(app):
        yield app


def test_readers_never_fail_while_a_runner_runs_tasks(running: Pynenc) -> None:
    orchestrator = running.orchestrator
    errors: list[BaseException] = []
    reads = 0
    stop = threading.Event()

    def read() -> None:
        nonlocal reads
        try:
            while not stop.is_set():
                list(orchestrator.get_task_invocation_ids(concat.task_id))
                orchestrator.get_invocation_ids_paginated(statuses=[InvocationStatus.SUCCESS], limit=50)
                orchestrator.count_invocations(concat.task_id)
                list(
                    orchestrator.get_existing_invocations(concat, {"arg0": '"a"'}, [InvocationStatus.RUNNING])
                )
                reads += 4
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        invocations = [concat("a", str(n)) for n in range(300)]
        assert [invocation.result for invocation in invocations] == [f"a{n}" for n in range(300)]
    finally:
        stop.set()
        reader.join()
    assert errors == [] and reads > 0
    ids = {invocation.invocation_id for invocation in invocations}
    assert ids <= set(orchestrator.get_task_invocation_ids(concat.task_id)), (
        "nothing missing from a final listing"
    )
    assert orchestrator.count_invocations(concat.task_id, [InvocationStatus.SUCCESS]) == 300
