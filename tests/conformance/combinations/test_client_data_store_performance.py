"""pynenc's conformance tests from ``pynenc_tests.integration.combinations.test_client_data_store_performance``, on FastMemStateBackend."""

from pynenc_tests.integration.combinations.test_client_data_store_performance import *
