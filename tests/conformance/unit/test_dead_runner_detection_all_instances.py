"""pynenc's conformance tests from ``pynenc_tests.unit.orchestrator.test_dead_runner_detection_all_instances``, on FastMemStateBackend."""

from pynenc_tests.unit.orchestrator.test_dead_runner_detection_all_instances import *
