"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_invocations_timeline_complex``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_invocations_timeline_complex import *
