"""pynenc's conformance tests from ``pynenc_tests.integration.app_id_isolation.test_app_id_isolation``, on FastMemStateBackend."""

from pynenc_tests.integration.app_id_isolation.test_app_id_isolation import *
