"""docs/embedding.md's Jekyll recipe, built with Debian's jekyll and read in Chromium."""

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
    POST_KEY,
    TRICKY_BODY,
    EmbedSite,
    assert_verbatim_copy,
    check_recipe_pages,
    recipe,
    served_site,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

JEKYLL = shutil.which("jekyll") or "/usr/bin/jekyll"
LAYOUT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ page.title }}</title>
<link rel="stylesheet" href="{{ '/css/site.css' | relative_url }}">%s</head>
<body><main><h1>{{ page.title }}</h1>{{ content }}
%s
</main></body></html>
"""


@pytest.fixture
def jekyll_site(
    tmp_path: Path, static_server: Callable[[Path], StaticServer]
) -> Iterator[EmbedSite]:
    with served_site(tmp_path, static_server, "_site", "Jekyll") as (site, taken):
        site.write("_config.yml", "permalink: /blog/:title/\n" + taken.file("_config.yml"))
        site.write("_plugins/afterword.rb", taken.file("_plugins/afterword.rb"))
        (stylesheet,) = recipe("Build-time include").snippets
        (embed,) = taken.snippets
        site.write("_layouts/post.html", LAYOUT % (stylesheet.strip(), embed.strip()))
        site.write("css/site.css", HOST_CSS)
        site.write("_posts/2026-11-01-post.md", "---\nlayout: post\ntitle: A post\n---\nText.\n")
        site.write("_posts/2026-11-02-other.md", "---\nlayout: post\ntitle: Other\n---\nNone.\n")
        site.write("index.md", "---\nlayout: post\ntitle: Home\n---\n[A post](/blog/post/)\n")
        yield site


def test_embed_jekyll_recipe(
    chromium_browser: Browser, browser_page: Page, jekyll_site: EmbedSite
) -> None:
    """Built in the C locale: the plugin reads fragments as UTF-8 whatever the locale says."""
    comment_id = jekyll_site.seed(POST_KEY, TRICKY_BODY)
    jekyll_site.run(JEKYLL, "build", "--quiet", env_overrides={"LANG": "C", "LC_ALL": "C"})
    assert not (jekyll_site.root / "_site" / "comments-output").exists()
    assert_verbatim_copy(jekyll_site, "comments", "_site", POST_KEY)

    check_recipe_pages(
        chromium_browser, browser_page, jekyll_site, comment_id, "/blog/other/", HOST_CSS_APPLIES
    )
