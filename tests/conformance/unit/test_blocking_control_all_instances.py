"""pynenc's conformance tests from ``pynenc_tests.unit.orchestrator.test_blocking_control_all_instances``, on FastMemStateBackend."""

from pynenc_tests.unit.orchestrator.test_blocking_control_all_instances import *
