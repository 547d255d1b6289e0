"""pynenc's conformance tests from ``pynenc_tests.integration.orchestrator.test_pending_status``, on FastMemStateBackend."""

from pynenc_tests.integration.orchestrator.test_pending_status import *
