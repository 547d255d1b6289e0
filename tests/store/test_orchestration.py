"""The store's orchestration part (``Store.orchestration``), on both implementations."""

import random
import threading
from typing import Any

import pytest

from pynenc_fastmem import _store_py

Orchestration = Any  # either twin's; they share this interface


@pytest.fixture
def orchestration(store: _store_py.Store) -> Orchestration:
    return store.orchestration


def _register(
    orchestration: Orchestration, *rows: tuple[str, str, str], status: str = "REGISTERED"
) -> object:
    record = object()
    orchestration.register(list(rows), status, record)
    return record


def test_register_sets_status_record_and_retries(orchestration: Orchestration) -> None:
    record = _register(orchestration, ("a", "t1", "c1"), ("b", "t1", "c2"))
    assert orchestration.status_record("a") is record and orchestration.status("b") == "REGISTERED"
    assert orchestration.status_record("x") is None and orchestration.status("x") is None
    assert orchestration.retries("a") == 0
    assert orchestration.task_ids("t1") == ["a", "b"] and orchestration.call_ids("c2") == ["b"]
    assert orchestration.count() == 2 and orchestration.count("t1", ["REGISTERED"]) == 2
    orchestration._check()


def test_transition_is_a_compare_and_set_on_the_record(orchestration: Orchestration) -> None:
    first = _register(orchestration, ("a", "t", "c"))
    pending = object()
    assert orchestration.transition("a", first, "PENDING", pending)
    assert not orchestration.transition("a", first, "RUNNING", object()), "a stale record must not win"
    assert orchestration.status_record("a") is pending
    assert orchestration.transition("new", None, "PENDING", object()), "no record: expected None"
    assert not orchestration.transition("new", None, "PENDING", object())
    assert orchestration.status("new") == "PENDING"
    assert orchestration.count(None, ["PENDING"]) == 1, "never registered: it has a status, listed nowhere"
    assert orchestration.page(None, None, 10) == ["a"] and orchestration.count("t", ["PENDING"]) == 1
    orchestration._check()


def test_pages_come_newest_transition_first(orchestration: Orchestration) -> None:
    records = {}
    for n in range(10):
        records[f"i{n}"] = _register(orchestration, (f"i{n}", f"t{n % 2}", f"c{n}"))
    assert orchestration.page(None, None, 3) == ["i9", "i8", "i7"]
    assert orchestration.page(None, None, 3, 8) == ["i1", "i0"]
    assert orchestration.page("t0", None, 10) == ["i8", "i6", "i4", "i2", "i0"]
    orchestration.transition("i2", records["i2"], "RUNNING", object())
    orchestration.transition("i5", records["i5"], "SUCCESS", object())
    assert orchestration.page(None, None, 2) == ["i5", "i2"]
    assert orchestration.page(None, ["RUNNING", "SUCCESS"], 10) == ["i5", "i2"]
    assert orchestration.page(None, ["REGISTERED", "RUNNING"], 3) == ["i2", "i9", "i8"]
    assert orchestration.page("t0", ["REGISTERED", "RUNNING"], 2, 1) == ["i8", "i6"]
    assert orchestration.page("t1", ["RUNNING"], 5) == []
    assert orchestration.page(None, None, 0) == []
    assert orchestration.count(None, ["REGISTERED", "RUNNING", "REGISTERED"]) == 9
    assert orchestration.count("t1", ["SUCCESS"]) == 1 and orchestration.count("nope") == 0


def test_find_intersects_task_arguments_and_statuses(orchestration: Orchestration) -> None:
    records = {}
    for n in range(6):
        records[f"i{n}"] = _register(orchestration, (f"i{n}", f"t{n % 2}", f"c{n}"))
        orchestration.index_arguments(f"i{n}", [("x", str(n % 3)), ("y", "same")])
    orchestration.transition("i0", records["i0"], "RUNNING", object())
    assert sorted(orchestration.find("t0", None, None)) == ["i0", "i2", "i4"]
    assert sorted(orchestration.find("t0", [("x", "0")], None)) == ["i0"]
    assert sorted(orchestration.find("t1", [("x", "0"), ("y", "same")], None)) == ["i3"]
    assert orchestration.find("t0", [("x", "0")], ["REGISTERED"]) == []
    assert orchestration.find("t0", [("x", "0")], ["RUNNING", "REGISTERED"]) == ["i0"]
    assert orchestration.find("t0", [("x", "nothing")], None) == []
    assert orchestration.find("t9", None, None) == []
    orchestration._check()


def test_retries_count_up(orchestration: Orchestration) -> None:
    _register(orchestration, ("a", "t", "c"))
    assert [orchestration.add_retry("a") for _ in range(3)] == [1, 2, 3]
    assert orchestration.retries("a") == 3
    _register(orchestration, ("a", "t", "c"))
    assert orchestration.retries("a") == 0, "registered again: its retries start again"


def test_waits_mark_ready_what_waits_for_nothing(orchestration: Orchestration) -> None:
    orchestration.wait_for("parent", ["child1", "child2"])
    orchestration.wait_for("grandparent", ["parent"])
    assert orchestration.ready_ids() == ["child1", "child2"]
    orchestration.release_waiters("child1")
    assert orchestration.ready_ids() == ["child2"]
    orchestration.release_waiters("child2")
    assert orchestration.ready_ids() == ["parent"], "the parent waits for nothing now"
    orchestration.release_waiters("parent")
    assert orchestration.ready_ids() == []


def test_heartbeats_keep_creation_and_queues(orchestration: Orchestration) -> None:
    orchestration.heartbeat(["r2", "r1"], 100, True, ["q"])
    orchestration.heartbeat(["r1"], 200, False, None)
    assert orchestration.runners(0) == [("r1", 100, 200, False, ("q",)), ("r2", 100, 100, True, ("q",))]
    assert orchestration.runners(150) == [("r1", 100, 200, False, ("q",))]


def test_executions_are_exclusive_while_one_runs(orchestration: Orchestration) -> None:
    assert orchestration.start_execution("run1", 10, None, "v1", True) is None
    assert orchestration.start_execution("run2", 20, None, "v2", True) == "v1", "run1 is running"
    orchestration.finish_execution("run1", 30, lambda value: value + "-done", "unused")
    orchestration.finish_execution("run1", 40, lambda value: value + "-again", "unused")
    orchestration.finish_execution("run3", 50, lambda value: "never", "v3")
    assert orchestration.executions() == [(10, 30, "v1-done"), (50, 50, "v3")]
    assert orchestration.start_execution("run4", 60, None, "v4", True) is None
    assert orchestration.trim_executions(45, None, set()) == 1, "run1 ended before 45"
    assert orchestration.trim_executions(None, 1, {"run3"}) == 0, "run3 is protected, run4 is the latest"
    assert orchestration.trim_executions(None, 0, set()) == 2
    assert orchestration.executions() == []


def test_auto_purge_drops_what_was_queued_before_the_cutoff(orchestration: Orchestration) -> None:
    for n in range(4):
        _register(orchestration, (f"i{n}", "t", "c"))
        orchestration.index_arguments(f"i{n}", [("k", "v")])
        orchestration.queue_auto_purge(f"i{n}", n * 10)
    orchestration.queue_auto_purge("i3", 0)  # queued again: its first time stays, as MemOrchestrator's
    assert orchestration.auto_purge(20) == 3
    assert orchestration.task_ids("t") == ["i3"] and orchestration.find("t", [("k", "v")], None) == ["i3"]
    assert orchestration.count() == 1
    orchestration._check()


def test_purge_empties_it_all(orchestration: Orchestration) -> None:
    _register(orchestration, ("a", "t", "c"))
    orchestration.index_arguments("a", [("k", "v")])
    orchestration.wait_for("a", ["b"])
    orchestration.heartbeat(["r"], 1, True, None)
    orchestration.start_execution("run", 1, None, "v", True)
    orchestration.purge()
    assert orchestration.count() == 0 and orchestration.status_record("a") is None
    assert (
        orchestration.ready_ids() == []
        and orchestration.runners(0) == []
        and orchestration.executions() == []
    )
    assert orchestration.counts() == {"statuses": 0}
    orchestration._check()


BAD_CALLS = {
    "register: rows not a list": ("register", ("a", "t", "c"), "S", None),
    "register: a row of two": ("register", [("a", "t")], "S", None),
    "register: an id not a str": ("register", [("a", "t", "c"), (1, "t", "c")], "S", None),
    "register: status not a str": ("register", [("a", "t", "c")], 3, None),
    "transition: id not a str": ("transition", 5, None, "S", None),
    "index_arguments: pair not a tuple": ("index_arguments", "a", [["k", "v"]]),
    "index_arguments: value not a str": ("index_arguments", "a", [("k", 1)]),
    "page: negative limit": ("page", None, None, -1),
    "page: statuses not a list": ("page", None, "RUNNING", 1),
    "count: task not a str": ("count", 3, None),
    "heartbeat: time not an int": ("heartbeat", ["r"], 1.5, True, None),
    "start_execution: start not an int": ("start_execution", "run", "now", None, "v", True),
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_input_is_refused_with_nothing_written(
    orchestration: Orchestration, call: tuple[Any, ...]
) -> None:
    _register(orchestration, ("kept", "t", "c"))
    before = (orchestration.counts(), orchestration.page(None, None, 10), orchestration.executions())
    method, *args = call
    with pytest.raises((TypeError, ValueError)):
        getattr(orchestration, method)(*args)
    assert (orchestration.counts(), orchestration.page(None, None, 10), orchestration.executions()) == before
    orchestration._check()


def test_eviction_drops_the_orchestration_state_in_the_same_step(store_module: Any) -> None:
    store = store_module.Store(max_finished=2, clock=lambda: 10**12)
    orchestration = store.orchestration
    for n in range(6):
        invocation_id = f"i{n}"
        store.upsert_invocations([(invocation_id, "value", None, None, None, None)])
        record = _register(orchestration, (invocation_id, "t", f"c{n}"))
        orchestration.index_arguments(invocation_id, [("k", str(n))])
        orchestration.transition(invocation_id, record, "SUCCESS", object())
        orchestration.queue_auto_purge(invocation_id, n)
        store.add_histories([invocation_id], n, "final", final=True)
    kept = sorted(i for batch in store.items("invocations") for i, _ in batch)
    assert kept == ["i4", "i5"]
    assert sorted(orchestration.task_ids("t")) == kept and orchestration.count() == 2
    assert orchestration.find("t", [("k", "0")], None) == [] and orchestration.call_ids("c0") == []
    assert orchestration.counts() == {"statuses": 2, "SUCCESS": 2}
    assert orchestration.auto_purge(10**12) == 2, "only the kept ones are still queued"
    orchestration._check()
    store._check()


class _Model:
    """What the orchestration part must answer, kept the plain way."""

    def __init__(self) -> None:
        self.states: dict[str, tuple[str, object, str]] = {}  # id -> (status, record, task)
        self.order: list[str] = []  # by last transition, oldest first

    def touch(self, invocation_id: str, status: str, record: object, task: str) -> None:
        self.states[invocation_id] = (status, record, task)
        if invocation_id in self.order:
            self.order.remove(invocation_id)
        self.order.append(invocation_id)

    def page(self, task: str | None, statuses: list[str] | None, limit: int, offset: int) -> list[str]:
        chosen = [
            i
            for i in reversed(self.order)
            if (task is None or self.states[i][2] == task) and (not statuses or self.states[i][0] in statuses)
        ]
        return chosen[offset : offset + limit]


def test_random_operations_agree_with_a_model(orchestration: Orchestration) -> None:
    rng = random.Random(7)
    model = _Model()
    statuses = ["REGISTERED", "PENDING", "RUNNING", "SUCCESS"]
    for step in range(600):
        invocation_id, task = f"i{rng.randrange(40)}", f"t{rng.randrange(3)}"
        if rng.random() < 0.3 or invocation_id not in model.states:
            record = _register(orchestration, (invocation_id, task, "c"))
            model.touch(invocation_id, "REGISTERED", record, task)
        else:
            _, record, task = model.states[invocation_id]
            new_status, new_record = rng.choice(statuses), object()
            assert orchestration.transition(invocation_id, record, new_status, new_record)
            model.touch(invocation_id, new_status, new_record, task)
        task_filter = rng.choice([None, "t0", "t1", "t2"])
        status_filter = rng.choice([None, ["RUNNING"], ["PENDING", "SUCCESS"]])
        limit, offset = rng.randrange(6), rng.randrange(8)
        assert orchestration.page(task_filter, status_filter, limit, offset) == model.page(
            task_filter, status_filter, limit, offset
        ), step
        assert orchestration.count(task_filter, status_filter) == len(
            model.page(task_filter, status_filter, 10**6, 0)
        )
    orchestration._check()


def test_readers_never_fail_while_writers_write(orchestration: Orchestration) -> None:
    """Readers list, count and filter the whole time; each writer's transitions all land."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def write(prefix: str) -> None:
        for n in range(1500):
            invocation_id = f"{prefix}{n}"
            record = _register(orchestration, (invocation_id, prefix, f"c{n}"))
            orchestration.index_arguments(invocation_id, [("k", str(n % 7))])
            for status in ("PENDING", "RUNNING", "SUCCESS"):
                new = object()
                assert orchestration.transition(invocation_id, record, status, new)
                record = new

    def read() -> None:
        try:
            while not stop.is_set():
                orchestration.page(None, None, 20, 5)
                orchestration.page("w0", ["RUNNING", "SUCCESS"], 20)
                orchestration.count(None, ["SUCCESS"])
                orchestration.find("w1", [("k", "3")], ["SUCCESS"])
                orchestration.task_ids("w0")
                orchestration.records("RUNNING")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(f"w{n}",)) for n in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stop.set()
    reader.join()
    assert errors == []
    assert orchestration.count(None, ["SUCCESS"]) == 3000 and orchestration.count() == 3000
    assert len(orchestration.task_ids("w0")) == 1500
    orchestration._check()
