"""pynenc's conformance tests from ``pynenc_tests.integration.broker.test_subclasses_routing``, on FastMemStateBackend."""

from pynenc_tests.integration.broker.test_subclasses_routing import *
