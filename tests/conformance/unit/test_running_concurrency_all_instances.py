"""pynenc's conformance tests from ``pynenc_tests.unit.orchestrator.test_running_concurrency_all_instances``, on FastMemStateBackend."""

from pynenc_tests.unit.orchestrator.test_running_concurrency_all_instances import *
