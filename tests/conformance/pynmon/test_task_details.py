"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_task_details``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_task_details import *
