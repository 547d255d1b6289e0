"""Retention, stats and item listing of the store, run against every store implementation."""

import functools
from types import ModuleType
from typing import Any

import pytest

from pynenc_fastmem import _store_common
from pynenc_fastmem._store_py import EVICTIONS_PER_FINAL, ITEM_KINDS, MAX_MICROS, MIN_MICROS, Store

from ..support import run_threads


class Clock:
    """A clock the test moves by hand, in microseconds."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def row(inv_id: str, parent: str | None = None, workflow: str | None = None) -> tuple[Any, ...]:
    return (inv_id, f"value-{inv_id}", parent, f"ev-{parent}" if parent else None, workflow, workflow and "T")


def run(store: Store, inv_id: str, at: int, parent: str | None = None, workflow: str | None = None) -> None:
    """Register, start and finish ``inv_id`` (finished at ``at``), with a result and an exception."""
    store.upsert_invocations([row(inv_id, parent, workflow)])
    store.add_histories([inv_id], at - 2, f"{inv_id}-registered")
    store.add_histories([inv_id], at - 1, f"{inv_id}-running")
    store.set_result(inv_id, f"result-{inv_id}")
    store.set_exception(inv_id, f"exception-{inv_id}")
    store.add_histories([inv_id], at, f"{inv_id}-success", True)


def start(store: Store, inv_id: str, at: int, parent: str | None = None, workflow: str | None = None) -> None:
    store.upsert_invocations([row(inv_id, parent, workflow)])
    store.add_histories([inv_id], at, f"{inv_id}-running")


def gone(store: Store, inv_id: str) -> bool:
    """Whether nothing of ``inv_id`` is left that a query can reach."""
    everything = [r for batch in store.history_in_range(MIN_MICROS, MAX_MICROS) for r in batch]
    missing = []
    for getter in (store.get_result, store.get_exception):
        try:
            getter(inv_id)
        except KeyError:
            missing.append(True)
    return (
        store.get_invocation(inv_id) is None
        and store.get_history(inv_id) == []
        and not any(str(r).startswith(f"{inv_id}-") for r in everything)
        and len(missing) == 2
        and inv_id not in store.ids_by_workflow()
    )


def test_retention_is_off_by_default(store: Store) -> None:
    for number in range(50):
        run(store, f"i{number}", 10 * number)
    assert store.evict(100) == 0
    stats = store.stats()
    assert stats["invocations"] == stats["finished"] == 50
    assert stats["evictions"] == 0
    store._check()


def test_max_finished_evicts_the_oldest_final_records_first(store_module: ModuleType) -> None:
    store = store_module.Store(max_finished=2)
    for number, at in enumerate([50, 10, 40, 20, 30]):
        run(store, f"i{number}", at)
        store._check()
    assert [gone(store, f"i{n}") for n in range(5)] == [False, True, False, True, True]
    assert store.get_history("i0") == ["i0-registered", "i0-running", "i0-success"]
    assert store.get_result("i2") == "result-i2"
    stats = store.stats()
    assert (stats["invocations"], stats["finished"], stats["evictions"]) == (2, 2, 3)
    assert stats["history_records"] == 6
    assert (stats["results"], stats["exceptions"]) == (2, 2)


def test_retention_evicts_what_finished_longer_ago_than_it(store_module: ModuleType) -> None:
    clock = Clock()
    store = store_module.Store(retention=100, clock=clock)
    run(store, "old", 1000)
    run(store, "new", 1050)
    clock.now = 1100
    assert store.evict(10) == 0  # "old" finished exactly 100 ago: not older than the retention
    clock.now = 1101
    assert store.evict(10) == 1
    assert gone(store, "old")
    assert not gone(store, "new")
    clock.now = 2000
    run(store, "latest", 1990)  # a final write evicts what is due
    assert gone(store, "new")
    assert store.stats()["evictions"] == 2
    store._check()


def test_unfinished_invocations_are_never_evicted(store_module: ModuleType) -> None:
    clock = Clock()
    store = store_module.Store(retention=100, clock=clock)
    start(store, "running", 0)
    store.upsert_invocations([row("registered-only")])
    run(store, "retried", 5)
    store.add_histories(["retried"], 6, "retried-retry")  # a later non-final record: running again
    clock.now = 10**9
    store.evict(100)
    assert not gone(store, "running")
    assert store.get_invocation("registered-only") is not None
    assert store.get_history("retried")[-1] == "retried-retry"
    assert store.stats()["finished"] == 0
    store.add_histories(["retried"], 7, "retried-success", True)
    assert gone(store, "retried")
    store._check()


def test_a_final_record_older_than_the_latest_does_not_finish_an_invocation(store_module: ModuleType) -> None:
    store = store_module.Store(max_finished=0)
    start(store, "a", 10)
    store.add_histories(["a"], 5, "a-late-final", True)
    assert store.stats()["finished"] == 0
    assert store.get_history("a") == ["a-late-final", "a-running"]
    store._check()


def test_children_are_kept_while_their_parent_runs(store_module: ModuleType) -> None:
    store = store_module.Store(max_finished=0)
    start(store, "parent", 0)
    for number in range(3):
        run(store, f"child{number}", 10 + number, parent="parent")
    assert not any(gone(store, f"child{n}") for n in range(3))
    assert store.stats()["held"] == 3
    assert store.get_result("child1") == "result-child1"
    store.add_histories(["parent"], 100, "parent-success", True)
    assert gone(store, "parent")
    while store.evict(1):
        pass
    assert all(gone(store, f"child{n}") for n in range(3))
    assert store.stats()["held"] == 0
    assert store.stats()["evictions"] == 4
    store._check()


def test_a_workflow_is_kept_while_its_root_runs_and_goes_whole(store_module: ModuleType) -> None:
    store = store_module.Store(max_finished=0)
    start(store, "root", 0, workflow="root")
    run(store, "step", 5, parent="root", workflow="root")
    run(store, "grandchild", 6, parent="step", workflow="root")  # parent finished, root running
    store.set_workflow_data("root", "key", "value")
    store.add_sub_invocation("root", "step")
    store.add_workflow_run("T", "type-T", "root", "run-root")
    store._check()
    assert not gone(store, "grandchild")
    assert store.stats()["held"] == 2
    store.add_histories(["root"], 50, "root-success", True)
    store.evict(10)
    assert all(gone(store, inv_id) for inv_id in ["root", "step", "grandchild"])
    assert store.get_workflow_data("root", "key") is None
    assert store.sub_invocation_ids("root") == []
    assert store.workflow_runs() == store.workflow_types() == []
    assert store.stats()["workflows"] == 0
    store._check()


def test_a_type_keeps_its_other_runs(store_module: ModuleType) -> None:
    store = store_module.Store(max_finished=1)
    for name in ["w1", "w2"]:
        store.add_workflow_run("T", "type-T", name, f"run-{name}")
        run(store, name, 10 if name == "w1" else 20, workflow=name)
    assert store.workflow_runs("T") == ["run-w2"]
    assert store.workflow_types() == ["type-T"]


def test_nothing_is_evicted_within_its_grace_however_due(store_module: ModuleType) -> None:
    clock = Clock()
    store = store_module.Store(max_finished=1, grace=100, clock=clock)
    for number, at in enumerate([10, 20, 30, 40]):
        run(store, f"i{number}", at)
    assert store.stats()["evictions"] == 0  # all four are past the limit's one, none past the grace
    clock.now = 109
    assert store.evict(10) == 0
    clock.now = 110  # i0 finished exactly the grace ago
    assert store.evict(10) == 1 and gone(store, "i0")
    clock.now = 1000
    assert store.evict(10) == 2 and [gone(store, f"i{n}") for n in range(1, 4)] == [True, True, False]
    store._check()


def test_the_grace_outlasts_a_shorter_retention(store_module: ModuleType) -> None:
    clock = Clock()
    store = store_module.Store(retention=10, grace=50, clock=clock)
    run(store, "a", 100)
    clock.now = 149
    assert store.evict(10) == 0
    clock.now = 150
    assert store.evict(10) == 1 and gone(store, "a")
    store._check()


def test_each_write_evicts_a_few_so_a_backlog_drains_in_small_steps(store_module: ModuleType) -> None:
    clock = Clock()
    store = store_module.Store(retention=10, clock=clock)
    for number in range(100):
        run(store, f"i{number}", number)
    assert store.stats()["evictions"] == 0
    clock.now = 10**6  # all 100 are due at once
    run(store, "next", clock.now)
    assert store.stats()["evictions"] == EVICTIONS_PER_FINAL
    assert store.evict(30) == 30
    assert store.evict(1000) == 68
    assert store.stats()["invocations"] == 1
    store._check()


def test_an_id_written_again_after_eviction_starts_afresh(store_module: ModuleType) -> None:
    store = store_module.Store(max_finished=0)
    run(store, "a", 10)
    assert gone(store, "a")
    store.add_histories(["a"], 20, "a-late")
    assert store.get_history("a") == ["a-late"]
    assert store.stats()["finished"] == 0
    store._check()


def test_each_eviction_is_told_after_the_locks_are_released(store_module: ModuleType) -> None:
    told: list[list[str]] = []

    def on_evict(evicted_ids: list[str]) -> None:
        told.append(evicted_ids)
        store.upsert_invocations([row(f"written-while-told-{len(told)}")])  # would deadlock under a lock
        assert store.get_invocation(evicted_ids[0]) is None

    store = store_module.Store(max_finished=1, on_evict=on_evict)
    for number, at in enumerate([10, 20, 30]):
        run(store, f"i{number}", at)
    assert told == [["i0"], ["i1"]]
    assert store.evict(10) == 0 and told == [["i0"], ["i1"]]  # nothing evicted, nobody told
    store._check()


def test_an_exception_from_on_evict_propagates_and_the_eviction_stands(store_module: ModuleType) -> None:
    def on_evict(evicted_ids: list[str]) -> None:
        raise RuntimeError(f"told of {evicted_ids}")

    store = store_module.Store(max_finished=0, on_evict=on_evict)
    with pytest.raises(RuntimeError, match=r"told of \['a'\]"):
        run(store, "a", 10)
    assert gone(store, "a") and store.was_evicted("a")
    store._check()


def test_on_evict_must_be_callable(store_module: ModuleType) -> None:
    with pytest.raises(TypeError, match="on_evict must be callable, got int"):
        store_module.Store(on_evict=1)


def test_the_store_remembers_the_latest_evicted_ids(store_module: ModuleType, monkeypatch: Any) -> None:
    monkeypatch.setattr(store_module, "EVICTED_IDS_REMEMBERED", 3)
    store = store_module.Store(max_finished=0)
    for number in range(5):
        run(store, f"i{number}", 10 * number + 10)
    assert [store.was_evicted(f"i{n}") for n in range(5)] == [False, False, True, True, True]
    assert not store.was_evicted("never-stored")
    run(store, "i4", 100)  # stored and evicted again: remembered once more, the oldest forgotten
    assert [store.was_evicted(f"i{n}") for n in range(5)] == [False, False, False, True, True]


def test_the_eviction_log_holds_a_fixed_number_of_bytes() -> None:
    """Eight bytes an id remembered, however many are evicted: the log must not grow a long run."""
    told: list[list[str]] = []
    log = _store_common.EvictionLog(told.append, remembered=1000)
    for first in range(0, 25_000, 100):
        log.record([f"id-{n}" for n in range(first, first + 100)])
    assert len(log._ring) == 8 * 1000 and len(told) == 250
    assert [f"id-{n}" in log for n in (23_999, 24_000, 24_999)] == [False, True, True]
    assert "id-0" not in log and "never" not in log


def test_stats_count_everything_held(store: Store) -> None:
    run(store, "a", 10, workflow="w")
    start(store, "b", 5, parent="a")
    store.set_runner_context("r", "ctx")
    store.set_result("b", b"12345")
    stats = store.stats()
    assert stats == {
        "invocations": 2,
        "finished": 1,
        "held": 0,
        "results": 2,
        "exceptions": 1,
        "value_bytes": len("result-a") + len("exception-a") + 5,
        "workflows": 1,
        "history_records": 4,
        "evictions": 0,
        "runner_contexts": 1,
        "bytes": stats["bytes"],
    }
    assert stats["bytes"] == stats["value_bytes"] + sum(
        stats[kind] * size for kind, size in type(store).ITEM_BYTES.items()
    )
    store.set_result("b", "1")  # a replaced value's size is subtracted
    assert store.stats()["value_bytes"] == stats["value_bytes"] - 4
    store.purge()
    assert set(store.stats().values()) == {0}


def test_items_list_everything_of_each_kind(store: Store) -> None:
    run(store, "a", 10, workflow="w")
    start(store, "b", 5)
    store.set_workflow_data("w", "k", 1)
    store.add_sub_invocation("w", "b")
    store.set_runner_context("r", "ctx")
    listed = {kind: [item for chunk in store.items(kind) for item in chunk] for kind in ITEM_KINDS}
    assert sorted(listed["invocations"]) == [("a", "value-a"), ("b", "value-b")]
    assert listed["histories"] == [
        ("b", "b-running"),
        ("a", "a-registered"),
        ("a", "a-running"),
        ("a", "a-success"),
    ]
    assert listed["results"] == [("a", "result-a")]
    assert listed["exceptions"] == [("a", "exception-a")]
    assert listed["workflow_data"] == [("w", "k", 1)]
    assert listed["sub_invocations"] == [("w", "b")]
    assert listed["runner_contexts"] == [("r", "ctx")]


def test_items_of_a_large_store_come_in_chunks(store: Store) -> None:
    for number in range(3000):
        store.add_histories([f"i{number}"], number, number)
    chunks = list(store.items("histories"))
    assert [len(chunk) for chunk in chunks] == [1024, 1024, 952]
    assert [record for chunk in chunks for _, record in chunk] == list(range(3000))


@pytest.mark.parametrize("max_finished", [0, 50])
def test_threads_finishing_and_evicting_lose_nothing_unfinished(
    store_module: ModuleType, max_finished: int
) -> None:
    store = store_module.Store(max_finished=max_finished)
    threads, per_thread = 4, 400

    def work(number: int) -> None:
        parent = f"parent{number}"
        start(store, parent, 0)
        for count in range(per_thread):
            inv_id = f"t{number}-{count}"
            run(store, inv_id, count + 1, parent=parent if count % 4 == 0 else None)
            start(store, f"u{number}-{count}", count)
            assert store.get_invocation(parent) is not None

    assert run_threads(functools.partial(work, number) for number in range(threads)) == []
    store._check()
    stats = store.stats()
    assert stats["finished"] + stats["evictions"] == threads * per_thread
    for number in range(threads):
        for count in range(per_thread):
            assert store.get_history(f"u{number}-{count}") == [f"u{number}-{count}-running"]
            if count % 4 == 0:
                assert store.get_result(f"t{number}-{count}") == f"result-t{number}-{count}"
    while store.evict(1000):
        pass
    stats = store.stats()
    children_of_running_parents = threads * per_thread // 4
    assert stats["held"] <= children_of_running_parents
    if max_finished == 0:
        assert stats["held"] == children_of_running_parents
    assert stats["finished"] == max_finished + stats["held"]
    store._check()
