"""PynencBuilder plugin: ``.fast_memory()`` and the check that keeps the store in one process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import ORCHESTRATOR_CLS, STATE_BACKEND_CLS, check_single_process_runner

if TYPE_CHECKING:
    from pynenc.builder import PynencBuilder


#: ``fast_memory()``'s pace: the runner's sleep between looks for work and a caller's sleep
#: between looks for a result, in seconds. pynenc's defaults (0.1 s) are made for runners in
#: other processes; in one process they cap an app at about 10 tasks a second. The value is
#: chosen from ``benchmarks/test_pace.py`` (quick start time against a waiting runner's CPU,
#: see docs/performance.md).
DEFAULT_PACE_SEC = 0.005
#: The pynenc settings ``fast_memory()`` gives DEFAULT_PACE_SEC unless the user set them.
PACE_SETTINGS = ("runner_loop_sleep_time_sec", "invocation_wait_results_sleep_time_sec")


class FastMemBuilderPlugin:
    """Entry point of the ``pynenc.plugins`` group: registers the builder method and validator."""

    @staticmethod
    def register_builder_methods(builder_class: type[PynencBuilder]) -> None:
        """Add ``fast_memory`` to ``builder_class`` and validate configurations that use it."""
        builder_class.register_plugin_method("fast_memory", fast_memory)
        builder_class.register_plugin_validator(validate_single_process_runner)


def fast_memory(
    builder: PynencBuilder,
    retention_seconds: float | None = None,
    max_finished_invocations: int | None = None,
    live_invocations: bool | None = None,
    eviction_grace_seconds: float | None = None,
) -> PynencBuilder:
    """Use FastMemStateBackend and FastMemOrchestrator with pynenc's in-memory broker, data store and trigger.

    Like ``.memory()``, this only works with runners that keep every task in
    one process (``ThreadRunner``, ``DummyRunner``). It also sets an in-process
    pace: the runner loop and the wait for a result sleep ``DEFAULT_PACE_SEC``
    (5 ms) instead of pynenc's 0.1 s. Any setting of those two made in pynenc's
    own ways wins: ``.runner_tuning()`` (before or after this call), a config
    file, ``pyproject.toml`` or ``PYNENC__RUNNER_LOOP_SLEEP_TIME_SEC`` and
    ``PYNENC__INVOCATION_WAIT_RESULTS_SLEEP_TIME_SEC``.

    :param PynencBuilder builder: the builder to configure
    :param retention_seconds: evict finished invocations whose final status is
        older than this (see ``ConfigStateBackendFastMem``); by default kept
    :param max_finished_invocations: keep at most this many finished invocations
    :param live_invocations: keep and return invocation and result objects
        themselves rather than serialized copies (see ``ConfigStateBackendFastMem``)
    :param eviction_grace_seconds: evict nothing that finished less than this
        ago (1 second by default, see ``ConfigStateBackendFastMem``)
    :return: the builder, for chaining
    """
    builder.memory()
    builder._config["state_backend_cls"] = STATE_BACKEND_CLS
    builder._config["orchestrator_cls"] = ORCHESTRATOR_CLS
    for setting in PACE_SETTINGS:  # the builder's values are pynenc's lowest-priority source
        builder._config.setdefault(setting, DEFAULT_PACE_SEC)
    if retention_seconds is not None:
        builder._config["retention_seconds"] = retention_seconds
    if max_finished_invocations is not None:
        builder._config["max_finished_invocations"] = max_finished_invocations
    if eviction_grace_seconds is not None:
        builder._config["eviction_grace_seconds"] = eviction_grace_seconds
    if live_invocations is not None:
        builder._config["live_invocations"] = live_invocations
    return builder


def validate_single_process_runner(config: dict[str, Any]) -> None:
    """Refuse a runner that runs tasks in other processes when the state lives in this one.

    :param dict config: the builder's configuration
    :raises ValueError: if FastMemStateBackend is paired with a multi-process runner
    """
    if config.get("state_backend_cls") == STATE_BACKEND_CLS:
        check_single_process_runner(config.get("runner_cls"))
