"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_log_explorer_formats``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_log_explorer_formats import *
