"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_invocations_timeline_multi_runner``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_invocations_timeline_multi_runner import *
