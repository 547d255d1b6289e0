# cython: language_level=3, freethreading_compatible=True
"""The compiled store: the interface and behaviour of ``_store_py.Store``, exactly.

The layout is the Python twin's: everything keyed by an id (an invocation's
row, history, result and exception; a relation key's members; a workflow's data
and sub-invocations) lives in the lock stripe its id hashes to, history records
are sequenced per stripe and buffered per stripe until a reader of the time
index merges them into one ``SortedList``, and locks are taken in the same
global order. Validation runs before any lock is taken: the common case (exact
``str`` ids, ``int`` timestamps) is checked inline and anything else goes to
the shared check functions of ``_store_common``, so both stores accept and
refuse the same input with the same messages. Values a write displaces are
released after the locks, so no user code runs under them.

Where the twins differ, and why:

- Locks are ``PyMutex`` (3.13+) or, on 3.12, a one-byte spin lock that waits
  with the GIL released; the twin uses ``threading.RLock`` held by ``_locking``.
- Point reads (``get_invocation``, ``get_result``, ``get_exception``) take no
  lock in either store; here they take a strong reference with
  ``PyDict_GetItemRef``, and the maps they read are never replaced (purge
  clears them in place), so a reader never holds a map being freed.
- C code cannot be interrupted between two statements: only an allocation can
  fail, and only a call into Python code (the shared input checks, before any
  lock; the retention clock) can raise an asynchronous exception. So writes
  here undo or finish their changes at the points where an allocation can
  fail, and need none of the twin's ``dirty`` marks; the one derived structure
  a write feeds, its stripe's unindexed buffer, is flagged for a rebuild if
  appending to it fails.

A history record is held in an ``_Entry``: its timestamp and sequence as C
integers beside the invocation id and the record, one 64-byte object that both
the invocation's history and the time index point at.
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
from cpython.dict cimport PyDict_Contains, PyDict_DelItem, PyDict_SetItem
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.list cimport PyList_Append
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport Py_EQ, Py_GT, Py_LE, Py_LT, Py_NE, PyObject
from libc.limits cimport ULLONG_MAX
from libc.string cimport memset

from collections import deque
from datetime import UTC as _UTC
from itertools import islice
from operator import itemgetter

from sortedcontainers import SortedList

from ._invariants import StoreState, StripeState, check_invariants, check_orchestration_indexes
from ._store_common import (
    DEFAULT_STRIPES,
    EVICTED_IDS_REMEMBERED,
    EVICTIONS_PER_FINAL,
    ITEM_KINDS,
    MAX_MICROS,
    MIN_MICROS,
    READ_CHUNK,
    check_batch_size,
    check_count,
    check_flag,
    check_id,
    check_ids,
    check_micros,
    check_optional_id,
    check_pairs,
    check_statuses,
    check_rows,
    check_store_options,
    EvictionLog,
)
from ._store_common import micros as _python_micros

import_datetime()

cdef object UTC = _UTC  # a C global: read without a module dictionary lookup

cdef extern from *:
    """
    #ifndef PYNENC_FASTMEM_DEBUG
    #define PYNENC_FASTMEM_DEBUG 0
    #endif

    /* The stripe lock. PyMutex where there is one (3.13+): one byte, parks a
       waiter with its thread state detached. On 3.12, a one-byte lock taken by
       an atomic exchange; a waiter releases the GIL and yields until it is
       free. Under the GIL it is contended only while its holder runs Python
       code (the time index's sortedcontainers calls), which lets the GIL go. */
    #if PY_VERSION_HEX >= 0x030D0000
    typedef PyMutex fastmem_lock;
    #define fastmem_acquire(lock) PyMutex_Lock(lock)
    #define fastmem_release(lock) PyMutex_Unlock(lock)
    #else
    #ifdef _MSC_VER
    #include <intrin.h>
    #define WIN32_LEAN_AND_MEAN
    #include <windows.h>
    #define fastmem_exchange(p, v) _InterlockedExchange8((volatile char *)(p), (v))
    #define fastmem_yield() SwitchToThread()
    #else
    #include <sched.h>
    #define fastmem_exchange(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
    #define fastmem_yield() sched_yield()
    #endif
    typedef struct { char locked; } fastmem_lock;
    static void fastmem_acquire_slow(fastmem_lock *lock) {
        Py_BEGIN_ALLOW_THREADS
        while (fastmem_exchange(&lock->locked, 1)) {
            fastmem_yield();
        }
        Py_END_ALLOW_THREADS
    }
    static inline void fastmem_acquire(fastmem_lock *lock) {
        if (fastmem_exchange(&lock->locked, 1)) {
            fastmem_acquire_slow(lock);
        }
    }
    static inline void fastmem_release(fastmem_lock *lock) {
        (void)fastmem_exchange(&lock->locked, 0);
    }
    #endif

    /* A strong reference to d[key], or NULL without an exception when it is missing. */
    static inline PyObject *fastmem_get(PyObject *dict, PyObject *key) {
    #if PY_VERSION_HEX >= 0x030D0000
        PyObject *value = NULL;
        (void)PyDict_GetItemRef(dict, key, &value);
        return value;
    #else
        PyObject *value = PyDict_GetItemWithError(dict, key);
        Py_XINCREF(value);
        return value;
    #endif
    }
    """
    int PYNENC_FASTMEM_DEBUG
    ctypedef struct fastmem_lock:
        pass
    void fastmem_acquire(fastmem_lock *lock) nogil
    void fastmem_release(fastmem_lock *lock) nogil
    PyObject *fastmem_get(object dict, object key)

#: Whether this module was built with PYNENC_FASTMEM_DEBUG_BUILD=1 (-O0 -g3, bounds checks).
DEBUG_BUILD = bool(PYNENC_FASTMEM_DEBUG)


cdef inline object _get(dict mapping, object key, object missing):
    """``mapping.get(key, missing)`` through a strong reference taken atomically."""
    cdef PyObject *found = fastmem_get(mapping, key)
    if found is NULL:
        return missing
    value = <object>found
    Py_DECREF_raw(found)
    return value


cdef extern from "Python.h":
    void Py_DECREF_raw "Py_DECREF" (PyObject *)


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
@cython.no_gc  # not tracked by the cycle collector: see the docstring
cdef class _Entry:
    """One history record: ordered by (timestamp, sequence), which are unique.

    Entries are created on every history write and live as long as the history, so the
    cyclic garbage collector does not track them: tracking made each write pay for
    collections that walk every young entry (perf: ~15% of a pynenc-shaped write). An entry
    refers only to an id string and to the record pynenc passed, which never refers back
    to the store, so an entry is never part of a reference cycle.
    """

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


cdef inline bint _before(_Entry a, _Entry b) noexcept:
    return a.timestamp < b.timestamp or (a.timestamp == b.timestamp and a.seq < b.seq)


cdef inline bint _arrived(_Entry entry, const unsigned long long *arrivals, int shift,
                          unsigned long long mask) noexcept:
    """Whether ``entry`` arrived before the horizon ``arrivals`` (each stripe's arrival count then)."""
    return entry.seq >> shift < arrivals[(entry.seq >> 1) & mask]


cdef tuple _ids(object values, str name):
    """A copy of ``values``, a list of exact ``str`` ids (checked by ``check_ids`` if not)."""
    if type(values) is list:
        for value in <list>values:
            if type(value) is not str:
                return tuple(check_ids(values, name))
        return tuple(<list>values)
    return tuple(check_ids(values, name))


cdef inline Py_ssize_t _value_size(object value):
    """``_store_common.value_size``: the length of a ``str`` or ``bytes`` value, else 0."""
    if type(value) is str or type(value) is bytes:
        return len(value)
    return 0


cdef inline bint _is_plain_row(object row):
    """``_store_common.is_plain_row``: a 6-tuple of exact ``str`` ids that needs no further check."""
    if type(row) is not tuple or len(<tuple>row) != 6:
        return False
    cdef tuple t = <tuple>row
    if type(t[0]) is not str:
        return False
    for index in range(2, 6):
        if t[index] is not None and type(t[index]) is not str:
            return False
    return (t[4] is None) == (t[5] is None)


cdef inline bint _is_unrelated_row(object row):
    """A plain row (``_is_plain_row``) naming no parent, event or workflow."""
    if not _is_plain_row(row):
        return False
    cdef tuple t = <tuple>row
    return t[2] is None and t[3] is None and t[4] is None


cdef inline Py_ssize_t _with_number(Py_ssize_t* numbers, Py_ssize_t count, Py_ssize_t number) noexcept:
    """Insert ``number`` into the sorted, distinct ``numbers[:count]``; return the new count."""
    cdef Py_ssize_t position = count
    while position and numbers[position - 1] > number:
        position -= 1
    if position and numbers[position - 1] == number:
        return count
    cdef Py_ssize_t moved = count
    while moved > position:
        numbers[moved] = numbers[moved - 1]
        moved -= 1
    numbers[position] = number
    return count + 1


cdef inline bint _same_key(object key, object row, Py_ssize_t column) noexcept:
    """Whether ``row`` (a checked row, or None) has ``key`` in ``column``: ids are exact ``str``."""
    if row is None:
        return False
    other = (<tuple>row)[column]
    return key is other or (other is not None and <str>key == <str>other)


cdef list _rows(object rows):
    """``_store_common.check_rows``, with its common case, a list of plain rows, checked here.

    Any other input goes to ``check_rows``, which names what is wrong.
    """
    if type(rows) is not list:
        return check_rows(rows)
    cdef list given = <list>rows
    if len(given) == 1 and _is_plain_row(given[0]):
        return [given[0]]
    cdef dict latest = {}
    for row in given:
        if not _is_plain_row(row):
            return check_rows(rows)
        latest[(<tuple>row)[0]] = row
    return list(latest.values())


@cython.final
cdef class _Stripe:
    """What is keyed by the ids that hash to one stripe, and the lock that guards it.

    The maps are created once and never replaced (purge clears them in place),
    so the lock-free point reads never hold a map being freed.
    """

    cdef fastmem_lock lock
    cdef unsigned long long bits  # this stripe's part of the sequence of each record it takes
    cdef unsigned long long next_arrival
    cdef dict invocations
    cdef dict histories
    cdef dict results
    cdef dict exceptions
    # parent -> children, event -> children, workflow -> members, workflow type -> members
    cdef tuple relations
    cdef dict workflow_data
    cdef dict sub_invocations
    # due finished invocation -> the stored, unfinished parent or workflow root keeping it
    cdef dict held
    # how many histories here end in a final record; _value_size of results and exceptions
    cdef Py_ssize_t finished
    cdef Py_ssize_t value_bytes
    cdef list unindexed  # entries written since the time index last took them
    cdef bint lost_entries  # appending to unindexed failed: the time index must be rebuilt

    def __cinit__(self, unsigned long long number):
        self.bits = number << 1
        self.invocations = {}
        self.histories = {}
        self.results = {}
        self.exceptions = {}
        self.relations = ({}, {}, {}, {})
        self.workflow_data = {}
        self.sub_invocations = {}
        self.held = {}
        self.unindexed = []

    cdef list maps(self):
        """Every map of the stripe, for purge."""
        return [
            self.invocations, self.histories, self.results, self.exceptions, *self.relations,
            self.workflow_data, self.sub_invocations, self.held,
        ]

    cdef void acquire(self) noexcept:
        fastmem_acquire(&self.lock)

    cdef void release(self) noexcept:
        fastmem_release(&self.lock)


cdef void _acquire_all(tuple stripes) noexcept:
    cdef _Stripe stripe
    for stripe in stripes:
        stripe.acquire()


cdef void _release_all(tuple stripes) noexcept:
    cdef Py_ssize_t position = len(stripes)
    while position:
        position -= 1
        (<_Stripe>stripes[position]).release()


include "_orchestration_c.pxi"


@cython.final
cdef class Store:
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
    ITEM_BYTES = {
        "invocations": 382,
        "history_records": 98,
        "results": 33,
        "exceptions": 33,
        "runner_contexts": 38,
    }

    cdef tuple _stripes
    cdef tuple _single_stripes  # (stripe,) for each stripe: the lock set of one id
    cdef Py_hash_t _mask
    cdef int _shift
    cdef fastmem_lock _index_lock
    cdef fastmem_lock _runs_lock
    cdef fastmem_lock _runners_lock
    # Under the index lock, all derived from the stripes (a failed update sets
    # _indexes_stale and the next reader rebuilds them): every history entry by
    # (timestamp, sequence); with retention, final entries (some gone stale) by the
    # same key, those whose keeper was evicted (considered first), and keeper id ->
    # the ids it holds.
    cdef object _time_index
    cdef object _eviction_queue
    cdef object _released
    cdef dict _kept
    cdef bint _indexes_stale
    cdef Py_ssize_t _evictions
    # Under the runs lock: workflow type -> its value, and -> {workflow id: run}.
    cdef dict _workflow_types
    cdef dict _workflow_runs
    cdef dict _runner_contexts
    cdef object _retention
    cdef object _max_finished
    cdef object _grace
    cdef object _clock
    cdef bint _evicting
    cdef object _eviction_log
    #: What pynenc's orchestrator keeps; evicted with the invocations (see ``_remove``).
    cdef readonly Orchestration orchestration

    def __init__(
        self, stripes=DEFAULT_STRIPES, retention=None, max_finished=None, clock=None, on_evict=None,
        grace=None,
    ):
        stripes, self._retention, self._max_finished, self._clock, self._grace = check_store_options(
            stripes, retention, max_finished, clock, on_evict, grace
        )
        self._eviction_log = EvictionLog(on_evict, EVICTED_IDS_REMEMBERED)
        self._evicting = self._retention is not None or self._max_finished is not None
        self._mask = stripes - 1
        self._shift = stripes.bit_length()
        self._stripes = tuple([_Stripe(number) for number in range(stripes)])
        self._single_stripes = tuple([(stripe,) for stripe in self._stripes])
        self._time_index = SortedList()
        self._eviction_queue = SortedList()
        self._released = deque()
        self._kept = {}
        self._workflow_types = {}
        self._workflow_runs = {}
        self._runner_contexts = {}
        self.orchestration = Orchestration()

    cdef inline _Stripe _stripe(self, str key):
        return <_Stripe>self._stripes[hash(key) & self._mask]

    cdef tuple _stripes_of(self, list keys):
        """The distinct stripes of ``keys`` (``None`` skipped), in locking order."""
        if len(keys) == 1:
            return <tuple>self._single_stripes[hash(<str>keys[0]) & self._mask]
        cdef unsigned char marked[1024]  # MAX_STRIPES: which stripes a key hashes to
        cdef Py_ssize_t number, count = self._mask + 1
        memset(marked, 0, count)
        for key in keys:
            if key is not None:
                marked[hash(<str>key) & self._mask] = 1
        return tuple([self._stripes[number] for number in range(count) if marked[number]])

    # Invocations and their relations

    def upsert_invocations(self, rows):
        """Insert or replace invocations, keeping every relation index in step.

        The whole batch is validated before anything is written, and applied
        whole or not at all. Several rows for one id store the last, placed in
        the relation indexes where the id first appears.

        Runtime complexity: `O(len(rows))`

        :param rows: :data:`InvocationRow` tuples
        """
        cdef list checked, seen, keys
        cdef tuple stripes, row
        if type(rows) is list and len(<list>rows) == 1 and _is_plain_row((<list>rows)[0]):
            row = <tuple>(<list>rows)[0]
            if not (_is_unrelated_row(row) and self._upsert_unrelated(row)):
                self._upsert_one(row)
            return
        checked = _rows(rows)
        while checked:
            # The old rows name the index entries to move; read first without a lock,
            # then confirmed under the locks of every stripe involved.
            seen = [self._row(<str>(<tuple>row)[0]) for row in checked]
            keys = [row[0] for row in checked]
            for row in checked:
                if row[2] is not None or row[3] is not None or row[4] is not None:
                    keys += row[2:]
            for old in seen:
                if old is not None:
                    keys += (<tuple>old)[2:]
            stripes = self._stripes_of(keys)
            _acquire_all(stripes)
            try:
                if self._upsert_locked(checked, seen):
                    return
            finally:
                _release_all(stripes)

    cdef bint _upsert_unrelated(self, tuple row) except -1:
        """Store a row naming no relation, in its stripe alone, with no temporary object.

        False, changing nothing, when the row it would replace names relations
        (their index entries move: the general path does it).
        """
        cdef str invocation_id = <str>row[0]
        cdef _Stripe stripe = self._stripe(invocation_id)
        stripe.acquire()
        try:
            old = _get(stripe.invocations, invocation_id, None)  # released after the lock
            if old is not None and not _is_unrelated_row(old):
                return False
            PyDict_SetItem(stripe.invocations, invocation_id, row)
        finally:
            stripe.release()
        return True

    cdef int _upsert_one(self, tuple row) except -1:
        """Store one plain row with ``_upsert_locked``, its locks found without temporary objects.

        pynenc upserts one invocation at a time; the stripes to lock (its id's, its
        relations', its old row's) are gathered in a C array, sorted as ``_stripes_of``
        sorts them, so locks are still taken in one global order.
        """
        cdef str invocation_id = <str>row[0]
        cdef Py_ssize_t numbers[9]
        cdef Py_ssize_t count, column, position
        while True:
            old = self._row(invocation_id)  # read without a lock, confirmed under the locks
            count = _with_number(numbers, 0, hash(invocation_id) & self._mask)
            for column in range(2, 6):
                key = row[column]
                if key is not None:
                    count = _with_number(numbers, count, hash(<str>key) & self._mask)
                if old is not None:
                    key = (<tuple>old)[column]
                    if key is not None:
                        count = _with_number(numbers, count, hash(<str>key) & self._mask)
            for position in range(count):
                (<_Stripe>self._stripes[numbers[position]]).acquire()
            try:
                if self._upsert_locked([row], [old]):
                    return 0
                # written meanwhile: read its old row again
            finally:
                position = count
                while position:
                    position -= 1
                    (<_Stripe>self._stripes[numbers[position]]).release()

    cdef inline object _row(self, str invocation_id):
        return _get(self._stripe(invocation_id).invocations, invocation_id, None)

    cdef bint _upsert_locked(self, list rows, list seen) except -1:
        """Apply ``rows`` (stripes locked): every insertion first, undone if one fails, then the drops."""
        cdef Py_ssize_t count = len(rows), done = 0, position
        cdef tuple row
        for position in range(count):
            row = <tuple>rows[position]
            if self._row(<str>row[0]) is not seen[position]:
                return False  # written meanwhile: read its old row again
        try:
            for position in range(count):
                done = position + 1  # the row in hand may be half applied: undoing is idempotent
                self._insert_row(<tuple>rows[position], seen[position])
        except BaseException:
            for position in range(done):
                self._undo_row(<tuple>rows[position], seen[position])
            raise
        for position in range(count):
            self._drop_relations(<tuple>rows[position], seen[position])
        return True

    cdef int _insert_row(self, tuple row, object old) except -1:
        """Store ``row`` and add it to the relation indexes whose key changed; each step may fail."""
        cdef str invocation_id = <str>row[0]
        cdef Py_ssize_t column
        cdef dict index
        if row is not old:
            PyDict_SetItem(self._stripe(invocation_id).invocations, invocation_id, row)
        for column in range(2, 6):
            key = row[column]
            if key is None or _same_key(key, old, column):
                continue
            index = <dict>(<_Stripe>self._stripe(<str>key)).relations[column - 2]
            members = _get(index, key, None)
            if members is None:
                PyDict_SetItem(index, key, {invocation_id: None})
            else:
                PyDict_SetItem(<dict>members, invocation_id, None)
        return 0

    cdef void _undo_row(self, tuple row, object old) noexcept:
        """Undo ``_insert_row`` wherever it got to; allocates nothing."""
        cdef str invocation_id = <str>row[0]
        cdef dict invocations = self._stripe(invocation_id).invocations
        cdef Py_ssize_t column
        cdef dict index
        if row is not old and _get(invocations, invocation_id, None) is row:
            if old is None:
                PyDict_DelItem(invocations, invocation_id)
            else:
                PyDict_SetItem(invocations, invocation_id, old)  # an existing key: no allocation
        for column in range(2, 6):
            key = row[column]
            if key is None or _same_key(key, old, column):
                continue
            index = <dict>(<_Stripe>self._stripe(<str>key)).relations[column - 2]
            _remove_member(index, key, invocation_id)

    cdef void _drop_relations(self, object row, tuple old) noexcept:
        """Take ``old``'s id out of the relation indexes whose key ``row`` changed; cannot fail."""
        cdef Py_ssize_t column
        if old is None:
            return
        cdef str invocation_id = <str>old[0]
        for column in range(2, 6):
            old_key = old[column]
            if old_key is None or _same_key(old_key, row, column):
                continue
            _remove_member(
                <dict>(<_Stripe>self._stripe(<str>old_key)).relations[column - 2], old_key, invocation_id
            )

    def get_invocation(self, invocation_id):
        """Return the value stored for ``invocation_id``, or ``None``.

        Runtime complexity: `O(1)`
        """
        cdef str key = _id(invocation_id, "invocation_id")
        cdef PyObject *found = fastmem_get(self._stripe(key).invocations, key)
        if found is NULL:
            return None
        row = <tuple><object>found
        Py_DECREF_raw(found)
        return row[1]

    cdef list _members(self, Py_ssize_t position, str key):
        cdef _Stripe stripe = self._stripe(key)
        stripe.acquire()
        try:
            members = (<dict>stripe.relations[position]).get(key)
            return [] if members is None else list(<dict>members)
        finally:
            stripe.release()

    def child_ids(self, parent_id):
        """Return the ids of the invocations whose parent is ``parent_id``, oldest first.

        Runtime complexity: `O(k)` for `k` children
        """
        return self._members(0, _id(parent_id, "parent_id"))

    def ids_by_parent_event(self, parent_event_id):
        """Return the ids of the invocations created by ``parent_event_id``, oldest first.

        Runtime complexity: `O(k)` for `k` matches
        """
        return self._members(1, _id(parent_event_id, "parent_event_id"))

    def ids_by_workflow(self, workflow_id=None, workflow_type=None):
        """Return the ids of the invocations in a workflow, of a workflow type, or both.

        With a workflow id, its members oldest first; with a type alone, its
        members oldest first; with neither, every invocation that belongs to
        some workflow, type by type.

        Runtime complexity: `O(k)` for `k` matches (`O(s + k)` for `s` stripes with neither)
        """
        cdef _Stripe stripe
        cdef list found
        workflow_id = _optional_id(workflow_id, "workflow_id")
        workflow_type = _optional_id(workflow_type, "workflow_type")
        if workflow_id is not None:
            members = self._members(2, workflow_id)
            if workflow_type is None:
                return members
            return [i for i in members if self._workflow_type_of(i) == workflow_type]
        if workflow_type is not None:
            return self._members(3, workflow_type)
        found = []
        for stripe in self._stripes:
            stripe.acquire()
            try:
                for type_members in (<dict>stripe.relations[3]).values():
                    found.extend(<dict>type_members)
            finally:
                stripe.release()
        return found

    cdef object _workflow_type_of(self, str invocation_id):
        row = self._row(invocation_id)
        return None if row is None else (<tuple>row)[5]

    # Histories and the time index

    def add_histories(self, invocation_ids, timestamp, record, final=False):
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
        cdef tuple ids = None
        cdef str single = None
        if type(invocation_ids) is list and len(<list>invocation_ids) == 1:
            single = _id((<list>invocation_ids)[0], "invocation_ids[0]")  # the common case: no copy
        else:
            ids = _ids(invocation_ids, "invocation_ids")
        cdef long long at = _micros(timestamp, "timestamp")
        cdef unsigned long long flag = (
            1 if final is True else 0 if final is False else check_flag(final, "final")
        )
        cdef _Stripe stripe
        cdef tuple stripes
        if ids is not None and len(ids) < 2:
            if not ids:
                return
            single = <str>ids[0]
        cdef bint evicting = flag and self._evicting
        now = self._now() if evicting else 0
        if single is not None:
            stripe = self._stripe(single)
            stripe.acquire()
            try:
                self._add_one(stripe, single, at, record, flag)
            finally:
                stripe.release()
        else:
            stripes = self._stripes_of(list(ids))
            _acquire_all(stripes)
            try:
                self._add_many(ids, at, record, flag)
            finally:
                _release_all(stripes)
        if evicting:
            self._evict(now, EVICTIONS_PER_FINAL * (1 if single is not None else len(ids)))

    cdef inline _Entry _next_entry(self, _Stripe stripe, str invocation_id, long long at, object record,
                                   unsigned long long flag):
        """A new entry sequenced by ``stripe``, whose arrival count it takes."""
        cdef unsigned long long arrival = stripe.next_arrival
        if arrival >> (64 - self._shift):
            raise OverflowError("this stripe's arrival count is exhausted")
        entry = _entry(at, arrival << self._shift | stripe.bits | flag, invocation_id, record)
        stripe.next_arrival = arrival + 1  # an arrival number skipped by a failed write is harmless
        return entry

    cdef int _add_one(self, _Stripe stripe, str invocation_id, long long at, object record,
                      unsigned long long flag) except -1:
        """Add one record in place (stripe locked): the insertion is the one change that can fail."""
        cdef _Entry entry = self._next_entry(stripe, invocation_id, at, record, flag)
        cdef list history
        cdef _Entry last
        found = _get(stripe.histories, invocation_id, None)
        if found is None:
            PyDict_SetItem(stripe.histories, invocation_id, [entry])
            stripe.finished += flag
        else:
            history = <list>found
            last = <_Entry>history[len(history) - 1]
            if last.timestamp <= at:
                PyList_Append(history, entry)
                stripe.finished += <Py_ssize_t>flag - <Py_ssize_t>(last.seq & 1)
                if stripe.held and PyDict_Contains(stripe.held, invocation_id):
                    PyDict_DelItem(stripe.held, invocation_id)
            else:
                history.insert(_insort_position(history, entry), entry)
        self._index_later(stripe, entry)
        return 0

    cdef int _index_later(self, _Stripe stripe, _Entry entry) except -1:
        """Queue ``entry`` for the time index; if that fails, flag the index for a rebuild."""
        try:
            PyList_Append(stripe.unindexed, entry)
        except BaseException:
            stripe.lost_entries = True
            raise
        return 0

    cdef int _add_many(self, tuple ids, long long at, object record, unsigned long long flag) except -1:
        """Add one record to several histories (stripes locked): new lists swapped in, undone if one fails."""
        cdef dict histories = {}, olds = {}
        cdef list added = [], history
        cdef _Stripe stripe
        cdef _Entry entry
        cdef str invocation_id
        cdef Py_ssize_t done = 0, position
        for invocation_id in ids:
            stripe = self._stripe(invocation_id)
            entry = self._next_entry(stripe, invocation_id, at, record, flag)
            if invocation_id not in histories:
                old = _get(stripe.histories, invocation_id, None)
                olds[invocation_id] = old
                histories[invocation_id] = [] if old is None else list(<list>old)
            history = <list>histories[invocation_id]
            history.insert(_insort_position(history, entry), entry)
            added.append(entry)
        # Not list(histories.items()): CPython 3.12 crashes freeing a dict items iterator whose
        # result tuple could not be allocated; Cython walks a typed dict with PyDict_Next.
        changed = [(key, value) for key, value in histories.items()]
        try:
            for position in range(len(changed)):
                done = position + 1
                invocation_id, history = changed[position]
                PyDict_SetItem(self._stripe(invocation_id).histories, invocation_id, history)
        except BaseException:
            for position in range(done):
                invocation_id = <str>(<tuple>changed[position])[0]
                stripe = self._stripe(invocation_id)
                if _get(stripe.histories, invocation_id, None) is (<tuple>changed[position])[1]:
                    old = olds[invocation_id]
                    if old is None:
                        PyDict_DelItem(stripe.histories, invocation_id)
                    else:
                        PyDict_SetItem(stripe.histories, invocation_id, old)
            raise
        for invocation_id, history in changed:
            stripe = self._stripe(invocation_id)
            old = olds[invocation_id]
            stripe.finished += _final(history) - (0 if old is None else _final(<list>old))
            old_last = None if old is None else (<list>old)[len(<list>old) - 1]
            if stripe.held and history[len(history) - 1] is not old_last:
                if PyDict_Contains(stripe.held, invocation_id):
                    PyDict_DelItem(stripe.held, invocation_id)
        for entry in added:
            self._index_later(self._stripe(entry.invocation_id), entry)
        return 0

    def get_history(self, invocation_id):
        """Return the history records of ``invocation_id`` in timestamp order.

        Runtime complexity: `O(k)` for `k` records
        """
        cdef str key = _id(invocation_id, "invocation_id")
        cdef _Stripe stripe = self._stripe(key)
        cdef _Entry entry
        stripe.acquire()
        try:
            found = _get(stripe.histories, key, None)
            if found is None:
                return []
            return [entry.record for entry in <list>found]
        finally:
            stripe.release()

    cdef int _refresh_indexes(self, bint stripes_locked) except -1:
        """Bring the time index and eviction queue up to date; call with the index lock held.

        Takes each stripe's unindexed entries (under its lock, unless the caller
        holds every lock) and merges them. ``_indexes_stale`` is set while that
        is under way, so an interrupted merge leaves it set, and whenever it is
        set, or a stripe's entries may have been lost, everything is rebuilt
        from the histories instead.
        """
        cdef _Stripe stripe
        cdef list taken, fresh, pending = []
        cdef bint lost = False
        if not self._indexes_stale:
            self._indexes_stale = True  # until every stripe's entries are merged
            for stripe in self._stripes:
                if not (stripe.unindexed or stripe.lost_entries):
                    continue
                fresh = []
                if not stripes_locked:
                    stripe.acquire()
                if stripe.lost_entries:
                    lost = True
                taken, stripe.unindexed = stripe.unindexed, fresh
                if not stripes_locked:
                    stripe.release()
                if not lost:
                    pending += taken
            # One merge of every stripe's entries: their times interleave, so merged stripe by
            # stripe, each re-sorted the index's last sublist (0.4 ms a query after 1,500 writes).
            if pending and not lost:
                _index_merge(self._time_index, pending)
                if self._evicting:
                    finals = [entry for entry in pending if (<_Entry>entry).seq & 1]
                    _index_merge(self._eviction_queue, finals)
            self._indexes_stale = lost
        if self._indexes_stale:
            if stripes_locked:
                self._rebuild_indexes()
            else:
                _acquire_all(self._stripes)
                try:
                    self._rebuild_indexes()
                finally:
                    _release_all(self._stripes)
        return 0

    cdef int _rebuild_indexes(self) except -1:
        """Rebuild the time index and the eviction bookkeeping from the stripes; every lock held."""
        cdef list entries = [], waiting = [], history
        cdef dict kept = {}
        cdef _Stripe stripe
        for stripe in self._stripes:
            for invocation_id, found in stripe.histories.items():
                history = <list>found
                entries.extend(history)
                if (<_Entry>history[len(history) - 1]).seq & 1 and invocation_id not in stripe.held:
                    waiting.append(history[len(history) - 1])
            for invocation_id, keeper in stripe.held.items():
                kept.setdefault(keeper, {})[invocation_id] = None
        time_index, queue = _new_index(entries), _new_index(waiting if self._evicting else [])
        released = deque()
        fresh = [[] for _ in self._stripes]
        for stripe, empty in zip(self._stripes, fresh):
            stripe.unindexed, stripe.lost_entries = <list>empty, False
        self._time_index, self._eviction_queue, self._released, self._kept = time_index, queue, released, kept
        self._indexes_stale = False
        return 0

    cdef list _time_slice(self, _Entry start, _Entry end, Py_ssize_t limit):
        """Up to ``limit`` time-index entries from ``start`` to ``end``, both included.

        Reads the ``SortedList``'s sublists (``_lists``, sorted, with their last
        items in ``_maxes``) and copies slices of them: its ``irange`` generator
        costs more than the copy for the thousand entries a chunk holds. Their
        shape is checked as they are read; a time index found inconsistent is
        rebuilt, never read out of bounds.
        """
        cdef list found
        fastmem_acquire(&self._index_lock)
        try:
            self._refresh_indexes(False)
            found = self._slice_sublists(start, end, limit)
            if found is None:
                self._indexes_stale = True
                self._refresh_indexes(False)
                found = self._slice_sublists(start, end, limit)
                if found is None:
                    raise RuntimeError("the time index is inconsistent after a rebuild")
            return found
        finally:
            fastmem_release(&self._index_lock)

    cdef list _slice_sublists(self, _Entry start, _Entry end, Py_ssize_t limit):
        """The slice read from the sublists, or None if their shape is not a SortedList's."""
        try:
            return self._read_sublists(start, end, limit)
        except (TypeError, IndexError, AttributeError):  # an item that is not an entry, a list too short
            return None

    cdef list _read_sublists(self, _Entry start, _Entry end, Py_ssize_t limit):
        cdef list found = [], maxes, sublists, sublist
        cdef Py_ssize_t position, first = 0, stop, count
        maxes = self._time_index._maxes
        sublists = self._time_index._lists
        if type(maxes) is not list or type(sublists) is not list or len(maxes) != len(sublists):
            return None
        count = len(maxes)
        position = _first_not_before(maxes, start, 0, count)
        if position < count:
            sublist = sublists[position]
            if type(sublist) is not list or not sublist:
                return None
            first = _first_not_before(sublist, start, 0, len(sublist))
        while position < count and len(found) < limit:
            sublist = sublists[position]
            if type(sublist) is not list or not sublist or sublist[len(sublist) - 1] is not maxes[position]:
                return None
            if _before(end, <_Entry?>maxes[position]):
                stop = _first_after(sublist, end, 0, len(sublist))
            else:
                stop = len(sublist)
            if not (0 <= first <= len(sublist) and 0 <= stop <= len(sublist)):
                return None
            stop = max(stop, first)  # a start after the end: an empty slice
            found.extend(sublist[first:min(stop, first + limit - len(found))])
            if stop < len(sublist):
                break
            position += 1
            first = 0
        return found

    cdef bytes _horizon(self):
        """Each stripe's arrival count now, packed: what a range query started now may see."""
        cdef Py_ssize_t count = len(self._stripes), number
        cdef bytes horizon = PyBytes_FromStringAndSize(NULL, count * sizeof(unsigned long long))
        cdef unsigned long long *arrivals = <unsigned long long *>PyBytes_AS_STRING(horizon)
        for number in range(count):
            arrivals[number] = (<_Stripe>self._stripes[number]).next_arrival
        return horizon

    def _time_entries(self, long long start, long long end, Py_ssize_t chunk):
        """The time-index entries in ``[start, end]`` written before this call, in chunks.

        The horizon is each stripe's arrival count at the call: entries that
        arrive later are left out, so an iteration sees the records as they
        were when it began (less what retention evicts meanwhile) and ends
        however fast others write. The index is read lazily, a chunk per lock.
        """
        return self._entries_before(self._horizon(), start, end, chunk)

    def _entries_before(self, bytes horizon, long long start, long long end, Py_ssize_t chunk):
        cdef _Entry position = _entry(start, 0, None, None)
        cdef _Entry last = _entry(end, ULLONG_MAX, None, None)
        cdef _Entry entry
        cdef list found, entries
        cdef Py_ssize_t at
        cdef const unsigned long long *arrivals
        cdef int shift = self._shift
        cdef unsigned long long mask = <unsigned long long>self._mask
        while True:
            found = self._time_slice(position, last, chunk)
            if not found:
                return
            arrivals = <const unsigned long long *>PyBytes_AS_STRING(horizon)
            entries = found
            for at in range(len(found)):
                if not _arrived(<_Entry>found[at], arrivals, shift, mask):
                    # written after the call: left out, in a copy made only then
                    entries = [entry for entry in found if _arrived(entry, arrivals, shift, mask)]
                    break
            if entries:
                yield entries
            if len(found) < chunk:
                return
            entry = found[len(found) - 1]
            position = _entry(entry.timestamp, entry.seq + 1, None, None)

    def history_in_range(self, start, end, batch_size=100):
        """Yield the history records with ``start <= timestamp <= end`` in batches.

        Records come in timestamp order; records with equal timestamps in the
        order of their sequence (arrival within an invocation's stripe, then
        stripe). The answer holds the records written before this call, and
        none written after it; the time index is read lazily, ``READ_CHUNK``
        entries per lock.

        Runtime complexity: `O(log(n) + k)` for `k` records in range
        """
        cdef long long low = _micros(start, "start"), high = _micros(end, "end")
        batch_size = check_batch_size(batch_size)
        return _records(self._time_entries(low, high, max(batch_size, READ_CHUNK)), batch_size)

    def invocations_in_range(self, start, end, batch_size=100):
        """Yield, once each, the ids of invocations with a history record in ``[start, end]``.

        Ids come in the order of their earliest record in the range; as in
        ``history_in_range``, of the records written before this call.

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
        cdef dict outcomes = stripe.exceptions if exception else stripe.results
        cdef Py_ssize_t size = _value_size(value)
        stripe.acquire()
        try:
            displaced = _get(outcomes, key, None)  # released after the lock
            PyDict_SetItem(outcomes, key, value)
            stripe.value_bytes += size - _value_size(displaced)
        finally:
            stripe.release()
        return 0

    cdef object _get_outcome(self, object invocation_id, bint exception):
        cdef str key = _id(invocation_id, "invocation_id")
        cdef _Stripe stripe = self._stripe(key)
        cdef PyObject *found = fastmem_get(stripe.exceptions if exception else stripe.results, key)
        if found is NULL:
            raise KeyError(key)
        value = <object>found
        Py_DECREF_raw(found)
        return value

    # Workflows

    def set_workflow_data(self, workflow_id, key, value):
        """Set ``key`` to ``value`` in the data of ``workflow_id``.

        Runtime complexity: `O(1)`
        """
        workflow_id = _id(workflow_id, "workflow_id")
        key = _id(key, "key")
        cdef _Stripe stripe = self._stripe(workflow_id)
        displaced = None
        stripe.acquire()
        try:
            data = _get(stripe.workflow_data, workflow_id, None)
            if data is None:
                PyDict_SetItem(stripe.workflow_data, workflow_id, {key: value})
            else:
                displaced = _get(<dict>data, key, None)
                PyDict_SetItem(<dict>data, key, value)
        finally:
            stripe.release()
        del displaced

    def get_workflow_data(self, workflow_id, key, default=None):
        """Return ``key`` from the data of ``workflow_id``, or ``default``.

        Runtime complexity: `O(1)`
        """
        workflow_id = _id(workflow_id, "workflow_id")
        key = _id(key, "key")
        cdef _Stripe stripe = self._stripe(workflow_id)
        stripe.acquire()
        try:
            data = _get(stripe.workflow_data, workflow_id, None)
            return default if data is None else (<dict>data).get(key, default)
        finally:
            stripe.release()

    def add_workflow_run(self, workflow_type, type_value, workflow_id, run_value):
        """Record a run ``workflow_id`` of ``workflow_type``; the first value stored wins.

        Runtime complexity: `O(1)`
        """
        workflow_type = _id(workflow_type, "workflow_type")
        workflow_id = _id(workflow_id, "workflow_id")
        cdef bint new_type
        fastmem_acquire(&self._runs_lock)
        try:
            new_type = workflow_type not in self._workflow_types
            if new_type:
                PyDict_SetItem(self._workflow_types, workflow_type, type_value)
            try:
                runs = _get(self._workflow_runs, workflow_type, None)
                if runs is None:
                    PyDict_SetItem(self._workflow_runs, workflow_type, {workflow_id: run_value})
                elif workflow_id not in <dict>runs:
                    PyDict_SetItem(<dict>runs, workflow_id, run_value)
            except BaseException:
                if new_type:
                    PyDict_DelItem(self._workflow_types, workflow_type)
                raise
        finally:
            fastmem_release(&self._runs_lock)

    def workflow_types(self):
        """Return the value of every workflow type with a recorded run, oldest first.

        Runtime complexity: `O(k)` for `k` types
        """
        fastmem_acquire(&self._runs_lock)
        try:
            return list(self._workflow_types.values())
        finally:
            fastmem_release(&self._runs_lock)

    def workflow_runs(self, workflow_type=None):
        """Return the runs of ``workflow_type``, or of every type when it is ``None``.

        Runtime complexity: `O(k)` for `k` runs
        """
        workflow_type = _optional_id(workflow_type, "workflow_type")
        fastmem_acquire(&self._runs_lock)
        try:
            if workflow_type is not None:
                return list(self._workflow_runs.get(workflow_type, {}).values())
            return [run for runs in self._workflow_runs.values() for run in (<dict>runs).values()]
        finally:
            fastmem_release(&self._runs_lock)

    def add_sub_invocation(self, parent_workflow_id, sub_invocation_id):
        """Record that ``sub_invocation_id`` runs inside the workflow ``parent_workflow_id``.

        The arguments are named as in pynenc's ``store_workflow_sub_invocation``, which is bound to this.

        Runtime complexity: `O(1)`
        """
        workflow_id = _id(parent_workflow_id, "parent_workflow_id")
        invocation_id = _id(sub_invocation_id, "sub_invocation_id")
        cdef _Stripe stripe = self._stripe(workflow_id)
        stripe.acquire()
        try:
            members = _get(stripe.sub_invocations, workflow_id, None)
            if members is None:
                PyDict_SetItem(stripe.sub_invocations, workflow_id, {invocation_id: None})
            else:
                PyDict_SetItem(<dict>members, invocation_id, None)
        finally:
            stripe.release()

    def sub_invocation_ids(self, workflow_id):
        """Return the ids recorded as running inside ``workflow_id``, oldest first.

        Runtime complexity: `O(k)` for `k` sub-invocations
        """
        workflow_id = _id(workflow_id, "workflow_id")
        cdef _Stripe stripe = self._stripe(workflow_id)
        stripe.acquire()
        try:
            members = _get(stripe.sub_invocations, workflow_id, None)
            return [] if members is None else list(<dict>members)
        finally:
            stripe.release()

    # Runner contexts

    def set_runner_context(self, runner_id, value):
        """Store the context of ``runner_id``, replacing any earlier one.

        Runtime complexity: `O(1)`
        """
        runner_id = _id(runner_id, "runner_id")
        fastmem_acquire(&self._runners_lock)
        try:
            displaced = _get(self._runner_contexts, runner_id, None)
            PyDict_SetItem(self._runner_contexts, runner_id, value)
        finally:
            fastmem_release(&self._runners_lock)
        del displaced

    def get_runner_context(self, runner_id):
        """Return the context of ``runner_id``, or ``None``.

        Runtime complexity: `O(1)`
        """
        runner_id = _id(runner_id, "runner_id")
        return _get(self._runner_contexts, runner_id, None)

    def get_runner_contexts(self, runner_ids):
        """Return the stored contexts of ``runner_ids``, in that order, skipping unknown ids.

        Runtime complexity: `O(k)` for `k` ids
        """
        cdef tuple ids = _ids(runner_ids, "runner_ids")
        fastmem_acquire(&self._runners_lock)
        try:
            contexts = self._runner_contexts
            return [contexts[rid] for rid in ids if rid in contexts]
        finally:
            fastmem_release(&self._runners_lock)

    def match_runner_contexts(self, partial_id):
        """Return the contexts whose runner id contains ``partial_id``.

        Runtime complexity: `O(n)` for `n` runner contexts (a substring search)
        """
        partial_id = _id(partial_id, "partial_id")
        fastmem_acquire(&self._runners_lock)
        try:
            return [ctx for rid, ctx in self._runner_contexts.items() if partial_id in rid]
        finally:
            fastmem_release(&self._runners_lock)

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
        still read it); it is evicted after that one goes. Nothing is evicted
        within ``grace`` of its final record. Writes of final
        records call this; call it yourself to evict while nothing is written.
        Each invocation goes whole or not at all.

        Runtime complexity: `O(limit * (r + 1) * log(n))` for `r` records per
        invocation and `n` records in the store
        """
        cdef Py_ssize_t count = check_count(limit, "limit")
        return self._evict(self._now(), count) if self._evicting else 0

    cdef object _now(self):
        return check_micros(self._clock(), "clock()")

    cdef void _lock_all(self) noexcept:
        fastmem_acquire(&self._index_lock)
        _acquire_all(self._stripes)
        fastmem_acquire(&self._runs_lock)
        fastmem_acquire(&self._runners_lock)
        self.orchestration._acquire()

    cdef void _unlock_all(self) noexcept:
        self.orchestration._release()
        fastmem_release(&self._runners_lock)
        fastmem_release(&self._runs_lock)
        _release_all(self._stripes)
        fastmem_release(&self._index_lock)

    cdef Py_ssize_t _evict(self, object now, Py_ssize_t count) except -1:
        cdef Py_ssize_t evicted
        cdef list displaced = []
        self._lock_all()
        try:
            evicted = self._evict_locked(now, count, displaced)
        finally:
            self._unlock_all()
        if displaced:
            evicted_ids = [(<_Entry>(<list>(<tuple>removed)[1])[0]).invocation_id for removed in displaced]
            del displaced  # the values go before anyone is told
            self._eviction_log.record(evicted_ids)
        return evicted

    def was_evicted(self, invocation_id):
        """Whether ``invocation_id`` is among the last ``EVICTED_IDS_REMEMBERED`` ids evicted.

        Runtime complexity: `O(k)` for `k` ids remembered (a scan in C, about 0.1 ms when full;
        only a read that found nothing asks)
        """
        return _id(invocation_id, "invocation_id") in self._eviction_log

    cdef Py_ssize_t _evict_locked(self, object now, Py_ssize_t limit, list displaced) except -1:
        self._refresh_indexes(True)
        cutoff = None if self._retention is None else now - self._retention
        settled = None if self._grace is None else now - self._grace  # finished by then: past the grace
        max_finished = self._max_finished
        cdef Py_ssize_t waiting = 0, evicted = 0, _
        cdef _Stripe stripe
        cdef _Entry entry
        for stripe in self._stripes:
            waiting += stripe.finished - len(stripe.held)
        queue = self._eviction_queue
        released = self._released
        self._indexes_stale = True  # until the entries taken from the queue are dealt with
        for _ in range(limit):
            if released:
                entry = released.popleft()
            elif queue and (settled is None or _index_first(queue).timestamp <= settled) and (
                (max_finished is not None and waiting > max_finished)
                or (cutoff is not None and _index_first(queue).timestamp < cutoff)
            ):
                entry = _index_first(queue)
                _index_remove(queue, entry)
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
                PyDict_SetItem(stripe.held, invocation_id, keeper)
                self._kept.setdefault(keeper, {})[invocation_id] = None
            else:
                self._remove(invocation_id, stripe, row, <list>history, displaced)
                evicted += 1
            waiting -= 1
        self._indexes_stale = False
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

    cdef int _remove(self, str invocation_id, _Stripe stripe, object row, list history,
                     list displaced) except -1:
        """Remove everything of the finished ``invocation_id``; call with every lock held.

        Everything removed is first kept in ``displaced`` (the one step that
        allocates); the removals cannot fail; the time index's removals come
        last, and if one fails the caller's stale flag has the indexes rebuilt.
        """
        result = _get(stripe.results, invocation_id, None)
        exception = _get(stripe.exceptions, invocation_id, None)
        workflow_type = None
        if row is not None and (<tuple>row)[4] == invocation_id:
            workflow_type = (<tuple>row)[5]
        runs = None if workflow_type is None else _get(self._workflow_runs, workflow_type, None)
        kept = self._kept.get(invocation_id)
        displaced.append((
            row, history, result, exception,
            _get(stripe.workflow_data, invocation_id, None),
            _get(stripe.sub_invocations, invocation_id, None),
            runs, None if runs is None else _get(self._workflow_types, workflow_type, None), kept,
        ))
        # From here on nothing allocates, so nothing can fail until the time index.
        self.orchestration.forget_locked(invocation_id)
        _discard(stripe.invocations, invocation_id)
        self._drop_relations(None, <tuple>row if row is not None else None)
        _discard(stripe.histories, invocation_id)
        _discard(stripe.results, invocation_id)
        _discard(stripe.exceptions, invocation_id)
        _discard(stripe.workflow_data, invocation_id)
        _discard(stripe.sub_invocations, invocation_id)
        stripe.finished -= 1
        stripe.value_bytes -= _value_size(result) + _value_size(exception)
        if runs is not None and invocation_id in <dict>runs:
            _discard(<dict>runs, invocation_id)
            if not runs:
                _discard(self._workflow_runs, workflow_type)
                _discard(self._workflow_types, workflow_type)
        _discard(self._kept, invocation_id)
        self._evictions += 1
        for entry in history:
            _index_remove(self._time_index, <_Entry>entry)
        if kept is not None:
            for held_id in <dict>kept:
                held_stripe = self._stripe(<str>held_id)
                if (<_Stripe>held_stripe).held.get(held_id) == invocation_id:
                    _discard((<_Stripe>held_stripe).held, held_id)
                    held_history = (<_Stripe>held_stripe).histories[held_id]
                    self._released.append(held_history[len(held_history) - 1])
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
        cdef Py_ssize_t workflows = 0, held = 0, unindexed = 0, indexed, evictions
        cdef bint lost = False
        fastmem_acquire(&self._index_lock)
        try:
            for stripe in self._stripes:
                lost = lost or stripe.lost_entries
            if lost or self._indexes_stale:
                self._refresh_indexes(False)
            indexed, evictions = len(self._time_index), self._evictions
            for stripe in self._stripes:
                stripe.acquire()
                invocations += len(stripe.invocations)
                finished += stripe.finished
                results += len(stripe.results)
                exceptions += len(stripe.exceptions)
                value_bytes += stripe.value_bytes
                workflows += len(<dict>stripe.relations[2])
                held += len(stripe.held)
                unindexed += len(stripe.unindexed)
                stripe.release()
        finally:
            fastmem_release(&self._index_lock)
        fastmem_acquire(&self._runners_lock)
        runner_contexts = len(self._runner_contexts)
        fastmem_release(&self._runners_lock)
        counts = {
            "invocations": invocations,
            "finished": finished,
            "results": results,
            "exceptions": exceptions,
            "value_bytes": value_bytes,
            "workflows": workflows,
            "held": held,
            "history_records": indexed + unindexed,
            "evictions": evictions,
            "runner_contexts": runner_contexts,
        }
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
        elif kind == "runner_contexts":
            fastmem_acquire(&self._runners_lock)
            try:
                chunk = [(key, value) for key, value in self._runner_contexts.items()]
            finally:
                fastmem_release(&self._runners_lock)
            yield chunk
        else:
            for stripe in self._stripes:
                stripe.acquire()
                try:
                    if kind == "invocations":
                        chunk = [(inv_id, row[1]) for inv_id, row in stripe.invocations.items()]
                    elif kind == "workflow_data":
                        chunk = [
                            (w, k, v) for w, values in stripe.workflow_data.items()
                            for k, v in (<dict>values).items()
                        ]
                    elif kind == "sub_invocations":
                        chunk = [(w, i) for w, members in stripe.sub_invocations.items() for i in members]
                    elif kind == "results":
                        chunk = [(key, value) for key, value in stripe.results.items()]
                    else:
                        chunk = [(key, value) for key, value in stripe.exceptions.items()]
                finally:
                    stripe.release()
                if chunk:
                    yield chunk

    def purge(self):
        """Remove everything the store holds, and reset the eviction count.

        Runtime complexity: `O(n)` under the locks (each map is copied out and
        cleared, so readers never meet a map being replaced); the old contents
        are freed after.
        """
        cdef list displaced
        self._lock_all()
        try:
            displaced = self._purge_locked()
        finally:
            self._unlock_all()
        del displaced

    cdef list _purge_locked(self):
        cdef _Stripe stripe
        cdef list maps = [], displaced, fresh
        cdef Py_ssize_t position
        for stripe in self._stripes:
            maps += stripe.maps()
        maps += [self._workflow_types, self._workflow_runs, self._runner_contexts, self._kept]
        displaced = [mapping.copy() for mapping in maps]
        displaced += [self._time_index, self._eviction_queue, self._released]
        displaced += [stripe.unindexed for stripe in self._stripes]
        fresh = [[] for _ in self._stripes]
        indexes = (SortedList(), SortedList(), deque())
        # Nothing below allocates: clearing cannot fail.
        for mapping in maps:
            (<dict>mapping).clear()
        for position in range(len(fresh)):
            stripe = <_Stripe>self._stripes[position]
            stripe.unindexed, stripe.finished, stripe.value_bytes = <list>fresh[position], 0, 0
            stripe.lost_entries = False
        self._time_index, self._eviction_queue, self._released = indexes
        self._indexes_stale = False
        self._evictions = 0
        return displaced

    def _check(self):
        """Assert the store's internal consistency; see ``_invariants.check_invariants``.

        Call it while no other thread writes.
        """
        check_invariants(self._state())
        self.orchestration._check()

    def _state(self):
        """The internal structures, brought up to date as a read would, for the invariant check."""
        cdef _Stripe stripe
        fastmem_acquire(&self._index_lock)
        try:
            self._refresh_indexes(False)
        finally:
            fastmem_release(&self._index_lock)
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
            entry_key=_entry_key,
            entry_invocation=_entry_invocation,
        )

    def _eviction_waiting(self):
        self._eviction_queue._check()
        return [*self._eviction_queue, *self._released]


def _entry_key(_Entry entry):
    return (entry.timestamp, entry.seq)


def _entry_invocation(_Entry entry):
    return entry.invocation_id


cdef inline void _discard(dict mapping, object key) noexcept:
    """Remove ``key`` from ``mapping`` if it is there; allocates nothing."""
    if PyDict_Contains(mapping, key) == 1:
        PyDict_DelItem(mapping, key)


cdef inline void _remove_member(dict index, object key, str member) noexcept:
    """Take ``member`` out of ``index[key]``, dropping the entry when it empties; allocates nothing."""
    members = _get(index, key, None)
    if members is not None:
        _discard(<dict>members, member)
        if not members:
            _discard(index, key)


cdef inline Py_ssize_t _final(list history) noexcept:
    """1 if ``history``'s latest entry is final, else 0."""
    return (<_Entry>history[len(history) - 1]).seq & 1


cdef Py_ssize_t _insort_position(list history, _Entry entry) noexcept:
    """Where ``entry`` goes in the key-ordered ``history``: at the end when it is the latest."""
    cdef Py_ssize_t low = 0, high = len(history), middle
    if not high or not _before(entry, <_Entry>history[high - 1]):
        return high
    while low < high:
        middle = (low + high) >> 1
        if _before(entry, <_Entry>history[middle]):
            high = middle
        else:
            low = middle + 1
    return low


# The time index and the eviction queue are sortedcontainers SortedLists whose
# sublists (``_lists``, each one's last item in ``_maxes``) the store updates
# itself, as the layout of sortedcontainers 2.x has them (pinned below 3):
# SortedList.add and update call list.append, which CPython frees twice when the
# list cannot grow (CPython issue 151818), and an update here may stop half-way.
# Every step below either happens or leaves its list as it was; the callers keep
# ``_indexes_stale`` set while they update, so a failed update means a rebuild.
# The same algorithm as the Python twin's ``_index_*`` functions.


cdef inline Py_ssize_t _first_not_before(list items, _Entry entry, Py_ssize_t low, Py_ssize_t high) except -1:
    """The first position in ``items[low:high]`` (sorted entries) not sorting before ``entry``.

    Each item's type is checked: an index is read as entries only if it holds entries.
    """
    cdef Py_ssize_t middle
    while low < high:
        middle = (low + high) >> 1
        if _before(<_Entry?>items[middle], entry):
            low = middle + 1
        else:
            high = middle
    return low


cdef inline Py_ssize_t _first_after(list items, _Entry entry, Py_ssize_t low, Py_ssize_t high) except -1:
    """The first position in ``items[low:high]`` (sorted entries) sorting after ``entry``."""
    cdef Py_ssize_t middle
    while low < high:
        middle = (low + high) >> 1
        if _before(entry, <_Entry?>items[middle]):
            high = middle
        else:
            low = middle + 1
    return low


cdef object _new_index(list entries):
    """A SortedList of ``entries`` (in any order), built without ``SortedList.update``."""
    index = SortedList()
    _index_merge(index, entries)
    return index


cdef _Entry _index_first(object index):
    """The first entry of ``index``, which must not be empty; its shape is checked, not trusted."""
    cdef list lists = index._lists
    if not lists or type(lists[0]) is not list or not lists[0] or type((<list>lists[0])[0]) is not _Entry:
        raise RuntimeError("the eviction queue is not a SortedList of entries")
    return <_Entry>(<list>lists[0])[0]


cdef list _index_cuts(list entries, Py_ssize_t load):
    """``entries`` (sorted) cut into sublists of ``load``, a short last one joined to the one before."""
    cdef Py_ssize_t count = len(entries), start
    cdef list cuts
    if count <= load << 1:
        return [entries] if count else []
    cuts = [entries[start:start + load] for start in range(0, count, load)]
    if len(<list>cuts[len(cuts) - 1]) < load >> 1:
        cuts[len(cuts) - 2:] = [<list>cuts[len(cuts) - 2] + <list>cuts[len(cuts) - 1]]
    return cuts


cdef int _index_splice(object index, Py_ssize_t first, Py_ssize_t stop, list entries) except -1:
    """Replace sublists ``first:stop`` of ``index`` with ``entries`` (sorted), cut to size."""
    cdef list cuts = _index_cuts(entries, index._load)
    cdef list maxes = [(<list>cut)[len(<list>cut) - 1] for cut in cuts]
    cdef list lists = index._lists
    lists[first:stop] = cuts
    (<list>index._maxes)[first:stop] = maxes
    index._index = []  # sortedcontainers' positional index, rebuilt on demand
    return 0


cdef int _index_merge(object index, list values) except -1:
    """Add ``values`` to ``index``: each sublist they fall in takes its share at once."""
    cdef list lists = index._lists, maxes, places
    cdef Py_ssize_t last, stop, start, place
    cdef _Entry value
    values = sorted(values)
    if not lists:
        _index_splice(index, 0, 0, values)
    else:
        maxes = index._maxes
        last = len(lists) - 1
        places = [min(_first_not_before(maxes, value, 0, len(maxes)), last) for value in values]
        stop = len(values)
        while stop:
            place = places[stop - 1]
            start = stop - 1
            while start and places[start - 1] == place:
                start -= 1
            _index_add(index, place, values[start:stop])
            stop = start
    index._len = index._len + len(values)
    return 0


cdef int _index_add(object index, Py_ssize_t place, list values) except -1:
    """Merge ``values`` (sorted) into sublist ``place``: appended in place when they sort after it."""
    cdef list lists = index._lists, sublist, merged
    if not 0 <= place < len(lists) or type(lists[place]) is not list or not lists[place]:
        raise RuntimeError("the time index is not a SortedList")
    sublist = lists[place]
    if _before(<_Entry>sublist[len(sublist) - 1], <_Entry>values[0]):
        sublist.extend(values)
        merged = sublist
    else:
        merged = sorted(sublist + values)
    if len(merged) > (<Py_ssize_t>index._load) << 1 or merged is not sublist:
        _index_splice(index, place, place + 1, merged)
    else:
        (<list>index._maxes)[place] = merged[len(merged) - 1]
        index._index = []
    return 0


cdef int _index_remove(object index, _Entry entry) except -1:
    """Take ``entry`` out of ``index``; a sublist left short is joined to a neighbour."""
    cdef list lists = index._lists, maxes = index._maxes, sublist
    cdef Py_ssize_t place = _first_not_before(maxes, entry, 0, len(maxes)), at, first
    if place >= len(lists):
        raise ValueError("the entry is not in the index")
    if type(lists[place]) is not list or len(maxes) != len(lists):
        raise RuntimeError("the time index is not a SortedList")
    sublist = lists[place]
    at = _first_not_before(sublist, entry, 0, len(sublist))
    if at >= len(sublist) or sublist[at] is not entry:
        raise ValueError("the entry is not in the index")
    del sublist[at]
    if len(sublist) < (<Py_ssize_t>index._load) >> 1 and len(lists) > 1:
        first = place - 1 if place else 0
        _index_splice(index, first, first + 2, <list>lists[first] + <list>lists[first + 1])
    elif sublist:
        maxes[place] = sublist[len(sublist) - 1]
        index._index = []
    else:
        _index_splice(index, place, place + 1, [])
    index._len = index._len - 1
    return 0


def _records(chunks, Py_ssize_t batch_size):
    cdef list batch = [], entries
    cdef Py_ssize_t position
    for chunk in chunks:
        entries = <list>chunk
        for position in range(len(entries)):
            batch.append((<_Entry>entries[position]).record)
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
