"""pynenc's conformance tests from ``pynenc_tests.unit.app_id_isolation.test_app_id_isolation_all_instances``, on FastMemStateBackend."""

from pynenc_tests.unit.app_id_isolation.test_app_id_isolation_all_instances import *
