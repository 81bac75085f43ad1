"""docs/embedding.md's Eleventy recipe, built with the pinned Eleventy 3 and read in Chromium."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fixtures_browser import StaticServer
from playwright.sync_api import Browser, Page
from test_embed_support import (
    ELEVENTY,
    HOST_CSS,
    HOST_CSS_APPLIES,
    POST_KEY,
    TRICKY_BODY,
    EmbedSite,
    assert_verbatim_copy,
    check_recipe_pages,
    served_site,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAYOUT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="/css/site.css"><link rel="stylesheet" href="/comments/afterword.css">
</head><body><main><h1>{{ title }}</h1>{{ content | safe }}
%s
</main></body></html>
"""


@pytest.fixture
def eleventy_site(
    tmp_path: Path, static_server: Callable[[Path], StaticServer]
) -> Iterator[EmbedSite]:
    with served_site(tmp_path, static_server, "_site", "Eleventy") as (site, taken):
        config = taken.file("eleventy.config.js").replace(
            "module.exports = (config) => {",
            'module.exports = (config) => {\n  config.addPassthroughCopy("css");',
        )
        site.write("eleventy.config.js", config)
        (shortcode,) = taken.snippets
        site.write("_includes/post.njk", LAYOUT % shortcode.strip())
        site.write("css/site.css", HOST_CSS)
        site.write("blog/post/index.md", "---\nlayout: post.njk\ntitle: A post\n---\nText.\n")
        site.write("about/index.md", "---\nlayout: post.njk\ntitle: About\n---\nNo comments.\n")
        site.write("index.md", "---\nlayout: post.njk\ntitle: Home\n---\n[A post](/blog/post/)\n")
        yield site


def test_embed_eleventy_recipe(
    chromium_browser: Browser, browser_page: Page, eleventy_site: EmbedSite
) -> None:
    """comments.json's top-level "page" key no longer stops the build, and a comment written
    in Eleventy's own template syntax comes through as typed."""
    comment_id = eleventy_site.seed(POST_KEY, TRICKY_BODY)
    output = eleventy_site.run(ELEVENTY, "--quiet")
    assert "comments-output" not in output
    assert not (eleventy_site.root / "_site" / "comments-output").exists()
    assert_verbatim_copy(eleventy_site, "comments", "_site", POST_KEY)

    check_recipe_pages(
        chromium_browser, browser_page, eleventy_site, comment_id, "/about/", HOST_CSS_APPLIES
    )
