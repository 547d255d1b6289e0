"""pynenc's conformance tests from ``pynenc_tests.integration.combinations.test_app_combinations``, on FastMemStateBackend."""

from pynenc_tests.integration.combinations.test_app_combinations import *
