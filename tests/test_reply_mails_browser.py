"""The "Mail me replies" box in Chromium: hidden until an e-mail is typed, posted through the
real intake, on a page with ``Content-Security-Policy: default-src 'self'``; two widgets on
one page keep their ids apart; axe finds nothing in the form or on the subscription pages."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fixtures_browser import AXE, axe_violations, write_page
from fixtures_notify import SmtpServer, free_port
from playwright.sync_api import Browser, Locator, Page
from test_widget_pages import SCRIPT, STRICT, VIOLATIONS, HeaderHandler, wait_under_csp

from afterword.cli import main
from afterword.config import Config, load_config
from afterword.intake.server import BackgroundServer
from afterword.notify.runner import drain_once
from afterword.store import open_store

pytestmark = pytest.mark.browser


@dataclass
class Site:
    root: Path
    url: str
    config: Config
    config_file: Path
    httpd: ThreadingHTTPServer

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(self.config_file), *args])
        assert result.exit_code == 0, result.output
        return result.output

    def page(self, path: str, body: str) -> str:
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>T</title>'
            f'</head><body><main><h1>A post</h1>{body}</main><script src="{SCRIPT}" defer>'
            "</script></body></html>"
        )
        write_page(self.root, path, html)
        return self.url + path.lstrip("/")

    def subscriptions(self) -> list[tuple[str, str]]:
        with open_store(self.config.database_path) as store:
            rows = store.query(
                "SELECT s.email_key, r.state FROM subscriptions AS s "
                "JOIN subscribers AS r USING (email_key) ORDER BY s.comment_id"
            )
            return [(row[0], row[1]) for row in rows]


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[Site]:
    """A strict-CSP static host, the intake (its own public URL), reply mails on."""
    public = tmp_path / "public"
    public.mkdir()
    handler = functools.partial(HeaderHandler, directory=str(public))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    httpd.paths = []  # type: ignore[attr-defined]
    port = free_port()
    # default-src 'self', plus the intake's origin to post to (docs/embedding.md, CSP)
    policy = f"{STRICT}; connect-src 'self' http://127.0.0.1:{port}"
    httpd.extra_headers = {"Content-Security-Policy": policy}  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    config_file = tmp_path / "afterword.toml"
    config_file.write_text(
        f'[site]\nurl = "{url}"\n[intake]\nport = {port}\n'
        f'public_url = "http://127.0.0.1:{port}"\n'
        '[build]\noutput_dir = "public/comments"\n[limits]\nper_minute = 0\nper_hour = 0\n'
        f'[notify]\nreply_mails = true\nsmtp_url = "{smtp_server.url}"\nbackground = false\n',
        encoding="utf-8",
    )
    config = load_config(config_file, environ={})
    try:
        with BackgroundServer(config, port=port):
            made = Site(public, url, config, config_file, httpd)
            made.cli("build")
            yield made
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def open_form(page: Page, url: str) -> Locator:
    page.add_init_script(VIOLATIONS)
    page.goto(url)
    form = page.locator(".afterword-form").first
    form.wait_for()
    form.locator("[name=body]").focus()
    wait_under_csp(page, "window.afterword && window.afterword.form")
    return form


def test_box_shows_once_an_email_is_typed_and_posting_subscribes(
    site: Site, browser_page: Page, smtp_server: SmtpServer
) -> None:
    form = open_form(browser_page, site.page("/blog/post/", "<div data-afterword></div>"))
    box = form.locator("[name=notify_replies]")
    holder = form.locator(".afterword-notify")
    assert box.count() == 1
    assert holder.is_hidden()
    assert holder.get_attribute("hidden") is not None
    email = form.locator("[name=email]")
    email.fill("ada@example.org")
    assert holder.is_visible()
    assert form.locator("label[for]", has_text="Mail me replies").is_visible()
    email.fill("   ")
    assert holder.is_hidden()
    email.fill("ada@example.org")
    form.locator("label", has_text="Mail me replies").click()  # the label toggles the box
    assert box.is_checked()
    form.locator("[name=author]").fill("Ada")
    form.locator("[name=body]").fill("Please tell me when someone answers.")
    form.locator("[type=submit]").click()
    browser_page.locator(".afterword-pending").wait_for()
    assert form.locator(".afterword-status").inner_text() == (
        "Thank you! Your comment has been received. If this address is new here, a mail asks "
        "you to confirm reply mails."
    )
    assert site.subscriptions() == [("ada@example.org", "unconfirmed")]
    assert browser_page.evaluate("window.__violations") == []
    report = drain_once(site.config)
    assert report is not None
    assert report.sent == 1
    assert smtp_server.wait_for(1)[0]["Subject"] == "Confirm reply mails from My site"


def test_box_ticked_then_email_cleared_is_not_sent(site: Site, browser_page: Page) -> None:
    form = open_form(browser_page, site.page("/blog/post/", "<div data-afterword></div>"))
    form.locator("[name=email]").fill("ada@example.org")
    form.locator("[name=notify_replies]").check()
    form.locator("[name=email]").fill("")
    form.locator("[name=author]").fill("Ada")
    form.locator("[name=body]").fill("No address after all.")
    form.locator("[type=submit]").click()
    browser_page.locator(".afterword-pending").wait_for()
    assert form.locator(".afterword-error").count() == 0
    status = form.locator(".afterword-status").inner_text()
    assert status == "Thank you! Your comment has been received."
    assert site.subscriptions() == []
    assert browser_page.evaluate("window.__violations") == []


def test_two_widgets_keep_their_boxes_apart(site: Site, browser_page: Page) -> None:
    site.httpd.extra_headers = {"Content-Security-Policy": STRICT}  # type: ignore[attr-defined]
    url = site.page(
        "/two/",
        '<div data-afterword data-page="/a/"></div><div data-afterword data-page="/b/"></div>',
    )
    browser_page.add_init_script(VIOLATIONS)
    browser_page.goto(url)
    forms = browser_page.locator(".afterword-form")
    forms.nth(1).wait_for()
    forms.nth(1).locator("[name=body]").focus()
    wait_under_csp(browser_page, "window.afterword && window.afterword.form")
    duplicates = browser_page.evaluate(
        """() => { const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
        return ids.filter((id, i) => ids.indexOf(id) != i); }"""
    )
    assert duplicates == []
    second = forms.nth(1)
    second.locator("[name=email]").fill("bea@example.org")
    assert second.locator(".afterword-notify").is_visible()
    assert forms.nth(0).locator(".afterword-notify").is_hidden()
    second.locator("label", has_text="Mail me replies").click()
    assert second.locator("[name=notify_replies]").is_checked()
    assert not forms.nth(0).locator("[name=notify_replies]").is_checked()
    assert browser_page.evaluate("window.__violations") == []


def test_form_with_the_box_has_no_axe_violations(site: Site, chromium_browser: Browser) -> None:
    url = site.page("/blog/post/", "<div data-afterword></div>")
    context = chromium_browser.new_context(bypass_csp=True)  # axe is an injected script
    try:
        page = context.new_page()
        form = open_form(page, url)
        form.locator("[name=email]").fill("ada@example.org")
        assert form.locator(".afterword-notify").is_visible()
        assert axe_violations(page) == []
        assert "label" in page.axe_passes  # type: ignore[attr-defined]
    finally:
        context.close()


def test_subscription_pages_have_no_axe_violations(
    site: Site, chromium_browser: Browser, smtp_server: SmtpServer
) -> None:
    answer = httpx.post(
        site.config.intake_url,
        json={
            "page": "/blog/post/",
            "author": "Ada",
            "email": "ada@example.org",
            "body": "Tell me",
            "notify_replies": True,
        },
    )
    assert answer.status_code == 202
    drain_once(site.config)
    text = smtp_server.wait_for(1)[0].get_body(("plain",))
    assert text is not None
    found = re.search(r"Confirm: (\S+)", str(text.get_content()))
    assert found is not None
    confirm = found.group(1)
    base = site.config.intake_base
    context = chromium_browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    try:
        page = context.new_page()
        for url, status in [
            (confirm, 200),
            (confirm.replace("v1.confirm.1.", "v1.unsubscribe.1."), 403),
            (base + "/subscription/", 404),
        ]:
            shown = page.goto(url)
            assert shown is not None
            assert shown.status == status
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
            assert result["passes"]
            assert result["violations"] == []
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.goto(confirm)
        page.locator("button.primary").click()  # the page's own button, with its Origin
        page.wait_for_load_state()
        assert "<h1>Confirmed</h1>" in page.content()
    finally:
        context.close()
    assert site.subscriptions() == [("ada@example.org", "confirmed")]


def test_confirm_page_without_javascript_on_a_phone(
    site: Site, chromium_browser: Browser, smtp_server: SmtpServer
) -> None:
    httpx.post(
        site.config.intake_url,
        json={
            "page": "/blog/post/",
            "author": "Ada",
            "email": "ada@example.org",
            "body": "Tell me",
            "notify_replies": True,
        },
    )
    drain_once(site.config)
    text = smtp_server.wait_for(1)[0].get_body(("plain",))
    assert text is not None
    found = re.search(r"Confirm: (\S+)", str(text.get_content()))
    assert found is not None
    context = chromium_browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False, is_mobile=True
    )
    try:
        page = context.new_page()
        page.goto(found.group(1))
        box = page.locator("button.primary").bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= 390
        assert box["height"] >= 44
        page.locator("button.primary").click()
        page.wait_for_load_state()
        assert "<h1>Confirmed</h1>" in page.content()
    finally:
        context.close()
