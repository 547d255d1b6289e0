"""pynenc's conformance tests from ``pynenc_tests.integration.state_backend.test_state_backend``, on FastMemStateBackend."""

from pynenc_tests.integration.state_backend.test_state_backend import *
