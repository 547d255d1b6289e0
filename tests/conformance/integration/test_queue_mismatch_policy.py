"""pynenc's conformance tests from ``pynenc_tests.integration.broker.test_queue_mismatch_policy``, on FastMemStateBackend."""

from pynenc_tests.integration.broker.test_queue_mismatch_policy import *
