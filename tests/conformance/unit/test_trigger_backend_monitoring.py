"""pynenc's conformance tests from ``pynenc_tests.unit.trigger.test_trigger_backend_monitoring``, on FastMemStateBackend."""

from pynenc_tests.unit.trigger.test_trigger_backend_monitoring import *
