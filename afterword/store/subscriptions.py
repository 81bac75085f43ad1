"""Commenters' reply mails: subscriptions, the double opt-in, and their outbox rows.

An address opts in per comment (the form's "Mail me replies" box): a ``subscriptions`` row
names the comment and the address's ``email_key``. The address itself is a ``subscribers``
row whose ``state`` is ``unconfirmed`` until the confirmation link is followed, then
``confirmed``; one-click unsubscribe makes it ``unsubscribed`` and drops its subscriptions
and waiting mails. Outbox rows of the ``subscriber`` channel carry the subscriber's id in
``target`` and a comment id — never an address: a confirmation row names the comment that
opted in, a reply row the approved reply (its parent's author is the recipient).

Everything here runs inside the caller's transaction, so a confirmation mail is enqueued
with the comment that asked for it, and a reply mail with the approval that publishes the
reply (``store.comments.moderate``/``restore_status``, the owner's ``post_reply`` and the
intake's batch for comments approved on arrival all call ``enqueue_reply_mails``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from afterword.store.db import Store
from afterword.store.models import utc_now

CHANNEL = "subscriber"
CONFIRM_EVENT = "subscription.confirm"
REPLY_EVENT = "comment.reply"
KEY_SQL = "lower(trim(?))"  # the same expression as comments.email_key (migration 0003)
SUBSCRIBER_COLUMNS = ("state", "confirmations", "confirm_sent", "confirmed", "created")


@dataclass(frozen=True)
class Subscriber:
    id: int
    email_key: str
    state: str
    confirmations: int


@dataclass(frozen=True)
class Erased:
    """What ``erase_subscriber`` removed."""

    subscriptions: int
    queued_mails: int


@dataclass(frozen=True)
class ConfirmRules:
    """When an unconfirmed address may be sent (another) confirmation mail."""

    resend_before: str  # the previous one must be older than this (ISO time)
    max_confirmations: int


def subscribe(
    conn: sqlite3.Connection, requests: Sequence[tuple[int, str]], rules: ConfirmRules
) -> list[int]:
    """Store opt-ins ``(comment id, e-mail)``; enqueue the confirmations they call for.

    A new or unsubscribed address becomes ``unconfirmed``; an unconfirmed one is mailed a
    confirmation unless it got one after ``resend_before`` or already ``max_confirmations``
    in all; a confirmed one needs nothing. Several opt-ins of one address in one call cost it
    one mail at most. Returns the subscriber ids mailed a confirmation.
    """
    if not requests:
        return []
    now = utc_now()
    pairs = json.dumps([[cid, email] for cid, email in requests])
    conn.execute(
        """INSERT INTO subscriptions (comment_id, email_key, created)
           SELECT json_extract(value, '$[0]'), lower(trim(json_extract(value, '$[1]'))), ?
           FROM json_each(?) WHERE true
           ON CONFLICT (comment_id) DO NOTHING""",
        (now, pairs),
    )
    conn.execute(
        """INSERT INTO subscribers (email_key, created)
           SELECT DISTINCT lower(trim(json_extract(value, '$[1]'))), ? FROM json_each(?)
           WHERE true
           ON CONFLICT (email_key) DO UPDATE SET state = 'unconfirmed', confirmations = 0,
               confirm_sent = NULL
           WHERE state = 'unsubscribed'""",
        (now, pairs),
    )
    mailed = conn.execute(
        """UPDATE subscribers SET confirm_sent = ?1, confirmations = confirmations + 1
           WHERE email_key IN (SELECT lower(trim(json_extract(value, '$[1]')))
                               FROM json_each(?2))
             AND state = 'unconfirmed' AND confirmations < ?3
             AND (confirm_sent IS NULL OR confirm_sent < ?4)
           RETURNING id, email_key""",
        (now, pairs, rules.max_confirmations, rules.resend_before),
    ).fetchall()
    first: dict[str, int] = {}
    for comment_id, email in requests:
        first.setdefault(email.strip().lower(), comment_id)
    rows = [[CONFIRM_EVENT, str(sid), first[key]] for sid, key in mailed]
    _enqueue(conn, rows, now)
    return [int(sid) for sid, _ in mailed]


def enqueue_reply_mails(conn: sqlite3.Connection, reply_ids: Sequence[int]) -> None:
    """Queue one mail per newly approved reply whose parent's author subscribed and confirmed.

    Never twice for one reply (an approval undone and redone mails nothing more), never to a
    reply's own author (same ``email_key`` as the parent), never about a parent that is
    spam, rejected or deleted. One statement, in the approval's transaction.
    """
    if not reply_ids:
        return
    now = utc_now()
    conn.execute(
        """INSERT INTO notify_outbox (event, channel, target, comment_id, next_attempt, created)
           SELECT ?1, ?2, CAST(s.id AS TEXT), r.id, ?3, ?3
           FROM comments AS r
           JOIN comments AS p ON p.id = r.parent_id
           JOIN subscriptions AS sub ON sub.comment_id = p.id
           JOIN subscribers AS s ON s.email_key = sub.email_key
           WHERE r.id IN (SELECT value FROM json_each(?4)) AND r.status = 'approved'
             AND s.state = 'confirmed' AND p.email_key = s.email_key
             AND p.status IN ('pending', 'approved') AND r.email_key != s.email_key
             AND NOT EXISTS (SELECT 1 FROM notify_outbox AS o
                             WHERE o.channel = ?2 AND o.comment_id = r.id)""",
        (REPLY_EVENT, CHANNEL, now, json.dumps(list(reply_ids))),
    )


def _enqueue(conn: sqlite3.Connection, rows: list[list[object]], now: str) -> None:
    if rows:
        conn.execute(
            """INSERT INTO notify_outbox (event, channel, target, comment_id, next_attempt,
                   created)
               SELECT json_extract(value, '$[0]'), ?1, json_extract(value, '$[1]'),
                      json_extract(value, '$[2]'), ?2, ?2
               FROM json_each(?3)""",
            (CHANNEL, now, json.dumps(rows)),
        )


def get_subscriber(store: Store, subscriber_id: int) -> Subscriber | None:
    row = store.conn.execute(
        "SELECT id, email_key, state, confirmations FROM subscribers WHERE id = ?",
        (subscriber_id,),
    ).fetchone()
    return None if row is None else Subscriber(int(row[0]), str(row[1]), str(row[2]), int(row[3]))


def confirm_subscriber(conn: sqlite3.Connection, subscriber_id: int) -> str | None:
    """Confirm an unconfirmed address; returns the state it was in (None: no such row)."""
    row = conn.execute("SELECT state FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
    if row is None:
        return None
    if row[0] == "unconfirmed":
        conn.execute(
            "UPDATE subscribers SET state = 'confirmed', confirmed = ? WHERE id = ?",
            (utc_now(), subscriber_id),
        )
    return str(row[0])


def unsubscribe(conn: sqlite3.Connection, subscriber_id: int) -> str | None:
    """Stop every mail to this address: its subscriptions and waiting mails go.

    The row stays (``unsubscribed``) so that an old mail's link keeps answering and a later
    opt-in starts a fresh double opt-in. Returns the previous state (None: no such row).
    """
    row = conn.execute(
        "SELECT state, email_key FROM subscribers WHERE id = ?", (subscriber_id,)
    ).fetchone()
    if row is None:
        return None
    conn.execute(
        "UPDATE subscribers SET state = 'unsubscribed', confirmed = NULL WHERE id = ?",
        (subscriber_id,),
    )
    conn.execute("DELETE FROM subscriptions WHERE email_key = ?", (row[1],))
    _drop_queued(conn, subscriber_id)
    return str(row[0])


def erase_subscriber(conn: sqlite3.Connection, email: str) -> Erased:
    """``afterword erase --email``: the address's subscriptions, row and unsent mails go."""
    found = conn.execute(f"SELECT id FROM subscribers WHERE email_key = {KEY_SQL}", (email,))
    ids = [int(row[0]) for row in found.fetchall()]
    queued = sum(_drop_queued(conn, sid) for sid in ids)
    gone = conn.execute(f"DELETE FROM subscriptions WHERE email_key = {KEY_SQL}", (email,))
    conn.execute(f"DELETE FROM subscribers WHERE email_key = {KEY_SQL}", (email,))
    return Erased(gone.rowcount, queued)


def _drop_queued(conn: sqlite3.Connection, subscriber_id: int) -> int:
    cursor = conn.execute(
        "DELETE FROM notify_outbox WHERE channel = ? AND target = ? AND state = 'queued'",
        (CHANNEL, str(subscriber_id)),
    )
    return cursor.rowcount


def person_subscriptions(store: Store, email: str) -> tuple[list[dict[str, Any]], ...]:
    """(subscriber, subscriptions) rows of one address, for ``afterword export --email``."""
    subscriber = [
        dict(zip(SUBSCRIBER_COLUMNS, row, strict=True))
        for row in store.conn.execute(
            f"SELECT {', '.join(SUBSCRIBER_COLUMNS)} FROM subscribers WHERE email_key = {KEY_SQL}",
            (email,),
        )
    ]
    subscriptions = [
        {"comment_id": row[0], "created": row[1]}
        for row in store.conn.execute(
            "SELECT comment_id, created FROM subscriptions "
            f"WHERE email_key = {KEY_SQL} ORDER BY comment_id",
            (email,),
        )
    ]
    return subscriber, subscriptions


def is_subscribed(store: Store, comment_id: int, subscriber: Subscriber) -> bool:
    """Whether a reply row's subscription still stands (checked again when sending)."""
    return subscriber.state == "confirmed" and bool(
        store.scalar(
            "SELECT count(*) FROM subscriptions WHERE comment_id = ? AND email_key = ?",
            (comment_id, subscriber.email_key),
        )
    )


def replies_sent_since(store: Store, subscriber_id: int, since: str) -> int:
    """Reply mails (distinct messages: a folded one counts once) sent to one address."""
    return int(
        store.scalar(
            """SELECT count(DISTINCT message) FROM notify_outbox
               WHERE channel = ? AND target = ? AND event = ? AND state = 'sent'
                 AND sent >= ? AND message != 'skipped'""",
            (CHANNEL, str(subscriber_id), REPLY_EVENT, since),
        )
    )


def oldest_reply_sent_since(store: Store, subscriber_id: int, since: str) -> str | None:
    """When the window's oldest reply mail went out: the cap frees up a day after it."""
    value = store.scalar(
        """SELECT min(sent) FROM notify_outbox
           WHERE channel = ? AND target = ? AND event = ? AND state = 'sent' AND sent >= ?
             AND message != 'skipped'""",
        (CHANNEL, str(subscriber_id), REPLY_EVENT, since),
    )
    return None if value is None else str(value)


def postpone(store: Store, ids: Sequence[int], when: str) -> None:
    """Rows held by the per-address cap wait until it frees up (no attempt is counted)."""
    with store.write() as conn:
        conn.execute(
            """UPDATE notify_outbox SET next_attempt = ?
               WHERE id IN (SELECT value FROM json_each(?)) AND state = 'queued'""",
            (when, json.dumps(list(ids))),
        )
