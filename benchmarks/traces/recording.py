"""Record every public state-backend call a running pynenc app makes, and replay it without the app.

A trace is the list of calls (method name, positional and keyword arguments) in the order
pynenc made them, from every thread, pickled as one object and lzma-compressed: an object
pynenc passed to several calls stays one object, and the app the invocations belong to is
stored once (pynenc pickles an app by its configuration and re-imports the modules of its
tasks, so a replay needs those modules importable, not the app running). Calls a public
method makes on the backend itself (``add_history`` storing its runner context) are not
recorded again. A time-range query keeps its bounds relative to the moment it was made, so
a replay asks for "the last five seconds" of the records it wrote itself, and a call that
returns an iterator keeps how many items its caller took (a monitor's page takes the
first batch of ids only).

Replaying makes the same calls in the same order on a fresh backend, one thread, taking
as many items from each iterator as the app did, and times each method.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import lzma
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pynenc.state_backend.base_state_backend import BaseStateBackend

from .apps import with_runner

#: The public methods pynenc's runners, orchestrators, workflows and monitor call.
RECORDED = (
    "upsert_invocations",
    "get_invocation",
    "get_child_invocations",
    "get_invocations_by_parent_event",
    "add_histories",
    "add_history",
    "get_history",
    "set_result",
    "get_result",
    "set_exception",
    "get_exception",
    "set_workflow_data",
    "get_workflow_data",
    "store_app_info",
    "get_app_info",
    "store_workflow_run",
    "get_all_workflow_types",
    "get_all_workflow_runs",
    "get_workflow_runs",
    "store_workflow_sub_invocation",
    "get_workflow_sub_invocations",
    "iter_invocations_in_timerange",
    "iter_history_in_timerange",
    "get_matching_runner_contexts",
    "get_invocation_ids_by_workflow",
    "store_runner_context",
    "get_runner_context",
    "get_runner_contexts",
)
TIME_RANGES = ("iter_invocations_in_timerange", "iter_history_in_timerange")


@dataclass
class Call:
    """One recorded call; a time range's bounds are offsets from the moment of the call."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    #: how many items the caller took from the iterator the call returned (None: no iterator)
    taken: int | None = None


class _Counted:
    """An iterator a recorded call returned, counting on the call the items its caller takes."""

    def __init__(self, inner: Iterator[Any], call: Call) -> None:
        self.inner, self.call = inner, call
        call.taken = 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        item = next(self.inner)
        self.call.taken += 1  # type: ignore[operator]
        return item


@dataclass
class Trace:
    """The calls of one recorded app run, and what the app was."""

    shape: str
    calls: list[Call] = field(default_factory=list)

    def save(self, path: Path) -> int:
        """Write the trace compressed to ``path``; return its size in bytes."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with lzma.open(path, "wb", preset=6) as handle:
            pickle.dump(self, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return path.stat().st_size

    @staticmethod
    def load(path: Path) -> Trace:
        """Read a trace written by ``save``: new objects each time it is loaded."""
        with lzma.open(path, "rb") as handle:
            trace = pickle.load(handle)
        assert isinstance(trace, Trace)
        return trace


def _relative(moment: Any, now: datetime) -> Any:
    return moment - now if isinstance(moment, datetime) else moment


def record_calls(backend: BaseStateBackend, trace: Trace) -> None:
    """Make ``backend`` record each public call made on it into ``trace``, then carry it out.

    The recording wraps the instance's own methods, so whatever holds the backend (the
    app, its runner, a monitor) is recorded without knowing.
    """
    lock = threading.Lock()
    depth = threading.local()

    def wrap(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            outermost = getattr(depth, "value", 0) == 0
            if outermost:
                if name in TIME_RANGES:
                    now = datetime.now(UTC)
                    relative = {key: _relative(value, now) for key, value in kwargs.items()}
                    call = Call(name, tuple(_relative(arg, now) for arg in args), relative)
                else:
                    call = Call(name, args, kwargs)
                with lock:
                    trace.calls.append(call)
            depth.value = getattr(depth, "value", 0) + 1
            try:
                answer = method(*args, **kwargs)
            finally:
                depth.value -= 1
            return _Counted(answer, call) if outermost and isinstance(answer, Iterator) else answer

        return recorded

    for name in RECORDED:
        setattr(backend, name, wrap(name, getattr(backend, name)))


def _absolute(call: Call, now: datetime) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A time-range call's arguments with its offsets turned back into moments from ``now``."""

    def moment(value: Any) -> Any:
        return now + value if isinstance(value, timedelta) else value

    return tuple(moment(arg) for arg in call.args), {k: moment(v) for k, v in call.kwargs.items()}


@dataclass
class Replay:
    """What replaying a trace on one backend took: total and per method, in seconds."""

    total: float = 0.0
    per_method: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


def replay(trace: Trace, backend: BaseStateBackend) -> Replay:
    """Make the calls of ``trace`` on ``backend`` in order, timing each; errors are counted.

    A call pynenc made expecting an error (a missing result, an unknown invocation) raises
    here too, and is timed like the others.
    """
    # The rounds before left cyclic garbage (apps, backends, traces: half a million objects);
    # collected now, untimed, it cannot land on this round's calls as one long pause.
    gc.collect()
    result = Replay()
    clock = time.perf_counter
    for call in trace.calls:
        method = getattr(backend, call.method)
        if call.method in TIME_RANGES:
            args, kwargs = _absolute(call, datetime.now(UTC))
        else:
            args, kwargs = call.args, call.kwargs
        answer = None
        started = clock()
        try:
            answer = method(*args, **kwargs)
            if call.taken is not None:  # not isinstance(answer, Iterator): an ABC check, ~0.3 µs
                for _ in itertools.islice(answer, call.taken):
                    pass
        except Exception as error:  # noqa: BLE001 - pynenc expects some calls to raise
            result.errors[type(error).__name__] = result.errors.get(type(error).__name__, 0) + 1
        spent = clock() - started
        if call.taken is None and isinstance(answer, Iterator):
            raise TypeError(f"{call.method} returned an iterator where the recorded app got none")
        result.total += spent
        result.per_method[call.method] = result.per_method.get(call.method, 0.0) + spent
        result.calls[call.method] = result.calls.get(call.method, 0) + 1
    return result


#: The app shapes, one module each beside this one, and the scale that gives each >= 100k calls.
SHAPES = {"fanout": 8_000, "workflows": 6_000, "retries": 6_500, "monitor": 6_000}


def record_shape(shape: str, scale: int | None = None) -> Trace:
    """Run the app of ``shape`` at ``scale`` (its default if None) and return the trace of its calls."""
    module = importlib.import_module(f"{__package__}.{shape}")
    trace = Trace(shape)
    record_calls(module.app.state_backend, trace)
    with_runner(module.app, lambda: module.drive(SHAPES[shape] if scale is None else scale))
    return trace
