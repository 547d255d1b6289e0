"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_calls``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_calls import *
