"""pynenc's conformance tests from ``pynenc_tests.integration.orchestrator.test_atomic_service_start_atomicity``, on FastMemStateBackend."""

from pynenc_tests.integration.orchestrator.test_atomic_service_start_atomicity import *
