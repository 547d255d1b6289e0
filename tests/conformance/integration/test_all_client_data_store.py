"""pynenc's conformance tests from ``pynenc_tests.integration.test_client_data_store.test_all_client_data_store``, on FastMemStateBackend."""

from pynenc_tests.integration.test_client_data_store.test_all_client_data_store import *
