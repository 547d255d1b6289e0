"""The pure-Python store: the reference implementation of the store interface.

The store knows nothing of pynenc. Ids are ``str``, stored values are opaque
objects, timestamps are integer microseconds since the epoch. Every query is
answered from an index maintained on write, so its cost is proportional to its
answer, and every compound operation is atomic with respect to other threads.

Locks are striped by invocation id; the maps that span invocations (relations,
workflows, runner contexts, the time index) each have their own lock. A thread
that needs several locks takes them in one global order (stripes by ascending
index, then relations, workflows, time index, runner contexts), so no two
threads can deadlock. No user code runs while a lock is held: arguments are
validated before locking, ids are exact ``str``, and values a write displaces
are released only after the locks are.

History records enter a per-invocation list (appended when in order, inserted
otherwise) and the time index: a ``SortedList`` keyed by (timestamp, arrival
sequence) fed through a pending buffer, so a write costs an append and the
sorting is paid in bulk when a range query or ``_check`` next needs it.

An invocation is finished when its latest history record was written with
``final=True``; the flag is the lowest bit of the record's arrival sequence, so
it costs no memory. With retention configured, finished invocations also enter
an eviction queue ordered by (timestamp, sequence) of their final record, and
each write of a final record evicts a few of the oldest due ones (see ``evict``).
"""

from __future__ import annotations

import itertools
import threading
import time
from bisect import insort
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, NamedTuple

from sortedcontainers import SortedList

InvocationRow = tuple[str, Any, str | None, str | None, str | None, str | None]
"""One invocation to upsert:
``(invocation_id, value, parent_id, parent_event_id, workflow_id, workflow_type)``."""

DEFAULT_STRIPES = 16

# Range queries read the time index this many entries per lock, whatever the batch size.
READ_CHUNK = 1024

# A write of final records evicts up to this many invocations per final record it adds,
# so eviction keeps ahead of new finished invocations and drains a backlog step by step.
EVICTIONS_PER_FINAL = 2

#: The kinds of item ``Store.items`` yields.
ITEM_KINDS = (
    "invocations",
    "histories",
    "results",
    "exceptions",
    "workflow_data",
    "sub_invocations",
    "runner_contexts",
)

_MISSING = object()


def check_id(value: object, name: str) -> str:
    """Return ``value`` as an exact ``str``, or raise ``TypeError`` naming ``name``.

    A ``str`` subclass is copied to a plain ``str``, so no user-defined
    ``__hash__`` or ``__eq__`` ever runs while the store holds a lock.
    """
    if type(value) is str:
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return str.__str__(value)


def check_optional_id(value: object, name: str) -> str | None:
    """Return ``value`` as in :func:`check_id`, letting ``None`` through."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str or None, got {type(value).__name__}")
    return check_id(value, name)


def check_ids(values: object, name: str) -> list[str]:
    """Return ``values``, a list or tuple of ``str``, as a new list of exact ``str``."""
    if type(values) is list or type(values) is tuple:
        for value in values:
            if type(value) is not str:
                break
        else:
            return list(values)
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{name} must be a list of str, got {type(values).__name__}")
    return [check_id(value, f"{name}[{index}]") for index, value in enumerate(values)]


MIN_MICROS = -(2**63)
MAX_MICROS = 2**63 - 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


def check_micros(value: object, name: str) -> int:
    """Return ``value`` as an ``int`` timestamp (not a ``bool``) that fits in 64 bits."""
    if type(value) is int and MIN_MICROS <= value <= MAX_MICROS:
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int of microseconds, got {type(value).__name__}")
    value = int(value)
    if not MIN_MICROS <= value <= MAX_MICROS:
        raise ValueError(f"{name} must fit in a signed 64-bit integer, got {value}")
    return value


def micros(moment: object, name: str) -> int:
    """Return the datetime ``moment`` as integer microseconds since the epoch; naive means UTC.

    Runtime complexity: `O(1)`
    """
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_MICROSECOND


def check_count(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` if it is an ``int`` (not a ``bool``) of at least ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_batch_size(value: object) -> int:
    """Return ``value`` if it is an ``int`` of at least 1."""
    return check_count(value, "batch_size")


def check_flag(value: object, name: str) -> bool:
    """Return ``value`` if it is a ``bool``."""
    if type(value) is not bool:
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def check_optional_count(value: object, name: str) -> int | None:
    """Return ``value``, ``None`` or an ``int >= 0``, as in :func:`check_count`."""
    return None if value is None else check_count(value, name, 0)


def wall_clock_micros() -> int:
    """The time now, as integer microseconds since the epoch: the store's default clock."""
    return time.time_ns() // 1000


def value_size(value: object) -> int:
    """The length of a ``str`` or ``bytes`` value (a serialized result); 0 for other values.

    Only exact built-in types are measured, so no user code runs.
    """
    kind = type(value)
    return len(value) if kind is str or kind is bytes else 0  # type: ignore[arg-type]


def is_plain_row(row: object) -> bool:
    """Whether ``row`` is a 6-tuple of exact ``str`` ids that needs no further check."""
    if type(row) is not tuple or len(row) != 6 or type(row[0]) is not str:
        return False
    _, _, parent_id, parent_event_id, workflow_id, workflow_type = row
    return (
        (parent_id is None or type(parent_id) is str)
        and (parent_event_id is None or type(parent_event_id) is str)
        and (workflow_id is None) == (workflow_type is None)
        and (workflow_id is None or (type(workflow_id) is str and type(workflow_type) is str))
    )


def check_row(row: object, index: int) -> InvocationRow:
    """Return ``row``, a well-formed :data:`InvocationRow`, with its ids as exact ``str``."""
    if is_plain_row(row):
        return row  # type: ignore[return-value]
    name = f"rows[{index}]"
    if not isinstance(row, tuple) or len(row) != 6:
        raise TypeError(
            f"{name} must be a 6-tuple (invocation_id, value, parent_id, "
            f"parent_event_id, workflow_id, workflow_type)"
        )
    checked = (
        check_id(row[0], f"{name} invocation_id"),
        row[1],
        check_optional_id(row[2], f"{name} parent_id"),
        check_optional_id(row[3], f"{name} parent_event_id"),
        check_optional_id(row[4], f"{name} workflow_id"),
        check_optional_id(row[5], f"{name} workflow_type"),
    )
    if (checked[4] is None) != (checked[5] is None):
        raise ValueError(f"{name} must give both workflow_id and workflow_type or neither")
    return checked


def _add_member(index: dict[str, dict[str, None]], key: str | None, member: str) -> None:
    if key is not None:
        index.setdefault(key, {})[member] = None


def _remove_member(index: dict[str, dict[str, None]], key: str | None, member: str) -> None:
    if key is None:
        return
    members = index.get(key)
    if members is not None:
        members.pop(member, None)
        if not members:
            del index[key]


def _records(chunks: Iterable[list[tuple[int, int, str, Any]]], batch_size: int) -> Iterator[list[Any]]:
    """Regroup the records of time-index chunks into batches of ``batch_size``."""
    batch: list[Any] = []
    for entries in chunks:
        for entry in entries:
            batch.append(entry[3])
            if len(batch) == batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


class _LockSet:
    """Locks taken together, in the order given (which must be the global order)."""

    __slots__ = ("locks",)

    def __init__(self, locks: Sequence[threading.Lock]) -> None:
        self.locks = tuple(locks)

    def __enter__(self) -> None:
        for lock in self.locks:
            lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        for lock in self.locks:
            lock.release()


class _Stripe:
    """The per-invocation maps of the ids that hash to one stripe, and their lock."""

    __slots__ = ("exceptions", "finished", "histories", "invocations", "lock", "results", "value_bytes")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Drop every map and counter; call with the lock held."""
        # invocation_id -> InvocationRow as last upserted
        self.invocations: dict[str, InvocationRow] = {}
        # invocation_id -> [(timestamp, seq, invocation_id, record)] in key order
        self.histories: dict[str, list[tuple[int, int, str, Any]]] = {}
        self.results: dict[str, Any] = {}
        self.exceptions: dict[str, Any] = {}
        # how many histories here end in a final record
        self.finished = 0
        # value_size() of the results and exceptions held here
        self.value_bytes = 0


def check_store_options(
    stripes: object, retention: object, max_finished: object, clock: object
) -> tuple[int, int | None, int | None, Callable[[], int]]:
    """Validate ``Store``'s arguments; return them with the default clock filled in."""
    if not isinstance(stripes, int) or stripes < 1 or stripes & (stripes - 1):
        raise ValueError(f"stripes must be a power of two >= 1, got {stripes!r}")
    if clock is not None and not callable(clock):
        raise TypeError(f"clock must be callable, got {type(clock).__name__}")
    return (
        stripes,
        check_optional_count(retention, "retention"),
        check_optional_count(max_finished, "max_finished"),
        wall_clock_micros if clock is None else clock,
    )


class Store:
    """Thread-safe in-memory store of invocations, histories and related data.

    :param int stripes: number of lock stripes for the per-invocation maps,
        a power of two.
    :param retention: evict a finished invocation once its final record is
        more than this many microseconds older than ``clock()``; ``None`` keeps it.
    :param max_finished: evict the oldest finished invocations beyond this
        many; ``None`` sets no limit.
    :param clock: returns the time now in microseconds; the wall clock by default.
    """

    #: Bytes of the store's own structures per item (not the values), measured with
    #: tracemalloc for 50k invocations in workflows with six history records each.
    ITEM_BYTES: ClassVar[dict[str, int]] = {
        "invocations": 385,
        "history_records": 137,
        "results": 33,
        "exceptions": 33,
        "runner_contexts": 38,
    }

    def __init__(
        self,
        stripes: int = DEFAULT_STRIPES,
        retention: int | None = None,
        max_finished: int | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        stripes, self._retention, self._max_finished, self._clock = check_store_options(
            stripes, retention, max_finished, clock
        )
        self._evicting = self._retention is not None or self._max_finished is not None
        self._mask = stripes - 1
        self._stripes = tuple(_Stripe() for _ in range(stripes))
        self._relations_lock = threading.Lock()
        self._workflows_lock = threading.Lock()
        self._time_lock = threading.Lock()
        self._runners_lock = threading.Lock()
        self._all_locks = _LockSet(
            [stripe.lock for stripe in self._stripes]
            + [self._relations_lock, self._workflows_lock, self._time_lock, self._runners_lock]
        )
        self._seq = 0
        self._clear_shared()

    def _clear_shared(self) -> None:
        self._children: dict[str, dict[str, None]] = {}
        self._event_children: dict[str, dict[str, None]] = {}
        self._workflow_members: dict[str, dict[str, None]] = {}
        self._workflow_type_members: dict[str, dict[str, None]] = {}
        self._workflow_types: dict[str, Any] = {}
        self._workflow_runs: dict[str, dict[str, Any]] = {}
        self._sub_invocations: dict[str, dict[str, None]] = {}
        self._workflow_data: dict[str, dict[str, Any]] = {}
        self._time_index: SortedList = SortedList()
        self._time_pending: list[tuple[int, int, str, Any]] = []
        self._runner_contexts: dict[str, Any] = {}
        # Eviction (time lock): final entries by key, which may have gone stale; entries
        # kept because an unfinished invocation can read them, by that invocation's id;
        # entries whose keeper went, to reconsider first.
        self._eviction_queue: SortedList = SortedList()
        self._held: dict[str, dict[str, tuple[int, int, str, Any]]] = {}
        self._holders: dict[str, str] = {}  # held invocation id -> the id that keeps it
        self._ready: deque[tuple[int, int, str, Any]] = deque()
        self._evictions = 0

    def _stripe(self, invocation_id: str) -> _Stripe:
        return self._stripes[hash(invocation_id) & self._mask]

    def _stripe_locks(self, invocation_ids: Sequence[str]) -> list[threading.Lock]:
        """The locks of the stripes of ``invocation_ids``, in ascending (locking) order."""
        mask = self._mask
        if len(invocation_ids) == 1:
            return [self._stripes[hash(invocation_ids[0]) & mask].lock]
        indexes = sorted({hash(invocation_id) & mask for invocation_id in invocation_ids})
        return [self._stripes[index].lock for index in indexes]

    # Invocations and their relations

    def upsert_invocations(self, rows: Sequence[InvocationRow]) -> None:
        """Insert or replace invocations, keeping every relation index in step.

        The whole batch is validated before anything is written: a bad row
        raises and leaves the store unchanged.

        Runtime complexity: `O(len(rows))`

        :param rows: :data:`InvocationRow` tuples; a later row for the same id wins.
        """
        if not isinstance(rows, (list, tuple)):
            raise TypeError(f"rows must be a list of rows, got {type(rows).__name__}")
        rows = [check_row(row, index) for index, row in enumerate(rows)]
        displaced = []
        locks = self._stripe_locks([row[0] for row in rows])
        locks.append(self._relations_lock)
        for lock in locks:
            lock.acquire()
        try:
            stripes, mask = self._stripes, self._mask
            for row in rows:
                invocation_id = row[0]
                invocations = stripes[hash(invocation_id) & mask].invocations
                old = invocations.get(invocation_id)
                invocations[invocation_id] = row
                if old is not None:
                    displaced.append(old)
                self._reindex(invocation_id, old, row)
        finally:
            for lock in locks:
                lock.release()
        del displaced

    def _reindex(self, invocation_id: str, old: InvocationRow | None, row: InvocationRow | None) -> None:
        """Move ``invocation_id`` in each relation index whose key changed; None for no row."""
        indexes = (self._children, self._event_children, self._workflow_members, self._workflow_type_members)
        for column, index in enumerate(indexes, start=2):
            key = None if row is None else row[column]
            old_key = None if old is None else old[column]
            if old_key != key:
                if old_key is not None:
                    _remove_member(index, old_key, invocation_id)
                if key is not None:
                    _add_member(index, key, invocation_id)

    def get_invocation(self, invocation_id: str) -> Any:
        """Return the value stored for ``invocation_id``, or ``None``.

        Runtime complexity: `O(1)`
        """
        if type(invocation_id) is not str:
            invocation_id = check_id(invocation_id, "invocation_id")
        row = self._stripes[hash(invocation_id) & self._mask].invocations.get(invocation_id)
        return None if row is None else row[1]

    def _members(self, index: dict[str, dict[str, None]], key: str) -> list[str]:
        with self._relations_lock:
            return list(index.get(key, ()))

    def child_ids(self, parent_id: str) -> list[str]:
        """Return the ids of the invocations whose parent is ``parent_id``, oldest first.

        Runtime complexity: `O(k)` for `k` children
        """
        return self._members(self._children, check_id(parent_id, "parent_id"))

    def ids_by_parent_event(self, parent_event_id: str) -> list[str]:
        """Return the ids of the invocations created by ``parent_event_id``, oldest first.

        Runtime complexity: `O(k)` for `k` matches
        """
        return self._members(self._event_children, check_id(parent_event_id, "parent_event_id"))

    def ids_by_workflow(self, workflow_id: str | None = None, workflow_type: str | None = None) -> list[str]:
        """Return the ids of the invocations in a workflow, of a workflow type, or both.

        With neither filter, every invocation that belongs to some workflow.

        Runtime complexity: `O(k)` for `k` matches
        """
        workflow_id = check_optional_id(workflow_id, "workflow_id")
        workflow_type = check_optional_id(workflow_type, "workflow_type")
        if workflow_id is None:
            with self._relations_lock:
                if workflow_type is not None:
                    return list(self._workflow_type_members.get(workflow_type, ()))
                return [
                    invocation_id
                    for members in self._workflow_type_members.values()
                    for invocation_id in members
                ]
        members = self._members(self._workflow_members, workflow_id)
        if workflow_type is None:
            return members
        return [
            invocation_id
            for invocation_id in members
            if self._workflow_type_of(invocation_id) == workflow_type
        ]

    def _workflow_type_of(self, invocation_id: str) -> str | None:
        row = self._stripe(invocation_id).invocations.get(invocation_id)
        return None if row is None else row[5]

    # Histories and the time index

    def add_histories(
        self, invocation_ids: Sequence[str], timestamp: int, record: Any, final: bool = False
    ) -> None:
        """Append ``record`` at ``timestamp`` to the history of each invocation.

        Each history stays in timestamp order, ties in arrival order. Each
        (invocation, record) pair also enters the time index once. An
        invocation whose latest record was added with ``final=True`` is
        finished; with retention configured, adding final records then evicts
        up to ``EVICTIONS_PER_FINAL`` due invocations per record (see ``evict``).

        Runtime complexity: amortised `O(log(n))` per invocation for `n` records
        """
        invocation_ids = check_ids(invocation_ids, "invocation_ids")
        timestamp = check_micros(timestamp, "timestamp")
        flag = 1 if final is True else 0 if final is False else int(check_flag(final, "final"))
        evicting = flag and self._evicting
        now = self._now() if evicting else 0
        locks = self._stripe_locks(invocation_ids)
        locks.append(self._time_lock)
        for lock in locks:
            lock.acquire()
        try:
            pending, stripes, mask = self._time_pending, self._stripes, self._mask
            for invocation_id in invocation_ids:
                entry = (timestamp, self._seq | flag, invocation_id, record)
                self._seq += 2
                stripe = stripes[hash(invocation_id) & mask]
                history = stripe.histories.get(invocation_id)
                if history is None:
                    history = stripe.histories[invocation_id] = []
                if not history or history[-1][0] <= timestamp:
                    if history and history[-1][1] & 1:
                        stripe.finished -= 1
                        if self._holders:
                            self._unhold(invocation_id)
                    stripe.finished += flag
                    history.append(entry)
                    if flag and self._evicting:
                        self._eviction_queue.add(entry)
                else:
                    insort(history, entry)
                pending.append(entry)
        finally:
            for lock in locks:
                lock.release()
        if evicting:
            self._evict(now, EVICTIONS_PER_FINAL * len(invocation_ids))

    def get_history(self, invocation_id: str) -> list[Any]:
        """Return the history records of ``invocation_id`` in timestamp order.

        Runtime complexity: `O(k)` for `k` records
        """
        if type(invocation_id) is not str:
            invocation_id = check_id(invocation_id, "invocation_id")
        stripe = self._stripes[hash(invocation_id) & self._mask]
        with stripe.lock:
            return [entry[3] for entry in stripe.histories.get(invocation_id, ())]

    def _merge_pending(self) -> None:
        """Move the pending time-index entries into the sorted list; call with the time lock."""
        if self._time_pending:
            self._time_index.update(self._time_pending)
            self._time_pending = []

    def _time_slice(self, start: tuple[int, int], end: int, limit: int) -> list[tuple[int, int, str, Any]]:
        with self._time_lock:
            self._merge_pending()
            entries = self._time_index.irange(start, (end + 1,), inclusive=(True, False))
            return list(itertools.islice(entries, limit))

    def _time_entries(self, start: int, end: int, chunk: int) -> Iterator[list[tuple[int, int, str, Any]]]:
        """Yield the time-index entries in ``[start, end]`` in chunks, lock held per chunk."""
        position = (start, 0)
        while True:
            entries = self._time_slice(position, end, chunk)
            if not entries:
                return
            yield entries
            if len(entries) < chunk:
                return
            last = entries[-1]
            position = (last[0], last[1] + 1)

    def history_in_range(self, start: int, end: int, batch_size: int = 100) -> Iterator[list[Any]]:
        """Yield the history records with ``start <= timestamp <= end`` in batches.

        Records come in timestamp order. The time index is read lazily,
        ``READ_CHUNK`` entries at a time, so records written after the
        iteration starts appear if they sort after the entries read so far.

        Runtime complexity: `O(log(n) + k)` for `k` records in range
        """
        start = check_micros(start, "start")
        end = check_micros(end, "end")
        batch_size = check_batch_size(batch_size)
        return _records(self._time_entries(start, end, max(batch_size, READ_CHUNK)), batch_size)

    def invocations_in_range(self, start: int, end: int, batch_size: int = 100) -> Iterator[list[str]]:
        """Yield, once each, the ids of invocations with a history record in ``[start, end]``.

        Ids come in the order of their earliest record in the range; the time
        index is read lazily, as in ``history_in_range``.

        Runtime complexity: `O(log(n) + k)` for `k` records in range
        """
        start = check_micros(start, "start")
        end = check_micros(end, "end")
        batch_size = check_batch_size(batch_size)
        return self._unique_ids_in_range(start, end, batch_size)

    def _unique_ids_in_range(self, start: int, end: int, batch_size: int) -> Iterator[list[str]]:
        seen: set[str] = set()
        batch: list[str] = []
        for entries in self._time_entries(start, end, max(batch_size, READ_CHUNK)):
            for entry in entries:
                invocation_id = entry[2]
                if invocation_id not in seen:
                    seen.add(invocation_id)
                    batch.append(invocation_id)
                    if len(batch) == batch_size:
                        yield batch
                        batch = []
        if batch:
            yield batch

    # Results and exceptions

    def set_result(self, invocation_id: str, value: Any) -> None:
        """Store the result of ``invocation_id``, replacing any earlier one.

        Runtime complexity: `O(1)`
        """
        self._set_outcome(invocation_id, value, False)

    def get_result(self, invocation_id: str) -> Any:
        """Return the result of ``invocation_id``; raise ``KeyError`` if none is stored.

        Runtime complexity: `O(1)`
        """
        if type(invocation_id) is not str:
            invocation_id = check_id(invocation_id, "invocation_id")
        return self._stripes[hash(invocation_id) & self._mask].results[invocation_id]

    def set_exception(self, invocation_id: str, value: Any) -> None:
        """Store the exception of ``invocation_id``, replacing any earlier one.

        Runtime complexity: `O(1)`
        """
        self._set_outcome(invocation_id, value, True)

    def _set_outcome(self, invocation_id: str, value: Any, exception: bool) -> None:
        if type(invocation_id) is not str:
            invocation_id = check_id(invocation_id, "invocation_id")
        size = value_size(value)
        stripe = self._stripes[hash(invocation_id) & self._mask]
        with stripe.lock:
            # Read the map under the lock: purge swaps it for a new one.
            outcomes = stripe.exceptions if exception else stripe.results
            displaced = outcomes.get(invocation_id, _MISSING)
            outcomes[invocation_id] = value
            stripe.value_bytes += size - value_size(displaced)
        del displaced

    def get_exception(self, invocation_id: str) -> Any:
        """Return the exception of ``invocation_id``; raise ``KeyError`` if none is stored.

        Runtime complexity: `O(1)`
        """
        if type(invocation_id) is not str:
            invocation_id = check_id(invocation_id, "invocation_id")
        return self._stripes[hash(invocation_id) & self._mask].exceptions[invocation_id]

    # Workflows

    def set_workflow_data(self, workflow_id: str, key: str, value: Any) -> None:
        """Set ``key`` to ``value`` in the data of ``workflow_id``.

        Runtime complexity: `O(1)`
        """
        workflow_id = check_id(workflow_id, "workflow_id")
        key = check_id(key, "key")
        with self._workflows_lock:
            data = self._workflow_data.setdefault(workflow_id, {})
            displaced = data.get(key)
            data[key] = value
        del displaced

    def get_workflow_data(self, workflow_id: str, key: str, default: Any = None) -> Any:
        """Return ``key`` from the data of ``workflow_id``, or ``default``.

        Runtime complexity: `O(1)`
        """
        workflow_id = check_id(workflow_id, "workflow_id")
        key = check_id(key, "key")
        with self._workflows_lock:
            return self._workflow_data.get(workflow_id, {}).get(key, default)

    def add_workflow_run(self, workflow_type: str, type_value: Any, workflow_id: str, run_value: Any) -> None:
        """Record a run ``workflow_id`` of ``workflow_type``; the first value stored wins.

        Runtime complexity: `O(1)`
        """
        workflow_type = check_id(workflow_type, "workflow_type")
        workflow_id = check_id(workflow_id, "workflow_id")
        with self._workflows_lock:
            self._workflow_types.setdefault(workflow_type, type_value)
            self._workflow_runs.setdefault(workflow_type, {}).setdefault(workflow_id, run_value)

    def workflow_types(self) -> list[Any]:
        """Return the value of every workflow type with a recorded run, oldest first.

        Runtime complexity: `O(k)` for `k` types
        """
        with self._workflows_lock:
            return list(self._workflow_types.values())

    def workflow_runs(self, workflow_type: str | None = None) -> list[Any]:
        """Return the runs of ``workflow_type``, or of every type when it is ``None``.

        Runtime complexity: `O(k)` for `k` runs
        """
        workflow_type = check_optional_id(workflow_type, "workflow_type")
        with self._workflows_lock:
            if workflow_type is not None:
                return list(self._workflow_runs.get(workflow_type, {}).values())
            return [run for runs in self._workflow_runs.values() for run in runs.values()]

    def add_sub_invocation(self, workflow_id: str, invocation_id: str) -> None:
        """Record that ``invocation_id`` runs inside the workflow ``workflow_id``.

        Runtime complexity: `O(1)`
        """
        workflow_id = check_id(workflow_id, "workflow_id")
        invocation_id = check_id(invocation_id, "invocation_id")
        with self._workflows_lock:
            _add_member(self._sub_invocations, workflow_id, invocation_id)

    def sub_invocation_ids(self, workflow_id: str) -> list[str]:
        """Return the ids recorded as running inside ``workflow_id``, oldest first.

        Runtime complexity: `O(k)` for `k` sub-invocations
        """
        workflow_id = check_id(workflow_id, "workflow_id")
        with self._workflows_lock:
            return list(self._sub_invocations.get(workflow_id, ()))

    # Runner contexts

    def set_runner_context(self, runner_id: str, value: Any) -> None:
        """Store the context of ``runner_id``, replacing any earlier one.

        Runtime complexity: `O(1)`
        """
        runner_id = check_id(runner_id, "runner_id")
        with self._runners_lock:
            displaced = self._runner_contexts.get(runner_id)
            self._runner_contexts[runner_id] = value
        del displaced

    def get_runner_context(self, runner_id: str) -> Any:
        """Return the context of ``runner_id``, or ``None``.

        Runtime complexity: `O(1)`
        """
        if type(runner_id) is not str:
            runner_id = check_id(runner_id, "runner_id")
        return self._runner_contexts.get(runner_id)

    def get_runner_contexts(self, runner_ids: Sequence[str]) -> list[Any]:
        """Return the stored contexts of ``runner_ids``, in that order, skipping unknown ids.

        Runtime complexity: `O(k)` for `k` ids
        """
        runner_ids = check_ids(runner_ids, "runner_ids")
        with self._runners_lock:
            contexts = self._runner_contexts
            return [contexts[rid] for rid in runner_ids if rid in contexts]

    def match_runner_contexts(self, partial_id: str) -> list[Any]:
        """Return the contexts whose runner id contains ``partial_id``.

        Runtime complexity: `O(n)` for `n` runner contexts (a substring search)
        """
        partial_id = check_id(partial_id, "partial_id")
        with self._runners_lock:
            return [ctx for rid, ctx in self._runner_contexts.items() if partial_id in rid]

    # Retention

    def evict(self, limit: int = EVICTIONS_PER_FINAL) -> int:
        """Evict up to ``limit`` due finished invocations, oldest final record first.

        A finished invocation is due when its final record is more than
        ``retention`` microseconds older than ``clock()``, or while more than
        ``max_finished`` invocations are finished and not held. Eviction removes its row,
        history (from the time index too), result, exception and index
        entries, and, for a workflow's root invocation, the workflow's data,
        sub-invocations and run. An invocation is kept, however due, while
        its parent or its workflow's root is stored and not finished (they may
        still read it); it is evicted after that one goes. Writes of final
        records call this; call it yourself to evict while nothing is written.

        Runtime complexity: `O(limit * (r + 1) * log(n))` for `r` records per
        invocation and `n` records in the store

        :param int limit: how many queued invocations to consider at most
        :return: how many invocations were evicted
        """
        limit = check_count(limit, "limit")
        return self._evict(self._now(), limit) if self._evicting else 0

    def _now(self) -> int:
        return check_micros(self._clock(), "clock()")

    def _evict(self, now: int, limit: int) -> int:
        displaced: list[Any] = []
        with self._all_locks:
            evicted = self._evict_locked(now, limit, displaced)
        del displaced
        return evicted

    def _evict_locked(self, now: int, limit: int, displaced: list[Any]) -> int:
        cutoff = None if self._retention is None else now - self._retention
        max_finished = self._max_finished
        finished = sum(stripe.finished for stripe in self._stripes)
        self._merge_pending()
        queue, ready = self._eviction_queue, self._ready
        evicted = 0
        for _ in range(limit):
            if ready:
                entry = ready.popleft()
            elif queue and (
                (max_finished is not None and finished - len(self._holders) > max_finished)
                or (cutoff is not None and queue[0][0] < cutoff)
            ):
                entry = queue.pop(0)
            else:
                break
            invocation_id = entry[2]
            stripe = self._stripe(invocation_id)
            history = stripe.histories.get(invocation_id)
            if not history or history[-1] is not entry:
                continue  # no longer its latest record: queued again if it finishes again
            row = stripe.invocations.get(invocation_id)
            keeper = self._keeper(invocation_id, row)
            if keeper is not None:
                self._held.setdefault(keeper, {})[invocation_id] = entry
                self._holders[invocation_id] = keeper
                continue
            self._remove(invocation_id, stripe, row, displaced)
            finished -= 1
            evicted += 1
        return evicted

    def _keeper(self, invocation_id: str, row: InvocationRow | None) -> str | None:
        """The stored, unfinished parent or workflow root of ``invocation_id``, if any."""
        if row is None:
            return None
        for other in (row[2], row[4]):
            if other is None or other == invocation_id:
                continue
            stripe = self._stripe(other)
            history = stripe.histories.get(other)
            unfinished = (history[-1][1] & 1) == 0 if history else other in stripe.invocations
            if unfinished:
                return other
        return None

    def _remove(
        self, invocation_id: str, stripe: _Stripe, row: InvocationRow | None, displaced: list[Any]
    ) -> None:
        """Remove everything of the finished ``invocation_id``; call with every lock held."""
        if row is not None:
            del stripe.invocations[invocation_id]
            self._reindex(invocation_id, row, None)
        history = stripe.histories.pop(invocation_id)
        for entry in history:
            self._time_index.remove(entry)
        stripe.finished -= 1
        result = stripe.results.pop(invocation_id, _MISSING)
        exception = stripe.exceptions.pop(invocation_id, _MISSING)
        stripe.value_bytes -= value_size(result) + value_size(exception)
        displaced.append((row, history, result, exception))
        displaced.append(self._workflow_data.pop(invocation_id, None))
        displaced.append(self._sub_invocations.pop(invocation_id, None))
        workflow_type = row[5] if row is not None and row[4] == invocation_id else None
        runs = None if workflow_type is None else self._workflow_runs.get(workflow_type)
        if workflow_type is not None and runs is not None:
            displaced.append(runs.pop(invocation_id, None))
            if not runs:
                del self._workflow_runs[workflow_type]
                displaced.append(self._workflow_types.pop(workflow_type))
        held = self._held.pop(invocation_id, {})
        for held_id in held:
            del self._holders[held_id]
        self._ready.extend(held.values())
        self._evictions += 1

    # Whole store

    def stats(self) -> dict[str, int]:
        """Return counts of what the store holds, and an estimate of its bytes.

        ``invocations`` counts upserted rows; ``finished`` the invocations whose
        latest record is final; ``held`` the due finished ones kept for an
        unfinished parent or workflow (not counted against ``max_finished``);
        ``workflows`` the workflow ids with a stored member; ``value_bytes`` the
        length of ``str``/``bytes`` results and exceptions. ``bytes`` adds to it
        the store's own structures per item (``ITEM_BYTES``), not the size of
        other stored values.

        Runtime complexity: `O(s)` for `s` stripes, whatever the store's size
        """
        counts = dict.fromkeys(("invocations", "finished", "results", "exceptions", "value_bytes"), 0)
        for stripe in self._stripes:
            with stripe.lock:
                counts["invocations"] += len(stripe.invocations)
                counts["finished"] += stripe.finished
                counts["results"] += len(stripe.results)
                counts["exceptions"] += len(stripe.exceptions)
                counts["value_bytes"] += stripe.value_bytes
        with self._relations_lock:
            counts["workflows"] = len(self._workflow_members)
        with self._time_lock:
            counts["history_records"] = len(self._time_index) + len(self._time_pending)
            counts["held"] = len(self._holders)
            counts["evictions"] = self._evictions
        with self._runners_lock:
            counts["runner_contexts"] = len(self._runner_contexts)
        counts["bytes"] = counts["value_bytes"] + sum(
            counts[kind] * size for kind, size in self.ITEM_BYTES.items()
        )
        return counts

    def items(self, kind: str) -> Iterator[list[tuple[Any, ...]]]:
        """Yield everything of one ``kind`` the store holds, in lists read under one lock each.

        ``invocations``, ``results``, ``exceptions``, ``runner_contexts``:
        ``(id, value)`` pairs; ``histories``: ``(invocation_id, record)`` in
        time-index order; ``workflow_data``: ``(workflow_id, key, value)``;
        ``sub_invocations``: ``(workflow_id, invocation_id)``. A list is a
        consistent snapshot of its part; writes made meanwhile may or may not
        appear in later lists.

        Runtime complexity: `O(n)` for `n` items, in lists of at most ``READ_CHUNK``
        or one stripe
        """
        if kind not in ITEM_KINDS:
            raise ValueError(f"kind must be one of {', '.join(ITEM_KINDS)}, got {kind!r}")
        return self._items(kind)

    def _items(self, kind: str) -> Iterator[list[tuple[Any, ...]]]:
        if kind == "histories":
            for entries in self._time_entries(MIN_MICROS, MAX_MICROS, READ_CHUNK):
                yield [(entry[2], entry[3]) for entry in entries]
        elif kind in ("workflow_data", "sub_invocations"):
            with self._workflows_lock:
                source = self._workflow_data if kind == "workflow_data" else self._sub_invocations
                snapshot = [(key, list(values.items())) for key, values in source.items()]
            if kind == "workflow_data":
                yield [(workflow_id, k, v) for workflow_id, pairs in snapshot for k, v in pairs]
            else:
                yield [(workflow_id, k) for workflow_id, pairs in snapshot for k, _ in pairs]
        elif kind == "runner_contexts":
            with self._runners_lock:
                yield list(self._runner_contexts.items())
        else:
            for stripe in self._stripes:
                with stripe.lock:
                    if kind == "invocations":
                        chunk = [(inv_id, row[1]) for inv_id, row in stripe.invocations.items()]
                    else:
                        chunk = list(getattr(stripe, kind).items())
                if chunk:
                    yield chunk

    def purge(self) -> None:
        """Remove everything the store holds, and reset the eviction count.

        Runtime complexity: `O(1)` under the locks; the old contents are freed after.
        """
        with self._all_locks:
            displaced = [dict(vars(self))] + [
                (stripe.invocations, stripe.histories, stripe.results, stripe.exceptions)
                for stripe in self._stripes
            ]
            for stripe in self._stripes:
                stripe.clear()
            self._clear_shared()
        del displaced

    def _check(self) -> None:
        """Assert the store's internal consistency; see :func:`check_invariants`.

        Call it while no other thread writes.
        """
        check_invariants(self._state())

    def _state(self) -> StoreState:
        """The internal structures, pending time-index entries merged, for the invariant check."""
        with self._time_lock:
            self._merge_pending()
        return StoreState(
            mask=self._mask,
            stripes=[
                (stripe.invocations, stripe.histories, stripe.results, stripe.exceptions)
                for stripe in self._stripes
            ],
            counters=[(stripe.finished, stripe.value_bytes) for stripe in self._stripes],
            eviction_entries=self._eviction_entries() if self._evicting else None,
            relations=[
                self._children,
                self._event_children,
                self._workflow_members,
                self._workflow_type_members,
            ],
            sub_invocations=self._sub_invocations,
            time_index=self._time_index,
            next_seq=self._seq,
            entry_key=lambda entry: (entry[0], entry[1]),
            entry_invocation=lambda entry: entry[2],
        )

    def _eviction_entries(self) -> tuple[list[Any], list[Any]]:
        self._eviction_queue._check()
        held = [entry for entries in self._held.values() for entry in entries.values()]
        assert len(held) == len(self._holders), "held entries and holders differ"
        return [*self._eviction_queue, *self._ready], held

    def _unhold(self, invocation_id: str) -> None:
        """Forget the held entry of ``invocation_id``, no longer its latest; call with the time lock."""
        keeper = self._holders.pop(invocation_id, None)
        if keeper is not None:
            bucket = self._held[keeper]
            del bucket[invocation_id]
            if not bucket:
                del self._held[keeper]


class StoreState(NamedTuple):
    """A store's internal structures, as :func:`check_invariants` reads them."""

    mask: int
    stripes: list[tuple[dict[str, Any], dict[str, list[Any]], dict[str, Any], dict[str, Any]]]
    #: per stripe: (finished histories, value_size of its results and exceptions)
    counters: list[tuple[int, int]]
    #: the entries queued or ready for eviction, and those held; None when retention is off
    eviction_entries: tuple[list[Any], list[Any]] | None
    #: parent -> children, event -> children, workflow -> members, workflow type -> members
    relations: list[dict[str, dict[str, None]]]
    sub_invocations: dict[str, dict[str, None]]
    time_index: SortedList
    next_seq: int
    entry_key: Callable[[Any], tuple[int, int]]
    entry_invocation: Callable[[Any], str]


def check_invariants(state: StoreState) -> None:
    """Assert a store's internal consistency; raise ``AssertionError`` naming what is broken.

    Every id is an exact ``str`` in the stripe its hash names; every relation
    index entry points at a stored invocation with that relation and vice
    versa, with no empty entry kept; each history is in key order and holds
    only its invocation's records; the time index holds exactly the history
    records, once each, in key order; no arrival sequence is reused. Each
    stripe's counters match its maps, and with retention on, the final record
    of every finished invocation is queued, held or ready for eviction.
    """
    rows: dict[str, InvocationRow] = {}
    for index, maps in enumerate(state.stripes):
        for mapping in maps:
            for invocation_id in mapping:
                assert type(invocation_id) is str, f"id {invocation_id!r} is not a plain str"
                assert hash(invocation_id) & state.mask == index, f"{invocation_id} in stripe {index}"
        rows.update(maps[0])
    for column, relation in enumerate(state.relations, start=2):
        expected: dict[str, set[str]] = {}
        for invocation_id, row in rows.items():
            key = row[column]
            if key is not None:
                expected.setdefault(key, set()).add(invocation_id)
        actual = {key: set(members) for key, members in relation.items()}
        assert actual == expected, f"relation index of row column {column} out of step"
    assert all(state.sub_invocations.values()), "empty sub-invocation entry kept"
    history_entries = []
    for maps in state.stripes:
        for invocation_id, history in maps[1].items():
            assert history, f"empty history kept for {invocation_id}"
            keys = [state.entry_key(entry) for entry in history]
            assert keys == sorted(keys), f"history of {invocation_id} out of order"
            assert all(state.entry_invocation(entry) == invocation_id for entry in history)
            history_entries.extend(history)
    tracked = None
    if state.eviction_entries is not None:
        waiting, held = state.eviction_entries
        tracked = {id(entry) for entry in [*waiting, *held]}
        assert len({id(entry) for entry in held}) == len(held), "an entry held twice"
        for entry in held:
            histories = state.stripes[hash(state.entry_invocation(entry)) & state.mask][1]
            latest = histories.get(state.entry_invocation(entry), [None])[-1]
            assert latest is entry and state.entry_key(entry)[1] & 1, "a held entry is not a final latest"
    for maps, (finished, value_bytes) in zip(state.stripes, state.counters, strict=True):
        lasts = [history[-1] for history in maps[1].values()]
        final_lasts = [entry for entry in lasts if state.entry_key(entry)[1] & 1]
        assert finished == len(final_lasts), "finished count out of step"
        sizes = sum(value_size(value) for outcomes in maps[2:] for value in outcomes.values())
        assert value_bytes == sizes, "value_bytes out of step"
        if tracked is not None:
            assert all(id(entry) in tracked for entry in final_lasts), "finished invocation not tracked"
    state.time_index._check()
    history_entries.sort(key=state.entry_key)
    indexed = list(state.time_index)
    assert len(indexed) == len(history_entries), "time index and histories differ in size"
    assert all(a is b for a, b in zip(indexed, history_entries, strict=True)), "time index out of step"
    assert all(key[1] < state.next_seq for key in map(state.entry_key, indexed)), "sequence reused"
    assert len({state.entry_key(entry) for entry in indexed}) == len(indexed), "duplicate key"
