"""The invariant check both stores share: what a consistent store looks like inside.

Each store's ``_state()`` brings its derived structures up to date (as any read
would) and describes its internals as a :class:`StoreState`; :func:`check_invariants`
asserts every rule and names the first one broken.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ._store_common import RELATION_COLUMNS, InvocationRow, value_size


class StripeState(NamedTuple):
    """One lock stripe: the maps of the ids, relation keys and workflow ids that hash to it."""

    invocations: dict[str, InvocationRow]
    histories: dict[str, list[Any]]
    results: dict[str, Any]
    exceptions: dict[str, Any]
    #: parent -> children, event -> children, workflow -> members, workflow type -> members
    relations: tuple[dict[str, dict[str, None]], ...]
    workflow_data: dict[str, dict[str, Any]]
    sub_invocations: dict[str, dict[str, None]]
    #: finished invocations kept for an unfinished parent or workflow root -> that keeper's id
    held: dict[str, str]
    finished: int
    value_bytes: int
    next_arrival: int
    #: history entries written since the time index last took them (empty once merged)
    unindexed: list[Any]


class StoreState(NamedTuple):
    """A store's internal structures, as :func:`check_invariants` reads them."""

    mask: int
    #: an entry's sequence is ``arrival << shift | stripe << 1 | final``
    shift: int
    stripes: list[StripeState]
    time_index: Any  # a SortedList of every history entry
    #: with retention on: the entries waiting to be considered for eviction (the queue
    #: and those released by an evicted keeper) and keeper id -> the ids it holds
    eviction: tuple[list[Any], dict[str, dict[str, None]]] | None
    entry_key: Callable[[Any], tuple[int, int]]
    entry_invocation: Callable[[Any], str]


def _stripe_of(state: StoreState, key: str) -> int:
    return hash(key) & state.mask


def check_invariants(state: StoreState) -> None:
    """Assert a store's internal consistency; raise ``AssertionError`` naming what is broken.

    Every id and key is an exact ``str`` in the stripe its hash names; every
    relation index entry points at a stored invocation with that relation and
    vice versa, with no empty entry kept; each history is in key order and holds
    only its invocation's records, each sequenced by its own stripe below that
    stripe's next arrival; the time index holds exactly the history records,
    once each, in key order. Each stripe's counters match its maps, and with
    retention on, the final record of every finished invocation is waiting for
    eviction or held, and every held invocation is finished and listed under
    its keeper.
    """
    rows: dict[str, InvocationRow] = {}
    histories: dict[str, list[Any]] = {}
    for index, stripe in enumerate(state.stripes):
        keyed: list[dict[str, Any]] = [stripe.invocations, stripe.histories, stripe.results]
        keyed += [stripe.exceptions, stripe.held, *stripe.relations, stripe.workflow_data]
        keyed.append(stripe.sub_invocations)
        for mapping in keyed:
            for key in mapping:
                assert type(key) is str, f"key {key!r} is not a plain str"
                assert _stripe_of(state, key) == index, f"{key} in stripe {index}"
        assert not stripe.unindexed, "entries left out of the time index"
        rows.update(stripe.invocations)
        histories.update(stripe.histories)
    for position, column in enumerate(RELATION_COLUMNS):
        expected: dict[str, set[str]] = {}
        for invocation_id, row in rows.items():
            if (member_of := row[column]) is not None:
                expected.setdefault(member_of, set()).add(invocation_id)
        actual: dict[str, set[str]] = {}
        for stripe in state.stripes:
            for key, members in stripe.relations[position].items():
                assert members, f"empty relation index entry kept for {key}"
                actual[key] = set(members)
        assert actual == expected, f"relation index of row column {column} out of step"
    for stripe in state.stripes:
        assert all(stripe.sub_invocations.values()), "empty sub-invocation entry kept"
    _check_histories(state, histories)
    _check_counters(state)
    if state.eviction is not None:
        _check_eviction(state, histories, *state.eviction)


def _check_histories(state: StoreState, histories: dict[str, list[Any]]) -> None:
    entries = []
    for invocation_id, history in histories.items():
        assert history, f"empty history kept for {invocation_id}"
        keys = [state.entry_key(entry) for entry in history]
        assert keys == sorted(keys), f"history of {invocation_id} out of order"
        assert all(state.entry_invocation(entry) == invocation_id for entry in history)
        entries.extend(history)
    for entry in entries:
        sequence = state.entry_key(entry)[1]
        stripe = _stripe_of(state, state.entry_invocation(entry))
        assert (sequence >> 1) & state.mask == stripe, "sequence names another stripe"
        assert sequence >> state.shift < state.stripes[stripe].next_arrival, "arrival reused"
    state.time_index._check()
    entries.sort(key=state.entry_key)
    indexed = list(state.time_index)
    assert len(indexed) == len(entries), "time index and histories differ in size"
    assert all(a is b for a, b in zip(indexed, entries, strict=True)), "time index out of step"
    assert len({state.entry_key(entry) for entry in indexed}) == len(indexed), "duplicate key"


def _final_lasts(state: StoreState, histories: dict[str, list[Any]]) -> dict[str, Any]:
    return {i: h[-1] for i, h in histories.items() if state.entry_key(h[-1])[1] & 1}


def _check_counters(state: StoreState) -> None:
    for stripe in state.stripes:
        finished = _final_lasts(state, stripe.histories)
        assert stripe.finished == len(finished), "finished count out of step"
        outcomes = [*stripe.results.values(), *stripe.exceptions.values()]
        sizes = sum(value_size(value) for value in outcomes)
        assert stripe.value_bytes == sizes, "value_bytes out of step"


def _check_eviction(
    state: StoreState, histories: dict[str, list[Any]], waiting: list[Any], kept: dict[str, dict[str, None]]
) -> None:
    held = {i: keeper for stripe in state.stripes for i, keeper in stripe.held.items()}
    finished = _final_lasts(state, histories)
    assert set(held) <= set(finished), "a held invocation is not finished"
    for held_id, keeper in held.items():
        assert held_id in kept.get(keeper, ()), "a held invocation is not listed under its keeper"
    waiting_ids = {id(entry) for entry in waiting}
    for invocation_id, entry in finished.items():
        assert invocation_id in held or id(entry) in waiting_ids, "finished invocation not tracked"


def check_orchestration_indexes(indexes: list[dict[Any, Any]], expected: list[dict[Any, Any]]) -> None:
    """Assert that the orchestration ``indexes`` are the ``expected`` ones, rebuilt from the states.

    The indexes are task, status, task then status, call and key argument -> ids.
    Each key must have the same members; in the status and task-then-status ones,
    which list their members by last status change, in the same order.
    """
    shapes: list[Callable[[Any], Any]] = [
        set,
        list,
        lambda statuses: {status: list(ids) for status, ids in statuses.items()},
        set,
        set,
    ]
    for position, (mine, theirs, shape) in enumerate(zip(indexes, expected, shapes, strict=True)):
        assert {k: shape(v) for k, v in mine.items()} == {k: shape(v) for k, v in theirs.items()}, (
            f"orchestration index {position} differs from the one its states make"
        )
