# cython: language_level=3, freethreading_compatible=True
"""The compiled store: the interface and behaviour of ``_store_py.Store``, exactly.

The layout is the Python twin's: per-invocation maps split over lock stripes
(``cython.pymutex``, which never waits for a lock while holding the GIL), one
lock for each map that spans invocations, taken in the same global order, and a
``SortedList`` time index fed through a pending buffer. Validation runs before
any lock is taken: the common case (exact ``str`` ids, ``int`` timestamps) is
checked inline and anything else goes to the Python twin's check functions, so
both stores accept and refuse the same input with the same messages. Values a
write displaces are released after the locks, so no user code runs under them.

A history record is held in an ``_Entry``: its timestamp and arrival sequence
as C integers beside the invocation id and the record, one 64-byte object that
both the invocation's history and the time index point at. As in the twin, the
sequence's lowest bit says whether the record was final, and retention keeps an
eviction queue of final entries.
"""

cimport cython
from cpython.datetime cimport (
    datetime,
    datetime_day,
    datetime_hour,
    datetime_microsecond,
    datetime_minute,
    datetime_month,
    datetime_second,
    datetime_tzinfo,
    datetime_year,
    import_datetime,
    timedelta_days,
    timedelta_microseconds,
    timedelta_seconds,
)
from cpython.dict cimport PyDict_GetItem
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport Py_EQ, Py_GT, Py_LE, Py_LT, Py_NE, PyObject
from libc.limits cimport ULLONG_MAX

from bisect import bisect_left, bisect_right
from collections import deque
from datetime import UTC

from sortedcontainers import SortedList

from ._store_py import (
    DEFAULT_STRIPES,
    EVICTIONS_PER_FINAL,
    ITEM_KINDS,
    READ_CHUNK,
    check_count,
    check_flag,
    check_store_options,
    StoreState,
    check_invariants,
    MAX_MICROS,
    MIN_MICROS,
    check_batch_size,
    check_id,
    check_ids,
    check_micros,
    check_optional_id,
    check_row,
)
from ._store_py import micros as _python_micros

import_datetime()

cdef object _MISSING = object()

cdef extern from *:
    """
    #ifndef PYNENC_FASTMEM_DEBUG
    #define PYNENC_FASTMEM_DEBUG 0
    #endif
    """
    int PYNENC_FASTMEM_DEBUG

#: Whether this module was built with PYNENC_FASTMEM_DEBUG_BUILD=1 (-O0 -g3, bounds checks).
DEBUG_BUILD = bool(PYNENC_FASTMEM_DEBUG)


cdef inline str _id(object value, str name):
    if type(value) is str:
        return <str>value
    return check_id(value, name)


cdef inline object _optional_id(object value, str name):
    if value is None or type(value) is str:
        return value
    return check_optional_id(value, name)


cdef inline long long _micros(object value, str name) except? -1:
    cdef int overflow = 0
    cdef long long result
    if type(value) is int:
        result = PyLong_AsLongLongAndOverflow(value, &overflow)
        if not overflow:
            return result
    return <long long>check_micros(value, name)


cdef inline long long _days_from_civil(long long year, long long month, long long day) noexcept:
    """Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    cdef long long era = (year if year >= 0 else year - 399) // 400
    cdef long long year_of_era = year - era * 400
    cdef long long day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    cdef long long day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def micros(moment, str name):
    """Return the datetime ``moment`` as integer microseconds since the epoch; naive means UTC.

    Runtime complexity: `O(1)`
    """
    cdef long long seconds, result
    if type(moment) is not datetime:
        return _python_micros(moment, name)
    seconds = (
        _days_from_civil(datetime_year(moment), datetime_month(moment), datetime_day(moment)) * 86400
        + datetime_hour(moment) * 3600
        + datetime_minute(moment) * 60
        + datetime_second(moment)
    )
    result = seconds * 1000000 + datetime_microsecond(moment)
    zone = datetime_tzinfo(moment)
    if zone is not None and zone is not UTC:
        offset = moment.utcoffset()
        if offset is not None:
            result -= (
                (<long long>timedelta_days(offset) * 86400 + timedelta_seconds(offset)) * 1000000
                + timedelta_microseconds(offset)
            )
    return result


@cython.final
cdef class _Entry:
    """One history record: ordered by (timestamp, arrival sequence), which are unique."""

    cdef readonly long long timestamp
    cdef readonly unsigned long long seq
    cdef readonly str invocation_id
    cdef readonly object record

    def __richcmp__(self, other, int op):
        if type(other) is not _Entry:
            return NotImplemented
        cdef _Entry a = self, b = <_Entry>other
        cdef int order = (
            -1 if a.timestamp < b.timestamp else 1 if a.timestamp > b.timestamp
            else -1 if a.seq < b.seq else 1 if a.seq > b.seq else 0
        )
        if op == Py_LT:
            return order < 0
        if op == Py_LE:
            return order <= 0
        if op == Py_EQ:
            return order == 0
        if op == Py_NE:
            return order != 0
        if op == Py_GT:
            return order > 0
        return order >= 0

    def __hash__(self):
        return hash((self.timestamp, self.seq))


cdef inline _Entry _entry(long long timestamp, unsigned long long seq, str invocation_id, object record):
    cdef _Entry entry = _Entry.__new__(_Entry)
    entry.timestamp = timestamp
    entry.seq = seq
    entry.invocation_id = invocation_id
    entry.record = record
    return entry


cdef tuple _ids(object values, str name):
    """A copy of ``values``, a list of exact ``str`` ids (checked by the twin's ``check_ids`` if not)."""
    if type(values) is list:
        for value in <list>values:
            if type(value) is not str:
                return tuple(check_ids(values, name))
        return tuple(<list>values)
    return tuple(check_ids(values, name))


cdef inline Py_ssize_t _value_size(object value):
    """``_store_py.value_size``: the length of a ``str`` or ``bytes`` value, else 0."""
    if type(value) is str or type(value) is bytes:
        return len(value)
    return 0


cdef class _Stripe:
    """The per-invocation maps of the ids that hash to one stripe, and their lock."""

    cdef cython.pymutex lock
    cdef dict invocations
    cdef dict histories
    cdef dict results
    cdef dict exceptions
    # how many histories here end in a final record; _value_size of results and exceptions
    cdef Py_ssize_t finished
    cdef Py_ssize_t value_bytes

    def __cinit__(self):
        self.clear()

    cdef void clear(self):
        """Drop every map and counter; call with the lock held."""
        self.invocations = {}
        self.histories = {}
        self.results = {}
        self.exceptions = {}
        self.finished = 0
        self.value_bytes = 0


@cython.final
cdef class Store:
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
    ITEM_BYTES = {
        "invocations": 382,
        "history_records": 98,
        "results": 33,
        "exceptions": 33,
        "runner_contexts": 38,
    }

    cdef tuple _stripes
    cdef tuple _single_stripes  # (stripe,) for each stripe: what _stripes_of returns for one id
    cdef Py_hash_t _mask
    cdef cython.pymutex _relations_lock
    cdef cython.pymutex _workflows_lock
    cdef cython.pymutex _time_lock
    cdef cython.pymutex _runners_lock
    cdef unsigned long long _seq
    cdef dict _children
    cdef dict _event_children
    cdef dict _workflow_members
    cdef dict _workflow_type_members
    cdef dict _workflow_types
    cdef dict _workflow_runs
    cdef dict _sub_invocations
    cdef dict _workflow_data
    cdef object _time_index
    cdef list _time_pending
    cdef dict _runner_contexts
    cdef object _retention
    cdef object _max_finished
    cdef object _clock
    cdef bint _evicting
    # Eviction (time lock): final entries by key, which may have gone stale; entries kept
    # because an unfinished invocation can read them, by its id; entries to reconsider first.
    cdef object _eviction_queue
    cdef dict _held
    cdef dict _holders
    cdef object _ready
    cdef Py_ssize_t _evictions

    def __init__(self, stripes=DEFAULT_STRIPES, retention=None, max_finished=None, clock=None):
        stripes, self._retention, self._max_finished, self._clock = check_store_options(
            stripes, retention, max_finished, clock
        )
        self._evicting = self._retention is not None or self._max_finished is not None
        self._mask = stripes - 1
        self._stripes = tuple([_Stripe() for _ in range(stripes)])
        self._single_stripes = tuple([(stripe,) for stripe in self._stripes])
        self._seq = 0
        self._clear_shared()

    cdef void _clear_shared(self):
        self._children = {}
        self._event_children = {}
        self._workflow_members = {}
        self._workflow_type_members = {}
        self._workflow_types = {}
        self._workflow_runs = {}
        self._sub_invocations = {}
        self._workflow_data = {}
        self._time_index = SortedList()
        self._time_pending = []
        self._runner_contexts = {}
        self._eviction_queue = SortedList()
        self._held = {}
        self._holders = {}
        self._ready = deque()
        self._evictions = 0

    cdef inline _Stripe _stripe(self, str invocation_id):
        return <_Stripe>self._stripes[hash(invocation_id) & self._mask]

    cdef tuple _stripes_of(self, object invocation_ids):
        """The distinct stripes of ``invocation_ids`` (a list or tuple), in ascending (locking) order."""
        cdef str invocation_id
        if len(invocation_ids) == 1:
            return <tuple>self._single_stripes[hash(<str>invocation_ids[0]) & self._mask]
        indexes = sorted({hash(invocation_id) & self._mask for invocation_id in invocation_ids})
        return tuple([self._stripes[index] for index in indexes])

    # Invocations and their relations

    def upsert_invocations(self, rows):
        """Insert or replace invocations, keeping every relation index in step.

        The whole batch is validated before anything is written: a bad row
        raises and leaves the store unchanged.

        Runtime complexity: `O(len(rows))`

        :param rows: :data:`InvocationRow` tuples; a later row for the same id wins.
        """
        cdef list checked, displaced = []
        cdef tuple stripes
        cdef tuple row, old
        cdef _Stripe stripe
        cdef Py_ssize_t index
        if not isinstance(rows, (list, tuple)):
            raise TypeError(f"rows must be a list of rows, got {type(rows).__name__}")
        checked = list(rows)
        for index in range(len(checked)):
            if not _is_plain_row(checked[index]):
                checked[index] = check_row(checked[index], index)
        stripes = self._stripes_of([row[0] for row in checked])
        for stripe in stripes:
            stripe.lock.acquire()
        self._relations_lock.acquire()
        try:
            for row in checked:
                stripe = self._stripe(<str>row[0])
                found = PyDict_GetItem(stripe.invocations, row[0])
                if found is NULL:
                    stripe.invocations[row[0]] = row
                    self._reindex(<str>row[0], None, row)
                else:
                    # Own the borrowed old row before the assignment below drops the dict's reference.
                    old = <tuple><object>found
                    displaced.append(old)
                    stripe.invocations[row[0]] = row
                    self._reindex(<str>row[0], old, row)
        finally:
            self._relations_lock.release()
            for stripe in stripes:
                stripe.lock.release()
        del displaced

    cdef void _reindex(self, str invocation_id, object old, object row):
        """Move ``invocation_id`` in each relation index whose key changed; None for no row."""
        cdef Py_ssize_t column
        cdef dict index
        for column in range(2, 6):
            key = None if row is None else (<tuple>row)[column]
            old_key = None if old is None else (<tuple>old)[column]
            # Keys are None or exact str: identity settles the common cases without a comparison call.
            if old_key is key or old_key == key:
                continue
            index = self._relation_index(column)
            _remove_member(index, old_key, invocation_id)
            _add_member(index, key, invocation_id)

    cdef inline dict _relation_index(self, Py_ssize_t column):
        """The relation index of a row's ``column`` (2 to 5)."""
        if column == 2:
            return self._children
        if column == 3:
            return self._event_children
        if column == 4:
            return self._workflow_members
        return self._workflow_type_members

    def get_invocation(self, invocation_id):
        """Return the value stored for ``invocation_id``, or ``None``.

        Runtime complexity: `O(1)`
        """
        cdef str key = _id(invocation_id, "invocation_id")
        cdef _Stripe stripe = self._stripe(key)
        cdef PyObject* found
        with stripe.lock:
            found = PyDict_GetItem(stripe.invocations, key)
            if found is NULL:
                return None
            return (<tuple><object>found)[1]

    cdef list _members(self, dict index, str key):
        with self._relations_lock:
            members = index.get(key)
            return [] if members is None else list(<dict>members)

    def child_ids(self, parent_id):
        """Return the ids of the invocations whose parent is ``parent_id``, oldest first.

        Runtime complexity: `O(k)` for `k` children
        """
        return self._members(self._children, _id(parent_id, "parent_id"))

    def ids_by_parent_event(self, parent_event_id):
        """Return the ids of the invocations created by ``parent_event_id``, oldest first.

        Runtime complexity: `O(k)` for `k` matches
        """
        return self._members(self._event_children, _id(parent_event_id, "parent_event_id"))

    def ids_by_workflow(self, workflow_id=None, workflow_type=None):
        """Return the ids of the invocations in a workflow, of a workflow type, or both.

        With neither filter, every invocation that belongs to some workflow.

        Runtime complexity: `O(k)` for `k` matches
        """
        workflow_id = _optional_id(workflow_id, "workflow_id")
        workflow_type = _optional_id(workflow_type, "workflow_type")
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

    cdef object _workflow_type_of(self, str invocation_id):
        cdef _Stripe stripe = self._stripe(invocation_id)
        with stripe.lock:
            row = stripe.invocations.get(invocation_id)
            return None if row is None else row[5]

    # Histories and the time index

    def add_histories(self, invocation_ids, timestamp, record, final=False):
        """Append ``record`` at ``timestamp`` to the history of each invocation.

        Each history stays in timestamp order, ties in arrival order. Each
        (invocation, record) pair also enters the time index once. An
        invocation whose latest record was added with ``final=True`` is
        finished; with retention configured, adding final records then evicts
        up to ``EVICTIONS_PER_FINAL`` due invocations per record (see ``evict``).

        Runtime complexity: amortised `O(log(n))` per invocation for `n` records
        """
        cdef tuple ids = _ids(invocation_ids, "invocation_ids")
        cdef long long at = _micros(timestamp, "timestamp")
        cdef unsigned long long flag = (
            1 if final is True else 0 if final is False else check_flag(final, "final")
        )
        cdef bint evicting = flag and self._evicting
        now = self._now() if evicting else 0
        cdef tuple stripes = self._stripes_of(ids)
        cdef _Stripe stripe
        cdef list history
        cdef _Entry entry, last
        cdef str invocation_id
        cdef bint latest
        for stripe in stripes:
            stripe.lock.acquire()
        self._time_lock.acquire()
        try:
            for invocation_id in ids:
                entry = _entry(at, self._seq | flag, invocation_id, record)
                self._seq += 2
                stripe = self._stripe(invocation_id)
                found = PyDict_GetItem(stripe.histories, invocation_id)
                latest = True
                if found is NULL:
                    stripe.histories[invocation_id] = [entry]
                    stripe.finished += flag
                else:
                    history = <list><object>found
                    last = <_Entry>history[len(history) - 1]
                    if last.timestamp <= at:
                        if last.seq & 1:
                            stripe.finished -= 1
                            if self._holders:
                                self._unhold(invocation_id)
                        stripe.finished += flag
                        history.append(entry)
                    else:
                        _insort(history, entry)
                        latest = False
                if flag and latest and self._evicting:
                    self._eviction_queue.add(entry)
                self._time_pending.append(entry)
        finally:
            self._time_lock.release()
            for stripe in stripes:
                stripe.lock.release()
        if evicting:
            self._evict(now, EVICTIONS_PER_FINAL * len(ids))

    def get_history(self, invocation_id):
        """Return the history records of ``invocation_id`` in timestamp order.

        Runtime complexity: `O(k)` for `k` records
        """
        cdef str key = _id(invocation_id, "invocation_id")
        cdef _Stripe stripe = self._stripe(key)
        cdef _Entry entry
        with stripe.lock:
            found = PyDict_GetItem(stripe.histories, key)
            if found is NULL:
                return []
            return [entry.record for entry in <list><object>found]

    cdef void _merge_pending(self):
        """Move the pending time-index entries into the sorted list; call with the time lock."""
        if self._time_pending:
            self._time_index.update(self._time_pending)
            self._time_pending = []

    cdef list _time_slice(self, _Entry start, _Entry end, Py_ssize_t limit):
        """Up to ``limit`` time-index entries from ``start`` to ``end``, both included.

        Reads the ``SortedList``'s sublists (``_lists``, sorted, with their last
        items in ``_maxes``) and copies slices of them: its ``irange`` generator
        costs more than the copy for the thousand entries a chunk holds.
        """
        cdef list found = [], maxes, sublists, sublist
        cdef Py_ssize_t position, first = 0, stop
        with self._time_lock:
            self._merge_pending()
            maxes = self._time_index._maxes
            sublists = self._time_index._lists
            position = bisect_left(maxes, start)
            if position < len(maxes):
                first = bisect_left(<list>sublists[position], start)
            while position < len(maxes) and len(found) < limit:
                sublist = <list>sublists[position]
                stop = len(sublist) if maxes[position] <= end else bisect_right(sublist, end)
                found.extend(sublist[first:min(stop, first + limit - len(found))])
                if stop < len(sublist):
                    break
                position += 1
                first = 0
            return found

    def _time_entries(self, long long start, long long end, Py_ssize_t chunk):
        """Yield the time-index entries in ``[start, end]`` in chunks, lock held per chunk."""
        cdef _Entry position = _entry(start, 0, None, None)
        cdef _Entry last = _entry(end, ULLONG_MAX, None, None)
        cdef list entries
        while True:
            entries = self._time_slice(position, last, chunk)
            if not entries:
                return
            yield entries
            if len(entries) < chunk:
                return
            position = entries[len(entries) - 1]
            position = _entry(position.timestamp, position.seq + 1, None, None)

    def history_in_range(self, start, end, batch_size=100):
        """Yield the history records with ``start <= timestamp <= end`` in batches.

        Records come in timestamp order. The time index is read lazily,
        ``READ_CHUNK`` entries at a time, so records written after the
        iteration starts appear if they sort after the entries read so far.

        Runtime complexity: `O(log(n) + k)` for `k` records in range
        """
        cdef long long low = _micros(start, "start"), high = _micros(end, "end")
        batch_size = check_batch_size(batch_size)
        return _records(self._time_entries(low, high, max(batch_size, READ_CHUNK)), batch_size)

    def invocations_in_range(self, start, end, batch_size=100):
        """Yield, once each, the ids of invocations with a history record in ``[start, end]``.

        Ids come in the order of their earliest record in the range; the time
        index is read lazily, as in ``history_in_range``.

        Runtime complexity: `O(log(n) + k)` for `k` records in range
        """
        cdef long long low = _micros(start, "start"), high = _micros(end, "end")
        batch_size = check_batch_size(batch_size)
        return _unique_ids(self._time_entries(low, high, max(batch_size, READ_CHUNK)), batch_size)

    # Results and exceptions

    def set_result(self, invocation_id, value):
        """Store the result of ``invocation_id``, replacing any earlier one.

        Runtime complexity: `O(1)`
        """
        self._set_outcome(invocation_id, value, False)

    def get_result(self, invocation_id):
        """Return the result of ``invocation_id``; raise ``KeyError`` if none is stored.

        Runtime complexity: `O(1)`
        """
        return self._get_outcome(invocation_id, False)

    def set_exception(self, invocation_id, value):
        """Store the exception of ``invocation_id``, replacing any earlier one.

        Runtime complexity: `O(1)`
        """
        self._set_outcome(invocation_id, value, True)

    def get_exception(self, invocation_id):
        """Return the exception of ``invocation_id``; raise ``KeyError`` if none is stored.

        Runtime complexity: `O(1)`
        """
        return self._get_outcome(invocation_id, True)

    cdef int _set_outcome(self, object invocation_id, object value, bint exception) except -1:
        cdef str key = _id(invocation_id, "invocation_id")
        cdef _Stripe stripe = self._stripe(key)
        cdef dict outcomes
        cdef Py_ssize_t size = _value_size(value)
        with stripe.lock:
            # Read the map under the lock: purge swaps it for a new one.
            outcomes = stripe.exceptions if exception else stripe.results
            found = PyDict_GetItem(outcomes, key)
            if found is not NULL:
                # Own the borrowed value before the assignment below drops the dict's reference.
                displaced = <object>found
                size -= _value_size(displaced)
            outcomes[key] = value
            stripe.value_bytes += size
        return 0

    cdef object _get_outcome(self, object invocation_id, bint exception):
        cdef str key = _id(invocation_id, "invocation_id")
        cdef _Stripe stripe = self._stripe(key)
        with stripe.lock:
            found = PyDict_GetItem(stripe.exceptions if exception else stripe.results, key)
            if found is not NULL:
                return <object>found
        raise KeyError(key)

    # Workflows

    def set_workflow_data(self, workflow_id, key, value):
        """Set ``key`` to ``value`` in the data of ``workflow_id``.

        Runtime complexity: `O(1)`
        """
        workflow_id = _id(workflow_id, "workflow_id")
        key = _id(key, "key")
        with self._workflows_lock:
            data = self._workflow_data.setdefault(workflow_id, {})
            displaced = data.get(key)
            data[key] = value
        del displaced

    def get_workflow_data(self, workflow_id, key, default=None):
        """Return ``key`` from the data of ``workflow_id``, or ``default``.

        Runtime complexity: `O(1)`
        """
        workflow_id = _id(workflow_id, "workflow_id")
        key = _id(key, "key")
        with self._workflows_lock:
            data = self._workflow_data.get(workflow_id)
            if data is None:
                return default
            return (<dict>data).get(key, default)

    def add_workflow_run(self, workflow_type, type_value, workflow_id, run_value):
        """Record a run ``workflow_id`` of ``workflow_type``; the first value stored wins.

        Runtime complexity: `O(1)`
        """
        workflow_type = _id(workflow_type, "workflow_type")
        workflow_id = _id(workflow_id, "workflow_id")
        with self._workflows_lock:
            self._workflow_types.setdefault(workflow_type, type_value)
            self._workflow_runs.setdefault(workflow_type, {}).setdefault(workflow_id, run_value)

    def workflow_types(self):
        """Return the value of every workflow type with a recorded run, oldest first.

        Runtime complexity: `O(k)` for `k` types
        """
        with self._workflows_lock:
            return list(self._workflow_types.values())

    def workflow_runs(self, workflow_type=None):
        """Return the runs of ``workflow_type``, or of every type when it is ``None``.

        Runtime complexity: `O(k)` for `k` runs
        """
        workflow_type = _optional_id(workflow_type, "workflow_type")
        with self._workflows_lock:
            if workflow_type is not None:
                return list(self._workflow_runs.get(workflow_type, {}).values())
            return [run for runs in self._workflow_runs.values() for run in runs.values()]

    def add_sub_invocation(self, workflow_id, invocation_id):
        """Record that ``invocation_id`` runs inside the workflow ``workflow_id``.

        Runtime complexity: `O(1)`
        """
        workflow_id = _id(workflow_id, "workflow_id")
        invocation_id = _id(invocation_id, "invocation_id")
        with self._workflows_lock:
            _add_member(self._sub_invocations, workflow_id, invocation_id)

    def sub_invocation_ids(self, workflow_id):
        """Return the ids recorded as running inside ``workflow_id``, oldest first.

        Runtime complexity: `O(k)` for `k` sub-invocations
        """
        workflow_id = _id(workflow_id, "workflow_id")
        with self._workflows_lock:
            return list(self._sub_invocations.get(workflow_id, ()))

    # Runner contexts

    def set_runner_context(self, runner_id, value):
        """Store the context of ``runner_id``, replacing any earlier one.

        Runtime complexity: `O(1)`
        """
        runner_id = _id(runner_id, "runner_id")
        with self._runners_lock:
            displaced = self._runner_contexts.get(runner_id)
            self._runner_contexts[runner_id] = value
        del displaced

    def get_runner_context(self, runner_id):
        """Return the context of ``runner_id``, or ``None``.

        Runtime complexity: `O(1)`
        """
        runner_id = _id(runner_id, "runner_id")
        with self._runners_lock:
            return self._runner_contexts.get(runner_id)

    def get_runner_contexts(self, runner_ids):
        """Return the stored contexts of ``runner_ids``, in that order, skipping unknown ids.

        Runtime complexity: `O(k)` for `k` ids
        """
        cdef tuple ids = _ids(runner_ids, "runner_ids")
        with self._runners_lock:
            contexts = self._runner_contexts
            return [contexts[rid] for rid in ids if rid in contexts]

    def match_runner_contexts(self, partial_id):
        """Return the contexts whose runner id contains ``partial_id``.

        Runtime complexity: `O(n)` for `n` runner contexts (a substring search)
        """
        partial_id = _id(partial_id, "partial_id")
        with self._runners_lock:
            return [ctx for rid, ctx in self._runner_contexts.items() if partial_id in rid]

    # Retention

    def evict(self, limit=EVICTIONS_PER_FINAL):
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
        cdef Py_ssize_t count = check_count(limit, "limit")
        return self._evict(self._now(), count) if self._evicting else 0

    cdef object _now(self):
        return check_micros(self._clock(), "clock()")

    cdef Py_ssize_t _evict(self, object now, Py_ssize_t count) except -1:
        cdef Py_ssize_t evicted
        cdef list displaced = []
        self._lock_all()
        try:
            evicted = self._evict_locked(now, count, displaced)
        finally:
            self._unlock_all()
        del displaced
        return evicted

    cdef void _lock_all(self):
        cdef _Stripe stripe
        for stripe in self._stripes:
            stripe.lock.acquire()
        self._relations_lock.acquire()
        self._workflows_lock.acquire()
        self._time_lock.acquire()
        self._runners_lock.acquire()

    cdef void _unlock_all(self):
        cdef _Stripe stripe
        self._runners_lock.release()
        self._time_lock.release()
        self._workflows_lock.release()
        self._relations_lock.release()
        for stripe in self._stripes:
            stripe.lock.release()

    cdef Py_ssize_t _evict_locked(self, object now, Py_ssize_t limit, list displaced) except -1:
        cutoff = None if self._retention is None else now - self._retention
        max_finished = self._max_finished
        cdef Py_ssize_t finished = 0, evicted = 0, _
        cdef _Stripe stripe
        cdef _Entry entry
        for stripe in self._stripes:
            finished += stripe.finished
        self._merge_pending()
        queue = self._eviction_queue
        ready = self._ready
        for _ in range(limit):
            if ready:
                entry = ready.popleft()
            elif queue and (
                (max_finished is not None and finished - len(self._holders) > max_finished)
                or (cutoff is not None and (<_Entry>queue[0]).timestamp < cutoff)
            ):
                entry = queue.pop(0)
            else:
                break
            invocation_id = entry.invocation_id
            stripe = self._stripe(invocation_id)
            history = stripe.histories.get(invocation_id)
            if not history or history[len(history) - 1] is not entry:
                continue  # no longer its latest record: queued again if it finishes again
            row = stripe.invocations.get(invocation_id)
            keeper = self._keeper(invocation_id, row)
            if keeper is not None:
                held = self._held.get(keeper)
                if held is None:
                    self._held[keeper] = {invocation_id: entry}
                else:
                    (<dict>held)[invocation_id] = entry
                self._holders[invocation_id] = keeper
                continue
            self._remove(invocation_id, stripe, row, displaced)
            finished -= 1
            evicted += 1
        return evicted

    cdef object _keeper(self, str invocation_id, object row):
        """The stored, unfinished parent or workflow root of ``invocation_id``, if any."""
        cdef _Stripe stripe
        if row is None:
            return None
        for other in ((<tuple>row)[2], (<tuple>row)[4]):
            if other is None or other == invocation_id:
                continue
            stripe = self._stripe(<str>other)
            history = stripe.histories.get(other)
            if history:
                unfinished = ((<_Entry>(<list>history)[len(<list>history) - 1]).seq & 1) == 0
            else:
                unfinished = other in stripe.invocations
            if unfinished:
                return other
        return None

    cdef int _remove(self, str invocation_id, _Stripe stripe, object row, list displaced) except -1:
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
        stripe.value_bytes -= _value_size(result) + _value_size(exception)
        displaced.append((row, history, result, exception))
        displaced.append(self._workflow_data.pop(invocation_id, None))
        displaced.append(self._sub_invocations.pop(invocation_id, None))
        if row is not None and (<tuple>row)[4] == invocation_id:
            workflow_type = (<tuple>row)[5]
            runs = self._workflow_runs.get(workflow_type)
            if runs is not None:
                displaced.append((<dict>runs).pop(invocation_id, None))
                if not runs:
                    del self._workflow_runs[workflow_type]
                    displaced.append(self._workflow_types.pop(workflow_type))
        held = self._held.pop(invocation_id, None)
        if held is not None:
            for held_id in <dict>held:
                del self._holders[held_id]
            self._ready.extend((<dict>held).values())
        self._evictions += 1
        return 0

    # Whole store

    def stats(self):
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
        cdef _Stripe stripe
        cdef Py_ssize_t invocations = 0, finished = 0, results = 0, exceptions = 0, value_bytes = 0
        for stripe in self._stripes:
            with stripe.lock:
                invocations += len(stripe.invocations)
                finished += stripe.finished
                results += len(stripe.results)
                exceptions += len(stripe.exceptions)
                value_bytes += stripe.value_bytes
        counts = {
            "invocations": invocations,
            "finished": finished,
            "results": results,
            "exceptions": exceptions,
            "value_bytes": value_bytes,
        }
        with self._relations_lock:
            counts["workflows"] = len(self._workflow_members)
        with self._time_lock:
            counts["history_records"] = len(self._time_index) + len(self._time_pending)
            counts["held"] = len(self._holders)
            counts["evictions"] = self._evictions
        with self._runners_lock:
            counts["runner_contexts"] = len(self._runner_contexts)
        counts["bytes"] = value_bytes + sum(
            counts[kind] * size for kind, size in self.ITEM_BYTES.items()
        )
        return counts

    def items(self, kind):
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

    def _items(self, str kind):
        cdef _Stripe stripe
        cdef _Entry entry
        if kind == "histories":
            for entries in self._time_entries(MIN_MICROS, MAX_MICROS, READ_CHUNK):
                yield [(entry.invocation_id, entry.record) for entry in entries]
        elif kind == "workflow_data" or kind == "sub_invocations":
            with self._workflows_lock:
                source = self._workflow_data if kind == "workflow_data" else self._sub_invocations
                snapshot = [(key, list(values.items())) for key, values in source.items()]
            if kind == "workflow_data":
                yield [(workflow_id, k, v) for workflow_id, pairs in snapshot for k, v in pairs]
            else:
                yield [(workflow_id, k) for workflow_id, pairs in snapshot for k, _ in pairs]
        elif kind == "runner_contexts":
            with self._runners_lock:
                chunk = list(self._runner_contexts.items())
            yield chunk
        else:
            for stripe in self._stripes:
                with stripe.lock:
                    if kind == "invocations":
                        chunk = [(inv_id, row[1]) for inv_id, row in stripe.invocations.items()]
                    elif kind == "results":
                        chunk = list(stripe.results.items())
                    else:
                        chunk = list(stripe.exceptions.items())
                if chunk:
                    yield chunk

    def purge(self):
        """Remove everything the store holds, and reset the eviction count.

        Runtime complexity: `O(1)` under the locks; the old contents are freed after.
        """
        cdef _Stripe stripe
        cdef list displaced = []
        self._lock_all()
        try:
            for stripe in self._stripes:
                displaced.append((stripe.invocations, stripe.histories, stripe.results, stripe.exceptions))
                stripe.clear()
            displaced.append(
                (
                    self._children, self._event_children, self._workflow_members,
                    self._workflow_type_members, self._workflow_types, self._workflow_runs,
                    self._sub_invocations, self._workflow_data, self._time_index,
                    self._time_pending, self._runner_contexts, self._eviction_queue,
                    self._held, self._holders, self._ready,
                )
            )
            self._clear_shared()
        finally:
            self._unlock_all()
        del displaced

    def _check(self):
        """Assert the store's internal consistency; see ``_store_py.check_invariants``.

        Call it while no other thread writes.
        """
        check_invariants(self._state())

    def _state(self):
        """The internal structures, pending time-index entries merged, for the invariant check."""
        cdef _Stripe stripe
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
            entry_key=_entry_key,
            entry_invocation=_entry_invocation,
        )

    def _eviction_entries(self):
        self._eviction_queue._check()
        held = [entry for entries in self._held.values() for entry in entries.values()]
        assert len(held) == len(self._holders), "held entries and holders differ"
        return [*self._eviction_queue, *self._ready], held

    cdef int _unhold(self, str invocation_id) except -1:
        """Forget the held entry of ``invocation_id``, no longer its latest; call with the time lock."""
        keeper = self._holders.pop(invocation_id, None)
        if keeper is not None:
            bucket = <dict>self._held[keeper]
            del bucket[invocation_id]
            if not bucket:
                del self._held[keeper]
        return 0


def _entry_key(_Entry entry):
    return (entry.timestamp, entry.seq)


def _entry_invocation(_Entry entry):
    return entry.invocation_id


cdef inline void _add_member(dict index, object key, str member):
    if key is not None:
        members = index.get(key)
        if members is None:
            index[key] = {member: None}
        else:
            (<dict>members)[member] = None


cdef inline void _remove_member(dict index, object key, str member):
    if key is None:
        return
    members = index.get(key)
    if members is not None:
        (<dict>members).pop(member, None)
        if not members:
            del index[key]


cdef inline bint _is_plain_row(object row):
    """Whether ``row`` is a 6-tuple of exact ``str`` ids that needs no further check."""
    if type(row) is not tuple or len(<tuple>row) != 6:
        return False
    cdef tuple t = <tuple>row
    if type(t[0]) is not str:
        return False
    for index in range(2, 6):
        if t[index] is not None and type(t[index]) is not str:
            return False
    return (t[4] is None) == (t[5] is None)


cdef void _insort(list history, _Entry entry):
    """Insert ``entry`` into the key-ordered ``history``; keys are unique, so no tie."""
    cdef Py_ssize_t low = 0, high = len(history), middle
    while low < high:
        middle = (low + high) >> 1
        if entry < history[middle]:
            high = middle
        else:
            low = middle + 1
    history.insert(low, entry)


def _records(chunks, Py_ssize_t batch_size):
    cdef _Entry entry
    cdef list batch = []
    for entries in chunks:
        for entry in entries:
            batch.append(entry.record)
            if len(batch) == batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def _unique_ids(chunks, Py_ssize_t batch_size):
    cdef set seen = set()
    cdef list batch = []
    cdef _Entry entry
    for entries in chunks:
        for entry in entries:
            invocation_id = entry.invocation_id
            if invocation_id not in seen:
                seen.add(invocation_id)
                batch.append(invocation_id)
                if len(batch) == batch_size:
                    yield batch
                    batch = []
    if batch:
        yield batch
