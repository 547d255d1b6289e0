"""pynenc's conformance tests from ``pynenc_tests.integration.pynmon.test_workflow_runs``, on FastMemStateBackend."""

from pynenc_tests.integration.pynmon.test_workflow_runs import *
