"""Differential test: the same random calls through FastMemStateBackend and MemStateBackend.

Every answer is compared, as a multiset where the API promises no order. The
deliberate differences are the only exceptions, each handled where named:

- PURGE: MemStateBackend keeps runner contexts and workflow data across ``purge``;
  after a purge the reference's are cleared by hand.
- NAIVE: MemStateBackend cannot compare naive with aware datetimes; only aware
  timestamps are generated.
- ORDER_OF_IDS: ``iter_invocations_in_timerange`` yields ids in a different order;
  compared as multisets with the same batch sizes.
- MOVED_PARENT: MemStateBackend leaves a re-upserted invocation listed under a
  parent or event it no longer has; generated invocations keep theirs (as pynenc's do).

``FASTMEM_DIFFERENTIAL_EXAMPLES`` sets how many sequences run.
"""

import itertools
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from pynenc import Pynenc
from pynenc.identifiers.call_id import CallId
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord
from pynenc.models.call_dto import CallDTO
from pynenc.models.invocation_dto import InvocationDTO
from pynenc.runner.runner_context import RunnerContext
from pynenc.state_backend import MemStateBackend
from pynenc.state_backend.base_state_backend import InvocationHistory
from pynenc.workflow import WorkflowIdentity

from pynenc_fastmem import FastMemStateBackend

from ..support import stateful_settings

EXAMPLES = int(os.environ.get("FASTMEM_DIFFERENTIAL_EXAMPLES", 150))
IDS = [f"inv-{n}" for n in range(6)]
TASKS = [TaskId("m", "t0"), TaskId("m", "t1")]
WORKFLOWS = [WorkflowIdentity(workflow_id=f"wf-{n}", workflow_type=TASKS[n % 2]) for n in range(3)]
BASE = datetime(2026, 1, 1, tzinfo=UTC)
MOMENTS = st.integers(-3, 3).map(lambda s: BASE + timedelta(seconds=s))  # NAIVE: aware only
app = Pynenc(config_values={"app_id": "fastmem-differential"})
_records = itertools.count()


def pair(inv_id: str, workflow: WorkflowIdentity | None, args: str) -> tuple[InvocationDTO, CallDTO]:
    """A DTO pair whose parent and event follow from its id (MOVED_PARENT)."""
    number = int(inv_id.rsplit("-", 1)[1])
    call_id = CallId(task_id=TASKS[number % 2], args_id=args)
    return (
        InvocationDTO(
            invocation_id=inv_id,
            call_id=call_id,
            workflow=workflow,
            parent_invocation_id=f"inv-{number // 2}" if number else None,
            parent_event_id=f"event-{number % 3}",
        ),
        CallDTO(call_id=call_id, serialized_arguments={"a": args}),
    )


def same(mine: Any, reference: Any) -> None:
    assert Counter(map(repr, mine)) == Counter(map(repr, reference))


class Differential(RuleBasedStateMachine):
    """Applies each call to both backends; compares every answer after each step."""

    def __init__(self) -> None:
        super().__init__()
        # A new app each time: every FastMemStateBackend of one app shares its store.
        self.mine = FastMemStateBackend(Pynenc(config_values={"app_id": "fastmem-differential"}))
        self.reference = MemStateBackend(app)

    def both(self, method: str, *args: Any) -> None:
        getattr(self.mine, method)(*args)
        getattr(self.reference, method)(*args)

    @rule(
        entries=st.lists(
            st.tuples(st.sampled_from(IDS), st.sampled_from([None, *WORKFLOWS]), st.sampled_from(["x", "y"])),
            max_size=3,
        )
    )
    def upsert(self, entries: list[tuple[str, Any, str]]) -> None:
        self.both("_upsert_invocations", [pair(*entry) for entry in entries])

    @rule(
        ids=st.lists(st.sampled_from(IDS), max_size=2),
        at=MOMENTS,
        status=st.sampled_from(list(InvocationStatus)),
    )
    def add_histories(self, ids: list[str], at: datetime, status: InvocationStatus) -> None:
        record = InvocationHistory(
            invocation_id=f"record-{next(_records)}",
            status_record=InvocationStatusRecord(status=status),
            runner_context_id="runner",
        )
        record._timestamp = at
        self.both("_add_histories", ids, record)

    @rule(inv_id=st.sampled_from(IDS), value=st.text(max_size=3), exception=st.booleans())
    def set_outcome(self, inv_id: str, value: str, exception: bool) -> None:
        self.both("_set_exception" if exception else "_set_result", inv_id, value)

    @rule(workflow=st.sampled_from(WORKFLOWS), key=st.sampled_from(["a", "b"]), value=st.integers())
    def workflow_data(self, workflow: WorkflowIdentity, key: str, value: int) -> None:
        self.both("set_workflow_data", workflow, key, value)

    @rule(workflow=st.sampled_from(WORKFLOWS), sub=st.sampled_from(IDS))
    def workflow_run(self, workflow: WorkflowIdentity, sub: str) -> None:
        self.both("store_workflow_run", workflow)
        self.both("store_workflow_sub_invocation", workflow.workflow_id, sub)

    @rule(runner=st.sampled_from(["runner-a", "runner-b", "other"]))
    def runner_context(self, runner: str) -> None:
        self.both("_store_runner_context", RunnerContext(runner_cls="ThreadRunner", runner_id=runner))

    @rule()
    def purge(self) -> None:
        self.both("purge")
        # PURGE: MemStateBackend keeps these; FastMemStateBackend clears everything.
        self.reference._runner_contexts.clear()
        self.reference._workflow_data.clear()

    @invariant()
    def answers_match(self) -> None:
        mine, reference = self.mine, self.reference
        for inv_id in [*IDS, "inv-none"]:
            assert mine._get_invocation(inv_id) == reference._get_invocation(inv_id)
            assert list(mine.get_child_invocations(inv_id)) == list(reference.get_child_invocations(inv_id))
            assert [repr(h) for h in mine.get_history(inv_id)] == [
                repr(h) for h in reference.get_history(inv_id)
            ]
            for method in ["_get_result", "_get_exception"]:
                try:
                    expected = getattr(reference, method)(inv_id)
                except KeyError:
                    with pytest.raises(KeyError):
                        getattr(mine, method)(inv_id)
                else:
                    assert getattr(mine, method)(inv_id) == expected
        for event in ["event-0", "event-1", "event-2"]:
            assert list(mine.get_invocations_by_parent_event(event)) == list(
                reference.get_invocations_by_parent_event(event)
            )
        for workflow_id in [None, "", "wf-0", "wf-1"]:
            for type_key in [None, "", "m.t0", "m.t1"]:
                same(
                    mine.get_invocation_ids_by_workflow(workflow_id, type_key),
                    reference.get_invocation_ids_by_workflow(workflow_id, type_key),
                )
        for workflow in WORKFLOWS:
            for key in ["a", "b"]:
                assert mine.get_workflow_data(workflow, key, "-") == reference.get_workflow_data(
                    workflow, key, "-"
                )
            same(
                mine.get_workflow_sub_invocations(workflow.workflow_id),
                reference.get_workflow_sub_invocations(workflow.workflow_id),
            )
        same(mine.get_all_workflow_types(), reference.get_all_workflow_types())
        same(mine.get_all_workflow_runs(), reference.get_all_workflow_runs())
        for task in TASKS:
            same(mine.get_workflow_runs(task), reference.get_workflow_runs(task))
        for start, end, batch in [(-4, 4, 2), (-1, 1, 1), (0, 0, 3), (2, -2, 1)]:
            low, high = BASE + timedelta(seconds=start), BASE + timedelta(seconds=end)
            my_batches = list(mine.iter_history_in_timerange(low, high, batch))
            their_batches = list(reference.iter_history_in_timerange(low, high, batch))
            assert [len(b) for b in my_batches] == [len(b) for b in their_batches]
            mine_flat = [h for b in my_batches for h in b]
            theirs_flat = [h for b in their_batches for h in b]
            assert [h.timestamp for h in mine_flat] == [h.timestamp for h in theirs_flat]
            same(mine_flat, theirs_flat)
            my_ids = list(mine.iter_invocations_in_timerange(low, high, batch))
            their_ids = list(reference.iter_invocations_in_timerange(low, high, batch))
            assert [len(b) for b in my_ids] == [len(b) for b in their_ids]  # ORDER_OF_IDS
            same([i for b in my_ids for i in b], [i for b in their_ids for i in b])
        for runner in ["runner-a", "runner-b", "nope"]:
            assert mine._get_runner_context(runner) == reference._get_runner_context(runner)
        assert mine._get_runner_contexts(["runner-b", "nope", "runner-a"]) == reference._get_runner_contexts(
            ["runner-b", "nope", "runner-a"]
        )
        same(mine.get_matching_runner_contexts("runner"), reference.get_matching_runner_contexts("runner"))
        mine._store._check()


def test_fastmem_answers_as_mem_state_backend_does() -> None:
    run_state_machine_as_test(
        Differential,
        settings=stateful_settings(EXAMPLES, steps=30),
    )
