"""FastMemStateBackend's own behaviour, and its deliberate differences from MemStateBackend."""

import inspect
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pynenc import Pynenc
from pynenc.invocation.status import InvocationStatus
from pynenc.runner.runner_context import RunnerContext
from pynenc.state_backend import MemStateBackend
from pynenc.state_backend.base_state_backend import BaseStateBackend, InvocationHistory
from pynenc.workflow import WorkflowIdentity

from pynenc_fastmem import FastMemStateBackend
from pynenc_fastmem.state_backend import CONVERTED_IN_LIVE_MODE, DIRECT_METHODS

from ..support import history_record, invocation_pair

app = Pynenc(config_values={"app_id": "fastmem-adapter-tests"})


@app.task
def add(a: int, b: int) -> int:
    return a + b


@pytest.fixture
def backend() -> Iterator[FastMemStateBackend]:
    """A backend of ``app``, emptied after the test: every backend of one app shares its store."""
    backend = FastMemStateBackend(app)
    yield backend
    backend.purge()


def history(
    inv_id: str, at: datetime, status: InvocationStatus = InvocationStatus.REGISTERED
) -> InvocationHistory:
    return history_record(inv_id, at, status)


def test_point_operations_are_bound_to_the_store(backend: FastMemStateBackend) -> None:
    """Except, in live mode, those that must convert what the store holds."""
    live = backend.conf.live_invocations
    for method, store_method in DIRECT_METHODS.items():
        bound = getattr(backend, method) == getattr(backend._store, store_method)
        assert bound is not (live and method in CONVERTED_IN_LIVE_MODE), method
        assert callable(getattr(FastMemStateBackend, method))


def test_upsert_and_get_invocation_round_trip(backend: FastMemStateBackend) -> None:
    invocation = add(1, 2)
    backend.upsert_invocations([invocation])
    assert backend.get_invocation(invocation.invocation_id) == invocation


def test_purge_clears_runner_contexts_and_workflow_data(backend: FastMemStateBackend) -> None:
    """Deliberate difference: MemStateBackend keeps both across purge."""
    context = RunnerContext(runner_cls="ThreadRunner", runner_id="runner-1")
    identity = WorkflowIdentity(workflow_id="wf", workflow_type=add.task_id)
    backend.store_runner_context(context)
    backend.set_workflow_data(identity, "k", 1)
    backend.purge()
    assert backend.get_runner_context("runner-1") is None
    assert list(backend.get_matching_runner_contexts("runner")) == []
    assert backend.get_workflow_data(identity, "k") is None
    backend.store_runner_context(context)
    assert list(backend.get_matching_runner_contexts("runner")) == [context]

    reference = MemStateBackend(app)
    reference.store_runner_context(context)
    reference.set_workflow_data(identity, "k", 1)
    reference.purge()
    assert reference.get_workflow_data(identity, "k") == 1


def test_naive_and_aware_datetimes_mix(backend: FastMemStateBackend) -> None:
    """Deliberate difference: MemStateBackend raises TypeError comparing them."""
    base = datetime(2026, 1, 1, 12, tzinfo=UTC)
    backend._add_histories(["i"], history("i", base.replace(tzinfo=None)))
    backend._add_histories(["i"], history("i", base + timedelta(seconds=1)))
    start, end = base - timedelta(seconds=1), base + timedelta(seconds=2)
    assert (
        len(
            [h for batch in backend.iter_history_in_timerange(start, end.replace(tzinfo=None)) for h in batch]
        )
        == 2
    )
    assert list(backend.iter_invocations_in_timerange(start.replace(tzinfo=None), end)) == [["i"]]

    reference = MemStateBackend(app)
    reference._add_histories(["i"], history("i", base.replace(tzinfo=None)))
    with pytest.raises(TypeError):
        list(reference.iter_history_in_timerange(start, end))


def test_reads_do_not_fail_while_other_threads_write(backend: FastMemStateBackend) -> None:
    """Deliberate difference: MemStateBackend's scans can raise 'dictionary changed size'.

    The reader reads the whole range, again and again, for as long as the
    writer writes (20,000 records), and at least 20 times.
    """
    base = datetime(2026, 1, 1, tzinfo=UTC)
    errors: list[BaseException] = []

    def write() -> None:
        for i in range(20_000):
            backend._add_histories([f"inv-{i}"], history(f"inv-{i}", base + timedelta(microseconds=i)))

    writer = threading.Thread(target=write)
    writer.start()
    reads = 0
    try:
        while writer.is_alive() or reads < 20:
            ids = [
                i
                for batch in backend.iter_invocations_in_timerange(base, base + timedelta(days=1))
                for i in batch
            ]
            records = [
                r
                for batch in backend.iter_history_in_timerange(base, base + timedelta(days=1))
                for r in batch
            ]
            assert len(ids) == len(set(ids)) and len(records) >= len(ids)
            reads += 1
    except BaseException as error:  # noqa: BLE001
        errors.append(error)
    finally:
        writer.join()
    assert errors == []
    end = base + timedelta(days=1)
    assert sum(map(len, backend.iter_invocations_in_timerange(base, end))) == 20_000
    assert sum(map(len, backend.iter_history_in_timerange(base, end))) == 20_000


def test_missing_result_and_exception_raise_key_error(backend: FastMemStateBackend) -> None:
    with pytest.raises(KeyError):
        backend.get_result("nope")
    with pytest.raises(KeyError):
        backend.get_exception("nope")


def test_get_app_info_raises_value_error_for_an_unknown_app() -> None:
    other = Pynenc(config_values={"app_id": "fastmem-never-stored"})
    with pytest.raises(ValueError, match="fastmem-never-stored"):
        FastMemStateBackend(other).get_app_info()


def test_app_infos_are_discovered_across_instances(backend: FastMemStateBackend) -> None:
    from pynenc.app import AppInfo

    info = AppInfo.from_app(app)
    backend.store_app_info(info)
    assert backend.get_app_info() == info
    assert FastMemStateBackend.discover_app_infos()[app.app_id] == info


def test_empty_workflow_filters_filter_nothing(backend: FastMemStateBackend) -> None:
    invocation = add(3, 4)
    backend.upsert_invocations([invocation])
    expected = [invocation.invocation_id] if invocation.workflow else []
    assert list(backend.get_invocation_ids_by_workflow("", "")) == expected
    assert list(backend.get_invocation_ids_by_workflow()) == expected


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ("not a list", "entries"),
        ([("inv", "call")], r"entries\[0\]"),
        ([("only-one",)], r"entries\[0\]"),
    ],
)
def test_malformed_dto_pairs_are_refused(backend: FastMemStateBackend, entries: object, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        backend._upsert_invocations(entries)  # type: ignore[arg-type]


def test_batch_with_a_malformed_pair_stores_nothing(backend: FastMemStateBackend) -> None:
    pair = invocation_pair("good")
    with pytest.raises(TypeError, match=r"entries\[1\]"):
        backend._upsert_invocations([pair, (pair[0], None)])  # type: ignore[list-item]
    assert backend._get_invocation("good") is None


@pytest.mark.parametrize("bad", ["2026-01-01", 0, None])
def test_time_bounds_must_be_datetimes(backend: FastMemStateBackend, bad: object) -> None:
    now = datetime.now(UTC)
    with pytest.raises(TypeError, match="start_time"):
        backend.iter_history_in_timerange(bad, now)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="end_time"):
        backend.iter_invocations_in_timerange(now, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("batch_size", [0, -5])
def test_batch_size_below_one_is_refused(backend: FastMemStateBackend, batch_size: int) -> None:
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="batch_size"):
        backend.iter_history_in_timerange(now, now, batch_size)


def test_start_after_end_is_empty(backend: FastMemStateBackend) -> None:
    now = datetime.now(UTC)
    backend._add_histories(["i"], history("i", now))
    assert list(backend.iter_history_in_timerange(now + timedelta(seconds=1), now)) == []


def test_non_str_ids_are_refused(backend: FastMemStateBackend) -> None:
    with pytest.raises(TypeError, match="invocation_id"):
        backend._get_invocation(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"invocation_ids\[0\]"):
        backend._add_histories([123], history("i", datetime.now(UTC)))  # type: ignore[list-item]
    with pytest.raises(TypeError, match="parent_id"):
        backend.get_child_invocations(None)  # type: ignore[arg-type]


def test_a_subclass_can_choose_the_store() -> None:
    from pynenc_fastmem import _store_py

    class OnPythonStore(FastMemStateBackend):
        store_cls = _store_py.Store

    backend = OnPythonStore(app)
    assert type(backend._store) is _store_py.Store
    backend._set_result("i", "r")
    assert backend._store.get_result("i") == "r"


def test_a_history_without_a_timestamp_is_refused(backend: FastMemStateBackend) -> None:
    with pytest.raises(TypeError, match="invocation_history"):
        backend._add_histories(["i"], "not a history")  # type: ignore[arg-type]
    assert backend.get_history("i") == []


def test_the_backends_of_one_app_share_its_store() -> None:
    """What one backend of an app writes, another of the same app reads; another app's sees nothing."""
    one = Pynenc(config_values={"app_id": "fastmem-shared"})
    first, second = FastMemStateBackend(one), FastMemStateBackend(one)
    context = RunnerContext(runner_cls="ThreadRunner", runner_id="runner-1")
    first.store_runner_context(context)
    assert second.get_runner_context("runner-1") is not None
    # They share pynenc's runner-context cache too: after a purge, storing a context stores it.
    first.purge()
    assert second.get_runner_context("runner-1") is None
    second.store_runner_context(context)
    assert first.get_runner_context("runner-1") is not None
    other = FastMemStateBackend(Pynenc(config_values={"app_id": "fastmem-shared"}))
    assert other.get_runner_context("runner-1") is None


def test_an_app_whose_backend_two_threads_build_at_once_keeps_what_both_wrote() -> None:
    """pynenc builds ``app.state_backend`` on first use without a lock: two threads touching it
    together (a runner starting as a task is called) each build one, and the app keeps the last.

    Before backends shared the app's store, 62 of 200 such rounds lost a write here."""
    for round_ in range(50):
        fresh = Pynenc(config_values={"app_id": f"fastmem-built-twice-{round_}"})
        start = threading.Barrier(2)

        def write(runner_id: str, fresh: Pynenc = fresh, start: threading.Barrier = start) -> None:
            start.wait()
            context = RunnerContext(runner_cls="ThreadRunner", runner_id=runner_id)
            fresh.state_backend.store_runner_context(context)

        threads = [threading.Thread(target=write, args=(f"runner-{n}",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        kept = fresh.state_backend
        assert isinstance(kept, FastMemStateBackend)
        assert [kept.get_runner_context(f"runner-{n}") is not None for n in range(2)] == [True, True], round_


def test_methods_bound_to_the_store_take_pynenc_s_keywords(backend: FastMemStateBackend) -> None:
    """A caller may name the arguments as pynenc's base class names them."""
    for method in DIRECT_METHODS:
        names = list(inspect.signature(getattr(BaseStateBackend, method)).parameters)[1:]
        assert list(inspect.signature(getattr(backend, method)).parameters) == names, method
    backend.store_workflow_sub_invocation(parent_workflow_id="wf-1", sub_invocation_id="sub-1")
    assert list(backend.get_workflow_sub_invocations("wf-1")) == ["sub-1"]
