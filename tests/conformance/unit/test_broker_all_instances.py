"""pynenc's conformance tests from ``pynenc_tests.unit.broker.test_broker_all_instances``, on FastMemStateBackend."""

from pynenc_tests.unit.broker.test_broker_all_instances import *
