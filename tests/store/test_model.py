"""Model-based test: random operation sequences on every store against a deliberately simple model.

One state machine drives every available store implementation with the same steps,
and after each step checks every query of each against the model (so the stores are
also checked against each other) and runs the stores' invariant check.
Each sequence configures retention at random (off, an age, a count or both, with a
clock the steps move); the model does not predict which invocations are evicted, it
checks that every store evicted the same ones, each of them finished, due and not
readable by an unfinished parent or workflow, and that nothing else of theirs is left.
``FASTMEM_MODEL_EXAMPLES`` sets how many sequences run (CI uses the default).
"""

import os
from types import ModuleType
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from ..support import COMPILED_STORE_MISSING, REQUIRE_EXTENSIONS, STORE_MODULES, stateful_settings

EXAMPLES = int(os.environ.get("FASTMEM_MODEL_EXAMPLES", 300))
STRIPES = 4
IDS = [f"i{n}" for n in range(8)] + ["", "é", "e\u0301"]  # NFC and NFD look-alikes stay distinct
KEYS = st.sampled_from(["k0", "k1", "p0", "p1", "e0", "w0", "w1", "i0", "i1"]) | st.none()
WORKFLOW_IDS = ["w0", "w1", "i0"]
TIMESTAMPS = st.integers(-5, 5) | st.sampled_from([-(2**63), 2**63 - 1, 10**15])
BOUNDS = st.integers(-7, 7) | st.sampled_from([-(2**63), 2**63 - 1])
WINDOW_BATCHES = st.integers(1, 4)

row_strategy = st.tuples(
    st.sampled_from(IDS),
    st.integers(0, 1000),
    KEYS,
    KEYS,
    st.sampled_from([None, ("w0", "T0"), ("w1", "T0"), ("w1", "T1"), ("i0", "T0"), ("i1", "T1")]),
)


def _move(index: dict[str, dict[str, None]], old: Any, new: Any, member: str) -> None:
    """Keep a model relation index as the stores do: entries in order of (re)joining."""
    if old == new:
        return
    if old is not None:
        index[old].pop(member)
        if not index[old]:
            del index[old]
    if new is not None:
        index.setdefault(new, {})[member] = None


class Model:
    """Everything the stores should answer, kept as plainly as possible."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[Any, ...]] = {}
        self.relations: list[dict[str, dict[str, None]]] = [{}, {}, {}, {}]
        # (timestamp, (arrival in its stripe, stripe), invocation_id, record, final)
        self.history: list[tuple[int, tuple[int, int], str, Any, bool]] = []
        self.results: dict[str, Any] = {}
        self.exceptions: dict[str, Any] = {}
        self.data: dict[tuple[str, str], Any] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.types: dict[str, Any] = {}
        self.subs: dict[str, dict[str, None]] = {}
        self.runners: dict[str, Any] = {}

    def upsert(self, row: tuple[Any, ...]) -> None:
        old = self.rows.get(row[0], (None,) * 6)
        for column, index in enumerate(self.relations, start=2):
            _move(index, old[column], row[column], row[0])
        self.rows[row[0]] = row

    def ids(self) -> set[str]:
        return set(self.rows) | {entry[2] for entry in self.history}

    def latest(self, inv_id: str) -> tuple[int, tuple[int, int], str, Any, bool] | None:
        return max((entry for entry in self.history if entry[2] == inv_id), default=None)

    def finished(self, inv_id: str) -> bool:
        latest = self.latest(inv_id)
        return latest is not None and latest[4]

    def unfinished(self, inv_id: str) -> bool:
        """Stored and not finished: what keeps its children and workflow members."""
        return inv_id in self.ids() and not self.finished(inv_id)

    def evict(self, inv_id: str) -> None:
        """Forget everything of ``inv_id`` as eviction does."""
        row = self.rows.pop(inv_id, None)
        if row is not None:
            for column, index in enumerate(self.relations, start=2):
                _move(index, row[column], None, inv_id)
            if row[4] == inv_id and inv_id in self.runs.get(row[5], {}):
                del self.runs[row[5]][inv_id]
                if not self.runs[row[5]]:
                    del self.runs[row[5]]
                    del self.types[row[5]]
        self.history = [entry for entry in self.history if entry[2] != inv_id]
        self.results.pop(inv_id, None)
        self.exceptions.pop(inv_id, None)
        self.data = {key: value for key, value in self.data.items() if key[0] != inv_id}
        self.subs.pop(inv_id, None)


class StoreMachine(RuleBasedStateMachine):
    """Applies each step to the model and to every store; checks all answers after each."""

    modules: list[ModuleType] = []

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.stores: list[Any] = []
        self.arrivals = [0] * STRIPES  # each stripe sequences its own records, across purges too
        self.now = 0
        self.retention: int | None = None
        self.max_finished: int | None = None
        self.grace: int | None = None

    @initialize(
        retention=st.none() | st.integers(0, 6),
        max_finished=st.none() | st.integers(0, 3),
        grace=st.none() | st.integers(0, 6),
    )
    def configure(self, retention: int | None, max_finished: int | None, grace: int | None) -> None:
        self.retention, self.max_finished, self.grace = retention, max_finished, grace
        self.stores = [
            module.Store(
                stripes=STRIPES,
                retention=retention,
                max_finished=max_finished,
                clock=lambda: self.now,
                grace=grace,
            )
            for module in self.modules
        ]

    def record_evictions(self) -> None:
        """Check what the stores evicted in the last step, and let the model forget it."""
        model = self.model
        gone = [
            {i for i in model.ids() if store.get_invocation(i) is None and store.get_history(i) == []}
            for store in self.stores
        ]
        assert all(evicted == gone[0] for evicted in gone), "stores evicted different invocations"
        for inv_id in gone[0]:
            assert self.retention is not None or self.max_finished is not None
            assert model.finished(inv_id), f"{inv_id} evicted unfinished"
            row = model.rows.get(inv_id)
            keepers = [] if row is None else [k for k in (row[2], row[4]) if k is not None and k != inv_id]
            assert not any(model.unfinished(k) for k in keepers), f"{inv_id} evicted from a running reader"
            latest = model.latest(inv_id)
            assert latest is not None
            if self.max_finished is None:
                assert self.retention is not None
                assert latest[0] < self.now - self.retention, f"{inv_id} not due"
            if self.grace is not None:
                assert latest[0] <= self.now - self.grace, f"{inv_id} evicted within its grace"
        for inv_id in gone[0]:
            model.evict(inv_id)

    def each(self, method: str, *args: Any) -> list[Any]:
        return [getattr(store, method)(*args) for store in self.stores]

    @rule(entries=st.lists(row_strategy, max_size=4))
    def upsert(self, entries: list[tuple[Any, ...]]) -> None:
        rows = [
            (inv_id, value, parent, event, *(workflow or (None, None)))
            for inv_id, value, parent, event, workflow in entries
        ]
        self.each("upsert_invocations", rows)
        latest = {row[0]: row for row in rows}  # each id once: its last row, where it first appears
        for row in latest.values():
            self.model.upsert(row)

    @rule(
        entries=st.lists(row_strategy, min_size=1, max_size=3),
        bad=st.sampled_from([("x",), ("x", 1, 2, None, None, None), (None, 1, None, None, None, None), 7]),
        position=st.integers(0, 3),
    )
    def upsert_with_a_bad_row(self, entries: list[tuple[Any, ...]], bad: Any, position: int) -> None:
        rows: list[Any] = [(i, v, p, e, *(w or (None, None))) for i, v, p, e, w in entries]
        rows.insert(min(position, len(rows)), bad)
        for store in self.stores:
            with pytest.raises((TypeError, ValueError)):
                store.upsert_invocations(rows)

    @rule(ids=st.lists(st.sampled_from(IDS), max_size=3), timestamp=TIMESTAMPS, final=st.booleans())
    def add_histories(self, ids: list[str], timestamp: int, final: bool) -> None:
        record = f"r{sum(self.arrivals)}"
        self.each("add_histories", ids, timestamp, record, final)
        for inv_id in ids:
            stripe = hash(inv_id) & (STRIPES - 1)
            # Equal timestamps order by arrival within the stripe, then by stripe.
            arrival = (self.arrivals[stripe], stripe)
            self.arrivals[stripe] += 1
            self.model.history.append((timestamp, arrival, inv_id, record, final))
        self.record_evictions()

    @rule(step=st.integers(0, 4) | st.just(2**40))
    def advance_clock(self, step: int) -> None:
        self.now += step

    @rule(limit=st.integers(1, 5))
    def evict(self, limit: int) -> None:
        counts = self.each("evict", limit)
        assert len(set(counts)) == 1
        self.record_evictions()

    @rule(inv_id=st.sampled_from(IDS), value=st.integers() | st.text(max_size=3), exception=st.booleans())
    def set_outcome(self, inv_id: str, value: int, exception: bool) -> None:
        self.each("set_exception" if exception else "set_result", inv_id, value)
        (self.model.exceptions if exception else self.model.results)[inv_id] = value

    @rule(workflow=st.sampled_from(WORKFLOW_IDS), key=st.sampled_from(["a", "b"]), value=st.integers())
    def set_workflow_data(self, workflow: str, key: str, value: int) -> None:
        self.each("set_workflow_data", workflow, key, value)
        self.model.data[(workflow, key)] = value

    @rule(workflow_type=st.sampled_from(["T0", "T1"]), workflow=st.sampled_from([*WORKFLOW_IDS, "w2"]))
    def add_workflow_run(self, workflow_type: str, workflow: str) -> None:
        self.each(
            "add_workflow_run", workflow_type, f"type-{workflow_type}", workflow, (workflow_type, workflow)
        )
        self.model.types.setdefault(workflow_type, f"type-{workflow_type}")
        self.model.runs.setdefault(workflow_type, {}).setdefault(workflow, (workflow_type, workflow))

    @rule(workflow=st.sampled_from(WORKFLOW_IDS), inv_id=st.sampled_from(IDS))
    def add_sub_invocation(self, workflow: str, inv_id: str) -> None:
        self.each("add_sub_invocation", workflow, inv_id)
        self.model.subs.setdefault(workflow, {})[inv_id] = None

    @rule(runner=st.sampled_from(["run-a", "run-b", "other"]), value=st.integers())
    def set_runner_context(self, runner: str, value: int) -> None:
        self.each("set_runner_context", runner, value)
        self.model.runners[runner] = value

    @rule()
    def purge(self) -> None:
        self.each("purge")
        self.model = Model()

    @invariant()
    def invocations_and_relations_match(self) -> None:
        model = self.model
        for store in self.stores:
            for inv_id in IDS:
                row = model.rows.get(inv_id)
                assert store.get_invocation(inv_id) == (None if row is None else row[1])
            for key in ["k0", "k1", "p0", "p1", "e0", "w0", "w1", "i0", "i1"]:
                assert store.child_ids(key) == list(model.relations[0].get(key, ()))
                assert store.ids_by_parent_event(key) == list(model.relations[1].get(key, ()))
            for workflow in [*WORKFLOW_IDS, None]:
                for workflow_type in ["T0", "T1", None]:
                    expected = {
                        i
                        for i, row in model.rows.items()
                        if row[4] is not None
                        and workflow in (None, row[4])
                        and workflow_type in (None, row[5])
                    }
                    answer = store.ids_by_workflow(workflow, workflow_type)
                    assert sorted(answer) == sorted(expected)
                    if workflow is not None:
                        assert answer == [i for i in model.relations[2].get(workflow, ()) if i in expected]

    @invariant()
    def histories_and_ranges_match(self) -> None:
        ordered = sorted(self.model.history)
        for store in self.stores:
            for inv_id in IDS:
                assert store.get_history(inv_id) == [e[3] for e in ordered if e[2] == inv_id]
            for low, high, batch in [
                (-(2**63), 2**63 - 1, 3),
                (-2, 2, 1),
                (0, 0, 2),
                (3, -3, 1),
                (5, 10**15, 4),
            ]:
                window = [e for e in ordered if low <= e[0] <= high]
                batches = list(store.history_in_range(low, high, batch))
                assert all(0 < len(b) <= batch for b in batches)
                assert [r for b in batches for r in b] == [e[3] for e in window]
                unique = list(dict.fromkeys(e[2] for e in window))
                batches = list(store.invocations_in_range(low, high, batch))
                assert all(0 < len(b) <= batch for b in batches)
                assert [i for b in batches for i in b] == unique

    @invariant()
    def the_rest_matches(self) -> None:
        model = self.model
        for store in self.stores:
            for inv_id in IDS:
                for stored, method in [(model.results, "get_result"), (model.exceptions, "get_exception")]:
                    if inv_id in stored:
                        assert getattr(store, method)(inv_id) == stored[inv_id]
                    else:
                        with pytest.raises(KeyError):
                            getattr(store, method)(inv_id)
            for workflow in WORKFLOW_IDS:
                for key in ["a", "b"]:
                    assert store.get_workflow_data(workflow, key, "none") == model.data.get(
                        (workflow, key), "none"
                    )
                assert store.sub_invocation_ids(workflow) == list(model.subs.get(workflow, ()))
            assert store.workflow_types() == list(model.types.values())
            for workflow_type in ["T0", "T1"]:
                assert store.workflow_runs(workflow_type) == list(model.runs.get(workflow_type, {}).values())
            assert sorted(store.workflow_runs()) == sorted(
                r for runs in model.runs.values() for r in runs.values()
            )
            assert store.get_runner_contexts(["run-a", "x", "run-b"]) == [
                model.runners[r] for r in ["run-a", "run-b"] if r in model.runners
            ]
            assert sorted(store.match_runner_contexts("run")) == sorted(
                v for k, v in model.runners.items() if "run" in k
            )
            store._check()

    @invariant()
    def stats_match(self) -> None:
        model = self.model
        expected = {
            "invocations": len(model.rows),
            "finished": sum(model.finished(i) for i in model.ids()),
            "results": len(model.results),
            "exceptions": len(model.exceptions),
            "value_bytes": sum(
                len(v) for v in [*model.results.values(), *model.exceptions.values()] if isinstance(v, str)
            ),
            "workflows": len(model.relations[2]),
            "history_records": len(model.history),
            "runner_contexts": len(model.runners),
        }
        answers = [store.stats() for store in self.stores]
        for answer in answers:
            assert {key: answer[key] for key in expected} == expected
            assert answer["held"] <= answer["finished"]
        assert len({(a["held"], a["evictions"]) for a in answers}) == 1


def test_every_store_follows_the_model() -> None:
    modules = [module for module in STORE_MODULES.values() if module is not None]
    if REQUIRE_EXTENSIONS and len(modules) < len(STORE_MODULES):
        pytest.fail(f"PYNENC_FASTMEM_REQUIRE_EXTENSIONS is set but {COMPILED_STORE_MISSING}")

    class Machine(StoreMachine):
        pass

    Machine.modules = modules  # type: ignore[assignment]
    run_state_machine_as_test(
        Machine,
        settings=stateful_settings(EXAMPLES, steps=40),
    )
