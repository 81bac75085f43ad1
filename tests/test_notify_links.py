"""One-click moderation links: a mail's links, the page behind them (GET changes nothing),
the POST that acts, the tokens that must not work, and the page in Chromium."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import afterword_env, run_afterword
from fixtures_browser import AXE
from fixtures_intake import UNLIMITED, RunningIntake, comment_fields
from fixtures_notify import SmtpServer, free_port
from playwright.sync_api import Browser

from afterword.config import Config
from afterword.intake.server import BackgroundServer
from afterword.notify.links import LinkToken, make_links
from afterword.store import get_comment, open_store, site_secret


@pytest.fixture
def link_intake(
    site_dir: Path, notify_site: Callable[..., Config], smtp_server: SmtpServer
) -> Iterator[RunningIntake]:
    """The intake on a port chosen first, so that ``intake.public_url`` is its own URL."""
    port = free_port()
    config = notify_site(
        notify={
            "mode": "each",
            "moderators": ["mod@example.com"],
            "smtp_url": smtp_server.url,
            "background": False,
        },
        intake={"public_url": f"http://127.0.0.1:{port}"},
        limits=UNLIMITED,
        moderation={"moderator": "Mo"},
    )
    running = RunningIntake(BackgroundServer(config, port=port).start(), config)
    yield running
    running.stop()


def mailed_links(site: Path, smtp: SmtpServer) -> dict[str, str]:
    done = run_afterword("notify", "--once", cwd=site)
    assert done.returncode == 0, done.stderr
    mail = smtp.wait_for(1)[-1]
    text = mail.get_body(("plain",))
    assert text is not None
    content = "\n".join(text.get_content().splitlines())
    found = re.findall(r"^(\w[\w ]*): (http\S+/moderate/\S+)$", content, re.M)
    return {k.split()[0].lower(): v for k, v in found}  # "Mark as spam" → "mark"


def snapshot(config: Config, comment_id: int) -> tuple[Any, ...]:
    """Everything a moderation would change: the comment, the log, the page's version."""
    with open_store(config.database_path) as store:
        comment = get_comment(store, comment_id)
        log = store.query("SELECT * FROM moderation_log")
        version = store.scalar("SELECT version FROM pages WHERE key = '/blog/hello/'")
    assert comment is not None
    return (comment.status, comment.updated, len(log), version)


def published_ids(fragment: Path) -> list[int]:
    """Comment ids in a published thread fragment (none while it does not exist)."""
    if not fragment.is_file():
        return []
    return [c["id"] for c in json.loads(fragment.read_text())["comments"]]


def origin(intake: RunningIntake) -> dict[str, str]:
    return {"Origin": intake.url}


def test_mail_link_page_changes_nothing_post_approves_watch_publishes(
    site_dir: Path, link_intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    config = link_intake.config
    parent = link_intake.post(body="First!").json()["data"]["id"]
    assert run_afterword("approve", str(parent), cwd=site_dir).returncode == 0
    smtp_server.messages.clear()
    with open_store(config.database_path) as store, store.write() as conn:
        conn.execute("DELETE FROM notify_outbox")
    posted = link_intake.post(body="A **reply** with a [link](https://x.example/)", parent=parent)
    comment_id = posted.json()["data"]["id"]
    links = mailed_links(site_dir, smtp_server)
    assert set(links) == {"approve", "reject", "mark", "reply"}
    before = snapshot(config, comment_id)
    for _ in range(2):  # a scanner fetching the link, twice, and a HEAD
        page = httpx.get(links["approve"], timeout=10)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert httpx.head(links["approve"], timeout=10).status_code == 200
    assert snapshot(config, comment_id) == before  # GET changed nothing
    html = page.text
    assert "<strong>reply</strong>" in html  # the comment as it will be published
    assert "/blog/hello/" in html
    assert "First!" in html  # the parent's excerpt
    assert "first-time author" not in html or "Signals" in html
    assert "<script" not in html
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    token = links["approve"].rsplit("/", 1)[1]
    done = httpx.post(links["approve"], data={"token": token}, headers=origin(link_intake))
    assert done.status_code == 200
    assert "is approved" in done.text
    assert "next build" in done.text
    with open_store(config.database_path) as store:
        row = store.query("SELECT * FROM moderation_log ORDER BY id DESC LIMIT 1")[0]
        assert (row["action"], row["actor"], row["reason"]) == (
            "approve",
            "Mo via link",
            "via link",
        )
        found = get_comment(store, comment_id)
        assert found is not None
        assert found.status == "approved"
    config_file = site_dir / "afterword.toml"
    config_file.write_text(
        config_file.read_text() + '\n[targets.site]\nkind = "local"\npath = "public"\n'
    )
    watch = subprocess.Popen(
        [sys.executable, "-m", "afterword", "watch"],
        cwd=site_dir,
        env=afterword_env(),
        stderr=subprocess.DEVNULL,
    )
    try:
        published = site_dir / "public" / "threads" / "blog" / "hello" / "comments.json"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and comment_id not in published_ids(published):
            time.sleep(0.2)
        assert comment_id in published_ids(published)
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.wait(20)
    replay = httpx.post(links["approve"], data={"token": token}, headers=origin(link_intake))
    assert replay.status_code == 409  # replayed: already handled, nothing done
    assert "already handled" in replay.text
    reject = links["reject"].rsplit("/", 1)[1]
    late = httpx.post(links["reject"], data={"token": reject}, headers=origin(link_intake))
    assert late.status_code == 409
    assert "approved now" in late.text
    assert snapshot(config, comment_id)[0] == "approved"


def _tamper(token: str, part: int, value: str) -> str:
    parts = token.split(".")
    parts[part] = value
    return ".".join(parts)


CASES: list[tuple[str, Callable[[str, int, bytes], str], int]] = [
    ("valid", lambda t, other, secret: t, 200),
    ("mac flipped", lambda t, other, secret: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), 403),
    ("another comment's id", lambda t, other, secret: _tamper(t, 1, str(other)), 403),
    ("another action", lambda t, other, secret: _tamper(t, 2, "spam"), 403),
    ("later expiry", lambda t, other, secret: _tamper(t, 3, str(int(time.time()) + 10**8)), 403),
    ("another state", lambda t, other, secret: _tamper(t, 4, "spam"), 403),
    ("version 2", lambda t, other, secret: _tamper(t, 0, "v2"), 403),
    (
        "expired",
        lambda t, other, secret: LinkToken(int(t.split(".")[1]), "approve", 1000, "pending").sign(
            secret
        ),
        403,
    ),
    (
        "signed with another secret",
        lambda t, other, secret: (
            t.split(".", 5)[0]
            and LinkToken(int(t.split(".")[1]), "approve", int(time.time()) + 60, "pending").sign(
                b"x" * 32
            )
        ),
        403,
    ),
    ("garbage", lambda t, other, secret: "garbage", 403),
    ("too long", lambda t, other, secret: t + "A" * 300, 403),
    ("non-ascii", lambda t, other, secret: t + "é", 403),
    ("empty parts", lambda t, other, secret: ".....", 403),
]


@pytest.mark.parametrize(("name", "make", "status"), CASES, ids=[c[0] for c in CASES])
def test_token_table(
    link_intake: RunningIntake,
    name: str,
    make: Callable[[str, int, bytes], str],
    status: int,
) -> None:
    config = link_intake.config
    target = link_intake.post(body="the target").json()["data"]["id"]
    other = link_intake.post(body="another one").json()["data"]["id"]
    with open_store(config.database_path) as store:
        secret = site_secret(store)
    good = make_links(secret, link_intake.url, target, "pending", 7)["approve"].rsplit("/", 1)[1]
    token = make(good, other, secret)
    before = (snapshot(config, target), snapshot(config, other))
    shown = httpx.get(f"{link_intake.url}/moderate/{token}", timeout=10)
    assert shown.status_code == status
    assert shown.headers["content-type"].startswith("text/html")
    assert "Traceback" not in shown.text
    posted = httpx.post(
        f"{link_intake.url}/moderate/{token}", data={"token": token}, headers=origin(link_intake)
    )
    assert posted.status_code == status
    assert posted.headers["content-type"].startswith("text/html")
    if status == 403:
        assert (snapshot(config, target), snapshot(config, other)) == before
        assert "cannot be used" in posted.text
    else:
        assert snapshot(config, target)[0] == "approved"
        assert snapshot(config, other)[:2] == before[1][:2]  # the other comment is untouched


@pytest.mark.parametrize("path", ["/moderate/", "/moderate", "/moderate/a/b"])
def test_no_token_is_a_404_page(link_intake: RunningIntake, path: str) -> None:
    for method in ("GET", "POST"):
        answer = httpx.request(method, link_intake.url + path, headers=origin(link_intake))
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert "<title>Not found</title>" in answer.text


@pytest.mark.parametrize(
    ("headers", "body_token", "status"),
    [
        ({}, "same", 403),  # no Origin and no Referer
        ({"Origin": "https://evil.example"}, "same", 403),
        ({"Origin": "null"}, "same", 403),
        ({"Referer": "https://evil.example/page"}, "same", 403),
        ({"Referer": "SELF/moderate/x"}, "same", 200),  # a browser that sends only a Referer
        ({"Origin": "SELF"}, None, 403),  # the token must be in the body
        ({"Origin": "SELF"}, "other", 403),  # and be the path's
        ({"Origin": "SELF"}, "same", 200),
    ],
)
def test_post_checks_origin_and_body_token(
    link_intake: RunningIntake,
    headers: dict[str, str],
    body_token: str | None,
    status: int,
) -> None:
    config = link_intake.config
    comment_id = link_intake.post().json()["data"]["id"]
    with open_store(config.database_path) as store:
        links = make_links(site_secret(store), link_intake.url, comment_id, "pending", 7)
    token = links["approve"].rsplit("/", 1)[1]
    data = {}
    if body_token == "same":
        data["token"] = token
    elif body_token == "other":
        data["token"] = links["spam"].rsplit("/", 1)[1]
    sent = {k: v.replace("SELF", link_intake.url) for k, v in headers.items()}
    before = snapshot(config, comment_id)
    answer = httpx.post(links["approve"], data=data, headers=sent)
    assert answer.status_code == status
    if status == 403:
        assert snapshot(config, comment_id) == before
    else:
        assert snapshot(config, comment_id)[0] == "approved"


def test_link_for_comment_handled_in_the_cli_does_nothing(
    site_dir: Path, link_intake: RunningIntake
) -> None:
    config = link_intake.config
    comment_id = link_intake.post().json()["data"]["id"]
    with open_store(config.database_path) as store:
        links = make_links(site_secret(store), link_intake.url, comment_id, "pending", 7)
    assert run_afterword("reject", str(comment_id), cwd=site_dir).returncode == 0
    shown = httpx.get(links["approve"])
    assert shown.status_code == 409
    assert "rejected now" in shown.text
    assert "<form" not in shown.text
    token = links["approve"].rsplit("/", 1)[1]
    answer = httpx.post(links["approve"], data={"token": token}, headers=origin(link_intake))
    assert answer.status_code == 409
    assert snapshot(config, comment_id)[0] == "rejected"


def test_link_routes_are_one_metrics_label(link_intake: RunningIntake) -> None:
    httpx.get(link_intake.url + "/moderate/v1.1.approve.1.pending.secretish")
    text = link_intake.server_metrics()
    assert 'route="/moderate/{token}"' in text
    assert "secretish" not in text


@pytest.mark.browser
def test_link_page_on_a_phone_without_javascript(
    site_dir: Path, link_intake: RunningIntake, chromium_browser: Browser
) -> None:
    config = link_intake.config
    comment_id = link_intake.post(**comment_fields(body="From a phone " * 20)).json()["data"]["id"]
    with open_store(config.database_path) as store:
        links = make_links(site_secret(store), link_intake.url, comment_id, "pending", 7)
    context = chromium_browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False, is_mobile=True
    )
    try:
        page = context.new_page()
        page.goto(links["approve"])
        box = page.locator("button.primary").bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390
        assert box["height"] >= 44
        article = page.locator("article").bounding_box()
        assert article is not None
        assert article["x"] + article["width"] <= 390  # nothing wider than the phone
        page.locator("button.primary").click()
        page.wait_for_load_state()
        assert "is approved" in page.content()
    finally:
        context.close()
    assert snapshot(config, comment_id)[0] == "approved"


@pytest.mark.browser
def test_link_page_has_no_axe_violations(
    link_intake: RunningIntake, chromium_browser: Browser
) -> None:
    config = link_intake.config
    parent = link_intake.post(body="parent").json()["data"]["id"]
    with open_store(config.database_path) as store, store.write() as conn:
        conn.execute("UPDATE comments SET status = 'approved' WHERE id = ?", (parent,))
    comment_id = link_intake.post(body="Shouting LOUDLY!!!!!!!", parent=parent).json()["data"]["id"]
    with open_store(config.database_path) as store:
        links = make_links(site_secret(store), link_intake.url, comment_id, "pending", 7)
    # axe is a script: it needs JavaScript, and the page's CSP forbids every script
    context = chromium_browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    try:
        page = context.new_page()
        blocked: list[str] = []  # a CSP violation would be a console error naming the policy
        page.on(
            "console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None
        )
        for url, status in [(links["spam"], 200), (link_intake.url + "/moderate/bad", 403)]:
            answer = page.goto(url)
            assert answer is not None
            assert answer.status == status
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
            assert result["passes"]
            assert result["violations"] == []
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert blocked == []
    finally:
        context.close()
