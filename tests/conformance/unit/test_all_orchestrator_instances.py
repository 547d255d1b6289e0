"""pynenc's conformance tests from ``pynenc_tests.unit.orchestrator.test_all_orchestrator_instances``, on FastMemStateBackend."""

from pynenc_tests.unit.orchestrator.test_all_orchestrator_instances import *
