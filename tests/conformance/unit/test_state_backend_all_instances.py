"""pynenc's conformance tests from ``pynenc_tests.unit.state_backend.test_state_backend_all_instances``, on FastMemStateBackend."""

from pynenc_tests.unit.state_backend.test_state_backend_all_instances import *
