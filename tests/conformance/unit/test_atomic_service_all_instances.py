"""pynenc's conformance tests from ``pynenc_tests.unit.orchestrator.test_atomic_service_all_instances``, on FastMemStateBackend."""

from pynenc_tests.unit.orchestrator.test_atomic_service_all_instances import *
