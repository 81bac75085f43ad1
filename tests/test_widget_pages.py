"""The widget on real pages, in Chromium, through the real intake and builder.

Two-step loading (no form module until idle or a focus), several widgets on one page, a page
served with ``Content-Security-Policy: default-src 'self'``, a browser without
``String.prototype.isWellFormed``, ``afterword.run()`` for Turbo/PJAX navigation, and the
count cache's lifetime.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from fixtures_browser import QuietHandler, write_page
from playwright.sync_api import Page

from afterword.cli import main
from afterword.config import Config, load_config
from afterword.demo import free_port, post_comment
from afterword.intake.server import BackgroundServer
from afterword.pagekey import page_folder

pytestmark = pytest.mark.browser

SCRIPT = "/comments/afterword.js"
STRICT = "default-src 'self'"
# Stands in for a browser that never gets idle: idle callbacks are kept, never run.
NEVER_IDLE = (
    "window.requestIdleCallback = (callback) => { (window.__idle ||= []).push(callback); };"
)
# Every CSP violation the page reports, kept where the test can read it.
VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


class HeaderHandler(QuietHandler):
    """The tests' static host, sending the server's ``extra_headers`` (a CSP) with each file."""

    def end_headers(self) -> None:
        for name, value in self.server.extra_headers.items():  # type: ignore[attr-defined]
            self.send_header(name, value)
        super().end_headers()


@dataclass
class Site:
    root: Path
    url: str
    config: Config
    config_file: Path
    httpd: ThreadingHTTPServer

    def headers(self, **values: str) -> None:
        self.httpd.extra_headers = {k.replace("_", "-"): v for k, v in values.items()}  # type: ignore[attr-defined]

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(self.config_file), *args])
        assert result.exit_code == 0, result.output
        return result.output

    def comment(self, page: str, body: str, author: str = "Ana") -> int:
        """Posted over HTTP to the real intake, approved with the CLI (build separately)."""
        comment_id = post_comment(self.config.intake_url, page, author, body, None)
        self.cli("approve", str(comment_id))
        return comment_id

    def page(self, path: str, body: str, head: str = "") -> str:
        """A page with no inline style or script (a strict CSP would refuse them)."""
        html = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>T</title>{head}'
            f'</head><body><main><h1>A post</h1>{body}</main><script src="{SCRIPT}" defer>'
            "</script></body></html>"
        )
        write_page(self.root, path, html)
        return self.url + path.lstrip("/")

    def fragment(self, key: str) -> str:
        path = self.root / "comments" / page_folder(key) / "comments.html"
        return path.read_text("utf-8")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A static host for the site (headers settable) with afterword's output under /comments/."""
    public = tmp_path / "public"
    public.mkdir()
    handler = functools.partial(HeaderHandler, directory=str(public))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    httpd.paths = []  # type: ignore[attr-defined]
    httpd.extra_headers = {}  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    config_file = tmp_path / "afterword.toml"
    config_file.write_text(
        f'[site]\nurl = "{url}"\n[intake]\nport = {free_port()}\n'
        '[build]\noutput_dir = "public/comments"\n[limits]\nper_minute = 0\nper_hour = 0\n',
        encoding="utf-8",
    )
    config = load_config(config_file, environ={})
    try:
        with BackgroundServer(config, port=config.intake.port):
            made = Site(public, url, config, config_file, httpd)
            made.cli("build")
            yield made
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def module_requests(page: Page) -> list[str]:
    return [u for u in page.requests if "/afterword-form." in u]  # type: ignore[attr-defined]


def test_widget_form_module_waits_for_focus_when_never_idle(site: Site, browser_page: Page) -> None:
    site.comment("/blog/post/", "Already here")
    site.cli("build")
    browser_page.add_init_script(NEVER_IDLE)
    browser_page.goto(site.page("/blog/post/", "<div data-afterword></div>"))
    browser_page.locator(".afterword-comment").wait_for()
    browser_page.wait_for_timeout(600)
    assert module_requests(browser_page) == []
    assert browser_page.evaluate("window.__idle.length") >= 1  # it did ask to be run when idle
    # The compact form: only the comment box until the first focus.
    assert not browser_page.locator(".afterword-form [name=author]").is_visible()
    browser_page.locator(".afterword-form [name=body]").focus()
    assert browser_page.locator(".afterword-form [name=author]").is_visible()
    browser_page.wait_for_function("window.afterword.form")
    assert len(module_requests(browser_page)) == 1
    browser_page.fill(".afterword-form [name=body]", "Mine, waiting")
    browser_page.fill(".afterword-form [name=author]", "Zoë")
    browser_page.locator(".afterword-form [type=submit]").click()
    browser_page.locator(".afterword-pending").wait_for()
    heading = browser_page.locator(".afterword-heading").inner_text()
    assert heading == "1 comment · 1 comment awaiting moderation"
    assert len(module_requests(browser_page)) == 1


def test_widget_form_module_loads_when_idle(site: Site, browser_page: Page) -> None:
    browser_page.goto(site.page("/blog/idle/", "<div data-afterword></div>"))
    browser_page.locator(".afterword-form").wait_for()
    browser_page.wait_for_function("window.afterword.form")  # no focus, no click: idle time
    requests = browser_page.requests  # type: ignore[attr-defined]
    fragment = next(i for i, u in enumerate(requests) if u.endswith("/empty.html"))
    module = next(i for i, u in enumerate(requests) if "/afterword-form." in u)
    assert fragment < module
    assert browser_page.locator(".afterword-heading").inner_text() == "No comments yet"


def test_widget_pending_heading_counts_own_comment(site: Site, browser_page: Page) -> None:
    """ "1 comment awaiting moderation", not "No comments yet", above one's pending comment."""
    url = site.page("/blog/new/", "<div data-afterword></div>")
    browser_page.goto(url)
    browser_page.fill(".afterword-form [name=body]", "First!")
    browser_page.fill(".afterword-form [name=author]", "Zoë")
    browser_page.locator(".afterword-form [type=submit]").click()
    browser_page.locator(".afterword-pending").wait_for()
    assert browser_page.locator(".afterword-heading").inner_text() == (
        "1 comment awaiting moderation"
    )
    browser_page.reload()
    browser_page.locator(".afterword-pending").wait_for()
    assert browser_page.locator(".afterword-heading").inner_text() == (
        "1 comment awaiting moderation"
    )


def test_widget_dates_relative_with_absolute_on_hover_and_focus(
    site: Site, browser_page: Page
) -> None:
    site.comment("/blog/dated/", "Dated")
    site.cli("build")
    browser_page.goto(site.page("/blog/dated/", "<div data-afterword></div>"))
    time = browser_page.locator(".afterword-comment time").first
    # First paint shows the fragment's absolute date; the second module, at idle time, makes
    # it relative.
    time.wait_for()
    browser_page.locator(".afterword-comment time[data-relative]").first.wait_for()
    assert re.fullmatch(r"now|\d+ seconds? ago|1 minute ago", time.inner_text())
    absolute = time.get_attribute("title") or ""
    assert str(datetime.date.today().year) in absolute
    browser_page.locator(".afterword-comment header > a").first.focus()  # keyboard: the tooltip
    shown = time.evaluate("e => getComputedStyle(e, '::after').content")
    assert shown == f'"{absolute}"'


def test_widget_two_widgets_on_one_page(site: Site, browser_page: Page) -> None:
    site.comment("/a/", "On A")
    site.cli("build")
    url = site.page(
        "/two/",
        '<div data-afterword data-page="/a/"></div><div data-afterword data-page="/b/"></div>',
    )
    browser_page.goto(url)
    browser_page.locator(".afterword-form").nth(1).wait_for()
    browser_page.wait_for_function(
        "window.afterword.form && document.querySelectorAll('.afterword-form').length == 2"
    )
    browser_page.locator(".afterword-form").nth(1).locator("[name=body]").focus()
    duplicates = browser_page.evaluate(
        """() => { const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
        return ids.filter((id, i) => ids.indexOf(id) != i); }"""
    )
    assert duplicates == []
    # Every label names a control in its own form; every hint is in its own form.
    stray = browser_page.evaluate(
        """() => [...document.querySelectorAll('.afterword-form')].flatMap((form) =>
        [...form.querySelectorAll('label[for], [aria-describedby]')].filter((e) => {
          const ids = e.htmlFor ? [e.htmlFor] : e.getAttribute('aria-describedby').split(' ');
          return ids.some((id) => !form.contains(document.getElementById(id)));
        }).map((e) => e.outerHTML))"""
    )
    assert stray == []
    second = browser_page.locator(".afterword-form").nth(1)
    second.locator("label", has_text="Comment").click()
    assert browser_page.evaluate("document.activeElement.form") is not None
    assert browser_page.evaluate(
        "document.activeElement.form === document.querySelectorAll('.afterword-form')[1]"
    )
    # A field error lands in the second form, beside its own field.
    second.locator("[name=body]").fill("   ")
    second.locator("[name=author]").fill("Zoë")
    second.locator("[type=submit]").click()
    second.locator(".afterword-error").wait_for()
    assert browser_page.locator(".afterword-form").nth(0).locator(".afterword-error").count() == 0
    assert second.locator("[name=body][aria-invalid=true]").count() == 1
    second.locator("[name=body]").fill("For B")
    second.locator("[type=submit]").click()
    widgets = browser_page.locator("[data-afterword]")
    widgets.nth(1).locator(".afterword-pending").wait_for()
    assert widgets.nth(0).locator(".afterword-pending").count() == 0
    assert widgets.nth(1).locator(".afterword-heading").inner_text() == (
        "1 comment awaiting moderation"
    )


def wait_under_csp(page: Page, expression: str, timeout: float = 10.0) -> None:
    """``wait_for_function`` polls with a string the page must eval, which the strict policy
    refuses; ``evaluate`` goes through the DevTools protocol, which it does not."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(50)


def strict_page(site: Site, browser_page: Page, url: str) -> None:
    browser_page.add_init_script(VIOLATIONS)
    browser_page.goto(url)
    browser_page.locator(".afterword-comment").first.wait_for()
    wait_under_csp(browser_page, "window.afterword && window.afterword.form")
    browser_page.locator(".afterword-form [name=body]").focus()
    browser_page.locator(".afterword-avatar svg").first.wait_for()
    browser_page.wait_for_timeout(200)


def test_widget_csp_default_src_self_zero_violations(site: Site, browser_page: Page) -> None:
    site.comment("/blog/csp/", "Under a strict policy", author="Ana")
    site.comment("/blog/csp/", "Me too", author="Ben")
    site.cli("build")
    site.headers(Content_Security_Policy=STRICT)
    strict_page(site, browser_page, site.page("/blog/csp/", "<div data-afterword></div>"))
    assert browser_page.evaluate("window.__violations") == []
    assert browser_page.locator(".afterword-avatar svg").count() == 2
    assert browser_page.locator(".afterword-hp").is_hidden()


def test_widget_csp_build_time_include_zero_violations(site: Site, browser_page: Page) -> None:
    site.comment("/blog/inc/", "Included at build time")
    site.cli("build")
    site.headers(Content_Security_Policy=STRICT)
    fragment = site.fragment("/blog/inc/")
    css = '<link rel="stylesheet" href="/comments/afterword.css">'
    strict_page(
        site, browser_page, site.page("/blog/inc/", f"<div data-afterword>{fragment}</div>", css)
    )
    assert browser_page.evaluate("window.__violations") == []


def test_widget_csp_counts_its_violations(site: Site, browser_page: Page) -> None:
    """The listener the CSP tests rely on does see a violation when there is one."""
    site.headers(Content_Security_Policy=STRICT)
    url = site.page("/blog/bad/", '<div data-afterword></div><p style="color:red">inline</p>')
    browser_page.add_init_script(VIOLATIONS)
    browser_page.goto(url)
    wait_under_csp(browser_page, "window.__violations.length > 0")


def test_widget_honeypot_hidden_without_widget_css(site: Site, browser_page: Page) -> None:
    browser_page.goto(site.page("/blog/bare/", '<div data-afterword data-css="none"></div>'))
    browser_page.locator(".afterword-form").wait_for()
    assert browser_page.locator("link[rel=stylesheet]").count() == 0
    trap = browser_page.locator(".afterword-hp input")
    assert trap.is_hidden()
    assert trap.get_attribute("autocomplete") == "off"
    assert trap.get_attribute("tabindex") == "-1"
    name = trap.get_attribute("name") or ""
    assert not any(word in name for word in ("phone", "tel", "name", "mail", "url", "address"))


def test_widget_without_is_well_formed(site: Site, browser_page: Page) -> None:
    """Chrome < 111, Safari < 16.4: no String.prototype.isWellFormed, comments all the same."""
    site.comment("/blog/old/", "For older browsers")
    site.cli("build")
    browser_page.add_init_script("delete String.prototype.isWellFormed;")
    browser_page.goto(site.page("/blog/old/", "<div data-afterword></div>"))
    browser_page.locator(".afterword-comment").wait_for()
    assert browser_page.evaluate("'isWellFormed' in String.prototype") is False
    rejected = browser_page.evaluate(
        """() => ['/a\\ud800/', '/\\udc00b/'].map((k) => {
          try { afterword.key(k); return 'accepted'; } catch (e) { return 'rejected'; } })"""
    )
    assert rejected == ["rejected", "rejected"]
    assert browser_page.evaluate("afterword.key('/caf\\u00e9/\\ud83d\\ude00/')") == "/café/😀/"


def test_widget_run_idempotent_and_releases_observers(site: Site, browser_page: Page) -> None:
    """Turbo/PJAX: run() after each navigation; a re-run script; containers that went away."""
    site.comment("/blog/nav/", "Navigated to")
    site.cli("build")
    (site.root / "site.css").write_text(".spacer { height: 3000px; }", encoding="utf-8")
    head = '<link rel="stylesheet" href="/site.css">'
    url = site.page("/blog/nav/", '<div class="spacer"></div><div data-afterword></div>', head)
    browser_page.goto(url)
    browser_page.wait_for_function("window.afterword")
    assert browser_page.evaluate("afterword.waiting") == 1
    browser_page.evaluate("afterword.run(); afterword.run();")
    assert browser_page.evaluate("afterword.waiting") == 1
    # A navigation swaps the body: the old container leaves before it was ever seen.
    browser_page.evaluate("document.querySelector('[data-afterword]').remove(); afterword.run();")
    assert browser_page.evaluate("afterword.waiting") == 0
    browser_page.evaluate(
        """() => { const el = document.createElement('div'); el.dataset.afterword = '';
        document.querySelector('main').append(el);
        const again = document.createElement('script'); again.src = '/comments/afterword.js';
        document.body.append(again); }"""
    )
    browser_page.wait_for_function("afterword.waiting == 1")
    browser_page.mouse.wheel(0, 4000)
    browser_page.locator(".afterword-comment").wait_for()
    browser_page.evaluate("afterword.run()")
    browser_page.wait_for_timeout(200)
    assert browser_page.locator(".afterword-thread").count() == 1
    assert browser_page.locator(".afterword-comment").count() == 1
    assert browser_page.evaluate("afterword.waiting") == 0


def test_widget_count_cache_expires(site: Site, browser_page: Page) -> None:
    site.comment("/blog/counted/", "One")
    site.cli("build")
    badge = '<span data-afterword-count="/blog/counted/"></span>'
    browser_page.clock.install()
    browser_page.goto(site.page("/list/", badge))
    counted = browser_page.locator("[data-afterword-count]")
    browser_page.wait_for_function("document.querySelector('[data-afterword-count]').textContent")
    assert counted.inner_text() == "1 comment"
    site.comment("/blog/counted/", "Two")
    site.cli("build")
    browser_page.evaluate("afterword.run()")
    browser_page.wait_for_timeout(300)
    assert counted.inner_text() == "1 comment"  # within the minute: the kept answer
    browser_page.clock.fast_forward(61_000)
    browser_page.evaluate("afterword.run()")
    browser_page.wait_for_function(
        "document.querySelector('[data-afterword-count]').textContent == '2 comments'"
    )


def test_widget_identicons_drawn_like_the_builder(site: Site, browser_page: Page) -> None:
    """The SVG drawn from the seed has the colour and path of the builder's own picture."""
    for n in range(6):
        site.comment("/blog/faces/", f"Face {n}", author=f"Reader {n}")
    site.cli("build")
    thread = site.root / "comments" / page_folder("/blog/faces/") / "comments.json"
    expected = {}
    for comment in json.loads(thread.read_text("utf-8"))["comments"]:
        svg = unquote(comment["avatar"])
        fill, path = re.search(r"<path fill='(#\w+)' d='([^']+)'", svg).groups()  # type: ignore[union-attr]
        expected[f"c{comment['id']}"] = [fill, path]
    browser_page.goto(site.page("/blog/faces/", "<div data-afterword></div>"))
    browser_page.locator(".afterword-avatar svg").nth(5).wait_for()
    drawn = browser_page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.afterword-comment')].map(
          (li) => { const p = li.querySelector('.afterword-avatar path');
          return [li.id, [p.getAttribute('fill'), p.getAttribute('d')]]; }))"""
    )
    assert drawn == expected
    assert browser_page.locator(".afterword-avatar[style], .afterword-avatar [style]").count() == 0


def test_widget_identicon_bad_seed_draws_nothing(site: Site, browser_page: Page) -> None:
    """A seed that is not "<6 hex><hex>" (a hand-edited template) leaves the avatar empty."""
    bad = (
        '<section class="afterword-thread" data-page="/x/" data-strings="{}">'
        '<ol class="afterword-comments"><li class="afterword-comment" id="c1"><article><header>'
        '<b data-identicon="red&quot;/&gt;-1">Ana</b></header></article></li></ol>'
        "</section>"
    )
    browser_page.goto(site.page("/x/", f'<div data-afterword data-page="/x/">{bad}</div>'))
    browser_page.wait_for_function("window.afterword.form")
    assert browser_page.locator("header > b").get_attribute("data-identicon") is None
    assert browser_page.locator("header").inner_html() == "<b>Ana</b>"  # no picture added


def test_widget_identicon_reads_the_older_seed(site: Site, browser_page: Page) -> None:
    """Fragments built before the seed moved onto the name had it on an empty span, as
    "<rgb>-<bits>": the same picture, in the same place (before the name)."""
    old = '<li class="afterword-comment" id="c{}"><article><header><span data-identicon="{}">'
    new = '<li class="afterword-comment" id="c{}"><article><header><b data-identicon="{}">'
    faces = "".join(
        (old.format(n, seed) + "</span><b>Ana</b>" if "-" in seed else new.format(n, seed) + "Ana")
        + "</b></header></article></li>"
        for n, seed in ((1, "c67b39-17d2"), (2, "c67b3917d2"), (3, "3cc639-42"), (4, "3cc6390042"))
    )
    thread = (
        '<section class="afterword-thread" data-page="/x/" data-strings="{}">'
        f'<ol class="afterword-comments">{faces}</ol></section>'
    )
    browser_page.goto(site.page("/x/", f'<div data-afterword data-page="/x/">{thread}</div>'))
    browser_page.locator("#c4 .afterword-avatar svg").wait_for()
    drawn = browser_page.locator(".afterword-avatar").evaluate_all(
        "l => l.map(e => [e.getAttribute('aria-hidden'), e.querySelector('path').outerHTML])"
    )
    assert drawn[0] == drawn[1]
    assert drawn[2] == drawn[3]
    assert drawn[0] != drawn[2]
    assert {hidden for hidden, _ in drawn} == {"true"}  # decorative: out of the a11y tree
    shapes = browser_page.locator("header").evaluate_all(
        "l => l.map(h => [...h.children].map(e => e.localName + '.' + e.className).join(' '))"
    )
    assert shapes == ["span.afterword-avatar b."] * 4


def test_widget_form_posts_plainly_when_module_cannot_load(site: Site, browser_page: Page) -> None:
    """The second module blocked (an ad blocker, a flaky network): the form still posts."""
    browser_page.route("**/afterword-form.*.js", lambda route: route.abort())
    browser_page.goto(site.page("/blog/blocked/", "<div data-afterword></div>"))
    browser_page.fill(".afterword-form [name=body]", "Sent without the module")
    browser_page.fill(".afterword-form [name=author]", "Zoë")
    with browser_page.expect_navigation():
        browser_page.locator(".afterword-form [type=submit]").click()
    assert browser_page.url.endswith("/blog/blocked/#afterword-pending")
    assert "Sent without the module" in site.cli("queue")
