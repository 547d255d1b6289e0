"""The invariant check catches each kind of corruption it claims to."""

from collections.abc import Callable
from typing import Any

import pytest
from sortedcontainers import SortedList

from pynenc_fastmem._invariants import StoreState, check_invariants
from pynenc_fastmem._store_py import Store


def _populated(store_module: Any, **options: Any) -> Store:
    store: Store = store_module.Store(stripes=4, **options)
    store.upsert_invocations([(f"i{n}", n, f"p{n % 3}", f"e{n % 2}", f"w{n % 2}", "T") for n in range(20)])
    for n in range(20):
        store.add_histories([f"i{n}"], 100 - n, f"r{n}")
        store.add_histories([f"i{n}"], 200, f"s{n}", final=n % 2 == 0)
    store.add_sub_invocation("w0", "i0")
    store.set_result("i1", "result")
    return store


def _foreign_key(state: StoreState, stripe: int) -> str:
    """An id that does not hash to ``stripe``."""
    return next(i for i in (f"x{n}" for n in range(50)) if hash(i) & state.mask != stripe)


def _own_key(state: StoreState, stripe: int) -> str:
    """A new id that hashes to ``stripe``."""
    return next(i for i in (f"y{n}" for n in range(50)) if hash(i) & state.mask == stripe)


def _first_history(state: StoreState) -> list[Any]:
    return next(h for stripe in state.stripes for h in stripe.histories.values())


def _stripe_with(state: StoreState, field: str) -> int:
    return next(n for n, stripe in enumerate(state.stripes) if getattr(stripe, field))


def _relation_members(state: StoreState, position: int, key: str) -> dict[str, None]:
    return state.stripes[hash(key) & state.mask].relations[position][key]


CORRUPTIONS: dict[str, Callable[[StoreState], Any]] = {
    "id in the wrong stripe": lambda s: s.stripes[0].results.__setitem__(_foreign_key(s, 0), "r"),
    "relation key in the wrong stripe": lambda s: (
        s.stripes[0].relations[0].__setitem__(_foreign_key(s, 0), {"i0": None})
    ),
    "child missing from index": lambda s: _relation_members(s, 0, "p0").popitem(),
    "stale index entry": lambda s: _relation_members(s, 1, "e0").__setitem__("ghost", None),
    "empty index entry kept": lambda s: s.stripes[hash("w9") & s.mask].relations[2].__setitem__("w9", {}),
    "empty sub-invocation entry": lambda s: s.stripes[hash("w9") & s.mask].sub_invocations.__setitem__(
        "w9", {}
    ),
    "history out of order": lambda s: _first_history(s).reverse(),
    "record lost from time index": lambda s: s.time_index.pop(0),
    "record only in time index": lambda s: _first_history(s).pop(),
    "arrival reused": lambda s: s._replace(stripes=[stripe._replace(next_arrival=0) for stripe in s.stripes]),
    "empty history kept": lambda s: s.stripes[0].histories.__setitem__(_own_key(s, 0), []),
    "finished count": lambda s: s._replace(
        stripes=[stripe._replace(finished=stripe.finished + 1) for stripe in s.stripes]
    ),
    "value bytes": lambda s: s._replace(
        stripes=[stripe._replace(value_bytes=stripe.value_bytes + 1) for stripe in s.stripes]
    ),
    "entries left unindexed": lambda s: s.stripes[0].unindexed.append("entry"),
}

EVICTION_CORRUPTIONS: dict[str, Callable[[StoreState], Any]] = {
    "finished invocation not tracked": lambda s: s._replace(eviction=([], s.eviction[1])),
    "held invocation not listed": lambda s: s.stripes[hash("i0") & s.mask].held.__setitem__("i0", "i3"),
    "held invocation not finished": lambda s: (
        s.stripes[hash("i1") & s.mask].held.__setitem__("i1", "i3"),
        s.eviction[1].setdefault("i3", {}).__setitem__("i1", None),
    ),
}


def test_a_consistent_store_passes(store_module: Any) -> None:
    check_invariants(_populated(store_module)._state())
    check_invariants(_populated(store_module, max_finished=100)._state())


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_each_corruption_is_caught(store_module: Any, corruption: str) -> None:
    state = _populated(store_module)._state()
    replaced = CORRUPTIONS[corruption](state)
    with pytest.raises(AssertionError):
        check_invariants(replaced if isinstance(replaced, StoreState) else state)


@pytest.mark.parametrize("corruption", sorted(EVICTION_CORRUPTIONS))
def test_each_eviction_corruption_is_caught(store_module: Any, corruption: str) -> None:
    state = _populated(store_module, max_finished=100)._state()
    replaced = EVICTION_CORRUPTIONS[corruption](state)
    with pytest.raises(AssertionError):
        check_invariants(replaced if isinstance(replaced, StoreState) else state)


def test_time_index_must_be_a_sorted_list(store_module: Any) -> None:
    state = _populated(store_module)._state()._replace(time_index=SortedList())
    with pytest.raises(AssertionError, match="size"):
        check_invariants(state)
