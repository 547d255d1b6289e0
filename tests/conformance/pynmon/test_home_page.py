"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_home_page``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_home_page import *
