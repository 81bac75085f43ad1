"""docs/embedding.md's MkDocs recipe, built with mkdocs' own theme and with Material.

mkdocs' theme centres every ``footer``, Material indents every list item, and both index
page text for their search: the thread must keep its own look, and neither comments nor the
form's hidden notices may reach the search index.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from fixtures_browser import StaticServer
from playwright.sync_api import Browser, Page
from test_embed_support import (
    HOST_CSS,
    HOST_CSS_APPLIES,
    POST_KEY,
    TRICKY_BODY,
    EmbedSite,
    check_empty_page,
    check_thread_page,
    check_without_javascript,
    computed,
    served_site,
)

from afterword.pagekey import page_folder
from afterword.strings import load_strings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Rules of each theme, and of the site's own stylesheet, that must still hold outside the
# thread (Material's ".md-typeset h1" outweighs the site's "h1" by itself).
THEME_APPLIES = {
    "mkdocs": (*HOST_CSS_APPLIES, ("body > footer", "text-align", "center")),
    "material": (
        HOST_CSS_APPLIES[0],
        (".md-typeset h1", "color", "rgba(0, 0, 0, 0.54)"),
        (".md-header", "position", "sticky"),
    ),
}


@pytest.fixture(params=["mkdocs", "material"])
def mkdocs_site(
    request: pytest.FixtureRequest, tmp_path: Path, static_server: Callable[[Path], StaticServer]
) -> Iterator[EmbedSite]:
    with served_site(tmp_path, static_server, "site", "MkDocs") as (site, taken):
        settings = yaml.safe_load(taken.file("mkdocs.yml"))
        settings["site_name"] = "Tiny"
        settings["theme"]["name"] = request.param
        settings.setdefault("extra_css", []).insert(0, "css/site.css")
        site.write("mkdocs.yml", yaml.safe_dump(settings))
        site.write("afterword_hooks.py", taken.file("afterword_hooks.py"))
        site.write("overrides/main.html", taken.file("overrides/main.html"))
        site.write("docs/css/site.css", HOST_CSS)
        site.write("docs/index.md", "# Home\n\n[A post](blog/post.md)\n")
        site.write("docs/blog/post.md", "# A post\n\nThe post's own searchable text.\n")
        site.write("docs/about.md", "# About\n\nNo comments here yet.\n")
        yield site


def test_embed_mkdocs_recipe(
    chromium_browser: Browser, browser_page: Page, mkdocs_site: EmbedSite
) -> None:
    name = yaml.safe_load((mkdocs_site.root / "mkdocs.yml").read_text("utf-8"))["theme"]["name"]
    theme = THEME_APPLIES[name]
    comment_id = mkdocs_site.seed(POST_KEY, TRICKY_BODY)
    if name == "material":
        # Material's search reads page content and skips data-search-exclude: a fragment
        # pasted into a page's Markdown (not the recipe, but a common shortcut) stays out too.
        fragment = mkdocs_site.root / "comments-output" / page_folder(POST_KEY) / "comments.html"
        mkdocs_site.write("docs/pasted.md", "# Pasted\n\n" + fragment.read_text("utf-8"))
    mkdocs_site.run(sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet")
    built = mkdocs_site.root / "site"
    assert f'id="c{comment_id}"' in (built / "blog" / "post" / "index.html").read_text("utf-8")

    index = json.loads((built / "search" / "search_index.json").read_text("utf-8"))
    text = json.dumps(index, ensure_ascii=False)
    assert "own searchable text" in text, "the search index checks nothing"
    assert name != "material" or '"Pasted"' in text, "the pasted page was not indexed"
    strings = load_strings("en", "")
    for kept_out in ("as typed", strings["notice_pending"], strings["notice_error"]):
        assert kept_out not in text

    check_without_javascript(chromium_browser, mkdocs_site, POST_KEY, comment_id, TRICKY_BODY)
    check_thread_page(browser_page, mkdocs_site, POST_KEY, comment_id, TRICKY_BODY, theme)
    assert computed(browser_page, ".afterword-comment footer", "text-align") != "center"
    check_empty_page(browser_page, mkdocs_site, "/about/", "/about/", theme)
    check_empty_page(browser_page, mkdocs_site, "/", "/", theme)
