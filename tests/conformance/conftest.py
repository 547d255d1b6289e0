"""Skips, with their reasons, the conformance tests that need state shared between processes.

FastMemStateBackend keeps its state in the process that owns it. A test whose
module-level app runs tasks in child processes, or that starts runners in child
processes itself, needs a backend shared between processes (Redis, Mongo,
SQLite); everything else runs.
"""

import sysconfig

import pytest
from pynenc import Pynenc

from pynenc_fastmem.config import runs_tasks_in_other_processes

CROSS_PROCESS_TESTS = {
    "test_multi_runner_timeline": "starts ProcessRunner, MultiThreadRunner and "
    "PersistentProcessRunner runners against one app",
}


# A test of pynenc's that hangs on free-threaded CPython whatever the state backend and
# orchestrator: with pynenc's own MemStateBackend and MemOrchestrator, 3 of 10 runs of its
# [Mem Thread JsonPickle] case hung on 3.14t here (a child invocation a parent awaits is never
# finished); on the FastMem stack, 9 of 10 runs of its three ThreadRunner cases had one case hang
# (pytest-timeout). It passes on builds with a GIL, where it runs.
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
FREE_THREADED_HANGS = {
    "test_async_task_dependency": "hangs on free-threaded CPython with pynenc's own MemStateBackend "
    "and MemOrchestrator too (a child invocation its parent awaits is never finished)",
}


def _cross_process_reason(item: pytest.Item) -> str | None:
    name = getattr(item, "originalname", item.name)
    if name in CROSS_PROCESS_TESTS:
        return CROSS_PROCESS_TESTS[name]
    app = getattr(getattr(item, "module", None), "app", None)
    if isinstance(app, Pynenc):
        runner_cls = app.conf.runner_cls
        if runs_tasks_in_other_processes(runner_cls):
            return f"its app runs tasks in child processes ({runner_cls})"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the tests that need state shared between processes; check the others' apps.

    A module-level app that did not pick up FastMemStateBackend and FastMemOrchestrator
    would test another component under our name, so collection stops with an error instead.
    """
    for item in items:
        name = getattr(item, "originalname", item.name)
        if FREE_THREADED and name in FREE_THREADED_HANGS:
            item.add_marker(pytest.mark.skip(reason=FREE_THREADED_HANGS[name]))
            continue
        reason = _cross_process_reason(item)
        if reason is not None:
            item.add_marker(
                pytest.mark.skip(reason=f"needs a state backend shared between processes: {reason}")
            )
            continue
        app = getattr(getattr(item, "module", None), "app", None)
        if isinstance(app, Pynenc) and app.conf.state_backend_cls != "FastMemStateBackend":
            raise pytest.UsageError(f"{item.nodeid}: its app uses {app.conf.state_backend_cls}")
        if isinstance(app, Pynenc) and app.conf.orchestrator_cls != "FastMemOrchestrator":
            raise pytest.UsageError(f"{item.nodeid}: its app uses {app.conf.orchestrator_cls}")
