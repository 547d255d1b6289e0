"""Skips, with their reasons, the conformance tests that need state shared between processes.

FastMemStateBackend keeps its state in the process that owns it. A test whose
module-level app runs tasks in child processes, or that starts runners in child
processes itself, needs a backend shared between processes (Redis, Mongo,
SQLite); everything else runs.
"""

import pytest
from pynenc import Pynenc

from pynenc_fastmem.builder import runs_tasks_in_other_processes

CROSS_PROCESS_TESTS = {
    "test_multi_runner_timeline": "starts ProcessRunner, MultiThreadRunner and "
    "PersistentProcessRunner runners against one app",
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

    A module-level app that did not pick up FastMemStateBackend would test
    another backend under our name, so collection stops with an error instead.
    """
    for item in items:
        reason = _cross_process_reason(item)
        if reason is not None:
            item.add_marker(
                pytest.mark.skip(reason=f"needs a state backend shared between processes: {reason}")
            )
            continue
        app = getattr(getattr(item, "module", None), "app", None)
        if isinstance(app, Pynenc) and app.conf.state_backend_cls != "FastMemStateBackend":
            raise pytest.UsageError(f"{item.nodeid}: its app uses {app.conf.state_backend_cls}")
