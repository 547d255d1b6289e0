"""How pynenc finds FastMemStateBackend: entry point, config, environment, builder."""

import importlib.metadata
from pathlib import Path

import pytest
from pynenc import Pynenc, PynencBuilder
from pynenc.broker import MemBroker
from pynenc.orchestrator import MemOrchestrator

from pynenc_fastmem import FastMemStateBackend
from pynenc_fastmem.builder import FastMemBuilderPlugin, validate_single_process_runner


def test_entry_point_names_the_builder_plugin() -> None:
    entry_points = importlib.metadata.entry_points(group="pynenc.plugins")
    assert [ep.load() for ep in entry_points if ep.name == "fastmem"] == [FastMemBuilderPlugin]


def test_config_values_select_it() -> None:
    app = Pynenc(config_values={"app_id": "cfg-values", "state_backend_cls": "FastMemStateBackend"})
    assert isinstance(app.state_backend, FastMemStateBackend)


def test_config_file_selects_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYNENC__STATE_BACKEND_CLS", raising=False)
    config = tmp_path / "pynenc.yaml"
    config.write_text("state_backend_cls: FastMemStateBackend\n")
    app = Pynenc(config_values={"app_id": "cfg-file"}, config_filepath=str(config))
    assert isinstance(app.state_backend, FastMemStateBackend)


def test_environment_variable_selects_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYNENC__STATE_BACKEND_CLS", "FastMemStateBackend")
    app = Pynenc(config_values={"app_id": "cfg-env", "state_backend_cls": "MemStateBackend"})
    assert isinstance(app.state_backend, FastMemStateBackend)


def test_fast_memory_builder_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYNENC__STATE_BACKEND_CLS", raising=False)
    app = PynencBuilder().fast_memory().thread_runner().app_id("builder").build()
    assert isinstance(app.state_backend, FastMemStateBackend)
    assert isinstance(app.broker, MemBroker)
    assert isinstance(app.orchestrator, MemOrchestrator)
    assert app.conf.client_data_store_cls == "MemClientDataStore"
    assert app.conf.trigger_cls == "MemTrigger"


@pytest.mark.parametrize("runner", ["ProcessRunner", "PersistentProcessRunner", "MultiThreadRunner"])
def test_process_based_runners_are_refused(runner: str) -> None:
    with pytest.raises(ValueError, match=runner):
        validate_single_process_runner({"state_backend_cls": "FastMemStateBackend", "runner_cls": runner})
    builder = PynencBuilder().sqlite()
    builder._config.update(state_backend_cls="FastMemStateBackend", runner_cls=runner)
    with pytest.raises(ValueError, match="keeps its state in this process"):
        builder.build()


@pytest.mark.parametrize("runner", ["ThreadRunner", "DummyRunner", None])
def test_in_process_runners_are_accepted(runner: str | None) -> None:
    validate_single_process_runner({"state_backend_cls": "FastMemStateBackend", "runner_cls": runner})


def test_other_backends_are_not_checked() -> None:
    validate_single_process_runner({"state_backend_cls": "SQLiteStateBackend", "runner_cls": "ProcessRunner"})
