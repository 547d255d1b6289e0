"""pynenc's conformance tests from ``pynenc_tests.unit.trigger.test_trigger_auto_purge``, on FastMemStateBackend."""

from pynenc_tests.unit.trigger.test_trigger_auto_purge import *
