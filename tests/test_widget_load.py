"""Reading comments in Chromium, on hand-made fragments: lazy load, parts, empty pages, badges.

Every page here embeds the widget with the real snippet and is served over HTTP from a
folder laid out like the builder's output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

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

from afterword.builder.counts import fnv1a32

pytestmark = pytest.mark.browser

KEY = "/blog/post/"
DOWN = "http://127.0.0.1:9/api/comments"  # never contacted by these tests


@pytest.fixture
def site(tmp_path: Path, static_server: Callable[[Path], StaticServer]) -> StaticServer:
    """A published folder with the widget, a two-part thread and a long page embedding it."""
    write_widget(tmp_path)
    first = comment_html(1, "First!", replies=comment_html(2, "A reply", author="Bo", depth=1))
    write_thread(
        tmp_path,
        KEY,
        thread_html(KEY, first + comment_html(3, "Third"), intake_url=DOWN, next_part=2),
        thread_html(KEY, comment_html(4, "Fourth") + comment_html(5, "Fifth"), part=2),
    )
    write_page(tmp_path, KEY, page_html(spacer="3000px"))
    return static_server(tmp_path)


def fragment_requests(page: Page) -> list[str]:
    return [url for url in page.requests if "/threads/" in url]  # type: ignore[attr-defined]


def test_widget_load_waits_until_scrolled_near(browser_page: Page, site: StaticServer) -> None:
    browser_page.goto(site.url + "blog/post/")
    browser_page.wait_for_load_state("load")
    browser_page.wait_for_timeout(300)
    assert fragment_requests(browser_page) == []
    assert browser_page.locator(".afterword-comment").count() == 0
    browser_page.mouse.wheel(0, 2900)
    browser_page.locator("#c1").wait_for()
    assert fragment_requests(browser_page) == [site.url + "threads/blog/post/comments.html"]
    assert browser_page.locator("#c2").evaluate("e => e.parentElement.closest('li').id") == "c1"


def test_widget_load_targeted_comment_at_once(browser_page: Page, site: StaticServer) -> None:
    """#c5 lives in part 2: both parts load without scrolling, then it is scrolled to."""
    browser_page.goto(site.url + "blog/post/#c5")
    target = browser_page.locator("#c5")
    target.wait_for()
    assert "afterword-target" in (target.get_attribute("class") or "")
    browser_page.wait_for_function(
        "document.getElementById('c5').getBoundingClientRect().top < innerHeight"
    )
    assert browser_page.locator(".afterword-more").count() == 0


def test_widget_load_more_appends_next_part(browser_page: Page, site: StaticServer) -> None:
    browser_page.goto(site.url + "blog/post/")
    browser_page.mouse.wheel(0, 2900)
    more = browser_page.locator(".afterword-more")
    more.focus()
    browser_page.keyboard.press("Enter")
    browser_page.locator("#c5").wait_for()
    ids = browser_page.locator(".afterword-comments > li").evaluate_all("l => l.map(e => e.id)")
    assert ids == ["c1", "c3", "c4", "c5"]
    assert browser_page.locator(".afterword-more").count() == 0
    assert browser_page.evaluate("document.activeElement.id") == "c4"


def test_widget_load_empty_thread_for_new_page(
    tmp_path: Path, browser_page: Page, static_server: Callable[[Path], StaticServer]
) -> None:
    """No thread files yet (404): empty.html, with page and redirect filled in."""
    write_widget(tmp_path)
    (tmp_path / "empty.html").write_text(thread_html("", "", intake_url=DOWN), encoding="utf-8")
    write_page(tmp_path, "/new/Café/", page_html())
    server = static_server(tmp_path)
    browser_page.goto(server.url + "new/Caf%C3%A9/?utm=x")
    browser_page.locator(".afterword-form").wait_for()
    values = browser_page.evaluate(
        "() => { const f = document.forms[0]; return [f.page.value, f.redirect.value]; }"
    )
    assert values == ["/new/Café/", server.url + "new/Caf%C3%A9/?utm=x"]
    # The object key holds a literal "%" (threads/new/Caf%C3%A9/…): requested as %25.
    assert server.url + "threads/new/Caf%25C3%25A9/comments.html" in browser_page.requests  # type: ignore[attr-defined]


def test_widget_load_non_ascii_page_finds_its_thread(
    tmp_path: Path, browser_page: Page, static_server: Callable[[Path], StaticServer]
) -> None:
    """A thread stored under a percent-encoded folder is fetched, not mistaken for a 404."""
    write_widget(tmp_path)
    key = "/blog/café/"
    write_thread(tmp_path, key, thread_html(key, comment_html(3, "Très bon"), intake_url=DOWN))
    write_page(tmp_path, key, page_html())
    server = static_server(tmp_path)
    browser_page.goto(server.url + "blog/caf%C3%A9/")
    browser_page.locator("#c3 .afterword-body").wait_for()
    assert browser_page.locator("#c3 .afterword-body").inner_text() == "Très bon"


def test_widget_load_failure_says_so(
    tmp_path: Path, browser_page: Page, static_server: Callable[[Path], StaticServer]
) -> None:
    write_widget(tmp_path)
    write_page(tmp_path, "/x/", page_html())
    server = static_server(tmp_path)  # no thread and no empty.html: both 404
    browser_page.goto(server.url + "x/")
    status = browser_page.locator("[data-afterword] .afterword-status")
    status.wait_for()
    assert status.inner_text() == "Comments could not be loaded."


def test_widget_load_included_fragment_not_fetched(
    tmp_path: Path, browser_page: Page, static_server: Callable[[Path], StaticServer]
) -> None:
    """A build-time include is only enhanced: no fragment request, the form posts by fetch."""
    write_widget(tmp_path)
    included = thread_html(KEY, comment_html(7, "Included"), intake_url=DOWN)
    write_page(tmp_path, KEY, page_html(container=f"<div data-afterword>{included}</div>"))
    server = static_server(tmp_path)
    browser_page.goto(server.url + "blog/post/")
    browser_page.locator("#c7").wait_for()
    browser_page.locator("#c7 > article > footer > button").click()
    assert browser_page.locator("#c7 > .afterword-form").count() == 1
    assert fragment_requests(browser_page) == []


def test_widget_load_strings_overridable(
    tmp_path: Path, browser_page: Page, static_server: Callable[[Path], StaticServer]
) -> None:
    write_widget(tmp_path)
    write_page(
        tmp_path,
        "/x/",
        page_html(
            container='<div data-afterword data-strings=\'{"load_error": "Kaputt."}\'></div>'
        ),
    )
    server = static_server(tmp_path)
    browser_page.goto(server.url + "x/")
    browser_page.locator(".afterword-status").wait_for()
    assert browser_page.locator(".afterword-status").inner_text() == "Kaputt."


def test_widget_load_data_page_and_base_override(
    tmp_path: Path, browser_page: Page, static_server: Callable[[Path], StaticServer]
) -> None:
    """data-page picks the thread, data-base the folder it is published in."""
    write_widget(tmp_path)
    write_thread(tmp_path / "cdn", "/other/", thread_html("/other/", comment_html(9, "Elsewhere")))
    container = (
        '<div data-afterword data-page="https://example.org/other/index.html"'
        ' data-base="/cdn/"></div>'
    )
    write_page(tmp_path, "/x/", page_html(container=container))
    server = static_server(tmp_path)
    browser_page.goto(server.url + "x/")
    browser_page.locator("#c9").wait_for()
    assert server.url + "cdn/threads/other/comments.html" in browser_page.requests  # type: ignore[attr-defined]


def test_widget_load_count_badges(
    tmp_path: Path, browser_page: Page, static_server: Callable[[Path], StaticServer]
) -> None:
    """One head file per folder the index lists (none for a folder it does not: that shard
    does not exist); a split folder sends the key to its FNV-1a bucket."""
    write_widget(tmp_path)
    (tmp_path / "comments-folders.json").write_text(
        '{"version":1,"counts":{"blog/":2,"big/":2000}}'
    )
    blog = tmp_path / "threads" / "blog"
    blog.mkdir(parents=True)
    counts = {"/blog/a/": 3, "/blog/b/": 1}
    (blog / "comments-counts.json").write_text(json.dumps({"version": 1, "counts": counts}))
    big = tmp_path / "threads" / "big"
    big.mkdir(parents=True)
    (big / "comments-counts.json").write_text('{"version":1,"pages":2000,"buckets":16}')
    bucket = fnv1a32("/big/x/") % 16
    (big / f"comments-counts-{bucket:x}.json").write_text('{"version":1,"counts":{"/big/x/":12}}')
    badges = "".join(
        f'<p><a href="{k}" data-afterword-count="{k}">…</a></p>'
        for k in ("/blog/a/", "/blog/b/", "/blog/c/", "/big/x/", "/none/y/")
    )
    write_page(tmp_path, "/list/", page_html(container=badges))
    server = static_server(tmp_path)
    browser_page.goto(server.url + "list/")
    browser_page.wait_for_function(
        "![...document.querySelectorAll('[data-afterword-count]')].some(e => e.textContent == '…')"
    )
    texts = browser_page.locator("[data-afterword-count]").all_inner_texts()
    assert texts == ["3 comments", "1 comment", "No comments", "12 comments", "No comments"]
    heads = [u for u in browser_page.requests if u.endswith("comments-counts.json")]  # type: ignore[attr-defined]
    assert sorted(heads) == sorted(
        server.url + f"threads/{f}/comments-counts.json" for f in ("blog", "big")
    )
    assert browser_page.requests.count(server.url + "comments-folders.json") == 1  # type: ignore[attr-defined]


def test_widget_load_no_layout_shift_within_reserve(
    tmp_path: Path, browser_page: Page, static_server: Callable[[Path], StaticServer]
) -> None:
    """Stylesheet and thread arrive inside the reserved area: nothing on the page moves."""
    write_widget(tmp_path)
    write_thread(tmp_path, KEY, thread_html(KEY, comment_html(1, "Hi"), intake_url=DOWN))
    observer = (
        "<script>window.shifts = []; new PerformanceObserver(l => shifts.push(...l.getEntries()))"
        ".observe({type: 'layout-shift', buffered: true});</script>"
    )
    container = '<div data-afterword style="min-height:60em"></div><footer>Footer</footer>'
    write_page(tmp_path, KEY, page_html(container=container, head=observer))
    server = static_server(tmp_path)
    browser_page.goto(server.url + "blog/post/")
    browser_page.locator("#c1").wait_for()
    browser_page.wait_for_timeout(200)
    assert browser_page.evaluate("shifts.reduce((sum, s) => sum + s.value, 0)") == 0


OUTSIDE = (
    '<ol id="o"><li>item</li></ol><a id="a" href="#">link</a><button id="b">b</button>'
    '<input id="i"><textarea id="t"></textarea><header id="h">h</header><article id="r">r</article>'
)
STYLES = """() => ['o', 'a', 'b', 'i', 't', 'h', 'r', 'body'].map(id => {
  const s = getComputedStyle(id == 'body' ? document.body : document.getElementById(id));
  return [s.color, s.margin, s.padding, s.border, s.font, s.display, s.listStyle, s.background];
})"""


def test_widget_load_styles_do_not_leak(
    tmp_path: Path, browser_page: Page, static_server: Callable[[Path], StaticServer]
) -> None:
    """The page's own elements look the same with and without the widget's stylesheet."""
    write_widget(tmp_path)
    write_thread(tmp_path, KEY, thread_html(KEY, comment_html(1, "Hi"), intake_url=DOWN))
    write_page(tmp_path, "/plain/", page_html(container=OUTSIDE, script="/none.js"))
    write_page(tmp_path, KEY, page_html(container=OUTSIDE + "<div data-afterword></div>"))
    server = static_server(tmp_path)
    browser_page.goto(server.url + "plain/")
    before = browser_page.evaluate(STYLES)
    browser_page.goto(server.url + "blog/post/")
    browser_page.locator("#c1").wait_for()
    assert browser_page.locator("link[rel=stylesheet]").count() == 1
    assert browser_page.evaluate(STYLES) == before


def test_widget_load_more_replaces_pending_copy(browser_page: Page, site: StaticServer) -> None:
    """A stored comment published in part 2 shows as pending, then once, as published."""
    browser_page.goto(site.url + "afterword.js")
    browser_page.evaluate(
        "k => localStorage['afterword:pending'] = JSON.stringify("
        "[{id: 5, page: k, html: '<p>Fifth</p>', author: 'Ana', t: Date.now()}])",
        KEY,
    )
    browser_page.goto(site.url + "blog/post/")
    browser_page.mouse.wheel(0, 2900)
    browser_page.locator("#c5[data-pending]").wait_for()
    browser_page.locator(".afterword-more").click()
    browser_page.locator("#c5:not([data-pending])").wait_for()
    assert browser_page.locator("#c5").count() == 1
    assert browser_page.evaluate("localStorage['afterword:pending']") == "[]"
