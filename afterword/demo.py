"""``afterword demo``: the whole loop on one machine, with nothing but the package.

intake (uvicorn, loopback) → SQLite → approve (the CLI's own library call) → build → a static
site served by ``http.server`` that embeds the widget with the real snippet. The folder it
creates is an ordinary site folder: ``afterword --config DIR/afterword.toml queue`` works on it.

Layout of DIR::

    afterword.toml  afterword.db  .afterword-demo (marker: this folder may be reused)
    public/                     what the static server serves
      index.html                a list page with comment-count badges
      blog/hello-world/         a post whose thread is also included at build time
      blog/second-post/         a post with no comments yet (the widget's empty thread)
      comments/                 build.output_dir: fragments, counts, feeds, widget assets
"""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from afterword.builder import BuildReport, build_site
from afterword.config import Config, load_config
from afterword.errors import AfterwordError, ConfigError
from afterword.intake.server import BackgroundServer, listen_error
from afterword.moderation.actions import apply_action
from afterword.pagekey import page_folder
from afterword.store import Store, count_by_status, open_store

MARKER = ".afterword-demo"
POST_KEY = "/blog/hello-world/"
ACTOR = "demo"
REBUILD_SECONDS = 2.0

# (author, body, index of the comment replied to or None)
SEED_COMMENTS: tuple[tuple[str, str, int | None], ...] = (
    (
        "Ada",
        "First! **Markdown** works: `code`, *emphasis* and [links](https://example.org).",
        None,
    ),
    ("Grace", "A reply, nested under Ada's comment.\n\n> Quoting works too.", 0),
    ("Łukasz", "Non-ASCII names and text are fine: zażółć gęślą jaźń, 日本語.", None),
)


@dataclass(frozen=True)
class DemoSite:
    """A prepared demo folder: its config and the URL its static server will answer on."""

    root: Path
    config: Config
    site_url: str

    @property
    def public(self) -> Path:
        return self.root / "public"

    @property
    def post_url(self) -> str:
        return self.site_url + POST_KEY.lstrip("/")


def prepare_folder(directory: Path) -> Path:
    """Create DIR, or reuse it if empty or an earlier demo; never clobber anything else."""
    root = directory.expanduser().absolute()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()) and not (root / MARKER).is_file():
        raise ConfigError(f"{root} is not empty and not an afterword demo folder; choose another")
    (root / "public").mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("made by `afterword demo`; safe to delete\n", encoding="utf-8")
    return root


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the intake binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def write_demo_config(root: Path, site_port: int, intake_port: int) -> DemoSite:
    """Embedded defaults, plus the two loopback origins and the intake's port."""
    site_url = f"http://127.0.0.1:{site_port}/"
    text = (
        "# Written by `afterword demo`: a local site, no cloud account.\n"
        f'[site]\nurl = "{site_url}"\ntitle = "afterword demo"\n'
        f'allowed_origins = ["http://localhost:{site_port}"]\n\n'
        f'[intake]\nhost = "127.0.0.1"\nport = {intake_port}\n\n'
        '[build]\noutput_dir = "public/comments"\n'
    )
    (root / "afterword.toml").write_text(text, encoding="utf-8")
    return DemoSite(root, load_config(root / "afterword.toml", environ={}), site_url)


def post_comment(intake_url: str, page: str, author: str, body: str, parent: int | None) -> int:
    """POST one comment as the widget does (JSON over HTTP); returns its id."""
    payload = {"page": page, "author": author, "body": body, "parent": parent}
    request = Request(
        intake_url,
        json.dumps(payload).encode("utf-8"),
        {"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urlopen(request, timeout=10) as response:
            comment_id: int = json.load(response)["data"]["id"]
    except HTTPError as exc:
        raise AfterwordError(f"the intake refused a demo comment: {_error_text(exc)}") from None
    except OSError as exc:
        raise AfterwordError(f"cannot reach the demo intake at {intake_url}: {exc}") from None
    return comment_id


def _error_text(exc: HTTPError) -> str:
    """The intake's JSON error message, else the HTTP status line."""
    try:
        error = json.loads(exc.read().decode("utf-8"))["error"]
        return f"{error['message']} {error.get('fields') or ''}".strip()
    except (ValueError, KeyError, TypeError):
        return f"HTTP {exc.code} {exc.reason}"


def seed_comments(site: DemoSite, intake_url: str, store: Store) -> list[int]:
    """Post the sample comments (once per folder), approving each like `afterword approve`.

    One at a time: the intake accepts replies only to published comments.
    """
    if any(count_by_status(store).values()):
        return []
    ids: list[int] = []
    for author, body, parent in SEED_COMMENTS:
        parent_id = ids[parent] if parent is not None else None
        ids.append(post_comment(intake_url, POST_KEY, author, body, parent_id))
        apply_action(store, ids[-1:], "approve", actor=ACTOR)
    return ids


def rebuild(site: DemoSite, store: Store, *, full: bool = False) -> BuildReport:
    """Build, then rewrite the pages (the post includes its fragment at build time)."""
    report = build_site(site.config, store, full=full)
    write_pages(site.public)
    return report


def run_demo(
    directory: Path,
    *,
    port: int = 0,
    serve: bool = True,
    echo: Callable[[str], None] = print,
) -> DemoSite:
    """Set everything up, then (with ``serve``) keep serving until Ctrl-C.

    Everything started here is stopped here, whatever happens: the intake, the static
    server and the rebuild loop.
    """
    root = prepare_folder(directory)
    httpd = start_site_server(root / "public", port) if serve else None
    try:
        site_port = httpd.server_address[1] if httpd else (port or free_port())
        site = write_demo_config(root, int(site_port), free_port())
        with BackgroundServer(site.config, port=site.config.intake.port) as intake:
            with open_store(site.config.database_path) as store:
                seeded = seed_comments(site, site.config.intake_url, store)
                report = rebuild(site, store, full=True)
            echo(f"Posted and approved {len(seeded)} comments; built {report.files_written} files.")
            if httpd is None:
                echo(f"Demo site written to {site.public} (serve it with any static server).")
                return site
            serve_until_interrupted(site, intake.url, echo)
        return site
    finally:
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()


class _Handler(SimpleHTTPRequestHandler):
    """A static host that always revalidates (a CDN's purge, without the CDN) and stays quiet."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not news in a demo; errors still reach the visitor's browser."""


def start_site_server(public: Path, port: int) -> ThreadingHTTPServer:
    """``http.server`` on loopback, in a daemon thread; the caller shuts it down.

    A port that is taken is the same one-line error as for ``afterword serve``.
    """
    handler = functools.partial(_Handler, directory=str(public))
    try:
        httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise listen_error("127.0.0.1", port, exc) from None
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def serve_until_interrupted(
    site: DemoSite, intake_url: str, echo: Callable[[str], None], *, forever: bool = True
) -> None:
    """Print the instructions, then rebuild every couple of seconds until Ctrl-C."""
    config = f"--config {site.root / 'afterword.toml'}"
    echo(f"Demo site: {site.site_url}")
    echo(f"A post:    {site.post_url}")
    echo(f"Intake:    {intake_url}/api/comments")
    echo("Post a comment on the page, then moderate it from another terminal:")
    echo(f"  afterword {config} queue")
    echo(f"  afterword {config} approve ID")
    echo(f"The demo rebuilds every {REBUILD_SECONDS:g} s; reload the page. Ctrl-C stops it.")
    try:
        with open_store(site.config.database_path) as store:
            while forever:
                time.sleep(REBUILD_SECONDS)
                if rebuild(site, store).pages_rendered:
                    echo("Rebuilt: reload the page to see the change.")
    except KeyboardInterrupt:
        echo("Stopping the demo.")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · afterword demo</title>
<link rel="stylesheet" href="/comments/afterword.css">
<style>body{{max-width:44rem;margin:2rem auto;padding:0 1rem;font:17px/1.6 system-ui,sans-serif}}
@media (prefers-color-scheme:dark){{body{{background:#16181b;color:#e6e6e6}}a{{color:#8cb8ff}}}}
pre{{overflow-x:auto}}</style></head>
<body><header><a href="/">afterword demo</a></header><main>
<h1>{title}</h1>
{body}
</main>
<script src="/comments/afterword.js" defer></script>
</body></html>
"""

SNIPPET = '<div data-afterword></div>\n<script src="/comments/afterword.js" defer></script>'


def write_pages(public: Path) -> None:
    """The list page, the post (fragment included at build time) and a post with no thread."""
    fragment = public / "comments" / page_folder(POST_KEY) / "comments.html"
    included = fragment.read_text("utf-8") if fragment.is_file() else ""
    posts = [("/blog/hello-world/", "Hello, world"), ("/blog/second-post/", "A second post")]
    items = "".join(
        f'<li><a href="{key}">{title}</a> · <a href="{key}#afterword-form" '
        f'data-afterword-count="{key}">comments</a></li>'
        for key, title in posts
    )
    index = (
        "<p>This site is static. Comments are static files too: the widget fetches a fragment "
        "when the thread comes into view; new comments go to the intake and wait for you.</p>"
        f"<ul>{items}</ul>"
    )
    _write(public / "index.html", PAGE.format(title="Posts", body=index))
    hello = (
        "<p>The embed snippet on every page:</p>"
        f"<pre><code>{escape(SNIPPET)}</code></pre>"
        "<p>Here the thread is also included at build time, so it reads without JavaScript; "
        "the script only enhances the form.</p>"
        f"<div data-afterword>{included}</div>"
    )
    _write(public / "blog/hello-world/index.html", PAGE.format(title="Hello, world", body=hello))
    second = (
        "<p>No comments here yet: the widget loads <code>empty.html</code> when the thread "
        'comes near the viewport.</p><div style="height:60vh"></div>'
        "<div data-afterword></div>"
    )
    _write(public / "blog/second-post/index.html", PAGE.format(title="A second post", body=second))


def _write(path: Path, text: str) -> None:
    """Write only when different, so a reload never sees a half-written page for no reason."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text("utf-8") != text:
        path.write_text(text, encoding="utf-8")
