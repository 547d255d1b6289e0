"""pynenc's conformance tests from ``pynenc_tests.integration.orchestrator.test_get_invocations``, on FastMemStateBackend."""

from pynenc_tests.integration.orchestrator.test_get_invocations import *
