"""Eviction said plainly and applied to the whole app, and the runner check wherever the backend is chosen."""

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pynenc import Pynenc
from pynenc.exceptions import InvocationNotFoundError
from pynenc.orchestrator.mem_orchestrator import MemOrchestrator

from pynenc_fastmem import EvictedError, FastMemOrchestrator, FastMemStateBackend, InvocationEvictedError

from ..support import evict_due, fast_app
from ..support import running as running_app

KEPT = 5

app = fast_app("fastmem-eviction", max_finished_invocations=KEPT)


@app.task
def double(x: int) -> int:
    return 2 * x


@app.task
def fail(x: int) -> int:
    raise ValueError(f"bad {x}")


@pytest.fixture
def running() -> Iterator[Pynenc]:
    with running_app(app):
        yield app


def _run_all(count: int, task: Any = double) -> list[Any]:
    """Run ``count`` invocations of ``task``, then evict everything due."""
    invocations = [task(x) for x in range(count)]
    for invocation in invocations:
        try:
            _ = invocation.result
        except (ValueError, KeyError):
            pass
    evict_due(app)
    return invocations


def test_reading_an_evicted_invocation_says_it_was_evicted_and_by_what(running: Pynenc) -> None:
    first, *_ = _run_all(3 * KEPT)
    backend = running.state_backend
    with pytest.raises(InvocationEvictedError, match="max_finished_invocations=5") as raised:
        backend.get_invocation(first.invocation_id)
    assert isinstance(raised.value, InvocationNotFoundError)
    # The orchestrator's state went in the same store step: its status read says so at once.
    with pytest.raises(EvictedError, match=r"max_finished_invocations=5.*its status") as evicted:
        running.orchestrator.get_invocation_status(first.invocation_id)
    assert isinstance(evicted.value, KeyError)
    # .result reads the status first unless pynenc cached it as final on the invocation object
    # (DistributedInvocation.status), in which case the result read says it.
    said = rf"invocation {first.invocation_id} was evicted.*its (status|result)"
    with pytest.raises(EvictedError, match=said):
        _ = first.result
    with pytest.raises(EvictedError, match="its result") as evicted:
        backend.get_result(first.invocation_id)
    assert isinstance(evicted.value, KeyError)
    with pytest.raises(InvocationNotFoundError) as never:
        backend.get_invocation("never-stored")
    assert type(never.value) is InvocationNotFoundError
    for read in (backend._get_result, running.orchestrator.get_invocation_status):
        with pytest.raises(KeyError) as never_stored:
            read("never-stored")
        assert type(never_stored.value) is KeyError


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the failing task
def test_an_evicted_exception_says_so_too(running: Pynenc) -> None:
    failed, *_ = _run_all(3 * KEPT, fail)
    with pytest.raises(EvictedError, match="its exception"):
        running.state_backend._get_exception(failed.invocation_id)


def test_the_orchestrator_forgets_what_the_backend_evicted(running: Pynenc) -> None:
    count = 40 * KEPT
    _run_all(count)
    orchestrator = running.orchestrator
    assert isinstance(orchestrator, FastMemOrchestrator)
    stored = {i for batch in running.state_backend._store.items("invocations") for i, *_ in batch}
    assert len(stored) == KEPT
    listed = set(orchestrator.get_task_invocation_ids(double.task_id))
    assert listed <= stored and orchestrator.count_invocations() <= KEPT
    assert set(orchestrator.get_invocation_ids_paginated(limit=count)) <= stored
    counts = running.state_backend._store.orchestration.counts()
    assert counts["statuses"] == orchestrator.count_invocations() <= KEPT
    # What was kept is still whole for pynenc: its status and result read back.
    for inv_id in stored:
        assert running.orchestrator.get_invocation_status(inv_id).is_final()


def test_with_memorchestrator_retention_warns_once_that_it_bounds_the_backend_only(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYNENC__ORCHESTRATOR_CLS", raising=False)
    values = {"app_id": "fastmem-memorchestrator", "max_finished_invocations": 3}
    chosen = Pynenc(config_values={**values, "orchestrator_cls": "MemOrchestrator"})
    with caplog.at_level(logging.WARNING, logger="pynenc_fastmem"):
        chosen.state_backend  # noqa: B018 - the app's first use of its backend
        FastMemStateBackend(chosen)  # a second backend of the same app says nothing more
    warnings = [record.getMessage() for record in caplog.records if record.name.startswith("pynenc_fastmem")]
    assert len(warnings) == 1, warnings
    assert "MemOrchestrator" in warnings[0] and "orchestrator_cls='FastMemOrchestrator'" in warnings[0]
    assert isinstance(chosen.orchestrator, MemOrchestrator)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pynenc_fastmem"):
        ours = Pynenc(
            config_values={**values, "app_id": "fastmem-ours", "orchestrator_cls": "FastMemOrchestrator"}
        )
        ours.state_backend  # noqa: B018
        unbounded = Pynenc(
            config_values={"app_id": "fastmem-unbounded", "orchestrator_cls": "MemOrchestrator"}
        )
        unbounded.state_backend  # noqa: B018
    assert [r for r in caplog.records if r.name.startswith("pynenc_fastmem")] == []


@pytest.mark.parametrize("how", ["config_values", "environment", "config_file"])
def test_a_multi_process_runner_is_refused_however_it_is_chosen(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values: dict[str, Any] = {"app_id": f"fastmem-runner-{how}", "state_backend_cls": "FastMemStateBackend"}
    config_file = None
    if how == "config_values":
        values["runner_cls"] = "ProcessRunner"
    elif how == "environment":
        monkeypatch.setenv("PYNENC__RUNNER_CLS", "MultiThreadRunner")
    else:
        config_file = tmp_path / "pynenc.yaml"
        config_file.write_text("runner_cls: PersistentProcessRunner\n")
    refused = Pynenc(config_values=values, config_filepath=None if config_file is None else str(config_file))
    with pytest.raises(ValueError, match="runs tasks in other processes"):
        refused.state_backend  # noqa: B018 - the app's first use of its backend


def test_single_process_runners_are_accepted() -> None:
    for runner_cls in ("ThreadRunner", "DummyRunner"):
        accepted = Pynenc(config_values={"app_id": f"ok-{runner_cls}", "runner_cls": runner_cls})
        assert isinstance(accepted.state_backend, FastMemStateBackend)
