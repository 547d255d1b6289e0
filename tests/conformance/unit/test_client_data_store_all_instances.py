"""pynenc's conformance tests from ``pynenc_tests.unit.client_data_store.test_client_data_store_all_instances``, on FastMemStateBackend."""

from pynenc_tests.unit.client_data_store.test_client_data_store_all_instances import *
