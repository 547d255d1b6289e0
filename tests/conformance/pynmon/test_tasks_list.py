"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_tasks_list``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_tasks_list import *
