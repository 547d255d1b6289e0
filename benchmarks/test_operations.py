"""Point operations, writes and index lookups, raw (``_``-methods) and public."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.invocation.dist_invocation import DistributedInvocation
from pynenc.runner.runner_context import RunnerContext
from pynenc.workflow import WorkflowIdentity

from .conftest import (
    BACKENDS,
    DAY_START,
    PUBLIC_BACKENDS,
    STATUSES,
    WITH_FLOOR,
    WORKFLOW_TASK,
    history_record,
    invocation_pair,
    make_backend,
    new_app,
    ratio_info,
)

PRELOADED = 10_000
_fresh = itertools.count(10**7)


def preloaded(name: str) -> Any:
    """A backend, or the floor's dict, holding ``PRELOADED`` invocations with results."""
    pairs = [
        invocation_pair(i, parent=f"parent-{i // 10}", event=f"event-{i // 10}") for i in range(PRELOADED)
    ]
    if name == "dict":
        store: dict[str, Any] = {pair[0].invocation_id: pair for pair in pairs}
        return store
    backend = make_backend(name)
    backend._upsert_invocations(pairs)
    for pair in pairs[:100]:
        backend._set_result(pair[0].invocation_id, "result")
        backend._set_exception(pair[0].invocation_id, "exception")
    return backend


def _child(index: int) -> Any:
    """A new invocation whose parent has ten children, as in a typical fan-out."""
    return invocation_pair(index, parent=f"parent-{index // 10}")


@pytest.mark.parametrize("batch", [1, 100])
@pytest.mark.parametrize("name", WITH_FLOOR)
def test_raw_upsert(benchmark: Any, name: str, batch: int) -> None:
    benchmark.group = f"_upsert_invocations batch={batch}"
    ratio_info(benchmark, name)
    target = preloaded(name)

    def batches() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return ([_child(next(_fresh)) for _ in range(batch)],), {}

    if name == "dict":
        benchmark.pedantic(
            lambda pairs: target.update((pair[0].invocation_id, pair) for pair in pairs),
            setup=batches,
            rounds=2000,
        )
    else:
        benchmark.pedantic(target._upsert_invocations, setup=batches, rounds=2000)


@pytest.mark.parametrize("batch", [1, 100])
@pytest.mark.parametrize("name", PUBLIC_BACKENDS)
def test_public_upsert(benchmark: Any, name: str, batch: int) -> None:
    benchmark.group = f"upsert_invocations batch={batch}"
    ratio_info(benchmark, name)
    backend = preloaded(name)
    from pynenc.task import Task

    task = Task(backend.app, _task_function, {})

    def batches() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (
            [
                DistributedInvocation.isolated(Call(task, Arguments({"x": next(_fresh)})))
                for _ in range(batch)
            ],
        ), {}

    benchmark.pedantic(backend.upsert_invocations, setup=batches, rounds=500)


def _task_function(x: int) -> int:
    return x


@pytest.mark.parametrize("name", WITH_FLOOR)
def test_raw_get_invocation(benchmark: Any, name: str) -> None:
    benchmark.group = "_get_invocation"
    ratio_info(benchmark, name)
    target = preloaded(name)
    get = target.get if name == "dict" else target._get_invocation
    benchmark(get, "inv-00005000")


@pytest.mark.parametrize("name", BACKENDS)
def test_public_get_invocation(benchmark: Any, name: str) -> None:
    benchmark.group = "get_invocation"
    ratio_info(benchmark, name)
    backend = preloaded(name)
    benchmark(backend.get_invocation, "inv-00005000")


@pytest.mark.parametrize("kind", ["result", "exception"])
@pytest.mark.parametrize("name", WITH_FLOOR)
def test_raw_get_outcome(benchmark: Any, name: str, kind: str) -> None:
    benchmark.group = f"_get_{kind}"
    ratio_info(benchmark, name)
    target = {"inv-00000050": kind} if name == "dict" else preloaded(name)
    get = target.__getitem__ if name == "dict" else getattr(target, f"_get_{kind}")
    benchmark(get, "inv-00000050")


@pytest.mark.parametrize("kind", ["result", "exception"])
@pytest.mark.parametrize("name", WITH_FLOOR)
def test_raw_set_outcome(benchmark: Any, name: str, kind: str) -> None:
    benchmark.group = f"_set_{kind}"
    ratio_info(benchmark, name)
    target = preloaded(name)
    put = target.__setitem__ if name == "dict" else getattr(target, f"_set_{kind}")
    benchmark(put, "inv-00000050", kind)


@pytest.mark.parametrize("name", PUBLIC_BACKENDS)
def test_public_result_round_trip(benchmark: Any, name: str) -> None:
    benchmark.group = "set_result + get_result"
    ratio_info(benchmark, name)
    backend = preloaded(name)

    def round_trip() -> Any:
        backend.set_result("inv-00000050", {"value": 42})
        return backend.get_result("inv-00000050")

    benchmark(round_trip)


@pytest.mark.parametrize("name", WITH_FLOOR)
def test_raw_add_histories(benchmark: Any, name: str) -> None:
    benchmark.group = "_add_histories"
    ratio_info(benchmark, name)
    target = preloaded(name)
    records = itertools.cycle(
        [history_record(f"inv-{i:08d}", DAY_START, STATUSES[i % 4]) for i in range(1000)]
    )

    def one_record() -> tuple[tuple[Any, ...], dict[str, Any]]:
        record = next(records)
        return ([record.invocation_id], record), {}

    if name == "dict":
        histories: dict[str, list[Any]] = {}
        benchmark.pedantic(
            lambda ids, record: histories.setdefault(ids[0], []).append(record), setup=one_record, rounds=5000
        )
    else:
        benchmark.pedantic(target._add_histories, setup=one_record, rounds=5000)


@pytest.mark.parametrize("name", BACKENDS)
def test_public_add_history(benchmark: Any, name: str) -> None:
    benchmark.group = "add_history"
    ratio_info(benchmark, name)
    backend = preloaded(name)
    context = RunnerContext(runner_cls="ThreadRunner", runner_id="bench-runner")
    record = history_record("x", DAY_START, STATUSES[0]).status_record
    benchmark(backend.add_history, "inv-00000100", record, context)


@pytest.mark.parametrize("name", WITH_FLOOR)
def test_get_history_of_eight(benchmark: Any, name: str) -> None:
    benchmark.group = "get_history (8 records)"
    ratio_info(benchmark, name)
    target = preloaded(name)
    records = [history_record("inv-00000007", DAY_START.replace(hour=h), STATUSES[h % 4]) for h in range(8)]
    if name == "dict":
        target = {"inv-00000007": records}
        benchmark(lambda inv_id: list(target[inv_id]), "inv-00000007")
        return
    for record in records:
        target._add_histories(["inv-00000007"], record)
    benchmark(target.get_history, "inv-00000007")


@pytest.mark.parametrize("name", BACKENDS)
def test_child_lookup(benchmark: Any, name: str) -> None:
    benchmark.group = "get_child_invocations (10k invocations, 10 children)"
    ratio_info(benchmark, name)
    backend = preloaded(name)
    backend._upsert_invocations([invocation_pair(20_000 + i, parent="the-parent") for i in range(10)])
    benchmark(lambda: list(backend.get_child_invocations("the-parent")))


@pytest.mark.parametrize("name", BACKENDS)
def test_event_lookup(benchmark: Any, name: str) -> None:
    benchmark.group = "get_invocations_by_parent_event (10k invocations, 10 hits)"
    ratio_info(benchmark, name)
    backend = preloaded(name)
    backend._upsert_invocations([invocation_pair(20_000 + i, event="the-event") for i in range(10)])
    benchmark(lambda: list(backend.get_invocations_by_parent_event("the-event")))


@pytest.mark.parametrize("name", BACKENDS)
def test_workflow_lookup(benchmark: Any, name: str) -> None:
    benchmark.group = "get_invocation_ids_by_workflow (100k invocations, 100 hits)"
    ratio_info(benchmark, name)
    backend = make_backend(name)
    workflows = [WorkflowIdentity(workflow_id=f"wf-{w}", workflow_type=WORKFLOW_TASK) for w in range(1000)]
    backend._upsert_invocations([invocation_pair(i, workflow=workflows[i % 1000]) for i in range(100_000)])
    result = benchmark(lambda: list(backend.get_invocation_ids_by_workflow(workflow_id="wf-7")))
    assert len(result) == 100


@pytest.mark.parametrize("name", WITH_FLOOR)
def test_runner_context_lookup(benchmark: Any, name: str) -> None:
    benchmark.group = "_get_runner_context"
    ratio_info(benchmark, name)
    contexts = [RunnerContext(runner_cls="ThreadRunner", runner_id=f"runner-{i}") for i in range(100)]
    if name == "dict":
        target: Any = {context.runner_id: context for context in contexts}
        benchmark(target.get, "runner-50")
        return
    backend = make_backend(name)
    for context in contexts:
        backend._store_runner_context(context)
    benchmark(backend._get_runner_context, "runner-50")


def test_apps_are_fresh() -> None:
    """Each backend above got its own app: no benchmark reads another's data."""
    assert new_app().app_id != new_app().app_id
