"""The widget's page keys equal Python's, byte for byte: the shared vectors, in Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page

from afterword.errors import InvalidPageKey
from afterword.pagekey import encode_page_path, normalize_page_key
from afterword.widget import widget_assets

pytestmark = pytest.mark.browser

VECTORS = Path(__file__).parent / "vectors" / "page_keys.json"

# Runs every vector in the page; the raw JSON text goes in so lone surrogates survive.
RUN_VECTORS = """text => JSON.parse(text).map(v => {
  try { const key = afterword.key(v.input); return {key, encoded: afterword.folder(key)}; }
  catch (e) { return {error: String(e)}; }
})"""


def load_widget(page: Page) -> None:
    script = next(a.data for a in widget_assets() if a.key == "afterword.js").decode()
    page.set_content(f"<!doctype html><title>keys</title><script>{script}</script>")


def test_widget_pagekey_vectors_match_python(browser_page: Page) -> None:
    load_widget(browser_page)
    text = VECTORS.read_text("utf-8")
    results = browser_page.evaluate(RUN_VECTORS, text)
    vectors = json.loads(text)
    assert len(results) == len(vectors) >= 40
    mismatches = []
    for vector, got in zip(vectors, results, strict=True):
        want = (
            {"error": True}
            if vector.get("error")
            else {"key": vector["key"], "encoded": vector["encoded"]}
        )
        seen = {"error": True} if "error" in got else got
        if seen != want:
            mismatches.append((vector["why"], want, got))
    assert not mismatches


@pytest.mark.parametrize(
    "path",
    [
        "/blog/2026/héllo wörld/",
        "/docs/index.html",
        "/a/%E2%82%AC/../b.html",
        "/feed/comments/",
        "/" + "x" * 300,
        "/tags/c++/(draft)!",
    ],
)
def test_widget_pagekey_extra_paths_match_python(browser_page: Page, path: str) -> None:
    """Paths beyond the vectors, including one too long for a folder (both must refuse)."""
    load_widget(browser_page)
    got = browser_page.evaluate(
        "p => { try { const k = afterword.key(p); return [k, afterword.folder(k)]; }"
        " catch (e) { return null; } }",
        path,
    )
    try:
        key = normalize_page_key(path)
        want: list[str] | None = [key, encode_page_path(key)]
    except InvalidPageKey:
        want = None
    assert got == want
