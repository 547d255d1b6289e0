"""The default mode's shortcuts give callers exactly what pynenc's base class would.

``get_invocation`` (``shortcuts.Rebuilder``), re-upserting an unchanged invocation,
keeping scalar results unserialized, and making history records without their
constructor (``shortcuts.history_record``): each is
compared with pynenc's own way, attribute by attribute, and what a caller gets is mutated
to check that nothing stored changes.
"""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pynenc import Pynenc
from pynenc.exceptions import InvocationNotFoundError
from pynenc.identifiers.call_id import CallId
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord
from pynenc.models.call_dto import CallDTO
from pynenc.models.invocation_dto import InvocationDTO
from pynenc.runner.runner_context import RunnerContext
from pynenc.state_backend import MemStateBackend
from pynenc.state_backend.base_state_backend import BaseStateBackend, InvocationHistory
from pynenc.workflow import WorkflowIdentity

from pynenc_fastmem import FastMemStateBackend, shortcuts
from pynenc_fastmem.state_backend import KeptResult

# PYNENC__LIVE_INVOCATIONS (make test-live) overrides config_values: there the backend keeps the
# objects themselves and none of these shortcuts is taken (tests/backend/test_live.py tests that mode).
pytestmark = pytest.mark.skipif(
    FastMemStateBackend(Pynenc(config_values={"app_id": "shortcuts-probe"})).conf.live_invocations,
    reason="the default mode's shortcuts: PYNENC__LIVE_INVOCATIONS turns live mode on",
)

SQUARE = TaskId("pynenc_fastmem.demo", "square")
WORKFLOW = TaskId("pynenc_fastmem.demo", "sum_of_squares")
_apps = iter(range(10**6))


def backend(**config: Any) -> FastMemStateBackend:
    return FastMemStateBackend(Pynenc(config_values={"app_id": f"shortcuts-{next(_apps)}", **config}))


def pair(
    number: int,
    task: TaskId = SQUARE,
    parent: str | None = None,
    event: str | None = None,
    workflow: WorkflowIdentity | None = None,
) -> tuple[InvocationDTO, CallDTO]:
    call_id = CallId(task_id=task, args_id=f"args-{number}")
    return (
        InvocationDTO(
            invocation_id=f"inv-{number}",
            call_id=call_id,
            workflow=workflow,
            parent_invocation_id=parent,
            parent_event_id=event,
        ),
        CallDTO(call_id=call_id, serialized_arguments={"x": str(number)}),
    )


ROOT = WorkflowIdentity(workflow_id="inv-10", workflow_type=WORKFLOW)
PAIRS = [
    pair(1),
    pair(2),
    pair(3, parent="inv-1", event="event-1"),
    pair(10, task=WORKFLOW, workflow=ROOT),
    pair(11, parent="inv-10", workflow=ROOT),
    pair(12, task=WORKFLOW, workflow=ROOT),
]


def attributes(invocation: Any) -> dict[str, Any]:
    """An invocation's attributes, its call's compared by theirs."""
    found = dict(vars(invocation))
    found["_call"] = (type(invocation.call), vars(invocation.call))
    return found


def test_get_invocation_equals_pynenc_rebuild_attribute_by_attribute() -> None:
    fast = backend()
    fast._upsert_invocations(PAIRS)
    for inv_dto, _ in PAIRS * 2:  # the second pass reads through each task's template
        ours = fast.get_invocation(inv_dto.invocation_id)
        theirs = BaseStateBackend.get_invocation(fast, inv_dto.invocation_id)
        assert type(ours) is type(theirs)
        assert list(vars(ours)) == list(vars(theirs))
        assert attributes(ours) == attributes(theirs)
        assert ours.to_dto() == theirs.to_dto() == inv_dto


def test_a_rebuilt_invocation_is_fresh_and_changing_it_changes_nothing_stored() -> None:
    fast = backend()
    fast._upsert_invocations(PAIRS)
    fast.get_invocation("inv-1")  # make the template
    first, second = fast.get_invocation("inv-2"), fast.get_invocation("inv-2")
    assert first is not second and first.call is not second.call
    first.call.arguments.kwargs["x"] = "changed"
    first._result, first._cached_status, first._num_retries = "result", InvocationStatus.RUNNING, 3
    first.workflow = ROOT
    first.call._serialized_arguments = {"x": "other"}
    third = fast.get_invocation("inv-2")
    assert attributes(third) == attributes(BaseStateBackend.get_invocation(fast, "inv-2"))
    assert third.call.arguments.kwargs == {"x": 2}
    assert fast._get_invocation("inv-2") == PAIRS[1]


def test_a_workflow_task_without_a_workflow_fails_as_pynenc_does() -> None:
    fast = backend()
    fast._upsert_invocations([PAIRS[3], pair(13, task=WORKFLOW)])
    fast.get_invocation("inv-10")  # the workflow task's template
    with pytest.raises(ValueError, match="requires a workflow identity"):
        BaseStateBackend.get_invocation(fast, "inv-13")
    with pytest.raises(ValueError, match="requires a workflow identity"):
        fast.get_invocation("inv-13")
    with pytest.raises(InvocationNotFoundError):
        fast.get_invocation("never-stored")


def test_objects_with_other_attributes_are_left_to_pynenc(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pynenc that set one more attribute: the template is refused and pynenc rebuilds."""
    monkeypatch.setattr(shortcuts, "INVOCATION_ATTRIBUTES", shortcuts.INVOCATION_ATTRIBUTES | {"new"})
    fast = backend()
    fast._upsert_invocations(PAIRS)
    fast.get_invocation("inv-1")
    assert fast._rebuild._templates[SQUARE] is None
    assert attributes(fast.get_invocation("inv-2")) == attributes(
        BaseStateBackend.get_invocation(fast, "inv-2")
    )


def test_an_unchanged_invocation_upserted_again_keeps_its_stored_dtos() -> None:
    fast = backend()
    fast._upsert_invocations(PAIRS[:1])
    invocation = fast.get_invocation("inv-1")
    stored = fast._get_invocation("inv-1")
    fast.upsert_invocations([invocation])
    assert fast._get_invocation("inv-1") is stored  # same objects: its DTOs would come out equal
    invocation.workflow = ROOT  # now it differs: converted and stored again
    fast.upsert_invocations([invocation])
    assert fast._get_invocation("inv-1")[0].workflow == ROOT
    assert fast.get_invocation("inv-1").workflow == ROOT
    assert list(fast.get_invocation_ids_by_workflow(workflow_id="inv-10")) == ["inv-1"]


@pytest.mark.parametrize("value", [0, -7, 2**62, 1.5, float("-inf"), True, False, None])
def test_scalar_results_are_kept_and_read_as_their_round_trip(value: Any) -> None:
    fast = backend()
    fast.set_result("inv-1", value)
    assert type(fast._store.get_result("inv-1")) is KeptResult
    expected = fast.app.client_data_store.deserialize(fast.app.client_data_store.serialize(value))
    answer = fast.get_result("inv-1")
    assert type(answer) is type(expected) and answer == expected
    assert fast._get_result("inv-1") == fast.app.client_data_store.serialize(value)


@pytest.mark.parametrize("value", ["text", [1, 2], {"a": 1}, 2**70, (1, 2)])
def test_other_results_are_serialized_as_pynenc_does(value: Any) -> None:
    fast = backend()
    fast.set_result("inv-1", value)
    assert fast._store.get_result("inv-1") == fast.app.client_data_store.serialize(value)
    first = fast.get_result("inv-1")
    assert first == fast.app.client_data_store.deserialize(fast.app.client_data_store.serialize(value))
    if isinstance(first, list):
        first.append("changed")
        assert fast.get_result("inv-1") == value


def test_scalars_are_serialized_when_the_client_data_store_could_move_them_out() -> None:
    fast = backend(min_size_to_cache=8)
    fast.set_result("inv-1", 5)
    assert fast._store.get_result("inv-1") == fast.app.client_data_store.serialize(5)


def test_history_records_are_made_as_pynenc_constructs_them() -> None:
    assert shortcuts.history_record is not shortcuts._constructed_history_record, "not taken with this pynenc"
    status = InvocationStatusRecord(status=InvocationStatus.REGISTERED)
    before = datetime.now(UTC)
    made = shortcuts.history_record("inv-1", status, "runner-1", "inv-0")
    constructed = InvocationHistory(
        invocation_id="inv-1",
        status_record=status,
        runner_context_id="runner-1",
        registered_by_inv_id="inv-0",
    )
    assert type(made) is InvocationHistory
    assert list(vars(made)) == list(vars(constructed))
    assert {**vars(made), "_timestamp": None} == {**vars(constructed), "_timestamp": None}
    assert before <= made.timestamp <= constructed.timestamp
    assert made.timestamp.tzinfo is constructed.timestamp.tzinfo
    assert InvocationHistory.from_json(made.to_json()) == made


def test_made_history_records_take_the_memory_of_constructed_ones() -> None:
    """Set attribute by attribute, a record keeps CPython's compact storage, as the constructor's does."""
    status = InvocationStatusRecord(status=InvocationStatus.RUNNING)

    def traced(make: Any) -> int:
        tracemalloc.start()
        try:
            records = [make(f"inv-{n}", status, "runner-1", None) for n in range(2_000)]
            return tracemalloc.get_traced_memory()[0] // len(records)
        finally:
            tracemalloc.stop()

    made, constructed = traced(shortcuts.history_record), traced(shortcuts._constructed_history_record)
    assert made <= constructed * 1.05, (made, constructed)


def test_a_class_that_makes_other_objects_is_refused() -> None:
    """What guards each shortcut at import: one more attribute, or another order, is not the same."""
    status = InvocationStatusRecord(status=InvocationStatus.RUNNING)
    made = shortcuts.history_record("inv-1", status, "runner-1", None)
    other = shortcuts.history_record("inv-1", status, "runner-1", None)
    # Two records made one after the other may be stamped in the same microsecond (3.14t in CI).
    other._timestamp = made._timestamp + timedelta(microseconds=1)
    assert shortcuts.same_objects(made, other, frozenset({"_timestamp"}))
    assert not shortcuts.same_objects(made, other)  # stamped apart
    other.extra = 1  # type: ignore[attr-defined]
    assert not shortcuts.same_objects(made, other, frozenset({"_timestamp"}))
    reordered = shortcuts.history_record("inv-1", status, "runner-1", None)
    reordered.__dict__ = dict(reversed(vars(reordered).items()))
    assert not shortcuts.same_objects(made, reordered, frozenset({"_timestamp"}))


def test_public_history_writes_store_what_pynenc_s_base_class_stores() -> None:
    """add_history and add_histories, overridden to make records cheaply: the same records as pynenc's."""
    fast, mem = backend(), MemStateBackend(Pynenc(config_values={"app_id": f"shortcuts-{next(_apps)}"}))
    context = RunnerContext(runner_cls="ThreadRunner", parent_ctx=RunnerContext(runner_cls="ThreadRunner"))
    registered, running, success = (
        InvocationStatusRecord(status=status)
        for status in (InvocationStatus.REGISTERED, InvocationStatus.RUNNING, InvocationStatus.SUCCESS)
    )
    for target in (fast, mem):
        target._upsert_invocations(PAIRS)
        invocations = [target.get_invocation(inv_dto.invocation_id) for inv_dto, _ in PAIRS]
        target.add_histories(invocations, registered, context)
        target.add_history("inv-3", running, context)
        target.add_histories(invocations[2:3], success, context)
    for inv_dto, _ in PAIRS:
        ours, theirs = fast.get_history(inv_dto.invocation_id), mem.get_history(inv_dto.invocation_id)
        assert [{**vars(record), "_timestamp": None} for record in ours] == [
            {**vars(record), "_timestamp": None} for record in theirs
        ]
    assert fast.get_history("inv-3")[0].registered_by_inv_id == "inv-1"
    assert fast.get_runner_context(context.parent_ctx.runner_id) == context.parent_ctx
    assert fast.get_history("inv-3")[-1].status_record.status == InvocationStatus.SUCCESS
    assert fast.stats()["finished"] == 1  # the final record counted as the store counts one
