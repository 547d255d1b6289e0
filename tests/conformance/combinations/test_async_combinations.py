"""pynenc's conformance tests from ``pynenc_tests.integration.combinations.test_async_combinations``, on FastMemStateBackend."""

from pynenc_tests.integration.combinations.test_async_combinations import *
