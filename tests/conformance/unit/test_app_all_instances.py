"""pynenc's conformance tests from ``pynenc_tests.unit.app.test_app_all_instances``, on FastMemStateBackend."""

from pynenc_tests.unit.app.test_app_all_instances import *
