"""What both store implementations share: constants, the row type, and input checks.

The compiled store and the pure-Python store are peers: each imports this module
and ``_invariants``, and neither imports the other, so both accept and refuse the
same input with the same messages.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from ._locking import holding, new_lock

InvocationRow = tuple[str, Any, str | None, str | None, str | None, str | None]
"""One invocation to upsert:
``(invocation_id, value, parent_id, parent_event_id, workflow_id, workflow_type)``."""


class StoreStats(TypedDict):
    """What ``Store.stats()`` and ``FastMemStateBackend.stats()`` count."""

    #: upserted invocations
    invocations: int
    #: invocations whose latest history record is final
    finished: int
    results: int
    exceptions: int
    #: length of the ``str``/``bytes`` results and exceptions
    value_bytes: int
    #: workflow ids with a stored member
    workflows: int
    #: due finished invocations kept for an unfinished parent or workflow root
    held: int
    history_records: int
    #: invocations evicted by retention since the store was created or purged
    evictions: int
    runner_contexts: int
    #: an estimate of the bytes held (see ``stats()``)
    bytes: int


DEFAULT_STRIPES = 16

#: At most this many lock stripes: a history record's arrival sequence keeps the
#: stripe's number in its low bits, and the arrival count above them.
MAX_STRIPES = 1024

# Range queries read the time index this many entries per lock, whatever the batch size.
READ_CHUNK = 1024

# A write of final records evicts up to this many invocations per final record it adds,
# so eviction keeps ahead of new finished invocations and drains a backlog step by step.
EVICTIONS_PER_FINAL = 2

#: How many of the most recently evicted ids a store remembers (``Store.was_evicted``).
EVICTED_IDS_REMEMBERED = 100_000

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

#: Row columns that name another invocation or a group, each with a relation index.
RELATION_COLUMNS = (2, 3, 4, 5)

MIN_MICROS = -(2**63)
MAX_MICROS = 2**63 - 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


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


def check_statuses(statuses: object) -> list[str] | None:
    """``statuses`` as a list of status names, or ``None`` for no filter."""
    return None if statuses is None else check_ids(statuses, "statuses")


def check_pairs(pairs: object) -> list[tuple[str, str]]:
    """``pairs`` as a list of ``(key, value)`` string pairs."""
    if not isinstance(pairs, (list, tuple)):
        raise TypeError(f"pairs must be a list of (key, value) pairs, got {type(pairs).__name__}")
    checked = []
    for index, pair in enumerate(pairs):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"pairs[{index}] must be a (key, value) pair")
        checked += [(check_id(pair[0], f"pairs[{index}] key"), check_id(pair[1], f"pairs[{index}] value"))]
    return checked


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


def check_rows(rows: object) -> list[InvocationRow]:
    """Return the rows of an upsert, checked, one per id: the id's last row at its first place.

    :raises TypeError: if ``rows`` is not a list or tuple, or a row is malformed
    """
    if not isinstance(rows, (list, tuple)):
        raise TypeError(f"rows must be a list of rows, got {type(rows).__name__}")
    latest: dict[str, InvocationRow] = {}
    for index, row in enumerate(rows):
        checked = row if is_plain_row(row) else check_row(row, index)
        latest[checked[0]] = checked
    return list(latest.values())


def check_store_options(
    stripes: object,
    retention: object,
    max_finished: object,
    clock: object,
    on_evict: object = None,
    grace: object = None,
) -> tuple[int, int | None, int | None, Callable[[], int], int | None]:
    """Validate ``Store``'s arguments; return them with the default clock filled in."""
    if on_evict is not None and not callable(on_evict):
        raise TypeError(f"on_evict must be callable, got {type(on_evict).__name__}")
    if (
        not isinstance(stripes, int)
        or isinstance(stripes, bool)
        or not 1 <= stripes <= MAX_STRIPES
        or stripes & (stripes - 1)
    ):
        raise ValueError(f"stripes must be a power of two from 1 to {MAX_STRIPES}, got {stripes!r}")
    if clock is not None and not callable(clock):
        raise TypeError(f"clock must be callable, got {type(clock).__name__}")
    return (
        int(stripes),
        check_optional_count(retention, "retention"),
        check_optional_count(max_finished, "max_finished"),
        wall_clock_micros if clock is None else clock,
        check_optional_count(grace, "grace"),
    )


_HASH = struct.Struct("=q")  # one remembered id: its hash, native order


class EvictionLog:
    """The ids a store evicted most recently, and the callback told of each eviction.

    Both stores call :meth:`record` after an eviction, once their locks are
    released, so the callback may do anything, writes to the store included.
    It remembers the last ``remembered`` ids, so that a read of one can say it
    was evicted rather than never stored; it is a hint, not the store's state:
    an exception while recording loses ids from it and nothing else.

    An id is remembered by its 64-bit hash in a ring of ``remembered`` slots of one
    ``bytearray`` (8 bytes an id, allocated as evictions come), not as the string:
    the strings and a map of them cost about 130 bytes an id, which made a long run's
    memory grow by 13 MB over its first 100,000 evictions. A lookup scans the ring in C
    (about 0.1 ms when full); only a read that found nothing makes one. Two ids whose
    hashes collide (odds about 1 in 10**14 per lookup) would read as evicted.
    """

    def __init__(self, on_evict: Callable[[list[str]], object] | None, remembered: int) -> None:
        self.on_evict = on_evict
        self._size = 8 * remembered
        self._ring = bytearray()
        self._next = 0  # the byte offset the next hash takes once the ring is full
        self._lock = new_lock()

    def record(self, evicted_ids: list[str]) -> None:
        """Remember ``evicted_ids``, then call ``on_evict`` with them (its exceptions propagate)."""
        holding(self._lock, self._remember, evicted_ids)
        if self.on_evict is not None:
            self.on_evict(evicted_ids)

    def _remember(self, evicted_ids: list[str]) -> None:
        ring = self._ring
        for invocation_id in evicted_ids:
            packed = _HASH.pack(hash(invocation_id))
            if len(ring) < self._size:
                ring += packed
            elif self._size:
                ring[self._next : self._next + 8] = packed
                self._next = (self._next + 8) % self._size

    def __contains__(self, invocation_id: object) -> bool:
        return holding(self._lock, self._find, _HASH.pack(hash(invocation_id)))

    def _find(self, wanted: bytes) -> bool:
        at = self._ring.find(wanted)
        while at != -1 and at % 8:  # a match across two slots: look on
            at = self._ring.find(wanted, at + 1)
        return at != -1
