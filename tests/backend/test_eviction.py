"""Eviction said plainly and applied to the whole app, and the runner check wherever the backend is chosen."""

import logging
import time
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pynenc import Pynenc, PynencBuilder
from pynenc.exceptions import InvocationNotFoundError
from pynenc.invocation.status import InvocationStatus
from pynenc.orchestrator.mem_orchestrator import MemOrchestrator

from pynenc_fastmem import EvictedError, FastMemStateBackend, InvocationEvictedError

from ..support import evict_due, fast_app, history_record, invocation_pair
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


def _wait_until_forgotten(app: Pynenc, invocation_id: str, timeout: float = 5.0) -> None:
    orchestrator = app.orchestrator
    assert isinstance(orchestrator, MemOrchestrator)
    deadline = time.monotonic() + timeout
    # Forgetting pops the call id, then the status record: wait for both (the status is read next).
    remembered = (orchestrator.inv_id_to_call_id, orchestrator.invocation_status_record)
    while any(invocation_id in entries for entries in remembered):
        assert time.monotonic() < deadline, "the orchestrator never forgot the evicted invocation"
        time.sleep(0.001)


def test_reading_an_evicted_invocation_says_it_was_evicted_and_by_what(running: Pynenc) -> None:
    first, *_ = _run_all(3 * KEPT)
    backend = running.state_backend
    with pytest.raises(InvocationEvictedError, match="max_finished_invocations=5") as raised:
        backend.get_invocation(first.invocation_id)
    assert isinstance(raised.value, InvocationNotFoundError)
    # The orchestrator forgets it once the writer that evicted it has released the store's locks:
    # wait for that, which takes moments. Then its status read says so.
    _wait_until_forgotten(running, first.invocation_id)
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
    assert isinstance(orchestrator, MemOrchestrator)
    stored = {i for batch in running.state_backend._store.items("invocations") for i, *_ in batch}
    assert len(stored) == KEPT
    per_invocation = {
        "inv_id_to_call_id": orchestrator.inv_id_to_call_id,
        "invocation_status_record": orchestrator.invocation_status_record,
        "invocation_retries": orchestrator.invocation_retries,
        "invocation_args": orchestrator.invocation_args,
        "locks": orchestrator.locks,
    }
    for name, mapping in per_invocation.items():
        assert set(mapping) <= stored, name
    assert {inv_id for _, inv_id in orchestrator.invocations_to_purge} <= stored
    assert set().union(*orchestrator.status_index.values()) <= stored
    assert set().union(*orchestrator.call_id_to_inv_id.values()) <= stored
    assert len(orchestrator.call_id_to_inv_id) <= KEPT and len(orchestrator.args_index) <= KEPT
    # What was kept is still whole for pynenc: its status and result read back.
    for inv_id in stored:
        assert running.orchestrator.get_invocation_status(inv_id).is_final()


def test_other_orchestrators_are_left_alone() -> None:
    other = (
        PynencBuilder()
        .fast_memory(max_finished_invocations=1)
        .app_id("fastmem-eviction-other")
        .custom_config(orchestrator_cls="SQLiteOrchestrator", sqlite_db_path=":memory:")
        .build()
    )
    from pynenc_fastmem.forget import forget_evicted

    # Neither raises nor touches an orchestrator it does not know.
    forget_evicted(other, weakref.ref(other.state_backend), ["a", "b"])


def test_a_backend_that_is_not_the_apps_leaves_the_apps_orchestrator_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A FastMemStateBackend made directly for an app configured with another backend (a copy, a
    benchmark) evicts its own invocations; the app's orchestrator tracks those of the app's backend."""
    app = Pynenc(config_values={"app_id": "fastmem-not-the-apps", "max_finished_invocations": 1})
    tracked = app.orchestrator
    assert isinstance(tracked, MemOrchestrator)
    tracked.inv_id_to_call_id["a"] = "call-a"  # as if the app's own backend held an invocation "a"
    backend = FastMemStateBackend(app)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for offset, name in enumerate("abc"):
        backend._upsert_invocations([invocation_pair(name)])
        backend._add_histories(
            [name], history_record(name, at + timedelta(seconds=offset), InvocationStatus.SUCCESS)
        )
    assert backend.stats()["evictions"] >= 1 and backend._store.was_evicted("a")
    assert tracked.inv_id_to_call_id == {"a": "call-a"}
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
    with pytest.raises(KeyError) as raised:
        tracked.invocation_status_record["a"]
    assert type(raised.value) is KeyError, "the app's orchestrator does not say our evictions"


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
