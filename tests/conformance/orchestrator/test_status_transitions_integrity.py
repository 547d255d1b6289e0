"""pynenc's conformance tests from ``pynenc_tests.integration.orchestrator.test_status_transitions_integrity``, on FastMemStateBackend."""

from pynenc_tests.integration.orchestrator.test_status_transitions_integrity import *
