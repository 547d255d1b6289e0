"""The pure-Python store: the reference implementation of the store interface.

The store knows nothing of pynenc. Ids are ``str``, stored values are opaque
objects, timestamps are integer microseconds since the epoch. Every query is
answered from an index maintained on write, so its cost is proportional to its
answer, and every compound operation is atomic with respect to other threads.

Locks. Everything keyed by an id lives in the lock stripe that id hashes to: an
invocation's row, history, result and exception in its own id's stripe; a
relation index entry (parent -> children, event -> children, workflow ->
members, workflow type -> members), workflow data and sub-invocations in the
stripe of their key. A write locks only the stripes of the ids and keys it
touches, so writers of unrelated invocations share no lock. History records are
sequenced per stripe (``arrival << shift | stripe << 1 | final``), so they
share no counter either, and each stripe buffers its new records in
``unindexed``; readers of the time index, under the index lock, take those
buffers and merge them into one ``SortedList``. Lock order: the index lock,
then stripes by ascending number, then the workflow-runs lock, then the runner
lock. No user code runs while a lock is held: arguments are validated before
locking, ids are exact ``str``, and values a write displaces are released only
after the locks are.

Faults. A ``MemoryError`` or an asynchronous exception (``KeyboardInterrupt``)
can arrive anywhere. Each write first does everything that can fail without
changing anything (checks, lookups, new objects), then makes one change that
either happens whole or not at all (a dict or list insertion), then steps that
cannot fail. A write of several changes (a batch) keeps what it needs to undo
them without allocating, and undoes them if one fails; one interrupted in its
steps that cannot fail finishes them instead. The counters and the time index
are derived from the maps: a write marks its stripe ``dirty`` before its first
change and clean after its last, and whoever next finds it dirty recounts it
and rebuilds the time index from the histories. In pure Python a signal can
arrive between any two calls, so the steps of one write that must not be split
are guarded by these marks rather than by their order alone.

Two constructs are kept off every path a fault can reach, because CPython
itself mishandles them when an allocation fails: ``list.append`` (its
specialised call frees the item twice when the list cannot grow, CPython issue
151818; ``lst += [item]`` is used instead) and generator expressions (3.13.0
crashes freeing a generator whose creation ran out of memory; list
comprehensions are used instead).

An invocation is finished when its latest history record was written with
``final=True``; the flag is the lowest bit of the record's sequence, so it
costs no memory. With retention configured, finished invocations also enter an
eviction queue ordered by (timestamp, sequence) of their final record, and
each write of a final record evicts a few of the oldest due ones (see ``evict``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar

from sortedcontainers import SortedList

from ._invariants import StoreState, StripeState, check_invariants
from ._locking import Lock, holding, holding_all, new_lock
from ._orchestration_py import Orchestration
from ._steps import MISSING, PRUNE, Step, apply_steps, commit_steps
from ._store_common import (
    DEFAULT_STRIPES,
    EVICTED_IDS_REMEMBERED,
    EVICTIONS_PER_FINAL,
    ITEM_KINDS,
    MAX_MICROS,
    MIN_MICROS,
    READ_CHUNK,
    RELATION_COLUMNS,
    EvictionLog,
    InvocationRow,
    StoreStats,
    check_batch_size,
    check_count,
    check_flag,
    check_id,
    check_ids,
    check_micros,
    check_optional_id,
    check_rows,
    check_store_options,
    micros,
    value_size,
)

__all__ = ["InvocationRow", "Store", "micros"]

Entry = tuple[int, int, str, Any]  # (timestamp, sequence, invocation_id, record)

# The time index and the eviction queue are sortedcontainers SortedLists whose
# sublists (``_lists``, each one's last item in ``_maxes``) the store updates
# itself, as the layout of sortedcontainers 2.x has them (pinned below 3):
# SortedList.add and update call list.append, which CPython frees twice when the
# list cannot grow (CPython issue 151818), and an update here may stop half-way.
# Every step below either happens or leaves its list as it was; the callers keep
# ``_indexes_stale`` set while they update, so a failed update means a rebuild.


def _new_index(entries: list[Entry]) -> SortedList:
    """A SortedList of ``entries`` (in any order), built without ``SortedList.update``."""
    index = SortedList()
    _index_merge(index, entries)
    return index


def _index_cuts(entries: list[Entry], load: int) -> list[list[Entry]]:
    """``entries`` (sorted) cut into sublists of ``load``, a short last one joined to the one before."""
    if len(entries) <= load << 1:
        return [entries] if entries else []
    cuts = [entries[start : start + load] for start in range(0, len(entries), load)]
    if len(cuts[-1]) < load >> 1:
        cuts[-2:] = [cuts[-2] + cuts[-1]]
    return cuts


def _index_splice(index: SortedList, first: int, stop: int, entries: list[Entry]) -> None:
    """Replace sublists ``first:stop`` of ``index`` with ``entries`` (sorted), cut to size."""
    cuts = _index_cuts(entries, index._load)
    index._lists[first:stop] = cuts
    index._maxes[first:stop] = [cut[-1] for cut in cuts]
    index._index = []  # sortedcontainers' positional index, rebuilt on demand


def _index_merge(index: SortedList, values: list[Entry]) -> None:
    """Add ``values`` to ``index``: each sublist they fall in takes its share at once."""
    values = sorted(values)
    lists = index._lists
    if not lists:
        _index_splice(index, 0, 0, values)
    else:
        last = len(lists) - 1
        places = [min(bisect_left(index._maxes, value), last) for value in values]
        stop = len(values)
        while stop:
            place = places[stop - 1]
            start = bisect_left(places, place, 0, stop)
            _index_add(index, place, values[start:stop])
            stop = start
    index._len = index._len + len(values)


def _index_add(index: SortedList, place: int, values: list[Entry]) -> None:
    """Merge ``values`` (sorted) into sublist ``place``: appended in place when they sort after it."""
    sublist = index._lists[place]
    if values[0] > sublist[-1]:
        sublist += values
    else:
        sublist = sorted(sublist + values)
    if len(sublist) > index._load << 1 or sublist is not index._lists[place]:
        _index_splice(index, place, place + 1, sublist)
    else:
        index._maxes[place] = sublist[-1]
        index._index = []


def _index_remove(index: SortedList, entry: Entry) -> None:
    """Take ``entry`` out of ``index``; a sublist left short is joined to a neighbour."""
    lists = index._lists
    place = bisect_left(index._maxes, entry)
    sublist = lists[place]
    at = bisect_left(sublist, entry)
    if sublist[at] is not entry:
        raise ValueError("the entry is not in the index")
    del sublist[at]
    if len(sublist) < index._load >> 1 and len(lists) > 1:
        first = place - 1 if place else 0
        _index_splice(index, first, first + 2, lists[first] + lists[first + 1])
    elif sublist:
        index._maxes[place] = sublist[-1]
        index._index = []
    else:
        _index_splice(index, place, place + 1, [])
    index._len = index._len - 1


def _index_slice(index: SortedList, start: Any, stop: Any, limit: int) -> list[Entry] | None:
    """Up to ``limit`` entries from ``start`` up to (not including) ``stop``, copied from the sublists.

    ``None`` if the sublists do not have the shape of a SortedList's, so a
    broken index is rebuilt rather than read.
    """
    try:
        return _read_sublists(index, start, stop, limit)
    except (TypeError, IndexError, AttributeError):  # an item that is not an entry, a list too short
        return None


def _read_sublists(index: SortedList, start: Any, stop: Any, limit: int) -> list[Entry] | None:
    lists, maxes = index._lists, index._maxes
    if type(lists) is not list or type(maxes) is not list or len(lists) != len(maxes):
        return None
    found: list[Entry] = []
    place = bisect_left(maxes, start)
    first = bisect_left(lists[place], start) if place < len(lists) else 0
    while place < len(lists) and len(found) < limit:
        sublist = lists[place]
        if not sublist or sublist[-1] is not maxes[place]:
            return None
        end = len(sublist) if maxes[place] < stop else bisect_left(sublist, stop)
        found += sublist[first : min(end, first + limit - len(found))]
        if end < len(sublist):
            break
        place += 1
        first = 0
    return found


class _Stripe:
    """What is keyed by the ids that hash to one stripe, and the lock that guards it.

    Per invocation: ``invocations`` (its row), ``histories`` (entries in key
    order), ``results``, ``exceptions`` and ``held``. Per key: ``relations``
    (parent -> children, event -> children, workflow -> members, workflow type
    -> members), ``workflow_data`` and ``sub_invocations`` (by workflow id).
    """

    __slots__ = (
        "bits",
        "dirty",
        "exceptions",
        "finished",
        "held",
        "histories",
        "invocations",
        "lock",
        "lost_entries",
        "next_arrival",
        "relations",
        "results",
        "sub_invocations",
        "unindexed",
        "value_bytes",
        "workflow_data",
    )

    def __init__(self, number: int) -> None:
        self.lock = new_lock()
        self.bits = number << 1  # this stripe's part of the sequence of each record it takes
        self.next_arrival = 0
        self.invocations: dict[str, InvocationRow] = {}
        self.histories: dict[str, list[Entry]] = {}
        self.results: dict[str, Any] = {}
        self.exceptions: dict[str, Any] = {}
        self.relations: tuple[dict[str, dict[str, None]], ...] = ({}, {}, {}, {})
        self.workflow_data: dict[str, dict[str, Any]] = {}
        self.sub_invocations: dict[str, dict[str, None]] = {}
        # due finished invocation -> the stored, unfinished parent or workflow root keeping it
        self.held: dict[str, str] = {}
        # how many histories here end in a final record; value_size() of results and exceptions
        self.finished = 0
        self.value_bytes = 0
        self.unindexed: list[Entry] = []  # entries written since the time index last took them
        self.dirty = False  # a write here was interrupted after its first change
        self.lost_entries = False  # a repair here found unindexed entries may be lost

    def maps(self) -> list[dict[str, Any]]:
        """Every map of the stripe, for purge."""
        return [
            self.invocations,
            self.histories,
            self.results,
            self.exceptions,
            *self.relations,
            self.workflow_data,
            self.sub_invocations,
            self.held,
        ]

    def repair(self) -> None:
        """Recount the counters after an interrupted write and flag the time index; lock held.

        Also forgets a held invocation whose final record is no longer its latest.
        """
        finished = 0
        for invocation_id, history in self.histories.items():
            if history[-1][1] & 1:
                finished += 1
            else:
                self.held.pop(invocation_id, None)
        for invocation_id in [i for i in self.held if i not in self.histories]:
            del self.held[invocation_id]
        sizes = sum(
            [value_size(v) for outcomes in (self.results, self.exceptions) for v in outcomes.values()]
        )
        self.finished, self.value_bytes, self.lost_entries, self.dirty = finished, sizes, True, False


class Store:
    """Thread-safe in-memory store of invocations, histories and related data.

    :param int stripes: number of lock stripes, a power of two from 1 to 1024.
    :param retention: evict a finished invocation once its final record is
        more than this many microseconds older than ``clock()``; ``None`` keeps it.
    :param max_finished: evict the oldest finished invocations beyond this
        many; ``None`` sets no limit.
    :param clock: returns the time now in microseconds; the wall clock by default.
    :param on_evict: called with the ids of the invocations each eviction removed,
        after the store's locks are released, in the thread that evicted.
    :param grace: evict nothing whose final record is less than this many
        microseconds older than ``clock()``, however due; ``None`` waits for nothing.
        Whoever finished an invocation may still be reading it (pynenc's runner does).
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
        on_evict: Callable[[list[str]], object] | None = None,
        grace: int | None = None,
    ) -> None:
        stripes, self._retention, self._max_finished, self._clock, self._grace = check_store_options(
            stripes, retention, max_finished, clock, on_evict, grace
        )
        self._eviction_log = EvictionLog(on_evict, EVICTED_IDS_REMEMBERED)
        self._evicting = self._retention is not None or self._max_finished is not None
        self._mask = stripes - 1
        self._shift = stripes.bit_length()
        self._stripes = tuple(_Stripe(number) for number in range(stripes))
        self._index_lock = new_lock()
        self._runs_lock = new_lock()
        self._runners_lock = new_lock()
        #: What pynenc's orchestrator keeps; evicted with the invocations (see ``_remove``).
        self.orchestration = Orchestration()
        self._all_locks = (
            self._index_lock,
            *(stripe.lock for stripe in self._stripes),
            self._runs_lock,
            self._runners_lock,
            self.orchestration.lock,
        )
        # Under the index lock: every history entry, by (timestamp, sequence); with
        # retention, final entries (some gone stale) by the same key, those whose
        # keeper was evicted (considered first), and keeper id -> the ids it holds.
        # All four are derived from the stripes: a failed update sets _indexes_stale
        # and the next reader rebuilds them.
        self._time_index: SortedList = _new_index([])
        self._eviction_queue: SortedList = _new_index([])
        self._released: deque[Entry] = deque()
        self._kept: dict[str, dict[str, None]] = {}
        self._indexes_stale = False
        self._evictions = 0
        # Under the runs lock: workflow type -> its value, and -> {workflow id: run}.
        self._workflow_types: dict[str, Any] = {}
        self._workflow_runs: dict[str, dict[str, Any]] = {}
        self._runner_contexts: dict[str, Any] = {}

    def _stripe(self, key: str) -> _Stripe:
        return self._stripes[hash(key) & self._mask]

    def _locks_of(self, keys: Iterator[str | None]) -> list[Lock]:
        """The locks of the stripes of ``keys`` (``None`` skipped), in locking order."""
        mask = self._mask
        numbers = sorted({hash(key) & mask for key in keys if key is not None})
        return [self._stripes[number].lock for number in numbers]

    # Invocations and their relations

    def upsert_invocations(self, rows: Sequence[InvocationRow]) -> None:
        """Insert or replace invocations, keeping every relation index in step.

        The whole batch is validated before anything is written, and applied
        whole or not at all. Several rows for one id store the last, placed in
        the relation indexes where the id first appears.

        Runtime complexity: `O(len(rows))`

        :param rows: :data:`InvocationRow` tuples
        """
        checked = check_rows(rows)
        while checked:
            # The old rows name the index entries to move; read first without a lock,
            # then confirmed under the locks of every stripe involved.
            seen = [self._stripe(row[0]).invocations.get(row[0]) for row in checked]
            keys: list[str | None] = [row[0] for row in checked]
            keys += [row[column] for row in [*checked, *seen] if row for column in RELATION_COLUMNS]
            if holding_all(self._locks_of(iter(keys)), self._upsert_locked, checked, seen):
                return

    def _upsert_locked(self, rows: list[InvocationRow], seen: list[InvocationRow | None]) -> bool:
        stripes, mask = self._stripes, self._mask
        steps: list[Step] = []
        drops: list[Step] = []
        created: dict[tuple[int, str], dict[str, None]] = {}
        for row, old in zip(rows, seen, strict=True):
            invocation_id = row[0]
            invocations = stripes[hash(invocation_id) & mask].invocations
            if invocations.get(invocation_id) is not old:
                return False  # written meanwhile: read its old row again
            if row is not old:
                steps += [(invocations, invocation_id, row, MISSING if old is None else old)]
            self._relation_steps(invocation_id, old, row, created, steps, drops)
        commit_steps(steps + drops)  # the old rows stay referenced by the caller until after the locks
        return True

    def _relation_steps(
        self,
        invocation_id: str,
        old: InvocationRow | None,
        row: InvocationRow | None,
        created: dict[tuple[int, str], dict[str, None]],
        sets: list[Step],
        drops: list[Step],
    ) -> None:
        """The steps that move ``invocation_id`` in each relation index whose key changed.

        ``created`` holds the member maps made for keys new to an index, so
        several rows of one batch joining a new key share one.
        """
        stripes, mask = self._stripes, self._mask
        for position, column in enumerate(RELATION_COLUMNS):
            key = None if row is None else row[column]
            old_key = None if old is None else old[column]
            if key == old_key:
                continue
            if key is not None:
                index = stripes[hash(key) & mask].relations[position]
                members = index.get(key) or created.get((position, key))
                if members is None:
                    members = created[position, key] = {}
                    sets += [(index, key, members, MISSING)]
                sets += [(members, invocation_id, None, MISSING)]
            if old_key is not None:
                index = stripes[hash(old_key) & mask].relations[position]
                drops += [(index[old_key], invocation_id, MISSING, None)]
                drops += [(index, old_key, PRUNE, None)]

    def get_invocation(self, invocation_id: str) -> Any:
        """Return the value stored for ``invocation_id``, or ``None``.

        Runtime complexity: `O(1)`
        """
        if type(invocation_id) is not str:
            invocation_id = check_id(invocation_id, "invocation_id")
        row = self._stripes[hash(invocation_id) & self._mask].invocations.get(invocation_id)
        return None if row is None else row[1]

    def _members(self, position: int, key: str) -> list[str]:
        stripe = self._stripe(key)
        return holding(stripe.lock, _members_of, stripe.relations[position], key)

    def child_ids(self, parent_id: str) -> list[str]:
        """Return the ids of the invocations whose parent is ``parent_id``, oldest first.

        Runtime complexity: `O(k)` for `k` children
        """
        return self._members(0, check_id(parent_id, "parent_id"))

    def ids_by_parent_event(self, parent_event_id: str) -> list[str]:
        """Return the ids of the invocations created by ``parent_event_id``, oldest first.

        Runtime complexity: `O(k)` for `k` matches
        """
        return self._members(1, check_id(parent_event_id, "parent_event_id"))

    def ids_by_workflow(self, workflow_id: str | None = None, workflow_type: str | None = None) -> list[str]:
        """Return the ids of the invocations in a workflow, of a workflow type, or both.

        With a workflow id, its members oldest first; with a type alone, its
        members oldest first; with neither, every invocation that belongs to
        some workflow, type by type.

        Runtime complexity: `O(k)` for `k` matches (`O(s + k)` for `s` stripes with neither)
        """
        workflow_id = check_optional_id(workflow_id, "workflow_id")
        workflow_type = check_optional_id(workflow_type, "workflow_type")
        if workflow_id is not None:
            members = self._members(2, workflow_id)
            if workflow_type is None:
                return members
            return [i for i in members if self._workflow_type_of(i) == workflow_type]
        if workflow_type is not None:
            return self._members(3, workflow_type)
        found: list[str] = []
        for stripe in self._stripes:
            found += holding(stripe.lock, _all_members, stripe.relations[3])
        return found

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
        A batch of several ids is applied whole or not at all.

        Runtime complexity: amortised `O(log(n))` per invocation for `n` records
        (`O(k)` per invocation with `k` records when several ids are given)
        """
        invocation_ids = check_ids(invocation_ids, "invocation_ids")
        timestamp = check_micros(timestamp, "timestamp")
        flag = 1 if final is True else 0 if final is False else int(check_flag(final, "final"))
        if not invocation_ids:
            return
        evicting = flag and self._evicting
        now = self._now() if evicting else 0
        if len(invocation_ids) == 1:
            stripe = self._stripes[hash(invocation_ids[0]) & self._mask]
            holding(stripe.lock, self._add_one, stripe, invocation_ids[0], timestamp, record, flag)
        else:
            locks = self._locks_of(iter(invocation_ids))
            holding_all(locks, self._add_many, invocation_ids, timestamp, record, flag)
        if evicting:
            self._evict(now, EVICTIONS_PER_FINAL * len(invocation_ids))

    def _add_one(self, stripe: _Stripe, invocation_id: str, timestamp: int, record: Any, flag: int) -> None:
        """Add one record in place: the insertion is the write's one change that can fail."""
        if stripe.dirty:
            stripe.repair()
        arrival = stripe.next_arrival
        entry = (timestamp, arrival << self._shift | stripe.bits | flag, invocation_id, record)
        history = stripe.histories.get(invocation_id)
        finished = stripe.finished + self._finishing(history, entry)
        stripe.next_arrival = arrival + 1  # an arrival number skipped by a failed write is harmless
        stripe.dirty = True
        if history is None:
            stripe.histories[invocation_id] = [entry]
        elif history[-1][0] <= timestamp:
            history += [entry]
        else:
            history.insert(bisect_right(history, entry), entry)
        self._added(stripe, invocation_id, entry, history)
        stripe.finished, stripe.dirty = finished, False

    @staticmethod
    def _finishing(history: list[Entry] | None, entry: Entry) -> int:
        """How the finished count changes when ``entry`` joins ``history``."""
        if history is None:
            return entry[1] & 1
        if history[-1][0] > entry[0]:
            return 0  # not the latest: the invocation's state does not change
        return (entry[1] & 1) - (history[-1][1] & 1)

    def _added(self, stripe: _Stripe, invocation_id: str, entry: Entry, history: list[Entry] | None) -> None:
        """After ``entry`` joined its history: queue it for the time index, unhold if it is the latest."""
        stripe.unindexed += [entry]
        if stripe.held and (history is None or history[-1] is entry):
            stripe.held.pop(invocation_id, None)

    def _add_many(self, invocation_ids: list[str], timestamp: int, record: Any, flag: int) -> None:
        """Add one record to several histories: new lists swapped in, undone if one fails."""
        stripes, mask, shift = self._stripes, self._mask, self._shift
        involved = {}
        for invocation_id in invocation_ids:
            stripe = involved[invocation_id] = stripes[hash(invocation_id) & mask]
            if stripe.dirty:
                stripe.repair()
        arrivals = {id(stripe): stripe.next_arrival for stripe in involved.values()}
        finished = {id(stripe): stripe.finished for stripe in involved.values()}
        histories: dict[str, list[Entry] | None] = {i: involved[i].histories.get(i) for i in involved}
        added: list[tuple[_Stripe, str, Entry]] = []
        for invocation_id in invocation_ids:
            stripe = involved[invocation_id]
            arrival = arrivals[id(stripe)]
            arrivals[id(stripe)] = arrival + 1
            entry = (timestamp, arrival << shift | stripe.bits | flag, invocation_id, record)
            history = histories[invocation_id]
            finished[id(stripe)] += self._finishing(history, entry)
            new = [] if history is None else history.copy()
            insort(new, entry)
            histories[invocation_id] = new
            added += [(stripe, invocation_id, entry)]
        steps: list[Step] = []
        for invocation_id, stripe in involved.items():
            old = stripe.histories.get(invocation_id, MISSING)
            steps += [(stripe.histories, invocation_id, histories[invocation_id], old)]
        for stripe in involved.values():
            stripe.next_arrival, stripe.dirty = arrivals[id(stripe)], True
        commit_steps(steps)
        for stripe, invocation_id, entry in added:
            self._added(stripe, invocation_id, entry, histories[invocation_id])
        for stripe in involved.values():
            stripe.finished, stripe.dirty = finished[id(stripe)], False

    def get_history(self, invocation_id: str) -> list[Any]:
        """Return the history records of ``invocation_id`` in timestamp order.

        Runtime complexity: `O(k)` for `k` records
        """
        if type(invocation_id) is not str:
            invocation_id = check_id(invocation_id, "invocation_id")
        stripe = self._stripes[hash(invocation_id) & self._mask]
        return holding(stripe.lock, _history_of, stripe.histories, invocation_id)

    def _refresh_indexes(self, stripes_locked: bool = False) -> None:
        """Bring the time index and eviction queue up to date; call with the index lock held.

        Takes each stripe's unindexed entries (under its lock, unless the caller
        holds every lock) and merges them. ``_indexes_stale`` is set while that
        is under way, so an interrupted merge leaves it set, and whenever it is
        set, or a stripe's entries may have been lost, everything is rebuilt
        from the histories instead.
        """
        if not self._indexes_stale:
            self._indexes_stale = True  # until every stripe's entries are merged
            lost = False
            pending: list[Entry] = []
            for stripe in self._stripes:
                if not (stripe.unindexed or stripe.dirty or stripe.lost_entries):
                    continue
                if stripes_locked:
                    taken = self._take_unindexed(stripe, [])
                else:
                    fresh: list[Entry] = []
                    taken = holding(stripe.lock, self._take_unindexed, stripe, fresh)
                if taken is None:
                    lost = True
                elif not lost:
                    pending += taken
            # One merge of every stripe's entries: their times interleave, so merged stripe by
            # stripe, each re-sorted the index's last sublist.
            if pending and not lost:
                _index_merge(self._time_index, pending)
                if self._evicting:
                    _index_merge(self._eviction_queue, [entry for entry in pending if entry[1] & 1])
            self._indexes_stale = lost
        if self._indexes_stale:
            if stripes_locked:
                self._rebuild_indexes()
            else:
                holding_all([stripe.lock for stripe in self._stripes], self._rebuild_indexes)

    @staticmethod
    def _take_unindexed(stripe: _Stripe, fresh: list[Entry]) -> list[Entry] | None:
        """Hand over ``stripe``'s unindexed entries, leaving ``fresh``; None if some may be lost."""
        if stripe.dirty:
            stripe.repair()
        if stripe.lost_entries:
            return None
        taken, stripe.unindexed = stripe.unindexed, fresh
        return taken

    def _rebuild_indexes(self) -> None:
        """Rebuild the time index and the eviction bookkeeping from the stripes; every lock held."""
        entries: list[Entry] = []
        waiting: list[Entry] = []
        kept: dict[str, dict[str, None]] = {}
        for stripe in self._stripes:
            if stripe.dirty:
                stripe.repair()
            for invocation_id, history in stripe.histories.items():
                entries.extend(history)
                if history[-1][1] & 1 and invocation_id not in stripe.held:
                    waiting += [history[-1]]
            for invocation_id, keeper in stripe.held.items():
                kept.setdefault(keeper, {})[invocation_id] = None
        time_index, queue = _new_index(entries), _new_index(waiting if self._evicting else [])
        released: deque[Entry] = deque()
        fresh: list[list[Entry]] = [[] for _ in self._stripes]
        for stripe, empty in zip(self._stripes, fresh, strict=True):
            stripe.unindexed, stripe.lost_entries = empty, False
        self._time_index, self._eviction_queue, self._released, self._kept = time_index, queue, released, kept
        self._indexes_stale = False

    def _time_slice(self, start: tuple[int, int], end: int, limit: int) -> list[Entry]:
        return holding(self._index_lock, self._time_slice_locked, start, end, limit)

    def _time_slice_locked(self, start: tuple[int, int], end: int, limit: int) -> list[Entry]:
        self._refresh_indexes()
        found = _index_slice(self._time_index, start, (end + 1,), limit)
        if found is None:  # not the shape of a SortedList: rebuild it rather than read it
            self._indexes_stale = True
            self._refresh_indexes()
            found = _index_slice(self._time_index, start, (end + 1,), limit)
            if found is None:
                raise RuntimeError("the time index is inconsistent after a rebuild")
        return found

    def _time_entries(self, start: int, end: int, chunk: int) -> Iterator[list[Entry]]:
        """The time-index entries in ``[start, end]`` written before this call, in chunks.

        The horizon is each stripe's arrival count at the call: entries that
        arrive later are left out, so an iteration sees the records as they
        were when it began (less what retention evicts meanwhile) and ends
        however fast others write. The index is read lazily, a chunk per lock.
        """
        horizon = [stripe.next_arrival for stripe in self._stripes]
        return self._entries_before(horizon, start, end, chunk)

    def _entries_before(self, horizon: list[int], start: int, end: int, chunk: int) -> Iterator[list[Entry]]:
        shift, mask = self._shift, self._mask
        position = (start, 0)
        while True:
            found = self._time_slice(position, end, chunk)
            if not found:
                return
            entries = [entry for entry in found if entry[1] >> shift < horizon[(entry[1] >> 1) & mask]]
            if entries:
                yield entries
            if len(found) < chunk:
                return
            last = found[-1]
            position = (last[0], last[1] + 1)

    def history_in_range(self, start: int, end: int, batch_size: int = 100) -> Iterator[list[Any]]:
        """Yield the history records with ``start <= timestamp <= end`` in batches.

        Records come in timestamp order; records with equal timestamps in the
        order of their sequence (arrival within an invocation's stripe, then
        stripe). The answer holds the records written before this call, and
        none written after it; the time index is read lazily, ``READ_CHUNK``
        entries per lock.

        Runtime complexity: `O(log(n) + k)` for `k` records in range
        """
        start = check_micros(start, "start")
        end = check_micros(end, "end")
        batch_size = check_batch_size(batch_size)
        return _records(self._time_entries(start, end, max(batch_size, READ_CHUNK)), batch_size)

    def invocations_in_range(self, start: int, end: int, batch_size: int = 100) -> Iterator[list[str]]:
        """Yield, once each, the ids of invocations with a history record in ``[start, end]``.

        Ids come in the order of their earliest record in the range; as in
        ``history_in_range``, of the records written before this call.

        Runtime complexity: `O(log(n) + k)` for `k` records in range
        """
        start = check_micros(start, "start")
        end = check_micros(end, "end")
        batch_size = check_batch_size(batch_size)
        return _unique_ids(self._time_entries(start, end, max(batch_size, READ_CHUNK)), batch_size)

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
        stripe = self._stripes[hash(invocation_id) & self._mask]
        displaced = holding(stripe.lock, _set_outcome, stripe, invocation_id, value, exception)
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
        stripe = self._stripe(workflow_id)
        displaced = holding(stripe.lock, _set_member, stripe.workflow_data, workflow_id, key, value)
        del displaced

    def get_workflow_data(self, workflow_id: str, key: str, default: Any = None) -> Any:
        """Return ``key`` from the data of ``workflow_id``, or ``default``.

        Runtime complexity: `O(1)`
        """
        workflow_id = check_id(workflow_id, "workflow_id")
        key = check_id(key, "key")
        stripe = self._stripe(workflow_id)
        return holding(stripe.lock, _get_member, stripe.workflow_data, workflow_id, key, default)

    def add_workflow_run(self, workflow_type: str, type_value: Any, workflow_id: str, run_value: Any) -> None:
        """Record a run ``workflow_id`` of ``workflow_type``; the first value stored wins.

        Runtime complexity: `O(1)`
        """
        workflow_type = check_id(workflow_type, "workflow_type")
        workflow_id = check_id(workflow_id, "workflow_id")
        args = (workflow_type, type_value, workflow_id, run_value)
        holding(self._runs_lock, self._add_workflow_run_locked, *args)

    def _add_workflow_run_locked(self, workflow_type: str, value: Any, workflow_id: str, run: Any) -> None:
        steps: list[Step] = []
        if workflow_type not in self._workflow_types:
            steps += [(self._workflow_types, workflow_type, value, MISSING)]
        runs = self._workflow_runs.get(workflow_type)
        if runs is None:
            steps += [(self._workflow_runs, workflow_type, {workflow_id: run}, MISSING)]
        elif workflow_id not in runs:
            steps += [(runs, workflow_id, run, MISSING)]
        commit_steps(steps)

    def workflow_types(self) -> list[Any]:
        """Return the value of every workflow type with a recorded run, oldest first.

        Runtime complexity: `O(k)` for `k` types
        """
        return holding(self._runs_lock, _values_of, self._workflow_types)

    def workflow_runs(self, workflow_type: str | None = None) -> list[Any]:
        """Return the runs of ``workflow_type``, or of every type when it is ``None``.

        Runtime complexity: `O(k)` for `k` runs
        """
        workflow_type = check_optional_id(workflow_type, "workflow_type")
        return holding(self._runs_lock, self._workflow_runs_locked, workflow_type)

    def _workflow_runs_locked(self, workflow_type: str | None) -> list[Any]:
        if workflow_type is not None:
            return list(self._workflow_runs.get(workflow_type, {}).values())
        return _concatenated([runs.values() for runs in self._workflow_runs.values()])

    def add_sub_invocation(self, parent_workflow_id: str, sub_invocation_id: str) -> None:
        """Record that ``sub_invocation_id`` runs inside the workflow ``parent_workflow_id``.

        The arguments are named as in pynenc's ``store_workflow_sub_invocation``, which is bound to this.

        Runtime complexity: `O(1)`
        """
        workflow_id = check_id(parent_workflow_id, "parent_workflow_id")
        invocation_id = check_id(sub_invocation_id, "sub_invocation_id")
        stripe = self._stripe(workflow_id)
        holding(stripe.lock, _set_member, stripe.sub_invocations, workflow_id, invocation_id, None)

    def sub_invocation_ids(self, workflow_id: str) -> list[str]:
        """Return the ids recorded as running inside ``workflow_id``, oldest first.

        Runtime complexity: `O(k)` for `k` sub-invocations
        """
        workflow_id = check_id(workflow_id, "workflow_id")
        stripe = self._stripe(workflow_id)
        return holding(stripe.lock, _members_of, stripe.sub_invocations, workflow_id)

    # Runner contexts

    def set_runner_context(self, runner_id: str, value: Any) -> None:
        """Store the context of ``runner_id``, replacing any earlier one.

        Runtime complexity: `O(1)`
        """
        runner_id = check_id(runner_id, "runner_id")
        displaced = holding(self._runners_lock, _replace, self._runner_contexts, runner_id, value)
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
        return holding(self._runners_lock, _known, self._runner_contexts, runner_ids)

    def match_runner_contexts(self, partial_id: str) -> list[Any]:
        """Return the contexts whose runner id contains ``partial_id``.

        Runtime complexity: `O(n)` for `n` runner contexts (a substring search)
        """
        partial_id = check_id(partial_id, "partial_id")
        return holding(self._runners_lock, _matching, self._runner_contexts, partial_id)

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
        still read it); it is evicted after that one goes. Nothing is evicted
        within ``grace`` of its final record. Writes of final
        records call this; call it yourself to evict while nothing is written.
        Each invocation goes whole or not at all.

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
        evicted = holding_all(self._all_locks, self._evict_locked, now, limit, displaced)
        if displaced:
            evicted_ids = [removed[1][0][2] for removed in displaced]
            del displaced  # the values go before anyone is told
            self._eviction_log.record(evicted_ids)
        return evicted

    def was_evicted(self, invocation_id: str) -> bool:
        """Whether ``invocation_id`` is among the last ``EVICTED_IDS_REMEMBERED`` ids evicted.

        Runtime complexity: `O(k)` for `k` ids remembered (a scan in C, about 0.1 ms when full;
        only a read that found nothing asks)
        """
        return check_id(invocation_id, "invocation_id") in self._eviction_log

    def _evict_locked(self, now: int, limit: int, displaced: list[Any]) -> int:
        self._refresh_indexes(stripes_locked=True)
        cutoff = None if self._retention is None else now - self._retention
        settled = None if self._grace is None else now - self._grace  # finished by then: past the grace
        max_finished = self._max_finished
        waiting = sum([stripe.finished - len(stripe.held) for stripe in self._stripes])
        queue, released = self._eviction_queue, self._released
        evicted = 0
        self._indexes_stale = True  # until the entries taken from the queue are dealt with
        for _ in range(limit):
            if released:
                entry = released.popleft()
            elif (
                queue
                and (settled is None or queue._lists[0][0][0] <= settled)
                and (
                    (max_finished is not None and waiting > max_finished)
                    or (cutoff is not None and queue._lists[0][0][0] < cutoff)
                )
            ):
                entry = queue._lists[0][0]
                _index_remove(queue, entry)
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
                stripe.held[invocation_id] = keeper
                self._kept.setdefault(keeper, {})[invocation_id] = None
            else:
                self._remove(invocation_id, stripe, row, history, displaced)
                evicted += 1
            waiting -= 1
        self._indexes_stale = False
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
        self,
        invocation_id: str,
        stripe: _Stripe,
        row: InvocationRow | None,
        history: list[Entry],
        displaced: list[Any],
    ) -> None:
        """Remove everything of the finished ``invocation_id``; call with every lock held.

        The removals are drops that cannot fail, made after everything they
        need is prepared; the time index's removals come last, and if one
        fails the indexes are rebuilt.
        """
        sets: list[Step] = []
        steps: list[Step] = [
            (stripe.invocations, invocation_id, MISSING, row),
            (stripe.histories, invocation_id, MISSING, history),
            (stripe.results, invocation_id, MISSING, None),
            (stripe.exceptions, invocation_id, MISSING, None),
            (stripe.workflow_data, invocation_id, MISSING, None),
            (stripe.sub_invocations, invocation_id, MISSING, None),
        ]
        self._relation_steps(invocation_id, row, None, {}, sets, steps)
        workflow_type = row[5] if row is not None and row[4] == invocation_id else None
        if workflow_type is not None and invocation_id in self._workflow_runs.get(workflow_type, ()):
            runs = self._workflow_runs[workflow_type]
            steps += [(runs, invocation_id, MISSING, None)]
            if len(runs) == 1:
                steps += [(self._workflow_runs, workflow_type, MISSING, None)]
                steps += [(self._workflow_types, workflow_type, MISSING, None)]
        kept = self._kept.get(invocation_id, {})
        steps += [(self._kept, invocation_id, MISSING, None)]
        steps += self.orchestration._forget_steps(invocation_id)
        result = stripe.results.get(invocation_id, MISSING)
        exception = stripe.exceptions.get(invocation_id, MISSING)
        value_bytes = stripe.value_bytes - value_size(result) - value_size(exception)
        counters = (stripe, stripe.finished - 1, value_bytes, self._evictions + 1)
        displaced += [(row, history, result, exception, [step[0].get(step[1]) for step in steps])]
        self._drop_all(steps, counters)
        # The caller keeps _indexes_stale set: if these fail, the indexes are rebuilt.
        for entry in history:
            _index_remove(self._time_index, entry)
        for held_id in kept:
            held_stripe = self._stripe(held_id)
            if held_stripe.held.get(held_id) == invocation_id:
                del held_stripe.held[held_id]
                self._released.append(held_stripe.histories[held_id][-1])

    def _drop_all(self, steps: list[Step], counters: tuple[_Stripe, int, int, int]) -> None:
        """Make the drops of an eviction and set its counters; finished if interrupted.

        Both passes' iterators are made first, and nothing after allocates, so
        only an asynchronous exception can stop it; then it runs again (every
        step is idempotent) before the exception propagates. Kept short: see
        ``test_faults`` on cleanup handlers.
        """
        first, again = iter(steps), iter(steps)
        stripe, finished, value_bytes, evictions = counters
        try:
            apply_steps(first)
            stripe.finished, stripe.value_bytes, self._evictions = finished, value_bytes, evictions
        except BaseException:
            apply_steps(again)
            stripe.finished, stripe.value_bytes, self._evictions = finished, value_bytes, evictions
            raise

    # Whole store

    def stats(self) -> StoreStats:
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
        counts = holding(self._index_lock, self._counts)
        counts["runner_contexts"] = holding(self._runners_lock, len, self._runner_contexts)
        counts["bytes"] = counts["value_bytes"] + sum(
            [counts[kind] * size for kind, size in self.ITEM_BYTES.items()]
        )
        return counts  # type: ignore[return-value]  # built by name from _STRIPE_COUNTS

    def _counts(self) -> dict[str, int]:
        """The stats' counts, summed over the stripes; call with the index lock held."""
        if self._indexes_stale or any([stripe.lost_entries or stripe.dirty for stripe in self._stripes]):
            self._refresh_indexes()
        counts = dict.fromkeys(_STRIPE_COUNTS, 0)
        for stripe in self._stripes:
            sums = holding(stripe.lock, _stripe_counts, stripe)
            for name, count in zip(_STRIPE_COUNTS, sums, strict=True):
                counts[name] += count
        counts["history_records"] = len(self._time_index) + counts.pop("unindexed")
        counts["evictions"] = self._evictions
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
        chunk: list[tuple[Any, ...]]
        if kind == "histories":
            for entries in self._time_entries(MIN_MICROS, MAX_MICROS, READ_CHUNK):
                yield [(entry[2], entry[3]) for entry in entries]
        elif kind == "runner_contexts":
            chunk = holding(self._runners_lock, _items_of, self._runner_contexts)
            yield chunk
        else:
            for stripe in self._stripes:
                chunk = holding(stripe.lock, _stripe_items, stripe, kind)
                if chunk:
                    yield chunk

    def purge(self) -> None:
        """Remove everything the store holds, and reset the eviction count.

        Runtime complexity: `O(n)` under the locks (each map is copied out and
        cleared, so readers never meet a map being replaced); the old contents
        are freed after.
        """
        displaced: list[Any] = []
        holding_all(self._all_locks, self._purge_locked, displaced)
        del displaced

    def _purge_locked(self, displaced: list[Any]) -> None:
        maps = [mapping for stripe in self._stripes for mapping in stripe.maps()]
        maps += [self._workflow_types, self._workflow_runs, self._runner_contexts, self._kept]
        displaced += [mapping.copy() for mapping in maps]
        displaced += [self._time_index, self._eviction_queue, self._released]
        displaced += [stripe.unindexed for stripe in self._stripes]
        fresh: list[tuple[_Stripe, list[Entry]]] = [(stripe, []) for stripe in self._stripes]
        indexes: tuple[SortedList, SortedList, deque[Entry]] = (_new_index([]), _new_index([]), deque())
        self._clear_all(maps, fresh, indexes)

    def _clear_all(self, maps: list[dict[str, Any]], fresh: list[Any], indexes: Any) -> None:
        """``_clear`` with what purge prepared; an interrupted clear is finished (it cannot fail)."""
        first, again = (iter(maps), iter(fresh)), (iter(maps), iter(fresh))
        try:
            self._clear(*first, indexes)
        except BaseException:
            self._clear(*again, indexes)
            raise

    def _clear(
        self, maps: Iterator[dict[str, Any]], fresh: Iterator[tuple[_Stripe, list[Entry]]], indexes: Any
    ) -> None:
        """Empty the store with what the caller prepared: no step here allocates."""
        for mapping in maps:
            mapping.clear()
        for stripe, empty in fresh:
            stripe.unindexed, stripe.finished, stripe.value_bytes = empty, 0, 0
            stripe.dirty = stripe.lost_entries = False
        self._time_index, self._eviction_queue, self._released = indexes
        self._indexes_stale, self._evictions = False, 0

    def _check(self) -> None:
        """Assert the store's internal consistency; see :func:`check_invariants`.

        Call it while no other thread writes.
        """
        check_invariants(self._state())
        self.orchestration._check()

    def _state(self) -> StoreState:
        """The internal structures, brought up to date as a read would, for the invariant check."""
        holding(self._index_lock, self._refresh_indexes)
        return StoreState(
            mask=self._mask,
            shift=self._shift,
            stripes=[
                StripeState(
                    invocations=stripe.invocations,
                    histories=stripe.histories,
                    results=stripe.results,
                    exceptions=stripe.exceptions,
                    relations=stripe.relations,
                    workflow_data=stripe.workflow_data,
                    sub_invocations=stripe.sub_invocations,
                    held=stripe.held,
                    finished=stripe.finished,
                    value_bytes=stripe.value_bytes,
                    next_arrival=stripe.next_arrival,
                    unindexed=stripe.unindexed,
                )
                for stripe in self._stripes
            ],
            time_index=self._time_index,
            eviction=(self._eviction_waiting(), self._kept) if self._evicting else None,
            entry_key=lambda entry: (entry[0], entry[1]),
            entry_invocation=lambda entry: entry[2],
        )

    def _eviction_waiting(self) -> list[Entry]:
        self._eviction_queue._check()
        return [*self._eviction_queue, *self._released]


def _set_outcome(stripe: _Stripe, invocation_id: str, value: Any, exception: bool) -> Any:
    """Store a result or exception (stripe locked); return the value it displaced."""
    if stripe.dirty:
        stripe.repair()
    outcomes = stripe.exceptions if exception else stripe.results
    displaced = outcomes.get(invocation_id, MISSING)
    value_bytes = stripe.value_bytes + value_size(value) - value_size(displaced)
    stripe.dirty = True
    outcomes[invocation_id] = value
    stripe.value_bytes, stripe.dirty = value_bytes, False
    return displaced


def _set_member(index: dict[str, dict[str, Any]], key: str, member: str, value: Any) -> Any:
    """Set ``index[key][member]``, making the entry if need be; return the value displaced."""
    members = index.get(key)
    if members is None:
        index[key] = {member: value}
        return None
    displaced = members.get(member)
    members[member] = value
    return displaced


def _get_member(index: dict[str, dict[str, Any]], key: str, member: str, default: Any) -> Any:
    members = index.get(key)
    return default if members is None else members.get(member, default)


def _replace(mapping: dict[str, Any], key: str, value: Any) -> Any:
    """Set ``mapping[key]``; return the value it displaced."""
    displaced = mapping.get(key)
    mapping[key] = value
    return displaced


def _known(mapping: dict[str, Any], keys: list[str]) -> list[Any]:
    return [mapping[key] for key in keys if key in mapping]


def _matching(mapping: dict[str, Any], partial: str) -> list[Any]:
    return [value for key, value in mapping.items() if partial in key]


def _concatenated(groups: Iterable[Iterable[Any]]) -> list[Any]:
    return [item for group in groups for item in group]


def _members_of(relation: dict[str, dict[str, None]], key: str) -> list[str]:
    return list(relation.get(key, ()))


def _all_members(relation: dict[str, dict[str, None]]) -> list[str]:
    return _concatenated(relation.values())


def _values_of(mapping: dict[str, Any]) -> list[Any]:
    return list(mapping.values())


def _items_of(mapping: dict[str, Any]) -> list[tuple[str, Any]]:
    return list(mapping.items())


def _history_of(histories: dict[str, list[Entry]], invocation_id: str) -> list[Any]:
    return [entry[3] for entry in histories.get(invocation_id, ())]


_STRIPE_COUNTS: tuple[str, ...] = (
    "invocations",
    "finished",
    "results",
    "exceptions",
    "value_bytes",
    "workflows",
    "held",
)
_STRIPE_COUNTS += ("unindexed",)


def _stripe_counts(stripe: _Stripe) -> tuple[int, ...]:
    """A stripe's part of each of ``_STRIPE_COUNTS`` (stripe locked), recounted first if dirty."""
    if stripe.dirty:
        stripe.repair()
    return (
        len(stripe.invocations),
        stripe.finished,
        len(stripe.results),
        len(stripe.exceptions),
        stripe.value_bytes,
        len(stripe.relations[2]),
        len(stripe.held),
        len(stripe.unindexed),
    )


def _stripe_items(stripe: _Stripe, kind: str) -> list[tuple[Any, ...]]:
    """Everything of ``kind`` in ``stripe`` (locked), as ``Store.items`` yields it."""
    if kind == "invocations":
        return [(inv_id, row[1]) for inv_id, row in stripe.invocations.items()]
    if kind == "workflow_data":
        return [(w, k, v) for w, values in stripe.workflow_data.items() for k, v in values.items()]
    if kind == "sub_invocations":
        return [(w, i) for w, members in stripe.sub_invocations.items() for i in members]
    return list((stripe.results if kind == "results" else stripe.exceptions).items())


def _batched(groups: Iterator[list[Any]], batch_size: int) -> Iterator[list[Any]]:
    """Regroup the items of ``groups`` into lists of ``batch_size`` (the last may be shorter)."""
    batch: list[Any] = []
    for items in groups:
        position = 0
        if batch:
            position = batch_size - len(batch)
            batch += items[:position]
            if len(batch) < batch_size:
                continue
            yield batch
        while position + batch_size <= len(items):
            yield items[position : position + batch_size]
            position += batch_size
        batch = items[position:]
    if batch:
        yield batch


def _records(chunks: Iterator[list[Entry]], batch_size: int) -> Iterator[list[Any]]:
    """The records of time-index chunks, in batches of ``batch_size``."""
    return _batched(_record_lists(chunks), batch_size)


def _record_lists(chunks: Iterator[list[Entry]]) -> Iterator[list[Any]]:
    for entries in chunks:
        yield [entry[3] for entry in entries]


def _unique_ids(chunks: Iterator[list[Entry]], batch_size: int) -> Iterator[list[str]]:
    """The invocation ids of time-index chunks, once each, in batches of ``batch_size``."""
    return _batched(_first_sightings(chunks), batch_size)


def _first_sightings(chunks: Iterator[list[Entry]]) -> Iterator[list[str]]:
    seen: set[str] = set()
    for entries in chunks:
        ids = dict.fromkeys([entry[2] for entry in entries])
        fresh = [invocation_id for invocation_id in ids if invocation_id not in seen]
        seen.update(fresh)
        yield fresh
