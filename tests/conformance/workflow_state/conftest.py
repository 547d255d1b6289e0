"""The app and task fixtures of pynenc's workflow-state suite."""

from pynenc_tests.integration.workflow.state.conftest import *
