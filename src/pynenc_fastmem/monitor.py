"""pynenc's monitor (pynmon) served from a thread of the running process.

``pynenc monitor`` starts pynmon in a process of its own, which sees an empty
in-memory store; :func:`serve_monitor` serves it from a daemon thread of the
process that runs the tasks, so it shows what FastMemStateBackend holds, with a
page of the store's own figures at ``/fastmem``. Needs pynenc's monitor extra:
``pip install 'pynenc-fastmem[monitor]'``.

pynmon keeps the app it shows in module globals, so one process serves one
monitor at a time; serving another app makes it the one shown.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations, and
# `Request` is imported where the route is made, so they must be evaluated there.
import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pynenc import Pynenc

#: The path of the page showing the store's stats.
STATS_PATH = "/fastmem"

_setup_lock = threading.Lock()


@dataclass
class MonitorHandle:
    """A monitor being served: its address, and how to stop it."""

    url: str
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and wait up to ``timeout`` seconds for the server thread to end."""
        self._server.should_exit = True
        self._thread.join(timeout)


def serve_monitor(
    app: "Pynenc", host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0
) -> MonitorHandle:
    """Serve pynenc's monitor for ``app`` from a daemon thread; return once it answers.

    :param app: the app to show; its state backend can be any, but only one in
        this process (FastMemStateBackend, MemStateBackend) shows this process's tasks
    :param host: the address to listen on; loopback by default
    :param port: the port; 0 picks a free one (see the handle's ``url``)
    :param timeout: seconds to wait for the server to start
    :raises ImportError: without pynenc's monitor extra
    :raises RuntimeError: if the server did not start within ``timeout``
    """
    try:
        import uvicorn
        from pynmon import app as pynmon
    except ImportError as error:
        raise ImportError(
            "serve_monitor needs pynenc's monitor (FastAPI, Jinja2, uvicorn): "
            "pip install 'pynenc-fastmem[monitor]'"
        ) from error
    _show(pynmon, app)
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    bound_port = listener.getsockname()[1]
    config = uvicorn.Config(pynmon.app, log_level="warning", access_log=False, loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[listener])),
        name="pynenc-fastmem-monitor",
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            listener.close()
            raise RuntimeError(f"the monitor did not start on {host}:{bound_port}")
        time.sleep(0.01)
    shown_host = f"[{host}]" if ":" in host else host
    return MonitorHandle(f"http://{shown_host}:{bound_port}", server, thread)


def _show(pynmon: Any, app: "Pynenc") -> None:
    """Make ``app`` the one pynmon shows, and set up its routes and ours once."""
    with _setup_lock:
        pynmon.all_pynenc_instances[app.app_id] = app
        pynmon.pynenc_instance = app
        if not any(getattr(route, "path", None) == STATS_PATH for route in pynmon.app.routes):
            pynmon.setup_routes()
            pynmon.app.include_router(_stats_router(pynmon))


STATS_TEMPLATE = """{% extends "base.html" %}{% block content %}
<div class="container-fluid"><div class="metric-card">
<h6 class="section-title">{{ backend }}: what the store holds</h6>
<table class="table table-sm mb-0" id="fastmem-stats"><tbody>
{% for name, value in figures %}<tr><th scope="row">{{ name }}</th><td>{{ value }}</td></tr>{% endfor %}
</tbody></table></div></div>
{% endblock %}"""


def _stats_router(pynmon: Any) -> Any:
    from fastapi import APIRouter, Request
    from fastapi.responses import HTMLResponse

    router = APIRouter()
    template = pynmon.templates.env.from_string(STATS_TEMPLATE)

    @router.get(STATS_PATH, response_class=HTMLResponse)
    def fastmem_stats(request: Request) -> HTMLResponse:
        """The store's figures, in pynmon's page layout."""
        app = pynmon.get_pynenc_instance()
        return HTMLResponse(
            template.render(
                request=request,
                title="FastMemStateBackend",
                app_id=app.app_id,
                all_apps=list(pynmon.all_pynenc_instances),
                backend=type(app.state_backend).__name__,
                figures=stats_figures(app),
            )
        )

    return router


def stats_figures(app: "Pynenc") -> list[tuple[str, str]]:
    """The store's ``stats()`` and retention settings of ``app``'s backend, formatted."""
    from .state_backend import FastMemStateBackend

    backend = app.state_backend
    if not isinstance(backend, FastMemStateBackend):
        return [("stats", f"{type(backend).__name__} keeps none")]
    conf = backend.conf
    figures: dict[str, object] = {
        **backend.stats(),
        "retention_seconds": conf.retention_seconds or "off",
        "max_finished_invocations": conf.max_finished_invocations or "off",
        "eviction_grace_seconds": conf.eviction_grace_seconds or "off",
        "live_invocations": conf.live_invocations,
    }
    return [(name, _figure(value)) for name, value in figures.items()]


def _figure(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
