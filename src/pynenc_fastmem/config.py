"""FastMemStateBackend's settings, read through pynenc's own configuration.

Like any pynenc setting, each can come from ``config_values``, a config file
(top level, or a ``statebackendfastmem`` section), the environment
(``PYNENC__RETENTION_SECONDS``, or ``PYNENC__CONFIGSTATEBACKENDFASTMEM__RETENTION_SECONDS``)
or ``PynencBuilder().fast_memory(retention_seconds=...)``.
"""

from __future__ import annotations

from cistell import ConfigField
from pynenc.conf.config_state_backend import ConfigStateBackend


class ConfigStateBackendFastMem(ConfigStateBackend):
    """Retention of finished invocations; both limits are off (0) by default.

    :cvar ConfigField[float] retention_seconds: evict a finished invocation once
        its final status is older than this many seconds; 0 keeps them all.
    :cvar ConfigField[int] max_finished_invocations: keep at most this many
        finished invocations, evicting the oldest final status first; 0 sets no limit.
    """

    retention_seconds = ConfigField(0.0)
    max_finished_invocations = ConfigField(0)


def store_retention(conf: ConfigStateBackendFastMem) -> tuple[int | None, int | None]:
    """The store's ``retention`` (microseconds) and ``max_finished`` arguments for ``conf``.

    :raises ValueError: naming the setting, if one is negative
    """
    seconds, count = conf.retention_seconds, conf.max_finished_invocations
    if seconds < 0:
        raise ValueError(f"retention_seconds must be >= 0 (0 keeps everything), got {seconds}")
    if count < 0:
        raise ValueError(f"max_finished_invocations must be >= 0 (0 sets no limit), got {count}")
    return (round(seconds * 1_000_000) if seconds else None, count or None)
