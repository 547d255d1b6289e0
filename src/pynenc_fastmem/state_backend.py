"""FastMemStateBackend: pynenc's state backend API over the in-process store.

The adapter translates pynenc objects into store calls (ids as ``str``,
datetimes as integer microseconds) and keeps no data of its own. By default
it stores what pynenc's base class gives it (DTOs, serialized results); with
``live_invocations`` it stores the invocation and result objects themselves,
and private copies of exceptions, and converts them only when the raw methods
or an export ask.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from pynenc.exceptions import InvocationNotFoundError, PynencError
from pynenc.invocation.status import InvocationStatus
from pynenc.models.call_dto import CallDTO
from pynenc.models.invocation_dto import InvocationDTO
from pynenc.state_backend.base_state_backend import BaseStateBackend, InvocationHistory
from pynenc.types import Params, Result

from ._locking import Lock, holding, new_lock
from ._store import Store, micros
from .config import (
    ORCHESTRATOR_CLS,
    ConfigStateBackendFastMem,
    check_single_process_runner,
    retention_settings,
    store_retention,
)
from .errors import EvictedError, InvocationEvictedError
from .shortcuts import Rebuilder, history_record

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.app_info import AppInfo
    from pynenc.identifiers.invocation_id import InvocationId
    from pynenc.identifiers.task_id import TaskId
    from pynenc.invocation.dist_invocation import DistributedInvocation
    from pynenc.invocation.status import InvocationStatusRecord
    from pynenc.runner.runner_context import RunnerContext
    from pynenc.workflow import WorkflowIdentity

    from ._store_common import InvocationRow, StoreStats
    from .config import StoreRetention
    from .transfer import TransferCounts

logger = logging.getLogger(__name__)

#: Typical bytes of the pynenc objects the store holds per invocation (its
#: InvocationDTO and CallDTO) and per history record (an InvocationHistory),
#: measured with tracemalloc on 20,000 of each as pynenc makes them.
PYNENC_OBJECT_BYTES = {"invocations": 680, "history_records": 305}

# Methods whose arguments and answers need no translation: each instance binds
# them straight to its store's method, which skips the adapter's Python frame,
# most of the cost of a point operation. The class keeps them for the API, and
# for live mode, where the store may hold objects these must convert.
# Each store method takes the arguments under the names pynenc's base class gives them.
# (_get_result is not among them: a result may be kept unserialized, see KeptResult;
# nor _get_exception: a missing one may have been evicted, see _missing; nor
# _set_result and _set_exception, whose second argument the store calls ``value``.)
DIRECT_METHODS = {
    "_get_invocation": "get_invocation",
    "_get_history": "get_history",
    "_get_runner_context": "get_runner_context",
    "_get_runner_contexts": "get_runner_contexts",
    "store_workflow_sub_invocation": "add_sub_invocation",
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


class KeptException:
    """In live mode, the exception of a failed invocation kept as an object, serialized only if asked.

    ``value`` is a private ``copy.deepcopy`` of the exception pynenc passed (so no
    traceback, and nothing the task still holds), and each ``get_exception`` returns
    a new deep copy of it: a fresh exception per read, as pynenc's deserialized copies
    are, made without JSON (about 2-5 µs instead of 45). An exception ``deepcopy``
    cannot copy into one of its own type, and pynenc's own errors (which pynenc
    serializes its own way), are serialized as by default.
    """

    __slots__ = ("value",)

    def __init__(self, value: Exception) -> None:
        self.value = value


def kept_exception(exception: Exception) -> KeptException | None:
    """``exception`` as live mode keeps it, or ``None`` if it is to be serialized (see ``KeptException``)."""
    if isinstance(exception, PynencError):
        return None
    try:
        kept = copy.deepcopy(exception)
    except Exception:  # noqa: BLE001 - whatever cannot be copied is serialized, as by default
        return None
    return KeptException(kept) if type(kept) is type(exception) else None


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


def _runner_cls(app: Any) -> str:
    """The name of the app's runner class: of the runner set on it, else of its configuration."""
    runner = getattr(app, "_runner_instance", None)
    return type(runner).__name__ if runner is not None else str(app.conf.runner_cls)


#: Guards the making of an app's store (see ``app_store``).
_app_store_lock = new_lock()

#: A store and the runner-context cache that goes with it (pynenc's base class keeps one).
AppStore = tuple[Store, dict[str, "RunnerContext"]]


def app_store(app: Pynenc, store_cls: type[Store], settings: StoreRetention) -> AppStore:
    """The ``store_cls`` store of ``app``: made with ``settings`` by its first backend, shared by the rest.

    pynenc builds an app's state backend lazily and without a lock, so two threads
    that first touch ``app.state_backend`` together (a runner starting as a task is
    called) each build one, and the app keeps the last: what the other thread wrote
    went to a backend nobody reads. Sharing one store per app, as pynenc's Redis and
    SQLite backends share one database, keeps it. The store is kept on the app
    itself, so it lives exactly as long as the app.
    """
    return holding(_app_store_lock, _app_store_locked, app, store_cls, settings)


def _app_store_locked(app: Pynenc, store_cls: type[Store], settings: StoreRetention) -> AppStore:
    stores: dict[type[Store], AppStore] = vars(app).setdefault("_fastmem_stores", {})
    if store_cls not in stores:
        stores[store_cls] = (store_cls(**settings), {})
        orchestrator_cls = str(app.conf.orchestrator_cls)
        if orchestrator_cls != ORCHESTRATOR_CLS and (
            settings["retention"] is not None or settings["max_finished"] is not None
        ):
            logger.warning(
                "pynenc-fastmem: retention bounds the state backend only; app %s's orchestrator %s keeps "
                "every invocation's status. Set orchestrator_cls=%r (PynencBuilder().fast_memory() "
                "does) to bound both.",
                app.app_id,
                orchestrator_cls,
                ORCHESTRATOR_CLS,
            )
    return stores[store_cls]


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
    record in the range rather than sorted by id; every FastMemStateBackend made
    for one app shares one store (see ``app_store``).
    """

    #: The store implementation; a subclass may name the other one (the benchmarks do).
    store_cls: ClassVar[type[Store]] = Store

    # Process-wide, as in MemStateBackend, so the static discover_app_infos sees every app.
    _app_infos: ClassVar[dict[str, AppInfo]] = {}
    _app_infos_lock: ClassVar[Lock] = new_lock()

    def __init__(self, app: Pynenc) -> None:
        """Create the backend of ``app``.

        :raises ValueError: if the app's runner runs tasks in other processes,
            which would not see this process's state
        """
        super().__init__(app)
        check_single_process_runner(_runner_cls(app))
        retention = store_retention(self.conf)
        self._store, self._runner_context_cache = app_store(app, self.store_cls, retention)
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
        rows = []
        for entry in entries:
            # pynenc's own pairs take the inline check; anything else invocation_row's (a third faster)
            if (
                type(entry) is tuple
                and len(entry) == 2
                and type(entry[0]) is InvocationDTO
                and type(entry[1]) is CallDTO
            ):
                rows.append(_row(entry, entry[0]))
            else:
                rows.append(invocation_row(entry, len(rows)))
        self._store.upsert_invocations(rows)

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
        :raises InvocationEvictedError: (a subclass) if retention evicted it
        """
        value = self._store.get_invocation(invocation_id)
        if type(value) is tuple:
            return self._rebuild(*value)
        if value is None:
            if self._store.was_evicted(invocation_id):
                raise InvocationEvictedError(invocation_id, self._evicted_message(invocation_id, "it"))
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

    def add_history(
        self,
        invocation_id: InvocationId,
        status_record: InvocationStatusRecord,
        runner_context: RunnerContext,
    ) -> None:
        """Record ``status_record`` in the history of ``invocation_id``, as pynenc's base class does.

        The record is made by ``shortcuts.history_record`` (the object pynenc's
        constructor makes, for about 0.5 µs instead of 0.7) and given to the
        store as ``_add_histories`` gives it, without its checks: it is ours.
        """
        self.store_runner_context(runner_context)
        record = history_record(invocation_id, status_record, runner_context.runner_id, None)
        # Its field, not the `timestamp` property: that is a Python call, about 40 ns.
        moment = micros(record._timestamp, "timestamp")
        final = status_record.status in self._final_statuses
        self._store.add_histories([invocation_id], moment, record, final)

    def add_histories(
        self,
        invocations: list[DistributedInvocation[Params, Result]],
        status_record: InvocationStatusRecord,
        runner_context: RunnerContext,
    ) -> None:
        """Record ``status_record`` in the history of each invocation, as pynenc's base class does.

        A ``REGISTERED`` record names the invocation's parent as the one that registered it.
        Records are made as ``add_history`` makes them.
        """
        self.store_runner_context(runner_context)
        registered = status_record.status == InvocationStatus.REGISTERED
        final = status_record.status in self._final_statuses
        add, runner_id = self._store.add_histories, runner_context.runner_id
        for invocation in invocations:
            invocation_id = invocation.invocation_id
            registered_by = invocation.parent_invocation_id if registered else None
            record = history_record(invocation_id, status_record, runner_id, registered_by)
            add([invocation_id], micros(record._timestamp, "timestamp"), record, final)

    def _add_histories(
        self, invocation_ids: list[InvocationId], invocation_history: InvocationHistory
    ) -> None:
        """Append ``invocation_history`` to the history of each of ``invocation_ids``."""
        try:
            if type(invocation_history) is InvocationHistory:
                moment = invocation_history._timestamp  # the property's field, without its Python call
            else:
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
        """Return the result: deserialized, or the object itself if it was kept.

        :raises KeyError: if there is none; ``EvictedError`` (a subclass) if retention evicted it
        """
        value = self._stored_outcome(self._store.get_result, invocation_id, "result")
        if type(value) is KeptResult:
            return value.value  # type: ignore[no-any-return]
        return self.app.client_data_store.deserialize(value)  # type: ignore[no-any-return]

    def _get_result(self, invocation_id: InvocationId) -> str:
        """Return the serialized result; raise ``KeyError`` (``EvictedError`` if evicted) if there is none."""
        return self._serialized(self._stored_outcome(self._store.get_result, invocation_id, "result"))

    def _stored_outcome(self, read: Any, invocation_id: InvocationId, what: str) -> Any:
        """``read(invocation_id)``, its ``KeyError`` made an ``EvictedError`` if retention evicted it."""
        try:
            return read(invocation_id)
        except KeyError:
            if not self._store.was_evicted(invocation_id):
                raise
        raise EvictedError(invocation_id, self._evicted_message(invocation_id, f"its {what}"))

    def _evicted_message_if_evicted(self, invocation_id: str, what: str) -> str | None:
        if not self._store.was_evicted(invocation_id):
            return None
        return self._evicted_message(invocation_id, what)

    def _evicted_message(self, invocation_id: str, what: str) -> str:
        return (
            f"invocation {invocation_id} was evicted by FastMemStateBackend's retention "
            f"({retention_settings(self.conf)}), and {what} with it"
        )

    def _serialized(self, value: Any) -> str:
        """A stored result or exception as pynenc's base class would have stored it: serialized."""
        if type(value) is KeptResult:
            return self.app.client_data_store.serialize(value.value)
        if type(value) is KeptException:
            return self.serialize_exception(value.value)
        return value  # type: ignore[no-any-return]

    def _set_result(self, invocation_id: InvocationId, serialized_result: str) -> None:
        """Store the serialized result of ``invocation_id``."""
        self._store.set_result(invocation_id, serialized_result)

    def set_exception(self, invocation_id: InvocationId, exception: Exception) -> None:
        """Store the exception: serialized, or in live mode kept as a copy (see ``KeptException``)."""
        kept = kept_exception(exception) if self._live else None
        if kept is None:
            super().set_exception(invocation_id, exception)
        else:
            self._store.set_exception(invocation_id, kept)

    def get_exception(self, invocation_id: InvocationId) -> Exception:
        """Return a new copy of the exception: deserialized, or copied from the kept one.

        :raises KeyError: if there is none; ``EvictedError`` (a subclass) if retention evicted it
        """
        value = self._stored_outcome(self._store.get_exception, invocation_id, "exception")
        if type(value) is KeptException:
            return copy.deepcopy(value.value)
        return self.deserialize_exception(value)

    def _get_exception(self, invocation_id: InvocationId) -> str:
        """Return the serialized exception; ``KeyError`` (``EvictedError`` if evicted) if there is none."""
        return self._serialized(self._stored_outcome(self._store.get_exception, invocation_id, "exception"))

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

    def stats(self) -> StoreStats:
        """Return the store's counts (see ``Store.stats``) and an estimate of the bytes held.

        ``bytes`` is the store's estimate plus typical sizes of pynenc's objects
        (``PYNENC_OBJECT_BYTES``); arguments and results larger than usual
        count only through the length of serialized results and exceptions.

        Runtime complexity: `O(1)` in the store's size
        """
        stats = self._store.stats()
        stats["bytes"] += stats["invocations"] * PYNENC_OBJECT_BYTES["invocations"]
        stats["bytes"] += stats["history_records"] * PYNENC_OBJECT_BYTES["history_records"]
        return stats

    def evict(self, limit: int = 1000) -> int:
        """Evict up to ``limit`` due finished invocations now; writes do it on their own.

        :return: how many were evicted (0 when retention is off)
        """
        return self._store.evict(limit)

    def export_to(
        self, other: BaseStateBackend[Any, Any], progress: bool | None = None, stream: TextIO | None = None
    ) -> TransferCounts:
        """Copy everything this backend holds into ``other``, through ``other``'s own methods.

        Invocations, history records (timestamps kept, in time order), results,
        exceptions, workflow runs, data and sub-invocations, runner contexts and
        this app's info. Written while tasks run, each part is copied as it is
        when read. Workflow data whose workflow is known neither from a run nor
        from a stored invocation has no identity to give ``other`` and is
        counted under ``skipped_workflow_data``.

        :param other: any pynenc state backend, e.g. ``SQLiteStateBackend``
        :param progress: draw a progress bar on ``stream`` (stderr by default); by
            default only on a terminal, for at least ``transfer.PROGRESS_FROM`` items
        :return: how many items of each kind were copied
        """
        from .transfer import export  # it imports this module

        return export(self, other, progress, stream)

    def import_from(
        self, other: BaseStateBackend[Any, Any], progress: bool | None = None, stream: TextIO | None = None
    ) -> TransferCounts:
        """Merge everything ``other`` holds into this backend: ``export_to``'s inverse.

        Reads any pynenc state backend through its public and raw methods:
        invocations (every one with history, or in a workflow), their history
        records with their timestamps, results, exceptions, workflow runs,
        sub-invocations and runner contexts, and workflow data from the
        backends that can list it (FastMem, Mem, SQLite). Into a store that
        already holds some of it, an invocation stored on both sides keeps the
        side whose latest history record is newer (``newer_here`` and
        ``replaced`` count them; a replaced one gets the other's newer records,
        result and exception), and workflow data and runner contexts already
        here stay as they are.

        :param other: any pynenc state backend, e.g. a ``SQLiteStateBackend`` written by ``export_to``
        :param progress: as for ``export_to``
        :return: how many items of each kind were copied
        """
        from .transfer import import_  # it imports this module

        return import_(self, other, progress, stream)

    # App discovery

    def store_app_info(self, app_info: AppInfo) -> None:
        """Register ``app_info`` for discovery in this process."""
        holding(self._app_infos_lock, FastMemStateBackend._app_infos.__setitem__, app_info.app_id, app_info)

    def get_app_info(self) -> AppInfo:
        """Return this app's info; raise ``ValueError`` if it was never stored."""
        app_id = self.app.app_id
        app_info = holding(self._app_infos_lock, self._app_infos.get, app_id)
        if app_info is None:
            raise ValueError(f"No app info found for app_id '{app_id}'")
        return app_info

    @staticmethod
    def discover_app_infos() -> dict[str, AppInfo]:
        """Return the info of every app registered with a FastMemStateBackend in this process."""
        return holding(FastMemStateBackend._app_infos_lock, dict, FastMemStateBackend._app_infos)
