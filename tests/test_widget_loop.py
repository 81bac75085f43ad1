"""The whole loop in Chromium: real intake, CLI moderation, real builder, static server.

post → pending badge → `afterword approve` → `afterword build` → reload → published once;
replies nest; without JavaScript the included fragment reads and the plain form posts (303).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from fixtures_browser import StaticServer, axe_violations, page_html, write_page
from playwright.sync_api import Browser, Page

from afterword.cli import main
from afterword.config import Config, load_config
from afterword.demo import free_port, post_comment
from afterword.intake.server import BackgroundServer
from afterword.pagekey import page_folder
from afterword.store import open_store

pytestmark = pytest.mark.browser

KEY = "/blog/post/"
SCRIPT = "/comments/afterword.js"


@dataclass
class Loop:
    root: Path
    server: StaticServer
    config: Config
    config_file: Path

    @property
    def page_url(self) -> str:
        return self.server.url + KEY.lstrip("/")

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(self.config_file), *args])
        assert result.exit_code == 0, result.output
        return result.output

    def fragment(self) -> str:
        path = self.root / "public" / "comments" / page_folder(KEY) / "comments.html"
        return path.read_text("utf-8")


@pytest.fixture
def loop(tmp_path: Path, static_server: Callable[[Path], StaticServer]) -> Iterator[Loop]:
    """A site whose output folder is served under /comments/, and a running intake."""
    public = tmp_path / "public"
    public.mkdir()
    server = static_server(public)
    config_file = tmp_path / "afterword.toml"
    config_file.write_text(
        f'[site]\nurl = "{server.url}"\n[intake]\nport = {free_port()}\n'
        '[build]\noutput_dir = "public/comments"\n[limits]\nper_minute = 0\nper_hour = 0\n',
        encoding="utf-8",
    )
    config = load_config(config_file, environ={})
    with BackgroundServer(config, port=config.intake.port):
        made = Loop(tmp_path, server, config, config_file)
        made.cli("build")
        yield made


def post(page: Page, body: str) -> None:
    page.fill(".afterword-form [name=body]", body)  # the compact form: comment box first
    page.fill(".afterword-form [name=author]", "Zoë")
    page.locator(".afterword-form [type=submit]").click()
    page.locator(".afterword-pending").wait_for()


def test_widget_loop_post_approve_build_reload(browser_page: Page, loop: Loop) -> None:
    write_page(loop.root / "public", KEY, page_html(spacer="2500px", script=SCRIPT))
    browser_page.goto(loop.page_url)
    browser_page.wait_for_load_state("load")
    browser_page.wait_for_timeout(300)
    assert not [u for u in browser_page.requests if "/threads/" in u or "empty" in u]  # type: ignore[attr-defined]
    browser_page.mouse.wheel(0, 2500)
    post(browser_page, "The *first* comment")
    assert browser_page.locator(".afterword-badge").inner_text() == "Awaiting moderation"

    loop.cli("approve", "1")
    loop.cli("build")
    browser_page.reload()
    browser_page.mouse.wheel(0, 2500)
    browser_page.locator("#c1:not([data-pending])").wait_for()
    assert browser_page.locator("#c1").count() == 1
    assert browser_page.locator(".afterword-pending").count() == 0
    # Published, still within the edit window: the receipt stays, and so do Edit and Delete.
    kept = json.loads(browser_page.evaluate("localStorage['afterword:pending']"))
    assert [receipt["id"] for receipt in kept] == [1]
    assert browser_page.locator("#c1 .afterword-edit").count() == 1

    browser_page.locator("#c1 > article > footer > button").click()
    post(browser_page, "A reply")
    assert browser_page.locator("#c1 > .afterword-replies > .afterword-pending").count() == 1
    loop.cli("approve", "2")
    loop.cli("build")
    browser_page.reload()
    browser_page.mouse.wheel(0, 2500)
    browser_page.locator("#c1 > .afterword-replies > #c2:not([data-pending])").wait_for()
    assert browser_page.locator(".afterword-comment").count() == 2
    assert axe_violations(browser_page) == []
    assert browser_page.context.cookies() == []
    assert {urlsplit(u).hostname for u in browser_page.requests} == {"127.0.0.1"}  # type: ignore[attr-defined]


def test_widget_loop_without_javascript(chromium_browser: Browser, loop: Loop) -> None:
    """The build-time include reads, and the plain form posts and comes back (303)."""
    post_comment(loop.config.intake_url, KEY, "Ana", "Seeded over HTTP", None)
    loop.cli("approve", "1")
    loop.cli("build")
    include_fragment(loop)
    context = chromium_browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(loop.page_url)
        assert page.locator("#c1 .afterword-body").inner_text() == "Seeded over HTTP"
        page.fill("[name=author]", "No Script")
        page.fill("[name=body]", "Posted by a plain HTML form")
        with page.expect_navigation():
            page.locator(".afterword-form [type=submit]").click()
        assert page.url == loop.page_url + "#afterword-pending"
        assert page.locator("#afterword-pending").is_visible()
        assert not page.locator("#afterword-error").is_visible()
        with open_store(loop.config.database_path) as store:
            rows = store.query("SELECT author, status FROM comments WHERE id = 2")
        assert [(r["author"], r["status"]) for r in rows] == [("No Script", "pending")]
        loop.cli("approve", "2")
        loop.cli("build")
        include_fragment(loop)
        page.reload()
        assert page.locator("#c2 .afterword-body").inner_text() == "Posted by a plain HTML form"
        page.fill("[name=author]", "No Script")
        page.fill("[name=body]", "   ")  # passes the browser's `required`, empty once trimmed
        with page.expect_navigation():
            page.locator(".afterword-form [type=submit]").click()
        assert page.url.endswith("?afterword_error=invalid&afterword_fields=body#afterword-error")
        assert page.locator("#afterword-error").is_visible()
        assert not page.locator("#afterword-pending").is_visible()
    finally:
        context.close()


def include_fragment(loop: Loop) -> None:
    """Regenerate the page with the fragment included, as a static site generator would."""
    container = f"<div data-afterword>{loop.fragment()}</div>"
    head = '<link rel="stylesheet" href="/comments/afterword.css">'  # as docs/embedding.md says
    html = page_html(container=container, script=SCRIPT, head=head)
    write_page(loop.root / "public", KEY, html)


def test_widget_loop_included_thread_accessible(browser_page: Page, loop: Loop) -> None:
    """axe-core on the built empty thread as JavaScript enhances it, and on a focus walk."""
    empty = (loop.root / "public" / "comments" / "empty.html").read_text("utf-8")
    write_page(loop.root / "public", KEY, page_html(spacer="0px", script=SCRIPT))
    browser_page.goto(loop.page_url)
    browser_page.locator(".afterword-form").wait_for()
    assert "afterword-form" in empty
    assert axe_violations(browser_page) == []
    focused = []
    for _ in range(6):
        browser_page.keyboard.press("Tab")
        focused.append(
            browser_page.evaluate("document.activeElement.name || document.activeElement.tagName")
        )
    # The comment box comes first; its focus reveals name, e-mail and website, next in order.
    assert focused[:4] == ["body", "author", "email", "website"]
    assert "BUTTON" in focused
