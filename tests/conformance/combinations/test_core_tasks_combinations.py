"""pynenc's conformance tests from ``pynenc_tests.integration.combinations.test_core_tasks_combinations``, on FastMemStateBackend."""

from pynenc_tests.integration.combinations.test_core_tasks_combinations import *
