"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_log_explorer_formats``, on FastMemStateBackend."""

from collections.abc import Iterator

import pytest
from pynenc import Pynenc
from pynenc_tests.integration.pynmon import test_log_explorer_formats as tests
from pynenc_tests.integration.pynmon.test_log_explorer_formats import *

# pynenc builds an app's orchestrator, broker, trigger, client data store and serializer on
# first use, with no lock: two threads that first touch one together each build one, and the
# app keeps the last. These tests start a runner thread as they call the first task of a fresh
# app, so the runner can look for the invocation in an orchestrator the call did not write to
# (CI on 3.14t: KeyError in MemOrchestrator.get_invocation_status_record, then a 300-s
# timeout). Two threads meeting at a barrier built two orchestrators in 57 of 100 rounds on
# 3.14t (0 on 3.13), and as often for the others. Those components are pynenc's, whatever the
# state backend, so they are built here before each test. The state backend is left for pynenc
# to build: FastMemStateBackend's backends of one app share one store (state_backend.app_store).
PYNENC_COMPONENTS = ("orchestrator", "broker", "trigger", "client_data_store", "serializer")


@pytest.fixture(autouse=True)
def pynenc_components_built_before_the_runner_starts() -> Iterator[None]:
    for app in [value for value in vars(tests).values() if isinstance(value, Pynenc)]:
        for component in PYNENC_COMPONENTS:
            getattr(app, component)
    yield
