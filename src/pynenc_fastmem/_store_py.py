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
"""

from __future__ import annotations

import itertools
import threading
from bisect import insort
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sortedcontainers import SortedList

InvocationRow = tuple[str, Any, str | None, str | None, str | None, str | None]
"""One invocation to upsert:
``(invocation_id, value, parent_id, parent_event_id, workflow_id, workflow_type)``."""

DEFAULT_STRIPES = 16

# Range queries read the time index this many entries per lock, whatever the batch size.
READ_CHUNK = 1024

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
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{name} must be a list of str, got {type(values).__name__}")
    return [check_id(value, f"{name}[{index}]") for index, value in enumerate(values)]


MIN_MICROS = -(2**63)
MAX_MICROS = 2**63 - 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


def check_micros(value: object, name: str) -> int:
    """Return ``value`` as an ``int`` timestamp (not a ``bool``) that fits in 64 bits."""
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


def check_batch_size(value: object) -> int:
    """Return ``value`` if it is an ``int`` of at least 1."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"batch_size must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"batch_size must be >= 1, got {value}")
    return value


def check_row(row: object, index: int) -> InvocationRow:
    """Return ``row``, a well-formed :data:`InvocationRow`, with its ids as exact ``str``."""
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


class _Stripe:
    """The per-invocation maps of the ids that hash to one stripe, and their lock."""

    __slots__ = ("exceptions", "histories", "invocations", "lock", "results")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # invocation_id -> InvocationRow as last upserted
        self.invocations: dict[str, InvocationRow] = {}
        # invocation_id -> [(timestamp, seq, invocation_id, record)] in key order
        self.histories: dict[str, list[tuple[int, int, str, Any]]] = {}
        self.results: dict[str, Any] = {}
        self.exceptions: dict[str, Any] = {}


class Store:
    """Thread-safe in-memory store of invocations, histories and related data.

    :param int stripes: number of lock stripes for the per-invocation maps,
        a power of two.
    """

    def __init__(self, stripes: int = DEFAULT_STRIPES) -> None:
        if not isinstance(stripes, int) or stripes < 1 or stripes & (stripes - 1):
            raise ValueError(f"stripes must be a power of two >= 1, got {stripes!r}")
        self._mask = stripes - 1
        self._stripes = tuple(_Stripe() for _ in range(stripes))
        self._relations_lock = threading.Lock()
        self._workflows_lock = threading.Lock()
        self._time_lock = threading.Lock()
        self._runners_lock = threading.Lock()
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

    def _stripe(self, invocation_id: str) -> _Stripe:
        return self._stripes[hash(invocation_id) & self._mask]

    def _locked_stripes(self, stack: ExitStack, invocation_ids: Iterable[str]) -> None:
        """Enter the locks of the stripes of ``invocation_ids`` in ascending order."""
        mask = self._mask
        for index in sorted({hash(inv_id) & mask for inv_id in invocation_ids}):
            stack.enter_context(self._stripes[index].lock)

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
        with ExitStack() as stack:
            self._locked_stripes(stack, (row[0] for row in rows))
            stack.enter_context(self._relations_lock)
            for row in rows:
                invocation_id = row[0]
                invocations = self._stripe(invocation_id).invocations
                old = invocations.get(invocation_id)
                invocations[invocation_id] = row
                if old is not None:
                    displaced.append(old)
                self._reindex(old, row)
        del displaced

    def _reindex(self, old: InvocationRow | None, row: InvocationRow) -> None:
        """Move ``row``'s id in each relation index whose key changed; ``old`` is None if new."""
        invocation_id = row[0]
        indexes = (self._children, self._event_children, self._workflow_members, self._workflow_type_members)
        for column, index in enumerate(indexes, start=2):
            key = row[column]
            old_key = None if old is None else old[column]
            if old_key != key:
                _remove_member(index, old_key, invocation_id)
                _add_member(index, key, invocation_id)

    def get_invocation(self, invocation_id: str) -> Any:
        """Return the value stored for ``invocation_id``, or ``None``.

        Runtime complexity: `O(1)`
        """
        invocation_id = check_id(invocation_id, "invocation_id")
        row = self._stripe(invocation_id).invocations.get(invocation_id)
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

    def add_histories(self, invocation_ids: Sequence[str], timestamp: int, record: Any) -> None:
        """Append ``record`` at ``timestamp`` to the history of each invocation.

        Each history stays in timestamp order, ties in arrival order. Each
        (invocation, record) pair also enters the time index once.

        Runtime complexity: amortised `O(log(n))` per invocation for `n` records
        """
        invocation_ids = check_ids(invocation_ids, "invocation_ids")
        timestamp = check_micros(timestamp, "timestamp")
        with ExitStack() as stack:
            self._locked_stripes(stack, invocation_ids)
            stack.enter_context(self._time_lock)
            pending = self._time_pending
            for invocation_id in invocation_ids:
                entry = (timestamp, self._seq, invocation_id, record)
                self._seq += 1
                history = self._stripe(invocation_id).histories.setdefault(invocation_id, [])
                if not history or history[-1][0] <= timestamp:
                    history.append(entry)
                else:
                    insort(history, entry)
                pending.append(entry)

    def get_history(self, invocation_id: str) -> list[Any]:
        """Return the history records of ``invocation_id`` in timestamp order.

        Runtime complexity: `O(k)` for `k` records
        """
        invocation_id = check_id(invocation_id, "invocation_id")
        stripe = self._stripe(invocation_id)
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
        invocation_id = check_id(invocation_id, "invocation_id")
        stripe = self._stripe(invocation_id)
        with stripe.lock:
            displaced = stripe.results.get(invocation_id)
            stripe.results[invocation_id] = value
        del displaced

    def get_result(self, invocation_id: str) -> Any:
        """Return the result of ``invocation_id``; raise ``KeyError`` if none is stored.

        Runtime complexity: `O(1)`
        """
        invocation_id = check_id(invocation_id, "invocation_id")
        return self._stripe(invocation_id).results[invocation_id]

    def set_exception(self, invocation_id: str, value: Any) -> None:
        """Store the exception of ``invocation_id``, replacing any earlier one.

        Runtime complexity: `O(1)`
        """
        invocation_id = check_id(invocation_id, "invocation_id")
        stripe = self._stripe(invocation_id)
        with stripe.lock:
            displaced = stripe.exceptions.get(invocation_id)
            stripe.exceptions[invocation_id] = value
        del displaced

    def get_exception(self, invocation_id: str) -> Any:
        """Return the exception of ``invocation_id``; raise ``KeyError`` if none is stored.

        Runtime complexity: `O(1)`
        """
        invocation_id = check_id(invocation_id, "invocation_id")
        return self._stripe(invocation_id).exceptions[invocation_id]

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

    # Whole store

    def purge(self) -> None:
        """Remove everything the store holds.

        Runtime complexity: `O(1)` under the locks; the old contents are freed after.
        """
        with ExitStack() as stack:
            for stripe in self._stripes:
                stack.enter_context(stripe.lock)
            for lock in (
                self._relations_lock,
                self._workflows_lock,
                self._time_lock,
                self._runners_lock,
            ):
                stack.enter_context(lock)
            displaced = [dict(vars(self))] + [
                (stripe.invocations, stripe.histories, stripe.results, stripe.exceptions)
                for stripe in self._stripes
            ]
            for stripe in self._stripes:
                stripe.invocations, stripe.histories, stripe.results, stripe.exceptions = {}, {}, {}, {}
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


class StoreState(NamedTuple):
    """A store's internal structures, as :func:`check_invariants` reads them."""

    mask: int
    stripes: list[tuple[dict[str, Any], dict[str, list[Any]], dict[str, Any], dict[str, Any]]]
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
    records, once each, in key order; no arrival sequence is reused.
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
    state.time_index._check()
    history_entries.sort(key=state.entry_key)
    indexed = list(state.time_index)
    assert len(indexed) == len(history_entries), "time index and histories differ in size"
    assert all(a is b for a, b in zip(indexed, history_entries, strict=True)), "time index out of step"
    assert all(key[1] < state.next_seq for key in map(state.entry_key, indexed)), "sequence reused"
    assert len({state.entry_key(entry) for entry in indexed}) == len(indexed), "duplicate key"
