"""pynenc's conformance tests from ``pynenc_tests.integration.combinations.test_parallelize_performance``, on FastMemStateBackend."""

from pynenc_tests.integration.combinations.test_parallelize_performance import *
