"""How pynenc finds FastMemStateBackend and FastMemOrchestrator: entry point, config, environment, builder."""

import importlib.metadata
from pathlib import Path

import pytest
from pynenc import Pynenc, PynencBuilder
from pynenc.broker import MemBroker

from pynenc_fastmem import FastMemOrchestrator, FastMemStateBackend
from pynenc_fastmem.builder import DEFAULT_PACE_SEC, FastMemBuilderPlugin, validate_single_process_runner


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


def test_config_values_select_the_orchestrator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYNENC__ORCHESTRATOR_CLS", raising=False)
    app = Pynenc(config_values={"app_id": "cfg-orchestrator", "orchestrator_cls": "FastMemOrchestrator"})
    assert isinstance(app.orchestrator, FastMemOrchestrator)


def test_config_file_selects_the_orchestrator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYNENC__ORCHESTRATOR_CLS", raising=False)
    config = tmp_path / "pynenc.yaml"
    config.write_text("orchestrator_cls: FastMemOrchestrator\n")
    app = Pynenc(config_values={"app_id": "cfg-file-orchestrator"}, config_filepath=str(config))
    assert isinstance(app.orchestrator, FastMemOrchestrator)


def test_environment_variable_selects_the_orchestrator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYNENC__ORCHESTRATOR_CLS", "FastMemOrchestrator")
    app = Pynenc(config_values={"app_id": "env-orchestrator", "orchestrator_cls": "MemOrchestrator"})
    assert isinstance(app.orchestrator, FastMemOrchestrator)


def test_the_orchestrator_shares_the_backends_store() -> None:
    app = PynencBuilder().fast_memory().app_id("shared-store").build()
    assert isinstance(app.orchestrator, FastMemOrchestrator)
    assert app.orchestrator._orchestration is app.state_backend._store.orchestration


def test_environment_variable_selects_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYNENC__STATE_BACKEND_CLS", "FastMemStateBackend")
    app = Pynenc(config_values={"app_id": "cfg-env", "state_backend_cls": "MemStateBackend"})
    assert isinstance(app.state_backend, FastMemStateBackend)


def test_fast_memory_builder_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYNENC__STATE_BACKEND_CLS", raising=False)
    monkeypatch.delenv("PYNENC__ORCHESTRATOR_CLS", raising=False)
    app = PynencBuilder().fast_memory().thread_runner().app_id("builder").build()
    assert isinstance(app.state_backend, FastMemStateBackend)
    assert isinstance(app.broker, MemBroker)
    assert isinstance(app.orchestrator, FastMemOrchestrator)
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


PACE = ("runner_loop_sleep_time_sec", "invocation_wait_results_sleep_time_sec")


def _pace(app: Pynenc) -> tuple[float, float]:
    conf = app.runner.conf
    return conf.runner_loop_sleep_time_sec, conf.invocation_wait_results_sleep_time_sec


@pytest.fixture
def no_pace_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No pace setting in the environment, and a working directory without a pyproject.toml."""
    for setting in PACE:
        monkeypatch.delenv(f"PYNENC__{setting.upper()}", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_fast_memory_sets_an_in_process_pace(no_pace_settings: Path) -> None:
    app = PynencBuilder().fast_memory().thread_runner().app_id("pace-default").build()
    assert _pace(app) == (DEFAULT_PACE_SEC, DEFAULT_PACE_SEC) == (0.005, 0.005)
    plain = PynencBuilder().memory().thread_runner().app_id("pace-pynenc").build()
    assert _pace(plain) == (0.1, 0.1)  # pynenc's own, which fast_memory() replaces


@pytest.mark.parametrize("order", ["before", "after"])
def test_runner_tuning_wins_whether_called_before_or_after(no_pace_settings: Path, order: str) -> None:
    builder = PynencBuilder().thread_runner().app_id(f"pace-tuned-{order}")
    if order == "before":
        builder = builder.runner_tuning(0.05, 0.07).fast_memory()
    else:
        builder = builder.fast_memory().runner_tuning(0.05, 0.07)
    assert _pace(builder.build()) == (0.05, 0.07)


def test_the_environment_wins(no_pace_settings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYNENC__RUNNER_LOOP_SLEEP_TIME_SEC", "0.3")
    app = PynencBuilder().fast_memory().thread_runner().app_id("pace-env").build()
    assert _pace(app) == (0.3, DEFAULT_PACE_SEC)


def test_pyproject_toml_wins(no_pace_settings: Path) -> None:
    (no_pace_settings / "pyproject.toml").write_text(
        "[tool.pynenc]\ninvocation_wait_results_sleep_time_sec = 0.2\n"
    )
    app = PynencBuilder().fast_memory().thread_runner().app_id("pace-pyproject").build()
    assert _pace(app) == (DEFAULT_PACE_SEC, 0.2)
