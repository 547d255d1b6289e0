"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_invocation``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_invocation import *
