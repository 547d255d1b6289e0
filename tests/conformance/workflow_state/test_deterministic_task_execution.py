"""pynenc's conformance tests from ``pynenc_tests.integration.workflow.state.test_deterministic_task_execution``, on FastMemStateBackend."""

from pynenc_tests.integration.workflow.state.test_deterministic_task_execution import *
