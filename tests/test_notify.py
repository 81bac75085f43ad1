"""Notifications to moderators: enqueued with the comment, sent by a real sender to a real
SMTP server (aiosmtpd) and a real webhook receiver, both on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import add_rendered, afterword_env, run_afterword
from fixtures_intake import UNLIMITED, RunningIntake
from fixtures_notify import SmtpServer, WebhookReceiver, free_port, kill_sender_mid_batch

from afterword.config import Config
from afterword.intake.validate import HONEYPOT_FIELD
from afterword.notify.channels import NEW_COMMENT
from afterword.store import open_store
from afterword.store.outbox import enqueue

PUBLIC = "https://comments.example.com"


def mail_settings(smtp: SmtpServer | str, **notify: Any) -> dict[str, dict[str, Any]]:
    url = smtp.url if isinstance(smtp, SmtpServer) else smtp
    base = {
        "mode": "each",
        "moderators": ["mod@example.com", "second@example.com"],
        "smtp_url": url,
        "from": "Comments <comments@example.com>",
        "retry_seconds": 0.05,
    }
    base.update(notify)
    return {"notify": base, "intake": {"public_url": PUBLIC}, "limits": UNLIMITED}


def outbox(config: Config) -> list[dict[str, Any]]:
    with open_store(config.database_path) as store:
        return [dict(r) for r in store.query("SELECT * FROM notify_outbox ORDER BY id")]


def notify_once(site: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    done = run_afterword("notify", "--once", "--json", *extra, cwd=site, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_post_is_queued_with_the_comment_then_mailed_once(
    site_dir: Path,
    notify_site: Callable[..., Config],
    smtp_server: SmtpServer,
    start_intake: Callable[..., RunningIntake],
) -> None:
    config = notify_site(**mail_settings(smtp_server))
    intake = start_intake(config)
    answer = intake.post()
    assert answer.status_code == 202
    comment_id = answer.json()["data"]["id"]
    messages = smtp_server.wait_for(1)
    assert len(messages) == 1
    mail = messages[0]
    assert mail["Subject"] == "New comment on /blog/hello/ by Ada"
    assert mail["From"] == "Comments <comments@example.com>"
    assert mail["Reply-To"] == "ada@example.org"
    assert mail["To"] == "mod@example.com, second@example.com"
    assert mail["Message-ID"].startswith("<afterword.")
    assert mail["Date"]
    assert mail["X-Afterword-Comments"] == str(comment_id)
    assert smtp_server.envelopes[0][1] == ["mod@example.com", "second@example.com"]
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None
    assert html is not None
    plain = text.get_content()
    assert "Nice *post*, thanks." in plain
    links = [line.split(": ", 1)[1] for line in plain.splitlines() if "/moderate/" in line]
    assert len(links) == 4
    assert all(link.startswith(f"{PUBLIC}/moderate/v1.{comment_id}.") for link in links)
    assert "<em>post</em>" in html.get_content()
    time.sleep(2.5)  # another background pass: nothing is sent twice
    assert len(smtp_server.messages) == 1
    rows = outbox(config)
    assert [(r["channel"], r["state"], r["comment_id"]) for r in rows] == [
        ("mail", "sent", comment_id)
    ]


@pytest.mark.parametrize(
    ("fields", "notify", "queued"),
    [
        ({HONEYPOT_FIELD: "555 1234"}, {}, 0),  # honeypot: stored as spam, not notified
        ({HONEYPOT_FIELD: "555 1234"}, {"notify_spam": True}, 1),
        ({}, {"mode": "off"}, 0),
        ({}, {"moderators": []}, 0),  # nobody to mail and no webhook
        ({}, {"mode": "digest"}, 1),
    ],
)
def test_what_is_queued(
    site_dir: Path,
    notify_site: Callable[..., Config],
    start_intake: Callable[..., RunningIntake],
    fields: dict[str, str],
    notify: dict[str, Any],
    queued: int,
) -> None:
    # a server nobody listens on: the background sender fails, the rows stay queued
    config = notify_site(**mail_settings(f"smtp://127.0.0.1:{free_port()}", **notify))
    intake = start_intake(config)
    assert intake.post(**fields).status_code == 202
    assert len(outbox(config)) == queued


def test_refused_submission_queues_nothing(
    site_dir: Path,
    notify_site: Callable[..., Config],
    start_intake: Callable[..., RunningIntake],
) -> None:
    config = notify_site(**mail_settings(f"smtp://127.0.0.1:{free_port()}"))
    intake = start_intake(config)
    assert intake.post().status_code == 202
    assert intake.post().status_code == 409  # the same again: a duplicate, refused
    assert intake.post(parent=999).status_code == 422
    assert len(outbox(config)) == 1


def by_hand(smtp: SmtpServer | str, **notify: Any) -> dict[str, dict[str, Any]]:
    """Settings for tests that drain with ``afterword notify --once`` themselves."""
    return mail_settings(smtp, background=False, **notify)


def test_smtp_refusing_then_down_is_retried_and_delivered_once(
    site_dir: Path,
    notify_site: Callable[..., Config],
    smtp_server: SmtpServer,
    start_intake: Callable[..., RunningIntake],
) -> None:
    config = notify_site(**by_hand(smtp_server, retry_seconds=0.2))
    smtp_server.refuse = True
    intake = start_intake(config)
    ids = [intake.post(body=f"comment {n}").json()["data"]["id"] for n in range(3)]
    first = notify_once(site_dir)
    assert (first["sent"], first["failed"]) == (0, 3)
    assert "451" in first["errors"][0]
    rows = outbox(config)
    assert {r["state"] for r in rows} == {"queued"}
    assert {r["attempts"] for r in rows} == {1}
    status = run_afterword("notify", "--status", cwd=site_dir)
    assert status.returncode == 0
    assert "3 queued, 0 sent, 0 failed" in status.stdout
    assert "waiting to be retried: mail server refused the message: 451" in status.stdout
    smtp_server.stop()  # now the server is down altogether
    time.sleep(0.3)
    down = notify_once(site_dir)
    assert (down["sent"], down["failed"]) == (0, 1)  # one session failed for all three
    assert "127.0.0.1" in down["errors"][0]
    assert {r["attempts"] for r in outbox(config)} == {2}
    rows = outbox(config)
    assert all(r["next_attempt"] > r["created"] for r in rows)  # backed off, not hammered
    smtp_server.refuse = False
    smtp_server.start()  # back, on the same port
    time.sleep(0.9)  # the backoff: 0.2 s × 2² after the second failure
    back = notify_once(site_dir)
    assert back["sent"] == 3
    assert sorted(int(m["X-Afterword-Comments"]) for m in smtp_server.messages) == ids
    assert notify_once(site_dir)["sent"] == 0  # nothing lost, nothing twice
    assert len(smtp_server.messages) == 3


def test_given_up_after_max_attempts_shows_everywhere(
    site_dir: Path,
    notify_site: Callable[..., Config],
    start_intake: Callable[..., RunningIntake],
) -> None:
    config = notify_site(**by_hand(f"smtp://127.0.0.1:{free_port()}", max_attempts=2))
    intake = start_intake(config)
    assert intake.post().status_code == 202
    notify_once(site_dir)
    time.sleep(0.2)
    notify_once(site_dir)
    assert [r["state"] for r in outbox(config)] == ["failed"]
    status = run_afterword("notify", "--status", "--json", cwd=site_dir)
    assert status.returncode == 1
    data = json.loads(status.stdout)
    assert (data["queued"], data["sent"], data["failed"]) == (0, 0, 1)
    assert "failed for good" in data["problems"][0]
    doctor = run_afterword("doctor", "--json", cwd=site_dir)
    found = {c["name"]: c for c in json.loads(doctor.stdout)}
    assert found["notifications"]["ok"] is False
    assert "failed for good" in found["notifications"]["detail"]
    metrics = intake.server_metrics()
    assert 'afterword_notifications{state="failed"} 1.0' in metrics
    assert 'afterword_notifications{state="queued"} 0.0' in metrics


def test_flood_guard_folds_the_rest_into_one_digest(
    site_dir: Path,
    notify_site: Callable[..., Config],
    smtp_server: SmtpServer,
    start_intake: Callable[..., RunningIntake],
) -> None:
    config = notify_site(**by_hand(smtp_server, max_mails_per_hour=3))
    intake = start_intake(config)
    ids = [intake.post(body=f"comment number {n}").json()["data"]["id"] for n in range(6)]
    report = notify_once(site_dir)
    assert report["sent"] == 3
    messages = smtp_server.messages
    assert [m["X-Afterword-Comments"] for m in messages[:2]] == [str(ids[0]), str(ids[1])]
    digest = messages[2]
    assert digest["X-Afterword-Comments"] == " ".join(map(str, ids[2:]))
    assert digest["Subject"] == "4 new comments on My site"
    assert digest["Reply-To"] is None  # a digest has no single commenter to answer
    assert intake.post(body="one more").status_code == 202
    held = notify_once(site_dir)
    assert (held["sent"], held["held"]) == (0, 1)  # the hour's budget is spent: it waits
    assert [r["state"] for r in outbox(config)][-1] == "queued"


def test_digest_mode_waits_for_the_oldest_to_age(
    site_dir: Path,
    notify_site: Callable[..., Config],
    smtp_server: SmtpServer,
    start_intake: Callable[..., RunningIntake],
) -> None:
    config = notify_site(**by_hand(smtp_server, mode="digest", digest_minutes=5))
    intake = start_intake(config)
    for n in range(3):
        assert intake.post(body=f"digest {n}").status_code == 202
    assert notify_once(site_dir)["held"] == 3
    assert smtp_server.messages == []
    with open_store(config.database_path) as store, store.write() as conn:
        conn.execute("UPDATE notify_outbox SET created = '2000-01-01T00:00:00.000000Z'")
    assert notify_once(site_dir)["sent"] == 1
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["Subject"] == "3 new comments on My site"


def test_comment_handled_before_sending_is_skipped(
    site_dir: Path,
    notify_site: Callable[..., Config],
    smtp_server: SmtpServer,
    start_intake: Callable[..., RunningIntake],
) -> None:
    config = notify_site(**by_hand(smtp_server))
    intake = start_intake(config)
    comment_id = intake.post().json()["data"]["id"]
    assert run_afterword("approve", str(comment_id), cwd=site_dir).returncode == 0
    report = notify_once(site_dir)
    assert (report["sent"], report["skipped"]) == (0, 1)
    assert smtp_server.messages == []


def test_localized_mail(
    site_dir: Path,
    notify_site: Callable[..., Config],
    smtp_server: SmtpServer,
    start_intake: Callable[..., RunningIntake],
) -> None:
    config = notify_site(site={"language": "de"}, **by_hand(smtp_server))
    intake = start_intake(config)
    assert intake.post(author="Jürgen", email="").status_code == 202
    notify_once(site_dir)
    mail = smtp_server.messages[0]
    assert mail["Subject"] == "Neuer Kommentar zu /blog/hello/ von Jürgen"
    assert mail["Reply-To"] is None  # no address given: no Reply-To
    text = mail.get_body(("plain",))
    assert text is not None
    assert "Freigeben: https://comments.example.com/moderate/" in text.get_content()
    html = mail.get_body(("html",))
    assert html is not None
    assert '<html lang="de">' in html.get_content()


def test_kill_9_mid_batch_sends_at_most_one_duplicate(
    site_dir: Path,
    notify_site: Callable[..., Config],
    smtp_server: SmtpServer,
    start_intake: Callable[..., RunningIntake],
) -> None:
    config = notify_site(**by_hand(smtp_server, max_mails_per_hour=100))
    intake = start_intake(config)
    ids = [intake.post(body=f"batch comment {n}").json()["data"]["id"] for n in range(8)]
    before = kill_sender_mid_batch(site_dir, smtp_server, after=3)
    assert 3 <= before < 8
    notify_once(site_dir)
    counts = Counter(int(m["X-Afterword-Comments"]) for m in smtp_server.messages)
    assert sorted(counts) == ids  # nothing lost
    assert sum(counts.values()) - len(ids) <= 1  # at most the one in flight, twice
    assert all(r["state"] == "sent" for r in outbox(config))


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://mail.example.com", "must start with one of smtp://"),
        ("smtp://user:secret@mail.example.com", "must not hold credentials"),
        ("smtp://", "names no host"),
        ("smtp://mail.example.com:99999", "not a valid URL"),
    ],
)
def test_bad_smtp_url_is_one_error_line(
    site_dir: Path, notify_site: Callable[..., Config], url: str, words: str
) -> None:
    notify_site(**by_hand(url))
    done = run_afterword("notify", "--once", cwd=site_dir)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: notify.smtp_url")
    assert words in done.stderr
    assert "secret" not in done.stderr
    assert "Traceback" not in done.stderr


def test_webhook_signed_versioned_body(
    site_dir: Path,
    notify_site: Callable[..., Config],
    webhook_receiver: WebhookReceiver,
    start_intake: Callable[..., RunningIntake],
) -> None:
    settings = by_hand("smtp://127.0.0.1:1", moderators=[], webhooks=[webhook_receiver.url])
    config = notify_site(**settings)
    intake = start_intake(config)
    comment_id = intake.post().json()["data"]["id"]
    assert notify_once(site_dir)["sent"] == 1
    (call,) = webhook_receiver.calls
    assert call.path == "/hook/secret-path"
    key = run_afterword("notify", "--webhook-key", cwd=site_dir).stdout.strip()
    expected = "sha256=" + hmac.new(key.encode(), call.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(call.headers["x-afterword-signature"], expected)
    body = call.json()
    assert body["version"] == 1
    assert body["event"] == "comment.pending"
    assert body["comment"]["id"] == comment_id
    assert body["comment"]["html"].strip() == "<p>Nice <em>post</em>, thanks.</p>"
    assert set(body["links"]) == {"approve", "reject", "spam", "reply"}
    assert "ada@example.org" not in call.body.decode()  # never the commenter's address
    assert call.headers["x-afterword-delivery"] == str(outbox(config)[0]["id"])


@pytest.mark.parametrize(("style", "field"), [("slack", "text"), ("discord", "content")])
def test_webhook_chat_formats(
    site_dir: Path,
    notify_site: Callable[..., Config],
    webhook_receiver: WebhookReceiver,
    start_intake: Callable[..., RunningIntake],
    style: str,
    field: str,
) -> None:
    settings = by_hand(
        "smtp://127.0.0.1:1", moderators=[], webhooks=[webhook_receiver.url], webhook_format=style
    )
    intake = start_intake(notify_site(**settings))
    assert intake.post().status_code == 202
    notify_once(site_dir)
    (call,) = webhook_receiver.calls
    body = call.json()
    assert list(body) == [field]
    assert "Ada" in body[field]
    assert "/moderate/" in body[field]


def test_webhook_error_is_retried_with_its_secret_path_hidden(
    site_dir: Path,
    notify_site: Callable[..., Config],
    webhook_receiver: WebhookReceiver,
    start_intake: Callable[..., RunningIntake],
) -> None:
    settings = by_hand("smtp://127.0.0.1:1", moderators=[], webhooks=[webhook_receiver.url])
    config = notify_site(**settings)
    intake = start_intake(config)
    assert intake.post().status_code == 202
    webhook_receiver.answer[0] = 500
    failed = notify_once(site_dir)
    assert failed["failed"] == 1
    assert "answered 500" in failed["errors"][0]
    assert "secret-path" not in json.dumps(failed)
    assert "secret-path" not in outbox(config)[0]["last_error"]
    webhook_receiver.answer[0] = 200
    time.sleep(0.2)
    assert notify_once(site_dir)["sent"] == 1
    assert len(webhook_receiver.calls) == 1


def test_webhook_key_from_the_environment(
    site_dir: Path,
    notify_site: Callable[..., Config],
    webhook_receiver: WebhookReceiver,
    start_intake: Callable[..., RunningIntake],
) -> None:
    settings = by_hand(
        "smtp://127.0.0.1:1",
        moderators=[],
        webhooks=[webhook_receiver.url],
        webhook_secret_env="HOOK_KEY",
    )
    intake = start_intake(notify_site(**settings))
    assert intake.post().status_code == 202
    missing = run_afterword("notify", "--once", cwd=site_dir)
    assert missing.returncode == 2
    assert missing.stderr == "Error: notify.webhook_secret_env names HOOK_KEY, which is not set\n"
    assert [r["state"] for r in outbox(intake.config)] == ["queued"]
    notify_once(site_dir, env={"HOOK_KEY": "s3cret"})
    (call,) = webhook_receiver.wait_for(1)
    expected = "sha256=" + hmac.new(b"s3cret", call.body, hashlib.sha256).hexdigest()
    assert call.headers["x-afterword-signature"] == expected


def test_smtp_login_from_the_environment_only(
    site_dir: Path,
    notify_site: Callable[..., Config],
    start_intake: Callable[..., RunningIntake],
) -> None:
    server = SmtpServer(free_port(), credentials=("mailer", "pa55-word"))
    server.start()
    try:
        config = notify_site(**by_hand(server))
        intake = start_intake(config)
        assert intake.post().status_code == 202
        anonymous = notify_once(site_dir)  # no credentials: the server wants AUTH
        assert anonymous["failed"] == 1
        assert "530" in anonymous["errors"][0]
        wrong = {"AFTERWORD_SMTP_USER": "mailer", "AFTERWORD_SMTP_PASSWORD": "nope-nope"}
        time.sleep(0.2)
        refused = notify_once(site_dir, env=wrong)
        assert "535" in refused["errors"][0]
        assert "nope-nope" not in json.dumps(refused)
        assert "nope-nope" not in json.dumps(outbox(config))
        time.sleep(0.5)
        right = {"AFTERWORD_SMTP_USER": "mailer", "AFTERWORD_SMTP_PASSWORD": "pa55-word"}
        assert notify_once(site_dir, env=right)["sent"] == 1
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_hostile_comment_is_escaped_in_mail_and_link_page(
    site_dir: Path,
    notify_site: Callable[..., Config],
    smtp_server: SmtpServer,
    start_intake: Callable[..., RunningIntake],
) -> None:
    config = notify_site(**by_hand(smtp_server))
    intake = start_intake(config)
    hostile = {"author": '<img src=x onerror="alert(1)">', "body": "<script>alert(2)</script> hi"}
    assert intake.post(**hostile).status_code == 202
    notify_once(site_dir)
    mail = smtp_server.messages[0]
    html = mail.get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "<script" not in content
    assert "<img src=x" not in content
    assert "&lt;img src=x" in content
    assert "\n" not in mail["Subject"]
    link = next(
        line.split(": ", 1)[1]
        for line in mail.get_body(("plain",)).get_content().splitlines()  # type: ignore[union-attr]
        if line.startswith("Approve: ")
    )
    page = httpx.get(link.replace(PUBLIC, intake.url), timeout=10)
    assert page.status_code == 200
    assert "<script" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;img src=x" in page.text


def test_two_workers_send_each_mail_once(
    site_dir: Path,
    notify_site: Callable[..., Config],
    smtp_server: SmtpServer,
    start_intake: Callable[..., RunningIntake],
) -> None:
    """``serve --workers 2``: each worker runs a sender; the lock lets one send at a time."""
    config = notify_site(**mail_settings(smtp_server, max_mails_per_hour=100))
    intake = start_intake(config, workers=2)
    ids = [intake.post(body=f"worker comment {n}").json()["data"]["id"] for n in range(6)]
    smtp_server.wait_for(6)
    time.sleep(4.5)  # two more passes of both senders: nothing is sent again
    counts = Counter(int(m["X-Afterword-Comments"]) for m in smtp_server.messages)
    assert counts == dict.fromkeys(ids, 1)


def test_watch_drains_the_outbox(
    site_dir: Path, notify_site: Callable[..., Config], smtp_server: SmtpServer
) -> None:
    config = notify_site(**mail_settings(smtp_server))
    with open_store(config.database_path) as store:
        comment = add_rendered(store, "Waiting for watch", status="pending")
        with store.write() as conn:
            enqueue(conn, NEW_COMMENT, [comment.id], [("mail", "")])
    watch = subprocess.Popen(
        [sys.executable, "-m", "afterword", "watch"],
        cwd=site_dir,
        env=afterword_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        messages = smtp_server.wait_for(1, timeout=30)
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.wait(20)
    assert [m["X-Afterword-Comments"] for m in messages] == [str(comment.id)]
    assert [r["state"] for r in outbox(config)] == ["sent"]


@pytest.mark.parametrize("bad", ["not-an-address", "a@b", "two@example.com, three@example.com"])
def test_bad_moderator_address_is_one_error_line_and_a_doctor_failure(
    site_dir: Path, notify_site: Callable[..., Config], bad: str
) -> None:
    notify_site(**by_hand("smtp://127.0.0.1:1", moderators=[bad]))
    done = run_afterword("notify", "--once", cwd=site_dir)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: notify.moderators: ")
    assert "is not an e-mail address" in done.stderr
    doctor = run_afterword("doctor", "--json", cwd=site_dir)
    found = {c["name"]: c for c in json.loads(doctor.stdout)}
    assert found["notifications"]["ok"] is False
    assert "is not an e-mail address" in found["notifications"]["detail"]


def test_doctor_says_when_links_would_point_at_the_local_listener(
    site_dir: Path, notify_site: Callable[..., Config]
) -> None:
    settings = by_hand("smtp://127.0.0.1:1")
    del settings["intake"]
    notify_site(**settings)
    status = run_afterword("notify", "--status", cwd=site_dir)
    assert status.returncode == 0  # nothing failed: a warning to act on
    assert "problem: intake.public_url is empty" in status.stdout
    doctor = run_afterword("doctor", "--json", cwd=site_dir)
    found = {c["name"]: c for c in json.loads(doctor.stdout)}
    assert found["notifications"]["ok"] is False
    assert "http://127.0.0.1:8000" in found["notifications"]["detail"]


def test_an_address_no_reply_to_can_carry_is_mailed_without_one(
    site_dir: Path,
    notify_site: Callable[..., Config],
    smtp_server: SmtpServer,
    start_intake: Callable[..., RunningIntake],
) -> None:
    """The intake accepts ``(x)@example.org``; the header parser raises ``HeaderParseError``
    (no ``ValueError``) for it, which once stopped every drain pass at that comment."""
    config = notify_site(**by_hand(smtp_server))
    intake = start_intake(config)
    assert intake.post(email="(x)@example.org").status_code == 202
    assert notify_once(site_dir)["sent"] == 1
    mail = smtp_server.wait_for(1)[0]
    assert mail["Reply-To"] is None
    assert mail["Subject"] == "New comment on /blog/hello/ by Ada"
