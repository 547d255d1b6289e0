"""pynenc's conformance tests from ``pynenc_tests.integration.combinations.test_broker_queue_flexibility``, on FastMemStateBackend."""

from pynenc_tests.integration.combinations.test_broker_queue_flexibility import *
