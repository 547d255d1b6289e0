"""FastMemStateBackend's retention settings, stats and export, on real pynenc apps."""

import gc
import importlib.util
import io
import os
import shutil
import socket
import subprocess
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pynenc import Pynenc, PynencBuilder
from pynenc.exceptions import PynencError
from pynenc.identifiers.call_id import CallId
from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord
from pynenc.models.call_dto import CallDTO
from pynenc.models.invocation_dto import InvocationDTO
from pynenc.state_backend import SQLiteStateBackend
from pynenc.state_backend.base_state_backend import InvocationHistory

from pynenc_fastmem import FastMemStateBackend
from pynenc_fastmem.state_backend import PYNENC_OBJECT_BYTES

from ..support import LIFECYCLE, evict_due, fast_app, history_record, invocation_pair
from ..support import running as running_app

KEPT = 5


bounded = fast_app("fastmem-bounded", max_threads=8, max_finished_invocations=KEPT)
keeping = fast_app("fastmem-keeping", max_threads=8)


@bounded.task
def double(x: int) -> int:
    return 2 * x


@bounded.task
def fan_out(n: int) -> int:
    """A parent that reads its children's results: retention must keep them while it runs."""
    return sum(child.result for child in [double(i) for i in range(n)])


@keeping.task
def triple(x: int) -> int:
    return 3 * x


@keeping.task
def fail(x: int) -> int:
    raise ValueError(f"bad {x}")


@keeping.workflow
def flow(n: int) -> int:
    return sum(child.result for child in [triple(i) for i in range(n)])


@pytest.fixture
def running(request: pytest.FixtureRequest) -> Iterator[Pynenc]:
    """Runs the app named by the test's parameter on a ThreadRunner in a thread."""
    with running_app(request.param) as app:
        yield app


# Settings


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ({}, (0.0, 0)),
        ({"config_values": {"retention_seconds": 30}}, (30.0, 0)),
        ({"config_values": {"statebackendfastmem": {"max_finished_invocations": 7}}}, (0.0, 7)),
        ({"environ": {"PYNENC__RETENTION_SECONDS": "2.5"}}, (2.5, 0)),
        ({"environ": {"PYNENC__CONFIGSTATEBACKENDFASTMEM__MAX_FINISHED_INVOCATIONS": "9"}}, (0.0, 9)),
        ({"file": "retention_seconds: 60\nmax_finished_invocations: 100\n"}, (60.0, 100)),
    ],
)
def test_settings_come_from_pynenc_configuration(
    how: dict[str, Any], expected: tuple[float, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in how.get("environ", {}).items():
        monkeypatch.setenv(key, value)
    config_file = None
    if "file" in how:
        config_file = tmp_path / "pynenc.yaml"
        config_file.write_text(how["file"])
    app = Pynenc(
        config_values={"app_id": "settings", **how.get("config_values", {})},
        config_filepath=None if config_file is None else str(config_file),
    )
    backend = FastMemStateBackend(app)
    assert (backend.conf.retention_seconds, backend.conf.max_finished_invocations) == expected
    store = backend._store
    retention = round(expected[0] * 1_000_000) or None
    probe = type(store)(retention=retention, max_finished=expected[1] or None)
    assert store.evict(1) == probe.evict(1) == 0


def test_builder_arguments_set_retention() -> None:
    app = PynencBuilder().fast_memory(retention_seconds=1.5, max_finished_invocations=3).app_id("b").build()
    backend = app.state_backend
    assert isinstance(backend, FastMemStateBackend)
    assert (backend.conf.retention_seconds, backend.conf.max_finished_invocations) == (1.5, 3)


@pytest.mark.parametrize(
    ("grace", "evicted"), [(None, [True, True, False, False]), (0, [True, True, True, False])]
)
def test_what_finished_within_the_grace_stays_however_many_finished_after_it(
    grace: float | None, evicted: list[bool]
) -> None:
    """pynenc reads an invocation back just after finishing it: by default a limit does not evict it then."""
    builder = PynencBuilder().fast_memory(max_finished_invocations=1, eviction_grace_seconds=grace)
    backend = builder.app_id(f"grace-{grace}").build().state_backend
    assert isinstance(backend, FastMemStateBackend)
    assert backend.conf.eviction_grace_seconds == (1.0 if grace is None else grace)
    now = datetime.now(UTC)
    names = ["old", "older", "new", "newer"]
    for offset, name in enumerate(names):
        at = now - timedelta(seconds=10 if offset < 2 else 0) + timedelta(microseconds=offset)
        backend._upsert_invocations([invocation_pair(name)])
        backend._add_histories([name], history_record(name, at, InvocationStatus.SUCCESS))
    assert [backend._get_invocation(name) is None for name in names] == evicted


@pytest.mark.parametrize(
    "setting", ["retention_seconds", "max_finished_invocations", "eviction_grace_seconds"]
)
def test_negative_settings_are_refused_naming_them(setting: str) -> None:
    app = Pynenc(config_values={"app_id": "negative", setting: -1})
    with pytest.raises(ValueError, match=setting):
        FastMemStateBackend(app)


# Retention on a running app


@pytest.mark.parametrize("running", [bounded], indirect=True)
def test_a_bounded_app_keeps_children_its_parent_reads_and_stays_bounded(running: Pynenc) -> None:
    assert fan_out(30).result == sum(2 * i for i in range(30))
    for i in range(40):
        assert double(i).result == 2 * i  # each read right after it ran
    backend = running.state_backend
    assert isinstance(backend, FastMemStateBackend)
    evict_due(running)
    stats = backend.stats()
    assert stats["evictions"] >= 30 + 40 + 1 - KEPT
    assert stats["finished"] - stats["held"] == KEPT
    assert stats["invocations"] - stats["finished"] == 0  # nothing unfinished was lost on the way
    backend._store._check()


@pytest.mark.parametrize("running", [bounded], indirect=True)
def test_an_evicted_invocation_is_gone_for_its_late_reader(running: Pynenc) -> None:
    first = double(1)
    assert first.result == 2
    for i in range(2 * KEPT):
        assert double(i).result == 2 * i
    evict_due(running)
    backend = running.state_backend
    assert backend._get_invocation(first.invocation_id) is None
    with pytest.raises((KeyError, PynencError)):
        backend.get_result(first.invocation_id)


# Stats


def test_stats_estimate_is_the_store_estimate_plus_pynenc_objects() -> None:
    backend = FastMemStateBackend(Pynenc(config_values={"app_id": "stats"}))
    invocation = triple(2)
    backend.upsert_invocations([invocation])
    backend.set_result(invocation.invocation_id, 6)
    stats = backend.stats()
    store = backend._store.stats()
    assert (stats["invocations"], stats["results"], stats["history_records"]) == (1, 1, 0)
    assert stats["bytes"] == store["bytes"] + PYNENC_OBJECT_BYTES["invocations"]


def _fill(backend: FastMemStateBackend, count: int) -> None:
    """``count`` invocations as pynenc writes them: DTOs, six history records, a result."""
    for index in range(count):
        call_id = CallId(task_id=triple.task_id, args_id=f"args-{index}")
        inv_id = f"inv-{index:08d}"
        backend._upsert_invocations(
            [
                (
                    InvocationDTO(
                        invocation_id=inv_id, call_id=call_id, workflow=None, parent_invocation_id=None
                    ),
                    CallDTO(call_id=call_id, serialized_arguments={"x": str(index)}),
                )
            ]
        )
        for status in LIFECYCLE:
            record = InvocationHistory(
                invocation_id=inv_id,
                status_record=InvocationStatusRecord(status=status),
                runner_context_id="runner",
            )
            backend._add_histories([inv_id], record)
        backend._set_result(inv_id, f'{{"value": {index}}}')


def test_stats_bytes_estimate_follows_traced_memory() -> None:
    backend = FastMemStateBackend(Pynenc(config_values={"app_id": "stats-bytes"}))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _fill(backend, 5000)
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    estimate = backend.stats()["bytes"]
    assert 0.8 <= estimate / traced <= 1.25, (estimate, traced)


# Export


@pytest.mark.parametrize("running", [keeping], indirect=True)
def test_export_copies_everything_into_sqlite(running: Pynenc, tmp_path: Path) -> None:
    began = datetime.now(UTC)
    assert flow(12).result == sum(3 * i for i in range(12))
    assert [triple(i).result for i in range(20)] == [3 * i for i in range(20)]
    failed = fail(1)
    with pytest.raises(ValueError, match="bad 1"):
        _ = failed.result
    source = running.state_backend
    assert isinstance(source, FastMemStateBackend)
    source.set_workflow_data(next(iter(source.get_all_workflow_runs())), "note", {"kept": True})
    running.runner.stop_runner_loop()  # nothing is written while the export reads
    began, ended = began - timedelta(days=1), datetime.now(UTC) + timedelta(days=1)

    target = SQLiteStateBackend(
        Pynenc(config_values={"app_id": running.app_id, "sqlite_db_path": str(tmp_path / "post-mortem.db")})
    )
    stream = io.StringIO()
    counts = source.export_to(target, progress=True, stream=stream)

    stats = source.stats()
    assert counts["invocations"] == stats["invocations"] >= 12 + 1 + 20 + 1
    assert counts["history_records"] == stats["history_records"]
    assert counts["results"] == stats["results"]
    assert counts["exceptions"] == stats["exceptions"] >= 1
    assert counts["skipped_workflow_data"] == 0 and counts["workflow_data"] >= 1
    assert "export [" in stream.getvalue() and stream.getvalue().endswith("\n")

    assert_same_contents(source, target, began, ended)
    assert target.get_exception(failed.invocation_id).args == ("bad 1",)
    assert target.get_app_info().app_id == running.app_id

    # And back: a new app's FastMemStateBackend imports the SQLite file, as at a restart.
    restarted = FastMemStateBackend(Pynenc(config_values={"app_id": f"{running.app_id}-restarted"}))
    imported = restarted.import_from(target, progress=False)
    assert {kind: imported[kind] for kind in ("invocations", "history_records", "results", "exceptions")} == {
        kind: counts[kind] for kind in ("invocations", "history_records", "results", "exceptions")
    }
    assert imported["workflow_data"] == counts["workflow_data"] and imported["skipped_workflow_data"] == 0
    assert (imported["newer_here"], imported["replaced"]) == (0, 0)
    assert_same_contents(source, restarted, began, ended)


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    """A real Redis server on a free loopback port, for this test only.

    Skipped, with the reason, where pynenc-redis or ``redis-server`` is missing, unless
    ``FASTMEM_REQUIRE_REDIS`` is set (``make test-redis`` sets it, and installs both).
    """
    missing = [
        what
        for what, present in [
            ("pynenc-redis (make test-redis installs it)", importlib.util.find_spec("pynenc_redis")),
            ("Debian's redis-server", shutil.which("redis-server")),
        ]
        if not present
    ]
    if missing:
        if os.environ.get("FASTMEM_REQUIRE_REDIS"):
            pytest.fail(f"FASTMEM_REQUIRE_REDIS is set but this is missing: {', '.join(missing)}")
        pytest.skip(f"needs {' and '.join(missing)}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize("running", [keeping], indirect=True)
def test_export_into_redis_and_read_back(running: Pynenc, redis_port: int) -> None:
    """The way out: a running app's store into pynenc-redis's backend on a real server, read back."""
    from pynenc_redis.state_backend.redis_state_backend import RedisStateBackend

    began = datetime.now(UTC) - timedelta(days=1)
    assert flow(6).result == sum(3 * i for i in range(6))
    failed = fail(2)
    with pytest.raises(ValueError, match="bad 2"):
        _ = failed.result
    source = running.state_backend
    assert isinstance(source, FastMemStateBackend)
    source.set_workflow_data(next(iter(source.get_all_workflow_runs())), "note", {"kept": True})
    running.runner.stop_runner_loop()
    ended = datetime.now(UTC) + timedelta(days=1)

    config = {"app_id": running.app_id, "redis_host": "127.0.0.1", "redis_port": redis_port}
    target = RedisStateBackend(Pynenc(config_values=config))
    counts = source.export_to(target, progress=False)
    assert counts["invocations"] == source.stats()["invocations"] >= 6 + 1 + 1
    assert counts["exceptions"] >= 1 and counts["workflow_data"] >= 1
    # Read back through a backend of its own, as another process would.
    assert_same_contents(source, RedisStateBackend(Pynenc(config_values=config)), began, ended)


def assert_same_contents(source: Any, target: Any, began: datetime, ended: datetime) -> None:
    """Every invocation, history record (timestamps included), result, exception, workflow run,
    workflow datum, sub-invocation and runner context of ``source`` is in ``target``, equal."""
    ids = [inv_id for chunk in source._store.items("invocations") for inv_id, _ in chunk]
    assert len(ids) == source.stats()["invocations"]
    for inv_id in ids:
        assert target._get_invocation(inv_id) == source._get_invocation(inv_id)
        assert target._get_history(inv_id) == source._get_history(inv_id)
        for getter in ("_get_result", "_get_exception"):
            try:
                expected = getattr(source, getter)(inv_id)
            except KeyError:
                with pytest.raises(KeyError):
                    getattr(target, getter)(inv_id)
                continue
            assert getattr(target, getter)(inv_id) == expected
    runs = sorted(source.get_all_workflow_runs(), key=lambda run: run.workflow_id)
    assert sorted(target.get_all_workflow_runs(), key=lambda run: run.workflow_id) == runs
    for run in runs:
        assert sorted(target.get_workflow_sub_invocations(run.workflow_id)) == sorted(
            source.get_workflow_sub_invocations(run.workflow_id)
        )
    for workflow_id, key, value in [item for chunk in source._store.items("workflow_data") for item in chunk]:
        identity = next(run for run in runs if run.workflow_id == workflow_id)
        assert target.get_workflow_data(identity, key) == value
    contexts = list(source.get_matching_runner_contexts(""))
    assert contexts and all(target._get_runner_context(c.runner_id) == c for c in contexts)
    history = [h for batch in target.iter_history_in_timerange(began, ended) for h in batch]
    assert sorted(history, key=lambda h: (h.timestamp, str(h.invocation_id))) == sorted(
        [h for batch in source.iter_history_in_timerange(began, ended) for h in batch],
        key=lambda h: (h.timestamp, str(h.invocation_id)),
    )


def test_import_merges_keeping_the_newer_side(tmp_path: Path) -> None:
    here = FastMemStateBackend(Pynenc(config_values={"app_id": "merge-here"}))
    there = FastMemStateBackend(Pynenc(config_values={"app_id": "merge-there"}))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    pairs = {name: invocation_pair(name) for name in ("only-there", "newer-here", "newer-there")}
    for backend, names, offset in ((here, ["newer-here", "newer-there"], 0), (there, list(pairs), 0)):
        backend._upsert_invocations([pairs[name] for name in names])
        for name in names:
            backend._add_histories(
                [name], history_record(name, at + timedelta(seconds=offset), InvocationStatus.REGISTERED)
            )
    here._add_histories(
        ["newer-here"], history_record("newer-here", at + timedelta(seconds=5), InvocationStatus.PENDING)
    )
    there._add_histories(
        ["newer-there"], history_record("newer-there", at + timedelta(seconds=9), InvocationStatus.PENDING)
    )
    there._set_result("newer-there", "from there")
    there._set_result("newer-here", "ignored: older there")

    counts = here.import_from(there)
    assert (counts["invocations"], counts["newer_here"], counts["replaced"]) == (2, 1, 1)
    assert counts["history_records"] == 1 + 1  # only-there's record, newer-there's newer one
    assert [r.status_record.status for r in here._get_history("newer-there")] == [
        InvocationStatus.REGISTERED,
        InvocationStatus.PENDING,
    ]
    assert here._get_result("newer-there") == "from there"
    with pytest.raises(KeyError):
        here._get_result("newer-here")
    assert here._get_invocation("only-there") == pairs["only-there"]
    again = here.import_from(there)
    assert (again["invocations"], again["newer_here"], again["replaced"]) == (0, 3, 0)


def test_export_of_a_small_store_shows_no_progress_by_default(tmp_path: Path) -> None:
    source = FastMemStateBackend(Pynenc(config_values={"app_id": "small-export"}))
    source.upsert_invocations([triple(1)])
    target = SQLiteStateBackend(
        Pynenc(config_values={"app_id": "small-export", "sqlite_db_path": str(tmp_path / "small.db")})
    )
    stream = io.StringIO()
    assert source.export_to(target, stream=stream)["invocations"] == 1
    assert stream.getvalue() == ""
