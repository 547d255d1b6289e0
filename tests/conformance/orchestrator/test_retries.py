"""pynenc's conformance tests from ``pynenc_tests.integration.orchestrator.test_retries``, on FastMemStateBackend."""

from pynenc_tests.integration.orchestrator.test_retries import *
