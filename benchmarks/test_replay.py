"""Replay recorded traces of real pynenc apps on every backend: what users' traffic costs.

Each trace (``benchmarks/traces/*.trace.xz``, recorded from the app modules beside it by
``python -m benchmarks.traces record``) is every public state-backend call a running app
made, in order. A round loads the trace afresh (new objects, as pynenc would pass them),
builds a fresh backend and makes every call on one thread; the figure is the backend's
time over all calls, and ``extra_info`` keeps the time and count of each method, so the
report can say which methods cost what against MemStateBackend.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_backend, ratio_info
from .traces.recording import SHAPES, Replay, Trace, replay

TRACES = Path(__file__).with_name("traces")
BACKENDS = ["mem", "fastmem", "fastmem-live", "fastmem-python", "sqlite"]


def trace_path(shape: str) -> Path:
    """The committed trace of ``shape``."""
    return TRACES / f"{shape}.trace.xz"


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_replay(benchmark: Any, shape: str, name: str) -> None:
    path = trace_path(shape)
    if not path.exists():
        pytest.fail(f"{path} is missing: record it with `python -m benchmarks.traces record {shape}`")
    calls = len(Trace.load(path).calls)
    benchmark.group = f"replay: {shape} ({calls:,} calls)"
    replays: list[Replay] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (Trace.load(path), make_backend(name)), {}

    benchmark.pedantic(lambda trace, backend: replays.append(replay(trace, backend)), setup=setup, rounds=5)
    # Each method's median over the rounds: one round's collection pause would otherwise
    # land on whichever method it interrupted.
    ratio_info(
        benchmark,
        name,
        replay_seconds=statistics.median(run.total for run in replays),
        per_method={
            method: statistics.median(run.per_method[method] for run in replays)
            for method in replays[0].per_method
        },
        calls=replays[0].calls,
        errors=replays[0].errors,
    )
