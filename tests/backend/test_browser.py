"""pynenc's monitor in a real browser: headless Chromium loads the pages of a running app.

Chromium is Debian's ``chromium`` package, driven by Playwright. pynmon's pages
load Bootstrap, htmx and fonts from public CDNs; where there is no internet (CI
here) those requests are answered from Debian's ``libjs-bootstrap5`` when it is
installed and refused otherwise, and only the console's reports of those refused
requests are let through. Any other console error, page error, empty page or
5xx answer from the monitor fails the test.

Without Chromium or Playwright the tests skip, unless ``FASTMEM_REQUIRE_BROWSER``
is set (``.ci/run`` sets it), when they fail. ``FASTMEM_SCREENSHOT_DIR`` keeps a
screenshot of the timeline there (``make screenshots`` writes ``docs/``).
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from pynenc_fastmem import FastMemOrchestrator
from pynenc_fastmem.monitor import STATS_PATH, MonitorHandle, serve_monitor

from ..support import evict_due, fast_app, running

REQUIRED = os.environ.get("FASTMEM_REQUIRE_BROWSER", "") not in ("", "0")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Local copies of what pynmon loads from CDNs, by the end of the CDN's path.
LOCAL_ASSETS = {
    "bootstrap.min.css": Path("/usr/share/javascript/bootstrap5/css/bootstrap.min.css"),
    "bootstrap.bundle.min.js": Path("/usr/share/javascript/bootstrap5/js/bootstrap.bundle.min.js"),
}


def _missing(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"FASTMEM_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


app = fast_app("fastmem-browser", max_finished_invocations=40)


@app.task
def square(x: int) -> int:
    return x * x


@app.task(max_retries=1, retry_for=(ValueError,))
def flaky(x: int) -> int:
    raise ValueError(f"flaky {x}")


@app.workflow
def total(n: int) -> int:
    return sum(child.result for child in [square(i) for i in range(n)])


@pytest.fixture(scope="module")
def monitor() -> Iterator[tuple[MonitorHandle, dict[str, str]]]:
    """A running app whose first invocations were evicted, its monitor, and ids to visit."""
    with running(app):
        first = square(-1)
        _ = first.result
        squares = [square(x) for x in range(60)]
        _ = squares[-1].result  # the latest: the first ones may be evicted before they are read
        failed = flaky(1)
        with pytest.raises(ValueError):
            _ = failed.result
        _ = total(5).result
        evict_due(app)
        handle = serve_monitor(app)
        ids = {"kept": squares[-1].invocation_id, "evicted": first.invocation_id, "task": square.task_id.key}
        assert app.state_backend._store.was_evicted(ids["evicted"])
        assert isinstance(app.orchestrator, FastMemOrchestrator), "the pages read the FastMem stack"
        try:
            yield handle, ids
        finally:
            handle.stop()


@pytest.fixture(scope="module")
def browser(monitor: tuple[MonitorHandle, dict[str, str]]) -> Iterator[Any]:
    """A browser context that opened the monitor's tokenized URL, as a user clicking it would.

    The token is in that URL only: every later page is visited by its plain path,
    and gets in with the cookie the first answer set.
    """
    if CHROMIUM is None:
        _missing("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (it is in the test extra)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = launched.new_context(viewport={"width": 1400, "height": 900})
            handle, _ = monitor
            visit = Visit(context, handle.url)
            try:
                visit.check()
            finally:
                visit.page.close()
            yield context
        finally:
            launched.close()


class Visit:
    """One page loaded in the browser, with what went wrong on the way."""

    def __init__(self, context: Any, url: str, status: int = 200) -> None:
        self.url, self.status = url, status
        self.errors: list[str] = []
        self.refused: set[str] = set()
        self.failed_answers: list[str] = []
        self.page = context.new_page()
        self.page.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("response", self._response)
        self.response = self.page.goto(url, wait_until="load")
        self.page.wait_for_timeout(300)  # scripts that run after load

    def _route(self, route: Any) -> None:
        url = route.request.url
        if urlparse(url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
            return
        local = LOCAL_ASSETS.get(urlparse(url).path.rsplit("/", 1)[-1])
        if local is not None and local.exists():
            route.fulfill(path=str(local))
            return
        self.refused.add(url)
        route.abort()

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        if message.location.get("url") in self.refused and "Failed to load resource" in message.text:
            return  # a CDN request refused offline
        if message.location.get("url") == self.url and f"status of {self.status}" in message.text:
            return  # the page's own expected status (404 for an evicted invocation)
        self.errors.append(f"console: {message.text} at {message.location}")

    def _response(self, response: Any) -> None:
        if response.status >= 500:
            self.failed_answers.append(f"{response.status} {response.url}")

    def check(self) -> None:
        """Fail on any error seen, a 5xx answer or a page without text."""
        assert self.response is not None and self.response.status == self.status, (
            self.response and self.response.status
        )
        assert not self.failed_answers, self.failed_answers
        assert not self.errors, self.errors
        assert len(self.page.inner_text("body").strip()) > 50, "the page is empty"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/invocations/",
        "/invocations/timeline",
        "/invocations/{kept}",
        "/tasks/{task}",
        STATS_PATH,
        "/invocations/{evicted}",
    ],
)
def test_the_monitor_pages_load_in_a_browser(
    monitor: tuple[MonitorHandle, dict[str, str]], browser: Any, path: str
) -> None:
    handle, ids = monitor
    evicted = path == "/invocations/{evicted}"
    visit = Visit(browser, handle.base_url + path.format(**ids), status=404 if evicted else 200)
    try:
        visit.check()
        if evicted:  # pynmon's not-found page, not a server error
            assert "not found" in visit.page.inner_text("body").lower()
        if path == "/invocations/{kept}":
            assert ids["kept"] in visit.page.inner_text("body")
        if path == "/tasks/{task}":
            assert "square" in visit.page.inner_text("body")
        if path == STATS_PATH:
            assert visit.page.locator("#fastmem-stats th").count() >= 10
    finally:
        visit.page.close()


def test_a_browser_without_the_token_is_refused(
    monitor: tuple[MonitorHandle, dict[str, str]], browser: Any
) -> None:
    handle, _ = monitor
    stranger = browser.browser.new_context()  # no cookie: as a page of another site would be
    try:
        page = stranger.new_page()
        response = page.goto(handle.base_url + "/invocations/")
        assert response is not None and response.status == 401
        assert "token" in page.inner_text("body")
    finally:
        stranger.close()


def test_a_screenshot_of_the_timeline(
    monitor: tuple[MonitorHandle, dict[str, str]], browser: Any, tmp_path: Path
) -> None:
    handle, _ = monitor
    visit = Visit(browser, handle.base_url + "/invocations/timeline")
    try:
        visit.check()
        shot = Path(os.environ.get("FASTMEM_SCREENSHOT_DIR") or tmp_path) / "monitor-timeline.png"
        visit.page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
    finally:
        visit.page.close()
