"""``afterword pull``: SQS (the moto server on loopback) into SQLite, exactly once.

Messages are made as the SQS intake makes them (``QueuedSubmission.new`` from a validated
submission) and sent with boto3; ``pull`` runs as the real command in a subprocess wherever
the CLI is what is under test, and in-process where a fault must be placed exactly.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import add_rendered, afterword_env, run_afterword
from fixtures_intake import comment_fields, configured

from afterword.config import Config
from afterword.errors import QueueError
from afterword.intake.envelope import QueuedSubmission
from afterword.intake.pull import pull_queue
from afterword.intake.sqs import sqs_client
from afterword.intake.validate import validate_submission
from afterword.store import Store, format_time, utc_now
from afterword.store.models import parse_time

VISITOR = "203.0.113.20"


@pytest.fixture
def queue(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh queue on the moto server; boto3 finds the endpoint through its usual chain."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)
    client = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    name = f"afterword-{uuid.uuid4().hex[:12]}"
    url = client.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    yield str(url)
    client.delete_queue(QueueUrl=url)


def message(
    config: Config, client: str = VISITOR, received: str | None = None, **fields: Any
) -> QueuedSubmission:
    submission = validate_submission(comment_fields(**fields), config.limits)
    page_url = "https://blog.example.com" + submission.page_key
    return QueuedSubmission.new(submission, client, page_url, received or utc_now())


def send(url: str, *messages: QueuedSubmission | str) -> None:
    client = boto3.client("sqs", region_name="us-east-1")
    for item in messages:
        body = item if isinstance(item, str) else item.to_message()
        client.send_message(QueueUrl=url, MessageBody=body)


def queued_count(url: str) -> int:
    """Visible plus in-flight messages still in the queue."""
    client = boto3.client("sqs", region_name="us-east-1")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def cli_pull(config: Config, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_afterword(
        "--config", str(config.source), "pull", *args,
        cwd=config.root, env={"AFTERWORD_INTAKE_QUEUE": url},
    )  # fmt: skip


def rows(store: Store) -> list[dict[str, Any]]:
    found = store.query("SELECT id, status, author, body, external_id, ip_hash FROM comments")
    return [dict(row) for row in found]


def test_pull_stores_each_queued_submission_once_and_empties_the_queue(
    config: Config, store: Store, queue: str
) -> None:
    sent = [
        message(config, body=f"comment number {n}", client=f"198.51.100.{n}") for n in range(25)
    ]
    send(queue, *sent)

    result = cli_pull(config, queue, "--once", "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["stored"] == 25
    assert report["deleted"] == 25
    assert report["statuses"] == {"pending": 25}
    stored = rows(store)
    assert sorted(r["external_id"] for r in stored) == sorted(m.id for m in sent)
    assert {r["body"] for r in stored} == {f"comment number {n}" for n in range(25)}
    assert queued_count(queue) == 0
    again = cli_pull(config, queue, "--once", "--json")
    assert json.loads(again.stdout)["received"] == 0
    assert len(rows(store)) == 25


def test_pull_hashes_the_network_with_the_sites_secret_and_never_stores_it(
    config: Config, store: Store, queue: str
) -> None:
    send(queue, message(config, client="2001:db8:1:2::/64"), message(config, body="other"))
    assert cli_pull(config, queue, "--once").returncode == 0
    dump = Path(config.database_path).read_bytes()
    assert b"2001:db8" not in dump
    assert VISITOR.encode() not in dump
    assert all(len(r["ip_hash"]) == 32 for r in rows(store))


class FailingDeletes:
    """A real boto3 client whose DeleteMessageBatch fails: the crash after the commit."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_message_batch(self, **kwargs: Any) -> Any:
        raise QueueError("injected: the connection died after the commit")


def test_a_redelivery_after_a_lost_delete_stores_nothing_twice(
    config: Config, store: Store, queue: str
) -> None:
    chosen = configured(config, intake={"queue": queue})
    send(queue, *(message(config, body=f"body {n}", client=f"192.0.2.{n}") for n in range(12)))
    with pytest.raises(QueueError):
        pull_queue(chosen, store, FailingDeletes(sqs_client(queue)), once=True)
    assert len(rows(store)) == 12  # committed, but the messages are still in the queue
    time.sleep(1.2)  # the queue's visibility timeout: the messages come back

    report = pull_queue(chosen, store, sqs_client(queue), once=True)

    assert report.redelivered == 12
    assert report.stored == 0
    assert report.deleted == 12
    assert len(rows(store)) == 12
    assert queued_count(queue) == 0


def test_kill_9_during_pull_loses_and_duplicates_nothing(
    config: Config, store: Store, queue: str
) -> None:
    total = 120
    sent = [message(config, body=f"queued comment {n}", client=f"198.51.100.{n % 250}")
            for n in range(total)]  # fmt: skip
    client = boto3.client("sqs", region_name="us-east-1")
    for start in range(0, total, 10):
        entries = [{"Id": str(i), "MessageBody": m.to_message()}
                   for i, m in enumerate(sent[start : start + 10])]  # fmt: skip
        client.send_message_batch(QueueUrl=queue, Entries=entries)
    command = [sys.executable, "-m", "afterword", "--config", str(config.source), "pull",
               "--batch", "10"]  # fmt: skip
    env = afterword_env({"AFTERWORD_INTAKE_QUEUE": queue, "AFTERWORD_LIMITS_PER_MINUTE": "0",
                         "AFTERWORD_LIMITS_PER_HOUR": "0"})  # fmt: skip
    process = subprocess.Popen(command, cwd=config.root, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(rows(store)) < total // 4 and time.monotonic() < deadline:
        assert process.poll() is None, f"pull exited {process.returncode}"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = len(rows(store))
    assert 0 < killed_at < total, "the kill must land in the middle of the pull"
    time.sleep(1.2)  # in-flight messages become visible again

    finish = run_afterword(
        "--config", str(config.source), "pull", "--once", "--json",
        cwd=config.root, env={"AFTERWORD_INTAKE_QUEUE": queue, "AFTERWORD_LIMITS_PER_MINUTE": "0",
                              "AFTERWORD_LIMITS_PER_HOUR": "0"}, timeout=180,
    )  # fmt: skip

    assert finish.returncode == 0, finish.stderr
    ids = [r["external_id"] for r in rows(store)]
    assert len(ids) == total, f"{total - len(ids)} lost"
    assert len(set(ids)) == total, "a message was stored twice"
    assert set(ids) == {m.id for m in sent}
    assert queued_count(queue) == 0


def test_database_rules_refuse_into_the_queue_with_their_reason(
    config: Config, store: Store, queue: str
) -> None:
    pending_parent = add_rendered(store, page_key="/blog/hello/", status="pending")
    first = message(config, body="same words")
    send(
        queue,
        first,
        message(config, body="same words"),  # a duplicate of the one before it
        message(config, body="a reply", parent=pending_parent.id),  # parent not published
    )

    result = cli_pull(config, queue, "--once", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["refused"] == 2
    by_body = {(r["body"], r["status"]) for r in rows(store) if r["external_id"]}
    assert by_body == {("same words", "pending"), ("same words", "rejected"),
                       ("a reply", "rejected")}  # fmt: skip
    reasons = {str(r[0]).split(":")[0] for r in store.query(
        "SELECT reason FROM moderation_log WHERE action = 'pull'")}  # fmt: skip
    assert reasons == {"duplicate", "invalid"}
    listed = run_afterword("--config", str(config.source), "queue", "--status", "rejected",
                           "--json", cwd=config.root)  # fmt: skip
    assert json.loads(listed.stdout)["count"] == 2


def test_rate_limits_hold_across_every_intake_feeding_the_queue(
    config: Config, store: Store, queue: str
) -> None:
    per_minute = config.limits.per_minute
    now = parse_time(utc_now())
    # Several intakes took these, interleaved, each within its own limit; together too many.
    send(queue, *(message(config, body=f"flood {n}", received=format_time(now))
                  for n in range(per_minute + 3)))  # fmt: skip
    send(queue, message(config, client="192.0.2.99", body="someone else"))

    assert cli_pull(config, queue, "--once").returncode == 0

    statuses = [r["status"] for r in rows(store) if r["body"].startswith("flood")]
    assert sorted(statuses) == ["pending"] * per_minute + ["spam"] * 3
    assert [r["status"] for r in rows(store) if r["body"] == "someone else"] == ["pending"]


def test_unreadable_messages_stay_for_the_dead_letter_queue_and_the_rest_is_stored(
    config: Config, store: Store, queue: str
) -> None:
    tampered = json.loads(message(config).to_message())
    tampered["fields"]["body"] = ""
    send(queue, "not json", json.dumps({"v": 99}), json.dumps(tampered), message(config))

    report = pull_queue(configured(config, intake={"queue": queue}), store, sqs_client(queue))

    assert report.stored == 1
    assert report.malformed == 2
    assert report.invalid == 1  # fields that fail validation are dropped, with a log line
    assert queued_count(queue) == 2  # the unreadable two, back after the visibility timeout


@pytest.mark.parametrize(
    ("queue_setting", "expected"),
    [
        ("sqlite", "nothing to pull"),
        ("not a url", "intake.queue must be 'sqlite' or an SQS queue URL"),
    ],
)
def test_pull_without_a_queue_is_a_one_line_config_error(
    config: Config, store: Store, queue_setting: str, expected: str
) -> None:
    result = cli_pull(config, queue_setting, "--once")
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_pull_from_a_missing_queue_is_a_one_line_error(
    config: Config, store: Store, moto_endpoint: str, queue_error_env: Callable[[], None]
) -> None:
    queue_error_env()
    url = moto_endpoint + "/123456789012/no-such-queue"
    result = cli_pull(config, url, "--once", "--json")
    assert result.returncode == 1
    assert "does not exist" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.fixture
def queue_error_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    def apply() -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)

    return apply


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.slow
def test_watch_pulls_the_queue_and_publishes_what_is_approved(
    config: Config, store: Store, queue: str, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    source = Path(str(config.source))
    source.write_text(source.read_text() + f'\n[targets.site]\nkind = "local"\npath = "{mirror}"\n')
    env = afterword_env({"AFTERWORD_INTAKE_QUEUE": queue, "AFTERWORD_WATCH_SETTLE_SECONDS": "0.3"})
    child = subprocess.Popen(
        [sys.executable, "-m", "afterword", "--config", str(source), "watch"],
        cwd=config.root, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        send(queue, message(config, body="through the queue, then watch"))
        assert wait_until(lambda: len(rows(store)) == 1, 30), "watch did not pull the message"
        assert rows(store)[0]["status"] == "pending"
        approve = run_afterword("--config", str(source), "approve", str(rows(store)[0]["id"]),
                                cwd=config.root)  # fmt: skip
        assert approve.returncode == 0, approve.stderr
        published = mirror / "threads" / "blog" / "hello" / "comments.json"
        assert wait_until(
            lambda: published.exists() and b"through the queue" in published.read_bytes(), 30
        ), "watch did not publish the approved comment"
    finally:
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert "pulled from the queue: 1 stored, 0 refused" in err
    assert queued_count(queue) == 0


@pytest.mark.slow
def test_watch_goes_on_when_the_queue_cannot_be_reached(
    config: Config, store: Store, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    source = Path(str(config.source))
    source.write_text(source.read_text() + f'\n[targets.site]\nkind = "local"\npath = "{mirror}"\n')
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = afterword_env({
        "AFTERWORD_INTAKE_QUEUE": f"{closed}/123456789012/gone",
        "AWS_ENDPOINT_URL_SQS": closed,
        "AWS_MAX_ATTEMPTS": "1",
        "AFTERWORD_WATCH_SETTLE_SECONDS": "0.3",
    })  # fmt: skip
    pending = add_rendered(store, "approved while the queue is down", page_key="/blog/hello/",
                           status="pending")  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-m", "afterword", "--config", str(source), "watch"],
        cwd=config.root, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(1.5)  # let the puller fail at least once
        approve = run_afterword("--config", str(source), "approve", str(pending.id),
                                cwd=config.root)  # fmt: skip
        assert approve.returncode == 0, approve.stderr
        published = mirror / "threads" / "blog" / "hello" / "comments.json"
        assert wait_until(lambda: published.exists(), 30), "watch stopped publishing"
    finally:
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert "pulling from the queue failed (retrying in 1 s): cannot reach SQS" in err
    assert "Traceback" not in err
