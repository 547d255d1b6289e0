"""The task fixtures of pynenc's orchestrator integration suite."""

from pynenc_tests.integration.orchestrator.conftest import *
