"""Helpers shared by the test modules: the store implementations, threads, data, Hypothesis settings.

Imported as ``from ..support import ...``; fixtures stay in ``conftest.py``.
"""

import importlib
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, settings
from pynenc import Pynenc, PynencBuilder
from pynenc.identifiers.call_id import CallId
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord
from pynenc.models.call_dto import CallDTO
from pynenc.models.invocation_dto import InvocationDTO
from pynenc.state_backend.base_state_backend import InvocationHistory

from pynenc_fastmem import _store, _store_py

REQUIRE_EXTENSIONS = os.environ.get("PYNENC_FASTMEM_REQUIRE_EXTENSIONS", "") not in ("", "0")


def _compiled_store() -> tuple[ModuleType | None, str]:
    """The compiled store module, or None and why it is not there."""
    if _store.NO_EXTENSIONS:
        return None, "PYNENC_FASTMEM_NO_EXTENSIONS is set: the compiled store is not used"
    try:
        return importlib.import_module("pynenc_fastmem._store_c"), ""
    except ImportError as error:
        return None, f"the compiled store is not built ({error})"


COMPILED_STORE, COMPILED_STORE_MISSING = _compiled_store()
#: Every store implementation, by name: the compiled one is None where it is missing (see above).
STORE_MODULES: dict[str, ModuleType | None] = {"python": _store_py, "cython": COMPILED_STORE}

#: The statuses of an invocation retried once, as pynenc writes them.
LIFECYCLE = [
    InvocationStatus.REGISTERED,
    InvocationStatus.PENDING,
    InvocationStatus.RUNNING,
    InvocationStatus.RETRY,
    InvocationStatus.RUNNING,
    InvocationStatus.SUCCESS,
]


def flatten(batches: Iterable[Iterable[Any]]) -> list[Any]:
    """The items of a range query's batches, in order."""
    return [item for batch in batches for item in batch]


def populate_every_kind(store: Any) -> Any:
    """``store`` with one item of every kind it holds, related to each other."""
    store.upsert_invocations([("a", "v", "p", "e", "w", "T"), ("b", "v2", "p", None, None, None)])
    store.add_histories(["a", "b"], 5, "r5")
    store.set_result("a", "r")
    store.set_exception("a", "x")
    store.set_workflow_data("w", "k", 1)
    store.add_workflow_run("T", "t", "w", "run")
    store.add_sub_invocation("w", "a")
    store.set_runner_context("r", "ctx")
    return store


@contextmanager
def switching_threads_often() -> Iterator[None]:
    """Have the interpreter switch threads as often as it can (``sys.setswitchinterval(1e-6)``)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def run_threads(targets: Iterable[Callable[[], object]]) -> list[BaseException]:
    """Run each target in a thread of its own, switching often; return what they raised."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], object]) -> None:
        try:
            target()
        except BaseException as error:  # noqa: BLE001 - the caller asserts there were none
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(target,)) for target in targets]
    with switching_threads_often():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return errors


def stateful_settings(examples: int, steps: int) -> settings:
    """Hypothesis settings for a state machine: no deadline, slow examples allowed."""
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def invocation_pair(invocation_id: str) -> tuple[InvocationDTO, CallDTO]:
    """The DTOs pynenc stores for an invocation of a task in this module, one argument."""
    call_id = CallId(task_id=TaskId(__name__, "task"), args_id=f"args-{invocation_id}")
    return (
        InvocationDTO(invocation_id=invocation_id, call_id=call_id, workflow=None, parent_invocation_id=None),
        CallDTO(call_id=call_id, serialized_arguments={"x": "1"}),
    )


def history_record(invocation_id: str, at: datetime, status: InvocationStatus) -> InvocationHistory:
    """A pynenc history record stamped ``at``."""
    record = InvocationHistory(
        invocation_id=invocation_id,
        status_record=InvocationStatusRecord(status=status),
        runner_context_id="r",
    )
    record._timestamp = at
    return record


def fast_app(app_id: str, max_threads: int = 4, **fast_memory: Any) -> Pynenc:
    """An app on FastMemStateBackend (``fast_memory``'s settings) with a quick ThreadRunner."""
    return (
        PynencBuilder()
        .fast_memory(**fast_memory)
        .thread_runner(min_threads=2, max_threads=max_threads)
        .runner_tuning(runner_loop_sleep_time_sec=0.001, invocation_wait_results_sleep_time_sec=0.001)
        .logging_level("error")
        .app_id(app_id)
        .build()
    )


def evict_due(app: Pynenc) -> None:
    """Wait out ``app``'s eviction grace, then evict everything due, as later final writes would."""
    backend = app.state_backend
    time.sleep(backend.conf.eviction_grace_seconds)
    while backend.evict(1000):
        pass


@contextmanager
def running(app: Pynenc) -> Iterator[Pynenc]:
    """``app`` purged, its runner running in a thread of this process until the block ends."""
    app.purge()
    # pynenc makes the app's logger on first use, which would be the runner thread's first log
    # line, while the test's next phase begins. pytest 9 iterates logging's dict of loggers,
    # without logging's lock, as each phase begins: on 3.14t a logger made meanwhile raised
    # "dictionary changed size during iteration" there (CI, twice; 34 of 50 rounds ad hoc).
    _ = app.logger
    warnings.filterwarnings("ignore", "Running in a secondary thread", UserWarning)
    runner = app.runner
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    # The runner sets `running` in its thread as it starts: a stop made before that would be
    # undone, and the runner would run on into later tests (CI on 3.14t: it allocated while
    # test_soak measured memory).
    deadline = time.monotonic() + 5
    while not runner.running:
        assert thread.is_alive() and time.monotonic() < deadline, "the runner did not start"
        time.sleep(0.001)
    try:
        yield app
    finally:
        runner.stop_runner_loop()
        thread.join(timeout=5)
    assert not thread.is_alive(), "the runner did not stop"
