"""One group commit's database work: check every submission of a batch, store the keepers.

The writer thread shares the GIL with a busy event loop and must win it back after every
sqlite3 call; measured with one statement per check per row, it spent ~590 µs of wall time
per row waiting for turns, which capped the intake at ~1,700 submissions/s however few CPU
cycles the SQL itself took. So the whole batch is checked with one query per rule and stored
with one INSERT (``store.submissions``' ``*_among`` / ``insert_batch``): about six statements
per batch, whatever its size. The per-row decisions are plain Python, in submission order,
with the same rules as before:

* page closed (moderator flag, or ``close_after_days``) → 403 ``closed``;
* parent not an approved comment on the same page → 422 naming ``parent`` (a reply to a
  comment approved inside this same batch is refused too: its id could not be known yet);
* same body, page and client within ``duplicate_window_seconds`` — in the database or
  earlier in this batch — → 409 ``duplicate`` (honeypot posts are stored, never refused);
* more accepted submissions from the client's network than ``per_minute`` / ``per_hour``
  allow, counted in the database and earlier in this batch → 429 ``rate_limited``: the one
  limit that every worker process and every intake machine shares (``limits.window_refusal``);
* then ``policy.initial_status`` (``spam`` for the honeypot).

The moderators' notifications of the stored rows (``notify.channels``: pending ones, plus
honeypot-caught ones with ``notify_spam``) go into ``notify_outbox`` in the same
transaction, one more statement per batch, so a comment is notified if and only if it was
stored. So are the commenters' reply mails of comments approved on arrival, and the "Mail me
replies" opt-ins with their confirmation mails (``store.subscriptions``; none for spam).
Refusals are decided before anything is written, so a refused row leaves no trace and its
neighbours are unaffected; a failing statement fails the whole batch (all get 503).
"""

from __future__ import annotations

import bisect
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from afterword.config import Config
from afterword.errors import CommentRejected
from afterword.intake.limits import shared_window_seconds, window_refusal
from afterword.intake.validate import Submission
from afterword.notify.channels import NEW_COMMENT, channels_for, notified_statuses
from afterword.policy import initial_status
from afterword.store.models import NewComment, format_time, parse_time, utc_now
from afterword.store.outbox import enqueue
from afterword.store.recent import accepted_times
from afterword.store.submissions import (
    DuplicateKey,
    approved_counts,
    closed_among,
    duplicates_among,
    ensure_pages,
    insert_batch,
    published_among,
)
from afterword.store.subscriptions import ConfirmRules, enqueue_reply_mails, subscribe

PARENT_PROBLEM = "is not a published comment on this page"


@dataclass(frozen=True)
class Entry:
    """What the batch needs of one queued job."""

    submission: Submission
    body_html: str
    ip_hash: str
    page_url: str
    at: str  # when the intake received it (ISO text): the rate-limit windows are measured here


@dataclass(frozen=True)
class Stored:
    """What the request learns once its batch committed."""

    id: int
    created: str
    status: str


Outcome = Stored | CommentRejected
MakeRow = Callable[[Entry, str], NewComment]


@dataclass(frozen=True)
class Cutoffs:
    """Times computed once per batch."""

    duplicates_since: str
    close_before: str | None


class _Facts:
    """The database's answers for the whole batch, fetched up front (one query per rule)."""

    def __init__(
        self, conn: sqlite3.Connection, config: Config, entries: Sequence[Entry], cut: Cutoffs
    ) -> None:
        subs = [entry.submission for entry in entries]
        self.closed = closed_among(conn, (s.page_key for s in subs), cut.close_before)
        self.parents = published_among(conn, (s.parent_id for s in subs if s.parent_id))
        self.check_duplicates = config.limits.duplicate_window_seconds > 0
        keys = [_key(e) for e in entries if not e.submission.honeypot]
        since = cut.duplicates_since
        self.seen = duplicates_among(conn, keys, since) if self.check_duplicates else set()
        self.approved_in_batch: Counter[str] = Counter()
        asks = config.moderation.auto_approve_after > 0
        emails = (s.email for s in subs if asks and not s.honeypot)
        self.approved_before = approved_counts(conn, emails)
        self.limited = shared_window_seconds(config.limits) > 0
        self.accepted: dict[str, list[str]] = {}
        if self.limited and entries:
            look_back = timedelta(seconds=shared_window_seconds(config.limits))
            oldest = format_time(parse_time(min(e.at for e in entries)) - look_back)
            clients = (e.ip_hash for e in entries if not e.submission.honeypot)
            self.accepted = accepted_times(conn, clients, oldest)


def apply_batch(
    conn: sqlite3.Connection,
    config: Config,
    entries: Sequence[Entry],
    cut: Cutoffs,
    make_row: MakeRow,
) -> list[Outcome]:
    """Decide every entry, insert the accepted ones; outcomes in the order of ``entries``."""
    facts = _Facts(conn, config, entries, cut)
    outcomes: list[Outcome | None] = []
    rows: list[NewComment] = []
    asked: list[bool] = []  # each stored row's "Mail me replies" box
    for entry in entries:
        try:
            status = _decide(config, entry, facts)
        except CommentRejected as exc:
            outcomes.append(exc)
            continue
        outcomes.append(None)
        rows.append(make_row(entry, status))
        asked.append(entry.submission.notify_replies)
    urls = {entry.submission.page_key: entry.page_url for entry in reversed(entries)}
    ensure_pages(conn, {row.page_key: urls[row.page_key] for row in rows})
    new_ids = insert_batch(conn, rows)
    _enqueue_notifications(conn, config, rows, new_ids)
    _subscribe(conn, config, rows, new_ids, asked)
    ids = iter(new_ids)
    stored = iter(rows)
    result: list[Outcome] = []
    for outcome in outcomes:
        if outcome is None:
            row = next(stored)
            outcome = Stored(next(ids), str(row.created), row.status)
        result.append(outcome)
    return result


def _enqueue_notifications(
    conn: sqlite3.Connection, config: Config, rows: Sequence[NewComment], ids: Sequence[int]
) -> None:
    """The moderators' notifications, committed with the comments (at most one statement)."""
    channels = channels_for(config)
    if not channels:
        return
    wanted = notified_statuses(config)
    notify = [cid for row, cid in zip(rows, ids, strict=True) if row.status in wanted]
    enqueue(conn, NEW_COMMENT, notify, channels)


def _subscribe(
    conn: sqlite3.Connection,
    config: Config,
    rows: Sequence[NewComment],
    ids: Sequence[int],
    asked: Sequence[bool],
) -> None:
    """The reply mails of comments approved on arrival, and "Mail me replies": opt-ins and
    their confirmations — committed with the comments (``store.subscriptions``).

    Honeypot-caught (spam) comments subscribe nobody: a bot filling every box must not make
    the site mail a stranger's address.
    """
    approved = [cid for row, cid in zip(rows, ids, strict=True) if row.status == "approved"]
    enqueue_reply_mails(conn, approved)
    if not config.notify.reply_mails:
        return
    wanted = [
        (cid, row.email)
        for row, cid, ask in zip(rows, ids, asked, strict=True)
        if ask and row.email and row.status in ("pending", "approved")
    ]
    notify = config.notify
    since = parse_time(utc_now()) - timedelta(hours=notify.confirm_resend_hours)
    subscribe(conn, wanted, ConfirmRules(format_time(since), notify.confirm_max))


def _decide(config: Config, entry: Entry, facts: _Facts) -> str:
    sub = entry.submission
    if sub.page_key in facts.closed:
        raise CommentRejected("comments on this page are closed", code="closed", status=403)
    if sub.parent_id is not None and facts.parents.get(sub.parent_id) != sub.page_key:
        raise CommentRejected(f"parent {PARENT_PROBLEM}", fields={"parent": PARENT_PROBLEM})
    key = _key(entry)
    if facts.check_duplicates and not sub.honeypot and key in facts.seen:
        raise CommentRejected("you already posted this comment", code="duplicate", status=409)
    if facts.limited and not sub.honeypot:
        times = facts.accepted.setdefault(entry.ip_hash, [])
        refusal = window_refusal(times, entry.at, config.limits)
        if refusal is not None:
            raise refusal
        bisect.insort(times, entry.at)
    facts.seen.add(key)
    if sub.honeypot:
        return "spam"

    def approved_count(email: str) -> int:
        earlier = facts.approved_before.get(sub.email, 0)
        return earlier + facts.approved_in_batch[email.lower()]

    status = initial_status(config, approved_count, sub.email, entry.body_html)
    if status == "approved":
        facts.approved_in_batch[sub.email.strip().lower()] += 1
    return status


def _key(entry: Entry) -> DuplicateKey:
    sub = entry.submission
    return (sub.body_hash, sub.page_key, entry.ip_hash)
