"""The /moderate pages in the site's language, and every answer under /moderate as a page:
refusals (403, 404, 405, 409, 413, 422), a storage failure (503) and a bug (500).

Each intake runs in this process on a loopback port chosen first (so ``intake.public_url`` is
its own URL and the origin check passes); faults are real (a locked database) or injected
into the route's library call (a bug), and the answers are read over HTTP and in Chromium.
"""

from __future__ import annotations

import html as htmllib
import json
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures_browser import AXE
from fixtures_intake import UNLIMITED, RunningIntake
from fixtures_notify import free_port
from playwright.sync_api import Browser

import afterword.intake.moderate as moderate_module
from afterword.config import Config
from afterword.intake.server import BackgroundServer
from afterword.notify.links import LinkToken, make_links
from afterword.store import open_store, site_secret
from afterword.strings import builtin_strings

TRANSLATED = ("de", "fr", "es", "zh")
TITLE = re.compile(r"<title>(.*?)</title>", re.S)
MESSAGE = re.compile(r'<p class="message" role="status">(.*?)</p>', re.S)


@pytest.fixture
def start_links(
    site_dir: Path, notify_site: Callable[..., Config]
) -> Iterator[Callable[..., RunningIntake]]:
    """``start(language, **sections)``: the intake of a site in ``language`` (once a test)."""
    started: list[RunningIntake] = []

    def start(language: str, **sections: dict[str, Any]) -> RunningIntake:
        port = free_port()
        config = notify_site(
            site={"language": language},
            intake={"public_url": f"http://127.0.0.1:{port}"},
            limits=UNLIMITED,
            **sections,
        )
        running = RunningIntake(BackgroundServer(config, port=port).start(), config)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def links_for(intake: RunningIntake, comment_id: int) -> dict[str, str]:
    with open_store(intake.config.database_path) as store:
        return make_links(site_secret(store), intake.url, comment_id, "pending", 7)


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def post_form(intake: RunningIntake, url: str, **data: str) -> httpx.Response:
    return httpx.post(url, data=data, headers={"Origin": intake.url}, timeout=10)


def title(page: httpx.Response) -> str:
    found = TITLE.search(page.text)
    assert found is not None, page.text
    return htmllib.unescape(found.group(1))


def message(page: httpx.Response) -> str:
    found = MESSAGE.search(page.text)
    assert found is not None, page.text
    return htmllib.unescape(found.group(1))


def assert_page(page: httpx.Response, status: int, language: str) -> None:
    """An HTML page of the link pages' kind, in ``language``, with no internals."""
    assert page.status_code == status, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert f'<html lang="{language}">' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert "Traceback" not in page.text
    assert "<script" not in page.text


def english_left(page: httpx.Response, language: str, keys: list[str]) -> list[str]:
    """English texts of ``keys`` that show on a page meant to be in ``language``."""
    english, own = builtin_strings("en"), builtin_strings(language)
    text = htmllib.unescape(page.text)
    return [k for k in keys if english[k] != own[k] and english[k].split("{")[0] in text]


@pytest.mark.parametrize("language", TRANSLATED)
def test_link_pages_speak_the_site_language(
    start_links: Callable[..., RunningIntake], language: str
) -> None:
    words = builtin_strings(language)
    intake = start_links(language, moderation={"owner": "Site Owner"})
    parent = intake.post(author="Bea", body="The parent").json()["data"]["id"]
    with open_store(intake.config.database_path) as store, store.write() as conn:
        conn.execute("UPDATE comments SET status = 'approved' WHERE id = ?", (parent,))
    comment_id = intake.post(author="Ada", body="A reply", parent=parent).json()["data"]["id"]
    links = links_for(intake, comment_id)

    shown = httpx.get(links["reject"], timeout=10)
    assert_page(shown, 200, language)
    assert title(shown) == words["page_title_reject"]
    text = htmllib.unescape(shown.text)
    for key in ("notify_approve", "notify_reject", "notify_spam", "page_reply_submit"):
        assert f">{words[key]}</button>" in text, key
    assert words["page_choose"] in text
    assert f'aria-label="{words["page_comment_label"]}"' in text
    assert words["page_reply_label_approves"].replace("{owner}", "Site Owner") in text
    assert words["notify_in_reply_to"].replace("{author}", "Bea") in text
    assert f"<strong>{words['page_status_pending']}</strong>" in text
    before_link = words["page_on"].split("{page}")[0]
    assert f'{before_link}<a href="https://blog.example.com/blog/hello/">/blog/hello/</a>' in text
    used = ["page_title_reject", "page_choose", "page_comment_label", "page_reply_submit"]
    assert english_left(shown, language, [*used, "page_reply_label_approves", "page_on"]) == []

    done = post_form(intake, links["reject"], token=token_of(links["reject"]))
    assert_page(done, 200, language)
    assert title(done) == words["page_done_reject"]
    assert message(done) == words["page_rejected"].replace("{author}", "Ada")

    replay = post_form(intake, links["approve"], token=token_of(links["approve"]))
    assert_page(replay, 409, language)
    assert title(replay) == words["page_handled_title"]
    assert message(replay) == words["page_handled"].replace(
        "{status}", words["page_status_rejected"]
    )
    assert english_left(replay, language, ["page_handled_title", "page_handled"]) == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_approving_and_replying_answer_in_the_site_language(
    start_links: Callable[..., RunningIntake], language: str
) -> None:
    words = builtin_strings(language)
    intake = start_links(language, moderation={"owner": "Site Owner"})
    first = intake.post(author="<b>Ada</b>").json()["data"]["id"]
    links = links_for(intake, first)
    approved = post_form(intake, links["approve"], token=token_of(links["approve"]))
    assert_page(approved, 200, language)
    assert title(approved) == words["page_done_approve"]
    seconds = f"{intake.config.watch.settle_seconds:g}"
    assert message(approved) == words["page_approved"].replace("{author}", "<b>Ada</b>").replace(
        "{seconds}", seconds
    )
    assert "<b>Ada</b>" not in approved.text  # a name is text wherever a string places it
    second = intake.post(author="Cy", body="Another one").json()["data"]["id"]
    reply = links_for(intake, second)["reply"]
    posted = post_form(intake, reply, token=token_of(reply), body="Thanks!")
    assert_page(posted, 200, language)
    assert title(posted) == words["page_reply_done"]
    expected = words["page_reply_posted_approved"].replace("{owner}", "Site Owner")
    assert message(posted) == expected.replace("{seconds}", seconds)


def _refusals(
    intake: RunningIntake, links: dict[str, str]
) -> list[tuple[httpx.Response, int, str]]:
    """(answer, status, code) for every way a /moderate request is refused."""
    approve, reply = links["approve"], links["reply"]
    with open_store(intake.config.database_path) as store:
        secret = site_secret(store)
    expired = LinkToken(int(token_of(approve).split(".")[1]), "approve", 1000, "pending")
    base = intake.url + "/moderate"
    return [
        (httpx.get(f"{base}/garbage", timeout=10), 403, "invalid_link"),
        (httpx.get(f"{base}/{expired.sign(secret)}", timeout=10), 403, "expired_link"),
        (post_form(intake, approve), 403, "invalid_link"),  # no token in the body
        (
            httpx.post(approve, data={"token": token_of(approve)}, timeout=10),  # no Origin
            403,
            "cross_site",
        ),
        (httpx.get(f"{base}/", timeout=10), 404, "not_found"),
        (httpx.put(approve, timeout=10), 405, "method_not_allowed"),
        (post_form(intake, reply, token=token_of(reply), body="  "), 422, "empty_reply"),
        (
            httpx.post(
                approve,
                content=b"token=" + b"x" * 70_000,
                headers={"Origin": intake.url, "Content-Type": "application/x-www-form-urlencoded"},
                timeout=10,
            ),
            413,
            "too_large",
        ),
    ]


@pytest.mark.parametrize("language", ["en", *TRANSLATED])
def test_every_refusal_under_moderate_is_a_page_in_the_site_language(
    start_links: Callable[..., RunningIntake], language: str
) -> None:
    words = builtin_strings(language)
    intake = start_links(language)
    comment_id = intake.post().json()["data"]["id"]
    links = links_for(intake, comment_id)
    for answer, status, code in _refusals(intake, links):
        assert_page(answer, status, language)
        assert title(answer) == words[f"page_error_{status}"], code
        assert message(answer) == words[f"page_error_{code}"], code
    with open_store(intake.config.database_path) as store:  # nothing was done meanwhile
        assert store.scalar("SELECT status FROM comments WHERE id = ?", (comment_id,)) == "pending"
        assert store.scalar("SELECT count(*) FROM moderation_log") == 0


def test_a_site_in_a_language_without_strings_gets_english_pages_marked_english(
    start_links: Callable[..., RunningIntake],
) -> None:
    intake = start_links("pt")
    comment_id = intake.post().json()["data"]["id"]
    shown = httpx.get(links_for(intake, comment_id)["approve"], timeout=10)
    assert_page(shown, 200, "en")
    assert title(shown) == builtin_strings("en")["page_title_approve"]


def test_a_translated_site_with_its_own_strings_file_uses_it(
    site_dir: Path, start_links: Callable[..., RunningIntake]
) -> None:
    (site_dir / "t" / "locales").mkdir(parents=True)
    strings = {
        "page_title_approve": "Aprovar este comentário?",
        "page_now": "<i>agora</i> {status}",
    }
    (site_dir / "t" / "locales" / "pt.json").write_text(json.dumps(strings), "utf-8")
    intake = start_links("pt", build={"templates_dir": "t"})
    comment_id = intake.post().json()["data"]["id"]
    shown = httpx.get(links_for(intake, comment_id)["approve"], timeout=10)
    assert_page(shown, 200, "pt")
    assert title(shown) == "Aprovar este comentário?"
    assert "&lt;i&gt;agora&lt;/i&gt; <strong>pending</strong>" in shown.text  # text, not markup


class _FailOnce:
    """The wrapped function, except that its first call raises ``error`` (a bug)."""

    def __init__(self, wrapped: Callable[..., Any], error: Exception) -> None:
        self.wrapped = wrapped
        self.error = error
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise self.error
        return self.wrapped(*args, **kwargs)


def _metric(text: str, labels: str) -> float:
    lines = [line for line in text.splitlines() if labels in line and "_count{" in line]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


@pytest.mark.parametrize(("method", "target"), [("GET", "show"), ("POST", "act")])
def test_a_bug_under_moderate_is_an_html_500_logged_once(
    start_links: Callable[..., RunningIntake],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
    target: str,
) -> None:
    words = builtin_strings("de")
    intake = start_links("de")
    comment_id = intake.post().json()["data"]["id"]
    url = links_for(intake, comment_id)["approve"]
    database = intake.config.database_path
    error = RuntimeError(f"a bug near {database} (secret detail)")
    monkeypatch.setattr(moderate_module, target, _FailOnce(getattr(moderate_module, target), error))
    caplog.set_level(logging.ERROR)
    data = {"token": token_of(url)} if method == "POST" else None
    failed = httpx.request(method, url, data=data, headers={"Origin": intake.url}, timeout=10)
    assert_page(failed, 500, "de")
    assert title(failed) == words["page_error_500"]
    assert message(failed) == words["page_error_internal"]
    for leak in ("secret detail", "RuntimeError", str(database), database.name, "internal error"):
        assert leak not in failed.text
    assert "x-response-time" in failed.headers
    bug_records = [r for r in caplog.records if r.exc_info and r.exc_info[1] is error]
    assert len(bug_records) == 1  # once, with its traceback, by the server
    assert not [r for r in caplog.records if "secret detail" in r.getMessage()]
    again = httpx.request(method, url, data=data, headers={"Origin": intake.url}, timeout=10)
    assert again.status_code == 200  # the bug was one request's, the intake serves on
    metrics = intake.server_metrics()
    assert _metric(metrics, f'method="{method}",route="/moderate/{{token}}",status="500"') == 1
    api = httpx.post(intake.api, content=b"{", headers={"Content-Type": "application/json"})
    assert api.headers["content-type"].startswith("application/json")  # the API keeps JSON


def test_a_locked_database_under_moderate_is_an_html_503(
    start_links: Callable[..., RunningIntake], caplog: pytest.LogCaptureFixture
) -> None:
    words = builtin_strings("fr")
    intake = start_links("fr", database={"busy_timeout_ms": 200})
    comment_id = intake.post().json()["data"]["id"]
    url = links_for(intake, comment_id)["approve"]
    database = intake.config.database_path
    caplog.set_level(logging.WARNING, logger="afterword.intake")
    blocker = sqlite3.connect(database, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        answer = post_form(intake, url, token=token_of(url))
        assert time.monotonic() - started < 5
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert_page(answer, 503, "fr")
    assert answer.headers["retry-after"] == "5"
    assert title(answer) == words["page_error_503"]
    assert message(answer) == words["page_error_unavailable"]
    assert str(database) not in answer.text
    assert database.name not in answer.text
    logged = [r.getMessage() for r in caplog.records if r.name == "afterword.intake"]
    assert len([m for m in logged if m.startswith("storage unavailable")]) == 1
    retried = post_form(intake, url, token=token_of(url))
    assert retried.status_code == 200  # nothing was done the first time: the link still works


@pytest.mark.browser
@pytest.mark.parametrize("language", ["de", "zh"])
def test_localized_pages_fit_a_phone_and_pass_axe(
    start_links: Callable[..., RunningIntake],
    chromium_browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    language: str,
) -> None:
    intake = start_links(language, moderation={"owner": "Site Owner"})
    parent = intake.post(author="Bea", body="Elternkommentar " * 10).json()["data"]["id"]
    with open_store(intake.config.database_path) as store, store.write() as conn:
        conn.execute("UPDATE comments SET status = 'approved' WHERE id = ?", (parent,))
    body = "Donaudampfschifffahrtsgesellschaftskapitänsmütze " * 5
    comment_id = intake.post(body=body, parent=parent).json()["data"]["id"]
    links = links_for(intake, comment_id)
    bug = _FailOnce(moderate_module.show, RuntimeError("a bug"))
    pages = [
        (links["spam"], 200, None),
        (intake.url + "/moderate/bad", 403, None),
        (intake.url + "/moderate/", 404, None),
        (links["reject"], 500, bug),
    ]
    # axe is a script: it needs JavaScript, and the pages' CSP forbids every script
    context = chromium_browser.new_context(
        viewport={"width": 390, "height": 844}, bypass_csp=True, is_mobile=True
    )
    try:
        page = context.new_page()
        for url, status, fault in pages:
            if fault is not None:
                monkeypatch.setattr(moderate_module, "show", fault)
            answer = page.goto(url)
            assert answer is not None
            assert answer.status == status
            assert page.evaluate("document.documentElement.lang") == language
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
            assert result["passes"]
            assert result["violations"] == [], (status, result["violations"])
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
    nojs = chromium_browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False, is_mobile=True
    )
    try:
        page = nojs.new_page()
        page.goto(links["spam"])
        for box in [b.bounding_box() for b in page.locator("button").all()]:
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= 390
            assert box["height"] >= 44
        page.locator("button.primary").click()
        page.wait_for_load_state()
        assert builtin_strings(language)["page_done_spam"] in page.title()
    finally:
        nojs.close()
