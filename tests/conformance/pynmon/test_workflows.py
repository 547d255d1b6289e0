"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_workflows``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_workflows import *
