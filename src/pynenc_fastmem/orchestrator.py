"""FastMemOrchestrator: pynenc's orchestrator API over the same in-process store as the backend.

The adapter translates pynenc objects into calls to the store's orchestration
part (``Store.orchestration``): ids as ``str`` (a task or call id by its key),
statuses by name, datetimes as integer microseconds; status records and
atomic service executions are stored as pynenc's own objects. It keeps no
data of its own: an app's orchestrator and state backend share one store, so
an eviction drops an invocation's status, indexes, retries and waits in the
step that drops its history.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord, status_record_transition
from pynenc.orchestrator.atomic_service import (
    ActiveRunnerInfo,
    AtomicServiceExecution,
    AtomicServiceExecutionStatus,
    AtomicServiceRun,
)
from pynenc.orchestrator.base_orchestrator import BaseBlockingControl, BaseOrchestrator
from pynenc.types import Params, Result

from ._store import Store, micros
from ._store_common import wall_clock_micros
from .config import ConfigStateBackendFastMem, retention_settings, store_retention
from .errors import EvictedError
from .state_backend import app_store

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.identifiers.call_id import CallId
    from pynenc.identifiers.invocation_id import InvocationId
    from pynenc.identifiers.task_id import TaskId
    from pynenc.invocation.dist_invocation import DistributedInvocation
    from pynenc.task import Task

    from ._orchestration_py import Orchestration


def _names(statuses: Sequence[InvocationStatus] | None) -> list[str] | None:
    """The names the store keeps ``statuses`` by (their values), or ``None`` for no filter."""
    return None if not statuses else [status._value_ for status in statuses]


def _argument_pairs(arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """``(key, value)`` string pairs of serialized arguments; a value not a ``str`` by its pickle,
    as ``MemOrchestrator``'s ``ArgPair`` compares it."""
    return [
        (key, value if type(value) is str else pickle.dumps(value).hex()) for key, value in arguments.items()
    ]


def _datetime(moment: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=moment)


class FastMemBlockingControl(BaseBlockingControl):
    """Which invocations wait for which, kept in the store's orchestration part."""

    def __init__(self, app: Pynenc, orchestration: Orchestration) -> None:
        self.app = app
        self._orchestration = orchestration

    def waiting_for_results(
        self, caller_invocation_id: InvocationId, result_invocation_ids: list[InvocationId]
    ) -> None:
        """Record that ``caller_invocation_id`` waits for each of ``result_invocation_ids``."""
        self._orchestration.wait_for(caller_invocation_id, result_invocation_ids)

    def release_waiters(self, waited_invocation_id: InvocationId) -> None:
        """Forget the waits on and of ``waited_invocation_id``: it finished."""
        self._orchestration.release_waiters(waited_invocation_id)

    def get_blocking_invocations(self, max_num_invocations: int) -> Iterator[InvocationId]:
        """Invocations others wait for, waiting for nothing themselves and ready to run, oldest first."""
        status_record = self._orchestration.status_record
        for invocation_id in self._orchestration.ready_ids():
            record = status_record(invocation_id)
            if record is not None and record.status.is_available_for_run():
                yield invocation_id  # type: ignore[misc]
                max_num_invocations -= 1
                if max_num_invocations <= 0:
                    return


class FastMemOrchestrator(BaseOrchestrator):
    """In-process orchestrator: MemOrchestrator's behaviour over the store the backend uses.

    Differences from pynenc's ``MemOrchestrator``: pages and counts read indexes
    kept on write (a page costs its offset and length, a count the number of
    statuses asked for, whatever the number of invocations); every read takes a
    snapshot under the store's lock, so no reader sees a set change size while
    other threads write; pages list invocations newest first by their last
    status change, and a task's invocations come in registration order, rather
    than in set order; with retention configured, an evicted invocation's orchestration
    state goes with it.
    """

    #: The store implementation; the state backend's default, so both share one store.
    store_cls: ClassVar[type[Store]] = Store

    def __init__(self, app: Pynenc) -> None:
        """Create the orchestrator of ``app``, over the store its FastMemStateBackend uses."""
        super().__init__(app)
        self._retention = ConfigStateBackendFastMem(app.config_values, app.config_filepath)
        self._store = app_store(app, self.store_cls, store_retention(self._retention))[0]
        self._orchestration = self._store.orchestration
        self._blocking_control = FastMemBlockingControl(app, self._orchestration)
        # Bound once: the hot paths skip two attribute lookups per call.
        self._status_record = self._orchestration.status_record
        self._transition = self._orchestration.transition

    @property
    def blocking_control(self) -> FastMemBlockingControl:
        """The blocking control, over the same store."""
        return self._blocking_control

    # Registration and status

    def _register_new_invocations(
        self, invocations: list[DistributedInvocation[Params, Result]], runner_id: str | None = None
    ) -> InvocationStatusRecord:
        """Register ``invocations`` with status REGISTERED, in one step."""
        record = InvocationStatusRecord(InvocationStatus.REGISTERED, runner_id)
        rows = [(inv.invocation_id, inv.call.task.task_id.key, inv.call.call_id.key) for inv in invocations]
        self._orchestration.register(rows, InvocationStatus.REGISTERED._value_, record)
        return record

    def _atomic_status_transition(
        self, invocation_id: InvocationId, status: InvocationStatus, runner_id: str | None = None
    ) -> InvocationStatusRecord:
        """Validate the transition against the record read; set it only if that record is still current."""
        status_record, transition, name = self._status_record, self._transition, status._value_
        while True:
            current = status_record(invocation_id)
            record = status_record_transition(current, status, runner_id)
            if transition(invocation_id, current, name, record):
                return record

    def get_invocation_status(self, invocation_id: InvocationId) -> InvocationStatus:
        """The current status of ``invocation_id`` (one store read, no record built).

        :raises KeyError: if it has none; ``EvictedError`` (a ``KeyError``) if retention evicted it
        """
        record = self._status_record(invocation_id)
        if record is None:
            return self.get_invocation_status_record(invocation_id).status  # raises, saying why
        return record.status  # type: ignore[no-any-return]

    def get_invocation_status_record(self, invocation_id: InvocationId) -> InvocationStatusRecord:
        """The current status record of ``invocation_id``.

        :raises KeyError: if it has none; ``EvictedError`` (a ``KeyError``) if retention evicted it
        """
        record = self._status_record(invocation_id)
        if record is None:
            if self._store.was_evicted(invocation_id):
                message = (
                    f"invocation {invocation_id} was evicted by FastMemStateBackend's retention "
                    f"({retention_settings(self._retention)}), and its status with it"
                )
                raise EvictedError(invocation_id, message)
            raise KeyError(invocation_id)
        return record  # type: ignore[no-any-return]

    def index_arguments_for_concurrency_control(
        self, invocation: DistributedInvocation[Params, Result]
    ) -> None:
        """Index the invocation by each of its serialized arguments."""
        pairs = _argument_pairs(invocation.call.serialized_arguments)
        self._orchestration.index_arguments(invocation.invocation_id, pairs)

    def increment_invocation_retries(self, invocation_id: InvocationId) -> None:
        """Count one more retry of ``invocation_id``."""
        self._orchestration.add_retry(invocation_id)

    def get_invocation_retries(self, invocation_id: InvocationId) -> int:
        """How many times ``invocation_id`` was retried."""
        return self._orchestration.retries(invocation_id)

    # Queries

    def get_existing_invocations(
        self,
        task: Task[Params, Result],
        key_serialized_arguments: dict[str, str] | None = None,
        statuses: list[InvocationStatus] | None = None,
    ) -> Iterator[InvocationId]:
        """The task's invocations with all of ``key_serialized_arguments`` and one of ``statuses``."""
        pairs = _argument_pairs(key_serialized_arguments) if key_serialized_arguments else None
        yield from self._orchestration.find(task.task_id.key, pairs, _names(statuses))  # type: ignore[misc]

    def get_task_invocation_ids(self, task_id: TaskId) -> Iterator[InvocationId]:
        """The ids of the task's invocations."""
        yield from self._orchestration.task_ids(task_id.key)  # type: ignore[misc]

    def get_call_invocation_ids(self, call_id: CallId) -> Iterator[InvocationId]:
        """The ids of the call's invocations."""
        yield from self._orchestration.call_ids(call_id.key)  # type: ignore[misc]

    def get_invocation_ids_paginated(
        self,
        task_id: TaskId | None = None,
        statuses: list[InvocationStatus] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[InvocationId]:
        """A page of invocation ids, newest status change first.

        Runtime complexity: `O(offset + limit)` (times `log(s)` for `s` statuses)
        """
        task = None if task_id is None else task_id.key
        return self._orchestration.page(task, _names(statuses), limit, offset)  # type: ignore[return-value]

    def count_invocations(
        self, task_id: TaskId | None = None, statuses: list[InvocationStatus] | None = None
    ) -> int:
        """How many invocations match the filters.

        Runtime complexity: `O(s)` for `s` statuses, whatever the number of invocations
        """
        return self._orchestration.count(None if task_id is None else task_id.key, _names(statuses))

    def filter_by_status(
        self, invocation_ids: list[InvocationId], status_filter: frozenset[InvocationStatus]
    ) -> list[InvocationId]:
        """The ids among ``invocation_ids`` whose status is in ``status_filter``."""
        if not invocation_ids or status_filter is None:
            return []
        status_record = self._orchestration.status_record
        found = []
        for invocation_id in invocation_ids:
            record = status_record(invocation_id)
            if record is None:
                raise KeyError(invocation_id)
            if record.status in status_filter:
                found += [invocation_id]
        return found

    # Purging

    def set_up_invocation_auto_purge(self, invocation_id: InvocationId) -> None:
        """Queue the finished ``invocation_id`` for ``auto_purge``."""
        self._orchestration.queue_auto_purge(invocation_id, micros(datetime.now(UTC), "now"))

    def auto_purge(self) -> None:
        """Drop the orchestration state of invocations queued longer than the configured hours ago."""
        hours = self.app.orchestrator.conf.auto_final_invocation_purge_hours
        self._orchestration.auto_purge(micros(datetime.now(UTC) - timedelta(hours=hours), "cutoff"))

    def purge(self) -> None:
        """Drop everything the orchestrator keeps (the backend's data stays)."""
        self._orchestration.purge()

    # Runners and recovery

    def register_runner_heartbeats(
        self,
        runner_ids: list[str],
        can_run_atomic_service: bool = False,
        consumed_queues: Sequence[str] | None = None,
    ) -> None:
        """Record a heartbeat of each runner, now."""
        self._orchestration.heartbeat(
            runner_ids, wall_clock_micros(), can_run_atomic_service, consumed_queues
        )

    def _get_active_runners(
        self, timeout_seconds: float, can_run_atomic_service: bool | None = None
    ) -> list[ActiveRunnerInfo]:
        """Runners heard from within ``timeout_seconds``, by creation time then id."""
        since = wall_clock_micros() - int(timeout_seconds * 1_000_000)
        return [
            ActiveRunnerInfo(
                runner_id=runner_id,
                creation_time=_datetime(created),
                last_heartbeat=_datetime(last),
                allow_to_run_atomic_service=eligible,
                consumed_queues=queues,
            )
            for runner_id, created, last, eligible, queues in self._orchestration.runners(since)
            if can_run_atomic_service is None or eligible == can_run_atomic_service
        ]

    def get_pending_invocations_for_recovery(self) -> Iterator[InvocationId]:
        """PENDING invocations whose status is older than ``max_pending_seconds``."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.app.conf.max_pending_seconds)
        for invocation_id, record in self._orchestration.records(InvocationStatus.PENDING._value_):
            if record.timestamp <= cutoff:
                yield invocation_id  # type: ignore[misc]

    def _get_running_invocations_for_recovery(self, timeout_seconds: float) -> Iterator[InvocationId]:
        """RUNNING invocations owned by a runner not heard from within ``timeout_seconds``."""
        since = wall_clock_micros() - int(timeout_seconds * 1_000_000)
        active = {runner[0] for runner in self._orchestration.runners(since)}
        for invocation_id, record in self._orchestration.records(InvocationStatus.RUNNING._value_):
            if record.runner_id and record.runner_id not in active:
                yield invocation_id  # type: ignore[misc]

    # Atomic service executions

    def record_atomic_service_execution_start(
        self,
        atomic_service_run: AtomicServiceRun,
        started_at: datetime | None,
        status: AtomicServiceExecutionStatus = AtomicServiceExecutionStatus.RUNNING,
        reason: str = "",
    ) -> bool:
        """Record an execution; a RUNNING one only if none runs, else a BLOCKED one instead."""
        service_id = atomic_service_run.atomic_service_id
        start = started_at or datetime.now(UTC)
        atomic_service_run.started_at = start
        running = status == AtomicServiceExecutionStatus.RUNNING
        end = None if running else start if status == AtomicServiceExecutionStatus.BLOCKED else None
        execution = AtomicServiceExecution(service_id, start, end, status, reason)
        prior = self._orchestration.start_execution(
            service_id.atomic_service_run_id,
            micros(start, "started_at"),
            self._end(execution),
            execution,
            running,
        )
        if prior is not None:
            blocked = AtomicServiceExecution(
                service_id,
                start,
                start,
                AtomicServiceExecutionStatus.BLOCKED,
                reason or f"prior_running:{prior.atomic_service_run_id} runner:{prior.runner_id}",
            )
            self._orchestration.start_execution(
                service_id.atomic_service_run_id,
                micros(start, "started_at"),
                self._end(blocked),
                blocked,
                False,
            )
            self.purge_atomic_service_executions()
            return False
        if not running:
            self.purge_atomic_service_executions()
        return status != AtomicServiceExecutionStatus.BLOCKED

    @staticmethod
    def _end(execution: AtomicServiceExecution) -> int | None:
        """When ``execution`` ended, ``None`` while it runs (a RUNNING one has no end)."""
        if execution.is_active:
            return None
        return micros(execution.end_time or execution.start_time, "end_time")

    def finalize_atomic_service_execution(
        self,
        atomic_service_run: AtomicServiceRun,
        end_time: datetime,
        status: AtomicServiceExecutionStatus,
        reason: str = "",
    ) -> None:
        """Finish the run's RUNNING execution (the first terminal write wins); record one if none."""
        service_id = atomic_service_run.atomic_service_id

        def finished(existing: AtomicServiceExecution) -> AtomicServiceExecution:
            return existing._replace(end_time=end_time, status=status, reason=reason or existing.reason)

        synthetic = AtomicServiceExecution(service_id, end_time, end_time, status, reason)
        self._orchestration.finish_execution(
            service_id.atomic_service_run_id, micros(end_time, "end_time"), finished, synthetic
        )
        self.purge_atomic_service_executions()

    def get_active_atomic_service_executions(self) -> list[AtomicServiceExecution]:
        """RUNNING executions, most recently started first."""
        active = [value for _, end, value in self._orchestration.executions() if end is None]
        active.sort(key=lambda execution: execution.start_time, reverse=True)
        return active

    def get_atomic_service_executions_in_timerange(
        self,
        start_time: datetime,
        end_time: datetime,
        limit: int = 1000,
        *,
        runner_id: str | None = None,
        min_duration_seconds: float = 0.0,
    ) -> list[AtomicServiceExecution]:
        """Executions overlapping the range, most recently started first."""
        matches = [
            execution
            for _, _, execution in self._orchestration.executions()
            if (execution.end_time or execution.start_time) >= start_time
            and execution.start_time <= end_time
            and (runner_id is None or execution.runner_id == runner_id)
            and (min_duration_seconds <= 0.0 or execution.duration_seconds >= min_duration_seconds)
        ]
        matches.sort(key=lambda execution: execution.start_time, reverse=True)
        return matches[: max(limit, 0)]

    def purge_atomic_service_executions(self) -> int:
        """Trim the execution history by age and number, sparing runs the trigger still refers to."""
        minutes = float(self.app.conf.atomic_service_execution_retention_minutes)
        max_records = int(self.app.conf.atomic_service_execution_max_records)
        protected = set(self.app.trigger.get_referenced_atomic_service_run_ids())
        cutoff = micros(datetime.now(UTC) - timedelta(minutes=minutes), "cutoff") if minutes > 0 else None
        return self._orchestration.trim_executions(
            cutoff, max_records if max_records > 0 else None, protected
        )
