"""Editing and deleting one's own comment from the widget, in Chromium, through the real
intake (PATCH/DELETE with the 202's capability), the CLI's moderation and the real builder.

Every test asserts what happened where it matters: the database row (or its revision), the
rebuilt page, the DOM the visitor sees and the receipt this browser keeps.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fixtures_browser import axe_violations, write_page
from playwright.sync_api import Locator, Page
from test_widget_pages import STRICT, VIOLATIONS, HeaderHandler, wait_under_csp

from afterword.cli import main
from afterword.config import Config, load_config
from afterword.demo import free_port, post_comment
from afterword.intake.server import BackgroundServer

pytestmark = pytest.mark.browser

KEY = "/blog/post/"
SCRIPT = "/comments/afterword.js"
OPEN_LIMITS = "per_minute = 0\nper_hour = 0\n"
SITE_CSS = "@media (prefers-color-scheme: dark) { body { color: #e6e8eb; background: #15181c; } }\n"


@dataclass
class EditSite:
    root: Path
    url: str
    config: Config
    config_file: Path
    httpd: ThreadingHTTPServer

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(self.config_file), *args])
        assert result.exit_code == 0, result.output
        return result.output

    def headers(self, **values: str) -> None:
        self.httpd.extra_headers = {k.replace("_", "-"): v for k, v in values.items()}  # type: ignore[attr-defined]

    def page(self, path: str = KEY, body: str = "<div data-afterword></div>") -> str:
        """A page with no inline style or script, embedding the widget; the site's own
        stylesheet follows the system's dark mode, as a real theme does."""
        (self.root / "site.css").write_text(SITE_CSS, "utf-8")
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>T</title>'
            '<link rel="stylesheet" href="/site.css"></head>'
            f'<body><main><h1>A post</h1>{body}</main><script src="{SCRIPT}" defer></script>'
            "</body></html>"
        )
        write_page(self.root, path, html)
        return self.url + path.lstrip("/")

    def row(self, comment_id: int) -> tuple[str, str]:
        """(status, body) of the stored comment."""
        with sqlite3.connect(self.config.database_path) as db:
            found = db.execute(
                "SELECT status, body FROM comments WHERE id = ?", (comment_id,)
            ).fetchone()
        assert found is not None
        return found[0], found[1]

    def revisions(self, comment_id: int) -> list[tuple[str, str]]:
        """(status, body) of every revision of the comment."""
        with sqlite3.connect(self.config.database_path) as db:
            rows = db.execute(
                "SELECT status, body FROM revisions WHERE comment_id = ? ORDER BY id",
                (comment_id,),
            ).fetchall()
        return [(status, body) for status, body in rows]

    def publish(self, comment_id: int) -> None:
        """`afterword approve` then `afterword build`, as a moderator would."""
        self.cli("approve", str(comment_id))
        self.cli("build")


Factory = Callable[..., EditSite]


@pytest.fixture
def make_site(tmp_path: Path) -> Iterator[Factory]:
    """A static host (headers settable) serving afterword's output under /comments/, and a
    running intake; ``site``, ``build`` and ``limits`` go into those tables of afterword.toml,
    ``extra`` (more tables) after them."""
    stops: list[Callable[[], None]] = []

    def make(
        limits: str = OPEN_LIMITS, extra: str = "", build: str = "", site: str = ""
    ) -> EditSite:
        public = tmp_path / "public"
        public.mkdir()
        handler = functools.partial(HeaderHandler, directory=str(public))
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.paths = []  # type: ignore[attr-defined]
        httpd.extra_headers = {}  # type: ignore[attr-defined]
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()

        def stop_static() -> None:
            httpd.shutdown()
            httpd.server_close()
            thread.join(5)

        stops.append(stop_static)
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        config_file = tmp_path / "afterword.toml"
        config_file.write_text(
            f'[site]\nurl = "{url}"\n{site}\n[intake]\nport = {free_port()}\n'
            f'[build]\noutput_dir = "public/comments"\n{build}\n[limits]\n{limits}\n{extra}',
            encoding="utf-8",
        )
        config = load_config(config_file, environ={})
        intake = BackgroundServer(config, port=config.intake.port)
        intake.__enter__()
        stops.append(lambda: intake.__exit__(None, None, None))
        made = EditSite(public, url, config, config_file, httpd)
        made.cli("build")
        return made

    yield make
    for stop in reversed(stops):
        stop()


@pytest.fixture
def site(make_site: Factory) -> EditSite:
    return make_site()


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    page.locator(".afterword-form").first.wait_for()
    page.wait_for_function("window.afterword.form")


def post(page: Page, body: str, widget: Locator | None = None) -> int:
    """Post through the widget's form; the id of the comment, once its pending card shows."""
    scope = widget or page.locator("[data-afterword]").first
    before = len(receipts(page))
    scope.locator(".afterword-form [name=body]").fill(body)
    scope.locator(".afterword-form [name=author]").fill("Zoë")
    scope.locator(".afterword-form [type=submit]").click()
    page.wait_for_function(
        "n => JSON.parse(localStorage['afterword:pending'] || '[]').length > n", arg=before
    )
    comment_id: int = receipts(page)[-1]["id"]
    scope.locator(f"#c{comment_id}.afterword-pending .afterword-edit").wait_for()
    return comment_id


def receipts(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        page.evaluate("localStorage['afterword:pending'] || '[]'")
    )
    return found


def set_receipts(page: Page, values: list[dict[str, Any]]) -> None:
    page.evaluate("v => localStorage['afterword:pending'] = JSON.stringify(v)", values)


def focused(page: Page) -> str:
    """The focused element's class name, or its id when it has no class."""
    return str(page.evaluate("document.activeElement.className || document.activeElement.id"))


def edit_module_requests(page: Page) -> list[str]:
    """Requests for the third module, afterword-edit.<hash>.js, since the list was cleared."""
    return [u for u in page.requests if "/afterword-edit." in u]  # type: ignore[attr-defined]


def settle(page: Page) -> None:
    """The form module has run (it decides whether to fetch the edit module), and a little
    more: time for a fetch it started to show in the request list."""
    page.wait_for_function("window.afterword && window.afterword.form")
    page.wait_for_timeout(500)


def open_editor(item: Locator) -> Locator:
    item.locator(".afterword-edit").click()
    editor = item.locator(".afterword-editor")
    editor.wait_for()
    return editor


def wait_status(item: Locator, text: str, timeout: float = 10_000) -> None:
    """Wait until the comment's status line says ``text`` (a failure shows what it said)."""
    try:
        item.locator(".afterword-note", has_text=text).wait_for(timeout=timeout)
    except Exception:
        said = item.locator(".afterword-note").all_inner_texts()
        raise AssertionError(f"status {said!r}, expected {text!r}") from None


def test_widget_edit_pending_comment_updates_card_and_row(
    site: EditSite, browser_page: Page
) -> None:
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Frist *draft*")
    card = browser_page.locator(f"#c{comment_id}.afterword-pending")
    assert card.get_by_role("button", name="Edit").count() == 1
    assert card.get_by_role("button", name="Delete").count() == 1
    editor = open_editor(card)
    box = editor.get_by_role("textbox", name="Edit your comment")
    assert box.input_value() == "Frist *draft*"  # the source, not the HTML
    assert browser_page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    assert card.locator(".afterword-body").is_hidden()
    box.fill("First *draft*, fixed")
    editor.get_by_role("button", name="Save").click()
    wait_status(card, "Your change was saved.")
    assert card.locator(".afterword-editor").count() == 0
    assert card.locator(".afterword-body em").inner_text() == "draft"
    assert card.locator(".afterword-body").inner_text() == "First draft, fixed"
    assert focused(browser_page) == "afterword-edit"
    assert site.row(comment_id) == ("pending", "First *draft*, fixed")
    assert site.revisions(comment_id) == []
    stored = receipts(browser_page)[0]
    assert stored["body"] == "First *draft*, fixed"
    assert "<em>draft</em>" in stored["html"]
    # After a reload the card shows the new text, and the box starts from it.
    browser_page.reload()
    card.locator(".afterword-edit").wait_for()
    assert card.locator(".afterword-body").inner_text() == "First draft, fixed"
    assert open_editor(card).locator("textarea").input_value() == "First *draft*, fixed"


def test_widget_edit_keyboard_cancel_returns_focus_and_keeps_text(
    site: EditSite, browser_page: Page
) -> None:
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Typed once")
    card = browser_page.locator(f"#c{comment_id}")
    card.locator(".afterword-edit").focus()
    browser_page.keyboard.press("Enter")
    card.locator(".afterword-editor textarea").wait_for()
    browser_page.keyboard.type(" and again")
    browser_page.keyboard.press("Escape")
    assert card.locator(".afterword-editor").count() == 0
    assert focused(browser_page) == "afterword-edit"
    assert card.locator(".afterword-body").inner_text() == "Typed once"
    # Cancel by its button, reached with Tab from the text box.
    browser_page.keyboard.press("Enter")
    browser_page.keyboard.press("Tab")
    browser_page.keyboard.press("Tab")
    browser_page.keyboard.press("Enter")
    assert card.locator(".afterword-editor").count() == 0
    assert focused(browser_page) == "afterword-edit"
    assert site.row(comment_id) == ("pending", "Typed once")


def test_widget_edit_published_comment_queues_revision(site: EditSite, browser_page: Page) -> None:
    other = post_comment(site.config.intake_url, KEY, "Ana", "Somebody else's", None)
    site.publish(other)
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Published soon")
    site.publish(comment_id)
    browser_page.reload()
    mine = browser_page.locator(f"li#c{comment_id}:not([data-pending])")
    mine.locator(".afterword-edit").wait_for()
    assert browser_page.locator(".afterword-pending").count() == 0
    assert browser_page.locator(f"#c{other} :is(.afterword-edit, .afterword-delete)").count() == 0
    assert browser_page.locator(".afterword-edit").count() == 1
    editor = open_editor(mine)
    assert editor.locator("textarea").input_value() == "Published soon"
    editor.locator("textarea").fill("Published soon, **revised**")
    editor.get_by_role("button", name="Save").click()
    wait_status(mine, "Your edit awaits moderation.")
    assert mine.locator(".afterword-body").inner_text() == "Published soon"
    assert site.row(comment_id) == ("approved", "Published soon")
    assert site.revisions(comment_id) == [("pending", "Published soon, **revised**")]
    # The moderator approves the revision: the next build shows it, marked "edited".
    site.cli("approve", str(comment_id))
    site.cli("build")
    browser_page.reload()
    mine.locator(".afterword-edited").wait_for()
    assert mine.locator(".afterword-body strong").inner_text() == "revised"
    assert open_editor(mine).locator("textarea").input_value() == "Published soon, **revised**"


def test_widget_delete_pending_comment(site: EditSite, browser_page: Page) -> None:
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Regretted at once")
    heading = browser_page.locator(".afterword-heading")
    assert heading.inner_text() == "1 comment awaiting moderation"
    card = browser_page.locator(f"#c{comment_id}")
    card.locator(".afterword-delete").click()
    confirm = card.get_by_role("group", name="Delete this comment?")
    confirm.wait_for()
    assert focused(browser_page) == "afterword-keep"
    assert card.locator(".afterword-own").is_hidden()
    confirm.get_by_role("button", name="Cancel").click()  # changed their mind
    assert card.locator(".afterword-confirm").count() == 0
    assert focused(browser_page) == "afterword-delete"
    assert site.row(comment_id)[0] == "pending"
    card.locator(".afterword-delete").click()
    card.locator(".afterword-confirm .afterword-delete").click()
    card.locator(".afterword-removed-text", has_text="Your comment was deleted.").wait_for()
    assert browser_page.evaluate("document.activeElement.id") == f"c{comment_id}"
    assert card.locator(".afterword-edit").count() == 0
    assert heading.inner_text() != "1 comment awaiting moderation"
    assert site.row(comment_id)[0] == "deleted"
    assert receipts(browser_page) == []
    browser_page.reload()
    browser_page.locator(".afterword-form").wait_for()
    browser_page.wait_for_function("window.afterword.form")
    assert browser_page.locator(f"#c{comment_id}").count() == 0
    site.cli("build")  # a deleted comment is never published
    thread = site.root / "comments" / "threads" / "blog" / "post" / "comments.html"
    assert not thread.exists() or "Regretted" not in thread.read_text("utf-8")


def test_widget_delete_published_comment(site: EditSite, browser_page: Page) -> None:
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Out it goes")
    site.publish(comment_id)
    browser_page.reload()
    mine = browser_page.locator(f"li#c{comment_id}:not([data-pending])")
    mine.locator(".afterword-delete").click()
    mine.locator(".afterword-confirm .afterword-delete").click()
    mine.locator(".afterword-removed-text", has_text="Your comment was deleted.").wait_for()
    assert site.row(comment_id)[0] == "deleted"
    assert receipts(browser_page)[0]["capability"] is None
    # Until the next build the old fragment still has it: this browser keeps it hidden,
    # without the edit module (nothing is left to change).
    browser_page.requests.clear()  # type: ignore[attr-defined]
    browser_page.reload()
    mine.locator(".afterword-removed-text").wait_for()
    assert "Out it goes" not in mine.inner_text()
    settle(browser_page)
    assert edit_module_requests(browser_page) == []
    site.cli("build")
    browser_page.reload()
    browser_page.locator(".afterword-form").wait_for()
    browser_page.wait_for_function("window.afterword.form")
    assert browser_page.locator(f"li#c{comment_id}:not([data-pending])").count() == 0
    assert receipts(browser_page) == []


def test_widget_delete_published_comment_keeps_replies(site: EditSite, browser_page: Page) -> None:
    """Someone answered: the deleted comment's place stays, with the reply under it, before
    the rebuild (this browser's notice) and after (the builder's placeholder)."""
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Answered, then regretted")
    site.publish(comment_id)
    reply = post_comment(site.config.intake_url, KEY, "Ben", "A reply to Zoë", comment_id)
    site.publish(reply)
    browser_page.reload()
    mine = browser_page.locator(f"li#c{comment_id}:not([data-pending])")
    mine.locator(".afterword-delete").click()
    mine.locator(".afterword-confirm .afterword-delete").click()
    mine.locator(".afterword-removed-text", has_text="Your comment was deleted.").wait_for()
    assert "regretted" not in mine.inner_text()
    assert mine.locator(f"#c{reply} .afterword-body").inner_text() == "A reply to Zoë"
    assert site.row(comment_id)[0] == "deleted"
    site.cli("build")
    browser_page.reload()
    mine.locator(f"#c{reply}").wait_for()
    browser_page.wait_for_function("window.afterword.form")
    assert mine.get_attribute("class") == "afterword-comment afterword-removed"
    assert "regretted" not in mine.inner_text()
    assert receipts(browser_page) == []


def test_widget_edit_own_comment_on_a_later_part(make_site: Factory, browser_page: Page) -> None:
    """One thread per part: the own comment is on part 2. Until that part is loaded it shows
    as a pending copy; "Load more" brings the published one, and Edit and Delete move to it."""
    site = make_site(build="page_size = 1")
    first = post_comment(site.config.intake_url, KEY, "Ana", "On the first part", None)
    site.publish(first)
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "On the second part")
    site.publish(comment_id)
    browser_page.reload()
    browser_page.locator(f"#c{comment_id}.afterword-pending .afterword-edit").wait_for()
    browser_page.locator(".afterword-more").click()
    mine = browser_page.locator(f"li#c{comment_id}:not([data-pending])")
    mine.locator(".afterword-edit").wait_for()
    assert browser_page.locator(".afterword-pending").count() == 0
    assert browser_page.locator(".afterword-edit").count() == 1
    assert browser_page.locator(f"#c{first} .afterword-edit").count() == 0
    editor = open_editor(mine)
    editor.locator("textarea").fill("On the second part, revised")
    editor.get_by_role("button", name="Save").click()
    wait_status(mine, "Your edit awaits moderation.")
    assert site.revisions(comment_id) == [("pending", "On the second part, revised")]


def test_widget_edit_trusted_comment_card_keeps_its_text(
    make_site: Factory, browser_page: Page
) -> None:
    """A trusted author's comment is stored approved: the card says so, and an edit is a
    revision (the card's text stays, as the published one will)."""
    site = make_site(extra='[moderation]\ntrusted = ["@example.org"]\n')
    open_page(browser_page, site.page())
    form = browser_page.locator(".afterword-form")
    form.locator("[name=body]").fill("Trusted words")
    form.locator("[name=author]").fill("Ada")
    form.locator("[name=email]").fill("ada@example.org")
    form.locator("[type=submit]").click()
    card = browser_page.locator(".afterword-pending")
    card.locator(".afterword-edit").wait_for()
    comment_id = receipts(browser_page)[0]["id"]
    assert card.locator(".afterword-badge").inner_text().startswith("Approved")
    editor = open_editor(card)
    editor.locator("textarea").fill("Trusted words, better")
    editor.get_by_role("button", name="Save").click()
    wait_status(card, "Your edit awaits moderation.")
    assert card.locator(".afterword-body").inner_text() == "Trusted words"
    assert site.row(comment_id) == ("approved", "Trusted words")
    assert site.revisions(comment_id) == [("pending", "Trusted words, better")]


def test_widget_edit_on_a_closed_thread(site: EditSite, browser_page: Page) -> None:
    """Closed after posting (`build.closed_pages`): the fragment has no form and no Reply, so
    no footer either; the buttons get a footer of their own and the edit goes to the intake
    the receipt was posted to."""
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Before closing")
    site.cli("approve", str(comment_id))
    text = site.config_file.read_text("utf-8")
    site.config_file.write_text(
        text.replace("[build]\n", '[build]\nclosed_pages = ["/blog/*"]\n'), "utf-8"
    )
    site.cli("build")
    browser_page.reload()
    mine = browser_page.locator(f"li#c{comment_id}:not([data-pending])")
    mine.locator(".afterword-edit").wait_for()
    assert browser_page.locator(".afterword-form, article > footer > button").count() == 0
    assert mine.locator("article > footer .afterword-own").count() == 1
    editor = open_editor(mine)
    editor.locator("textarea").fill("Before closing, fixed")
    editor.get_by_role("button", name="Save").click()
    wait_status(mine, "Your edit awaits moderation.")
    assert site.revisions(comment_id) == [("pending", "Before closing, fixed")]


def test_widget_edit_buttons_in_the_sites_language(make_site: Factory, browser_page: Page) -> None:
    site = make_site(site='language = "de"')
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Auf Deutsch")
    card = browser_page.locator(f"#c{comment_id}")
    assert card.get_by_role("button", name="Bearbeiten").count() == 1
    card.get_by_role("button", name="Löschen").click()
    assert card.get_by_role("group", name="Diesen Kommentar löschen?").count() == 1
    card.get_by_role("button", name="Abbrechen").click()
    editor = open_editor(card)
    assert editor.get_by_role("textbox", name="Kommentar bearbeiten").count() == 1
    editor.get_by_role("button", name="Speichern").click()
    wait_status(card, "Ihre Änderung wurde gespeichert.")


def test_widget_edit_off_when_the_intake_grants_none(
    make_site: Factory, browser_page: Page
) -> None:
    """`edit_token_hours = 0`: the 202 carries no capability, so no buttons anywhere."""
    site = make_site(OPEN_LIMITS + "edit_token_hours = 0\n")
    open_page(browser_page, site.page())
    browser_page.fill(".afterword-form [name=body]", "Final words")
    browser_page.fill(".afterword-form [name=author]", "Zoë")
    browser_page.locator(".afterword-form [type=submit]").click()
    browser_page.locator(".afterword-pending").wait_for()
    assert receipts(browser_page)[0]["capability"] is None
    browser_page.wait_for_timeout(500)
    assert browser_page.locator(":is(.afterword-edit, .afterword-delete)").count() == 0
    assert edit_module_requests(browser_page) == []  # a receipt with nothing to edit with


def test_widget_edit_module_fetched_only_for_an_editable_receipt(
    site: EditSite, browser_page: Page
) -> None:
    """The third module (Edit and Delete) is for those who may still change a comment here:
    a reader of others' comments never fetches it, nor does one whose receipt's window has
    closed; posting fetches it once per page, by its hashed name, and shows Edit."""
    other = post_comment(site.config.intake_url, KEY, "Ana", "Somebody else's", None)
    site.publish(other)
    open_page(browser_page, site.page())
    settle(browser_page)
    assert browser_page.locator(f"#c{other}").count() == 1
    assert edit_module_requests(browser_page) == []
    assert browser_page.evaluate("window.afterword.edit") is None
    first = post(browser_page, "Mine, editable")  # waits for its Edit button
    second = post(browser_page, "Mine again")
    fetched = edit_module_requests(browser_page)
    assert len(fetched) == 1
    assert re.fullmatch(
        re.escape(site.url) + r"comments/afterword-edit\.[0-9a-f]{12}\.js", fetched[0]
    )
    assert browser_page.locator(".afterword-edit").count() == 2
    assert browser_page.locator(f"#c{other} .afterword-edit").count() == 0
    # A new page view with the receipts kept: fetched again (once), the buttons back.
    browser_page.requests.clear()  # type: ignore[attr-defined]
    browser_page.reload()
    browser_page.locator(f"#c{second} .afterword-edit").wait_for()
    assert browser_page.locator(f"#c{first} .afterword-edit").count() == 1
    assert len(edit_module_requests(browser_page)) == 1
    # The window closed for both: pending cards still shown, the module not fetched.
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    set_receipts(browser_page, [{**r, "editable_until": past} for r in receipts(browser_page)])
    browser_page.requests.clear()  # type: ignore[attr-defined]
    browser_page.reload()
    browser_page.locator(f"#c{second}.afterword-pending").wait_for()
    settle(browser_page)
    assert browser_page.locator(".afterword-pending").count() == 2
    assert browser_page.locator(":is(.afterword-edit, .afterword-delete)").count() == 0
    assert edit_module_requests(browser_page) == []


def test_widget_edit_module_blocked_then_fetched_again(site: EditSite, browser_page: Page) -> None:
    """The edit module cannot load (blocked, offline): the comment is still sent and shown
    pending, only without buttons; the next time a receipt needs them it is tried again."""
    blocked: list[str] = []

    def block(route: Any) -> None:
        blocked.append(route.request.url)
        route.abort()

    browser_page.route("**/afterword-edit.*.js", block)
    open_page(browser_page, site.page())
    browser_page.fill(".afterword-form [name=body]", "Sent while blocked")
    browser_page.fill(".afterword-form [name=author]", "Zoë")
    with browser_page.expect_console_message(lambda m: "edit module did not load" in m.text):
        browser_page.locator(".afterword-form [type=submit]").click()
    browser_page.locator(".afterword-pending").wait_for()
    browser_page.wait_for_timeout(300)
    assert len(blocked) == 1
    assert browser_page.locator(".afterword-pending").inner_text().count("Sent while blocked") == 1
    assert browser_page.locator(":is(.afterword-edit, .afterword-delete)").count() == 0
    assert receipts(browser_page)[0]["capability"]  # kept for when the module loads
    browser_page.unroute("**/afterword-edit.*.js")
    second = post(browser_page, "Sent once it loads")  # the next sync fetches it again
    first = receipts(browser_page)[0]["id"]
    browser_page.locator(f"#c{first} .afterword-edit").wait_for()  # the first card gets its own
    assert browser_page.locator(".afterword-edit").count() == 2
    assert len(edit_module_requests(browser_page)) == 2  # the blocked try and the one that loaded
    assert site.row(second)[0] == "pending"


def test_widget_edit_receipt_from_an_older_widget(site: EditSite, browser_page: Page) -> None:
    """A receipt stored before the source and intake URL were kept: the box starts from the
    comment's text as shown, and the edit goes to the form's intake."""
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Plain words")
    stored = receipts(browser_page)
    del stored[0]["body"], stored[0]["at"]
    set_receipts(browser_page, stored)
    browser_page.reload()
    card = browser_page.locator(f"#c{comment_id}")
    editor = open_editor(card)
    assert editor.locator("textarea").input_value() == "Plain words"
    editor.locator("textarea").fill("Plain words, edited")
    editor.get_by_role("button", name="Save").click()
    wait_status(card, "Your change was saved.")
    assert site.row(comment_id) == ("pending", "Plain words, edited")


def test_widget_edit_no_buttons_after_the_window(site: EditSite, browser_page: Page) -> None:
    """A receipt past its `editable_until`: no buttons, the capability forgotten, the pending
    card still shown; one that expires while the page is open loses its buttons then."""
    open_page(browser_page, site.page())
    first = post(browser_page, "Expired already")
    second = post(browser_page, "Expires in a moment")
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 8))
    stored = receipts(browser_page)
    stored[0]["editable_until"] = past
    stored[1]["editable_until"] = soon
    set_receipts(browser_page, stored)
    browser_page.reload()
    browser_page.locator(f"#c{second} .afterword-edit").wait_for()
    assert browser_page.locator(f"#c{first}.afterword-pending").count() == 1
    assert browser_page.locator(f"#c{first} :is(.afterword-edit, .afterword-delete)").count() == 0
    assert receipts(browser_page)[0]["capability"] is None
    open_editor(browser_page.locator(f"#c{second}")).locator("textarea").fill("Not in time")
    wait_status(
        browser_page.locator(f"#c{second}"), "This comment can no longer be changed.", 20_000
    )
    assert browser_page.locator(f"#c{second} :is(.afterword-edit, .afterword-delete)").count() == 0
    assert browser_page.locator(f"#c{second} .afterword-save").count() == 0
    assert browser_page.input_value(f"#c{second} textarea") == "Not in time"  # kept to copy
    assert browser_page.evaluate("document.activeElement.tagName") == "TEXTAREA"  # not moved
    assert receipts(browser_page)[1]["capability"] is None
    assert site.row(second) == ("pending", "Expires in a moment")


def test_widget_edit_refused_by_server_removes_buttons(
    make_site: Factory, browser_page: Page
) -> None:
    """`edit_window_minutes = 0`: published means closed, though the receipt's own deadline
    (72 hours for a pending comment) has not passed: the server's 403 wins. The receipt here
    is one from a widget that did not keep the window (no `edit_window_minutes`), so the
    widget still offers Edit and only the server can say no."""
    site = make_site(OPEN_LIMITS + "edit_window_minutes = 0\n")
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Closed on approval")
    stored = receipts(browser_page)
    del stored[0]["edit_window_minutes"]
    set_receipts(browser_page, stored)
    site.publish(comment_id)
    browser_page.reload()
    mine = browser_page.locator(f"li#c{comment_id}:not([data-pending])")
    editor = open_editor(mine)
    editor.locator("textarea").fill("Too late, but typed")
    editor.get_by_role("button", name="Save").click()
    wait_status(mine, "This comment can no longer be changed.")
    assert mine.locator(":is(.afterword-edit, .afterword-delete, .afterword-save)").count() == 0
    assert editor.locator("textarea").input_value() == "Too late, but typed"
    assert browser_page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    assert receipts(browser_page)[0]["capability"] is None
    assert site.row(comment_id) == ("approved", "Closed on approval")
    assert site.revisions(comment_id) == []
    editor.get_by_role("button", name="Cancel").click()
    assert mine.locator(".afterword-body").inner_text() == "Closed on approval"
    assert browser_page.evaluate("document.activeElement.id") == f"c{comment_id}"
    browser_page.reload()
    browser_page.wait_for_function("window.afterword.form")
    assert browser_page.locator(".afterword-edit").count() == 0
    assert receipts(browser_page) == []  # published, no right left: nothing to keep


def test_widget_edit_window_counts_from_first_seen_live(
    make_site: Factory, browser_page: Page
) -> None:
    """A pending receipt may be changed for edit_token_hours (72); once this browser sees the
    comment published, only `edit_window_minutes` are left (the server counts them from the
    approval, which the widget cannot see), so the buttons do not linger for days."""
    site = make_site(OPEN_LIMITS + "edit_window_minutes = 5\n")
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Soon live")
    before = receipts(browser_page)[0]
    assert before["edit_window_minutes"] == 5
    pending_left = time.mktime(time.strptime(before["editable_until"], "%Y-%m-%dT%H:%M:%SZ"))
    assert pending_left - time.mktime(time.gmtime()) > 71 * 3600
    site.publish(comment_id)
    browser_page.reload()
    browser_page.locator(f"li#c{comment_id}:not([data-pending]) .afterword-edit").wait_for()
    after = receipts(browser_page)[0]
    until = after["editable_until"]
    left = time.mktime(time.strptime(until[:19], "%Y-%m-%dT%H:%M:%S")) - time.mktime(time.gmtime())
    assert 4 * 60 < left <= 5 * 60 + 1
    live = after["live"]
    browser_page.reload()  # counted once: a second view does not move the deadline on
    browser_page.locator(f"li#c{comment_id}:not([data-pending]) .afterword-edit").wait_for()
    assert receipts(browser_page)[0]["live"] == live
    assert receipts(browser_page)[0]["editable_until"] == until


def test_widget_edit_no_buttons_once_live_with_no_window(
    make_site: Factory, browser_page: Page
) -> None:
    """`edit_window_minutes = 0`: the published comment gets no buttons and the receipt goes."""
    site = make_site(OPEN_LIMITS + "edit_window_minutes = 0\n")
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Closed once live")
    browser_page.locator(f"#c{comment_id} .afterword-edit").wait_for()  # pending: editable
    site.publish(comment_id)
    browser_page.requests.clear()  # type: ignore[attr-defined]
    browser_page.reload()
    browser_page.locator(f"li#c{comment_id}:not([data-pending])").wait_for()
    settle(browser_page)
    assert browser_page.locator(".afterword-edit").count() == 0
    assert receipts(browser_page) == []
    assert edit_module_requests(browser_page) == []


def test_widget_delete_with_forged_capability_changes_nothing(
    site: EditSite, browser_page: Page
) -> None:
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Mine to keep")
    stored = receipts(browser_page)
    stored[0]["capability"] = stored[0]["capability"][:-4] + "AAAA"
    set_receipts(browser_page, stored)
    browser_page.reload()
    card = browser_page.locator(f"#c{comment_id}")
    card.locator(".afterword-delete").click()
    card.locator(".afterword-confirm .afterword-delete").click()
    wait_status(card, "This comment can no longer be changed.")
    assert card.locator(":is(.afterword-edit, .afterword-delete)").count() == 0
    assert card.locator(".afterword-body").inner_text() == "Mine to keep"
    assert site.row(comment_id) == ("pending", "Mine to keep")
    assert receipts(browser_page)[0]["capability"] is None


def test_widget_edit_empty_body_shows_field_error(site: EditSite, browser_page: Page) -> None:
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Something")
    card = browser_page.locator(f"#c{comment_id}")
    editor = open_editor(card)
    box = editor.locator("textarea")
    box.fill("   ")
    editor.get_by_role("button", name="Save").click()
    error = editor.locator(".afterword-error")
    error.wait_for()
    assert error.inner_text() == "is required"
    assert box.get_attribute("aria-invalid") == "true"
    assert box.get_attribute("aria-describedby") == error.get_attribute("id")
    assert browser_page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    assert box.input_value() == "   "
    assert site.row(comment_id) == ("pending", "Something")
    box.fill("Something better")
    editor.get_by_role("button", name="Save").click()
    wait_status(card, "Your change was saved.")
    assert card.locator(".afterword-error").count() == 0
    assert site.row(comment_id) == ("pending", "Something better")


def test_widget_edit_rate_limited_says_when_and_keeps_text(
    make_site: Factory, browser_page: Page
) -> None:
    """Every edit is an attempt (`attempts_per_minute`): the post and two saves use up three,
    the third save is a 429 whose Retry-After the visitor reads."""
    site = make_site("per_minute = 2\nattempts_per_minute = 3\n")
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "One")
    card = browser_page.locator(f"#c{comment_id}")
    for text in ("Two", "Three"):
        editor = open_editor(card)
        editor.locator("textarea").fill(text)
        editor.get_by_role("button", name="Save").click()
        wait_status(card, "Your change was saved.")
    editor = open_editor(card)
    editor.locator("textarea").fill("Four")
    editor.get_by_role("button", name="Save").click()
    card.locator(".afterword-note", has_text="Try again in").wait_for()
    said = card.locator(".afterword-note").inner_text()
    assert said.startswith("Too many attempts for now. Try again in ")
    assert said.endswith(" seconds.")
    assert 0 < int(said.split()[-2]) <= 60
    assert editor.locator("textarea").input_value() == "Four"
    assert card.locator(".afterword-save").is_enabled()
    assert focused(browser_page) == "afterword-save"
    assert receipts(browser_page)[0]["capability"]
    assert site.row(comment_id) == ("pending", "Three")


def test_widget_edit_store_unavailable_then_retry(make_site: Factory, browser_page: Page) -> None:
    """A 503 (another process holds the database's write lock past the busy timeout): try
    again later, the box and its text stay; once the lock is gone, Save works."""
    site = make_site(OPEN_LIMITS, "[database]\nbusy_timeout_ms = 100\n")
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Before the lock")
    card = browser_page.locator(f"#c{comment_id}")
    editor = open_editor(card)
    editor.locator("textarea").fill("During the lock")
    lock = sqlite3.connect(site.config.database_path, isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")
        editor.get_by_role("button", name="Save").click()
        wait_status(card, "The change could not be sent now. Try again later; your text is kept.")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert editor.locator("textarea").input_value() == "During the lock"
    assert card.get_by_role("button", name="Edit").count() == 0  # still editing
    assert receipts(browser_page)[0]["capability"]
    assert site.row(comment_id) == ("pending", "Before the lock")
    editor.get_by_role("button", name="Save").click()
    wait_status(card, "Your change was saved.")
    assert site.row(comment_id) == ("pending", "During the lock")


def test_widget_delete_intake_unreachable_keeps_the_right(
    site: EditSite, browser_page: Page
) -> None:
    open_page(browser_page, site.page())
    comment_id = post(browser_page, "Still here")
    stored = receipts(browser_page)
    stored[0]["at"] = f"http://127.0.0.1:{free_port()}/api/comments"  # nobody listens
    set_receipts(browser_page, stored)
    browser_page.reload()
    card = browser_page.locator(f"#c{comment_id}")
    card.locator(".afterword-delete").click()
    card.locator(".afterword-confirm .afterword-delete").click()
    wait_status(card, "Try again later")
    assert card.get_by_role("button", name="Delete").is_visible()
    assert focused(browser_page) == "afterword-delete"
    assert receipts(browser_page)[0]["capability"] == stored[0]["capability"]
    assert site.row(comment_id)[0] == "pending"


def test_widget_edit_two_widgets_on_one_page(site: EditSite, browser_page: Page) -> None:
    url = site.page(
        "/two/",
        '<div data-afterword data-page="/a/"></div><div data-afterword data-page="/b/"></div>',
    )
    open_page(browser_page, url)
    browser_page.wait_for_function("document.querySelectorAll('.afterword-form').length == 2")
    widgets = browser_page.locator("[data-afterword]")
    on_a = post(browser_page, "Mine on A", widgets.nth(0))
    on_b = post(browser_page, "Mine on B", widgets.nth(1))
    first = open_editor(widgets.nth(0).locator(f"#c{on_a}"))
    second = open_editor(widgets.nth(1).locator(f"#c{on_b}"))
    duplicates = browser_page.evaluate(
        """() => { const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
        return ids.filter((id, i) => ids.indexOf(id) != i); }"""
    )
    assert duplicates == []
    second.locator("label").click()  # each label names its own box
    assert browser_page.evaluate(
        "document.activeElement === document.querySelectorAll('.afterword-editor textarea')[1]"
    )
    second.locator("textarea").fill("Mine on B, edited")
    second.get_by_role("button", name="Save").click()
    wait_status(widgets.nth(1).locator(f"#c{on_b}"), "Your change was saved.")
    assert first.locator("textarea").input_value() == "Mine on A"
    assert site.row(on_a) == ("pending", "Mine on A")
    assert site.row(on_b) == ("pending", "Mine on B, edited")
    assert widgets.nth(0).locator(".afterword-editor").count() == 1


def test_widget_edit_under_strict_csp_zero_violations(site: EditSite, browser_page: Page) -> None:
    intake_origin = site.config.intake_url.split("/api/")[0]
    site.headers(Content_Security_Policy=f"{STRICT}; connect-src 'self' {intake_origin}")
    browser_page.add_init_script(VIOLATIONS)
    browser_page.goto(site.page())
    browser_page.locator(".afterword-form").wait_for()
    wait_under_csp(browser_page, "window.afterword && window.afterword.form")
    comment_id = post(browser_page, "Strictly *mine*")
    card = browser_page.locator(f"#c{comment_id}")
    editor = open_editor(card)
    editor.locator("textarea").fill("")
    editor.get_by_role("button", name="Save").click()
    editor.locator(".afterword-error").wait_for()
    editor.locator("textarea").fill("Strictly *edited*")
    editor.get_by_role("button", name="Save").click()
    wait_status(card, "Your change was saved.")
    card.locator(".afterword-delete").click()
    card.locator(".afterword-confirm").wait_for()
    browser_page.wait_for_timeout(200)
    assert browser_page.evaluate("window.__violations") == []
    assert site.row(comment_id) == ("pending", "Strictly *edited*")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_widget_edit_axe_with_edit_box_open(
    site: EditSite, browser_page: Page, scheme: str
) -> None:
    """axe-core at every impact level, light and dark: an edit box open with a field error,
    and a delete confirmation open on another comment."""
    browser_page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    open_page(browser_page, site.page())
    first = post(browser_page, "First of mine")
    second = post(browser_page, "Second of mine")
    editor = open_editor(browser_page.locator(f"#c{first}"))
    editor.locator("textarea").fill("")
    editor.get_by_role("button", name="Save").click()
    editor.locator(".afterword-error").wait_for()
    browser_page.locator(f"#c{second} .afterword-delete").click()
    browser_page.locator(f"#c{second} .afterword-confirm").wait_for()
    assert axe_violations(browser_page) == []
    assert "label" in browser_page.axe_passes  # type: ignore[attr-defined]
