"""Every public store method, given bad or odd input: a clear error or a correct answer, never a crash.

A refused call raises ``TypeError`` or ``ValueError`` naming the argument, and leaves
the store exactly as it was.
"""

from collections.abc import Callable
from typing import Any

import pytest

from pynenc_fastmem._store_py import Store

from ..support import populate_every_kind

NOT_STR = [None, 1, 1.5, b"id", ["id"], object()]
NOT_TIMESTAMP = [None, "1", 1.5, True, 2**63, -(2**63) - 1, object()]
NOT_BATCH_SIZE = [0, -1, None, "1", True, 1.5]
NOT_ID_LIST = [None, "abc", {"a"}, [None], ["a", 1], 7]
ODD_IDS = ["", " ", "x" * 100_000, "é", "e\u0301", "\x00", "\ud800", "🙂", "a" * 3 + "\t\n"]

# method -> (valid arguments, {argument position: (name in the message, bad values)})
TABLE: dict[str, tuple[tuple[Any, ...], dict[int, tuple[str, list[Any]]]]] = {
    "get_invocation": (("a",), {0: ("invocation_id", NOT_STR)}),
    "child_ids": (("p",), {0: ("parent_id", NOT_STR)}),
    "ids_by_parent_event": (("e",), {0: ("parent_event_id", NOT_STR)}),
    "ids_by_workflow": (("w", "T"), {0: ("workflow_id", NOT_STR[1:]), 1: ("workflow_type", NOT_STR[1:])}),
    "add_histories": (
        (["a"], 1, "r", True),
        {
            0: ("invocation_ids", NOT_ID_LIST),
            1: ("timestamp", NOT_TIMESTAMP),
            3: ("final", [None, 1, 0, "yes"]),
        },
    ),
    "evict": ((1,), {0: ("limit", NOT_BATCH_SIZE)}),
    "was_evicted": (("a",), {0: ("invocation_id", NOT_STR)}),
    "items": (("invocations",), {0: ("kind", [None, "invocation", 1, "HISTORIES"])}),
    "get_history": (("a",), {0: ("invocation_id", NOT_STR)}),
    "history_in_range": (
        (0, 10, 5),
        {0: ("start", NOT_TIMESTAMP), 1: ("end", NOT_TIMESTAMP), 2: ("batch_size", NOT_BATCH_SIZE)},
    ),
    "invocations_in_range": (
        (0, 10, 5),
        {0: ("start", NOT_TIMESTAMP), 1: ("end", NOT_TIMESTAMP), 2: ("batch_size", NOT_BATCH_SIZE)},
    ),
    "set_result": (("a", "r"), {0: ("invocation_id", NOT_STR)}),
    "get_result": (("a",), {0: ("invocation_id", NOT_STR)}),
    "set_exception": (("a", "x"), {0: ("invocation_id", NOT_STR)}),
    "get_exception": (("a",), {0: ("invocation_id", NOT_STR)}),
    "set_workflow_data": (("w", "k", 1), {0: ("workflow_id", NOT_STR), 1: ("key", NOT_STR)}),
    "get_workflow_data": (("w", "k"), {0: ("workflow_id", NOT_STR), 1: ("key", NOT_STR)}),
    "add_workflow_run": (
        ("T", "t", "w", "run"),
        {0: ("workflow_type", NOT_STR), 2: ("workflow_id", NOT_STR)},
    ),
    "workflow_runs": (("T",), {0: ("workflow_type", NOT_STR[1:])}),
    "add_sub_invocation": (
        ("w", "a"),
        {0: ("parent_workflow_id", NOT_STR), 1: ("sub_invocation_id", NOT_STR)},
    ),
    "sub_invocation_ids": (("w",), {0: ("workflow_id", NOT_STR)}),
    "set_runner_context": (("r", "ctx"), {0: ("runner_id", NOT_STR)}),
    "get_runner_context": (("r",), {0: ("runner_id", NOT_STR)}),
    "get_runner_contexts": ((["r"],), {0: ("runner_ids", NOT_ID_LIST)}),
    "match_runner_contexts": (("r",), {0: ("partial_id", NOT_STR)}),
    "upsert_invocations": (
        ([("a", "v", None, None, None, None)],),
        {
            0: (
                "rows",
                [
                    None,
                    "rows",
                    ("a", "v", None, None, None, None),
                    [("a",)],
                    [("a", "v", 1, None, None, None)],
                ],
            )
        },
    ),
}

CASES = [
    pytest.param(method, position, name, bad, id=f"{method}-{name}-{type(bad).__name__}-{index}")
    for method, (_, positions) in TABLE.items()
    for position, (name, bads) in positions.items()
    for index, bad in enumerate(bads)
]


def _snapshot(store: Store) -> Any:
    return (
        [store.get_invocation(i) for i in "abc"],
        store.child_ids("p"),
        store.ids_by_workflow(),
        [store.get_history(i) for i in "ab"],
        [batch for batch in store.history_in_range(-(2**63), 2**63 - 1)],
        store.get_result("a"),
        store.get_exception("a"),
        store.get_workflow_data("w", "k"),
        store.workflow_runs(),
        store.sub_invocation_ids("w"),
        store.match_runner_contexts(""),
    )


def test_every_public_method_is_in_the_table() -> None:
    public = {name for name in vars(Store) if not name.startswith("_") and callable(getattr(Store, name))}
    assert public - set(TABLE) == {"purge", "stats", "workflow_types"}  # they take no arguments


@pytest.mark.parametrize(("method", "position", "name", "bad"), CASES)
def test_bad_argument_is_refused_naming_it(
    store: Store, method: str, position: int, name: str, bad: Any
) -> None:
    populate_every_kind(store)
    before = _snapshot(store)
    arguments = list(TABLE[method][0])
    arguments[position] = bad
    call: Callable[..., Any] = getattr(store, method)
    with pytest.raises((TypeError, ValueError), match=name.split("[")[0]):
        result = call(*arguments)
        if method.endswith("_in_range"):
            list(result)
    assert _snapshot(store) == before
    store._check()


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"stripes": 3}, "stripes"),
        ({"stripes": 0}, "stripes"),
        ({"stripes": "16"}, "stripes"),
        ({"retention": -1}, "retention"),
        ({"retention": 1.5}, "retention"),
        ({"retention": True}, "retention"),
        ({"max_finished": -1}, "max_finished"),
        ({"max_finished": "10"}, "max_finished"),
        ({"clock": 5}, "clock"),
        ({"grace": -1}, "grace"),
        ({"grace": 0.5}, "grace"),
    ],
)
def test_bad_store_options_are_refused_naming_them(
    store_module: Any, arguments: dict[str, Any], name: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=name):
        store_module.Store(**arguments)


def test_a_clock_that_returns_no_int_is_refused_and_changes_nothing(store_module: Any) -> None:
    store = store_module.Store(retention=0, clock=lambda: 1.5)
    with pytest.raises(TypeError, match=r"clock\(\)"):
        store.add_histories(["a"], 0, "r", True)
    assert store.get_history("a") == []
    assert store.stats()["history_records"] == 0
    store._check()


@pytest.mark.parametrize("odd", ODD_IDS, ids=lambda odd: repr(odd)[:12])
def test_odd_but_valid_ids_round_trip(store: Store, odd: str) -> None:
    store.upsert_invocations([(odd, "value", odd, odd, odd, odd)])
    store.add_histories([odd], -(2**63), "first")
    store.add_histories([odd], 2**63 - 1, "last")
    store.set_result(odd, "result")
    store.set_runner_context(odd, "ctx")
    assert store.get_invocation(odd) == "value"
    assert store.child_ids(odd) == store.ids_by_parent_event(odd) == [odd]
    assert store.ids_by_workflow(odd, odd) == [odd]
    assert store.get_history(odd) == ["first", "last"]
    assert [r for b in store.history_in_range(-1, 1) for r in b] == []
    assert list(store.invocations_in_range(-(2**63), 2**63 - 1)) == [[odd]]
    assert store.get_result(odd) == "result"
    assert store.get_runner_context(odd) == "ctx"
    assert store.match_runner_contexts(odd) == ["ctx"]
    store._check()


def test_look_alike_ids_stay_distinct(store: Store) -> None:
    nfc, nfd = "é", "e\u0301"
    store.upsert_invocations(
        [(nfc, "composed", None, None, None, None), (nfd, "decomposed", None, None, None, None)]
    )
    assert store.get_invocation(nfc) == "composed"
    assert store.get_invocation(nfd) == "decomposed"


def test_times_before_1970_and_far_ahead_are_ordered(store: Store) -> None:
    for timestamp in [10**17, -(10**16), 0, -1, 2**63 - 1, -(2**63)]:
        store.add_histories(["a"], timestamp, timestamp)
    assert store.get_history("a") == [-(2**63), -(10**16), -1, 0, 10**17, 2**63 - 1]
