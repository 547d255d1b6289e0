"""The task fixtures of pynenc's orchestrator integration suite, and its pending-status tests unskipped.

``test_get_invocations.py``'s two pending-status tests skip themselves unless
``app.orchestrator`` is a ``MemOrchestrator``: the module's name is pointed at
FastMemOrchestrator while they run, so they run, unchanged, against ours.
"""

import pytest
from pynenc_tests.integration.orchestrator import test_get_invocations
from pynenc_tests.integration.orchestrator.conftest import *

from pynenc_fastmem import FastMemOrchestrator


@pytest.fixture(autouse=True)
def _pending_status_tests_run_on_fastmem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_get_invocations, "MemOrchestrator", FastMemOrchestrator)
