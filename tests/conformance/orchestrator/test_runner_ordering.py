"""pynenc's conformance tests from ``pynenc_tests.integration.orchestrator.test_runner_ordering``, on FastMemStateBackend."""

from pynenc_tests.integration.orchestrator.test_runner_ordering import *
