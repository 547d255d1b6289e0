"""Differential test: the same random calls through FastMemOrchestrator and MemOrchestrator.

Every answer is compared after each step. The deliberate differences are the
only exceptions, each handled where named:

- RECORDS: each orchestrator makes its own status records, so their timestamps
  differ; statuses and owners are compared.
- ORDER: MemOrchestrator lists from sets, in no order, and sorts pages by status
  timestamp with ties (a registered batch shares one record) in set order.
  Lists are compared as sets; a page of ours must list MemOrchestrator's
  timestamps newest first, ties in any order.
- UNREGISTERED: an invocation given a status without being registered is listed
  nowhere by either, but MemOrchestrator's recovery reads still find it and its
  ``get_blocking_invocations`` raises ``KeyError`` for one that others wait for;
  ours skips it. pynenc registers every invocation it waits for, so waits are
  generated between registered invocations only.
- REREGISTERED: registering an invocation again, MemOrchestrator leaves it in the status
  index of the status it had as well (counted under both); ours moves it. pynenc registers
  each invocation once, so each is registered once here.
- EVICTED_WAITS: after an eviction (not exercised here) ours drops the evicted
  invocation's waits too.

``FASTMEM_DIFFERENTIAL_EXAMPLES`` sets how many sequences run.
"""

import os
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pynenc import Pynenc
from pynenc.arguments import Arguments
from pynenc.call import Call
from pynenc.invocation import DistributedInvocation, InvocationStatus
from pynenc.orchestrator import MemOrchestrator

from pynenc_fastmem import FastMemOrchestrator

from ..support import fast_app, stateful_settings

EXAMPLES = int(os.environ.get("FASTMEM_DIFFERENTIAL_EXAMPLES", 100))
app = fast_app("fastmem-orchestrator-differential")


@app.task
def first(a: int, b: int) -> int:
    return a + b


@app.task
def second(a: int, b: int) -> int:
    return a - b


TASKS = [first, second]
STATUSES = list(InvocationStatus)
RUNNERS = [None, "runner-a", "runner-b"]
POOL = 8


def _outcome(call: Any) -> Any:
    """What a call gives: ``(status, owner)`` of a record, or the type of what it raised."""
    try:
        record = call()
    except Exception as error:  # noqa: BLE001 - the type is the answer
        return type(error)
    return (record.status, record.runner_id)


class Differential(RuleBasedStateMachine):
    """Applies each call to both orchestrators; compares what they answer."""

    def __init__(self) -> None:
        super().__init__()
        self.mine_app = fast_app(f"fastmem-diff-mine-{id(self)}")
        self.reference_app = Pynenc(config_values={"app_id": f"fastmem-diff-ref-{id(self)}"})
        self.mine = FastMemOrchestrator(self.mine_app)
        self.reference = MemOrchestrator(self.reference_app)
        # MemBlockingControl reads statuses through app.orchestrator: make it this reference.
        self.reference_app._orchestrator = self.reference
        self.mine_app._orchestrator = self.mine
        self.invocations = [
            DistributedInvocation.isolated(Call(TASKS[n % 2], Arguments({"a": n % 3, "b": n % 2})))
            for n in range(POOL)
        ]
        self.registered: list[DistributedInvocation] = []

    def both(self, name: str, *args: Any) -> tuple[Any, Any]:
        return getattr(self.mine, name)(*args), getattr(self.reference, name)(*args)

    @rule(picks=st.lists(st.integers(0, POOL - 1), min_size=1, max_size=3), runner=st.sampled_from(RUNNERS))
    def register(self, picks: list[int], runner: str | None) -> None:
        invocations = [
            i for i in dict.fromkeys(self.invocations[pick] for pick in picks) if i not in self.registered
        ]
        if not invocations:
            return  # REREGISTERED
        mine, reference = self.both("_register_new_invocations", invocations, runner)
        assert (mine.status, mine.runner_id) == (reference.status, reference.runner_id)
        self.registered += [i for i in invocations if i not in self.registered]

    @rule(pick=st.integers(0, POOL - 1), status=st.sampled_from(STATUSES), runner=st.sampled_from(RUNNERS))
    def transition(self, pick: int, status: InvocationStatus, runner: str | None) -> None:
        invocation_id = self.invocations[pick].invocation_id
        mine = _outcome(lambda: self.mine._atomic_status_transition(invocation_id, status, runner))
        reference = _outcome(lambda: self.reference._atomic_status_transition(invocation_id, status, runner))
        assert mine == reference

    @rule(pick=st.integers(0, POOL - 1))
    def index_arguments(self, pick: int) -> None:
        self.both("index_arguments_for_concurrency_control", self.invocations[pick])

    @rule(pick=st.integers(0, POOL - 1))
    def retry(self, pick: int) -> None:
        self.both("increment_invocation_retries", self.invocations[pick].invocation_id)

    @precondition(lambda self: self.registered)
    @rule(waiter=st.integers(0, POOL - 1), waited=st.lists(st.integers(0, POOL - 1), min_size=1, max_size=3))
    def wait(self, waiter: int, waited: list[int]) -> None:
        registered = self.registered  # UNREGISTERED
        ids = [registered[n % len(registered)].invocation_id for n in waited]
        self.both("waiting_for_results", registered[waiter % len(registered)].invocation_id, ids)

    @rule(pick=st.integers(0, POOL - 1))
    def release(self, pick: int) -> None:
        self.both("release_waiters", self.invocations[pick].invocation_id)

    @invariant()
    def per_invocation_answers_agree(self) -> None:
        for invocation in self.invocations:
            invocation_id = invocation.invocation_id
            mine = _outcome(lambda i=invocation_id: self.mine.get_invocation_status_record(i))
            reference = _outcome(lambda i=invocation_id: self.reference.get_invocation_status_record(i))
            assert mine == reference  # RECORDS
            assert self.mine.get_invocation_retries(invocation_id) == self.reference.get_invocation_retries(
                invocation_id
            )
            call_id = invocation.call.call_id
            assert set(self.mine.get_call_invocation_ids(call_id)) == set(
                self.reference.get_call_invocation_ids(call_id)
            )

    @invariant()
    def queries_agree(self) -> None:
        for task in [None, *TASKS]:
            task_id = None if task is None else task.task_id
            for statuses in [
                None,
                [InvocationStatus.REGISTERED],
                [InvocationStatus.PENDING, InvocationStatus.RUNNING],
            ]:
                assert self.mine.count_invocations(task_id, statuses) == self.reference.count_invocations(
                    task_id, statuses
                )
                page = self.mine.get_invocation_ids_paginated(task_id, statuses, limit=POOL)
                assert set(page) == set(
                    self.reference.get_invocation_ids_paginated(task_id, statuses, limit=POOL)
                )
                stamps = [self.reference.get_invocation_status_record(i).timestamp for i in page]
                assert stamps == sorted(stamps, reverse=True)  # ORDER
            if task is not None:
                assert set(self.mine.get_task_invocation_ids(task.task_id)) == set(
                    self.reference.get_task_invocation_ids(task.task_id)
                )
                for arguments in [None, {"a": "0"}, {"a": "1", "b": "1"}]:
                    for statuses in [None, [InvocationStatus.REGISTERED, InvocationStatus.RUNNING]]:
                        assert set(self.mine.get_existing_invocations(task, arguments, statuses)) == set(
                            self.reference.get_existing_invocations(task, arguments, statuses)
                        )

    @invariant()
    def blocking_agrees(self) -> None:
        assert set(self.mine.get_blocking_invocations(POOL)) == set(
            self.reference.get_blocking_invocations(POOL)
        )
        known = [i.invocation_id for i in self.registered]
        final = frozenset(InvocationStatus.get_final_statuses())
        assert self.mine.filter_by_status(known, final) == self.reference.filter_by_status(known, final)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fastmem_orchestrator_answers_as_memorchestrator_does() -> None:
    run_state_machine_as_test(Differential, settings=stateful_settings(EXAMPLES, 30))
