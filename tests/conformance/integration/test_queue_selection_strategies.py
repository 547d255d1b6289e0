"""pynenc's conformance tests from ``pynenc_tests.integration.broker.test_queue_selection_strategies``, on FastMemStateBackend."""

from pynenc_tests.integration.broker.test_queue_selection_strategies import *
