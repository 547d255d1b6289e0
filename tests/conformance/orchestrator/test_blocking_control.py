"""pynenc's conformance tests from ``pynenc_tests.integration.orchestrator.test_blocking_control``, on FastMemStateBackend."""

from pynenc_tests.integration.orchestrator.test_blocking_control import *
