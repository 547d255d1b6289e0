"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_invocations_pagination``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_invocations_pagination import *
