"""Fault injection: every store operation, failed at each allocation and interrupted at each line.

Run as a script in a child process (``tests/store/test_faults.py`` does), so a crash
ends the child, not the test run::

    python tests/store/fault_sweep.py python nomemory [--max-points 400] [--grown]

For each operation it builds the same small store, makes the injection point
``k`` fail (``nomemory``: every allocation from the ``k``-th on fails, with
CPython's ``_testcapi.set_nomemory``; ``interrupt``: ``KeyboardInterrupt`` is
raised at the ``k``-th Python line run, from a trace function) and runs the
operation, for ``k = 1, 2, ...`` until it runs to the end without the fault
firing. Memory stays exhausted from the ``k``-th allocation until the operation
returns. With ``--grown`` the store has also grown to the edge of a resize: its
one stripe's invocations, histories and results each hold as many items as a
dict takes before it must grow (85), so the next new item resizes one inside
the locked region, and ``max_finished`` is at its limit, so each final record
written evicts the oldest finished invocation in the same call. The grown
records are older than the range the reads ask for, but every read first merges
them into the time index, under its lock. After each fault, with
memory and tracing back to normal:

- the store's invariant check passes;
- what every query answers is the store as it was before the operation, or
  as the operation leaves it when nothing fails (for eviction, each
  invocation as it was or as it ends up: invocations go whole);
- another thread can still take every lock (``purge`` takes them all, and
  ``was_evicted`` the eviction log's) within a few seconds, so no lock was
  left held.

It prints one JSON line: per operation, how many points ran, how many faults
fired, the largest ``k`` reached and whether the operation then completed;
and every failure, each with its operation and ``k``. It exits 0 when there is
no failure, 1 otherwise, 3 on a hang.
"""

from __future__ import annotations

import _testcapi
import argparse
import faulthandler
import functools
import importlib
import json
import os
import sys
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

MISSING = "<missing>"
WATCHDOG_SECONDS = 1200  # less than test_faults.py's subprocess timeout, so the stacks get printed
RETENTION = 100
DUE = 10_000  # a clock reading at which every finished invocation is due
IDS = ["p", "p2", "c1", "c2", "c3", "w", "w1", "w2", "s1", "s2", "s3", "s4", "n1", "n2", "n3", "n4"]
KEYS = ["p", "p2", "e", "w", "T", "U"]
DICT_EDGE = 85  # the items a dict grown one at a time holds before its next insertion resizes it
GROWN_IDS = [f"g{number:03}" for number in range(DICT_EDGE - 12)]  # 12: the invocations populate adds


def populate(store: Any) -> None:
    """A small store with every kind of item: relations, workflows, finished and running invocations."""
    store.upsert_invocations(
        [
            ("p", "vp", None, None, None, None),
            ("p2", "vp2", None, None, None, None),
            ("c1", "vc1", "p", "e", None, None),
            ("c2", "vc2", "p", "e", None, None),
            ("c3", "vc3", "p", None, None, None),
            ("w", "vw", None, None, "w", "T"),
            ("w1", "vw1", "w", None, "w", "T"),
            ("w2", "vw2", "w", None, "w", "T"),
            ("s1", "vs1", None, None, None, None),
            ("s2", "vs2", None, None, None, None),
            ("s3", "vs3", None, None, None, None),
            ("s4", "vs4", None, None, None, None),
        ]
    )
    for number, inv_id in enumerate(["p", "p2", "c1", "c2", "c3", "w", "w1", "w2", "s1", "s2", "s3", "s4"]):
        store.add_histories([inv_id], 10 + number, f"{inv_id}-registered")
    for number, inv_id in enumerate(["c1", "c2", "w1", "s1", "s2", "s3", "p2"]):
        store.add_histories([inv_id], 30 + number, f"{inv_id}-done", final=True)
    store.add_histories(["s4", "c3"], 25, "shared")
    for inv_id in ["c1", "s1", "s2", "w1"]:
        store.set_result(inv_id, f"result-{inv_id}")
    store.set_exception("s3", "boom")
    store.set_workflow_data("w", "a", 1)
    store.add_workflow_run("T", "type-T", "w", "run-w")
    store.add_sub_invocation("w", "w1")
    store.set_runner_context("r1", "ctx-1")
    populate_orchestration(store.orchestration)


ORCHESTRATED = ["p", "c1", "c2", "c3", "w", "w1", "s1", "s2", "s3", "s4"]


def populate_orchestration(orchestration: Any) -> None:
    """Statuses, key arguments, retries, waits, runners and executions for populate's invocations."""
    orchestration.register(
        [(inv_id, f"T{number % 2}", f"call-{inv_id}") for number, inv_id in enumerate(ORCHESTRATED)],
        "REG",
        "reg",
    )
    for inv_id in ORCHESTRATED[2:]:
        orchestration.transition(inv_id, "reg", "RUN", f"run-{inv_id}")
        orchestration.index_arguments(inv_id, [("k", inv_id[0]), ("j", "1")])
    for inv_id in ["c1", "s1", "s2"]:
        orchestration.transition(inv_id, f"run-{inv_id}", "DONE", f"done-{inv_id}")
        orchestration.queue_auto_purge(inv_id, 40)
    orchestration.add_retry("s2")
    orchestration.wait_for("p", ["c1", "c2", "c3"])
    orchestration.wait_for("w", ["w1"])
    orchestration.heartbeat(["r1", "r2"], 50, True, ["q"])
    orchestration.start_execution("run-a", 10, 20, "exec-a", False)
    orchestration.start_execution("run-b", 30, None, "exec-b", True)


def grow(store: Any) -> None:
    """Bring the store to the edge of a resize: see the module's docstring."""
    store.upsert_invocations([(inv_id, f"v{inv_id}", "p2", None, None, None) for inv_id in GROWN_IDS])
    for number, inv_id in enumerate(GROWN_IDS):
        store.add_histories([inv_id], 1 + number % 9, f"{inv_id}-registered")
    for inv_id in GROWN_IDS[::2]:
        store.add_histories([inv_id], 5, f"{inv_id}-done", final=True)
    without_result = ["p", "p2", "c2", "c3", "w", "w2", "s3", "s4"]
    for inv_id in GROWN_IDS + without_result:  # with populate's 4 results: DICT_EDGE
        store.set_result(inv_id, f"result-{inv_id}")


def _flatten(batches: Any) -> list[Any]:
    return [item for batch in batches for item in batch]


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except KeyError:
        return MISSING


def observe(store: Any, ids: list[str] = IDS) -> dict[Any, Any]:
    """Everything a caller can see, by query."""
    seen: dict[Any, Any] = {}
    for inv_id in ids:
        seen["invocation", inv_id] = store.get_invocation(inv_id)
        seen["history", inv_id] = store.get_history(inv_id)
        seen["result", inv_id] = _outcome(lambda i=inv_id: store.get_result(i))
        seen["exception", inv_id] = _outcome(lambda i=inv_id: store.get_exception(i))
    for key in KEYS + ids:
        seen["children", key] = store.child_ids(key)
        seen["events", key] = store.ids_by_parent_event(key)
        seen["workflow", key] = store.ids_by_workflow(key)
        seen["type", key] = store.ids_by_workflow(workflow_type=key)
        seen["subs", key] = store.sub_invocation_ids(key)
        seen["data", key] = [store.get_workflow_data(key, name, MISSING) for name in ["a", "b"]]
    seen["all workflows"] = sorted(store.ids_by_workflow())
    seen["types"] = store.workflow_types()
    seen["runs"] = sorted(map(str, store.workflow_runs()))
    seen["runners"] = sorted(map(str, store.match_runner_contexts("")))
    seen["range"] = _flatten(store.history_in_range(-(2**63), 2**63 - 1, 3))
    seen["range ids"] = _flatten(store.invocations_in_range(-(2**63), 2**63 - 1, 2))
    seen["stats"] = store.stats()
    observe_orchestration(store.orchestration, ids, seen)
    return seen


def observe_orchestration(orchestration: Any, ids: list[str], seen: dict[Any, Any]) -> None:
    """What the orchestration part answers, added to ``seen``."""
    for inv_id in ids:
        seen["status", inv_id] = (orchestration.status(inv_id), orchestration.status_record(inv_id))
        seen["retries", inv_id] = orchestration.retries(inv_id)
    for task in ["T0", "T1", "T9"]:
        seen["task ids", task] = orchestration.task_ids(task)
        seen["found", task] = sorted(orchestration.find(task, [("j", "1")], ["RUN", "DONE"]))
        seen["task page", task] = orchestration.page(task, ["REG", "DONE"], 4, 1)
    seen["page"] = orchestration.page(None, None, 100)
    seen["counts"] = orchestration.counts()
    seen["count running"] = orchestration.count(None, ["RUN", "REG"])
    seen["call ids"] = [orchestration.call_ids(f"call-{inv_id}") for inv_id in ids]
    seen["ready"] = orchestration.ready_ids()
    seen["runners"] = orchestration.runners(0)
    seen["executions"] = orchestration.executions()


def per_invocation(seen: dict[Any, Any], ids: list[str]) -> dict[str, tuple[Any, ...]]:
    """What the observation says of each of ``ids``: its own items and the lists it is in."""
    listed_in: dict[str, list[Any]] = {inv_id: [] for inv_id in ids}
    for key, members in seen.items():
        if isinstance(key, tuple) and key[0] in ("children", "events", "workflow"):
            for member in members:
                if member in listed_in:
                    listed_in[member] += [key]
    for key, members in seen.items():
        if isinstance(key, tuple) and key[0] in ("task ids", "found"):
            for member in members:
                if member in listed_in:
                    listed_in[member] += [key]
    kinds = ["invocation", "history", "result", "exception", "subs", "data", "status", "retries"]
    return {
        inv_id: (*[repr(seen[kind, inv_id]) for kind in kinds], tuple(sorted(listed_in[inv_id])))
        for inv_id in ids
    }


class Operation:
    """One store call to fault, on a store made by ``make``; ``per_invocation`` checks evictions."""

    def __init__(
        self, name: str, call: Callable[[Any], Any], *, retention: bool = False, per_invocation: bool = False
    ) -> None:
        self.name, self.call, self.retention, self.per_invocation = name, call, retention, per_invocation

    def make(self, module: Any, grown: bool) -> tuple[Any, list[int]]:
        clock = [0]
        options: dict[str, Any] = (
            {"retention": RETENTION, "clock": lambda: clock[0]} if self.retention else {}
        )
        if not grown:
            store = module.Store(stripes=4, **options)
            populate(store)
        else:
            store = module.Store(stripes=1, max_finished=finished_when_grown(module), **options)
            populate(store)
            grow(store)
        clock[0] = DUE
        return store, clock


@functools.cache
def finished_when_grown(module: Any) -> int:
    """How many finished invocations the grown store keeps unheld: its ``max_finished``, at the limit."""
    store = module.Store(stripes=1)
    populate(store)
    grow(store)
    stats = store.stats()
    return int(stats["finished"] - stats["held"])


def _upsert(*row: Any) -> Callable[[Any], Any]:
    return lambda store: store.upsert_invocations([row])


OPERATIONS = [
    Operation("upsert a new invocation", _upsert("n1", "v", None, None, None, None)),
    Operation("upsert with relations", _upsert("n2", "v", "p", "e", "w", "T")),
    Operation("upsert moving relations", _upsert("c1", "v2", "p2", None, "w", "U")),
    Operation("upsert replacing a value", _upsert("s1", "new", None, None, None, None)),
    Operation(
        "upsert a batch",
        lambda s: s.upsert_invocations(
            [
                ("n3", "v3", "p2", "e", "w", "T"),
                ("w1", "vw1", "w", None, "w", "T"),
                ("c2", "moved", "p2", None, None, None),
                ("n4", "v4", None, "e", "w", "U"),
                ("n3", "last", "p", "e", None, None),
            ]
        ),
    ),
    Operation("add a record to a new history", lambda s: s.add_histories(["n1"], 60, "rec")),
    Operation("append a record", lambda s: s.add_histories(["s4"], 70, "rec")),
    Operation("append a final record", lambda s: s.add_histories(["s4"], 70, "fin", final=True)),
    Operation("insert an early record", lambda s: s.add_histories(["s1"], 0, "early")),
    Operation("retry a finished invocation", lambda s: s.add_histories(["c1"], 80, "retry")),
    Operation(
        "add a record to several histories",
        lambda s: s.add_histories(["s4", "c3", "n1", "s4"], 80, "shared", final=True),
    ),
    Operation(
        "append a final record with retention",
        lambda s: s.add_histories(["s4"], 90, "fin", final=True),
        retention=True,
        per_invocation=True,
    ),
    Operation(
        "finish a parent with retention",
        lambda s: s.add_histories(["p", "w"], 95, "fin", final=True),
        retention=True,
        per_invocation=True,
    ),
    Operation("evict", lambda s: s.evict(20), retention=True, per_invocation=True),
    Operation("set a new result", lambda s: s.set_result("n1", "x" * 50)),
    Operation("replace a result", lambda s: s.set_result("s1", "shorter")),
    Operation("replace an exception", lambda s: s.set_exception("s3", "other")),
    Operation("set new workflow data", lambda s: s.set_workflow_data("n9", "a", 2)),
    Operation("replace workflow data", lambda s: s.set_workflow_data("w", "a", 3)),
    Operation("add a run of a new type", lambda s: s.add_workflow_run("U", "type-U", "n1", "run-n1")),
    Operation("add a run of a known type", lambda s: s.add_workflow_run("T", "type-T", "n2", "run-n2")),
    Operation("add a sub-invocation", lambda s: s.add_sub_invocation("w", "w2")),
    Operation("set a runner context", lambda s: s.set_runner_context("r2", "ctx-2")),
    Operation("purge", lambda s: s.purge()),
    Operation("read a time range", lambda s: _flatten(s.history_in_range(10, 100, 2))),
    Operation("read the ids in a time range", lambda s: _flatten(s.invocations_in_range(10, 100, 2))),
    Operation(
        "read a time range with retention", lambda s: _flatten(s.history_in_range(10, 100, 2)), retention=True
    ),
    Operation("read the stats", lambda s: s.stats()),
    Operation(
        "register a new invocation", lambda s: s.orchestration.register([("n1", "T0", "call-n1")], "REG", "r")
    ),
    Operation(
        "register a batch, replacing states",
        lambda s: s.orchestration.register(
            [("n1", "T1", "call-n1"), ("c2", "T0", "call-c2"), ("n2", "T9", "call-n2"), ("s2", "T1", "x")],
            "REG",
            "again",
        ),
    ),
    Operation("transition a status", lambda s: s.orchestration.transition("c3", "run-c3", "DONE", "done-c3")),
    Operation(
        "transition an unknown invocation", lambda s: s.orchestration.transition("n1", None, "RUN", "r")
    ),
    Operation(
        "transition from a stale record", lambda s: s.orchestration.transition("c3", "reg", "DONE", "d")
    ),
    Operation(
        "index key arguments", lambda s: s.orchestration.index_arguments("s3", [("k", "z"), ("j", "1")])
    ),
    Operation("count a retry", lambda s: s.orchestration.add_retry("s2")),
    Operation("wait for results", lambda s: s.orchestration.wait_for("s4", ["s3", "n1"])),
    Operation("release waiters", lambda s: s.orchestration.release_waiters("c3")),
    Operation("record heartbeats", lambda s: s.orchestration.heartbeat(["r2", "r3"], 60, False, None)),
    Operation(
        "start an execution", lambda s: s.orchestration.start_execution("run-c", 40, None, "exec-c", True)
    ),
    Operation(
        "finish an execution", lambda s: s.orchestration.finish_execution("run-b", 45, lambda v: v + "!", "x")
    ),
    Operation("trim executions", lambda s: s.orchestration.trim_executions(25, 0, {"run-b"})),
    Operation("queue an auto purge", lambda s: s.orchestration.queue_auto_purge("c3", 45)),
    Operation("auto purge", lambda s: s.orchestration.auto_purge(50), per_invocation=True),
    Operation("purge the orchestration", lambda s: s.orchestration.purge()),
    Operation("read an orchestration page", lambda s: s.orchestration.page(None, ["RUN", "DONE"], 5, 1)),
    Operation("find by key arguments", lambda s: sorted(s.orchestration.find("T1", [("j", "1")], ["RUN"]))),
    Operation("list the histories", lambda s: _flatten(s.items("histories"))),
]


class Interrupt:
    """A trace function raising ``KeyboardInterrupt`` at the ``at``-th Python line run."""

    def __init__(self, at: int) -> None:
        self.at, self.lines, self.fired = at, 0, False

    def __call__(self, frame: Any, event: str, arg: Any) -> Interrupt:
        if event == "line":
            self.lines += 1
            if self.lines == self.at:
                self.fired = True
                raise KeyboardInterrupt(f"injected at line {self.at}")
        return self


FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def take_free_tuples() -> list[tuple[int, ...]]:
    """Empty CPython's free lists of small tuples, so the faulted call's tuples must be allocated.

    Calling a builtin such as a lock's ``__exit__`` builds its arguments' tuple, and
    one taken from a free list needs no allocation: with the lists full, a fault
    there hides; a process that has run for a while can have them empty.

    On a free-threaded build it also fills the free list of list objects: there
    ``PyList_New`` frees a new list whose item array it could not allocate without
    setting its items pointer first, and crashes (CPython 3.14.7t,
    ``Objects/listobject.c``); a list taken from the free list has it set.
    """
    taken = [tuple(range(size)) for size in range(1, 6) for _ in range(2500)]
    if FREE_THREADED:
        del [[None] for _ in range(100)][:]  # made and freed: the free list now holds 80 lists
    return taken


def run_faulted(kind: str, at: int, call: Callable[[], Any]) -> tuple[bool, BaseException | None, Any]:
    """Run ``call`` with fault ``at`` armed; return whether it fired, the exception, the answer."""
    if kind == "nomemory":
        taken = take_free_tuples()
        _testcapi.set_nomemory(at, 0)
        try:
            answer = call()
        except BaseException as error:  # noqa: BLE001
            _testcapi.remove_mem_hooks()
            return True, error, None
        _testcapi.remove_mem_hooks()
        del taken
        return False, None, answer
    interrupt = Interrupt(at)
    sys.settrace(interrupt)
    try:
        answer = call()
    except BaseException as error:  # noqa: BLE001
        sys.settrace(None)
        return interrupt.fired, error, None
    sys.settrace(None)
    return interrupt.fired, None, answer


def in_another_thread(call: Callable[[], Any], timeout: float = 20) -> Any:
    """Run ``call`` in another thread and return its answer; ``TimeoutError`` if it does not finish.

    After a fault every check runs so: a lock left held by the faulted thread
    then blocks the checking thread, and the sweep reports a hang instead of
    hanging.
    """
    answer: list[Any] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            answer.append(call())
        except BaseException as error:  # noqa: BLE001
            failure.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError
    if failure:
        raise failure[0]
    return answer[0]


@functools.cache
def expected(module: Any, operation: Operation, grown: bool) -> tuple[dict[Any, Any], Any, dict[Any, Any]]:
    """What a query sees before ``operation``, what it answers, and what a query sees after it."""
    ids = IDS + GROWN_IDS if grown else IDS
    store, _ = operation.make(module, grown)
    before = observe(store, ids)
    answer = operation.call(store)
    return before, answer, observe(store, ids)


def check_point(
    module: Any, operation: Operation, kind: str, at: int, grown: bool
) -> tuple[bool, str | None]:
    """Fault ``operation`` at ``at``; return whether the fault fired, and a failure or None."""
    ids = IDS + GROWN_IDS if grown else IDS
    before, expected_answer, after = expected(module, operation, grown)
    # An eviction goes invocation by invocation: whole, but not with the write that made it due.
    evicts = operation.per_invocation or after["stats"]["evictions"] > before["stats"]["evictions"]
    store, _ = operation.make(module, grown)  # not read yet: its time index has entries to merge
    fired, error, answer = run_faulted(kind, at, lambda: operation.call(store))
    if error is not None and not isinstance(error, (MemoryError, KeyboardInterrupt)):
        return fired, f"raised {type(error).__name__}: {error}"
    try:
        in_another_thread(store._check)
        seen = in_another_thread(lambda: observe(store, ids))
        in_another_thread(lambda: store.was_evicted("p"))  # takes the eviction log's lock
        in_another_thread(store.purge)  # takes every lock
    except TimeoutError:
        print(json.dumps({"hang": operation.name, "kind": kind, "at": at}), flush=True)
        os._exit(3)
    except Exception:  # noqa: BLE001
        return fired, "invariant check or query failed:\n" + traceback.format_exc(limit=8)
    if error is None and answer != expected_answer:
        return fired, f"answered {answer!r}, expected {expected_answer!r}"
    if evicts:
        states, states_before, states_after = (per_invocation(state, ids) for state in (seen, before, after))
        for inv_id in ids:
            state = states[inv_id]
            if state not in (states_before[inv_id], states_after[inv_id]):
                return fired, f"{inv_id} is neither as before nor as after: {state}"
    elif seen != before and seen != after:
        changed = sorted(str(key) for key in seen if seen[key] != before.get(key))
        return fired, f"neither as before nor as after; differs from before in {changed[:6]}"
    return fired, None


def sweep(module: Any, kind: str, max_points: int, grown: bool) -> dict[str, Any]:
    """Every operation at every injection point, until it completes unfaulted (or ``max_points``)."""
    report: dict[str, Any] = {"operations": {}, "failures": []}
    for operation in OPERATIONS:
        print(f"{operation.name}", file=sys.stderr, flush=True)
        points = fired_count = 0
        completed = False
        for at in range(1, max_points + 1):
            points += 1
            fired, failure = check_point(module, operation, kind, at, grown)
            if failure is not None:
                report["failures"].append({"operation": operation.name, "at": at, "failure": failure})
            if not fired:
                completed = True
                break
            fired_count += 1
        report["operations"][operation.name] = {
            "points": points,
            "faults": fired_count,
            "completed": completed,
        }
    return report


def main() -> int:
    """Parse the arguments, run the sweep, print its report."""
    faulthandler.enable(all_threads=True)  # a crash prints where it happened
    # A watchdog ends the process with every thread's stack if the sweep hangs (an interpreter
    # looping on a fault is a hang too). Armed once, not per point: its thread frees its start-up
    # block with the raw allocator, and if that free runs while set_nomemory swaps the allocator
    # in this thread, it calls the hook with no context and crashes the process (seen in CI, and
    # here about once in 700 sweeps, in _testcapi's hook_ffree called from pythread_wrapper).
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    time.sleep(0.2)  # for the watchdog thread to start before any allocator hook is set
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", choices=["python", "cython"])
    parser.add_argument("kind", choices=["nomemory", "interrupt"])
    parser.add_argument("--max-points", type=int, default=2000)
    parser.add_argument("--grown", action="store_true", help="on a store grown to the edge of a resize")
    arguments = parser.parse_args()
    module = importlib.import_module(
        "pynenc_fastmem._store_py" if arguments.store == "python" else "pynenc_fastmem._store_c"
    )
    report = sweep(module, arguments.kind, arguments.max_points, arguments.grown)
    print(json.dumps(report), flush=True)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
