"""Retention for the whole app: pynenc's in-memory orchestrator forgets what the store evicted.

``MemOrchestrator`` keeps maps by invocation id (status records, retries, call ids,
argument indexes, per-invocation locks, the queue of invocations to purge) and
nothing in pynenc 0.4 ever empties them: its ``auto_purge`` is never called, and
its ``clean_up_invocation`` reads the invocation back from the state backend,
which no longer has it once evicted. So a retained backend alone bounds only its
own memory. FastMemStateBackend calls :func:`forget_evicted` after each eviction
(``Store``'s ``on_evict``); it clears the same entries ``clean_up_invocation``
clears, from the orchestrator's own maps, and those it leaves behind (locks,
empty index sets, the purge queue). Other orchestrators keep their state
elsewhere and are left alone.

Once forgotten, an invocation's status is gone from the orchestrator too, and
pynenc reads it before a result; :func:`say_evicted` makes that read raise
``EvictedError`` rather than a bare ``KeyError``.

Both act only for the app's own state backend: a FastMemStateBackend made
directly for an app configured with another backend (a copy, a benchmark) holds
other invocations than the ones the app's orchestrator tracks. Every
FastMemStateBackend of one app with one store class shares one store
(``state_backend.app_store``), so the app's backend of the evicting store's
class is the one that evicted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pynenc.orchestrator.mem_orchestrator import MemOrchestrator

from ._locking import holding, new_lock
from .errors import EvictedError

if TYPE_CHECKING:
    from pynenc.app import Pynenc

    from ._store import Store
    from .state_backend import FastMemStateBackend

logger = logging.getLogger(__name__)
_trim_lock = new_lock()  # one trimmer at a time: pynenc only appends to the queue


def _apps_backend(app: Pynenc, store_cls: type[Store]) -> FastMemStateBackend[Any, Any] | None:
    """``app``'s state backend if it is a FastMemStateBackend over a ``store_cls`` store, else None.

    Reads pynenc's private ``_state_backend``: the public property would build the
    app's configured backend when it has not been built yet.
    """
    from .state_backend import FastMemStateBackend  # it imports this module

    backend = getattr(app, "_state_backend", None)
    if isinstance(backend, FastMemStateBackend) and backend.store_cls is store_cls:
        return backend
    return None


class _StatusRecords(dict[Any, Any]):
    """MemOrchestrator's status records; reading an evicted invocation's raises ``EvictedError``."""

    __slots__ = ("_app", "_store_cls")

    def __init__(self, records: dict[Any, Any], app: Pynenc, store_cls: type[Store]) -> None:
        super().__init__(records)
        self._app, self._store_cls = app, store_cls

    def __missing__(self, invocation_id: Any) -> Any:
        backend = _apps_backend(self._app, self._store_cls)
        message = None
        if backend is not None:
            message = backend._evicted_message_if_evicted(invocation_id, "its status")
        if message is None:
            raise KeyError(invocation_id)
        raise EvictedError(invocation_id, message)


def say_evicted(app: Pynenc, backend: FastMemStateBackend[Any, Any]) -> None:
    """Make ``app``'s in-memory orchestrator raise ``EvictedError`` for an evicted invocation's status.

    Called when the backend is created, which is before the orchestrator records
    a status from another thread, so no record is lost in the swap; only with
    ``MemOrchestrator`` configured, so no other orchestrator is built early.

    :param backend: the backend being created for ``app``
    """
    if app.conf.orchestrator_cls != MemOrchestrator.__name__:
        return
    orchestrator = app.orchestrator
    if isinstance(orchestrator, MemOrchestrator) and type(orchestrator.invocation_status_record) is dict:
        orchestrator.invocation_status_record = _StatusRecords(
            orchestrator.invocation_status_record, app, backend.store_cls
        )


def forget_evicted(app: Pynenc, store_cls: type[Store], invocation_ids: list[Any]) -> None:
    """Remove the evicted ``invocation_ids`` from ``app``'s orchestrator if it is in memory.

    Only when the evicting store (of class ``store_cls``) is ``app``'s state backend's.
    Runs in the thread whose write evicted them, often a runner's: an error is
    logged, never raised, so an eviction never fails a task.
    """
    try:
        backend = _apps_backend(app, store_cls)
        orchestrator = None if backend is None else app.orchestrator
        if backend is not None and isinstance(orchestrator, MemOrchestrator):
            for invocation_id in invocation_ids:
                _forget(orchestrator, invocation_id)
            _trim_purge_queue(orchestrator, backend)
    except Exception:
        logger.exception("pynenc-fastmem: the orchestrator could not forget evicted invocations")


def _forget(orchestrator: MemOrchestrator, invocation_id: Any) -> None:
    call_id = orchestrator.inv_id_to_call_id.pop(invocation_id, None)
    if call_id is not None:
        orchestrator.task_id_to_inv_id.get(call_id.task_id, set()).discard(invocation_id)
        _discard(orchestrator.call_id_to_inv_id, call_id, invocation_id)
    for arg in orchestrator.invocation_args.pop(invocation_id, ()):
        _discard(orchestrator.args_index, arg, invocation_id)
    record = orchestrator.invocation_status_record.pop(invocation_id, None)
    if record is not None:
        orchestrator.status_index.get(record.status, set()).discard(invocation_id)
    orchestrator.invocation_retries.pop(invocation_id, None)
    orchestrator.locks.pop(invocation_id, None)


def _discard(index: dict[Any, set[Any]], key: Any, invocation_id: Any) -> None:
    """Discard ``invocation_id`` from ``index[key]``, and the key with its set once empty.

    An id another thread adds to the set between the check and the removal is put back.
    """
    members = index.get(key)
    if members is None:
        return
    members.discard(invocation_id)
    if not members:
        removed = index.pop(key, None)
        if removed:
            index.setdefault(key, set()).update(removed)


def _trim_purge_queue(orchestrator: MemOrchestrator, state_backend: FastMemStateBackend[Any, Any]) -> None:
    """Drop the queue's oldest entries whose invocation is no longer stored.

    The queue is in the order invocations finished, which is the order they
    are evicted in, but for those held for a running parent: those stop the
    trim until they go, so the queue stays about as long as the store's
    finished invocations.
    """
    holding(_trim_lock, _trim, orchestrator.invocations_to_purge, state_backend._store)


def _trim(queue: Any, store: Store) -> None:
    while queue and store.get_invocation(queue[0][1]) is None:
        queue.popleft()
