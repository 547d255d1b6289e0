"""Who ``serve_monitor`` lets in: over real HTTP, as a browser, an attacker's page or a script would ask.

pynmon has no accounts and its pages purge and rerun; the monitor's guard checks
every request's ``Host`` (DNS rebinding), its token, and its method (actions).
"""

import http.client
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from pynenc import Pynenc

from pynenc_fastmem.monitor import STATS_PATH, MonitorHandle, serve_monitor

from ..support import fast_app, running

TASKS = 20

app = fast_app("fastmem-monitor-access")


@app.task
def double(x: int) -> int:
    return 2 * x


def request(
    handle: MonitorHandle, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Send one request to the monitor's port, headers as given (``Host`` included); the answer."""
    address = urlparse(handle.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        headers = {"Host": address.netloc, **(headers or {})}
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def bearer(handle: MonitorHandle) -> dict[str, str]:
    return {"Authorization": f"Bearer {handle.token}"}


def stored(monitored_app: Pynenc) -> int:
    return int(monitored_app.state_backend.stats()["invocations"])


@pytest.fixture(scope="module")
def ran() -> Iterator[list[str]]:
    """The app after TASKS tasks ran: their invocation ids."""
    with running(app):
        invocations = [double(x) for x in range(TASKS)]
        assert [invocation.result for invocation in invocations] == [2 * x for x in range(TASKS)]
        yield [invocation.invocation_id for invocation in invocations]


@pytest.fixture
def monitor(ran: list[str]) -> Iterator[MonitorHandle]:
    handle = serve_monitor(app)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def with_actions(ran: list[str]) -> Iterator[MonitorHandle]:
    handle = serve_monitor(app, allow_actions=True)
    try:
        yield handle
    finally:
        handle.stop()


def test_the_url_carries_a_token_made_for_each_call(monitor: MonitorHandle) -> None:
    assert monitor.token and len(monitor.token) >= 32
    assert monitor.url == f"{monitor.base_url}/?token={monitor.token}"
    other = serve_monitor(app)
    try:
        assert other.token != monitor.token
    finally:
        other.stop()


def test_the_token_in_the_url_opens_the_page_and_sets_a_strict_cookie(
    monitor: MonitorHandle, ran: list[str]
) -> None:
    address = urlparse(monitor.url_for("/invocations/"))
    status, headers, body = request(monitor, "GET", f"{address.path}?{address.query}")
    assert status == 200 and ran[-1].encode() in body
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and monitor.token in cookie  # type: ignore[operator]
    assert headers["referrer-policy"] == "no-referrer"
    name_value = cookie.split(";", 1)[0]
    status, _, body = request(monitor, "GET", "/invocations/", {"Cookie": name_value})
    assert status == 200 and ran[-1].encode() in body


def test_a_bearer_header_is_enough(monitor: MonitorHandle) -> None:
    status, _, body = request(monitor, "GET", STATS_PATH, bearer(monitor))
    assert status == 200 and b"fastmem-stats" in body


@pytest.mark.parametrize("path", ["/", "/invocations/", STATS_PATH, "/static/css/style.css", "/nowhere"])
@pytest.mark.parametrize("credentials", ["none", "wrong query", "wrong header", "wrong cookie"])
def test_without_the_right_token_nothing_is_served(
    monitor: MonitorHandle, ran: list[str], path: str, credentials: str
) -> None:
    wrong = "x" * len(monitor.token)  # type: ignore[arg-type]
    headers = {
        "none": {},
        "wrong query": {},
        "wrong header": {"Authorization": f"Bearer {wrong}"},
        "wrong cookie": {"Cookie": f"pynenc_fastmem_token_{urlparse(monitor.base_url).port}={wrong}"},
    }[credentials]
    target = path + (f"?token={wrong}" if credentials == "wrong query" else "")
    status, answer_headers, body = request(monitor, "GET", target, headers)
    assert status == 401
    assert b"token" in body and "set-cookie" not in answer_headers
    assert not any(inv_id.encode() in body for inv_id in ran)


def test_a_token_that_is_not_ascii_is_refused_not_a_server_error(monitor: MonitorHandle) -> None:
    port = urlparse(monitor.base_url).port
    status, _, _ = request(monitor, "GET", "/", {"Cookie": f"pynenc_fastmem_token_{port}=\u00e9t\u00e9"})
    assert status == 401
    status, _, _ = request(monitor, "GET", "/?token=%C3%A9t%C3%A9")
    assert status == 401


def test_static_files_are_served_with_the_token(monitor: MonitorHandle) -> None:
    status, _, _ = request(monitor, "GET", "/static/css/style.css", bearer(monitor))
    assert status in (200, 404)  # whatever pynmon has there: past the guard, not refused by it
    status, _, _ = request(monitor, "GET", "/static/css/style.css")
    assert status == 401


def test_dns_rebinding_reads_nothing(monitor: MonitorHandle, ran: list[str]) -> None:
    """A page at attacker.example re-pointed at 127.0.0.1 sends its own name as Host."""
    port = urlparse(monitor.base_url).port
    for credentials in ({}, bearer(monitor)):
        status, _, body = request(
            monitor, "GET", "/invocations/", {"Host": f"attacker.example:{port}", **credentials}
        )
        assert status == 400 and b"allowed_hosts" in body
        assert not any(inv_id.encode() in body for inv_id in ran)


def test_dns_rebinding_purges_nothing_even_with_actions_on(with_actions: MonitorHandle) -> None:
    port = urlparse(with_actions.base_url).port
    before = stored(app)
    assert before >= TASKS
    rebound = {"Host": f"attacker.example:{port}", "Origin": f"http://attacker.example:{port}"}
    for credentials in ({}, bearer(with_actions)):
        status, _, _ = request(with_actions, "POST", "/state-backend/purge", {**rebound, **credentials})
        assert status == 400
    assert stored(app) == before


def test_a_cross_origin_post_purges_nothing(with_actions: MonitorHandle) -> None:
    before = stored(app)
    evil = {"Origin": "https://evil.example"}
    status, _, _ = request(with_actions, "POST", "/state-backend/purge", evil)
    assert status == 401  # a cross-site request carries no SameSite=Strict cookie
    status, _, _ = request(with_actions, "POST", "/state-backend/purge", {**evil, **bearer(with_actions)})
    assert status == 403  # pynmon's own origin check
    assert stored(app) == before


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/purge"),
        ("POST", "/state-backend/purge"),
        ("POST", "/broker/purge"),
        ("POST", "/orchestrator/auto-purge"),
        ("POST", "/invocations/{last}/rerun"),
        ("DELETE", "/invocations/{last}"),
        ("PUT", "/anything-pynmon-adds-later"),
    ],
)
def test_actions_are_off_unless_allowed(
    monitor: MonitorHandle, ran: list[str], method: str, path: str
) -> None:
    before = stored(app)
    origin = {"Origin": monitor.base_url}
    status, _, body = request(monitor, method, path.format(last=ran[-1]), {**origin, **bearer(monitor)})
    assert status == 403 and b"allow_actions=True" in body
    assert stored(app) == before


purged_app = fast_app("fastmem-monitor-purged")


@purged_app.task
def triple(x: int) -> int:
    return 3 * x


def test_with_actions_on_a_purge_from_the_monitor_itself_works() -> None:
    """On an app of its own: the module's app keeps its tasks (and its runner) for the other tests."""
    with running(purged_app):
        assert [triple(x).result for x in range(TASKS)] == [3 * x for x in range(TASKS)]
    handle = serve_monitor(purged_app, allow_actions=True)
    try:
        assert stored(purged_app) >= TASKS
        origin = {"Origin": handle.base_url}
        status, _, body = request(handle, "POST", "/state-backend/purge", {**origin, **bearer(handle)})
        assert status == 200, body[:300]
        assert stored(purged_app) == 0
    finally:
        handle.stop()


def test_token_none_serves_without_a_token_but_still_checks_the_host(ran: list[str]) -> None:
    handle = serve_monitor(app, token=None)
    try:
        assert handle.url == handle.base_url + "/" and handle.token is None
        assert request(handle, "GET", "/invocations/")[0] == 200
        port = urlparse(handle.base_url).port
        assert request(handle, "GET", "/invocations/", {"Host": f"attacker.example:{port}"})[0] == 400
    finally:
        handle.stop()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_loopback_names_are_let_in(monitor: MonitorHandle, host: str) -> None:
    port = urlparse(monitor.base_url).port
    assert request(monitor, "GET", STATS_PATH, {"Host": f"{host}:{port}", **bearer(monitor)})[0] == 200


def test_a_name_the_caller_allowed_is_let_in(ran: list[str]) -> None:
    handle = serve_monitor(app, allowed_hosts=("monitor.internal",))
    try:
        port = urlparse(handle.base_url).port
        headers = {"Host": f"monitor.internal:{port}", **bearer(handle)}
        assert request(handle, "GET", STATS_PATH, headers)[0] == 200
    finally:
        handle.stop()


def test_a_non_loopback_bind_needs_allow_remote(caplog: Any) -> None:
    with pytest.raises(ValueError, match="allow_remote=True"):
        serve_monitor(app, host="0.0.0.0")
    with caplog.at_level(logging.WARNING, logger="pynenc_fastmem.monitor"):
        handle = serve_monitor(app, host="0.0.0.0", allow_remote=True)
    try:
        warnings = [record for record in caplog.records if record.name == "pynenc_fastmem.monitor"]
        assert len(warnings) == 1 and "no accounts" in warnings[0].getMessage()
        port = urlparse(handle.base_url).port
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", STATS_PATH, headers={"Host": f"127.0.0.1:{port}"})
        assert connection.getresponse().status == 401  # the token still guards it
        connection.close()
    finally:
        handle.stop()
