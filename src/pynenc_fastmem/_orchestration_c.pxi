# Included by _store_c.pyx: the compiled twin of _orchestration_py.py, read beside it.
#
# The layout, the lock discipline and the answers are the twin's (see its
# docstring). Here the lock is a fastmem_lock held with try/finally, which
# releases it whatever is raised; only an allocation can fail in this code, so
# a write marks the indexes stale before its first index change and clean
# after its last, and whoever finds them stale rebuilds them from the states.


# Sort keys made once, as in the twin.
cdef object _START = itemgetter(1)
cdef object _CREATED_THEN_ID = itemgetter(1, 0)


cdef inline int _moved(dict members, str invocation_id) except -1:
    _discard(members, invocation_id)
    members[invocation_id] = None
    return 0


cdef inline void _left(dict index, object key, str invocation_id) noexcept:
    """Remove ``invocation_id`` from ``index[key]``, and the key once empty; allocates nothing."""
    members = _get(index, key, None)
    if members is not None:
        _discard(<dict>members, invocation_id)
        if not members:
            _discard(index, key)


cdef inline int _joined(dict index, object key, str invocation_id) except -1:
    members = _get(index, key, None)
    if members is None:
        index[key] = {invocation_id: None}
    else:
        _moved(<dict>members, invocation_id)
    return 0


cdef tuple _checked_rows(object rows):
    if not isinstance(rows, (list, tuple)):
        raise TypeError(f"rows must be a list of (invocation_id, task_id, call_id), got {type(rows).__name__}")
    checked = []
    for index, row in enumerate(rows):
        if type(row) is tuple and len(<tuple>row) == 3 and type(row[0]) is str and type(row[1]) is str \
                and type(row[2]) is str:
            checked.append(row)
            continue
        if not (isinstance(row, tuple) and len(row) == 3):
            raise TypeError(f"rows[{index}] must be an (invocation_id, task_id, call_id) tuple")
        checked.append((
            _id(row[0], f"rows[{index}] invocation_id"),
            _id(row[1], f"rows[{index}] task_id"),
            _id(row[2], f"rows[{index}] call_id"),
        ))
    return tuple(checked)


@cython.final
cdef class Orchestration:
    """What pynenc's orchestrator keeps, as the store keeps it: see ``_orchestration_py``.

    Every method validates its arguments before it takes the lock, and raises
    ``TypeError`` or ``ValueError`` naming the argument, with nothing written.
    """

    cdef fastmem_lock lock
    cdef dict _states  # invocation id -> (status, record, sequence, task_id, call_id)
    cdef dict _retries
    cdef dict _arguments
    cdef dict _by_task
    cdef dict _by_status
    cdef dict _by_task_status  # task -> status -> ids
    cdef dict _by_call
    cdef dict _by_argument
    cdef long long _next_sequence
    cdef bint _stale
    cdef dict _waiting_for
    cdef dict _waited_by
    cdef dict _ready
    cdef dict _runners
    cdef list _executions
    cdef dict _auto_purge

    def __cinit__(self):
        self._states, self._retries, self._arguments = {}, {}, {}
        self._by_task, self._by_status = {}, {}
        self._by_task_status, self._by_call, self._by_argument = {}, {}, {}
        self._waiting_for, self._waited_by, self._ready = {}, {}, {}
        self._runners, self._executions, self._auto_purge = {}, [], {}

    cdef inline void _acquire(self) noexcept:
        fastmem_acquire(&self.lock)

    cdef inline void _release(self) noexcept:
        fastmem_release(&self.lock)

    # Statuses

    def register(self, rows, status, record):
        """Register ``(invocation_id, task_id, call_id)`` rows with ``status`` and its ``record``.

        A row for a registered id replaces its state; its retries start again at 0.
        The batch is applied whole or not at all.

        Runtime complexity: `O(len(rows))`
        """
        cdef tuple checked = _checked_rows(rows)
        cdef str name = _id(status, "status")
        self._acquire()
        try:
            self._register_locked(checked, name, record)
        finally:
            self._release()

    cdef int _register_locked(self, tuple rows, str status, object record) except -1:
        self._fresh()
        cdef list made = []
        cdef Py_ssize_t position
        try:
            for invocation_id, task_id, call_id in rows:
                state = (status, record, self._next_sequence, task_id, call_id)
                made.append((invocation_id, _get(self._states, invocation_id, None),
                             _get(self._retries, invocation_id, None)))
                self._stale = True
                self._next_sequence += 1
                self._unindex(invocation_id)
                self._states[invocation_id] = state
                _discard(self._retries, invocation_id)  # registered (again): no retries yet
                self._index(invocation_id, state)
        except BaseException:
            position = len(made)
            while position:
                position -= 1
                invocation_id, old_state, old_retries = made[position]
                _restore(self._states, invocation_id, old_state)
                _restore(self._retries, invocation_id, old_retries)
            raise
        self._stale = False
        return 0

    def transition(self, invocation_id, expected, status, record):
        """Set the status of ``invocation_id`` if its current record is ``expected``.

        A compare-and-set: ``expected`` is the record last read (``None`` if there
        was none), compared by identity, so the caller validates a transition
        against what it read and no write in between is lost.

        Runtime complexity: `O(1)`

        :return: whether the status was set
        """
        cdef str key = _id(invocation_id, "invocation_id")
        cdef str name = _id(status, "status")
        cdef bint done
        self._acquire()
        try:
            done = self._transition_locked(key, expected, name, record)
        finally:
            self._release()
        return done

    cdef bint _transition_locked(self, str invocation_id, object expected, str status, object record) except -1:
        self._fresh()
        old = _get(self._states, invocation_id, None)
        if (None if old is None else (<tuple>old)[1]) is not expected:
            return False
        task_id = None if old is None else (<tuple>old)[3]
        call_id = None if old is None else (<tuple>old)[4]
        state = (status, record, self._next_sequence, task_id, call_id)
        self._stale = True
        self._next_sequence += 1
        self._states[invocation_id] = state
        if task_id is not None:
            self._restatus(invocation_id, <tuple>old, state)
        self._stale = False
        return True

    cdef int _restatus(self, str invocation_id, tuple old, tuple state) except -1:
        """Move a registered invocation from its old status's indexes to its new one's (its task
        and call stay): to the end of each, as its latest status change."""
        cdef dict statuses = <dict>self._by_task_status[old[3]]
        if old[0] == state[0]:
            _moved(<dict>self._by_status[old[0]], invocation_id)
            _moved(<dict>statuses[old[0]], invocation_id)
        else:
            _left(self._by_status, old[0], invocation_id)
            _joined(self._by_status, state[0], invocation_id)
            _left(statuses, old[0], invocation_id)
            _joined(statuses, state[0], invocation_id)
        return 0

    cdef int _index(self, str invocation_id, tuple state) except -1:
        status, task_id, call_id = state[0], state[3], state[4]
        if task_id is None:
            return 0  # given a status, never registered: listed nowhere, as in MemOrchestrator
        _joined(self._by_status, status, invocation_id)
        _joined(self._by_task, task_id, invocation_id)
        of_task = _get(self._by_task_status, task_id, None)
        if of_task is None:
            self._by_task_status[task_id] = {status: {invocation_id: None}}
        else:
            _joined(<dict>of_task, status, invocation_id)
        _joined(self._by_call, call_id, invocation_id)
        return 0

    cdef void _unindex(self, str invocation_id) noexcept:
        """Take ``invocation_id`` out of the indexes its state names; allocates nothing."""
        old = _get(self._states, invocation_id, None)
        if old is None or (<tuple>old)[3] is None:
            return
        cdef tuple state = <tuple>old
        _left(self._by_status, state[0], invocation_id)
        _left(self._by_task, state[3], invocation_id)
        statuses = _get(self._by_task_status, state[3], None)
        if statuses is not None:
            _left(<dict>statuses, state[0], invocation_id)
            if not statuses:
                _discard(self._by_task_status, state[3])
        _left(self._by_call, state[4], invocation_id)

    cdef int _fresh(self) except -1:
        """Rebuild the indexes from the states if a write stopped half-way; lock held."""
        if self._stale:
            self._rebuild()
        return 0

    def _rebuild(self):
        ordered = sorted(self._states.items(), key=lambda item: item[1][2])
        for index in self._indexes():
            (<dict>index).clear()
        for invocation_id, state in ordered:
            self._index(invocation_id, state)
        for invocation_id, pairs in self._arguments.items():
            for pair in pairs:
                _joined(self._by_argument, pair, invocation_id)
        self._stale = False

    cdef list _indexes(self):
        return [self._by_task, self._by_status, self._by_task_status, self._by_call, self._by_argument]

    def status_record(self, invocation_id):
        """The status record of ``invocation_id``, or ``None`` if it has none.

        Runtime complexity: `O(1)`, without a lock
        """
        state = _get(self._states, _id(invocation_id, "invocation_id"), None)
        return None if state is None else (<tuple>state)[1]

    def status(self, invocation_id):
        """The status of ``invocation_id``, or ``None`` if it has none.

        Runtime complexity: `O(1)`, without a lock
        """
        state = _get(self._states, _id(invocation_id, "invocation_id"), None)
        return None if state is None else (<tuple>state)[0]

    def records(self, status):
        """``(invocation_id, record)`` of every invocation in ``status``, oldest transition first.

        Runtime complexity: `O(m)` for `m` such invocations
        """
        cdef str name = _id(status, "status")
        self._acquire()
        try:
            self._fresh()
            found = [(i, (<tuple>self._states[i])[1]) for i in self._by_status.get(name, ())]
        finally:
            self._release()
        return found

    # Queries

    def task_ids(self, task_id):
        """The ids of ``task_id``'s invocations, in the order they were first registered.

        Runtime complexity: `O(m)` for `m` such invocations
        """
        return self._members(self._by_task, _id(task_id, "task_id"))

    def call_ids(self, call_id):
        """The ids of the invocations of ``call_id``.

        Runtime complexity: `O(m)` for `m` such invocations
        """
        return self._members(self._by_call, _id(call_id, "call_id"))

    cdef list _members(self, dict index, object key):
        self._acquire()
        try:
            self._fresh()
            found = list(index.get(key, ()))
        finally:
            self._release()
        return found

    def find(self, task_id, pairs, statuses):
        """The ids of ``task_id``'s invocations with every key argument of ``pairs`` and one of ``statuses``.

        ``None`` (or empty) filters nothing. The candidates come from the smallest
        of the indexes involved, and are checked against the others.

        Runtime complexity: `O(m)` for `m` ids in the smallest index involved
        """
        cdef str task = _id(task_id, "task_id")
        checked_pairs = check_pairs(pairs) if pairs else []
        checked_statuses = check_statuses(statuses) if statuses else None
        self._acquire()
        try:
            found = self._find_locked(task, checked_pairs, checked_statuses)
        finally:
            self._release()
        return found

    cdef list _find_locked(self, str task_id, list pairs, object statuses):
        self._fresh()
        sets = [self._by_task.get(task_id, {})]
        sets += [self._by_argument.get(pair, {}) for pair in pairs]
        if statuses is not None:
            of_task = self._by_task_status.get(task_id, {})
            sets.append({i: None for status in set(statuses) for i in of_task.get(status, ())})
        sets.sort(key=len)
        smallest, others = sets[0], sets[1:]
        return [i for i in smallest if all([i in other for other in others])]

    def page(self, task_id, statuses, limit, offset=0):
        """Up to ``limit`` ids after the first ``offset``, newest transition first.

        Filtered by task (``None``: every task) and by status (``None`` or empty:
        every status).

        Runtime complexity: `O(s * (offset + limit) * log(s * (offset + limit)))` for `s` statuses
        given; `O(offset + limit)` for one or none
        """
        task = _optional_id(task_id, "task_id")
        checked = check_statuses(statuses) if statuses else None
        cdef Py_ssize_t count = check_count(limit, "limit", minimum=0)
        cdef Py_ssize_t skip = check_count(offset, "offset", minimum=0)
        self._acquire()
        try:
            found = self._page_locked(task, checked, count, skip)
        finally:
            self._release()
        return found

    cdef list _page_locked(self, object task_id, object statuses, Py_ssize_t limit, Py_ssize_t offset):
        self._fresh()
        cdef list groups = self._groups(task_id, statuses)
        cdef Py_ssize_t wanted = offset + limit
        if len(groups) == 1:
            return list(islice(reversed(groups[0]), offset, wanted))
        states = self._states
        newest = [((<tuple>states[i])[2], i) for group in groups for i in islice(reversed(group), wanted)]
        newest.sort(reverse=True)
        return [invocation_id for _, invocation_id in newest[offset:wanted]]

    def count(self, task_id=None, statuses=None):
        """How many invocations match the filters of ``page``.

        Runtime complexity: `O(s)` for `s` statuses given, whatever the store's size
        """
        task = _optional_id(task_id, "task_id")
        checked = check_statuses(statuses) if statuses else None
        cdef Py_ssize_t total = 0
        self._acquire()
        try:
            self._fresh()
            for group in self._groups(task, checked):
                total += len(<dict>group)
        finally:
            self._release()
        return total

    cdef list _groups(self, object task_id, object statuses):
        """The ordered dicts whose union is what the filters select; lock held."""
        if statuses is None:
            if task_id is None:
                return list(self._by_status.values())
            return list(self._by_task_status.get(task_id, {}).values())
        if task_id is None:
            return [self._by_status.get(status, {}) for status in dict.fromkeys(statuses)]
        of_task = self._by_task_status.get(task_id, {})
        return [of_task.get(status, {}) for status in dict.fromkeys(statuses)]

    # Key arguments and retries

    def index_arguments(self, invocation_id, pairs):
        """Index ``invocation_id`` by each ``(key, value)`` of ``pairs`` (added to those it has).

        Runtime complexity: `O(len(pairs))`
        """
        cdef str key = _id(invocation_id, "invocation_id")
        checked = check_pairs(pairs)
        self._acquire()
        try:
            self._index_arguments_locked(key, checked)
        finally:
            self._release()

    cdef int _index_arguments_locked(self, str invocation_id, list pairs) except -1:
        self._fresh()
        known = self._arguments.get(invocation_id, ())
        merged = (*known, *[pair for pair in dict.fromkeys(pairs) if pair not in known])
        self._stale = True
        self._arguments[invocation_id] = merged
        for pair in merged:
            _joined(self._by_argument, pair, invocation_id)
        self._stale = False
        return 0

    def retries(self, invocation_id):
        """How many times ``invocation_id`` was retried (0 if never, or unknown).

        Runtime complexity: `O(1)`, without a lock
        """
        return _get(self._retries, _id(invocation_id, "invocation_id"), 0)

    def add_retry(self, invocation_id):
        """Count one more retry of ``invocation_id``; return the new count.

        Runtime complexity: `O(1)`
        """
        cdef str key = _id(invocation_id, "invocation_id")
        self._acquire()
        try:
            count = _get(self._retries, key, 0) + 1
            self._retries[key] = count
        finally:
            self._release()
        return count

    # Blocking control

    def wait_for(self, waiter_id, waited_ids):
        """Record that ``waiter_id`` waits for each of ``waited_ids``.

        Runtime complexity: `O(len(waited_ids))`
        """
        cdef str waiter = _id(waiter_id, "waiter_id")
        checked = list(dict.fromkeys(check_ids(waited_ids, "waited_ids")))
        self._acquire()
        try:
            self._wait_for_locked(waiter, checked)
        finally:
            self._release()

    cdef int _wait_for_locked(self, str waiter, list waited_ids) except -1:
        cdef list added = []  # (mapping, key) of each key inserted, recorded before it is
        cdef Py_ssize_t position
        try:
            waits = _get(self._waiting_for, waiter, None)
            if waits is None:
                waits = {}
                added.append((self._waiting_for, waiter))
                self._waiting_for[waiter] = waits
            for waited_id in waited_ids:
                _insert_new(<dict>waits, waited_id, added)
                waiters = _get(self._waited_by, waited_id, None)
                if waiters is None:
                    waiters = {}
                    added.append((self._waited_by, waited_id))
                    self._waited_by[waited_id] = waiters
                _insert_new(<dict>waiters, waiter, added)
                if waited_id not in self._waiting_for and waited_id != waiter:
                    _insert_new(self._ready, waited_id, added)
        except BaseException:
            position = len(added)
            while position:
                position -= 1
                mapping, key = <tuple>added[position]
                _discard(<dict>mapping, key)
            raise
        _discard(self._ready, waiter)
        return 0

    def release_waiters(self, waited_id):
        """Forget what ``waited_id`` waited for and who waited for it: it finished.

        Runtime complexity: `O(w)` for its `w` waiters
        """
        cdef str key = _id(waited_id, "waited_id")
        self._acquire()
        try:
            self._release_locked(key)
        finally:
            self._release()

    cdef int _release_locked(self, str waited_id) except -1:
        """As ``MemBlockingControl.release_waiters``: what ``waited_id`` waited for keeps it as a waiter.

        The waiters it frees are found and made ready first (what can fail), then the drops.
        """
        cdef list freed = []
        cdef list added = []
        cdef Py_ssize_t position
        waiters = _get(self._waited_by, waited_id, None)
        if waiters is not None:
            for waiter_id in <dict>waiters:
                waits = _get(self._waiting_for, waiter_id, None)
                if waits is not None and waited_id in <dict>waits:
                    freed.append(waiter_id)
        try:
            for waiter_id in freed:
                waits = <dict>self._waiting_for[waiter_id]
                if len(waits) == 1 and waiter_id in self._waited_by and waiter_id != waited_id:
                    _insert_new(self._ready, waiter_id, added)
        except BaseException:
            position = len(added)
            while position:
                position -= 1
                _discard(self._ready, (<tuple>added[position])[1])
            raise
        for waiter_id in freed:
            waits = <dict>self._waiting_for[waiter_id]
            _discard(waits, waited_id)
            if not waits:
                _discard(self._waiting_for, waiter_id)
        _discard(self._waited_by, waited_id)
        _discard(self._waiting_for, waited_id)
        _discard(self._ready, waited_id)
        return 0

    def ready_ids(self):
        """Invocations others wait for that wait for nothing themselves, oldest first.

        Runtime complexity: `O(r)` for `r` such invocations
        """
        self._acquire()
        try:
            found = list(self._ready)
        finally:
            self._release()
        return found

    # Runners and atomic service executions

    def heartbeat(self, runner_ids, now, eligible, queues):
        """Record a heartbeat at ``now`` of each runner of ``runner_ids``.

        ``eligible``: whether it may run atomic services; ``queues``: the queues it
        consumes (``None`` keeps those recorded before).

        Runtime complexity: `O(len(runner_ids))`
        """
        checked = check_ids(runner_ids, "runner_ids")
        cdef long long at = _micros(now, "now")
        queue_names = None if queues is None else tuple(check_ids(queues, "queues"))
        flag = bool(eligible)
        self._acquire()
        try:
            self._heartbeat_locked(list(dict.fromkeys(checked)), at, flag, queue_names)
        finally:
            self._release()

    cdef int _heartbeat_locked(self, list runner_ids, long long at, bint eligible, object queues) except -1:
        cdef list values = []
        cdef list olds = []
        cdef Py_ssize_t position, done = 0
        for runner_id in runner_ids:
            known = _get(self._runners, runner_id, None)
            created = at if known is None else (<tuple>known)[0]
            kept = () if known is None else (<tuple>known)[3]
            values.append((created, at, eligible, kept if queues is None else queues))
            olds.append(known)
        try:
            for position in range(len(runner_ids)):
                self._runners[runner_ids[position]] = values[position]
                done += 1
        except BaseException:
            while done:
                done -= 1
                _restore(self._runners, runner_ids[done], olds[done])
            raise
        return 0

    def runners(self, since):
        """``(runner_id, created, last_heartbeat, eligible, queues)`` of runners heard from since ``since``.

        Ordered by creation, then id.

        Runtime complexity: `O(r log r)` for `r` runners
        """
        cdef long long cutoff = _micros(since, "since")
        self._acquire()
        try:
            found = [(runner_id, *known) for runner_id, known in self._runners.items() if known[1] >= cutoff]
        finally:
            self._release()
        return sorted(found, key=_CREATED_THEN_ID)

    def start_execution(self, run_id, start, end, value, exclusive):
        """Record an atomic service execution; ``end`` ``None`` while it runs.

        With ``exclusive``, nothing is recorded while another execution runs, and
        the value of the latest started one running is returned instead.

        Runtime complexity: `O(e)` for `e` executions recorded
        """
        execution = (
            _id(run_id, "run_id"), _micros(start, "start"), None if end is None else _micros(end, "end"), value,
        )
        only = bool(exclusive)
        self._acquire()
        try:
            prior = self._start_locked(execution, only)
        finally:
            self._release()
        return prior

    def _start_locked(self, tuple execution, bint exclusive):
        if exclusive:
            latest = None  # the first of the latest started running (no max(key=): see _START)
            for known in self._executions:
                if known[2] is None and (latest is None or known[1] > latest[1]):
                    latest = known
            if latest is not None:
                return latest[3]
        self._executions.append(execution)
        return None

    def finish_execution(self, run_id, end, finished, value):
        """Finish the running execution of ``run_id`` at ``end``: its value becomes ``finished(value)``.

        An execution of ``run_id`` that already finished is left as it is; with none
        recorded, ``value`` is recorded as one that started and ended at ``end``.

        Runtime complexity: `O(e)` for `e` executions recorded
        """
        cdef str key = _id(run_id, "run_id")
        cdef long long at = _micros(end, "end")
        self._acquire()
        try:
            self._finish_locked(key, at, finished, value)
        finally:
            self._release()

    cdef int _finish_locked(self, str run_id, long long end, object finished, object value) except -1:
        cdef Py_ssize_t position
        cdef list executions = self._executions
        for position in range(len(executions)):
            known = <tuple>executions[position]
            if known[0] == run_id:
                if known[2] is None:
                    executions[position] = (run_id, known[1], end, finished(known[3]))
                return 0
        executions.append((run_id, end, end, value))
        return 0

    def executions(self):
        """``(start, end, value)`` of every execution recorded, in the order recorded.

        Runtime complexity: `O(e)` for `e` executions recorded
        """
        self._acquire()
        try:
            found = [(start, end, value) for _, start, end, value in self._executions]
        finally:
            self._release()
        return found

    def trim_executions(self, finished_before, keep, protected):
        """Drop finished executions that ended before ``finished_before``, then all but the ``keep``
        latest started, sparing the runs in ``protected``; return how many went.

        Runtime complexity: `O(e log e)` for `e` executions recorded
        """
        cutoff = None if finished_before is None else _micros(finished_before, "finished_before")
        count = None if keep is None else check_count(keep, "keep", minimum=0)
        spared = frozenset(protected)
        self._acquire()
        try:
            removed = self._trim_locked(cutoff, count, spared)
        finally:
            self._release()
        return removed

    def _trim_locked(self, cutoff, keep, protected):
        kept = self._executions
        if cutoff is not None:
            kept = [known for known in kept if known[2] is None or known[2] >= cutoff or known[0] in protected]
        if keep is not None and len(kept) > keep:
            ordered = sorted(kept, key=_START)
            unprotected = [known for known in ordered if known[0] not in protected]
            kept = [known for known in ordered if known[0] in protected] + unprotected[len(unprotected) - keep :]
        removed = len(self._executions) - len(kept)
        self._executions = kept
        return removed

    # Retention and purge

    def queue_auto_purge(self, invocation_id, now):
        """Queue ``invocation_id`` for ``auto_purge``, as of ``now`` (queued already: its first time stays).

        Runtime complexity: `O(1)`
        """
        cdef str key = _id(invocation_id, "invocation_id")
        cdef long long at = _micros(now, "now")
        self._acquire()
        try:
            self._auto_purge.setdefault(key, at)
        finally:
            self._release()

    def auto_purge(self, queued_before):
        """Drop the orchestration state of the invocations queued at ``queued_before`` or earlier.

        Runtime complexity: `O(k)` for `k` invocations dropped
        """
        cdef long long cutoff = _micros(queued_before, "queued_before")
        cdef Py_ssize_t dropped = 0
        self._acquire()
        try:
            self._fresh()
            while self._auto_purge:
                invocation_id, queued = next(iter(self._auto_purge.items()))
                if queued > cutoff:
                    break
                self.forget_locked(invocation_id)
                dropped += 1
        finally:
            self._release()
        return dropped

    cdef void forget_locked(self, str invocation_id) noexcept:
        """Drop everything kept for ``invocation_id``; the store calls it, lock held, as it evicts.

        Its waits go too: what waited for it stops waiting for it (pynenc releases the
        waiters of an invocation as it finishes, before any eviction). Allocates
        nothing, so it cannot fail.
        """
        self._unindex(invocation_id)
        _discard(self._states, invocation_id)
        _discard(self._retries, invocation_id)
        pairs = _get(self._arguments, invocation_id, None)
        if pairs is not None:
            for pair in <tuple>pairs:
                _left(self._by_argument, pair, invocation_id)
            _discard(self._arguments, invocation_id)
        for waits, waiters in ((self._waiting_for, self._waited_by), (self._waited_by, self._waiting_for)):
            mine = _get(<dict>waits, invocation_id, None)
            if mine is not None:
                for other_id in <dict>mine:
                    _left(<dict>waiters, other_id, invocation_id)
                _discard(<dict>waits, invocation_id)
        _discard(self._ready, invocation_id)
        _discard(self._auto_purge, invocation_id)

    def purge(self):
        """Drop everything kept: statuses, retries, waits, runners and executions.

        Runtime complexity: `O(n)`
        """
        maps = [self._states, self._retries, self._arguments, *self._indexes()]
        maps += [self._waiting_for, self._waited_by, self._ready, self._runners, self._auto_purge]
        fresh = []
        self._acquire()
        try:
            for mapping in maps:  # clearing allocates nothing: no step here can fail
                (<dict>mapping).clear()
            self._executions, self._stale = fresh, False
        finally:
            self._release()

    def counts(self):
        """How many invocations have a status, and how many of each status.

        Runtime complexity: `O(s)` for `s` statuses
        """
        self._acquire()
        try:
            self._fresh()
            found = {"statuses": len(self._states)} | {s: len(ids) for s, ids in self._by_status.items()}
        finally:
            self._release()
        return found

    def _check(self):
        """Assert that every index is what the states and arguments make it; no writer running."""
        cdef Orchestration expected
        self._acquire()
        try:
            self._fresh()
            expected = Orchestration()
            expected._states, expected._arguments = dict(self._states), dict(self._arguments)
            expected._rebuild()
            check_orchestration_indexes(self._indexes(), expected._indexes())
        finally:
            self._release()


cdef inline int _insert_new(dict mapping, object key, list added) except -1:
    """Set ``mapping[key] = None`` if the key is new, recorded in ``added`` first (for an undo)."""
    if key not in mapping:
        added.append((mapping, key))
        mapping[key] = None
    return 0


cdef inline int _restore(dict mapping, str key, object old) except -1:
    if old is None:
        _discard(mapping, key)
    else:
        mapping[key] = old
    return 0
