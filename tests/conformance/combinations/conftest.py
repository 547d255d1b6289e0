"""pynenc's combinations fixtures, with every combination on FastMemStateBackend.

pynenc pairs each runner with one serializer. Here each runner that keeps tasks in
this process runs with every serializer; the runners that execute tasks in child
processes need a state backend shared between processes, so their combinations
are skipped with that reason.
"""

import pytest
from _pytest.monkeypatch import MonkeyPatch
from pynenc import Pynenc
from pynenc.serializer.base_serializer import BaseSerializer
from pynenc.util.subclasses import get_all_subclasses
from pynenc_tests import util
from pynenc_tests.integration.combinations.conftest import *
from pynenc_tests.integration.combinations.conftest import (
    MEM_CLASSES,
    AppComponents,
    BackendFamily,
)
from pynenc_tests.util.subclasses import get_runner_subclasses

from pynenc_fastmem import FastMemStateBackend


def fastmem_combinations() -> list:
    """The combinations: every serializer with each in-process runner, one for each other runner."""
    runners = sorted(get_runner_subclasses(), key=lambda cls: cls.__name__)
    serializers = sorted(get_all_subclasses(BaseSerializer), key=lambda cls: cls.__name__)
    client_data_store, broker, orchestrator, _, trigger = MEM_CLASSES
    params = []
    for index, runner_cls in enumerate(runners):
        in_process = runner_cls.mem_compatible()
        for serializer_cls in serializers if in_process else [serializers[index % len(serializers)]]:
            components = AppComponents(
                client_data_store,
                broker,
                orchestrator,
                FastMemStateBackend,
                trigger,
                serializer_cls,
                runner_cls,
                BackendFamily.MEM,
            )
            marks = []
            if not in_process:
                reason = f"{runner_cls.__name__} runs tasks in child processes"
                marks.append(
                    pytest.mark.skip(reason=f"needs a state backend shared between processes: {reason}")
                )
            params.append(pytest.param(components, marks=marks, id=components.combination_id))
    return params


@pytest.fixture(params=fastmem_combinations())
def app_combination_instance(request: pytest.FixtureRequest, monkeypatch: MonkeyPatch) -> Pynenc:
    """The app of one combination, configured through environment variables as pynenc does."""
    components: AppComponents = request.param
    test_module, test_name = util.get_module_name(request)
    settings = {
        "APP_ID": f"{test_module}.{test_name}",
        "CLIENT_DATA_STORE_CLS": components.client_data_store.__name__,
        "ORCHESTRATOR_CLS": components.orchestrator.__name__,
        "BROKER_CLS": components.broker.__name__,
        "SERIALIZER_CLS": components.serializer.__name__,
        "STATE_BACKEND_CLS": components.state_backend.__name__,
        "TRIGGER_CLS": components.trigger.__name__,
        "RUNNER_CLS": components.runner.__name__,
        "LOGGING_LEVEL": "debug",
        "PRINT_ARGUMENTS": "False",
        "RUNNER_LOOP_SLEEP_TIME_SEC": "0.01",
        "INVOCATION_WAIT_RESULTS_SLEEP_TIME_SEC": "0.01",
    }
    for name, value in settings.items():
        monkeypatch.setenv(f"PYNENC__{name}", value)
    return Pynenc()
