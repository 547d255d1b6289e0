"""pynenc's conformance tests from ``pynenc_tests.integration.combinations.test_status_owner_coherence``, on FastMemStateBackend."""

from pynenc_tests.integration.combinations.test_status_owner_coherence import *
