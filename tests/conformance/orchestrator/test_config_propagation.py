"""pynenc's conformance tests from ``pynenc_tests.integration.orchestrator.test_config_propagation``, on FastMemStateBackend."""

from pynenc_tests.integration.orchestrator.test_config_propagation import *
