"""docs/embedding.md's Hugo recipe, built with Debian's hugo and read in Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fixtures_browser import StaticServer
from playwright.sync_api import Browser, Page
from test_embed_support import (
    HOST_CSS,
    HOST_CSS_APPLIES,
    PAGEFIND,
    POST_KEY,
    TRICKY_BODY,
    EmbedSite,
    check_recipe_pages,
    served_site,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HUGO = shutil.which("hugo") or "/usr/bin/hugo"
BASEOF = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ .Title }}</title>
{{ with resources.Get "css/site.css" }}<link rel="stylesheet" href="{{ .RelPermalink }}">{{ end }}
<link rel="stylesheet" href="/comments/afterword.css"></head>
<body><main>{{ block "main" . }}{{ end }}</main></body></html>
"""
SINGLE = """{{ define "main" }}<h1>{{ .Title }}</h1>{{ .Content }}{{ partial "comments.html" . }}
{{ end }}"""
LIST = """{{ define "main" }}<h1>{{ .Title }}</h1>
{{ range .Site.RegularPages }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}{{ end }}"""


@pytest.fixture
def hugo_site(tmp_path: Path, static_server: Callable[[Path], StaticServer]) -> Iterator[EmbedSite]:
    with served_site(tmp_path, static_server, "public", "Hugo") as (site, taken):
        site.write(
            "hugo.toml",
            f'baseURL = "{site.base_url}"\ntitle = "Tiny"\n'
            'disableKinds = ["taxonomy", "term", "RSS", "sitemap"]\n' + taken.file("hugo.toml"),
        )
        site.write("layouts/partials/comments.html", taken.file("layouts/partials/comments.html"))
        site.write("layouts/_default/baseof.html", BASEOF)
        site.write("layouts/_default/single.html", SINGLE)
        site.write("layouts/_default/list.html", LIST)
        site.write("assets/css/site.css", HOST_CSS)
        site.write("content/blog/post.md", "---\ntitle: A post\n---\nThe post's searchable text.\n")
        site.write("content/about.md", "---\ntitle: About\n---\nNo comments here yet.\n")
        yield site


def test_embed_hugo_recipe(
    chromium_browser: Browser, browser_page: Page, hugo_site: EmbedSite
) -> None:
    comment_id = hugo_site.seed(POST_KEY, TRICKY_BODY)
    hugo_site.run(HUGO, "--quiet")
    hugo_site.run(PAGEFIND, "--site", "public")  # a search index of the whole built site
    public = hugo_site.root / "public"
    assert (public / "css" / "site.css").is_file(), "the site's own assets/ vanished"
    assert (public / "comments" / "afterword.js").is_file(), "the local target was not copied"
    built = (public / "blog" / "post" / "index.html").read_text("utf-8")
    assert f'id="c{comment_id}"' in built, "the thread was not included at build time"

    check_recipe_pages(
        chromium_browser, browser_page, hugo_site, comment_id, "/about/", HOST_CSS_APPLIES,
        follow_home_link=False,
    )  # fmt: skip
    browser_page.goto(hugo_site.url(POST_KEY))
    assert pagefind_hits(browser_page, "searchable") == 1, "the search index checks nothing"
    for kept_out in ("typed", "moderation", "Reply"):  # a comment, a hidden notice, the footer
        assert pagefind_hits(browser_page, kept_out) == 0, kept_out
    browser_page.goto(hugo_site.url("/"))
    assert browser_page.locator("a[href='/blog/post/']").count() == 1


def pagefind_hits(page: Page, term: str) -> int:
    """How many pages Pagefind's own client finds for ``term`` in the built index."""
    hits: int = page.evaluate(
        """async term => {
            const pagefind = await import("/pagefind/pagefind.js");
            return (await pagefind.search(term)).results.length;
        }""",
        term,
    )
    return hits


@pytest.mark.parametrize(
    ("content", "path", "key"),
    [
        ("blog/café.md", "/blog/caf%C3%A9/", "/blog/café/"),
        ("notes/comments-policy.md", "/notes/comments-policy/", "/notes/comments-policy/"),
    ],
)
def test_embed_hugo_unusual_paths(
    browser_page: Page, hugo_site: EmbedSite, content: str, path: str, key: str
) -> None:
    """Paths the partial's folder rule does not cover: the thread still shows (included, or
    loaded by the script when the include finds nothing), and never another page's."""
    hugo_site.write(f"content/{content}", "---\ntitle: Unusual\n---\nText.\n")
    other = hugo_site.seed(POST_KEY, "The other page's comment")
    comment_id = hugo_site.seed(key, TRICKY_BODY)
    hugo_site.run(HUGO, "--quiet")

    browser_page.goto(hugo_site.url(path))
    browser_page.locator(f"#c{comment_id} .afterword-body").wait_for()
    assert browser_page.locator(f"#c{comment_id} .afterword-body").inner_text() == TRICKY_BODY
    assert browser_page.locator(f"#c{other}").count() == 0
    assert browser_page.locator(".afterword-form [name=page]").input_value() == key
