"""pynenc's monitor served in-process (``serve_monitor``): how long its pages take on big stores.

Each store holds ``size`` history records, four per invocation, spread over the last hour,
so the timeline's default window (the last five minutes) holds a twelfth of them. The
invocations are registered with the app's orchestrator as well, as a running app would
have them, since the invocation list pages through the orchestrator: ``mem`` is
MemStateBackend with MemOrchestrator, ``fastmem`` the FastMem stack (FastMemStateBackend
and FastMemOrchestrator). Every page is
fetched over HTTP, so pynmon's own rendering is in the figure. ``FASTMEM_MONITOR_RECORDS``
(comma-separated, default ``10000,100000,1000000``) sets the sizes.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from pynenc import Pynenc, PynencBuilder

from .conftest import STATUSES, history_record, invocation_pair, new_app, ratio_info

SIZES = [int(size) for size in os.environ.get("FASTMEM_MONITOR_RECORDS", "10000,100000,1000000").split(",")]
PAGES = {
    "home": "/",
    "invocation list": "/invocations/",
    "timeline": "/invocations/timeline",
    "one invocation": "/invocations/{invocation_id}",
}
BACKEND_CLS = {"mem": "MemStateBackend", "fastmem": "FastMemStateBackend"}
ORCHESTRATOR_CLS = {"mem": "MemOrchestrator", "fastmem": "FastMemOrchestrator"}
_served: dict[tuple[str, int], Any] = {}


def _populated_app(backend: str, size: int) -> Pynenc:
    builder = PynencBuilder().memory().logging_level("error").app_id(new_app().app_id)
    builder._config["state_backend_cls"] = BACKEND_CLS[backend]
    builder._config["orchestrator_cls"] = ORCHESTRATOR_CLS[backend]
    app = builder.build()
    state_backend, orchestrator = app.state_backend, app.orchestrator
    invocations = size // len(STATUSES)
    now = datetime.now(UTC)
    step = timedelta(hours=1) / size
    pairs = [invocation_pair(index) for index in range(invocations)]
    for first in range(0, invocations, 1000):
        state_backend._upsert_invocations(pairs[first : first + 1000])
    for index in range(size):
        invocation_id = pairs[index % invocations][0].invocation_id
        at = now - timedelta(hours=1) + step * index
        state_backend._add_histories(
            [invocation_id], history_record(invocation_id, at, STATUSES[index // invocations])
        )
    # What the orchestrator keeps for each invocation it registered; it reads only these fields.
    orchestrator._register_new_invocations(
        [SimpleNamespace(invocation_id=invocation.invocation_id, call=SimpleNamespace(
            task=SimpleNamespace(task_id=call.call_id.task_id), call_id=call.call_id))
         for invocation, call in pairs]
    )  # fmt: skip
    return app


def _monitor(backend: str, size: int) -> Any:
    """The monitor of a store of ``size`` records; one at a time (pynmon keeps one app)."""
    from pynenc_fastmem.monitor import serve_monitor

    if (backend, size) not in _served:
        for handle in _served.values():
            handle.stop()
        _served.clear()
        _served[(backend, size)] = serve_monitor(_populated_app(backend, size), timeout=60)
    return _served[(backend, size)]


@pytest.fixture(scope="module", autouse=True)
def _stop_monitors() -> Iterator[None]:
    yield
    for handle in _served.values():
        handle.stop()
    _served.clear()


def _fetch(url: str) -> int:
    with urllib.request.urlopen(url, timeout=600) as response:
        body = response.read()
    assert response.status == 200 and body, url
    return len(body)


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("backend", ["mem", "fastmem"])
@pytest.mark.parametrize("size", SIZES)
def test_monitor_page(benchmark: Any, size: int, backend: str, page: str) -> None:
    pytest.importorskip("pynmon")
    benchmark.group = f"monitor page '{page}', {size:,} history records"
    handle = _monitor(backend, size)
    url = handle.url_for(
        PAGES[page].format(invocation_id=invocation_pair(size // len(STATUSES) - 1)[0].invocation_id)
    )
    page_bytes = _fetch(url)  # warm: templates compiled, caches filled
    benchmark.pedantic(_fetch, args=(url,), rounds=3, iterations=1)
    ratio_info(benchmark, backend, page_bytes=page_bytes)
