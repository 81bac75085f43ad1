"""How the thread looks and reads, in Chromium on a real build (the screenshots' scenes).

axe-core finds nothing at any impact level, light and dark, with replies, a pending card and a
field error on screen; the theme hooks, 390 px and desktop layouts,
dates and the Reply button are checked on the computed styles the reader gets.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from fixtures_browser import axe_violations
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

SCRIPT = Path(__file__).parent.parent / "scripts" / "screenshots.py"
LIGHT_ACCENT = "rgb(10, 88, 184)"
DARK_ACCENT = "rgb(140, 184, 255)"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("afterword_screenshots", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


shots = _load_script()


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One seeded, built and served site for the module (building is the slow part)."""
    with shots.scene(tmp_path_factory.mktemp("a11y")) as made:
        yield made


def new_page(browser: Browser, width: int = 1000, dark: bool = False, js: bool = True) -> Page:
    context = browser.new_context(
        viewport={"width": width, "height": 800},
        color_scheme="dark" if dark else "light",
        java_script_enabled=js,
    )
    context.set_default_timeout(10_000)
    return context.new_page()


def computed(page: Page, selector: str, prop: str) -> str:
    value: str = page.locator(selector).first.evaluate(
        "(e, p) => getComputedStyle(e).getPropertyValue(p)", prop
    )
    return value


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_widget_a11y_no_violations_at_any_impact(
    chromium_browser: Browser, scene: object, dark: bool
) -> None:
    page = new_page(chromium_browser, dark=dark)
    try:
        shots.open_thread(page, scene.page_url)  # type: ignore[attr-defined]
        assert page.locator(".afterword-replies .afterword-comment").count() >= 2
        shots.show_pending(page, f" ({dark=})")
        shots.show_field_error(page)
        assert page.locator(".afterword-pending").is_visible()
        assert page.locator(".afterword-form [aria-invalid=true]").count() == 1
        accent = computed(page, ".afterword-form [type=submit]", "background-color")
        assert accent == (DARK_ACCENT if dark else LIGHT_ACCENT)
        assert axe_violations(page) == []
        assert "color-contrast" in page.axe_passes  # type: ignore[attr-defined]
    finally:
        page.context.close()


@pytest.mark.parametrize(
    ("system_dark", "hook", "accent"),
    [
        (False, 'data-theme="dark"', DARK_ACCENT),
        (False, 'class="afterword-dark"', DARK_ACCENT),
        (True, 'data-theme="light"', LIGHT_ACCENT),
        (True, 'class="afterword-light"', LIGHT_ACCENT),
        (False, 'data-md-color-scheme="slate"', DARK_ACCENT),  # Material for MkDocs' dark
        (True, 'data-md-color-scheme="default"', LIGHT_ACCENT),  # and its light palette
    ],
)
def test_widget_theme_hook_beats_system_setting(
    chromium_browser: Browser, scene: object, system_dark: bool, hook: str, accent: str
) -> None:
    page = new_page(chromium_browser, dark=system_dark)
    try:
        page.route(
            "**/blog/post/",
            lambda route: route.fulfill(
                response=route.fetch(),
                body=route.fetch().text().replace("<main>", f"<main {hook}>"),
            ),
        )
        shots.open_thread(page, scene.page_url)  # type: ignore[attr-defined]
        assert computed(page, ".afterword-form [type=submit]", "background-color") == accent
        assert computed(page, ".afterword-thread", "color-scheme") == (
            "dark" if accent == DARK_ACCENT else "light"
        )
    finally:
        page.context.close()


def test_widget_looks_dates_reply_code(chromium_browser: Browser, scene: object) -> None:
    page = new_page(chromium_browser)
    try:
        shots.open_thread(page, scene.page_url)  # type: ignore[attr-defined]
        time = page.locator(".afterword-comment header > a > time").first
        assert time.get_attribute("datetime") == "2026-11-20T09:12:00Z"
        # The widget replaces the text with a relative one and puts the absolute date and time
        # (the reader's locale and zone) in the title.
        assert time.inner_text().endswith(" ago"), time.inner_text()
        title = time.get_attribute("title") or ""
        assert title.startswith("November 20, 2026"), title
        assert ":" in title, title  # and the time
        assert computed(page, ".afterword-comment header > a", "text-decoration-line") == "none"
        page.locator(".afterword-comment header > a").first.focus()
        after = page.locator(".afterword-comment header > a > time").first.evaluate(
            "e => getComputedStyle(e, '::after').content"
        )
        assert after == f'"{title}"'  # the absolute date on focus
        reply = page.locator(".afterword-comment footer > button").first
        assert reply.evaluate("e => e.tagName + ' ' + (e.form === null)") == "BUTTON true"
        background = computed(page, ".afterword-comment footer > button", "background-color")
        assert background == "rgba(0, 0, 0, 0)"
        code = computed(page, ".afterword-body pre", "background-color")
        assert code == "rgb(239, 241, 243)"  # neutral, not the pending card's
        lines = computed(page, ".afterword-comments > .afterword-comment + li", "border-top-style")
        assert lines == "solid"
        shots.show_pending(page, " (code)")
        pending_code = computed(page, ".afterword-pending .afterword-body pre", "background-color")
        assert pending_code == code
        card = computed(page, ".afterword-pending > article", "background-color")
        assert card != code
        reply.click()
        assert page.locator("#c1 > .afterword-form").count() == 1  # the script moved the form
    finally:
        page.context.close()


IDENTITY = [".afterword-form [name=author]", ".afterword-form [name=email]",
            ".afterword-form [name=website]"]  # fmt: skip


def test_widget_form_one_row_on_desktop_stacked_at_390(
    chromium_browser: Browser, scene: object
) -> None:
    for width, one_row in ((1000, True), (390, False)):
        page = new_page(chromium_browser, width=width)
        try:
            shots.open_thread(page, scene.page_url)  # type: ignore[attr-defined]
            page.locator(".afterword-form textarea").focus()  # the compact form opens
            page.locator(".afterword-fields:not([hidden])").wait_for()
            tops = {round(page.locator(s).bounding_box()["y"]) for s in IDENTITY}  # type: ignore[index]
            assert (len(tops) == 1) is one_row, (width, tops)
            overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
            assert overflow <= 0, f"{width} px: the page scrolls sideways by {overflow} px"
            body = page.locator(".afterword-form textarea").bounding_box()
            assert body is not None
            assert body["width"] >= (600 if one_row else 340)
        finally:
            page.context.close()


def test_widget_without_javascript_everything_but_reply_shows(
    chromium_browser: Browser, scene: object
) -> None:
    """The fragment included at build time, read without scripting: every field is there and
    the Reply button, which needs the script, is not."""
    root: Path = scene.root  # type: ignore[attr-defined]
    fragment = next((root / "public" / "comments" / "threads").rglob("comments.html"))
    include = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No script</title>'
        '<link rel="stylesheet" href="/comments/afterword.css"></head><body><main>'
        f"<h1>No script</h1><div data-afterword>{fragment.read_text('utf-8')}</div>"
        "</main></body></html>"
    )
    (root / "public" / "included.html").write_text(include, encoding="utf-8")
    page = new_page(chromium_browser, js=False)
    try:
        page.goto(scene.server.url + "included.html")  # type: ignore[attr-defined]
        assert page.locator(".afterword-comment").count() == 4
        assert all(page.locator(s).is_visible() for s in IDENTITY)
        assert page.locator(".afterword-form textarea").is_visible()
        assert page.locator(".afterword-comment footer > button").count() == 4
        assert not page.locator(".afterword-comment footer > button").first.is_visible()
        assert page.locator(".afterword-comment header time").first.inner_text() == "Nov 20, 2026"
    finally:
        page.context.close()


DOCS = (Path(__file__).parent.parent / "docs" / "embedding.md").read_text("utf-8")
THEMES = re.findall(r"```css\n/\* theme: ([\w ]+) \*/\n(.*?)```", DOCS, re.S)
STYLESHEET = (Path(__file__).parent.parent / "afterword" / "widget" / "afterword.css").read_text(
    "utf-8"
)


def test_widget_docs_show_three_themes() -> None:
    assert [name for name, _ in THEMES] == ["minimal", "card", "high contrast"]


@pytest.mark.parametrize(("name", "css"), THEMES, ids=[name for name, _ in THEMES])
def test_widget_docs_theme_only_variables_and_accessible(
    chromium_browser: Browser, scene: object, name: str, css: str
) -> None:
    """Each example theme sets documented custom properties only, and reads without a
    finding from axe-core on the full scene."""
    declarations = re.findall(r"([\w-]+)\s*:\s*([^;]+);", css)
    assert declarations, name
    for prop, _ in declarations:
        assert prop.startswith("--afterword-"), f"{name}: {prop} is not a theme variable"
        assert f"var({prop}," in STYLESHEET, f"{name}: the stylesheet never reads {prop}"
        assert f"`{prop}`" in DOCS, f"{name}: {prop} is not in the table of properties"
    page = new_page(chromium_browser)
    try:
        shots.open_thread(page, scene.page_url)  # type: ignore[attr-defined]
        before = page.locator(".afterword-thread").screenshot()
        page.add_style_tag(content=css)
        assert page.locator(".afterword-thread").screenshot() != before, f"{name} changed nothing"
        shots.show_pending(page, f" ({name})")
        shots.show_field_error(page)
        assert axe_violations(page) == []
    finally:
        page.context.close()


def test_widget_owner_badge_style_is_themeable(chromium_browser: Browser, scene: object) -> None:
    """The badge markup is the builder's; its look is the stylesheet's: a pill on the accent,
    recoloured by --afterword-owner-bg / -fg, and readable to axe-core."""
    page = new_page(chromium_browser)
    try:
        shots.open_thread(page, scene.page_url)  # type: ignore[attr-defined]
        page.locator(".afterword-comment header").first.evaluate(
            "h => h.querySelector(':scope > b').insertAdjacentHTML('afterend',"
            " '<span class=\"afterword-owner-badge\">Author</span>')"
        )
        badge = ".afterword-owner-badge"
        assert computed(page, badge, "background-color") == LIGHT_ACCENT
        assert computed(page, badge, "color") == "rgb(255, 255, 255)"
        assert float(computed(page, badge, "border-top-left-radius").removesuffix("px")) >= 8
        assert axe_violations(page) == []
        page.add_style_tag(content=":root { --afterword-owner-bg: #5a2d82; }")
        assert computed(page, badge, "background-color") == "rgb(90, 45, 130)"
    finally:
        page.context.close()
