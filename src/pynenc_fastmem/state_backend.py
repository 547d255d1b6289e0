"""FastMemStateBackend: pynenc's state backend API over the in-process store.

The adapter translates pynenc objects into store calls (ids as ``str``,
datetimes as integer microseconds) and keeps no data of its own. By default
it stores what pynenc's base class gives it (DTOs, serialized results); with
``live_invocations`` it stores the invocation and result objects themselves
and converts them only when the raw DTO methods or an export ask.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from pynenc.exceptions import InvocationNotFoundError
from pynenc.invocation.status import InvocationStatus
from pynenc.models.call_dto import CallDTO
from pynenc.models.invocation_dto import InvocationDTO
from pynenc.state_backend.base_state_backend import BaseStateBackend
from pynenc.types import Params, Result

from ._store import Store, micros
from .config import ConfigStateBackendFastMem, store_retention
from .progress import show_progress
from .shortcuts import Rebuilder

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.app_info import AppInfo
    from pynenc.identifiers.invocation_id import InvocationId
    from pynenc.identifiers.task_id import TaskId
    from pynenc.invocation.dist_invocation import DistributedInvocation
    from pynenc.runner.runner_context import RunnerContext
    from pynenc.state_backend.base_state_backend import InvocationHistory
    from pynenc.workflow import WorkflowIdentity

    from ._store_common import InvocationRow

#: Typical bytes of the pynenc objects the store holds per invocation (its
#: InvocationDTO and CallDTO) and per history record (an InvocationHistory),
#: measured with tracemalloc on 20,000 of each as pynenc makes them.
PYNENC_OBJECT_BYTES = {"invocations": 680, "history_records": 305}

#: An export shows progress by default from this many items on.
EXPORT_PROGRESS_FROM = 10_000

# Methods whose arguments and answers need no translation: each instance binds
# them straight to its store's method, which skips the adapter's Python frame,
# most of the cost of a point operation. The class keeps them for the API, and
# for live mode, where the store may hold objects these must convert.
# (_get_result is not among them: a result may be kept unserialized, see KeptResult.)
DIRECT_METHODS = {
    "_get_invocation": "get_invocation",
    "_get_history": "get_history",
    "_set_result": "set_result",
    "_get_exception": "get_exception",
    "_set_exception": "set_exception",
    "_get_runner_context": "get_runner_context",
    "_get_runner_contexts": "get_runner_contexts",
}
CONVERTED_IN_LIVE_MODE = {"_get_invocation"}

#: Results of these exact types are kept as themselves by default (see ``KeptResult``).
SCALAR_RESULTS = frozenset({bool, float, type(None)})
#: pynenc's own serializers, whose round trip gives back an equal scalar.
SERIALIZERS_KEEPING_SCALARS = frozenset({"JsonSerializer", "PickleSerializer", "JsonPickleSerializer"})


class KeptResult:
    """A result kept as the object itself rather than serialized, serialized only if asked.

    In live mode every result is kept so. By default, so is a result of exact type
    ``bool``, ``float``, ``None`` or a 64-bit ``int`` when the app serializes with
    one of pynenc's serializers and its client data store keeps short values inline:
    serializing and deserializing such a value gives back an equal one, and nothing
    is stored elsewhere on the way, so ``get_result`` skips both and returns what
    pynenc's round trip would.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def dto_pair(value: Any) -> tuple[InvocationDTO, CallDTO] | None:
    """The ``(InvocationDTO, CallDTO)`` pair of a stored invocation: a pair, or a live invocation."""
    if value is None or type(value) is tuple:
        return value
    return (value.to_dto(), value.call.to_dto())


def _row(value: Any, source: Any) -> InvocationRow:
    """The store row keeping ``value``, its ids and relations read from ``source``."""
    workflow = source.workflow
    return (
        source.invocation_id,
        value,
        source.parent_invocation_id,
        source.parent_event_id,
        None if workflow is None else workflow.workflow_id,
        None if workflow is None else workflow.workflow_type.key,
    )


def _stored_as(value: Any, invocation: Any) -> bool:
    """Whether ``value``, a stored DTO pair, was made from ``invocation`` as it stands.

    True only when every field its DTOs take from it is the very object stored;
    reads pynenc's private call attributes, and is False when they are missing.
    """
    if type(value) is not tuple:
        return False
    inv_dto, call_dto = value
    call = invocation.call
    return (
        inv_dto.call_id is getattr(call, "_call_id", None)
        and call_dto.call_id is inv_dto.call_id
        and call_dto.serialized_arguments is getattr(call, "_serialized_arguments", None)
        and inv_dto.parent_invocation_id is invocation.parent_invocation_id
        and inv_dto.parent_event_id is invocation.parent_event_id
        and inv_dto.workflow is invocation.workflow
        and inv_dto.invocation_id == invocation.invocation_id
    )


def live_row(invocation: Any, index: int) -> InvocationRow:
    """Return the store row that keeps ``invocation`` itself (live mode)."""
    try:
        return _row(invocation, invocation)
    except AttributeError:
        raise TypeError(
            f"invocations[{index}] must be a DistributedInvocation, got {type(invocation).__name__}"
        ) from None


def invocation_row(entry: object, index: int) -> InvocationRow:
    """Return the store row for one ``(InvocationDTO, CallDTO)`` pair of an upsert."""
    if not (
        isinstance(entry, tuple)
        and len(entry) == 2
        and isinstance(entry[0], InvocationDTO)
        and isinstance(entry[1], CallDTO)
    ):
        raise TypeError(f"entries[{index}] must be an (InvocationDTO, CallDTO) pair")
    return _row(entry, entry[0])


class FastMemStateBackend(BaseStateBackend[Params, Result]):
    """In-process state backend: MemStateBackend's behaviour, indexed and thread-safe.

    Differences from pynenc's ``MemStateBackend``: ``purge`` clears everything,
    runner contexts and workflow data included; naive and aware datetimes may
    be mixed (naive means UTC); reads never fail while other threads write;
    ``iter_invocations_in_timerange`` yields ids in the order of their earliest
    record in the range rather than sorted by id.
    """

    #: The store implementation; a subclass may name the other one (the benchmarks do).
    store_cls: ClassVar[type[Store]] = Store

    # Process-wide, as in MemStateBackend, so the static discover_app_infos sees every app.
    _app_infos: ClassVar[dict[str, AppInfo]] = {}
    _app_infos_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, app: Pynenc) -> None:
        super().__init__(app)
        retention, max_finished = store_retention(self.conf)
        self._store = self.store_cls(retention=retention, max_finished=max_finished)
        self._final_statuses = InvocationStatus.get_final_statuses()
        self._live = self.conf.live_invocations
        self._rebuild = Rebuilder(app)
        for method, store_method in DIRECT_METHODS.items():
            if not (self._live and method in CONVERTED_IN_LIVE_MODE):
                setattr(self, method, getattr(self._store, store_method))

    @cached_property
    def _keeps_scalars(self) -> bool:
        """Whether scalar results can be kept unserialized (see ``KeptResult``); read on first use."""
        serializer = type(self.app.serializer)
        return (
            serializer.__name__ in SERIALIZERS_KEEPING_SCALARS
            and serializer.__module__.startswith("pynenc.")
            and self.app.client_data_store.conf.min_size_to_cache >= 128
        )

    def _kept(self, result: Any) -> bool:
        """Whether ``result`` is stored as itself rather than serialized."""
        if self._live:
            return True
        kind = type(result)
        if kind is int:
            return -(2**63) <= result < 2**63 and self._keeps_scalars
        return kind in SCALAR_RESULTS and self._keeps_scalars

    @cached_property
    def conf(self) -> ConfigStateBackendFastMem:
        """This backend's settings (retention), from the app's configuration."""
        return ConfigStateBackendFastMem(
            config_values=self.app.config_values, config_filepath=self.app.config_filepath
        )

    def purge(self) -> None:
        """Remove everything this backend holds, runner contexts and workflow data included."""
        self._store.purge()
        self._runner_context_cache.clear()

    # Invocations

    def _upsert_invocations(self, entries: list[tuple[InvocationDTO, CallDTO]]) -> None:
        """Store ``(InvocationDTO, CallDTO)`` pairs; the batch is applied whole or not at all."""
        if not isinstance(entries, (list, tuple)):
            raise TypeError(f"entries must be a list, got {type(entries).__name__}")
        self._store.upsert_invocations([invocation_row(entry, index) for index, entry in enumerate(entries)])

    def upsert_invocations(self, invocations: list[DistributedInvocation[Params, Result]]) -> None:
        """Store invocations: as their DTO pairs, or in live mode the objects themselves.

        As pynenc's base class does, each invocation is converted to its
        ``(InvocationDTO, CallDTO)`` pair; but one whose stored DTOs were made
        from the very same identity and argument objects it holds now is left
        as it is stored: its DTOs would come out equal (they are frozen), and
        pynenc upserts each invocation twice in a row.
        """
        if not isinstance(invocations, (list, tuple)):
            raise TypeError(f"invocations must be a list, got {type(invocations).__name__}")
        if self._live:
            self._store.upsert_invocations([live_row(inv, index) for index, inv in enumerate(invocations)])
            return
        store = self._store
        rows = []
        for invocation in invocations:
            if not _stored_as(store.get_invocation(invocation.invocation_id), invocation):
                inv_dto = invocation.to_dto()
                rows.append(_row((inv_dto, invocation.call.to_dto()), inv_dto))
        if rows:
            store.upsert_invocations(rows)

    def get_invocation(self, invocation_id: InvocationId) -> DistributedInvocation[Params, Result]:
        """Return the invocation: rebuilt from its DTOs (``shortcuts.Rebuilder``), or the live object.

        :raises InvocationNotFoundError: if it was never stored, as pynenc's base class does
        """
        value = self._store.get_invocation(invocation_id)
        if type(value) is tuple:
            return self._rebuild(*value)
        if value is None:
            raise InvocationNotFoundError(invocation_id, "The invocation wasn't stored")
        return value  # type: ignore[no-any-return]

    def _get_invocation(self, invocation_id: InvocationId) -> tuple[InvocationDTO, CallDTO] | None:
        """Return the stored DTO pair of ``invocation_id``, or ``None``."""
        return dto_pair(self._store.get_invocation(invocation_id))

    def get_child_invocations(self, parent_invocation_id: InvocationId) -> Iterator[InvocationId]:
        """Return the ids of the invocations whose parent is ``parent_invocation_id``."""
        return iter(self._store.child_ids(parent_invocation_id))  # type: ignore[arg-type]

    def get_invocations_by_parent_event(self, parent_event_id: str) -> Iterator[InvocationId]:
        """Return the ids of the invocations created in response to ``parent_event_id``."""
        return iter(self._store.ids_by_parent_event(parent_event_id))  # type: ignore[arg-type]

    def get_invocation_ids_by_workflow(
        self, workflow_id: str | None = None, workflow_type_key: str | None = None
    ) -> Iterator[InvocationId]:
        """Return the ids of invocations in a workflow and/or of a workflow type.

        As in MemStateBackend, an empty string filters nothing.
        """
        ids = self._store.ids_by_workflow(workflow_id or None, workflow_type_key or None)
        return iter(ids)  # type: ignore[arg-type]

    # Histories

    def _add_histories(
        self, invocation_ids: list[InvocationId], invocation_history: InvocationHistory
    ) -> None:
        """Append ``invocation_history`` to the history of each of ``invocation_ids``."""
        try:
            moment = invocation_history.timestamp
        except AttributeError:
            raise TypeError(
                f"invocation_history must be an InvocationHistory, got {type(invocation_history).__name__}"
            ) from None
        self._store.add_histories(
            invocation_ids,
            micros(moment, "invocation_history.timestamp"),
            invocation_history,
            invocation_history.status_record.status in self._final_statuses,
        )

    def _get_history(self, invocation_id: InvocationId) -> list[InvocationHistory]:
        """Return the history of ``invocation_id`` in timestamp order."""
        return self._store.get_history(invocation_id)

    def iter_invocations_in_timerange(
        self, start_time: datetime, end_time: datetime, batch_size: int = 100
    ) -> Iterator[list[InvocationId]]:
        """Yield batches of the ids of invocations with history in ``[start_time, end_time]``."""
        return self._store.invocations_in_range(  # type: ignore[return-value]
            micros(start_time, "start_time"), micros(end_time, "end_time"), batch_size
        )

    def iter_history_in_timerange(
        self, start_time: datetime, end_time: datetime, batch_size: int = 100
    ) -> Iterator[list[InvocationHistory]]:
        """Yield batches of the history records in ``[start_time, end_time]``, oldest first."""
        return self._store.history_in_range(
            micros(start_time, "start_time"), micros(end_time, "end_time"), batch_size
        )

    # Results and exceptions

    def set_result(self, invocation_id: InvocationId, result: Result) -> None:
        """Store the result: serialized, or kept as the object itself (see ``KeptResult``)."""
        if self._kept(result):
            self._store.set_result(invocation_id, KeptResult(result))
        else:
            super().set_result(invocation_id, result)

    def get_result(self, invocation_id: InvocationId) -> Result:
        """Return the result: deserialized, or the object itself if it was kept."""
        value = self._store.get_result(invocation_id)
        if type(value) is KeptResult:
            return value.value  # type: ignore[no-any-return]
        return self.app.client_data_store.deserialize(value)  # type: ignore[no-any-return]

    def _get_result(self, invocation_id: InvocationId) -> str:
        """Return the serialized result; raise ``KeyError`` if there is none."""
        return self._serialized(self._store.get_result(invocation_id))

    def _serialized(self, value: Any) -> str:
        if type(value) is KeptResult:
            return self.app.client_data_store.serialize(value.value)
        return value  # type: ignore[no-any-return]

    def _set_result(self, invocation_id: InvocationId, serialized_result: str) -> None:
        """Store the serialized result of ``invocation_id``."""
        self._store.set_result(invocation_id, serialized_result)

    def _get_exception(self, invocation_id: InvocationId) -> str:
        """Return the serialized exception; raise ``KeyError`` if there is none."""
        return self._store.get_exception(invocation_id)  # type: ignore[no-any-return]

    def _set_exception(self, invocation_id: InvocationId, serialized_exception: str) -> None:
        """Store the serialized exception of ``invocation_id``."""
        self._store.set_exception(invocation_id, serialized_exception)

    # Workflows

    def set_workflow_data(self, workflow_identity: WorkflowIdentity, key: str, value: Any) -> None:
        """Set ``key`` to ``value`` in the data of the workflow."""
        self._store.set_workflow_data(workflow_identity.workflow_id, key, value)

    def get_workflow_data(self, workflow_identity: WorkflowIdentity, key: str, default: Any = None) -> Any:
        """Return ``key`` from the data of the workflow, or ``default``."""
        return self._store.get_workflow_data(workflow_identity.workflow_id, key, default)

    def store_workflow_run(self, workflow_identity: WorkflowIdentity) -> None:
        """Record a run of a workflow type."""
        workflow_type = workflow_identity.workflow_type
        self._store.add_workflow_run(
            workflow_type.key, workflow_type, workflow_identity.workflow_id, workflow_identity
        )

    def get_all_workflow_types(self) -> Iterator[TaskId]:
        """Return every workflow type with a recorded run."""
        return iter(self._store.workflow_types())

    def get_all_workflow_runs(self) -> Iterator[WorkflowIdentity]:
        """Return every recorded workflow run."""
        return iter(self._store.workflow_runs())

    def get_workflow_runs(self, workflow_type: TaskId) -> Iterator[WorkflowIdentity]:
        """Return the recorded runs of ``workflow_type``."""
        return iter(self._store.workflow_runs(workflow_type.key))

    def store_workflow_sub_invocation(
        self, parent_workflow_id: InvocationId, sub_invocation_id: InvocationId
    ) -> None:
        """Record that ``sub_invocation_id`` runs inside ``parent_workflow_id``."""
        self._store.add_sub_invocation(parent_workflow_id, sub_invocation_id)

    def get_workflow_sub_invocations(self, workflow_id: InvocationId) -> Iterator[InvocationId]:
        """Return the ids recorded as running inside ``workflow_id``."""
        return iter(self._store.sub_invocation_ids(workflow_id))  # type: ignore[arg-type]

    # Runner contexts

    def _store_runner_context(self, runner_context: RunnerContext) -> None:
        """Store ``runner_context`` under its runner id."""
        self._store.set_runner_context(runner_context.runner_id, runner_context)

    def _get_runner_context(self, runner_id: str) -> RunnerContext | None:
        """Return the stored context of ``runner_id``, or ``None``."""
        return self._store.get_runner_context(runner_id)  # type: ignore[no-any-return]

    def _get_runner_contexts(self, runner_ids: list[str]) -> list[RunnerContext]:
        """Return the stored contexts of ``runner_ids``, skipping unknown ids."""
        return self._store.get_runner_contexts(runner_ids)

    def get_matching_runner_contexts(self, partial_id: str) -> Iterator[RunnerContext]:
        """Return the contexts whose runner id contains ``partial_id``."""
        return iter(self._store.match_runner_contexts(partial_id))

    # Usage and export

    def stats(self) -> dict[str, int]:
        """Return the store's counts (see ``Store.stats``) and an estimate of the bytes held.

        ``bytes`` is the store's estimate plus typical sizes of pynenc's objects
        (``PYNENC_OBJECT_BYTES``); arguments and results larger than usual
        count only through the length of serialized results and exceptions.

        Runtime complexity: `O(1)` in the store's size
        """
        stats = self._store.stats()
        stats["bytes"] += sum(stats[kind] * size for kind, size in PYNENC_OBJECT_BYTES.items())
        return stats

    def evict(self, limit: int = 1000) -> int:
        """Evict up to ``limit`` due finished invocations now; writes do it on their own.

        :return: how many were evicted (0 when retention is off)
        """
        return self._store.evict(limit)

    def export_to(
        self, other: BaseStateBackend[Any, Any], progress: bool | None = None, stream: TextIO | None = None
    ) -> dict[str, int]:
        """Copy everything this backend holds into ``other``, through ``other``'s own methods.

        Invocations, history records (timestamps kept, in time order), results,
        exceptions, workflow runs, data and sub-invocations, runner contexts and
        this app's info. Written while tasks run, each part is copied as it is
        when read. Workflow data whose workflow is known neither from a run nor
        from a stored invocation has no identity to give ``other`` and is
        counted under ``skipped_workflow_data``.

        :param other: any pynenc state backend, e.g. ``SQLiteStateBackend``
        :param progress: show a progress bar on ``stream`` (stderr by default);
            by default only for stores of at least ``EXPORT_PROGRESS_FROM`` items
        :return: how many items of each kind were copied
        """
        store = self._store
        stats = store.stats()
        total = stats["invocations"] + stats["history_records"] + stats["results"] + stats["exceptions"]
        if progress is None:
            progress = total >= EXPORT_PROGRESS_FROM
        stream = sys.stderr if stream is None else stream
        started = time.perf_counter()
        done = 0
        counts = dict.fromkeys(
            [
                "invocations",
                "history_records",
                "results",
                "exceptions",
                "workflow_runs",
                "workflow_data",
                "skipped_workflow_data",
                "sub_invocations",
                "runner_contexts",
                "app_infos",
            ],
            0,
        )

        def advance(kind: str, count: int) -> None:
            nonlocal done
            counts[kind] += count
            done += count
            if progress:
                show_progress("export", min(done, total), max(total, done), started, stream)

        identities: dict[str, WorkflowIdentity] = {}
        for chunk in store.items("invocations"):
            pairs = [pair for _, value in chunk if (pair := dto_pair(value)) is not None]
            for inv_dto, _ in pairs:
                if inv_dto.workflow is not None:
                    identities.setdefault(inv_dto.workflow.workflow_id, inv_dto.workflow)
            other._upsert_invocations(pairs)
            advance("invocations", len(pairs))
        for chunk in store.items("histories"):
            start = 0
            for end in range(1, len(chunk) + 1):
                # Records written together for several invocations are copied together.
                if end == len(chunk) or chunk[end][1] is not chunk[start][1]:
                    other._add_histories([inv_id for inv_id, _ in chunk[start:end]], chunk[start][1])
                    start = end
            advance("history_records", len(chunk))
        for kind, setter in (("results", other._set_result), ("exceptions", other._set_exception)):
            for chunk in store.items(kind):
                for invocation_id, value in chunk:
                    setter(invocation_id, self._serialized(value))
                advance(kind, len(chunk))
        for run in store.workflow_runs():
            identities[run.workflow_id] = run
            other.store_workflow_run(run)
            counts["workflow_runs"] += 1
        for chunk in store.items("workflow_data"):
            for workflow_id, key, value in chunk:
                identity = identities.get(workflow_id)
                if identity is None:
                    counts["skipped_workflow_data"] += 1
                else:
                    other.set_workflow_data(identity, key, value)
                    counts["workflow_data"] += 1
        for chunk in store.items("sub_invocations"):
            for workflow_id, invocation_id in chunk:
                other.store_workflow_sub_invocation(workflow_id, invocation_id)
            counts["sub_invocations"] += len(chunk)
        for chunk in store.items("runner_contexts"):
            for _, context in chunk:
                other._store_runner_context(context)
            counts["runner_contexts"] += len(chunk)
        with self._app_infos_lock:
            app_info = self._app_infos.get(self.app.app_id)
        if app_info is not None:
            other.store_app_info(app_info)
            counts["app_infos"] = 1
        if progress and done < total:  # items evicted meanwhile: close the bar
            show_progress("export", total, total, started, stream)
        return counts

    # App discovery

    def store_app_info(self, app_info: AppInfo) -> None:
        """Register ``app_info`` for discovery in this process."""
        with self._app_infos_lock:
            FastMemStateBackend._app_infos[app_info.app_id] = app_info

    def get_app_info(self) -> AppInfo:
        """Return this app's info; raise ``ValueError`` if it was never stored."""
        app_id = self.app.app_id
        with self._app_infos_lock:
            if app_id not in self._app_infos:
                raise ValueError(f"No app info found for app_id '{app_id}'")
            return self._app_infos[app_id]

    @staticmethod
    def discover_app_infos() -> dict[str, AppInfo]:
        """Return the info of every app registered with a FastMemStateBackend in this process."""
        with FastMemStateBackend._app_infos_lock:
            return dict(FastMemStateBackend._app_infos)
