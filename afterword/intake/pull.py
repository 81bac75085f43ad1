"""``afterword pull``: move queued submissions from SQS into the database, exactly once.

Receive up to ``batch`` messages, decide and store them all in ONE write transaction, and only
after the commit delete them from the queue. A crash before the commit leaves the messages in
the queue (they reappear after the visibility timeout); a crash between the commit and the
delete leaves them too, but each message's id is stored as its comment's external id, so the
redelivery is recognised and only deleted. Nothing is lost and nothing is stored twice.

What needs the database is decided here, with the same rules as the SQLite intake's writer
(``batch.apply_batch``): the thread is open, the parent is a published comment on the same
page, the comment is not a duplicate, the rate limits counted across every intake that feeds
the queue (from when each intake received its submission), the auto-approve rules. The
fields are also validated again: the queue is input, not trust. A submission refused by a
database rule is stored all the same — ``rejected`` (or ``spam`` for a flood) with its reason
in the moderation log — so ``afterword queue --status rejected`` shows it; the client already
had its 202.

A message that cannot be read at all is logged and left in the queue: SQS moves it to the
dead-letter queue after ``maxReceiveCount`` deliveries (see docs/deploying.md).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from afterword.config import Config
from afterword.errors import AfterwordError, CommentRejected, ConfigError
from afterword.intake.batch import Cutoffs, Entry, apply_batch
from afterword.intake.envelope import MalformedMessage, QueuedSubmission
from afterword.intake.sqs import queue_errors, sqs_client
from afterword.intake.validate import validate_submission
from afterword.markup import RENDERER_VERSION, render_markdown
from afterword.privacy import hash_address
from afterword.store import Store, format_time, open_store, parse_time, site_secret
from afterword.store.models import NewComment
from afterword.store.pulled import PULL_SOURCE, log_refusals, stored_message_ids
from afterword.store.submissions import ensure_pages, insert_batch

log = logging.getLogger("afterword.pull")

RECEIVE_MAX = 10  # SQS's own limit per ReceiveMessage and per DeleteMessageBatch
WATCH_WAIT_SECONDS = 2  # watch's long poll: short enough for Ctrl-C to stop it promptly
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
FLOOD_CODES = {"rate_limited"}


@dataclass
class PullReport:
    """What one ``pull`` did, for the summary line and ``--json``."""

    received: int = 0
    stored: int = 0
    refused: int = 0
    redelivered: int = 0
    malformed: int = 0
    invalid: int = 0
    deleted: int = 0
    batches: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "stored": self.stored,
            "refused": self.refused,
            "redelivered": self.redelivered,
            "malformed": self.malformed,
            "invalid": self.invalid,
            "deleted": self.deleted,
            "batches": self.batches,
            "statuses": dict(sorted(self.statuses.items())),
        }


@dataclass(frozen=True)
class _Message:
    receipt: str
    queued: QueuedSubmission


def queue_url(config: Config) -> str:
    """The configured SQS queue URL; a ``ConfigError`` when the intake queues in SQLite."""
    url = config.intake.queue
    if url == "sqlite":
        raise ConfigError(
            f"{config.source}: intake.queue is 'sqlite', so there is nothing to pull; "
            "set it to the SQS queue URL (or AFTERWORD_INTAKE_QUEUE)"
        )
    return url


def pull_queue(
    config: Config,
    store: Store,
    sqs: Any,
    *,
    once: bool = True,
    batch: int = 100,
    wait_seconds: int = 1,
    on_batch: Callable[[PullReport], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> PullReport:
    """Drain the queue into ``store``; with ``once``, stop when a receive comes back empty.

    ``sqs`` is a boto3 SQS client (the caller chooses endpoint and retries). ``batch`` is how
    many messages one transaction stores; ``wait_seconds`` the long-poll wait.
    """
    url = queue_url(config)
    report = PullReport()
    secret = site_secret(store)
    while not stop():
        with queue_errors(url):
            messages, unreadable = _receive(sqs, url, batch, wait_seconds)
        report.received += len(messages) + unreadable
        report.malformed += unreadable
        if not messages:
            if once and not unreadable:
                break
            continue
        _store_batch(config, store, secret, [m.queued for m in messages], report)
        with queue_errors(url):
            report.deleted += _delete(sqs, url, [m.receipt for m in messages])
        report.batches += 1
        if on_batch is not None:
            on_batch(report)
    return report


def _receive(sqs: Any, url: str, batch: int, wait_seconds: int) -> tuple[list[_Message], int]:
    """Up to ``batch`` messages: a long poll for the first ten, then whatever is ready."""
    messages: list[_Message] = []
    unreadable = 0
    wait = wait_seconds
    while len(messages) + unreadable < batch:
        answer = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(RECEIVE_MAX, batch - len(messages) - unreadable),
            WaitTimeSeconds=wait,
        )
        got = answer.get("Messages", [])
        if not got:
            break
        wait = 0
        for message in got:
            try:
                queued = QueuedSubmission.from_message(message["Body"])
            except MalformedMessage as exc:
                log.warning("message %s is not a submission (%s); left for the dead-letter queue",
                            message.get("MessageId", "?"), exc)  # fmt: skip
                unreadable += 1
                continue
            messages.append(_Message(message["ReceiptHandle"], queued))
    return messages, unreadable


def _delete(sqs: Any, url: str, receipts: Sequence[str]) -> int:
    """Delete stored messages, ten per call; a failed delete only means a later redelivery."""
    deleted = 0
    for start in range(0, len(receipts), RECEIVE_MAX):
        chunk = receipts[start : start + RECEIVE_MAX]
        answer = sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)],
        )
        deleted += len(answer.get("Successful", []))
        for failure in answer.get("Failed", []):
            log.warning("could not delete a stored message (%s); it will be skipped when "
                        "it comes back", failure.get("Message", failure.get("Code")))  # fmt: skip
    return deleted


@dataclass
class _Pending:
    """A readable message on its way into the database."""

    queued: QueuedSubmission
    entry: Entry
    refusal: CommentRejected | None = None


def _store_batch(
    config: Config,
    store: Store,
    secret: bytes,
    batch: Sequence[QueuedSubmission],
    report: PullReport,
) -> None:
    unique = list({q.id: q for q in batch}.values())
    report.redelivered += len(batch) - len(unique)
    prepared = [p for p in (_prepare(config, secret, q, report) for q in unique) if p is not None]
    with store.write() as conn:
        seen = stored_message_ids(conn, (p.queued.id for p in prepared))
        fresh = sorted((p for p in prepared if p.queued.id not in seen), key=_received)
        report.redelivered += len(prepared) - len(fresh)
        if not fresh:
            return
        candidates = [p for p in fresh if p.refusal is None]
        entries = [p.entry for p in candidates]
        by_entry = {id(p.entry): p for p in candidates}
        cut = _cutoffs(config, fresh)

        def make_row(entry: Entry, status: str) -> NewComment:
            return _row(entry, status, by_entry[id(entry)].queued)

        outcomes = apply_batch(conn, config, entries, cut, make_row)
        for pending, outcome in zip(candidates, outcomes, strict=True):
            if isinstance(outcome, CommentRejected):
                pending.refusal = outcome
            else:
                report.stored += 1
                report.statuses[outcome.status] += 1
        _store_refusals(conn, [p for p in fresh if p.refusal is not None], report)


def _prepare(
    config: Config, secret: bytes, queued: QueuedSubmission, report: PullReport
) -> _Pending | None:
    """Validate and render again; a message that fails here could never be stored."""
    try:
        submission = validate_submission(  # the intake offered the box; the batch decides
            queued.fields,
            config.limits,
            config.site.pages,
            config.build.closed_pages,
            reply_mails=True,
        )
        parse_time(queued.received)
    except (CommentRejected, ValueError) as exc:
        log.warning("queued submission %s is invalid (%s); dropped", queued.id, exc)
        report.invalid += 1
        return None
    html = render_markdown(submission.body)
    ip_hash = hash_address(secret, queued.client)
    return _Pending(queued, Entry(submission, html, ip_hash, queued.page_url, queued.received))


def _received(pending: _Pending) -> str:
    return pending.queued.received


def _cutoffs(config: Config, fresh: Sequence[_Pending]) -> Cutoffs:
    """Windows measured from when the intake received the oldest submission, not from now."""
    oldest = parse_time(min(p.queued.received for p in fresh))
    window = timedelta(seconds=config.limits.duplicate_window_seconds)
    days = config.build.close_after_days
    return Cutoffs(
        duplicates_since=format_time(oldest - window),
        close_before=format_time(oldest - timedelta(days=days)) if days else None,
    )


def _row(
    entry: Entry, status: str, queued: QueuedSubmission, keep_parent: bool = True
) -> NewComment:
    sub = entry.submission
    return NewComment(
        page_key=sub.page_key,
        author=sub.author,
        body=sub.body,
        body_html=entry.body_html,
        renderer=RENDERER_VERSION,
        parent_id=sub.parent_id if keep_parent else None,
        email=sub.email,
        website=sub.website,
        status=status,
        ip_hash=entry.ip_hash,
        body_hash=sub.body_hash,
        source=PULL_SOURCE,
        external_id=queued.id,
        created=queued.received,
        page_url=entry.page_url,
    )


def _store_refusals(
    conn: sqlite3.Connection, refused: Sequence[_Pending], report: PullReport
) -> None:
    """Refused submissions are kept, never published: ``rejected`` (``spam`` for floods)."""
    if not refused:
        return
    rows: list[NewComment] = []
    reasons: list[str] = []
    for pending in refused:
        assert pending.refusal is not None
        status = "spam" if pending.refusal.code in FLOOD_CODES else "rejected"
        # The parent may not exist at all; the reason says which it was.
        rows.append(_row(pending.entry, status, pending.queued, keep_parent=False))
        reasons.append(f"{pending.refusal.code}: {pending.refusal.message}")
        report.refused += 1
        report.statuses[status] += 1
    ensure_pages(conn, {row.page_key: row.page_url for row in rows})
    ids = insert_batch(conn, rows)
    log_refusals(conn, [(i, r.status, why) for i, r, why in zip(ids, rows, reasons, strict=True)])


def pull_in_background(config: Config, stop: threading.Event) -> threading.Thread:
    """``afterword watch`` with an SQS queue: a thread that keeps pulling until ``stop``.

    It owns its own database connection. A failure (SQS unreachable, the database locked) is
    one log line and a retry with exponential backoff: watch keeps publishing meanwhile, and
    nothing is lost — the messages wait in the queue.
    """
    thread = threading.Thread(
        target=_pull_until, args=(config, stop), name="afterword-pull", daemon=True
    )
    thread.start()
    return thread


def _pull_until(config: Config, stop: threading.Event) -> None:
    url = queue_url(config)
    backoff = BACKOFF_FIRST
    stored = [0, 0]  # stored, refused: what the last log line already said

    def logged(report: PullReport) -> None:
        new = [report.stored - stored[0], report.refused - stored[1]]
        if any(new):
            log.info("pulled from the queue: %d stored, %d refused", *new)
        stored[:] = [report.stored, report.refused]

    while not stop.is_set():
        try:
            with open_store(
                config.database_path, busy_timeout_ms=config.database.busy_timeout_ms
            ) as store:
                stored[:] = [0, 0]
                pull_queue(
                    config,
                    store,
                    sqs_client(url),
                    once=False,
                    wait_seconds=WATCH_WAIT_SECONDS,
                    on_batch=logged,
                    stop=stop.is_set,
                )
            backoff = BACKOFF_FIRST
        except AfterwordError as exc:
            log.error("pulling from the queue failed (retrying in %.0f s): %s", backoff, exc)
            stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
