"""pynenc's conformance tests from ``pynenc_tests.integration.workflow.state.test_deterministic``, on FastMemStateBackend."""

from pynenc_tests.integration.workflow.state.test_deterministic import *
