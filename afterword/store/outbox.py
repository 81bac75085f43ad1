"""The notification outbox: enqueued with the change that causes it, drained by a sender.

A row is one message on one channel (``mail`` to the moderators, or one ``webhook`` URL) about
one comment. Rows hold ids only, never addresses or text: a message is composed from the
comment as it is when it is sent, so ``afterword erase`` needs no outbox clean-up and nothing
personal waits in this table.

Delivery is at-least-once: the sender sends, then records ``sent`` in its own transaction; a
crash in between leaves the row ``queued`` and it is sent again (at most one duplicate per
message, since the sender sends one message at a time).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from afterword.store.db import Store
from afterword.store.models import utc_now

__all__ = [
    "Channel",
    "OutboxRow",
    "OutboxStatus",
    "due_rows",
    "enqueue",
    "mails_sent_since",
    "mark_retry",
    "mark_sent",
    "outbox_status",
]

Channel = tuple[str, str]  # (channel, target): ("mail", "") or ("webhook", url)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    event: str
    channel: str
    target: str
    comment_id: int
    attempts: int
    created: str


@dataclass(frozen=True)
class OutboxStatus:
    """What ``notify --status``, ``doctor`` and ``/metrics`` show."""

    queued: int
    sent: int
    failed: int
    oldest_queued: str | None
    last_error: str


def enqueue(
    conn: sqlite3.Connection, event: str, comment_ids: Sequence[int], channels: Iterable[Channel]
) -> None:
    """One row per comment and channel, in the caller's transaction (one statement)."""
    pairs = [[cid, ch, target] for cid in comment_ids for ch, target in channels]
    if not pairs:
        return
    now = utc_now()
    conn.execute(
        """INSERT INTO notify_outbox (event, channel, target, comment_id, next_attempt, created)
           SELECT ?1, json_extract(value, '$[1]'), json_extract(value, '$[2]'),
                  json_extract(value, '$[0]'), ?2, ?2
           FROM json_each(?3)""",
        (event, now, json.dumps(pairs)),
    )


def due_rows(store: Store, now: str, limit: int = 500) -> list[OutboxRow]:
    """Queued rows whose next attempt has come, oldest first."""
    rows = store.conn.execute(
        """SELECT id, event, channel, target, comment_id, attempts, created FROM notify_outbox
           WHERE state = 'queued' AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?""",
        (now, limit),
    ).fetchall()
    return [OutboxRow(*(row[i] for i in range(7))) for row in rows]


def oldest_queued(store: Store, channel: str) -> str | None:
    """When the oldest queued row of a channel was enqueued (digest timing)."""
    value = store.scalar(
        "SELECT min(created) FROM notify_outbox WHERE state = 'queued' AND channel = ?",
        (channel,),
    )
    return None if value is None else str(value)


def mark_sent(store: Store, ids: Sequence[int], message: str) -> None:
    """Record a delivered message (its own transaction, right after sending)."""
    with store.write() as conn:
        conn.execute(
            """UPDATE notify_outbox SET state = 'sent', sent = ?, message = ?, last_error = ''
               WHERE id IN (SELECT value FROM json_each(?))""",
            (utc_now(), message, json.dumps(list(ids))),
        )


def mark_retry(
    store: Store, ids: Sequence[int], error: str, next_attempt: str, max_attempts: int
) -> None:
    """One more failed attempt; past ``max_attempts`` the row is given up as ``failed``."""
    with store.write() as conn:
        conn.execute(
            """UPDATE notify_outbox SET attempts = attempts + 1, last_error = ?1,
                   next_attempt = ?2,
                   state = CASE WHEN attempts + 1 >= ?3 THEN 'failed' ELSE 'queued' END
               WHERE id IN (SELECT value FROM json_each(?4))""",
            (error[:500], next_attempt, max_attempts, json.dumps(list(ids))),
        )


def mails_sent_since(store: Store, since: str) -> int:
    """Distinct mail messages sent since ``since`` (a digest counts once): the flood guard."""
    return int(
        store.scalar(
            """SELECT count(DISTINCT message) FROM notify_outbox
               WHERE state = 'sent' AND channel = 'mail' AND sent >= ?
                 AND message != 'skipped'""",
            (since,),
        )
    )


def outbox_status(conn: sqlite3.Connection) -> OutboxStatus:
    """Counts by state, the oldest waiting row and the latest error (one pass)."""
    counts = dict(
        conn.execute("SELECT state, count(*) FROM notify_outbox GROUP BY state").fetchall()
    )
    oldest = conn.execute(
        "SELECT min(created) FROM notify_outbox WHERE state = 'queued'"
    ).fetchone()[0]
    error = conn.execute(
        """SELECT last_error FROM notify_outbox WHERE last_error != ''
           ORDER BY next_attempt DESC LIMIT 1"""
    ).fetchone()
    return OutboxStatus(
        queued=int(counts.get("queued", 0)),
        sent=int(counts.get("sent", 0)),
        failed=int(counts.get("failed", 0)),
        oldest_queued=None if oldest is None else str(oldest),
        last_error="" if error is None else str(error[0]),
    )
