"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_family_tree_deep``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_family_tree_deep import *
