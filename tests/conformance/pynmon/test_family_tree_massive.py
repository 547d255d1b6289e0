"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_family_tree_massive``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_family_tree_massive import *
