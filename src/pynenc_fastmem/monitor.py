"""pynenc's monitor (pynmon) served from a thread of the running process.

``pynenc monitor`` starts pynmon in a process of its own, which sees an empty
in-memory store; :func:`serve_monitor` serves it from a daemon thread of the
process that runs the tasks, so it shows what FastMemStateBackend holds, with a
page of the store's own figures at ``/fastmem``. Needs pynenc's monitor extra:
``pip install 'pynenc-fastmem[monitor]'``.

pynmon keeps the app it shows in module globals, so one process serves one
monitor at a time; serving another app makes it the one shown.

pynmon has no accounts, and its pages can purge the app's state and rerun
invocations. So every request passes three checks before pynmon sees it:

- its ``Host`` is a loopback name, the bound address, or one of ``allowed_hosts``
  (else 400): a web page whose name was re-pointed at 127.0.0.1 (DNS rebinding)
  sends its own name, and is refused;
- it carries the monitor's token, made anew by each ``serve_monitor`` call: in the
  query (``?token=...``, which also sets a cookie, HttpOnly and SameSite=Strict,
  for the pages and requests that follow), in that cookie, or in an
  ``Authorization: Bearer ...`` header (else 401, static files included);
  ``MonitorHandle.url`` carries it;
- its method is GET or HEAD, unless ``allow_actions=True`` (else 403): every
  other method is an action (a purge, a rerun, anything pynmon adds later).

Serving anywhere but loopback needs ``allow_remote=True``.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations, and
# `Request` is imported where the route is made, so they must be evaluated there.
import asyncio
import ipaddress
import logging
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from ._locking import holding, new_lock

if TYPE_CHECKING:
    from pynenc import Pynenc

#: The path of the page showing the store's stats.
STATS_PATH = "/fastmem"

_setup_lock = new_lock()
logger = logging.getLogger(__name__)

#: The methods served with actions off: the ones that only read.
READ_METHODS = frozenset({"GET", "HEAD"})
#: ``Host`` names that always reach this machine's loopback.
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


@dataclass
class MonitorHandle:
    """A monitor being served: its address with its token, and how to stop it.

    Example::

        handle = serve_monitor(app)
        print(handle.url)  # http://127.0.0.1:PORT/?token=... : opens the monitor in one click
        handle.url_for("/invocations/")  # another page, token included
        handle.stop()
    """

    #: the monitor's home page, with the token when there is one: open it in a browser
    url: str
    #: the scheme, address and port, without a path or the token
    base_url: str
    #: what every request must carry (``None``: served without a token)
    token: str | None = field(repr=False)
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def url_for(self, path: str) -> str:
        """The URL of ``path`` (``"/invocations/"``) on this monitor, with the token in its query."""
        if self.token is None:
            return self.base_url + path
        return f"{self.base_url}{path}{'&' if '?' in path else '?'}{urlencode({'token': self.token})}"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and wait up to ``timeout`` seconds for the server thread to end."""
        self._server.should_exit = True
        self._thread.join(timeout)


_NEW_TOKEN: Any = object()  # serve_monitor's default: a token made for the call


def serve_monitor(
    app: "Pynenc",
    host: str = "127.0.0.1",
    port: int = 0,
    timeout: float = 10.0,
    *,
    token: str | None = _NEW_TOKEN,
    allow_actions: bool = False,
    allow_remote: bool = False,
    allowed_hosts: tuple[str, ...] = (),
) -> MonitorHandle:
    """Serve pynenc's monitor for ``app`` from a daemon thread; return once it answers.

    Every request must carry the token (see the module's docstring); open
    ``handle.url``, which has it. Example::

        handle = serve_monitor(app)
        print("monitor:", handle.url)
        ...  # keep the process (and so the app and its monitor) alive while you look
        handle.stop()

    :param app: the app to show; its state backend can be any, but only one in
        this process (FastMemStateBackend, MemStateBackend) shows this process's tasks
    :param host: the address to listen on; loopback by default
    :param port: the port; 0 picks a free one (see the handle's ``url``)
    :param timeout: seconds to wait for the server to start
    :param token: what every request must carry; by default a new random one;
        ``None`` serves without a token (anyone who can reach the port gets in)
    :param allow_actions: serve pynmon's actions (purges, reruns: every method but
        GET and HEAD); off by default, when they answer 403
    :param allow_remote: needed to listen on anything but a loopback address;
        pynmon has no accounts, so the token is then the only guard
    :param allowed_hosts: more names a request's ``Host`` may give (besides the
        loopback names and ``host``), such as this machine's name when remote
    :raises ValueError: for a non-loopback ``host`` without ``allow_remote=True``
    :raises ImportError: without pynenc's monitor extra
    :raises RuntimeError: if the server did not start within ``timeout``
    """
    if not _is_loopback(host) and not allow_remote:
        raise ValueError(
            f"serve_monitor: host={host!r} is not a loopback address; pass allow_remote=True to "
            "serve the monitor, and the app's state behind it, to other machines"
        )
    if token is _NEW_TOKEN:
        token = secrets.token_urlsafe(32)
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
    if allow_remote and not _is_loopback(host):
        guarded_by = "the token in the monitor's URL is the only guard" if token else "nothing guards it"
        logger.warning(
            "serve_monitor: serving on %s:%s beyond this machine. pynmon has no accounts: %s",
            host,
            bound_port,
            guarded_by,
        )
    guard = MonitorGuard(
        pynmon.app,
        hosts={host.lower().strip("[]"), *(name.lower() for name in allowed_hosts)},
        token=token,
        cookie=f"pynenc_fastmem_token_{bound_port}",
        allow_actions=allow_actions,
    )
    config = uvicorn.Config(guard, log_level="warning", access_log=False, loop="asyncio")
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
    base_url = f"http://{shown_host}:{bound_port}"
    handle = MonitorHandle("", base_url, token, server, thread)
    handle.url = handle.url_for("/")
    return handle


def _is_loopback(name: str) -> bool:
    name = name.lower().strip("[]")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _show(pynmon: Any, app: "Pynenc") -> None:
    """Make ``app`` the one pynmon shows, and set up its routes and ours once."""
    holding(_setup_lock, _show_locked, pynmon, app)


def _show_locked(pynmon: Any, app: "Pynenc") -> None:
    pynmon.all_pynenc_instances[app.app_id] = app
    pynmon.pynenc_instance = app
    # Once per pynmon app: FastAPI keeps an included router whole (its routes are not
    # listed on the app), and each inclusion nests the app's lifespan one level deeper,
    # so including them on every call made the 28th monitor's startup overflow the stack.
    if id(pynmon.app) not in _routed_apps:
        pynmon.setup_routes()
        pynmon.app.include_router(_stats_router(pynmon))
        _routed_apps.add(id(pynmon.app))


_routed_apps: set[int] = set()  # id() of each pynmon app whose routes are set up


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class MonitorGuard:
    """An ASGI app in front of pynmon that lets in only the requests ``serve_monitor`` allows.

    It checks, in this order, a request's ``Host`` (400), its token (401) and its
    method (403), and answers a refusal itself, so pynmon never sees the request.
    Runtime complexity: `O(1)` per request (a few header lookups).
    """

    def __init__(
        self, app: Any, hosts: set[str], token: str | None, cookie: str, allow_actions: bool
    ) -> None:
        self.app, self.hosts, self.token, self.cookie = app, frozenset(hosts), token, cookie
        self.allow_actions = allow_actions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``scope`` through pynmon if it passes every check, else refuse it."""
        if scope["type"] not in ("http", "websocket"):  # lifespan: the server's own events
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _refuse(scope, send, *refusal)
            return
        from_query = self.token is not None and _same(self._query_token(scope), self.token)

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"referrer-policy", b"no-referrer")]  # the token never leaves in a Referer
                if from_query:
                    cookie = f"{self.cookie}={self.token}; HttpOnly; SameSite=Strict; Path=/"
                    extra.append((b"set-cookie", cookie.encode("latin-1")))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        """The status and reason to refuse the request with, or ``None`` to serve it."""
        host = _host_name(headers.get("host", ""))
        if not (_is_loopback(host) or host in self.hosts):
            return 400, (
                f"Host {headers.get('host', '')!r} is not allowed: the monitor answers to a loopback "
                f"name or its address; serve_monitor(app, allowed_hosts=[{host!r}]) lets this name in"
            )
        if self.token is not None and not self._has_token(scope, headers):
            return 401, (
                "this monitor needs its token: open the URL serve_monitor printed or returned "
                "(MonitorHandle.url), or send 'Authorization: Bearer <token>'"
            )
        if scope["type"] == "http" and scope["method"] not in READ_METHODS and not self.allow_actions:
            return 403, (
                f"{scope['method']} {scope['path']} changes the app's state, and actions are off: "
                "serve_monitor(app, allow_actions=True) turns them on"
            )
        return None

    def _has_token(self, scope: Scope, headers: dict[str, str]) -> bool:
        assert self.token is not None
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        candidates = [
            self._query_token(scope),
            credentials.strip() if scheme.lower() in ("bearer", "token") else None,
            _cookie(headers.get("cookie", ""), self.cookie),
        ]
        return any(_same(given, self.token) for given in candidates)

    @staticmethod
    def _query_token(scope: Scope) -> str | None:
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        return values[-1] if values else None


def _same(given: str | None, token: str) -> bool:
    """Whether ``given`` is ``token``, in time that does not depend on where they differ."""
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


def _host_name(host: str) -> str:
    """The name in a ``Host`` header, without its port: ``[::1]:80`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _cookie(header: str, name: str) -> str | None:
    """The value of the cookie ``name`` in a ``Cookie`` header, or ``None``."""
    for pair in header.split(";"):
        key, _, value = pair.strip().partition("=")
        if key == name:
            return value.strip('"')
    return None


async def _refuse(scope: Scope, send: Send, status: int, reason: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
        return
    body = f"{status} {reason}\n".encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
