"""pynenc's conformance tests from ``pynenc_tests.integration.orchestrator.test_invocation_registration_concurrency``, on FastMemStateBackend."""

from pynenc_tests.integration.orchestrator.test_invocation_registration_concurrency import *
