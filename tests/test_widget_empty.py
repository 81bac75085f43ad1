"""Pages without comments in Chromium, on the real builder's output: the widget learns from the
folder index and the count shards that there is no thread, so it never asks for one (no 404 in
the console, which Lighthouse flags), and still shows the empty state and the form."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fixtures_browser import StaticServer, page_html, write_page
from playwright.sync_api import Page, Response
from test_build_support import add

from afterword.builder import build_site
from afterword.config import Config, load_config
from afterword.store import Store, moderate, open_store

pytestmark = pytest.mark.browser

SCRIPT = "/comments/afterword.js"


@dataclass
class Site:
    """The site's folder (``public/``, output in ``public/comments``) served over HTTP."""

    public: Path
    server: StaticServer
    config: Config
    store: Store

    def build(self) -> None:
        build_site(self.config, self.store)

    def page(self, key: str, container: str = "<div data-afterword></div>") -> str:
        # no favicon request: Chromium's own 404 for it would hide the widget's in the console
        head = '<link rel="icon" href="data:,">'
        write_page(self.public, key, page_html(container=container, script=SCRIPT, head=head))
        return self.server.url + key.lstrip("/")


@dataclass
class Watched:
    """Everything a page did that Lighthouse would hold against it."""

    requests: list[str]
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def site(tmp_path: Path, static_server: Callable[[Path], StaticServer]) -> Iterator[Site]:
    public = tmp_path / "public"
    public.mkdir()
    server = static_server(public)
    (tmp_path / "afterword.toml").write_text(
        f'[site]\nurl = "{server.url}"\n[build]\noutput_dir = "public/comments"\n'
        'closed_pages = ["/blog/closed/"]\n',
        encoding="utf-8",
    )
    config = load_config(tmp_path / "afterword.toml", environ={})
    with open_store(config.database_path) as store:
        yield Site(public, server, config, store)


@pytest.fixture
def watched(browser_page: Page) -> Watched:
    seen = Watched(browser_page.requests)  # type: ignore[attr-defined]

    def on_response(response: Response) -> None:
        if response.status >= 400:
            seen.failed.append(f"{response.status} {response.url}")

    browser_page.on("response", on_response)
    browser_page.on("requestfailed", lambda request: seen.failed.append(f"failed {request.url}"))
    browser_page.on(
        "console", lambda msg: seen.errors.append(msg.text) if msg.type == "error" else None
    )
    browser_page.on("pageerror", lambda exc: seen.errors.append(str(exc)))
    return seen


def thread_requests(seen: Watched) -> list[str]:
    return [url for url in seen.requests if url.endswith("comments.html")]


def show_empty_state(page: Page, url: str, key: str) -> None:
    page.goto(url)
    page.locator("[data-afterword] .afterword-form").wait_for()
    assert page.locator(".afterword-heading").inner_text() == "No comments yet"
    assert page.locator(".afterword-comment").count() == 0
    form = page.evaluate("() => [document.forms[0].page.value, document.forms[0].redirect.value]")
    assert form == [key, url]


@pytest.mark.parametrize(
    "key",
    [
        "/blog/b/",  # its folder has a count shard (a sibling has comments)
        "/notes/x/",  # its folder has none
        "/about/",  # the top folder, which has none either
        "/",
    ],
)
def test_widget_empty_page_makes_no_failing_request(
    site: Site, browser_page: Page, watched: Watched, key: str
) -> None:
    add(site.store, "/blog/a/", "Hello")
    site.build()
    show_empty_state(browser_page, site.page(key), key)
    assert watched.failed == []
    assert watched.errors == []
    assert thread_requests(watched) == []
    assert site.server.url + "comments/empty.html" in watched.requests


def test_widget_empty_site_with_no_comments_at_all(
    site: Site, browser_page: Page, watched: Watched
) -> None:
    site.build()
    badges = '<p data-afterword-count="/blog/a/">…</p><div data-afterword></div>'
    url = site.page("/blog/a/", container=badges)
    show_empty_state(browser_page, url, "/blog/a/")
    browser_page.wait_for_function(
        "document.querySelector('[data-afterword-count]').textContent != '…'"
    )
    assert browser_page.locator("[data-afterword-count]").inner_text() == "No comments"
    assert watched.failed == []
    assert watched.errors == []
    assert site.server.url + "comments/comments-folders.json" in watched.requests
    assert [u for u in watched.requests if "/threads/" in u] == []


def test_widget_page_with_comments_still_loads_them(
    site: Site, browser_page: Page, watched: Watched
) -> None:
    first = add(site.store, "/blog/a/", "Hello there")
    site.build()
    browser_page.goto(site.page("/blog/a/"))
    browser_page.locator(f"#c{first} .afterword-body").wait_for()
    assert browser_page.locator(f"#c{first} .afterword-body").inner_text() == "Hello there"
    assert thread_requests(watched) == [site.server.url + "comments/threads/blog/a/comments.html"]
    assert site.server.url + "comments/threads/blog/comments-counts.json" in watched.requests
    assert site.server.url + "comments/empty.html" not in watched.requests
    assert watched.failed == []
    assert watched.errors == []


def test_widget_first_comment_just_published_is_loaded(
    site: Site, browser_page: Page, watched: Watched
) -> None:
    add(site.store, "/blog/a/", "Elsewhere")
    site.build()
    url = site.page("/notes/x/")
    show_empty_state(browser_page, url, "/notes/x/")
    first = add(site.store, "/notes/x/", "The very first")
    site.build()  # now the index lists notes/ and its shard says 1
    browser_page.reload()
    browser_page.locator(f"#c{first} .afterword-body").wait_for()
    assert browser_page.locator(".afterword-comment").count() == 1
    assert thread_requests(watched) == [site.server.url + "comments/threads/notes/x/comments.html"]
    assert watched.failed == []
    assert watched.errors == []


def test_widget_badges_of_pages_without_a_shard_make_no_failing_request(
    site: Site, browser_page: Page, watched: Watched
) -> None:
    add(site.store, "/blog/a/", "One")
    add(site.store, "/blog/a/", "Two")
    site.build()
    keys = ("/blog/a/", "/blog/b/", "/notes/x/", "/about/")
    badges = "".join(f'<p data-afterword-count="{k}">…</p>' for k in keys)
    browser_page.goto(site.page("/list/", container=badges))
    browser_page.wait_for_function(
        "![...document.querySelectorAll('[data-afterword-count]')].some(e => e.textContent == '…')"
    )
    texts = browser_page.locator("[data-afterword-count]").all_inner_texts()
    assert texts == ["2 comments", "No comments", "No comments", "No comments"]
    shards = [u for u in watched.requests if "comments-counts" in u]
    assert shards == [site.server.url + "comments/threads/blog/comments-counts.json"]
    assert watched.failed == []
    assert watched.errors == []


def test_widget_included_empty_container_still_gets_the_form(
    site: Site, browser_page: Page, watched: Watched
) -> None:
    """A build-time include found no fragment (empty container): the script fills it in."""
    site.build()
    included = (site.public / "comments" / "empty.html").read_text("utf-8")
    url = site.page("/blog/new/", container=f"<div data-afterword>{included}</div>")
    browser_page.goto(url)
    browser_page.locator(".afterword-form").wait_for()
    form = browser_page.evaluate("() => document.forms[0].page.value")
    assert form == "/blog/new/"
    assert [u for u in watched.requests if "/threads/" in u or u.endswith(".json")] == []
    assert watched.failed == []


def test_widget_thread_whose_comments_were_all_removed_is_still_fetched(
    site: Site, browser_page: Page, watched: Watched
) -> None:
    """The shard lists it with 0: it has thread files, and a closed one must not get a form."""
    removed = [add(site.store, key, "Soon gone") for key in ("/blog/closed/", "/blog/open/")]
    site.build()
    moderate(site.store, removed, "delete", actor="test")
    site.build()
    browser_page.goto(site.page("/blog/closed/"))
    browser_page.locator(".afterword-closed-text").wait_for()
    assert browser_page.locator("[data-afterword] .afterword-form").count() == 0
    browser_page.wait_for_function("window.afterword.form")  # no module request cut by goto
    browser_page.goto(site.page("/blog/open/"))
    browser_page.locator("[data-afterword] .afterword-form").wait_for()
    assert thread_requests(watched) == [
        site.server.url + f"comments/threads/blog/{name}/comments.html"
        for name in ("closed", "open")
    ]
    assert watched.failed == []
    assert watched.errors == []


@pytest.mark.parametrize("fault", ["500", "not json"])
def test_widget_unreadable_index_still_loads_the_thread(
    site: Site, browser_page: Page, watched: Watched, fault: str
) -> None:
    """Counts that cannot be read leave the question open: the thread is asked for."""
    first = add(site.store, "/blog/a/", "Still here")
    site.build()
    index = site.public / "comments" / "comments-folders.json"
    if fault == "500":  # the CDN in front of the bucket has a bad moment (injected on the wire)
        browser_page.route(
            site.server.url + "comments/comments-folders.json",
            lambda route: route.fulfill(status=500, body="oops"),
        )
    else:
        index.write_text("<html>an error page</html>")
    browser_page.goto(site.page("/blog/a/"))
    browser_page.locator(f"#c{first} .afterword-body").wait_for()
    assert thread_requests(watched) == [site.server.url + "comments/threads/blog/a/comments.html"]
