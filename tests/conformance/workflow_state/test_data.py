"""pynenc's conformance tests from ``pynenc_tests.integration.workflow.state.test_data``, on FastMemStateBackend."""

from pynenc_tests.integration.workflow.state.test_data import *
