"""pynenc's conformance tests from ``pynenc_tests.unit.trigger.test_trigger_all_instances``, on FastMemStateBackend."""

from pynenc_tests.unit.trigger.test_trigger_all_instances import *
