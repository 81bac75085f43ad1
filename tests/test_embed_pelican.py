"""docs/embedding.md's Pelican recipe, built with Pelican's default theme and read in Chromium."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fixtures_browser import StaticServer
from playwright.sync_api import Browser, Page
from test_embed_support import (
    POST_KEY,
    TRICKY_BODY,
    EmbedSite,
    assert_verbatim_copy,
    check_recipe_pages,
    served_site,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# What the test site adds to the recipe: its URLs, a stylesheet of its own, no feeds.
SETTINGS = """
SITENAME = "Tiny"
SITEURL = ""
PATH = "content"
TIMEZONE = "UTC"
ARTICLE_URL = "blog/{slug}/"
ARTICLE_SAVE_AS = "blog/{slug}/index.html"
FEED_ALL_ATOM = None
CATEGORY_FEED_ATOM = None
"""
# The default theme's own rules (notmyidea), which must still hold around the thread.
THEME_APPLIES = (
    ("body", "background-color", "rgb(245, 244, 239)"),
    ("#contentinfo", "text-align", "right"),
    (".entry-title", "margin-bottom", "10px"),
)


@pytest.fixture
def pelican_site(
    tmp_path: Path, static_server: Callable[[Path], StaticServer]
) -> Iterator[EmbedSite]:
    with served_site(tmp_path, static_server, "output", "Pelican") as (site, taken):
        site.write("pelicanconf.py", taken.file("pelicanconf.py") + SETTINGS)
        site.write("templates/article.html", taken.file("templates/article.html"))
        site.write(
            "content/post.md", "Title: A post\nDate: 2026-11-01\nSlug: post\n\nThe post's text.\n"
        )
        site.write(
            "content/other.md", "Title: Other\nDate: 2026-11-02\nSlug: other\n\nNo comments.\n"
        )
        yield site


def test_embed_pelican_recipe(
    chromium_browser: Browser, browser_page: Page, pelican_site: EmbedSite
) -> None:
    comment_id = pelican_site.seed(POST_KEY, TRICKY_BODY)
    pelican_site.run(sys.executable, "-m", "pelican", "-s", "pelicanconf.py", "-o", "output")
    assert_verbatim_copy(pelican_site, "content/comments", "output", POST_KEY)
    built = (pelican_site.root / "output" / "blog" / "post" / "index.html").read_text("utf-8")
    assert f'id="c{comment_id}"' in built

    check_recipe_pages(
        chromium_browser, browser_page, pelican_site, comment_id, "/blog/other/", THEME_APPLIES
    )
