"""pynenc's conformance tests from ``pynenc_tests.integration.orchestrator.test_invocation_running_concurrency``, on FastMemStateBackend."""

from pynenc_tests.integration.orchestrator.test_invocation_running_concurrency import *
