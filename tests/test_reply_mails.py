"""Reply mails to commenters: the form's "Mail me replies" box, double opt-in, reply mails
after approval only, RFC 8058 one-click unsubscribe, the per-address cap and erasure.

Real parts: the intake over HTTP on loopback, a real SMTP server (aiosmtpd), the sender
(``afterword notify --once`` or its library entry point), the CLI by subprocess."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import add_rendered, run_afterword
from fixtures_intake import UNLIMITED, RunningIntake, comment_fields, configured
from fixtures_notify import SmtpServer, free_port, kill_sender_mid_batch
from test_build_support import tree
from test_moderate_pages import _FailOnce, _metric, assert_page, english_left, message, title
from test_pull import cli_pull, queue, send

import afterword.intake.subscribe as subscribe_module
from afterword.config import Config
from afterword.intake.envelope import QueuedSubmission
from afterword.intake.server import BackgroundServer
from afterword.intake.validate import HONEYPOT_FIELD, validate_submission
from afterword.notify.links import make_links
from afterword.notify.runner import drain_once
from afterword.notify.sender import DrainReport
from afterword.notify.subtokens import SubscriptionToken, make_link
from afterword.store import open_store, site_secret, utc_now
from afterword.store.subscriptions import ConfirmRules, subscribe
from afterword.strings import builtin_strings

__all__ = ["queue"]  # test_pull's SQS queue fixture, used here
OWNER = {"owner": "Site Owner", "owner_website": "https://owner.example/"}
ADA = "ada@example.org"


@pytest.fixture
def mail_intake(
    site_dir: Path, notify_site: Callable[..., Config], smtp_server: SmtpServer
) -> Iterator[Callable[..., RunningIntake]]:
    """An intake whose ``public_url`` is its own loopback URL, reply mails on, no background
    sender (tests drain by hand, so they decide when mail goes out)."""
    started: list[RunningIntake] = []

    def start(
        moderation: dict[str, Any] | None = None,
        language: str = "en",
        database: dict[str, Any] | None = None,
        **notify: Any,
    ) -> RunningIntake:
        port = free_port()
        settings = {
            "reply_mails": True,
            "smtp_url": smtp_server.url,
            "from": "Comments <comments@example.com>",
            "background": False,
            "retry_seconds": 0.05,
        }
        settings.update(notify)
        config = notify_site(
            site={"language": language},
            notify=settings,
            intake={"public_url": f"http://127.0.0.1:{port}"},
            limits=UNLIMITED,
            moderation={**OWNER, **(moderation or {})},
            **({"database": database} if database else {}),
        )
        running = RunningIntake(BackgroundServer(config, port=port).start(), config)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def intake(mail_intake: Callable[..., RunningIntake]) -> RunningIntake:
    return mail_intake()


def drain(config: Config) -> DrainReport:
    report = drain_once(config)
    assert report is not None
    return report


def db(config: Config, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with open_store(config.database_path) as store:
        return [dict(row) for row in store.query(sql, params)]


def state_of(config: Config) -> list[tuple[str, str]]:
    return [(r["email_key"], r["state"]) for r in db(config, "SELECT * FROM subscribers")]


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return "\n".join(str(part.get_content()).splitlines())


def link_in(mail: EmailMessage, label: str) -> str:
    found = re.search(rf"^{label}: (http\S+)$", text_of(mail), re.M)
    assert found is not None, text_of(mail)
    return found.group(1)


def origin(intake: RunningIntake) -> dict[str, str]:
    return {"Origin": intake.url}


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def post(intake: RunningIntake, **fields: Any) -> int:
    answer = intake.post(**fields)
    assert answer.status_code == 202, answer.text
    return int(answer.json()["data"]["id"])


def cli(site: Path, *args: str) -> str:
    done = run_afterword(*args, cwd=site)
    assert done.returncode == 0, done.stderr
    return done.stdout


def opted_in(intake: RunningIntake, site: Path, smtp: SmtpServer, **fields: Any) -> int:
    """An approved comment by Ada with the box ticked, its address confirmed."""
    comment = post(intake, notify_replies=True, **fields)
    cli(site, "approve", str(comment))
    drain(intake.config)
    confirm = link_in(smtp.wait_for(1)[-1], "Confirm")
    answer = httpx.post(confirm, data={"token": token_of(confirm)}, headers=origin(intake))
    assert answer.status_code == 200, answer.text
    smtp.messages.clear()
    return comment


def test_double_opt_in(site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer) -> None:
    config = intake.config
    first = post(intake, notify_replies=True)
    assert state_of(config) == [(ADA, "unconfirmed")]
    rows = db(config, "SELECT event, channel, target, comment_id FROM notify_outbox")
    assert rows == [
        {"event": "subscription.confirm", "channel": "subscriber", "target": "1", "comment_id": 1}
    ]
    second = post(intake, notify_replies="on", email=" ADA@Example.org ", body="Again")
    assert drain(config).sent == 1
    time.sleep(0.3)
    assert len(smtp_server.messages) == 1  # two opt-ins, one confirmation
    mail = smtp_server.messages[0]
    assert mail["To"] == ADA
    assert mail["Subject"] == "Confirm reply mails from My site"
    assert mail["Auto-Submitted"] == "auto-generated"
    confirm = link_in(mail, "Confirm")
    assert confirm.startswith(f"{intake.url}/subscription/v1.confirm.1.")
    assert ADA not in confirm
    html = mail.get_body(("html",))
    assert html is not None
    assert confirm in str(html.get_content())
    assert '<html lang="en">' in str(html.get_content())

    # before the address confirms, an approved reply sends nothing
    cli(site_dir, "reply", str(first), "--body", "Before confirming")
    assert drain(config).sent == 0
    assert len(smtp_server.messages) == 1

    page = httpx.get(confirm)  # what a mail scanner does: nothing changes
    assert page.status_code == 200
    assert "Confirm reply mails?" in page.text
    assert 'name="token" value="' + token_of(confirm) in page.text
    assert "a\u2026@example.org" in page.text
    assert ADA not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert httpx.head(confirm).status_code == 200
    assert state_of(config) == [(ADA, "unconfirmed")]

    done = httpx.post(confirm, data={"token": token_of(confirm)}, headers=origin(intake))
    assert done.status_code == 200
    assert "<h1>Confirmed</h1>" in done.text
    assert state_of(config) == [(ADA, "confirmed")]
    again = httpx.post(confirm, data={"token": token_of(confirm)}, headers=origin(intake))
    assert again.status_code == 200
    assert "Already confirmed" in again.text
    assert "Already confirmed" in httpx.get(confirm).text

    # a reply to the second comment is the first mail the address gets after confirming
    cli(site_dir, "approve", str(second))
    cli(site_dir, "reply", str(second), "--body", "After confirming")
    assert drain(config).sent == 1
    mails = smtp_server.wait_for(2)
    assert len(mails) == 2
    assert "After confirming" in text_of(mails[1])
    assert "Before confirming" not in text_of(mails[1])


def test_confirmation_is_capped_in_time_and_in_number(
    intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    """confirm_resend_hours apart at the earliest, confirm_max in all (default 3)."""
    config = intake.config
    post(intake, notify_replies=True, body="one")
    post(intake, notify_replies=True, body="two")  # within the day: no second mail
    queued = "SELECT count(*) AS n FROM notify_outbox WHERE event = 'subscription.confirm'"
    assert db(config, queued) == [{"n": 1}]
    for n in range(4):  # each a day later (the clock moved by hand)
        with open_store(config.database_path) as store, store.write() as conn:
            conn.execute("UPDATE subscribers SET confirm_sent = '2000-01-01T00:00:00Z'")
        post(intake, notify_replies=True, body=f"later {n}")
    assert db(config, queued) == [{"n": 3}]
    assert db(config, "SELECT confirmations FROM subscribers") == [{"confirmations": 3}]
    assert db(config, "SELECT count(*) AS n FROM subscriptions") == [{"n": 6}]
    assert drain(config).sent == 1  # the three rows were due together: one mail
    time.sleep(0.3)
    assert len(smtp_server.messages) == 1


def test_reply_mail_only_once_the_reply_is_approved(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    config = intake.config
    parent = opted_in(intake, site_dir, smtp_server)
    held: list[int] = []
    for action in ("reject", "spam", "delete"):
        reply = post(intake, parent=parent, author="Bob", email="bob@example.net", body=action)
        assert drain(config).sent == 0  # pending: nothing
        cli(site_dir, action, str(reply))
        held.append(reply)
    assert drain(config).sent == 0
    reply = post(intake, parent=parent, author="Bob", email="bob@example.net", body="**Yes**")
    assert drain(config).sent == 0
    assert db(config, "SELECT count(*) AS n FROM notify_outbox WHERE channel = 'subscriber'") == [
        {"n": 1}  # the confirmation only
    ]
    cli(site_dir, "approve", str(reply))
    assert drain(config).sent == 1
    mails = smtp_server.wait_for(1)
    assert len(mails) == 1
    mail = mails[0]
    assert mail["To"] == ADA
    assert mail["Subject"] == "Bob replied to your comment on My site"
    unsubscribe = mail["List-Unsubscribe"]
    assert re.fullmatch(
        rf"<{re.escape(intake.url)}/subscription/v1\.unsubscribe\.1\.\S+>", unsubscribe
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["X-Afterword-Comments"] == str(reply)
    text = text_of(mail)
    page_url = config.site.url.rstrip("/") + "/blog/hello/"
    assert f"Bob replied to your comment on {page_url}:" in text
    assert "**Yes**" in text
    assert link_in(mail, "Read it on the page") == f"{page_url}#c{reply}"
    html = mail.get_body(("html",))
    assert html is not None
    assert "<strong>Yes</strong>" in str(html.get_content())
    assert '<html lang="en">' in str(html.get_content())
    assert "bob@example.net" not in mail.as_string()

    # undone and approved again: still one mail for this reply
    cli(site_dir, "reject", str(reply))
    cli(site_dir, "approve", str(reply))
    # the earlier rejected reply approved late: it is a new approval, so it is mailed
    cli(site_dir, "approve", str(held[0]))
    assert drain(config).sent == 1
    time.sleep(0.3)
    assert len(smtp_server.messages) == 2
    assert "reject" in text_of(smtp_server.messages[1])


def test_no_mail_to_the_author_replying_to_themselves(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    parent = opted_in(intake, site_dir, smtp_server)
    reply = post(intake, parent=parent, email=" Ada@EXAMPLE.org", body="Adding to myself")
    cli(site_dir, "approve", str(reply))
    assert drain(intake.config).sent == 0
    assert smtp_server.messages == []


def test_owner_replies_by_cli_and_link_page_are_mailed_at_once(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    config = intake.config
    parent = opted_in(intake, site_dir, smtp_server)
    cli(site_dir, "reply", str(parent), "--body", "From the CLI")
    with open_store(config.database_path) as store:
        links = make_links(site_secret(store), intake.url, parent, "approved", 7)
    token = token_of(links["reply"])
    answer = httpx.post(
        links["reply"], data={"token": token, "body": "From the link"}, headers=origin(intake)
    )
    assert answer.status_code == 200
    assert drain(config).sent == 2
    mails = smtp_server.wait_for(2)
    assert [m["Subject"] for m in mails] == ["Site Owner replied to your comment on My site"] * 2
    assert ["From the CLI" in text_of(mails[0]), "From the link" in text_of(mails[1])] == [
        True,
        True,
    ]


def test_reply_approved_on_arrival_is_mailed(
    site_dir: Path, mail_intake: Callable[..., RunningIntake], smtp_server: SmtpServer
) -> None:
    """A trusted commenter's reply skips the queue: its mail is enqueued by the intake's batch."""
    intake = mail_intake(moderation={"trusted": ["bob@example.net"]})
    parent = opted_in(intake, site_dir, smtp_server)
    answer = intake.post(parent=parent, author="Bob", email="bob@example.net", body="Hi there")
    assert answer.json()["data"]["status"] == "approved"
    assert drain(intake.config).sent == 1
    assert "Hi there" in text_of(smtp_server.wait_for(1)[0])


def test_unsubscribe_by_rfc8058_one_click_post(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    config = intake.config
    parent = opted_in(intake, site_dir, smtp_server)
    cli(site_dir, "reply", str(parent), "--body", "First reply")
    drain(config)
    url = smtp_server.wait_for(1)[0]["List-Unsubscribe"].strip("<>")
    cli(site_dir, "reply", str(parent), "--body", "Queued, never sent")
    queued = (
        "SELECT count(*) AS n FROM notify_outbox WHERE channel = 'subscriber' AND state = 'queued'"
    )
    assert db(config, queued) == [{"n": 1}]
    # what a mail provider sends: no Origin, no cookie, this exact body
    answer = httpx.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert "no more reply mails" in answer.text
    assert state_of(config) == [(ADA, "unsubscribed")]
    assert db(config, "SELECT count(*) AS n FROM subscriptions") == [{"n": 0}]
    assert db(config, queued) == [{"n": 0}]
    cli(site_dir, "reply", str(parent), "--body", "After unsubscribing")
    assert drain(config).sent == 0
    assert len(smtp_server.messages) == 1
    again = httpx.post(url, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert "already unsubscribed" in again.text
    # opting in again starts a new double opt-in, and the old link still answers
    post(intake, notify_replies=True, body="Back again")
    assert state_of(config) == [(ADA, "unconfirmed")]
    assert drain(config).sent == 1
    assert smtp_server.wait_for(2)[1]["Subject"] == "Confirm reply mails from My site"
    assert "Stop reply mails?" in httpx.get(url).text


def test_unsubscribe_get_page_changes_nothing_and_its_button_does(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    config = intake.config
    parent = opted_in(intake, site_dir, smtp_server)
    cli(site_dir, "reply", str(parent), "--body", "A reply")
    drain(config)
    url = smtp_server.wait_for(1)[0]["List-Unsubscribe"].strip("<>")
    page = httpx.get(url)
    assert page.status_code == 200
    assert "Stop reply mails?" in page.text
    assert '<button type="submit" class="primary">Unsubscribe</button>' in page.text
    assert state_of(config) == [(ADA, "confirmed")]
    # the page's own form: its token in the body (a browser adds the Origin)
    empty = httpx.post(url, headers=origin(intake))
    assert empty.status_code == 403
    assert state_of(config) == [(ADA, "confirmed")]
    answer = httpx.post(url, data={"token": token_of(url)}, headers=origin(intake))
    assert answer.status_code == 200
    assert state_of(config) == [(ADA, "unsubscribed")]
    assert "<h1>Unsubscribed</h1>" in httpx.get(url).text


def _tamper_mac(token: str) -> str:
    head, mac = token.rsplit(".", 1)
    return f"{head}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"


def _other_id(token: str) -> str:
    parts = token.split(".")
    parts[2] = "2"
    return ".".join(parts)


def _other_kind(token: str) -> str:
    return token.replace(".confirm.", ".unsubscribe.", 1)


def _later(token: str) -> str:
    parts = token.split(".")
    parts[3] = str(int(parts[3]) + 86400)
    return ".".join(parts)


@pytest.mark.parametrize(
    ("make", "status", "says"),
    [
        (_tamper_mac, 403, "This link is not valid"),
        (_other_id, 403, "This link is not valid"),
        (_other_kind, 403, "This link is not valid"),
        (_later, 403, "This link is not valid"),
        (lambda t: t[:-1], 403, "This link is not valid"),  # a cut-short MAC
        (lambda t: "v2" + t[2:], 403, "This link is not valid"),
        (lambda t: "nonsense", 403, "This link is not valid"),
        (lambda t: "x" * 300, 403, "This link is not valid"),
        (lambda t: t + "%00", 403, "This link is not valid"),
        (lambda t: "EXPIRED", 403, "This confirmation link has expired"),
        (lambda t: "MODERATION", 403, "This link is not valid"),
    ],
)
def test_token_table(
    intake: RunningIntake,
    make: Callable[[str], str],
    status: int,
    says: str,
) -> None:
    config = intake.config
    post(intake, notify_replies=True)
    with open_store(config.database_path) as store:
        secret = site_secret(store)
    good = SubscriptionToken("confirm", 1, int(time.time()) + 3600).sign(secret)
    token = make(good)
    if token == "EXPIRED":
        token = token_of(make_link(secret, "", "confirm", 1, 1, now=time.time() - 2 * 86400))
    if token == "MODERATION":  # a genuine moderation token is no subscription token
        token = token_of(make_links(secret, "", 1, "pending", 7)["approve"])
    url = f"{intake.url}/subscription/{token}"
    for answer in (
        httpx.get(url),
        httpx.post(url, data={"token": token}, headers=origin(intake)),
        httpx.post(url, data={"List-Unsubscribe": "One-Click"}),
    ):
        assert answer.status_code == status, (token, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
        assert says in answer.text
        assert "Traceback" not in answer.text
    assert state_of(config) == [(ADA, "unconfirmed")]


@pytest.mark.parametrize("path", ["/subscription", "/subscription/"])
def test_no_token_is_a_404_page(intake: RunningIntake, path: str) -> None:
    answer = httpx.get(intake.url + path)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in answer.text


def test_other_methods_and_confirm_without_csrf_proof_are_refused(
    intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    config = intake.config
    post(intake, notify_replies=True)
    drain(config)
    confirm = link_in(smtp_server.wait_for(1)[0], "Confirm")
    token = token_of(confirm)
    put = httpx.put(confirm, content=b"x")
    assert put.status_code == 405
    assert put.headers["allow"] == "GET, HEAD, POST"
    assert "<h1>Not allowed</h1>" in put.text
    refused = [
        httpx.post(confirm, data={"token": token}),  # no Origin, no Referer
        httpx.post(confirm, data={"token": token}, headers={"Origin": "https://evil.example"}),
        httpx.post(confirm, data={"token": token}, headers={"Referer": "https://evil.example/x"}),
        httpx.post(confirm, data={"List-Unsubscribe": "One-Click"}, headers=origin(intake)),
        httpx.post(confirm, headers=origin(intake)),  # no body: no token
        httpx.post(confirm, data={"token": "other"}, headers=origin(intake)),
    ]
    assert [r.status_code for r in refused] == [403] * 6
    assert "may only be sent from its own page" in refused[0].text
    assert "This link is not valid" in refused[5].text
    too_big = httpx.post(confirm, content=b"x" * 70000, headers=origin(intake))
    assert too_big.status_code == 413
    assert "text/html" in too_big.headers["content-type"]
    assert state_of(config) == [(ADA, "unconfirmed")]
    by_referer = httpx.post(confirm, data={"token": token}, headers={"Referer": confirm})
    assert by_referer.status_code == 200
    assert state_of(config) == [(ADA, "confirmed")]


def test_subscription_routes_are_one_metrics_label(intake: RunningIntake) -> None:
    httpx.get(intake.url + "/subscription/v1.confirm.1.1.secretish")
    text = intake.server_metrics()
    assert 'route="/subscription/{token}"' in text
    assert "secretish" not in text


def test_a_link_to_an_erased_address(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    config = intake.config
    post(intake, notify_replies=True)
    drain(config)
    confirm = link_in(smtp_server.wait_for(1)[0], "Confirm")
    cli(site_dir, "erase", "--email", ADA, "--yes")
    assert httpx.get(confirm).status_code == 404
    answer = httpx.post(confirm, data={"token": token_of(confirm)}, headers=origin(intake))
    assert answer.status_code == 404
    assert "erased" in answer.text
    assert state_of(config) == []


def test_per_address_cap_folds_then_holds(
    site_dir: Path, mail_intake: Callable[..., RunningIntake], smtp_server: SmtpServer
) -> None:
    intake = mail_intake(reply_mails_per_day=2)
    config = intake.config
    parent = opted_in(intake, site_dir, smtp_server)
    for n in range(4):
        cli(site_dir, "reply", str(parent), "--body", f"Reply number {n}")
    report = drain(config)
    assert report.sent == 2
    mails = smtp_server.wait_for(2)
    assert [m["Subject"] for m in mails] == [
        "Site Owner replied to your comment on My site",
        "3 replies to your comments on My site",
    ]
    folded = text_of(mails[1])
    assert [f"Reply number {n}" in folded for n in range(1, 4)] == [True, True, True]
    assert folded.count("Read it on the page: ") == 3
    assert mails[1]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    cli(site_dir, "reply", str(parent), "--body", "Over the cap")
    report = drain(config)
    assert (report.sent, report.held) == (0, 1)
    time.sleep(0.3)
    assert len(smtp_server.messages) == 2
    row = db(config, "SELECT state, attempts, next_attempt FROM notify_outbox ORDER BY id DESC")[0]
    assert (row["state"], row["attempts"]) == ("queued", 0)
    assert row["next_attempt"] > time.strftime(
        "%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 80000)
    )
    # a day later the held reply goes out
    with open_store(config.database_path) as store, store.write() as conn:
        conn.execute("UPDATE notify_outbox SET sent = '2000-01-01T00:00:00Z' WHERE state = 'sent'")
        conn.execute("UPDATE notify_outbox SET next_attempt = '2000-01-01T00:00:00Z'")
    assert drain(config).sent == 1
    assert "Over the cap" in text_of(smtp_server.wait_for(3)[2])


def test_smtp_down_is_retried_and_delivered_once(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    config = intake.config
    parent = opted_in(intake, site_dir, smtp_server)
    cli(site_dir, "reply", str(parent), "--body", "Survives an outage")
    smtp_server.refuse = True
    report = drain(config)
    assert (report.sent, report.failed) == (0, 1)
    smtp_server.refuse = False
    time.sleep(0.2)  # past the first backoff (retry_seconds = 0.05)
    assert drain(config).sent == 1
    assert drain(config).sent == 0
    assert len(smtp_server.wait_for(1)) == 1
    out = json.loads(cli(site_dir, "notify", "--status", "--json"))
    assert out["failed"] == 0


def test_erase_email_removes_subscriptions_and_unsent_mails(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    config = intake.config
    parent = opted_in(intake, site_dir, smtp_server)
    post(intake, notify_replies=True, body="Second, subscribed too")
    cli(site_dir, "reply", str(parent), "--body", "Queued for Ada")
    other = post(intake, notify_replies=True, email="carl@example.com", author="Carl", body="C")
    assert other
    queued = (
        "SELECT count(*) AS n FROM notify_outbox WHERE channel = 'subscriber' AND state = 'queued'"
    )
    assert db(config, queued) == [{"n": 2}]  # Ada's reply mail, Carl's confirmation
    out = json.loads(cli(site_dir, "erase", "--email", " ADA@example.ORG ", "--yes", "--json"))
    assert out == {
        "comments": 2,
        "mode": "anonymize",
        "pages_bumped": 1,
        "subscriptions": 2,
        "queued_mails": 1,
    }
    assert state_of(config) == [("carl@example.com", "unconfirmed")]
    assert [r["email_key"] for r in db(config, "SELECT * FROM subscriptions")] == [
        "carl@example.com"
    ]
    assert db(config, queued) == [{"n": 1}]
    assert drain(config).sent == 1  # Carl's confirmation only
    assert [m["To"] for m in smtp_server.wait_for(1)] == ["carl@example.com"]
    line = cli(site_dir, "erase", "--email", "carl@example.com", "--yes")
    assert line == (
        "Erased: 1 comments (anonymize); 0 pages marked for the next build; "
        "1 reply subscriptions and 0 unsent mails removed.\n"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"notify_replies": True, "email": None}, "needs an e-mail address"),
        ({"notify_replies": "1", "email": ""}, "needs an e-mail address"),
        ({"notify_replies": "on", "email": "   "}, "needs an e-mail address"),
        ({"notify_replies": "maybe"}, "must be true or false"),
        ({"notify_replies": 1}, "must be true or false"),
        ({"notify_replies": ["on"]}, "must be true or false"),
        ({"notify_replies": True, "email": "a<b>@example.org"}, "plain ASCII e-mail address"),
        ({"notify_replies": True, "email": "(x)@example.org"}, "plain ASCII e-mail address"),
        ({"notify_replies": True, "email": "zoë@example.org"}, "plain ASCII e-mail address"),
    ],
)
def test_box_without_an_email_or_nonsense_is_a_field_error(
    intake: RunningIntake, fields: dict[str, Any], message: str
) -> None:
    answer = intake.post(**fields)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["notify_replies"]
    assert message in error["fields"]["notify_replies"]
    assert db(intake.config, "SELECT count(*) AS n FROM comments") == [{"n": 0}]


@pytest.mark.parametrize("value", [False, None, "", "0", "off", "false"])
def test_box_left_empty_is_fine_without_an_email(intake: RunningIntake, value: Any) -> None:
    assert intake.post(notify_replies=value, email=None).status_code == 202
    assert state_of(intake.config) == []


def test_form_post_without_javascript_names_the_field(intake: RunningIntake) -> None:
    fields = {"page": "/blog/hello/", "author": "Ada", "body": "hi", "notify_replies": "1"}
    answer = httpx.post(intake.api, data=fields)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert "afterword_error=invalid" in location
    assert "afterword_fields=notify_replies" in location
    ok = httpx.post(intake.api, data={**fields, "email": ADA})
    assert ok.status_code == 303
    assert ok.headers["location"].endswith("#afterword-pending")
    assert state_of(intake.config) == [(ADA, "unconfirmed")]


def test_site_without_reply_mails_refuses_the_box(
    mail_intake: Callable[..., RunningIntake],
) -> None:
    intake = mail_intake(reply_mails=False)
    answer = intake.post(notify_replies=True)
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"] == {"notify_replies": "this site does not mail replies"}
    assert intake.post(notify_replies=False).status_code == 202


def test_honeypot_subscribes_nobody(intake: RunningIntake) -> None:
    assert intake.post(notify_replies=True, **{HONEYPOT_FIELD: "bot"}).status_code == 202
    assert state_of(intake.config) == []
    assert db(intake.config, "SELECT count(*) AS n FROM notify_outbox") == [{"n": 0}]


def test_addresses_never_reach_the_build_output(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    parent = opted_in(intake, site_dir, smtp_server, email="Secret.Person@Private-Mail.example")
    cli(site_dir, "reply", str(parent), "--body", "Reply")
    drain(intake.config)
    assert len(smtp_server.wait_for(1)) == 1
    cli(site_dir, "build")
    blobs = tree(site_dir / "output")
    assert any(b'name="notify_replies"' in blob for blob in blobs.values())  # the box is built
    for needle in ("Secret.Person@Private-Mail.example", "secret.person", "Secret.Person"):
        hits = [key for key, blob in blobs.items() if needle.encode() in blob]
        assert hits == [], (needle, hits)
    assert [r["email_key"] for r in db(intake.config, "SELECT email_key FROM subscriptions")] == [
        "secret.person@private-mail.example"
    ]


def test_doctor_and_status_count_reply_mails_without_moderators(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    post(intake, notify_replies=True)
    out = json.loads(cli(site_dir, "notify", "--status", "--json"))
    assert out["queued"] == 1
    cli(site_dir, "notify", "--once")
    assert len(smtp_server.wait_for(1)) == 1
    done = run_afterword("doctor", cwd=site_dir)
    assert "notifications" in done.stdout
    assert "0 queued, 1 sent, 0 failed" in done.stdout


def test_migration_keeps_the_outbox(tmp_path: Path) -> None:
    """0007 rebuilds notify_outbox (a new CHECK): rows, ids and the id sequence survive."""
    import sqlite3

    import sqlite_utils

    from afterword.store.migrations import migrations

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    migrations.apply(sqlite_utils.Database(conn), stop_before="0007_reply_subscriptions")
    conn.execute("INSERT INTO pages (key, created) VALUES ('/a/', '2026-01-01T00:00:00Z')")
    conn.execute(
        """INSERT INTO comments (page_key, author, body, body_html, renderer, created, updated)
           VALUES ('/a/', 'A', 'b', '<p>b</p>', 'md1', 'x', 'x')"""
    )
    for _ in range(3):
        conn.execute(
            """INSERT INTO notify_outbox (event, channel, comment_id, next_attempt, created)
               VALUES ('comment.pending', 'mail', 1, 'x', 'x')"""
        )
    conn.execute("DELETE FROM notify_outbox WHERE id = 3")
    conn.commit()
    migrations.apply(sqlite_utils.Database(conn))
    assert [r[0] for r in conn.execute("SELECT id FROM notify_outbox")] == [1, 2]
    conn.execute(
        """INSERT INTO notify_outbox (event, channel, comment_id, next_attempt, created)
           VALUES ('comment.reply', 'subscriber', 1, 'x', 'x')"""
    )
    assert conn.execute("SELECT max(id) FROM notify_outbox").fetchone()[0] == 4
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            """INSERT INTO notify_outbox (event, channel, comment_id, next_attempt, created)
               VALUES ('x', 'pigeon', 1, 'x', 'x')"""
        )
    conn.close()


@pytest.mark.parametrize("offered", [True, False])
def test_the_box_travels_through_sqs(
    site_dir: Path, notify_site: Callable[..., Config], queue: str, offered: bool
) -> None:
    """An SQS intake sends the box in its message; ``pull`` subscribes when the pulling side
    offers reply mails, and stores the comment without the opt-in when it does not."""
    config = notify_site(notify={"reply_mails": offered, "background": False})
    fields = comment_fields(notify_replies=True, body="Via the queue")
    submission = validate_submission(fields, config.limits, reply_mails=True)
    queued = QueuedSubmission.new(submission, "203.0.113.9", "https://blog.example.com/", utc_now())
    assert queued.fields["notify_replies"] is True
    send(queue, queued)
    done = cli_pull(config, queue, "--once", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stored"] == 1
    assert state_of(config) == ([(ADA, "unconfirmed")] if offered else [])
    confirmations = db(
        config, "SELECT count(*) AS n FROM notify_outbox WHERE channel = 'subscriber'"
    )
    assert confirmations == [{"n": 1 if offered else 0}]


def test_handled_before_sending_is_skipped(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    """A reply rejected, or reply mails switched off, between approval and sending: skipped."""
    config = intake.config
    parent = opted_in(intake, site_dir, smtp_server)
    reply = post(intake, parent=parent, author="Bob", email="bob@example.net", body="Oops")
    cli(site_dir, "approve", str(reply))
    cli(site_dir, "reject", str(reply))
    report = drain(config)
    assert (report.sent, report.skipped) == (0, 1)
    cli(site_dir, "reply", str(parent), "--body", "Owner reply")
    off = configured(config, notify={"reply_mails": False})
    report = drain(off)
    assert (report.sent, report.skipped) == (0, 1)
    time.sleep(0.3)
    assert smtp_server.messages == []
    skipped = "SELECT count(*) AS n FROM notify_outbox WHERE message = 'skipped'"
    assert db(config, skipped) == [{"n": 2}]


def test_an_address_no_header_can_carry_fails_cleanly(
    site_dir: Path, mail_intake: Callable[..., RunningIntake], smtp_server: SmtpServer
) -> None:
    """Rows come from anywhere (an import, an old version): such an opt-in is retried, then
    given up as failed, and the sender goes on with the rest."""
    intake = mail_intake(max_attempts=1)
    config = intake.config
    bad = "(x)@example.org"
    with open_store(config.database_path) as store:
        comment = add_rendered(store, "Imported", email=bad)
        with store.write() as conn:
            subscribe(conn, [(comment.id, bad)], ConfirmRules("9999", 3))
    post(intake, notify_replies=True)
    report = drain(config)
    assert (report.sent, report.failed) == (1, 1)
    assert [m["To"] for m in smtp_server.wait_for(1)] == [ADA]
    failed = db(config, "SELECT last_error FROM notify_outbox WHERE state = 'failed'")
    assert failed == [{"last_error": "the subscribed address cannot be used in a mail header"}]
    status = run_afterword("notify", "--status", "--json", cwd=site_dir)
    assert status.returncode == 1  # something failed for good (docs/notifications.md)
    assert json.loads(status.stdout)["failed"] == 1


def test_confirming_after_unsubscribing_changes_nothing(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer
) -> None:
    config = intake.config
    post(intake, notify_replies=True)
    drain(config)
    confirm = link_in(smtp_server.wait_for(1)[0], "Confirm")
    with open_store(config.database_path) as store:
        unsubscribe_url = make_link(site_secret(store), intake.url, "unsubscribe", 1, 1)
    assert httpx.post(unsubscribe_url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert httpx.get(confirm).status_code == 409
    answer = httpx.post(confirm, data={"token": token_of(confirm)}, headers=origin(intake))
    assert answer.status_code == 409
    assert "unsubscribed since" in answer.text
    assert state_of(config) == [(ADA, "unsubscribed")]


def test_a_post_that_is_no_form_is_a_page_too(intake: RunningIntake) -> None:
    with open_store(intake.config.database_path) as store:
        url = make_link(site_secret(store), intake.url, "unsubscribe", 1, 1)
    answer = httpx.post(url, content=b"hello", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415
    assert answer.headers["content-type"].startswith("text/html")


SUB_KEYS = sorted(k for k in builtin_strings("en") if k.startswith(("page_sub_", "page_error_")))


def _localized(page: httpx.Response, status: int, language: str) -> None:
    """A link page in ``language``: its ``lang``, and no English text of a subscription page or
    a refusal left on it."""
    assert_page(page, status, language)
    assert english_left(page, language, SUB_KEYS) == []


@pytest.mark.parametrize("language", ["de", "zh"])
def test_subscription_pages_speak_the_site_language(
    mail_intake: Callable[..., RunningIntake], language: str
) -> None:
    words = builtin_strings(language)
    intake = mail_intake(language=language)
    post(intake, notify_replies=True)
    with open_store(intake.config.database_path) as store:
        secret = site_secret(store)
    confirm = make_link(secret, intake.url, "confirm", 1, 1)
    leave = make_link(secret, intake.url, "unsubscribe", 1, 1)

    shown = httpx.get(confirm)
    _localized(shown, 200, language)
    assert title(shown) == words["page_sub_confirm_title"]
    assert message(shown) == words["page_sub_confirm"].replace("{address}", "a\u2026@example.org")
    assert f'class="primary">{words["page_sub_confirm_button"]}</button>' in shown.text
    assert words["page_sub_confirm_footer"] in shown.text
    done = httpx.post(confirm, data={"token": token_of(confirm)}, headers=origin(intake))
    _localized(done, 200, language)
    assert (title(done), message(done)) == (
        words["page_sub_confirmed_title"],
        words["page_sub_confirmed"],
    )
    again = httpx.get(confirm)
    _localized(again, 200, language)
    assert message(again) == words["page_sub_already_confirmed"]

    stop = httpx.get(leave)
    _localized(stop, 200, language)
    assert title(stop) == words["page_sub_stop_title"]
    assert f'class="primary">{words["page_sub_unsubscribe_button"]}</button>' in stop.text
    assert words["page_sub_choose"] in stop.text
    one_click = httpx.post(leave, data={"List-Unsubscribe": "One-Click"})  # RFC 8058, no Origin
    _localized(one_click, 200, language)
    assert (title(one_click), message(one_click)) == (
        words["page_sub_unsubscribed_title"],
        words["page_sub_done"],
    )
    assert state_of(intake.config) == [(ADA, "unsubscribed")]
    twice = httpx.post(leave, data={"token": token_of(leave)}, headers=origin(intake))
    _localized(twice, 200, language)
    assert message(twice) == words["page_sub_already_unsubscribed"]
    late = httpx.post(confirm, data={"token": token_of(confirm)}, headers=origin(intake))
    _localized(late, 409, language)
    box = words["notify_replies_label"]  # the form's own words for its box
    assert message(late) == words["page_sub_resubscribe"].replace("{box}", box)


@pytest.mark.parametrize("language", ["de", "zh"])
def test_refusals_under_subscription_are_pages_in_the_site_language(
    mail_intake: Callable[..., RunningIntake], language: str
) -> None:
    words = builtin_strings(language)
    intake = mail_intake(language=language)
    post(intake, notify_replies=True)
    with open_store(intake.config.database_path) as store:
        confirm = make_link(site_secret(store), intake.url, "confirm", 1, 1)
    bad = f"{intake.url}/subscription/{_tamper_mac(token_of(confirm))}"
    refusals = [
        (httpx.get(bad), 403, "invalid_link"),
        (httpx.post(bad, data={"List-Unsubscribe": "One-Click"}), 403, "invalid_link"),
        (httpx.post(confirm, data={"token": token_of(confirm)}), 403, "cross_site"),
        (httpx.put(confirm, content=b"x"), 405, "method_not_allowed"),
        (httpx.get(intake.url + "/subscription/"), 404, "not_found"),
        (httpx.get(intake.url + "/subscription/a/b"), 404, "not_found"),
    ]
    for answer, status, code in refusals:
        _localized(answer, status, language)
        assert (title(answer), message(answer)) == (
            words[f"page_error_{status}"],
            words[f"page_error_{code}"],
        ), code
    assert refusals[3][0].headers["allow"] == "GET, HEAD, POST"
    assert state_of(intake.config) == [(ADA, "unconfirmed")]


def test_a_locked_database_under_subscription_is_an_html_503(
    mail_intake: Callable[..., RunningIntake], caplog: pytest.LogCaptureFixture
) -> None:
    words = builtin_strings("zh")
    intake = mail_intake(language="zh", database={"busy_timeout_ms": 200})
    post(intake, notify_replies=True)
    database = intake.config.database_path
    with open_store(database) as store:
        url = make_link(site_secret(store), intake.url, "unsubscribe", 1, 1)
    caplog.set_level(logging.WARNING, logger="afterword.intake")
    blocker = sqlite3.connect(database, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        answer = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    _localized(answer, 503, "zh")
    assert answer.headers["retry-after"] == "5"
    assert (title(answer), message(answer)) == (
        words["page_error_503"],
        words["page_error_unavailable"],
    )
    assert database.name not in answer.text
    logged = [r.getMessage() for r in caplog.records if r.name == "afterword.intake"]
    assert len([m for m in logged if m.startswith("storage unavailable")]) == 1
    assert state_of(intake.config) == [(ADA, "unconfirmed")]  # nothing was done
    retried = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert retried.status_code == 200
    assert state_of(intake.config) == [(ADA, "unsubscribed")]


@pytest.mark.parametrize(("method", "target"), [("GET", "show"), ("POST", "act")])
def test_a_bug_under_subscription_is_an_html_500_logged_once(
    mail_intake: Callable[..., RunningIntake],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
    target: str,
) -> None:
    words = builtin_strings("de")
    intake = mail_intake(language="de")
    post(intake, notify_replies=True)
    with open_store(intake.config.database_path) as store:
        url = make_link(site_secret(store), intake.url, "unsubscribe", 1, 1)
    error = RuntimeError(f"a bug near {intake.config.database_path} (secret detail)")
    fault = _FailOnce(getattr(subscribe_module, target), error)
    monkeypatch.setattr(subscribe_module, target, fault)
    caplog.set_level(logging.ERROR)
    data = {"List-Unsubscribe": "One-Click"} if method == "POST" else None
    failed = httpx.request(method, url, data=data, timeout=10)
    _localized(failed, 500, "de")
    assert (title(failed), message(failed)) == (
        words["page_error_500"],
        words["page_error_internal"],
    )
    for leak in ("secret detail", "RuntimeError", str(intake.config.database_path)):
        assert leak not in failed.text
    bug_records = [r for r in caplog.records if r.exc_info and r.exc_info[1] is error]
    assert len(bug_records) == 1  # once, with its traceback, by the server
    assert fault.calls == 1
    again = httpx.request(method, url, data=data, timeout=10)
    assert again.status_code == 200  # one request's bug: the intake serves on
    metrics = intake.server_metrics()
    assert _metric(metrics, f'method="{method}",route="/subscription/{{token}}",status="500"') == 1


def test_person_export_holds_the_subscriptions(
    site_dir: Path, intake: RunningIntake, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    parent = opted_in(intake, site_dir, smtp_server)
    target = tmp_path / "ada.json"
    counts = json.loads(
        cli(site_dir, "export", "--email", "ADA@example.org", str(target), "--json")
    )
    assert (counts["subscriber"], counts["subscriptions"]) == (1, 1)
    data = json.loads(target.read_text())
    assert [s["state"] for s in data["subscriber"]] == ["confirmed"]
    assert data["subscriber"][0]["confirmations"] == 1
    assert [s["comment_id"] for s in data["subscriptions"]] == [parent]
    site = tmp_path / "site.json"
    cli(site_dir, "export", str(site))
    sections = json.loads(site.read_text())
    assert sorted(sections) == [
        "comments", "format", "moderation_log", "pages", "revisions", "scope", "version",
    ]  # fmt: skip


def test_kill_9_mid_batch_sends_at_most_one_duplicate(
    site_dir: Path, mail_intake: Callable[..., RunningIntake], smtp_server: SmtpServer
) -> None:
    """Reply mails are the outbox's rows: a sender killed between the server's 250 and the
    record sends that one mail again, nothing is lost."""
    intake = mail_intake(reply_mails_per_day=100)
    parent = opted_in(intake, site_dir, smtp_server)
    ids = []
    for n in range(8):
        out = json.loads(cli(site_dir, "reply", str(parent), "--body", f"reply {n}", "--json"))
        ids.append(out["id"])
    before = kill_sender_mid_batch(site_dir, smtp_server, after=3)
    assert 3 <= before < 8
    cli(site_dir, "notify", "--once")
    counts = Counter(int(m["X-Afterword-Comments"]) for m in smtp_server.messages)
    assert sorted(counts) == ids  # nothing lost
    assert sum(counts.values()) - len(ids) <= 1  # at most the one in flight, twice
    states = db(intake.config, "SELECT DISTINCT state FROM notify_outbox")
    assert states == [{"state": "sent"}]
