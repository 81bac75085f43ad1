#!/usr/bin/env python3
"""Make the screenshots in docs/images/ from a real build, so the docs show the real thing.

A throwaway site folder gets a real SQLite database seeded through the store (a thread with
replies, Markdown, a code block), ``afterword build`` writes the output, the intake runs on a
loopback port, and a static server on another serves the output plus a page that embeds the
widget with the documented snippet. Debian's Chromium (Playwright) then shoots each scene:

    light.png    the thread with replies and the form, light colors (800 px wide)
    dark.png     the same page in dark mode (prefers-color-scheme: dark)
    mobile.png   390 px wide, as a phone shows it
    replies.png  a reply's thread, close up
    pending.png  one's own comment as it waits for moderation (posted through the intake)
    error.png    a field error from the intake (a comment of only spaces)

    python3 scripts/screenshots.py [--out docs/images]

``tests/test_screenshots.py`` runs it into a temporary folder; ``tests/test_widget_a11y.py``
runs axe-core on the same scenes (``Scene``), so what the docs show is what is checked.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fixtures_browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    StaticServer,
    start_static_server,
    write_page,
)

from afterword.builder import build_site  # noqa: E402
from afterword.config import Config, load_config  # noqa: E402
from afterword.demo import free_port  # noqa: E402
from afterword.intake.server import BackgroundServer  # noqa: E402
from afterword.markup import RENDERER_VERSION, render_markdown  # noqa: E402
from afterword.store import NewComment, insert_comment, open_store, set_meta  # noqa: E402

KEY = "/blog/post/"
WIDTH = 800
MOBILE = 390
NAMES = ("light", "dark", "mobile", "replies", "pending", "error")

# (author, body, index of the parent or None, ISO time)
THREAD: tuple[tuple[str, str, int | None, str], ...] = (
    (
        "Ada Lovelace",
        "Lovely write-up. The trick with `page_size` made my build **twice** as fast.",
        None,
        "2026-11-20T09:12:00Z",
    ),
    (
        "Grace",
        "Same here. For the record, this is what I ran:\n\n"
        "```\nafterword build --full\nafterword publish site\n```",
        0,
        "2026-11-21T14:03:00Z",
    ),
    ("Ada Lovelace", "Thanks, that helps.", 1, "2026-11-22T08:30:00Z"),
    (
        "Łukasz",
        "> Does it work without JavaScript?\n\nYes: the form posts and comes back.",
        None,
        "2026-11-25T18:45:00Z",
    ),
)

PAGE_CSS = """
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #1f2328; background: #fff; }
main { max-width: 44rem; margin: 0 auto; padding: 1.5rem 1rem; }
@media (prefers-color-scheme: dark) { body { color: #e6e8eb; background: #15181c; } }
"""


@dataclass
class Scene:
    """A built site on loopback: output under /comments/, a post page embedding the widget."""

    root: Path
    config: Config
    server: StaticServer

    @property
    def page_url(self) -> str:
        return self.server.url + KEY.lstrip("/")


def seed(config: Config) -> None:
    """The thread, inserted through the store as the intake and importers do."""
    store = open_store(config.database_path)
    try:
        with store.write() as conn:  # a fixed site secret: the same identicons every run
            set_meta(conn, "secret", "5c" * 32)
        ids: list[int] = []
        for author, body, parent, created in THREAD:
            new = NewComment(
                page_key=KEY,
                author=author,
                body=body,
                body_html=render_markdown(body),
                renderer=RENDERER_VERSION,
                parent_id=ids[parent] if parent is not None else None,
                email=f"{author.split()[0].lower()}@example.org",
                website="https://example.org" if parent is None else "",
                status="approved",
                ip_hash="",
                created=created,
                page_title="A post",
                source="intake",
            )
            with store.write() as conn:
                ids.append(insert_comment(conn, new))
        build_site(config, store)
    finally:
        store.close()


@contextmanager
def scene(root: Path) -> Iterator[Scene]:
    """Seed, build, and serve the site and the intake until the block ends."""
    public = root / "public"
    public.mkdir(parents=True)
    server = start_static_server(public)
    try:
        config_file = root / "afterword.toml"
        config_file.write_text(
            f'[site]\nurl = "{server.url}"\ntitle = "Example"\n[intake]\nport = {free_port()}\n'
            '[build]\noutput_dir = "public/comments"\n[limits]\nper_minute = 0\nper_hour = 0\n',
            encoding="utf-8",
        )
        config = load_config(config_file, environ={})
        seed(config)
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>A post</title><style>{PAGE_CSS}</style></head><body><main>"
            "<h1>A post</h1><p>Some article text above the comments.</p>"
            "<div data-afterword></div></main>"
            '<script src="/comments/afterword.js" defer></script></body></html>'
        )
        write_page(public, KEY, page)
        with BackgroundServer(config, port=config.intake.port):
            yield Scene(root, config, server)
    finally:
        server.stop()


def open_thread(page: Page, url: str) -> None:
    page.goto(url)
    page.locator(".afterword-comment:not([data-pending])").first.wait_for()
    # The second module draws identicons and makes dates relative: shoot what readers see.
    page.locator(".afterword-comment time[data-relative]").first.wait_for()
    page.evaluate("document.fonts.ready")


def show_pending(page: Page, note: str = "") -> None:
    """Post a real comment through the intake: the widget shows it awaiting moderation.
    (The intake refuses the same text twice, so callers posting again add a ``note``.)"""
    body = f"Great post!{note} Here is a snippet:\n\n    make html"
    page.fill(".afterword-form [name=body]", body)  # the compact form: the comment box first
    page.fill(".afterword-form [name=author]", "Zoë")
    page.locator(".afterword-form [type=submit]").click()
    page.locator(".afterword-pending").wait_for()
    # The card fades in: shoot (and check contrast) once it is fully there.
    page.wait_for_function("document.getAnimations().every(a => a.playState !== 'running')")


def show_field_error(page: Page) -> None:
    """Only spaces pass the browser's ``required`` but not the intake: a field error."""
    page.fill(".afterword-form [name=body]", "   ")
    page.fill(".afterword-form [name=author]", "Zoë")
    page.locator(".afterword-form [type=submit]").click()
    page.locator(".afterword-form .afterword-error").wait_for()


def new_page(browser: Browser, width: int, dark: bool = False) -> Page:
    context = browser.new_context(
        viewport={"width": width, "height": 600},
        color_scheme="dark" if dark else "light",
        reduced_motion="reduce",
    )
    context.set_default_timeout(15_000)
    return context.new_page()


def shoot(browser: Browser, site: Scene, out: Path) -> list[Path]:
    """Every scene as a PNG in ``out``, in NAMES order."""
    out.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []

    def save(page: Page, name: str, selector: str | None = None) -> None:
        """The whole page, or the full-width band around ``selector`` (16 px above, 8 below)."""
        path = out / f"{name}.png"
        if selector is None:
            page.screenshot(path=str(path), full_page=True, animations="disabled")
        else:
            box = page.locator(selector).bounding_box()
            assert box is not None, f"{selector} is not on the page"
            top = max(0.0, box["y"] + page.evaluate("scrollY") - 16)
            clip = {"x": 0, "y": top, "width": WIDTH, "height": box["height"] + 24}
            page.screenshot(path=str(path), full_page=True, clip=clip, animations="disabled")
        made.append(path)
        page.context.close()

    for name, width, dark in (("light", WIDTH, False), ("dark", WIDTH, True)):
        page = new_page(browser, width, dark)
        open_thread(page, site.page_url)
        save(page, name)
    page = new_page(browser, MOBILE)
    open_thread(page, site.page_url)
    save(page, "mobile")
    page = new_page(browser, WIDTH)
    open_thread(page, site.page_url)
    save(page, "replies", ".afterword-comments > .afterword-comment:first-child")
    page = new_page(browser, WIDTH)
    open_thread(page, site.page_url)
    show_pending(page)
    save(page, "pending", ".afterword-pending")
    page = new_page(browser, WIDTH)
    open_thread(page, site.page_url)
    show_field_error(page)
    save(page, "error", ".afterword-form")
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    with (
        TemporaryDirectory(prefix="afterword-shots-") as tmp,
        scene(Path(tmp)) as site,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for path in shoot(browser, site, args.out):
                print(path)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
