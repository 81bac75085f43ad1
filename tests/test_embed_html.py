"""docs/embedding.md's plain HTML recipe: server-side includes in Debian's nginx, in Chromium.

nginx reads the published fragment on every request, so no site rebuild is needed; a page
with no thread yet must get an empty container (``ssi_silent_errors``), not an error text.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page
from test_embed_support import (
    HOST_CSS,
    HOST_CSS_APPLIES,
    POST_KEY,
    TRICKY_BODY,
    EmbedSite,
    check_empty_page,
    check_thread_page,
    check_without_javascript,
    computed,
    embed_site,
    recipe,
)

from afterword.demo import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# One process in the foreground as the test's own user; everything it writes stays in tmp.
NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    add_header Cache-Control no-store;
    location / {{
      include {tmp}/afterword-ssi.conf;
    }}
  }}
}}
"""


# docs/embedding.md, Theming: a site's own rule wins over afterword's with `html` in front,
# although the widget's stylesheet is loaded after the site's.
OVERRIDE = "html .afterword-thread:not(#\\#) .afterword-heading { color: rgb(1, 2, 3); }\n"


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text("utf-8", errors="replace")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nginx did not listen on {port}")


@pytest.fixture
def nginx_site(tmp_path: Path) -> Iterator[EmbedSite]:
    """The recipe's public/ folder served by nginx with the documented SSI settings."""
    run = tmp_path / "nginx"
    run.mkdir()
    (run / "afterword-ssi.conf").write_text(recipe("Plain HTML").file("nginx.conf"), "utf-8")
    port = free_port()
    conf = run / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=run, port=port, root=tmp_path / "public"), "utf-8")
    process = subprocess.Popen([NGINX, "-p", str(run), "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        wait_for_port(port, process, run / "error.log")
        with embed_site(tmp_path, f"http://127.0.0.1:{port}/", "Plain HTML") as site:
            yield site
    finally:
        process.terminate()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def page(path: str, embed: str) -> str:
    (stylesheet,) = recipe("Build-time include").snippets
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tiny</title>'
        f'<link rel="stylesheet" href="/css/site.css">{stylesheet}</head>'
        f"<body><main><h1>Page {path}</h1><p>Text.</p>{embed}</main></body></html>"
    )


def test_embed_plain_html_server_side_include(
    chromium_browser: Browser, browser_page: Page, nginx_site: EmbedSite
) -> None:
    (embed,) = recipe("Plain HTML").snippets
    assert POST_KEY in embed
    nginx_site.write("public/css/site.css", HOST_CSS + OVERRIDE)
    nginx_site.write("public/blog/post/index.html", page(POST_KEY, embed))
    nginx_site.write("public/about/index.html", page("/about/", embed.replace(POST_KEY, "/about/")))
    nginx_site.write("public/index.html", page("/", '<a href="/blog/post/">A post</a>'))
    comment_id = nginx_site.seed(POST_KEY, TRICKY_BODY)

    served = httpx.get(nginx_site.url("/about/"), timeout=10).text
    assert "<div data-afterword></div>" in served, "a page without a thread is not left empty"
    check_without_javascript(chromium_browser, nginx_site, POST_KEY, comment_id, TRICKY_BODY)
    check_thread_page(browser_page, nginx_site, POST_KEY, comment_id, TRICKY_BODY, HOST_CSS_APPLIES)
    assert computed(browser_page, ".afterword-heading", "color") == "rgb(1, 2, 3)"
    check_empty_page(browser_page, nginx_site, "/about/", "/about/", HOST_CSS_APPLIES)

    later = nginx_site.seed(POST_KEY, "Published later, no site rebuild")
    browser_page.goto(nginx_site.url(POST_KEY))
    assert browser_page.locator(f"#c{later} .afterword-body").inner_text().startswith("Published")
