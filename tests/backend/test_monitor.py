"""``serve_monitor``: pynenc's monitor served from a thread of the app's own process."""

import builtins
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from pynenc import Pynenc, PynencBuilder

from pynenc_fastmem.monitor import STATS_PATH, MonitorHandle, serve_monitor

from ..support import evict_due, fast_app, running

KEPT = 5

app = fast_app("fastmem-monitor", max_finished_invocations=KEPT)


@app.task
def square(x: int) -> int:
    return x * x


def fetch(url: str) -> tuple[int, str]:
    """The status and body of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def monitored() -> Iterator[tuple[Pynenc, MonitorHandle, list[Any]]]:
    """The app running 30 tasks (all but KEPT evicted), and its monitor."""
    with running(app):
        invocations = []
        for x in range(30):  # one at a time, so the last KEPT to finish are the last KEPT
            invocations.append(square(x))
            assert invocations[-1].result == x * x
        evict_due(app)
        handle = serve_monitor(app)
        try:
            yield app, handle, invocations
        finally:
            handle.stop()


def test_it_serves_on_a_free_loopback_port_and_stops(
    monitored: tuple[Pynenc, MonitorHandle, list[Any]],
) -> None:
    _, handle, _ = monitored
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{43}", handle.url)
    status, body = fetch(handle.url)
    assert status == 200 and "fastmem-monitor" in body
    handle.stop()
    assert not handle._thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(handle.base_url.rsplit(":", 1)[1])), timeout=1).close()


def test_the_stats_page_shows_the_store(monitored: tuple[Pynenc, MonitorHandle, list[Any]]) -> None:
    monitored_app, handle, _ = monitored
    status, body = fetch(handle.url_for(STATS_PATH))
    assert status == 200
    stats = monitored_app.state_backend.stats()
    figures = dict(re.findall(r'<th scope="row">(\w+)</th><td>([^<]*)</td>', body))
    assert figures["invocations"] == f"{stats['invocations']:,}" == "5"
    assert int(figures["evictions"].replace(",", "")) >= 25
    assert figures["max_finished_invocations"] == "5" and figures["retention_seconds"] == "off"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/invocations/",
        "/invocations/timeline",
        "/invocations/{kept}",
        "/invocations/{evicted}",
        "/tasks/",
    ],
)
def test_no_page_fails_on_evicted_invocations(
    monitored: tuple[Pynenc, MonitorHandle, list[Any]], path: str
) -> None:
    _, handle, invocations = monitored
    url = handle.url_for(
        path.format(kept=invocations[-1].invocation_id, evicted=invocations[0].invocation_id)
    )
    status, body = fetch(url)
    assert status == (404 if "evicted" in path else 200), body[:500]
    assert body.strip()


def test_a_second_monitor_shows_the_app_it_was_given() -> None:
    other = PynencBuilder().fast_memory().app_id("fastmem-monitor-other").build()
    handle = serve_monitor(other, port=0)
    try:
        assert "fastmem-monitor-other" in fetch(handle.url_for(STATS_PATH))[1]
    finally:
        handle.stop()


def test_monitors_can_be_served_one_after_another_for_as_long_as_a_process_runs() -> None:
    """Each call used to include pynmon's routes again, nesting its lifespan: the 28th failed."""
    other = PynencBuilder().fast_memory().app_id("fastmem-monitor-many").build()
    for _ in range(40):
        handle = serve_monitor(other)
        try:
            assert fetch(handle.url_for(STATS_PATH))[0] == 200
        finally:
            handle.stop()


def test_without_the_monitor_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def without_pynmon(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith(("pynmon", "uvicorn")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_pynmon)
    with pytest.raises(ImportError, match=r"pip install 'pynenc-fastmem\[monitor\]'"):
        serve_monitor(app)
