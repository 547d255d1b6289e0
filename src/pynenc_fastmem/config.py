"""FastMemStateBackend's settings, read through pynenc's own configuration.

Like any pynenc setting, each can come from ``config_values``, a config file
(top level, or a ``statebackendfastmem`` section), the environment
(``PYNENC__RETENTION_SECONDS``, or ``PYNENC__CONFIGSTATEBACKENDFASTMEM__RETENTION_SECONDS``)
or ``PynencBuilder().fast_memory(retention_seconds=...)``.
"""

from __future__ import annotations

from typing import Any, TypedDict

from cistell import ConfigField
from pynenc.conf.config_state_backend import ConfigStateBackend
from pynenc.exceptions import RunnerNotExecutableError
from pynenc.runner.base_runner import BaseRunner
from pynenc.util.subclasses import get_subclass

STATE_BACKEND_CLS = "FastMemStateBackend"
ORCHESTRATOR_CLS = "FastMemOrchestrator"


def flag_mapper(value: Any, expected_type: type[bool]) -> bool:
    """Read a boolean setting; strings as ``1/true/yes/on`` or ``0/false/no/off``."""
    del expected_type
    if isinstance(value, bool):
        return value
    words = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False}
    words |= {"off": False, "": False}
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    raise ValueError(f"expected a boolean setting (true/false, 1/0), got {value!r}")


class ConfigStateBackendFastMem(ConfigStateBackend):
    """FastMemStateBackend's settings: retention (off, 0, by default) and live objects (off).

    :cvar retention_seconds: (float) evict a finished invocation once
        its final status is older than this many seconds; 0 keeps them all.
    :cvar max_finished_invocations: (int) keep at most this many
        finished invocations, evicting the oldest final status first; 0 sets no limit.
    :cvar eviction_grace_seconds: (float) evict nothing whose final status is
        younger than this, however many are finished: pynenc reads an invocation
        back just after finishing it; 0 waits for nothing.
    :cvar live_invocations: (bool) keep the invocation and result
        objects themselves and return those, instead of storing serialized
        copies and rebuilding them on every read. Faster; callers then share
        objects (see the README).
    """

    retention_seconds = ConfigField(0.0)
    max_finished_invocations = ConfigField(0)
    eviction_grace_seconds = ConfigField(1.0)
    live_invocations = ConfigField(False, mapper=flag_mapper)


class StoreRetention(TypedDict):
    """The store's retention arguments, in microseconds; ``None`` for a setting that is off."""

    retention: int | None
    max_finished: int | None
    grace: int | None


def store_retention(conf: ConfigStateBackendFastMem) -> StoreRetention:
    """The store's ``retention``, ``max_finished`` and ``grace`` arguments (microseconds) for ``conf``.

    :raises ValueError: naming the setting, if one is negative
    """
    seconds, count, grace = conf.retention_seconds, conf.max_finished_invocations, conf.eviction_grace_seconds
    if seconds < 0:
        raise ValueError(f"retention_seconds must be >= 0 (0 keeps everything), got {seconds}")
    if count < 0:
        raise ValueError(f"max_finished_invocations must be >= 0 (0 sets no limit), got {count}")
    if grace < 0:
        raise ValueError(f"eviction_grace_seconds must be >= 0 (0 waits for nothing), got {grace}")
    return {
        "retention": round(seconds * 1_000_000) if seconds else None,
        "max_finished": count or None,
        "grace": round(grace * 1_000_000) if grace else None,
    }


def retention_settings(conf: ConfigStateBackendFastMem) -> str:
    """The retention settings in force, as they are written in a configuration."""
    settings = []
    if conf.retention_seconds:
        settings.append(f"retention_seconds={conf.retention_seconds:g}")
    if conf.max_finished_invocations:
        settings.append(f"max_finished_invocations={conf.max_finished_invocations}")
    return " and ".join(settings) or "no retention setting"


def runs_tasks_in_other_processes(runner_cls: str) -> bool:
    """Tell whether the runner class named ``runner_cls`` executes tasks in child processes.

    A placeholder runner (``DummyRunner``) executes nothing, so it does not.
    """
    try:
        return not get_subclass(BaseRunner, runner_cls).mem_compatible()  # type: ignore[type-abstract]
    except RunnerNotExecutableError:
        return False


def check_single_process_runner(runner_cls: str | None) -> None:
    """Refuse a runner that runs tasks in other processes: the state lives in this one.

    The builder calls it on its configuration; the backend, on the app's, when
    the app first uses it (configuration values, a file or the environment).

    :raises ValueError: if ``runner_cls`` runs tasks in child processes
    """
    if runner_cls and runs_tasks_in_other_processes(runner_cls):
        raise ValueError(
            f"Runner '{runner_cls}' runs tasks in other processes, but "
            f"{STATE_BACKEND_CLS} keeps its state in this process: use ThreadRunner "
            f"or DummyRunner, or a shared state backend (Redis, Mongo, SQLite)."
        )
