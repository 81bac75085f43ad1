"""Posting from the widget to the real intake (uvicorn on loopback), in Chromium.

Fragments are hand-made here (the form markup of afterword/templates/form.html); the
end-to-end loop through moderation and the builder is test_widget_loop.py.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

import pytest
from fixtures_browser import (
    StaticServer,
    comment_html,
    page_html,
    thread_html,
    write_page,
    write_thread,
    write_widget,
)
from playwright.sync_api import Page

from afterword.config import Config, load_config
from afterword.intake.server import BackgroundServer
from afterword.moderation.actions import apply_action
from afterword.store import open_store

pytestmark = pytest.mark.browser

KEY = "/blog/post/"


@dataclass
class PostSite:
    root: Path
    server: StaticServer
    config: Config

    @property
    def page_url(self) -> str:
        return self.server.url + "blog/post/"

    def publish(self, intake_url: str, seed: int = 1000) -> None:
        """The widget, a one-comment thread whose form posts to ``intake_url``, the page."""
        write_widget(self.root)
        thread = thread_html(
            KEY, comment_html(seed, "Hello"), intake_url=intake_url, page_url=self.page_url
        )
        write_thread(self.root, KEY, thread)
        write_page(self.root, KEY, page_html())


def make_site(tmp_path: Path, server_for: Callable[[Path], StaticServer], limits: str) -> PostSite:
    root = tmp_path / "public"
    root.mkdir()
    server = server_for(root)
    config_file = tmp_path / "afterword.toml"
    config_file.write_text(f'[site]\nurl = "{server.url}"\n[limits]\n{limits}\n', "utf-8")
    return PostSite(root, server, load_config(config_file))


@pytest.fixture
def site(tmp_path: Path, static_server: Callable[[Path], StaticServer]) -> Iterator[PostSite]:
    made = make_site(tmp_path, static_server, "per_minute = 0\nper_hour = 0")
    with BackgroundServer(made.config) as intake:
        made.publish(intake.url + "/api/comments", seed=seed_comment(made.config, intake.url))
        yield made


def seed_comment(config: Config, intake_url: str) -> int:
    """One approved comment, posted over HTTP and approved as `afterword approve` does."""
    body = json.dumps({"page": KEY, "author": "Ana", "body": "Hello"}).encode()
    request = Request(
        intake_url + "/api/comments", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urlopen(request, timeout=10) as response:
        comment_id: int = json.load(response)["data"]["id"]
    with open_store(config.database_path) as store:
        apply_action(store, [comment_id], "approve", actor="test")
    return comment_id


def open_thread(page: Page, site: PostSite) -> None:
    page.goto(site.page_url)
    page.locator(".afterword-comment").first.wait_for()


def fill_and_send(page: Page, body: str, **fields: str) -> None:
    page.fill("#afterword-body", body)  # the compact form: comment box first
    page.fill("#afterword-author", fields.get("author", "Zoë"))
    for name, value in fields.items():
        if name != "author":
            page.fill(f"#afterword-{name}", value)
    page.locator(".afterword-form [type=submit]").click()


def stored_pending(page: Page) -> list[dict[str, object]]:
    raw = page.evaluate("localStorage['afterword:pending'] || '[]'")
    result: list[dict[str, object]] = json.loads(raw)
    return result


def test_widget_post_shows_pending_comment(browser_page: Page, site: PostSite) -> None:
    open_thread(browser_page, site)
    fill_and_send(browser_page, "Some **bold** words")
    pending = browser_page.locator(".afterword-pending")
    pending.wait_for()
    assert pending.locator(".afterword-badge").inner_text() == "Awaiting moderation"
    assert pending.locator(".afterword-body strong").inner_text() == "bold"
    assert browser_page.evaluate("document.activeElement.classList.contains('afterword-pending')")
    assert browser_page.locator(".afterword-status").inner_text().startswith("Thank you")
    assert browser_page.input_value("#afterword-body") == ""
    assert [p["page"] for p in stored_pending(browser_page)] == [KEY]
    browser_page.reload()
    browser_page.locator(".afterword-pending").wait_for()
    assert browser_page.locator(".afterword-comment").count() == 2
    assert browser_page.context.cookies() == []
    hosts = {urlsplit(u).hostname for u in browser_page.requests}  # type: ignore[attr-defined]
    assert hosts == {"127.0.0.1"}


def test_widget_post_reply_moves_form_and_nests(browser_page: Page, site: PostSite) -> None:
    open_thread(browser_page, site)
    browser_page.locator("#c1 > article > footer > button").click()
    assert browser_page.locator("#c1 > .afterword-form").count() == 1
    assert browser_page.input_value("input[name=parent]") == "1"
    assert browser_page.evaluate("document.activeElement.id") == "afterword-body"
    fill_and_send(browser_page, "A reply to Ana")
    reply = browser_page.locator("#c1 > .afterword-replies > .afterword-pending")
    reply.wait_for()
    assert browser_page.locator("#c1 > .afterword-form").count() == 0
    assert browser_page.input_value("input[name=parent]") == ""
    assert stored_pending(browser_page)[0]["parent"] == 1


def test_widget_post_cancel_reply_restores_form(browser_page: Page, site: PostSite) -> None:
    open_thread(browser_page, site)
    browser_page.locator("#c1 > article > footer > button").click()
    browser_page.locator(".afterword-cancel").click()
    assert browser_page.locator("section > .afterword-form").count() == 1
    assert browser_page.input_value("input[name=parent]") == ""
    assert browser_page.locator(".afterword-cancel").count() == 0


def test_widget_post_field_error_beside_field(browser_page: Page, site: PostSite) -> None:
    open_thread(browser_page, site)
    fill_and_send(browser_page, "Look at my site", website="not a url")
    error = browser_page.locator("label[for=afterword-website] > .afterword-error")
    error.wait_for()
    assert error.inner_text()
    assert browser_page.get_attribute("#afterword-website", "aria-invalid") == "true"
    assert browser_page.evaluate("document.activeElement.id") == "afterword-website"
    assert "not accepted" in browser_page.locator(".afterword-status").inner_text()
    assert browser_page.input_value("#afterword-body") == "Look at my site"
    browser_page.fill("#afterword-website", "https://zoe.example")
    browser_page.locator(".afterword-form [type=submit]").click()
    browser_page.locator(".afterword-pending").wait_for()
    assert browser_page.locator(".afterword-error").count() == 0


def test_widget_post_rate_limited_says_when(
    tmp_path: Path, browser_page: Page, static_server: Callable[[Path], StaticServer]
) -> None:
    made = make_site(tmp_path, static_server, "per_minute = 1")
    with BackgroundServer(made.config) as intake:
        made.publish(intake.url + "/api/comments")
        open_thread(browser_page, made)
        fill_and_send(browser_page, "first")
        browser_page.locator(".afterword-pending").wait_for()
        fill_and_send(browser_page, "second")
        status = browser_page.locator(".afterword-status")
        browser_page.wait_for_function(
            "document.querySelector('.afterword-status').textContent.includes('Try again in')"
        )
        assert re.fullmatch(
            r"Too many comments for now\. Try again in \d+ seconds\.", status.inner_text()
        )
        assert browser_page.input_value("#afterword-body") == "second"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_widget_post_intake_down_keeps_text_and_retries(
    tmp_path: Path, browser_page: Page, static_server: Callable[[Path], StaticServer]
) -> None:
    made = make_site(tmp_path, static_server, "per_minute = 0")
    port = free_port()
    made.publish(f"http://127.0.0.1:{port}/api/comments")
    open_thread(browser_page, made)
    fill_and_send(browser_page, "Written while the intake sleeps")
    retry = browser_page.locator(".afterword-retry")
    retry.wait_for()
    assert browser_page.locator(".afterword-status").inner_text() == (
        "Could not reach the comment server. Your text is kept."
    )
    assert browser_page.evaluate("document.activeElement.className") == "afterword-retry"
    assert browser_page.input_value("#afterword-body") == "Written while the intake sleeps"
    with BackgroundServer(made.config, port=port):
        retry.click()
        browser_page.locator(".afterword-pending").wait_for()
    assert browser_page.locator(".afterword-retry").count() == 0


def test_widget_post_pending_dropped_when_published_or_old(
    browser_page: Page, site: PostSite
) -> None:
    """Stored comments: published → dropped, 31 days old → dropped, fresh → shown once."""
    now = time.time() * 1000
    entries = [
        {"id": 1, "page": KEY, "html": "<p>dup</p>", "author": "Ana", "t": now},
        {"id": 50, "page": KEY, "html": "<p>old</p>", "author": "Old", "t": now - 31 * 864e5},
        {"id": 51, "page": KEY, "html": "<p>fresh</p>", "author": "New", "t": now},
        {"id": 52, "page": "/elsewhere/", "html": "<p>x</p>", "author": "X", "t": now},
    ]
    browser_page.goto(site.server.url + "afterword.js")
    browser_page.evaluate("e => localStorage['afterword:pending'] = JSON.stringify(e)", entries)
    open_thread(browser_page, site)
    browser_page.locator("#c51").wait_for()
    ids = browser_page.locator(".afterword-comment").evaluate_all("l => l.map(e => e.id)")
    assert ids == ["c1", "c51"]
    assert [p["id"] for p in stored_pending(browser_page)] == [51, 52]


def test_widget_post_sqs_receipts_are_keyed_by_submission_and_cleared_when_published(
    browser_page: Page, site: PostSite
) -> None:
    """An SQS intake's 202 has ``id: null`` and a ``submission`` id: two such receipts must
    not collide, and the one whose comment ``pull`` stored and the builder published (it
    carries ``data-submission``) is dropped, as a receipt with an id is."""
    published, waiting = "a" * 32, "b" * 32
    queued = comment_html(7, "From the queue").replace(
        'id="c7"', f'id="c7" data-submission="{published}"'
    )
    thread = thread_html(KEY, queued, intake_url="http://127.0.0.1:9/api/comments",
                         page_url=site.page_url)  # fmt: skip
    write_thread(site.root, KEY, thread)
    now = time.time() * 1000
    entries = [
        {"id": None, "submission": published, "page": KEY, "html": "<p>q</p>", "author": "A",
         "t": now},
        {"id": None, "submission": waiting, "page": KEY, "html": "<p>w</p>", "author": "B",
         "t": now},
    ]  # fmt: skip
    browser_page.goto(site.server.url + "afterword.js")
    browser_page.evaluate("e => localStorage['afterword:pending'] = JSON.stringify(e)", entries)
    open_thread(browser_page, site)
    browser_page.locator(f"#cs{waiting}").wait_for()
    ids = browser_page.locator(".afterword-comment").evaluate_all("l => l.map(e => e.id)")
    assert ids == ["c7", f"cs{waiting}"]
    assert [p["submission"] for p in stored_pending(browser_page)] == [waiting]
