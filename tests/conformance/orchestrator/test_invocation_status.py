"""pynenc's conformance tests from ``pynenc_tests.integration.orchestrator.test_invocation_status``, on FastMemStateBackend."""

from pynenc_tests.integration.orchestrator.test_invocation_status import *
