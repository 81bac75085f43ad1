"""Fixtures for tests that need the browser; registered in conftest.py.

- ``chromium_browser``: one headless Debian Chromium for the whole session (starting one costs
  about a second; contexts are cheap and fully isolated, so each test gets its own).
- ``browser_page``: a fresh context and page whose every request URL is recorded in
  ``page.requests`` (what the lazy-load and no-third-party tests assert on).
- ``static_server``: a factory serving a folder over HTTP on an ephemeral loopback port; every
  server it started is stopped after the test.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import escape
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from afterword.builder.thread import DEPTH_CAP
from afterword.pagekey import page_folder
from afterword.widget import widget_assets, widget_strings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves a folder like a static host: no directory listings on stderr, no caching games."""

    def log_message(self, format: str, *args: Any) -> None:
        """Tests read requests from the server's list, not from stderr."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        super().do_GET()


@dataclass
class StaticServer:
    """A running static server: ``url`` ends with ``/``; ``paths`` lists what was requested."""

    root: Path
    httpd: ThreadingHTTPServer
    thread: threading.Thread
    paths: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def start_static_server(root: Path, host: str = "127.0.0.1", port: int = 0) -> StaticServer:
    """Serve ``root`` in a daemon thread (also used by bench/widget.py)."""
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True
    paths: list[str] = []
    httpd.paths = paths  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return StaticServer(root, httpd, thread, paths)


@pytest.fixture
def static_server() -> Iterator[Callable[[Path], StaticServer]]:
    started: list[StaticServer] = []

    def start(root: Path) -> StaticServer:
        server = start_static_server(root)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def playwright_session() -> Iterator[Playwright]:
    """Module scope, not session: while Playwright's sync API is running it owns an asyncio
    loop on the main thread, and any later test calling ``asyncio.run`` would fail."""
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def chromium_browser(playwright_session: Playwright) -> Iterator[Browser]:
    browser = playwright_session.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def browser_page(chromium_browser: Browser) -> Iterator[Page]:
    """A page in its own context (no shared storage or cookies), recording request URLs."""
    context = chromium_browser.new_context(viewport={"width": 1000, "height": 700})
    context.set_default_timeout(10_000)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.requests = requests  # type: ignore[attr-defined]
    yield page
    context.close()


# --- Hand-made published output for the widget's unit-level tests ----------------------------
# The markup mirrors afterword/templates (the contract in the builder's docs); the end-to-end
# tests in test_widget_loop.py use the real builder instead.

AXE = Path(__file__).parent / "js" / "node_modules" / "axe-core" / "axe.min.js"


def write_widget(root: Path) -> None:
    """Publish the widget assets into ``root`` exactly as the builder would."""
    for asset in widget_assets():
        (root / asset.key).write_bytes(asset.data)


def comment_html(
    cid: int, body: str, *, author: str = "Ana", replies: str = "", depth: int = 0
) -> str:
    nested = f'<ol class="afterword-replies">{replies}</ol>' if replies else ""
    deep = f' data-depth="{depth}"' if depth >= DEPTH_CAP else ""  # as templates/macros.html
    return (
        f'<li class="afterword-comment" id="c{cid}"{deep}><article>'
        f"<header><b>{escape(author)}</b>"
        f' <a href="#c{cid}"><time datetime="2026-11-28T08:40:00Z">Nov 28, 2026</time></a>'
        f'</header><div class="afterword-body"><p>{escape(body)}</p></div>'
        f"<footer><button>Reply</button>"
        f"</footer></article>{nested}</li>"
    )


def form_html(page_key: str, page_url: str, intake_url: str) -> str:
    return (
        f'<form class="afterword-form" id="afterword-form" method="post" action="{intake_url}">'
        f'<input type="hidden" name="page" value="{escape(page_key)}">'
        f'<input type="hidden" name="redirect" value="{escape(page_url)}">'
        '<input type="hidden" name="parent" value="">'
        '<p class="afterword-field afterword-field-body"><label for="afterword-body">Comment'
        '</label><textarea id="afterword-body" name="body" required rows="5"></textarea></p>'
        '<div class="afterword-fields">'
        '<p class="afterword-field"><label for="afterword-author">Name</label>'
        '<input id="afterword-author" name="author" required autocomplete="name"></p>'
        '<p class="afterword-field"><label for="afterword-email">E-mail</label>'
        '<input id="afterword-email" name="email" type="email" autocomplete="email"></p>'
        '<p class="afterword-field"><label for="afterword-website">Website</label>'
        '<input id="afterword-website" name="website" autocomplete="url"></p></div>'
        '<div class="afterword-hp" hidden aria-hidden="true"><label for="afterword-hp">Leave empty'
        '</label><input id="afterword-hp" name="aw_x9k" tabindex="-1" autocomplete="off"></div>'
        '<button type="submit">Post comment</button>'
        '<p class="afterword-status" role="status" aria-live="polite"></p></form>'
    )


def thread_html(
    page_key: str,
    comments: str,
    *,
    intake_url: str = "",
    page_url: str = "",
    part: int = 1,
    next_part: int | None = None,
    strings: dict[str, str] | None = None,
) -> str:
    """One fragment part; part 1 carries the heading, strings and form."""
    more = (
        f'<a class="afterword-more" href="comments-{next_part}.html" '
        f'data-next-part="{next_part}">Load more comments</a>'
        if next_part
        else ""
    )
    strings_json = escape(json.dumps(strings or widget_strings("en")))
    head = (
        f'<section class="afterword-thread" data-afterword-thread data-page="{escape(page_key)}"'
        f' data-part="{part}" data-strings="{strings_json}" lang="en">'
    )
    if part > 1:
        return f'{head}<ol class="afterword-comments">{comments}</ol>{more}</section>'
    return (
        f'{head}<h2 class="afterword-heading">Comments</h2>'
        f'<ol class="afterword-comments">{comments}</ol>{more}'
        f"{form_html(page_key, page_url, intake_url)}</section>"
    )


def write_thread(root: Path, page_key: str, *parts: str) -> None:
    """Write ``parts`` (HTML) as the page's comments.html, comments-2.html …"""
    folder = root / page_folder(page_key)
    folder.mkdir(parents=True, exist_ok=True)
    for number, html in enumerate(parts, 1):
        name = "comments.html" if number == 1 else f"comments-{number}.html"
        (folder / name).write_text(html, encoding="utf-8")


def page_html(
    *,
    title: str = "A post",
    spacer: str = "0px",
    container: str = "<div data-afterword></div>",
    script: str = "/afterword.js",
    head: str = "",
) -> str:
    """A page that embeds the widget with the real snippet (plus optional spacer above)."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"{head}</head><body><main><h1>{title}</h1>"
        f'<div style="height:{spacer}"></div>{container}</main>'
        f'<script src="{script}" defer></script></body></html>'
    )


def write_page(root: Path, path: str, html: str) -> None:
    """``path`` like ``/blog/post/`` becomes ``blog/post/index.html``."""
    target = (
        root / path.strip("/") / "index.html" if path.endswith("/") else root / path.lstrip("/")
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")


def axe_violations(page: Page, selector: str = "[data-afterword]") -> list[dict[str, Any]]:
    """Every axe-core finding inside ``selector``, whatever its impact (minor included)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("s => axe.run(s, {resultTypes: ['violations']})", selector)
    assert result["passes"], "axe-core checked nothing"
    page.axe_passes = [rule["id"] for rule in result["passes"]]  # type: ignore[attr-defined]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]]}
        for v in result["violations"]
    ]
