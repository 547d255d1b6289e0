"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_sub_workflows``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_sub_workflows import *
