"""The store interface, run against every store implementation."""

import functools
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from pynenc_fastmem._store_common import DEFAULT_STRIPES, READ_CHUNK
from pynenc_fastmem._store_py import Store

from ..support import flatten, populate_every_kind, run_threads


def row(
    inv_id: str,
    value: Any = None,
    parent: str | None = None,
    event: str | None = None,
    workflow: str | None = None,
    workflow_type: str | None = None,
) -> tuple[str, Any, str | None, str | None, str | None, str | None]:
    """An invocation row; the value defaults to a marker naming the id."""
    return (inv_id, value if value is not None else f"value-{inv_id}", parent, event, workflow, workflow_type)


def snapshot(store: Store) -> dict[str, Any]:
    """Everything observable through the store's queries, for unchanged-state checks."""
    ids = ["a", "b", "c", "x"]
    return {
        "invocations": {i: store.get_invocation(i) for i in ids},
        "children": {i: store.child_ids(i) for i in ids},
        "events": store.ids_by_parent_event("ev"),
        "workflow": store.ids_by_workflow(),
        "histories": {i: store.get_history(i) for i in ids},
        "range": flatten(store.history_in_range(-(2**62), 2**62)),
    }


# Invocations and relations


def test_upsert_and_get(store: Store) -> None:
    store.upsert_invocations([row("a"), row("b", parent="a")])
    assert store.get_invocation("a") == "value-a"
    assert store.get_invocation("b") == "value-b"
    assert store.get_invocation("missing") is None


def test_reupsert_replaces_value_without_duplicating_index_entries(store: Store) -> None:
    for version in range(3):
        store.upsert_invocations([row("child", f"v{version}", "p", "ev", "wf", "T")])
    assert store.get_invocation("child") == "v2"
    assert store.child_ids("p") == ["child"]
    assert store.ids_by_parent_event("ev") == ["child"]
    assert store.ids_by_workflow("wf") == ["child"]
    assert store.ids_by_workflow(workflow_type="T") == ["child"]
    store._check()


def test_reupsert_with_other_relations_moves_index_entries(store: Store) -> None:
    store.upsert_invocations([row("c", parent="p1", event="e1", workflow="w1", workflow_type="T1")])
    store.upsert_invocations([row("c", parent="p2", event=None, workflow="w2", workflow_type="T2")])
    assert store.child_ids("p1") == []
    assert store.child_ids("p2") == ["c"]
    assert store.ids_by_parent_event("e1") == []
    assert store.ids_by_workflow("w1") == []
    assert store.ids_by_workflow(workflow_type="T1") == []
    assert store.ids_by_workflow("w2", "T2") == ["c"]
    store._check()


def test_later_row_for_the_same_id_in_a_batch_wins(store: Store) -> None:
    store.upsert_invocations([row("a", "first", parent="p"), row("a", "second", parent="q")])
    assert store.get_invocation("a") == "second"
    assert store.child_ids("p") == []
    assert store.child_ids("q") == ["a"]


def test_children_and_event_children_keep_insertion_order(store: Store) -> None:
    store.upsert_invocations([row(f"c{i}", parent="p", event="ev") for i in range(5)])
    assert store.child_ids("p") == [f"c{i}" for i in range(5)]
    assert store.ids_by_parent_event("ev") == [f"c{i}" for i in range(5)]


def test_ids_by_workflow_filters(store: Store) -> None:
    store.upsert_invocations(
        [
            row("w1-a", workflow="w1", workflow_type="T"),
            row("w1-b", workflow="w1", workflow_type="U"),
            row("w2-a", workflow="w2", workflow_type="T"),
            row("none"),
        ]
    )
    assert sorted(store.ids_by_workflow()) == ["w1-a", "w1-b", "w2-a"]
    assert store.ids_by_workflow("w1") == ["w1-a", "w1-b"]
    assert sorted(store.ids_by_workflow(workflow_type="T")) == ["w1-a", "w2-a"]
    assert store.ids_by_workflow("w1", "T") == ["w1-a"]
    assert store.ids_by_workflow("w2", "U") == []
    assert store.ids_by_workflow("nope") == []


BAD_ROWS: list[tuple[object, type[Exception], str]] = [
    (("x",), TypeError, r"rows\[1\]"),
    ([row("x")], TypeError, r"rows\[1\]"),
    ((1, "v", None, None, None, None), TypeError, "invocation_id"),
    (("x", "v", 7, None, None, None), TypeError, "parent_id"),
    (("x", "v", None, b"ev", None, None), TypeError, "parent_event_id"),
    (("x", "v", None, None, 3, "T"), TypeError, "workflow_id"),
    (("x", "v", None, None, "w", None), ValueError, "workflow_type"),
]


@pytest.mark.parametrize(("bad", "error", "names"), BAD_ROWS)
def test_batch_with_one_bad_row_leaves_store_unchanged(
    store: Store, bad: object, error: type[Exception], names: str
) -> None:
    store.upsert_invocations([row("a", parent="x", event="ev", workflow="w", workflow_type="T")])
    store.add_histories(["a"], 5, "h")
    before = snapshot(store)
    with pytest.raises(error, match=names):
        store.upsert_invocations([row("b", parent="a"), bad, row("c", parent="a")])  # type: ignore[list-item]
    assert snapshot(store) == before
    store._check()


def test_rows_must_be_a_list(store: Store) -> None:
    with pytest.raises(TypeError, match="rows"):
        store.upsert_invocations(row("a"))  # type: ignore[arg-type]


# Histories and time ranges


def test_history_in_timestamp_order_with_ties_in_arrival_order(store: Store) -> None:
    for timestamp, record in [(20, "b"), (10, "a"), (30, "d"), (20, "c"), (10, "a2")]:
        store.add_histories(["i"], timestamp, record)
    assert store.get_history("i") == ["a", "a2", "b", "c", "d"]
    assert store.get_history("unknown") == []
    store._check()


def test_history_of_several_invocations_at_once(store: Store) -> None:
    store.add_histories(["a", "b"], 7, "shared")
    assert store.get_history("a") == ["shared"]
    assert store.get_history("b") == ["shared"]
    assert flatten(store.history_in_range(0, 10)) == ["shared", "shared"]


def test_history_in_range_is_inclusive_and_ordered(store: Store) -> None:
    for timestamp in [5, 1, 3, 2, 4, 3]:
        store.add_histories([f"i{timestamp}"], timestamp, f"r{timestamp}")
    assert flatten(store.history_in_range(2, 4)) == ["r2", "r3", "r3", "r4"]
    assert flatten(store.history_in_range(4, 2)) == []
    assert flatten(store.history_in_range(6, 9)) == []


def test_history_in_range_batches(store: Store) -> None:
    for timestamp in range(10):
        store.add_histories(["i"], timestamp, timestamp)
    batches = list(store.history_in_range(0, 9, batch_size=4))
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert list(store.history_in_range(0, 7, batch_size=4)) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_invocations_in_range_unique_in_order_of_earliest_record(store: Store) -> None:
    store.add_histories(["b"], 1, "b1")
    store.add_histories(["a"], 2, "a1")
    store.add_histories(["b"], 3, "b2")
    store.add_histories(["c"], 4, "c1")
    store.add_histories(["a"], 9, "a2")
    assert list(store.invocations_in_range(0, 5, batch_size=2)) == [["b", "a"], ["c"]]
    assert flatten(store.invocations_in_range(3, 9)) == ["b", "c", "a"]


def test_range_query_answers_what_was_written_before_it(store_module: Any) -> None:
    """Read lazily, a chunk per lock, a query answers the records written before it was called."""
    store = store_module.Store()
    chunk = READ_CHUNK
    for timestamp in range(chunk + 6):
        store.add_histories(["i"], timestamp, timestamp)
    batches = store.history_in_range(0, 10**6, batch_size=2)
    ids = store.invocations_in_range(0, 10**6, batch_size=1)
    store.add_histories(["j"], 10**5, "late")  # after the call, before the first read
    assert next(batches) == [0, 1]
    assert next(ids) == ["i"]
    store.add_histories(["k"], 10**5 + 1, "later")  # past the chunk read so far
    store.add_histories(["i"], 0, "too early")
    assert flatten(batches) == list(range(2, chunk + 6))
    assert flatten(ids) == []
    assert flatten(store.history_in_range(10**5, 10**6)) == ["late", "later"]
    store._check()


def test_a_range_query_over_a_growing_tail_ends(store: Store) -> None:
    """A writer appending inside the range as fast as it can does not keep a reader reading.

    The reader queries for a second while the writer writes, then stops it: a query that
    followed the writer's tail would never return, and the writer would never stop.
    """
    stop = threading.Event()
    written = [0]

    def write() -> None:
        while not stop.is_set():
            store.add_histories([f"w{written[0] % 100}"], written[0], written[0])
            written[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    queries = 0
    deadline = time.monotonic() + 1
    try:
        while time.monotonic() < deadline:
            before = written[0]
            records = flatten(store.history_in_range(0, 2**62, batch_size=1000))
            assert len(records) >= before
            assert records == sorted(records)
            queries += 1
    finally:
        stop.set()
        writer.join()
    assert queries >= 1


def test_range_queries_match_a_full_scan_over_a_large_index(store: Store) -> None:
    """Thousands of records (many per timestamp, written out of order): every range agrees with a scan."""
    rng = random.Random(7)
    timestamps = [index // 3 for index in range(12_000)]
    rng.shuffle(timestamps)
    arrivals = [0] * DEFAULT_STRIPES
    keys = []
    for arrival, timestamp in enumerate(timestamps):
        inv_id = f"i{arrival % 50}"
        store.add_histories([inv_id], timestamp, (timestamp, arrival))
        # Equal timestamps order by arrival within the id's lock stripe, then by stripe.
        stripe = hash(inv_id) % DEFAULT_STRIPES
        keys.append(((timestamp, arrivals[stripe], stripe), (timestamp, arrival)))
        arrivals[stripe] += 1
    records = [record for _, record in sorted(keys)]
    bounds = [(0, 3999), (-5, 10**6), (1000, 1000), (1999, 2001), (3999, 3999), (4000, 5000)]
    bounds += [tuple(sorted(rng.sample(range(-10, 4010), 2))) for _ in range(200)]
    for low, high in bounds:
        expected = [record for record in records if low <= record[0] <= high]
        assert flatten(store.history_in_range(low, high, batch_size=rng.randint(1, 3000))) == expected
        ids = list(dict.fromkeys(f"i{arrival % 50}" for _, arrival in expected))
        assert flatten(store.invocations_in_range(low, high)) == ids


def test_negative_and_far_future_timestamps(store: Store) -> None:
    for timestamp in [-(10**15), 0, 10**17]:
        store.add_histories(["i"], timestamp, timestamp)
    assert flatten(store.history_in_range(-(10**16), 10**18)) == [-(10**15), 0, 10**17]


@pytest.mark.parametrize("batch_size", [0, -1])
def test_batch_size_below_one_is_refused(store: Store, batch_size: int) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        store.history_in_range(0, 1, batch_size)
    with pytest.raises(ValueError, match="batch_size"):
        store.invocations_in_range(0, 1, batch_size)


def test_bad_history_arguments_leave_store_unchanged(store: Store) -> None:
    store.add_histories(["a"], 1, "h")
    before = snapshot(store)
    with pytest.raises(TypeError, match=r"invocation_ids\[1\]"):
        store.add_histories(["b", 2], 1, "h")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="timestamp"):
        store.add_histories(["b"], 1.5, "h")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="timestamp"):
        store.add_histories(["b"], True, "h")
    with pytest.raises(TypeError, match="invocation_ids"):
        store.add_histories("b", 1, "h")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="start"):
        store.history_in_range("0", 1)  # type: ignore[arg-type]
    assert snapshot(store) == before


# Results, exceptions, workflows, runner contexts


def test_results_and_exceptions(store: Store) -> None:
    with pytest.raises(KeyError):
        store.get_result("a")
    with pytest.raises(KeyError):
        store.get_exception("a")
    store.set_result("a", "r1")
    store.set_result("a", "r2")
    store.set_exception("a", "e")
    assert store.get_result("a") == "r2"
    assert store.get_exception("a") == "e"


def test_workflow_data(store: Store) -> None:
    assert store.get_workflow_data("w", "k") is None
    assert store.get_workflow_data("w", "k", 5) == 5
    store.set_workflow_data("w", "k", {"n": 1})
    assert store.get_workflow_data("w", "k") == {"n": 1}
    assert store.get_workflow_data("other", "k") is None


def test_workflow_runs_and_types(store: Store) -> None:
    store.add_workflow_run("T", "type-T", "w1", "run-w1")
    store.add_workflow_run("T", "type-T", "w2", "run-w2")
    store.add_workflow_run("T", "type-T", "w1", "run-w1-again")
    store.add_workflow_run("U", "type-U", "w3", "run-w3")
    assert store.workflow_types() == ["type-T", "type-U"]
    assert store.workflow_runs("T") == ["run-w1", "run-w2"]
    assert store.workflow_runs("missing") == []
    assert sorted(store.workflow_runs()) == ["run-w1", "run-w2", "run-w3"]


def test_sub_invocations(store: Store) -> None:
    store.add_sub_invocation("w", "s1")
    store.add_sub_invocation("w", "s2")
    store.add_sub_invocation("w", "s1")
    assert store.sub_invocation_ids("w") == ["s1", "s2"]
    assert store.sub_invocation_ids("other") == []


def test_runner_contexts(store: Store) -> None:
    store.set_runner_context("runner-abc", "ctx1")
    store.set_runner_context("runner-xyz", "ctx2")
    assert store.get_runner_context("runner-abc") == "ctx1"
    assert store.get_runner_context("nope") is None
    assert store.get_runner_contexts(["runner-xyz", "nope", "runner-abc"]) == ["ctx2", "ctx1"]
    assert store.match_runner_contexts("abc") == ["ctx1"]
    assert sorted(store.match_runner_contexts("runner")) == ["ctx1", "ctx2"]


def test_purge_clears_everything(store: Store) -> None:
    populate_every_kind(store).purge()
    assert store.get_invocation("a") is None
    assert store.child_ids("p") == store.ids_by_parent_event("e") == store.ids_by_workflow() == []
    assert store.get_history("a") == []
    assert flatten(store.history_in_range(0, 10)) == []
    with pytest.raises(KeyError):
        store.get_result("a")
    with pytest.raises(KeyError):
        store.get_exception("a")
    assert store.get_workflow_data("w", "k") is None
    assert store.workflow_types() == store.workflow_runs() == store.sub_invocation_ids("w") == []
    assert store.get_runner_context("r") is None
    store._check()


ID_TAKING_CALLS: list[tuple[str, Callable[[Store, Any], Any]]] = [
    ("invocation_id", lambda s, bad: s.get_invocation(bad)),
    ("parent_id", lambda s, bad: s.child_ids(bad)),
    ("parent_event_id", lambda s, bad: s.ids_by_parent_event(bad)),
    ("workflow_id", lambda s, bad: s.ids_by_workflow(bad)),
    ("workflow_type", lambda s, bad: s.ids_by_workflow(None, bad)),
    ("invocation_id", lambda s, bad: s.get_history(bad)),
    ("invocation_id", lambda s, bad: s.set_result(bad, "r")),
    ("invocation_id", lambda s, bad: s.get_result(bad)),
    ("invocation_id", lambda s, bad: s.set_exception(bad, "e")),
    ("invocation_id", lambda s, bad: s.get_exception(bad)),
    ("workflow_id", lambda s, bad: s.set_workflow_data(bad, "k", 1)),
    ("key", lambda s, bad: s.set_workflow_data("w", bad, 1)),
    ("workflow_id", lambda s, bad: s.get_workflow_data(bad, "k")),
    ("workflow_type", lambda s, bad: s.add_workflow_run(bad, "t", "w", "r")),
    ("workflow_id", lambda s, bad: s.add_workflow_run("T", "t", bad, "r")),
    ("workflow_type", lambda s, bad: s.workflow_runs(bad)),
    ("workflow_id", lambda s, bad: s.add_sub_invocation(bad, "i")),
    ("invocation_id", lambda s, bad: s.add_sub_invocation("w", bad)),
    ("workflow_id", lambda s, bad: s.sub_invocation_ids(bad)),
    ("runner_id", lambda s, bad: s.set_runner_context(bad, "c")),
    ("runner_id", lambda s, bad: s.get_runner_context(bad)),
    (r"runner_ids\[0\]", lambda s, bad: s.get_runner_contexts([bad])),
    ("partial_id", lambda s, bad: s.match_runner_contexts(bad)),
]


@pytest.mark.parametrize(("name", "call"), ID_TAKING_CALLS)
@pytest.mark.parametrize("bad", [1, b"bytes", ("t",)])
def test_non_str_ids_are_refused_naming_the_argument(
    store: Store, name: str, call: Callable[[Store, Any], Any], bad: object
) -> None:
    with pytest.raises(TypeError, match=name):
        call(store, bad)


def test_stripes_must_be_a_power_of_two(store_module: Any) -> None:
    with pytest.raises(ValueError, match="stripes"):
        store_module.Store(stripes=3)
    assert store_module.Store(stripes=1).get_invocation("a") is None


# Threads


def test_concurrent_writers_and_readers_lose_nothing(store: Store) -> None:
    """Writers and readers interleave at every bytecode; afterwards every record is there once."""
    writers, per_writer = 4, 300
    start = threading.Barrier(writers + 2)

    def write(w: int) -> None:
        start.wait()
        for i in range(per_writer):
            inv_id = f"w{w}-{i}"
            store.upsert_invocations([row(inv_id, parent=f"p{i % 7}", workflow=f"wf{w}", workflow_type="T")])
            store.add_histories([inv_id], (i * 7919) % 1000, (w, i, "a"))
            store.add_histories([inv_id], (i * 7919) % 1000 - 1, (w, i, "b"))
            store.set_result(inv_id, i)
            store.set_runner_context(f"runner-{w}", w)

    def read() -> None:
        start.wait()
        for i in range(per_writer):
            store.child_ids(f"p{i % 7}")
            store.ids_by_workflow(workflow_type="T")
            flatten(store.history_in_range(0, 1000, batch_size=17))
            flatten(store.invocations_in_range(0, 1000, batch_size=17))
            store.match_runner_contexts("runner")
            store.get_history(f"w0-{i}")

    errors = run_threads([*(functools.partial(write, w) for w in range(writers)), read, read])
    assert errors == []
    store._check()
    all_ids = [f"w{w}-{i}" for w in range(writers) for i in range(per_writer)]
    assert sorted(store.ids_by_workflow()) == sorted(all_ids)
    assert sorted(flatten(store.child_ids(f"p{k}") for k in range(7))) == sorted(all_ids)
    for w in range(writers):
        for i in range(per_writer):
            inv_id = f"w{w}-{i}"
            assert store.get_history(inv_id) == [(w, i, "b"), (w, i, "a")]
            assert store.get_result(inv_id) == i
    assert len(flatten(store.history_in_range(-1, 1000))) == 2 * len(all_ids)
    assert sorted(flatten(store.invocations_in_range(-1, 1000))) == sorted(all_ids)


def test_threads_moving_the_same_invocations_leave_each_in_its_last_row_s_indexes(store: Store) -> None:
    """Writers upsert the same ids with other relations at once (one row, then batches)."""
    ids = [f"shared-{i}" for i in range(12)]
    writers, rounds = 4, 200
    start = threading.Barrier(writers)

    def moved(w: int, r: int, inv_id: str) -> tuple[Any, ...]:
        return row(inv_id, (w, r), f"p{w}", f"e{r % 2}", f"wf{(w + r) % 3}", f"T{w % 2}")

    def write(w: int) -> None:
        start.wait()
        for r in range(rounds):
            if r % 2:
                store.upsert_invocations([moved(w, r, inv_id) for inv_id in ids])
            else:
                for inv_id in ids:
                    store.upsert_invocations([moved(w, r, inv_id)])

    errors = run_threads([functools.partial(write, w) for w in range(writers)])
    assert errors == []
    store._check()

    def holding(index: Any, keys: list[str], inv_id: str) -> list[str]:
        return [key for key in keys if inv_id in index(key)]

    for inv_id in ids:
        w, r = store.get_invocation(inv_id)
        assert holding(store.child_ids, [f"p{k}" for k in range(writers)], inv_id) == [f"p{w}"]
        assert holding(store.ids_by_parent_event, ["e0", "e1"], inv_id) == [f"e{r % 2}"]
        assert holding(store.ids_by_workflow, ["wf0", "wf1", "wf2"], inv_id) == [f"wf{(w + r) % 3}"]
        by_type = functools.partial(store.ids_by_workflow, None)
        assert holding(by_type, ["T0", "T1"], inv_id) == [f"T{w % 2}"]


class LoudId(str):
    """A str subclass whose hash and equality would run user code inside the store's locks."""

    def __hash__(self) -> int:
        raise AssertionError("user __hash__ ran")

    def __eq__(self, other: object) -> bool:
        raise AssertionError("user __eq__ ran")


def test_str_subclass_ids_are_stored_as_plain_str(store: Store) -> None:
    store.upsert_invocations([row(LoudId("a"), parent=LoudId("p"))])
    store.add_histories([LoudId("a")], 1, "h")
    store.set_result(LoudId("a"), "r")
    assert store.get_invocation(LoudId("a")) == "value-a"
    assert [type(i) for i in store.child_ids("p")] == [str]
    assert store.get_history(LoudId("a")) == ["h"]
    assert store.get_result(LoudId("a")) == "r"
    store._check()


def test_a_displaced_value_is_released_after_the_locks(store: Store) -> None:
    """A value whose finalizer writes to the store must not deadlock the write replacing it."""

    class Reentrant:
        def __del__(self) -> None:
            store.set_result("other", "written from a finalizer")
            store.upsert_invocations([row("from-del")])
            store.set_runner_context("r", "from-del")

    store.set_result("a", Reentrant())
    store.set_result("a", "replaced")
    store.upsert_invocations([row("b", Reentrant())])
    store.upsert_invocations([row("b", "replaced")])
    store.set_runner_context("r", Reentrant())
    store.set_runner_context("r", "replaced")
    store.set_workflow_data("w", "k", Reentrant())
    store.set_workflow_data("w", "k", "replaced")
    assert store.get_result("other") == "written from a finalizer"
    store.set_result("c", Reentrant())
    store.purge()
    assert store.get_invocation("from-del") == "value-from-del"


MICROS_CASES = [
    (datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC), 1795780800123456),
    (datetime(2026, 11, 27, 12, 0, 0, 123456), 1795780800123456),
    (datetime(2026, 11, 27, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))), 1795780800123456),
    (datetime(1969, 12, 31, 23, 59, 59, 999999), -1),
    (datetime(1970, 1, 1), 0),
    (datetime(1, 1, 1), -62135596800000000),
    (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), 253402300799999999),
    (datetime(2000, 2, 29, tzinfo=timezone(timedelta(hours=-5, minutes=-30))), 951802200000000),
]


@pytest.mark.parametrize(("moment", "expected"), MICROS_CASES)
def test_micros_is_exact_and_takes_naive_as_utc(store_module: Any, moment: datetime, expected: int) -> None:
    assert store_module.micros(moment, "t") == expected
    assert expected == (
        moment.replace(tzinfo=moment.tzinfo or UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    ) // timedelta(microseconds=1)


@pytest.mark.parametrize("bad", ["2026-01-01", 0, None, date(2026, 1, 1)])
def test_micros_refuses_what_is_not_a_datetime(store_module: Any, bad: object) -> None:
    with pytest.raises(TypeError, match="start_time"):
        store_module.micros(bad, "start_time")


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1])
def test_timestamps_must_fit_in_64_bits(store: Store, bad: int) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        store.add_histories(["a"], bad, "h")
    store.add_histories(["a"], 2**63 - 1, "max")
    store.add_histories(["a"], -(2**63), "min")
    assert flatten(store.history_in_range(-(2**63), 2**63 - 1)) == ["min", "max"]
    assert store.get_history("a") == ["min", "max"]
