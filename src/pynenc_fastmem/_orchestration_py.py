"""The orchestration part of the pure-Python store: statuses, their indexes, waits, runners, services.

It knows nothing of pynenc either: a status is a ``str`` (its name), a status
record is an opaque value stored beside it, timestamps are integer
microseconds. The store composes one as ``Store.orchestration`` and drops an
invocation's orchestration state in the same locked step that evicts the
invocation (``_forget_steps``; ``forget_locked`` in the compiled twin), so one
retention bounds both.

Layout. Per invocation, ``states`` holds ``(status, record, sequence, task_id,
call_id)``: the truth every index is derived from, written with one dict
assignment. The indexes are insertion-ordered dicts used as sets: by task, by
status, by task then status (nested, so every key is a ``str``, whose hash is
kept), by call, by key argument. A status change moves the invocation to the
end of its new status's dicts, which so list their members by last status
change, oldest first; a page newest first reads the dicts its filters select
backwards, merged by sequence. Counts are the dicts' lengths. A status change
touches only those two indexes.

Locks and faults. One lock guards every write and every read of more than one
key; point reads (``status_record``, ``retries``) take none, as the store's
do. A write sets ``stale`` before its first change to an index and clears it
after its last; whoever finds it set (an exception, ``MemoryError`` or
``KeyboardInterrupt``, stopped a write half-way) rebuilds the indexes from
``states`` and ``arguments`` before anything else. A batch of registrations
undoes the entries of ``states`` it made if one fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from operator import itemgetter
from typing import Any

from ._invariants import check_orchestration_indexes
from ._locking import holding, new_lock
from ._steps import MISSING, PRUNE, Step, commit_steps, drop_steps
from ._store_common import (
    check_count,
    check_id,
    check_ids,
    check_micros,
    check_optional_id,
    check_pairs,
    check_statuses,
)

__all__ = ["Orchestration"]

State = tuple[str, Any, int, str | None, str | None]  # (status, record, sequence, task_id, call_id)
Execution = tuple[str, int, int | None, Any]  # (run_id, start, end or None while active, value)

# Sort keys made once: a lambda made in a write under memory exhaustion, passed to max() or
# sorted(), crashed CPython 3.13.0 in the fault sweep.
_START = itemgetter(1)
_CREATED_THEN_ID = itemgetter(1, 0)


def _moved(members: dict[str, None], invocation_id: str) -> None:
    members.pop(invocation_id, None)
    members[invocation_id] = None


def _left(index: dict[Any, dict[str, None]], key: Any, invocation_id: str) -> None:
    members = index.get(key)
    if members is not None:
        members.pop(invocation_id, None)
        if not members:
            del index[key]


def _joined(index: dict[Any, dict[str, None]], key: Any, invocation_id: str) -> None:
    members = index.get(key)
    if members is None:
        index[key] = {invocation_id: None}
    else:
        _moved(members, invocation_id)


class Orchestration:
    """What pynenc's orchestrator keeps, as the store keeps it: see the module docstring.

    Every method validates its arguments before it takes the lock, and raises
    ``TypeError`` or ``ValueError`` naming the argument, with nothing written.
    """

    def __init__(self) -> None:
        self.lock = new_lock()
        self._states: dict[str, State] = {}
        self._retries: dict[str, int] = {}
        self._arguments: dict[str, tuple[tuple[str, str], ...]] = {}
        self._by_task: dict[str | None, dict[str, None]] = {}
        self._by_status: dict[str, dict[str, None]] = {}
        self._by_task_status: dict[str | None, dict[str, dict[str, None]]] = {}  # task -> status -> ids
        self._by_call: dict[str | None, dict[str, None]] = {}
        self._by_argument: dict[tuple[str, str], dict[str, None]] = {}
        self._next_sequence = 0
        self._stale = False
        # blocking control: waiter -> what it waits for, waited -> its waiters, and the
        # waited-for invocations that wait for nothing themselves
        self._waiting_for: dict[str, dict[str, None]] = {}
        self._waited_by: dict[str, dict[str, None]] = {}
        self._ready: dict[str, None] = {}
        self._runners: dict[str, tuple[int, int, bool, tuple[str, ...]]] = {}
        self._executions: list[Execution] = []
        self._auto_purge: dict[str, int] = {}  # finished invocation -> when it was queued, oldest first

    # Statuses

    def register(self, rows: Sequence[tuple[str, str, str]], status: str, record: Any) -> None:
        """Register ``(invocation_id, task_id, call_id)`` rows with ``status`` and its ``record``.

        A row for a registered id replaces its state; its retries start again at 0.
        The batch is applied whole or not at all.

        Runtime complexity: `O(len(rows))`
        """
        if not isinstance(rows, (list, tuple)):
            raise TypeError(
                f"rows must be a list of (invocation_id, task_id, call_id), got {type(rows).__name__}"
            )
        checked = []
        for index, row in enumerate(rows):
            if type(row) is tuple and len(row) == 3 and type(row[0]) is type(row[1]) is type(row[2]) is str:
                checked += [row]
                continue
            if not (isinstance(row, tuple) and len(row) == 3):
                raise TypeError(f"rows[{index}] must be an (invocation_id, task_id, call_id) tuple")
            checked += [
                (
                    check_id(row[0], f"rows[{index}] invocation_id"),
                    check_id(row[1], f"rows[{index}] task_id"),
                    check_id(row[2], f"rows[{index}] call_id"),
                )
            ]
        holding(self.lock, self._register_locked, checked, check_id(status, "status"), record)

    def _register_locked(self, rows: list[tuple[str, str, str]], status: str, record: Any) -> None:
        self._fresh()
        made: list[tuple[str, State | None, int | None]] = []
        try:
            self._register_rows(rows, status, record, made)
        except BaseException:
            self._undo_registrations(made)
            raise
        self._stale = False

    def _register_rows(
        self, rows: list[tuple[str, str, str]], status: str, record: Any, made: list[Any]
    ) -> None:
        """Register each row, first adding to ``made`` what it replaces; indexes left stale."""
        states, retries = self._states, self._retries
        for invocation_id, task_id, call_id in rows:
            state = (status, record, self._next_sequence, task_id, call_id)
            made += [(invocation_id, states.get(invocation_id), retries.get(invocation_id))]
            self._stale = True
            self._next_sequence += 1
            self._unindex(invocation_id)
            states[invocation_id] = state
            retries.pop(invocation_id, None)  # registered (again): no retries yet
            self._index(invocation_id, state)

    def _undo_registrations(self, made: list[tuple[str, State | None, int | None]]) -> None:
        """Put back the states and retries ``made`` records, newest first, by index (an iterator
        would allocate); the indexes stay stale, to be rebuilt."""
        position = len(made)
        while position:
            position -= 1
            invocation_id, old_state, old_retries = made[position]
            _restore(self._states, invocation_id, old_state)
            _restore(self._retries, invocation_id, old_retries)

    def transition(self, invocation_id: str, expected: Any, status: str, record: Any) -> bool:
        """Set the status of ``invocation_id`` if its current record is ``expected``.

        A compare-and-set: ``expected`` is the record last read (``None`` if there
        was none), compared by identity, so the caller validates a transition
        against what it read and no write in between is lost.

        Runtime complexity: `O(1)`

        :return: whether the status was set
        """
        invocation_id = check_id(invocation_id, "invocation_id")
        status = check_id(status, "status")
        return holding(self.lock, self._transition_locked, invocation_id, expected, status, record)

    def _transition_locked(self, invocation_id: str, expected: Any, status: str, record: Any) -> bool:
        self._fresh()
        old = self._states.get(invocation_id)
        if (None if old is None else old[1]) is not expected:
            return False
        task_id, call_id = (None, None) if old is None else (old[3], old[4])
        state = (status, record, self._next_sequence, task_id, call_id)
        self._stale = True
        self._next_sequence += 1
        self._states[invocation_id] = state
        if old is not None and task_id is not None:
            self._restatus(invocation_id, old, state)
        self._stale = False
        return True

    def _restatus(self, invocation_id: str, old: State, state: State) -> None:
        """Move a registered invocation from its old status's indexes to its new one's (its task
        and call stay): to the end of each, as its latest status change."""
        if old[0] == state[0]:
            _moved(self._by_status[old[0]], invocation_id)
            _moved(self._by_task_status[old[3]][old[0]], invocation_id)
        else:
            _left(self._by_status, old[0], invocation_id)
            _joined(self._by_status, state[0], invocation_id)
            statuses = self._by_task_status[old[3]]
            _left(statuses, old[0], invocation_id)
            _joined(statuses, state[0], invocation_id)

    def _index(self, invocation_id: str, state: State) -> None:
        status, _, _, task_id, call_id = state
        if task_id is None:
            return  # given a status, never registered: listed nowhere, as in MemOrchestrator
        _joined(self._by_status, status, invocation_id)
        _joined(self._by_task, task_id, invocation_id)
        of_task = self._by_task_status.get(task_id)
        if of_task is None:
            self._by_task_status[task_id] = {status: {invocation_id: None}}
        else:
            _joined(of_task, status, invocation_id)
        _joined(self._by_call, call_id, invocation_id)

    def _unindex(self, invocation_id: str) -> None:
        old = self._states.get(invocation_id)
        if old is None or old[3] is None:
            return
        _left(self._by_status, old[0], invocation_id)
        _left(self._by_task, old[3], invocation_id)
        statuses = self._by_task_status.get(old[3])
        if statuses is not None:
            _left(statuses, old[0], invocation_id)
            if not statuses:
                del self._by_task_status[old[3]]
        _left(self._by_call, old[4], invocation_id)

    def _fresh(self) -> None:
        """Rebuild the indexes from ``states`` if a write stopped half-way; lock held."""
        if self._stale:
            self._rebuild()

    def _rebuild(self) -> None:
        ordered = sorted(self._states.items(), key=lambda item: item[1][2])
        for index in self._indexes():
            index.clear()
        for invocation_id, state in ordered:
            self._index(invocation_id, state)
        for invocation_id, pairs in self._arguments.items():
            for pair in pairs:
                _joined(self._by_argument, pair, invocation_id)
        self._stale = False

    def _indexes(self) -> list[dict[Any, Any]]:
        return [
            self._by_task,
            self._by_status,
            self._by_task_status,
            self._by_call,
            self._by_argument,
        ]

    def status_record(self, invocation_id: str) -> Any:
        """The status record of ``invocation_id``, or ``None`` if it has none.

        Runtime complexity: `O(1)`, without a lock
        """
        state = self._states.get(
            invocation_id if type(invocation_id) is str else check_id(invocation_id, "invocation_id")
        )
        return None if state is None else state[1]

    def status(self, invocation_id: str) -> str | None:
        """The status of ``invocation_id``, or ``None`` if it has none.

        Runtime complexity: `O(1)`, without a lock
        """
        state = self._states.get(
            invocation_id if type(invocation_id) is str else check_id(invocation_id, "invocation_id")
        )
        return None if state is None else state[0]

    def records(self, status: str) -> list[tuple[str, Any]]:
        """``(invocation_id, record)`` of every invocation in ``status``, oldest transition first.

        Runtime complexity: `O(m)` for `m` such invocations
        """
        status = check_id(status, "status")
        return holding(self.lock, self._records_locked, status)

    def _records_locked(self, status: str) -> list[tuple[str, Any]]:
        self._fresh()
        states = self._states
        return [
            (invocation_id, states[invocation_id][1]) for invocation_id in self._by_status.get(status, ())
        ]

    # Queries

    def task_ids(self, task_id: str) -> list[str]:
        """The ids of ``task_id``'s invocations, in the order they were first registered.

        Runtime complexity: `O(m)` for `m` such invocations
        """
        return self._members(self._by_task, check_id(task_id, "task_id"))

    def call_ids(self, call_id: str) -> list[str]:
        """The ids of the invocations of ``call_id``.

        Runtime complexity: `O(m)` for `m` such invocations
        """
        return self._members(self._by_call, check_id(call_id, "call_id"))

    def _members(self, index: dict[Any, dict[str, None]], key: Any) -> list[str]:
        return holding(self.lock, self._members_locked, index, key)

    def _members_locked(self, index: dict[Any, dict[str, None]], key: Any) -> list[str]:
        self._fresh()
        return list(index.get(key, ()))

    def find(
        self, task_id: str, pairs: Sequence[tuple[str, str]] | None, statuses: Sequence[str] | None
    ) -> list[str]:
        """The ids of ``task_id``'s invocations with every key argument of ``pairs`` and one of ``statuses``.

        ``None`` (or empty) filters nothing. The candidates come from the smallest
        of the indexes involved, and are checked against the others.

        Runtime complexity: `O(m)` for `m` ids in the smallest index involved
        """
        task_id = check_id(task_id, "task_id")
        checked_pairs = check_pairs(pairs) if pairs else []
        checked_statuses = check_statuses(statuses) if statuses else None
        return holding(self.lock, self._find_locked, task_id, checked_pairs, checked_statuses)

    def _find_locked(
        self, task_id: str, pairs: list[tuple[str, str]], statuses: list[str] | None
    ) -> list[str]:
        self._fresh()
        sets: list[dict[str, None] | set[str]] = [self._by_task.get(task_id, {})]
        sets += [self._by_argument.get(pair, {}) for pair in pairs]
        if statuses is not None:
            of_task = self._by_task_status.get(task_id, {})
            sets += [{i: None for status in set(statuses) for i in of_task.get(status, ())}]
        sets.sort(key=len)
        smallest, others = sets[0], sets[1:]
        return [i for i in smallest if all([i in other for other in others])]

    def page(
        self, task_id: str | None, statuses: Sequence[str] | None, limit: int, offset: int = 0
    ) -> list[str]:
        """Up to ``limit`` ids after the first ``offset``, newest transition first.

        Filtered by task (``None``: every task) and by status (``None`` or empty:
        every status).

        Runtime complexity: `O(s * (offset + limit) * log(s * (offset + limit)))` for `s` statuses
        given; `O(offset + limit)` for one or none
        """
        task_id = check_optional_id(task_id, "task_id")
        checked = check_statuses(statuses) if statuses else None
        limit = check_count(limit, "limit", minimum=0)
        offset = check_count(offset, "offset", minimum=0)
        return holding(self.lock, self._page_locked, task_id, checked, limit, offset)

    def _page_locked(
        self, task_id: str | None, statuses: list[str] | None, limit: int, offset: int
    ) -> list[str]:
        self._fresh()
        groups, wanted = self._groups(task_id, statuses), offset + limit
        if len(groups) == 1:
            return list(islice(reversed(groups[0]), offset, wanted))
        # The newest of each group, merged by sequence (no heapq.merge: a generator made out of
        # memory crashes CPython 3.13.0).
        states = self._states
        newest = [(states[i][2], i) for group in groups for i in islice(reversed(group), wanted)]
        newest.sort(reverse=True)
        return [invocation_id for _, invocation_id in newest[offset:wanted]]

    def count(self, task_id: str | None = None, statuses: Sequence[str] | None = None) -> int:
        """How many invocations match the filters of ``page``.

        Runtime complexity: `O(s)` for `s` statuses given, whatever the store's size
        """
        task_id = check_optional_id(task_id, "task_id")
        checked = check_statuses(statuses) if statuses else None
        return holding(self.lock, self._count_locked, task_id, checked)

    def _count_locked(self, task_id: str | None, statuses: list[str] | None) -> int:
        self._fresh()
        return sum([len(group) for group in self._groups(task_id, statuses)])

    def _groups(self, task_id: str | None, statuses: list[str] | None) -> list[dict[str, None]]:
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

    def index_arguments(self, invocation_id: str, pairs: Sequence[tuple[str, str]]) -> None:
        """Index ``invocation_id`` by each ``(key, value)`` of ``pairs`` (added to those it has).

        Runtime complexity: `O(len(pairs))`
        """
        invocation_id = check_id(invocation_id, "invocation_id")
        checked = check_pairs(pairs)
        holding(self.lock, self._index_arguments_locked, invocation_id, checked)

    def _index_arguments_locked(self, invocation_id: str, pairs: list[tuple[str, str]]) -> None:
        self._fresh()
        known = self._arguments.get(invocation_id, ())
        merged = (*known, *[pair for pair in dict.fromkeys(pairs) if pair not in known])
        self._stale = True
        self._arguments[invocation_id] = merged
        for pair in merged:
            _joined(self._by_argument, pair, invocation_id)
        self._stale = False

    def retries(self, invocation_id: str) -> int:
        """How many times ``invocation_id`` was retried (0 if never, or unknown).

        Runtime complexity: `O(1)`, without a lock
        """
        return self._retries.get(check_id(invocation_id, "invocation_id"), 0)

    def add_retry(self, invocation_id: str) -> int:
        """Count one more retry of ``invocation_id``; return the new count.

        Runtime complexity: `O(1)`
        """
        invocation_id = check_id(invocation_id, "invocation_id")
        return holding(self.lock, self._add_retry_locked, invocation_id)

    def _add_retry_locked(self, invocation_id: str) -> int:
        count = self._retries.get(invocation_id, 0) + 1
        self._retries[invocation_id] = count
        return count

    # Blocking control

    def wait_for(self, waiter_id: str, waited_ids: Sequence[str]) -> None:
        """Record that ``waiter_id`` waits for each of ``waited_ids``.

        Runtime complexity: `O(len(waited_ids))`
        """
        waiter_id = check_id(waiter_id, "waiter_id")
        checked = check_ids(waited_ids, "waited_ids")
        holding(self.lock, self._wait_for_locked, waiter_id, checked)

    def _wait_for_locked(self, waiter_id: str, waited_ids: list[str]) -> None:
        waiting_for, waited_by, ready = self._waiting_for, self._waited_by, self._ready
        steps: list[Step] = []
        waits = waiting_for.get(waiter_id)
        if waits is None:
            waits = {}
            steps += [(waiting_for, waiter_id, waits, MISSING)]
        made: dict[str, dict[str, None]] = {}
        for waited_id in dict.fromkeys(waited_ids):
            steps += [(waits, waited_id, None, waits.get(waited_id, MISSING))]
            waiters = waited_by.get(waited_id) or made.get(waited_id)
            if waiters is None:
                waiters = made[waited_id] = {}
                steps += [(waited_by, waited_id, waiters, MISSING)]
            steps += [(waiters, waiter_id, None, waiters.get(waiter_id, MISSING))]
            if waited_id not in waiting_for and waited_id != waiter_id:
                steps += [(ready, waited_id, None, ready.get(waited_id, MISSING))]
        commit_steps([*steps, (ready, waiter_id, MISSING, None)])

    def release_waiters(self, waited_id: str) -> None:
        """Forget what ``waited_id`` waited for and who waited for it: it finished.

        Runtime complexity: `O(w)` for its `w` waiters
        """
        waited_id = check_id(waited_id, "waited_id")
        holding(self.lock, self._release_locked, waited_id)

    def _release_locked(self, waited_id: str) -> None:
        """As ``MemBlockingControl.release_waiters``: what ``waited_id`` waited for keeps it as a waiter."""
        waiting_for, ready = self._waiting_for, self._ready
        steps: list[Step] = []
        for waiter_id in self._waited_by.get(waited_id, {}):
            waits = waiting_for.get(waiter_id)
            if waits is None or waited_id not in waits:
                continue
            steps += [(waits, waited_id, MISSING, None)]
            if len(waits) == 1:
                steps += [(waiting_for, waiter_id, MISSING, None)]
                if waiter_id in self._waited_by and waiter_id != waited_id:
                    steps += [(ready, waiter_id, None, ready.get(waiter_id, MISSING))]
        steps += [(self._waited_by, waited_id, MISSING, None), (waiting_for, waited_id, MISSING, None)]
        commit_steps([*steps, (ready, waited_id, MISSING, None)])

    def ready_ids(self) -> list[str]:
        """Invocations others wait for that wait for nothing themselves, oldest first.

        Runtime complexity: `O(r)` for `r` such invocations
        """
        return holding(self.lock, list, self._ready)

    # Runners and atomic service executions

    def heartbeat(
        self, runner_ids: Sequence[str], now: int, eligible: bool, queues: Sequence[str] | None
    ) -> None:
        """Record a heartbeat at ``now`` of each runner of ``runner_ids``.

        ``eligible``: whether it may run atomic services; ``queues``: the queues it
        consumes (``None`` keeps those recorded before).

        Runtime complexity: `O(len(runner_ids))`
        """
        checked = check_ids(runner_ids, "runner_ids")
        now = check_micros(now, "now")
        queue_names = None if queues is None else tuple(check_ids(queues, "queues"))
        holding(self.lock, self._heartbeat_locked, checked, now, bool(eligible), queue_names)

    def _heartbeat_locked(
        self, runner_ids: list[str], now: int, eligible: bool, queues: tuple[str, ...] | None
    ) -> None:
        runners = self._runners
        steps: list[Step] = []
        for runner_id in dict.fromkeys(runner_ids):
            known = runners.get(runner_id)
            created = now if known is None else known[0]
            kept = () if known is None else known[3]
            value = (created, now, eligible, kept if queues is None else queues)
            steps += [(runners, runner_id, value, MISSING if known is None else known)]
        commit_steps(steps)

    def runners(self, since: int) -> list[tuple[str, int, int, bool, tuple[str, ...]]]:
        """``(runner_id, created, last_heartbeat, eligible, queues)`` of runners heard from since ``since``.

        Ordered by creation, then id.

        Runtime complexity: `O(r log r)` for `r` runners
        """
        since = check_micros(since, "since")
        found = holding(self.lock, self._runners_locked, since)
        return sorted(found, key=_CREATED_THEN_ID)

    def _runners_locked(self, since: int) -> list[tuple[str, int, int, bool, tuple[str, ...]]]:
        return [(runner_id, *known) for runner_id, known in self._runners.items() if known[1] >= since]

    def start_execution(self, run_id: str, start: int, end: int | None, value: Any, exclusive: bool) -> Any:
        """Record an atomic service execution; ``end`` ``None`` while it runs.

        With ``exclusive``, nothing is recorded while another execution runs, and
        the value of the latest started one running is returned instead.

        Runtime complexity: `O(e)` for `e` executions recorded
        """
        run_id = check_id(run_id, "run_id")
        start = check_micros(start, "start")
        end = None if end is None else check_micros(end, "end")
        return holding(self.lock, self._start_locked, (run_id, start, end, value), bool(exclusive))

    def _start_locked(self, execution: Execution, exclusive: bool) -> Any:
        if exclusive:
            latest = None  # the first of the latest started running (no max(key=): see _START)
            for known in self._executions:
                if known[2] is None and (latest is None or known[1] > latest[1]):
                    latest = known
            if latest is not None:
                return latest[3]
        self._executions += [execution]
        return None

    def finish_execution(self, run_id: str, end: int, finished: Callable[[Any], Any], value: Any) -> None:
        """Finish the running execution of ``run_id`` at ``end``: its value becomes ``finished(value)``.

        An execution of ``run_id`` that already finished is left as it is; with none
        recorded, ``value`` is recorded as one that started and ended at ``end``.

        Runtime complexity: `O(e)` for `e` executions recorded
        """
        run_id = check_id(run_id, "run_id")
        end = check_micros(end, "end")
        holding(self.lock, self._finish_locked, run_id, end, finished, value)

    def _finish_locked(self, run_id: str, end: int, finished: Callable[[Any], Any], value: Any) -> None:
        executions = self._executions
        for position, known in enumerate(executions):
            if known[0] == run_id:
                if known[2] is None:
                    executions[position] = (run_id, known[1], end, finished(known[3]))
                return
        executions += [(run_id, end, end, value)]

    def executions(self) -> list[tuple[int, int | None, Any]]:
        """``(start, end, value)`` of every execution recorded, in the order recorded.

        Runtime complexity: `O(e)` for `e` executions recorded
        """
        return holding(self.lock, self._executions_locked)

    def _executions_locked(self) -> list[tuple[int, int | None, Any]]:
        return [(start, end, value) for _, start, end, value in self._executions]

    def trim_executions(self, finished_before: int | None, keep: int | None, protected: set[str]) -> int:
        """Drop finished executions that ended before ``finished_before``, then all but the ``keep``
        latest started, sparing the runs in ``protected``; return how many went.

        Runtime complexity: `O(e log e)` for `e` executions recorded
        """
        cutoff = None if finished_before is None else check_micros(finished_before, "finished_before")
        keep = None if keep is None else check_count(keep, "keep", minimum=0)
        return holding(self.lock, self._trim_locked, cutoff, keep, frozenset(protected))

    def _trim_locked(self, cutoff: int | None, keep: int | None, protected: frozenset[str]) -> int:
        kept = self._executions
        if cutoff is not None:
            kept = [
                known for known in kept if known[2] is None or known[2] >= cutoff or known[0] in protected
            ]
        if keep is not None and len(kept) > keep:
            ordered = sorted(kept, key=_START)
            unprotected = [known for known in ordered if known[0] not in protected]
            kept = [known for known in ordered if known[0] in protected] + unprotected[
                len(unprotected) - keep :
            ]
        removed = len(self._executions) - len(kept)
        self._executions = kept
        return removed

    # Retention and purge

    def queue_auto_purge(self, invocation_id: str, now: int) -> None:
        """Queue ``invocation_id`` for ``auto_purge``, as of ``now`` (queued already: its first time stays).

        Runtime complexity: `O(1)`
        """
        invocation_id = check_id(invocation_id, "invocation_id")
        now = check_micros(now, "now")
        holding(self.lock, self._queue_locked, invocation_id, now)

    def _queue_locked(self, invocation_id: str, now: int) -> None:
        self._auto_purge.setdefault(invocation_id, now)

    def auto_purge(self, queued_before: int) -> int:
        """Drop the orchestration state of the invocations queued at ``queued_before`` or earlier.

        Runtime complexity: `O(k)` for `k` invocations dropped
        """
        cutoff = check_micros(queued_before, "queued_before")
        return holding(self.lock, self._auto_purge_locked, cutoff)

    def _auto_purge_locked(self, cutoff: int) -> int:
        self._fresh()
        queue, dropped = self._auto_purge, 0
        while queue:
            invocation_id, queued = next(iter(queue.items()))
            if queued > cutoff:
                break
            drop_steps(self._forget_steps(invocation_id))
            dropped += 1
        return dropped

    def _forget_steps(self, invocation_id: str) -> list[Step]:
        """The drops that remove everything kept for ``invocation_id``; lock held.

        The store adds them to an eviction's drops, so they are made in its step.
        Its waits go too: what waited for it stops waiting for it (pynenc releases
        the waiters of an invocation as it finishes, before any eviction).

        Runtime complexity: `O(a + w)` for its `a` key arguments and `w` waits
        """
        self._fresh()
        steps: list[Step] = []
        state = self._states.get(invocation_id)
        if state is not None and state[3] is not None:
            of_task = self._by_task_status[state[3]]
            keyed: list[tuple[dict[Any, dict[str, None]], Any]] = [
                (self._by_status, state[0]),
                (self._by_task, state[3]),
                (of_task, state[0]),
                (self._by_call, state[4]),
            ]
            for index, key in keyed:
                steps += [(index[key], invocation_id, MISSING, None), (index, key, PRUNE, None)]
            steps += [(self._by_task_status, state[3], PRUNE, None)]  # after its status's entry went
        for pair in self._arguments.get(invocation_id, ()):
            steps += [
                (self._by_argument[pair], invocation_id, MISSING, None),
                (self._by_argument, pair, PRUNE, None),
            ]
        for waits, waiters in [(self._waiting_for, self._waited_by), (self._waited_by, self._waiting_for)]:
            for other_id in waits.get(invocation_id, ()):
                if other_id in waiters:
                    steps += [
                        (waiters[other_id], invocation_id, MISSING, None),
                        (waiters, other_id, PRUNE, None),
                    ]
        own = [self._states, self._retries, self._arguments, self._waiting_for, self._waited_by, self._ready]
        return steps + [(mapping, invocation_id, MISSING, None) for mapping in [*own, self._auto_purge]]

    def purge(self) -> None:
        """Drop everything kept: statuses, retries, waits, runners and executions.

        Runtime complexity: `O(n)`
        """
        holding(self.lock, self._purge_locked)

    def _purge_locked(self) -> None:
        maps: list[dict[Any, Any]] = [self._states, self._retries, self._arguments, *self._indexes()]
        maps += [self._waiting_for, self._waited_by, self._ready, self._runners, self._auto_purge]
        fresh: list[Execution] = []
        first, again = iter(maps), iter(maps)
        try:
            self._clear(first, fresh)
        except BaseException:
            self._clear(again, fresh)  # clearing cannot fail: only an interrupt stops it
            raise

    def _clear(self, maps: Iterator[dict[Any, Any]], executions: list[Execution]) -> None:
        for mapping in maps:
            mapping.clear()
        self._executions, self._stale = executions, False

    def counts(self) -> dict[str, int]:
        """How many invocations have a status, and how many of each status.

        Runtime complexity: `O(s)` for `s` statuses
        """
        return holding(self.lock, self._counts_locked)

    def _counts_locked(self) -> dict[str, int]:
        self._fresh()
        return {"statuses": len(self._states)} | {status: len(ids) for status, ids in self._by_status.items()}

    def _check(self) -> None:
        """Assert that every index is what ``states`` and ``arguments`` make it; no writer running."""
        holding(self.lock, self._check_locked)

    def _check_locked(self) -> None:
        self._fresh()
        expected = Orchestration()
        expected._states, expected._arguments = dict(self._states), dict(self._arguments)
        expected._rebuild()
        check_orchestration_indexes(self._indexes(), expected._indexes())


def _restore(mapping: dict[str, Any], key: str, old: Any) -> None:
    if old is None:
        mapping.pop(key, None)
    else:
        mapping[key] = old
