"""Check the built docs site as a reader sees it, offline: ``python tools/check-docs-site.py site``.

Serves the site on a loopback port, opens every page in headless Chromium (Debian's
``chromium``, driven by Playwright) with every request elsewhere refused, and fails unless
each page has a heading and no script error, and the architecture page shows its Mermaid
diagram as an SVG. ``make docs`` runs it after building.
"""

from __future__ import annotations

import functools
import shutil
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright


def main(site: Path) -> int:
    """Check every page of ``site``; print what is wrong and return 1, or return 0."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("check-docs-site: needs Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    pages = sorted(page for page in site.rglob("index.html") if "assets" not in page.parts)
    problems: list[str] = []
    quiet = type("Quiet", (SimpleHTTPRequestHandler,), {"log_message": lambda *args: None})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(quiet, directory=str(site)))
    server.handle_error = lambda *args: None  # type: ignore[method-assign]  # a page closed mid-answer
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context()
        context.route("**/*", lambda route: _only_from(origin, route))
        for path in pages:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
            name = str(path.relative_to(site))
            page.goto(f"{origin}/{name}", wait_until="load")
            if page.locator("h1").count() == 0:
                problems.append(f"{name}: no heading")
            if errors:
                problems.append(f"{name}: script errors {errors}")
            if name == "architecture/index.html":
                try:
                    page.wait_for_selector("div.mermaid svg", timeout=15_000)
                except Exception:  # noqa: BLE001
                    problems.append(f"{name}: the Mermaid diagram was not drawn as an SVG")
            page.close()
        browser.close()
    server.shutdown()
    for problem in problems:
        print(f"check-docs-site: {problem}", file=sys.stderr)
    print(f"check-docs-site: {len(pages)} pages checked, {len(problems)} problems")
    return 1 if problems else 0


def _only_from(origin: str, route: Any) -> None:
    """Let a request to the served site through; refuse any other (the reader is offline)."""
    if route.request.url.startswith(origin):
        route.continue_()
    else:
        route.abort()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "site")))
