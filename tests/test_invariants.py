"""The invariant check catches each kind of corruption it claims to."""

from collections.abc import Callable
from typing import Any

import pytest
from sortedcontainers import SortedList

from pynenc_fastmem._store_py import Store, StoreState, check_invariants


def _populated(store_module: Any) -> Store:
    store: Store = store_module.Store(stripes=4)
    store.upsert_invocations([(f"i{n}", n, f"p{n % 3}", f"e{n % 2}", f"w{n % 2}", "T") for n in range(20)])
    for n in range(20):
        store.add_histories([f"i{n}"], 100 - n, f"r{n}")
        store.add_histories([f"i{n}"], 200, f"s{n}")
    store.add_sub_invocation("w0", "i0")
    return store


def _first_history(state: StoreState) -> list[Any]:
    return next(h for maps in state.stripes for h in maps[1].values())


CORRUPTIONS: dict[str, Callable[[StoreState], Any]] = {
    "id in the wrong stripe": lambda s: s.stripes[0][2].__setitem__(
        next(i for i in (f"x{n}" for n in range(50)) if hash(i) & s.mask != 0), "r"
    ),
    "child missing from index": lambda s: s.relations[0]["p0"].popitem(),
    "stale index entry": lambda s: s.relations[1].setdefault("e0", {}).__setitem__("ghost", None),
    "empty index entry kept": lambda s: s.relations[2].__setitem__("w9", {}),
    "empty sub-invocation entry": lambda s: s.sub_invocations.__setitem__("w9", {}),
    "history out of order": lambda s: _first_history(s).reverse(),
    "record lost from time index": lambda s: s.time_index.pop(0),
    "record only in time index": lambda s: _first_history(s).pop(),
    "sequence reused": lambda s: s._replace(next_seq=0),
    "empty history kept": lambda s: s.stripes[0][1].__setitem__(
        next(i for i in (f"y{n}" for n in range(50)) if hash(i) & s.mask == 0), []
    ),
}


def test_a_consistent_store_passes(store_module: Any) -> None:
    check_invariants(_populated(store_module)._state())


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_each_corruption_is_caught(store_module: Any, corruption: str) -> None:
    state = _populated(store_module)._state()
    replaced = CORRUPTIONS[corruption](state)
    with pytest.raises(AssertionError):
        check_invariants(replaced if isinstance(replaced, StoreState) else state)


def test_time_index_must_be_a_sorted_list(store_module: Any) -> None:
    state = _populated(store_module)._state()._replace(time_index=SortedList())
    with pytest.raises(AssertionError, match="size"):
        check_invariants(state)
